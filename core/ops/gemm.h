/* core/ops/gemm.h: CPU building blocks of the convolution and linear ops:
 * a row-major GEMM on mt_real (OpenBLAS cblas_sgemm / cblas_dgemm), control of
 * OpenBLAS's own thread pool, im2col / col2im for 2-D convolution
 * (Caffe/PyTorch "unfold" / "fold" layout), and the argument checks, thread
 * split and scratch (mt_conv_pass) shared by conv2d.c and conv_transpose2d.c.
 *
 * Threading model of the conv ops: OpenMP splits a batch across threads and
 * each thread calls a single-threaded GEMM (mt_blas_threads(1) around the
 * parallel region), so OpenBLAS's pthread pool never competes with OpenMP.
 * When there are fewer images than threads (inference at batch 1), the
 * forward passes split each image in blocks of output rows instead (tiles of
 * image, group, row block; mt_conv_tile_rows), still one single-threaded GEMM
 * per tile, so that im2col / col2im run on all threads too; other passes with
 * too little work run serially and the GEMM itself uses all threads.
 */
#ifndef MT_OPS_GEMM_H
#define MT_OPS_GEMM_H

#include <stddef.h>

#include "../tensor.h"

/* C[M,N] = alpha * op(A) op(B) + beta * C, row-major, op = transpose when
 * trans_a / trans_b is nonzero (cblas_?gemm with CblasRowMajor). lda/ldb/ldc
 * are the row strides of A, B and C as stored. */
void mt_gemm(int trans_a, int trans_b, int M, int N, int K, mt_real alpha, const mt_real *A, int lda,
             const mt_real *B, int ldb, mt_real beta, mt_real *C, int ldc);

/* Sets the number of OpenBLAS threads (openblas_set_num_threads) and returns
 * the previous value, so callers can restore it. n < 1 is treated as 1. */
int mt_blas_threads(int n);
/* Runs the caller's GEMMs on n OpenBLAS threads until mt_blas_release, safely
 * against other threads of the process: OpenBLAS's thread count is global and
 * its results depend on it (and on how a product is split), so a caller waits
 * while others hold a different count; holders of the same count run together,
 * the last one restores the count found by the first. Every conv pass, the
 * Winograd convolution and linear hold a count while they call mt_gemm, so
 * concurrent forward passes give the same bits as sequential ones. No nesting
 * of holds in one thread with different counts (it would wait forever). */
void mt_blas_hold(int n);
void mt_blas_release(void);

/* Geometry of one 2-D convolution window sweep, in the direction
 * image [C, H, W] -> columns [C*KH*KW, OH*OW]:
 *   column (c, kh, kw), position (oh, ow) reads image pixel
 *   (c, oh*stride_h - pad_top + kh*dil_h, ow*stride_w - pad_left + kw*dil_w),
 *   zero when outside the image. */
typedef struct mt_conv_geom {
    int C, H, W;      /* image channels and size */
    int KH, KW;       /* kernel size */
    int OH, OW;       /* column spatial size (conv output size) */
    int stride_h, stride_w;
    int pad_top, pad_left;
    int dil_h, dil_w;
} mt_conv_geom;

/* im2col (torch.nn.functional.unfold): col [C*KH*KW, OH*OW] from img [C, H, W]. */
void mt_im2col(const mt_conv_geom *g, const mt_real *img, mt_real *col);
/* col2im (torch.nn.functional.fold), accumulating: img [C, H, W] += fold(col).
 * The exact adjoint of mt_im2col. */
void mt_col2im_add(const mt_conv_geom *g, const mt_real *col, mt_real *img);
/* Row-blocked forms: only output rows [oh0, oh1) of the columns, stored as
 * col [C*KH*KW, (oh1-oh0)*OW]. Blocking keeps a column block in cache while
 * its GEMM runs instead of streaming the whole column matrix through memory. */
void mt_im2col_rows(const mt_conv_geom *g, const mt_real *img, mt_real *col, int oh0, int oh1);
void mt_col2im_add_rows(const mt_conv_geom *g, const mt_real *col, mt_real *img, int oh0, int oh1);
/* Output rows per column block: about `block bytes` (default 1 MiB) of
 * columns, at least 256 columns, at most OH. */
