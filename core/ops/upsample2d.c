/* core/ops/upsample2d.c: 2-D resizing (torch.nn.functional.interpolate with
 * an explicit size) on [N, C, H, W] -> [N, C, out_h, out_w].
 *
 * nearest (PyTorch 'nearest', UpSample.h nearest_idx): src = dst when sizes
 *   are equal, dst >> 1 for exact 2x, else min(floor(dst * (float)in/out), in-1)
 *   in float arithmetic, as PyTorch does.
 * bilinear (UpSample.h area_pixel_compute_source_index):
 *   align_corners = 1: src = dst * (in-1)/(out-1) (0 when out == 1);
 *   align_corners = 0: src = max((dst + 0.5) * in/out - 0.5, 0);
 *   i0 = floor(src), i1 = i0 + (i0 < in-1), l1 = src - i0, l0 = 1 - l1;
 *   y = l0h (l0w x[i0h,i0w] + l1w x[i0h,i1w]) + l1h (l0w x[i1h,i0w] + l1w x[i1h,i1w]).
 * Backward scatters dy back with the same weights. */
#include <math.h>
#include <stdlib.h>

#include "../ops.h"

typedef struct upsample2d_attr {
    int out_h, out_w;
    int mode;          /* mt_upsample_mode */
    int align_corners; /* bilinear only */
} upsample2d_attr;

static mt_status upsample2d_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    const upsample2d_attr *a = MT_ATTR(n, upsample2d_attr);
    MT_REQUIRE(x->dtype == MT_REAL, "upsample2d: expected %s input, got %s", mt_dtype_name(MT_REAL),
               mt_dtype_name(x->dtype));
    MT_REQUIRE(x->ndim == 4 && x->shape[2] > 0 && x->shape[3] > 0,
               "upsample2d: expected x [N, C, H, W] with H, W > 0, got %d dimensions", x->ndim);
    MT_REQUIRE(a->out_h > 0 && a->out_w > 0, "upsample2d: output size %dx%d must be positive", a->out_h, a->out_w);
    MT_REQUIRE(a->mode == MT_UPSAMPLE_NEAREST || a->mode == MT_UPSAMPLE_BILINEAR,
               "upsample2d: mode %d is not nearest (0) or bilinear (1)", a->mode);
    out[0].ndim = 4;
    out[0].shape[0] = x->shape[0];
    out[0].shape[1] = x->shape[1];
    out[0].shape[2] = a->out_h;
    out[0].shape[3] = a->out_w;
    return MT_OK;
}

static int nearest_src(int dst, int in, int out)
{
    if (out == in) return dst;
    if (out == 2 * in) return dst >> 1;
    float scale = (float)in / (float)out;
    int s = (int)floorf((float)dst * scale);
    return s < in - 1 ? s : in - 1;
}

/* Source index pair and weights of one output coordinate (bilinear). */
static void linear_src(int dst, int in, int out, int align_corners, int *i0, int *i1, mt_real *l0, mt_real *l1)
{
    mt_real src;
    if (align_corners) {
        mt_real scale = out > 1 ? (mt_real)(in - 1) / (mt_real)(out - 1) : 0;
        src = scale * (mt_real)dst;
    } else {
        mt_real scale = (mt_real)in / (mt_real)out;
        src = scale * ((mt_real)dst + (mt_real)0.5) - (mt_real)0.5;
        if (src < 0) src = 0;
    }
    int a = (int)src;
    *i0 = a;
    *i1 = a + (a < in - 1 ? 1 : 0);
    mt_real l = src - (mt_real)a;
    if (l < 0) l = 0;
    if (l > 1) l = 1;
    *l1 = l;
    *l0 = 1 - l;
}

/* Per-axis source tables (computed once per call): for each output row/column
 * the two source indices and weights (nearest: i1 = i0, weights 1 and 0). */
typedef struct axis_table {
    int *i0, *i1;
    mt_real *l0, *l1;
} axis_table;

static void table_free(axis_table *t)
{
    free(t->i0);
    free(t->l0);
}

static mt_status table_make(axis_table *t, int in, int out, int mode, int align_corners)
{
    t->i0 = mt_malloc(sizeof(int) * 2 * (size_t)out);
    t->l0 = mt_malloc(sizeof(mt_real) * 2 * (size_t)out);
    if (!t->i0 || !t->l0) {
        table_free(t);
        return MT_ERR_NOMEM;
    }
    t->i1 = t->i0 + out;
    t->l1 = t->l0 + out;
    for (int d = 0; d < out; d++) {
        if (mode == MT_UPSAMPLE_NEAREST) {
            t->i0[d] = t->i1[d] = nearest_src(d, in, out);
            t->l0[d] = 1;
            t->l1[d] = 0;
        } else {
            linear_src(d, in, out, align_corners, &t->i0[d], &t->i1[d], &t->l0[d], &t->l1[d]);
        }
    }
    return MT_OK;
}

