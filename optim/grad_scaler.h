/* optim/grad_scaler.h: dynamic loss scaling for float16 mixed precision
 * (torch.cuda.amp.GradScaler, PyTorch 1.13 defaults and semantics).
 *
 * A float16 gradient underflows below 2^-24; multiplying the loss by a large
 * scale S before backward keeps small gradients representable. Before the
 * optimizer step the gradients are divided by S (unscaled, so clipping and
 * the update see true gradients). A step whose gradients hold an inf or a
 * NaN (the scale was too large) is skipped and S is multiplied by
 * backoff_factor; after growth_interval steps in a row without one, S is
 * multiplied by growth_factor.
 *
 * Usage (one network; the trainer does this when train.precision is fp16):
 *   mt_grad_scaler gs; mt_grad_scaler_init(&gs);
 *   loop: loss = ...;  scaled = mt_grad_scaler_scale(&gs, loss);  mt_backward(scaled, NULL, 0);
 *         mt_grad_scaler_unscale(&gs, params, n, &found_inf);
 *         if (!found_inf) { clip ...; mt_optim_step(o); }
 *         mt_optim_zero_grad(o);  mt_grad_scaler_update(&gs, found_inf);
 */
#ifndef MT_GRAD_SCALER_H
#define MT_GRAD_SCALER_H

#include "../core/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_grad_scaler {
    double scale;           /* current S (init_scale 2^16) */
    double growth_factor;   /* 2.0 */
    double backoff_factor;  /* 0.5 */
    int growth_interval;    /* 2000 steps */
    long growth_tracker;    /* steps in a row without inf/NaN since the last change of S */
    mt_tensor *dev;         /* device-resident state (mt_grad_scaler_to_device), NULL = on the host:
                             * [4] MT_REAL {scale, found_inf, growth_tracker, steps skipped} */
} mt_grad_scaler;

/* torch defaults: scale 65536, growth 2, backoff 0.5, interval 2000, tracker 0, on the host. */
void mt_grad_scaler_init(mt_grad_scaler *gs);
/* Releases the device state (the host fields stay as last synced). */
void mt_grad_scaler_free(mt_grad_scaler *gs);

/* loss * S as a new tensor (differentiable: backward gives S * dloss). NULL on error.
 * With device state, S is read from device memory (no kernel argument changes). */
mt_tensor *mt_grad_scaler_scale(const mt_grad_scaler *gs, mt_tensor *loss);

/* Divides the .grad of params[0..n-1] (those that have one; MT_REAL, any device) by S
 * and sets *found_inf to 1 if any of them then holds an inf or a NaN, else 0
 * (torch._amp_foreach_non_finite_check_and_unscale_). MT_ERR_INVALID for a NULL
 * parameter or a non-MT_REAL gradient. */
mt_status mt_grad_scaler_unscale(const mt_grad_scaler *gs, mt_tensor *const *params, int n, int *found_inf);

/* After a step: found_inf -> S *= backoff, tracker = 0; else tracker += 1 and, on
 * reaching growth_interval, S *= growth (kept finite) and tracker = 0. */
void mt_grad_scaler_update(mt_grad_scaler *gs, int found_inf);

/* ---- device-resident state (a step captured in a CUDA graph, train.cuda_graph) ----
 * torch.cuda.amp.GradScaler keeps S, found_inf and the growth tracker on the GPU and
 * updates them with kernels (_amp_foreach_non_finite_check_and_unscale_,
 * _amp_update_scale_); these do the same, so a step reads nothing back. The skip
 * decision is the optimizer's: mt_optim_set_found_inf(o, mt_grad_scaler_found_inf(gs))
 * makes its update kernels skip the step on the device. Same code on the CPU backend. */
/* Moves S and the tracker to a new device state on `dev` (found_inf 0, skipped 0);
 * again after a change of the host fields (a checkpoint load) to re-upload them. */
mt_status mt_grad_scaler_to_device(mt_grad_scaler *gs, mt_device dev);
/* Reads the device state back into scale and growth_tracker (one device-to-host copy),
 * *skipped = steps skipped on the device since the last sync (then zeroed there).
 * Nothing without device state (*skipped = 0). */
mt_status mt_grad_scaler_sync(mt_grad_scaler *gs, long *skipped);
/* A new one-element view of found_inf in the device state (NULL without one). */
mt_tensor *mt_grad_scaler_found_inf(const mt_grad_scaler *gs);
/* found_inf = 0, then for each of the n flat gradient buffers g: g *= (float)(1 / S) and
 * found_inf = 1 if any element is an inf or a NaN (torch's reciprocal in double, rounded). */
mt_status mt_grad_scaler_unscale_device(mt_grad_scaler *gs, mt_tensor *const *flat, int n);
/* mt_grad_scaler_update on the device from found_inf; counts a skipped step. */
mt_status mt_grad_scaler_update_device(mt_grad_scaler *gs);

#ifdef MT_WITH_CUDA
/* CUDA twins (optim/grad_scaler.cu) on GPU `device`'s stream; state = the [4] block. */
mt_status mt_grad_scaler_unscale_cuda(int device, mt_real *state, mt_real *g, size_t n);
mt_status mt_grad_scaler_update_cuda(int device, mt_real *state, double growth_factor, double backoff_factor,
                                     int growth_interval);
#endif

#ifdef __cplusplus
}
#endif
#endif
