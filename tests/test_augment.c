/* tests/test_augment.c: data augmentation (data/augment.c, augment.cu): resampling against
 * torch grid_sample (tests/fixtures/augment.h5 from gen_augment.py), image/mask alignment,
 * inverse transform, boxes and points landing on the transformed object, determinism across
 * threads, intensity statistics, CPU vs CUDA. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../core/device.h"
#include "../data/augment.h"
#include "fixture.h"
#include "test.h"

#define FX "tests/fixtures/augment.h5"

TEST(augment_resampling_matches_torch_grid_sample)
{
    /* h, w, c, angle, zoom, tx, ty, hflip, vflip: the CASES table of gen_augment.py */
    static const float cases[3][9] = {{23, 31, 2, 25.0f, 1.15f, 3.0f, -2.0f, 1, 0},
                                      {32, 32, 1, -67.0f, 0.8f, -1.5f, 4.25f, 0, 1},
                                      {17, 40, 3, 180.0f, 1.0f, 0.0f, 0.0f, 1, 1}};
    char path[512], name[64];
    mt_test_path(FX, path, sizeof path);
    for (int i = 0; i < 3; i++) {
        const float *cs = cases[i];
        int h = (int)cs[0], w = (int)cs[1], c = (int)cs[2];
        mt_augment_draw d;
        mt_augment_draw_affine(h, w, cs[3], cs[4], cs[5], cs[6], (int)cs[7], (int)cs[8], &d);
        snprintf(name, sizeof name, "case%d/inv", i);
        mt_tensor *inv = fx_load(path, name);
        snprintf(name, sizeof name, "case%d/x", i);
        mt_tensor *x = fx_load(path, name);
        snprintf(name, sizeof name, "case%d/y", i);
        mt_tensor *y = fx_load(path, name);
        snprintf(name, sizeof name, "case%d/mask", i);
        mt_tensor *m = fx_load(path, name);
        snprintf(name, sizeof name, "case%d/ymask", i);
        mt_tensor *ym = fx_load(path, name);
        CHECK(inv && x && y && m && ym, "fixture %s: %s", path, mt_last_error());
        CHECK((int)mt_numel(x) == c * h * w, "fixture shape");
        for (int j = 0; j < 6; j++)
            CHECK(fabs(d.inv[j] - MT_DATA(inv)[j]) < 1e-5, "case %d: inv[%d] %.9g vs torch-side %.9g", i, j,
                  d.inv[j], (double)MT_DATA(inv)[j]);
        float *out = malloc(sizeof(float) * (size_t)c * h * w);
        uint8_t *mk = malloc((size_t)h * w), *mo = malloc((size_t)h * w);
        CHECK(out && mk && mo, "oom");
        mt_augment_image(&d, c, MT_DATA(x), out);
        for (int j = 0; j < h * w; j++) mk[j] = MT_DATA(m)[j] > 0.5f;
        mt_augment_mask(&d, 1, mk, mo);
        int bad = 0;
        for (int j = 0; j < h * w; j++) bad += mo[j] != (MT_DATA(ym)[j] > 0.5f);
        float *mof = malloc(sizeof(float) * (size_t)h * w);
        CHECK(mof, "oom");
        for (int j = 0; j < h * w; j++) mof[j] = mo[j];
        CHECK_CLOSE_F(out, MT_DATA(y), (size_t)c * h * w, 1e-5, 2e-5);
        CHECK(bad == 0, "case %d: %d mask pixels differ from grid_sample nearest", i, bad);
        free(out), free(mk), free(mo), free(mof);
        mt_tensor_release(inv), mt_tensor_release(x), mt_tensor_release(y), mt_tensor_release(m),
            mt_tensor_release(ym);
    }
}

/* A mask with a disk and a rectangle. */
static void make_mask(int h, int w, uint8_t *m)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double dx = x - 0.4 * w, dy = y - 0.45 * h;
            int disk = dx * dx + dy * dy < (0.18 * w) * (0.18 * w);
            int rect = x > 0.55 * w && x < 0.75 * w && y > 0.3 * h && y < 0.7 * h;
            m[y * w + x] = (uint8_t)(disk || rect);
        }
}

static void full_params(mt_augment_params *p, int elastic)
{
    mt_augment_params_init(p);
    p->rotation_deg = 40.0f;
    p->translate_frac[0] = p->translate_frac[1] = 0.08f;
    p->zoom[0] = 0.85f, p->zoom[1] = 1.2f;
    p->hflip_prob = p->vflip_prob = 0.5f;
    if (elastic) {
        p->elastic_prob = 1.0f;
        p->elastic_grid = 5;
        p->elastic_alpha = 3.0f;
    }
}

