/* tests/test_weights_keras_nets.c: the Keras name maps of the two ImageNet
 * networks the studies start from, proven on files laid out exactly as
 * keras.applications publishes them:
 *   configs/models/inception_resnet_v2.keras_map.yaml (S2: notop, 5 classes)
 *   configs/models/efficientnet_b3.keras_map.yaml     (S4: notop, 1 unit)
 * tests/keras_layout.py (run live by /usr/bin/python3) builds each PyTorch twin
 * (experiments/twins/) with 1000 classes, random weights and random BN
 * statistics, and writes it as Keras's save_weights would write the Keras
 * model: Keras's own layer names (IRv2's auto-numbered conv2d_1 ..
 * conv2d_203 / batch_normalization_1 .. _203 of Keras 2.0.9; EfficientNet's
 * named layers and tf.keras's `normalization`), Keras's by-depth layer order,
 * every weightless layer, HWIO / depthwise / Dense layouts; the full file and
 * the notop one (include_top=False). It derives those names from the Keras
 * source, not from the maps.
 * Each test loads a file with mt_weights_load + the map into a freshly built
 * medtrain model, asserts the report's counts exactly and compares medtrain's
 * evaluation output on a random batch with the twin's (float64 on the same
 * float32 weights), within 1e-4 of the reference's largest magnitude:
 *  - full file -> classes 1000: every tensor loaded, none missing or
 *    unexpected; the 1000 logits compared;
 *  - notop file -> the study head (classes 5 / 1), built with its normal
 *    initialisation: everything but the head loaded, the head reported
 *    missing (and left as initialised); then the new head's weights (drawn by
 *    keras_layout.py) are copied into predictions.weight / .bias and the
 *    logits are compared with that head applied to the twin's pooled
 *    features. With the head fixed by the reference, the head logits are a
 *    function of everything before it (a random linear map of the 1536
 *    pooled features), so this checks the notop load end to end without a
 *    tap API; the head itself is a plain linear layer checked elsewhere;
 *  - the full file into the study head: strict is an error naming the head
 *    and both shapes; skip_mismatched loads the rest and lists the head as
 *    shape-mismatched (not missing).
 * Sizes: InceptionResNetV2 at 299x299, batch 1 (Keras's default input;
 * the BN statistics are calibrated at 139x139 to keep the fixture short),
 * EfficientNet-B3 at 256x256 (the study's input), batch 1.
 * Skipped when /usr/bin/python3 with torch, h5py and numpy is absent. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/autograd.h"
#include "../core/device.h"
#include "../layers/model.h"
#include "../layers/weights.h"
#include "test.h"

#ifndef MT_REAL_DOUBLE

typedef struct knet {
    const char *id;          /* keras_layout.py's net name, file prefix */
    const char *graph, *map;
    int size, batch, calib;  /* input size and batch of the comparison, BN calibration size */
    const char *head;        /* the study's head classes */
    int n_full, n_notop;     /* tensors in the full / notop file (= loaded) */
    int n_no_init;
    mt_model_arg no_init[2]; /* graph params that skip the random initialisation */
    struct {
        const char *source, *target;
    } spot[6];               /* a few pairs the report must contain */
} knet;

/* InceptionResNetV2 file: 203 conv2d_k kernels + 204 x 3 BN tensors (203
 * batch_normalization_k and conv_7b_bn: beta, moving_mean, moving_variance) +
 * 40 block convs x 2 + conv_7b + predictions x 2 = 898; notop 896. */
static const knet IRV2 = {
    "irv2", "configs/models/inception_resnet_v2.yaml", "configs/models/inception_resnet_v2.keras_map.yaml",
    299, 1, 139, "5", 898, 896, 1, {{"init", "none"}},
    {{"conv2d_1/kernel:0", "stem.conv1.conv.weight"},
     {"conv2d_13/kernel:0", "block35_1.branch0.conv.weight"},
     {"batch_normalization_77/moving_variance:0", "block17_1.branch0.bn.running_var"},
     {"conv2d_203/kernel:0", "block8_10.branch1_3.conv.weight"},
     {"block17_20_conv/bias:0", "block17_20.conv.bias"},
     {"conv_7b_bn/moving_mean:0", "conv_7b.bn.running_mean"}},
};

