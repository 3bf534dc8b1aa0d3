/* core/ops/softmax.c: softmax and log_softmax along one dimension
 * (torch.nn.functional.softmax / log_softmax), numerically stable: the row
 * maximum is subtracted before exponentiating, so logits of +-1e4 are fine.
 * A tensor is viewed as [outer, D, inner] around the dimension.
 *   softmax backward:     dx = y * (dy - sum_D(dy * y))
 *   log_softmax backward: dx = dy - exp(y) * sum_D(dy)
 * CUDA twin: softmax.cu. */
#include "ew_common.h"

#include <math.h>

static mt_status softmax_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    MT_REQUIRE(x->dtype == MT_REAL, "%s: expected %s input, got %s", n->op->name, mt_dtype_name(MT_REAL),
               mt_dtype_name(x->dtype));
    int d;
    MT_TRY(mt_norm_dim(n->op->name, MT_ATTR(n, mt_softmax_attr)->dim, x->ndim ? x->ndim : 1, &d));
    MT_ATTR(n, mt_softmax_attr)->dim = d;
    out[0].ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++) out[0].shape[i] = x->shape[i];
    return MT_OK;
}

/* [outer, D, inner] sizes of x around dim d (a 0-d tensor is [1, 1, 1]). */
static void split3(const mt_tensor *x, int d, long long *outer, long long *D, long long *inner)
{
    *outer = *inner = 1;
    *D = x->ndim ? x->shape[d] : 1;
    for (int i = 0; i < d && i < x->ndim; i++) *outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) *inner *= x->shape[i];
}

static mt_status softmax_forward_cpu(mt_node *n)
{
    const int log_out = n->op == &mt_op_log_softmax;
    long long outer, D, inner;
    split3(n->in[0], MT_ATTR(n, mt_softmax_attr)->dim, &outer, &D, &inner);
    const mt_real *x = MT_DATA(n->in[0]);
    mt_real *y = MT_DATA(n->out[0]);
    long long rows = outer * inner;
    if (!D) return MT_OK;
#pragma omp parallel for schedule(static) if (rows * D > 32768)
    for (long long row = 0; row < rows; row++) {
        long long base = (row / inner) * D * inner + row % inner;
        mt_real m = x[base];
        for (long long j = 1; j < D; j++) m = x[base + j * inner] > m ? x[base + j * inner] : m;
        double s = 0;
        for (long long j = 0; j < D; j++) s += exp((double)(x[base + j * inner] - m));
        if (log_out) {
            mt_real ls = (mt_real)log(s);
            for (long long j = 0; j < D; j++) y[base + j * inner] = x[base + j * inner] - m - ls;
        } else {
            for (long long j = 0; j < D; j++) y[base + j * inner] = (mt_real)(exp((double)(x[base + j * inner] - m)) / s);
        }
    }
    return MT_OK;
}

static mt_status softmax_backward_cpu(mt_node *n)
{
    if (!n->gin[0]) return MT_OK;
    const int log_out = n->op == &mt_op_log_softmax;
    long long outer, D, inner;
    split3(n->in[0], MT_ATTR(n, mt_softmax_attr)->dim, &outer, &D, &inner);
    const mt_real *y = MT_DATA(n->out[0]), *dy = MT_DATA(n->gout[0]);
    mt_real *dx = MT_DATA(n->gin[0]);
    long long rows = outer * inner;
#pragma omp parallel for schedule(static) if (rows * D > 32768)
    for (long long row = 0; row < rows; row++) {
        long long base = (row / inner) * D * inner + row % inner;
        double s = 0;
        for (long long j = 0; j < D; j++) {
            long long k = base + j * inner;
            s += log_out ? dy[k] : dy[k] * y[k];
        }
        for (long long j = 0; j < D; j++) {
            long long k = base + j * inner;
            dx[k] = log_out ? (mt_real)(dy[k] - exp(y[k]) * s) : (mt_real)(y[k] * (dy[k] - s));
        }
    }
    return MT_OK;
}

#ifdef MT_WITH_CUDA
mt_status softmax_forward_cuda(mt_node *n);
mt_status softmax_backward_cuda(mt_node *n);
#endif

const mt_op mt_op_softmax = {"softmax", softmax_shape, {softmax_forward_cpu, MT_CUDA_FN(softmax_forward_cuda)},
                             {softmax_backward_cpu, MT_CUDA_FN(softmax_backward_cuda)}, 0};
const mt_op mt_op_log_softmax = {"log_softmax", softmax_shape,
                                 {softmax_forward_cpu, MT_CUDA_FN(softmax_forward_cuda)},
                                 {softmax_backward_cpu, MT_CUDA_FN(softmax_backward_cuda)}, 0};

/* torch.softmax(x, dim): exp(x - max) / sum(exp(x - max)) along dim (negative
 * counts from the end); same shape as x. MT_ERR_INVALID if dim is out of range. */
mt_tensor *mt_softmax(mt_tensor *x, int dim)
{
    mt_softmax_attr at = {dim};
    mt_tensor *in[1] = {x};
    return mt_op1(&mt_op_softmax, 1, 1, in, &at, sizeof at);
}

/* torch.log_softmax(x, dim): x - max - log(sum(exp(x - max))) along dim. */
mt_tensor *mt_log_softmax(mt_tensor *x, int dim)
{
    mt_softmax_attr at = {dim};
    mt_tensor *in[1] = {x};
    return mt_op1(&mt_op_log_softmax, 1, 1, in, &at, sizeof at);
}
