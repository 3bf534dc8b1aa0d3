/* core/ops/conv2d.c: 2-D convolution (torch.nn.functional.conv2d) with
 * explicit top/bottom/left/right padding, stride, dilation and groups
 * (depthwise when groups == C), optional bias. See core/ops.h for shapes.
 *
 * CPU algorithm (Chellapilla et al. 2006, "High performance convolutional
 * neural networks for document processing"; Caffe/PyTorch THNN): per image and
 * group, im2col then one GEMM:
 *   forward  y_g[Og, P]  = w_g[Og, K] @ col[K, P] (+ b),  K = Cg*KH*KW, P = HO*WO
 *   backward dw_g[Og, K] += dy_g[Og, P] @ col^T
 *            dcol[K, P]   = w_g^T @ dy_g, then col2im into dx
 *              (stride 1, >= 16 channels, >= 32x32, w <= 8 MiB: dx as the forward conv of dy
 *               with the flipped, transposed kernel instead; conv2d_dx_as_forward)
 *            db[o]        = sum over n, p of dy
 * A 1x1 / stride 1 / unpadded conv skips im2col (col = x). Images are split
 * across OpenMP threads, each calling a single-threaded OpenBLAS GEMM (the
 * forward, with fewer images than threads: blocks of output rows); each
 * thread accumulates its own dw, summed at the end (gemm.h). Columns are
 * recomputed in backward rather than kept from forward (memory).
 * 3x3 stride-1 ungrouped convs may run forward, backward data and backward
 * weights as Winograd F(2x2, 3x3) / F(4x4, 3x3) instead (winograd.h: the auto
 * rule, MT_CONV_IMPL to force one).
 * The CUDA twin (conv2d.cu) uses cuDNN.
 * oneDNN alternative (conv_dnnl.c, float32 build only): the first lines of the
 * CPU kernels hand the node to oneDNN when mt_*_use_dnnl says so (env
 * MT_CONV_IMPL=auto|im2col|dnnl|winograd, dnnl.h; auto never picks oneDNN on
 * the shapes measured so far, docs/performance.md).
 */
#include "../device.h"
#include "../ops.h"
#include "dnnl.h"
#include "gemm.h"
#include "lowp.h"
#include "winograd.h"

#include <string.h>

mt_conv2d_params mt_conv2d_default(void)
{
    mt_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.stride_h = p.stride_w = 1;
    p.dil_h = p.dil_w = 1;
    p.groups = 1;
    return p;
}

void mt_same_padding(int in, int k, int stride, int dil, int *before, int *after)
{
    if (stride < 1) stride = 1;
    int out = (in + stride - 1) / stride;
    int total = (out - 1) * stride + dil * (k - 1) + 1 - in;
    if (total < 0) total = 0;
    *before = total / 2;
    *after = total - *before;
}

static mt_status conv2d_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    const mt_conv2d_params *p = MT_ATTR(n, mt_conv2d_params);
    char sw[64];
    MT_TRY(mt_conv_check_args("conv2d", "[O, C/groups, KH, KW]", x, w, p->stride_h, p->stride_w, p->dil_h, p->dil_w,
                              p->groups, p->pad_top, p->pad_bottom, p->pad_left, p->pad_right));
    int C = x->shape[1], O = w->shape[0], G = p->groups;
    MT_REQUIRE(C % G == 0 && O % G == 0, "conv2d: channels in %d and out %d must be divisible by groups %d", C, O, G);
    MT_REQUIRE(w->shape[1] * G == C, "conv2d: weight %s expects %d input channels (x.shape[1] / groups = %d / %d)",
               mt_shape_str(w, sw, sizeof sw), w->shape[1] * G, C, G);
    MT_TRY(mt_conv_check_bias("conv2d", b, O));
    int HO = (x->shape[2] + p->pad_top + p->pad_bottom - p->dil_h * (w->shape[2] - 1) - 1) / p->stride_h + 1;
    int WO = (x->shape[3] + p->pad_left + p->pad_right - p->dil_w * (w->shape[3] - 1) - 1) / p->stride_w + 1;
    int eh = x->shape[2] + p->pad_top + p->pad_bottom - p->dil_h * (w->shape[2] - 1) - 1;
    int ew = x->shape[3] + p->pad_left + p->pad_right - p->dil_w * (w->shape[3] - 1) - 1;
    MT_REQUIRE(eh >= 0 && ew >= 0 && HO >= 1 && WO >= 1,
               "conv2d: kernel %dx%d (dilation %d, %d) is larger than the padded input %dx%d",
               w->shape[2], w->shape[3], p->dil_h, p->dil_w, x->shape[2] + p->pad_top + p->pad_bottom,
               x->shape[3] + p->pad_left + p->pad_right);
    out[0].ndim = 4;
    out[0].shape[0] = x->shape[0];
    out[0].shape[1] = O;
    out[0].shape[2] = HO;
    out[0].shape[3] = WO;
    return MT_OK;
}

