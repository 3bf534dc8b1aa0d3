/* core/ops/max_unpool2d.c: partial inverse of max_pool2d
 * (torch.nn.functional.max_unpool2d with an explicit output_size).
 * x [N, C, h, w] and indices MT_I32 [N, C, h, w] (flat h*W + w positions in
 * the output plane, as produced by mt_max_pool2d) -> y [N, C, out_h, out_w],
 * zero except y[n, c].flat[indices[n, c, i]] = x[n, c, i].
 * Backward: dx[i] = dy.flat[indices[i]]; the indices get no gradient. */
#include "../ops.h"

typedef struct max_unpool2d_attr {
    int out_h, out_w;
} max_unpool2d_attr;

static mt_status max_unpool2d_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0], *ix = n->in[1];
    const max_unpool2d_attr *a = MT_ATTR(n, max_unpool2d_attr);
    MT_REQUIRE(x->dtype == MT_REAL, "max_unpool2d: expected %s input, got %s", mt_dtype_name(MT_REAL),
               mt_dtype_name(x->dtype));
    MT_REQUIRE(ix->dtype == MT_I32, "max_unpool2d: indices must be int32 (from mt_max_pool2d), got %s",
               mt_dtype_name(ix->dtype));
    MT_REQUIRE(x->ndim == 4 && mt_same_shape(x, ix), "max_unpool2d: x [N, C, h, w] and indices must have the same 4-D shape");
    MT_REQUIRE(a->out_h > 0 && a->out_w > 0, "max_unpool2d: output size %dx%d must be positive", a->out_h, a->out_w);
    out[0].ndim = 4;
    out[0].shape[0] = x->shape[0];
    out[0].shape[1] = x->shape[1];
    out[0].shape[2] = a->out_h;
    out[0].shape[3] = a->out_w;
    return MT_OK;
}

static mt_status max_unpool2d_forward_cpu(mt_node *n)
{
    const mt_tensor *xt = n->in[0];
    mt_tensor *yt = n->out[0];
    const int hw = xt->shape[2] * xt->shape[3];
    const int OHW = yt->shape[2] * yt->shape[3];
    const ptrdiff_t planes = (ptrdiff_t)xt->shape[0] * xt->shape[1];
    const mt_real *x = MT_DATA(xt);
    const int32_t *idx = (const int32_t *)mt_data(n->in[1]);
    mt_real *y = MT_DATA(yt);
    int bad = 0;
    ptrdiff_t bad_at = 0;
#pragma omp parallel for schedule(static) if (planes * OHW > 16384)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        mt_real *yp = y + pl * OHW;
        for (int o = 0; o < OHW; o++) yp[o] = 0;
        for (int i = 0; i < hw; i++) {
            int32_t k = idx[pl * hw + i];
            if (k < 0 || k >= OHW) {
#pragma omp critical(max_unpool2d_bad)
                {
                    bad = 1;
                    bad_at = pl * hw + i;
                }
                continue;
            }
            yp[k] = x[pl * hw + i];
        }
    }
    if (bad)
        return MT_ERR(MT_ERR_INVALID, "max_unpool2d: index %d at element %td is outside the %dx%d output plane",
                      (int)idx[bad_at], bad_at, yt->shape[2], yt->shape[3]);
    return MT_OK;
}

static mt_status max_unpool2d_backward_cpu(mt_node *n)
{
    if (!n->gin[0]) return MT_OK;
    const mt_tensor *xt = n->in[0];
    const int hw = xt->shape[2] * xt->shape[3];
    const int OHW = n->gout[0]->shape[2] * n->gout[0]->shape[3];
    const ptrdiff_t planes = (ptrdiff_t)xt->shape[0] * xt->shape[1];
    const int32_t *idx = (const int32_t *)mt_data(n->in[1]);
    const mt_real *dy = MT_DATA(n->gout[0]);
    mt_real *dx = MT_DATA(n->gin[0]);
#pragma omp parallel for schedule(static) if (planes * hw > 16384)
    for (ptrdiff_t pl = 0; pl < planes; pl++)
        for (int i = 0; i < hw; i++) dx[pl * hw + i] = dy[pl * OHW + idx[pl * hw + i]];
    return MT_OK;
}

#ifdef MT_WITH_CUDA
mt_status max_unpool2d_forward_cuda(mt_node *n);
mt_status max_unpool2d_backward_cuda(mt_node *n);
#endif

const mt_op mt_op_max_unpool2d = {
    "max_unpool2d", max_unpool2d_shape,
    {max_unpool2d_forward_cpu, MT_CUDA_FN(max_unpool2d_forward_cuda)},
    {max_unpool2d_backward_cpu, MT_CUDA_FN(max_unpool2d_backward_cuda)},
};

mt_tensor *mt_max_unpool2d(mt_tensor *x, mt_tensor *indices, int out_h, int out_w)
{
    max_unpool2d_attr a = {out_h, out_w};
    mt_tensor *in[2] = {x, indices};
    return mt_op1(&mt_op_max_unpool2d, 2, 2, in, &a, sizeof a);
}
