/* core/metrics.cu: CUDA twins of the per-image confusion counts and the gated
 * binarisation of metrics.c. One block per (image, channel); each thread
 * counts a strided part of the plane, then a shared-memory tree reduction of
 * integer counts (exact, order-independent) gives TP, FP, FN, TN. */
#include "cuda_common.h"
#include "device.h"
#include "metrics.h"

#define CONF_THREADS 256

__device__ static inline int conf_predicted(float s, double thr, const float *gate, size_t i, double lo, double hi)
{
    if (!(s > thr)) return 0;
    if (gate && !(gate[i] >= lo && gate[i] <= hi)) return 0;
    return 1;
}

__global__ static void confusion_kernel(const float *scores, const float *target, const float *gate, int k,
                                        size_t hw, double thr, double lo, double hi, long long *counts)
{
    __shared__ long long sh[4][CONF_THREADS];
    int ik = blockIdx.x;
    const float *s = scores + (size_t)ik * hw, *t = target + (size_t)ik * hw;
    const float *g = gate ? gate + (size_t)(ik / k) * hw : NULL;
    long long c[4] = {0, 0, 0, 0};
    for (size_t i = threadIdx.x; i < hw; i += blockDim.x) {
        int p = conf_predicted(s[i], thr, g, i, lo, hi);
        int y = t[i] > 0.5f;
        c[0] += p & y;
        c[1] += p & (!y);
        c[2] += (!p) & y;
        c[3] += (!p) & (!y);
    }
    for (int j = 0; j < 4; j++) sh[j][threadIdx.x] = c[j];
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if ((int)threadIdx.x < stride)
            for (int j = 0; j < 4; j++) sh[j][threadIdx.x] += sh[j][threadIdx.x + stride];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        for (int j = 0; j < 4; j++) counts[4 * (size_t)ik + j] = sh[j][0];
}

__global__ static void binarize_kernel(const float *scores, const float *gate, float *out, int k, size_t hw,
                                       size_t total, double thr, double lo, double hi)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t ik = i / hw, p = i % hw;
        const float *g = gate ? gate + (ik / (size_t)k) * hw : NULL;
        out[i] = (float)conf_predicted(scores[i], thr, g, p, lo, hi);
    }
}

extern "C" mt_status mt_confusion_cuda(int device, const mt_real *scores, const mt_real *target, const mt_real *gate,
                                       int n, int k, size_t hw, double threshold, double gate_lo, double gate_hi,
                                       int64_t *counts_host)
{
    mt_cuda_ctx *c = mt_cuda_get(device);
    if (!c) return mt_last_status();
    size_t bytes = sizeof(long long) * 4 * (size_t)n * (size_t)k;
    void *dcounts = NULL;
    MT_TRY(mt_alloc(mt_cuda(device), bytes, &dcounts));
    confusion_kernel<<<(unsigned)(n * k), CONF_THREADS, 0, c->stream>>>(scores, target, gate, k, hw, threshold,
                                                                        gate_lo, gate_hi, (long long *)dcounts);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaMemcpyAsync(counts_host, dcounts, bytes, cudaMemcpyDeviceToHost, c->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(c->stream);
    mt_free(mt_cuda(device), dcounts, bytes);
    if (e != cudaSuccess) return mt_cuda_status(e, "confusion_kernel", __FILE__, __LINE__);
    return MT_OK;
}

extern "C" mt_status mt_binarize_gated_cuda(int device, const mt_real *scores, const mt_real *gate, mt_real *out,
                                            int n, int k, size_t hw, double threshold, double gate_lo,
                                            double gate_hi)
{
    mt_cuda_ctx *c = mt_cuda_get(device);
    if (!c) return mt_last_status();
    size_t total = (size_t)n * (size_t)k * hw;
    binarize_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(scores, gate, out, k, hw, total,
                                                                               threshold, gate_lo, gate_hi);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