TEST(augment_mask_and_image_stay_aligned)
{
    enum { H = 96, W = 88 };
    static uint8_t m[H * W], mo[H * W];
    static float img[H * W], io[H * W];
    make_mask(H, W, m);
    for (int i = 0; i < H * W; i++) img[i] = 100.0f * m[i];
    mt_augment_params p;
    full_params(&p, 1);
    int total_obj = 0;
    for (int idx = 0; idx < 10; idx++) {
        mt_augment_draw d;
        CHECK_OK(mt_augment_draw_sample(&p, H, W, 1234, 3, (uint64_t)idx, &d));
        mt_augment_image(&d, 1, img, io);
        mt_augment_mask(&d, 1, m, mo);
        int obj = 0, mismatch = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int a = io[y * W + x] > 50.0f, b = mo[y * W + x];
                obj += b;
                if (a == b) continue;
                mismatch++;
                int boundary = 0; /* a disagreement is allowed only on the object's edge */
                for (int yy = y - 1; yy <= y + 1; yy++)
                    for (int xx = x - 1; xx <= x + 1; xx++)
                        if (yy >= 0 && xx >= 0 && yy < H && xx < W && mo[yy * W + xx] != b) boundary = 1;
                CHECK(boundary, "draw %d: image and mask disagree at (%d,%d) away from the edge", idx, x, y);
            }
        CHECK(obj > 500, "draw %d: object almost vanished (%d px)", idx, obj);
        CHECK(mismatch < obj / 20, "draw %d: %d of %d object pixels disagree", idx, mismatch, obj);
        total_obj += obj;
    }
    CHECK(total_obj > 0, "no object");
}

TEST(augment_inverse_returns_original)
{
    enum { H = 80, W = 72 };
    static float img[H * W], out[H * W], back[H * W];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) img[y * W + x] = (float)(sin(x / 7.0) + cos(y / 5.0));
    mt_augment_params p;
    full_params(&p, 0);
    p.rotation_deg = 30.0f;
    p.zoom[0] = 0.9f, p.zoom[1] = 1.1f;
    for (int idx = 0; idx < 6; idx++) {
        mt_augment_draw d, di;
        CHECK_OK(mt_augment_draw_sample(&p, H, W, 99, 0, (uint64_t)idx, &d));
        CHECK_OK(mt_augment_draw_invert(&d, &di));
        /* fwd o inv = identity */
        double c0 = d.fwd[0] * d.inv[0] + d.fwd[1] * d.inv[3], c1 = d.fwd[0] * d.inv[1] + d.fwd[1] * d.inv[4];
        double t0 = d.fwd[0] * d.inv[2] + d.fwd[1] * d.inv[5] + d.fwd[2];
        CHECK(fabs(c0 - 1) < 1e-12 && fabs(c1) < 1e-12 && fabs(t0) < 1e-9, "fwd*inv != I");
        mt_augment_image(&d, 1, img, out);
        mt_augment_image(&di, 1, out, back);
        int checked = 0;
        double worst = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                float qx, qy; /* where (x,y) went; it must be inside with a margin for both resamplings */
                mt_augment_map_point(&d, (float)x, (float)y, &qx, &qy);
                if (qx < 2 || qy < 2 || qx > W - 3 || qy > H - 3 || x < 2 || y < 2 || x > W - 3 || y > H - 3) continue;
                checked++;
                double e = fabs(back[y * W + x] - img[y * W + x]);
                if (e > worst) worst = e;
            }
        CHECK(checked > H * W / 3, "draw %d: only %d pixels comparable", idx, checked);
        CHECK(worst < 0.03, "draw %d: round trip error %g (two bilinear interpolations of a smooth image)", idx,
              worst);
    }
    mt_augment_params pe;
    full_params(&pe, 1);
    mt_augment_draw de, dd;
    CHECK_OK(mt_augment_draw_sample(&pe, H, W, 99, 0, 0, &de));
    CHECK(mt_augment_draw_invert(&de, &dd) == MT_ERR_UNSUPPORTED, "elastic inverse should be unsupported");
    mt_error_clear();
}

