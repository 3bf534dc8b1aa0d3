/* core/ops/to_dtype.c: the differentiable element-type cast
 * (torch.Tensor.to(dtype)) between float32, float64, bfloat16 and float16,
 * and the buffer conversions every low-precision kernel uses (lowp.h).
 *
 * Forward: each element converted, narrowing by round to nearest even (half.h:
 * NaN stays NaN, inf stays inf, float32 values below the target's range go to
 * its subnormals or zero). Backward: the gradient cast back to the input's type
 * (torch: grad.to(x.dtype)); a low-precision input's gradient is an MT_REAL
 * tensor rounded to its precision (lowp.h, gradient convention).
 * The CUDA twin (to_dtype.cu) runs the same conversions (half.h) on the GPU. */
#include "../device.h"
#include "../ops.h"
#include "half.h"
#include "lowp.h"

#include <stddef.h>
#include <string.h>

int mt_lowp_dtype(mt_dtype dt) { return dt == MT_BF16 || dt == MT_F16; }

int mt_float_dtype(mt_dtype dt) { return dt == MT_F32 || dt == MT_F64 || dt == MT_BF16 || dt == MT_F16; }

/* element i of a float buffer of type dt, as double (exact for all four types) */
static inline double load(const void *p, mt_dtype dt, size_t i)
{
    switch (dt) {
    case MT_F32: return ((const float *)p)[i];
    case MT_F64: return ((const double *)p)[i];
    case MT_BF16: return mt_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return mt_f16_to_f32(((const uint16_t *)p)[i]);
    }
}

static inline void store(void *p, mt_dtype dt, size_t i, double v)
{
    switch (dt) {
    case MT_F32: ((float *)p)[i] = (float)v; break;
    case MT_F64: ((double *)p)[i] = v; break;
    case MT_BF16: ((uint16_t *)p)[i] = mt_f32_to_bf16((float)v); break;
    default: ((uint16_t *)p)[i] = mt_f32_to_f16((float)v); break;
    }
}

static void cast_cpu(void *dst, mt_dtype ddt, const void *src, mt_dtype sdt, size_t n)
{
    const ptrdiff_t cnt = (ptrdiff_t)n;
    /* the pairs a mixed-precision step uses get their own loops (vectorisable) */
    if (sdt == ddt) { /* e.g. the backward of a float32 -> bf16 cast: the gradient as is */
        const size_t bytes = n * mt_dtype_size(sdt), chunk = 1 << 20;
        if (dst == src) return;
#pragma omp parallel for schedule(static) if (bytes > (4u << 20))
        for (size_t off = 0; off < bytes; off += chunk)
            memcpy((char *)dst + off, (const char *)src + off, bytes - off < chunk ? bytes - off : chunk);
    } else if (sdt == MT_F32 && ddt == MT_BF16) {
        const float *s = src;
        uint16_t *d = dst;
#pragma omp parallel for simd schedule(static) if (cnt > 65536)
        for (ptrdiff_t i = 0; i < cnt; i++) d[i] = mt_f32_to_bf16(s[i]);
    } else if (sdt == MT_BF16 && ddt == MT_F32) {
        const uint16_t *s = src;
        float *d = dst;
#pragma omp parallel for simd schedule(static) if (cnt > 65536)
        for (ptrdiff_t i = 0; i < cnt; i++) d[i] = mt_bf16_to_f32(s[i]);
    } else if (sdt == MT_F32 && ddt == MT_F16) {
        const float *s = src;
        uint16_t *d = dst;
#pragma omp parallel for schedule(static) if (cnt > 65536)
        for (ptrdiff_t i = 0; i < cnt; i++) d[i] = mt_f32_to_f16(s[i]);
    } else if (sdt == MT_F16 && ddt == MT_F32) {
        const uint16_t *s = src;
        float *d = dst;
#pragma omp parallel for schedule(static) if (cnt > 65536)
        for (ptrdiff_t i = 0; i < cnt; i++) d[i] = mt_f16_to_f32(s[i]);
    } else {
#pragma omp parallel for schedule(static) if (cnt > 65536)
        for (ptrdiff_t i = 0; i < cnt; i++) store(dst, ddt, (size_t)i, load(src, sdt, (size_t)i));
    }
}

