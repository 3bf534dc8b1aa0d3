/* tests/test_pool_norm.c: max_pool2d (+indices, ties, ceil mode), max_unpool2d,
 * avg_pool2d (count_include_pad, ceil mode, divisor_override), global average
 * pool, batch_norm2d (train/eval, running stats over 3 steps, no affine,
 * [N, C], batch 1, Keras-3 biased running variance) and dropout (Philox mask
 * vs a pure-Python Philox4x32-10, statistics, scaling, backward) against
 * tests/fixtures/pool_norm.h5 (tests/fixtures/gen_pool_norm.py, PyTorch). */
#include <stdlib.h>
#include <string.h>

#include "../core/device.h"
#include "../core/ops.h"
#include "../core/rng.h"
#include "fixture.h"
#include "test.h"

#define FX "tests/fixtures/pool_norm.h5"
#define RTOL 1e-5
#define ATOL 1e-6

/* Loads fixture dataset group/name; NULL (and a recorded failure) if missing. */
static mt_tensor *ld(mt_test_ctx *T_, const char *group, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", group, name);
    mt_tensor *t = fx_load(FX, path);
    if (!t) mt_test_fail(T_, __FILE__, __LINE__, "fixture %s: %s", path, mt_last_error());
    return t;
}

/* Compares a (CPU or CUDA) MT_REAL tensor with fixture dataset group/name. */
static int cmp(mt_test_ctx *T_, const mt_tensor *t, const char *group, const char *name, double rtol, double atol)
{
    if (!t) {
        mt_test_fail(T_, __FILE__, __LINE__, "%s/%s: tensor is NULL: %s", group, name, mt_last_error());
        return 0;
    }
    mt_tensor *ref = ld(T_, group, name);
    if (!ref) return 0;
    int ok = 0;
    char why[512] = "";
    if (mt_numel(ref) != mt_numel(t) || ref->dtype != t->dtype) {
        snprintf(why, sizeof why, "size/dtype differ (%zu %s vs %zu %s)", mt_numel(t), mt_dtype_name(t->dtype),
                 mt_numel(ref), mt_dtype_name(ref->dtype));
    } else {
        mt_tensor *h = mt_tensor_to(t, mt_cpu());
        if (!h) {
            snprintf(why, sizeof why, "copy to host failed: %s", mt_last_error());
        } else if (t->dtype == MT_I32) {
            const int32_t *a = mt_data(h), *b = mt_data(ref);
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < mt_numel(t); i++)
                if (a[i] != b[i] && !bad++) first = i;
            ok = bad == 0;
            if (!ok) snprintf(why, sizeof why, "%zu of %zu differ; first [%zu]: %d vs %d", bad, mt_numel(t), first,
                              (int)a[first], (int)b[first]);
        } else {
            ok = mt_test_close_f(MT_DATA(h), MT_DATA(ref), mt_numel(t), rtol, atol, why, sizeof why);
        }
        mt_tensor_release(h);
    }
    if (!ok) mt_test_fail(T_, __FILE__, __LINE__, "%s/%s: %s", group, name, why);
    mt_tensor_release(ref);
    return ok;
}

static mt_pool2d_params params_of(const char *group, int avg)
{
    int v[11] = {0};
    fx_attr_ints(FX, group, "params", v, 11);
    mt_pool2d_params p = mt_pool2d_default(1);
    p.kh = v[0], p.kw = v[1], p.stride_h = v[2], p.stride_w = v[3];
    p.pad_top = v[4], p.pad_bottom = v[5], p.pad_left = v[6], p.pad_right = v[7];
    p.ceil_mode = v[8];
    if (avg) p.count_include_pad = v[9], p.divisor_override = v[10];
    return p;
}

