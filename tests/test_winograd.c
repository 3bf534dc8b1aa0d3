/* tests/test_winograd.c: Winograd conv2d (core/ops/winograd.h) against im2col +
 * GEMM (mt_conv_set_impl forces each; the PyTorch fixtures of tests/test_conv.c
 * check im2col, and Winograd too): forward y and the gradients dx, dw, db of
 * loss = sum(y * gy) on a grid of shapes (channels 1..256, sizes 1..38 odd and
 * even, paddings 0/1/2/3 and asymmetric, batch 1..3, with and without bias),
 * with F(2x2, 3x3) and F(4x4, 3x3) forced for forward and backward data (the
 * weight gradient is always F(4x4, 3x3)), the default blocking, tiny tile
 * blocks, both GEMM threadings and one thread. Bound: max |wino - im2col| <=
 * tol * max |im2col| per tensor, tol 1e-6 for F(2x2) and 3e-5 for F(4x4) and dw
 * (fp32; float64 build: 1e-12). Also: the dispatch rule and MT_CONV_IMPL's check. */
#include "../core/device.h"
#include "../core/ops.h"
#include "../core/ops/dnnl.h"
#include "../core/ops/winograd.h"
#include "../core/rng.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#ifdef MT_REAL_DOUBLE
#define WG_TOL 1e-12
#define WG4_TOL 1e-12
#else
#define WG_TOL 1e-6
#define WG4_TOL 3e-5
#endif

typedef struct wg_case {
    int N, C, O, H, W;
    int pt, pb, pl, pr;
    int bias;
} wg_case;

/* max |a - b| / max |b| (0 when b is all zero and a equals it) */
static double rel_err(const mt_tensor *a, const mt_tensor *b)
{
    const mt_real *x = MT_DATA(a), *y = MT_DATA(b);
    double d = 0, m = 0;
    for (size_t i = 0; i < mt_numel(b); i++) {
        double e = fabs((double)x[i] - (double)y[i]);
        if (!(e <= d)) d = e; /* NaN counts */
        if (fabs((double)y[i]) > m) m = fabs((double)y[i]);
    }
    return m > 0 ? d / m : d;
}

/* y, dx, dw, db of case c with MT_CONV_IMPL = impl (out[0..3]; db NULL without bias). */
static int run_impl(const wg_case *c, mt_conv_impl impl, mt_tensor **out)
{
    const mt_conv_impl prev = mt_conv_set_impl(impl); /* MT_CONV_IMPL is read once per process */
    uint64_t seed = (uint64_t)(c->N * 7 + c->C * 131 + c->O * 17 + c->H * 3 + c->W);
    mt_tensor *x = mt_test_randn(4, (int[]){c->N, c->C, c->H, c->W}, seed);
    mt_tensor *w = mt_test_randn(4, (int[]){c->O, c->C, 3, 3}, seed + 1);
    mt_tensor *b = c->bias ? mt_test_randn(1, (int[]){c->O}, seed + 2) : NULL;
    const int OH = c->H + c->pt + c->pb - 2, OW = c->W + c->pl + c->pr - 2;
    mt_tensor *gy = mt_test_randn(4, (int[]){c->N, c->O, OH, OW}, seed + 3);
    int ok = x && w && gy && (!c->bias || b);
    mt_tensor *y = NULL;
    if (ok) {
        mt_requires_grad(x, 1), mt_requires_grad(w, 1);
        if (b) mt_requires_grad(b, 1);
        mt_conv2d_params p = mt_conv2d_default();
        p.pad_top = c->pt, p.pad_bottom = c->pb, p.pad_left = c->pl, p.pad_right = c->pr;
        y = mt_conv2d(x, w, b, p);
        ok = y && mt_backward(y, gy, 0) == MT_OK;
    }
    if (ok) {
        out[0] = mt_tensor_alias(y), out[1] = mt_tensor_alias(x->grad), out[2] = mt_tensor_alias(w->grad);
        out[3] = b ? mt_tensor_alias(b->grad) : NULL;
    }
    mt_tensor_release(y), mt_tensor_release(x), mt_tensor_release(w), mt_tensor_release(b), mt_tensor_release(gy);
    mt_conv_set_impl(prev);
    return ok;
}

/* Runs case c with im2col and with Winograd of output tile m (2 or 4) and checks the four
 * tensors within tol. */