/* Window geometry of one group of one image (gemm.h). */
static mt_conv_geom conv2d_geom(const mt_node *n)
{
    const mt_conv2d_params *p = MT_ATTR(n, mt_conv2d_params);
    const mt_tensor *x = n->in[0], *w = n->in[1], *y = n->out[0];
    mt_conv_geom g;
    g.C = x->shape[1] / p->groups;
    g.H = x->shape[2];
    g.W = x->shape[3];
    g.KH = w->shape[2];
    g.KW = w->shape[3];
    g.OH = y->shape[2];
    g.OW = y->shape[3];
    g.stride_h = p->stride_h;
    g.stride_w = p->stride_w;
    g.pad_top = p->pad_top;
    g.pad_left = p->pad_left;
    g.dil_h = p->dil_h;
    g.dil_w = p->dil_w;
    return g;
}

/* The forward tile loop, y [N, G*Og, OH, OW] (+)= conv(x [N, G*C, H, W], w [G*Og, C*KH*KW]) + b:
 * y = result when accumulate is 0 (b or NULL), y += result otherwise (b must be NULL).
 * Work is split in tiles (image, group, block of output rows). With at least
 * as many images as threads a 1x1 identity conv takes each image whole (one
 * GEMM); with fewer (inference at batch 1) every conv is cut in row blocks
 * so that im2col and the GEMMs of one image run on all threads. */
static mt_status conv_tiles(const mt_conv_geom *gp, int N, int G, int O, const mt_real *x, const mt_real *w,
                            const mt_real *b, mt_real *y, int accumulate)
{
    const mt_conv_geom g = *gp;
    const int Og = O / G, K = g.C * g.KH * g.KW, P = g.OH * g.OW;
    const int identity = mt_conv_geom_is_identity(&g);
    const int few = N < mt_get_num_threads();
    const mt_real beta = accumulate || b ? 1 : 0;
    int RB = identity && !few ? g.OH : mt_conv_block_rows(&g);
    if (few) RB = mt_conv_tile_rows(N * G, g.OH, g.OW, RB);
    const int nblk = (g.OH + RB - 1) / RB, tiles = N * G * nblk;
    mt_conv_pass ps;
    MT_TRY(mt_conv_pass_begin(&ps, tiles, identity ? 0 : (size_t)K * RB * g.OW, NULL, 0));
#pragma omp parallel num_threads(ps.T) if (ps.T > 1)
    {
        mt_real *col = mt_conv_pass_col(&ps, mt_conv_thread_id());
#pragma omp for schedule(static)
        for (int t = 0; t < tiles; t++) {
            const int blk = t % nblk, gi = (t / nblk) % G, i = t / (nblk * G);
            const int oh0 = blk * RB, oh1 = oh0 + RB < g.OH ? oh0 + RB : g.OH, np = (oh1 - oh0) * g.OW;
            const mt_real *xg = x + ((size_t)i * g.C * G + (size_t)gi * g.C) * g.H * g.W;
            mt_real *yb = y + ((size_t)i * O + (size_t)gi * Og) * P + (size_t)oh0 * g.OW;
            const mt_real *wg = w + (size_t)gi * Og * K;
            if (b)
                for (int o = 0; o < Og; o++) mt_fill_bias(yb + (size_t)o * P, b + (size_t)gi * Og + o, 1, (size_t)np);
            if (identity) {
                mt_gemm(0, 0, Og, np, K, 1, wg, K, xg + (size_t)oh0 * g.OW, P, beta, yb, P);
            } else { /* the column block stays in cache */
                mt_im2col_rows(&g, xg, col, oh0, oh1);
                mt_gemm(0, 0, Og, np, K, 1, wg, K, col, np, beta, yb, P);
            }
        }
    }
    mt_conv_pass_end(&ps);
    return MT_OK;
}

static mt_status conv2d_forward_cpu(mt_node *n)
{
    if (mt_lowp_node_dtype(n) != MT_REAL) return mt_lowp_forward(n, conv2d_forward_cpu); /* bf16/f16: widened */
#if MT_HAVE_DNNL
    if (mt_conv2d_use_dnnl(n)) return mt_conv2d_forward_dnnl(n);
#endif
    const mt_conv2d_params *p = MT_ATTR(n, mt_conv2d_params);
    const mt_real *x = MT_DATA(n->in[0]), *w = MT_DATA(n->in[1]);
    const mt_real *b = n->in[2] ? MT_DATA(n->in[2]) : NULL;
    mt_real *y = MT_DATA(n->out[0]);
    const mt_conv_geom g = conv2d_geom(n);
    const int N = n->in[0]->shape[0], O = n->out[0]->shape[1];
    const char *impl = mt_conv_impl_env();
    if (mt_winograd_applies(&g, p->groups, O, impl, 0)) return mt_winograd_conv2d_forward(&g, N, O, x, w, b, y);
    return conv_tiles(&g, N, p->groups, O, x, w, b, y, 0);
}

