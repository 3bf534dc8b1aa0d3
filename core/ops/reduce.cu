/* core/ops/reduce.cu: CUDA twin of reduce.c. sum/mean use the deterministic
 * two-pass block reduction (ew_common.cu); max uses one block per output with
 * a fixed shared-memory tree over (value, index) pairs, ties to the smaller
 * index, so the result and the saved argmax match the CPU's first maximum. */
#include "../cuda_common.h"
#include "ew_common.h"

#define MAX_THREADS 256

__global__ static void max_kernel(mt_rplan p, const float *x, float *y, int *idx)
{
    __shared__ float sv[MAX_THREADS];
    __shared__ long long si[MAX_THREADS];
    for (long long o = blockIdx.x; o < p.nout; o += gridDim.x) {
        long long base = mt_imap_offset(&p.kept, o);
        float best = 0.f;
        long long best_r = -1;
        for (long long r = threadIdx.x; r < p.nred; r += MAX_THREADS) {
            float v = x[base + mt_imap_offset(&p.red, r)];
            if (best_r < 0 || (v > best && !isnan(best)) || (isnan(v) && !isnan(best))) best = v, best_r = r;
        }
        sv[threadIdx.x] = best;
        si[threadIdx.x] = best_r;
        __syncthreads();
        for (int s = MAX_THREADS / 2; s > 0; s >>= 1) {
            if ((int)threadIdx.x < s) {
                float v = sv[threadIdx.x + s], b = sv[threadIdx.x];
                long long vi = si[threadIdx.x + s], bi = si[threadIdx.x];
                int take = 0;
                if (vi >= 0) {
                    if (bi < 0) take = 1;
                    else if (isnan(v) != isnan(b)) take = isnan(v);
                    else if (isnan(v) || v == b) take = vi < bi;
                    else take = v > b;
                }
                if (take) sv[threadIdx.x] = v, si[threadIdx.x] = vi;
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) {
            y[o] = sv[0];
            idx[o] = (int)si[0];
        }
        __syncthreads();
    }
}

__global__ static void max_backward_kernel(mt_rplan p, const int *idx, const float *dy, float *dx)
{
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < p.nout;
         o += (long long)gridDim.x * blockDim.x)
        dx[mt_rplan_offset(&p, o, idx[o])] += dy[o];
}

__global__ static void spread_kernel(mt_imap m, float scale, const float *dy, float *dx, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dx[i] = dy[mt_imap_offset(&m, (long long)i)] * scale;
}

extern "C" mt_status reduce_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_reduce_attr *a = MT_ATTR(n, mt_reduce_attr);
    const mt_tensor *x = n->in[0];
    mt_rplan p = mt_rplan_axes(x->ndim, x->shape, a->mask);
    if (a->kind != MT_RED_MAX) {
        float scale = a->kind == MT_RED_MEAN ? (float)(1.0 / (double)p.nred) : 1.f;
        return mt_cuda_reduce_sum(c, &p, (const float *)mt_data(x), (float *)mt_data(n->out[0]), scale, 0);
    }
    int shp[1] = {(int)p.nout};
    mt_tensor *idx = mt_tensor_new(MT_I32, x->storage->device, 1, shp);
    if (!idx) return mt_last_status();
    n->saved[0] = idx;
    if (!p.nout) return MT_OK;
    unsigned grid = (unsigned)(p.nout < 65535LL * 32 ? p.nout : 65535LL * 32);
    max_kernel<<<grid, MAX_THREADS, 0, c->stream>>>(p, (const float *)mt_data(x), (float *)mt_data(n->out[0]),
                                                     (int *)mt_data(idx));
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status reduce_backward_cuda(mt_node *n)
{
    if (!n->gin[0]) return MT_OK;
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_reduce_attr *a = MT_ATTR(n, mt_reduce_attr);
    const mt_tensor *x = n->in[0];
    mt_rplan p = mt_rplan_axes(x->ndim, x->shape, a->mask);
    if (a->kind == MT_RED_MAX) {
        if (!p.nout) return MT_OK;
        max_backward_kernel<<<mt_cuda_blocks((size_t)p.nout), MT_CUDA_THREADS, 0, c->stream>>>(
            p, (const int *)mt_data(n->saved[0]), (const float *)mt_data(n->gout[0]), (float *)mt_data(n->gin[0]));
        MT_CUDA_LAUNCH_CHECK();
        return MT_OK;
    }
    size_t count = mt_numel(x);
    if (!count) return MT_OK;
    float scale = a->kind == MT_RED_MEAN ? (float)(1.0 / (double)p.nred) : 1.f;
    mt_imap m = mt_imap_reduced(x->ndim, x->shape, a->mask);
    spread_kernel<<<mt_cuda_blocks(count), MT_CUDA_THREADS, 0, c->stream>>>(
        m, scale, (const float *)mt_data(n->gout[0]), (float *)mt_data(n->gin[0]), count);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
