/* core/ops/loss_cross_entropy.c: cross-entropy over class logits
 * (torch.nn.functional.cross_entropy with weight, ignore_index, reduction),
 * plus a per-position weight map (U-Net, Ronneberger et al. 2015, eq. 1).
 *
 * logits [N, C, d1..dk] (k >= 0), target MT_I32 [N, d1..dk], class_weight [C]
 * or NULL, pixel_weight [N, d1..dk] or NULL. Position p with class t = target[p]:
 *   nll_p = logsumexp_c(x[:, c, p]) - x[t, p]   (max-subtracted, stable)
 *   w_p   = class_weight[t] * pixel_weight[p], 0 where t == ignore_index
 *   out   = NONE: w_p nll_p per position (shape of target)
 *           SUM: sum_p w_p nll_p
 *           MEAN: that sum / sum_p class_weight[t_p] over non-ignored p (PyTorch;
 *                 nan when every position is ignored, as PyTorch)
 *           WEIGHTED_MEAN: that sum / sum_p w_p (0 when the sum of weights is 0)
 * Gradient (logits only): dx[c, p] = g_p w_p (softmax_c(x[:, p]) - [c == t]).
 * saved[0] (reductions other than NONE): 0-d tensor with the scale 1/denominator.
 * Targets outside [0, C) other than ignore_index are MT_ERR_INVALID. CUDA twin:
 * loss_cross_entropy.cu. */
#include "ew_common.h"

#include <math.h>

static mt_status ce_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0], *t = n->in[1], *cw = n->in[2], *pw = n->in[3];
    const mt_ce_attr *a = MT_ATTR(n, mt_ce_attr);
    char s1[64], s2[64];
    MT_REQUIRE(a->reduction >= MT_REDUCE_NONE && a->reduction <= MT_REDUCE_WEIGHTED_MEAN,
               "cross_entropy: unknown reduction %d", a->reduction);
    MT_REQUIRE(x->dtype == MT_REAL, "cross_entropy: logits must be %s, got %s", mt_dtype_name(MT_REAL),
               mt_dtype_name(x->dtype));
    MT_REQUIRE(t->dtype == MT_I32, "cross_entropy: target must be int32 class ids, got %s", mt_dtype_name(t->dtype));
    MT_REQUIRE(x->ndim >= 2, "cross_entropy: logits must be [N, C] or [N, C, H, W], got %s",
               mt_shape_str(x, s1, sizeof s1));
    int ok = t->ndim == x->ndim - 1 && t->shape[0] == x->shape[0];
    for (int i = 2; ok && i < x->ndim; i++) ok = t->shape[i - 1] == x->shape[i];
    MT_REQUIRE(ok, "cross_entropy: target shape %s does not match logits %s (expected logits without the class dim)",
               mt_shape_str(t, s1, sizeof s1), mt_shape_str(x, s2, sizeof s2));
    if (cw)
        MT_REQUIRE(cw->dtype == MT_REAL && cw->ndim == 1 && cw->shape[0] == x->shape[1],
                   "cross_entropy: class_weight must be [%d] (one per class), got %s", x->shape[1],
                   mt_shape_str(cw, s1, sizeof s1));
    if (pw)
        MT_REQUIRE(pw->dtype == MT_REAL && mt_same_shape(pw, t),
                   "cross_entropy: pixel_weight must have the target's shape %s, got %s",
                   mt_shape_str(t, s1, sizeof s1), mt_shape_str(pw, s2, sizeof s2));
    if (a->reduction == MT_REDUCE_NONE) {
        out[0].ndim = t->ndim;
        for (int i = 0; i < t->ndim; i++) out[0].shape[i] = t->shape[i];
    } else {
        out[0].ndim = 0;
    }
    out[0].dtype = MT_REAL;
    return MT_OK;
}

/* N, C and S (positions per sample) of the logits */
static void ce_dims(const mt_tensor *x, long long *N, long long *C, long long *S)
{
    *N = x->shape[0];
    *C = x->shape[1];
    *S = 1;
    for (int i = 2; i < x->ndim; i++) *S *= x->shape[i];
}

