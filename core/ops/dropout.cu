/* core/ops/dropout.cu: CUDA twin of dropout.c. Each thread evaluates the same
 * Philox4x32-10 counter (core/rng.h) as the CPU, so the mask is identical. */
#include "../cuda_common.h"
#include "../ops.h"
#include "../rng.h"

__global__ static void dropout_forward_kernel(const float *x, float *y, uint8_t *mask, size_t n, uint64_t seed,
                                              uint64_t offset, double p, float scale)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        int keep = (double)mt_philox_uniform(seed, offset + (uint64_t)i) >= p;
        mask[i] = (uint8_t)keep;
        y[i] = keep ? x[i] * scale : 0.f;
    }
}

__global__ static void dropout_backward_kernel(const float *dy, const uint8_t *mask, float *dx, size_t n, float scale)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dx[i] = mask[i] ? dy[i] * scale : 0.f;
}

extern "C" mt_status dropout_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_dropout_params *p = MT_ATTR(n, mt_dropout_params);
    const mt_tensor *x = n->in[0];
    mt_tensor *mk = mt_tensor_new(MT_U8, x->storage->device, x->ndim, x->shape);
    if (!mk) return mt_last_status();
    n->saved[0] = mk;
    size_t count = mt_numel(x);
    if (count == 0) return MT_OK;
    float scale = p->p < 1 ? (float)(1.0 / (1.0 - p->p)) : 0.f;
    dropout_forward_kernel<<<mt_cuda_blocks(count), MT_CUDA_THREADS, 0, c->stream>>>(
        (const float *)mt_data(x), (float *)mt_data(n->out[0]), (uint8_t *)mt_data(mk), count, p->seed, p->offset,
        p->p, scale);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status dropout_backward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_dropout_params *p = MT_ATTR(n, mt_dropout_params);
    size_t count = mt_numel(n->in[0]);
    if (count == 0) return MT_OK;
    float scale = p->p < 1 ? (float)(1.0 / (1.0 - p->p)) : 0.f;
    dropout_backward_kernel<<<mt_cuda_blocks(count), MT_CUDA_THREADS, 0, c->stream>>>(
        (const float *)mt_data(n->gout[0]), (const uint8_t *)mt_data(n->saved[0]), (float *)mt_data(n->gin[0]), count,
        scale);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
