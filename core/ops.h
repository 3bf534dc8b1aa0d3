/* core/ops.h: the public ops of medtrain (PyTorch torch.nn.functional
 * equivalents). Each returns a new tensor (or MT_OK) and records autograd
 * history when needed; each returns NULL on error with the message in
 * mt_last_error(). A NULL input propagates (sticky errors, see error.h).
 *
 * Layout is NCHW throughout. Every op's descriptor lives in core/ops/<file>.c
 * with its CUDA twin in core/ops/<file>.cu. The conventions that forward and
 * backward kernels of both devices share (saved tensors, index encodings) are
 * written next to each op below and are part of the contract.
 */
#ifndef MT_OPS_H
#define MT_OPS_H

#include <stdint.h>

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- conv --- */

/* conv2d (torch.nn.functional.conv2d, with explicit top/bottom/left/right
 * padding so TF/Keras "same" is exact; see mt_same_padding).
 * x [N, C, H, W], w [O, C/groups, KH, KW], b [O] or NULL -> y [N, O, HO, WO],
 * HO = (H + pad_top + pad_bottom - dil_h*(KH-1) - 1) / stride_h + 1 (floor). */
typedef struct mt_conv2d_params {
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right;
    int dil_h, dil_w;
    int groups;
} mt_conv2d_params;
/* stride 1, no padding, dilation 1, groups 1 */
mt_conv2d_params mt_conv2d_default(void);
mt_tensor *mt_conv2d(mt_tensor *x, mt_tensor *w, mt_tensor *b, mt_conv2d_params p);
extern const mt_op mt_op_conv2d;

/* TF/Keras "same" padding for one axis: out = ceil(in/stride),
 * total = max((out-1)*stride + dil*(k-1) + 1 - in, 0), before = total/2,
 * after = total - before (extra pixel bottom/right). */
void mt_same_padding(int in, int k, int stride, int dil, int *before, int *after);

/* conv_transpose2d (torch.nn.functional.conv_transpose2d).
 * x [N, C, H, W], w [C, O/groups, KH, KW], b [O] or NULL -> y [N, O, HO, WO],
 * HO = (H-1)*stride_h - pad_top - pad_bottom + dil_h*(KH-1) + out_pad_h + 1. */
typedef struct mt_conv_transpose2d_params {
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right;
    int out_pad_h, out_pad_w;
    int dil_h, dil_w;
    int groups;
} mt_conv_transpose2d_params;
mt_conv_transpose2d_params mt_conv_transpose2d_default(void);
mt_tensor *mt_conv_transpose2d(mt_tensor *x, mt_tensor *w, mt_tensor *b, mt_conv_transpose2d_params p);
extern const mt_op mt_op_conv_transpose2d;

/* linear (torch.nn.functional.linear): x [N, IN] (or [..., IN]), w [OUT, IN], b [OUT] or NULL -> [..., OUT]. */
mt_tensor *mt_linear(mt_tensor *x, mt_tensor *w, mt_tensor *b);
extern const mt_op mt_op_linear;

/* ------------------------------------------------------ mixed precision --- */

/* Differentiable cast (torch.Tensor.to(dtype)) between MT_F32, MT_F64, MT_BF16
 * and MT_F16, any shape. Narrowing rounds to nearest even (NaN stays NaN, inf
 * stays inf, tiny values go to subnormals or zero; core/ops/half.h); backward
 * casts the gradient back to x's type (a low-precision tensor's gradient is
 * an MT_REAL tensor rounded to its precision, core/ops/lowp.h). x already of
 * type dt: returns a new reference to x. NULL on error (MT_ERR_INVALID for a
 * non-floating type). */
mt_tensor *mt_to_dtype(mt_tensor *x, mt_dtype dt);
extern const mt_op mt_op_to_dtype;

/* Autocast of this thread (torch.autocast): MT_BF16 or MT_F16 turns it on,
 * anything else (MT_F32) off; returns the previous setting. While on, the
 * lower-precision ops (conv2d, conv_transpose2d, linear: the list is in
 * core/ops/autocast.c) get their MT_F32 inputs cast to that type by
 * mt_to_dtype; their outputs and every other op stay MT_F32. Read it with
 * mt_get_autocast (op.h). On this CPU the low-precision kernels are
 * emulated (float32 GEMM on widened inputs, results rounded). */
mt_dtype mt_set_autocast(mt_dtype dt);
/* 1 if autocast casts op's inputs (op is on the lower-precision list). */
int mt_autocast_listed(const mt_op *op);

