/* core/ops/where.c: mask ops.
 *   greater(x, v): 1.0 where x > v else 0.0 (torch.gt(x, v).float()); not differentiable.
 *   where(cond, a, b): cond != 0 ? a : b with broadcasting of all three
 *     (torch.where); gradients go to a (where cond) and b (where not cond),
 *     summed over broadcast dims; the condition gets none.
 * CUDA twin: where.cu. */
#include "ew_common.h"

static mt_status greater_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    MT_REQUIRE(x->dtype == MT_REAL, "greater: expected %s input, got %s", mt_dtype_name(MT_REAL),
               mt_dtype_name(x->dtype));
    out[0].ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++) out[0].shape[i] = x->shape[i];
    return MT_OK;
}

static mt_status greater_forward_cpu(mt_node *n)
{
    const mt_real v = (mt_real)MT_ATTR(n, mt_greater_attr)->v;
    const mt_real *x = MT_DATA(n->in[0]);
    mt_real *y = MT_DATA(n->out[0]);
    ptrdiff_t count = (ptrdiff_t)mt_numel(n->in[0]);
#pragma omp parallel for schedule(static) if (count > 32768)
    for (ptrdiff_t i = 0; i < count; i++) y[i] = x[i] > v ? 1 : 0;
    return MT_OK;
}

static mt_status where_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *c = n->in[0], *a = n->in[1], *b = n->in[2];
    MT_REQUIRE(c->dtype == MT_REAL && a->dtype == MT_REAL && b->dtype == MT_REAL,
               "where: expected %s cond, a and b, got %s, %s, %s", mt_dtype_name(MT_REAL), mt_dtype_name(c->dtype),
               mt_dtype_name(a->dtype), mt_dtype_name(b->dtype));
    int nd, s[MT_MAX_DIMS];
    MT_TRY(mt_broadcast_shape("where", a->ndim, a->shape, b->ndim, b->shape, &nd, s));
    return mt_broadcast_shape("where", c->ndim, c->shape, nd, s, &out[0].ndim, out[0].shape);
}

static mt_status where_forward_cpu(mt_node *n)
{
    const mt_tensor *out = n->out[0];
    const mt_real *c = MT_DATA(n->in[0]), *a = MT_DATA(n->in[1]), *b = MT_DATA(n->in[2]);
    mt_real *y = MT_DATA(out);
    const mt_imap mc = mt_imap_broadcast(n->in[0], out->ndim, out->shape);
    const mt_imap ma = mt_imap_broadcast(n->in[1], out->ndim, out->shape);
    const mt_imap mb = mt_imap_broadcast(n->in[2], out->ndim, out->shape);
    ptrdiff_t count = (ptrdiff_t)mt_numel(out);
#pragma omp parallel for schedule(static) if (count > 32768)
    for (ptrdiff_t i = 0; i < count; i++)
        y[i] = c[mt_imap_offset(&mc, i)] != 0 ? a[mt_imap_offset(&ma, i)] : b[mt_imap_offset(&mb, i)];
    return MT_OK;
}

static mt_status where_backward_cpu(mt_node *n)
{
    const mt_tensor *out = n->out[0];
    const mt_real *c = MT_DATA(n->in[0]), *dy = MT_DATA(n->gout[0]);
    const mt_imap mc = mt_imap_broadcast(n->in[0], out->ndim, out->shape);
    ptrdiff_t count = (ptrdiff_t)mt_numel(out);
    for (int j = 1; j <= 2; j++) {
        mt_tensor *g = n->gin[j];
        if (!g) continue;
        mt_tensor *full;
        mt_real *dst = mt_bgrad_begin(out, g, &full);
        if (!dst) return mt_last_status();
        const int want = j == 1; /* a takes the gradient where cond is true */
#pragma omp parallel for schedule(static) if (count > 32768)
        for (ptrdiff_t i = 0; i < count; i++) dst[i] = ((c[mt_imap_offset(&mc, i)] != 0) == want) ? dy[i] : 0;
        mt_bgrad_end_cpu(out, g, full);
    }
    return MT_OK;
}

#ifdef MT_WITH_CUDA
mt_status greater_forward_cuda(mt_node *n);
mt_status where_forward_cuda(mt_node *n);
mt_status where_backward_cuda(mt_node *n);
#endif

const mt_op mt_op_greater = {"greater", greater_shape, {greater_forward_cpu, MT_CUDA_FN(greater_forward_cuda)},
                             {NULL, NULL}, 0};
const mt_op mt_op_where = {"where", where_shape, {where_forward_cpu, MT_CUDA_FN(where_forward_cuda)},
                           {where_backward_cpu, MT_CUDA_FN(where_backward_cuda)}, 0};

/* torch.gt(x, v).float(): MT_REAL tensor shaped like x, 1 where x > v else 0. No gradient. */
mt_tensor *mt_greater(mt_tensor *x, double v)
{
    mt_greater_attr at = {v};
    mt_tensor *in[1] = {x};
    return mt_op1(&mt_op_greater, 1, 1, in, &at, sizeof at);
}

/* torch.where(cond != 0, a, b) with broadcasting of cond, a, b (MT_REAL).
 * Shape: broadcast of all three; MT_ERR_INVALID if they do not broadcast. */
mt_tensor *mt_where(mt_tensor *cond, mt_tensor *a, mt_tensor *b)
{
    mt_tensor *in[3] = {cond, a, b};
    return mt_op1(&mt_op_where, 3, 3, in, NULL, 0);
}
