/* tests/test_weights.c: pretrained weights (layers/weights.h).
 * PyTorch models with random weights are written by tests/weights_fixture.py
 * (run live with /usr/bin/python3) as a Keras-layout .h5 (HWIO, depthwise,
 * transposed and dense kernels, Keras names and a name map), a full-model .h5
 * with chunked layer_names, an auto-numbered Keras UNetBN (order-based map) and
 * safetensors with mixed dtypes written by an independent writer; medtrain
 * loads each into a freshly built model and its forward pass must equal
 * PyTorch's within 1e-5. Also: partial loading of a head with another class
 * count (strict error naming the tensor and both shapes / skipped), exact
 * missing and unexpected lists, corrupt safetensors files and map errors
 * (clear errors naming the file, no crash, model untouched), the safetensors
 * writer (bit-exact round trip; readable by numpy + json in Python and by
 * torch load_state_dict), `medtrain import-weights` and `model.init_from` in a
 * training run. Python-dependent tests skip only when python3/torch/h5py are
 * absent. */
#include <dirent.h>
#include <hdf5.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../configs/config.h"
#include "../core/autograd.h"
#include "../core/rng.h"
#include "../data/dataset.h"
#include "../train/checkpoint.h"
#include "../layers/weights.h"
#include "test.h"

/* ------------------------------------------------------------ helpers --- */

static const char *wt_tmp(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/test_weights", mt_test_tmpdir());
    mkdir(buf, 0700);
    snprintf(buf, len, "%s/test_weights/%s", mt_test_tmpdir(), name);
    return buf;
}


/* Directory of the Python fixtures (made once per run); NULL with *why set
 * when python3/torch/h5py are absent (skip) or the script failed (fail). */
static const char *fixtures(int *python_missing, char *why, size_t len)
{
    static char dir[1024];
    static int state; /* 0 not tried, 1 ok, 2 python missing, 3 failed */
    static char msg[1900];
    if (!state) {
        char cmd[3072], root[1024], out[4096];
        if (access("/usr/bin/python3", X_OK) != 0 ||
            mt_test_run("/usr/bin/python3 -c 'import torch, h5py, numpy'", out, sizeof out) != 0) {
            state = 2;
            snprintf(msg, sizeof msg, "skipped: /usr/bin/python3 with torch, h5py and numpy is not installed");
        } else {
            wt_tmp("fixtures", dir, sizeof dir);
            snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s make %s",
                     mt_test_path("tests/weights_fixture.py", root, sizeof root), dir);
            int rc = mt_test_run(cmd, out, sizeof out);
            state = rc == 0 ? 1 : 3;
            snprintf(msg, sizeof msg, "weights_fixture.py failed (exit %d): %.1200s\ncommand: %.500s", rc, out, cmd);
        }
    }
    *python_missing = state == 2;
    snprintf(why, len, "%s", msg);
    return state == 1 ? dir : NULL;
}

#define NEED_FIXTURES(dir)                                                  \
    char why_[1900];                                                        \
    int nopy_;                                                              \
    const char *dir = fixtures(&nopy_, why_, sizeof why_);                  \
    if (!dir && nopy_) SKIP(why_);                                          \
    CHECK(dir, "%s", why_)

static const char *fx(const char *dir, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}

/* reads a whole float dataset as doubles; returns the element count or 0 */
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

/* tests/data/weights_tiny.yaml with `classes`, initialised from `seed` */
static mt_status tiny(int classes, uint64_t seed, mt_model **m)
{
    char path[1024], c[16];
    snprintf(c, sizeof c, "%d", classes);
    mt_model_arg args[] = {{"classes", c}};
    return mt_model_load_yaml(mt_test_path("tests/data/weights_tiny.yaml", path, sizeof path), 1, args, mt_cpu(), seed, m);
}

static mt_status unet_bn(uint64_t seed, mt_model **m)
{
    char path[1024];
    mt_model_arg args[] = {{"base", "4"}, {"depth", "2"}};
    return mt_model_load_yaml(mt_test_path("configs/models/unet_bn.yaml", path, sizeof path), 2, args, mt_cpu(), seed, m);
}

/* eval forward of x (dataset `xname` of ref.h5, shape [n, c, h, w]) into out; returns numel or 0 */
static size_t forward_ref(mt_model *m, const char *ref, const char *xname, int n, int c, int h, int w, double *out,
                          size_t cap)
{
    size_t nx = (size_t)n * c * h * w;
    double *xd = malloc(nx * sizeof *xd);
    mt_real *xr = malloc(nx * sizeof *xr);
    size_t ny = 0;
    if (xd && xr && read_h5(ref, xname, xd, nx) == nx) {
        for (size_t i = 0; i < nx; i++) xr[i] = (mt_real)xd[i];
        int shape[4] = {n, c, h, w};
        mt_tensor *x = mt_tensor_from_host(mt_cpu(), 4, shape, xr);
        int prev = mt_set_grad_enabled(0);
        mt_tensor *y = mt_model_forward(m, x, 0);
        mt_set_grad_enabled(prev);
        if (y && mt_numel(y) <= cap) {
            ny = mt_numel(y);
            for (size_t i = 0; i < ny; i++) out[i] = MT_DATA(y)[i];
        }
        mt_tensor_release(x);
        mt_tensor_release(y);
    }
    free(xd);
    free(xr);
    return ny;
}

/* checks the tiny model's eval output on ref.h5 /x against PyTorch's /y */
static void check_tiny_forward(mt_test_ctx *T_, mt_model *m, const char *dir, const char *what)
{
    char ref[1200];
    double got[64], want[64];
    size_t n = forward_ref(m, fx(dir, "ref.h5", ref, sizeof ref), "x", 2, 2, 8, 8, got, 64);
    CHECK(n == 6, "%s: forward gave %zu values (want 2 x 3): %s", what, n, mt_last_error());
    CHECK(read_h5(ref, "y", want, 64) == 6, "reading /y of %s", ref);
    char why[512];
    CHECK(mt_test_close_d(got, want, n, 1e-5, 1e-6, why, sizeof why), "%s: forward differs from PyTorch: %s", what, why);
}

