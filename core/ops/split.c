/* core/ops/split.c: torch.split(x, sizes, dim) with explicit sizes: n outputs,
 * output k = x[..., off_k : off_k + sizes[k], ...] along dim (negative counts
 * from the end), sizes summing to x.shape[dim]. Any dtype. Backward: dx is the
 * concatenation of the output gradients (zeros for unused outputs). More than
 * MT_MAX_OUT pieces fall back to one mt_slice per piece. */
#include <string.h>

#include "../ops.h"
#include "copy_rows.h"

typedef struct split_attr {
    int dim; /* normalised, >= 0 */
    int n;
    int sizes[MT_MAX_OUT];
} split_attr;

static mt_status split_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    const split_attr *a = MT_ATTR(n, split_attr);
    MT_REQUIRE(a->dim >= 0 && a->dim < x->ndim, "split: dim %d out of range for a %d-D tensor", a->dim, x->ndim);
    long total = 0;
    for (int k = 0; k < a->n; k++) {
        MT_REQUIRE(a->sizes[k] >= 0, "split: size %d of piece %d is negative", a->sizes[k], k);
        total += a->sizes[k];
        out[k].ndim = x->ndim;
        memcpy(out[k].shape, x->shape, sizeof out[k].shape);
        out[k].shape[a->dim] = a->sizes[k];
        out[k].dtype = x->dtype;
    }
    MT_REQUIRE(total == x->shape[a->dim], "split: sizes sum to %ld but dim %d has %d elements", total, a->dim,
               x->shape[a->dim]);
    return MT_OK;
}

static mt_status split_forward(mt_node *n)
{
    const split_attr *a = MT_ATTR(n, split_attr);
    size_t outer, inner;
    mt_outer_inner(n->in[0], a->dim, &outer, &inner);
    size_t ipitch = (size_t)n->in[0]->shape[a->dim] * inner, col = 0;
    const char *x = mt_data(n->in[0]);
    for (int k = 0; k < a->n; k++) {
        size_t w = (size_t)a->sizes[k] * inner;
        MT_TRY(mt_copy_rows(n, mt_data(n->out[k]), w, x + col, ipitch, w, outer));
        col += w;
    }
    return MT_OK;
}

static mt_status split_backward(mt_node *n)
{
    const split_attr *a = MT_ATTR(n, split_attr);
    size_t outer, inner;
    mt_outer_inner(n->in[0], a->dim, &outer, &inner);
    size_t ipitch = (size_t)n->in[0]->shape[a->dim] * inner, col = 0;
    char *dx = mt_data(n->gin[0]);
    for (int k = 0; k < a->n; k++) {
        size_t w = (size_t)a->sizes[k] * inner;
        MT_TRY(mt_copy_rows(n, dx + col, ipitch, mt_data(n->gout[k]), w, w, outer));
        col += w;
    }
    return MT_OK;
}

const mt_op mt_op_split = {
    "split", split_shape,
    {split_forward, MT_CUDA_FN(split_forward)},
    {split_backward, MT_CUDA_FN(split_backward)},
};

mt_status mt_split(mt_tensor *x, int dim, int n, const int *sizes, mt_tensor **out)
{
    if (out)
        for (int k = 0; k < n; k++) out[k] = NULL;
    if (!x) return mt_last_status() ? mt_last_status() : MT_ERR(MT_ERR_INVALID, "split: input is NULL");
    MT_REQUIRE(n >= 1 && sizes && out, "split: need n >= 1 sizes and an output array (n = %d)", n);
    if (dim < 0) dim += x->ndim;
    MT_REQUIRE(dim >= 0 && dim < x->ndim, "split: dim out of range for a %d-D tensor", x->ndim);
    if (n > MT_MAX_OUT) {
        long total = 0;
        for (int k = 0; k < n; k++) total += sizes[k];
        MT_REQUIRE(total == x->shape[dim], "split: sizes sum to %ld but dim %d has %d elements", total, dim,
                   x->shape[dim]);
        int start = 0;
        for (int k = 0; k < n; k++) {
            out[k] = mt_slice(x, dim, start, start + sizes[k]);
            if (!out[k]) {
                for (int j = 0; j < k; j++) mt_tensor_release(out[j]), out[j] = NULL;
                return mt_last_status();
            }
            start += sizes[k];
        }
        return MT_OK;
    }
    split_attr a;
    memset(&a, 0, sizeof a);
    a.dim = dim;
    a.n = n;
    for (int k = 0; k < n; k++) a.sizes[k] = sizes[k];
    mt_tensor *in[1] = {x};
    return mt_op_apply(&mt_op_split, 1, in, &a, sizeof a, n, out);
}
