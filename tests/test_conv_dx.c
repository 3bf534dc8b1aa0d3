/* tests/test_conv_dx.c: conv2d's CPU backward data of stride-1 convs computed
 * as a forward conv of dy with the flipped, transposed kernel (core/ops/conv2d.c,
 * conv2d_dx_as_forward), and the weight / bias gradients that now run in their
 * own pass. dx, dw and db of mt_backward against a direct float64 adjoint:
 *   dx[n, c, h, w]    = sum dy[n, o, oh, ow] w[o, c, kh, kw] over h = oh - pt + kh*d, w = ow - pl + kw*d
 *   dw[o, c, kh, kw]  = sum dy[n, o, oh, ow] x[n, c, oh - pt + kh*d, ow - pl + kw*d]
 *   db[o]             = sum dy[n, o, oh, ow]
 * max |g - ref| <= 1e-5 max |ref| on shapes that take the new path (3x3 pad 1 as
 * in U-Net, unpadded, asymmetric padding, a 5x5 and a 2x3 kernel, dilation 2, a
 * padding beyond the kernel so that dy's is negative; batches 1 to 3, inputs of at
 * least 32x32) and three that keep the im2col + col2im path (8 input channels; a
 * 16x16 input; a stride-2 conv), on 1, 2 and 3 threads and default / tiny column blocks.
 * The gradient starts non-zero (a second backward) so that accumulation into an
 * existing .grad is checked too. im2col is forced (MT_CONV_IMPL cannot change it). */
#include "../core/autograd.h"
#include "../core/device.h"
#include "../core/ops.h"
#include "../core/ops/dnnl.h"
#include "../core/ops/gemm.h"
#include "../core/rng.h"
#include "test.h"

#include <stdlib.h>

typedef struct dx_case {
    const char *name;
    int N, C, O, H, W, KH, KW, stride, pt, pb, pl, pr, dil;
} dx_case;

static const dx_case CASES[] = {
    {"3x3 pad 1 (U-Net conv)", 3, 16, 24, 35, 33, 3, 3, 1, 1, 1, 1, 1, 1},
    {"3x3 unpadded batch 1", 1, 20, 8, 34, 37, 3, 3, 1, 0, 0, 0, 0, 1},
    {"3x3 asymmetric padding", 1, 16, 5, 33, 32, 3, 3, 1, 2, 0, 0, 1, 1},
    {"5x5 pad 2", 2, 17, 9, 32, 34, 5, 5, 1, 2, 2, 2, 2, 1},
    {"2x3 kernel pad (1, 0, 1, 1)", 1, 16, 7, 32, 33, 2, 3, 1, 1, 0, 1, 1, 1},
    {"3x3 dilation 2 pad 2", 2, 18, 6, 32, 36, 3, 3, 1, 2, 2, 2, 2, 2},
    {"3x3 pad 3 top / left (negative pad for dy)", 1, 16, 5, 32, 33, 3, 3, 1, 3, 0, 3, 1, 1},
    {"8 channels (col2im path)", 3, 8, 12, 33, 32, 3, 3, 1, 1, 1, 1, 1, 1},
    {"16x16 input (col2im path)", 2, 16, 12, 16, 17, 3, 3, 1, 1, 1, 1, 1, 1},
    {"stride 2 (col2im path)", 1, 16, 10, 35, 34, 3, 3, 2, 1, 1, 1, 1, 1},
};

/* Direct float64 adjoint of case c: rdx [N,C,H,W], rdw [O,C,KH,KW], rdb [O]. */
static void reference(const dx_case *c, int OH, int OW, const mt_real *x, const mt_real *w, const mt_real *dy,
                      double *rdx, double *rdw, double *rdb)
{
    const size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->O * c->C * c->KH * c->KW;
    for (size_t i = 0; i < nx; i++) rdx[i] = 0;
    for (size_t i = 0; i < nw; i++) rdw[i] = 0;
    for (int o = 0; o < c->O; o++) rdb[o] = 0;
    for (int n = 0; n < c->N; n++)
        for (int o = 0; o < c->O; o++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    const double g = dy[(((size_t)n * c->O + o) * OH + oh) * OW + ow];
                    rdb[o] += g;
                    for (int ci = 0; ci < c->C; ci++)
                        for (int kh = 0; kh < c->KH; kh++)
                            for (int kw = 0; kw < c->KW; kw++) {
                                const int h = oh * c->stride - c->pt + kh * c->dil;
                                const int q = ow * c->stride - c->pl + kw * c->dil;
                                if (h < 0 || h >= c->H || q < 0 || q >= c->W) continue;
                                const size_t xi = (((size_t)n * c->C + ci) * c->H + h) * c->W + q;
                                const size_t wi = (((size_t)o * c->C + ci) * c->KH + kh) * c->KW + kw;
                                rdx[xi] += g * w[wi];
                                rdw[wi] += g * x[xi];
                            }
                }
}

