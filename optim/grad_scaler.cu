/* optim/grad_scaler.cu: CUDA twins of the GradScaler's device-resident state
 * (grad_scaler.h): torch's _amp_foreach_non_finite_check_and_unscale_ and
 * _amp_update_scale_ as kernels on the state block {scale, found_inf,
 * growth_tracker, skipped}, so a captured step reads nothing back. */
#include <float.h>

#include "../core/cuda_common.h"
#include "grad_scaler.h"

__global__ static void unscale_kernel(float *state, float *g, size_t n)
{
    const float inv = (float)(1.0 / (double)state[0]); /* torch: scale.double().reciprocal().float() */
    int bad = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v = g[i];
        if (!isfinite(v)) bad = 1;
        g[i] = __fmul_rn(v, inv);
    }
    if (bad) state[1] = 1.f; /* every writer writes the same value: no atomics needed */
}

__global__ static void update_kernel(float *state, double growth, double backoff, int interval)
{
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    if (state[1] != 0.f) {
        state[0] = (float)((double)state[0] * backoff);
        state[2] = 0.f;
        state[3] = state[3] + 1.f;
        return;
    }
    float successful = state[2] + 1.f;
    if (successful >= (float)interval) {
        double s = (double)state[0] * growth;
        if (isfinite(s) && s <= FLT_MAX) state[0] = (float)s;
        state[2] = 0.f;
    } else {
        state[2] = successful;
    }
}

extern "C" mt_status mt_grad_scaler_unscale_cuda(int device, mt_real *state, mt_real *g, size_t n)
{
    mt_cuda_ctx *c = mt_cuda_get(device);
    if (!c) return mt_last_status();
    if (n == 0) return MT_OK;
    unscale_kernel<<<mt_cuda_blocks(n), MT_CUDA_THREADS, 0, c->stream>>>(state, g, n);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status mt_grad_scaler_update_cuda(int device, mt_real *state, double growth_factor, double backoff_factor,
                                                int growth_interval)
{
    mt_cuda_ctx *c = mt_cuda_get(device);
    if (!c) return mt_last_status();
    update_kernel<<<1, 1, 0, c->stream>>>(state, growth_factor, backoff_factor, growth_interval);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
