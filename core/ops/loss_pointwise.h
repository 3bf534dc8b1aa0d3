/* core/ops/loss_pointwise.h: internal engine of the pointwise losses
 * (bce_with_logits, bce, l1_loss, mse_loss): shape rule and CPU/CUDA kernels
 * shared by loss_bce.c and loss_l1_mse.c (implemented in loss_pointwise.c/.cu).
 *
 * Inputs: in[0] x (logits / probabilities / prediction), in[1] target (same
 * shape), in[2] weight (broadcastable to x) or NULL, in[3] pos_weight
 * (broadcastable to x; bce_with_logits only) or NULL.
 * Output: NONE -> x's shape with w*l per element; otherwise a 0-d scalar
 * sum(w*l) * scale with scale = 1/numel (MEAN), 1 (SUM), 1/sum(w) (WEIGHTED_MEAN;
 * 0 when sum(w) == 0, so an empty mask gives loss 0 and no gradient).
 * saved[0] (reductions other than NONE): 0-d tensor holding that scale.
 * Gradients: to x and target; a weight or pos_weight that requires grad is
 * MT_ERR_UNSUPPORTED in backward (they are masks/constants here). */
#ifndef MT_LOSS_POINTWISE_H
#define MT_LOSS_POINTWISE_H

#include "ew_common.h"

typedef enum mt_ploss_kind { MT_PLOSS_BCE_LOGITS = 0, MT_PLOSS_BCE, MT_PLOSS_L1, MT_PLOSS_MSE } mt_ploss_kind;

typedef struct mt_ploss_attr {
    int kind;      /* set by the shape rule from the descriptor */
    int reduction; /* mt_reduction */
} mt_ploss_attr;

#ifdef __cplusplus
extern "C" {
#endif
mt_status mt_ploss_shape(mt_node *n, mt_shape *out);
mt_status mt_ploss_forward_cpu(mt_node *n);
mt_status mt_ploss_backward_cpu(mt_node *n);
#ifdef MT_WITH_CUDA
mt_status mt_ploss_forward_cuda(mt_node *n);
mt_status mt_ploss_backward_cuda(mt_node *n);
#endif
/* Builds the op: shared by the public functions. */
mt_tensor *mt_ploss_apply(const mt_op *op, mt_tensor *x, mt_tensor *target, mt_tensor *weight, mt_tensor *pos_weight,
                          mt_reduction r);
#ifdef __cplusplus
}
#endif

#endif
