/* tests/test_task_steps.c: every task's training step against PyTorch. For
 * each task, 3 training steps of a small real model of that task, from the
 * same initial weights on the same batches, in medtrain (the library:
 * mt_trainer_open / mt_trainer_fit, float32, CPU) and in PyTorch
 * (tests/task_steps.py: the twins of experiments/twins/ and TinyCNN, the
 * task's documented formulas, torch.optim.Adam (SGD for detection), once in
 * float64 and once in float32):
 *   segmentation binary      U-Net base 4 depth 2, bce_dice
 *   segmentation multi-class the same U-Net with 3 logits for 2 mask channels, cross_entropy
 *   classification           tests/data/task_cnn.yaml: 3 logits cross_entropy; one logit bce_with_logits
 *   adversarial              Skip-GANomaly G (img 32, ngf 4) and D (ndf 4, nz 8) alternately
 *   adversarial d_lr         the same with task.d_lr 3e-4 (D's own Adam), optimizer.lr 1e-3 (G's)
 *   gdc localize             G trained against frozen D and frozen C (task_cnn, one logit), CAM of conv2,
 *                            mask_polarity background (M = 1 - F)
 *   gdc restore              the same with a frozen step-1 generator G1 (the Skip-GANomaly G, its own
 *                            initial weights): F = |G1(X) - X| > 0.25 (half of the pixels; none within
 *                            5.7e-6 of 0.25, task_steps.py checks 1e-6, where torch float32's |G1(X) - X|
 *                            is within 9e-8 of float64's), mask_polarity literal (M = F)
 *   detection                YOLOv5s (configs/models/yolov5s.yaml: depth 0.33, width 1/16 = 8 to 64
 *                            channels, 1 input channel, nc 2) on 64 x 64 images with 1-2 boxes (6 to 48
 *                            px, classes 0 and 1), YOLOv5's ComputeLoss with non-default gains and
 *                            anchor_t 3.5 (36-51 / 14-27 / 0-3 target-anchor-cell assignments per batch
 *                            on p3 / p4 / p5), YOLOv5's SGD (momentum 0.937, Nesterov) at lr 1e-3
 * The dataset (data/dataset.h, split by sample) and the initial weights
 * (mt_model_load_yaml + mt_checkpoint_save, loaded by both through
 * *.init_from) are written here; data.shuffle false, no augmentation, no
 * dropout, train.deterministic, log_every 1.
 *
 * Checks:
 *   - the logged loss of each step (log.csv `loss`, and every loss_<term>
 *     column) within 1e-5 relative of torch float64's; for detection, steps
 *     2 and 3 within max(1e-5, 4 x torch float32's own relative deviation):
 *     this YOLOv5s's float32 gradients are only ~5e-5 accurate (batch-norm
 *     biases up to 1e-3: sums that nearly cancel behind its 1x1 conv +
 *     batch-norm + SiLU stacks), in torch as in medtrain, so one update
 *     already moves the next losses off float64: torch float32 is 1.7e-5 off
 *     at step 3 here (SGD lr 1e-2: 1.8e-4; Adam lr 1e-3: 3.3e-6 on these
 *     boxes, 5.6e-5 at step 2 on smaller ones, where elements with |g| <
 *     1e-6 flip their +-lr step). Step 1 (no update yet) keeps 1e-5 (torch
 *     float32: 2.8e-6, medtrain 5.1e-7; steps 2-3: medtrain 1.5e-5);
 *   - every state_dict tensor of last.h5 (weights and batch-norm running
 *     statistics; num_batches_tracked exactly): ||w_mt - w_64|| <= 4 ||w_32 -
 *     w_64|| + 3e-7 ||w_64||. Weights cannot be held to a fixed tolerance:
 *     Adam's first steps divide each gradient by its own magnitude, so an
 *     element whose gradient is near zero (rounding noise, e.g. a cancelling
 *     sum) moves by +-lr with a sign that rounding decides, in float32 torch
 *     as much as in medtrain. PyTorch's own float32 run is the noise floor;
 *     medtrain may be a few times (4x) farther from float64 than that, as its
 *     reductions run in another order. The floor 3e-7 ||w_64|| (2.5 float32
 *     epsilons) covers tensors where torch float32 happens to land almost
 *     exactly on float64, closer than float32 rounding lets any other
 *     summation order be: the generator's one-element output bias (a sum of
 *     4096 terms) is 5e-13 off in torch float32 and 2.3e-10 = 7.7e-8 ||w_64||
 *     off in medtrain. (Measured over the cases but detection: ||w_mt -
 *     w_64|| <= 2.7e-6 ||w_64||, where torch float32 is 2e-6 ||w_64|| off
 *     too; detection: <= 1.2e-3 ||w_64||, on batch-norm biases that start at
 *     0, within 1.3 x torch float32's distance.)
 *   - the check has power: the weights moved in training (||w_64 - w_init||)
 *     by far more than the float32 noise floor.
 * MT_TASK_STEPS_VERBOSE=1 prints these norms for every tensor.
 * Skipped when /usr/bin/python3 with torch, numpy, h5py and yaml is missing. */
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/rng.h"
#include "../data/dataset.h"
#include "../train/checkpoint.h"
#include "../layers/model.h"
#include "../train/trainer.h"
#include "test.h"