TEST(augment_boxes_and_points_land_on_object)
{
    enum { H = 64, W = 80 };
    static uint8_t m[H * W], mo[H * W];
    const int x0 = 28, x1 = 52, y0 = 22, y1 = 42; /* object: a rectangle, inclusive pixel bounds */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) m[y * W + x] = x >= x0 && x <= x1 && y >= y0 && y <= y1;
    for (int mode = 0; mode < 3; mode++) { /* 0: flips+shift only, 1: similarity, 2: + elastic */
        mt_augment_params p;
        full_params(&p, mode == 2);
        p.rotation_deg = mode == 0 ? 0.0f : 180.0f;
        p.zoom[0] = mode == 0 ? 1.0f : 0.9f, p.zoom[1] = mode == 0 ? 1.0f : 1.1f;
        p.translate_frac[0] = p.translate_frac[1] = 0.05f;
        for (int idx = 0; idx < 8; idx++) {
            mt_augment_draw d;
            CHECK_OK(mt_augment_draw_sample(&p, H, W, 5, 1, (uint64_t)idx, &d));
            mt_augment_mask(&d, 1, m, mo);
            float box[5] = {(float)x0, (float)y0, (float)x1, (float)y1, 3.0f}, ob[5];
            float pts[6] = {40.0f, 32.0f, 30.0f, 24.0f, 50.5f, 40.5f}, op[6];
            CHECK(mt_augment_boxes(&d, 1, box, ob) == 1, "box dropped");
            CHECK(ob[4] == 3.0f, "class changed");
            mt_augment_points(&d, 3, pts, op);
            for (int i = 0; i < 3; i++) {
                CHECK(!isnan(op[2 * i]), "mode %d draw %d: point %d lost", mode, idx, i);
                int px = (int)floorf(op[2 * i] + 0.5f), py = (int)floorf(op[2 * i + 1] + 0.5f);
                CHECK(px >= 0 && py >= 0 && px < W && py < H && mo[py * W + px],
                      "mode %d draw %d: point %d -> (%.2f,%.2f) not on the transformed object", mode, idx, i, op[2 * i],
                      op[2 * i + 1]);
            }
            int bx0 = W, by0 = H, bx1 = -1, by1 = -1;
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    if (mo[y * W + x]) {
                        bx0 = x < bx0 ? x : bx0, bx1 = x > bx1 ? x : bx1;
                        by0 = y < by0 ? y : by0, by1 = y > by1 ? y : by1;
                    }
            CHECK(bx1 >= 0, "object vanished");
            float tol = mode == 2 ? 2.0f : 1.0f;
            CHECK(bx0 >= ob[0] - tol && by0 >= ob[1] - tol && bx1 <= ob[2] + tol && by1 <= ob[3] + tol,
                  "mode %d draw %d: object [%d,%d,%d,%d] outside box [%.1f,%.1f,%.1f,%.1f]", mode, idx, bx0, by0, bx1,
                  by1, ob[0], ob[1], ob[2], ob[3]);
            if (mode == 0)
                CHECK(fabsf(bx0 - ob[0]) <= 0.5f && fabsf(by0 - ob[1]) <= 0.5f && fabsf(bx1 - ob[2]) <= 0.5f &&
                          fabsf(by1 - ob[3]) <= 0.5f,
                      "draw %d: rigid box [%.2f,%.2f,%.2f,%.2f] != object bounds [%d,%d,%d,%d]", idx, ob[0], ob[1],
                      ob[2], ob[3], bx0, by0, bx1, by1);
        }
    }
    /* a point pushed out of the image becomes missing; a box pushed out is dropped */
    mt_augment_draw d;
    mt_augment_draw_affine(H, W, 0.0f, 1.0f, 70.0f, 0.0f, 0, 0, &d);
    float pt[2] = {40.0f, 10.0f}, bx[5] = {20, 20, 30, 30, 1};
    mt_augment_points(&d, 1, pt, pt);
    CHECK(isnan(pt[0]) && isnan(pt[1]), "point outside should be NaN");
    CHECK(mt_augment_boxes(&d, 1, bx, bx) == 0, "box outside should be dropped");
}

typedef struct job {
    const mt_augment_params *p;
    const float *img;
    float *out;
    int first, step, n, h, w;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    for (int i = j->first; i < j->n; i += j->step) {
        mt_augment_draw d;
        if (mt_augment_draw_sample(j->p, j->h, j->w, 77, 2, (uint64_t)i, &d) != MT_OK) return NULL;
        mt_augment_image(&d, 2, j->img, j->out + (size_t)i * 2 * j->h * j->w);
    }
    return NULL;
}

