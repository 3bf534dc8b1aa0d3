/* core/ops/loss_pointwise.c: CPU side of the pointwise loss engine
 * (loss_pointwise.h) used by bce_with_logits, bce, l1_loss and mse_loss.
 * Per element (x = input, t = target, pw = pos_weight or 1):
 *   bce_with_logits: l = (1-t) x + (1 + (pw-1) t) softplus(-x),
 *                    softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)   (PyTorch's stable form)
 *                    dl/dx = (1-t) - (1 + (pw-1) t) sigmoid(-x);  dl/dt = -x + (pw-1) softplus(-x)
 *   bce:             l = -(t max(log p, -100) + (1-t) max(log(1-p), -100))
 *                    dl/dp = (p - t) / max(p (1-p), 1e-12) (PyTorch);  dl/dt = max(log(1-p),-100) - max(log p,-100)
 *   l1:  l = |x - t|, dl/dx = sign(x - t) (0 at 0);   mse: l = (x - t)^2, dl/dx = 2 (x - t);  dl/dt = -dl/dx */
#include "loss_pointwise.h"

#include <math.h>
#include <string.h>

static mt_ploss_kind ploss_kind_of(const mt_op *op)
{
    if (op == &mt_op_bce_with_logits) return MT_PLOSS_BCE_LOGITS;
    if (op == &mt_op_bce) return MT_PLOSS_BCE;
    if (op == &mt_op_l1_loss) return MT_PLOSS_L1;
    return MT_PLOSS_MSE;
}

static mt_status check_bcast_to(const char *op, const char *what, const mt_tensor *w, const mt_tensor *x)
{
    if (!w) return MT_OK;
    MT_REQUIRE(w->dtype == MT_REAL, "%s: %s must be %s, got %s", op, what, mt_dtype_name(MT_REAL),
               mt_dtype_name(w->dtype));
    int ok = w->ndim <= x->ndim;
    for (int i = 0; ok && i < w->ndim; i++) {
        int ws = w->shape[w->ndim - 1 - i], xs = x->shape[x->ndim - 1 - i];
        ok = ws == 1 || ws == xs;
    }
    if (!ok) {
        char a[64], b[64];
        return MT_ERR(MT_ERR_INVALID, "%s: %s of shape %s must broadcast to the input's shape %s (each trailing "
                      "dimension equal or 1)", op, what, mt_shape_str(w, a, sizeof a), mt_shape_str(x, b, sizeof b));
    }
    return MT_OK;
}

mt_status mt_ploss_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0], *t = n->in[1];
    mt_ploss_attr *a = MT_ATTR(n, mt_ploss_attr);
    a->kind = ploss_kind_of(n->op);
    const char *op = n->op->name;
    MT_REQUIRE(a->reduction >= MT_REDUCE_NONE && a->reduction <= MT_REDUCE_WEIGHTED_MEAN,
               "%s: unknown reduction %d (use MT_REDUCE_NONE/MEAN/SUM/WEIGHTED_MEAN)", op, a->reduction);
    MT_REQUIRE(x->dtype == MT_REAL && t->dtype == MT_REAL, "%s: input and target must be %s, got %s and %s", op,
               mt_dtype_name(MT_REAL), mt_dtype_name(x->dtype), mt_dtype_name(t->dtype));
    if (!mt_same_shape(x, t)) {
        char sa[64], sb[64];
        return MT_ERR(MT_ERR_INVALID, "%s: target shape %s differs from the input shape %s", op,
                      mt_shape_str(t, sa, sizeof sa), mt_shape_str(x, sb, sizeof sb));
    }
    MT_TRY(check_bcast_to(op, "weight", n->n_in > 2 ? n->in[2] : NULL, x));
    MT_TRY(check_bcast_to(op, "pos_weight", n->n_in > 3 ? n->in[3] : NULL, x));
    if (a->reduction == MT_REDUCE_NONE) {
        out[0].ndim = x->ndim;
        for (int i = 0; i < x->ndim; i++) out[0].shape[i] = x->shape[i];
    } else {
        out[0].ndim = 0;
    }
    return MT_OK;
}