static int state_index(mt_model *m, const char *name)
{
    for (int i = 0; i < mt_model_state_count(m); i++)
        if (!strcmp(mt_model_state_name(m, i), name)) return i;
    return -1;
}

/* a copy of every state tensor's values (host), in state_dict order */
static mt_real *state_copy(mt_model *m, size_t *total)
{
    size_t n = 0;
    for (int i = 0; i < mt_model_state_count(m); i++) n += mt_numel(mt_model_state_tensor(m, i));
    mt_real *v = malloc(n * sizeof *v + 1), *p = v;
    for (int i = 0; v && i < mt_model_state_count(m); i++) {
        mt_tensor *t = mt_model_state_tensor(m, i);
        if (mt_tensor_to_host(t, p, mt_numel(t) * sizeof *p) != MT_OK) {
            free(v);
            return NULL;
        }
        p += mt_numel(t);
    }
    *total = n;
    return v;
}

/* names of report items joined with ',' (source or target names) */
static const char *joined(const mt_weights_item *v, int n, int source, char *buf, size_t len)
{
    size_t u = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && u < len; i++)
        u += (size_t)snprintf(buf + u, len - u, "%s%s", i ? "," : "", source ? v[i].source : v[i].target);
    return buf;
}

/* ------------------------------------------------------- Keras HDF5 --- */

TEST(weights_keras_h5_forward_matches_torch)
{
    NEED_FIXTURES(dir);
    mt_model *m = NULL;
    CHECK_OK(tiny(3, 11, &m));
    char file[1200], map[1024];
    mt_weights_options opt = {MT_WEIGHTS_AUTO, mt_test_path("tests/data/weights_tiny_keras_map.yaml", map, sizeof map), 0};
    mt_weights_report rep;
    mt_status st = mt_weights_load(m, fx(dir, "tiny_keras.h5", file, sizeof file), &opt, &rep);
    if (st != MT_OK) mt_model_free(m);
    CHECK_OK(st);
    char a[2048], b[2048];
    int counts_ok = rep.format == MT_WEIGHTS_KERAS_H5 && rep.n_source == 20 && rep.n_loaded == 17 &&
                    rep.n_missing == 0 && rep.n_unexpected == 0 && rep.n_mismatched == 0 && rep.n_skipped == 3;
    joined(rep.skipped, rep.n_skipped, 1, a, sizeof a);
    joined(rep.unexpected, rep.n_unexpected, 1, b, sizeof b);
    /* the depthwise kernel went through the raw-name rule with its Keras layout converted */
    int dw = -1;
    for (int i = 0; i < rep.n_loaded; i++)
        if (!strcmp(rep.loaded[i].target, "block1_dw.weight")) dw = i;
    int dw_ok = dw >= 0 && !strcmp(rep.loaded[dw].source, "block1_dwconv/depthwise_kernel:0") &&
                rep.loaded[dw].src_ndim == 4 && rep.loaded[dw].src_shape[0] == 8 && rep.loaded[dw].src_shape[1] == 1;
    mt_weights_report_free(&rep);
    if (counts_ok && dw_ok) check_tiny_forward(T_, m, dir, "tiny from Keras h5");
    mt_model_free(m);
    CHECK(counts_ok, "report: skipped [%s], unexpected [%s]", a, b);
    CHECK(!strcmp(a, "normalization/mean:0,normalization/variance:0,normalization/count:0"), "skipped: %s", a);
    CHECK(dw_ok, "block1_dw.weight not loaded from the depthwise kernel as [8, 1, 3, 3]");
}

/* /model_weights of a full-model file; layer_names0/1; variable-length UTF-8 names; float64 data */
TEST(weights_keras_full_model_h5_chunked_layer_names)
{
    NEED_FIXTURES(dir);
    mt_model *m = NULL;
    CHECK_OK(tiny(3, 12, &m));
    char file[1200], map[1024];
    mt_weights_options opt = {MT_WEIGHTS_AUTO, mt_test_path("tests/data/weights_tiny_keras_map.yaml", map, sizeof map), 0};
    mt_weights_report rep;
    mt_status st = mt_weights_load(m, fx(dir, "tiny_keras_full.h5", file, sizeof file), &opt, &rep);
    int loaded = rep.n_loaded;
    mt_weights_report_free(&rep);
    if (st == MT_OK && loaded == 17) check_tiny_forward(T_, m, dir, "tiny from /model_weights");
    mt_model_free(m);
    CHECK_OK(st);
    CHECK(loaded == 17, "loaded %d tensors from the full-model file, want 17", loaded);
}

/* The order-based map: conv2d_1..conv2d_11 (numeric, not lexicographic, order;
 * layer_names shuffled in the file), batch_normalization, _1, .. */
TEST(weights_order_map_unet_bn_forward_matches_torch)
{
    NEED_FIXTURES(dir);
    mt_model *m = NULL;
    CHECK_OK(unet_bn(5, &m));
    char file[1200], map[1024], ref[1200];
    mt_weights_options opt = {MT_WEIGHTS_AUTO, mt_test_path("tests/data/weights_unet_bn_order_map.yaml", map, sizeof map), 0};
    mt_weights_report rep;
    mt_status st = mt_weights_load(m, fx(dir, "unet_bn_keras.h5", file, sizeof file), &opt, &rep);
    int loaded = rep.n_loaded, missing = rep.n_missing, unexpected = rep.n_unexpected;
    mt_weights_report_free(&rep);
    static double got[256], want[256];
    size_t n = st == MT_OK ? forward_ref(m, fx(dir, "ref.h5", ref, sizeof ref), "x_unet", 1, 1, 16, 16, got, 256) : 0;
    mt_model_free(m);
    CHECK_OK(st);
    /* 11 convs + 2 transposed (weight + bias) + score bias + 10 BN x 4 */
    CHECK(loaded == 11 + 4 + 1 + 40 && missing == 0 && unexpected == 0, "loaded %d, missing %d, unexpected %d", loaded,
          missing, unexpected);
    CHECK(n == 256 && read_h5(ref, "y_unet", want, 256) == 256, "forward / reference sizes (%zu)", n);
    char why[512];
    CHECK(mt_test_close_d(got, want, n, 1e-5, 1e-6, why, sizeof why), "UNetBN forward differs from PyTorch: %s", why);
}

