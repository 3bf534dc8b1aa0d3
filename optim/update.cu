/* optim/update.cu: CUDA twins of optim/update.c (SGD, Adam/AdamW, Adadelta
 * element-wise updates). Same arithmetic and order as the CPU loops. */
#include "../core/cuda_common.h"
#include "scalars.h"
#include "update.h"

#define GRID_STRIDE(i, n) \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

__device__ static inline void sgd_elem(size_t i, float *p, const float *g, float *buf, const mt_sgd_scalars &s)
{
    float d = g[i];
    if (s.has_wd) d = __fadd_rn(d, __fmul_rn(s.wd, p[i]));
    if (s.has_momentum) {
        float b = s.first ? d : __fadd_rn(__fmul_rn(buf[i], s.momentum), __fmul_rn(s.one_minus_dampening, d));
        buf[i] = b;
        d = s.nesterov ? __fadd_rn(d, __fmul_rn(s.momentum, b)) : b;
    }
    p[i] = __fadd_rn(p[i], __fmul_rn(s.neg_lr, d));
}

__device__ static inline void adam_elem(size_t i, float *p, const float *g, float *m, float *v, float *vmax,
                                        const mt_adam_scalars &s)
{
    float gi = g[i];
    float pi = p[i];
    if (s.decoupled) pi = __fmul_rn(pi, s.decay);
    else if (s.has_wd) gi = __fadd_rn(gi, __fmul_rn(s.wd, pi));
    float mi = __fadd_rn(__fmul_rn(m[i], s.beta1), __fmul_rn(s.one_minus_beta1, gi));
    float vi = __fadd_rn(__fmul_rn(v[i], s.beta2), __fmul_rn(__fmul_rn(s.one_minus_beta2, gi), gi));
    m[i] = mi;
    v[i] = vi;
    if (s.amsgrad) {
        float old = vmax[i];
        if (old > vi || isnan(old)) vi = old;
        vmax[i] = vi;
    }
    float denom = __fadd_rn(__fdiv_rn(sqrtf(vi), s.bias_correction2_sqrt), s.eps);
    p[i] = __fadd_rn(pi, __fdiv_rn(__fmul_rn(s.neg_step_size, mi), denom));
}

__device__ static inline void adadelta_elem(size_t i, float *p, const float *g, float *sq, float *acc,
                                            const mt_adadelta_scalars &s)
{
    float gi = g[i];
    if (s.has_wd) gi = __fadd_rn(gi, __fmul_rn(s.wd, p[i]));
    float sqi = __fadd_rn(__fmul_rn(sq[i], s.rho), __fmul_rn(__fmul_rn(s.one_minus_rho, gi), gi));
    sq[i] = sqi;
    float std = sqrtf(__fadd_rn(sqi, s.eps));
    float delta = __fmul_rn(__fdiv_rn(sqrtf(__fadd_rn(acc[i], s.eps)), std), gi);
    acc[i] = __fadd_rn(__fmul_rn(acc[i], s.rho), __fmul_rn(__fmul_rn(s.one_minus_rho, delta), delta));
    p[i] = __fadd_rn(p[i], __fmul_rn(s.neg_lr, delta));
}

__global__ static void sgd_kernel(size_t n, float *p, const float *g, float *buf, mt_sgd_scalars s)
{
    GRID_STRIDE(i, n) sgd_elem(i, p, g, buf, s);
}

__global__ static void adam_kernel(size_t n, float *p, const float *g, float *m, float *v, float *vmax,
                                   mt_adam_scalars s)
{
    GRID_STRIDE(i, n) adam_elem(i, p, g, m, v, vmax, s);
}

__global__ static void adadelta_kernel(size_t n, float *p, const float *g, float *sq, float *acc,
                                       mt_adadelta_scalars s)
{
    GRID_STRIDE(i, n) adadelta_elem(i, p, g, sq, acc, s);
}

/* ---- device-resident scalars (optim/scalars.h): the same element arithmetic, the
 * scalars read from the group's block, which a one-thread prepare kernel advanced ---- */

__global__ static void dev_prepare_kernel(mt_optim_dev_scalars *b, const float *found_inf, int first)
{
    if (blockIdx.x == 0 && threadIdx.x == 0) mt_optim_dev_prepare(b, found_inf, first);
}

__global__ static void dev_update_kernel(int kind, size_t n, float *p, const float *g, float *s0, float *s1,
                                         float *s2, float *s3, const mt_optim_dev_scalars *b)
{
    if (b->skipped) return; /* fp16: found_inf, the step is skipped on the device */
    if (kind == MT_OPTIM_SGD) {
        const mt_sgd_scalars s = b->sgd;
        float *buf = s.has_momentum ? s0 : NULL;
        GRID_STRIDE(i, n) sgd_elem(i, p, g, buf, s);
    } else if (kind == MT_OPTIM_ADADELTA) {
        const mt_adadelta_scalars s = b->adadelta;
        GRID_STRIDE(i, n) adadelta_elem(i, p, g, s1, s2, s);
    } else {
        const mt_adam_scalars s = b->adam;
        float *vmax = s.amsgrad ? s3 : NULL;
        GRID_STRIDE(i, n) adam_elem(i, p, g, s1, s2, vmax, s);
    }
}

static mt_cuda_ctx *ctx_of(int device) { return mt_cuda_get(device); }

extern "C" mt_status mt_sgd_update_cuda(int device, size_t n, mt_real *p, const mt_real *g, mt_real *buf,
                                        mt_sgd_scalars s)
{
    mt_cuda_ctx *c = ctx_of(device);
    if (!c) return mt_last_status();
    if (n == 0) return MT_OK;
    sgd_kernel<<<mt_cuda_blocks(n), MT_CUDA_THREADS, 0, c->stream>>>(n, p, g, buf, s);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status mt_adam_update_cuda(int device, size_t n, mt_real *p, const mt_real *g, mt_real *m,
                                         mt_real *v, mt_real *vmax, mt_adam_scalars s)
{
    mt_cuda_ctx *c = ctx_of(device);
    if (!c) return mt_last_status();
    if (n == 0) return MT_OK;
    adam_kernel<<<mt_cuda_blocks(n), MT_CUDA_THREADS, 0, c->stream>>>(n, p, g, m, v, vmax, s);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status mt_adadelta_update_cuda(int device, size_t n, mt_real *p, const mt_real *g, mt_real *sq,
                                             mt_real *acc, mt_adadelta_scalars s)
{
    mt_cuda_ctx *c = ctx_of(device);
    if (!c) return mt_last_status();
    if (n == 0) return MT_OK;
    adadelta_kernel<<<mt_cuda_blocks(n), MT_CUDA_THREADS, 0, c->stream>>>(n, p, g, sq, acc, s);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status mt_optim_dev_prepare_cuda(int device, mt_optim_dev_scalars *b, const mt_real *found_inf, int first)
{
    mt_cuda_ctx *c = ctx_of(device);
    if (!c) return mt_last_status();
    dev_prepare_kernel<<<1, 1, 0, c->stream>>>(b, found_inf, first);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status mt_optim_dev_update_cuda(int device, int kind, size_t n, mt_real *p, const mt_real *g,
                                              mt_real *const *slot, const mt_optim_dev_scalars *b)
{
    mt_cuda_ctx *c = ctx_of(device);
    if (!c) return mt_last_status();
    if (n == 0) return MT_OK;
    dev_update_kernel<<<mt_cuda_blocks(n), MT_CUDA_THREADS, 0, c->stream>>>(kind, n, p, g, slot[0], slot[1], slot[2],
                                                                            slot[3], b);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