/* Runs one pooling case on `dev`: forward (and indices), backward with the fixture's gy. */
static int pool_case(mt_test_ctx *T_, const char *g, int avg, mt_device dev)
{
    mt_tensor *x0 = ld(T_, g, "x"), *gy0 = ld(T_, g, "gy");
    if (!x0 || !gy0) return 0;
    mt_tensor *x = mt_tensor_to(x0, dev), *gy = mt_tensor_to(gy0, dev), *idx = NULL;
    mt_requires_grad(x, 1);
    mt_pool2d_params p = params_of(g, avg);
    mt_tensor *y = avg ? mt_avg_pool2d(x, p) : mt_max_pool2d(x, p, &idx);
    int ok = cmp(T_, y, g, "y", RTOL, ATOL);
    if (ok && !avg) ok = cmp(T_, idx, g, "idx", 0, 0);
    if (ok) {
        mt_status s = mt_backward(y, gy, 0);
        if (s != MT_OK) mt_test_fail(T_, __FILE__, __LINE__, "%s backward: %s", g, mt_last_error());
        ok = s == MT_OK && cmp(T_, x->grad, g, "gx", RTOL, ATOL);
    }
    mt_tensor_release(y);
    mt_tensor_release(idx);
    mt_tensor_release(x);
    mt_tensor_release(gy);
    mt_tensor_release(x0);
    mt_tensor_release(gy0);
    return ok;
}

static const char *MAXPOOL[] = {"maxpool/odd_s2_pad", "maxpool/even_k2_b7", "maxpool/ceil_pad_start",
                                "maxpool/ceil_odd", "maxpool/rect", "maxpool/ties_overlap", "maxpool/ties_k2"};
static const char *AVGPOOL[] = {"avgpool/pad_include", "avgpool/pad_exclude", "avgpool/ceil_include",
                                "avgpool/ceil_exclude", "avgpool/divisor"};

TEST(max_pool2d_matches_torch)
{
    for (size_t i = 0; i < sizeof MAXPOOL / sizeof *MAXPOOL; i++)
        if (!pool_case(T_, MAXPOOL[i], 0, mt_cpu())) return;
}

TEST(max_pool2d_ceil_mode_output_size)
{
    /* H = 5, k = 2, s = 2, pad 1, ceil: ceil(5/2)+1 = 4 windows, but the 4th
     * would start at row 5 in the bottom padding, so PyTorch keeps 3 */
    int s[4] = {1, 1, 5, 5};
    mt_tensor *x = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, s);
    mt_pool2d_params p = mt_pool2d_default(2);
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    p.ceil_mode = 1;
    mt_tensor *y = mt_max_pool2d(x, p, NULL);
    CHECK_NOTNULL(y);
    CHECK(y->shape[2] == 3 && y->shape[3] == 3, "ceil-mode output %dx%d, PyTorch gives 3x3", y->shape[2], y->shape[3]);
    p.ceil_mode = 0;
    mt_tensor *y2 = mt_max_pool2d(x, p, NULL);
    CHECK(y2 && y2->shape[2] == 3, "floor-mode output wrong");
    p.pad_top = 2; /* more than half the kernel: rejected like PyTorch */
    CHECK(mt_max_pool2d(x, p, NULL) == NULL && mt_last_status() == MT_ERR_INVALID, "pad > k/2 must be rejected");
    CHECK(strstr(mt_last_error(), "half the kernel") != NULL, "message should explain the padding rule: %s",
          mt_last_error());
    mt_error_clear();
    mt_tensor_release(y);
    mt_tensor_release(y2);
    mt_tensor_release(x);
}

/* max_pool2d (75 -> 38, ceil mode) then max_unpool2d back to 75 on `dev`. */
static int unpool_run(mt_test_ctx *T_, mt_device dev)
{
    const char *g = "unpool";
    mt_tensor *x0 = ld(T_, g, "x"), *gy0 = ld(T_, g, "gy");
    if (!x0 || !gy0) return 0;
    mt_tensor *x = mt_tensor_to(x0, dev), *gy = mt_tensor_to(gy0, dev), *idx = NULL, *u = NULL;
    mt_pool2d_params p = mt_pool2d_default(2);
    p.ceil_mode = 1;
    mt_tensor *pooled = mt_max_pool2d(x, p, &idx);
    int ok = cmp(T_, pooled, g, "pooled", RTOL, ATOL) && cmp(T_, idx, g, "idx", 0, 0);
    if (ok && (pooled->shape[2] != 38 || pooled->shape[3] != 38)) {
        mt_test_fail(T_, __FILE__, __LINE__, "75 -> %d, expected 38", pooled->shape[2]);
        ok = 0;
    }
    if (ok) {
        mt_requires_grad(pooled, 1);
        u = mt_max_unpool2d(pooled, idx, 75, 75);
        ok = cmp(T_, u, g, "y", 0, 0);
    }
    if (ok && mt_backward(u, gy, 0) != MT_OK) {
        mt_test_fail(T_, __FILE__, __LINE__, "unpool backward: %s", mt_last_error());
        ok = 0;
    }
    if (ok) ok = cmp(T_, pooled->grad, g, "gx", 0, 0);
    if (ok && dev.type == MT_CPU) {
        /* an index outside the output plane is an error, not a write out of bounds */
        mt_tensor *bad = mt_max_unpool2d(pooled, idx, 10, 10);
        ok = bad == NULL && strstr(mt_last_error(), "outside") != NULL;
        if (!ok) mt_test_fail(T_, __FILE__, __LINE__, "out-of-range indices must be rejected: %s", mt_last_error());
        mt_tensor_release(bad);
        mt_error_clear();
    }
    mt_tensor *rel[] = {x0, gy0, x, gy, idx, u, pooled};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) mt_tensor_release(rel[i]);
    return ok;
}

