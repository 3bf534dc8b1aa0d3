/* core/ops/slice.c: x[..., start:end, ...] along one dim (torch.narrow /
 * basic slicing with step 1) and the 2-D crop of [N, C, H, W]
 * (x[:, :, top:top+h, left:left+w], the U-Net skip-connection crop).
 * Copies (the result is contiguous); any dtype. Backward writes dy into the
 * selected region of a zero gradient. */
#include <string.h>

#include "../ops.h"
#include "copy_rows.h"

typedef struct slice_attr {
    int dim, start, end; /* normalised: 0 <= start <= end <= shape[dim] */
} slice_attr;

static mt_status slice_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    const slice_attr *a = MT_ATTR(n, slice_attr);
    MT_REQUIRE(a->dim >= 0 && a->dim < x->ndim, "slice: dim %d out of range for a %d-D tensor", a->dim, x->ndim);
    MT_REQUIRE(0 <= a->start && a->start <= a->end && a->end <= x->shape[a->dim],
               "slice: range [%d, %d) is outside dim %d of size %d", a->start, a->end, a->dim, x->shape[a->dim]);
    out[0].ndim = x->ndim;
    memcpy(out[0].shape, x->shape, sizeof out[0].shape);
    out[0].shape[a->dim] = a->end - a->start;
    out[0].dtype = x->dtype;
    return MT_OK;
}

static mt_status slice_forward(mt_node *n)
{
    const slice_attr *a = MT_ATTR(n, slice_attr);
    size_t outer, inner;
    mt_outer_inner(n->in[0], a->dim, &outer, &inner);
    size_t ipitch = (size_t)n->in[0]->shape[a->dim] * inner, w = (size_t)(a->end - a->start) * inner;
    const char *x = (const char *)mt_data(n->in[0]) + (size_t)a->start * inner;
    MT_TRY(mt_copy_rows(n, mt_data(n->out[0]), w, x, ipitch, w, outer));
    return MT_OK;
}

static mt_status slice_backward(mt_node *n)
{
    const slice_attr *a = MT_ATTR(n, slice_attr);
    size_t outer, inner;
    mt_outer_inner(n->in[0], a->dim, &outer, &inner);
    size_t ipitch = (size_t)n->in[0]->shape[a->dim] * inner, w = (size_t)(a->end - a->start) * inner;
    char *dx = (char *)mt_data(n->gin[0]) + (size_t)a->start * inner;
    MT_TRY(mt_copy_rows(n, dx, ipitch, mt_data(n->gout[0]), w, w, outer));
    return MT_OK;
}

const mt_op mt_op_slice = {
    "slice", slice_shape,
    {slice_forward, MT_CUDA_FN(slice_forward)},
    {slice_backward, MT_CUDA_FN(slice_backward)},
};

/* start/end may be negative (counted from the end, as in Python). */
mt_tensor *mt_slice(mt_tensor *x, int dim, int start, int end)
{
    if (!x) {
        if (mt_last_status() == MT_OK) MT_ERR(MT_ERR_INVALID, "slice: input is NULL");
        return NULL;
    }
    if (dim < 0) dim += x->ndim;
    slice_attr a = {dim, start, end};
    if (dim >= 0 && dim < x->ndim) {
        if (a.start < 0) a.start += x->shape[dim];
        if (a.end < 0) a.end += x->shape[dim];
    }
    mt_tensor *in[1] = {x};
    return mt_op1(&mt_op_slice, 1, 1, in, &a, sizeof a);
}

/* ------------------------------------------------------------ crop2d --- */

typedef struct crop2d_attr {
    int top, left, h, w;
} crop2d_attr;

static mt_status crop2d_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    const crop2d_attr *a = MT_ATTR(n, crop2d_attr);
    MT_REQUIRE(x->ndim == 4, "crop2d: expected x [N, C, H, W], got %d dimensions", x->ndim);
    MT_REQUIRE(a->top >= 0 && a->left >= 0 && a->h >= 0 && a->w >= 0 && a->top + a->h <= x->shape[2] &&
                   a->left + a->w <= x->shape[3],
               "crop2d: window (top %d, left %d, %dx%d) is outside the %dx%d input", a->top, a->left, a->h, a->w,
               x->shape[2], x->shape[3]);
    out[0].ndim = 4;
    out[0].shape[0] = x->shape[0];
    out[0].shape[1] = x->shape[1];
    out[0].shape[2] = a->h;
    out[0].shape[3] = a->w;
    out[0].dtype = x->dtype;
    return MT_OK;
}

/* Copies the crop window between the full planes `big` [planes, H, W] and the
 * cropped planes `small` [planes, h, w]; to_small selects the direction. */
static void crop_copy(const crop2d_attr *a, const mt_tensor *full, char *big, char *small, int to_small)
{
    const size_t es = mt_dtype_size(full->dtype);
    const ptrdiff_t planes = (ptrdiff_t)full->shape[0] * full->shape[1];
    const size_t H = (size_t)full->shape[2], W = (size_t)full->shape[3];
    const size_t row = (size_t)a->w * es;
#pragma omp parallel for schedule(static) if ((size_t)planes * a->h * row > (1u << 20))
    for (ptrdiff_t pl = 0; pl < planes; pl++)
        for (int r = 0; r < a->h; r++) {
            char *b = big + (((size_t)pl * H + (size_t)(a->top + r)) * W + (size_t)a->left) * es;
            char *s = small + ((size_t)pl * (size_t)a->h + (size_t)r) * row;
            if (to_small) memcpy(s, b, row);
            else memcpy(b, s, row);
        }
}

static mt_status crop2d_forward_cpu(mt_node *n)
{
    crop_copy(MT_ATTR(n, crop2d_attr), n->in[0], mt_data(n->in[0]), mt_data(n->out[0]), 1);
    return MT_OK;
}

static mt_status crop2d_backward_cpu(mt_node *n)
{
    crop_copy(MT_ATTR(n, crop2d_attr), n->in[0], mt_data(n->gin[0]), mt_data(n->gout[0]), 0);
    return MT_OK;
}

#ifdef MT_WITH_CUDA
/* core/ops/slice.cu: 3-D pitched copy of the window; backward = 1 copies dy into dx. */
mt_status crop2d_cuda(mt_node *n, int backward, int top, int left);
static mt_status crop2d_forward_cuda(mt_node *n)
{
    const crop2d_attr *a = MT_ATTR(n, crop2d_attr);
    return crop2d_cuda(n, 0, a->top, a->left);
}
static mt_status crop2d_backward_cuda(mt_node *n)
{
    const crop2d_attr *a = MT_ATTR(n, crop2d_attr);
    return crop2d_cuda(n, 1, a->top, a->left);
}
#endif

static const mt_op mt_op_crop2d = {
    "crop2d", crop2d_shape,
    {crop2d_forward_cpu, MT_CUDA_FN(crop2d_forward_cuda)},
    {crop2d_backward_cpu, MT_CUDA_FN(crop2d_backward_cuda)},
};

mt_tensor *mt_crop2d(mt_tensor *x, int top, int left, int h, int w)
{
    crop2d_attr a = {top, left, h, w};
    mt_tensor *in[1] = {x};
    return mt_op1(&mt_op_crop2d, 1, 1, in, &a, sizeof a);
}