/* EfficientNet-B3 file: normalization 3 + stem 1 + 4 + 24 blocks with expand
 * x 19 + block1a/1b x 14 + top 1 + 4 + predictions 2 = 499; notop 497. */
static const knet EFFNET = {
    "effnet", "configs/models/efficientnet_b3.yaml", "configs/models/efficientnet_b3.keras_map.yaml",
    256, 1, 256, "1", 499, 497, 2, {{"conv_init", "none"}, {"dense_init", "none"}},
    {{"normalization/count:0", "normalization.count"},
     {"stem_bn/gamma:0", "stem_bn.weight"},
     {"block1a_se_reduce/bias:0", "block1a.se_reduce.bias"},
     {"block2a_dwconv/depthwise_kernel:0", "block2a.dwconv.weight"},
     {"block7b_project_bn/moving_variance:0", "block7b.project_bn.running_var"},
     {"top_conv/kernel:0", "top_conv.weight"}},
};

/* ------------------------------------------------------------ helpers --- */


/* The fixture directory of a network (keras_layout.py make, once per run);
 * NULL with *why set: python/torch/h5py absent (*nopy = 1, skip) or the
 * script failed (fail). */
static const char *fixture(const knet *k, int *nopy, char *why, size_t len)
{
    static char dirs[2][1024], msgs[2][2048];
    static int state[2]; /* 0 not tried, 1 ok, 2 python missing, 3 failed */
    int i = k == &IRV2 ? 0 : 1;
    if (!state[i]) {
        char cmd[3072], root[1024], out[1500];
        if (access("/usr/bin/python3", X_OK) != 0 ||
            mt_test_run("/usr/bin/python3 -c 'import torch, h5py, numpy'", out, sizeof out) != 0) {
            state[i] = 2;
            snprintf(msgs[i], sizeof msgs[i], "skipped: /usr/bin/python3 with torch, h5py and numpy is not installed");
        } else {
            snprintf(dirs[i], sizeof dirs[i], "%s/test_weights_keras_nets", mt_test_tmpdir());
            mkdir(dirs[i], 0700);
            snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s make %s %s --size %d --batch %d --head %s --calib-size %d",
                     mt_test_path("tests/keras_layout.py", root, sizeof root), k->id, dirs[i], k->size, k->batch,
                     k->head, k->calib);
            int rc = mt_test_run(cmd, out, sizeof out);
            state[i] = rc == 0 ? 1 : 3;
            if (rc == 0) printf("     %s", out); /* keras_layout.py's one line of statistics */
            snprintf(msgs[i], sizeof msgs[i], "keras_layout.py failed (exit %d): %.1200s\ncommand: %.600s", rc, out, cmd);
        }
    }
    *nopy = state[i] == 2;
    snprintf(why, len, "%s", msgs[i]);
    return state[i] == 1 ? dirs[i] : NULL;
}

#define NEED_FIXTURE(k, dir)                                                \
    char why_[2048];                                                        \
    int nopy_;                                                              \
    const char *dir = fixture((k), &nopy_, why_, sizeof why_);              \
    if (!dir && nopy_) SKIP(why_);                                          \
    CHECK(dir, "%s", why_)

/* reads a whole dataset of an HDF5 file as doubles; returns the element count (0 on error) */
static size_t read_h5(const char *path, const char *name, double *out, size_t cap)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return 0;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    hssize_t n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    int ok = n > 0 && (size_t)n <= cap && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0;
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    return ok ? (size_t)n : 0;
}

static const char *join(const char *dir, const char *a, const char *b, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s%s", dir, a, b);
    return buf;
}