TEST(max_unpool2d_75_from_38)
{
    unpool_run(T_, mt_cpu());
}

/* global average pool vs adaptive_avg_pool2d(x, 1) on `dev` */
static int gap_run(mt_test_ctx *T_, mt_device dev)
{
    mt_tensor *x0 = ld(T_, "gap", "x"), *gy0 = ld(T_, "gap", "gy");
    if (!x0 || !gy0) return 0;
    mt_tensor *x = mt_tensor_to(x0, dev), *gy = mt_tensor_to(gy0, dev);
    mt_requires_grad(x, 1);
    mt_tensor *y = mt_global_avg_pool2d(x);
    int ok = y && y->ndim == 4 && y->shape[2] == 1 && y->shape[3] == 1;
    if (!ok) mt_test_fail(T_, __FILE__, __LINE__, "global_avg_pool2d must give [N, C, 1, 1]: %s", mt_last_error());
    ok = ok && cmp(T_, y, "gap", "y", RTOL, ATOL);
    if (ok && mt_backward(y, gy, 0) != MT_OK) {
        mt_test_fail(T_, __FILE__, __LINE__, "gap backward: %s", mt_last_error());
        ok = 0;
    }
    ok = ok && cmp(T_, x->grad, "gap", "gx", RTOL, ATOL);
    mt_tensor *rel[] = {x0, gy0, x, gy, y};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) mt_tensor_release(rel[i]);
    return ok;
}

TEST(avg_pool2d_matches_torch)
{
    for (size_t i = 0; i < sizeof AVGPOOL / sizeof *AVGPOOL; i++)
        if (!pool_case(T_, AVGPOOL[i], 1, mt_cpu())) return;
}

TEST(global_avg_pool2d_matches_torch)
{
    gap_run(T_, mt_cpu());
}

/* Runs a bn_case: steps training steps then one eval step, checking y, grads
 * and the running buffers after every step. */
