/* core/ops/autocast.c: mixed-precision autocast (torch.autocast): the list of
 * lower-precision ops, in one place, and mt_set_autocast.
 *
 * Under autocast (MT_BF16 or MT_F16) mt_op_apply casts every MT_F32 floating
 * input of a listed op with the differentiable cast op (to_dtype.c) before the
 * op runs; the op's kernels take the low-precision tensors (lowp.h) and give
 * an MT_F32 output holding the float32-accumulated product rounded to the low
 * precision (the value torch's bf16 conv returns). Every other op (batch norm
 * and its statistics, reductions, losses, softmax, elementwise) stays float32,
 * and so do parameters and optimizer state: the casts are recorded in the
 * graph, so gradients reach the float32 master weights.
 *
 * Differences from torch.autocast: torch stores a listed op's output as bf16,
 * so activations between convs take half the memory; here they are float32
 * tensors holding bf16-rounded values (the kernels downstream are float32
 * only). torch also caches the casts of weights within an autocast region;
 * here each forward casts the weights again (one pass over them). */
#include "../ops.h"

/* torch's CPU/CUDA lower-precision list, restricted to the ops medtrain has */
static const mt_op *const g_lower_precision_ops[] = {&mt_op_conv2d, &mt_op_conv_transpose2d, &mt_op_linear};

mt_dtype mt_set_autocast(mt_dtype dt)
{
    if (dt != MT_BF16 && dt != MT_F16) dt = MT_F32;
    return mt_op_set_autocast(dt, &mt_op_to_dtype, g_lower_precision_ops,
                              (int)(sizeof g_lower_precision_ops / sizeof g_lower_precision_ops[0]));
}

int mt_autocast_listed(const mt_op *op)
{
    for (size_t i = 0; i < sizeof g_lower_precision_ops / sizeof g_lower_precision_ops[0]; i++)
        if (g_lower_precision_ops[i] == op) return 1;
    return 0;
}