static inline mt_real softplus_neg(mt_real x) /* log(1 + exp(-x)) without overflow */
{
    return (mt_real)(log1p(exp(-fabs((double)x))) + (x < 0 ? -x : 0));
}

static inline mt_real ploss_value(int k, mt_real x, mt_real t, mt_real pw)
{
    switch (k) {
    case MT_PLOSS_BCE_LOGITS: return (1 - t) * x + (1 + (pw - 1) * t) * softplus_neg(x);
    case MT_PLOSS_BCE: {
        mt_real lp = (mt_real)fmax(log((double)x), -100.0), lq = (mt_real)fmax(log1p(-(double)x), -100.0);
        return -(t * lp + (1 - t) * lq);
    }
    case MT_PLOSS_L1: return (mt_real)fabs((double)(x - t));
    default: return (x - t) * (x - t);
    }
}

static inline mt_real ploss_dx(int k, mt_real x, mt_real t, mt_real pw)
{
    switch (k) {
    case MT_PLOSS_BCE_LOGITS: {
        mt_real s = x >= 0 ? (mt_real)(exp(-(double)x) / (1 + exp(-(double)x))) : (mt_real)(1 / (1 + exp((double)x)));
        return (1 - t) - (1 + (pw - 1) * t) * s; /* s = sigmoid(-x) */
    }
    case MT_PLOSS_BCE: return (mt_real)((x - t) / fmax((double)((1 - x) * x), 1e-12));
    case MT_PLOSS_L1: return x > t ? 1 : (x < t ? -1 : 0);
    default: return 2 * (x - t);
    }
}

static inline mt_real ploss_dt(int k, mt_real x, mt_real t, mt_real pw)
{
    switch (k) {
    case MT_PLOSS_BCE_LOGITS: return -x + (pw - 1) * softplus_neg(x);
    case MT_PLOSS_BCE:
        return (mt_real)(fmax(log1p(-(double)x), -100.0) - fmax(log((double)x), -100.0));
    default: return -ploss_dx(k, x, t, pw);
    }
}

mt_status mt_ploss_forward_cpu(mt_node *n)
{
    const mt_ploss_attr *a = MT_ATTR(n, mt_ploss_attr);
    const mt_tensor *xt = n->in[0];
    const mt_tensor *wt = n->n_in > 2 ? n->in[2] : NULL, *pt = n->n_in > 3 ? n->in[3] : NULL;
    const mt_real *x = MT_DATA(xt), *t = MT_DATA(n->in[1]);
    const mt_real *w = wt ? MT_DATA(wt) : NULL, *pw = pt ? MT_DATA(pt) : NULL;
    const mt_imap mw = wt ? mt_imap_broadcast(wt, xt->ndim, xt->shape) : (mt_imap){0};
    const mt_imap mp = pt ? mt_imap_broadcast(pt, xt->ndim, xt->shape) : (mt_imap){0};
    const int k = a->kind, red = a->reduction;
    ptrdiff_t count = (ptrdiff_t)mt_numel(xt);
    mt_tensor *buf = red == MT_REDUCE_NONE ? NULL : mt_tensor_new(MT_REAL, mt_cpu(), xt->ndim, xt->shape);
    if (red != MT_REDUCE_NONE && !buf) return mt_last_status();
    mt_real *l = MT_DATA(buf ? buf : n->out[0]);
#pragma omp parallel for schedule(static) if (count > 32768)
    for (ptrdiff_t i = 0; i < count; i++) {
        mt_real wi = w ? w[mt_imap_offset(&mw, i)] : 1;
        mt_real pwi = pw ? pw[mt_imap_offset(&mp, i)] : 1;
        l[i] = wi * ploss_value(k, x[i], t[i], pwi);
    }
    if (red == MT_REDUCE_NONE) return MT_OK;
    double s = mt_cpu_sum(l, (size_t)count), denom = 1;
    if (red == MT_REDUCE_MEAN) denom = (double)count;
    if (red == MT_REDUCE_WEIGHTED_MEAN) {
        if (!w) {
            denom = (double)count;
        } else {
#pragma omp parallel for schedule(static) if (count > 32768)
            for (ptrdiff_t i = 0; i < count; i++) l[i] = w[mt_imap_offset(&mw, i)];
            denom = mt_cpu_sum(l, (size_t)count);
        }
    }
    mt_tensor_release(buf);
    double scale = red == MT_REDUCE_SUM ? 1.0 : (red == MT_REDUCE_WEIGHTED_MEAN && denom == 0 ? 0.0 : 1.0 / denom);
    MT_DATA(n->out[0])[0] = (mt_real)(s * scale);
    mt_tensor *sc = mt_tensor_new(MT_REAL, mt_cpu(), 0, NULL);
    if (!sc) return mt_last_status();
    MT_DATA(sc)[0] = (mt_real)scale;
    n->saved[0] = sc;
    return MT_OK;
}

