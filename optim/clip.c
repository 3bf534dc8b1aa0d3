/* optim/clip.c: gradient clipping by global L2 norm
 * (torch.nn.utils.clip_grad_norm_, norm_type 2, PyTorch 1.13):
 *   total = || (||g_1||, ..., ||g_k||) ||_2 over the parameters that have a .grad,
 *   coef = max_norm / (total + 1e-6), clamped to at most 1, every g_i *= coef.
 * As in torch, the per-tensor norms and total are rounded to the tensor type
 * (float) and coef is computed in it. */
#include <math.h>

#include "../core/device.h"
#include "optim.h"
#include "update.h"

static mt_status grad_norm(const mt_tensor *g, double *out)
{
    mt_device d = g->storage->device;
    if (d.type == MT_CPU) {
        *out = sqrt(mt_sumsq_cpu(mt_numel(g), MT_DATA(g)));
        return MT_OK;
    }
#ifdef MT_WITH_CUDA
    if (d.type == MT_CUDA) return mt_norm2_cuda(d.index, mt_numel(g), MT_DATA(g), out);
#endif
    char b[32];
    return MT_ERR(MT_ERR_UNSUPPORTED, "clip_grad_norm: gradients on %s are not supported by this build",
                  mt_device_str(d, b, sizeof b));
}

static mt_status grad_scale(mt_tensor *g, mt_real a)
{
    mt_device d = g->storage->device;
    if (d.type == MT_CPU) {
        mt_scale_cpu(mt_numel(g), MT_DATA(g), a);
        return MT_OK;
    }
#ifdef MT_WITH_CUDA
    if (d.type == MT_CUDA) return mt_scale_cuda(d.index, mt_numel(g), MT_DATA(g), a);
#endif
    char b[32];
    return MT_ERR(MT_ERR_UNSUPPORTED, "clip_grad_norm: gradients on %s are not supported by this build",
                  mt_device_str(d, b, sizeof b));
}

mt_status mt_clip_grad_norm(mt_tensor *const *params, int n, double max_norm, double *total_norm)
{
    MT_REQUIRE(n >= 0 && (n == 0 || params), "clip_grad_norm: %d parameters and params %s", n,
               params ? "given" : "NULL");
    MT_REQUIRE(max_norm >= 0 && isfinite(max_norm), "clip_grad_norm: max_norm %g must be finite and >= 0", max_norm);
    if (total_norm) *total_norm = 0;
    double sumsq = 0;
    int any = 0;
    for (int i = 0; i < n; i++) {
        if (!params[i]) return MT_ERR(MT_ERR_INVALID, "clip_grad_norm: parameter %d is NULL", i);
        const mt_tensor *g = params[i]->grad;
        if (!g) continue;
        MT_REQUIRE(g->dtype == MT_REAL, "clip_grad_norm: gradient of parameter %d is %s, expected %s", i,
                   mt_dtype_name(g->dtype), mt_dtype_name(MT_REAL));
        double norm = 0;
        MT_TRY(grad_norm(g, &norm));
        double r = (double)(mt_real)norm; /* torch.norm returns the tensor type */
        sumsq += r * r;
        any = 1;
    }
    if (!any) return MT_OK; /* torch returns tensor(0.) and leaves the grads alone */
    mt_real total = (mt_real)sqrt(sumsq);
    if (total_norm) *total_norm = (double)total;
    mt_real coef = (mt_real)max_norm / (total + (mt_real)1e-6);
    if (coef > (mt_real)1.0) coef = (mt_real)1.0;
    for (int i = 0; i < n; i++)
        if (params[i]->grad) MT_TRY(grad_scale(params[i]->grad, coef));
    return MT_OK;
}
