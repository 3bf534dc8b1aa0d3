/* core/ops/winograd.c: Winograd F(2x2, 3x3) and F(4x4, 3x3) convolution on the
 * CPU (winograd.h), after Lavin & Gray 2016, "Fast Algorithms for Convolutional
 * Neural Networks", section 4.1 (and 4.2 for F(4x4, 3x3)).
 *
 * A 3x3 stride-1 cross-correlation computes each m x m output tile Y from an
 * alpha x alpha input tile d, alpha = m + 2 (rows m*th - pad_top .. + alpha - 1,
 * likewise columns, zero outside the image), and the 3x3 kernel g as
 *     Y = A^T [ (G g G^T) .* (B^T d B) ] A
 * with, for F(2x2, 3x3),
 *     B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
 *           [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
 *           [0 -1  1  0]         [1/2 -1/2  1/2]
 *           [0  1  0 -1]         [ 0    0    1 ]
 * and for F(4x4, 3x3) the 6x6 matrices at bt6, g_rows_f4 and at6 below
 * (interpolation points 0, 1, -1, 2, -2, infinity).
 * Summed over input channels, the element-wise products of the P = alpha^2
 * positions k of the transformed tiles are P independent matrix products:
 *     M_k[O, T] = U_k[O, C] @ V_k[C, T],   U_k = (G g G^T)_k,  V_k = (B^T d B)_k
 * over the T tiles of all images of the batch: per output pixel and channel pair
 * 16/4 = 4 (F(2x2)) or 36/16 = 2.25 (F(4x4)) multiplies instead of 9.
 *
 * Schedule: the weights are transformed once per call into U [P, O, C]. The
 * tiles (all images, row-major within an image) are processed in blocks of Tb
 * so that a block's V [P, C, Tb] and M [P, O, Tb] stay in cache; per block,
 * inside one OpenMP region: input transform (threads split the channels; runs
 * of 8 tiles of a tile row transformed together so the loops vectorise),
 * then the P GEMMs (threads split the positions, each calling a
 * single-threaded OpenBLAS GEMM, as conv2d.c does with images), then the output
 * transform (threads split the output channels), which adds the bias and
 * writes the m x m tiles, clipped at the bottom / right edge.
 * Scratch comes from the caching allocator (no malloc after the first step).
 *
 * Backward data is the same forward with the kernels rotated by 180 degrees and
 * the channel axes swapped, padding 2 - pad (negative padding just offsets the
 * tiles), accumulating into dx.
 * Backward weights (F(4x4, 3x3) only) is the transpose of the forward's bilinear
 * form: dw = G^T [ (A dy A^T) .* (B^T d B) ] G per 4x4 tile of dy and 6x6 tile d
 * of x, so per block Y_k = (A dy A^T)_k [O, Tb] and V_k of x, Mw_k[O, C] += Y_k V_k^T
 * (P GEMMs whose K is the block's tiles), and at the end dw += G^T Mw G per kernel.
 *
 * Accuracy (fp32, tests/test_winograd.c against im2col): F(2x2) within 1e-6 of the
 * largest magnitude (its transforms add and halve); F(4x4), whose transforms
 * multiply by up to 5 (B), 8 (A) and 1/24 (G), within 3e-5 (worst seen 1.5e-5, dx of
 * a 256-channel unpadded conv), the level of cuDNN's and oneDNN's F(4x4, 3x3).
 */
#include "winograd.h"
#include "dnnl.h"

#include "../device.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define WG_PMAX 36 /* positions of a transformed tile: 16 (F(2x2, 3x3), 4x4) or 36 (F(4x4, 3x3), 6x6) */
/* The tile-size-generic transform loops are instantiated per tile size (2, 4) so that
 * their loops unroll with constant bounds. */
#if defined(__GNUC__)
#define MT_WG_INLINE static inline __attribute__((always_inline))
#else
#define MT_WG_INLINE static inline
#endif
#define WG_VEC 8   /* tiles of one tile row transformed together (8 floats: one AVX vector) */
/* Stride between the P position planes of U, V and M: the plane size plus a pad,
 * so that the P streams of a transform do not fall on the same cache sets when the
 * plane size is a power of two (64 channels x 512 tiles: 128 KiB). */
static size_t plane_stride(size_t plane)
{
    return plane + 16;
}

const char *mt_conv_impl_env(void)
{
    return mt_conv_impl_name(mt_conv_get_impl());
}

mt_status mt_conv_impl_check(const char *impl)
{
    MT_REQUIRE(!strcmp(impl, "auto") || !strcmp(impl, "im2col") || !strcmp(impl, "dnnl") ||
                   !strcmp(impl, "winograd"),
               "environment variable MT_CONV_IMPL=%s: expected auto, im2col, dnnl or winograd", impl);
    return MT_OK;
}

int mt_winograd_supported(const mt_conv_geom *g, int groups)
{
    return groups == 1 && g->KH == 3 && g->KW == 3 && g->stride_h == 1 && g->stride_w == 1 && g->dil_h == 1 &&
           g->dil_w == 1;
}

