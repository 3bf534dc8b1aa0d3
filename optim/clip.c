/* optim/clip.c: gradient clipping by global L2 norm
 * (torch.nn.utils.clip_grad_norm_, norm_type 2, PyTorch 1.13):
 *   total = || (||g_1||, ..., ||g_k||) ||_2 over the parameters that have a .grad,
 *   coef = max_norm / (total + 1e-6), clamped to at most 1, every g_i *= coef.
 * As in torch, the per-tensor norms and total are rounded to the tensor type
 * (float) and coef is computed in it. When the gradients lie back to back in
 * one buffer (an optimizer group's flat gradients, optim/flat.c) the norms are
 * one pass over it (CPU) or stay on the GPU, coef included, so clipping reads
 * nothing back (CUDA), and the scaling is one call over the whole span. */
#include <math.h>
#include <stdlib.h>

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

/* 1 if every parameter has a gradient and they lie back to back in one storage
 * (an optimizer group's flat buffer, optim/flat.c): *flat = the first one's data */
static int grads_flat(mt_tensor *const *params, int n, mt_real **flat)
{
    for (int i = 0; i < n; i++) {
        const mt_tensor *g = params[i] ? params[i]->grad : NULL;
        if (!g || g->dtype != MT_REAL || mt_tensor_is_meta(g)) return 0;
        if (i > 0) {
            const mt_tensor *prev = params[i - 1]->grad;
            if (g->storage != prev->storage || g->offset != prev->offset + mt_nbytes(prev)) return 0;
        }
    }
    *flat = n > 0 ? MT_DATA(params[0]->grad) : NULL;
    return n > 0;
}

/* The flat case: the norms in one pass (CPU) or without reading back (CUDA), one scaling of the span. */
static mt_status clip_flat(mt_tensor *const *params, int n, mt_real *flat, double max_norm, double *total_norm)
{
    size_t *len = mt_malloc(sizeof *len * (size_t)n);
    double *sq = mt_malloc(sizeof *sq * (size_t)n);
    mt_status s = len && sq ? MT_OK : MT_ERR_NOMEM;
    size_t span = 0;
    for (int i = 0; s == MT_OK && i < n; i++) span += (len[i] = mt_numel(params[i]->grad));
    mt_device d = params[0]->grad->storage->device;
    if (s == MT_OK && d.type == MT_CPU) {
        s = mt_segment_sumsq_cpu(n, len, flat, sq);
        double sumsq = 0;
        for (int i = 0; s == MT_OK && i < n; i++) {
            double r = (double)(mt_real)sqrt(sq[i]); /* torch.norm returns the tensor type */
            sumsq += r * r;
        }
        mt_real total = (mt_real)sqrt(sumsq);
        if (s == MT_OK && total_norm) *total_norm = (double)total;
        mt_real coef = (mt_real)max_norm / (total + (mt_real)1e-6);
        if (coef > (mt_real)1.0) coef = (mt_real)1.0;
        if (s == MT_OK) mt_scale_cpu(span, flat, coef);
    }
#ifdef MT_WITH_CUDA
    else if (s == MT_OK && d.type == MT_CUDA)
        s = mt_clip_flat_cuda(d.index, n, len, flat, max_norm, total_norm);
#endif
    else if (s == MT_OK) {
        char b[32];
        s = MT_ERR(MT_ERR_UNSUPPORTED, "clip_grad_norm: gradients on %s are not supported by this build",
                   mt_device_str(d, b, sizeof b));
    }
    free(len);
    free(sq);
    return s;
}

mt_status mt_clip_grad_norm(mt_tensor *const *params, int n, double max_norm, double *total_norm)
{
    MT_REQUIRE(n >= 0 && (n == 0 || params), "clip_grad_norm: %d parameters and params %s", n,
               params ? "given" : "NULL");
    MT_REQUIRE(max_norm >= 0 && isfinite(max_norm), "clip_grad_norm: max_norm %g must be finite and >= 0", max_norm);
    if (total_norm) *total_norm = 0;
    mt_real *flat = NULL;
    if (grads_flat(params, n, &flat)) return clip_flat(params, n, flat, max_norm, total_norm);
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
