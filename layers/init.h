/* layers/init.h: weight initialisers with the exact formulas of
 * torch.nn.init (PyTorch 1.13) and of the Keras initialisers
 * (tf.keras.initializers), plus the default initialisation of PyTorch's
 * Conv2d / ConvTranspose2d / Linear / BatchNorm2d layers.
 *
 * Random numbers come from a core/rng.h counter stream: a call that fills
 * n elements uses counters [rng->offset, rng->offset + n) of rng->seed
 * (element i uses counter offset + i) and advances rng->offset by n, so a
 * model initialised from (seed, 0) layer by layer is reproducible on any
 * device and thread count. Values are generated on the host in double and
 * copied to the tensor's device (any device; dtype must be MT_REAL). The
 * numbers differ from torch's (different generator); the distributions,
 * bounds and fans are torch's / Keras's.
 *
 * Fans (torch.nn.init._calculate_fan_in_and_fan_out): for w of rank >= 2,
 * receptive = prod(shape[2:]), fan_in = shape[1] * receptive,
 * fan_out = shape[0] * receptive. Our layouts are PyTorch's: conv
 * [out, in/groups, kh, kw] (fan_in = in/groups*kh*kw, fan_out = out*kh*kw),
 * transposed conv [in, out/groups, kh, kw] (torch reads dim 1 there too:
 * fan_in = out/groups*kh*kw, fan_out = in*kh*kw), linear [out, in].
 * Keras computes the same fans for Conv2D, Conv2DTranspose and Dense kernels
 * in these layouts; only depthwise kernels differ (see mt_init_keras_fans).
 */
#ifndef MT_INIT_H
#define MT_INIT_H

#include "../core/rng.h"
#include "../core/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fan mode of kaiming / variance scaling. */
typedef enum mt_fan_mode { MT_FAN_IN = 0, MT_FAN_OUT = 1, MT_FAN_AVG = 2 } mt_fan_mode;

/* torch.nn.init._calculate_fan_in_and_fan_out for w's shape (see above).
 * Errors: MT_ERR_INVALID for rank < 2 (torch raises ValueError too). */
mt_status mt_init_fans(const mt_tensor *w, int *fan_in, int *fan_out);

/* tf.keras initializers' _compute_fans for a weight in our (PyTorch) layout.
 * depth_multiplier = 0: the same as mt_init_fans, except rank 1 gives
 * fan_in = fan_out = shape[0] and rank 0 gives 1 (Keras). depth_multiplier
 * = m > 0: w is a depthwise conv weight [C*m, 1, kh, kw] (groups = C), whose
 * Keras kernel is (kh, kw, C, m): fan_in = C*kh*kw, fan_out = m*kh*kw
 * (EfficientNet's "fan_out = k*k" for m = 1). */
mt_status mt_init_keras_fans(const mt_tensor *w, int depth_multiplier, int *fan_in, int *fan_out);

/* torch.nn.init.calculate_gain: 'linear'/'conv*'/'sigmoid' 1, 'tanh' 5/3,
 * 'relu' sqrt(2), 'leaky_relu' sqrt(2/(1+slope^2)) (param = negative slope,
 * NaN for torch's default 0.01), 'selu' 3/4. Unknown names: returns NaN and
 * records MT_ERR_INVALID listing the accepted names. */
double mt_init_calculate_gain(const char *nonlinearity, double param);

/* w[:] = v (torch.nn.init.constant_, zeros_, ones_). */
mt_status mt_init_constant(mt_tensor *w, double v);

/* U(lo, hi): lo + (hi - lo) * u, u in [0, 1) (torch.nn.init.uniform_). */
mt_status mt_init_uniform(mt_tensor *w, double lo, double hi, mt_rng *rng);

/* N(mean, std^2) (torch.nn.init.normal_; the GAN init N(0, 0.02), BN gamma
 * N(1, 0.02)). std >= 0. */
mt_status mt_init_normal(mt_tensor *w, double mean, double std, mt_rng *rng);

/* N(mean, std^2) truncated to [a, b] (absolute bounds), by the inverse CDF
 * as torch.nn.init.trunc_normal_. Requires a < b and std > 0. */
mt_status mt_init_trunc_normal(mt_tensor *w, double mean, double std, double a, double b, mt_rng *rng);