/* Transformed weights (U) or weight-gradient accumulators (Mw) of one conv, P planes of
 * O x C floats, at most this many bytes: scratch held while the step holds the most memory. */
#define WG_MAX_PLANES_BYTES ((size_t)32 << 20)

static int planes_fit(const mt_conv_geom *g, int O, int P)
{
    return (size_t)P * g->C * O * sizeof(mt_real) <= WG_MAX_PLANES_BYTES;
}

/* The auto rule: 4 (F(4x4, 3x3)), 2 (F(2x2, 3x3)) or 0 (im2col). */
static int auto_tile(const mt_conv_geom *g, int O, int pass)
{
    if (g->C >= 64 && O >= 64 && g->OH >= 32 && g->OW >= 32 && planes_fit(g, O, 36)) return 4;
    if (g->C >= 256 && O >= 256 && g->OH >= 16 && g->OW >= 16) {
        if (pass == 2) return planes_fit(g, O, 36) ? 4 : 0;
        return planes_fit(g, O, 16) ? 2 : 0;
    }
    return 0;
}

int mt_winograd_profitable(const mt_conv_geom *g, int O, int pass)
{
    return auto_tile(g, O, pass) != 0;
}

int mt_winograd_applies(const mt_conv_geom *g, int groups, int O, const char *impl, int pass)
{
    if (!mt_winograd_supported(g, groups)) return 0;
    if (!strcmp(impl, "winograd")) return 1;
    return !strcmp(impl, "auto") && mt_winograd_profitable(g, O, pass);
}

static int g_block_tiles = 0;
static int g_gemm_threads = -1;
static int g_tile = 0;

void mt_winograd_set_tile(int m)
{
    g_tile = (m == 2 || m == 4) ? m : 0;
}

int mt_winograd_tile(const mt_conv_geom *g, int O, int pass)
{
    if (pass == 2) return 4; /* the weight gradient exists as F(4x4, 3x3) only */
    if (g_tile) return g_tile;
    const int m = auto_tile(g, O, pass);
    return m ? m : 2; /* forced Winograd where the rule says im2col: the more accurate tile */
}

void mt_winograd_set_gemm_threads(int mode)
{
    g_gemm_threads = mode < 0 ? -1 : mode > 0;
}

void mt_winograd_set_block_tiles(int tiles)
{
    g_block_tiles = tiles > 0 ? tiles : 0;
}

/* One Winograd conv: x [N, Ci, H, W] -> y [N, Co, OH, OW] with output tiles m x m. */
typedef struct wg_conv {
    const mt_real *x;
    int N, Ci, H, W;
    mt_real *y;
    int Co, OH, OW;
    int pad_top, pad_left; /* tile origin offset; negative crops */
    const mt_real *b;      /* bias [Co] or NULL */
    const mt_real *dy;     /* weight gradient only: dy [N, Co, OH, OW] */
    int accumulate;        /* y += result (else y = result) */
    int m, alpha, P;       /* output tile m x m (2 or 4), input tile alpha = m + 2, P = alpha^2 positions */
    int TH, TW;            /* tiles per image: ceil(OH / m) x ceil(OW / m) */
    size_t tiles;          /* N * TH * TW */
} wg_conv;

/* The transforms below work on WG_VEC tiles at once (the loops over t vectorise);
 * a[k][t] is position k (row-major in the tile) of tile t. */

/* F(2x2, 3x3): v = B^T d B for 4x4 input tiles d. */
static inline void input_tiles_f2(const mt_real d[WG_PMAX][WG_VEC], mt_real v[WG_PMAX][WG_VEC])
{
    mt_real s[16][WG_VEC];
    for (int j = 0; j < 4; j++)
#pragma omp simd
        for (int t = 0; t < WG_VEC; t++) {
            s[j][t] = d[j][t] - d[8 + j][t];
            s[4 + j][t] = d[4 + j][t] + d[8 + j][t];
            s[8 + j][t] = d[8 + j][t] - d[4 + j][t];
            s[12 + j][t] = d[4 + j][t] - d[12 + j][t];
        }
    for (int i = 0; i < 4; i++)
#pragma omp simd
        for (int t = 0; t < WG_VEC; t++) {
            v[4 * i][t] = s[4 * i][t] - s[4 * i + 2][t];
            v[4 * i + 1][t] = s[4 * i + 1][t] + s[4 * i + 2][t];
            v[4 * i + 2][t] = s[4 * i + 2][t] - s[4 * i + 1][t];
            v[4 * i + 3][t] = s[4 * i + 1][t] - s[4 * i + 3][t];
        }
}