/* ------------------------------------------------------- safetensors --- */

TEST(weights_safetensors_mixed_dtypes_forward_matches_torch)
{
    NEED_FIXTURES(dir);
    mt_model *m = NULL;
    CHECK_OK(tiny(3, 13, &m));
    char file[1200];
    mt_weights_report rep;
    mt_status st = mt_weights_load(m, fx(dir, "tiny.safetensors", file, sizeof file), NULL, &rep);
    int fmt = rep.format, loaded = rep.n_loaded, missing = rep.n_missing, unexpected = rep.n_unexpected;
    mt_weights_report_free(&rep);
    mt_real counter = -1;
    int ci = state_index(m, "stem_bn.num_batches_tracked");
    if (st == MT_OK && ci >= 0) mt_tensor_to_host(mt_model_state_tensor(m, ci), &counter, sizeof counter);
    if (st == MT_OK) check_tiny_forward(T_, m, dir, "tiny from safetensors (F64, F32, F16, BF16)");
    mt_model_free(m);
    CHECK_OK(st);
    CHECK(fmt == MT_WEIGHTS_SAFETENSORS && loaded == 18 && missing == 0 && unexpected == 0,
          "format %d, loaded %d (want 18), missing %d, unexpected %d", fmt, loaded, missing, unexpected);
    CHECK(counter == 7, "stem_bn.num_batches_tracked (I64) loaded as %g, want 7", (double)counter);
}

TEST(weights_head_mismatch_strict_error_or_skipped)
{
    NEED_FIXTURES(dir);
    mt_model *m = NULL;
    CHECK_OK(tiny(4, 14, &m));
    size_t n0 = 0, n1 = 0;
    mt_real *before = state_copy(m, &n0);
    char file[1200];
    fx(dir, "tiny.safetensors", file, sizeof file);
    /* strict: an error naming the tensor and both shapes; nothing modified */
    mt_status st = mt_weights_load(m, file, NULL, NULL);
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", mt_last_error());
    mt_error_clear();
    mt_real *after = state_copy(m, &n1);
    int untouched = before && after && n0 == n1 && !memcmp(before, after, n0 * sizeof *before);
    free(after);
    /* skip_mismatched: head.weight / head.bias left as initialised, the rest loaded */
    mt_weights_options opt = {MT_WEIGHTS_AUTO, NULL, 1};
    mt_weights_report rep;
    mt_status st2 = mt_weights_load(m, file, &opt, &rep);
    char mis[512];
    joined(rep.mismatched, rep.n_mismatched, 0, mis, sizeof mis);
    int shapes_ok = rep.n_mismatched == 2 && rep.mismatched[0].src_ndim == 2 && rep.mismatched[0].src_shape[0] == 3 &&
                    rep.mismatched[0].src_shape[1] == 5 && rep.mismatched[0].dst_ndim == 2 &&
                    rep.mismatched[0].dst_shape[0] == 4 && rep.mismatched[0].dst_shape[1] == 5;
    int loaded = rep.n_loaded, missing = rep.n_missing;
    mt_weights_report_free(&rep);
    after = state_copy(m, &n1);
    int hi = state_index(m, "head.weight");
    size_t off = 0; /* head.weight's values unchanged, stem.weight's replaced */
    for (int i = 0; i < hi; i++) off += mt_numel(mt_model_state_tensor(m, i));
    int head_kept = after && hi >= 0 && !memcmp(before + off, after + off, 20 * sizeof *before);
    int stem_loaded = after && memcmp(before, after, 24 * sizeof *before) != 0;
    free(before);
    free(after);
    mt_model_free(m);
    CHECK(st == MT_ERR_INVALID, "strict load of a 3-class head into 4 classes returned %d", st);
    CHECK(strstr(msg, "head.weight") && strstr(msg, "[3, 5]") && strstr(msg, "[4, 5]") && strstr(msg, file),
          "error does not name the tensor, both shapes and the file: %s", msg);
    CHECK(untouched, "a failed strict load modified the model");
    CHECK_OK(st2);
    CHECK(!strcmp(mis, "head.weight,head.bias") && shapes_ok, "mismatched: [%s]", mis);
    CHECK(loaded == 16 && missing == 0, "loaded %d (want 16), missing %d", loaded, missing);
    CHECK(head_kept && stem_loaded, "head kept %d, stem loaded %d", head_kept, stem_loaded);
}

