/* core/ops/index_select.c: row gather along dim 0 (torch.index_select(x, 0, index),
 * i.e. x[index] with a 1-D integer index).
 *   x [R, ...] MT_REAL, index MT_I32 [n] with 0 <= index[i] < R -> y [n, ...],
 *   y[i, ...] = x[index[i], ...].
 * Backward (torch index_add_ / scatter-add): dx[index[i], ...] += dy[i, ...];
 * an index repeated k times receives the sum of its k row gradients. The CPU
 * kernel and the CUDA twin (index_select.cu) add the rows in index order, so
 * both are deterministic. Index values are checked on the CPU (forward);
 * the CUDA kernels skip rows whose index is out of range (a documented
 * contract: the caller passes valid indices; the forward returns
 * MT_ERR_INVALID on the CPU). The index gets no gradient. */
#include "../ops.h"

static mt_status index_select_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0], *idx = n->in[1];
    MT_REQUIRE(x->dtype == MT_REAL, "index_select: expected %s input, got %s", mt_dtype_name(MT_REAL),
               mt_dtype_name(x->dtype));
    MT_REQUIRE(idx->dtype == MT_I32 && idx->ndim == 1, "index_select: index must be 1-D int32, got %s with %d dims",
               mt_dtype_name(idx->dtype), idx->ndim);
    MT_REQUIRE(x->ndim >= 1, "index_select: input must have at least 1 dimension");
    out[0].ndim = x->ndim;
    out[0].shape[0] = idx->shape[0];
    for (int i = 1; i < x->ndim; i++) out[0].shape[i] = x->shape[i];
    out[0].dtype = MT_REAL;
    return MT_OK;
}

static size_t row_len(const mt_tensor *x)
{
    size_t c = 1;
    for (int d = 1; d < x->ndim; d++) c *= (size_t)x->shape[d];
    return c;
}

static mt_status index_select_forward_cpu(mt_node *n)
{
    const mt_tensor *x = n->in[0];
    const int32_t *idx = (const int32_t *)mt_data(n->in[1]);
    const mt_real *xs = MT_DATA(x);
    mt_real *y = MT_DATA(n->out[0]);
    const size_t c = row_len(x);
    const int rows = x->shape[0], m = n->in[1]->shape[0];
    for (int i = 0; i < m; i++) {
        MT_REQUIRE(idx[i] >= 0 && idx[i] < rows, "index_select: index[%d] = %d outside [0, %d)", i, idx[i], rows);
        for (size_t j = 0; j < c; j++) y[(size_t)i * c + j] = xs[(size_t)idx[i] * c + j];
    }
    return MT_OK;
}

static mt_status index_select_backward_cpu(mt_node *n)
{
    if (!n->gin[0]) return MT_OK;
    const int32_t *idx = (const int32_t *)mt_data(n->in[1]);
    const mt_real *dy = MT_DATA(n->gout[0]);
    mt_real *dx = MT_DATA(n->gin[0]);
    const size_t c = row_len(n->in[0]);
    const int m = n->in[1]->shape[0];
    for (int i = 0; i < m; i++)
        for (size_t j = 0; j < c; j++) dx[(size_t)idx[i] * c + j] += dy[(size_t)i * c + j];
    return MT_OK;
}

#ifdef MT_WITH_CUDA
mt_status index_select_forward_cuda(mt_node *n);
mt_status index_select_backward_cuda(mt_node *n);
#endif

const mt_op mt_op_index_select = {
    "index_select", index_select_shape,
    {index_select_forward_cpu, MT_CUDA_FN(index_select_forward_cuda)},
    {index_select_backward_cpu, MT_CUDA_FN(index_select_backward_cuda)},
};

/* torch.index_select(x, 0, index): x [R, ...] MT_REAL, index MT_I32 [n] on the
 * same device, values in [0, R) -> [n, ...]. Gradient: scatter-add into the
 * selected rows (repeats accumulate). Errors: MT_ERR_INVALID for a wrong dtype
 * or rank, or (CPU) an index out of range. */
mt_tensor *mt_index_select(mt_tensor *x, mt_tensor *index)
{
    mt_tensor *in[2] = {x, index};
    return mt_op1(&mt_op_index_select, 2, 2, in, NULL, 0);
}
