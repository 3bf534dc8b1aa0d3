/* core/ops/conv_dnnl.c: conv2d and conv_transpose2d on the CPU through oneDNN
 * (dnnl.h): forward, backward data and backward weights, as oneDNN's
 * convolution / deconvolution primitives (algorithm "direct": oneDNN picks its
 * JIT kernel for the CPU, jit:avx2 here), cached per shape. The bias gradient
 * is the plain sum of gemm.h (mt_bias_grad).
 *
 * Mapping of medtrain's parameters (PyTorch's) to oneDNN's:
 *   weights  conv2d [O, C/G, KH, KW]  = oihw, grouped goihw [G, O/G, C/G, KH, KW];
 *            conv_transpose2d [C, O/G, KH, KW] = iohw, grouped giohw (PyTorch's
 *            layout; oneDNN's deconvolution is the adjoint of its convolution
 *            with the same weights, as conv_transpose2d is of conv2d);
 *   dilation d is oneDNN's d - 1 (oneDNN counts dilation from 0);
 *   padding  padding_l = (top, left), padding_r = (bottom, right); for
 *            conv_transpose2d output_padding shortens padding_r
 *            (bottom - out_pad_h), so shapes with out_pad > pad stay on im2col.
 * The selection (mt_conv2d_use_dnnl / mt_conv_transpose2d_use_dnnl) follows
 * the measurements of docs/performance.md.
 */
#include "dnnl.h"

#if MT_HAVE_DNNL
#include <stdio.h>
#include <string.h>

#include "../ops.h"
#include "gemm.h"

typedef enum conv_pass { CONV_FWD, CONV_BWD_DATA, CONV_BWD_WEIGHTS } conv_pass;

/* Cache key and build context: ints only (no padding bytes). */
typedef struct conv_key {
    int transposed, pass, plain, bias;
    int N, C, H, W;  /* x (the op's input) */
    int O, OH, OW;   /* y (the op's output) */
    int KH, KW, G;
    int sh, sw, dh, dw; /* dh, dw in oneDNN's convention (0 = dense) */
    int pt, pb, pl, pr; /* padding_l = (pt, pl), padding_r = (pb, pr) */
} conv_key;

static void conv_key_of(const mt_node *n, int transposed, conv_pass pass, conv_key *k)
{
    const mt_tensor *x = n->in[0], *w = n->in[1], *y = n->out[0];
    memset(k, 0, sizeof *k);
    k->transposed = transposed;
    k->pass = (int)pass;
    k->plain = mt_dnnl_plain_layout();
    k->bias = n->in[2] != NULL && pass == CONV_FWD;
    k->N = x->shape[0];
    k->C = x->shape[1];
    k->H = x->shape[2];
    k->W = x->shape[3];
    k->O = y->shape[1];
    k->OH = y->shape[2];
    k->OW = y->shape[3];
    k->KH = w->shape[2];
    k->KW = w->shape[3];
    if (transposed) {
        const mt_conv_transpose2d_params *p = MT_ATTR(n, mt_conv_transpose2d_params);
        k->G = p->groups;
        k->sh = p->stride_h, k->sw = p->stride_w, k->dh = p->dil_h - 1, k->dw = p->dil_w - 1;
        k->pt = p->pad_top, k->pb = p->pad_bottom - p->out_pad_h;
        k->pl = p->pad_left, k->pr = p->pad_right - p->out_pad_w;
    } else {
        const mt_conv2d_params *p = MT_ATTR(n, mt_conv2d_params);
        k->G = p->groups;
        k->sh = p->stride_h, k->sw = p->stride_w, k->dh = p->dil_h - 1, k->dw = p->dil_w - 1;
        k->pt = p->pad_top, k->pb = p->pad_bottom, k->pl = p->pad_left, k->pr = p->pad_right;
    }
}

static const char *pass_name(int pass)
{
    return pass == CONV_FWD ? "forward" : pass == CONV_BWD_DATA ? "backward data" : "backward weights";
}

static void conv_name(const conv_key *k, char *buf, size_t len)
{
    snprintf(buf, len,
             "%s %s x[%d,%d,%d,%d] y[%d,%d,%d,%d] kernel %dx%d stride %d,%d dilation %d,%d padding %d,%d,%d,%d "
             "groups %d",
             k->transposed ? "conv_transpose2d" : "conv2d", pass_name(k->pass), k->N, k->C, k->H, k->W, k->N, k->O,
             k->OH, k->OW, k->KH, k->KW, k->sh, k->sw, k->dh + 1, k->dw + 1, k->pt, k->pb, k->pl, k->pr, k->G);
}

/* Plain (user) descriptors of x, w, b, y; `any` gives the primitive's (format_tag any unless plain). */
typedef struct conv_mds {
    dnnl_memory_desc_t x, w, b, y;
} conv_mds;

