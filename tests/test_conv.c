/* tests/test_conv.c: conv2d, conv_transpose2d and linear against PyTorch
 * (tests/fixtures/conv.h5, written by tests/fixtures/gen_conv.py): forward
 * output and the gradients of x, w and b for loss = sum(y * gy), on awkward
 * shapes (odd sizes, stride 2 on even and odd inputs, TF-"same" asymmetric
 * padding, dilation, groups, depthwise, no bias, 1x1, batch 1 and 7,
 * output_padding). Tolerance: |a - ref| <= 1e-5 |ref| + 1e-5 max|ref|.
 * They run again with tiny column blocks (multi-block paths) and one thread.
 * The same cases run on cuda:0 (cuDNN / cuBLAS) when a GPU is present. */
#include "../core/device.h"
#include "../core/ops.h"
#include "../core/ops/dnnl.h"
#include "../core/ops/gemm.h"
#include "../core/ops/winograd.h"
#include "fixture.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define CONV_H5 "tests/fixtures/conv.h5"

typedef enum { OP_CONV2D, OP_CONVT, OP_LINEAR } op_kind;

static const char *op_group(op_kind k)
{
    return k == OP_CONV2D ? "conv2d" : k == OP_CONVT ? "conv_transpose2d" : "linear";
}

/* Compares CPU tensor `got` with fixture dataset `<case>/<name>`. */
static void check_against(mt_test_ctx *T_, const char *path, const char *name, const mt_tensor *got, double rtol)
{
    char ds[256];
    snprintf(ds, sizeof ds, "%s/%s", path, name);
    mt_tensor *ref = fx_load(CONV_H5, ds);
    CHECK_NOTNULL(ref);
    CHECK_NOTNULL(got);
    CHECK(mt_same_shape(ref, got), "%s: shape mismatch", ds);
    char why[512];
    int ok = mt_test_close_f(MT_DATA(got), MT_DATA(ref), mt_numel(ref), rtol, rtol * mt_test_max_abs(ref), why, sizeof why);
    mt_tensor_release(ref);
    CHECK(ok, "%s: %s", ds, why);
}

static mt_tensor *on(mt_tensor *t, mt_device dev)
{
    if (!t || dev.type == MT_CPU) return t;
    mt_tensor *d = mt_tensor_to(t, dev);
    mt_tensor_release(t);
    return d;
}

static mt_tensor *to_cpu(const mt_tensor *t)
{
    return t ? mt_tensor_to(t, mt_cpu()) : NULL;
}