TEST(augment_deterministic_regardless_of_threads)
{
    enum { H = 40, W = 36, N = 12 };
    static float img[2 * H * W], a[N * 2 * H * W], b[N * 2 * H * W];
    for (int i = 0; i < 2 * H * W; i++) img[i] = (float)((i * 37) % 101) / 101.0f;
    mt_augment_params p;
    full_params(&p, 1);
    p.brightness = 0.1f;
    p.contrast[0] = 0.8f, p.contrast[1] = 1.2f;
    p.noise_prob = 1.0f, p.noise_std = 0.05f;
    p.salt_pepper_prob = 0.5f, p.salt_pepper_frac = 0.02f;
    job one = {&p, img, a, 0, 1, N, H, W};
    run_job(&one);
    pthread_t th[3];
    job js[3];
    for (int t = 0; t < 3; t++) {
        js[t] = (job){&p, img, b, t, 3, N, H, W};
        CHECK(pthread_create(&th[t], NULL, run_job, &js[t]) == 0, "pthread_create");
    }
    for (int t = 0; t < 3; t++) pthread_join(th[t], NULL);
    CHECK(!memcmp(a, b, sizeof a), "1 thread and 3 threads give different results");
    mt_augment_draw d1, d2, d3;
    CHECK_OK(mt_augment_draw_sample(&p, H, W, 77, 2, 5, &d1));
    CHECK_OK(mt_augment_draw_sample(&p, H, W, 77, 2, 5, &d2));
    CHECK_OK(mt_augment_draw_sample(&p, H, W, 77, 3, 5, &d3));
    CHECK(!memcmp(&d1, &d2, sizeof d1), "same (seed, epoch, index) gave different draws");
    CHECK(memcmp(d1.fwd, d3.fwd, sizeof d1.fwd) != 0, "another epoch gave the same transform");
}

TEST(augment_intensity_changes)
{
    enum { H = 128, W = 128 };
    static float img[H * W], out[H * W];
    for (int i = 0; i < H * W; i++) img[i] = 0.5f;
    mt_augment_params p;
    mt_augment_params_init(&p);
    /* identity parameters: exact copy */
    mt_augment_draw d;
    CHECK_OK(mt_augment_draw_sample(&p, H, W, 1, 0, 0, &d));
    for (int i = 0; i < H * W; i++) img[i] = (float)i * 0.001f;
    mt_augment_image(&d, 1, img, out);
    CHECK(!memcmp(img, out, sizeof img), "identity parameters changed the image");
    for (int i = 0; i < H * W; i++) img[i] = 0.5f;
    /* brightness + contrast: the formula with the sampled values */
    p.brightness = 0.2f;
    p.contrast[0] = 0.5f, p.contrast[1] = 1.5f;
    p.contrast_center = 0.25f;
    CHECK_OK(mt_augment_draw_sample(&p, H, W, 1, 0, 1, &d));
    CHECK(fabsf(d.brightness) <= 0.2f && d.contrast >= 0.5f && d.contrast <= 1.5f, "sampled outside the range");
    mt_augment_image(&d, 1, img, out);
    float want = (0.5f - 0.25f) * d.contrast + 0.25f + d.brightness;
    CHECK(fabsf(out[77] - want) < 1e-6f && fabsf(out[H * W - 1] - want) < 1e-6f, "contrast/brightness %g vs %g",
          out[77], want);
    /* Gaussian noise: mean and standard deviation */
    mt_augment_params_init(&p);
    p.noise_prob = 1.0f, p.noise_std = 0.3f;
    CHECK_OK(mt_augment_draw_sample(&p, H, W, 1, 0, 2, &d));
    mt_augment_image(&d, 1, img, out);
    double s = 0, s2 = 0;
    for (int i = 0; i < H * W; i++) s += out[i] - 0.5, s2 += (out[i] - 0.5) * (out[i] - 0.5);
    double mean = s / (H * W), sd = sqrt(s2 / (H * W) - mean * mean);
    CHECK(fabs(mean) < 0.01 && fabs(sd - 0.3) < 0.01, "noise mean %g sd %g (want 0, 0.3)", mean, sd);
    /* salt and pepper: 10% of pixels, half each */
    mt_augment_params_init(&p);
    p.salt_pepper_prob = 1.0f, p.salt_pepper_frac = 0.1f, p.salt_value = 2.0f, p.pepper_value = -1.0f;
    CHECK_OK(mt_augment_draw_sample(&p, H, W, 1, 0, 3, &d));
    mt_augment_image(&d, 1, img, out);
    int salt = 0, pepper = 0, other = 0;
    for (int i = 0; i < H * W; i++) salt += out[i] == 2.0f, pepper += out[i] == -1.0f, other += out[i] != 0.5f;
    CHECK(fabs(salt / (double)(H * W) - 0.05) < 0.008 && fabs(pepper / (double)(H * W) - 0.05) < 0.008 &&
              other == salt + pepper,
          "salt %d pepper %d other %d of %d", salt, pepper, other, H * W);
    /* probability 0 never applies */
    p.salt_pepper_prob = 0.0f;
    CHECK_OK(mt_augment_draw_sample(&p, H, W, 1, 0, 3, &d));
    CHECK(d.sp_frac == 0.0f, "probability 0 applied salt-and-pepper");
}

