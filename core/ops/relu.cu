/* core/ops/relu.cu: CUDA twin of relu.c. */
#include "../cuda_common.h"
#include "../ops.h"

__global__ static void relu_forward_kernel(const float *x, float *y, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] = x[i] > 0.f ? x[i] : 0.f;
}

__global__ static void relu_backward_kernel(const float *y, const float *dy, float *dx, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dx[i] = y[i] > 0.f ? dy[i] : 0.f;
}

extern "C" mt_status relu_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    size_t count = mt_numel(n->in[0]);
    relu_forward_kernel<<<mt_cuda_blocks(count), MT_CUDA_THREADS, 0, c->stream>>>(
        (const float *)mt_data(n->in[0]), (float *)mt_data(n->out[0]), count);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status relu_backward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    size_t count = mt_numel(n->out[0]);
    relu_backward_kernel<<<mt_cuda_blocks(count), MT_CUDA_THREADS, 0, c->stream>>>(
        (const float *)mt_data(n->out[0]), (const float *)mt_data(n->gout[0]), (float *)mt_data(n->gin[0]), count);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