#define PY "/usr/bin/python3"
#define STEPS 3
#define LOSS_RTOL 1e-5
#define W_FACTOR 4.0
#define W_FLOOR 3e-7
#define IMG 32
#define N_SAMPLES 24

/* ---- the synthetic dataset ---------------------------------------------- */

/* CT-like size x size images (IMG unless detection): fat background (-100 HU)
 * with noise, and per-sample objects:
 *   - segmentation / classification / gdc: up to two discs (+150, +250 HU) at
 *     per-sample positions. masks k: channel j = disc j; classes > 0: label
 *     i % classes, and (k = 0) as many discs as the label;
 *   - detection (boxes): 1 + i % 2 rectangles (class j = their index, +150 /
 *     +250 HU on the pixels whose centres lie inside), 6 to 48 pixels a side
 *     at non-integer per-sample positions; mt_sample.boxes = x0, y0, x1, y1,
 *     class in medtrain's pixel frame (0 = centre of the top-left pixel).
 * Split by sample (val 0.2, test 0.2, seed 0). */
#define MAX_IMG 64
static int make_dataset(const char *path, int size, int k, int classes, int boxes)
{
    mt_dataset_spec spec = {1, size, size, k, 0, "test_task_steps synthetic", "none"};
    mt_dataset_writer *w = NULL;
    if (size > MAX_IMG || mt_dataset_writer_open(path, &spec, &w) != MT_OK) return 0;
    if (mt_dataset_writer_set_split_by_sample(w, 1) != MT_OK) return 0;
    static float img[MAX_IMG * MAX_IMG];
    static uint8_t msk[2 * MAX_IMG * MAX_IMG];
    float bx[2 * 5];
    int ok = 1;
    for (int i = 0; ok && i < N_SAMPLES; i++) {
        int label = classes > 0 ? i % classes : -1, discs = k > 0 ? k : (label > 0 ? label : 0);
        int nb = boxes ? 1 + i % 2 : 0;
        if (boxes) discs = 0;
        for (int p = 0; p < size * size; p++)
            img[p] = -100.f + 40.f * (mt_philox_uniform(34, (uint64_t)(i * size * size + p)) - 0.5f);
        memset(msk, 0, sizeof msk);
        for (int j = 0; j < discs; j++) {
            float cx = size * (0.25f + 0.5f * mt_philox_uniform(31 + 10 * j, (uint64_t)i));
            float cy = size * (0.25f + 0.5f * mt_philox_uniform(32 + 10 * j, (uint64_t)i));
            float r = size * (0.1f + 0.1f * mt_philox_uniform(33 + 10 * j, (uint64_t)i));
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r) {
                        img[y * size + x] += j == 0 ? 150.f : 250.f;
                        if (j < k) msk[j * size * size + y * size + x] = 1;
                    }
        }
        for (int j = 0; j < nb; j++) {
            float bw = 6.f + 42.f * mt_philox_uniform(41 + 10 * j, (uint64_t)i);
            float bh = 6.f + 42.f * mt_philox_uniform(42 + 10 * j, (uint64_t)i);
            float x0 = -0.5f + (size - bw) * mt_philox_uniform(43 + 10 * j, (uint64_t)i);
            float y0 = -0.5f + (size - bh) * mt_philox_uniform(44 + 10 * j, (uint64_t)i);
            float *b = bx + 5 * j;
            b[0] = x0, b[1] = y0, b[2] = x0 + bw, b[3] = y0 + bh, b[4] = (float)j;
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    if (x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3]) img[y * size + x] += j == 0 ? 150.f : 250.f;
        }
        mt_sample s;
        mt_sample_init(&s);
        s.c = 1, s.h = size, s.w = size, s.k = k;
        s.image = img;
        s.mask = k ? msk : NULL;
        s.label = label;
        s.n_boxes = nb;
        s.boxes = nb ? bx : NULL;
        snprintf(s.meta.source, sizeof s.meta.source, "synthetic-%d", i);
        ok = mt_dataset_writer_add(w, &s) == MT_OK;
    }
    return mt_test_dataset_close(w, ok, 0.2, 0.2);
}

