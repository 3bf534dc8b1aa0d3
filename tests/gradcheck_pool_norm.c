/* tests/gradcheck_pool_norm.c: float64 (mt_real = double) central finite
 * differences for max_pool2d, max_unpool2d, avg_pool2d, global_avg_pool2d,
 * batch_norm2d (train and eval; x, gamma, beta) and dropout.
 * Loss L = sum_k sum(y_k * r_k) with fixed Philox weights r_k; analytic dL/dx
 * from mt_backward vs (L(x + h) - L(x - h)) / 2h, h = 1e-6. */
#include <string.h>

#include "../core/ops.h"
#include "../core/rng.h"
#include "gradcheck.h"
#include "test.h"

/* ---------------------------------------------------------------- ops --- */

static int f_max_pool(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    out[0] = mt_max_pool2d(in[0], *(const mt_pool2d_params *)ctx, NULL);
    return out[0] ? 1 : 0;
}

static int f_avg_pool(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    out[0] = mt_avg_pool2d(in[0], *(const mt_pool2d_params *)ctx);
    return out[0] ? 1 : 0;
}

static int f_gap(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    out[0] = mt_global_avg_pool2d(in[0]);
    return out[0] ? 1 : 0;
}

static int f_unpool(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    const int *hw = ctx;
    out[0] = mt_max_unpool2d(in[0], in[1], hw[0], hw[1]);
    return out[0] ? 1 : 0;
}

static int f_bn(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    out[0] = mt_batch_norm2d(in[0], in[1], in[2], in[3], in[4], *(const mt_batch_norm_params *)ctx);
    return out[0] ? 1 : 0;
}

static int f_dropout(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    out[0] = mt_dropout(in[0], *(const mt_dropout_params *)ctx);
    return out[0] ? 1 : 0;
}

TEST(gradcheck_max_pool2d)
{
    int s[4] = {2, 2, 7, 6};
    mt_tensor *x = gc_randn(4, s, 1, 1, 0);
    mt_requires_grad(x, 1);
    mt_pool2d_params p = mt_pool2d_default(3);
    p.stride_h = 2, p.stride_w = 1;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    p.ceil_mode = 1;
    if (!gc_check(T_, "max_pool2d k3 s(2,1) pad1 ceil", f_max_pool, &p, &x, 1, 99)) return;
    p = mt_pool2d_default(2);
    gc_check(T_, "max_pool2d k2 s2", f_max_pool, &p, &x, 1, 99);
    mt_tensor_release(x);
}

TEST(gradcheck_avg_pool2d)
{
    int s[4] = {2, 2, 7, 6};
    mt_tensor *x = gc_randn(4, s, 2, 1, 0);
    mt_requires_grad(x, 1);
    mt_pool2d_params p = mt_pool2d_default(3);
    p.stride_h = p.stride_w = 2;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    p.ceil_mode = 1;
    for (int cip = 0; cip < 2; cip++) {
        p.count_include_pad = cip;
        if (!gc_check(T_, "avg_pool2d k3 s2 pad1 ceil", f_avg_pool, &p, &x, 1, 99)) return;
    }
    p.divisor_override = 4;
    if (!gc_check(T_, "avg_pool2d divisor_override", f_avg_pool, &p, &x, 1, 99)) return;
    gc_check(T_, "global_avg_pool2d", f_gap, NULL, &x, 1, 99);
    mt_tensor_release(x);
}

TEST(gradcheck_max_unpool2d)
{
    int s[4] = {1, 2, 7, 7};
    mt_tensor *big = gc_randn(4, s, 3, 1, 0), *idx = NULL;
    mt_pool2d_params p = mt_pool2d_default(2);
    p.ceil_mode = 1;
    mt_tensor *x = mt_max_pool2d(big, p, &idx);
    CHECK(x && idx, "max_pool2d failed: %s", mt_last_error());
    mt_requires_grad(x, 1);
    int hw[2] = {7, 7};
    mt_tensor *in[2] = {x, idx};
    gc_check(T_, "max_unpool2d 4 -> 7", f_unpool, hw, in, 2, 99);
    mt_tensor_release(x);
    mt_tensor_release(idx);
    mt_tensor_release(big);
}

TEST(gradcheck_batch_norm2d)
{
    int s[4] = {3, 2, 3, 4}, c[1] = {2}, s2[2] = {5, 3}, c3[1] = {3};
    mt_tensor *x = gc_randn(4, s, 4, 2, 0.5), *g = gc_randn(1, c, 5, 0.5, 1), *b = gc_randn(1, c, 6, 1, 0);
    mt_tensor *rm = gc_randn(1, c, 7, 0.1, 0), *rv = gc_randn(1, c, 8, 0.1, 1.2);
    mt_requires_grad(x, 1);
    mt_requires_grad(g, 1);
    mt_requires_grad(b, 1);
    mt_batch_norm_params p = mt_batch_norm_default();
    mt_tensor *in[5] = {x, g, b, NULL, NULL}; /* training: no buffers (they would change per call) */
    if (!gc_check(T_, "batch_norm2d train affine", f_bn, &p, in, 5, 99)) return;
    in[1] = in[2] = NULL;
    if (!gc_check(T_, "batch_norm2d train no affine", f_bn, &p, in, 5, 99)) return;
    p.training = 0;
    mt_tensor *ine[5] = {x, g, b, rm, rv};
    if (!gc_check(T_, "batch_norm2d eval", f_bn, &p, ine, 5, 99)) return;
    p.training = 1;
    mt_tensor *x2 = gc_randn(2, s2, 9, 1, 0), *g3 = gc_randn(1, c3, 10, 0.5, 1);
    mt_requires_grad(x2, 1);
    mt_requires_grad(g3, 1);
    mt_tensor *in2[5] = {x2, g3, NULL, NULL, NULL};
    gc_check(T_, "batch_norm2d [N, C]", f_bn, &p, in2, 5, 99);
    mt_tensor *rel[] = {x, g, b, rm, rv, x2, g3};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) mt_tensor_release(rel[i]);
}

TEST(gradcheck_dropout)
{
    int s[2] = {6, 7};
    mt_tensor *x = gc_randn(2, s, 11, 1, 0);
    mt_requires_grad(x, 1);
    mt_dropout_params p = {0.35, 1, 5, 17};
    gc_check(T_, "dropout p 0.35", f_dropout, &p, &x, 1, 99);
    mt_tensor_release(x);
}
