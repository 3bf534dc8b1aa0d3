/* core/ops/winograd.c: Winograd F(2x2, 3x3) convolution on the CPU
 * (winograd.h), after Lavin & Gray 2016, "Fast Algorithms for Convolutional
 * Neural Networks", section 4.1.
 *
 * A 3x3 stride-1 cross-correlation computes each 2x2 output tile Y from a 4x4
 * input tile d (rows 2*th - pad_top .. +3, columns 2*tw - pad_left .. +3, zero
 * outside the image) and the 3x3 kernel g as
 *     Y = A^T [ (G g G^T) .* (B^T d B) ] A
 * with
 *     B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
 *           [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
 *           [0 -1  1  0]         [1/2 -1/2  1/2]
 *           [0  1  0 -1]         [ 0    0    1 ]
 * Summed over input channels, the element-wise products of the 16 positions k
 * of the transformed 4x4 tiles are 16 independent matrix products:
 *     M_k[O, P] = U_k[O, C] @ V_k[C, P],   U_k = (G g G^T)_k,  V_k = (B^T d B)_k
 * over the P tiles of all images of the batch. 16 multiplies per tile and
 * channel pair instead of 36 (2.25x fewer); the transforms are additions.
 *
 * Schedule: the weights are transformed once per call into U [16, O, C]. The
 * tiles (all images, row-major within an image) are processed in blocks of Pb
 * so that a block's V [16, C, Pb] and M [16, O, Pb] stay in cache; per block,
 * inside one OpenMP region: input transform (threads split the channels; runs
 * of 8 tiles of a tile row transformed together so the loops vectorise),
 * then the 16 GEMMs (threads split the positions, each calling a
 * single-threaded OpenBLAS GEMM, as conv2d.c does with images), then the output
 * transform (threads split the output channels), which adds the bias and
 * writes the 2x2 tiles, clipped at the bottom / right edge for odd sizes.
 * For a batch of one image the 16 GEMMs instead run one after the other on all
 * OpenBLAS threads, the thread count conv2d.c's im2col path sets for one image
 * (OpenBLAS's thread count is global: keeping it a function of the batch keeps
 * concurrent forward passes bit-identical, tests/test_graph_format.c).
 * Scratch comes from the caching allocator (no malloc after the first step).
 *
 * Backward data is the same forward with the kernels rotated by 180 degrees and
 * the channel axes swapped, padding 2 - pad (negative padding just offsets the
 * tiles), accumulating into dx. Accuracy: the transforms only add and halve;
 * fp32 results are within 1e-6 of the largest magnitude of im2col's
 * (tests/test_winograd.c). The weight gradient stays on im2col + GEMM (conv2d.c).
 */
#include "winograd.h"
#include "dnnl.h"

#include "../device.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define WG_POS 16 /* positions of a transformed 4x4 tile */
#define WG_VEC 8  /* tiles of one tile row transformed together (8 floats: two SSE vectors) */
/* Stride between the 16 position planes of U, V and M: the plane size plus a pad,
 * so that the 16 streams of a transform do not fall on the same cache sets when the
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

int mt_winograd_profitable(const mt_conv_geom *g, int O, int backward_data)
{
    if (backward_data) return 0; /* no shape measured faster than im2col yet */
    return g->C >= 512 && O >= 512 && g->OH >= 16 && g->OW >= 16;
}

int mt_winograd_applies(const mt_conv_geom *g, int groups, int O, const char *impl, int backward_data)
{
    if (!mt_winograd_supported(g, groups)) return 0;
    if (!strcmp(impl, "winograd")) return 1;
    return !strcmp(impl, "auto") && mt_winograd_profitable(g, O, backward_data);
}

static int g_block_tiles = 0;
static int g_gemm_threads = -1;

void mt_winograd_set_gemm_threads(int mode)
{
    g_gemm_threads = mode < 0 ? -1 : mode > 0;
}

void mt_winograd_set_block_tiles(int tiles)
{
    g_block_tiles = tiles > 0 ? tiles : 0;
}