TEST(weights_missing_unexpected_lists_exact)
{
    NEED_FIXTURES(dir);
    mt_model *m = NULL;
    CHECK_OK(tiny(3, 15, &m));
    char file[1200], a[2048], b[2048], c[2048], d[2048];
    mt_weights_report rep;
    mt_status st = mt_weights_load(m, fx(dir, "tiny_partial.safetensors", file, sizeof file), NULL, &rep);
    joined(rep.missing, rep.n_missing, 0, a, sizeof a);
    joined(rep.unexpected, rep.n_unexpected, 1, b, sizeof b);
    int loaded = rep.n_loaded;
    mt_weights_report_free(&rep);
    /* a Keras file without a map: only block1_bn keeps its name; the rest is listed */
    mt_status st2 = mt_weights_load(m, fx(dir, "tiny_keras.h5", file, sizeof file), NULL, &rep);
    joined(rep.missing, rep.n_missing, 0, c, sizeof c);
    joined(rep.unexpected, rep.n_unexpected, 1, d, sizeof d);
    int loaded2 = rep.n_loaded;
    const char *mapped0 = rep.n_unexpected > 3 ? rep.unexpected[3].target : "";
    int mapped_ok = !strcmp(mapped0, "conv_stem.weight");
    mt_weights_report_free(&rep);
    mt_model_free(m);
    CHECK_OK(st);
    CHECK(loaded == 17, "loaded %d, want 17", loaded);
    CHECK(!strcmp(a, "head.weight"), "missing: [%s]", a);
    CHECK(!strcmp(b, "extra.weight"), "unexpected: [%s]", b);
    CHECK_OK(st2);
    CHECK(loaded2 == 4, "Keras without a map loaded %d, want 4 (block1_bn)", loaded2);
    CHECK(!strcmp(c, "stem.weight,stem_bn.weight,stem_bn.bias,block1_dw.weight,block1_dw.bias,up.weight,up.bias,"
                     "proj.weight,proj.bias,head.weight,head.bias,stem_bn.running_mean,stem_bn.running_var"),
          "missing: [%s]", c);
    CHECK(!strcmp(d, "normalization/mean:0,normalization/variance:0,normalization/count:0,conv_stem/kernel:0,"
                     "bn_stem/gamma:0,bn_stem/beta:0,bn_stem/moving_mean:0,bn_stem/moving_variance:0,"
                     "block1_dwconv/depthwise_kernel:0,block1_dwconv/bias:0,up_deconv/kernel:0,up_deconv/bias:0,"
                     "proj_conv/kernel:0,proj_conv/bias:0,predictions/kernel:0,predictions/bias:0"),
          "unexpected: [%s]", d);
    CHECK(mapped_ok, "default name of conv_stem/kernel:0 is '%s', want conv_stem.weight", mapped0);
}

/* A safetensors file from a header text and `data` bytes of data; hlen < 0:
 * the header's length, else that (lying) value. */
static const char *st_write(const char *name, const char *header, size_t data, long long hlen, char *buf, size_t len)
{
    wt_tmp(name, buf, len);
    FILE *f = fopen(buf, "wb");
    if (!f) return NULL;
    unsigned long long h = hlen < 0 ? strlen(header) : (unsigned long long)hlen;
    unsigned char l8[8];
    for (int i = 0; i < 8; i++) l8[i] = (unsigned char)(h >> (8 * i));
    fwrite(l8, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    for (size_t i = 0; i < data; i++) fputc((int)(i & 0xff), f);
    return fclose(f) == 0 ? buf : NULL;
}

static const char *write_text_bytes(const char *name, const char *bytes, size_t n, char *buf, size_t len)
{
    wt_tmp(name, buf, len);
    FILE *f = fopen(buf, "wb");
    if (!f) return NULL;
    fwrite(bytes, 1, n, f);
    return fclose(f) == 0 ? buf : NULL;
}

TEST(weights_corrupt_safetensors_clear_errors)
{
    mt_model *m = NULL;
    CHECK_OK(tiny(3, 16, &m));
    size_t n0 = 0, n1 = 0;
    mt_real *before = state_copy(m, &n0);
    static const struct {
        const char *name, *header;
        size_t data;
        long long hlen;
        const char *expect;
    } cases[] = {
        {"hugelen.safetensors", "{}", 16, 1LL << 62, "exceeds"},
        {"cut_header.safetensors", "{\"stem.weight\": {\"dtype\": \"F32\", \"shape\": [4, 2, 3, 2], \"data_offsets\": [0, 192]}}",
         0, 200, "exceeds"},
        {"truncated.safetensors", "{\"stem.weight\": {\"dtype\": \"F32\", \"shape\": [4, 2, 3, 2], \"data_offsets\": [0, 192]}}",
         100, -1, "out of range"},
        {"offsets.safetensors", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 1000]}}", 24, -1,
         "out of range"},
        {"reversed.safetensors", "{\"a\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [20, 4]}}", 24, -1,
         "out of range"},
        {"dtype_size.safetensors", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 12]}}", 24, -1,
         "span 12 bytes"},
        {"bad_json.safetensors", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], ", 24, -1, "not valid JSON"},
        {"trailing.safetensors", "{} x", 0, -1, "after the JSON"},
        {"not_object.safetensors", "[1, 2]", 0, -1, "not a JSON object"},
        {"overlap.safetensors",
         "{\"a\": {\"dtype\": \"F32\", \"shape\": [6], \"data_offsets\": [0, 24]}, \"b\": {\"dtype\": \"F32\", \"shape\": [3], "
         "\"data_offsets\": [12, 24]}}", 24, -1, "overlap"},
        {"dtype.safetensors", "{\"a\": {\"dtype\": \"F99\", \"shape\": [6], \"data_offsets\": [0, 24]}}", 24, -1,
         "unknown dtype"},
        {"neg_shape.safetensors", "{\"a\": {\"dtype\": \"F32\", \"shape\": [-2, 3], \"data_offsets\": [0, 24]}}", 24, -1,
         "shape entry 0"},
        {"frac_offset.safetensors", "{\"a\": {\"dtype\": \"F32\", \"shape\": [6], \"data_offsets\": [0.5, 24]}}", 24, -1,
         "data_offsets"},
        {"dup.safetensors",
         "{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 12]}, \"a\": {\"dtype\": \"F32\", \"shape\": [3], "
         "\"data_offsets\": [12, 24]}}", 24, -1, "appears twice"},
        {"no_dtype.safetensors", "{\"a\": {\"shape\": [6], \"data_offsets\": [0, 24]}}", 24, -1, "lacks a string dtype"},
        {"meta.safetensors", "{\"__metadata__\": {\"k\": 3}}", 0, -1, "not a string"},
        {"many_dims.safetensors", "{\"a\": {\"dtype\": \"U8\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 1]}}",
         1, -1, "dimensions"},
        /* well-formed, but an integer tensor into a weight */
        {"int_weight.safetensors", "{\"stem.weight\": {\"dtype\": \"I64\", \"shape\": [4, 2, 3, 2], \"data_offsets\": [0, 384]}}",
         384, -1, "dtype I64"},
        /* well-formed, but nothing in it belongs to the model */
        {"unrelated.safetensors", "{\"x.weight\": {\"dtype\": \"F32\", \"shape\": [6], \"data_offsets\": [0, 24]}}", 24, -1,
         "no tensor matches"},
    };
    int n = (int)(sizeof cases / sizeof *cases);
    for (int k = 0; k < n && !T_->failed; k++) {
        char path[1200];
        CHECK(st_write(cases[k].name, cases[k].header, cases[k].data, cases[k].hlen, path, sizeof path), "write %s",
              cases[k].name);
        mt_weights_report rep;
        mt_status st = mt_weights_load(m, path, NULL, &rep);
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", mt_last_error());
        mt_error_clear();
        int empty = rep.n_loaded == 0 && rep.loaded == NULL;
        mt_weights_report_free(&rep);
        CHECK(st != MT_OK, "%s: loaded without error", cases[k].name);
        CHECK(strstr(msg, path) && strstr(msg, cases[k].expect), "%s: error does not name the file and '%s': %s",
              cases[k].name, cases[k].expect, msg);
        CHECK(empty, "%s: report not empty after an error", cases[k].name);
    }
    /* shorter than the length field */
    char path[1200];
    CHECK(write_text_bytes("short.safetensors", "\x02\0\0\0{", 5, path, sizeof path), "write short.safetensors");
    CHECK(mt_weights_load(m, path, NULL, NULL) == MT_ERR_FORMAT && strstr(mt_last_error(), "too short") &&
              strstr(mt_last_error(), path),
          "short: %s", mt_last_error());
    mt_error_clear();
    /* a NUL inside the header */
    CHECK(write_text_bytes("nul.safetensors", "\x04\0\0\0\0\0\0\0{\0}\n", 12, path, sizeof path), "write nul");
    CHECK(mt_weights_load(m, path, NULL, NULL) == MT_ERR_FORMAT && strstr(mt_last_error(), "NUL"), "NUL: %s",
          mt_last_error());
    mt_error_clear();
    /* a PyTorch pickle and an unknown file are named as such */
    CHECK(write_text_bytes("model.pt", "PK\003\004rest of a zip", 18, path, sizeof path), "write model.pt");
    CHECK(mt_weights_load(m, path, NULL, NULL) == MT_ERR_UNSUPPORTED && strstr(mt_last_error(), "pickle"), "pt: %s",
          mt_last_error());
    mt_error_clear();
    mt_real *after = state_copy(m, &n1);
    int untouched = before && after && n0 == n1 && !memcmp(before, after, n0 * sizeof *before);
    free(before);
    free(after);
    mt_model_free(m);
    CHECK(untouched, "a failed load modified the model");
}

