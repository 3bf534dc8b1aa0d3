/* core/cuda.cu: the CUDA backend: device memory through the caching
 * allocator, copies, fill/axpy kernels, per-device stream + cuDNN + cuBLAS
 * handles and one shared workspace (cuda_common.h). Every CUDA, cuDNN and
 * cuBLAS status is checked and turned into an mt_status with file:line.
 *
 * Layer (docs/design.md, checked by tests/check_layers.sh): the GPU half of
 * the device layer; device.c asks it for the backend (mt_cuda_backend).
 *   calls: error;
 *   never: device.c, alloc, tensor, op, autograd (it reads mt_node's fields
 *   in mt_cuda_node_ctx, a type from op.h, but calls nothing there). */
#include <stdio.h>
#include <stdlib.h>

#include "cuda_common.h"
#include "device.h"

#define MT_MAX_GPUS 16

static mt_cuda_ctx *g_ctx[MT_MAX_GPUS];
static int g_allow_tf32;
static int g_cudnn_benchmark, g_deterministic;

extern "C" mt_status mt_cuda_status(cudaError_t e, const char *expr, const char *file, int line)
{
    return mt_error_set(e == cudaErrorMemoryAllocation ? MT_ERR_NOMEM : MT_ERR_CUDA, file, line,
                        "%s failed: %s (%s)%s", expr, cudaGetErrorString(e), cudaGetErrorName(e),
                        e == cudaErrorMemoryAllocation ? "; reduce the batch size or input size" : "");
}

extern "C" mt_status mt_cudnn_status(cudnnStatus_t e, const char *expr, const char *file, int line)
{
    return mt_error_set(e == CUDNN_STATUS_ALLOC_FAILED ? MT_ERR_NOMEM : MT_ERR_CUDA, file, line, "%s failed: %s",
                        expr, cudnnGetErrorString(e));
}

extern "C" mt_status mt_cublas_status(cublasStatus_t e, const char *expr, const char *file, int line)
{
    return mt_error_set(e == CUBLAS_STATUS_ALLOC_FAILED ? MT_ERR_NOMEM : MT_ERR_CUDA, file, line,
                        "%s failed: %s (%s)", expr, cublasGetStatusString(e), cublasGetStatusName(e));
}

static mt_status ctx_create(int index, mt_cuda_ctx **out)
{
    mt_cuda_ctx *c = (mt_cuda_ctx *)mt_calloc(1, sizeof *c);
    if (!c) return MT_ERR_NOMEM;
    c->device = index;
    c->allow_tf32 = g_allow_tf32;
    c->cudnn_benchmark = g_cudnn_benchmark;
    c->deterministic = g_deterministic;
    c->workspace_limit = (size_t)256 << 20;
    const char *env = getenv("MEDTRAIN_CUDNN_WORKSPACE_MB");
    if (env && atol(env) > 0) c->workspace_limit = (size_t)atol(env) << 20;
    mt_status s = MT_OK;
    cudaError_t ce;
    cudnnStatus_t de;
    cublasStatus_t be;
    if ((ce = cudaSetDevice(index)) != cudaSuccess) {
        s = mt_cuda_status(ce, "cudaSetDevice", __FILE__, __LINE__);
        goto fail;
    }
    if ((ce = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking)) != cudaSuccess) {
        s = mt_cuda_status(ce, "cudaStreamCreateWithFlags", __FILE__, __LINE__);
        goto fail;
    }
    if ((de = cudnnCreate(&c->cudnn)) != CUDNN_STATUS_SUCCESS ||
        (de = cudnnSetStream(c->cudnn, c->stream)) != CUDNN_STATUS_SUCCESS) {
        s = mt_cudnn_status(de, "cudnnCreate/cudnnSetStream", __FILE__, __LINE__);
        goto fail;
    }
    if ((be = cublasCreate(&c->cublas)) != CUBLAS_STATUS_SUCCESS ||
        (be = cublasSetStream(c->cublas, c->stream)) != CUBLAS_STATUS_SUCCESS ||
        (be = cublasSetMathMode(c->cublas, c->allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH)) !=
            CUBLAS_STATUS_SUCCESS) {
        s = mt_cublas_status(be, "cublasCreate/cublasSetStream/cublasSetMathMode", __FILE__, __LINE__);
        goto fail;
    }
    *out = c;
    return MT_OK;
