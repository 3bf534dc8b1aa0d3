/* tests/test_synth_fracture.c: the S4 synthetic nasal-fracture benchmark (data/synth_fracture.h,
 * `medtrain synth-fracture`). The crops are built here: a bright bar (the nasal bone, A to
 * T = A + (0.22, 0.39) L) on a darker background with Gaussian noise, 256 x 256, landmarks
 * l2 (A), l15 (B, outside the crop as in real crops) and l18, 22 films split 12 / 5 / 5. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/rng.h"
#include "../data/dataset.h"
#include "../data/synth_fracture.h"
#include "test.h"

#define S 256
#define N_CROPS 22
#define BONE_HALF_WIDTH 8.0

/* The landmarks of crop i: A jittered around (64, 51), L ~ 400-430 px, B below A. */
static void crop_points(int i, float pts[6])
{
    double jx = 10 * mt_philox_uniform_d(99, 3 * (uint64_t)i) - 5, jy = 10 * mt_philox_uniform_d(99, 3 * (uint64_t)i + 1) - 5;
    double L = 400 + 30 * mt_philox_uniform_d(99, 3 * (uint64_t)i + 2);
    pts[0] = (float)(64 + jx), pts[1] = (float)(51 + jy);
    double n = hypot(0.21, 0.978);
    pts[2] = (float)(pts[0] + L * 0.21 / n), pts[3] = (float)(pts[1] + L * 0.978 / n);
    pts[4] = pts[0] + 30, pts[5] = pts[1] + 300; /* l18, outside */
}

static double dist_to_segment(double x, double y, double ax, double ay, double bx, double by)
{
    double vx = bx - ax, vy = by - ay, q = ((x - ax) * vx + (y - ay) * vy) / (vx * vx + vy * vy);
    q = q < 0 ? 0 : q > 1 ? 1 : q;
    return hypot(x - ax - q * vx, y - ay - q * vy);
}

static void bone_tip(const float pts[6], double *tx, double *ty)
{
    double L = hypot(pts[2] - pts[0], pts[3] - pts[1]);
    *tx = pts[0] + 0.22 * L, *ty = pts[1] + 0.39 * L;
}

/* crop i: background 0.3 + a slight gradient, the bone bar +0.45 (1 px soft edge), noise SD 0.02 */
static void crop_image(int i, const float pts[6], float *im)
{
    double tx, ty;
    bone_tip(pts, &tx, &ty);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double d = dist_to_segment(x, y, pts[0], pts[1], tx, ty), e = BONE_HALF_WIDTH + 0.5 - d;
            double bone = e <= 0 ? 0 : e >= 1 ? 1 : e;
            double v = 0.3 + 0.1 * x / S + 0.45 * bone + 0.02 * mt_philox_normal(1000 + (uint64_t)i, (uint64_t)y * S + x);
            im[y * S + x] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
        }
}

/* Writes the crops dataset: `c` channels, landmarks unless no_points, sample nan_at (-1 none)
 * with a NaN l2. Splits: samples 0-11 train, 12-16 val, 17-21 test. */
static int make_crops(const char *path, int c, int no_points, int nan_at)
{
    mt_dataset_spec spec = {c, S, S, 0, no_points ? 0 : 3, "test crops", "scale [0, 1]"};
    mt_dataset_writer *w = NULL;
    if (mt_dataset_writer_open(path, &spec, &w)) return 0;
    const char *pn[3] = {"l2", "l15", "l18"};
    if (!no_points && mt_dataset_writer_set_names(w, "point_names", pn, 3)) return mt_test_dataset_close(w, 0, 0, 0);
    float *im = malloc(sizeof(float) * S * S * c), pts[6];
    int ok = im != NULL;
    for (int i = 0; ok && i < N_CROPS; i++) {
        crop_points(i, pts);
        for (int ch = 0; ch < c; ch++) crop_image(i, pts, im + ch * S * S);
        if (i == nan_at) pts[0] = NAN;
        mt_sample s;
        mt_sample_init(&s);
        s.c = c, s.h = S, s.w = S, s.image = im;
        s.n_points = no_points ? 0 : 3, s.points = no_points ? NULL : pts;
        s.label = i % 3; /* labels the generator must replace */
        snprintf(s.meta.source, sizeof s.meta.source, "films/film_%03d.png", i);
        snprintf(s.meta.patient_id, sizeof s.meta.patient_id, "P%03d", i);
        ok = mt_dataset_writer_add(w, &s) == MT_OK &&
             mt_dataset_writer_set_split(w, i, i < 12 ? "train" : i < 17 ? "val" : "test") == MT_OK;
    }
    free(im);
    return mt_test_dataset_close(w, ok, 0, 0);
}