static mt_status conv_mds_init(const conv_key *k, int any, conv_mds *m, const char *name)
{
    dnnl_dims_t xd = {k->N, k->C, k->H, k->W}, yd = {k->N, k->O, k->OH, k->OW}, bd = {k->O};
    const int G = k->G, Cg = k->C / G, Og = k->O / G;
    dnnl_format_tag_t act = any ? dnnl_format_tag_any : dnnl_nchw, wt;
    MT_DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->x, 4, xd, dnnl_f32, act), name);
    MT_DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->y, 4, yd, dnnl_f32, act), name);
    MT_DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->b, 1, bd, dnnl_f32, dnnl_x), name);
    if (G > 1) {
        dnnl_dims_t wd = {G, Og, Cg, k->KH, k->KW};
        wt = any ? dnnl_format_tag_any : k->transposed ? dnnl_giohw : dnnl_goihw;
        MT_DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->w, 5, wd, dnnl_f32, wt), name);
    } else {
        dnnl_dims_t wd = {k->O, k->C, k->KH, k->KW};
        wt = any ? dnnl_format_tag_any : k->transposed ? dnnl_iohw : dnnl_oihw;
        MT_DNNL_TRY(dnnl_memory_desc_init_by_tag(&m->w, 4, wd, dnnl_f32, wt), name);
    }
    return MT_OK;
}

/* The forward op descriptor (also the hint of the backward ones). */
static mt_status conv_fwd_desc(const conv_key *k, const conv_mds *p, int bias, dnnl_convolution_desc_t *d,
                               const char *name)
{
    dnnl_dims_t st = {k->sh, k->sw}, dil = {k->dh, k->dw}, pl = {k->pt, k->pl}, pr = {k->pb, k->pr};
    const dnnl_memory_desc_t *b = bias ? &p->b : NULL;
    if (k->transposed)
        MT_DNNL_TRY(dnnl_dilated_deconvolution_forward_desc_init(d, dnnl_forward_training, dnnl_deconvolution_direct,
                                                                 &p->x, &p->w, b, &p->y, st, dil, pl, pr),
                    name);
    else
        MT_DNNL_TRY(dnnl_dilated_convolution_forward_desc_init(d, dnnl_forward_training, dnnl_convolution_direct,
                                                               &p->x, &p->w, b, &p->y, st, dil, pl, pr),
                    name);
    return MT_OK;
}

static void add_arg(mt_dnnl_args *a, int arg, const dnnl_memory_desc_t *md, int is_output)
{
    a->arg[a->n] = arg;
    a->user_md[a->n] = *md;
    a->is_output[a->n] = is_output;
    a->n++;
}

static mt_status conv_build(const void *ctx, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                            dnnl_primitive_desc_t *pd, mt_dnnl_args *args)
{
    const conv_key *k = ctx;
    char name[256];
    conv_name(k, name, sizeof name);
    conv_mds u, p;
    MT_TRY(conv_mds_init(k, 0, &u, name));
    MT_TRY(conv_mds_init(k, !k->plain, &p, name));
    dnnl_convolution_desc_t fd, bd;
    MT_TRY(conv_fwd_desc(k, &p, k->bias, &fd, name));
    if (k->pass == CONV_FWD) {
        MT_DNNL_TRY(dnnl_primitive_desc_create(pd, &fd, attr, engine, NULL), name);
        add_arg(args, DNNL_ARG_SRC, &u.x, 0);
        add_arg(args, DNNL_ARG_WEIGHTS, &u.w, 0);
        if (k->bias) add_arg(args, DNNL_ARG_BIAS, &u.b, 0);
        add_arg(args, DNNL_ARG_DST, &u.y, 1);
        return MT_OK;
    }
    dnnl_dims_t st = {k->sh, k->sw}, dil = {k->dh, k->dw}, pl = {k->pt, k->pl}, pr = {k->pb, k->pr};
    if (k->pass == CONV_BWD_DATA) {
        if (k->transposed)
            MT_DNNL_TRY(dnnl_dilated_deconvolution_backward_data_desc_init(&bd, dnnl_deconvolution_direct, &p.x, &p.w,
                                                                           &p.y, st, dil, pl, pr),
                        name);
        else
            MT_DNNL_TRY(dnnl_dilated_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &p.x, &p.w,
                                                                         &p.y, st, dil, pl, pr),
                        name);
    } else {
        if (k->transposed)
            MT_DNNL_TRY(dnnl_dilated_deconvolution_backward_weights_desc_init(&bd, dnnl_deconvolution_direct, &p.x,
                                                                              &p.w, NULL, &p.y, st, dil, pl, pr),
                        name);
        else
            MT_DNNL_TRY(dnnl_dilated_convolution_backward_weights_desc_init(&bd, dnnl_convolution_direct, &p.x, &p.w,
                                                                            NULL, &p.y, st, dil, pl, pr),
                        name);
    }
    dnnl_primitive_desc_t hint = NULL;
    MT_DNNL_TRY(dnnl_primitive_desc_create(&hint, &fd, NULL, engine, NULL), name);
    dnnl_status_t s = dnnl_primitive_desc_create(pd, &bd, attr, engine, hint);
    dnnl_primitive_desc_destroy(hint);
    MT_DNNL_TRY(s, name);
    if (k->pass == CONV_BWD_DATA) {
        add_arg(args, DNNL_ARG_DIFF_DST, &u.y, 0);
        add_arg(args, DNNL_ARG_WEIGHTS, &u.w, 0);
        add_arg(args, DNNL_ARG_DIFF_SRC, &u.x, 1);
    } else {
        add_arg(args, DNNL_ARG_SRC, &u.x, 0);
        add_arg(args, DNNL_ARG_DIFF_DST, &u.y, 0);
        add_arg(args, DNNL_ARG_DIFF_WEIGHTS, &u.w, 1);
    }
    return MT_OK;
}