/* F(2x2, 3x3): y = A^T m A + bias (the 2x2 output tile, row-major in y[0..3]). */
static inline void output_tiles_f2(const mt_real m[WG_PMAX][WG_VEC], mt_real bias, mt_real y[16][WG_VEC])
{
    mt_real s[8][WG_VEC];
    for (int j = 0; j < 4; j++)
#pragma omp simd
        for (int t = 0; t < WG_VEC; t++) {
            s[j][t] = m[j][t] + m[4 + j][t] + m[8 + j][t];
            s[4 + j][t] = m[4 + j][t] - m[8 + j][t] - m[12 + j][t];
        }
    for (int i = 0; i < 2; i++)
#pragma omp simd
        for (int t = 0; t < WG_VEC; t++) {
            y[2 * i][t] = s[4 * i][t] + s[4 * i + 1][t] + s[4 * i + 2][t] + bias;
            y[2 * i + 1][t] = s[4 * i + 1][t] - s[4 * i + 2][t] - s[4 * i + 3][t] + bias;
        }
}

/* F(4x4, 3x3): one pass of B^T (6 inputs a[0], a[in], .. a[5 in], 6 outputs at stride `out`):
 *     B^T = [4  0 -5  0  1  0]
 *           [0 -4 -4  1  1  0]
 *           [0  4 -4 -1  1  0]
 *           [0 -2 -1  2  1  0]
 *           [0  2 -1 -2  1  0]
 *           [0  4  0 -5  0  1]   (Lavin & Gray 2016, interpolation points 0, +-1, +-2, infinity) */
static inline void bt6(const mt_real (*a)[WG_VEC], int in, mt_real (*o)[WG_VEC], int out)
{
#pragma omp simd
    for (int t = 0; t < WG_VEC; t++) {
        const mt_real a0 = a[0][t], a1 = a[in][t], a2 = a[2 * in][t], a3 = a[3 * in][t], a4 = a[4 * in][t],
                      a5 = a[5 * in][t];
        const mt_real p = a4 - 4 * a2, q = a3 - 4 * a1, r = a4 - a2, u = 2 * (a1 - a3);
        o[0][t] = 4 * a0 - 5 * a2 + a4;
        o[out][t] = p + q;
        o[2 * out][t] = p - q;
        o[3 * out][t] = r - u;
        o[4 * out][t] = r + u;
        o[5 * out][t] = 4 * a1 - 5 * a3 + a5;
    }
}

/* F(4x4, 3x3): v = B^T d B for 6x6 input tiles d. */
static inline void input_tiles_f4(const mt_real d[WG_PMAX][WG_VEC], mt_real v[WG_PMAX][WG_VEC])
{
    mt_real s[36][WG_VEC];
    for (int j = 0; j < 6; j++) bt6(d + j, 6, s + j, 6); /* columns: s = B^T d */
    for (int i = 0; i < 6; i++) bt6(s + 6 * i, 1, v + 6 * i, 1); /* rows: v = s B */
}

/* F(4x4, 3x3): one pass of A^T (6 inputs at stride `in`, 4 outputs at stride `out`):
 *     A^T = [1  1  1  1  1  0]
 *           [0  1 -1  2 -2  0]
 *           [0  1  1  4  4  0]
 *           [0  1 -1  8 -8  1] */
static inline void at6(const mt_real (*a)[WG_VEC], int in, mt_real (*o)[WG_VEC], int out, mt_real add)
{
#pragma omp simd
    for (int t = 0; t < WG_VEC; t++) {
        const mt_real p = a[in][t] + a[2 * in][t], q = a[in][t] - a[2 * in][t];
        const mt_real r = a[3 * in][t] + a[4 * in][t], u = a[3 * in][t] - a[4 * in][t];
        o[0][t] = a[0][t] + p + r + add;
        o[out][t] = q + 2 * u + add;
        o[2 * out][t] = p + 4 * r + add;
        o[3 * out][t] = q + 8 * u + a[5 * in][t] + add;
    }
}

/* F(4x4, 3x3): y = A^T m A + bias (the 4x4 output tile, row-major in y[0..15]). */
static inline void output_tiles_f4(const mt_real m[WG_PMAX][WG_VEC], mt_real bias, mt_real y[16][WG_VEC])
{
    mt_real s[24][WG_VEC];
    for (int j = 0; j < 6; j++) at6(m + j, 6, s + j, 6, 0); /* columns: s = A^T m, 4 x 6 */
    for (int i = 0; i < 4; i++) at6(s + 6 * i, 1, y + 4 * i, 1, bias); /* rows: y = s A, 4 x 4 */
}

/* F(2x2, 3x3): u = G g G^T (g 3x3, u 4x4, row-major). */
static inline void weight_tile_f2(const mt_real *g, mt_real *u)
{
    mt_real t[12];
    for (int j = 0; j < 3; j++) {
        t[j] = g[j];
        t[3 + j] = (g[j] + g[3 + j] + g[6 + j]) * (mt_real)0.5;
        t[6 + j] = (g[j] - g[3 + j] + g[6 + j]) * (mt_real)0.5;
        t[9 + j] = g[6 + j];
    }
    for (int i = 0; i < 4; i++) {
        const mt_real *r = t + 3 * i;
        u[4 * i] = r[0];
        u[4 * i + 1] = (r[0] + r[1] + r[2]) * (mt_real)0.5;
        u[4 * i + 2] = (r[0] - r[1] + r[2]) * (mt_real)0.5;
        u[4 * i + 3] = r[2];
    }
}