mt_status mt_cast_buffer(mt_device dev, void *dst, mt_dtype ddt, const void *src, mt_dtype sdt, size_t n)
{
    MT_REQUIRE(mt_float_dtype(sdt) && mt_float_dtype(ddt), "cast: %s -> %s is not a floating-point conversion",
               mt_dtype_name(sdt), mt_dtype_name(ddt));
    if (dev.type == MT_CPU) {
        cast_cpu(dst, ddt, src, sdt, n);
        return MT_OK;
    }
#ifdef MT_WITH_CUDA
    if (dev.type == MT_CUDA) return mt_cast_buffer_cuda(dev, dst, ddt, src, sdt, n);
#endif
    return MT_ERR(MT_ERR_UNSUPPORTED, "cast: no kernel for device type %d", (int)dev.type);
}

mt_status mt_round_buffer(mt_device dev, mt_real *dst, const mt_real *src, mt_dtype via, size_t n)
{
    MT_REQUIRE(mt_lowp_dtype(via), "round: %s is not a low-precision type (bfloat16, float16)", mt_dtype_name(via));
    if (dev.type == MT_CPU) {
        const ptrdiff_t cnt = (ptrdiff_t)n;
        if (via == MT_BF16) {
#pragma omp parallel for simd schedule(static) if (cnt > 65536)
            for (ptrdiff_t i = 0; i < cnt; i++) dst[i] = (mt_real)mt_round_bf16((float)src[i]);
        } else {
#pragma omp parallel for schedule(static) if (cnt > 65536)
            for (ptrdiff_t i = 0; i < cnt; i++) dst[i] = (mt_real)mt_round_f16((float)src[i]);
        }
        return MT_OK;
    }
#ifdef MT_WITH_CUDA
    if (dev.type == MT_CUDA) return mt_round_buffer_cuda(dev, dst, src, via, n);
#endif
    return MT_ERR(MT_ERR_UNSUPPORTED, "round: no kernel for device type %d", (int)dev.type);
}

/* ------------------------------------------------------------ the cast op --- */

static mt_status to_dtype_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    const mt_dtype dt = *MT_ATTR(n, mt_dtype);
    MT_REQUIRE(mt_float_dtype(x->dtype) && mt_float_dtype(dt),
               "to_dtype: casts between float32, float64, bfloat16 and float16; got %s -> %s",
               mt_dtype_name(x->dtype), mt_float_dtype(dt) ? mt_dtype_name(dt) : "a non-floating type");
    out[0].ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++) out[0].shape[i] = x->shape[i];
    out[0].dtype = dt;
    return MT_OK;
}

static mt_status to_dtype_forward(mt_node *n)
{
    return mt_cast_buffer(n->in[0]->storage->device, mt_data(n->out[0]), n->out[0]->dtype, mt_data(n->in[0]),
                          n->in[0]->dtype, mt_numel(n->in[0]));
}

/* gin = gout cast back: gradients of low-precision tensors are MT_REAL holding rounded values */
static mt_status to_dtype_backward(mt_node *n)
{
    const mt_device dev = n->in[0]->storage->device;
    const mt_tensor *g = n->gout[0];
    mt_tensor *gi = n->gin[0];
    const size_t cnt = mt_numel(g);
    if (mt_lowp_dtype(n->in[0]->dtype)) {
        if (g->dtype == MT_REAL) return mt_round_buffer(dev, mt_data(gi), mt_data(g), n->in[0]->dtype, cnt);
        MT_TRY(mt_cast_buffer(dev, mt_data(gi), MT_REAL, mt_data(g), g->dtype, cnt));
        return mt_round_buffer(dev, mt_data(gi), mt_data(gi), n->in[0]->dtype, cnt);
    }
    return mt_cast_buffer(dev, mt_data(gi), gi->dtype, mt_data(g), g->dtype, cnt);
}

const mt_op mt_op_to_dtype = {
    "to_dtype", to_dtype_shape,
    {to_dtype_forward, MT_CUDA_FN(to_dtype_forward)},
    {to_dtype_backward, MT_CUDA_FN(to_dtype_backward)},
    .low_precision = 1,
};

mt_tensor *mt_to_dtype(mt_tensor *x, mt_dtype dt)
{
    if (x && x->dtype == dt) return mt_tensor_retain(x);
    mt_tensor *in[1] = {x};
    return mt_op1(&mt_op_to_dtype, 1, 1, in, &dt, sizeof dt);
}