fail:
    if (c->cublas) cublasDestroy(c->cublas);
    if (c->cudnn) cudnnDestroy(c->cudnn);
    if (c->stream) cudaStreamDestroy(c->stream);
    free(c);
    return s;
}

extern "C" mt_cuda_ctx *mt_cuda_get(int index)
{
    if (index < 0 || index >= MT_MAX_GPUS) {
        MT_ERR(MT_ERR_INVALID, "cuda:%d: device index out of range", index);
        return NULL;
    }
    if (!g_ctx[index]) {
        mt_cuda_ctx *c = NULL;
        if (ctx_create(index, &c) != MT_OK) return NULL;
        g_ctx[index] = c;
    }
    if (cudaSetDevice(index) != cudaSuccess) {
        MT_ERR(MT_ERR_CUDA, "cudaSetDevice(%d) failed", index);
        return NULL;
    }
    return g_ctx[index];
}

extern "C" mt_cuda_ctx *mt_cuda_node_ctx(const mt_node *n)
{
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i]) return mt_cuda_get(n->in[i]->storage->device.index);
    return mt_cuda_get(n->out[0]->storage->device.index);
}

extern "C" mt_status mt_cuda_workspace(mt_cuda_ctx *c, size_t bytes, void **ptr)
{
    if (bytes > c->workspace_limit)
        return MT_ERR(MT_ERR_NOMEM, "cuDNN workspace of %zu MiB exceeds the limit of %zu MiB "
                                    "(MEDTRAIN_CUDNN_WORKSPACE_MB)", bytes >> 20, c->workspace_limit >> 20);
    if (bytes > c->workspace_bytes) {
        if (c->workspace) {
            MT_CUDA_CHECK(cudaStreamSynchronize(c->stream));
            MT_CUDA_CHECK(cudaFree(c->workspace));
            c->workspace = NULL;
            c->workspace_bytes = 0;
        }
        MT_CUDA_CHECK(cudaMalloc(&c->workspace, bytes));
        c->workspace_bytes = bytes;
    }
    *ptr = c->workspace;
    return MT_OK;
}

extern "C" void mt_cuda_set_conv_options(int benchmark, int deterministic)
{
    g_cudnn_benchmark = benchmark ? 1 : 0;
    g_deterministic = deterministic ? 1 : 0;
    for (int i = 0; i < MT_MAX_GPUS; i++)
        if (g_ctx[i]) {
            g_ctx[i]->cudnn_benchmark = g_cudnn_benchmark;
            g_ctx[i]->deterministic = g_deterministic;
        }
}

extern "C" void mt_cuda_set_tf32(int allow)
{
    g_allow_tf32 = allow;
    for (int i = 0; i < MT_MAX_GPUS; i++)
        if (g_ctx[i]) {
            g_ctx[i]->allow_tf32 = allow;
            cublasSetMathMode(g_ctx[i]->cublas, allow ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
        }
}

/* ---- backend vtable ---- */

static mt_status cu_raw_alloc(void *ctx, int index, size_t bytes, void **ptr)
{
    MT_CUDA_CHECK(cudaSetDevice(index));
    MT_CUDA_CHECK(cudaMalloc(ptr, bytes));
    return MT_OK;
}

static void cu_raw_free(void *ctx, int index, void *ptr)
{
    /* a failing free has nothing to recover; device errors surface on the next call */
    if (cudaSetDevice(index) == cudaSuccess) (void)cudaFree(ptr);
}

static mt_status cu_copy(void *ctx, int index, void *dst, const void *src, size_t bytes, mt_copy_kind kind)
{
    mt_cuda_ctx *c = mt_cuda_get(index);
    if (!c) return mt_last_status();
    cudaMemcpyKind k = kind == MT_H2D ? cudaMemcpyHostToDevice
                     : kind == MT_D2H ? cudaMemcpyDeviceToHost
                     : kind == MT_D2D ? cudaMemcpyDeviceToDevice
                                      : cudaMemcpyHostToHost;
    MT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, k, c->stream));
    /* device-to-device copies are ordered on the stream like kernels (and can be captured in
     * a CUDA graph); copies that involve host memory complete before returning */
    if (kind != MT_D2D) MT_CUDA_CHECK(cudaStreamSynchronize(c->stream));
    return MT_OK;
}

