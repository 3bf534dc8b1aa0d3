/* core/ops/relu.c: relu(x) = max(x, 0) (torch.nn.functional.relu).
 * The pattern every op follows: shape rule, CPU forward/backward, descriptor
 * naming the CUDA twins in relu.cu, and the public function.
 * Backward: dx = dy where y > 0 (PyTorch: gradient 0 at x == 0). */
#include "../ops.h"

static mt_status relu_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    MT_REQUIRE(x->dtype == MT_REAL, "relu: expected %s input, got %s", mt_dtype_name(MT_REAL), mt_dtype_name(x->dtype));
    out[0].ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++) out[0].shape[i] = x->shape[i];
    return MT_OK;
}

static mt_status relu_forward_cpu(mt_node *n)
{
    const mt_real *x = MT_DATA(n->in[0]);
    mt_real *y = MT_DATA(n->out[0]);
    ptrdiff_t count = (ptrdiff_t)mt_numel(n->in[0]);
#pragma omp parallel for schedule(static) if (count > 32768)
    for (ptrdiff_t i = 0; i < count; i++) y[i] = x[i] > 0 ? x[i] : 0;
    return MT_OK;
}

static mt_status relu_backward_cpu(mt_node *n)
{
    const mt_real *y = MT_DATA(n->out[0]);
    const mt_real *dy = MT_DATA(n->gout[0]);
    mt_real *dx = MT_DATA(n->gin[0]);
    ptrdiff_t count = (ptrdiff_t)mt_numel(n->out[0]);
#pragma omp parallel for schedule(static) if (count > 32768)
    for (ptrdiff_t i = 0; i < count; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
    return MT_OK;
}

#ifdef MT_WITH_CUDA
mt_status relu_forward_cuda(mt_node *n);
mt_status relu_backward_cuda(mt_node *n);
#endif

const mt_op mt_op_relu = {
    "relu", relu_shape,
    {relu_forward_cpu, MT_CUDA_FN(relu_forward_cuda)},
    {relu_backward_cpu, MT_CUDA_FN(relu_backward_cuda)},
    .backward_skips_in = 1u, /* backward reads y */
};

mt_tensor *mt_relu(mt_tensor *x)
{
    mt_tensor *in[1] = {x};
    return mt_op1(&mt_op_relu, 1, 1, in, NULL, 0);
}