/* ------------------------------------------------------------- pooling --- */

/* max_pool2d with argmax indices (torch max_pool2d(return_indices=True)).
 * x [N, C, H, W] -> y [N, C, HO, WO]; padding is -inf. ceil_mode as PyTorch
 * (a window may not start in the right/bottom padding).
 * saved[0] / *indices: MT_I32 [N, C, HO, WO], flat index h*W + w of the
 * maximum within its input plane (PyTorch convention). Ties: the first maximum
 * in row-major window order wins. `indices` may be NULL; if not, it receives a
 * new reference (no grad) for max_unpool2d. */
typedef struct mt_pool2d_params {
    int kh, kw;
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right;
    int ceil_mode;
    int count_include_pad; /* avg_pool2d only */
    int divisor_override;  /* avg_pool2d only; 0 = none */
} mt_pool2d_params;
/* kernel k, stride k, no padding, floor mode, count_include_pad 1 */
mt_pool2d_params mt_pool2d_default(int k);
mt_tensor *mt_max_pool2d(mt_tensor *x, mt_pool2d_params p, mt_tensor **indices);
extern const mt_op mt_op_max_pool2d;

/* max_unpool2d (torch max_unpool2d): x [N, C, h, w], indices MT_I32 [N, C, h, w]
 * as produced by mt_max_pool2d -> y [N, C, out_h, out_w], zeros except
 * y.flat_plane[indices] = x. */
mt_tensor *mt_max_unpool2d(mt_tensor *x, mt_tensor *indices, int out_h, int out_w);
extern const mt_op mt_op_max_unpool2d;

/* avg_pool2d (torch avg_pool2d): count_include_pad, ceil_mode, divisor_override as PyTorch. */
mt_tensor *mt_avg_pool2d(mt_tensor *x, mt_pool2d_params p);
extern const mt_op mt_op_avg_pool2d;

/* Global average pool: x [N, C, H, W] -> [N, C, 1, 1] (adaptive_avg_pool2d(x, 1)). */
mt_tensor *mt_global_avg_pool2d(mt_tensor *x);
extern const mt_op mt_op_global_avg_pool2d;

/* ------------------------------------------------------- normalisation --- */

/* batch_norm2d (torch.nn.functional.batch_norm).
 * x [N, C, H, W] (or [N, C]); weight (gamma) [C] or NULL (=1); bias (beta) [C]
 * or NULL (=0); running_mean/running_var [C] or NULL (buffers, no grad).
 * training=1: normalise with the batch mean and biased variance; if running
 * buffers are given update them in place:
 *   running = (1 - momentum) * running + momentum * batch_stat,
 * with the unbiased (N-1) variance when unbiased_running_var = 1 (PyTorch,
 * Keras 2) or the biased one when 0 (Keras 3). Keras momentum mu == PyTorch 1-mu.
 * training=0: normalise with the running statistics.
 * saved[0] = mean [C], saved[1] = invstd [C] = 1/sqrt(var + eps) as used. */
typedef struct mt_batch_norm_params {
    int training;
    double momentum;
    double eps;
    int unbiased_running_var;
} mt_batch_norm_params;
/* training 1, momentum 0.1, eps 1e-5, unbiased_running_var 1 (PyTorch defaults) */
mt_batch_norm_params mt_batch_norm_default(void);
mt_tensor *mt_batch_norm2d(mt_tensor *x, mt_tensor *weight, mt_tensor *bias,
                           mt_tensor *running_mean, mt_tensor *running_var,
                           mt_batch_norm_params p);
extern const mt_op mt_op_batch_norm2d;

/* dropout (torch.nn.functional.dropout): in training keeps element i when
 * mt_philox_uniform(seed, offset + i) >= p and scales it by 1/(1-p); identity
 * when training = 0 or p = 0. The same (seed, offset) gives the same mask on
 * CPU and CUDA. saved[0] = MT_U8 mask [same shape] (1 = kept). Use
 * mt_rng_next_offset() (rng.h) to advance a generator between calls. */
typedef struct mt_dropout_params {
    double p;
    int training;
    uint64_t seed;
    uint64_t offset;
} mt_dropout_params;
mt_tensor *mt_dropout(mt_tensor *x, mt_dropout_params p);
extern const mt_op mt_op_dropout;

/* ---------------------------------------------------------- activations -- */

