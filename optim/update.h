/* optim/update.h (internal to optim/): the element-wise update kernels of
 * the optimizers, CPU (optim/update.c) and CUDA (optim/update.cu), and the
 * gradient-norm helpers of clipping (optim/clip.c, optim/clip.cu).
 *
 * Each kernel performs, per element and in the same order of floating-point
 * operations, what torch 1.13's single-tensor (foreach=False) path does on a
 * float tensor. The scalars are pre-rounded to mt_real on the host exactly as
 * torch rounds its Python-float arguments (alpha / value / divisor), so the
 * CPU and CUDA kernels share one definition of the arithmetic.
 */
#ifndef MT_OPTIM_UPDATE_H
#define MT_OPTIM_UPDATE_H

#include <stddef.h>

#include "../core/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* torch.optim.SGD (_single_tensor_sgd):
 *   d = g (+ wd * p if has_wd)
 *   momentum: buf = first ? d : buf * momentum + (1 - dampening) * d;
 *             d = nesterov ? d + momentum * buf : buf
 *   p = p + (-lr) * d */
typedef struct mt_sgd_scalars {
    mt_real wd, momentum, one_minus_dampening, neg_lr;
    int has_wd, has_momentum, nesterov, first;
} mt_sgd_scalars;

/* torch.optim.Adam / AdamW (_single_tensor_adam / _single_tensor_adamw), step t:
 *   AdamW: p = p * (1 - lr * wd)                (decoupled, before the moments)
 *   Adam:  g = g + wd * p if has_wd
 *   m = m * beta1 + (1 - beta1) * g
 *   v = v * beta2 + (1 - beta2) * g * g
 *   amsgrad: vmax = max(vmax, v), use vmax for v below
 *   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
 *   p = p + (-lr / (1 - beta1^t)) * m / denom */
typedef struct mt_adam_scalars {
    mt_real beta1, one_minus_beta1, beta2, one_minus_beta2;
    mt_real bias_correction2_sqrt, eps, neg_step_size;
    mt_real wd, decay; /* decay = 1 - lr * wd (AdamW) */
    int has_wd, decoupled, amsgrad;
} mt_adam_scalars;

/* torch.optim.Adadelta (_single_tensor_adadelta):
 *   g = g + wd * p if has_wd
 *   sq = sq * rho + (1 - rho) * g * g
 *   delta = sqrt(acc + eps) / sqrt(sq + eps) * g
 *   acc = acc * rho + (1 - rho) * delta * delta
 *   p = p + (-lr) * delta */
typedef struct mt_adadelta_scalars {
    mt_real rho, one_minus_rho, eps, wd, neg_lr;
    int has_wd;
} mt_adadelta_scalars;

void mt_sgd_update_cpu(size_t n, mt_real *p, const mt_real *g, mt_real *buf, mt_sgd_scalars s);
void mt_adam_update_cpu(size_t n, mt_real *p, const mt_real *g, mt_real *m, mt_real *v, mt_real *vmax,
                        mt_adam_scalars s);
void mt_adadelta_update_cpu(size_t n, mt_real *p, const mt_real *g, mt_real *sq, mt_real *acc,
                            mt_adadelta_scalars s);
/* sum of squares of x[0..n-1], accumulated in double */
double mt_sumsq_cpu(size_t n, const mt_real *x);
/* x *= a */
void mt_scale_cpu(size_t n, mt_real *x, mt_real a);
/* out[s] = sum of squares of segment s of x (segments of len[0..n_seg-1] elements, back to back), in
 * double, in one parallel pass over the whole span: each thread sums its contiguous share of every
 * segment it touches, the shares are added in thread order. MT_ERR_NOMEM if its scratch fails. */
mt_status mt_segment_sumsq_cpu(int n_seg, const size_t *len, const mt_real *x, double *out);

#ifdef MT_WITH_CUDA
/* CUDA twins (optim/update.cu, optim/clip.cu): same arithmetic on GPU `device`'s stream. */
mt_status mt_sgd_update_cuda(int device, size_t n, mt_real *p, const mt_real *g, mt_real *buf, mt_sgd_scalars s);
mt_status mt_adam_update_cuda(int device, size_t n, mt_real *p, const mt_real *g, mt_real *m, mt_real *v,
                              mt_real *vmax, mt_adam_scalars s);
mt_status mt_adadelta_update_cuda(int device, size_t n, mt_real *p, const mt_real *g, mt_real *sq, mt_real *acc,
                                  mt_adadelta_scalars s);
/* L2 norm of x (cuBLAS snrm2) into *out (synchronous) */
mt_status mt_norm2_cuda(int device, size_t n, const mt_real *x, double *out);
/* x *= a (cuBLAS sscal) */
mt_status mt_scale_cuda(int device, size_t n, mt_real *x, mt_real a);
/* Clipping of n gradients that lie back to back from `flat` (len[i] elements each) with no
 * read-back: each one's L2 norm (cuBLAS snrm2, device pointer mode) into device memory, one
 * kernel for the total norm and coef = min(max_norm / (total + 1e-6), 1) (torch's float
 * rounding), one kernel scaling the whole span by it. *total_norm, when not NULL, is read
 * back (one device-to-host copy, synchronous); NULL keeps the step free of any. */
mt_status mt_clip_flat_cuda(int device, int n, const size_t *len, mt_real *flat, double max_norm, double *total_norm);
#endif

#ifdef __cplusplus
}
#endif
#endif