static void check_case_tile(mt_test_ctx *T_, const wg_case *c, int m, double tol)
{
    mt_tensor *ref[4] = {0}, *got[4] = {0};
    mt_winograd_set_tile(m);
    int ok = run_impl(c, MT_CONV_IMPL_IM2COL, ref) && run_impl(c, MT_CONV_IMPL_WINOGRAD, got);
    mt_winograd_set_tile(0);
    static const char *const names[4] = {"y", "dx", "dw", "db"};
    char what[128];
    snprintf(what, sizeof what, "F(%dx%d, 3x3) N %d C %d O %d %dx%d pad (%d, %d, %d, %d)%s", m, m, c->N, c->C, c->O,
             c->H, c->W, c->pt, c->pb, c->pl, c->pr, c->bias ? " bias" : "");
    double worst = 0, worst_tol = tol;
    int worst_i = 0;
    for (int i = 0; ok && i < 4; i++) {
        if (!ref[i]) continue;
        if (!got[i] || !mt_same_shape(ref[i], got[i])) {
            ok = 0;
            break;
        }
        const double e = rel_err(got[i], ref[i]), t = i == 2 ? WG4_TOL : tol; /* dw: always F(4x4, 3x3) */
        if (!(e / t <= worst / worst_tol)) worst = e, worst_tol = t, worst_i = i;
    }
    for (int i = 0; i < 4; i++) mt_tensor_release(ref[i]), mt_tensor_release(got[i]);
    CHECK(ok, "%s: conv2d failed or shapes differ: %s", what, mt_last_error());
    CHECK(worst <= worst_tol, "%s: winograd %s differs from im2col by %.3g of its max (bound %.0e)", what,
          names[worst_i], worst, worst_tol);
}

/* Both tiles: F(2x2, 3x3) within WG_TOL, F(4x4, 3x3) within WG4_TOL. */
static void check_case(mt_test_ctx *T_, const wg_case *c)
{
    check_case_tile(T_, c, 2, WG_TOL);
    if (!T_->failed) check_case_tile(T_, c, 4, WG4_TOL);
}

/* The fixed edge cases, then a deterministic pseudo-random sample of the grid. */
static void run_grid(mt_test_ctx *T_, int n_random)
{
    static const wg_case FIXED[] = {
        {1, 1, 1, 1, 1, 1, 1, 1, 1, 1},     /* 1x1 image, one channel */
        {1, 1, 1, 3, 3, 0, 0, 0, 0, 0},     /* 1x1 output, no padding */
        {2, 3, 4, 2, 2, 1, 1, 1, 1, 1},     /* 2x2 */
        {1, 2, 3, 5, 4, 2, 2, 2, 2, 1},     /* padding 2: output larger than input */
        {3, 5, 2, 7, 6, 3, 0, 0, 3, 0},     /* padding 3 on one side: backward offset below 0 */
        {2, 4, 5, 8, 9, 0, 2, 1, 0, 1},     /* asymmetric */
        {1, 130, 3, 5, 6, 1, 1, 1, 1, 1},   /* many input channels */
        {2, 3, 130, 6, 5, 1, 1, 1, 1, 0},   /* many output channels */
        {3, 33, 65, 37, 36, 1, 1, 1, 1, 1}, /* U-Net-like, odd / even edges, several blocks */
        {1, 64, 64, 17, 17, 1, 1, 1, 1, 1},
        {2, 256, 256, 38, 38, 0, 0, 0, 0, 1}, /* S5 U-Net, valid padding: the auto rule's smallest width */
    };
    for (size_t i = 0; i < sizeof FIXED / sizeof FIXED[0] && !T_->failed; i++) check_case(T_, &FIXED[i]);
    static const int CH[] = {1, 2, 3, 7, 16, 33, 130}, SZ[] = {1, 2, 3, 4, 5, 8, 11, 16, 17, 37};
    static const int PADS[][4] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}, {0, 1, 0, 1}, {1, 0, 2, 0}, {0, 2, 1, 1}};
    for (int r = 0; r < n_random && !T_->failed; r++) {
        uint32_t h = (uint32_t)(mt_philox_normal(99, (uint64_t)r) * 1e6) ^ (uint32_t)(r * 2654435761u);
        wg_case c;
        c.N = 1 + (int)(h % 3);
        c.C = CH[(h >> 2) % 7];
        c.O = CH[(h >> 5) % 7];
        c.H = SZ[(h >> 8) % 10];
        c.W = SZ[(h >> 12) % 10];
        const int *p = PADS[(h >> 16) % 6];
        c.pt = p[0], c.pb = p[1], c.pl = p[2], c.pr = p[3];
        c.bias = (int)((h >> 20) & 1);
        if (c.H + c.pt + c.pb < 3 || c.W + c.pl + c.pr < 3) continue; /* kernel larger than the padded input */
        if (c.C * c.O > 130 * 33) c.N = 1;                               /* keep the test short */
        check_case(T_, &c);
    }
}

TEST(winograd_matches_im2col_grid)
{
    run_grid(T_, 60);
}

/* Tiny tile blocks (5 and 1 tiles): blocks end mid-row and mid-image. */
TEST(winograd_matches_im2col_small_blocks)
{
    mt_winograd_set_block_tiles(5);
    run_grid(T_, 15);
    mt_winograd_set_block_tiles(1);
    if (!T_->failed) run_grid(T_, 5);
    mt_winograd_set_block_tiles(0);
}

/* Both GEMM threadings forced (16 multithreaded GEMMs one after the other; threads splitting
 * them), and one thread. */
TEST(winograd_matches_im2col_threadings)
{
    mt_winograd_set_gemm_threads(1);
    run_grid(T_, 15);
    mt_winograd_set_gemm_threads(0);
    if (!T_->failed) run_grid(T_, 15);
    mt_winograd_set_gemm_threads(-1);
    int prev = mt_get_num_threads();
    mt_set_num_threads(1);
    if (!T_->failed) run_grid(T_, 15);
    mt_set_num_threads(prev);
}

