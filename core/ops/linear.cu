/* core/ops/linear.cu: CUDA twin of linear.c on cuBLAS (cublasSgemm).
 * Row-major [M, IN] is column-major [IN, M], so y^T = w x^T becomes
 * cublasSgemm(T, N, OUT, M, IN, w, x) etc.; the bias is broadcast into y
 * first (beta = 1), and db is a column sum of dy. cuBLAS math mode (TF32 or
 * not) is set on the handle by core/cuda.cu. */
#include "../cuda_common.h"
#include "../ops.h"
#include "lowp.h"

__global__ static void bias_rows_kernel(const float *b, float *y, size_t M, int OUT)
{
    size_t total = M * (size_t)OUT;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
        y[i] = b[i % OUT];
}

__global__ static void bias_grad_kernel(const float *dy, float *db, size_t M, int OUT)
{
    for (int o = blockIdx.x * blockDim.x + threadIdx.x; o < OUT; o += gridDim.x * blockDim.x) {
        float s = 0.f;
        for (size_t i = 0; i < M; i++) s += dy[i * OUT + o];
        db[o] += s;
    }
}

extern "C" mt_status linear_forward_cuda(mt_node *n)
{
    if (mt_lowp_node_dtype(n) != MT_REAL) return mt_lowp_forward(n, linear_forward_cuda); /* bf16/f16: widened to float32 */
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const int IN = n->in[1]->shape[1], OUT = n->in[1]->shape[0];
    const int M = (int)(mt_numel(n->in[0]) / (size_t)(IN ? IN : 1));
    float *y = (float *)mt_data(n->out[0]);
    float beta = 0.f;
    if (n->in[2]) {
        size_t total = (size_t)M * OUT;
        bias_rows_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(
            (const float *)mt_data(n->in[2]), y, (size_t)M, OUT);
        MT_CUDA_LAUNCH_CHECK();
        beta = 1.f;
    }
    const float one = 1.f;
    MT_CUBLAS_CHECK(cublasSgemm(c->cublas, CUBLAS_OP_T, CUBLAS_OP_N, OUT, M, IN, &one, (const float *)mt_data(n->in[1]),
                                IN, (const float *)mt_data(n->in[0]), IN, &beta, y, OUT));
    return MT_OK;
}

extern "C" mt_status linear_backward_cuda(mt_node *n)
{
    if (mt_lowp_node_dtype(n) != MT_REAL) return mt_lowp_backward(n, linear_backward_cuda); /* bf16/f16: widened to float32 */
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const int IN = n->in[1]->shape[1], OUT = n->in[1]->shape[0];
    const int M = (int)(mt_numel(n->in[0]) / (size_t)(IN ? IN : 1));
    const float *x = (const float *)mt_data(n->in[0]), *w = (const float *)mt_data(n->in[1]);
    const float *dy = (const float *)mt_data(n->gout[0]);
    const float one = 1.f;
    if (n->gin[0]) /* dx^T [IN, M] += w^T [IN, OUT] dy^T [OUT, M] */
        MT_CUBLAS_CHECK(cublasSgemm(c->cublas, CUBLAS_OP_N, CUBLAS_OP_N, IN, M, OUT, &one, w, IN, dy, OUT, &one,
                                    (float *)mt_data(n->gin[0]), IN));
    if (n->gin[1]) /* dw^T [IN, OUT] += x^T [IN, M] dy [M, OUT] */
        MT_CUBLAS_CHECK(cublasSgemm(c->cublas, CUBLAS_OP_N, CUBLAS_OP_T, IN, OUT, M, &one, x, IN, dy, OUT, &one,
                                    (float *)mt_data(n->gin[1]), IN));
    if (n->in[2] && n->gin[2]) {
        bias_grad_kernel<<<(OUT + 255) / 256, 256, 0, c->stream>>>(dy, (float *)mt_data(n->gin[2]), (size_t)M, OUT);
        MT_CUDA_LAUNCH_CHECK();
    }
    return MT_OK;
}