/* One Winograd conv: x [N, Ci, H, W] -> y [N, Co, OH, OW]. */
typedef struct wg_conv {
    const mt_real *x;
    int N, Ci, H, W;
    mt_real *y;
    int Co, OH, OW;
    int pad_top, pad_left; /* tile origin offset; negative crops */
    const mt_real *b;      /* bias [Co] or NULL */
    int accumulate;        /* y += result (else y = result) */
    int TH, TW;            /* tiles per image: ceil(OH / 2) x ceil(OW / 2) */
    size_t tiles;          /* N * TH * TW */
} wg_conv;

/* v[k][t] = (B^T d_t B)_k for WG_VEC 4x4 tiles d_t at once (the loops over t vectorise). */
static inline void input_tiles(const mt_real d[WG_POS][WG_VEC], mt_real v[WG_POS][WG_VEC])
{
    mt_real s[WG_POS][WG_VEC];
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

/* y[k][t] = (A^T m_t A)_k + bias (k < 4: the 2x2 output, row-major) for WG_VEC tiles at once. */
static inline void output_tiles(const mt_real m[WG_POS][WG_VEC], mt_real bias, mt_real y[4][WG_VEC])
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

/* u = G g G^T (g 3x3, u 4x4, row-major). */
static inline void weight_tile(const mt_real *g, mt_real *u)
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

/* U[k, co, ci] = (G g G^T)_k of kernel g = w[co, ci] (forward: w is [Co, Ci, 3, 3]) or
 * of rot180(w[ci, co]) (backward data: w is [Ci, Co, 3, 3]). Work-shared over co. */
static void transform_weights(const mt_real *w, int Co, int Ci, int backward, mt_real *U)
{
    const size_t plane = plane_stride((size_t)Co * Ci);
#pragma omp for schedule(static)
    for (int co = 0; co < Co; co++) {
        for (int ci = 0; ci < Ci; ci++) {
            mt_real g[9], u[WG_POS];
            if (backward) {
                const mt_real *s = w + ((size_t)ci * Co + co) * 9;
                for (int k = 0; k < 9; k++) g[k] = s[8 - k];
            } else {
                memcpy(g, w + ((size_t)co * Ci + ci) * 9, sizeof g);
            }
            weight_tile(g, u);
            mt_real *dst = U + (size_t)co * Ci + ci;
            for (int k = 0; k < WG_POS; k++) dst[k * plane] = u[k];
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

/* d[i*4 + j][t] = input pixel (ih0 + i, iw0 + 2t + j) of img, zero outside, t < cnt. */
static void gather_tiles(const mt_real *img, int H, int W, int ih0, int iw0, int cnt, mt_real d[WG_POS][WG_VEC])
{
    if (cnt < WG_VEC)
        for (int k = 0; k < WG_POS; k++)
            for (int t = cnt; t < WG_VEC; t++) d[k][t] = 0;
    const int inside = ih0 >= 0 && ih0 + 4 <= H && iw0 >= 0 && iw0 + 2 * (cnt - 1) + 4 <= W;
    for (int i = 0; i < 4; i++) {
        const int ih = ih0 + i;
        const mt_real *row = img + (ptrdiff_t)ih * W + iw0;
        for (int j = 0; j < 4; j++) {
            mt_real *dst = d[4 * i + j];
            if (inside) {
                for (int t = 0; t < cnt; t++) dst[t] = row[2 * t + j];
            } else { /* an edge run: zero outside the image */
                for (int t = 0; t < cnt; t++) {
                    const int iw = iw0 + 2 * t + j;
                    dst[t] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? row[2 * t + j] : 0;
                }
            }
        }
    }
}

/* V[k, c, p - p0] = (B^T d B)_k of input tile p of channel c, tiles [p0, p1), in runs
 * of up to WG_VEC tiles of one tile row (vectorised across the run). Work-shared over c. */
static void transform_input(const wg_conv *cv, size_t p0, size_t p1, mt_real *V)
{
    const size_t nb = p1 - p0, plane = plane_stride((size_t)cv->Ci * nb);
    const int H = cv->H, W = cv->W;
#pragma omp for schedule(static)
    for (int c = 0; c < cv->Ci; c++) {
        int n, th, tw;
        tile_coords(cv, p0, &n, &th, &tw);
        mt_real *dst = V + (size_t)c * nb;
        for (size_t p = p0; p < p1;) {
            const int cnt = run_length(cv, tw, p, p1);
            mt_real d[WG_POS][WG_VEC], v[WG_POS][WG_VEC];
            gather_tiles(cv->x + ((size_t)n * cv->Ci + c) * H * W, H, W, 2 * th - cv->pad_top, 2 * tw - cv->pad_left,
                         cnt, d);
            input_tiles(d, v);
            mt_real *out = dst + (p - p0);
            for (int k = 0; k < WG_POS; k++)
                for (int t = 0; t < cnt; t++) out[k * plane + t] = v[k][t];
            p += cnt;
            for (int t = 0; t < cnt; t++) next_tile(cv, &n, &th, &tw);
        }
    }
}

/* M_k = U_k @ V_k for position k of a block of nb tiles. */
static void gemm_position(const wg_conv *cv, int k, size_t nb, const mt_real *U, const mt_real *V, mt_real *M)
{
    const int Co = cv->Co, Ci = cv->Ci;
    mt_gemm(0, 0, Co, (int)nb, Ci, 1, U + k * plane_stride((size_t)Co * Ci), Ci, V + k * plane_stride((size_t)Ci * nb),
            (int)nb, 0, M + k * plane_stride((size_t)Co * nb), (int)nb);
}

/* y tiles [p0, p1) = A^T M A (+ bias; += when accumulating), clipped to OH x OW, in runs
 * of up to WG_VEC tiles of one tile row. Work-shared over co. */
static void transform_output(const wg_conv *cv, size_t p0, size_t p1, const mt_real *M)
{
    const size_t nb = p1 - p0, plane = plane_stride((size_t)cv->Co * nb);
    const int OH = cv->OH, OW = cv->OW;
#pragma omp for schedule(static)
    for (int co = 0; co < cv->Co; co++) {
        const mt_real bias = cv->b ? cv->b[co] : 0;
        const mt_real *src = M + (size_t)co * nb;
        int n, th, tw;
        tile_coords(cv, p0, &n, &th, &tw);
        for (size_t p = p0; p < p1;) {
            const int cnt = run_length(cv, tw, p, p1);
            mt_real m[WG_POS][WG_VEC], r[4][WG_VEC];
            const mt_real *in = src + (p - p0);
            for (int k = 0; k < WG_POS; k++)
                for (int t = 0; t < WG_VEC; t++) m[k][t] = t < cnt ? in[k * plane + t] : 0;
            output_tiles(m, bias, r);
            mt_real *yo = cv->y + ((size_t)n * cv->Co + co) * OH * OW;
            const int oh = 2 * th, ow = 2 * tw;
            const int rows = oh + 2 <= OH ? 2 : 1, cols = ow + 2 * cnt <= OW ? 2 * cnt : OW - ow;
            for (int i = 0; i < rows; i++) {
                mt_real *row = yo + (size_t)(oh + i) * OW + ow;
                if (cv->accumulate) {
                    for (int j = 0; j < cols; j++) row[j] += r[2 * i + (j & 1)][j >> 1];
                } else {
                    for (int j = 0; j < cols; j++) row[j] = r[2 * i + (j & 1)][j >> 1];
                }
            }
            p += cnt;
            for (int t = 0; t < cnt; t++) next_tile(cv, &n, &th, &tw);
        }
    }
}

/* Tiles per block: about 4 MiB of V and M, but at least Co*Ci / (Co + Ci) so that
 * re-reading U for every block costs no more than the block's own tiles; 32 .. all. */
static size_t block_tiles(const wg_conv *cv)
{
    size_t pb = g_block_tiles;
    if (!pb) {
        const size_t per_tile = sizeof(mt_real) * WG_POS * ((size_t)cv->Ci + cv->Co);
        const size_t min_u = (size_t)cv->Co * cv->Ci / ((size_t)cv->Co + cv->Ci);
        pb = ((size_t)4 << 20) / per_tile;
        if (pb < min_u) pb = min_u;
        if (pb < 32) pb = 32;
    }
    return pb < cv->tiles ? pb : cv->tiles;
}

/* Runs the conv cv with weights w (see transform_weights for `backward`). */
static mt_status wg_run(wg_conv *cv, const mt_real *w, int backward)
{
    cv->TH = (cv->OH + 1) / 2;
    cv->TW = (cv->OW + 1) / 2;
    cv->tiles = (size_t)cv->N * cv->TH * cv->TW;
    if (!cv->tiles || !cv->Co) return MT_OK;
    const size_t pb = block_tiles(cv);
    const size_t u_elems = WG_POS * plane_stride((size_t)cv->Co * cv->Ci);
    const size_t v_elems = WG_POS * plane_stride((size_t)cv->Ci * pb);
    const size_t bytes = sizeof(mt_real) * (u_elems + v_elems + WG_POS * plane_stride((size_t)cv->Co * pb));
    void *scratch = NULL;
    MT_TRY(mt_alloc(mt_cpu(), bytes, &scratch));
    mt_real *U = scratch, *V = U + u_elems, *M = V + v_elems;
    int T = mt_get_num_threads();
    if (T < 1) T = 1;
    /* default: the threads split the 16 GEMMs, at batch 1 too (faster there as well) */
    const int blas_threaded = g_gemm_threads > 0;
    if (blas_threaded) { /* the 16 GEMMs one after the other, each on all threads */
        mt_blas_hold(T);
#pragma omp parallel num_threads(T) if (T > 1)
        transform_weights(w, cv->Co, cv->Ci, backward, U);
        for (size_t p0 = 0; p0 < cv->tiles; p0 += pb) {
            const size_t p1 = p0 + pb < cv->tiles ? p0 + pb : cv->tiles;
#pragma omp parallel num_threads(T) if (T > 1)
            transform_input(cv, p0, p1, V);
            for (int k = 0; k < WG_POS; k++) gemm_position(cv, k, p1 - p0, U, V, M);
#pragma omp parallel num_threads(T) if (T > 1)
            transform_output(cv, p0, p1, M);
        }
        mt_blas_release();
    } else { /* threads split the 16 GEMMs, each single-threaded */
        mt_blas_hold(1);
#pragma omp parallel num_threads(T) if (T > 1)
        {
            transform_weights(w, cv->Co, cv->Ci, backward, U);
            for (size_t p0 = 0; p0 < cv->tiles; p0 += pb) {
                const size_t p1 = p0 + pb < cv->tiles ? p0 + pb : cv->tiles;
                transform_input(cv, p0, p1, V);
#pragma omp for schedule(static)
                for (int k = 0; k < WG_POS; k++) gemm_position(cv, k, p1 - p0, U, V, M);
                transform_output(cv, p0, p1, M);
            }
        }
        mt_blas_release();
    }
    mt_free(mt_cpu(), scratch, bytes);
    return MT_OK;
}

mt_status mt_winograd_conv2d_forward(const mt_conv_geom *g, int N, int O, const mt_real *x, const mt_real *w,
                                     const mt_real *b, mt_real *y)
{
    MT_REQUIRE(mt_winograd_supported(g, 1), "winograd conv2d: needs a 3x3 kernel, stride 1, dilation 1, got %dx%d",
               g->KH, g->KW);
    wg_conv cv = {.x = x, .N = N, .Ci = g->C, .H = g->H, .W = g->W, .y = y, .Co = O, .OH = g->OH, .OW = g->OW,
                  .pad_top = g->pad_top, .pad_left = g->pad_left, .b = b, .accumulate = 0};
    return wg_run(&cv, w, 0);
}

mt_status mt_winograd_conv2d_backward_data(const mt_conv_geom *g, int N, int O, const mt_real *w,
                                           const mt_real *dy, mt_real *dx)
{
    MT_REQUIRE(mt_winograd_supported(g, 1), "winograd conv2d: needs a 3x3 kernel, stride 1, dilation 1, got %dx%d",
               g->KH, g->KW);
    wg_conv cv = {.x = dy, .N = N, .Ci = O, .H = g->OH, .W = g->OW, .y = dx, .Co = g->C, .OH = g->H, .OW = g->W,
                  .pad_top = 2 - g->pad_top, .pad_left = 2 - g->pad_left, .b = NULL, .accumulate = 1};
    return wg_run(&cv, w, 1);
}