static mt_status conv_run(const mt_node *n, int transposed, conv_pass pass, void *const *ptr)
{
    conv_key k;
    conv_key_of(n, transposed, pass, &k);
    char name[256];
    conv_name(&k, name, sizeof name);
    return mt_dnnl_run(&k, sizeof k, name, conv_build, &k, ptr);
}

static mt_status forward(mt_node *n, int transposed)
{
    void *ptr[4];
    int i = 0;
    ptr[i++] = MT_DATA(n->in[0]);
    ptr[i++] = MT_DATA(n->in[1]);
    if (n->in[2]) ptr[i++] = MT_DATA(n->in[2]);
    ptr[i] = MT_DATA(n->out[0]);
    return conv_run(n, transposed, CONV_FWD, ptr);
}

static mt_status backward(mt_node *n, int transposed)
{
    const mt_real *dy = MT_DATA(n->gout[0]);
    if (n->in[2] && n->gin[2]) {
        const mt_tensor *y = n->out[0];
        mt_bias_grad(dy, MT_DATA(n->gin[2]), y->shape[0], y->shape[1], (size_t)y->shape[2] * y->shape[3]);
    }
    if (n->gin[0]) {
        void *ptr[3] = {(void *)dy, MT_DATA(n->in[1]), MT_DATA(n->gin[0])};
        MT_TRY(conv_run(n, transposed, CONV_BWD_DATA, ptr));
    }
    if (n->gin[1]) {
        void *ptr[3] = {MT_DATA(n->in[0]), (void *)dy, MT_DATA(n->gin[1])};
        MT_TRY(conv_run(n, transposed, CONV_BWD_WEIGHTS, ptr));
    }
    return MT_OK;
}

mt_status mt_conv2d_forward_dnnl(mt_node *n) { return forward(n, 0); }
mt_status mt_conv2d_backward_dnnl(mt_node *n) { return backward(n, 0); }
mt_status mt_conv_transpose2d_forward_dnnl(mt_node *n) { return forward(n, 1); }
mt_status mt_conv_transpose2d_backward_dnnl(mt_node *n) { return backward(n, 1); }

/* Auto policy (docs/performance.md): oneDNN where it measured faster than
 * im2col + OpenBLAS, fwd + bwd, on the 2-core AVX2 EPYC of the 2026-11-29
 * measurements (experiments/bench/bench_conv_impl.c). There it won no shape
 * class by more than the noise: blocked oneDNN tied im2col on 64-128 channel
 * 3x3 stride-1 convs and on 3x3 depthwise ones (within 5%), and lost 1.3-2.4x
 * on thin (<= 32 channels), 1x1, strided, grouped, first-layer (C = 1) and
 * transposed convs and 8x on 5x5 stride-2 depthwise; plain nchw oneDNN lost
 * everywhere. So auto keeps im2col for every shape until a quiet-machine
 * re-measurement (or blocked layouts kept between layers) says otherwise. */
static int auto_prefers_dnnl(const conv_key *k)
{
    (void)k;
    return 0;
}

int mt_conv2d_use_dnnl(const mt_node *n)
{
    mt_conv_impl impl = mt_conv_get_impl();
    if (impl == MT_CONV_IMPL_IM2COL) return 0;
    if (impl == MT_CONV_IMPL_DNNL) return 1;
    conv_key k;
    conv_key_of(n, 0, CONV_FWD, &k);
    return auto_prefers_dnnl(&k);
}

int mt_conv_transpose2d_use_dnnl(const mt_node *n)
{
    const mt_conv_transpose2d_params *p = MT_ATTR(n, mt_conv_transpose2d_params);
    if (p->out_pad_h > p->pad_bottom || p->out_pad_w > p->pad_right) return 0; /* padding_r would be negative */
    mt_conv_impl impl = mt_conv_get_impl();
    if (impl == MT_CONV_IMPL_IM2COL) return 0;
    if (impl == MT_CONV_IMPL_DNNL) return 1;
    conv_key k;
    conv_key_of(n, 1, CONV_FWD, &k);
    return auto_prefers_dnnl(&k);
}
#endif
