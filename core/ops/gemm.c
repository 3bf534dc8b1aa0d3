/* core/ops/gemm.c: GEMM, OpenBLAS thread control, im2col / col2im (gemm.h). */
#include "gemm.h"

#include "../device.h"

#include <cblas.h>
#include <pthread.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void mt_gemm(int trans_a, int trans_b, int M, int N, int K, mt_real alpha, const mt_real *A, int lda,
             const mt_real *B, int ldb, mt_real beta, mt_real *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* empty sum: C = beta * C */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0 ? 0 : beta * C[(size_t)i * ldc + j];
        return;
    }
#ifdef MT_REAL_DOUBLE
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

int mt_blas_threads(int n)
{
    int prev = openblas_get_num_threads();
    if (n < 1) n = 1;
    if (n != prev) openblas_set_num_threads(n);
    return prev;
}

/* Holders of an OpenBLAS thread count (mt_blas_hold): all active holders share one count. */
static pthread_mutex_t g_blas_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_blas_cv = PTHREAD_COND_INITIALIZER;
static int g_blas_active, g_blas_cur, g_blas_saved;

void mt_blas_hold(int n)
{
    if (n < 1) n = 1;
    pthread_mutex_lock(&g_blas_mu);
    while (g_blas_active > 0 && g_blas_cur != n) pthread_cond_wait(&g_blas_cv, &g_blas_mu);
    if (g_blas_active++ == 0) {
        g_blas_saved = mt_blas_threads(n);
        g_blas_cur = n;
    }
    pthread_mutex_unlock(&g_blas_mu);
}

void mt_blas_release(void)
{
    pthread_mutex_lock(&g_blas_mu);
    if (g_blas_active > 0 && --g_blas_active == 0) {
        mt_blas_threads(g_blas_saved);
        pthread_cond_broadcast(&g_blas_cv);
    }
    pthread_mutex_unlock(&g_blas_mu);
}

int mt_conv_geom_is_identity(const mt_conv_geom *g)
{
    return g->KH == 1 && g->KW == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_top == 0 &&
           g->pad_left == 0 && g->OH == g->H && g->OW == g->W;
}

/* Range [lo, hi) of output columns ow whose input column ow*stride - pad + k*dil lies in [0, W). */
static void valid_range(int OW, int W, int stride, int pad, int kofs, int *lo, int *hi)
{
    int off = pad - kofs; /* iw = ow*stride - off */
    int l = off <= 0 ? 0 : (off + stride - 1) / stride;
    int h = (W - 1 + off) < 0 ? 0 : (W - 1 + off) / stride + 1;
    if (l > OW) l = OW;
    if (h > OW) h = OW;
    if (h < l) h = l;
    *lo = l;
    *hi = h;
}

static size_t g_block_bytes = (size_t)1 << 20;

void mt_conv_set_block_bytes(size_t bytes)
{
    g_block_bytes = bytes ? bytes : ((size_t)1 << 20);
}

int mt_conv_block_rows(const mt_conv_geom *g)
{
    size_t K = (size_t)g->C * g->KH * g->KW;
    size_t cols = g_block_bytes / (sizeof(mt_real) * (K ? K : 1));
    if (cols < 256 && g_block_bytes >= ((size_t)1 << 16)) cols = 256; /* keep GEMM's N reasonable */
    size_t rows = (cols + (size_t)g->OW - 1) / (size_t)g->OW;
    if (rows < 1) rows = 1;
    if (rows > (size_t)g->OH) rows = (size_t)g->OH;
    return (int)rows;
}

int mt_conv_tile_rows(int units, int OH, int OW, int rows)
{
    const int want = 2 * mt_get_num_threads(); /* tiles wanted */
    if (units < 1) units = 1;
    if (rows < 1) rows = 1;
    if (OW < 1) OW = 1;
    if (units * ((OH + rows - 1) / rows) >= want) return rows;
    const int per_unit = (want + units - 1) / units; /* blocks per image and group */
    int r = (OH + per_unit - 1) / per_unit;
    const int min_rows = (256 + OW - 1) / OW; /* each tile's GEMM repacks the weights */
    if (r < min_rows) r = min_rows;
    return r < rows ? r : rows;
}

int mt_conv_dw_blocked(const mt_conv_geom *g, int Og)
{
    size_t K = (size_t)g->C * g->KH * g->KW;
    return (size_t)Og * K * sizeof(mt_real) <= g_block_bytes / 2;
}

