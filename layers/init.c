/* layers/init.c: weight initialisers (init.h). Values are drawn on the host
 * in double from the Philox counter stream and copied to the tensor. */
#include "init.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Distributions a fill can draw from (one counter per element). */
typedef enum dist_kind { DIST_UNIFORM, DIST_NORMAL, DIST_TRUNC_NORMAL } dist_kind;

typedef struct dist {
    dist_kind kind;
    double lo, hi;     /* uniform bounds; truncation bounds (absolute) */
    double mean, std;  /* normal */
} dist;

static mt_status check_real(const mt_tensor *w, const char *what)
{
    if (!w) return mt_last_status() ? mt_last_status() : MT_ERR(MT_ERR_INVALID, "%s: NULL tensor", what);
    MT_REQUIRE(w->dtype == MT_REAL, "%s: expected a %s tensor, got %s", what, mt_dtype_name(MT_REAL),
               mt_dtype_name(w->dtype));
    return MT_OK;
}

/* Standard normal CDF. */
static double norm_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* Inverse of the standard normal CDF for p in (0, 1): Acklam's rational
 * approximation (relative error 1.2e-9) refined by one Halley step, which
 * brings it to double precision. */
static double norm_icdf(double p)
{
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                6.680131188771972e+01,  -1.328068155288572e+01};
    static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
    const double plow = 0.02425, phigh = 1 - plow;
    double x;
    if (p < plow) {
        double q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= phigh) {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        double q = sqrt(-2 * log(1 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double e = norm_cdf(x) - p;
    double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

/* Fills w with n draws of `d` using counters [rng->offset, rng->offset + n). */
static mt_status fill_dist(mt_tensor *w, const dist *d, mt_rng *rng, const char *what)
{
    MT_TRY(check_real(w, what));
    MT_REQUIRE(rng != NULL, "%s: NULL random stream", what);
    size_t n = mt_numel(w);
    mt_real *host = mt_malloc(n ? n * sizeof *host : 1);
    if (!host) return MT_ERR_NOMEM;
    uint64_t off = mt_rng_next_offset(rng, n);
    double cdf_lo = 0, cdf_hi = 0;
    if (d->kind == DIST_TRUNC_NORMAL) {
        cdf_lo = norm_cdf((d->lo - d->mean) / d->std);
        cdf_hi = norm_cdf((d->hi - d->mean) / d->std);
    }
    for (size_t i = 0; i < n; i++) {
        double v;
        if (d->kind == DIST_UNIFORM) {
            v = d->lo + (d->hi - d->lo) * mt_philox_uniform_d(rng->seed, off + i);
        } else if (d->kind == DIST_NORMAL) {
            v = d->mean + d->std * mt_philox_normal(rng->seed, off + i);
        } else {
            /* inverse-CDF sampling inside [cdf_lo, cdf_hi] (as torch trunc_normal_), clamped to the bounds */
            double p = cdf_lo + (cdf_hi - cdf_lo) * mt_philox_uniform_d(rng->seed, off + i);
            if (p <= 0) p = 1e-300;
            if (p >= 1) p = 1 - 1e-16;
            v = d->mean + d->std * norm_icdf(p);
            if (v < d->lo) v = d->lo;
            if (v > d->hi) v = d->hi;
        }
        host[i] = (mt_real)v;
    }
    mt_status s = mt_tensor_from_host_into(w, host, n * sizeof *host);
    free(host);
    return s;
}

mt_status mt_init_fans(const mt_tensor *w, int *fan_in, int *fan_out)
{
    if (!w) return mt_last_status() ? mt_last_status() : MT_ERR(MT_ERR_INVALID, "init fans: NULL tensor");
    MT_REQUIRE(w->ndim >= 2,
               "fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (rank %d)", w->ndim);
    int receptive = 1;
    for (int i = 2; i < w->ndim; i++) receptive *= w->shape[i];
    *fan_in = w->shape[1] * receptive;
    *fan_out = w->shape[0] * receptive;
    return MT_OK;
}

mt_status mt_init_keras_fans(const mt_tensor *w, int depth_multiplier, int *fan_in, int *fan_out)
{
    if (!w) return mt_last_status() ? mt_last_status() : MT_ERR(MT_ERR_INVALID, "init fans: NULL tensor");
    MT_REQUIRE(depth_multiplier >= 0, "keras fans: depth multiplier %d must be >= 0", depth_multiplier);
    if (w->ndim == 0) {
        *fan_in = *fan_out = 1;
        return MT_OK;
    }
    if (w->ndim == 1) {
        *fan_in = *fan_out = w->shape[0];
        return MT_OK;
    }
    if (depth_multiplier == 0) return mt_init_fans(w, fan_in, fan_out);
    MT_REQUIRE(w->ndim >= 3 && w->shape[1] == 1 && w->shape[0] % depth_multiplier == 0,
               "keras fans: a depthwise weight must be [C*%d, 1, kh, kw]", depth_multiplier);
    int receptive = 1;
    for (int i = 2; i < w->ndim; i++) receptive *= w->shape[i];
    *fan_in = w->shape[0] / depth_multiplier * receptive;
    *fan_out = depth_multiplier * receptive;
    return MT_OK;
}

double mt_init_calculate_gain(const char *nl, double param)
{
    static const char *const linear[] = {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                                         "conv_transpose2d", "conv_transpose3d", "sigmoid"};
    if (!nl) {
        MT_ERR(MT_ERR_INVALID, "calculate_gain: NULL nonlinearity");
        return NAN;
    }
    for (size_t i = 0; i < sizeof linear / sizeof linear[0]; i++)
        if (!strcmp(nl, linear[i])) return 1.0;
    if (!strcmp(nl, "tanh")) return 5.0 / 3;
    if (!strcmp(nl, "relu")) return sqrt(2.0);
    if (!strcmp(nl, "leaky_relu")) {
        double slope = isnan(param) ? 0.01 : param;
        return sqrt(2.0 / (1 + slope * slope));
    }
    if (!strcmp(nl, "selu")) return 3.0 / 4;
    MT_ERR(MT_ERR_INVALID,
           "calculate_gain: unsupported nonlinearity '%s' (linear, conv1d, conv2d, conv3d, conv_transpose1d, "
           "conv_transpose2d, conv_transpose3d, sigmoid, tanh, relu, leaky_relu, selu)",
           nl);
    return NAN;
}

mt_status mt_init_constant(mt_tensor *w, double v)
{
    MT_TRY(check_real(w, "init constant"));
    return mt_tensor_fill(w, v);
}

mt_status mt_init_uniform(mt_tensor *w, double lo, double hi, mt_rng *rng)
{
    MT_REQUIRE(lo <= hi, "init uniform: lower bound %g above upper bound %g", lo, hi);
    dist d = {DIST_UNIFORM, lo, hi, 0, 0};
    return fill_dist(w, &d, rng, "init uniform");
}

mt_status mt_init_normal(mt_tensor *w, double mean, double std, mt_rng *rng)
{
    MT_REQUIRE(std >= 0, "init normal: std %g must be >= 0", std);
    dist d = {DIST_NORMAL, 0, 0, mean, std};
    return fill_dist(w, &d, rng, "init normal");
}

mt_status mt_init_trunc_normal(mt_tensor *w, double mean, double std, double a, double b, mt_rng *rng)
{
    MT_REQUIRE(std > 0, "init trunc_normal: std %g must be > 0", std);
    MT_REQUIRE(a < b, "init trunc_normal: bounds [%g, %g] are empty", a, b);
    dist d = {DIST_TRUNC_NORMAL, a, b, mean, std};
    return fill_dist(w, &d, rng, "init trunc_normal");
}

/* std of kaiming init with negative slope a on fan mode */
static mt_status kaiming_std(const mt_tensor *w, double a, int fan_mode_in, int transposed, double *std)
{
    int fan_in, fan_out;
    MT_TRY(mt_init_fans(w, &fan_in, &fan_out));
    MT_REQUIRE(!transposed || w->ndim >= 3, "kaiming init: a transposed-conv weight [in, out/groups, kh, kw] "
               "must have rank >= 3 (got %d)", w->ndim);
    int fan = fan_mode_in ? fan_in : fan_out;
    MT_REQUIRE(fan > 0, "kaiming init: %s is 0 for this weight (an empty dimension)", fan_mode_in ? "fan_in" : "fan_out");
    double gain = sqrt(2.0 / (1 + a * a));
    *std = gain / sqrt((double)fan);
    return MT_OK;
}

mt_status mt_init_kaiming_uniform(mt_tensor *w, double a, int fan_mode_in, int transposed, mt_rng *rng)
{
    double std;
    MT_TRY(check_real(w, "kaiming_uniform"));
    if (mt_numel(w) == 0) return MT_OK; /* torch: initialising a zero-element tensor is a no-op */
    MT_TRY(kaiming_std(w, a, fan_mode_in, transposed, &std));
    double bound = sqrt(3.0) * std;
    return mt_init_uniform(w, -bound, bound, rng);
}

mt_status mt_init_kaiming_normal(mt_tensor *w, double a, int fan_mode_in, int transposed, mt_rng *rng)
{
    double std;
    MT_TRY(check_real(w, "kaiming_normal"));
    if (mt_numel(w) == 0) return MT_OK;
    MT_TRY(kaiming_std(w, a, fan_mode_in, transposed, &std));
    return mt_init_normal(w, 0, std, rng);
}

static mt_status xavier_std(const mt_tensor *w, double gain, double *std)
{
    int fan_in, fan_out;
    MT_TRY(check_real(w, "xavier init"));
    MT_TRY(mt_init_fans(w, &fan_in, &fan_out));
    MT_REQUIRE(fan_in + fan_out > 0, "xavier init: fan_in + fan_out is 0 for this weight");
    *std = gain * sqrt(2.0 / (double)(fan_in + fan_out));
    return MT_OK;
}

mt_status mt_init_xavier_uniform(mt_tensor *w, double gain, mt_rng *rng)
{
    double std;
    MT_TRY(xavier_std(w, gain, &std));
    double bound = sqrt(3.0) * std;
    return mt_init_uniform(w, -bound, bound, rng);
}

mt_status mt_init_xavier_normal(mt_tensor *w, double gain, mt_rng *rng)
{
    double std;
    MT_TRY(xavier_std(w, gain, &std));
    return mt_init_normal(w, 0, std, rng);
}

mt_status mt_init_variance_scaling(mt_tensor *w, double scale, mt_fan_mode mode, mt_vs_distribution dist_kind,
                                   int depth_multiplier, mt_rng *rng)
{
    int fan_in, fan_out;
    MT_TRY(check_real(w, "variance scaling"));
    MT_REQUIRE(scale > 0, "variance scaling: scale %g must be > 0", scale);
    MT_TRY(mt_init_keras_fans(w, depth_multiplier, &fan_in, &fan_out));
    double n;
    switch (mode) {
    case MT_FAN_IN: n = fan_in; break;
    case MT_FAN_OUT: n = fan_out; break;
    case MT_FAN_AVG: n = (fan_in + fan_out) / 2.0; break;
    default: return MT_ERR(MT_ERR_INVALID, "variance scaling: unknown fan mode %d (0 fan_in, 1 fan_out, 2 fan_avg)", (int)mode);
    }
    double s = scale / (n > 1.0 ? n : 1.0);
    switch (dist_kind) {
    case MT_VS_TRUNCATED_NORMAL: {
        double sd = sqrt(s) / .87962566103423978;
        return mt_init_trunc_normal(w, 0, sd, -2 * sd, 2 * sd, rng);
    }
    case MT_VS_UNTRUNCATED_NORMAL: return mt_init_normal(w, 0, sqrt(s), rng);
    case MT_VS_UNIFORM: {
        double limit = sqrt(3.0 * s);
        return mt_init_uniform(w, -limit, limit, rng);
    }
    }
    return MT_ERR(MT_ERR_INVALID, "variance scaling: unknown distribution %d (0 truncated_normal, "
                  "1 untruncated_normal, 2 uniform)", (int)dist_kind);
}

mt_status mt_init_keras_glorot_uniform(mt_tensor *w, mt_rng *rng)
{
    return mt_init_variance_scaling(w, 1.0, MT_FAN_AVG, MT_VS_UNIFORM, 0, rng);
}

mt_status mt_init_keras_glorot_normal(mt_tensor *w, mt_rng *rng)
{
    return mt_init_variance_scaling(w, 1.0, MT_FAN_AVG, MT_VS_TRUNCATED_NORMAL, 0, rng);
}

mt_status mt_init_keras_he_normal(mt_tensor *w, mt_rng *rng)
{
    return mt_init_variance_scaling(w, 2.0, MT_FAN_IN, MT_VS_TRUNCATED_NORMAL, 0, rng);
}

mt_status mt_init_keras_he_uniform(mt_tensor *w, mt_rng *rng)
{
    return mt_init_variance_scaling(w, 2.0, MT_FAN_IN, MT_VS_UNIFORM, 0, rng);
}

mt_status mt_init_torch_default(mt_tensor *w, mt_tensor *b, int transposed, mt_rng *rng)
{
    MT_TRY(mt_init_kaiming_uniform(w, sqrt(5.0), 1, transposed, rng));
    if (!b) return MT_OK;
    int fan_in, fan_out;
    MT_TRY(mt_init_fans(w, &fan_in, &fan_out));
    if (fan_in == 0) return MT_OK;
    double bound = 1.0 / sqrt((double)fan_in);
    return mt_init_uniform(b, -bound, bound, rng);
}

mt_status mt_init_torch_batch_norm(mt_tensor *weight, mt_tensor *bias)
{
    if (weight) MT_TRY(mt_init_constant(weight, 1.0));
    if (bias) MT_TRY(mt_init_constant(bias, 0.0));
    return MT_OK;
}
