/* core/ops/concat.c: torch.cat(xs, dim). Inputs of any one dtype with equal
 * shapes except along `dim` (negative counts from the end). Each tensor is
 * seen as [outer, size_i, inner]; the output as [outer, sum size_i, inner];
 * input i is a block of rows copied at column offset sum_{j<i} size_j * inner.
 * Backward: gin[i] is the matching block of dy. More than MT_MAX_IN inputs are
 * concatenated in chained groups. */
#include <string.h>

#include "../ops.h"
#include "copy_rows.h"

typedef struct concat_attr {
    int dim; /* normalised, >= 0 */
} concat_attr;

static mt_status concat_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x0 = n->in[0];
    int dim = MT_ATTR(n, concat_attr)->dim;
    MT_REQUIRE(dim >= 0 && dim < x0->ndim, "concat: dim %d out of range for %d-D inputs", dim, x0->ndim);
    out[0].ndim = x0->ndim;
    memcpy(out[0].shape, x0->shape, sizeof out[0].shape);
    out[0].dtype = x0->dtype;
    out[0].shape[dim] = 0;
    for (int i = 0; i < n->n_in; i++) {
        const mt_tensor *x = n->in[i];
        MT_REQUIRE(x, "concat: input %d is NULL", i);
        MT_REQUIRE(x->dtype == x0->dtype, "concat: input %d is %s but input 0 is %s", i, mt_dtype_name(x->dtype),
                   mt_dtype_name(x0->dtype));
        MT_REQUIRE(x->ndim == x0->ndim, "concat: input %d has %d dimensions, input 0 has %d", i, x->ndim, x0->ndim);
        for (int d = 0; d < x0->ndim; d++) {
            char a[64], b[64];
            if (d != dim && x->shape[d] != x0->shape[d])
                return MT_ERR(MT_ERR_INVALID, "concat along dim %d: input %d shape %s differs from input 0 %s in dim %d",
                              dim, i, mt_shape_str(x, a, sizeof a), mt_shape_str(x0, b, sizeof b), d);
        }
        out[0].shape[dim] += x->shape[dim];
    }
    return MT_OK;
}

static mt_status concat_forward(mt_node *n)
{
    int dim = MT_ATTR(n, concat_attr)->dim;
    size_t outer, inner;
    mt_outer_inner(n->out[0], dim, &outer, &inner);
    size_t opitch = (size_t)n->out[0]->shape[dim] * inner, col = 0;
    char *y = mt_data(n->out[0]);
    for (int i = 0; i < n->n_in; i++) {
        size_t w = (size_t)n->in[i]->shape[dim] * inner;
        MT_TRY(mt_copy_rows(n, y + col, opitch, mt_data(n->in[i]), w, w, outer));
        col += w;
    }
    return MT_OK;
}

static mt_status concat_backward(mt_node *n)
{
    int dim = MT_ATTR(n, concat_attr)->dim;
    size_t outer, inner;
    mt_outer_inner(n->gout[0], dim, &outer, &inner);
    size_t opitch = (size_t)n->gout[0]->shape[dim] * inner, col = 0;
    const char *dy = mt_data(n->gout[0]);
    for (int i = 0; i < n->n_in; i++) {
        size_t w = (size_t)n->in[i]->shape[dim] * inner;
        if (n->gin[i]) MT_TRY(mt_copy_rows(n, mt_data(n->gin[i]), w, dy + col, opitch, w, outer));
        col += w;
    }
    return MT_OK;
}

const mt_op mt_op_concat = {
    "concat", concat_shape,
    {concat_forward, MT_CUDA_FN(concat_forward)},
    {concat_backward, MT_CUDA_FN(concat_backward)},
    .backward_skips_in = ~0u, /* backward splits dy by the inputs' shapes */
    .backward_skips_out = 1,
};

mt_tensor *mt_concat(int n, mt_tensor *const *xs, int dim)
{
    if (n < 1 || !xs) {
        MT_ERR(MT_ERR_INVALID, "concat: need at least one input tensor (got %d)", n);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!xs[i]) {
            if (mt_last_status() == MT_OK) MT_ERR(MT_ERR_INVALID, "concat: input %d is NULL", i);
            return NULL;
        }
    int nd = xs[0]->ndim;
    if (dim < 0) dim += nd;
    if (dim < 0 || dim >= nd) {
        MT_ERR(MT_ERR_INVALID, "concat: dim out of range for %d-D inputs", nd);
        return NULL;
    }
    concat_attr a = {dim};
    if (n <= MT_MAX_IN) return mt_op1(&mt_op_concat, n, n, xs, &a, sizeof a);
    /* chain: cat(cat(x0..x7), x8..x14), ... */
    mt_tensor *acc = mt_op1(&mt_op_concat, MT_MAX_IN, MT_MAX_IN, xs, &a, sizeof a);
    int i = MT_MAX_IN;
    while (acc && i < n) {
        mt_tensor *group[MT_MAX_IN];
        int k = 0;
        group[k++] = acc;
        while (k < MT_MAX_IN && i < n) group[k++] = xs[i++];
        mt_tensor *next = mt_op1(&mt_op_concat, k, k, group, &a, sizeof a);
        mt_tensor_release(acc);
        acc = next;
    }
    return acc;
}