mt_status mt_ploss_backward_cpu(mt_node *n)
{
    const mt_ploss_attr *a = MT_ATTR(n, mt_ploss_attr);
    if ((n->n_in > 2 && n->gin[2]) || (n->n_in > 3 && n->gin[3]))
        return MT_ERR(MT_ERR_UNSUPPORTED, "%s: no gradient with respect to weight / pos_weight; pass them "
                      "without requires_grad (detach with mt_tensor_alias)", n->op->name);
    const mt_tensor *xt = n->in[0];
    const mt_tensor *wt = n->n_in > 2 ? n->in[2] : NULL, *pt = n->n_in > 3 ? n->in[3] : NULL;
    const mt_real *x = MT_DATA(xt), *t = MT_DATA(n->in[1]), *dy = MT_DATA(n->gout[0]);
    const mt_real *w = wt ? MT_DATA(wt) : NULL, *pw = pt ? MT_DATA(pt) : NULL;
    const mt_imap mw = wt ? mt_imap_broadcast(wt, xt->ndim, xt->shape) : (mt_imap){0};
    const mt_imap mp = pt ? mt_imap_broadcast(pt, xt->ndim, xt->shape) : (mt_imap){0};
    const int k = a->kind, none = a->reduction == MT_REDUCE_NONE;
    const mt_real g0 = none ? 0 : dy[0] * MT_DATA(n->saved[0])[0];
    mt_real *gx = n->gin[0] ? MT_DATA(n->gin[0]) : NULL, *gt = n->gin[1] ? MT_DATA(n->gin[1]) : NULL;
    ptrdiff_t count = (ptrdiff_t)mt_numel(xt);
#pragma omp parallel for schedule(static) if (count > 32768)
    for (ptrdiff_t i = 0; i < count; i++) {
        mt_real g = (none ? dy[i] : g0) * (w ? w[mt_imap_offset(&mw, i)] : 1);
        mt_real pwi = pw ? pw[mt_imap_offset(&mp, i)] : 1;
        if (gx) gx[i] = g * ploss_dx(k, x[i], t[i], pwi);
        if (gt) gt[i] = g * ploss_dt(k, x[i], t[i], pwi);
    }
    return MT_OK;
}

mt_tensor *mt_ploss_apply(const mt_op *op, mt_tensor *x, mt_tensor *target, mt_tensor *weight, mt_tensor *pos_weight,
                          mt_reduction r)
{
    mt_ploss_attr at = {0, (int)r};
    mt_tensor *in[4] = {x, target, weight, pos_weight};
    return mt_op1(op, op == &mt_op_bce_with_logits ? 4 : 3, 2, in, &at, sizeof at);
}