/* max |g - scale * ref| / max |scale * ref| */
static double rel_err(const mt_tensor *g, const double *ref, double scale)
{
    const mt_real *v = MT_DATA(g);
    double d = 0, m = 0;
    for (size_t i = 0; i < mt_numel(g); i++) {
        const double r = scale * ref[i], e = fabs((double)v[i] - r);
        if (!(e <= d)) d = e;
        if (fabs(r) > m) m = fabs(r);
    }
    return m > 0 ? d / m : d;
}

static void run_case(mt_test_ctx *T_, const dx_case *c)
{
    mt_conv2d_params p = mt_conv2d_default();
    p.stride_h = p.stride_w = c->stride;
    p.pad_top = c->pt, p.pad_bottom = c->pb, p.pad_left = c->pl, p.pad_right = c->pr;
    p.dil_h = p.dil_w = c->dil;
    const int OH = (c->H + c->pt + c->pb - c->dil * (c->KH - 1) - 1) / c->stride + 1;
    const int OW = (c->W + c->pl + c->pr - c->dil * (c->KW - 1) - 1) / c->stride + 1;
    const uint64_t seed = (uint64_t)(c->C * 131 + c->O * 17 + c->H * 3 + c->KW);
    mt_tensor *x = mt_test_randn(4, (int[]){c->N, c->C, c->H, c->W}, seed);
    mt_tensor *w = mt_test_randn(4, (int[]){c->O, c->C, c->KH, c->KW}, seed + 1);
    mt_tensor *b = mt_test_randn(1, (int[]){c->O}, seed + 2);
    mt_tensor *dy = mt_test_randn(4, (int[]){c->N, c->O, OH, OW}, seed + 3);
    CHECK(x && w && b && dy, "%s: allocation failed: %s", c->name, mt_last_error());
    mt_requires_grad(x, 1), mt_requires_grad(w, 1), mt_requires_grad(b, 1);
    double *rdx = malloc(sizeof(double) * mt_numel(x)), *rdw = malloc(sizeof(double) * mt_numel(w));
    double rdb[64];
    CHECK(rdx && rdw && c->O <= 64, "%s: out of memory", c->name);
    reference(c, OH, OW, MT_DATA(x), MT_DATA(w), MT_DATA(dy), rdx, rdw, rdb);
    const int threads[3] = {1, 2, 3};
    const size_t blocks[2] = {0, 512}; /* default column blocks, tiny ones (many row blocks) */
    for (int ti = 0; ti < 3 && !T_->failed; ti++)
        for (int bi = 0; bi < 2 && !T_->failed; bi++) {
            mt_set_num_threads(threads[ti]);
            mt_conv_set_block_bytes(blocks[bi]);
            CHECK(mt_zero_grad(x) == MT_OK && mt_zero_grad(w) == MT_OK && mt_zero_grad(b) == MT_OK, "zero_grad: %s",
                  mt_last_error());
            for (int pass = 0; pass < 2 && !T_->failed; pass++) { /* the second adds to the first */
                mt_tensor *y = mt_conv2d(x, w, b, p);
                CHECK(y != NULL, "%s: forward failed: %s", c->name, mt_last_error());
                CHECK(y->shape[2] == OH && y->shape[3] == OW, "%s: output %dx%d, expected %dx%d", c->name,
                      y->shape[2], y->shape[3], OH, OW);
                const mt_status s = mt_backward(y, dy, 0);
                mt_tensor_release(y);
                CHECK(s == MT_OK, "%s: backward failed: %s", c->name, mt_last_error());
            }
            mt_conv_set_block_bytes(0);
            CHECK(x->grad && w->grad && b->grad, "%s: a gradient is missing", c->name);
            const double ex = rel_err(x->grad, rdx, 2), ew = rel_err(w->grad, rdw, 2), eb = rel_err(b->grad, rdb, 2);
            CHECK(ex <= 1e-5 && ew <= 1e-5 && eb <= 1e-5,
                  "%s, %d threads, block bytes %zu: max error of dx %.3g, dw %.3g, db %.3g of max |ref| (bound 1e-5)",
                  c->name, threads[ti], blocks[bi], ex, ew, eb);
        }
    free(rdx), free(rdw);
    mt_tensor_release(x), mt_tensor_release(w), mt_tensor_release(b), mt_tensor_release(dy);
}

TEST(conv_dx_as_forward_matches_direct)
{
    const int prev_threads = mt_get_num_threads();
    const mt_conv_impl impl = mt_conv_set_impl(MT_CONV_IMPL_IM2COL);
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0] && !T_->failed; i++) run_case(T_, &CASES[i]);
    mt_conv_set_impl(impl);
    mt_set_num_threads(prev_threads);
}