/* ---- networks: graph + params, their YAML and their initial weights ------ */

typedef struct net_spec {
    const char *graph; /* repo-relative */
    const char *params[8][2];
} net_spec;

static const net_spec UNET1 = {"configs/models/unet.yaml",
                               {{"in_channels", "1"}, {"out_channels", "1"}, {"base", "4"}, {"depth", "2"}, {"dropout", "0"}}};
static const net_spec UNET3 = {"configs/models/unet.yaml",
                               {{"in_channels", "1"}, {"out_channels", "3"}, {"base", "4"}, {"depth", "2"}, {"dropout", "0"}}};
static const net_spec CNN3 = {"tests/data/task_cnn.yaml", {{"classes", "3"}}};
static const net_spec CNN1 = {"tests/data/task_cnn.yaml", {{"classes", "1"}}};
static const net_spec CNN1_RGB = {"tests/data/task_cnn.yaml", {{"classes", "1"}, {"in_channels", "3"}}};
static const net_spec GEN = {"configs/models/skip_ganomaly_g.yaml",
                             {{"img_size", "32"}, {"num_downs", "5"}, {"ngf", "4"}}};
static const net_spec DIS = {"configs/models/skip_ganomaly_d.yaml", {{"img_size", "32"}, {"ndf", "4"}, {"nz", "8"}}};
/* YOLOv5s at depth 0.33 (C3 repeats 1, 2, 3 as "s"), width 1/16 (8 to 64
 * channels), 1 input channel, 2 classes, 64 x 64 input: p3 8x8, p4 4x4, p5 2x2 */
static const net_spec YOLO = {"configs/models/yolov5s.yaml",
                              {{"in_channels", "1"}, {"nc", "2"}, {"img_size", "64"}, {"depth_multiple", "0.33"},
                               {"width_multiple", "0.0625"}}};

static int n_params(const net_spec *n)
{
    int c = 0;
    while (c < 8 && n->params[c][0]) c++;
    return c;
}

/* "{a: 1, b: 2}" */
static void params_yaml(const net_spec *n, char *out, size_t len)
{
    size_t o = (size_t)snprintf(out, len, "{");
    for (int i = 0; i < n_params(n); i++)
        o += (size_t)snprintf(out + o, len - o, "%s%s: %s", i ? ", " : "", n->params[i][0], n->params[i][1]);
    snprintf(out + o, len - o, "}");
}

static int abs_path(const char *rel, char *out)
{
    char buf[PATH_MAX];
    return realpath(mt_test_path(rel, buf, sizeof buf), out) != NULL;
}

/* Builds the network (seed) and writes its state_dict to path. */
static int save_init(const net_spec *n, uint64_t seed, const char *path)
{
    char graph[PATH_MAX];
    if (!abs_path(n->graph, graph)) return 0;
    mt_model_arg args[8];
    int na = n_params(n);
    for (int i = 0; i < na; i++) args[i] = (mt_model_arg){n->params[i][0], n->params[i][1]};
    mt_model *m = NULL;
    if (mt_model_load_yaml(graph, na, args, mt_cpu(), seed, &m) != MT_OK) return 0;
    int ok = mt_checkpoint_save(path, m, NULL, NULL, NULL) == MT_OK;
    mt_model_free(m);
    return ok;
}

/* "  graph: ...\n  params: {...}\n  init_from: ...\n" with the given indent, weights written to dir/init_<tag>.h5 */
static int net_section(const net_spec *n, const char *dir, const char *tag, uint64_t seed, const char *indent,
                       char *out, size_t len)
{
    char graph[PATH_MAX], init[PATH_MAX + 64], params[512];
    if (!abs_path(n->graph, graph)) return 0;
    snprintf(init, sizeof init, "%s/init_%s.h5", dir, tag);
    if (!save_init(n, seed, init)) return 0;
    params_yaml(n, params, sizeof params);
    snprintf(out, len, "%sgraph: %s\n%sparams: %s\n%sinit_from: %s\n", indent, graph, indent, params, indent, init);
    return 1;
}

