/* core/ops/linear.cu: CUDA twin of linear.c on cuBLAS (cublasSgemm).
 * Row-major [M, IN] is column-major [IN, M], so y^T = w x^T becomes
 * cublasSgemm(T, N, OUT, M, IN, w, x) etc.; the bias is broadcast into y
 * first (beta = 1), and db is a column sum of dy. cuBLAS math mode (TF32 or
 * not) is set on the handle by core/cuda.cu.
 * bf16 / f16 inputs (autocast, core/ops/lowp.h): cublasGemmEx on the 16-bit
 * operands with CUBLAS_COMPUTE_32F (float32 accumulation) into the float32
 * output / gradients, which are then rounded to the 16-bit precision; dy is
 * cast to the 16-bit type first. Compiled here, not run (no GPU). */
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

/* the cuBLAS type of a 16-bit tensor type */
static cudaDataType_t cublas_type(mt_dtype dt) { return dt == MT_BF16 ? CUDA_R_16BF : CUDA_R_16F; }

/* a new tensor of t's shape on its device, of type dt, holding t's values cast (rounded) */
static mt_tensor *cast_copy(const mt_tensor *t, mt_dtype dt)
{
    mt_tensor *c = mt_tensor_new(dt, t->storage->device, t->ndim, t->shape);
    if (c && mt_cast_buffer(t->storage->device, mt_data(c), dt, mt_data(t), t->dtype, mt_numel(t)) != MT_OK) {
        mt_tensor_release(c);
        return NULL;
    }
    return c;
}

static mt_status linear_forward_lowp(mt_node *n, mt_dtype dt)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    MT_REQUIRE(n->in[0]->dtype == dt && n->in[1]->dtype == dt && (!n->in[2] || n->in[2]->dtype == dt),
               "linear: input, weight and bias must share one type (got %s, %s)", mt_dtype_name(n->in[0]->dtype),
               mt_dtype_name(n->in[1]->dtype));
    const int IN = n->in[1]->shape[1], OUT = n->in[1]->shape[0];
    const int M = (int)(mt_numel(n->in[0]) / (size_t)(IN ? IN : 1));
    float *y = (float *)mt_data(n->out[0]);
    float beta = 0.f;
    if (n->in[2]) {
        mt_tensor *b32 = cast_copy(n->in[2], MT_REAL);
        if (!b32) return mt_last_status();
        size_t total = (size_t)M * OUT;
        bias_rows_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>((const float *)mt_data(b32), y,
                                                                                   (size_t)M, OUT);
        mt_tensor_release(b32); /* the caching allocator reuses it in stream order */
        MT_CUDA_LAUNCH_CHECK();
        beta = 1.f;
    }
    const float one = 1.f;
    const cudaDataType_t t = cublas_type(dt);
    MT_CUBLAS_CHECK(cublasGemmEx(c->cublas, CUBLAS_OP_T, CUBLAS_OP_N, OUT, M, IN, &one, mt_data(n->in[1]), t, IN,
                                 mt_data(n->in[0]), t, IN, &beta, y, CUDA_R_32F, OUT, CUBLAS_COMPUTE_32F,
                                 CUBLAS_GEMM_DEFAULT));
    return mt_round_buffer(n->out[0]->storage->device, y, y, dt, mt_numel(n->out[0]));
}

static mt_status linear_backward_lowp(mt_node *n, mt_dtype dt)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const int IN = n->in[1]->shape[1], OUT = n->in[1]->shape[0];
    const int M = (int)(mt_numel(n->in[0]) / (size_t)(IN ? IN : 1));
    const mt_device dev = n->out[0]->storage->device;
    mt_tensor *dy16 = cast_copy(n->gout[0], dt); /* torch: the gradient of a 16-bit output is 16-bit */
    if (!dy16) return mt_last_status();
    const float one = 1.f;
    const cudaDataType_t t = cublas_type(dt);
    mt_status s = MT_OK;
    cublasStatus_t e = CUBLAS_STATUS_SUCCESS;
    if (n->gin[0]) /* dx^T [IN, M] += w^T [IN, OUT] dy^T [OUT, M] */
        e = cublasGemmEx(c->cublas, CUBLAS_OP_N, CUBLAS_OP_N, IN, M, OUT, &one, mt_data(n->in[1]), t, IN,
                         mt_data(dy16), t, OUT, &one, mt_data(n->gin[0]), CUDA_R_32F, IN, CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT);
    if (e == CUBLAS_STATUS_SUCCESS && n->gin[1]) /* dw^T [IN, OUT] += x^T [IN, M] dy [M, OUT] */
        e = cublasGemmEx(c->cublas, CUBLAS_OP_N, CUBLAS_OP_T, IN, OUT, M, &one, mt_data(n->in[0]), t, IN,
                         mt_data(dy16), t, OUT, &one, mt_data(n->gin[1]), CUDA_R_32F, IN, CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT);
    if (e != CUBLAS_STATUS_SUCCESS) s = mt_cublas_status(e, "cublasGemmEx (linear backward, 16-bit)", __FILE__, __LINE__);
    if (s == MT_OK && n->in[2] && n->gin[2]) { /* db from dy rounded to the 16-bit type */
        mt_tensor *dyr = cast_copy(dy16, MT_REAL);
        if (!dyr) s = mt_last_status();
        else {
            bias_grad_kernel<<<(OUT + 255) / 256, 256, 0, c->stream>>>((const float *)mt_data(dyr),
                                                                         (float *)mt_data(n->gin[2]), (size_t)M, OUT);
            mt_tensor_release(dyr);
            cudaError_t ce = cudaGetLastError();
            if (ce != cudaSuccess) s = mt_cuda_status(ce, "bias_grad_kernel", __FILE__, __LINE__);
        }
    }
    mt_tensor_release(dy16);
    for (int j = 0; j < 3 && s == MT_OK; j++) /* gradients of 16-bit inputs hold 16-bit values (lowp.h) */
        if (n->in[j] && n->gin[j] && n->in[j]->dtype == dt)
            s = mt_round_buffer(dev, (mt_real *)mt_data(n->gin[j]), (const mt_real *)mt_data(n->gin[j]), dt,
                                mt_numel(n->gin[j]));
    return s;
}

extern "C" mt_status linear_forward_cuda(mt_node *n)
{
    const mt_dtype dt = mt_lowp_node_dtype(n);
    if (dt != MT_REAL) return linear_forward_lowp(n, dt); /* bf16/f16: cublasGemmEx, float32 accumulation */
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
    const mt_dtype dt = mt_lowp_node_dtype(n);
    if (dt != MT_REAL) return linear_backward_lowp(n, dt);
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