/* crops.h5 in the test's temp dir, built once per process */
static const char *crops_path(void)
{
    static char path[600];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s/crops.h5", mt_test_tmpdir());
        if (!make_crops(path, 1, 0, -1)) path[0] = '\0';
    }
    return path[0] ? path : NULL;
}

static int bench(const char *name, double strength, double fraction, uint64_t seed, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", mt_test_tmpdir(), name);
    mt_synth_fracture_params p;
    mt_synth_fracture_params_init(&p);
    p.strength = strength, p.fraction = fraction, p.seed = seed;
    return crops_path() && mt_synth_fracture_dataset(crops_path(), out, &p, NULL) == MT_OK;
}

static void moments(const float *x, size_t n, double *mean, double *sd)
{
    double m = 0, q = 0;
    for (size_t i = 0; i < n; i++) m += x[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) q += (x[i] - m) * (x[i] - m);
    *mean = m, *sd = sqrt(q / (double)n);
}

static int mask_count(const uint8_t *m)
{
    int c = 0;
    for (int i = 0; i < S * S; i++) c += m[i] != 0;
    return c;
}

TEST(synth_fracture_strength_zero_is_identity_but_labels_half)
{
    char path[600];
    CHECK(bench("s0.h5", 0.0, 0.5, 1, path, sizeof path), "generator failed: %s", mt_last_error());
    mt_dataset *in = NULL, *out = NULL;
    CHECK_OK(mt_dataset_open(crops_path(), &in));
    CHECK_OK(mt_dataset_open(path, &out));
    int frac = 0;
    for (int i = 0; i < N_CROPS; i++) {
        mt_sample a, b;
        CHECK_OK(mt_dataset_read(in, i, &a));
        CHECK_OK(mt_dataset_read(out, i, &b));
        int same = !memcmp(a.image, b.image, sizeof(float) * S * S), k = b.k, nm = b.mask ? mask_count(b.mask) : -1;
        frac += b.label == 1;
        CHECK(b.label == 0 || b.label == 1, "sample %d label %d", i, b.label);
        mt_sample_free(&a);
        mt_sample_free(&b);
        CHECK(same, "sample %d: image changed at strength 0", i);
        CHECK(k == 1 && nm == 0, "sample %d: %d mask channels, %d mask pixels at strength 0", i, k, nm);
    }
    mt_dataset_close(in);
    mt_dataset_close(out);
    CHECK(frac == 6 + 3 + 3, "%d fracture crops, expected 12 (6 train, 3 val, 3 test)", frac);
}

/* round(fraction n) per split, same order, points, metadata and splits as the input; names */
TEST(synth_fracture_per_split_counts_and_copied_metadata)
{
    static const struct { double fraction; int want[3]; } cases[] = {{0.5, {6, 3, 3}}, {0.3, {4, 2, 2}}, {1.0, {12, 5, 5}}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char path[600];
        CHECK(bench("counts.h5", 0.5, cases[c].fraction, 3, path, sizeof path), "generator failed: %s", mt_last_error());
        mt_dataset *in = NULL, *out = NULL;
        CHECK_OK(mt_dataset_open(crops_path(), &in));
        CHECK_OK(mt_dataset_open(path, &out));
        CHECK(mt_dataset_size(out) == N_CROPS, "size %d", mt_dataset_size(out));
        int got[3] = {0, 0, 0};
        for (int i = 0; i < N_CROPS; i++) {
            mt_sample a, b;
            CHECK_OK(mt_dataset_read(in, i, &a));
            CHECK_OK(mt_dataset_read(out, i, &b));
            int same_meta = !strcmp(a.meta.source, b.meta.source) && !strcmp(a.meta.split, b.meta.split) &&
                            !strcmp(a.meta.patient_id, b.meta.patient_id) && b.n_points == 3 &&
                            !memcmp(a.points, b.points, 6 * sizeof(float));
            int split = !strcmp(b.meta.split, "train") ? 0 : !strcmp(b.meta.split, "val") ? 1 : 2;
            got[split] += b.label == 1;
            mt_sample_free(&a);
            mt_sample_free(&b);
            CHECK(same_meta, "sample %d: source, split, patient or points differ from the input", i);
        }
        char **cn = NULL, **mn = NULL, **pn = NULL;
        int ncn = 0, nmn = 0, npn = 0;
        CHECK_OK(mt_dataset_names(out, "class_names", &cn, &ncn));
        CHECK_OK(mt_dataset_names(out, "mask_names", &mn, &nmn));
        CHECK_OK(mt_dataset_names(out, "point_names", &pn, &npn));
        int names_ok = ncn == 2 && !strcmp(cn[0], "normal") && !strcmp(cn[1], "fracture") && nmn == 1 &&
                       !strcmp(mn[0], "defect") && npn == 3 && !strcmp(pn[0], "l2");
        char *pre = NULL;
        CHECK_OK(mt_dataset_attr_string(out, "preprocess", &pre));
        int pre_ok = pre && strstr(pre, "scale [0, 1]; synth-fracture") && strstr(pre, "strength 0.5") &&
                     strstr(pre, "seed 3");
        free(pre);
        mt_dataset_free_names(cn, ncn);
        mt_dataset_free_names(mn, nmn);
        mt_dataset_free_names(pn, npn);
        mt_dataset_close(in);
        mt_dataset_close(out);
        CHECK(names_ok, "class / mask / point names not as expected");
        CHECK(pre_ok, "the preprocess attribute does not record the input's and the generator's parameters");
        for (int k = 0; k < 3; k++)
            CHECK(got[k] == cases[c].want[k], "fraction %g split %d: %d fracture crops, expected %d",
                  cases[c].fraction, k, got[k], cases[c].want[k]);
    }
}