/* ---- reading the results -------------------------------------------------- */

static int python_ok(void)
{
    static int known = -1;
    if (known < 0) {
        char out[2048];
        known = access(PY, X_OK) == 0 &&
                mt_test_run(PY " -c 'import torch, numpy, h5py, yaml'", out, sizeof out) == 0;
    }
    return known;
}

/* Values of an HDF5 dataset as doubles (malloc'ed), NULL when absent. */
static double *h5_doubles(hid_t f, const char *name, size_t *n)
{
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return NULL;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return NULL;
    hid_t sp = H5Dget_space(d);
    hssize_t cnt = H5Sget_simple_extent_npoints(sp);
    double *v = cnt >= 0 ? malloc(sizeof(double) * (size_t)(cnt ? cnt : 1)) : NULL;
    if (v && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        free(v);
        v = NULL;
    }
    H5Sclose(sp);
    H5Dclose(d);
    if (v) *n = (size_t)cnt;
    return v;
}

/* The train rows of log.csv: column `col` for steps 1..STEPS into v; 0 when missing. */
static int log_column(const char *run, const char *col, double v[STEPS])
{
    char path[PATH_MAX + 16], line[4096];
    snprintf(path, sizeof path, "%s/log.csv", run);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int c = -1, phase = -1, got = 0;
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        int i = 0;
        for (char *s = line, *e; s; s = e ? e + 1 : NULL, i++) {
            e = strchr(s, ',');
            size_t l = e ? (size_t)(e - s) : strlen(s);
            if (l == strlen(col) && !strncmp(s, col, l)) c = i;
            if (l == 5 && !strncmp(s, "phase", 5)) phase = i;
        }
    }
    while (c >= 0 && phase >= 0 && fgets(line, sizeof line, f)) {
        long step = strtol(line, NULL, 10);
        char *fields[64];
        int nf = 0;
        for (char *s = line, *e; s && nf < 64; s = e ? e + 1 : NULL) {
            e = strchr(s, ',');
            if (e) *e = '\0';
            fields[nf++] = s;
        }
        if (c < nf && phase < nf && !strcmp(fields[phase], "train") && step >= 1 && step <= STEPS && fields[c][0]) {
            v[step - 1] = strtod(fields[c], NULL);
            got |= 1 << (step - 1);
        }
    }
    fclose(f);
    return got == (1 << STEPS) - 1;
}

typedef struct iter_ctx {
    char names[256][128];
    int n;
} iter_ctx;

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    iter_ctx *c = data;
    if (c->n < 256) snprintf(c->names[c->n++], sizeof c->names[0], "%s", name);
    return 0;
}

static double norm_diff(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (a[i] - (b ? b[i] : 0)) * (a[i] - (b ? b[i] : 0));
    return sqrt(s);
}

/* ---- one case ------------------------------------------------------------ */

typedef struct step_case {
    const char *name;
    const char *kind;          /* task.kind */
    const net_spec *model, *d, *c;
    int d_trainable;           /* adversarial: D trained (compared when last.h5 has /nets/D) */
    int k, classes;            /* dataset */
    const char *task_extra;    /* YAML lines of the task: section (indent 2) */
    const char *extra;         /* YAML: loss, optimizer */
    int n_terms;
    const char *terms[4];
    const net_spec *g1;        /* gdc restore: the frozen step-1 generator (task.generator1) */
    int img;                   /* dataset image size (0: IMG) */
    int boxes;                 /* dataset with boxes (detection) */
    int loss_f32_floor;        /* steps 2-3: loss bound max(1e-5, 4 x torch float32's deviation) (header) */
    const char *c_extra;       /* YAML lines of task.classifier (indent 4), e.g. input_scale */
} step_case;

/* Compares the state_dict tensors of net `net` (torch.h5 /f64/state/<net>) with
 * medtrain's group `mt_group` in last.h5; returns 1 when they match, with the
 * worst ratio ||w_mt - w64|| / (||w32 - w64|| + floor) in *worst. */
