/* core/ops/loss_l1_mse.c: L1 and MSE losses with an optional per-element
 * weight / mask (descriptors and public functions; kernels in the pointwise
 * loss engine, loss_pointwise.c/.cu). */
#include "loss_pointwise.h"

const mt_op mt_op_l1_loss = {"l1_loss", mt_ploss_shape, {mt_ploss_forward_cpu, MT_CUDA_FN(mt_ploss_forward_cuda)},
                             {mt_ploss_backward_cpu, MT_CUDA_FN(mt_ploss_backward_cuda)}, 0};
const mt_op mt_op_mse_loss = {"mse_loss", mt_ploss_shape, {mt_ploss_forward_cpu, MT_CUDA_FN(mt_ploss_forward_cuda)},
                              {mt_ploss_backward_cpu, MT_CUDA_FN(mt_ploss_backward_cuda)}, 0};

/* torch.nn.functional.l1_loss(x, target, reduction), times weight: l = w |x - t|.
 * x and target same shape; weight broadcastable to it or NULL (= 1).
 * WEIGHTED_MEAN = sum(w l) / sum(w): the mean over a mask (0 for an empty mask).
 * Gradient sign(x - t) (0 where equal), to x and target. */
mt_tensor *mt_l1_loss(mt_tensor *x, mt_tensor *target, mt_tensor *weight, mt_reduction r)
{
    return mt_ploss_apply(&mt_op_l1_loss, x, target, weight, NULL, r);
}

/* torch.nn.functional.mse_loss(x, target, reduction), times weight: l = w (x - t)^2.
 * Shapes and reductions as mt_l1_loss. */
mt_tensor *mt_mse_loss(mt_tensor *x, mt_tensor *target, mt_tensor *weight, mt_reduction r)
{
    return mt_ploss_apply(&mt_op_mse_loss, x, target, weight, NULL, r);
}
