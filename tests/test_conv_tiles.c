/* tests/test_conv_tiles.c: the row-tiled CPU forward of conv2d and
 * conv_transpose2d (core/ops/conv2d.c, conv_transpose2d.c): with fewer images
 * than threads (inference at batch 1) an image is cut in blocks of output rows
 * (input rows for the transposed conv) split over the threads. Forward y on
 * batches 1 and 3, 1, 2 and 3 threads, default and tiny column blocks, against
 * a direct float64 convolution: max |y - ref| <= 1e-5 max |ref|. Also the
 * block-size rule mt_conv_tile_rows (gemm.h). The im2col path is forced so
 * that MT_CONV_IMPL in the environment does not change what is tested. */
#include "../core/device.h"
#include "../core/ops.h"
#include "../core/ops/dnnl.h"
#include "../core/ops/gemm.h"
#include "../core/rng.h"
#include "test.h"

#include <stdlib.h>

typedef struct tile_case {
    const char *name;
    int transposed, N, C, O, H, W, K, stride, pad, dil, groups, bias;
} tile_case;

static const tile_case CASES[] = {
    {"3x3 pad 1 (U-Net conv)", 0, 1, 5, 6, 23, 19, 3, 1, 1, 1, 1, 1},
    {"1x1 identity (score conv)", 0, 1, 7, 3, 17, 21, 1, 1, 0, 1, 1, 1},
    {"3x3 stride 2 groups 2 no bias", 0, 1, 4, 6, 15, 16, 3, 2, 1, 1, 2, 0},
    {"3x3 dilation 2 batch 3", 0, 3, 3, 4, 13, 11, 3, 1, 2, 2, 1, 1},
    {"2x2 stride 2 up-conv (disjoint rows)", 1, 1, 6, 4, 9, 7, 2, 2, 0, 1, 1, 1},
    {"3x3 stride 2 up-conv (overlapping rows)", 1, 1, 4, 5, 8, 6, 3, 2, 1, 1, 1, 1},
    {"2x2 stride 2 up-conv groups 2 batch 3", 1, 3, 4, 6, 5, 6, 2, 2, 0, 1, 2, 0},
};

/* Direct float64 forward of case c into ref [N, O, OH, OW]: conv2d sums
 * x[n, g*Cg + c, oh*s - p + kh*d, ...] w[o, c, kh, kw]; the transposed conv
 * scatters x[n, ci, h, w] w[ci, o_g, kh, kw] to (h*s - p + kh*d, ...). */
static void reference(const tile_case *c, const mt_real *x, const mt_real *w, const mt_real *b, int OH, int OW,
                      double *ref)
{
    const int G = c->groups, Cg = c->C / G, Og = c->O / G;
    for (int n = 0; n < c->N; n++)
        for (int o = 0; o < c->O; o++)
            for (int i = 0; i < OH * OW; i++) ref[((size_t)n * c->O + o) * OH * OW + i] = b ? b[o] : 0;
    for (int n = 0; n < c->N; n++)
        for (int ci = 0; ci < c->C; ci++) {
            const int g = ci / Cg;
            for (int og = 0; og < Og; og++) {
                const int o = g * Og + og;
                for (int kh = 0; kh < c->K; kh++)
                    for (int kw = 0; kw < c->K; kw++) {
                        const double wv = c->transposed ? w[(((size_t)ci * Og + og) * c->K + kh) * c->K + kw]
                                                        : w[(((size_t)o * Cg + ci % Cg) * c->K + kh) * c->K + kw];
                        const int IH = c->transposed ? c->H : OH, IW = c->transposed ? c->W : OW;
                        for (int a = 0; a < IH; a++)
                            for (int e = 0; e < IW; e++) {
                                /* conv2d: (a, e) is the output pixel; transposed: the input pixel */
                                const int r = a * c->stride - c->pad + kh * c->dil;
                                const int q = e * c->stride - c->pad + kw * c->dil;
                                if (c->transposed) {
                                    if (r < 0 || r >= OH || q < 0 || q >= OW) continue;
                                    ref[(((size_t)n * c->O + o) * OH + r) * OW + q] +=
                                        wv * x[(((size_t)n * c->C + ci) * c->H + a) * c->W + e];
                                } else {
                                    if (r < 0 || r >= c->H || q < 0 || q >= c->W) continue;
                                    ref[(((size_t)n * c->O + o) * OH + a) * OW + e] +=
                                        wv * x[(((size_t)n * c->C + ci) * c->H + r) * c->W + q];
                                }
                            }
                    }
            }
        }
}

