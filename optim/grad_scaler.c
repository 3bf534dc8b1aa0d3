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
    gs->dev = NULL;
}

void mt_grad_scaler_free(mt_grad_scaler *gs)
{
    if (!gs) return;
    mt_tensor_release(gs->dev);
    gs->dev = NULL;
}

/* a new view of element k of the device state, shaped [1]*ndim (like a one-value loss) */
static mt_tensor *state_view(const mt_grad_scaler *gs, int k, int ndim)
{
    mt_tensor *v = mt_tensor_alias(gs->dev);
    if (!v) return NULL;
    v->ndim = ndim;
    for (int i = 0; i < ndim; i++) v->shape[i] = 1;
    v->offset = gs->dev->offset + (size_t)k * sizeof(mt_real);
    return v;
}

mt_tensor *mt_grad_scaler_scale(const mt_grad_scaler *gs, mt_tensor *loss)
{
    if (!gs->dev) return mt_scale(loss, gs->scale, 0.0);
    mt_tensor *s = state_view(gs, 0, loss->ndim); /* S from device memory */
    mt_tensor *y = s ? mt_mul(loss, s) : NULL;
    mt_tensor_release(s);
    return y;
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

/* ---- device-resident state ---- */

enum { ST_SCALE = 0, ST_FOUND_INF = 1, ST_TRACKER = 2, ST_SKIPPED = 3, ST_N = 4 };

mt_status mt_grad_scaler_to_device(mt_grad_scaler *gs, mt_device dev)
{
    MT_REQUIRE(gs->scale > 0 && isfinite(gs->scale), "grad scaler: scale %g must be finite and > 0", gs->scale);
    mt_real host[ST_N] = {(mt_real)gs->scale, 0, (mt_real)gs->growth_tracker, 0};
    int n = ST_N;
    if (!gs->dev || !mt_device_eq(gs->dev->storage->device, dev)) {
        mt_tensor *t = mt_tensor_zeros(MT_REAL, dev, 1, &n);
        if (!t) return mt_last_status();
        mt_tensor_release(gs->dev);
        gs->dev = t;
    }
    return mt_tensor_from_host_into(gs->dev, host, sizeof host);
}

mt_status mt_grad_scaler_sync(mt_grad_scaler *gs, long *skipped)
{
    if (skipped) *skipped = 0;
    if (!gs->dev) return MT_OK;
    mt_real host[ST_N];
    MT_TRY(mt_tensor_to_host(gs->dev, host, sizeof host));
    gs->scale = (double)host[ST_SCALE];
    gs->growth_tracker = (long)host[ST_TRACKER];
    if (skipped) *skipped = (long)host[ST_SKIPPED];
    if (host[ST_SKIPPED] == 0) return MT_OK;
    host[ST_SKIPPED] = 0;
    return mt_tensor_from_host_into(gs->dev, host, sizeof host);
}

mt_tensor *mt_grad_scaler_found_inf(const mt_grad_scaler *gs) { return gs->dev ? state_view(gs, ST_FOUND_INF, 1) : NULL; }

static mt_status no_device_state(void)
{
    return MT_ERR(MT_ERR_STATE, "grad scaler: no device state (call mt_grad_scaler_to_device first)");
}

mt_status mt_grad_scaler_unscale_device(mt_grad_scaler *gs, mt_tensor *const *flat, int n)
{
    if (!gs->dev) return no_device_state();
    mt_device d = gs->dev->storage->device;
    mt_real *st = MT_DATA(gs->dev);
    const mt_backend *b = mt_backend_get(d.type);
    if (!b) return mt_last_status();
    MT_TRY(b->memset0(b->ctx, d.index, st + ST_FOUND_INF, sizeof(mt_real)));
    for (int i = 0; i < n; i++) {
        if (!flat[i]) continue;
        MT_REQUIRE(flat[i]->dtype == MT_REAL && mt_device_eq(flat[i]->storage->device, d),
                   "grad scaler: gradient buffer %d must be %s on the scaler's device", i, mt_dtype_name(MT_REAL));
        mt_real *g = MT_DATA(flat[i]);
        size_t len = mt_numel(flat[i]);
        if (d.type == MT_CPU) {
            const mt_real inv = (mt_real)(1.0 / (double)st[ST_SCALE]); /* torch: reciprocal in double, then float */
            mt_scale_cpu(len, g, inv);
            if (!isfinite(mt_sumsq_cpu(len, g))) st[ST_FOUND_INF] = 1;
#ifdef MT_WITH_CUDA
        } else if (d.type == MT_CUDA) {
            MT_TRY(mt_grad_scaler_unscale_cuda(d.index, st, g, len));
#endif
        } else {
            char buf[32];
            return MT_ERR(MT_ERR_UNSUPPORTED, "grad scaler: gradients on %s are not supported by this build",
                          mt_device_str(d, buf, sizeof buf));
        }
    }
    return MT_OK;
}

/* torch._amp_update_scale_ on the state block (host memory) */
static void update_state(mt_real *st, double growth, double backoff, int interval)
{
    if (st[ST_FOUND_INF] != 0) {
        st[ST_SCALE] = (mt_real)(st[ST_SCALE] * backoff);
        st[ST_TRACKER] = 0;
        st[ST_SKIPPED] = st[ST_SKIPPED] + 1;
        return;
    }
    mt_real successful = st[ST_TRACKER] + 1;
    if (successful >= (mt_real)interval) {
        double s = (double)st[ST_SCALE] * growth;
        if (isfinite(s) && s <= FLT_MAX) st[ST_SCALE] = (mt_real)s; /* kept finite in float32 */
        st[ST_TRACKER] = 0;
    } else {
        st[ST_TRACKER] = successful;
    }
}

mt_status mt_grad_scaler_update_device(mt_grad_scaler *gs)
{
    if (!gs->dev) return no_device_state();
    mt_device d = gs->dev->storage->device;
    if (d.type == MT_CPU) {
        update_state(MT_DATA(gs->dev), gs->growth_factor, gs->backoff_factor, gs->growth_interval);
        return MT_OK;
    }
#ifdef MT_WITH_CUDA
    if (d.type == MT_CUDA)
        return mt_grad_scaler_update_cuda(d.index, MT_DATA(gs->dev), gs->growth_factor, gs->backoff_factor,
                                          gs->growth_interval);
#endif
    char buf[32];
    return MT_ERR(MT_ERR_UNSUPPORTED, "grad scaler: state on %s is not supported by this build",
                  mt_device_str(d, buf, sizeof buf));
}