/* Runs one fixture case of op `k` on `dev` and checks y, gx, gw, gb. */
static void run_case(mt_test_ctx *T_, op_kind k, const char *name, mt_device dev, double rtol)
{
    char path[160], ds[224];
    snprintf(path, sizeof path, "%s/%s", op_group(k), name);
    CHECK(fx_exists(CONV_H5, path), "fixture %s missing in %s (run tests/fixtures/gen_conv.py)", path, CONV_H5);
    snprintf(ds, sizeof ds, "%s/x", path);
    mt_tensor *x = on(fx_load(CONV_H5, ds), dev);
    snprintf(ds, sizeof ds, "%s/w", path);
    mt_tensor *w = on(fx_load(CONV_H5, ds), dev);
    snprintf(ds, sizeof ds, "%s/gy", path);
    mt_tensor *gy = on(fx_load(CONV_H5, ds), dev);
    snprintf(ds, sizeof ds, "%s/b", path);
    int has_b = fx_exists(CONV_H5, ds);
    mt_tensor *b = has_b ? on(fx_load(CONV_H5, ds), dev) : NULL;
    CHECK_NOTNULL(x);
    CHECK_NOTNULL(w);
    CHECK_NOTNULL(gy);
    CHECK(!has_b || b, "loading bias: %s", mt_last_error());
    mt_requires_grad(x, 1);
    mt_requires_grad(w, 1);
    if (b) mt_requires_grad(b, 1);

    int stride[2] = {1, 1}, pad[4] = {0, 0, 0, 0}, dil[2] = {1, 1}, groups = 1, out_pad[2] = {0, 0};
    if (k != OP_LINEAR) {
        CHECK(fx_attr_ints(CONV_H5, path, "stride", stride, 2) == 2 && fx_attr_ints(CONV_H5, path, "pad", pad, 4) == 4 &&
                  fx_attr_ints(CONV_H5, path, "dil", dil, 2) == 2 &&
                  fx_attr_ints(CONV_H5, path, "groups", &groups, 1) == 1 &&
                  fx_attr_ints(CONV_H5, path, "out_pad", out_pad, 2) == 2,
              "%s: attributes missing: %s", path, mt_last_error());
    }
    mt_tensor *y = NULL;
    if (k == OP_CONV2D) {
        mt_conv2d_params p = mt_conv2d_default();
        p.stride_h = stride[0], p.stride_w = stride[1];
        p.pad_top = pad[0], p.pad_bottom = pad[1], p.pad_left = pad[2], p.pad_right = pad[3];
        p.dil_h = dil[0], p.dil_w = dil[1];
        p.groups = groups;
        y = mt_conv2d(x, w, b, p);
    } else if (k == OP_CONVT) {
        mt_conv_transpose2d_params p = mt_conv_transpose2d_default();
        p.stride_h = stride[0], p.stride_w = stride[1];
        p.pad_top = pad[0], p.pad_bottom = pad[1], p.pad_left = pad[2], p.pad_right = pad[3];
        p.out_pad_h = out_pad[0], p.out_pad_w = out_pad[1];
        p.dil_h = dil[0], p.dil_w = dil[1];
        p.groups = groups;
        y = mt_conv_transpose2d(x, w, b, p);
    } else {
        y = mt_linear(x, w, b);
    }
    CHECK_NOTNULL(y);
    CHECK_OK(mt_backward(y, gy, 0));
    mt_tensor *yc = to_cpu(y), *gx = to_cpu(x->grad), *gw = to_cpu(w->grad), *gb = b ? to_cpu(b->grad) : NULL;
    check_against(T_, path, "y", yc, rtol);
    if (!T_->failed) check_against(T_, path, "gx", gx, rtol);
    if (!T_->failed) check_against(T_, path, "gw", gw, rtol);
    if (!T_->failed && b) check_against(T_, path, "gb", gb, rtol);
    mt_tensor_release(yc), mt_tensor_release(gx), mt_tensor_release(gw), mt_tensor_release(gb);
    mt_tensor_release(y), mt_tensor_release(gy);
    mt_tensor_release(x), mt_tensor_release(w), mt_tensor_release(b);
}

static const char *const CONV2D_CASES[] = {"odd_pad1_batch1",       "stride2_even_tf_same_batch7",
                                           "stride2_odd_nobias",    "dilation2_groups2",
                                           "depthwise_stride2_same", "depthwise_multiplier2",
                                           "pointwise_1x1",         "rect_kernel_asym",
                                           "strided_1x1"};
static const char *const CONVT_CASES[] = {"unet_up_2x2_s2_batch1", "k3_s2_pad1_outpad1_batch7", "groups2_dil2_nobias",
                                          "asym_pad_outpad",       "pointwise_1x1",             "depthwise_s2"};
static const char *const LINEAR_CASES[] = {"batch7", "rank3_nobias"};
#define COUNT(a) (int)(sizeof(a) / sizeof((a)[0]))

static void run_all(mt_test_ctx *T_, op_kind k, const char *const *cases, int n, mt_device dev, double rtol)
{
    for (int i = 0; i < n && !T_->failed; i++) run_case(T_, k, cases[i], dev, rtol);
}

