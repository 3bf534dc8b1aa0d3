/* tests/test_init.c: weight initialisers (layers/init.h) against torch.nn.init
 * (fans, gains and bounds from torch's own functions, and the statistics of a
 * torch sample of the same init; fixtures from tests/fixtures/gen_optim.py,
 * group init/) and against the Keras formulas (VarianceScaling). Our numbers
 * come from a different generator, so samples are compared statistically:
 * bounds exactly, mean within 5 standard errors, std within 3 %. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/device.h"
#include "../layers/init.h"
#include "fixture.h"
#include "test.h"

#define FX "tests/fixtures/optim.h5"

typedef struct stats {
    double mean, std, min, max, absmax;
} stats;

static stats stats_of(const mt_tensor *w)
{
    stats s = {0, 0, INFINITY, -INFINITY, 0};
    size_t n = mt_numel(w);
    const mt_real *x = MT_DATA(w);
    for (size_t i = 0; i < n; i++) {
        s.mean += x[i];
        if (x[i] < s.min) s.min = x[i];
        if (x[i] > s.max) s.max = x[i];
    }
    s.mean /= (double)n;
    for (size_t i = 0; i < n; i++) s.std += (x[i] - s.mean) * (x[i] - s.mean);
    s.std = sqrt(s.std / (double)(n - 1));
    s.absmax = fmax(fabs(s.min), fabs(s.max));
    return s;
}

static mt_tensor *new_shape(int ndim, const int *shape) { return mt_tensor_new(MT_REAL, mt_cpu(), ndim, shape); }

/* Applies our equivalent of fixture case `name` to w (and bias b where the case has one). */
static mt_status apply_case(const char *name, mt_tensor *w, mt_tensor *b, mt_rng *rng)
{
    if (!strcmp(name, "conv_default") || !strcmp(name, "linear_default")) return mt_init_torch_default(w, b, 0, rng);
    if (!strcmp(name, "convT_default")) return mt_init_torch_default(w, b, 1, rng);
    if (!strcmp(name, "kaiming_uniform_relu_fan_in")) return mt_init_kaiming_uniform(w, 0, 1, 0, rng);
    if (!strcmp(name, "kaiming_normal_fan_out")) return mt_init_kaiming_normal(w, 0.2, 0, 0, rng);
    if (!strcmp(name, "kaiming_normal_convT_fan_in")) return mt_init_kaiming_normal(w, 0, 1, 1, rng);
    if (!strcmp(name, "xavier_uniform")) return mt_init_xavier_uniform(w, 1.0, rng);
    if (!strcmp(name, "xavier_normal_tanh")) return mt_init_xavier_normal(w, mt_init_calculate_gain("tanh", NAN), rng);
    if (!strcmp(name, "normal_gan")) return mt_init_normal(w, 0, 0.02, rng);
    if (!strcmp(name, "trunc_normal")) return mt_init_trunc_normal(w, 0, 0.5, -1.0, 0.25, rng);
    return MT_ERR(MT_ERR_INVALID, "unknown init case %s", name);
}

static int is_uniform(const char *name)
{
    return strstr(name, "_default") || strstr(name, "uniform");
}

