/* core/ops/ew_common.cu: CUDA helpers of ew_common.h: the deterministic
 * two-pass block reduction used by reduce, binary (broadcast gradients),
 * where and the losses. No float atomics: every sum is taken in a fixed order
 * (fixed chunking, fixed-size shared-memory tree), so results do not change
 * between runs. */
#include "../cuda_common.h"
#include "../device.h"
#include "ew_common.h"

#define RED_THREADS 256

/* Tree reduction of one value per thread in shared memory; thread 0 gets the sum. */
__device__ static float block_sum(float v, float *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = RED_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    float r = sh[0];
    __syncthreads();
    return r;
}

/* pass 1: block b reduces chunk (b % P) of output (b / P). With P == 1 it writes the result. */
__global__ static void reduce_pass1(mt_rplan p, long long P, const float *in, float *partial, float *out, float scale,
                                    int accumulate)
{
    __shared__ float sh[RED_THREADS];
    long long chunk = (p.nred + P - 1) / P;
    for (long long b = blockIdx.x; b < p.nout * P; b += gridDim.x) {
        long long o = b / P, c = b % P;
        long long base = mt_imap_offset(&p.kept, o);
        long long r0 = c * chunk, r1 = r0 + chunk < p.nred ? r0 + chunk : p.nred;
        float s = 0.f;
        for (long long r = r0 + threadIdx.x; r < r1; r += RED_THREADS) s += in[base + mt_imap_offset(&p.red, r)];
        s = block_sum(s, sh);
        if (threadIdx.x == 0) {
            if (P == 1) out[o] = s * scale + (accumulate ? out[o] : 0.f);
            else partial[b] = s;
        }
    }
}

/* pass 2: block o reduces the P partials of output o in order. */
__global__ static void reduce_pass2(long long nout, long long P, const float *partial, float *out, float scale,
                                    int accumulate)
{
    __shared__ float sh[RED_THREADS];
    for (long long o = blockIdx.x; o < nout; o += gridDim.x) {
        float s = 0.f;
        for (long long c = threadIdx.x; c < P; c += RED_THREADS) s += partial[o * P + c];
        s = block_sum(s, sh);
        if (threadIdx.x == 0) out[o] = s * scale + (accumulate ? out[o] : 0.f);
    }
}

extern "C" mt_status mt_bgrad_end_cuda(mt_cuda_ctx *c, const mt_tensor *out, mt_tensor *g, mt_tensor *full,
                                       mt_status launch)
{
    if (!full) return launch;
    mt_status s = launch;
    if (s == MT_OK) {
        mt_rplan p = mt_rplan_unbroadcast(out->ndim, out->shape, g->ndim, g->shape);
        s = mt_cuda_reduce_sum(c, &p, (const float *)mt_data(full), (float *)mt_data(g), 1.f, 0);
    }
    mt_tensor_release(full);
    return s;
}

extern "C" mt_status mt_cuda_reduce_sum(mt_cuda_ctx *c, const mt_rplan *p, const float *in, float *out, float scale,
                                        int accumulate)
{
    if (p->nout == 0) return MT_OK;
    long long P = 1;
    if (p->nout < 1024 && p->nred > 8192) {
        P = (p->nred + 4095) / 4096;
        if (P > 1024) P = 1024;
    }
    long long blocks = p->nout * P;
    unsigned grid = (unsigned)(blocks < 65535LL * 32 ? blocks : 65535LL * 32);
    float *partial = NULL;
    size_t bytes = (size_t)blocks * sizeof(float);
    if (P > 1) MT_TRY(mt_alloc(mt_cuda(c->device), bytes, (void **)&partial));
    reduce_pass1<<<grid, RED_THREADS, 0, c->stream>>>(*p, P, in, partial, out, scale, accumulate);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess && P > 1) {
        unsigned g2 = (unsigned)(p->nout < 65535LL * 32 ? p->nout : 65535LL * 32);
        reduce_pass2<<<g2, RED_THREADS, 0, c->stream>>>(p->nout, P, partial, out, scale, accumulate);
        e = cudaGetLastError();
    }
    /* the caching allocator hands blocks out again only to work queued later on
     * the same stream, so freeing before the kernels finish is safe */
    if (partial) mt_free(mt_cuda(c->device), partial, bytes);
    if (e != cudaSuccess) return mt_cuda_status(e, "reduce kernels", __FILE__, __LINE__);
    return MT_OK;
}
