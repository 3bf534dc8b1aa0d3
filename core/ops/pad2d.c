/* core/ops/pad2d.c: padding of H and W of [N, C, H, W]
 * (torch.nn.functional.pad(x, (left, right, top, bottom), mode)).
 * Output [N, C, top + H + bottom, left + W + right]. Output row r reads input
 * row i = r - top mapped into [0, H):
 *   constant:  value outside the input;
 *   reflect:   i < 0 -> -i, i >= H -> 2(H-1) - i (edge not repeated; pad < size);
 *   replicate: clamp to [0, H-1].
 * Backward: each output gradient is added to the input element it read. */
#include "../ops.h"

typedef struct pad2d_attr {
    int top, bottom, left, right;
    int mode; /* mt_pad_mode */
    double value;
} pad2d_attr;

static mt_status pad2d_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    const pad2d_attr *a = MT_ATTR(n, pad2d_attr);
    MT_REQUIRE(x->dtype == MT_REAL, "pad2d: expected %s input, got %s", mt_dtype_name(MT_REAL),
               mt_dtype_name(x->dtype));
    MT_REQUIRE(x->ndim == 4, "pad2d: expected x [N, C, H, W], got %d dimensions", x->ndim);
    MT_REQUIRE(a->top >= 0 && a->bottom >= 0 && a->left >= 0 && a->right >= 0,
               "pad2d: padding (top %d, bottom %d, left %d, right %d) must be >= 0 (use mt_crop2d to cut)", a->top,
               a->bottom, a->left, a->right);
    MT_REQUIRE(a->mode >= MT_PAD_CONSTANT && a->mode <= MT_PAD_REPLICATE,
               "pad2d: mode %d is not constant (0), reflect (1) or replicate (2)", a->mode);
    const int H = x->shape[2], W = x->shape[3];
    if (a->mode == MT_PAD_REFLECT)
        MT_REQUIRE(a->top < H && a->bottom < H && a->left < W && a->right < W,
                   "pad2d: reflect padding (%d, %d, %d, %d) must be smaller than the input %dx%d", a->top,
                   a->bottom, a->left, a->right, H, W);
    if (a->mode == MT_PAD_REPLICATE)
        MT_REQUIRE(H > 0 && W > 0, "pad2d: replicate padding needs a non-empty input");
    out[0].ndim = 4;
    out[0].shape[0] = x->shape[0];
    out[0].shape[1] = x->shape[1];
    out[0].shape[2] = a->top + H + a->bottom;
    out[0].shape[3] = a->left + W + a->right;
    return MT_OK;
}

/* Input index read by padded coordinate i (already shifted by the leading pad); -1: constant. */
static int pad_src(int i, int n, int mode)
{
    if (i >= 0 && i < n) return i;
    if (mode == MT_PAD_CONSTANT) return -1;
    if (mode == MT_PAD_REFLECT) return i < 0 ? -i : 2 * (n - 1) - i;
    return i < 0 ? 0 : n - 1;
}

static mt_status pad2d_forward_cpu(mt_node *n)
{
    const pad2d_attr *a = MT_ATTR(n, pad2d_attr);
    const mt_tensor *xt = n->in[0];
    const mt_tensor *yt = n->out[0];
    const int H = xt->shape[2], W = xt->shape[3], OH = yt->shape[2], OW = yt->shape[3];
    const ptrdiff_t planes = (ptrdiff_t)xt->shape[0] * xt->shape[1];
    const mt_real *x = MT_DATA(xt);
    mt_real *y = MT_DATA(yt);
    const mt_real value = (mt_real)a->value;
#pragma omp parallel for schedule(static) if (planes * OH * OW > 32768)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        const mt_real *xp = x + pl * H * W;
        mt_real *yp = y + pl * OH * OW;
        for (int r = 0; r < OH; r++) {
            int h = pad_src(r - a->top, H, a->mode);
            for (int c = 0; c < OW; c++) {
                int w = pad_src(c - a->left, W, a->mode);
                yp[r * OW + c] = (h < 0 || w < 0) ? value : xp[h * W + w];
            }
        }
    }
    return MT_OK;
}

static mt_status pad2d_backward_cpu(mt_node *n)
{
    const pad2d_attr *a = MT_ATTR(n, pad2d_attr);
    const mt_tensor *xt = n->in[0];
    const mt_tensor *gy = n->gout[0];
    const int H = xt->shape[2], W = xt->shape[3], OH = gy->shape[2], OW = gy->shape[3];
    const ptrdiff_t planes = (ptrdiff_t)xt->shape[0] * xt->shape[1];
    const mt_real *dy = MT_DATA(gy);
    mt_real *dx = MT_DATA(n->gin[0]);
#pragma omp parallel for schedule(static) if (planes * OH * OW > 32768)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        mt_real *dxp = dx + pl * H * W;
        const mt_real *dyp = dy + pl * OH * OW;
        for (int r = 0; r < OH; r++) {
            int h = pad_src(r - a->top, H, a->mode);
            if (h < 0) continue;
            for (int c = 0; c < OW; c++) {
                int w = pad_src(c - a->left, W, a->mode);
                if (w >= 0) dxp[h * W + w] += dyp[r * OW + c];
            }
        }
    }
    return MT_OK;
}

#ifdef MT_WITH_CUDA
/* core/ops/pad2d.cu: backward = 0 forward, 1 backward. */
mt_status pad2d_cuda(mt_node *n, int backward, int top, int left, int mode, double value);
static mt_status pad2d_forward_cuda(mt_node *n)
{
    const pad2d_attr *a = MT_ATTR(n, pad2d_attr);
    return pad2d_cuda(n, 0, a->top, a->left, a->mode, a->value);
}
static mt_status pad2d_backward_cuda(mt_node *n)
{
    const pad2d_attr *a = MT_ATTR(n, pad2d_attr);
    return pad2d_cuda(n, 1, a->top, a->left, a->mode, a->value);
}
#endif

const mt_op mt_op_pad2d = {
    "pad2d", pad2d_shape,
    {pad2d_forward_cpu, MT_CUDA_FN(pad2d_forward_cuda)},
    {pad2d_backward_cpu, MT_CUDA_FN(pad2d_backward_cuda)},
};

mt_tensor *mt_pad2d(mt_tensor *x, int top, int bottom, int left, int right, mt_pad_mode mode, double value)
{
    pad2d_attr a = {top, bottom, left, right, (int)mode, value};
    mt_tensor *in[1] = {x};
    return mt_op1(&mt_op_pad2d, 1, 1, in, &a, sizeof a);
}