typedef struct w_stats {
    double worst;      /* max over tensors of ||w_mt - w64|| / (bound / W_FACTOR): <= W_FACTOR passes */
    double worst_pure; /* max of ||w_mt - w64|| / ||w32 - w64|| (tensors with ||w32 - w64|| > 0) */
    double worst_rel;  /* max of ||w_mt - w64|| / ||w64|| */
    double moved;      /* sum of ||w64 - w_init|| */
    double noise;      /* sum of ||w32 - w64|| */
    int tensors;
    char worst_name[160]; /* the tensor of worst_pure */
} w_stats;

static int compare_net(mt_test_ctx *T_, hid_t th, hid_t lh, const char *net, const char *mt_group, w_stats *ws)
{
    char grp[256];
    snprintf(grp, sizeof grp, "/f64/state/%s", net);
    iter_ctx *it = calloc(1, sizeof *it);
    if (!it) return 0;
    hid_t g = H5Gopen2(th, grp, H5P_DEFAULT);
    if (g < 0) {
        free(it);
        mt_test_fail(T_, __FILE__, __LINE__, "torch.h5 has no %s", grp);
        return 0;
    }
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, collect, it);
    H5Gclose(g);
    int ok = it->n > 0;
    if (!ok) mt_test_fail(T_, __FILE__, __LINE__, "torch.h5 %s is empty", grp);
    for (int i = 0; ok && i < it->n; i++) {
        const char *name = it->names[i];
        char p64[512], p32[512], pin[512], pmt[512];
        snprintf(p64, sizeof p64, "/f64/state/%s/%s", net, name);
        snprintf(p32, sizeof p32, "/f32/state/%s/%s", net, name);
        snprintf(pin, sizeof pin, "/init/%s/%s", net, name);
        snprintf(pmt, sizeof pmt, "%s/%s", mt_group, name);
        size_t n64 = 0, n32 = 0, nin = 0, nmt = 0;
        double *w64 = h5_doubles(th, p64, &n64), *w32 = h5_doubles(th, p32, &n32), *w0 = h5_doubles(th, pin, &nin);
        double *wmt = h5_doubles(lh, pmt, &nmt);
        if (!w64 || !w32 || !w0 || !wmt || n32 != n64 || nmt != n64 || nin != n64) {
            mt_test_fail(T_, __FILE__, __LINE__, "%s: tensor %s missing or of another size (torch %zu, medtrain %zu)",
                         net, name, n64, nmt);
            ok = 0;
        } else if (strstr(name, "num_batches_tracked")) {
            if (wmt[0] != w64[0]) {
                mt_test_fail(T_, __FILE__, __LINE__, "%s %s: medtrain %g, torch %g", net, name, wmt[0], w64[0]);
                ok = 0;
            }
        } else {
            double dmt = norm_diff(wmt, w64, n64), d32 = norm_diff(w32, w64, n64), nw = norm_diff(w64, NULL, n64);
            double bound = W_FACTOR * d32 + W_FLOOR * nw;
            double ratio = dmt / (d32 + W_FLOOR * nw / W_FACTOR + 1e-300);
            ws->worst = ratio > ws->worst ? ratio : ws->worst;
            if (d32 > 0 && dmt / d32 > ws->worst_pure) {
                ws->worst_pure = dmt / d32;
                snprintf(ws->worst_name, sizeof ws->worst_name, "%s %s", net, name);
            }
            if (nw > 0 && dmt / nw > ws->worst_rel) ws->worst_rel = dmt / nw;
            ws->moved += norm_diff(w64, w0, n64);
            ws->noise += d32;
            ws->tensors++;
            if (getenv("MT_TASK_STEPS_VERBOSE"))
                printf("       %s %-28s ||w64|| %.4g  ||w32-w64|| %.4g  ||wmt-w64|| %.4g  moved %.4g\n", net, name, nw,
                       d32, dmt, norm_diff(w64, w0, n64));
            if (!(dmt <= bound)) {
                mt_test_fail(T_, __FILE__, __LINE__,
                             "%s %s: ||w_medtrain - w_torch64|| = %.4g > %g ||w_torch32 - w_torch64|| (%.4g) + %g "
                             "||w_torch64|| (%.4g)",
                             net, name, dmt, W_FACTOR, d32, W_FLOOR, nw);
                ok = 0;
            }
        }
        free(w64);
        free(w32);
        free(w0);
        free(wmt);
    }
    free(it);
    return ok;
}