/* ---------------------------------------------------------- map errors --- */

static const char *write_text(const char *name, const char *text, char *buf, size_t len)
{
    wt_tmp(name, buf, len);
    FILE *f = fopen(buf, "w");
    if (!f) return NULL;
    fputs(text, f);
    return fclose(f) == 0 ? buf : NULL;
}

TEST(weights_map_errors_name_file_line)
{
    mt_model *m = NULL;
    CHECK_OK(tiny(3, 17, &m));
    char st_path[1200];
    wt_tmp("self.safetensors", st_path, sizeof st_path);
    mt_status s0 = mt_safetensors_save(st_path, m, 0, NULL, NULL);
    if (s0 != MT_OK) mt_model_free(m);
    CHECK_OK(s0);
    static const struct {
        const char *text;
        int line; /* of the map file named in the error; 0: the error names the weights file */
        const char *expect;
    } cases[] = {
        {"rules:\n  - {from: \"^a(\", to: b}\n", 2, "weights map: ^a(: invalid regular expression"},
        {"rulez: []\n", 1, "weights map: unknown key 'rulez'"},
        {"rules:\n  - {from: \"^a([0-9])$\", to: \"x\\\\2\"}\n", 2, "uses \\2 but the pattern has 1 group"},
        {"rules:\n  - {from: \"a\", to: \"x\\\\.y\"}\n", 2, "only \\0..\\9 and \\\\ are escapes"},
        {"skip: [\"^a\\\\d+\"]\n", 1, "\\d is not POSIX; write [0-9]"},
        {"rules:\n  - {from: a}\n", 2, "needs both 'from' and 'to'"},
        {"rules:\n  - {from: a, to: b, layout: sideways}\n", 2, "layout 'sideways': expected one of auto"},
        {"rules:\n  - {from: a, to: b, lay: none}\n", 2, "unknown key 'lay' in a rules entry"},
        {"skip: \"^a\"\n", 1, "'skip' must be a list"},
        {"order:\n  - {from: \"\\\\.weight$\", to: \"^stem\\\\.weight$\"}\n", 2,
         "weights map order rule: 7 tensors of"},
        {"rules:\n  - {from: \"^stem_bn\\\\.weight$\", to: stem_bn.bias}\n", 0,
         "both 'stem_bn.weight' and 'stem_bn.bias' map to the model tensor 'stem_bn.bias'"},
        {"rules:\n  - {from: \"^head\\\\.bias$\", to: head.bias, layout: depthwise}\n", 0,
         "the Keras depthwise layout does not apply to shape [3]"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases && !T_->failed; k++) {
        char name[32], path[1200];
        snprintf(name, sizeof name, "map%zu.yaml", k);
        CHECK(write_text(name, cases[k].text, path, sizeof path), "write %s", name);
        mt_weights_options opt = {MT_WEIGHTS_AUTO, path, 0};
        mt_status st = mt_weights_load(m, st_path, &opt, NULL);
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", mt_last_error());
        mt_error_clear();
        CHECK(st == MT_ERR_INVALID, "map %zu: status %d (%s)", k, st, msg);
        CHECK(strstr(msg, cases[k].expect), "map %zu: want '%s' in: %s", k, cases[k].expect, msg);
        char at[1300];
        snprintf(at, sizeof at, "%s:%d:", path, cases[k].line);
        CHECK(cases[k].line ? strstr(msg, at) != NULL : strstr(msg, st_path) != NULL,
              "map %zu: error does not name %s: %s", k, cases[k].line ? at : st_path, msg);
    }
    /* the same file with an identity map loads */
    char path[1200];
    CHECK(write_text("ok.yaml", "description: identity\nrules:\n  - {from: \"^(.*)$\", to: \"\\\\1\"}\n", path, sizeof path),
          "write ok.yaml");
    mt_weights_options opt = {MT_WEIGHTS_AUTO, path, 0};
    mt_weights_report rep;
    mt_status st = mt_weights_load(m, st_path, &opt, &rep);
    int loaded = rep.n_loaded;
    mt_weights_report_free(&rep);
    mt_model_free(m);
    CHECK_OK(st);
    CHECK(loaded == 19, "identity map loaded %d of 19", loaded);
}

/* ---------------------------------------------------------- writer --- */

/* a model whose BN counters are not 0: one training forward */
static mt_status tiny_trained_once(uint64_t seed, mt_model **m)
{
    MT_TRY(tiny(3, seed, m));
    int shape[4] = {2, 2, 8, 8};
    mt_real x[256];
    for (int i = 0; i < 256; i++) x[i] = (mt_real)mt_philox_uniform(9, (uint64_t)i) - 0.5f;
    mt_tensor *t = mt_tensor_from_host(mt_cpu(), 4, shape, x);
    int prev = mt_set_grad_enabled(0);
    mt_tensor *y = mt_model_forward(*m, t, 1);
    mt_set_grad_enabled(prev);
    mt_status st = y ? MT_OK : mt_last_status();
    mt_tensor_release(t);
    mt_tensor_release(y);
    return st;
}

TEST(weights_safetensors_writer_round_trip_bit_exact)
{
    mt_model *a = NULL, *b = NULL;
    CHECK_OK(tiny_trained_once(21, &a));
    CHECK_OK(tiny(3, 22, &b));
    char path[1200];
    wt_tmp("round.safetensors", path, sizeof path);
    const char *keys[] = {"format", "note"}, *values[] = {"pt", "quote \" and \\ survive"};
    mt_status st = mt_safetensors_save(path, a, 2, keys, values);
    mt_weights_options opt = {MT_WEIGHTS_SAFETENSORS, NULL, 0};
    mt_weights_report rep;
    memset(&rep, 0, sizeof rep);
    if (st == MT_OK) st = mt_weights_load(b, path, &opt, &rep);
    int loaded = rep.n_loaded;
    mt_weights_report_free(&rep);
    size_t na = 0, nb = 0;
    mt_real *va = state_copy(a, &na), *vb = state_copy(b, &nb);
    int same = va && vb && na == nb && !memcmp(va, vb, na * sizeof *va);
    int ci = state_index(a, "stem_bn.num_batches_tracked");
    mt_real counter = -1;
    if (ci >= 0) mt_tensor_to_host(mt_model_state_tensor(b, ci), &counter, sizeof counter);
    free(va);
    free(vb);
    mt_model_free(a);
    mt_model_free(b);
    CHECK_OK(st);
    CHECK(loaded == 19, "loaded %d of 19", loaded);
    CHECK(same, "state after the round trip differs from the saved model");
    CHECK(counter == 1, "num_batches_tracked round trip gave %g, want 1", (double)counter);
    /* written atomically: no temporary file left beside it */
    char dir[1200];
    wt_tmp("", dir, sizeof dir);
    DIR *d = opendir(dir);
    CHECK(d, "opendir %s", dir);
    int tmp_left = 0;
    for (struct dirent *e; (e = readdir(d));) tmp_left += strstr(e->d_name, "round.safetensors.tmp") != NULL;
    closedir(d);
    CHECK(!tmp_left, "a temporary file was left next to %s", path);
    /* an unwritable destination fails cleanly, naming it */
    mt_model *c = NULL;
    CHECK_OK(tiny(3, 23, &c));
    st = mt_safetensors_save("/nonexistent-dir/x.safetensors", c, 0, NULL, NULL);
    mt_model_free(c);
    CHECK(st == MT_ERR_IO && strstr(mt_last_error(), "/nonexistent-dir/x.safetensors"), "unwritable: %s",
          mt_last_error());
    mt_error_clear();
}

TEST(weights_safetensors_writer_readable_by_numpy_and_torch)
{
    NEED_FIXTURES(dir);
    (void)dir;
    mt_model *m = NULL;
    CHECK_OK(tiny_trained_once(31, &m));
    char st_path[1200], ck[1200], root[1024], cmd[4096], out[4096];
    wt_tmp("numpy.safetensors", st_path, sizeof st_path);
    wt_tmp("numpy_ref.h5", ck, sizeof ck);
    const char *keys[] = {"format", "note"}, *values[] = {"pt", "round trip"};
    mt_status st = mt_safetensors_save(st_path, m, 2, keys, values);
    if (st == MT_OK) st = mt_checkpoint_save(ck, m, NULL, NULL, NULL);
    mt_model_free(m);
    CHECK_OK(st);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s check-safetensors %s %s",
             mt_test_path("tests/weights_fixture.py", root, sizeof root), st_path, ck);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "ok"), "independent reader failed (exit %d): %s", rc, out);
}

