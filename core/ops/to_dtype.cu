/* core/ops/to_dtype.cu: CUDA twin of the buffer conversions of to_dtype.c
 * (lowp.h): the same bit-exact scalar conversions (half.h) in a grid-stride
 * kernel on the node's stream. */
#include "../cuda_common.h"
#include "../ops.h"
#include "half.h"
#include "lowp.h"

__device__ static inline double load_el(const void *p, int dt, size_t i)
{
    switch (dt) {
    case MT_F32: return ((const float *)p)[i];
    case MT_F64: return ((const double *)p)[i];
    case MT_BF16: return mt_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return mt_f16_to_f32(((const uint16_t *)p)[i]);
    }
}

__device__ static inline void store_el(void *p, int dt, size_t i, double v)
{
    switch (dt) {
    case MT_F32: ((float *)p)[i] = (float)v; break;
    case MT_F64: ((double *)p)[i] = v; break;
    case MT_BF16: ((uint16_t *)p)[i] = mt_f32_to_bf16((float)v); break;
    default: ((uint16_t *)p)[i] = mt_f32_to_f16((float)v); break;
    }
}

__global__ static void cast_kernel(void *dst, int ddt, const void *src, int sdt, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        store_el(dst, ddt, i, load_el(src, sdt, i));
}

__global__ static void round_kernel(mt_real *dst, const mt_real *src, int via, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = (mt_real)(via == MT_BF16 ? mt_round_bf16((float)src[i]) : mt_round_f16((float)src[i]));
}

extern "C" mt_status mt_cast_buffer_cuda(mt_device dev, void *dst, mt_dtype ddt, const void *src, mt_dtype sdt,
                                         size_t n)
{
    mt_cuda_ctx *c = mt_cuda_get(dev.index);
    if (!c) return mt_last_status();
    if (!n) return MT_OK;
    cast_kernel<<<mt_cuda_blocks(n), MT_CUDA_THREADS, 0, c->stream>>>(dst, (int)ddt, src, (int)sdt, n);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status mt_round_buffer_cuda(mt_device dev, mt_real *dst, const mt_real *src, mt_dtype via, size_t n)
{
    mt_cuda_ctx *c = mt_cuda_get(dev.index);
    if (!c) return mt_last_status();
    if (!n) return MT_OK;
    round_kernel<<<mt_cuda_blocks(n), MT_CUDA_THREADS, 0, c->stream>>>(dst, src, (int)via, n);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