static mt_status build(const knet *k, const char *classes, int init, mt_model **m)
{
    char path[1024];
    mt_model_arg args[3] = {{"classes", classes}};
    int n = 1;
    for (int i = 0; !init && i < k->n_no_init; i++) args[n++] = k->no_init[i];
    return mt_model_load_yaml(mt_test_path(k->graph, path, sizeof path), n, args, mt_cpu(), 11, m);
}

static mt_tensor *state(mt_model *m, const char *name)
{
    for (int i = 0; i < mt_model_state_count(m); i++)
        if (!strcmp(mt_model_state_name(m, i), name)) return mt_model_state_tensor(m, i);
    return NULL;
}

static int has_pair(const mt_weights_item *it, int n, const char *source, const char *target)
{
    for (int i = 0; i < n; i++)
        if (it[i].source && it[i].target && !strcmp(it[i].source, source) && !strcmp(it[i].target, target)) return 1;
    return 0;
}

/* Evaluation forward of the reference's /x; writes max |y - ref| / max |ref|
 * over the logits (dataset `yname`) into *rel. Returns 0 or a message in why. */
static int compare_logits(mt_model *m, const knet *k, const char *ref, const char *yname, int classes, double *rel,
                          char *why, size_t len)
{
    size_t nx = (size_t)k->batch * 3 * k->size * k->size, ny = (size_t)k->batch * classes;
    double *xd = malloc(nx * sizeof *xd), *want = malloc(ny * sizeof *want);
    mt_real *xr = malloc(nx * sizeof *xr);
    int rc = -1;
    mt_tensor *x = NULL, *y = NULL;
    if (!xd || !want || !xr) {
        snprintf(why, len, "out of memory");
        goto done;
    }
    if (read_h5(ref, "x", xd, nx) != nx || read_h5(ref, yname, want, ny) != ny) {
        snprintf(why, len, "cannot read /x [%zu] and /%s [%zu] of %s", nx, yname, ny, ref);
        goto done;
    }
    for (size_t i = 0; i < nx; i++) xr[i] = (mt_real)xd[i];
    int shape[4] = {k->batch, 3, k->size, k->size};
    x = mt_tensor_from_host(mt_cpu(), 4, shape, xr);
    int prev = mt_set_grad_enabled(0);
    y = x ? mt_model_forward(m, x, 0) : NULL;
    mt_set_grad_enabled(prev);
    if (!y || mt_numel(y) != ny) {
        snprintf(why, len, "forward: %s", y ? "wrong output size" : mt_last_error());
        goto done;
    }
    double amax = 0, dmax = 0;
    size_t worst = 0;
    for (size_t i = 0; i < ny; i++) {
        double d = fabs((double)MT_DATA(y)[i] - want[i]);
        if (fabs(want[i]) > amax) amax = fabs(want[i]);
        if (d > dmax) dmax = d, worst = i;
    }
    *rel = amax > 0 ? dmax / amax : dmax;
    if (!(amax > 0) || !(*rel <= 1e-4)) {
        snprintf(why, len, "max |medtrain - twin| / max |twin| = %.3g > 1e-4 (logit %zu: %.9g vs %.9g; max |twin| %.4g)",
                 *rel, worst, (double)MT_DATA(y)[worst], want[worst], amax);
        goto done;
    }
    rc = 0;
done:
    mt_tensor_release(y);
    mt_tensor_release(x);
    free(xd);
    free(xr);
    free(want);
    return rc;
}

/* copies a reference dataset into a state tensor of the same size */
static int set_from_ref(mt_model *m, const char *ref, const char *dataset, const char *name)
{
    mt_tensor *t = state(m, name);
    if (!t) return -1;
    size_t n = mt_numel(t);
    double *v = malloc(n * sizeof *v);
    mt_real *r = malloc(n * sizeof *r);
    int ok = v && r && read_h5(ref, dataset, v, n) == n;
    for (size_t i = 0; ok && i < n; i++) r[i] = (mt_real)v[i];
    ok = ok && mt_tensor_from_host_into(t, r, n * sizeof *r) == MT_OK;
    free(v);
    free(r);
    return ok ? 0 : -1;
}

/* ----------------------------------------------------------- the tests --- */