void mt_im2col_rows(const mt_conv_geom *g, const mt_real *img, mt_real *col, int oh0, int oh1)
{
    const int OW = g->OW, H = g->H, W = g->W, sw = g->stride_w;
    const size_t plane = (size_t)(oh1 - oh0) * OW;
    for (int c = 0; c < g->C; c++) {
        const mt_real *src_c = img + (size_t)c * H * W;
        for (int kh = 0; kh < g->KH; kh++) {
            for (int kw = 0; kw < g->KW; kw++) {
                mt_real *row = col + ((size_t)(c * g->KH + kh) * g->KW + kw) * plane;
                int lo, hi;
                valid_range(OW, W, sw, g->pad_left, kw * g->dil_w, &lo, &hi);
                const int iw0 = lo * sw - g->pad_left + kw * g->dil_w;
                for (int oh = oh0; oh < oh1; oh++) {
                    mt_real *dst = row + (size_t)(oh - oh0) * OW;
                    int ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
                    if (ih < 0 || ih >= H || lo == hi) {
                        memset(dst, 0, sizeof(mt_real) * OW);
                        continue;
                    }
                    const mt_real *src = src_c + (size_t)ih * W + iw0;
                    if (lo) memset(dst, 0, sizeof(mt_real) * lo);
                    if (sw == 1) {
                        memcpy(dst + lo, src, sizeof(mt_real) * (hi - lo));
                    } else {
#pragma omp simd
                        for (int ow = lo; ow < hi; ow++) dst[ow] = src[(ow - lo) * sw];
                    }
                    if (hi < OW) memset(dst + hi, 0, sizeof(mt_real) * (OW - hi));
                }
            }
        }
    }
}

void mt_col2im_add_rows(const mt_conv_geom *g, const mt_real *col, mt_real *img, int oh0, int oh1)
{
    const int OW = g->OW, H = g->H, W = g->W, sw = g->stride_w;
    const size_t plane = (size_t)(oh1 - oh0) * OW;
    for (int c = 0; c < g->C; c++) {
        mt_real *dst_c = img + (size_t)c * H * W;
        for (int kh = 0; kh < g->KH; kh++) {
            for (int kw = 0; kw < g->KW; kw++) {
                const mt_real *row = col + ((size_t)(c * g->KH + kh) * g->KW + kw) * plane;
                int lo, hi;
                valid_range(OW, W, sw, g->pad_left, kw * g->dil_w, &lo, &hi);
                if (lo == hi) continue;
                const int iw0 = lo * sw - g->pad_left + kw * g->dil_w;
                for (int oh = oh0; oh < oh1; oh++) {
                    int ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
                    if (ih < 0 || ih >= H) continue;
                    const mt_real *src = row + (size_t)(oh - oh0) * OW + lo;
                    mt_real *dst = dst_c + (size_t)ih * W + iw0;
                    const int n = hi - lo;
                    if (sw == 1) {
#pragma omp simd
                        for (int i = 0; i < n; i++) dst[i] += src[i];
                    } else {
#pragma omp simd
                        for (int i = 0; i < n; i++) dst[i * sw] += src[i];
                    }
                }
            }
        }
    }
}

void mt_im2col(const mt_conv_geom *g, const mt_real *img, mt_real *col)
{
    mt_im2col_rows(g, img, col, 0, g->OH);
}

void mt_col2im_add(const mt_conv_geom *g, const mt_real *col, mt_real *img)
{
    mt_col2im_add_rows(g, col, img, 0, g->OH);
}

void mt_add_into(mt_real *dst, const mt_real *src, size_t n)
{
    ptrdiff_t count = (ptrdiff_t)n;
#pragma omp parallel for schedule(static) if (count > 65536)
    for (ptrdiff_t i = 0; i < count; i++) dst[i] += src[i];
}

void mt_fill_bias(mt_real *dst, const mt_real *bias, int channels, size_t plane)
{
    for (int c = 0; c < channels; c++) {
        mt_real v = bias ? bias[c] : 0;
        mt_real *d = dst + (size_t)c * plane;
#pragma omp simd
        for (size_t i = 0; i < plane; i++) d[i] = v;
    }
}