TEST(init_matches_torch_formulas_and_statistics)
{
    static const char *cases[] = {"conv_default",           "convT_default",          "linear_default",
                                  "kaiming_uniform_relu_fan_in", "kaiming_normal_fan_out", "kaiming_normal_convT_fan_in",
                                  "xavier_uniform",         "xavier_normal_tanh",     "normal_gan",
                                  "trunc_normal"};
    mt_rng rng = {20240601u, 0};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const char *name = cases[ci];
        char grp[96];
        snprintf(grp, sizeof grp, "init/%s", name);
        int shape[8];
        int nd = fx_attr_ints(FX, grp, "shape", shape, 8);
        CHECK(nd >= 2, "%s: fixture shape missing", grp);
        double fan_in_t, fan_out_t, bound_t, t_mean, t_std, t_absmax, t_min, t_max;
        CHECK(fx_attr(FX, grp, "fan_in", &fan_in_t) && fx_attr(FX, grp, "fan_out", &fan_out_t) &&
                  fx_attr(FX, grp, "bound_or_std", &bound_t) && fx_attr(FX, grp, "torch_mean", &t_mean) &&
                  fx_attr(FX, grp, "torch_std", &t_std) && fx_attr(FX, grp, "torch_absmax", &t_absmax) &&
                  fx_attr(FX, grp, "torch_min", &t_min) && fx_attr(FX, grp, "torch_max", &t_max),
              "%s: fixture attributes missing", grp);
        mt_tensor *w = new_shape(nd, shape);
        /* bias [out] (used by the *_default cases only): shape[0], or shape[1] for a transposed weight */
        mt_tensor *b = new_shape(1, !strcmp(name, "convT_default") ? &shape[1] : &shape[0]);
        CHECK(w && b, "alloc");
        int fan_in, fan_out;
        CHECK_OK(mt_init_fans(w, &fan_in, &fan_out));
        CHECK(fan_in == (int)fan_in_t && fan_out == (int)fan_out_t, "%s: fans %d/%d, torch %g/%g", name, fan_in,
              fan_out, fan_in_t, fan_out_t);
        uint64_t off0 = rng.offset;
        CHECK_OK(apply_case(name, w, b, &rng));
        int has_bias = strstr(name, "_default") != NULL;
        CHECK(rng.offset == off0 + mt_numel(w) + (has_bias ? mt_numel(b) : 0), "%s: stream advanced by %llu", name,
              (unsigned long long)(rng.offset - off0));
        size_t n = mt_numel(w);
        stats s = stats_of(w);
        double exp_std = is_uniform(name) ? bound_t / sqrt(3.0) : bound_t;
        if (!strcmp(name, "trunc_normal")) {
            /* torch's sample carries the truncated moments */
            CHECK(s.min >= -1.0 && s.max <= 0.25, "%s: values outside [-1, 0.25]: %g..%g", name, s.min, s.max);
            CHECK(fabs(s.mean - t_mean) < 0.01 && fabs(s.std / t_std - 1) < 0.03,
                  "%s: mean/std %g/%g, torch sample %g/%g", name, s.mean, s.std, t_mean, t_std);
            CHECK(s.min < -0.98 && s.max > 0.249, "%s: the bounds are not reached (%g..%g)", name, s.min, s.max);
        } else {
            CHECK(fabs(s.mean) < 5 * exp_std / sqrt((double)n), "%s: mean %g too far from 0 (std %g, n %zu)", name,
                  s.mean, exp_std, n);
            CHECK(fabs(s.std / exp_std - 1) < 0.03, "%s: std %g, torch formula %g", name, s.std, exp_std);
            CHECK(fabs(s.std / t_std - 1) < 0.04, "%s: std %g, torch sample %g", name, s.std, t_std);
        }
        if (is_uniform(name)) {
            CHECK(s.absmax <= bound_t * (1 + 1e-6), "%s: |w| up to %.9g beyond the bound %.9g", name, s.absmax, bound_t);
            CHECK(s.absmax > 0.99 * bound_t && t_absmax <= bound_t * (1 + 1e-6),
                  "%s: |w| max %g, torch %g, bound %g", name, s.absmax, t_absmax, bound_t);
        }
        if (has_bias) {
            stats sb = stats_of(b);
            double bb = 1.0 / sqrt((double)fan_in);
            CHECK(sb.absmax <= bb * (1 + 1e-6) && sb.absmax > 0.8 * bb, "%s: bias |b| max %g, bound 1/sqrt(fan_in) %g",
                  name, sb.absmax, bb);
        }
        mt_tensor_release(w);
        mt_tensor_release(b);
    }
}

TEST(init_gains_match_torch)
{
    static const char *nls[] = {"linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu"};
    for (size_t i = 0; i < sizeof nls / sizeof nls[0]; i++) {
        char grp[64];
        snprintf(grp, sizeof grp, "init/gain/%s", nls[i]);
        double want;
        CHECK(fx_attr(FX, grp, "gain", &want), "fixture %s", grp);
        double got = mt_init_calculate_gain(nls[i], strcmp(nls[i], "leaky_relu") ? NAN : 0.2);
        CHECK(fabs(got - want) <= 1e-15, "gain %s: %.17g, torch %.17g", nls[i], got, want);
    }
    CHECK(isnan(mt_init_calculate_gain("swish", NAN)), "unknown nonlinearity must give NaN");
    CHECK(strstr(mt_last_error(), "leaky_relu"), "message must list the accepted names: %s", mt_last_error());
    mt_error_clear();
}

TEST(init_fans_transposed_and_errors)
{
    /* ConvTranspose2d(8 -> 12, k 3, groups 2): weight [8, 6, 3, 3]; torch: fan_in = 6*9, fan_out = 8*9 */
    mt_tensor *wt = new_shape(4, (int[]){8, 6, 3, 3});
    int fi, fo;
    CHECK_OK(mt_init_fans(wt, &fi, &fo));
    CHECK(fi == 54 && fo == 72, "transposed fans %d/%d, torch 54/72", fi, fo);
    mt_tensor *v = new_shape(1, (int[]){5});
    CHECK(mt_init_fans(v, &fi, &fo) == MT_ERR_INVALID, "rank-1 fans must fail as in torch");
    mt_error_clear();
    CHECK_OK(mt_init_keras_fans(v, 0, &fi, &fo));
    CHECK(fi == 5 && fo == 5, "keras rank-1 fans %d/%d", fi, fo);
    mt_rng rng = {1, 0};
    CHECK(mt_init_kaiming_uniform(v, 0, 1, 0, &rng) == MT_ERR_INVALID, "kaiming on a vector must fail");
    mt_error_clear();
    mt_tensor *i32 = mt_tensor_new(MT_I32, mt_cpu(), 2, (int[]){2, 2});
    CHECK(mt_init_normal(i32, 0, 1, &rng) == MT_ERR_INVALID, "int tensor must be rejected");
    mt_error_clear();
    mt_tensor_release(wt);
    mt_tensor_release(v);
    mt_tensor_release(i32);
}