mt_tensor *mt_relu(mt_tensor *x);
mt_tensor *mt_leaky_relu(mt_tensor *x, double negative_slope);
mt_tensor *mt_sigmoid(mt_tensor *x);
mt_tensor *mt_tanh(mt_tensor *x);
mt_tensor *mt_silu(mt_tensor *x);           /* swish: x * sigmoid(x) */
mt_tensor *mt_abs(mt_tensor *x);            /* d|x|/dx = sign(x), 0 at 0 (PyTorch) */
mt_tensor *mt_clamp(mt_tensor *x, double min, double max); /* grad 1 inside [min,max], 0 outside (PyTorch) */
mt_tensor *mt_exp(mt_tensor *x);
mt_tensor *mt_log(mt_tensor *x);
mt_tensor *mt_sqrt(mt_tensor *x);
mt_tensor *mt_neg(mt_tensor *x);
mt_tensor *mt_square(mt_tensor *x);
/* y = a * x + b (scalar scale and shift) */
mt_tensor *mt_scale(mt_tensor *x, double a, double b);
mt_tensor *mt_atan(mt_tensor *x);          /* torch.atan, radians; d/dx = 1/(1+x^2) */
extern const mt_op mt_op_relu, mt_op_leaky_relu, mt_op_sigmoid, mt_op_tanh, mt_op_silu,
    mt_op_abs, mt_op_clamp, mt_op_exp, mt_op_log, mt_op_sqrt, mt_op_neg, mt_op_square, mt_op_scale, mt_op_atan;

/* softmax / log_softmax along dimension `dim` (negative counts from the end). */
mt_tensor *mt_softmax(mt_tensor *x, int dim);
mt_tensor *mt_log_softmax(mt_tensor *x, int dim);
extern const mt_op mt_op_softmax, mt_op_log_softmax;

/* ------------------------------------------------------------- binary ---- */

/* Elementwise with NumPy/PyTorch broadcasting; gradients are summed over the
 * broadcast dimensions. */
mt_tensor *mt_add(mt_tensor *a, mt_tensor *b);
mt_tensor *mt_sub(mt_tensor *a, mt_tensor *b);
mt_tensor *mt_mul(mt_tensor *a, mt_tensor *b);
mt_tensor *mt_div(mt_tensor *a, mt_tensor *b);
extern const mt_op mt_op_add, mt_op_sub, mt_op_mul, mt_op_div;

/* Mask ops (no gradient to the condition):
 * mt_greater: MT_REAL tensor of 1.0 where x > v else 0.0 (e.g. |G(X)-X| > 0.06); no grad.
 * mt_where: cond (MT_REAL, nonzero = true, broadcastable) ? a : b; grads flow to a and b. */
mt_tensor *mt_greater(mt_tensor *x, double v);
mt_tensor *mt_where(mt_tensor *cond, mt_tensor *a, mt_tensor *b);
extern const mt_op mt_op_greater, mt_op_where;

/* ---------------------------------------------------------- reductions --- */

/* sum / mean / max over the listed axes (negative allowed); n_axes = 0 means
 * all axes. keepdim as PyTorch. max's gradient goes to the first maximum. */
mt_tensor *mt_sum(mt_tensor *x, int n_axes, const int *axes, int keepdim);
mt_tensor *mt_mean(mt_tensor *x, int n_axes, const int *axes, int keepdim);
mt_tensor *mt_max(mt_tensor *x, int n_axes, const int *axes, int keepdim);
/* sum / mean over everything -> shape [] (0-d scalar, ndim 0, numel 1). */
mt_tensor *mt_sum_all(mt_tensor *x);
mt_tensor *mt_mean_all(mt_tensor *x);
extern const mt_op mt_op_sum, mt_op_mean, mt_op_max;

/* -------------------------------------------------------------- shape ---- */

/* Reshape (view; shares storage). One dim may be -1. */
mt_tensor *mt_reshape(mt_tensor *x, int ndim, const int *shape);
/* torch.flatten(x, start_dim): [N, C, H, W], 1 -> [N, C*H*W] */
mt_tensor *mt_flatten(mt_tensor *x, int start_dim);
/* torch.permute */
mt_tensor *mt_permute(mt_tensor *x, int ndim, const int *perm);
/* torch.cat along dim */
mt_tensor *mt_concat(int n, mt_tensor *const *xs, int dim);
/* torch.split with explicit sizes along dim: writes n outputs into out[]. */
mt_status mt_split(mt_tensor *x, int dim, int n, const int *sizes, mt_tensor **out);
/* x[..., start:end, ...] along dim (step 1). */
mt_tensor *mt_slice(mt_tensor *x, int dim, int start, int end);
/* 2D crop: x [N, C, H, W] -> [N, C, h, w] starting at (top, left).
 * Centre crop (U-Net skips): top = (H-h)/2, left = (W-w)/2. */