/* full file -> classes 1000: every tensor, logits equal the twin's */
static void full_file(mt_test_ctx *T_, const knet *k)
{
    NEED_FIXTURE(k, dir);
    char file[1200], ref[1200], map[1024];
    join(dir, k->id, "_keras.h5", file, sizeof file);
    join(dir, k->id, "_ref.h5", ref, sizeof ref);
    mt_model *m = NULL;
    CHECK_OK(build(k, "1000", 0, &m));
    mt_weights_options opt = {MT_WEIGHTS_AUTO, mt_test_path(k->map, map, sizeof map), 0};
    mt_weights_report rep;
    mt_status st = mt_weights_load(m, file, &opt, &rep);
    if (st != MT_OK) {
        mt_weights_report_free(&rep);
        mt_model_free(m);
    }
    CHECK_OK(st);
    char bad[400] = "";
    for (int s = 0; s < 6 && !bad[0]; s++)
        if (!has_pair(rep.loaded, rep.n_loaded, k->spot[s].source, k->spot[s].target))
            snprintf(bad, sizeof bad, "'%s' was not loaded into %s", k->spot[s].source, k->spot[s].target);
    int fmt = rep.format, ns = rep.n_source, nl = rep.n_loaded, nmm = rep.n_mismatched, nmi = rep.n_missing,
        nu = rep.n_unexpected, nsk = rep.n_skipped;
    if (nmi || nu) mt_weights_report_print(stdout, &rep, file, 5, 0);
    mt_weights_report_free(&rep);
    double rel = 0;
    char why[600] = "";
    int cmp = bad[0] ? 0 : compare_logits(m, k, ref, "y_full", 1000, &rel, why, sizeof why);
    mt_model_free(m);
    CHECK(fmt == MT_WEIGHTS_KERAS_H5, "format %d, expected keras-h5", fmt);
    CHECK(ns == k->n_full && nl == k->n_full && nmm == 0 && nmi == 0 && nu == 0 && nsk == 0,
          "%s full file: %d in the file, %d loaded, %d mismatched, %d missing, %d unexpected, %d dropped; expected "
          "%d / %d / 0 / 0 / 0 / 0",
          k->id, ns, nl, nmm, nmi, nu, nsk, k->n_full, k->n_full);
    CHECK(!bad[0], "%s", bad);
    CHECK(cmp == 0, "%s full file, classes 1000: %s", k->id, why);
    printf("     %s full file -> classes 1000: %d loaded, 0 missing, 0 unexpected; logits max rel. difference %.2g\n",
           k->id, nl, rel);
}

/* notop file -> the study head: head missing and untouched, the rest loaded;
 * with the reference's head copied in, the logits equal the twin's. Then the
 * full file into the same head: strict error, or skipped as mismatched. */
