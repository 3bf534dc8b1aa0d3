/* optim/clip.cu: CUDA twins of the gradient-clipping helpers of optim/clip.c:
 * the L2 norm of a gradient (cuBLAS snrm2) and its in-place scaling (sscal),
 * and the clipping of a flat gradient buffer without reading anything back. */
#include <limits.h>
#include <math.h>

#include "../core/cuda_common.h"
#include "update.h"

extern "C" mt_status mt_norm2_cuda(int device, size_t n, const mt_real *x, double *out)
{
    mt_cuda_ctx *c = mt_cuda_get(device);
    if (!c) return mt_last_status();
    MT_CUBLAS_CHECK(cublasSetPointerMode(c->cublas, CUBLAS_POINTER_MODE_HOST));
    double sumsq = 0;
    for (size_t start = 0; start < n;) {
        size_t len = n - start < (size_t)INT_MAX ? n - start : (size_t)INT_MAX;
        float r = 0;
        MT_CUBLAS_CHECK(cublasSnrm2(c->cublas, (int)len, x + start, 1, &r));
        sumsq += (double)r * (double)r;
        start += len;
    }
    *out = sqrt(sumsq);
    return MT_OK;
}

extern "C" mt_status mt_scale_cuda(int device, size_t n, mt_real *x, mt_real a)
{
    mt_cuda_ctx *c = mt_cuda_get(device);
    if (!c) return mt_last_status();
    MT_CUBLAS_CHECK(cublasSetPointerMode(c->cublas, CUBLAS_POINTER_MODE_HOST));
    for (size_t start = 0; start < n;) {
        size_t len = n - start < (size_t)INT_MAX ? n - start : (size_t)INT_MAX;
        MT_CUBLAS_CHECK(cublasSscal(c->cublas, (int)len, &a, x + start, 1));
        start += len;
    }
    return MT_OK;
}

/* out[0] = total norm, out[1] = coef, from the n per-gradient norms (torch's float rounding) */
__global__ static void clip_coef_kernel(const float *norms, int n, float max_norm, float *out)
{
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    double sumsq = 0;
    for (int i = 0; i < n; i++) sumsq += (double)norms[i] * (double)norms[i];
    float total = (float)sqrt(sumsq);
    float coef = __fdiv_rn(max_norm, __fadd_rn(total, 1e-6f));
    out[0] = total;
    out[1] = coef > 1.f ? 1.f : coef;
}

__global__ static void scale_by_kernel(size_t n, float *x, const float *coef)
{
    float a = *coef;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = __fmul_rn(x[i], a);
}

extern "C" mt_status mt_clip_flat_cuda(int device, int n, const size_t *len, mt_real *flat, double max_norm,
                                       double *total_norm)
{
    mt_cuda_ctx *c = mt_cuda_get(device);
    if (!c) return mt_last_status();
    if (n <= 0) return MT_OK;
    for (int i = 0; i < n; i++)
        if (len[i] > (size_t)INT_MAX)
            return MT_ERR(MT_ERR_UNSUPPORTED, "clip_grad_norm: a gradient of %zu elements (at most %d on CUDA)", len[i],
                          INT_MAX);
    /* scratch: n norms, total, coef; stream-ordered reuse through the caching allocator */
    size_t bytes = sizeof(float) * ((size_t)n + 2);
    float *scratch = NULL;
    mt_device dev = mt_cuda(device);
    MT_TRY(mt_alloc(dev, bytes, (void **)&scratch));
    mt_status s = MT_OK;
    cublasStatus_t be = cublasSetPointerMode(c->cublas, CUBLAS_POINTER_MODE_DEVICE);
    size_t off = 0;
    for (int i = 0; be == CUBLAS_STATUS_SUCCESS && i < n; off += len[i], i++)
        be = cublasSnrm2(c->cublas, (int)len[i], flat + off, 1, scratch + i);
    cublasStatus_t be2 = cublasSetPointerMode(c->cublas, CUBLAS_POINTER_MODE_HOST); /* what the other callers expect */
    if (be != CUBLAS_STATUS_SUCCESS || be2 != CUBLAS_STATUS_SUCCESS)
        s = mt_cublas_status(be != CUBLAS_STATUS_SUCCESS ? be : be2, "cublasSnrm2 (device pointer mode)", __FILE__,
                             __LINE__);
    if (s == MT_OK) {
        clip_coef_kernel<<<1, 1, 0, c->stream>>>(scratch, n, (float)max_norm, scratch + n);
        cudaError_t e = cudaGetLastError();
        if (e == cudaSuccess) {
            scale_by_kernel<<<mt_cuda_blocks(off), MT_CUDA_THREADS, 0, c->stream>>>(off, flat, scratch + n + 1);
            e = cudaGetLastError();
        }
        if (e != cudaSuccess) s = mt_cuda_status(e, "clip_grad_norm kernels", __FILE__, __LINE__);
    }
    if (s == MT_OK && total_norm) {
        float total = 0;
        cudaError_t e = cudaMemcpyAsync(&total, scratch + n, sizeof total, cudaMemcpyDeviceToHost, c->stream);
        if (e == cudaSuccess) e = cudaStreamSynchronize(c->stream);
        if (e != cudaSuccess) s = mt_cuda_status(e, "reading the gradient norm", __FILE__, __LINE__);
        else {
            *total_norm = (double)total;
            mt_d2h_note(MT_CUDA);
        }
    }
    mt_free(dev, scratch, bytes);
    return s;
}
