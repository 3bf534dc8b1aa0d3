/* core/ops/avg_pool2d.c: 2-D average pooling (torch.nn.functional.avg_pool2d)
 * and the global average pool (adaptive_avg_pool2d(x, 1)).
 *
 * Window of output (oh, ow): rows [oh*stride_h - pad_top, ... + kh) clipped to
 * [.., H + pad_bottom) ("pool size" counts padding), then clipped to the input.
 * Divisor: divisor_override if > 0, else the pool size when count_include_pad,
 * else the number of input pixels in the window (PyTorch CPU/CUDA kernels).
 * Output size as max_pool2d (pool2d.h; ceil_mode: no window starts in the trailing pad). */
#include "../ops.h"
#include "pool2d.h"

static mt_status avg_pool2d_shape(mt_node *n, mt_shape *out)
{
    const mt_pool2d_params *p = MT_ATTR(n, mt_pool2d_params);
    MT_TRY(mt_pool2d_out_shape("avg_pool2d", n->in[0], p, out));
    MT_REQUIRE(p->divisor_override >= 0, "avg_pool2d: divisor_override %d must be >= 0 (0: none)",
               p->divisor_override);
    return MT_OK;
}

/* Window [*h0, *h1) x [*w0, *w1) of output (oh, ow) clipped to the input, and its divisor (0: empty). */
static mt_real avg_window(const mt_pool2d_params *p, int H, int W, int oh, int ow, int *h0, int *h1, int *w0, int *w1)
{
    int hs = oh * p->stride_h - p->pad_top, ws = ow * p->stride_w - p->pad_left;
    int he = hs + p->kh, we = ws + p->kw;
    if (he > H + p->pad_bottom) he = H + p->pad_bottom;
    if (we > W + p->pad_right) we = W + p->pad_right;
    int pool_size = (he - hs) * (we - ws);
    if (hs < 0) hs = 0;
    if (ws < 0) ws = 0;
    if (he > H) he = H;
    if (we > W) we = W;
    *h0 = hs, *h1 = he, *w0 = ws, *w1 = we;
    if (hs >= he || ws >= we) return 0;
    if (p->divisor_override > 0) return (mt_real)p->divisor_override;
    return (mt_real)(p->count_include_pad ? pool_size : (he - hs) * (we - ws));
}

static mt_status avg_pool2d_forward_cpu(mt_node *n)
{
    const mt_pool2d_params *p = MT_ATTR(n, mt_pool2d_params);
    const mt_tensor *xt = n->in[0];
    mt_tensor *yt = n->out[0];
    const int H = xt->shape[2], W = xt->shape[3], OH = yt->shape[2], OW = yt->shape[3];
    const ptrdiff_t planes = (ptrdiff_t)xt->shape[0] * xt->shape[1];
    const mt_real *x = MT_DATA(xt);
    mt_real *y = MT_DATA(yt);
#pragma omp parallel for schedule(static) if (planes * OH * OW > 16384)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        const mt_real *xp = x + pl * H * W;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int h0, h1, w0, w1;
                mt_real div = avg_window(p, H, W, oh, ow, &h0, &h1, &w0, &w1);
                mt_real s = 0;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) s += xp[h * W + w];
                y[(pl * OH + oh) * OW + ow] = div > 0 ? s / div : 0;
            }
    }
    return MT_OK;
}

static mt_status avg_pool2d_backward_cpu(mt_node *n)
{
    const mt_pool2d_params *p = MT_ATTR(n, mt_pool2d_params);
    const mt_tensor *xt = n->in[0];
    const mt_tensor *gy = n->gout[0];
    const int H = xt->shape[2], W = xt->shape[3], OH = gy->shape[2], OW = gy->shape[3];
    const ptrdiff_t planes = (ptrdiff_t)xt->shape[0] * xt->shape[1];
    const mt_real *dy = MT_DATA(gy);
    mt_real *dx = MT_DATA(n->gin[0]);
#pragma omp parallel for schedule(static) if (planes * OH * OW > 16384)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        mt_real *dxp = dx + pl * H * W;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int h0, h1, w0, w1;
                mt_real div = avg_window(p, H, W, oh, ow, &h0, &h1, &w0, &w1);
                if (div <= 0) continue;
                mt_real g = dy[(pl * OH + oh) * OW + ow] / div;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) dxp[h * W + w] += g;
            }
    }
    return MT_OK;
}