static void run_case(mt_test_ctx *T_, const step_case *sc)
{
    if (!python_ok()) SKIP("skipped: " PY " with torch, numpy, h5py and yaml is needed for the PyTorch twin");
    char dir[1024], ds[1200], run[1200], cfg[1200], cmd[PATH_MAX + 2600], th5[1200];
    snprintf(dir, sizeof dir, "%s/steps_%s", mt_test_tmpdir(), sc->name);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    CHECK(system(cmd) == 0, "mkdir %s", dir);
    snprintf(ds, sizeof ds, "%s/data.h5", dir);
    CHECK(make_dataset(ds, sc->img ? sc->img : IMG, sc->k, sc->classes, sc->boxes), "cannot write the dataset %s: %s",
          ds, mt_last_error());

    /* the config, with every network's initial weights */
    char model[3 * PATH_MAX + 600], dsec[3 * PATH_MAX + 600] = "", csec[3 * PATH_MAX + 600] = "";
    char g1sec[3 * PATH_MAX + 600] = "";
    CHECK(net_section(sc->model, dir, "model", 11, "  ", model, sizeof model), "initial weights of the model: %s",
          mt_last_error());
    if (sc->d) CHECK(net_section(sc->d, dir, "d", 12, "    ", dsec, sizeof dsec), "initial D: %s", mt_last_error());
    if (sc->c) CHECK(net_section(sc->c, dir, "c", 13, "    ", csec, sizeof csec), "initial C: %s", mt_last_error());
    if (sc->c_extra) snprintf(csec + strlen(csec), sizeof csec - strlen(csec), "%s", sc->c_extra);
    if (sc->g1)
        CHECK(net_section(sc->g1, dir, "g1", 14, "    ", g1sec, sizeof g1sec), "initial G1: %s", mt_last_error());
    snprintf(cfg, sizeof cfg, "%s/config.yaml", dir);
    FILE *f = fopen(cfg, "w");
    CHECK(f, "cannot write %s", cfg);
    fprintf(f,
            "name: steps_%s\n"
            "model:\n%s"
            "task:\n  kind: %s\n%s%s%s%s%s%s%s"
            "data:\n  dataset: %s\n  normalize: window\n  window: [-200, 200]\n  shuffle: false\n  num_workers: 1\n"
            "  augment: {enabled: false}\n"
            "train:\n  steps: %d\n  batch_size: 4\n  seed: 5\n  deterministic: true\n  log_every: 1\n  device: cpu\n"
            "%s",
            sc->name, model, sc->kind, sc->d ? "  discriminator:\n" : "", dsec, sc->c ? "  classifier:\n" : "", csec,
            sc->g1 ? "  generator1:\n" : "", g1sec, sc->task_extra, ds, STEPS, sc->extra);
    CHECK(fclose(f) == 0, "writing %s", cfg);

    /* medtrain: 3 steps through the library */
    snprintf(run, sizeof run, "%s/run", dir);
    mt_train_options o = {.config = cfg, .device = "cpu", .out_dir = run, .quiet = 1};
    mt_trainer *t = NULL;
    mt_status st = mt_trainer_open(&o, &t);
    if (st == MT_OK) st = mt_trainer_fit(t);
    char err[1024];
    snprintf(err, sizeof err, "%s", mt_last_error());
    long steps = t ? t->step : -1;
    mt_trainer_close(t, st != MT_OK);
    CHECK(st == MT_OK, "%s: medtrain training failed: %s", sc->name, err);
    CHECK(steps == STEPS, "%s: %ld steps, expected %d", sc->name, steps, STEPS);

    /* PyTorch: the same steps in float64 and float32 */
    char script[PATH_MAX], out[16384];
    CHECK(abs_path("tests/task_steps.py", script), "tests/task_steps.py missing");
    snprintf(th5, sizeof th5, "%s/torch.h5", dir);
    snprintf(cmd, sizeof cmd, PY " '%s' '%s' '%s'", script, run, th5);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "%s: task_steps.py failed (%d):\n%s", sc->name, rc, out);

    hid_t th = H5Fopen(th5, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(th >= 0, "cannot open %s", th5);
    /* losses: the logged total and every term, per step */
    double worst_loss = 0, worst_loss32 = 0;
    int ok = 1;
    for (int i = -1; ok && i < sc->n_terms; i++) {
        char col[64], p64[96], p32[96];
        snprintf(col, sizeof col, i < 0 ? "loss" : "loss_%s", i < 0 ? "" : sc->terms[i]);
        snprintf(p64, sizeof p64, i < 0 ? "/f64/loss" : "/f64/terms/%s", i < 0 ? "" : sc->terms[i]);
        snprintf(p32, sizeof p32, i < 0 ? "/f32/loss" : "/f32/terms/%s", i < 0 ? "" : sc->terms[i]);
        double mt[STEPS];
        size_t n = 0, n32 = 0;
        double *t64 = h5_doubles(th, p64, &n), *t32 = h5_doubles(th, p32, &n32);
        if (!log_column(run, col, mt) || !t64 || n != STEPS || !t32 || n32 != STEPS) {
            mt_test_fail(T_, __FILE__, __LINE__, "%s: column %s of log.csv or %s of torch.h5 missing", sc->name, col,
                         p64);
            ok = 0;
        }
        for (int s = 0; ok && s < STEPS; s++) {
            double rel = fabs(mt[s] - t64[s]) / fabs(t64[s]), rel32 = fabs(t32[s] - t64[s]) / fabs(t64[s]);
            double tol = LOSS_RTOL;
            if (sc->loss_f32_floor && s > 0 && W_FACTOR * rel32 > tol) tol = W_FACTOR * rel32;
            worst_loss = rel > worst_loss ? rel : worst_loss;
            worst_loss32 = rel32 > worst_loss32 ? rel32 : worst_loss32;
            if (!(rel <= tol)) {
                mt_test_fail(T_, __FILE__, __LINE__,
                             "%s step %d %s: medtrain %.9g, torch float64 %.9g (rel %.3g > %.3g; torch float32 %.9g, "
                             "rel %.3g)",
                             sc->name, s + 1, col, mt[s], t64[s], rel, tol, t32[s], rel32);
                ok = 0;
            }
        }
        free(t64);
        free(t32);
    }
    /* weights */
    char last[1300];
    snprintf(last, sizeof last, "%s/last.h5", run);
    hid_t lh = ok ? H5Fopen(last, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    if (ok && lh < 0) {
        mt_test_fail(T_, __FILE__, __LINE__, "cannot open %s", last);
        ok = 0;
    }
    w_stats ws = {0};
    if (ok) ok = compare_net(T_, th, lh, "model", "/state_dict", &ws);
    const char *d_note = "";
    if (ok && sc->d_trainable) {
        if (H5Lexists(lh, "nets", H5P_DEFAULT) > 0 && H5Lexists(lh, "nets/D", H5P_DEFAULT) > 0)
            ok = compare_net(T_, th, lh, "D", "/nets/D/state_dict", &ws);
        else
            d_note = "; D's weights not compared: last.h5 has no /nets/D/state_dict yet (D checked through L_D and "
                     "L_G of steps 2-3)";
    }
    if (lh >= 0) H5Fclose(lh);
    H5Fclose(th);
    if (!ok) return;
    /* power: training moved the weights far more than the float32 noise floor */
    CHECK(ws.moved > 20 * ws.noise, "%s: the weights moved %.3g in training, the float32 noise is %.3g: no test",
          sc->name, ws.moved, ws.noise);
    printf("     %s: losses rel. diff <= %.2g (torch float32 %.2g); %d tensors: ||w_mt - w64|| <= %.3g x (||w32 - w64|| "
           "+ floor / %g) (limit %g), <= %.3g x ||w32 - w64|| (%s), <= %.2g ||w64||; sum ||w32 - w64|| %.3g, moved "
           "%.3g%s\n",
           sc->name, worst_loss, worst_loss32, ws.tensors, ws.worst, W_FACTOR, W_FACTOR, ws.worst_pure, ws.worst_name,
           ws.worst_rel, ws.noise, ws.moved, d_note);
}

/* ---- the cases ------------------------------------------------------------ */

#define ADAM "optimizer:\n  kind: adam\n  lr: 0.001\n"
/* YOLOv5's optimizer (hyp.scratch-low: SGD lr 0.01, momentum 0.937, Nesterov) */
#define SGD "optimizer:\n  kind: sgd\n  lr: 0.001\n  momentum: 0.937\n  nesterov: true\n"

TEST(task_steps_segmentation_binary)
{
    static const step_case c = {"seg_binary", "segmentation", &UNET1, NULL, NULL, 0, 1, 0, "",
                                "loss:\n  kind: bce_dice\n" ADAM, 2, {"bce", "dice"}};
    run_case(T_, &c);
}

TEST(task_steps_segmentation_multiclass)
{
    static const step_case c = {"seg_multiclass", "segmentation", &UNET3, NULL, NULL, 0, 2, 0, "",
                                "loss:\n  kind: cross_entropy\n" ADAM, 0, {0}};
    run_case(T_, &c);
}

TEST(task_steps_classification_multiclass)
{
    static const step_case c = {"cls_multiclass", "classification", &CNN3, NULL, NULL, 0, 0, 3, "",
                                "loss:\n  kind: cross_entropy\n" ADAM, 0, {0}};
    run_case(T_, &c);
}

TEST(task_steps_classification_binary)
{
    static const step_case c = {"cls_binary", "classification", &CNN1, NULL, NULL, 0, 0, 2, "",
                                "loss:\n  kind: bce_with_logits\n" ADAM, 0, {0}};
    run_case(T_, &c);
}

TEST(task_steps_adversarial)
{
    static const step_case c = {"adversarial", "adversarial", &GEN, &DIS, NULL, 1, 0, 2, "",
                                ADAM "  betas: [0.5, 0.999]\n", 4, {"adv", "con", "lat", "d"}};
    run_case(T_, &c);
}

TEST(task_steps_gdc_localize)
{
    static const step_case c = {"gdc_localize", "gdc", &GEN, &DIS, &CNN1, 0, 0, 2,
                                "  gdc_step: localize\n  cam_layer: conv2\n  mask_polarity: background\n",
                                ADAM "  betas: [0.5, 0.999]\n", 3, {"g", "d", "c"}};
    run_case(T_, &c);
}

/* C fed through task.classifier.input_scale / input_channels (S4: a 0-255 RGB
 * EfficientNet C against G's [0, 1] grey images), in L_C and in the CAM */
TEST(task_steps_gdc_classifier_input)
{
    static const step_case c = {.name = "gdc_classifier_input", .kind = "gdc", .model = &GEN, .d = &DIS,
                                .c = &CNN1_RGB, .classes = 2,
                                .task_extra = "  gdc_step: localize\n  cam_layer: conv2\n",
                                .extra = ADAM "  betas: [0.5, 0.999]\n", .n_terms = 3, .terms = {"g", "d", "c"},
                                .c_extra = "    input_scale: 2.5\n    input_channels: 3\n"};
    run_case(T_, &c);
}

/* D's own Adam learning rate (task.d_lr), not optimizer.lr */
TEST(task_steps_adversarial_d_lr)
{
    static const step_case c = {"adversarial_d_lr", "adversarial", &GEN, &DIS, NULL, 1, 0, 2, "  d_lr: 0.0003\n",
                                ADAM "  betas: [0.5, 0.999]\n", 4, {"adv", "con", "lat", "d"}};
    run_case(T_, &c);
}

/* restore step: F = |G1(X) - X| > change_threshold from a frozen G1 (its own
 * initial weights), literal mask polarity (M = F; localize covers background) */
TEST(task_steps_gdc_restore)
{
    static const step_case c = {.name = "gdc_restore", .kind = "gdc", .model = &GEN, .d = &DIS, .c = &CNN1,
                                .classes = 2,
                                .task_extra = "  gdc_step: restore\n  change_threshold: 0.25\n"
                                              "  mask_polarity: literal\n",
                                .extra = ADAM "  betas: [0.5, 0.999]\n", .n_terms = 3, .terms = {"g", "d", "c"},
                                .g1 = &GEN};
    run_case(T_, &c);
}

/* YOLOv5 detection: 64 x 64 images with 1-2 boxes of 2 classes, non-default
 * gains and anchor_t (read from the resolved config by both sides) */
TEST(task_steps_detection)
{
    static const step_case c = {.name = "detection", .kind = "detection", .model = &YOLO,
                                .task_extra = "  box_gain: 0.06\n  obj_gain: 1.5\n  cls_gain: 0.7\n  anchor_t: 3.5\n",
                                .extra = SGD, .n_terms = 3, .terms = {"box", "obj", "cls"}, .img = 64, .boxes = 1,
                                .loss_f32_floor = 1};
    run_case(T_, &c);
}