int mt_conv_block_rows(const mt_conv_geom *g);
/* Sets the column-block size in bytes (0 = default 1 MiB). Tests use a tiny
 * value to exercise the multi-block paths on small shapes; values below
 * 64 KiB also drop the 256-column minimum. */
void mt_conv_set_block_bytes(size_t bytes);
/* Output rows per tile when `units` (images x groups) are fewer than the
 * threads and each is cut in row blocks of at most `rows` (of OH rows of OW
 * columns): `rows`, lowered so that there are at least two tiles per thread
 * (load balance of the static split), but not below 256 columns per tile
 * (every tile's GEMM packs the whole weight matrix again; a 1024-channel 8x8
 * layer stays one tile, its GEMM then runs on all threads). */
int mt_conv_tile_rows(int units, int OH, int OW, int rows);
/* 1 if the weight-gradient GEMM should run per column block: only when the
 * group's dw [Og, C*KH*KW] is at most half a block (otherwise re-reading dw for
 * every block costs more than the cache misses saved, and one full-width GEMM
 * over all columns is used). */
int mt_conv_dw_blocked(const mt_conv_geom *g, int Og);

/* 1 if im2col would be the identity (1x1 kernel, stride 1, no padding), so
 * the image itself can be used as the column matrix. */
int mt_conv_geom_is_identity(const mt_conv_geom *g);

/* dst[i] += src[i] for n elements (OpenMP over large n): reduces the
 * per-thread weight-gradient buffers of the batch-parallel conv backward. */
void mt_add_into(mt_real *dst, const mt_real *src, size_t n);

/* dst[c*plane + i] = bias[c] (or 0 when bias is NULL) for c < channels. */
void mt_fill_bias(mt_real *dst, const mt_real *bias, int channels, size_t plane);

/* db[c] += sum over n < N, i < plane of dy[(n*channels + c)*plane + i]
 * (bias gradient of conv / conv_transpose, torch: grad.sum((0, 2, 3))). */
void mt_bias_grad(const mt_real *dy, mt_real *db, int N, int channels, size_t plane);

/* Checks shared by conv2d and conv_transpose2d, in this order: x and w are
 * MT_REAL and 4-D (w laid out as w_layout, e.g. "[O, C/groups, KH, KW]"),
 * stride, dilation and groups >= 1, paddings >= 0. `op` names the op in the
 * MT_ERR_INVALID message. */
mt_status mt_conv_check_args(const char *op, const char *w_layout, const mt_tensor *x, const mt_tensor *w,
                             int stride_h, int stride_w, int dil_h, int dil_w, int groups, int pad_top,
                             int pad_bottom, int pad_left, int pad_right);
/* The bias b is NULL or an MT_REAL [O] vector (MT_ERR_INVALID otherwise). */
mt_status mt_conv_check_bias(const char *op, const mt_tensor *b, int O);

/* Threads to split a batch of N images over: min(mt_get_num_threads(), N),
 * at least 1 (1: serial loop, the GEMM uses all threads). */
int mt_conv_batch_threads(int N);
/* OpenMP thread number inside a parallel region (0 without OpenMP). */
int mt_conv_thread_id(void);

/* Scratch and BLAS threading of one batch-parallel conv pass over N images:
 * T = mt_conv_batch_threads(N) threads, each with a column buffer of
 * col_elems; with dw, threads 1..T-1 accumulate their weight gradient in
 * private buffers of w_elems that mt_conv_pass_end adds into dw in thread
 * order (thread 0 writes dw itself). */
typedef struct mt_conv_pass {
    int T;
    size_t col_elems, w_elems, bytes;
    void *scratch;
    mt_real *dw;
} mt_conv_pass;
/* Allocates the scratch (mt_alloc on the CPU; errors from it), then holds
 * OpenBLAS at 1 thread when T > 1, all threads otherwise (mt_blas_hold). */
mt_status mt_conv_pass_begin(mt_conv_pass *ps, int N, size_t col_elems, mt_real *dw, size_t w_elems);
/* Thread tid's column buffer (NULL when col_elems is 0). */
mt_real *mt_conv_pass_col(const mt_conv_pass *ps, int tid);
/* Thread tid's weight gradient: dw for tid 0, a private buffer zeroed here
 * for tid > 0, NULL without dw. Call once per thread inside the region. */