static int bn_run(mt_test_ctx *T_, const char *g, mt_device dev, double rtol, double atol)
{
    int v[2] = {0};
    double momentum = 0, eps = 0;
    if (fx_attr_ints(FX, g, "params", v, 2) != 2 || !fx_attr(FX, g, "momentum", &momentum) ||
        !fx_attr(FX, g, "eps", &eps)) {
        mt_test_fail(T_, __FILE__, __LINE__, "%s: fixture attributes missing", g);
        return 0;
    }
    int steps = v[0], affine = v[1], ok = 1;
    mt_tensor *gamma = NULL, *beta = NULL, *h;
    if (affine) {
        gamma = mt_tensor_to(h = ld(T_, g, "gamma"), dev), mt_tensor_release(h);
        beta = mt_tensor_to(h = ld(T_, g, "beta"), dev), mt_tensor_release(h);
        mt_requires_grad(gamma, 1);
        mt_requires_grad(beta, 1);
    }
    mt_tensor *rm = mt_tensor_to(h = ld(T_, g, "running_mean0"), dev);
    mt_tensor_release(h);
    mt_tensor *rv = mt_tensor_to(h = ld(T_, g, "running_var0"), dev);
    mt_tensor_release(h);
    for (int s = 0; s <= steps && ok; s++) {
        char st[128];
        snprintf(st, sizeof st, "%s/step%d", g, s);
        mt_tensor *x = mt_tensor_to(h = ld(T_, st, "x"), dev);
        mt_tensor_release(h);
        mt_tensor *gy = mt_tensor_to(h = ld(T_, st, "gy"), dev);
        mt_tensor_release(h);
        mt_requires_grad(x, 1);
        mt_clear_grad(gamma);
        mt_clear_grad(beta);
        mt_batch_norm_params p = mt_batch_norm_default();
        p.training = s < steps;
        p.momentum = momentum;
        p.eps = eps;
        mt_tensor *y = mt_batch_norm2d(x, gamma, beta, rm, rv, p);
        ok = cmp(T_, y, st, "y", rtol, atol) && cmp(T_, rm, st, "running_mean", rtol, atol) &&
             cmp(T_, rv, st, "running_var", rtol, atol);
        if (ok && mt_backward(y, gy, 0) != MT_OK) {
            mt_test_fail(T_, __FILE__, __LINE__, "%s backward: %s", st, mt_last_error());
            ok = 0;
        }
        if (ok) ok = cmp(T_, x->grad, st, "gx", rtol, atol);
        if (ok && affine) ok = cmp(T_, gamma->grad, st, "ggamma", rtol, atol) && cmp(T_, beta->grad, st, "gbeta", rtol, atol);
        mt_tensor_release(y);
        mt_tensor_release(x);
        mt_tensor_release(gy);
    }
    mt_tensor_release(gamma);
    mt_tensor_release(beta);
    mt_tensor_release(rm);
    mt_tensor_release(rv);
    return ok;
}

/* BN gradients sum over N*H*W values of either sign: allow atol for cancellation. */
TEST(batch_norm2d_affine_train3_then_eval)
{
    bn_run(T_, "bn_affine", mt_cpu(), RTOL, 1e-5);
}

TEST(batch_norm2d_no_affine)
{
    bn_run(T_, "bn_plain", mt_cpu(), RTOL, 1e-5);
}

TEST(batch_norm2d_nc_input_and_batch1)
{
    if (!bn_run(T_, "bn_2d", mt_cpu(), RTOL, 1e-5)) return;
    bn_run(T_, "bn_batch1", mt_cpu(), RTOL, 1e-5);
}

/* Keras 3 (biased running variance, momentum 0.01, eps 1e-3) on `dev`. */
static int keras3_run(mt_test_ctx *T_, mt_device dev, double rtol, double atol)
{
    const char *g = "bn_keras3";
    double momentum, eps;
    if (!fx_attr(FX, g, "momentum", &momentum) || !fx_attr(FX, g, "eps", &eps)) {
        mt_test_fail(T_, __FILE__, __LINE__, "%s: attributes missing", g);
        return 0;
    }
    mt_tensor *h = ld(T_, g, "x");
    if (!h) return 0;
    mt_tensor *x = mt_tensor_to(h, dev);
    mt_tensor_release(h);
    int cs[1] = {4};
    mt_tensor *rm = mt_tensor_zeros(MT_REAL, dev, 1, cs), *rv = mt_tensor_new(MT_REAL, dev, 1, cs);
    int ok = rv && mt_tensor_fill(rv, 1.0) == MT_OK;
    mt_batch_norm_params p = mt_batch_norm_default();
    p.momentum = momentum;
    p.eps = eps;
    p.unbiased_running_var = 0;
    mt_tensor *y = ok ? mt_batch_norm2d(x, NULL, NULL, rm, rv, p) : NULL;
    ok = cmp(T_, y, g, "y", rtol, atol) && cmp(T_, rm, g, "running_mean", rtol, atol) &&
         cmp(T_, rv, g, "running_var", rtol, atol);
    mt_tensor_release(y);
    mt_tensor_release(x);
    mt_tensor_release(rm);
    mt_tensor_release(rv);
    return ok;
}

TEST(batch_norm2d_keras3_biased_running_var)
{
    keras3_run(T_, mt_cpu(), RTOL, ATOL);
}

