/* core/ops/lowp.h: low-precision (bfloat16 / float16) support shared by the
 * kernels: element-type conversion of whole buffers on any device, and the
 * widening wrappers through which the conv2d / conv_transpose2d / linear
 * kernels take MT_BF16 / MT_F16 inputs by reusing their float32 bodies.
 *
 * Gradient convention (autograd.c): the gradient of an MT_BF16 / MT_F16
 * tensor is held in an MT_REAL tensor whose values are rounded to that
 * tensor's precision, so the engine's accumulation (axpy) stays float32 and a
 * kernel's n->gin[j] for a low-precision input is MT_REAL.
 *
 * This is emulation where the hardware has no bf16/fp16 arithmetic (this CPU:
 * AVX2 + F16C, no AVX512_BF16): inputs are widened to float32 scratch tensors
 * (the caching allocator, so no malloc after the first step), the float32
 * kernel runs, and its results are rounded to the low precision. The values
 * equal a kernel that multiplies bf16/fp16 operands with float32
 * accumulation (PyTorch's CPU bf16 conv / GEMM, cuDNN/cuBLAS with a float32
 * compute type) up to the order of the float32 sums. */
#ifndef MT_LOWP_H
#define MT_LOWP_H

#include "../op.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if dt is MT_BF16 or MT_F16. */
int mt_lowp_dtype(mt_dtype dt);
/* 1 if dt is a floating type a cast takes: MT_F32, MT_F64, MT_BF16, MT_F16. */
int mt_float_dtype(mt_dtype dt);

/* dst[i] = src[i] converted from `sdt` to `ddt` (float types of mt_float_dtype),
 * n elements, on `dev` (both buffers there). Narrowing rounds to nearest even
 * (half.h); float64 -> bf16/f16 goes through float32 (double rounding).
 * MT_ERR_UNSUPPORTED for a non-floating dtype or a device without the kernel. */
mt_status mt_cast_buffer(mt_device dev, void *dst, mt_dtype ddt, const void *src, mt_dtype sdt, size_t n);
/* dst[i] = src[i] rounded to the precision of `via` (MT_BF16 / MT_F16) and kept as
 * mt_real; dst may equal src. */
mt_status mt_round_buffer(mt_device dev, mt_real *dst, const mt_real *src, mt_dtype via, size_t n);
#ifdef MT_WITH_CUDA
mt_status mt_cast_buffer_cuda(mt_device dev, void *dst, mt_dtype ddt, const void *src, mt_dtype sdt, size_t n);
mt_status mt_round_buffer_cuda(mt_device dev, mt_real *dst, const mt_real *src, mt_dtype via, size_t n);
#endif

/* The low-precision dtype of a node's inputs (the first MT_BF16 / MT_F16 one),
 * or MT_REAL when all are MT_REAL. Inputs of two different low-precision
 * types are an error (MT_ERR_INVALID naming the op) reported by
 * mt_lowp_forward. */
mt_dtype mt_lowp_node_dtype(const mt_node *n);

/* Widening forward: replaces each low-precision input n->in[j] by an MT_REAL
 * copy, runs `body` (the op's float32 kernel, which may be the caller itself:
 * it then sees MT_REAL inputs), puts the inputs back and rounds every output
 * to the inputs' precision (the output keeps dtype MT_REAL). */
mt_status mt_lowp_forward(mt_node *n, mt_kernel_fn body);
/* Widening backward: as mt_lowp_forward, and the incoming gradients
 * n->gout[] are rounded to the low precision first (torch: the gradient of a
 * bf16 output is bf16); after `body`, each n->gin[j] of a low-precision input
 * is rounded to that input's precision. */
mt_status mt_lowp_backward(mt_node *n, mt_kernel_fn body);

#ifdef __cplusplus
}
#endif
#endif
