/* tests/gradcheck_util.c: the shared finite-difference harness of
 * tests/gradcheck.h (float64 build). Defines no tests. */
#include <math.h>

#include "../core/rng.h"
#include "gradcheck.h"

double gc_loss(mt_tensor **y, int ny, uint64_t r_seed)
{
    double s = 0;
    for (int k = 0; k < ny; k++) {
        const mt_real *v = MT_DATA(y[k]);
        for (size_t i = 0; i < mt_numel(y[k]); i++) s += v[i] * mt_philox_normal(r_seed + (uint64_t)k, i);
    }
    return s;
}

mt_tensor *gc_randn(int ndim, const int *shape, uint64_t seed, double scale, double shift)
{
    mt_tensor *t = mt_tensor_new(MT_REAL, mt_cpu(), ndim, shape);
    if (!t) return NULL;
    for (size_t i = 0; i < mt_numel(t); i++) MT_DATA(t)[i] = (mt_real)(shift + scale * mt_philox_normal(seed, i));
    return t;
}

mt_tensor *gc_randu(int ndim, const int *shape, uint64_t seed, double lo, double hi, const double *kinks, int n_kinks,
                    int grad)
{
    mt_tensor *t = mt_tensor_new(MT_REAL, mt_cpu(), ndim, shape);
    if (!t) return NULL;
    const double gap = 1e-3;
    for (size_t i = 0; i < mt_numel(t); i++) {
        double v = lo + (hi - lo) * mt_philox_uniform_d(seed, i);
        for (int k = 0; k < n_kinks; k++)
            if (fabs(v - kinks[k]) < gap) v = kinks[k] + (v >= kinks[k] ? 2 : -2) * gap;
        MT_DATA(t)[i] = (mt_real)v;
    }
    mt_requires_grad(t, grad);
    return t;
}

int gc_check(mt_test_ctx *T_, const char *what, gc_fn fn, const void *ctx, mt_tensor **in, int n_in,
             uint64_t r_seed)
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
        for (size_t i = 0; i < mt_numel(r); i++) MT_DATA(r)[i] = (mt_real)mt_philox_normal(r_seed + (uint64_t)k, i);
        mt_status s = mt_backward(y[k], r, k < ny - 1);
        mt_tensor_release(r);
        if (s != MT_OK) {
            for (int m = 0; m < ny; m++) mt_tensor_release(y[m]);
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
                l[side] = m > 0 ? gc_loss(y, m, r_seed) : NAN;
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

/* adapts a single-output op to gc_fn */
typedef struct gc_one {
    gc_fn1 fn;
    const void *ctx;
} gc_one;

static int gc_run_one(mt_tensor **in, mt_tensor **out, const void *ctx)
{
    const gc_one *o = ctx;
    out[0] = o->fn(in, o->ctx);
    return out[0] ? 1 : 0;
}

int gc_check1(mt_test_ctx *T_, const char *what, gc_fn1 fn, const void *ctx, mt_tensor **in, int n_in,
              uint64_t r_seed)
{
    gc_one o = {fn, ctx};
    return gc_check(T_, what, gc_run_one, &o, in, n_in, r_seed);
}
