/* optim/grad_scaler.c: dynamic loss scaling (grad_scaler.h), the arithmetic of
 * torch.cuda.amp.GradScaler (torch/_amp_update_scale_ and
 * _amp_foreach_non_finite_check_and_unscale_). */
#include "grad_scaler.h"

#include <float.h>
#include <math.h>

#include "../core/ops.h"
#include "update.h"

void mt_grad_scaler_init(mt_grad_scaler *gs)
{
    gs->scale = 65536.0;
    gs->growth_factor = 2.0;
    gs->backoff_factor = 0.5;
    gs->growth_interval = 2000;
    gs->growth_tracker = 0;
}

mt_tensor *mt_grad_scaler_scale(const mt_grad_scaler *gs, mt_tensor *loss)
{
    return mt_scale(loss, gs->scale, 0.0);
}

/* g *= inv, then whether g is all finite (a sum of squares in double is finite iff every value is) */
static mt_status unscale_one(mt_tensor *g, mt_real inv, int *finite)
{
    mt_device d = g->storage->device;
    double ss = 0;
    if (d.type == MT_CPU) {
        mt_scale_cpu(mt_numel(g), MT_DATA(g), inv);
        ss = mt_sumsq_cpu(mt_numel(g), MT_DATA(g));
#ifdef MT_WITH_CUDA
    } else if (d.type == MT_CUDA) {
        MT_TRY(mt_scale_cuda(d.index, mt_numel(g), MT_DATA(g), inv));
        MT_TRY(mt_norm2_cuda(d.index, mt_numel(g), MT_DATA(g), &ss));
#endif
    } else {
        char b[32];
        return MT_ERR(MT_ERR_UNSUPPORTED, "grad scaler: gradients on %s are not supported by this build",
                      mt_device_str(d, b, sizeof b));
    }
    *finite = isfinite(ss);
    return MT_OK;
}

mt_status mt_grad_scaler_unscale(const mt_grad_scaler *gs, mt_tensor *const *params, int n, int *found_inf)
{
    *found_inf = 0;
    MT_REQUIRE(gs->scale > 0 && isfinite(gs->scale), "grad scaler: scale %g must be finite and > 0", gs->scale);
    const mt_real inv = (mt_real)(1.0 / gs->scale); /* torch: reciprocal in float32 */
    for (int i = 0; i < n; i++) {
        MT_REQUIRE(params && params[i], "grad scaler: parameter %d is NULL", i);
        mt_tensor *g = params[i]->grad;
        if (!g) continue;
        MT_REQUIRE(g->dtype == MT_REAL, "grad scaler: gradient of parameter %d (%s) is %s, expected %s", i,
                   params[i]->name ? params[i]->name : "unnamed", mt_dtype_name(g->dtype), mt_dtype_name(MT_REAL));
        int finite = 1;
        MT_TRY(unscale_one(g, inv, &finite));
        if (!finite) *found_inf = 1;
    }
    return MT_OK;
}

void mt_grad_scaler_update(mt_grad_scaler *gs, int found_inf)
{
    if (found_inf) {
        gs->scale *= gs->backoff_factor;
        gs->growth_tracker = 0;
        return;
    }
    if (++gs->growth_tracker >= gs->growth_interval) {
        double s = gs->scale * gs->growth_factor;
        if (isfinite(s) && s <= FLT_MAX) gs->scale = s; /* torch keeps the float32 scale finite */
        gs->growth_tracker = 0;
    }
}
