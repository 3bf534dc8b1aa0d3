/* core/ops/reduce.c: sum, mean and max over a set of axes (torch.sum /
 * torch.mean / torch.amax-with-first-index semantics), keepdim as PyTorch,
 * and sum_all / mean_all to a 0-d scalar. Sums are taken in double in a fixed
 * order (deterministic for any thread count). max saves saved[0] = MT_I32
 * [numel(out)]: the reduced-space index of the first maximum of each output
 * (row-major over the reduced dims); its gradient goes there only. NaN counts
 * as the maximum (propagates, as PyTorch). CUDA twin: reduce.cu. */
#include "ew_common.h"

#include <math.h>
#include <string.h>

static mt_status reduce_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    mt_reduce_attr *a = MT_ATTR(n, mt_reduce_attr);
    a->kind = n->op == &mt_op_sum ? MT_RED_SUM : n->op == &mt_op_mean ? MT_RED_MEAN : MT_RED_MAX;
    MT_REQUIRE(x->dtype == MT_REAL, "%s: expected %s input, got %s", n->op->name, mt_dtype_name(MT_REAL),
               mt_dtype_name(x->dtype));
    MT_REQUIRE(a->n_axes >= 0 && a->n_axes <= MT_MAX_DIMS, "%s: %d axes given (at most %d)", n->op->name, a->n_axes,
               MT_MAX_DIMS);
    unsigned mask = 0;
    if (a->n_axes == 0) {
        mask = x->ndim ? (1u << x->ndim) - 1u : 0u;
    } else {
        for (int i = 0; i < a->n_axes; i++) {
            int d;
            MT_TRY(mt_norm_dim(n->op->name, a->axes[i], x->ndim, &d));
            MT_REQUIRE(!((mask >> d) & 1u), "%s: dim %d appears more than once in the axes", n->op->name, d);
            mask |= 1u << d;
        }
    }
    a->mask = mask;
    if (a->kind == MT_RED_MAX)
        for (int d = 0; d < x->ndim; d++)
            MT_REQUIRE(!((mask >> d) & 1u) || x->shape[d] > 0, "max: cannot reduce over dim %d of size 0", d);
    out[0].ndim = 0;
    for (int d = 0; d < x->ndim; d++) {
        if ((mask >> d) & 1u) {
            if (a->keepdim) out[0].shape[out[0].ndim++] = 1;
        } else {
            out[0].shape[out[0].ndim++] = x->shape[d];
        }
    }
    return MT_OK;
}

static mt_status reduce_forward_cpu(mt_node *n)
{
    const mt_reduce_attr *a = MT_ATTR(n, mt_reduce_attr);
    const mt_tensor *x = n->in[0];
    mt_rplan p = mt_rplan_axes(x->ndim, x->shape, a->mask);
    const mt_real *xv = MT_DATA(x);
    mt_real *y = MT_DATA(n->out[0]);
    if (a->kind != MT_RED_MAX) {
        double scale = a->kind == MT_RED_MEAN ? 1.0 / (double)p.nred : 1.0;
        mt_cpu_reduce_sum(&p, xv, y, scale, 0);
        return MT_OK;
    }
    int shp[1] = {(int)p.nout};
    mt_tensor *idx = mt_tensor_new(MT_I32, mt_cpu(), 1, shp);
    if (!idx) return mt_last_status();
    int32_t *iv = (int32_t *)mt_data(idx);
    long long nout = p.nout, nred = p.nred;
#pragma omp parallel for schedule(static) if (nout * nred > 32768)
    for (long long o = 0; o < nout; o++) {
        long long base = mt_imap_offset(&p.kept, o), best_r = 0;
        mt_real best = xv[base];
        for (long long r = 1; r < nred && !isnan(best); r++) {
            mt_real v = xv[base + mt_imap_offset(&p.red, r)];
            if (v > best || isnan(v)) best = v, best_r = r;
        }
        y[o] = best;
        iv[o] = (int32_t)best_r;
    }
    n->saved[0] = idx;
    return MT_OK;
}

