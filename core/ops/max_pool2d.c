/* core/ops/max_pool2d.c: 2-D max pooling with argmax indices
 * (torch.nn.functional.max_pool2d(..., return_indices=True)), and
 * mt_pool2d_default shared by the pooling ops.
 *
 * Output size per axis (PyTorch pooling_output_shape, dilation 1):
 *   out = floor_or_ceil((in + pad_before + pad_after - k) / stride) + 1,
 *   and in ceil mode the last window must start inside the input or the
 *   leading padding: if (out - 1) * stride >= in + pad_before, out -= 1.
 * Padding counts as -inf. Indices: MT_I32, flat h * W + w within the input
 * plane; ties go to the first maximum in row-major window order; NaN wins
 * (propagates) as in PyTorch. Backward: dx[plane][idx] += dy. */
#include <math.h>

#include "../ops.h"
#include "pool2d.h"

mt_pool2d_params mt_pool2d_default(int k)
{
    mt_pool2d_params p = {0};
    p.kh = p.kw = k;
    p.stride_h = p.stride_w = k;
    p.count_include_pad = 1;
    return p;
}

/* Output length of one pooled axis; -1 if the window does not fit. */
static int pool_out_size(int in, int k, int s, int pad_before, int pad_after, int ceil_mode)
{
    int span = in + pad_before + pad_after - k;
    if (span < 0) return -1;
    int out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (out - 1) * s >= in + pad_before) out--;
    return out;
}

mt_status mt_pool2d_out_shape(const char *op, const mt_tensor *x, const mt_pool2d_params *p, mt_shape *out)
{
    MT_REQUIRE(x->dtype == MT_REAL, "%s: expected %s input, got %s", op, mt_dtype_name(MT_REAL),
               mt_dtype_name(x->dtype));
    MT_REQUIRE(x->ndim == 4, "%s: expected x [N, C, H, W], got %d dimensions", op, x->ndim);
    MT_REQUIRE(p->kh > 0 && p->kw > 0 && p->stride_h > 0 && p->stride_w > 0,
               "%s: kernel (%d, %d) and stride (%d, %d) must be positive", op, p->kh, p->kw, p->stride_h,
               p->stride_w);
    MT_REQUIRE(p->pad_top >= 0 && p->pad_bottom >= 0 && p->pad_left >= 0 && p->pad_right >= 0 &&
                   2 * p->pad_top <= p->kh && 2 * p->pad_bottom <= p->kh && 2 * p->pad_left <= p->kw &&
                   2 * p->pad_right <= p->kw,
               "%s: padding (%d, %d, %d, %d) must be >= 0 and at most half the kernel (%d, %d) (PyTorch rule)", op,
               p->pad_top, p->pad_bottom, p->pad_left, p->pad_right, p->kh, p->kw);
    int oh = pool_out_size(x->shape[2], p->kh, p->stride_h, p->pad_top, p->pad_bottom, p->ceil_mode);
    int ow = pool_out_size(x->shape[3], p->kw, p->stride_w, p->pad_left, p->pad_right, p->ceil_mode);
    MT_REQUIRE(oh > 0 && ow > 0, "%s: kernel %dx%d does not fit the padded input %dx%d", op, p->kh, p->kw,
               x->shape[2], x->shape[3]);
    out[0].ndim = 4;
    out[0].shape[0] = x->shape[0];
    out[0].shape[1] = x->shape[1];
    out[0].shape[2] = oh;
    out[0].shape[3] = ow;
    return MT_OK;
}

static mt_status max_pool2d_shape(mt_node *n, mt_shape *out)
{
    return mt_pool2d_out_shape("max_pool2d", n->in[0], MT_ATTR(n, mt_pool2d_params), out);
}