/* 1 if backward data of this conv runs as a forward conv of dy (conv2d_dx_as_forward):
 * ungrouped, stride 1, a kernel larger than 1x1 (a 1x1 conv has no column matrix to save),
 * at least 16 input channels (the GEMM's rows: with fewer, its column blocks are packed for
 * too few rows), an input of at least 32x32, and a weight of at most 8 MiB (the flipped copy
 * w' is scratch during the backward pass, when memory peaks). Measured per U-Net shape (base
 * 64, batch 4, 2 threads; docs/performance.md "Backward data as a forward conv"): backward
 * 4-28% faster from 32x32 up, level at 16x16, 3-10% slower at 8x8 (one GEMM of 64 columns
 * per image). */
static int dx_as_forward_applies(const mt_conv_geom *g, int G, int O)
{
    const size_t w_bytes = sizeof(mt_real) * (size_t)O * g->C * g->KH * g->KW;
    return G == 1 && g->stride_h == 1 && g->stride_w == 1 && g->KH * g->KW > 1 && g->C >= 16 && g->H >= 32 &&
           g->W >= 32 && w_bytes <= ((size_t)8 << 20);
}

/* dx [N, C, H, W] += conv_transpose2d(dy, w) of a stride-1 conv, computed as the forward
 * "full" correlation dx = conv2d(dy, w') with w'[c, o, kh, kw] = w[o, c, KH-1-kh, KW-1-kw]
 * and padding dil*(K-1) - pad (the adjoint of a stride-1 correlation is the correlation
 * with the flipped, transposed kernel; Dumoulin & Visin 2016, "A guide to convolution
 * arithmetic", section 4.1). One im2col of dy and one GEMM [C, O*KH*KW] x [O*KH*KW, cols]
 * per row block, accumulated straight into dx: no column matrix of dx, no col2im.
 * w [O, C, KH, KW]; dy [N, O, OH, OW]. Errors: allocation of w' and the columns. */
static mt_status conv2d_dx_as_forward(const mt_conv_geom *g, int N, int O, const mt_real *w, const mt_real *dy,
                                      mt_real *dx)
{
    const int C = g->C, KK = g->KH * g->KW;
    mt_real *wt = NULL;
    const size_t bytes = sizeof(mt_real) * (size_t)O * C * KK;
    MT_TRY(mt_alloc(mt_cpu(), bytes, (void **)&wt));
#pragma omp parallel for schedule(static) if ((size_t)O * C * KK > 65536)
    for (int c = 0; c < C; c++)
        for (int o = 0; o < O; o++) {
            const mt_real *src = w + ((size_t)o * C + c) * KK;
            mt_real *dst = wt + ((size_t)c * O + o) * KK;
            for (int k = 0; k < KK; k++) dst[k] = src[KK - 1 - k];
        }
    mt_conv_geom gt = {.C = O, .H = g->OH, .W = g->OW, .KH = g->KH, .KW = g->KW, .OH = g->H, .OW = g->W,
                       .stride_h = 1, .stride_w = 1,
                       .pad_top = g->dil_h * (g->KH - 1) - g->pad_top,
                       .pad_left = g->dil_w * (g->KW - 1) - g->pad_left,
                       .dil_h = g->dil_h, .dil_w = g->dil_w};
    mt_status s = conv_tiles(&gt, N, 1, C, dy, wt, NULL, dx, 1);
    mt_free(mt_cpu(), wt, bytes);
    return s;
}