mt_real *mt_conv_pass_dw(const mt_conv_pass *ps, int tid);
/* Releases the OpenBLAS thread count, adds the private dw buffers into dw, frees the scratch. */
void mt_conv_pass_end(mt_conv_pass *ps);

/* ---- CUDA side (only seen by .cu files that include core/cuda_common.h first):
 * the cuDNN convolution helpers shared by conv2d.cu and conv_transpose2d.cu,
 * defined in conv2d.cu. ---- */
#ifdef MT_CUDA_COMMON_H
#ifdef __cplusplus
extern "C" {
#endif
/* One cuDNN cross-correlation: input [N, C, H, W] -> output [N, O, OH, OW],
 * filter [O, C/groups, KH, KW], symmetric padding (ph, pw). */
typedef struct mt_cudnn_conv {
    cudnnTensorDescriptor_t in, out, bias;
    cudnnFilterDescriptor_t filt;
    cudnnConvolutionDescriptor_t conv;
    int lowp;                          /* 1: bf16 / fp16 data (tensor-op math with float32 accumulation) */
    struct mt_cudnn_conv_entry *entry; /* the cache entry owning the descriptors, or NULL (owned here) */
} mt_cudnn_conv;
typedef struct mt_cudnn_conv_dims {
    int N, C, H, W, O, OH, OW, KH, KW;
    int ph, pw, sh, sw, dh, dw, groups;
    int dtype; /* cudnnDataType_t of x, w and y: CUDNN_DATA_FLOAT, or CUDNN_DATA_BFLOAT16 / CUDNN_DATA_HALF
                * (native low precision, float32 compute type); part of the cache key */
} mt_cudnn_conv_dims;

/* ---- the per-shape cache (core/ops/cudnn_cache.cu) ----
 * One entry per (dims, TF32, benchmark, deterministic) of a GPU context: the
 * descriptors, created once, and the algorithm (+ workspace size) of each pass,
 * chosen at its first use. Entries are never evicted (at most MT_CUDNN_CACHE_MAX
 * shapes per GPU; past that, convolutions work uncached as before). Thread-safe. */
#define MT_CUDNN_CACHE_MAX 1024
enum { MT_CONV_FWD = 0, MT_CONV_BWD_DATA = 1, MT_CONV_BWD_FILTER = 2 };
typedef struct mt_cudnn_conv_entry {
    mt_cudnn_conv_dims d;
    int tf32, benchmark, deterministic;
    mt_cudnn_conv cv;  /* descriptors (cv.entry NULL) */
    int algo[3];       /* per MT_CONV_*; -1 = not chosen yet */
    size_t ws[3];      /* workspace bytes of that algorithm */
} mt_cudnn_conv_entry;
/* The entry of c's current options and dims d, or NULL when there is none. */
mt_cudnn_conv_entry *mt_cudnn_cache_find(mt_cuda_ctx *c, const mt_cudnn_conv_dims *d);
/* Stores the descriptors of *cv (just created for d) and points cv->entry at the
 * entry; when another thread stored that shape first, destroys *cv's own
 * descriptors and takes the entry's. Full cache or no memory: *cv is left as is. */
void mt_cudnn_cache_put(mt_cuda_ctx *c, const mt_cudnn_conv_dims *d, mt_cudnn_conv *cv);
/* The cached algorithm of `pass` for cv (0 when none), and storing one. */
int mt_cudnn_cache_algo(const mt_cudnn_conv *cv, int pass, int *algo, size_t *ws_bytes);
void mt_cudnn_cache_set_algo(mt_cudnn_conv *cv, int pass, int algo, size_t ws_bytes);
/* Creates the descriptors (math type: FMA only unless c->allow_tf32) and checks
 * that cuDNN's output size equals (OH, OW); a shape seen before takes its cached
 * descriptors. Destroy with mt_cudnn_conv_destroy even on failure (a no-op for
 * cached descriptors). */
mt_status mt_cudnn_conv_create(mt_cuda_ctx *c, const mt_cudnn_conv_dims *d, mt_cudnn_conv *cv);
void mt_cudnn_conv_destroy(mt_cudnn_conv *cv);
/* y = conv(x, w) + beta*y. The algorithm of each pass is chosen once per shape
 * (cached): the first of cudnnGet*Algorithm_v7's heuristic list, or with
 * c->cudnn_benchmark of cudnnFind*AlgorithmEx's timed list (run on scratch
 * outputs), that fits the workspace limit, uses TF32 only when allowed and,
 * with c->deterministic, is deterministic. */
/* Buffers are of the descriptors' type (float, or bf16 / fp16 with d.dtype). */
mt_status mt_cudnn_conv_forward(mt_cuda_ctx *c, mt_cudnn_conv *cv, const void *x, const void *w, float beta, void *y);
/* dx = conv^T(dy, w) + beta*dx (cudnnConvolutionBackwardData). */
mt_status mt_cudnn_conv_backward_data(mt_cuda_ctx *c, mt_cudnn_conv *cv, const void *w, const void *dy, float beta,
                                      void *dx);
/* dw = dL/dw from x and dy + beta*dw (cudnnConvolutionBackwardFilter). */
mt_status mt_cudnn_conv_backward_filter(mt_cuda_ctx *c, mt_cudnn_conv *cv, const void *x, const void *dy,
                                        float beta, void *dw);
/* Splits per-side padding into cuDNN's symmetric part d->ph = min(top, bottom),
 * d->pw = min(left, right) and the excess beyond it (*et, *eb, *el, *er), and
 * grows d->H, d->W (set to the unpadded size before the call) by that excess. */
void mt_cudnn_conv_split_pad(mt_cudnn_conv_dims *d, int top, int bottom, int left, int right, int *et, int *eb,
                             int *el, int *er);
/* One cuDNN conv pass (forward or backward of a node): it sets up *cv (first)
 * and may allocate *tmp (tmp_bytes, on the device of in[0]). */
typedef mt_status (*mt_cudnn_conv_impl)(mt_cuda_ctx *c, mt_node *n, mt_cudnn_conv *cv, void **tmp,
                                        size_t *tmp_bytes);
/* Runs impl on the node's CUDA context, then destroys *cv and frees *tmp
 * whatever impl returned; returns impl's status. */
mt_status mt_cudnn_conv_run(mt_node *n, mt_cudnn_conv_impl impl);
/* The cuDNN dims of a conv2d node (conv2d.cu) and of a conv_transpose2d node (conv_transpose2d.cu:
 * conv input = the full-size y, conv output = x), float32, and the padding excess. */
mt_cudnn_conv_dims mt_cudnn_conv2d_dims(const mt_node *n, int *et, int *eb, int *el, int *er);
mt_cudnn_conv_dims mt_cudnn_convt_dims(const mt_node *n, int *et, int *eb, int *el, int *er);
/* conv_transpose2d's bias on its output [N, C, HO, WO] (float32): y += b, or db += sum of dy (backward). */
mt_status mt_cudnn_convt_bias(mt_cuda_ctx *c, int N, int C, int HO, int WO, int backward, const void *src, void *dst);
/* Native cuDNN bf16 / fp16 passes (core/ops/conv_lowp.cu) of a conv2d (transposed = 0) or
 * conv_transpose2d (1) node under autocast: x and w of one low-precision type go to cuDNN
 * as they are (CUDNN_DATA_BFLOAT16 / HALF descriptors, float32 compute, tensor-op math),
 * the results are widened to the float32 outputs / gradients and rounded to that type
 * (core/ops/lowp.h's contract, so they equal the widening path up to summation order).
 * *done = 0 (nothing run) when the node does not qualify (mixed input types, padding
 * cuDNN cannot take symmetrically): the caller then widens to float32. */
mt_status mt_cudnn_conv_lowp_forward(mt_node *n, int transposed, int *done);
mt_status mt_cudnn_conv_lowp_backward(mt_node *n, int transposed, int *done);
/* dst [NC, H+top+bottom, W+left+right] = src [NC, H, W] placed at (top, left), zeros elsewhere. */
mt_status mt_cuda_pad_zero(mt_cuda_ctx *c, const float *src, float *dst, int NC, int H, int W, int top, int bottom,
                           int left, int right);
/* dst [NC, h, w] (+)= src [NC, H, W] window at (top, left); accumulate if `add`. */
mt_status mt_cuda_crop(mt_cuda_ctx *c, const float *src, float *dst, int NC, int H, int W, int top, int left, int h,
                       int w, int add);
#ifdef __cplusplus
}
#endif
#endif

#endif