/* the whole benchmark as labels + images + masks, for comparing runs */
static int read_all(const char *path, int *labels, float *images, uint8_t *masks)
{
    mt_dataset *d = NULL;
    if (mt_dataset_open(path, &d)) return 0;
    int ok = 1;
    for (int i = 0; ok && i < N_CROPS; i++) {
        mt_sample s;
        if (mt_dataset_read(d, i, &s)) {
            ok = 0;
            break;
        }
        labels[i] = s.label;
        memcpy(images + (size_t)i * S * S, s.image, sizeof(float) * S * S);
        memcpy(masks + (size_t)i * S * S, s.mask, S * S);
        mt_sample_free(&s);
    }
    mt_dataset_close(d);
    return ok;
}

TEST(synth_fracture_deterministic_per_seed)
{
    size_t n = (size_t)N_CROPS * S * S;
    int la[N_CROPS], lb[N_CROPS], lc[N_CROPS];
    float *ia = malloc(n * sizeof(float)), *ib = malloc(n * sizeof(float)), *ic = malloc(n * sizeof(float));
    uint8_t *ma = malloc(n), *mb = malloc(n), *mc = malloc(n);
    char p1[600], p2[600], p3[600];
    int ok = ia && ib && ic && ma && mb && mc && bench("d1.h5", 0.7, 0.5, 11, p1, sizeof p1) &&
             bench("d2.h5", 0.7, 0.5, 11, p2, sizeof p2) && bench("d3.h5", 0.7, 0.5, 12, p3, sizeof p3) &&
             read_all(p1, la, ia, ma) && read_all(p2, lb, ib, mb) && read_all(p3, lc, ic, mc);
    int same = ok && !memcmp(la, lb, sizeof la) && !memcmp(ia, ib, n * sizeof(float)) && !memcmp(ma, mb, n);
    int labels_differ = ok && memcmp(la, lc, sizeof la) != 0, masks_differ = ok && memcmp(ma, mc, n) != 0;
    free(ia), free(ib), free(ic), free(ma), free(mb), free(mc);
    CHECK(ok, "generating or reading failed: %s", mt_last_error());
    CHECK(same, "two runs with seed 11 differ");
    CHECK(labels_differ && masks_differ, "seeds 11 and 12 give the same labels (%d) or masks (%d)", !labels_differ,
          !masks_differ);
}

/* pixels within `r` of a mask pixel */
static void dilate(const uint8_t *m, double r, uint8_t *out)
{
    int ir = (int)ceil(r);
    memset(out, 0, S * S);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            if (!m[y * S + x]) continue;
            for (int dy = -ir; dy <= ir; dy++)
                for (int dx = -ir; dx <= ir; dx++)
                    if (y + dy >= 0 && y + dy < S && x + dx >= 0 && x + dx < S && dx * dx + dy * dy <= r * r)
                        out[(y + dy) * S + x + dx] = 1;
        }
}

/* mean / std kept (1e-5), normal crops untouched, the defect mask within 0.15 L of A->T,
 * centred on the bone at t in [0.25, 0.85], and > 90% of the L1 change within 6 px of it */