static mt_status reduce_backward_cpu(mt_node *n)
{
    const mt_reduce_attr *a = MT_ATTR(n, mt_reduce_attr);
    const mt_tensor *x = n->in[0];
    if (!n->gin[0]) return MT_OK;
    const mt_real *dy = MT_DATA(n->gout[0]);
    mt_real *dx = MT_DATA(n->gin[0]);
    mt_rplan p = mt_rplan_axes(x->ndim, x->shape, a->mask);
    if (a->kind == MT_RED_MAX) {
        const int32_t *iv = (const int32_t *)mt_data(n->saved[0]);
        for (long long o = 0; o < p.nout; o++) dx[mt_rplan_offset(&p, o, iv[o])] += dy[o];
        return MT_OK;
    }
    const mt_real scale = a->kind == MT_RED_MEAN ? (mt_real)(1.0 / (double)p.nred) : 1;
    const mt_imap m = mt_imap_reduced(x->ndim, x->shape, a->mask);
    ptrdiff_t count = (ptrdiff_t)mt_numel(x);
#pragma omp parallel for schedule(static) if (count > 32768)
    for (ptrdiff_t i = 0; i < count; i++) dx[i] = dy[mt_imap_offset(&m, i)] * scale;
    return MT_OK;
}

#ifdef MT_WITH_CUDA
mt_status reduce_forward_cuda(mt_node *n);
mt_status reduce_backward_cuda(mt_node *n);
#endif

#define REDUCE_OP(sym, name)                                                                                  \
    const mt_op sym = {name, reduce_shape, {reduce_forward_cpu, MT_CUDA_FN(reduce_forward_cuda)},          \
                       {reduce_backward_cpu, MT_CUDA_FN(reduce_backward_cuda)}, 0};
REDUCE_OP(mt_op_sum, "sum")
REDUCE_OP(mt_op_mean, "mean")
REDUCE_OP(mt_op_max, "max")

static mt_tensor *reduce(const mt_op *op, mt_tensor *x, int n_axes, const int *axes, int keepdim)
{
    mt_reduce_attr at;
    memset(&at, 0, sizeof at);
    if (n_axes < 0 || n_axes > MT_MAX_DIMS || (n_axes > 0 && !axes)) {
        MT_ERR(MT_ERR_INVALID, "%s: n_axes %d invalid (0..%d, axes array required when > 0)", op->name, n_axes,
               MT_MAX_DIMS);
        return NULL;
    }
    at.n_axes = n_axes;
    for (int i = 0; i < n_axes; i++) at.axes[i] = axes[i];
    at.keepdim = keepdim ? 1 : 0;
    mt_tensor *in[1] = {x};
    return mt_op1(op, 1, 1, in, &at, sizeof at);
}

/* torch.sum(x, dim=axes, keepdim): x of any shape; axes negative from the end;
 * n_axes = 0 reduces all dims. Errors: axis out of range or repeated. */
mt_tensor *mt_sum(mt_tensor *x, int n_axes, const int *axes, int keepdim)
{
    return reduce(&mt_op_sum, x, n_axes, axes, keepdim);
}
/* torch.mean(x, dim=axes, keepdim): sum / number of reduced elements. */
mt_tensor *mt_mean(mt_tensor *x, int n_axes, const int *axes, int keepdim)
{
    return reduce(&mt_op_mean, x, n_axes, axes, keepdim);
}
/* torch.amax(x, dim=axes, keepdim) values; gradient to the first maximum
 * (row-major over the reduced dims) like torch.max(x, dim). */
mt_tensor *mt_max(mt_tensor *x, int n_axes, const int *axes, int keepdim)
{
    return reduce(&mt_op_max, x, n_axes, axes, keepdim);
}
/* torch.sum(x): 0-d tensor (ndim 0, numel 1). */
mt_tensor *mt_sum_all(mt_tensor *x) { return reduce(&mt_op_sum, x, 0, NULL, 0); }
/* torch.mean(x): 0-d tensor. */
mt_tensor *mt_mean_all(mt_tensor *x) { return reduce(&mt_op_mean, x, 0, NULL, 0); }
