/* core/ops/index_select.cu: CUDA twin of index_select.c. Forward: one thread
 * per output element. Backward: one thread per column j adds the rows in index
 * order (deterministic, no atomics; n is the number of gathered rows, small
 * for the detection loss). Out-of-range indices are skipped. */
#include "../cuda_common.h"
#include "../ops.h"

__global__ static void index_select_forward_kernel(const float *x, const int *idx, float *y, int rows, size_t c,
                                                   size_t total)
{
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < total; k += (size_t)gridDim.x * blockDim.x) {
        size_t i = k / c, j = k % c;
        int r = idx[i];
        y[k] = (r >= 0 && r < rows) ? x[(size_t)r * c + j] : 0.f;
    }
}

__global__ static void index_select_backward_kernel(const float *dy, const int *idx, float *dx, int rows, int m,
                                                    size_t c)
{
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < c; j += (size_t)gridDim.x * blockDim.x)
        for (int i = 0; i < m; i++) {
            int r = idx[i];
            if (r >= 0 && r < rows) dx[(size_t)r * c + j] += dy[(size_t)i * c + j];
        }
}

static size_t row_len(const mt_tensor *x)
{
    size_t c = 1;
    for (int d = 1; d < x->ndim; d++) c *= (size_t)x->shape[d];
    return c;
}

extern "C" mt_status index_select_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *cx = mt_cuda_node_ctx(n);
    if (!cx) return mt_last_status();
    size_t c = row_len(n->in[0]), total = mt_numel(n->out[0]);
    if (!total) return MT_OK;
    index_select_forward_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, cx->stream>>>(
        (const float *)mt_data(n->in[0]), (const int *)mt_data(n->in[1]), (float *)mt_data(n->out[0]),
        n->in[0]->shape[0], c, total);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status index_select_backward_cuda(mt_node *n)
{
    if (!n->gin[0]) return MT_OK;
    mt_cuda_ctx *cx = mt_cuda_node_ctx(n);
    if (!cx) return mt_last_status();
    size_t c = row_len(n->in[0]);
    int m = n->in[1]->shape[0];
    if (!c || !m) return MT_OK;
    index_select_backward_kernel<<<mt_cuda_blocks(c), MT_CUDA_THREADS, 0, cx->stream>>>(
        (const float *)mt_data(n->gout[0]), (const int *)mt_data(n->in[1]), (float *)mt_data(n->gin[0]),
        n->in[0]->shape[0], m, c);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