static mt_status upsample2d_forward_cpu(mt_node *n)
{
    const upsample2d_attr *a = MT_ATTR(n, upsample2d_attr);
    const mt_tensor *xt = n->in[0];
    const int H = xt->shape[2], W = xt->shape[3], OH = a->out_h, OW = a->out_w;
    const ptrdiff_t planes = (ptrdiff_t)xt->shape[0] * xt->shape[1];
    axis_table th = {0}, tw = {0};
    MT_TRY(table_make(&th, H, OH, a->mode, a->align_corners));
    if (table_make(&tw, W, OW, a->mode, a->align_corners) != MT_OK) {
        table_free(&th);
        return MT_ERR_NOMEM;
    }
    const mt_real *x = MT_DATA(xt);
    mt_real *y = MT_DATA(n->out[0]);
    const int nearest = a->mode == MT_UPSAMPLE_NEAREST;
#pragma omp parallel for schedule(static) if (planes * OH * OW > 16384)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        const mt_real *xp = x + pl * H * W;
        mt_real *yp = y + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            const mt_real *r0 = xp + (ptrdiff_t)th.i0[oh] * W, *r1 = xp + (ptrdiff_t)th.i1[oh] * W;
            mt_real *yr = yp + (ptrdiff_t)oh * OW;
            if (nearest) {
                for (int ow = 0; ow < OW; ow++) yr[ow] = r0[tw.i0[ow]];
                continue;
            }
            const mt_real lh0 = th.l0[oh], lh1 = th.l1[oh];
            for (int ow = 0; ow < OW; ow++) {
                int w0 = tw.i0[ow], w1 = tw.i1[ow];
                mt_real lw0 = tw.l0[ow], lw1 = tw.l1[ow];
                yr[ow] = lh0 * (lw0 * r0[w0] + lw1 * r0[w1]) + lh1 * (lw0 * r1[w0] + lw1 * r1[w1]);
            }
        }
    }
    table_free(&th);
    table_free(&tw);
    return MT_OK;
}

static mt_status upsample2d_backward_cpu(mt_node *n)
{
    const upsample2d_attr *a = MT_ATTR(n, upsample2d_attr);
    const mt_tensor *xt = n->in[0];
    const int H = xt->shape[2], W = xt->shape[3], OH = a->out_h, OW = a->out_w;
    const ptrdiff_t planes = (ptrdiff_t)xt->shape[0] * xt->shape[1];
    axis_table th = {0}, tw = {0};
    MT_TRY(table_make(&th, H, OH, a->mode, a->align_corners));
    if (table_make(&tw, W, OW, a->mode, a->align_corners) != MT_OK) {
        table_free(&th);
        return MT_ERR_NOMEM;
    }
    const mt_real *dy = MT_DATA(n->gout[0]);
    mt_real *dx = MT_DATA(n->gin[0]);
    const int nearest = a->mode == MT_UPSAMPLE_NEAREST;
#pragma omp parallel for schedule(static) if (planes * OH * OW > 16384)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        mt_real *dxp = dx + pl * H * W;
        const mt_real *dyp = dy + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            mt_real *r0 = dxp + (ptrdiff_t)th.i0[oh] * W, *r1 = dxp + (ptrdiff_t)th.i1[oh] * W;
            const mt_real *dr = dyp + (ptrdiff_t)oh * OW;
            if (nearest) {
                for (int ow = 0; ow < OW; ow++) r0[tw.i0[ow]] += dr[ow];
                continue;
            }
            const mt_real lh0 = th.l0[oh], lh1 = th.l1[oh];
            for (int ow = 0; ow < OW; ow++) {
                int w0 = tw.i0[ow], w1 = tw.i1[ow];
                mt_real lw0 = tw.l0[ow], lw1 = tw.l1[ow], g = dr[ow];
                r0[w0] += lh0 * lw0 * g;
                r0[w1] += lh0 * lw1 * g;
                r1[w0] += lh1 * lw0 * g;
                r1[w1] += lh1 * lw1 * g;
            }
        }
    }
    table_free(&th);
    table_free(&tw);
    return MT_OK;
}

#ifdef MT_WITH_CUDA
/* core/ops/upsample2d.cu: backward = 0 forward, 1 backward. */
mt_status upsample2d_cuda(mt_node *n, int backward, int mode, int align_corners);
static mt_status upsample2d_forward_cuda(mt_node *n)
{
    const upsample2d_attr *a = MT_ATTR(n, upsample2d_attr);
    return upsample2d_cuda(n, 0, a->mode, a->align_corners);
}
static mt_status upsample2d_backward_cuda(mt_node *n)
{
    const upsample2d_attr *a = MT_ATTR(n, upsample2d_attr);
    return upsample2d_cuda(n, 1, a->mode, a->align_corners);
}
#endif

const mt_op mt_op_upsample2d = {
    "upsample2d", upsample2d_shape,
    {upsample2d_forward_cpu, MT_CUDA_FN(upsample2d_forward_cuda)},
    {upsample2d_backward_cpu, MT_CUDA_FN(upsample2d_backward_cuda)},
};

mt_tensor *mt_upsample2d(mt_tensor *x, int out_h, int out_w, mt_upsample_mode mode, int align_corners)
{
    upsample2d_attr a = {out_h, out_w, (int)mode, align_corners ? 1 : 0};
    mt_tensor *in[1] = {x};
    return mt_op1(&mt_op_upsample2d, 1, 1, in, &a, sizeof a);
}