TEST(augment_rejects_bad_parameters)
{
    mt_augment_params p;
    mt_augment_params_init(&p);
    CHECK_OK(mt_augment_params_check(&p));
    p.hflip_prob = 1.5f;
    CHECK(mt_augment_params_check(&p) == MT_ERR_INVALID && strstr(mt_last_error(), "hflip_prob"), "bad prob: %s",
          mt_last_error());
    mt_error_clear();
    mt_augment_params_init(&p);
    p.zoom[0] = 1.2f, p.zoom[1] = 0.9f;
    CHECK(mt_augment_params_check(&p) == MT_ERR_INVALID && strstr(mt_last_error(), "zoom"), "reversed zoom");
    mt_error_clear();
    mt_augment_params_init(&p);
    p.elastic_prob = 0.5f, p.elastic_grid = MT_AUG_MAX_GRID + 1;
    CHECK(mt_augment_params_check(&p) == MT_ERR_INVALID && strstr(mt_last_error(), "elastic_grid"), "grid");
    mt_error_clear();
}

#ifdef MT_WITH_CUDA
TEST(augment_cuda_matches_cpu)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    enum { N = 3, C = 2, K = 2, H = 48, W = 56 };
    static float img[N * C * H * W], ref[N * C * H * W], got[N * C * H * W], gotm[N * K * H * W];
    static uint8_t m[N * K * H * W], refm[N * K * H * W];
    for (int i = 0; i < N * C * H * W; i++) img[i] = (float)sin(i * 0.013);
    for (int i = 0; i < N * K; i++) make_mask(H, W, m + (size_t)i * H * W);
    mt_augment_params p;
    full_params(&p, 1);
    p.brightness = 0.1f, p.contrast[0] = 0.9f, p.contrast[1] = 1.1f;
    p.noise_prob = 1.0f, p.noise_std = 0.05f, p.salt_pepper_prob = 1.0f, p.salt_pepper_frac = 0.01f;
    mt_augment_draw d[N];
    for (int i = 0; i < N; i++) {
        CHECK_OK(mt_augment_draw_sample(&p, H, W, 3, 0, (uint64_t)i, &d[i]));
        mt_augment_image(&d[i], C, img + (size_t)i * C * H * W, ref + (size_t)i * C * H * W);
        mt_augment_mask(&d[i], K, m + (size_t)i * K * H * W, refm + (size_t)i * K * H * W);
    }
    int si[4] = {N, C, H, W}, sm[4] = {N, K, H, W};
    mt_tensor *ti = mt_tensor_new(MT_F32, mt_cuda(0), 4, si), *to = mt_tensor_new(MT_F32, mt_cuda(0), 4, si);
    mt_tensor *tm = mt_tensor_new(MT_U8, mt_cuda(0), 4, sm), *tmo = mt_tensor_new(MT_F32, mt_cuda(0), 4, sm);
    CHECK(ti && to && tm && tmo, "alloc: %s", mt_last_error());
    CHECK_OK(mt_tensor_from_host_into(ti, img, sizeof img));
    CHECK_OK(mt_tensor_from_host_into(tm, m, sizeof m));
    CHECK_OK(mt_augment_batch_cuda(0, d, N, C, H, W, mt_data(ti), mt_data(to), K, mt_data(tm), mt_data(tmo)));
    CHECK_OK(mt_tensor_to_host(to, got, sizeof got));
    CHECK_OK(mt_tensor_to_host(tmo, gotm, sizeof gotm));
    CHECK_CLOSE_F(got, ref, (size_t)N * C * H * W, 1e-4, 1e-4);
    int bad = 0;
    for (int i = 0; i < N * K * H * W; i++) bad += (gotm[i] > 0.5f) != (refm[i] != 0);
    CHECK(bad <= N * K * H * W / 2000, "%d mask pixels differ between CPU and CUDA", bad);
    mt_tensor_release(ti), mt_tensor_release(to), mt_tensor_release(tm), mt_tensor_release(tmo);
}
#endif
