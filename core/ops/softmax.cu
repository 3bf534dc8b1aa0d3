/* core/ops/softmax.cu: CUDA twin of softmax.c: one thread per row of the
 * [outer, D, inner] view (coalesced along inner, the NCHW channel-softmax
 * case), max-subtracted and accumulated in a fixed order. */
#include "../cuda_common.h"
#include "ew_common.h"

__global__ static void softmax_fwd_kernel(int log_out, long long rows, long long D, long long inner, const float *x,
                                          float *y)
{
    for (long long row = blockIdx.x * (long long)blockDim.x + threadIdx.x; row < rows;
         row += (long long)gridDim.x * blockDim.x) {
        long long base = (row / inner) * D * inner + row % inner;
        float m = x[base];
        for (long long j = 1; j < D; j++) m = fmaxf(m, x[base + j * inner]);
        float s = 0.f;
        for (long long j = 0; j < D; j++) s += expf(x[base + j * inner] - m);
        if (log_out) {
            float ls = logf(s);
            for (long long j = 0; j < D; j++) y[base + j * inner] = x[base + j * inner] - m - ls;
        } else {
            float inv = 1.f / s;
            for (long long j = 0; j < D; j++) y[base + j * inner] = expf(x[base + j * inner] - m) * inv;
        }
    }
}

__global__ static void softmax_bwd_kernel(int log_out, long long rows, long long D, long long inner, const float *y,
                                          const float *dy, float *dx)
{
    for (long long row = blockIdx.x * (long long)blockDim.x + threadIdx.x; row < rows;
         row += (long long)gridDim.x * blockDim.x) {
        long long base = (row / inner) * D * inner + row % inner;
        float s = 0.f;
        for (long long j = 0; j < D; j++) {
            long long k = base + j * inner;
            s += log_out ? dy[k] : dy[k] * y[k];
        }
        for (long long j = 0; j < D; j++) {
            long long k = base + j * inner;
            dx[k] = log_out ? dy[k] - expf(y[k]) * s : y[k] * (dy[k] - s);
        }
    }
}

static void split3(const mt_tensor *x, int d, long long *outer, long long *D, long long *inner)
{
    *outer = *inner = 1;
    *D = x->ndim ? x->shape[d] : 1;
    for (int i = 0; i < d && i < x->ndim; i++) *outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) *inner *= x->shape[i];
}

extern "C" mt_status softmax_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    long long outer, D, inner;
    split3(n->in[0], MT_ATTR(n, mt_softmax_attr)->dim, &outer, &D, &inner);
    long long rows = outer * inner;
    if (!rows || !D) return MT_OK;
    softmax_fwd_kernel<<<mt_cuda_blocks((size_t)rows), MT_CUDA_THREADS, 0, c->stream>>>(
        n->op == &mt_op_log_softmax, rows, D, inner, (const float *)mt_data(n->in[0]), (float *)mt_data(n->out[0]));
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status softmax_backward_cuda(mt_node *n)
{
    if (!n->gin[0]) return MT_OK;
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    long long outer, D, inner;
    split3(n->in[0], MT_ATTR(n, mt_softmax_attr)->dim, &outer, &D, &inner);
    long long rows = outer * inner;
    if (!rows || !D) return MT_OK;
    softmax_bwd_kernel<<<mt_cuda_blocks((size_t)rows), MT_CUDA_THREADS, 0, c->stream>>>(
        n->op == &mt_op_log_softmax, rows, D, inner, (const float *)mt_data(n->out[0]),
        (const float *)mt_data(n->gout[0]), (float *)mt_data(n->gin[0]));
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