/* F(4x4, 3x3): the 6 rows of G applied to (g0, g1, g2), written at stride `st`:
 *     G = [ 1/4     0     0  ]
 *         [-1/6  -1/6  -1/6 ]
 *         [-1/6   1/6  -1/6 ]
 *         [1/24  1/12   1/6 ]
 *         [1/24 -1/12   1/6 ]
 *         [  0     0     1  ] */
static inline void g_rows_f4(mt_real g0, mt_real g1, mt_real g2, mt_real *o, int st)
{
    const mt_real e = g0 + g2, f = g0 * (mt_real)0.25 + g2;
    o[0] = g0 * (mt_real)0.25;
    o[st] = -(e + g1) / 6;
    o[2 * st] = -(e - g1) / 6;
    o[3 * st] = (f + g1 * (mt_real)0.5) / 6;
    o[4 * st] = (f - g1 * (mt_real)0.5) / 6;
    o[5 * st] = g2;
}

/* F(4x4, 3x3): u = G g G^T (g 3x3, u 6x6, row-major). */
static inline void weight_tile_f4(const mt_real *g, mt_real *u)
{
    mt_real t[18]; /* G g: 6 x 3 */
    for (int j = 0; j < 3; j++) g_rows_f4(g[j], g[3 + j], g[6 + j], t + j, 3);
    for (int i = 0; i < 6; i++) g_rows_f4(t[3 * i], t[3 * i + 1], t[3 * i + 2], u + 6 * i, 1);
}

/* Weight gradient, F(4x4, 3x3) transposed (winograd.h): dw = G^T [(A dy A^T) .* (B^T d B)] G
 * for a 4x4 tile dy of the output gradient and the 6x6 input tile d of the forward.
 * One pass of A (4 inputs a[0], a[in], .. a[3 in], 6 outputs at stride `out`):
 *     A = [1  0  0  0]
 *         [1  1  1  1]
 *         [1 -1  1 -1]
 *         [1  2  4  8]
 *         [1 -2  4 -8]
 *         [0  0  0  1] */
static inline void a6(const mt_real (*a)[WG_VEC], int in, mt_real (*o)[WG_VEC], int out)
{
#pragma omp simd
    for (int t = 0; t < WG_VEC; t++) {
        const mt_real a0 = a[0][t], a1 = a[in][t], a2 = a[2 * in][t], a3 = a[3 * in][t];
        const mt_real p = a0 + a2, q = a1 + a3, r = a0 + 4 * a2, u = 2 * a1 + 8 * a3;
        o[0][t] = a0;
        o[out][t] = p + q;
        o[2 * out][t] = p - q;
        o[3 * out][t] = r + u;
        o[4 * out][t] = r - u;
        o[5 * out][t] = a3;
    }
}

/* v = A dy A^T for 4x4 output-gradient tiles dy (row-major in dy[0..15]); v 6x6. */
static inline void dy_tiles_f4(const mt_real d[16][WG_VEC], mt_real v[WG_PMAX][WG_VEC])
{
    mt_real s[24][WG_VEC];
    for (int j = 0; j < 4; j++) a6(d + j, 4, s + j, 4); /* columns: s = A dy, 6 x 4 */
    for (int i = 0; i < 6; i++) a6(s + 4 * i, 1, v + 6 * i, 1); /* rows: v = s A^T, 6 x 6 */
}

/* The 3 rows of G^T applied to 6 values at stride `in`. */
static inline void gt_rows_f4(const mt_real *a, int in, mt_real *o, int out)
{
    const mt_real p = a[in] + a[2 * in], q = a[3 * in] + a[4 * in];
    o[0] = a[0] * (mt_real)0.25 - p / 6 + q / 24;
    o[out] = (a[2 * in] - a[in]) / 6 + (a[3 * in] - a[4 * in]) / 12;
    o[2 * out] = (q - p) / 6 + a[5 * in];
}

/* g = G^T m G (m 6x6, g 3x3, row-major). */
static inline void dw_tile_f4(const mt_real *m, mt_real *g)
{
    mt_real t[18]; /* G^T m: 3 x 6 */
    for (int j = 0; j < 6; j++) gt_rows_f4(m + j, 6, t + j, 6);
    for (int i = 0; i < 3; i++) gt_rows_f4(t + 6 * i, 1, g + 3 * i, 1);
}

/* U[k, co, ci] = (G g G^T)_k of kernel g = w[co, ci] (forward: w is [Co, Ci, 3, 3]) or
 * of rot180(w[ci, co]) (backward data: w is [Ci, Co, 3, 3]). Work-shared over co. */
static void transform_weights(const wg_conv *cv, const mt_real *w, int backward, mt_real *U)
{
    const int Co = cv->Co, Ci = cv->Ci;
    const size_t plane = plane_stride((size_t)Co * Ci);
#pragma omp for schedule(static)
    for (int co = 0; co < Co; co++) {
        for (int ci = 0; ci < Ci; ci++) {
            mt_real g[9], u[WG_PMAX];
            if (backward) {
                const mt_real *s = w + ((size_t)ci * Co + co) * 9;
                for (int k = 0; k < 9; k++) g[k] = s[8 - k];
            } else {
                memcpy(g, w + ((size_t)co * Ci + ci) * 9, sizeof g);
            }
            if (cv->m == 4) weight_tile_f4(g, u);
            else weight_tile_f2(g, u);
            mt_real *dst = U + (size_t)co * Ci + ci;
            for (int k = 0; k < cv->P; k++) dst[k * plane] = u[k];
        }
    }
}