/* ------------------------------------------------------ CLI and config --- */


TEST(weights_import_weights_cli_writes_usable_checkpoint)
{
    NEED_FIXTURES(dir);
    const char *bin = mt_test_medtrain();
    if (!bin) SKIP("skipped: medtrain CLI not built next to run_tests (make test builds it)");
    char graph[1024], map[1024], keras[1200], ck[1200], ck5[1200], cmd[8192], out[16384];
    mt_test_path("tests/data/weights_tiny.yaml", graph, sizeof graph);
    mt_test_path("tests/data/weights_tiny_keras_map.yaml", map, sizeof map);
    fx(dir, "tiny_keras.h5", keras, sizeof keras);
    wt_tmp("imported.h5", ck, sizeof ck);
    snprintf(cmd, sizeof cmd, "%s import-weights %s %s --map %s --output %s", bin, graph, keras, map, ck);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "loaded 17 tensors from keras-h5") && strstr(out, "3 dropped by the map") &&
              strstr(out, "wrote"),
          "import-weights (exit %d):\n%s", rc, out);
    /* the checkpoint restores exactly (strict checkpoint loader) and computes PyTorch's output */
    mt_model *m = NULL;
    CHECK_OK(tiny(3, 41, &m));
    mt_status st = mt_checkpoint_load(ck, m, NULL, NULL, NULL);
    if (st == MT_OK) check_tiny_forward(T_, m, dir, "checkpoint from import-weights");
    mt_model_free(m);
    CHECK_OK(st);
    /* 5 classes: an error naming the head, or skipped and listed with --skip-mismatched */
    wt_tmp("imported5.h5", ck5, sizeof ck5);
    snprintf(cmd, sizeof cmd, "%s import-weights %s %s --map %s --set-param classes=5 --output %s", bin, graph, keras,
             map, ck5);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 1 && strstr(out, "head.weight") && strstr(out, "[5, 5]") && access(ck5, F_OK) != 0,
          "strict import into 5 classes (exit %d):\n%s", rc, out);
    snprintf(cmd, sizeof cmd, "%s import-weights %s %s --map %s --set-param classes=5 --skip-mismatched --output %s",
             bin, graph, keras, map, ck5);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "2 skipped (shape)") && strstr(out, "head.weight: model [5, 5], file [3, 5]") &&
              access(ck5, F_OK) == 0,
          "--skip-mismatched import (exit %d):\n%s", rc, out);
    snprintf(cmd, sizeof cmd, "%s import-weights --help", bin);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "--skip-mismatched") && strstr(out, "--map"), "--help (exit %d):\n%s", rc, out);
    snprintf(cmd, sizeof cmd, "%s import-weights %s %s", bin, graph, keras);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 2 && strstr(out, "--output is required"), "missing --output (exit %d):\n%s", rc, out);
}