TEST(synth_fracture_statistics_kept_and_change_local)
{
    char path[600];
    CHECK(bench("stats.h5", 1.0, 0.5, 5, path, sizeof path), "generator failed: %s", mt_last_error());
    mt_dataset *in = NULL, *out = NULL;
    CHECK_OK(mt_dataset_open(crops_path(), &in));
    CHECK_OK(mt_dataset_open(path, &out));
    uint8_t near[S * S];
    for (int i = 0; i < N_CROPS; i++) {
        mt_sample a, b;
        CHECK_OK(mt_dataset_read(in, i, &a));
        CHECK_OK(mt_dataset_read(out, i, &b));
        double ma, sa, mb, sb, l1 = 0, l1_near = 0, worst_off = 0, tx, ty;
        moments(a.image, S * S, &ma, &sa);
        moments(b.image, S * S, &mb, &sb);
        int label = b.label, same = !memcmp(a.image, b.image, sizeof(float) * S * S), nm = mask_count(b.mask);
        bone_tip(a.points, &tx, &ty);
        double L = hypot(a.points[2] - a.points[0], a.points[3] - a.points[1]), cx = 0, cy = 0;
        dilate(b.mask, 6.0, near);
        for (int p = 0; p < S * S; p++) {
            double dv = fabs((double)b.image[p] - a.image[p]);
            l1 += dv, l1_near += near[p] ? dv : 0;
            if (b.mask[p]) {
                double x = p % S, y = p / S;
                worst_off = fmax(worst_off, dist_to_segment(x, y, a.points[0], a.points[1], tx, ty));
                cx += x, cy += y;
            }
        }
        double ax = a.points[0], ay = a.points[1];
        mt_sample_free(&a);
        mt_sample_free(&b);
        if (label == 0) {
            CHECK(same && nm == 0, "normal sample %d: image changed or mask not empty (%d px)", i, nm);
            continue;
        }
        CHECK(nm > 20, "fracture sample %d: mask of %d px", i, nm);
        CHECK(fabs(ma - mb) <= 1e-5 && fabs(sa - sb) <= 1e-5, "sample %d: mean %.8f -> %.8f, std %.8f -> %.8f", i, ma,
              mb, sa, sb);
        CHECK(l1 > 5, "sample %d: L1 change %.3f, expected a visible defect", i, l1);
        CHECK(l1_near > 0.9 * l1, "sample %d: %.1f%% of the L1 change within 6 px of the mask", i, 100 * l1_near / l1);
        CHECK(worst_off <= 0.15 * L, "sample %d: a mask pixel %.1f px (> 0.15 L = %.1f) from the bone", i, worst_off,
              0.15 * L);
        cx /= nm, cy /= nm;
        double t = ((cx - ax) * (tx - ax) + (cy - ay) * (ty - ay)) / ((tx - ax) * (tx - ax) + (ty - ay) * (ty - ay));
        double off = dist_to_segment(cx, cy, ax, ay, tx, ty);
        CHECK(t > 0.23 && t < 0.87 && off < 2.0, "sample %d: mask centre at t = %.3f, %.2f px off the bone axis", i,
              t, off);
    }
    mt_dataset_close(in);
    mt_dataset_close(out);
}

/* the same defect at strengths 0.25 < 0.5 < 1: the L1 change grows, the mask stays */
TEST(synth_fracture_change_grows_with_strength)
{
    float pts[6], *im = malloc(sizeof(float) * S * S), *out = malloc(sizeof(float) * S * S);
    uint8_t *mask = malloc(S * S), *mask1 = malloc(S * S);
    int ok = im && out && mask && mask1;
    double l1[3] = {0, 0, 0};
    static const double strength[3] = {0.25, 0.5, 1.0};
    mt_synth_fracture_params p;
    mt_synth_fracture_params_init(&p);
    p.seed = 9;
    for (int i = 0; ok && i < 4; i++) {
        crop_points(i, pts);
        crop_image(i, pts, im);
        mt_synth_fracture_defect d;
        ok = mt_synth_fracture_draw(&p, i, pts, pts + 2, S, S, &d) == MT_OK;
        for (int k = 0; ok && k < 3; k++) {
            ok = mt_synth_fracture_apply(&d, strength[k], im, S, S, out, k ? mask : mask1) == MT_OK;
            for (int q = 0; ok && q < S * S; q++) l1[k] += fabs((double)out[q] - im[q]);
            if (k) ok = ok && !memcmp(mask, mask1, S * S);
        }
    }
    free(im), free(out), free(mask), free(mask1);
    CHECK(ok, "draw / apply failed or the mask changed with strength: %s", mt_last_error());
    CHECK(l1[0] > 1 && l1[1] > 1.5 * l1[0] && l1[2] > 1.5 * l1[1], "L1 change at s = 0.25, 0.5, 1: %.2f %.2f %.2f",
          l1[0], l1[1], l1[2]);
}

