/* tests/gradcheck_pool_norm.c: float64 (mt_real = double) central finite
 * differences for max_pool2d, max_unpool2d, avg_pool2d, global_avg_pool2d,
 * batch_norm2d (train and eval; x, gamma, beta) and dropout.
 * Loss L = sum_k sum(y_k * r_k) with fixed Philox weights r_k; analytic dL/dx
 * from mt_backward vs (L(x + h) - L(x - h)) / 2h, h = 1e-6. */
#include <string.h>

#include "../core/ops.h"
#include "../core/rng.h"
#include "test.h"

#define GC_MAX 8

/* Runs the op on in[] and writes its outputs (1..GC_MAX) into out[]; returns the count (0 on error). */
typedef int (*gc_fn)(mt_tensor **in, mt_tensor **out, const void *ctx);

/* sum_k sum(y_k * r_k) for r_k = philox normals of stream (k + 1) */
static double gc_loss(mt_tensor **y, int ny)
{
    double s = 0;
    for (int k = 0; k < ny; k++) {
        const mt_real *v = MT_DATA(y[k]);
        for (size_t i = 0; i < mt_numel(y[k]); i++) s += v[i] * mt_philox_normal(99 + (uint64_t)k, i);
    }
    return s;
}

/* A tensor of Philox normals (seed) scaled by `scale` plus `shift`. */
static mt_tensor *gc_rand(int ndim, const int *shape, uint64_t seed, double scale, double shift)
{
    mt_tensor *t = mt_tensor_new(MT_REAL, mt_cpu(), ndim, shape);
    if (!t) return NULL;
    for (size_t i = 0; i < mt_numel(t); i++) MT_DATA(t)[i] = (mt_real)(shift + scale * mt_philox_normal(seed, i));
    return t;
}

/* Checks the gradient of every input with requires_grad; 0 and a failure on mismatch. */
static int gradcheck(mt_test_ctx *T_, const char *what, gc_fn fn, const void *ctx, mt_tensor **in, int n_in)
{
    mt_tensor *y[GC_MAX] = {0};
    for (int i = 0; i < n_in; i++)
        if (in[i]) mt_clear_grad(in[i]);
    int ny = fn(in, y, ctx);
    if (ny < 1) {
        mt_test_fail(T_, __FILE__, __LINE__, "%s: forward failed: %s", what, mt_last_error());
        return 0;
    }
    for (int k = 0; k < ny; k++) {
        mt_tensor *r = mt_tensor_like(y[k], 0);
        for (size_t i = 0; i < mt_numel(r); i++) MT_DATA(r)[i] = (mt_real)mt_philox_normal(99 + (uint64_t)k, i);
        mt_status s = mt_backward(y[k], r, k < ny - 1);
        mt_tensor_release(r);
        if (s != MT_OK) {
            mt_test_fail(T_, __FILE__, __LINE__, "%s: backward failed: %s", what, mt_last_error());
            return 0;
        }
    }
    for (int k = 0; k < ny; k++) mt_tensor_release(y[k]);
    const double h = 1e-6, rtol = 1e-6, atol = 1e-7;
    int prev = mt_set_grad_enabled(0), ok = 1;
    for (int j = 0; j < n_in && ok; j++) {
        if (!in[j] || !in[j]->requires_grad) continue;
        if (!in[j]->grad) {
            mt_test_fail(T_, __FILE__, __LINE__, "%s: input %d got no gradient", what, j);
            ok = 0;
            break;
        }
        mt_real *x = MT_DATA(in[j]);
        const mt_real *g = MT_DATA(in[j]->grad);
        for (size_t i = 0; i < mt_numel(in[j]) && ok; i++) {
            mt_real keep = x[i];
            double l[2];
            for (int side = 0; side < 2; side++) {
                x[i] = keep + (side ? -h : h);
                int m = fn(in, y, ctx);
                l[side] = m > 0 ? gc_loss(y, m) : NAN;
                for (int k = 0; k < m; k++) mt_tensor_release(y[k]);
            }
            x[i] = keep;
            double num = (l[0] - l[1]) / (2 * h);
            if (!(fabs(num - g[i]) <= atol + rtol * fabs(num))) { /* also catches NaN */
                mt_test_fail(T_, __FILE__, __LINE__, "%s: d/d input %d [%zu]: analytic %.10g, numeric %.10g", what, j,
                             i, (double)g[i], num);
                ok = 0;
            }
        }
    }
    mt_set_grad_enabled(prev);
    return ok;
}

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
    mt_tensor *x = gc_rand(4, s, 1, 1, 0);
    mt_requires_grad(x, 1);
    mt_pool2d_params p = mt_pool2d_default(3);
    p.stride_h = 2, p.stride_w = 1;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    p.ceil_mode = 1;
    if (!gradcheck(T_, "max_pool2d k3 s(2,1) pad1 ceil", f_max_pool, &p, &x, 1)) return;
    p = mt_pool2d_default(2);
    gradcheck(T_, "max_pool2d k2 s2", f_max_pool, &p, &x, 1);
    mt_tensor_release(x);
}