static mt_status ce_forward_cpu(mt_node *n)
{
    const mt_ce_attr *a = MT_ATTR(n, mt_ce_attr);
    long long N, C, S;
    ce_dims(n->in[0], &N, &C, &S);
    const mt_real *x = MT_DATA(n->in[0]);
    const int32_t *t = (const int32_t *)mt_data(n->in[1]);
    const mt_real *cw = n->in[2] ? MT_DATA(n->in[2]) : NULL, *pw = n->in[3] ? MT_DATA(n->in[3]) : NULL;
    long long P = N * S;
    for (long long p = 0; p < P; p++)
        if (t[p] != a->ignore_index && (t[p] < 0 || t[p] >= C))
            return MT_ERR(MT_ERR_INVALID, "cross_entropy: target %d at position %lld is outside [0, %lld) and is not "
                          "ignore_index (%d)", (int)t[p], p, C, a->ignore_index);
    const int red = a->reduction;
    int shp[2] = {3, (int)P};
    mt_tensor *buf = red == MT_REDUCE_NONE ? NULL : mt_tensor_new(MT_REAL, mt_cpu(), 2, shp);
    if (red != MT_REDUCE_NONE && !buf) return mt_last_status();
    mt_real *l = MT_DATA(buf ? buf : n->out[0]);
    mt_real *wc = buf ? l + P : NULL, *wall = buf ? l + 2 * P : NULL; /* class weight, full weight */
#pragma omp parallel for schedule(static) if (P * C > 32768)
    for (long long p = 0; p < P; p++) {
        long long base = (p / S) * C * S + p % S;
        int tp = t[p];
        if (tp == a->ignore_index) {
            l[p] = 0;
            if (buf) wc[p] = wall[p] = 0;
            continue;
        }
        mt_real m = x[base];
        for (long long c = 1; c < C; c++) m = x[base + c * S] > m ? x[base + c * S] : m;
        double s = 0;
        for (long long c = 0; c < C; c++) s += exp((double)(x[base + c * S] - m));
        mt_real cwt = cw ? cw[tp] : 1, w = cwt * (pw ? pw[p] : 1);
        l[p] = (mt_real)(w * (log(s) + m - x[base + tp * S]));
        if (buf) wc[p] = cwt, wall[p] = w;
    }
    if (red == MT_REDUCE_NONE) return MT_OK;
    double sum = mt_cpu_sum(l, (size_t)P), scale = 1;
    if (red == MT_REDUCE_MEAN) scale = 1.0 / mt_cpu_sum(wc, (size_t)P);
    if (red == MT_REDUCE_WEIGHTED_MEAN) {
        double d = mt_cpu_sum(wall, (size_t)P);
        scale = d == 0 ? 0 : 1.0 / d;
    }
    mt_tensor_release(buf);
    MT_DATA(n->out[0])[0] = (mt_real)(sum * scale);
    mt_tensor *sc = mt_tensor_new(MT_REAL, mt_cpu(), 0, NULL);
    if (!sc) return mt_last_status();
    MT_DATA(sc)[0] = (mt_real)scale;
    n->saved[0] = sc;
    return MT_OK;
}

static mt_status ce_backward_cpu(mt_node *n)
{
    if (n->gin[2] || n->gin[3])
        return MT_ERR(MT_ERR_UNSUPPORTED, "cross_entropy: no gradient with respect to class_weight / pixel_weight; "
                                          "pass them without requires_grad");
    if (!n->gin[0]) return MT_OK;
    const mt_ce_attr *a = MT_ATTR(n, mt_ce_attr);
    long long N, C, S;
    ce_dims(n->in[0], &N, &C, &S);
    const mt_real *x = MT_DATA(n->in[0]), *dy = MT_DATA(n->gout[0]);
    const int32_t *t = (const int32_t *)mt_data(n->in[1]);
    const mt_real *cw = n->in[2] ? MT_DATA(n->in[2]) : NULL, *pw = n->in[3] ? MT_DATA(n->in[3]) : NULL;
    mt_real *dx = MT_DATA(n->gin[0]);
    const int none = a->reduction == MT_REDUCE_NONE;
    const mt_real g0 = none ? 0 : dy[0] * MT_DATA(n->saved[0])[0];
    long long P = N * S;
#pragma omp parallel for schedule(static) if (P * C > 32768)
    for (long long p = 0; p < P; p++) {
        long long base = (p / S) * C * S + p % S;
        int tp = t[p];
        if (tp == a->ignore_index) continue; /* dx stays 0 */
        mt_real g = (none ? dy[p] : g0) * (cw ? cw[tp] : 1) * (pw ? pw[p] : 1);
        mt_real m = x[base];
        for (long long c = 1; c < C; c++) m = x[base + c * S] > m ? x[base + c * S] : m;
        double s = 0;
        for (long long c = 0; c < C; c++) s += exp((double)(x[base + c * S] - m));
        for (long long c = 0; c < C; c++) {
            mt_real sm = (mt_real)(exp((double)(x[base + c * S] - m)) / s);
            dx[base + c * S] = g * (sm - (c == tp ? 1 : 0));
        }
    }
    return MT_OK;
}

#ifdef MT_WITH_CUDA
mt_status ce_forward_cuda(mt_node *n);
mt_status ce_backward_cuda(mt_node *n);
#endif

const mt_op mt_op_cross_entropy = {"cross_entropy", ce_shape, {ce_forward_cpu, MT_CUDA_FN(ce_forward_cuda)},
                                   {ce_backward_cpu, MT_CUDA_FN(ce_backward_cuda)}, 0};

/* torch.nn.functional.cross_entropy(logits, target, weight=class_weight,
 * ignore_index, reduction) with an optional per-position weight map; see the
 * file comment for shapes, reductions and errors. Use ignore_index = -100 for
 * PyTorch's default. */
mt_tensor *mt_cross_entropy(mt_tensor *logits, mt_tensor *target, mt_tensor *class_weight, int ignore_index,
                            mt_tensor *pixel_weight, mt_reduction r)
{
    mt_ce_attr at = {ignore_index, (int)r};
    mt_tensor *in[4] = {logits, target, class_weight, pixel_weight};
    return mt_op1(&mt_op_cross_entropy, 4, 2, in, &at, sizeof at);
}