/* max |y - ref| / max |ref| */
static double rel_err(const mt_tensor *y, const double *ref)
{
    const mt_real *v = MT_DATA(y);
    double d = 0, m = 0;
    for (size_t i = 0; i < mt_numel(y); i++) {
        double e = fabs((double)v[i] - ref[i]);
        if (!(e <= d)) d = e;
        if (fabs(ref[i]) > m) m = fabs(ref[i]);
    }
    return m > 0 ? d / m : d;
}

static mt_tensor *forward(const tile_case *c, mt_tensor *x, mt_tensor *w, mt_tensor *b)
{
    if (c->transposed) {
        mt_conv_transpose2d_params p = mt_conv_transpose2d_default();
        p.stride_h = p.stride_w = c->stride;
        p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = c->pad;
        p.dil_h = p.dil_w = c->dil;
        p.groups = c->groups;
        return mt_conv_transpose2d(x, w, b, p);
    }
    mt_conv2d_params p = mt_conv2d_default();
    p.stride_h = p.stride_w = c->stride;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = c->pad;
    p.dil_h = p.dil_w = c->dil;
    p.groups = c->groups;
    return mt_conv2d(x, w, b, p);
}

static void run_case(mt_test_ctx *T_, const tile_case *c)
{
    const int xs[4] = {c->N, c->C, c->H, c->W};
    const int ws[4] = {c->transposed ? c->C : c->O, c->transposed ? c->O / c->groups : c->C / c->groups, c->K, c->K};
    const int bs[1] = {c->O};
    const uint64_t seed = (uint64_t)(c->C * 31 + c->O * 7 + c->H + c->transposed * 1000);
    mt_tensor *x = mt_test_randn(4, xs, seed), *w = mt_test_randn(4, ws, seed + 1);
    mt_tensor *b = c->bias ? mt_test_randn(1, bs, seed + 2) : NULL;
    CHECK_NOTNULL(x);
    CHECK_NOTNULL(w);
    CHECK(!c->bias || b, "%s: bias allocation failed", c->name);
    double *ref = NULL;
    const int threads[3] = {1, 2, 3};
    const size_t blocks[2] = {0, 512}; /* default column blocks, tiny ones (many row blocks) */
    for (int ti = 0; ti < 3 && !T_->failed; ti++)
        for (int bi = 0; bi < 2 && !T_->failed; bi++) {
            mt_set_num_threads(threads[ti]);
            mt_conv_set_block_bytes(blocks[bi]);
            mt_tensor *y = forward(c, x, w, b);
            mt_conv_set_block_bytes(0);
            CHECK(y != NULL, "%s: forward failed: %s", c->name, mt_last_error());
            if (!ref) {
                ref = malloc(sizeof(double) * mt_numel(y));
                CHECK(ref != NULL, "out of memory");
                reference(c, MT_DATA(x), MT_DATA(w), b ? MT_DATA(b) : NULL, y->shape[2], y->shape[3], ref);
            }
            const double e = rel_err(y, ref);
            mt_tensor_release(y);
            CHECK(e <= 1e-5, "%s, %d threads, block bytes %zu: max error %.3g of max |ref| (bound 1e-5)", c->name,
                  threads[ti], blocks[bi], e);
        }
    free(ref);
    mt_tensor_release(x), mt_tensor_release(w), mt_tensor_release(b);
}

TEST(conv_tiles_forward_matches_direct)
{
    const int prev_threads = mt_get_num_threads();
    const mt_conv_impl impl = mt_conv_set_impl(MT_CONV_IMPL_IM2COL);
    const int grad = mt_set_grad_enabled(0);
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0] && !T_->failed; i++) run_case(T_, &CASES[i]);
    mt_set_grad_enabled(grad);
    mt_conv_set_impl(impl);
    mt_set_num_threads(prev_threads);
}

TEST(conv_tile_rows_rule)
{
    const int prev = mt_get_num_threads();
    mt_set_num_threads(2); /* four tiles wanted, of at least 256 columns */
    const int got[6] = {mt_conv_tile_rows(1, 512, 512, 1), mt_conv_tile_rows(1, 32, 32, 8),
                        mt_conv_tile_rows(1, 8, 64, 8),    mt_conv_tile_rows(1, 3, 300, 3),
                        mt_conv_tile_rows(2, 32, 32, 32),  mt_conv_tile_rows(1, 8, 8, 8)};
    const int want[6] = {1, 8, 4, 1, 16, 8};
    mt_set_num_threads(prev);
    for (int i = 0; i < 6; i++) CHECK(got[i] == want[i], "case %d: mt_conv_tile_rows gave %d rows, expected %d", i, got[i], want[i]);
}