/* a tiny CT-like dataset (disc = mask), as tests/test_cli.c */
static int make_dataset(const char *path, int n, int size)
{
    mt_dataset_spec spec = {1, size, size, 1, 0, "test_weights synthetic", "none"};
    mt_dataset_writer *w = NULL;
    if (mt_dataset_writer_open(path, &spec, &w) != MT_OK) return 0;
    if (mt_dataset_writer_set_split_by_sample(w, 1) != MT_OK) return 0;
    float *img = malloc(sizeof(float) * size * size);
    uint8_t *msk = malloc((size_t)size * size);
    int ok = img && msk;
    for (int i = 0; ok && i < n; i++) {
        float c = size * (0.3f + 0.4f * mt_philox_uniform(31, (uint64_t)i)), r = size * 0.2f;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                int in = (x - c) * (x - c) + (y - c) * (y - c) < r * r;
                img[y * size + x] = in ? 50.f : -100.f;
                msk[y * size + x] = (uint8_t)in;
            }
        mt_sample s;
        mt_sample_init(&s);
        s.c = 1, s.h = size, s.w = size, s.k = 1;
        s.image = img, s.mask = msk;
        snprintf(s.meta.source, sizeof s.meta.source, "synthetic-%d", i);
        snprintf(s.meta.patient_id, sizeof s.meta.patient_id, "p0");
        ok = mt_dataset_writer_add(w, &s) == MT_OK;
    }
    free(img);
    free(msk);
    return mt_test_dataset_close(w, ok, 0.25, 0.25);
}

/* model.init_from / init_map / init_strict: parsed and resolved by the config;
 * a training run (lr 0) starts from, and keeps, the loaded parameters. */