/* He/Kaiming (He et al., ICCV 2015) as torch.nn.init.kaiming_uniform_ /
 * kaiming_normal_ with nonlinearity 'leaky_relu' and negative slope `a`
 * (a = 0 gives the 'relu' gain sqrt(2)):
 *   gain = sqrt(2 / (1 + a^2)), std = gain / sqrt(fan),
 *   uniform: U(-sqrt(3)*std, sqrt(3)*std); normal: N(0, std^2),
 * fan = fan_in when fan_mode_in != 0, else fan_out (mt_init_fans).
 * `transposed` states that w is a ConvTranspose weight [in, out/groups, kh, kw];
 * torch applies the same dim-1 rule to it (fan_in = out/groups*kh*kw), so the
 * fans are unchanged; the flag only requires such a weight to have rank >= 3.
 * Errors: rank < 2, fan 0. */
mt_status mt_init_kaiming_uniform(mt_tensor *w, double a, int fan_mode_in, int transposed, mt_rng *rng);
mt_status mt_init_kaiming_normal(mt_tensor *w, double a, int fan_mode_in, int transposed, mt_rng *rng);

/* Glorot/Xavier (Glorot & Bengio, AISTATS 2010) as torch.nn.init.xavier_uniform_ /
 * xavier_normal_: std = gain * sqrt(2 / (fan_in + fan_out)); uniform bound sqrt(3)*std. */
mt_status mt_init_xavier_uniform(mt_tensor *w, double gain, mt_rng *rng);
mt_status mt_init_xavier_normal(mt_tensor *w, double gain, mt_rng *rng);

/* Keras VarianceScaling(scale, mode, distribution) with Keras fans
 * (mt_init_keras_fans with depth_multiplier): n = fan_in, fan_out or
 * (fan_in + fan_out)/2 by mode, s = scale / max(1, n), and
 *   MT_VS_TRUNCATED_NORMAL: N(0, sd^2) truncated to +-2 sd, sd = sqrt(s)/.87962566103423978
 *   MT_VS_UNTRUNCATED_NORMAL: N(0, s)
 *   MT_VS_UNIFORM: U(-sqrt(3 s), sqrt(3 s)). */
typedef enum mt_vs_distribution {
    MT_VS_TRUNCATED_NORMAL = 0,
    MT_VS_UNTRUNCATED_NORMAL = 1,
    MT_VS_UNIFORM = 2
} mt_vs_distribution;
mt_status mt_init_variance_scaling(mt_tensor *w, double scale, mt_fan_mode mode, mt_vs_distribution dist,
                                   int depth_multiplier, mt_rng *rng);

/* Keras named initialisers (all variance scaling, depth multiplier 0):
 * glorot_uniform = VS(1, fan_avg, uniform) (the Keras kernel default),
 * glorot_normal = VS(1, fan_avg, truncated), he_normal = VS(2, fan_in,
 * truncated: stddev sqrt(2/fan_in)/.87962566103423978 cut at +-2 stddev),
 * he_uniform = VS(2, fan_in, uniform). Keras biases default to zeros
 * (mt_init_constant(b, 0)). */
mt_status mt_init_keras_glorot_uniform(mt_tensor *w, mt_rng *rng);
mt_status mt_init_keras_glorot_normal(mt_tensor *w, mt_rng *rng);
mt_status mt_init_keras_he_normal(mt_tensor *w, mt_rng *rng);
mt_status mt_init_keras_he_uniform(mt_tensor *w, mt_rng *rng);

/* PyTorch's default layer initialisation (_ConvNd / Linear reset_parameters):
 * weight kaiming_uniform(a = sqrt(5)), i.e. U(+-1/sqrt(fan_in)), then, when b
 * is not NULL, bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in from the
 * weight (bias untouched if fan_in is 0, as torch). Weight first, then bias,
 * from the same stream. Conv2d [out, in/g, kh, kw], ConvTranspose2d
 * [in, out/g, kh, kw] (transposed = 1), Linear [out, in] (transposed = 0). */
mt_status mt_init_torch_default(mt_tensor *w, mt_tensor *b, int transposed, mt_rng *rng);

/* PyTorch BatchNorm default: weight (gamma) 1, bias (beta) 0; either may be NULL. */
mt_status mt_init_torch_batch_norm(mt_tensor *weight, mt_tensor *bias);

#ifdef __cplusplus
}
#endif
#endif
