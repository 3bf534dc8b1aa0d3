/* core/ops/conv_transpose2d.c: transposed 2-D convolution
 * (torch.nn.functional.conv_transpose2d; "deconvolution", the adjoint of
 * conv2d) with stride, per-side padding, output_padding, dilation, groups and
 * optional bias. Shapes in core/ops.h.
 *
 * CPU algorithm (the gradient-of-conv formulation of Caffe's Deconvolution
 * layer / PyTorch THNN SpatialFullConvolution): per image and group, with
 * K = Og*KH*KW and the input plane P = H*W playing the conv "output" role:
 *   forward  col[K, P] = w_g^T @ x_g   (w_g = [Cg, K]), y_g = b + col2im(col)
 *   backward col = im2col(dy_g);  dx_g[Cg, P] += w_g @ col;  dw_g += x_g @ col^T
 *            db[o] = sum over n, spatial of dy
 * col2im/im2col place input pixel h with kernel tap kh at output row
 * h*stride_h - pad_top + kh*dil_h (pad_bottom and out_pad only change the
 * output size). Work runs over blocks of input rows so each column block stays
 * in cache (gemm.h). Images are split across OpenMP threads (see gemm.h); the forward
 * of a batch smaller than the thread count splits blocks of input rows when
 * they write disjoint output rows.
 * The CUDA twin (conv_transpose2d.cu) uses cuDNN's backward-data.
 * oneDNN alternative (conv_dnnl.c, float32 build only): the first lines of the
 * CPU kernels hand the node to oneDNN when mt_*_use_dnnl says so (env
 * MT_CONV_IMPL=auto|im2col|dnnl; auto keeps im2col for every shape measured so
 * far, docs/performance.md).
 */
#include "../device.h"
#include "../ops.h"
#include "dnnl.h"
#include "gemm.h"
#include "lowp.h"

#include <string.h>

mt_conv_transpose2d_params mt_conv_transpose2d_default(void)
{
    mt_conv_transpose2d_params p;
    memset(&p, 0, sizeof p);
    p.stride_h = p.stride_w = 1;
    p.dil_h = p.dil_w = 1;
    p.groups = 1;
    return p;
}

static mt_status conv_transpose2d_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    const mt_conv_transpose2d_params *p = MT_ATTR(n, mt_conv_transpose2d_params);
    char sw[64];
    MT_TRY(mt_conv_check_args("conv_transpose2d", "[C, O/groups, KH, KW]", x, w, p->stride_h, p->stride_w, p->dil_h,
                              p->dil_w, p->groups, p->pad_top, p->pad_bottom, p->pad_left, p->pad_right));
    MT_REQUIRE(p->out_pad_h >= 0 && p->out_pad_w >= 0 &&
                   (p->out_pad_h < p->stride_h || p->out_pad_h < p->dil_h) &&
                   (p->out_pad_w < p->stride_w || p->out_pad_w < p->dil_w),
               "conv_transpose2d: output_padding (%d, %d) must be smaller than stride or dilation (PyTorch rule)",
               p->out_pad_h, p->out_pad_w);
    int C = x->shape[1], G = p->groups;
    MT_REQUIRE(w->shape[0] == C, "conv_transpose2d: weight %s must have x.shape[1] = %d rows",
               mt_shape_str(w, sw, sizeof sw), C);
    MT_REQUIRE(C % G == 0, "conv_transpose2d: input channels %d must be divisible by groups %d", C, G);
    int O = w->shape[1] * G;
    MT_TRY(mt_conv_check_bias("conv_transpose2d", b, O));
    int HO = (x->shape[2] - 1) * p->stride_h - p->pad_top - p->pad_bottom + p->dil_h * (w->shape[2] - 1) +
             p->out_pad_h + 1;
    int WO = (x->shape[3] - 1) * p->stride_w - p->pad_left - p->pad_right + p->dil_w * (w->shape[3] - 1) +
             p->out_pad_w + 1;
    MT_REQUIRE(HO >= 1 && WO >= 1, "conv_transpose2d: padding leaves an empty output (%d x %d)", HO, WO);
    out[0].ndim = 4;
    out[0].shape[0] = x->shape[0];
    out[0].shape[1] = O;
    out[0].shape[2] = HO;
    out[0].shape[3] = WO;
    return MT_OK;
}

/* Geometry of the equivalent conv2d (output image -> input-sized columns). */
static mt_conv_geom convt_geom(const mt_node *n)
{
    const mt_conv_transpose2d_params *p = MT_ATTR(n, mt_conv_transpose2d_params);
    const mt_tensor *x = n->in[0], *w = n->in[1], *y = n->out[0];
    mt_conv_geom g;
    g.C = w->shape[1]; /* Og */
    g.H = y->shape[2];
    g.W = y->shape[3];
    g.KH = w->shape[2];
    g.KW = w->shape[3];
    g.OH = x->shape[2];
    g.OW = x->shape[3];
    g.stride_h = p->stride_h;
    g.stride_w = p->stride_w;
    g.pad_top = p->pad_top;
    g.pad_left = p->pad_left;
    g.dil_h = p->dil_h;
    g.dil_w = p->dil_w;
    return g;
}