/* Tile p's coordinates: image n, tile row th, tile column tw. */
static void tile_coords(const wg_conv *cv, size_t p, int *n, int *th, int *tw)
{
    const size_t per_image = (size_t)cv->TH * cv->TW;
    *n = (int)(p / per_image);
    const size_t r = p % per_image;
    *th = (int)(r / (size_t)cv->TW);
    *tw = (int)(r % (size_t)cv->TW);
}

static inline void next_tile(const wg_conv *cv, int *n, int *th, int *tw)
{
    if (++*tw == cv->TW) {
        *tw = 0;
        if (++*th == cv->TH) *th = 0, ++*n;
    }
}

/* Tiles in the run starting at tile column tw of a row, within [p, p1): at most WG_VEC. */
static int run_length(const wg_conv *cv, int tw, size_t p, size_t p1)
{
    size_t r = (size_t)(cv->TW - tw);
    if (r > p1 - p) r = p1 - p;
    return r < WG_VEC ? (int)r : WG_VEC;
}

/* d[i*alpha + j][t] = input pixel (ih0 + i, iw0 + m*t + j) of img, zero outside, t < cnt
 * (t >= cnt: zero). Each input row of the run is first copied into a zero-padded local
 * buffer, so that edge runs (the first and last of every tile row) are as fast as inner ones. */
MT_WG_INLINE void gather_tiles(const wg_conv *cv, const mt_real *img, int ih0, int iw0, int cnt,
                                mt_real d[WG_PMAX][WG_VEC], const int m)
{
    const int H = cv->H, W = cv->W, a = m + 2;
    const int used = m * (cnt - 1) + a;                 /* buffer columns the run reads */
    const int lo = iw0 < 0 ? -iw0 : 0;                  /* first buffer column inside the image */
    const int hi = W - iw0 < used ? W - iw0 : used;     /* one past the last */
    for (int i = 0; i < a; i++) {
        const int ih = ih0 + i;
        mt_real buf[4 * WG_VEC + 2] = {0};
        if (ih >= 0 && ih < H && hi > lo) memcpy(buf + lo, img + (ptrdiff_t)ih * W + iw0 + lo, sizeof(mt_real) * (hi - lo));
        mt_real(*dst)[WG_VEC] = d + a * i;
        for (int t = 0; t < WG_VEC; t++)
            for (int j = 0; j < a; j++) dst[j][t] = t < cnt ? buf[m * t + j] : 0;
    }
}

/* V[k, c, p - p0] = (B^T d B)_k of input tile p of channel c, tiles [p0, p1), in runs
 * of up to WG_VEC tiles of one tile row (vectorised across the run). Work-shared over c.
 * m (the output tile, 2 or 4) is a constant in each caller, so the loops unroll. */
MT_WG_INLINE void transform_input_m(const wg_conv *cv, size_t p0, size_t p1, mt_real *V, const int m)
{
    const size_t nb = p1 - p0, plane = plane_stride((size_t)cv->Ci * nb);
    const int P = (m + 2) * (m + 2);
#pragma omp for schedule(static)
    for (int c = 0; c < cv->Ci; c++) {
        int n, th, tw;
        tile_coords(cv, p0, &n, &th, &tw);
        mt_real *dst = V + (size_t)c * nb;
        for (size_t p = p0; p < p1;) {
            const int cnt = run_length(cv, tw, p, p1);
            mt_real d[WG_PMAX][WG_VEC], v[WG_PMAX][WG_VEC];
            gather_tiles(cv, cv->x + ((size_t)n * cv->Ci + c) * cv->H * cv->W, m * th - cv->pad_top,
                         m * tw - cv->pad_left, cnt, d, m);
            if (m == 4) input_tiles_f4(d, v);
            else input_tiles_f2(d, v);
            mt_real *out = dst + (p - p0);
            if (cnt == WG_VEC) {
                for (int k = 0; k < P; k++)
                    for (int t = 0; t < WG_VEC; t++) out[k * plane + t] = v[k][t];
            } else {
                for (int k = 0; k < P; k++)
                    for (int t = 0; t < cnt; t++) out[k * plane + t] = v[k][t];
            }
            p += cnt;
            for (int t = 0; t < cnt; t++) next_tile(cv, &n, &th, &tw);
        }
    }
}

static void transform_input(const wg_conv *cv, size_t p0, size_t p1, mt_real *V)
{
    if (cv->m == 4) transform_input_m(cv, p0, p1, V, 4);
    else transform_input_m(cv, p0, p1, V, 2);
}