mt_tensor *mt_crop2d(mt_tensor *x, int top, int left, int h, int w);
/* Pad H and W of [N, C, H, W]: mode 0 constant (value), 1 reflect (torch
 * 'reflect', mirror without repeating the edge), 2 replicate. */
typedef enum mt_pad_mode { MT_PAD_CONSTANT = 0, MT_PAD_REFLECT = 1, MT_PAD_REPLICATE = 2 } mt_pad_mode;
mt_tensor *mt_pad2d(mt_tensor *x, int top, int bottom, int left, int right, mt_pad_mode mode, double value);
extern const mt_op mt_op_reshape, mt_op_permute, mt_op_concat, mt_op_split, mt_op_slice, mt_op_pad2d;

/* upsample (torch.nn.functional.interpolate) on [N, C, H, W] to [N, C, out_h, out_w].
 * mode nearest (PyTorch 'nearest': src = floor(dst * in/out)) or bilinear
 * (align_corners as given). */
typedef enum mt_upsample_mode { MT_UPSAMPLE_NEAREST = 0, MT_UPSAMPLE_BILINEAR = 1 } mt_upsample_mode;
mt_tensor *mt_upsample2d(mt_tensor *x, int out_h, int out_w, mt_upsample_mode mode, int align_corners);
extern const mt_op mt_op_upsample2d;

/* torch.index_select(x, 0, index): rows x[index[i]] of x [R, ...] (MT_REAL);
 * index MT_I32 [n] on x's device, 0 <= index[i] < R -> [n, ...]. Backward:
 * scatter-add (index_add_) into dx, repeated indices accumulate, rows added in
 * index order on both devices (deterministic). No gradient to index. */
mt_tensor *mt_index_select(mt_tensor *x, mt_tensor *index);
extern const mt_op mt_op_index_select;

/* --------------------------------------------------------------- losses -- */

typedef enum mt_reduction {
    MT_REDUCE_NONE = 0,     /* per-element loss, input's shape */
    MT_REDUCE_MEAN = 1,     /* sum(w*l) / numel (PyTorch 'mean', weight as multiplier) */
    MT_REDUCE_SUM = 2,      /* sum(w*l) */
    MT_REDUCE_WEIGHTED_MEAN = 3 /* sum(w*l) / sum(w): mean over a mask */
} mt_reduction;

/* Binary cross-entropy on logits (torch binary_cross_entropy_with_logits,
 * stable form max(x,0) - x*t + log(1+exp(-|x|))). target same shape as logits
 * (values in [0,1]); weight (per element, broadcastable) or NULL; pos_weight
 * [C-broadcastable] or NULL. Scalar output unless reduction NONE. */
mt_tensor *mt_bce_with_logits(mt_tensor *logits, mt_tensor *target, mt_tensor *weight,
                              mt_tensor *pos_weight, mt_reduction r);
/* Binary cross-entropy on probabilities (torch binary_cross_entropy: log clamped at -100). */
mt_tensor *mt_bce(mt_tensor *prob, mt_tensor *target, mt_tensor *weight, mt_reduction r);
/* L1 (|x - t|) and MSE ((x - t)^2) with optional per-element weight/mask. */
mt_tensor *mt_l1_loss(mt_tensor *x, mt_tensor *target, mt_tensor *weight, mt_reduction r);
mt_tensor *mt_mse_loss(mt_tensor *x, mt_tensor *target, mt_tensor *weight, mt_reduction r);
/* Cross-entropy over class logits (torch cross_entropy): logits [N, C] or
 * [N, C, H, W]; target MT_I32 [N] or [N, H, W] class ids; class_weight [C] or
 * NULL; positions whose target == ignore_index contribute nothing; pixel_weight
 * [N] / [N, H, W] or NULL (multiplies each position's loss: U-Net weight maps).
 * MEAN divides by the sum of class weights of non-ignored positions (PyTorch). */
mt_tensor *mt_cross_entropy(mt_tensor *logits, mt_tensor *target, mt_tensor *class_weight,
                            int ignore_index, mt_tensor *pixel_weight, mt_reduction r);
extern const mt_op mt_op_bce_with_logits, mt_op_bce, mt_op_l1_loss, mt_op_mse_loss, mt_op_cross_entropy;

#ifdef __cplusplus
}
#endif
#endif
