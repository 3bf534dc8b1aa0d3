/* core/cuda_common.h: what every CUDA kernel file (core/ops/<op>.cu) uses:
 * status checks that turn CUDA, cuDNN and cuBLAS failures into mt_status
 * errors with file:line, the per-device handles and stream, one shared cuDNN
 * workspace of bounded size, and launch helpers. Implemented in core/cuda.cu.
 * Only compiled when MT_CUDA is defined (nvcc + cuDNN present).
 */
#ifndef MT_CUDA_COMMON_H
#define MT_CUDA_COMMON_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "op.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Handles of one GPU, created lazily on first use. All kernels of medtrain
 * run on `stream`; cuDNN and cuBLAS are bound to it. TF32 is off by default
 * (cublasSetMathMode CUBLAS_DEFAULT_MATH with CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION,
 * cuDNN conv math CUDNN_DEFAULT_MATH... set per descriptor) so results stay
 * within 1e-4 of the CPU; mt_cuda_set_tf32(1) allows it. */
typedef struct mt_cuda_ctx {
    int device;
    cudaStream_t stream;
    cudnnHandle_t cudnn;
    cublasHandle_t cublas;
    void *workspace;         /* shared cuDNN/cuBLAS workspace */
    size_t workspace_bytes;  /* current size */
    size_t workspace_limit;  /* upper bound (default 256 MiB; MEDTRAIN_CUDNN_WORKSPACE_MB) */
    int allow_tf32;
    /* convolution algorithms (mt_cuda_set_conv_options): 1 = cudnnFind*AlgorithmEx once per shape
     * (torch.backends.cudnn.benchmark); 1 = deterministic algorithms only (torch.use_deterministic_algorithms) */
    int cudnn_benchmark;
    int deterministic;
    struct mt_cudnn_cache *conv_cache; /* descriptors and algorithms per convolution shape (core/ops/cudnn_cache.cu) */
} mt_cuda_ctx;

/* Context of GPU `index` (creating handles on first call); NULL with an error recorded on failure. */
mt_cuda_ctx *mt_cuda_get(int index);
/* Grows the shared workspace to at least `bytes` (bounded by workspace_limit).
 * Returns MT_ERR_NOMEM/MT_ERR_CUDA with a message if it cannot. */
mt_status mt_cuda_workspace(mt_cuda_ctx *c, size_t bytes, void **ptr);
void mt_cuda_set_tf32(int allow);
/* Convolution algorithm options of every GPU context (see mt_cuda_ctx); device.c's
 * mt_set_conv_options forwards here. Cached choices are kept per option set. */
void mt_cuda_set_conv_options(int benchmark, int deterministic);

mt_status mt_cuda_status(cudaError_t e, const char *expr, const char *file, int line);
mt_status mt_cudnn_status(cudnnStatus_t e, const char *expr, const char *file, int line);
mt_status mt_cublas_status(cublasStatus_t e, const char *expr, const char *file, int line);

/* Check macros: on failure record "file:line: <expr> failed: <reason>" and return the mt_status. */
#define MT_CUDA_CHECK(x)                                                                  \
    do {                                                                                  \
        cudaError_t mt_e_ = (x);                                                          \
        if (mt_e_ != cudaSuccess) return mt_cuda_status(mt_e_, #x, __FILE__, __LINE__);   \
    } while (0)
#define MT_CUDNN_CHECK(x)                                                                 \
    do {                                                                                  \
        cudnnStatus_t mt_e_ = (x);                                                        \
        if (mt_e_ != CUDNN_STATUS_SUCCESS) return mt_cudnn_status(mt_e_, #x, __FILE__, __LINE__); \
    } while (0)
#define MT_CUBLAS_CHECK(x)                                                                \
    do {                                                                                  \
        cublasStatus_t mt_e_ = (x);                                                       \
        if (mt_e_ != CUBLAS_STATUS_SUCCESS) return mt_cublas_status(mt_e_, #x, __FILE__, __LINE__); \
    } while (0)
/* After a kernel launch: checks cudaGetLastError(). */
#define MT_CUDA_LAUNCH_CHECK() MT_CUDA_CHECK(cudaGetLastError())

/* Blocks for a 1-D grid-stride launch over n elements (256 threads). */
static inline unsigned mt_cuda_blocks(size_t n)
{
    size_t b = (n + 255) / 256;
    if (b > 65535u * 32u) b = 65535u * 32u;
    return (unsigned)(b ? b : 1);
}
#define MT_CUDA_THREADS 256

/* The context of the device a node runs on (its first input's device). */
mt_cuda_ctx *mt_cuda_node_ctx(const mt_node *n);

#ifdef __cplusplus
}
#endif
#endif