TEST(conv2d_matches_torch)
{
    run_all(T_, OP_CONV2D, CONV2D_CASES, COUNT(CONV2D_CASES), mt_cpu(), 1e-5);
}

TEST(conv2d_matches_torch_single_thread)
{
    int prev = mt_get_num_threads();
    mt_set_num_threads(1);
    run_all(T_, OP_CONV2D, CONV2D_CASES, COUNT(CONV2D_CASES), mt_cpu(), 1e-5);
    mt_set_num_threads(prev);
}

/* Tiny column blocks (512 bytes): every case runs the multi-block im2col /
 * col2im paths, and both the per-block and full-width weight-gradient GEMMs. */
TEST(conv_row_blocked_paths_match_torch)
{
    mt_conv_impl impl = mt_conv_set_impl(MT_CONV_IMPL_IM2COL); /* the im2col paths, whatever MT_CONV_IMPL says */
    mt_conv_set_block_bytes(512);
    run_all(T_, OP_CONV2D, CONV2D_CASES, COUNT(CONV2D_CASES), mt_cpu(), 1e-5);
    run_all(T_, OP_CONVT, CONVT_CASES, COUNT(CONVT_CASES), mt_cpu(), 1e-5);
    mt_conv_set_block_bytes(0);
    mt_conv_set_impl(impl);
}

/* MT_CONV_IMPL=winograd: the 3x3 stride-1 ungrouped cases (odd_pad1_batch1) run
 * forward and backward data as Winograd F(2x2, 3x3) and F(4x4, 3x3)
 * (core/ops/winograd.h), the others fall back to im2col; same tolerance. */
TEST(conv2d_winograd_matches_torch)
{
    mt_conv_impl impl = mt_conv_set_impl(MT_CONV_IMPL_WINOGRAD); /* MT_CONV_IMPL is read once per process */
    for (int m = 2; m <= 4 && !T_->failed; m += 2) {
        mt_winograd_set_tile(m);
        run_all(T_, OP_CONV2D, CONV2D_CASES, COUNT(CONV2D_CASES), mt_cpu(), 1e-5);
    }
    mt_winograd_set_tile(0);
    mt_conv_set_impl(impl);
}

TEST(conv_transpose2d_matches_torch)
{
    run_all(T_, OP_CONVT, CONVT_CASES, COUNT(CONVT_CASES), mt_cpu(), 1e-5);
}

#if MT_HAVE_DNNL
/* The same fixtures through oneDNN (core/ops/conv_dnnl.c), whatever MT_CONV_IMPL says; the
 * transposed cases with output_padding beyond the padding stay on im2col (mt_conv_transpose2d_use_dnnl). */
TEST(conv2d_matches_torch_dnnl)
{
    mt_conv_impl impl = mt_conv_set_impl(MT_CONV_IMPL_DNNL);
    run_all(T_, OP_CONV2D, CONV2D_CASES, COUNT(CONV2D_CASES), mt_cpu(), 1e-5);
    mt_conv_set_impl(impl);
}

TEST(conv_transpose2d_matches_torch_dnnl)
{
    mt_conv_impl impl = mt_conv_set_impl(MT_CONV_IMPL_DNNL);
    run_all(T_, OP_CONVT, CONVT_CASES, COUNT(CONVT_CASES), mt_cpu(), 1e-5);
    mt_conv_set_impl(impl);
}
#endif

TEST(linear_matches_torch)
{
    run_all(T_, OP_LINEAR, LINEAR_CASES, COUNT(LINEAR_CASES), mt_cpu(), 1e-5);
}

