/* core/ops/binary.cu: CUDA twin of binary.c: broadcast add/sub/mul/div; the
 * gradient of a broadcast input is formed at full size and summed down with
 * the deterministic two-pass reduction (ew_common.cu). */
#include "../cuda_common.h"
#include "ew_common.h"

__device__ static float bin_apply(int k, float a, float b)
{
    switch (k) {
    case MT_BIN_ADD: return a + b;
    case MT_BIN_SUB: return a - b;
    case MT_BIN_MUL: return a * b;
    default: return a / b;
    }
}

__device__ static float bin_grad(int k, int j, float a, float b, float dy)
{
    switch (k) {
    case MT_BIN_ADD: return dy;
    case MT_BIN_SUB: return j == 0 ? dy : -dy;
    case MT_BIN_MUL: return j == 0 ? dy * b : dy * a;
    default: return j == 0 ? dy / b : -dy * a / (b * b);
    }
}

/* direct = 1: a, b and y share one shape (no index arithmetic) */
__global__ static void binary_forward_kernel(int k, int direct, mt_imap ma, mt_imap mb, const float *a,
                                             const float *b, float *y, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        long long ia = direct ? (long long)i : mt_imap_offset(&ma, (long long)i);
        long long ib = direct ? (long long)i : mt_imap_offset(&mb, (long long)i);
        y[i] = bin_apply(k, a[ia], b[ib]);
    }
}

__global__ static void binary_grad_kernel(int k, int j, int direct, mt_imap ma, mt_imap mb, const float *a,
                                          const float *b, const float *dy, float *g, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        long long ia = direct ? (long long)i : mt_imap_offset(&ma, (long long)i);
        long long ib = direct ? (long long)i : mt_imap_offset(&mb, (long long)i);
        g[i] = bin_grad(k, j, a[ia], b[ib], dy[i]);
    }
}

extern "C" mt_status binary_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_tensor *out = n->out[0];
    size_t count = mt_numel(out);
    if (!count) return MT_OK;
    mt_imap ma = mt_imap_broadcast(n->in[0], out->ndim, out->shape);
    mt_imap mb = mt_imap_broadcast(n->in[1], out->ndim, out->shape);
    int same = mt_same_shape(n->in[0], out) && mt_same_shape(n->in[1], out);
    binary_forward_kernel<<<mt_cuda_blocks(count), MT_CUDA_THREADS, 0, c->stream>>>(
        MT_ATTR(n, mt_binary_attr)->kind, same, ma, mb, (const float *)mt_data(n->in[0]), (const float *)mt_data(n->in[1]),
        (float *)mt_data(n->out[0]), count);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status binary_backward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_tensor *out = n->out[0];
    size_t count = mt_numel(out);
    if (!count) return MT_OK;
    const int k = MT_ATTR(n, mt_binary_attr)->kind;
    mt_imap ma = mt_imap_broadcast(n->in[0], out->ndim, out->shape);
    mt_imap mb = mt_imap_broadcast(n->in[1], out->ndim, out->shape);
    int same = mt_same_shape(n->in[0], out) && mt_same_shape(n->in[1], out);
    for (int j = 0; j < 2; j++) {
        mt_tensor *g = n->gin[j];
        if (!g) continue;
        mt_tensor *full;
        float *dst = mt_bgrad_begin(out, g, &full);
        if (!dst) return mt_last_status();
        binary_grad_kernel<<<mt_cuda_blocks(count), MT_CUDA_THREADS, 0, c->stream>>>(
            k, j, same, ma, mb, (const float *)mt_data(n->in[0]), (const float *)mt_data(n->in[1]),
            (const float *)mt_data(n->gout[0]), dst, count);
        cudaError_t e = cudaGetLastError();
        MT_TRY(mt_bgrad_end_cuda(c, out, g, full,
                                 e == cudaSuccess ? MT_OK : mt_cuda_status(e, "binary_grad_kernel", __FILE__, __LINE__)));
    }
    return MT_OK;
}