static mt_status conv_transpose2d_forward_cpu(mt_node *n)
{
    if (mt_lowp_node_dtype(n) != MT_REAL) return mt_lowp_forward(n, conv_transpose2d_forward_cpu); /* bf16/f16: widened */
#if MT_HAVE_DNNL
    if (mt_conv_transpose2d_use_dnnl(n)) return mt_conv_transpose2d_forward_dnnl(n);
#endif
    const mt_conv_transpose2d_params *p = MT_ATTR(n, mt_conv_transpose2d_params);
    const mt_real *x = MT_DATA(n->in[0]), *w = MT_DATA(n->in[1]);
    const mt_real *b = n->in[2] ? MT_DATA(n->in[2]) : NULL;
    mt_real *y = MT_DATA(n->out[0]);
    const mt_conv_geom g = convt_geom(n);
    const int N = n->in[0]->shape[0], G = p->groups, C = n->in[0]->shape[1], Cg = C / G, Og = g.C;
    const int K = Og * g.KH * g.KW, P = g.OH * g.OW;
    const size_t YP = (size_t)g.H * g.W;
    const int identity = mt_conv_geom_is_identity(&g);
    /* Fewer images than threads (inference at batch 1): when blocks of input
     * rows write disjoint output rows ((KH - 1) * dil < stride, e.g. U-Net's
     * 2x2 stride-2 up-convolution), the blocks of one image are split over the
     * threads too (tiles of image, group, row block), each with its own column
     * buffer and a single-threaded GEMM. Otherwise images are the unit. */
    const int split = !identity && N < mt_get_num_threads() && (g.KH - 1) * g.dil_h < g.stride_h;
    const int RB = split ? mt_conv_tile_rows(N * G, g.OH, g.OW, mt_conv_block_rows(&g)) : mt_conv_block_rows(&g);
    const int nblk = split ? (g.OH + RB - 1) / RB : 1, tiles = N * G * nblk;
    mt_conv_pass ps;
    MT_TRY(mt_conv_pass_begin(&ps, split ? tiles : N, identity ? 0 : (size_t)K * RB * g.OW, NULL, 0));
#pragma omp parallel num_threads(ps.T) if (ps.T > 1)
    {
        mt_real *col = mt_conv_pass_col(&ps, mt_conv_thread_id());
        if (split) {
#pragma omp for schedule(static)
            for (int pl = 0; pl < N * G; pl++) {
                const int gi = pl % G;
                mt_fill_bias(y + (size_t)pl * Og * YP, b ? b + (size_t)gi * Og : NULL, Og, YP);
            }
#pragma omp for schedule(static)
            for (int t = 0; t < tiles; t++) {
                const int blk = t % nblk, gi = (t / nblk) % G, i = t / (nblk * G);
                const int oh0 = blk * RB, oh1 = oh0 + RB < g.OH ? oh0 + RB : g.OH, np = (oh1 - oh0) * g.OW;
                const mt_real *xg = x + ((size_t)i * C + (size_t)gi * Cg) * P;
                mt_real *yg = y + ((size_t)i * Og * G + (size_t)gi * Og) * YP;
                mt_gemm(1, 0, K, np, Cg, 1, w + (size_t)gi * Cg * K, K, xg + (size_t)oh0 * g.OW, P, 0, col, np);
                mt_col2im_add_rows(&g, col, yg, oh0, oh1);
            }
        } else {
#pragma omp for schedule(static)
            for (int i = 0; i < N; i++) {
                for (int gi = 0; gi < G; gi++) {
                    const mt_real *xg = x + ((size_t)i * C + (size_t)gi * Cg) * P;
                    const mt_real *wg = w + (size_t)gi * Cg * K;
                    mt_real *yg = y + ((size_t)i * Og * G + (size_t)gi * Og) * YP;
                    mt_fill_bias(yg, b ? b + (size_t)gi * Og : NULL, Og, YP);
                    if (identity) {
                        mt_gemm(1, 0, K, P, Cg, 1, wg, K, xg, P, 1, yg, P);
                        continue;
                    }
                    for (int oh0 = 0; oh0 < g.OH; oh0 += RB) { /* blocks of input rows */
                        const int oh1 = oh0 + RB < g.OH ? oh0 + RB : g.OH, np = (oh1 - oh0) * g.OW;
                        mt_gemm(1, 0, K, np, Cg, 1, wg, K, xg + (size_t)oh0 * g.OW, P, 0, col, np);
                        mt_col2im_add_rows(&g, col, yg, oh0, oh1);
                    }
                }
            }
        }
    }
    mt_conv_pass_end(&ps);
    return MT_OK;
}