/* M_k = U_k @ V_k for position k of a block of nb tiles. */
static void gemm_position(const wg_conv *cv, int k, size_t nb, const mt_real *U, const mt_real *V, mt_real *M)
{
    const int Co = cv->Co, Ci = cv->Ci;
    mt_gemm(0, 0, Co, (int)nb, Ci, 1, U + k * plane_stride((size_t)Co * Ci), Ci, V + k * plane_stride((size_t)Ci * nb),
            (int)nb, 0, M + k * plane_stride((size_t)Co * nb), (int)nb);
}

/* y tiles [p0, p1) = A^T M A (+ bias; += when accumulating), clipped to OH x OW, in runs
 * of up to WG_VEC tiles of one tile row. Work-shared over co. m as transform_input_m. */
MT_WG_INLINE void transform_output_m(const wg_conv *cv, size_t p0, size_t p1, const mt_real *M, const int m)
{
    const size_t nb = p1 - p0, plane = plane_stride((size_t)cv->Co * nb);
    const int OH = cv->OH, OW = cv->OW, P = (m + 2) * (m + 2);
#pragma omp for schedule(static)
    for (int co = 0; co < cv->Co; co++) {
        const mt_real bias = cv->b ? cv->b[co] : 0;
        const mt_real *src = M + (size_t)co * nb;
        int n, th, tw;
        tile_coords(cv, p0, &n, &th, &tw);
        for (size_t p = p0; p < p1;) {
            const int cnt = run_length(cv, tw, p, p1);
            mt_real mm[WG_PMAX][WG_VEC], r[16][WG_VEC];
            const mt_real *in = src + (p - p0);
            if (cnt == WG_VEC) {
                for (int k = 0; k < P; k++)
                    for (int t = 0; t < WG_VEC; t++) mm[k][t] = in[k * plane + t];
            } else {
                for (int k = 0; k < P; k++)
                    for (int t = 0; t < WG_VEC; t++) mm[k][t] = t < cnt ? in[k * plane + t] : 0;
            }
            if (m == 4) output_tiles_f4(mm, bias, r);
            else output_tiles_f2(mm, bias, r);
            mt_real *yo = cv->y + ((size_t)n * cv->Co + co) * OH * OW;
            const int oh = m * th, ow = m * tw;
            const int rows = oh + m <= OH ? m : OH - oh;
            for (int i = 0; i < rows; i++) {
                mt_real *row = yo + (size_t)(oh + i) * OW + ow;
                const mt_real(*ri)[WG_VEC] = r + m * i;
                if (ow + m * cnt <= OW) { /* whole tiles */
                    if (cv->accumulate) {
                        for (int t = 0; t < cnt; t++)
                            for (int j = 0; j < m; j++) row[m * t + j] += ri[j][t];
                    } else {
                        for (int t = 0; t < cnt; t++)
                            for (int j = 0; j < m; j++) row[m * t + j] = ri[j][t];
                    }
                } else { /* the run ends at the right edge, inside its last tile */
                    const int cols = OW - ow;
                    for (int j = 0; j < cols; j++) row[j] = (cv->accumulate ? row[j] : 0) + ri[j % m][j / m];
                }
            }
            p += cnt;
            for (int t = 0; t < cnt; t++) next_tile(cv, &n, &th, &tw);
        }
    }
}

static void transform_output(const wg_conv *cv, size_t p0, size_t p1, const mt_real *M)
{
    if (cv->m == 4) transform_output_m(cv, p0, p1, M, 4);
    else transform_output_m(cv, p0, p1, M, 2);
}

/* Tiles per block: about 1 MiB of V and M (measured faster than 4 MiB on the 64-128 channel layers), but at least Co*Ci / (Co + Ci) so that
 * re-reading U for every block costs no more than the block's own tiles; 32 .. all. */
static size_t block_tiles(const wg_conv *cv)
{
    size_t pb = g_block_tiles;
    if (!pb) {
        const size_t per_tile = sizeof(mt_real) * cv->P * ((size_t)cv->Ci + cv->Co);
        const size_t min_u = (size_t)cv->Co * cv->Ci / ((size_t)cv->Co + cv->Ci);
        pb = ((size_t)1 << 20) / per_tile;
        if (pb < min_u) pb = min_u;
        if (pb < 32) pb = 32;
    }
    return pb < cv->tiles ? pb : cv->tiles;
}

/* Output tile m x m (2 or 4): m, alpha, P and the tile counts of cv. */
static void wg_set_tiles(wg_conv *cv, int m)
{
    cv->m = m;
    cv->alpha = m + 2;
    cv->P = cv->alpha * cv->alpha;
    cv->TH = (cv->OH + m - 1) / m;
    cv->TW = (cv->OW + m - 1) / m;
    cv->tiles = (size_t)cv->N * cv->TH * cv->TW;
}

/* Scratch of one call, from the caching allocator: W [P, Co, Ci] (transformed weights, or the
 * weight-gradient accumulators), V [P, Ci, pb] (input-side tiles of a block), O [P, Co, pb]
 * (output-side tiles of a block), each plane padded by plane_stride. */