static mt_status global_avg_pool2d_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    MT_REQUIRE(x->dtype == MT_REAL, "global_avg_pool2d: expected %s input, got %s", mt_dtype_name(MT_REAL),
               mt_dtype_name(x->dtype));
    MT_REQUIRE(x->ndim == 4 && x->shape[2] > 0 && x->shape[3] > 0,
               "global_avg_pool2d: expected x [N, C, H, W] with H, W > 0");
    out[0].ndim = 4;
    out[0].shape[0] = x->shape[0];
    out[0].shape[1] = x->shape[1];
    out[0].shape[2] = 1;
    out[0].shape[3] = 1;
    return MT_OK;
}

static mt_status global_avg_pool2d_forward_cpu(mt_node *n)
{
    const mt_tensor *xt = n->in[0];
    const ptrdiff_t planes = (ptrdiff_t)xt->shape[0] * xt->shape[1];
    const ptrdiff_t hw = (ptrdiff_t)xt->shape[2] * xt->shape[3];
    const mt_real *x = MT_DATA(xt);
    mt_real *y = MT_DATA(n->out[0]);
#pragma omp parallel for schedule(static) if (planes * hw > 32768)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        double s = 0;
        for (ptrdiff_t i = 0; i < hw; i++) s += x[pl * hw + i];
        y[pl] = (mt_real)(s / (double)hw);
    }
    return MT_OK;
}

static mt_status global_avg_pool2d_backward_cpu(mt_node *n)
{
    const mt_tensor *xt = n->in[0];
    const ptrdiff_t planes = (ptrdiff_t)xt->shape[0] * xt->shape[1];
    const ptrdiff_t hw = (ptrdiff_t)xt->shape[2] * xt->shape[3];
    const mt_real *dy = MT_DATA(n->gout[0]);
    mt_real *dx = MT_DATA(n->gin[0]);
#pragma omp parallel for schedule(static) if (planes * hw > 32768)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        mt_real g = dy[pl] / (mt_real)hw;
        for (ptrdiff_t i = 0; i < hw; i++) dx[pl * hw + i] += g;
    }
    return MT_OK;
}

#ifdef MT_WITH_CUDA
mt_status avg_pool2d_forward_cuda(mt_node *n);
mt_status avg_pool2d_backward_cuda(mt_node *n);
mt_status global_avg_pool2d_forward_cuda(mt_node *n);
mt_status global_avg_pool2d_backward_cuda(mt_node *n);
#endif

const mt_op mt_op_avg_pool2d = {
    "avg_pool2d", avg_pool2d_shape,
    {avg_pool2d_forward_cpu, MT_CUDA_FN(avg_pool2d_forward_cuda)},
    {avg_pool2d_backward_cpu, MT_CUDA_FN(avg_pool2d_backward_cuda)},
};

const mt_op mt_op_global_avg_pool2d = {
    "global_avg_pool2d", global_avg_pool2d_shape,
    {global_avg_pool2d_forward_cpu, MT_CUDA_FN(global_avg_pool2d_forward_cuda)},
    {global_avg_pool2d_backward_cpu, MT_CUDA_FN(global_avg_pool2d_backward_cuda)},
};

mt_tensor *mt_avg_pool2d(mt_tensor *x, mt_pool2d_params p)
{
    mt_tensor *in[1] = {x};
    return mt_op1(&mt_op_avg_pool2d, 1, 1, in, &p, sizeof p);
}

mt_tensor *mt_global_avg_pool2d(mt_tensor *x)
{
    mt_tensor *in[1] = {x};
    return mt_op1(&mt_op_global_avg_pool2d, 1, 1, in, NULL, 0);
}
