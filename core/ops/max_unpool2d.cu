/* core/ops/max_unpool2d.cu: CUDA twin of max_unpool2d.c. Forward zero-fills y
 * and scatters x to its indices (indices outside the plane are skipped: a GPU
 * kernel cannot report them; the CPU kernel rejects them). Backward gathers. */
#include "../cuda_common.h"
#include "../ops.h"

__global__ static void unpool_forward_kernel(const float *x, const int32_t *idx, float *y, size_t total, int hw, int OHW)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int32_t k = idx[i];
        if (k >= 0 && k < OHW) y[(i / hw) * OHW + k] = x[i];
    }
}

__global__ static void unpool_backward_kernel(const float *dy, const int32_t *idx, float *dx, size_t total, int hw,
                                              int OHW)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int32_t k = idx[i];
        dx[i] = (k >= 0 && k < OHW) ? dy[(i / hw) * OHW + k] : 0.f;
    }
}

extern "C" mt_status max_unpool2d_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_tensor *x = n->in[0], *y = n->out[0];
    MT_CUDA_CHECK(cudaMemsetAsync(mt_data(y), 0, mt_nbytes(y), c->stream));
    size_t total = mt_numel(x);
    if (total == 0) return MT_OK;
    unpool_forward_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(
        (const float *)mt_data(x), (const int32_t *)mt_data(n->in[1]), (float *)mt_data(y), total,
        x->shape[2] * x->shape[3], y->shape[2] * y->shape[3]);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status max_unpool2d_backward_cuda(mt_node *n)
{
    if (!n->gin[0]) return MT_OK;
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_tensor *x = n->in[0], *gy = n->gout[0];
    size_t total = mt_numel(x);
    if (total == 0) return MT_OK;
    unpool_backward_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(
        (const float *)mt_data(gy), (const int32_t *)mt_data(n->in[1]), (float *)mt_data(n->gin[0]), total,
        x->shape[2] * x->shape[3], gy->shape[2] * gy->shape[3]);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