typedef struct wg_scratch {
    void *base;
    size_t bytes;
    mt_real *W, *V, *O;
} wg_scratch;

static mt_status wg_scratch_alloc(const wg_conv *cv, size_t pb, wg_scratch *sc)
{
    const size_t P = (size_t)cv->P;
    const size_t w_elems = P * plane_stride((size_t)cv->Co * cv->Ci), v_elems = P * plane_stride((size_t)cv->Ci * pb);
    sc->bytes = sizeof(mt_real) * (w_elems + v_elems + P * plane_stride((size_t)cv->Co * pb));
    sc->base = NULL;
    MT_TRY(mt_alloc(mt_cpu(), sc->bytes, &sc->base));
    sc->W = sc->base;
    sc->V = sc->W + w_elems;
    sc->O = sc->V + v_elems;
    return MT_OK;
}

/* Runs the conv cv with weights w (see transform_weights for `backward`) and output
 * tiles m x m (2 or 4). */
static mt_status wg_run(wg_conv *cv, const mt_real *w, int backward, int m)
{
    wg_set_tiles(cv, m);
    if (!cv->tiles || !cv->Co) return MT_OK;
    const int P = cv->P;
    const size_t pb = block_tiles(cv);
    wg_scratch sc;
    MT_TRY(wg_scratch_alloc(cv, pb, &sc));
    mt_real *U = sc.W, *V = sc.V, *M = sc.O;
    int T = mt_get_num_threads();
    if (T < 1) T = 1;
    /* default: the threads split the P GEMMs, at batch 1 too (faster there as well) */
    const int blas_threaded = g_gemm_threads > 0;
    if (blas_threaded) { /* the P GEMMs one after the other, each on all threads */
        mt_blas_hold(T);
#pragma omp parallel num_threads(T) if (T > 1)
        transform_weights(cv, w, backward, U);
        for (size_t p0 = 0; p0 < cv->tiles; p0 += pb) {
            const size_t p1 = p0 + pb < cv->tiles ? p0 + pb : cv->tiles;
#pragma omp parallel num_threads(T) if (T > 1)
            transform_input(cv, p0, p1, V);
            for (int k = 0; k < P; k++) gemm_position(cv, k, p1 - p0, U, V, M);
#pragma omp parallel num_threads(T) if (T > 1)
            transform_output(cv, p0, p1, M);
        }
        mt_blas_release();
    } else { /* threads split the P GEMMs, each single-threaded */
        mt_blas_hold(1);
#pragma omp parallel num_threads(T) if (T > 1)
        {
            transform_weights(cv, w, backward, U);
            for (size_t p0 = 0; p0 < cv->tiles; p0 += pb) {
                const size_t p1 = p0 + pb < cv->tiles ? p0 + pb : cv->tiles;
                transform_input(cv, p0, p1, V);
#pragma omp for schedule(static)
                for (int k = 0; k < P; k++) gemm_position(cv, k, p1 - p0, U, V, M);
                transform_output(cv, p0, p1, M);
            }
        }
        mt_blas_release();
    }
    mt_free(mt_cpu(), sc.base, sc.bytes);
    return MT_OK;
}

/* Weight gradient. Y[k, co, p - p0] = (A dy A^T)_k of the 4x4 tile p of dy channel co
 * (zero beyond OH x OW), tiles [p0, p1), in runs of up to WG_VEC tiles of one tile row.
 * Work-shared over co. */
static void transform_dy(const wg_conv *cv, size_t p0, size_t p1, mt_real *Y)
{
    const size_t nb = p1 - p0, plane = plane_stride((size_t)cv->Co * nb);
    const int OH = cv->OH, OW = cv->OW;
#pragma omp for schedule(static)
    for (int co = 0; co < cv->Co; co++) {
        int n, th, tw;
        tile_coords(cv, p0, &n, &th, &tw);
        mt_real *dst = Y + (size_t)co * nb;
        for (size_t p = p0; p < p1;) {
            const int cnt = run_length(cv, tw, p, p1);
            const mt_real *img = cv->dy + ((size_t)n * cv->Co + co) * OH * OW;
            mt_real d[16][WG_VEC], v[WG_PMAX][WG_VEC];
            memset(d, 0, sizeof d);
            const int oh = 4 * th, ow = 4 * tw;
            const int rows = oh + 4 <= OH ? 4 : OH - oh, cols = ow + 4 * cnt <= OW ? 4 * cnt : OW - ow;
            for (int i = 0; i < rows; i++) {
                const mt_real *row = img + (size_t)(oh + i) * OW + ow;
                for (int j = 0; j < cols; j++) d[4 * i + (j & 3)][j >> 2] = row[j];
            }
            dy_tiles_f4(d, v);
            mt_real *out = dst + (p - p0);
            for (int k = 0; k < WG_PMAX; k++)
                for (int t = 0; t < cnt; t++) out[k * plane + t] = v[k][t];
            p += cnt;
            for (int t = 0; t < cnt; t++) next_tile(cv, &n, &th, &tw);
        }
    }
}

