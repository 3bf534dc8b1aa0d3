/* core/ops/unary.cu: CUDA twin of unary.c (grid-stride elementwise kernels;
 * same formulas and the same derivative conventions at the kinks). */
#include "../cuda_common.h"
#include "unary.h"

__device__ static float sigmoid_f(float x)
{
    if (x >= 0.f) return 1.f / (1.f + expf(-x));
    float e = expf(x);
    return e / (1.f + e);
}

__global__ static void unary_forward_kernel(int k, float p, float q, const float *x, float *y, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v = x[i], r;
        switch (k) {
        case MT_UNARY_LEAKY_RELU: r = v > 0.f ? v : v * p; break;
        case MT_UNARY_SIGMOID: r = sigmoid_f(v); break;
        case MT_UNARY_TANH: r = tanhf(v); break;
        case MT_UNARY_SILU: r = v * sigmoid_f(v); break;
        case MT_UNARY_ABS: r = fabsf(v); break;
        case MT_UNARY_CLAMP: r = v < p ? p : (v > q ? q : v); break;
        case MT_UNARY_EXP: r = expf(v); break;
        case MT_UNARY_LOG: r = logf(v); break;
        case MT_UNARY_SQRT: r = sqrtf(v); break;
        case MT_UNARY_NEG: r = -v; break;
        case MT_UNARY_SQUARE: r = v * v; break;
        case MT_UNARY_ATAN: r = atanf(v); break;
        default: r = p * v + q; break;
        }
        y[i] = r;
    }
}

__global__ static void unary_backward_kernel(int k, float p, float q, const float *x, const float *y,
                                             const float *dy, float *dx, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v = x[i], o = y[i], d;
        switch (k) {
        case MT_UNARY_LEAKY_RELU: d = v > 0.f ? 1.f : p; break;
        case MT_UNARY_SIGMOID: d = o * (1.f - o); break;
        case MT_UNARY_TANH: d = 1.f - o * o; break;
        case MT_UNARY_SILU: {
            float s = sigmoid_f(v);
            d = s * (1.f + v * (1.f - s));
            break;
        }
        case MT_UNARY_ABS: d = v > 0.f ? 1.f : (v < 0.f ? -1.f : 0.f); break;
        case MT_UNARY_CLAMP: d = (v >= p && v <= q) ? 1.f : 0.f; break;
        case MT_UNARY_EXP: d = o; break;
        case MT_UNARY_LOG: d = 1.f / v; break;
        case MT_UNARY_SQRT: d = 1.f / (2.f * o); break;
        case MT_UNARY_NEG: d = -1.f; break;
        case MT_UNARY_SQUARE: d = 2.f * v; break;
        case MT_UNARY_ATAN: d = 1.f / (1.f + v * v); break;
        default: d = p; break;
        }
        dx[i] = dy[i] * d;
    }
}

extern "C" mt_status unary_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_unary_attr *a = MT_ATTR(n, mt_unary_attr);
    size_t count = mt_numel(n->in[0]);
    if (!count) return MT_OK;
    unary_forward_kernel<<<mt_cuda_blocks(count), MT_CUDA_THREADS, 0, c->stream>>>(
        a->kind, (float)a->a, (float)a->b, (const float *)mt_data(n->in[0]), (float *)mt_data(n->out[0]), count);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status unary_backward_cuda(mt_node *n)
{
    if (!n->gin[0]) return MT_OK;
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_unary_attr *a = MT_ATTR(n, mt_unary_attr);
    size_t count = mt_numel(n->in[0]);
    if (!count) return MT_OK;
    unary_backward_kernel<<<mt_cuda_blocks(count), MT_CUDA_THREADS, 0, c->stream>>>(
        a->kind, (float)a->a, (float)a->b, (const float *)mt_data(n->in[0]), (const float *)mt_data(n->out[0]),
        (const float *)mt_data(n->gout[0]), (float *)mt_data(n->gin[0]), count);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