static mt_status max_pool2d_forward_cpu(mt_node *n)
{
    const mt_pool2d_params *p = MT_ATTR(n, mt_pool2d_params);
    const mt_tensor *xt = n->in[0];
    mt_tensor *yt = n->out[0];
    mt_tensor *it = mt_tensor_new(MT_I32, mt_cpu(), 4, yt->shape);
    if (!it) return mt_last_status();
    n->saved[0] = it;
    const int H = xt->shape[2], W = xt->shape[3], OH = yt->shape[2], OW = yt->shape[3];
    const ptrdiff_t planes = (ptrdiff_t)xt->shape[0] * xt->shape[1];
    const mt_real *x = MT_DATA(xt);
    mt_real *y = MT_DATA(yt);
    int32_t *idx = (int32_t *)mt_data(it);
#pragma omp parallel for schedule(static) if (planes * OH * OW > 16384)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        const mt_real *xp = x + pl * H * W;
        mt_real *yp = y + pl * OH * OW;
        int32_t *ip = idx + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int h0 = oh * p->stride_h - p->pad_top, h1 = h0 + p->kh;
            if (h0 < 0) h0 = 0;
            if (h1 > H) h1 = H;
            for (int ow = 0; ow < OW; ow++) {
                int w0 = ow * p->stride_w - p->pad_left, w1 = w0 + p->kw;
                if (w0 < 0) w0 = 0;
                if (w1 > W) w1 = W;
                mt_real best = -INFINITY;
                int besti = h0 * W + w0;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) {
                        mt_real v = xp[h * W + w];
                        if (v > best || isnan(v)) {
                            best = v;
                            besti = h * W + w;
                            if (isnan(v)) goto done;
                        }
                    }
            done:
                yp[oh * OW + ow] = best;
                ip[oh * OW + ow] = besti;
            }
        }
    }
    return MT_OK;
}

static mt_status max_pool2d_backward_cpu(mt_node *n)
{
    const mt_tensor *xt = n->in[0];
    const mt_tensor *gy = n->gout[0];
    const int HW = xt->shape[2] * xt->shape[3];
    const int OHW = gy->shape[2] * gy->shape[3];
    const ptrdiff_t planes = (ptrdiff_t)xt->shape[0] * xt->shape[1];
    const mt_real *dy = MT_DATA(gy);
    const int32_t *idx = (const int32_t *)mt_data(n->saved[0]);
    mt_real *dx = MT_DATA(n->gin[0]);
#pragma omp parallel for schedule(static) if (planes * OHW > 16384)
    for (ptrdiff_t pl = 0; pl < planes; pl++)
        for (int o = 0; o < OHW; o++) dx[pl * HW + idx[pl * OHW + o]] += dy[pl * OHW + o];
    return MT_OK;
}

/* The descriptor's attribute: the public parameters first (the CUDA twin reads
 * them as mt_pool2d_params) and where to hand the caller the indices. */
typedef struct max_pool2d_attr {
    mt_pool2d_params p;
    mt_tensor **indices; /* NULL or receives a new reference to saved[0] */
} max_pool2d_attr;

static mt_status hand_out_indices(mt_node *n)
{
    mt_tensor **dst = MT_ATTR(n, max_pool2d_attr)->indices;
    if (dst) *dst = mt_tensor_retain(n->saved[0]);
    return MT_OK;
}

static mt_status max_pool2d_forward(mt_node *n)
{
    MT_TRY(max_pool2d_forward_cpu(n));
    return hand_out_indices(n);
}

#ifdef MT_WITH_CUDA
mt_status max_pool2d_forward_cuda(mt_node *n);
mt_status max_pool2d_backward_cuda(mt_node *n);
static mt_status max_pool2d_forward_gpu(mt_node *n)
{
    MT_TRY(max_pool2d_forward_cuda(n));
    return hand_out_indices(n);
}
#endif

const mt_op mt_op_max_pool2d = {
    "max_pool2d", max_pool2d_shape,
    {max_pool2d_forward, MT_CUDA_FN(max_pool2d_forward_gpu)},
    {max_pool2d_backward_cpu, MT_CUDA_FN(max_pool2d_backward_cuda)},
};

mt_tensor *mt_max_pool2d(mt_tensor *x, mt_pool2d_params p, mt_tensor **indices)
{
    if (indices) *indices = NULL;
    max_pool2d_attr a = {p, indices};
    mt_tensor *in[1] = {x};
    mt_tensor *y = mt_op1(&mt_op_max_pool2d, 1, 1, in, &a, sizeof a);
    if (y && indices && mt_tensor_is_meta(y)) /* shape-only run: the indices are shaped like y */
        *indices = mt_tensor_new_meta(MT_I32, y->ndim, y->shape);
    if (!y && indices) {
        mt_tensor_release(*indices);
        *indices = NULL;
    }
    return y;
}