/* dw[co, ci] += G^T Mw[:, co, ci] G for every kernel. Work-shared over co. */
static void transform_dw(const wg_conv *cv, const mt_real *Mw, mt_real *dw)
{
    const int Co = cv->Co, Ci = cv->Ci;
    const size_t plane = plane_stride((size_t)Co * Ci);
#pragma omp for schedule(static)
    for (int co = 0; co < Co; co++) {
        for (int ci = 0; ci < Ci; ci++) {
            mt_real m[WG_PMAX], g[9];
            const mt_real *src = Mw + (size_t)co * Ci + ci;
            for (int k = 0; k < WG_PMAX; k++) m[k] = src[k * plane];
            dw_tile_f4(m, g);
            mt_real *dst = dw + ((size_t)co * Ci + ci) * 9;
            for (int k = 0; k < 9; k++) dst[k] += g[k];
        }
    }
}

/* The weight gradient of the forward conv cv (x, dy), F(4x4, 3x3) tiles: per block of
 * tiles, V = B^T d B of x and Y = A dy A^T, then Mw_k += Y_k V_k^T (36 GEMMs with the
 * block's tiles as K, threads splitting the positions); finally dw += G^T Mw G. */
static mt_status wg_run_dw(wg_conv *cv, mt_real *dw)
{
    wg_set_tiles(cv, 4);
    if (!cv->tiles || !cv->Co || !cv->Ci) return MT_OK;
    size_t pb = block_tiles(cv);
    if (!g_block_tiles && pb < 256) pb = 256 < cv->tiles ? 256 : cv->tiles; /* K of the GEMMs */
    wg_scratch sc;
    MT_TRY(wg_scratch_alloc(cv, pb, &sc));
    mt_real *Mw = sc.W, *V = sc.V, *Y = sc.O;
    int T = mt_get_num_threads();
    if (T < 1) T = 1;
    const int Co = cv->Co, Ci = cv->Ci;
    mt_blas_hold(1);
#pragma omp parallel num_threads(T) if (T > 1)
    {
        for (size_t p0 = 0; p0 < cv->tiles; p0 += pb) {
            const size_t p1 = p0 + pb < cv->tiles ? p0 + pb : cv->tiles, nb = p1 - p0;
            transform_input(cv, p0, p1, V);
            transform_dy(cv, p0, p1, Y);
#pragma omp for schedule(static)
            for (int k = 0; k < WG_PMAX; k++)
                mt_gemm(0, 1, Co, Ci, (int)nb, 1, Y + k * plane_stride((size_t)Co * nb), (int)nb,
                        V + k * plane_stride((size_t)Ci * nb), (int)nb, p0 ? 1 : 0,
                        Mw + k * plane_stride((size_t)Co * Ci), Ci);
        }
        transform_dw(cv, Mw, dw);
    }
    mt_blas_release();
    mt_free(mt_cpu(), sc.base, sc.bytes);
    return MT_OK;
}

mt_status mt_winograd_conv2d_forward(const mt_conv_geom *g, int N, int O, const mt_real *x, const mt_real *w,
                                     const mt_real *b, mt_real *y)
{
    MT_REQUIRE(mt_winograd_supported(g, 1), "winograd conv2d: needs a 3x3 kernel, stride 1, dilation 1, got %dx%d",
               g->KH, g->KW);
    wg_conv cv = {.x = x, .N = N, .Ci = g->C, .H = g->H, .W = g->W, .y = y, .Co = O, .OH = g->OH, .OW = g->OW,
                  .pad_top = g->pad_top, .pad_left = g->pad_left, .b = b, .accumulate = 0};
    return wg_run(&cv, w, 0, mt_winograd_tile(g, O, 0));
}

mt_status mt_winograd_conv2d_backward_data(const mt_conv_geom *g, int N, int O, const mt_real *w,
                                           const mt_real *dy, mt_real *dx)
{
    MT_REQUIRE(mt_winograd_supported(g, 1), "winograd conv2d: needs a 3x3 kernel, stride 1, dilation 1, got %dx%d",
               g->KH, g->KW);
    wg_conv cv = {.x = dy, .N = N, .Ci = O, .H = g->OH, .W = g->OW, .y = dx, .Co = g->C, .OH = g->H, .OW = g->W,
                  .pad_top = 2 - g->pad_top, .pad_left = 2 - g->pad_left, .b = NULL, .accumulate = 1};
    return wg_run(&cv, w, 1, mt_winograd_tile(g, O, 1));
}

mt_status mt_winograd_conv2d_backward_weight(const mt_conv_geom *g, int N, int O, const mt_real *x,
                                             const mt_real *dy, mt_real *dw)
{
    MT_REQUIRE(mt_winograd_supported(g, 1), "winograd conv2d: needs a 3x3 kernel, stride 1, dilation 1, got %dx%d",
               g->KH, g->KW);
    wg_conv cv = {.x = x, .N = N, .Ci = g->C, .H = g->H, .W = g->W, .Co = O, .OH = g->OH, .OW = g->OW,
                  .pad_top = g->pad_top, .pad_left = g->pad_left, .dy = dy};
    return wg_run_dw(&cv, dw);
}
