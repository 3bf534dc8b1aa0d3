/* core/ops/loss_bce.c: binary cross-entropy losses (descriptors and public
 * functions; the kernels are the pointwise loss engine, loss_pointwise.c/.cu). */
#include "loss_pointwise.h"

const mt_op mt_op_bce_with_logits = {"bce_with_logits", mt_ploss_shape,
                                     {mt_ploss_forward_cpu, MT_CUDA_FN(mt_ploss_forward_cuda)},
                                     {mt_ploss_backward_cpu, MT_CUDA_FN(mt_ploss_backward_cuda)}, 0};
const mt_op mt_op_bce = {"bce", mt_ploss_shape, {mt_ploss_forward_cpu, MT_CUDA_FN(mt_ploss_forward_cuda)},
                         {mt_ploss_backward_cpu, MT_CUDA_FN(mt_ploss_backward_cuda)}, 0};

/* torch.nn.functional.binary_cross_entropy_with_logits(logits, target, weight,
 * pos_weight=pos_weight, reduction): l = (1-t) x + (1 + (pw-1) t) log(1 + exp(-x)),
 * evaluated stably for any |x| (no overflow at +-100). logits and target same
 * shape (target in [0, 1]); weight and pos_weight broadcast to it (pos_weight
 * [C] for [N, C] logits, [C, 1, 1] for [N, C, H, W]) or NULL. Output: per
 * element for MT_REDUCE_NONE, else a 0-d scalar (see mt_reduction). Gradients
 * flow to logits and target. Errors: MT_ERR_INVALID on shape mismatch. */
mt_tensor *mt_bce_with_logits(mt_tensor *logits, mt_tensor *target, mt_tensor *weight, mt_tensor *pos_weight,
                              mt_reduction r)
{
    return mt_ploss_apply(&mt_op_bce_with_logits, logits, target, weight, pos_weight, r);
}

/* torch.nn.functional.binary_cross_entropy(prob, target, weight, reduction):
 * l = -(t log p + (1-t) log(1-p)) with each log clamped at -100 (so p = 0 or 1
 * gives a finite loss); gradient (p - t) / max(p (1-p), 1e-12) as PyTorch.
 * prob values must lie in [0, 1] (not checked). Shapes as mt_bce_with_logits. */
mt_tensor *mt_bce(mt_tensor *prob, mt_tensor *target, mt_tensor *weight, mt_reduction r)
{
    return mt_ploss_apply(&mt_op_bce, prob, target, weight, NULL, r);
}