static mt_status conv_transpose2d_backward_cpu(mt_node *n)
{
    if (mt_lowp_node_dtype(n) != MT_REAL) return mt_lowp_backward(n, conv_transpose2d_backward_cpu);
#if MT_HAVE_DNNL
    if (mt_conv_transpose2d_use_dnnl(n)) return mt_conv_transpose2d_backward_dnnl(n);
#endif
    const mt_conv_transpose2d_params *p = MT_ATTR(n, mt_conv_transpose2d_params);
    const mt_real *x = MT_DATA(n->in[0]), *w = MT_DATA(n->in[1]), *dy = MT_DATA(n->gout[0]);
    mt_real *dx = n->gin[0] ? MT_DATA(n->gin[0]) : NULL;
    mt_real *dw = n->gin[1] ? MT_DATA(n->gin[1]) : NULL;
    mt_real *db = (n->in[2] && n->gin[2]) ? MT_DATA(n->gin[2]) : NULL;
    const mt_conv_geom g = convt_geom(n);
    const int N = n->in[0]->shape[0], G = p->groups, C = n->in[0]->shape[1], Cg = C / G, Og = g.C;
    const int K = Og * g.KH * g.KW, P = g.OH * g.OW;
    const size_t YP = (size_t)g.H * g.W;
    const int identity = mt_conv_geom_is_identity(&g);
    if (db) mt_bias_grad(dy, db, N, Og * G, YP);
    if (!dx && !dw) return MT_OK;
    const int RB = mt_conv_block_rows(&g);
    const int dw_blocked = mt_conv_dw_blocked(&g, Cg);
    const size_t col_elems = identity ? 0 : (size_t)K * (dw_blocked ? RB * g.OW : P);
    mt_conv_pass ps;
    MT_TRY(mt_conv_pass_begin(&ps, N, col_elems, dw, (size_t)C * K));
#pragma omp parallel num_threads(ps.T) if (ps.T > 1)
    {
        const int tid = mt_conv_thread_id();
        mt_real *col = mt_conv_pass_col(&ps, tid);
        mt_real *dwt = mt_conv_pass_dw(&ps, tid);
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            for (int gi = 0; gi < G; gi++) {
                const mt_real *xg = x + ((size_t)i * C + (size_t)gi * Cg) * P;
                const mt_real *wg = w + (size_t)gi * Cg * K;
                const mt_real *dyg = dy + ((size_t)i * Og * G + (size_t)gi * Og) * YP;
                mt_real *dxg = dx ? dx + ((size_t)i * C + (size_t)gi * Cg) * P : NULL;
                mt_real *dwg = dwt ? dwt + (size_t)gi * Cg * K : NULL;
                if (identity) {
                    if (dxg) mt_gemm(0, 0, Cg, P, K, 1, wg, K, dyg, P, 1, dxg, P);
                    if (dwg) mt_gemm(0, 1, Cg, K, P, 1, xg, P, dyg, P, 1, dwg, K);
                    continue;
                }
                if (!dw_blocked) { /* full-width GEMMs: dw is large */
                    mt_im2col(&g, dyg, col);
                    if (dxg) mt_gemm(0, 0, Cg, P, K, 1, wg, K, col, P, 1, dxg, P);
                    if (dwg) mt_gemm(0, 1, Cg, K, P, 1, xg, P, col, P, 1, dwg, K);
                    continue;
                }
                for (int oh0 = 0; oh0 < g.OH; oh0 += RB) {
                    const int oh1 = oh0 + RB < g.OH ? oh0 + RB : g.OH, np = (oh1 - oh0) * g.OW;
                    mt_im2col_rows(&g, dyg, col, oh0, oh1);
                    if (dxg) mt_gemm(0, 0, Cg, np, K, 1, wg, K, col, np, 1, dxg + (size_t)oh0 * g.OW, P);
                    if (dwg) mt_gemm(0, 1, Cg, K, np, 1, xg + (size_t)oh0 * g.OW, P, col, np, 1, dwg, K);
                }
            }
        }
    }
    mt_conv_pass_end(&ps);
    return MT_OK;
}

#ifdef MT_WITH_CUDA
mt_status conv_transpose2d_forward_cuda(mt_node *n);
mt_status conv_transpose2d_backward_cuda(mt_node *n);
#endif

const mt_op mt_op_conv_transpose2d = {
    "conv_transpose2d", conv_transpose2d_shape,
    {conv_transpose2d_forward_cpu, MT_CUDA_FN(conv_transpose2d_forward_cuda)},
    {conv_transpose2d_backward_cpu, MT_CUDA_FN(conv_transpose2d_backward_cuda)},
    .low_precision = 1,
    .backward_skips_out = 1, /* backward reads x, w and dy */
};

mt_tensor *mt_conv_transpose2d(mt_tensor *x, mt_tensor *w, mt_tensor *b, mt_conv_transpose2d_params p)
{
    mt_tensor *in[3] = {x, w, b};
    return mt_op1(&mt_op_conv_transpose2d, 3, 2, in, &p, sizeof p);
}