static mt_status conv2d_backward_cpu(mt_node *n)
{
    if (mt_lowp_node_dtype(n) != MT_REAL) return mt_lowp_backward(n, conv2d_backward_cpu);
#if MT_HAVE_DNNL
    if (mt_conv2d_use_dnnl(n)) return mt_conv2d_backward_dnnl(n);
#endif
    const mt_conv2d_params *p = MT_ATTR(n, mt_conv2d_params);
    const mt_real *x = MT_DATA(n->in[0]), *w = MT_DATA(n->in[1]), *dy = MT_DATA(n->gout[0]);
    mt_real *dx = n->gin[0] ? MT_DATA(n->gin[0]) : NULL;
    mt_real *dw = n->gin[1] ? MT_DATA(n->gin[1]) : NULL;
    mt_real *db = (n->in[2] && n->gin[2]) ? MT_DATA(n->gin[2]) : NULL;
    const mt_conv_geom g = conv2d_geom(n);
    const int N = n->in[0]->shape[0], G = p->groups, O = n->out[0]->shape[1], Og = O / G;
    const int K = g.C * g.KH * g.KW, P = g.OH * g.OW;
    const int identity = mt_conv_geom_is_identity(&g);
    if (db) mt_bias_grad(dy, db, N, O, (size_t)P);
    const char *impl = mt_conv_impl_env();
    if (dx && mt_winograd_applies(&g, G, O, impl, 1)) { /* dx by Winograd */
        MT_TRY(mt_winograd_conv2d_backward_data(&g, N, O, w, dy, dx));
        dx = NULL;
    }
    if (dw && mt_winograd_applies(&g, G, O, impl, 2)) { /* dw by Winograd */
        MT_TRY(mt_winograd_conv2d_backward_weight(&g, N, O, x, dy, dw));
        dw = NULL;
    }
    if (dx && dx_as_forward_applies(&g, G, O)) { /* dx as a forward conv of dy; dw below */
        MT_TRY(conv2d_dx_as_forward(&g, N, O, w, dy, dx));
        dx = NULL;
    }
    if (!dx && !dw) return MT_OK;
    const int RB = mt_conv_block_rows(&g);
    const int dw_blocked = mt_conv_dw_blocked(&g, Og);
    /* columns: one block, or all of them for the full-width dw GEMM */
    const size_t col_elems = identity ? 0 : (size_t)K * (dw && !dw_blocked ? P : RB * g.OW);
    mt_conv_pass ps;
    MT_TRY(mt_conv_pass_begin(&ps, N, col_elems, dw, (size_t)O * K));
#pragma omp parallel num_threads(ps.T) if (ps.T > 1)
    {
        const int tid = mt_conv_thread_id();
        mt_real *col = mt_conv_pass_col(&ps, tid);
        mt_real *dwt = mt_conv_pass_dw(&ps, tid);
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            for (int gi = 0; gi < G; gi++) {
                const mt_real *xg = x + ((size_t)i * g.C * G + (size_t)gi * g.C) * g.H * g.W;
                const mt_real *dyg = dy + ((size_t)i * O + (size_t)gi * Og) * P;
                const mt_real *wg = w + (size_t)gi * Og * K;
                mt_real *dxg = dx ? dx + ((size_t)i * g.C * G + (size_t)gi * g.C) * g.H * g.W : NULL;
                mt_real *dwg = dwt ? dwt + (size_t)gi * Og * K : NULL;
                if (identity) {
                    if (dwg) mt_gemm(0, 1, Og, K, P, 1, dyg, P, xg, P, 1, dwg, K);
                    if (dxg) mt_gemm(1, 0, K, P, Og, 1, wg, K, dyg, P, 1, dxg, P);
                    continue;
                }
                if (dwg && !dw_blocked) { /* one full-width GEMM: dw is large */
                    mt_im2col(&g, xg, col);
                    mt_gemm(0, 1, Og, K, P, 1, dyg, P, col, P, 1, dwg, K);
                }
                for (int oh0 = 0; oh0 < g.OH; oh0 += RB) {
                    const int oh1 = oh0 + RB < g.OH ? oh0 + RB : g.OH, np = (oh1 - oh0) * g.OW;
                    const mt_real *dyb = dyg + (size_t)oh0 * g.OW;
                    if (dwg && dw_blocked) {
                        mt_im2col_rows(&g, xg, col, oh0, oh1);
                        mt_gemm(0, 1, Og, K, np, 1, dyb, P, col, np, 1, dwg, K);
                    }
                    if (dxg) {
                        mt_gemm(1, 0, K, np, Og, 1, wg, K, dyb, P, 0, col, np);
                        mt_col2im_add_rows(&g, col, dxg, oh0, oh1);
                    }
                }
            }
        }
    }
    mt_conv_pass_end(&ps);
    return MT_OK;
}

#ifdef MT_WITH_CUDA
mt_status conv2d_forward_cuda(mt_node *n);
mt_status conv2d_backward_cuda(mt_node *n);
#endif

const mt_op mt_op_conv2d = {
    "conv2d", conv2d_shape,
    {conv2d_forward_cpu, MT_CUDA_FN(conv2d_forward_cuda)},
    {conv2d_backward_cpu, MT_CUDA_FN(conv2d_backward_cuda)},
    .low_precision = 1,
    .backward_skips_out = 1, /* backward reads x, w and dy */
};

mt_tensor *mt_conv2d(mt_tensor *x, mt_tensor *w, mt_tensor *b, mt_conv2d_params p)
{
    mt_tensor *in[3] = {x, w, b};
    return mt_op1(&mt_op_conv2d, 3, 2, in, &p, sizeof p);
}