static mt_status cu_memset0(void *ctx, int index, void *ptr, size_t bytes)
{
    mt_cuda_ctx *c = mt_cuda_get(index);
    if (!c) return mt_last_status();
    MT_CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, c->stream));
    return MT_OK;
}

__global__ static void fill_kernel(float *x, size_t n, float v)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = v;
}

__global__ static void axpy_kernel(size_t n, float a, const float *x, float *y)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] += a * x[i];
}

static mt_status cu_fill(void *ctx, int index, mt_real *x, size_t n, mt_real v)
{
    mt_cuda_ctx *c = mt_cuda_get(index);
    if (!c) return mt_last_status();
    fill_kernel<<<mt_cuda_blocks(n), MT_CUDA_THREADS, 0, c->stream>>>(x, n, v);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

static mt_status cu_axpy(void *ctx, int index, size_t n, mt_real a, const mt_real *x, mt_real *y)
{
    mt_cuda_ctx *c = mt_cuda_get(index);
    if (!c) return mt_last_status();
    axpy_kernel<<<mt_cuda_blocks(n), MT_CUDA_THREADS, 0, c->stream>>>(n, a, x, y);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

static mt_status cu_sync(void *ctx, int index)
{
    mt_cuda_ctx *c = mt_cuda_get(index);
    if (!c) return mt_last_status();
    MT_CUDA_CHECK(cudaStreamSynchronize(c->stream));
    return MT_OK;
}

static int cu_count(void *ctx)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError(); /* no driver / no GPU: report zero devices */
        return 0;
    }
    return n;
}

/* ---- CUDA graphs (torch.cuda.CUDAGraph): capture of the device's stream ---- */

static mt_status cu_graph_begin(void *ctx, int index)
{
    mt_cuda_ctx *c = mt_cuda_get(index);
    if (!c) return mt_last_status();
    /* thread-local mode: other threads (the loader's workers) may still call unsafe APIs such as
     * cudaMalloc; only this thread's own work is checked and recorded */
    MT_CUDA_CHECK(cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal));
    return MT_OK;
}

static mt_status cu_graph_end(void *ctx, int index, void **exec)
{
    *exec = NULL;
    mt_cuda_ctx *c = mt_cuda_get(index);
    if (!c) return mt_last_status();
    cudaGraph_t graph = NULL;
    MT_CUDA_CHECK(cudaStreamEndCapture(c->stream, &graph)); /* ends an invalidated capture too */
    cudaGraphExec_t e = NULL;
    cudaError_t ce = cudaGraphInstantiate(&e, graph, 0);
    (void)cudaGraphDestroy(graph); /* the executable graph keeps what it needs */
    if (ce != cudaSuccess) return mt_cuda_status(ce, "cudaGraphInstantiate", __FILE__, __LINE__);
    *exec = (void *)e;
    return MT_OK;
}

static mt_status cu_graph_launch(void *ctx, int index, void *exec)
{
    mt_cuda_ctx *c = mt_cuda_get(index);
    if (!c) return mt_last_status();
    MT_CUDA_CHECK(cudaGraphLaunch((cudaGraphExec_t)exec, c->stream));
    return MT_OK;
}

static void cu_graph_destroy(void *ctx, int index, void *exec)
{
    /* a failing destroy has nothing to recover (as cu_raw_free) */
    if (exec && cudaSetDevice(index) == cudaSuccess) (void)cudaGraphExecDestroy((cudaGraphExec_t)exec);
}

static const mt_backend g_cuda_backend = {
    "cuda", NULL, cu_raw_alloc, cu_raw_free, cu_copy, cu_memset0, cu_fill, cu_axpy, cu_sync, cu_count,
    cu_graph_begin, cu_graph_end, cu_graph_launch, cu_graph_destroy,
};

/* Called once by device.c (mt_backend_peek), which registers what it returns. */
extern "C" const mt_backend *mt_cuda_backend(void)
{
    return cu_count(NULL) > 0 ? &g_cuda_backend : NULL;
}
