/* core/ops/reshape.c: reshape (torch.reshape / Tensor.view on a contiguous
 * tensor) and flatten (torch.flatten(x, start_dim)).
 * A view: the output shares x's storage (descriptor flag view = 1, see
 * core/op.c), so there is no forward kernel. One dimension may be -1 (inferred).
 * Backward: dx = dy (same elements, x's shape); a device-agnostic copy, so one
 * kernel serves CPU and CUDA. */
#include <string.h>

#include "../ops.h"

typedef struct reshape_attr {
    int ndim;
    int shape[MT_MAX_DIMS];
} reshape_attr;

static mt_status reshape_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    const reshape_attr *a = MT_ATTR(n, reshape_attr);
    MT_REQUIRE(a->ndim >= 0 && a->ndim <= MT_MAX_DIMS, "reshape: rank %d outside 0..%d", a->ndim, MT_MAX_DIMS);
    int infer = -1;
    size_t known = 1;
    for (int i = 0; i < a->ndim; i++) {
        if (a->shape[i] == -1) {
            MT_REQUIRE(infer < 0, "reshape: only one dimension may be -1");
            infer = i;
        } else {
            MT_REQUIRE(a->shape[i] >= 0, "reshape: size %d in dimension %d is invalid", a->shape[i], i);
            known *= (size_t)a->shape[i];
        }
    }
    size_t numel = mt_numel(x);
    out[0].ndim = a->ndim;
    memcpy(out[0].shape, a->shape, sizeof out[0].shape);
    out[0].dtype = x->dtype;
    char b[64];
    if (infer >= 0) {
        MT_REQUIRE(known > 0 && numel % known == 0, "reshape: cannot infer dimension %d: %zu elements of %s are not "
                   "a multiple of %zu", infer, numel, mt_shape_str(x, b, sizeof b), known);
        out[0].shape[infer] = (int)(numel / known);
    } else {
        MT_REQUIRE(known == numel, "reshape: %s has %zu elements, the new shape has %zu", mt_shape_str(x, b, sizeof b),
                   numel, known);
    }
    return MT_OK;
}

static mt_status reshape_backward(mt_node *n)
{
    /* same element count and dtype: a flat copy (mt_tensor_copy checks bytes only) */
    return mt_tensor_copy(n->gin[0], n->gout[0]);
}

const mt_op mt_op_reshape = {
    "reshape", reshape_shape,
    {NULL, NULL},
    {reshape_backward, MT_CUDA_FN(reshape_backward)},
    1,
};

mt_tensor *mt_reshape(mt_tensor *x, int ndim, const int *shape)
{
    reshape_attr a;
    memset(&a, 0, sizeof a);
    if (ndim < 0 || ndim > MT_MAX_DIMS || (ndim > 0 && !shape)) {
        MT_ERR(MT_ERR_INVALID, "reshape: rank %d outside 0..%d (or no shape given)", ndim, MT_MAX_DIMS);
        return NULL;
    }
    a.ndim = ndim;
    for (int i = 0; i < ndim; i++) a.shape[i] = shape[i];
    mt_tensor *in[1] = {x};
    return mt_op1(&mt_op_reshape, 1, 1, in, &a, sizeof a);
}

mt_tensor *mt_flatten(mt_tensor *x, int start_dim)
{
    if (!x) {
        if (mt_last_status() == MT_OK) MT_ERR(MT_ERR_INVALID, "flatten: input is NULL");
        return NULL;
    }
    if (start_dim < 0) start_dim += x->ndim;
    if (start_dim < 0 || start_dim >= x->ndim) {
        MT_ERR(MT_ERR_INVALID, "flatten: start_dim out of range for a %d-D tensor", x->ndim);
        return NULL;
    }
    int shape[MT_MAX_DIMS];
    for (int i = 0; i < start_dim; i++) shape[i] = x->shape[i];
    shape[start_dim] = -1;
    if (mt_numel(x) == 0) { /* -1 cannot be inferred from zero elements */
        shape[start_dim] = 1;
        for (int i = start_dim; i < x->ndim; i++) shape[start_dim] *= x->shape[i];
    }
    return mt_reshape(x, start_dim + 1, shape);
}