static void notop_file(mt_test_ctx *T_, const knet *k)
{
    NEED_FIXTURE(k, dir);
    char file[1200], full[1200], ref[1200], map[1024];
    join(dir, k->id, "_keras_notop.h5", file, sizeof file);
    join(dir, k->id, "_keras.h5", full, sizeof full);
    join(dir, k->id, "_ref.h5", ref, sizeof ref);
    int classes = atoi(k->head);
    mt_model *m = NULL;
    CHECK_OK(build(k, k->head, 1, &m)); /* the head initialised as a study would build it */
    mt_tensor *hw = state(m, "predictions.weight");
    CHECK(hw && (int)mt_numel(hw) == classes * 1536, "no predictions.weight [%d, 1536]", classes);
    size_t nh = mt_numel(hw);
    mt_real *before = malloc(nh * sizeof *before);
    CHECK(before, "out of memory");
    memcpy(before, MT_DATA(hw), nh * sizeof *before);

    mt_weights_options opt = {MT_WEIGHTS_AUTO, mt_test_path(k->map, map, sizeof map), 0};
    mt_weights_report rep;
    mt_status st = mt_weights_load(m, file, &opt, &rep);
    int ns = rep.n_source, nl = rep.n_loaded, nmm = rep.n_mismatched, nmi = rep.n_missing, nu = rep.n_unexpected,
        nsk = rep.n_skipped;
    int head_missing = nmi == 2 && !strcmp(rep.missing[0].target, "predictions.weight") &&
                       !strcmp(rep.missing[1].target, "predictions.bias") && !rep.missing[0].source;
    if (st == MT_OK && (!head_missing || nu)) mt_weights_report_print(stdout, &rep, file, 5, 0);
    mt_weights_report_free(&rep);
    int untouched = st == MT_OK && !memcmp(before, MT_DATA(hw), nh * sizeof *before);
    free(before);
    if (st != MT_OK) mt_model_free(m);
    CHECK_OK(st);
    if (!head_missing || !untouched || ns != k->n_notop || nl != k->n_notop || nmm || nu || nsk) mt_model_free(m);
    CHECK(ns == k->n_notop && nl == k->n_notop && nmm == 0 && nu == 0 && nsk == 0,
          "%s notop file: %d in the file, %d loaded, %d mismatched, %d unexpected, %d dropped; expected %d / %d / 0 / 0 "
          "/ 0",
          k->id, ns, nl, nmm, nu, nsk, k->n_notop, k->n_notop);
    CHECK(head_missing, "%s notop file: %d missing; expected exactly predictions.weight, predictions.bias", k->id, nmi);
    CHECK(untouched, "%s notop file: the missing head was modified", k->id);

    /* the reference's new head, then the logits */
    int okw = set_from_ref(m, ref, "head_weight", "predictions.weight") == 0 &&
              set_from_ref(m, ref, "head_bias", "predictions.bias") == 0;
    double rel = 0;
    char why[600] = "";
    int cmp = okw ? compare_logits(m, k, ref, "y_head", classes, &rel, why, sizeof why) : -1;
    if (okw && cmp) mt_model_free(m);
    CHECK(okw, "cannot copy /head_weight, /head_bias of %s into the head", ref);
    CHECK(cmp == 0, "%s notop file, classes %s: %s", k->id, k->head, why);

    /* the full file into the study head: strict names the head and both shapes */
    st = mt_weights_load(m, full, &opt, &rep);
    mt_weights_report_free(&rep);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mt_last_error());
    if (st == MT_OK) mt_model_free(m);
    CHECK(st == MT_ERR_INVALID && strstr(msg, "predictions.weight") && strstr(msg, "1536"),
          "strict load of the 1000-class file into classes %s: status %d, '%s'", k->head, st, msg);
    /* skip_mismatched: the head left as it is, listed as mismatched, not missing */
    opt.skip_mismatched = 1;
    st = mt_weights_load(m, full, &opt, &rep);
    int fl = rep.n_loaded, fmm = rep.n_mismatched, fmi = rep.n_missing, fu = rep.n_unexpected;
    int mm_head = fmm == 2 && !strcmp(rep.mismatched[0].target, "predictions.weight") &&
                  !strcmp(rep.mismatched[1].target, "predictions.bias");
    mt_weights_report_free(&rep);
    mt_model_free(m);
    CHECK_OK(st);
    CHECK(fl == k->n_notop && mm_head && fmi == 0 && fu == 0,
          "skip_mismatched full file into classes %s: %d loaded, %d mismatched (head: %d), %d missing, %d unexpected",
          k->head, fl, fmm, mm_head, fmi, fu);
    printf("     %s notop file -> classes %s: %d loaded, missing predictions.weight + .bias, 0 unexpected; with the "
           "new head copied in, logits max rel. difference %.2g\n",
           k->id, k->head, nl, rel);
}

TEST(weights_keras_irv2_full_file_matches_twin) { full_file(T_, &IRV2); }
TEST(weights_keras_irv2_notop_file_into_s2_head) { notop_file(T_, &IRV2); }
TEST(weights_keras_effnet_full_file_matches_twin) { full_file(T_, &EFFNET); }
TEST(weights_keras_effnet_notop_file_into_s4_head) { notop_file(T_, &EFFNET); }

#endif