TEST(gradcheck_avg_pool2d)
{
    int s[4] = {2, 2, 7, 6};
    mt_tensor *x = gc_rand(4, s, 2, 1, 0);
    mt_requires_grad(x, 1);
    mt_pool2d_params p = mt_pool2d_default(3);
    p.stride_h = p.stride_w = 2;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    p.ceil_mode = 1;
    for (int cip = 0; cip < 2; cip++) {
        p.count_include_pad = cip;
        if (!gradcheck(T_, "avg_pool2d k3 s2 pad1 ceil", f_avg_pool, &p, &x, 1)) return;
    }
    p.divisor_override = 4;
    if (!gradcheck(T_, "avg_pool2d divisor_override", f_avg_pool, &p, &x, 1)) return;
    gradcheck(T_, "global_avg_pool2d", f_gap, NULL, &x, 1);
    mt_tensor_release(x);
}

TEST(gradcheck_max_unpool2d)
{
    int s[4] = {1, 2, 7, 7};
    mt_tensor *big = gc_rand(4, s, 3, 1, 0), *idx = NULL;
    mt_pool2d_params p = mt_pool2d_default(2);
    p.ceil_mode = 1;
    mt_tensor *x = mt_max_pool2d(big, p, &idx);
    CHECK(x && idx, "max_pool2d failed: %s", mt_last_error());
    mt_requires_grad(x, 1);
    int hw[2] = {7, 7};
    mt_tensor *in[2] = {x, idx};
    gradcheck(T_, "max_unpool2d 4 -> 7", f_unpool, hw, in, 2);
    mt_tensor_release(x);
    mt_tensor_release(idx);
    mt_tensor_release(big);
}

TEST(gradcheck_batch_norm2d)
{
    int s[4] = {3, 2, 3, 4}, c[1] = {2}, s2[2] = {5, 3}, c3[1] = {3};
    mt_tensor *x = gc_rand(4, s, 4, 2, 0.5), *g = gc_rand(1, c, 5, 0.5, 1), *b = gc_rand(1, c, 6, 1, 0);
    mt_tensor *rm = gc_rand(1, c, 7, 0.1, 0), *rv = gc_rand(1, c, 8, 0.1, 1.2);
    mt_requires_grad(x, 1);
    mt_requires_grad(g, 1);
    mt_requires_grad(b, 1);
    mt_batch_norm_params p = mt_batch_norm_default();
    mt_tensor *in[5] = {x, g, b, NULL, NULL}; /* training: no buffers (they would change per call) */
    if (!gradcheck(T_, "batch_norm2d train affine", f_bn, &p, in, 5)) return;
    in[1] = in[2] = NULL;
    if (!gradcheck(T_, "batch_norm2d train no affine", f_bn, &p, in, 5)) return;
    p.training = 0;
    mt_tensor *ine[5] = {x, g, b, rm, rv};
    if (!gradcheck(T_, "batch_norm2d eval", f_bn, &p, ine, 5)) return;
    p.training = 1;
    mt_tensor *x2 = gc_rand(2, s2, 9, 1, 0), *g3 = gc_rand(1, c3, 10, 0.5, 1);
    mt_requires_grad(x2, 1);
    mt_requires_grad(g3, 1);
    mt_tensor *in2[5] = {x2, g3, NULL, NULL, NULL};
    gradcheck(T_, "batch_norm2d [N, C]", f_bn, &p, in2, 5);
    mt_tensor *rel[] = {x, g, b, rm, rv, x2, g3};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) mt_tensor_release(rel[i]);
}

TEST(gradcheck_dropout)
{
    int s[2] = {6, 7};
    mt_tensor *x = gc_rand(2, s, 11, 1, 0);
    mt_requires_grad(x, 1);
    mt_dropout_params p = {0.35, 1, 5, 17};
    gradcheck(T_, "dropout p 0.35", f_dropout, &p, &x, 1);
    mt_tensor_release(x);
}