/* Keras: he_normal std sqrt(2/fan_in) after truncation at +-2 sd (sd = that/.8796...),
 * glorot_uniform limit sqrt(6/(fan_in+fan_out)), EfficientNet's depthwise
 * VarianceScaling(2, fan_out = k*k, truncated), Dense VS(1/3, fan_out, uniform) = U(+-1) for 1 unit. */
TEST(init_keras_variance_scaling)
{
    mt_rng rng = {77, 0};
    mt_tensor *w = new_shape(4, (int[]){64, 32, 3, 3});
    CHECK_OK(mt_init_keras_he_normal(w, &rng));
    stats s = stats_of(w);
    double want = sqrt(2.0 / (32 * 9)), sd = want / .87962566103423978;
    CHECK(fabs(s.std / want - 1) < 0.03, "he_normal std %g, keras %g", s.std, want);
    CHECK(s.absmax <= 2 * sd * (1 + 1e-6) && s.absmax > 1.95 * sd, "he_normal |w| max %g, cut at %g", s.absmax, 2 * sd);
    CHECK_OK(mt_init_keras_glorot_uniform(w, &rng));
    s = stats_of(w);
    double limit = sqrt(6.0 / (32 * 9 + 64 * 9));
    CHECK(s.absmax <= limit * (1 + 1e-6) && s.absmax > 0.99 * limit, "glorot_uniform |w| max %g, limit %g", s.absmax,
          limit);
    CHECK(fabs(s.std / (limit / sqrt(3.0)) - 1) < 0.03, "glorot_uniform std %g", s.std);
    CHECK_OK(mt_init_keras_he_uniform(w, &rng));
    s = stats_of(w);
    CHECK(fabs(s.absmax / sqrt(6.0 / (32 * 9)) - 1) < 0.01, "he_uniform |w| max %g", s.absmax);
    mt_tensor *dw = new_shape(4, (int[]){960, 1, 3, 3});
    CHECK_OK(mt_init_variance_scaling(dw, 2.0, MT_FAN_OUT, MT_VS_TRUNCATED_NORMAL, 1, &rng));
    s = stats_of(dw);
    CHECK(fabs(s.std / sqrt(2.0 / 9) - 1) < 0.03, "depthwise std %g, keras sqrt(2/9) = %g", s.std, sqrt(2.0 / 9));
    mt_tensor *dense = new_shape(2, (int[]){1, 1280});
    CHECK_OK(mt_init_variance_scaling(dense, 1.0 / 3, MT_FAN_OUT, MT_VS_UNIFORM, 0, &rng));
    s = stats_of(dense);
    CHECK(s.absmax <= 1.0 && s.absmax > 0.99, "dense head U(+-1): |w| max %g", s.absmax);
    mt_tensor_release(w);
    mt_tensor_release(dw);
    mt_tensor_release(dense);
}

TEST(init_deterministic_counter_streams)
{
    mt_tensor *a = new_shape(2, (int[]){16, 16}), *b = new_shape(2, (int[]){16, 16});
    mt_rng r1 = {42, 100}, r2 = {42, 100};
    CHECK_OK(mt_init_normal(a, 0, 1, &r1));
    CHECK_OK(mt_init_normal(b, 0, 1, &r2));
    CHECK(!memcmp(MT_DATA(a), MT_DATA(b), mt_nbytes(a)), "same (seed, offset) must give the same values");
    CHECK(r1.offset == 356, "offset advanced to %llu, expected 356", (unsigned long long)r1.offset);
    CHECK_OK(mt_init_normal(b, 0, 1, &r2));
    CHECK(memcmp(MT_DATA(a), MT_DATA(b), mt_nbytes(a)) != 0, "the next draw must differ");
    /* element i uses counter offset + i: a draw at offset 101 is the first one shifted by one */
    mt_rng r3 = {42, 101};
    CHECK_OK(mt_init_normal(b, 0, 1, &r3));
    CHECK(!memcmp(MT_DATA(a) + 1, MT_DATA(b), mt_nbytes(a) - sizeof(mt_real)), "counter layout must be offset + i");
    if (mt_device_available(mt_cuda(0))) {
        mt_tensor *g = mt_tensor_new(MT_REAL, mt_cuda(0), 2, (int[]){16, 16});
        mt_rng r4 = {42, 100};
        CHECK_OK(mt_init_normal(g, 0, 1, &r4));
        mt_real host[256];
        CHECK_OK(mt_tensor_to_host(g, host, sizeof host));
        CHECK(!memcmp(host, MT_DATA(a), sizeof host), "CUDA tensor must get the same values");
        mt_tensor_release(g);
    }
    mt_tensor *gamma = new_shape(1, (int[]){8}), *beta = new_shape(1, (int[]){8});
    CHECK_OK(mt_init_torch_batch_norm(gamma, beta));
    for (int i = 0; i < 8; i++)
        CHECK(MT_DATA(gamma)[i] == 1 && MT_DATA(beta)[i] == 0, "batch norm defaults must be 1 and 0");
    mt_tensor_release(a);
    mt_tensor_release(b);
    mt_tensor_release(gamma);
    mt_tensor_release(beta);
}