TEST(synth_fracture_refusals)
{
    char cdir[600], nan_path[700], rgb_path[700], nopts_path[700], out[700];
    snprintf(cdir, sizeof cdir, "%s", mt_test_tmpdir());
    snprintf(nan_path, sizeof nan_path, "%s/nan.h5", cdir);
    snprintf(rgb_path, sizeof rgb_path, "%s/rgb.h5", cdir);
    snprintf(nopts_path, sizeof nopts_path, "%s/nopts.h5", cdir);
    snprintf(out, sizeof out, "%s/refused.h5", cdir);
    CHECK(crops_path() && make_crops(nan_path, 1, 0, 7) && make_crops(rgb_path, 3, 0, -1) &&
              make_crops(nopts_path, 1, 1, -1),
          "building the inputs failed: %s", mt_last_error());
    static const struct {
        int input; /* 0 crops, 1 NaN landmark, 2 three channels, 3 no points */
        double strength;
        const char *point_b;
        const char *want;
    } cases[] = {
        {0, 0.5, "nope", "'nope' is not among the point_names"},
        {1, 0.5, "l15", "sample 7 (films/film_007.png) has no l2 landmark"},
        {0, 1.5, "l15", "--strength 1.5 outside [0, 1]"},
        {0, -0.1, "l15", "--strength -0.1 outside [0, 1]"},
        {2, 0.5, "l15", "3 image channels"},
        {3, 0.5, "l15", "point_names attribute"},
    };
    const char *inputs[4] = {crops_path(), nan_path, rgb_path, nopts_path};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        mt_synth_fracture_params p;
        mt_synth_fracture_params_init(&p);
        p.strength = cases[c].strength, p.point_b = cases[c].point_b;
        mt_error_clear();
        mt_status st = mt_synth_fracture_dataset(inputs[cases[c].input], out, &p, NULL);
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", mt_last_error());
        mt_error_clear();
        CHECK(st == MT_ERR_INVALID, "case %zu: status %d (%s)", c, st, msg);
        CHECK(strstr(msg, cases[c].want), "case %zu: message '%s' lacks '%s'", c, msg, cases[c].want);
        CHECK(access(out, F_OK) != 0, "case %zu: an output was written", c);
    }
}

/* the CLI: counts printed, the benchmark and example PNGs written */
TEST(synth_fracture_cli_writes_benchmark_and_examples)
{
    const char *bin = mt_test_medtrain();
    if (!bin) SKIP("skipped: build/medtrain not built");
    CHECK(crops_path(), "building the crops failed: %s", mt_last_error());
    char cmd[4096], outp[8192], bench_path[700], ex[700];
    snprintf(bench_path, sizeof bench_path, "%s/cli.h5", mt_test_tmpdir());
    snprintf(ex, sizeof ex, "%s/examples", mt_test_tmpdir());
    snprintf(cmd, sizeof cmd, "%s synth-fracture %s --out %s --strength 0.8 --seed 2 --examples %s 2>&1", bin,
             crops_path(), bench_path, ex);
    int rc = mt_test_run(cmd, outp, sizeof outp);
    CHECK(rc == 0, "exit %d: %s", rc, outp);
    CHECK(strstr(outp, "train     12 crops,     6 with a defect") && strstr(outp, "val        5 crops,     3 with"),
          "unexpected output: %s", outp);
    mt_dataset *d = NULL;
    CHECK_OK(mt_dataset_open(bench_path, &d));
    int first = -1;
    for (int i = 0; i < N_CROPS && first < 0; i++)
        if (mt_dataset_label(d, i) == 1) first = i;
    mt_dataset_close(d);
    char png[800];
    snprintf(png, sizeof png, "%s/example_%d.png", ex, first);
    CHECK(first >= 0 && access(png, F_OK) == 0, "no example PNG %s", png);
    snprintf(cmd, sizeof cmd, "%s synth-fracture %s --out %s --strength 2 2>&1", bin, crops_path(), bench_path);
    rc = mt_test_run(cmd, outp, sizeof outp);
    CHECK(rc == 1 && strstr(outp, "outside [0, 1]"), "strength 2: exit %d: %s", rc, outp);
}