void mt_bias_grad(const mt_real *dy, mt_real *db, int N, int channels, size_t plane)
{
#pragma omp parallel for schedule(static) if ((size_t)N * channels * plane > 65536)
    for (int c = 0; c < channels; c++) {
        double acc = 0;
        for (int n = 0; n < N; n++) {
            const mt_real *d = dy + ((size_t)n * channels + c) * plane;
            mt_real s = 0;
#pragma omp simd reduction(+ : s)
            for (size_t i = 0; i < plane; i++) s += d[i];
            acc += s;
        }
        db[c] += (mt_real)acc;
    }
}

mt_status mt_conv_check_args(const char *op, const char *w_layout, const mt_tensor *x, const mt_tensor *w,
                             int stride_h, int stride_w, int dil_h, int dil_w, int groups, int pad_top,
                             int pad_bottom, int pad_left, int pad_right)
{
    char sx[64], sw[64];
    MT_REQUIRE((x->dtype == MT_REAL || x->dtype == MT_BF16 || x->dtype == MT_F16) && w->dtype == x->dtype,
               "%s: expected input and weight of one type, %s, bfloat16 or float16; got %s and %s", op,
               mt_dtype_name(MT_REAL), mt_dtype_name(x->dtype), mt_dtype_name(w->dtype));
    MT_REQUIRE(x->ndim == 4 && w->ndim == 4, "%s: x must be [N, C, H, W] and w %s; got x %s, w %s", op, w_layout,
               mt_shape_str(x, sx, sizeof sx), mt_shape_str(w, sw, sizeof sw));
    MT_REQUIRE(stride_h >= 1 && stride_w >= 1 && dil_h >= 1 && dil_w >= 1 && groups >= 1,
               "%s: stride (%d, %d), dilation (%d, %d) and groups %d must be >= 1", op, stride_h, stride_w, dil_h,
               dil_w, groups);
    MT_REQUIRE(pad_top >= 0 && pad_bottom >= 0 && pad_left >= 0 && pad_right >= 0,
               "%s: padding (%d, %d, %d, %d) must be >= 0", op, pad_top, pad_bottom, pad_left, pad_right);
    return MT_OK;
}

mt_status mt_conv_check_bias(const char *op, const mt_tensor *b, int O)
{
    char sb[64];
    if (b)
        MT_REQUIRE((b->dtype == MT_REAL || b->dtype == MT_BF16 || b->dtype == MT_F16) && b->ndim == 1 &&
                       b->shape[0] == O,
                   "%s: bias must be a floating [%d], got %s %s", op, O, mt_dtype_name(b->dtype),
                   mt_shape_str(b, sb, sizeof sb));
    return MT_OK;
}

int mt_conv_batch_threads(int N)
{
    int T = mt_get_num_threads();
    if (T > N) T = N;
    return T < 1 ? 1 : T;
}

int mt_conv_thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

mt_status mt_conv_pass_begin(mt_conv_pass *ps, int N, size_t col_elems, mt_real *dw, size_t w_elems)
{
    ps->T = mt_conv_batch_threads(N);
    ps->col_elems = col_elems;
    ps->w_elems = w_elems;
    ps->dw = dw;
    ps->bytes = sizeof(mt_real) * (col_elems * ps->T + (dw ? w_elems * (ps->T - 1) : 0));
    ps->scratch = NULL;
    if (ps->bytes) MT_TRY(mt_alloc(mt_cpu(), ps->bytes, &ps->scratch));
    mt_blas_hold(ps->T > 1 ? 1 : mt_get_num_threads());
    return MT_OK;
}

mt_real *mt_conv_pass_col(const mt_conv_pass *ps, int tid)
{
    return ps->col_elems ? (mt_real *)ps->scratch + ps->col_elems * tid : NULL;
}

/* private dw buffers follow the T column buffers */
static mt_real *pass_dw_priv(const mt_conv_pass *ps, int tid)
{
    return (mt_real *)ps->scratch + ps->col_elems * ps->T + ps->w_elems * (tid - 1);
}

mt_real *mt_conv_pass_dw(const mt_conv_pass *ps, int tid)
{
    if (!ps->dw) return NULL;
    if (tid == 0) return ps->dw;
    mt_real *d = pass_dw_priv(ps, tid);
    memset(d, 0, sizeof(mt_real) * ps->w_elems);
    return d;
}

void mt_conv_pass_end(mt_conv_pass *ps)
{
    mt_blas_release();
    if (ps->dw)
        for (int t = 1; t < ps->T; t++) mt_add_into(ps->dw, pass_dw_priv(ps, t), ps->w_elems);
    if (ps->scratch) mt_free(mt_cpu(), ps->scratch, ps->bytes);
    ps->scratch = NULL;
}