TEST(winograd_dispatch_rule_and_env)
{
    mt_conv_geom g = {.C = 512, .H = 16, .W = 16, .KH = 3, .KW = 3, .OH = 16, .OW = 16, .stride_h = 1,
                      .stride_w = 1, .pad_top = 1, .pad_left = 1, .dil_h = 1, .dil_w = 1};
    /* 512 -> 512 at 16x16: F(2x2) forward and backward data; dw stays on im2col (36 planes of
     * 512 x 512 would be 36 MiB of scratch) */
    CHECK(mt_winograd_applies(&g, 1, 512, "auto", 0), "512 -> 512 channels at 16x16: Winograd forward under auto");
    CHECK(mt_winograd_tile(&g, 512, 0) == 2, "512 -> 512 at 16x16: F(2x2, 3x3), got %d", mt_winograd_tile(&g, 512, 0));
    CHECK(mt_winograd_applies(&g, 1, 512, "auto", 1), "512 -> 512 at 16x16: backward data by Winograd");
    CHECK(!mt_winograd_applies(&g, 1, 512, "auto", 2), "512 -> 512: dw scratch over the cap, im2col");
    CHECK(mt_winograd_applies(&g, 1, 512, "winograd", 2), "forced Winograd must apply to dw too");
    CHECK(mt_winograd_tile(&g, 512, 2) == 4, "dw is always F(4x4, 3x3)");
    CHECK(!mt_winograd_applies(&g, 1, 512, "im2col", 0), "MT_CONV_IMPL=im2col must never take Winograd");
    CHECK(!mt_winograd_applies(&g, 2, 512, "winograd", 0), "groups 2 is not supported");
    /* 64 -> 64 at 32x32 and larger: F(4x4) in all three passes */
    g.C = 64, g.H = g.W = g.OH = g.OW = 32;
    for (int pass = 0; pass < 3; pass++) {
        CHECK(mt_winograd_applies(&g, 1, 64, "auto", pass), "64 -> 64 at 32x32, pass %d: Winograd under auto", pass);
        CHECK(mt_winograd_tile(&g, 64, pass) == 4, "64 -> 64 at 32x32, pass %d: F(4x4, 3x3)", pass);
    }
    mt_winograd_set_tile(2);
    CHECK(mt_winograd_tile(&g, 64, 0) == 2, "mt_winograd_set_tile(2) must force F(2x2, 3x3)");
    mt_winograd_set_tile(0);
    g.H = g.W = g.OH = g.OW = 16;
    CHECK(!mt_winograd_applies(&g, 1, 64, "auto", 0), "64 -> 64 at 16x16: im2col under auto");
    CHECK(mt_winograd_applies(&g, 1, 64, "winograd", 0), "but Winograd when forced");
    CHECK(mt_winograd_tile(&g, 64, 0) == 2, "forced where the rule says im2col: F(2x2, 3x3)");
    g.C = 32, g.H = g.W = g.OH = g.OW = 64;
    CHECK(!mt_winograd_applies(&g, 1, 64, "auto", 0), "32 input channels: im2col under auto");
    g.C = 1024, g.H = g.W = g.OH = g.OW = 32; /* 1024 -> 512: F(4x4) planes 72 MiB, F(2x2) planes 32 MiB */
    CHECK(mt_winograd_tile(&g, 512, 0) == 2, "1024 -> 512 at 32x32: F(2x2, 3x3) (memory cap)");
    CHECK(!mt_winograd_applies(&g, 1, 512, "auto", 2), "1024 -> 512 at 32x32: dw on im2col (memory cap)");
    g.C = 512, g.H = g.W = g.OH = g.OW = 8;
    CHECK(!mt_winograd_applies(&g, 1, 512, "auto", 0), "an 8x8 output: im2col under auto");
    g.H = g.W = g.OH = g.OW = 16, g.stride_h = 2;
    CHECK(!mt_winograd_applies(&g, 1, 512, "winograd", 0), "stride 2 is not supported even when forced");
    g.stride_h = 1, g.KW = 5;
    CHECK(!mt_winograd_applies(&g, 1, 512, "winograd", 0), "a 3x5 kernel is not supported");
    /* the one selector (dnnl.h): what mt_conv_set_impl forces is what the dispatch reads */
    mt_conv_impl prev = mt_conv_set_impl(MT_CONV_IMPL_AUTO);
    CHECK(!strcmp(mt_conv_impl_env(), "auto"), "auto must read as auto, got %s", mt_conv_impl_env());
    mt_conv_set_impl(MT_CONV_IMPL_WINOGRAD);
    CHECK(!strcmp(mt_conv_impl_env(), "winograd"), "forced Winograd must read as winograd, got %s",
          mt_conv_impl_env());
    mt_conv_set_impl(prev);
    CHECK_OK(mt_conv_impl_check("im2col"));
    CHECK_OK(mt_conv_impl_check("dnnl"));
    CHECK_FAILS(mt_conv_impl_check("winogard"), MT_ERR_INVALID, "MT_CONV_IMPL=winogard");
}
