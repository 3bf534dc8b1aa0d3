/* tests/gradcheck_shape.c: float64 (mt_real = double) central finite
 * differences for upsample2d (nearest, bilinear align_corners 0/1), pad2d
 * (constant/reflect/replicate), concat, split (several outputs), slice,
 * crop2d, reshape/flatten and permute. Same loss and helper as
 * tests/gradcheck_pool_norm.c (kept file-local so each file stands alone). */
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

typedef struct up_ctx {
    int oh, ow, mode, ac;
} up_ctx;

static int f_up(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    const up_ctx *c = ctx;
    out[0] = mt_upsample2d(in[0], c->oh, c->ow, (mt_upsample_mode)c->mode, c->ac);
    return out[0] ? 1 : 0;
}

static int f_pad(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    const int *v = ctx; /* top, bottom, left, right, mode */
    out[0] = mt_pad2d(in[0], v[0], v[1], v[2], v[3], (mt_pad_mode)v[4], 0.25);
    return out[0] ? 1 : 0;
}

static int f_concat(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    out[0] = mt_concat(3, in, *(const int *)ctx);
    return out[0] ? 1 : 0;
}

static int f_split(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    int sizes[3] = {1, 3, 2};
    return mt_split(in[0], *(const int *)ctx, 3, sizes, out) == MT_OK ? 3 : 0;
}

static int f_slice_crop(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    out[0] = mt_slice(in[0], 1, 1, 3);
    out[1] = mt_crop2d(in[0], 1, 1, 3, 2);
    return out[0] && out[1] ? 2 : 0;
}

static int f_permute_reshape(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    int perm[4] = {3, 0, 2, 1}, shape[3] = {2, -1, 5};
    out[0] = mt_permute(in[0], 4, perm);
    out[1] = mt_reshape(in[0], 3, shape);
    out[2] = mt_flatten(in[0], 1);
    return out[0] && out[1] && out[2] ? 3 : 0;
}

TEST(gradcheck_upsample2d)
{
    int s[4] = {2, 2, 3, 4};
    mt_tensor *x = gc_rand(4, s, 21, 1, 0);
    mt_requires_grad(x, 1);
    const up_ctx cases[] = {{6, 8, 0, 0}, {5, 7, 0, 0}, {5, 7, 1, 0}, {5, 7, 1, 1}, {2, 3, 1, 0}, {2, 3, 1, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char what[64];
        snprintf(what, sizeof what, "upsample2d -> %dx%d mode %d ac %d", cases[i].oh, cases[i].ow, cases[i].mode,
                 cases[i].ac);
        if (!gradcheck(T_, what, f_up, &cases[i], &x, 1)) return;
    }
    mt_tensor_release(x);
}

TEST(gradcheck_pad2d)
{
    int s[4] = {1, 2, 4, 5};
    mt_tensor *x = gc_rand(4, s, 22, 1, 0);
    mt_requires_grad(x, 1);
    for (int m = 0; m < 3; m++) {
        int v[5] = {2, 1, 3, 4, m};
        char what[32];
        snprintf(what, sizeof what, "pad2d mode %d", m);
        if (!gradcheck(T_, what, f_pad, v, &x, 1)) return;
    }
    mt_tensor_release(x);
}

TEST(gradcheck_concat_split)
{
    int a[3] = {2, 1, 3}, b[3] = {2, 3, 3}, c[3] = {2, 2, 3}, s[3] = {2, 6, 3};
    mt_tensor *in[3] = {gc_rand(3, a, 23, 1, 0), gc_rand(3, b, 24, 1, 0), gc_rand(3, c, 25, 1, 0)};
    for (int i = 0; i < 3; i++) mt_requires_grad(in[i], 1);
    int dim = 1;
    if (!gradcheck(T_, "concat dim 1", f_concat, &dim, in, 3)) return;
    mt_tensor *x = gc_rand(3, s, 26, 1, 0);
    mt_requires_grad(x, 1);
    gradcheck(T_, "split [1, 3, 2] dim 1", f_split, &dim, &x, 1);
    for (int i = 0; i < 3; i++) mt_tensor_release(in[i]);
    mt_tensor_release(x);
}

TEST(gradcheck_slice_crop_permute_reshape)
{
    int s[4] = {2, 4, 5, 3};
    mt_tensor *x = gc_rand(4, s, 27, 1, 0);
    mt_requires_grad(x, 1);
    if (!gradcheck(T_, "slice + crop2d", f_slice_crop, NULL, &x, 1)) return;
    gradcheck(T_, "permute + reshape + flatten", f_permute_reshape, NULL, &x, 1);
    mt_tensor_release(x);
}
