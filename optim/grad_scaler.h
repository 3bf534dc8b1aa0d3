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
} mt_grad_scaler;

/* torch defaults: scale 65536, growth 2, backoff 0.5, interval 2000, tracker 0. */
void mt_grad_scaler_init(mt_grad_scaler *gs);

/* loss * S as a new tensor (differentiable: backward gives S * dloss). NULL on error. */
mt_tensor *mt_grad_scaler_scale(const mt_grad_scaler *gs, mt_tensor *loss);

/* Divides the .grad of params[0..n-1] (those that have one; MT_REAL, any device) by S
 * and sets *found_inf to 1 if any of them then holds an inf or a NaN, else 0
 * (torch._amp_foreach_non_finite_check_and_unscale_). MT_ERR_INVALID for a NULL
 * parameter or a non-MT_REAL gradient. */
mt_status mt_grad_scaler_unscale(const mt_grad_scaler *gs, mt_tensor *const *params, int n, int *found_inf);

/* After a step: found_inf -> S *= backoff, tracker = 0; else tracker += 1 and, on
 * reaching growth_interval, S *= growth (kept finite) and tracker = 0. */
void mt_grad_scaler_update(mt_grad_scaler *gs, int found_inf);

#ifdef __cplusplus
}
#endif
#endif