TEST(batch_norm2d_rejects_bad_use)
{
    int s[4] = {1, 2, 1, 1}, c3[1] = {3};
    mt_tensor *x = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, s), *w3 = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, c3);
    mt_batch_norm_params p = mt_batch_norm_default();
    CHECK(mt_batch_norm2d(x, NULL, NULL, NULL, NULL, p) == NULL, "1 value per channel in training must fail");
    CHECK(strstr(mt_last_error(), "more than 1 value") != NULL, "message: %s", mt_last_error());
    mt_error_clear();
    p.training = 0;
    CHECK(mt_batch_norm2d(x, NULL, NULL, NULL, NULL, p) == NULL, "eval without running stats must fail");
    mt_error_clear();
    p.training = 1;
    s[0] = 4;
    mt_tensor *x4 = mt_tensor_zeros(MT_REAL, mt_cpu(), 4, s);
    CHECK(mt_batch_norm2d(x4, w3, NULL, NULL, NULL, p) == NULL, "gamma of the wrong size must fail");
    CHECK(strstr(mt_last_error(), "weight") != NULL, "message: %s", mt_last_error());
    mt_error_clear();
    mt_tensor_release(x);
    mt_tensor_release(x4);
    mt_tensor_release(w3);
}

TEST(philox_known_answer_and_python_reference)
{
    /* Random123 kat_vectors, philox4x32_10: counter 0, key 0 */
    mt_philox4 r = mt_philox4x32(0, 0, 0, 0, 0, 0);
    CHECK(r.v[0] == 0x6627E8D5u && r.v[1] == 0xE169C58Du && r.v[2] == 0xBC57AC4Cu && r.v[3] == 0x9B00DBD8u,
          "Philox4x32-10 known answer wrong: %08x %08x %08x %08x", r.v[0], r.v[1], r.v[2], r.v[3]);
    const char *groups[2] = {"dropout/a", "dropout/b"};
    for (int k = 0; k < 2; k++) {
        double hi, lo, off;
        CHECK(fx_attr(FX, groups[k], "seed_hi", &hi) && fx_attr(FX, groups[k], "seed_lo", &lo) &&
                  fx_attr(FX, groups[k], "offset", &off), "attributes missing");
        uint64_t seed = ((uint64_t)hi << 32) | (uint64_t)lo, offset = (uint64_t)off;
        mt_tensor *l16 = ld(T_, groups[k], "u32_lo16"), *h16 = ld(T_, groups[k], "u32_hi16");
        mt_tensor *u = ld(T_, groups[k], "uniform");
        CHECK(l16 && h16 && u, "fixture missing");
        const int32_t *a = mt_data(l16), *b = mt_data(h16);
        const mt_real *uv = MT_DATA(u);
        for (size_t i = 0; i < mt_numel(l16); i++) {
            uint32_t want = ((uint32_t)b[i] << 16) | (uint32_t)a[i];
            uint32_t got = mt_philox_u32(seed, offset + i);
            CHECK(got == want, "%s: philox_u32 at counter %zu: %08x vs python %08x", groups[k], i, got, want);
            CHECK(mt_philox_uniform(seed, offset + i) == (float)uv[i], "%s: uniform %zu differs", groups[k], i);
        }
        mt_tensor_release(l16);
        mt_tensor_release(h16);
        mt_tensor_release(u);
    }
}

