/* core/ops/pool2d.h: the output-shape rule shared by max_pool2d and
 * avg_pool2d (defined in max_pool2d.c). */
#ifndef MT_OPS_POOL2D_H
#define MT_OPS_POOL2D_H

#include "../ops.h"

/* Checks x (MT_REAL, [N, C, H, W]) and p (kernel and stride > 0; paddings >= 0
 * and at most half the kernel, PyTorch's rule) and sets out[0] to
 * [N, C, OH, OW] with, per axis (PyTorch pooling_output_shape, dilation 1):
 *   out = floor_or_ceil((in + pad_before + pad_after - k) / stride) + 1,
 *   and in ceil mode the last window must start inside the input or the
 *   leading padding: if (out - 1) * stride >= in + pad_before, out -= 1.
 * Errors (MT_ERR_INVALID, prefixed with `op`): the checks above, or a kernel
 * larger than the padded input. */
mt_status mt_pool2d_out_shape(const char *op, const mt_tensor *x, const mt_pool2d_params *p, mt_shape *out);

#endif