TEST(weights_config_init_from_applied_by_train)
{
    const char *bin = mt_test_medtrain();
    if (!bin) SKIP("skipped: medtrain CLI not built next to run_tests (make test builds it)");
    char ds[1200], init[1200], init_abs[PATH_MAX], cfg[1200], graph_rel[1024], graph[PATH_MAX], run[1200], last[1400],
        cmd[8192], out[16384];
    CHECK(make_dataset(wt_tmp("ds.h5", ds, sizeof ds), 8, 16), "dataset: %s", mt_last_error());
    CHECK(realpath(mt_test_path("configs/models/unet_bn.yaml", graph_rel, sizeof graph_rel), graph), "unet_bn.yaml");
    mt_model_arg args[] = {{"base", "2"}, {"depth", "1"}};
    mt_model *src = NULL;
    CHECK_OK(mt_model_load_yaml(graph, 2, args, mt_cpu(), 77, &src));
    mt_status st = mt_safetensors_save(wt_tmp("init.safetensors", init, sizeof init), src, 0, NULL, NULL);
    if (st != MT_OK) mt_model_free(src);
    CHECK_OK(st);
    FILE *f = fopen(wt_tmp("init_run.yaml", cfg, sizeof cfg), "w");
    CHECK(f, "write %s", cfg);
    fprintf(f,
            "model:\n  graph: %s\n  params: {base: 2, depth: 1}\n  init_from: init.safetensors\n  init_strict: false\n"
            "data:\n  dataset: ds.h5\n  normalize: window\n  window: [-200, 200]\n  num_workers: 1\n"
            "optimizer: {kind: sgd, lr: 0}\n"
            "train: {epochs: 1, batch_size: 2, seed: 1, device: cpu}\n",
            graph);
    fclose(f);
    /* the config resolves the path next to the config file */
    mt_experiment e;
    st = mt_experiment_load(cfg, 0, NULL, &e);
    int cfg_ok = st == MT_OK && realpath(init, init_abs) && !strcmp(e.model.init_from, init_abs) &&
                 !e.model.init_map[0] && e.model.init_strict == 0;
    if (st == MT_OK) mt_experiment_free(&e);
    if (st != MT_OK || !cfg_ok) mt_model_free(src);
    CHECK_OK(st);
    CHECK(cfg_ok, "model.init_from / init_map / init_strict not resolved as expected");
    /* a missing file is no config error (evaluate / predict / --resume of a run do not need it) ... */
    const char *sets[] = {"model.init_from=/nonexistent/w.safetensors"};
    st = mt_experiment_load(cfg, 1, sets, &e);
    cfg_ok = st == MT_OK && !strcmp(e.model.init_from, "/nonexistent/w.safetensors");
    if (st == MT_OK) mt_experiment_free(&e);
    if (!cfg_ok) mt_model_free(src);
    CHECK(cfg_ok, "init_from of a missing file: %s", mt_last_error());
    /* ... but a fresh run stops before training, naming the key and the file */
    snprintf(run, sizeof run, "%s/test_weights/init_run_missing", mt_test_tmpdir());
    snprintf(cmd, sizeof cmd, "%s train %s --set model.init_from=/nonexistent/w.safetensors --device cpu --out %s", bin,
             cfg, run);
    int rc = mt_test_run(cmd, out, sizeof out);
    if (rc != 1) mt_model_free(src);
    CHECK(rc == 1 && strstr(out, "model.init_from") && strstr(out, "'/nonexistent/w.safetensors': cannot open") &&
              access(run, F_OK) != 0,
          "train with a missing init_from (exit %d):\n%s", rc, out);
    /* train: the run prints the report and (lr 0) ends with the loaded parameters */
    snprintf(run, sizeof run, "%s/test_weights/init_run", mt_test_tmpdir());
    snprintf(cmd, sizeof cmd, "%s train %s --device cpu --out %s", bin, cfg, run);
    rc = mt_test_run(cmd, out, sizeof out);
    if (rc != 0) mt_model_free(src);
    CHECK(rc == 0 && strstr(out, "loaded 40 tensors from safetensors"), "train with init_from (exit %d):\n%s", rc, out);
    mt_model *trained = NULL;
    st = mt_model_load_yaml(graph, 2, args, mt_cpu(), 78, &trained);
    snprintf(last, sizeof last, "%s/last.h5", run);
    if (st == MT_OK) st = mt_checkpoint_load(last, trained, NULL, NULL, NULL);
    int same = st == MT_OK;
    for (int i = 0; same && i < mt_model_state_count(src); i++) {
        if (!mt_model_state_is_param(src, i)) continue; /* BN statistics move in training */
        mt_tensor *a = mt_model_state_tensor(src, i), *b = mt_model_state_tensor(trained, i);
        same = mt_numel(a) == mt_numel(b) && !memcmp(MT_DATA(a), MT_DATA(b), mt_nbytes(a));
    }
    mt_model_free(src);
    if (trained) mt_model_free(trained);
    CHECK_OK(st);
    CHECK(same, "the run's parameters are not the init_from weights");
    /* import-weights takes the run directory (its config.yaml: graph and params) */
    char ck[1200];
    snprintf(cmd, sizeof cmd, "%s import-weights %s %s --output %s", bin, run, init, wt_tmp("from_run.h5", ck, sizeof ck));
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "loaded 40 tensors") && access(ck, F_OK) == 0, "import-weights RUN_DIR (exit %d):\n%s",
          rc, out);
}

/* init_net: the second network of a multi-network checkpoint (/nets/D/state_dict, as a G-D
 * run's best.h5 stores its discriminator) loads bit-exactly into a model of its graph;
 * network 0 stays the default; a network the file lacks is an error naming the group. */
TEST(weights_checkpoint_net_selects_nets_group)
{
    mt_model *g = NULL, *d = NULL, *dst = NULL;
    CHECK_OK(tiny(3, 21, &g));
    CHECK_OK(tiny(5, 22, &d));
    CHECK_OK(tiny(5, 23, &dst));
    char file[1200];
    snprintf(file, sizeof file, "%s/two_nets.h5", mt_test_tmpdir());
    mt_checkpoint_net nets[2] = {{"model", g, NULL, NULL}, {"D", d, NULL, NULL}};
    mt_checkpoint_info info = {0};
    CHECK_OK(mt_checkpoint_save_nets(file, 2, nets, &info));
    mt_weights_options opt = {MT_WEIGHTS_AUTO, NULL, 0, "D"};
    CHECK_OK(mt_weights_load(dst, file, &opt, NULL));
    size_t n1 = 0, n2 = 0;
    mt_real *want = state_copy(d, &n1), *got = state_copy(dst, &n2);
    CHECK(want && got && n1 == n2 && n1 > 0, "state sizes %zu and %zu", n1, n2);
    CHECK(!memcmp(want, got, n1 * sizeof *want), "D's weights differ after loading /nets/D");
    free(want);
    free(got);
    /* without a name: network 0, whose head has 3 classes, not 5: a strict shape error */
    CHECK(mt_weights_load(dst, file, NULL, NULL) != MT_OK, "network 0 (3 classes) loaded into a 5-class model");
    mt_error_clear();
    opt.checkpoint_net = "X";
    CHECK(mt_weights_load(dst, file, &opt, NULL) != MT_OK, "a missing network was accepted");
    CHECK(strstr(mt_last_error(), "/nets/X/state_dict") != NULL, "message: %s", mt_last_error());
    mt_error_clear();
    mt_model_free(g);
    mt_model_free(d);
    mt_model_free(dst);
}
