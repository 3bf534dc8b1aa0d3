/* core/ops/where.cu: CUDA twin of where.c (greater, where; broadcast
 * gradients summed with the deterministic reduction of ew_common.cu). */
#include "../cuda_common.h"
#include "ew_common.h"

__global__ static void greater_kernel(float v, const float *x, float *y, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] = x[i] > v ? 1.f : 0.f;
}

__global__ static void where_kernel(mt_imap mc, mt_imap ma, mt_imap mb, const float *c, const float *a,
                                    const float *b, float *y, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        long long k = (long long)i;
        y[i] = c[mt_imap_offset(&mc, k)] != 0.f ? a[mt_imap_offset(&ma, k)] : b[mt_imap_offset(&mb, k)];
    }
}

__global__ static void where_grad_kernel(mt_imap mc, int want, const float *c, const float *dy, float *g, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        g[i] = ((c[mt_imap_offset(&mc, (long long)i)] != 0.f) == want) ? dy[i] : 0.f;
}

extern "C" mt_status greater_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    size_t count = mt_numel(n->in[0]);
    if (!count) return MT_OK;
    greater_kernel<<<mt_cuda_blocks(count), MT_CUDA_THREADS, 0, c->stream>>>(
        (float)MT_ATTR(n, mt_greater_attr)->v, (const float *)mt_data(n->in[0]), (float *)mt_data(n->out[0]),
        count);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status where_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_tensor *out = n->out[0];
    size_t count = mt_numel(out);
    if (!count) return MT_OK;
    mt_imap mc = mt_imap_broadcast(n->in[0], out->ndim, out->shape);
    mt_imap ma = mt_imap_broadcast(n->in[1], out->ndim, out->shape);
    mt_imap mb = mt_imap_broadcast(n->in[2], out->ndim, out->shape);
    where_kernel<<<mt_cuda_blocks(count), MT_CUDA_THREADS, 0, c->stream>>>(
        mc, ma, mb, (const float *)mt_data(n->in[0]), (const float *)mt_data(n->in[1]),
        (const float *)mt_data(n->in[2]), (float *)mt_data(n->out[0]), count);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status where_backward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_tensor *out = n->out[0];
    size_t count = mt_numel(out);
    if (!count) return MT_OK;
    mt_imap mc = mt_imap_broadcast(n->in[0], out->ndim, out->shape);
    for (int j = 1; j <= 2; j++) {
        mt_tensor *g = n->gin[j];
        if (!g) continue;
        mt_tensor *full;
        float *dst = mt_bgrad_begin(out, g, &full);
        if (!dst) return mt_last_status();
        where_grad_kernel<<<mt_cuda_blocks(count), MT_CUDA_THREADS, 0, c->stream>>>(
            mc, j == 1, (const float *)mt_data(n->in[0]), (const float *)mt_data(n->gout[0]), dst, count);
        cudaError_t e = cudaGetLastError();
        MT_TRY(mt_bgrad_end_cuda(c, out, g, full,
                                 e == cudaSuccess ? MT_OK : mt_cuda_status(e, "where_grad_kernel", __FILE__, __LINE__)));
    }
    return MT_OK;
}