TEST(conv_same_padding_tf_rule)
{
    int a, b;
    mt_same_padding(8, 3, 2, 1, &a, &b); /* out 4: total 1 -> (0, 1) */
    CHECK(a == 0 && b == 1, "same(8, k3, s2) = (%d, %d), want (0, 1)", a, b);
    mt_same_padding(7, 3, 2, 1, &a, &b); /* out 4: total 2 -> (1, 1) */
    CHECK(a == 1 && b == 1, "same(7, k3, s2) = (%d, %d), want (1, 1)", a, b);
    mt_same_padding(5, 2, 1, 1, &a, &b); /* even kernel stride 1: (0, 1) */
    CHECK(a == 0 && b == 1, "same(5, k2, s1) = (%d, %d), want (0, 1)", a, b);
    mt_same_padding(9, 3, 1, 2, &a, &b); /* dilated: total 4 -> (2, 2) */
    CHECK(a == 2 && b == 2, "same(9, k3, s1, d2) = (%d, %d), want (2, 2)", a, b);
    mt_same_padding(4, 7, 4, 1, &a, &b); /* out 1: total 3 -> (1, 2) */
    CHECK(a == 1 && b == 2, "same(4, k7, s4) = (%d, %d), want (1, 2)", a, b);
}

TEST(conv_rejects_bad_shapes)
{
    mt_tensor *x = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, (int[]){1, 4, 5, 5});
    mt_tensor *w = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, (int[]){6, 3, 3, 3});
    mt_tensor *b = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, (int[]){5});
    CHECK_NOTNULL(x);
    mt_tensor *y = mt_conv2d(x, w, NULL, mt_conv2d_default()); /* 4 channels vs weight's 3 */
    CHECK(!y && mt_last_status() == MT_ERR_INVALID && strstr(mt_last_error(), "conv2d"),
          "channel mismatch must fail with a conv2d message, got %s", mt_last_error());
    mt_error_clear();
    mt_tensor *w2 = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, (int[]){6, 4, 7, 7});
    y = mt_conv2d(x, w2, NULL, mt_conv2d_default()); /* kernel larger than input */
    CHECK(!y && strstr(mt_last_error(), "larger"), "oversized kernel must fail: %s", mt_last_error());
    mt_error_clear();
    mt_tensor *w3 = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, (int[]){6, 4, 3, 3});
    y = mt_conv2d(x, w3, b, mt_conv2d_default()); /* bias [5] for 6 outputs */
    CHECK(!y && strstr(mt_last_error(), "bias"), "bad bias must fail: %s", mt_last_error());
    mt_error_clear();
    mt_conv_transpose2d_params tp = mt_conv_transpose2d_default();
    tp.stride_h = tp.stride_w = 2;
    tp.out_pad_h = 2;
    y = mt_conv_transpose2d(x, w3, NULL, tp); /* output_padding >= stride */
    CHECK(!y && strstr(mt_last_error(), "output_padding"), "bad output_padding must fail: %s", mt_last_error());
    mt_error_clear();
    mt_tensor *lw = mt_tensor_zeros(MT_REAL, mt_cpu(), 2, (int[]){3, 4});
    y = mt_linear(w3, lw, NULL); /* last dim 3 vs IN 4 */
    CHECK(!y && strstr(mt_last_error(), "linear"), "linear shape mismatch must fail: %s", mt_last_error());
    mt_error_clear();
    /* sticky NULL input */
    y = mt_conv2d(NULL, w3, NULL, mt_conv2d_default());
    CHECK(!y, "NULL input must give NULL");
    mt_error_clear();
    mt_tensor_release(x), mt_tensor_release(w), mt_tensor_release(b), mt_tensor_release(w2);
    mt_tensor_release(w3), mt_tensor_release(lw);
}

TEST(conv_cuda_matches_torch)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    run_all(T_, OP_CONV2D, CONV2D_CASES, COUNT(CONV2D_CASES), mt_cuda(0), 1e-4);
    run_all(T_, OP_CONVT, CONVT_CASES, COUNT(CONVT_CASES), mt_cuda(0), 1e-4);
    run_all(T_, OP_LINEAR, LINEAR_CASES, COUNT(LINEAR_CASES), mt_cuda(0), 1e-4);
}