TEST(dropout_mask_scale_and_backward)
{
    double pp, hi, lo, off;
    CHECK(fx_attr(FX, "dropout/a", "p", &pp) && fx_attr(FX, "dropout/a", "seed_hi", &hi) &&
              fx_attr(FX, "dropout/a", "seed_lo", &lo) && fx_attr(FX, "dropout/a", "offset", &off),
          "attributes missing");
    mt_tensor *mref = ld(T_, "dropout/a", "mask");
    CHECK_NOTNULL(mref);
    int n = (int)mt_numel(mref), s[2] = {64, n / 64};
    mt_real *xv = malloc(sizeof *xv * (size_t)n);
    CHECK(xv, "oom");
    for (int i = 0; i < n; i++) xv[i] = (mt_real)(1 + (i % 7));
    mt_tensor *x = mt_tensor_from_host(mt_cpu(), 2, s, xv);
    mt_requires_grad(x, 1);
    mt_dropout_params p = {pp, 1, ((uint64_t)hi << 32) | (uint64_t)lo, (uint64_t)off};
    mt_tensor *y = mt_dropout(x, p);
    CHECK_NOTNULL(y);
    const int32_t *m = mt_data(mref);
    const mt_real *yv = MT_DATA(y);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        mt_real want = m[i] ? xv[i] * (mt_real)(1.0 / (1.0 - pp)) : 0;
        CHECK(yv[i] == want, "y[%d] = %g, expected %g (mask %d)", i, (double)yv[i], (double)want, m[i]);
        kept += m[i];
    }
    /* keep rate within 4 sigma of 1 - p */
    double rate = (double)kept / n, sd = sqrt(pp * (1 - pp) / n);
    CHECK(fabs(rate - (1 - pp)) < 4 * sd, "keep rate %.4f far from %.4f", rate, 1 - pp);
    /* backward uses the same mask: dy = 1 gives mask / (1 - p) */
    mt_tensor *ones = mt_tensor_like(y, 0);
    CHECK_OK(mt_tensor_fill(ones, 1.0));
    CHECK_OK(mt_backward(y, ones, 0));
    const mt_real *gx = MT_DATA(x->grad);
    for (int i = 0; i < n; i++)
        CHECK(gx[i] == (m[i] ? (mt_real)(1.0 / (1.0 - pp)) : 0), "grad[%d] does not follow the mask", i);
    /* same (seed, offset) -> same mask; another offset -> another mask */
    mt_tensor *y2 = mt_dropout(x, p);
    CHECK(y2 && !memcmp(MT_DATA(y2), yv, sizeof *yv * (size_t)n), "same (seed, offset) must give the same output");
    p.offset += 1;
    mt_tensor *y3 = mt_dropout(x, p);
    CHECK(y3 && memcmp(MT_DATA(y3), yv, sizeof *yv * (size_t)n) != 0, "a new offset must give a new mask");
    /* eval mode and p = 0 are the identity; p = 1 drops everything */
    p.training = 0;
    mt_tensor *y4 = mt_dropout(x, p);
    CHECK(y4 == x, "eval-mode dropout must return its input");
    p.training = 1;
    p.p = 1;
    mt_tensor *y5 = mt_dropout(x, p);
    CHECK(y5, "p = 1 failed: %s", mt_last_error());
    for (int i = 0; i < n; i++) CHECK(MT_DATA(y5)[i] == 0, "p = 1 must zero everything");
    p.p = 1.5;
    CHECK(mt_dropout(x, p) == NULL, "p > 1 must be rejected");
    mt_error_clear();
    mt_tensor *rel[] = {mref, x, y, ones, y2, y3, y4, y5};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) mt_tensor_release(rel[i]);
    free(xv);
}

TEST(pool_norm_cuda_matches_fixtures)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    mt_device d = mt_cuda(0);
    for (size_t i = 0; i < sizeof MAXPOOL / sizeof *MAXPOOL; i++)
        if (!pool_case(T_, MAXPOOL[i], 0, d)) return;
    for (size_t i = 0; i < sizeof AVGPOOL / sizeof *AVGPOOL; i++)
        if (!pool_case(T_, AVGPOOL[i], 1, d)) return;
    if (!unpool_run(T_, d) || !gap_run(T_, d)) return;
    /* cuDNN reduces in another order: looser tolerance than the CPU */
    if (!bn_run(T_, "bn_affine", d, 1e-4, 1e-4) || !bn_run(T_, "bn_plain", d, 1e-4, 1e-4) ||
        !bn_run(T_, "bn_2d", d, 1e-4, 1e-4) || !keras3_run(T_, d, 1e-4, 1e-4))
        return;
    /* dropout: the GPU mask equals the CPU mask bit for bit */
    int s[2] = {33, 65};
    mt_tensor *x = mt_tensor_new(MT_REAL, mt_cpu(), 2, s);
    CHECK_OK(mt_tensor_fill(x, 2.0));
    mt_tensor *xg = mt_tensor_to(x, d);
    mt_dropout_params p = {0.4, 1, 77, 12345};
    mt_tensor *yc = mt_dropout(x, p), *yg = mt_dropout(xg, p);
    CHECK(yc && yg, "dropout failed: %s", mt_last_error());
    mt_tensor *yh = mt_tensor_to(yg, mt_cpu());
    CHECK(yh && !memcmp(MT_DATA(yh), MT_DATA(yc), mt_nbytes(yc)), "CUDA dropout mask differs from the CPU's");
    mt_tensor *rel[] = {x, xg, yc, yg, yh};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) mt_tensor_release(rel[i]);
}
