/* core/ops/batch_norm2d.c: batch normalisation over N, H, W per channel
 * (torch.nn.functional.batch_norm; Ioffe & Szegedy 2015, Alg. 1).
 *
 * Inputs: in[0] x [N, C, H, W] or [N, C]; in[1] weight (gamma) [C] or NULL;
 * in[2] bias (beta) [C] or NULL; in[3] running_mean, in[4] running_var [C] or
 * NULL (buffers: updated in place by the training forward, never through
 * autograd). Saved: saved[0] = mean [C], saved[1] = invstd [C] as used.
 *
 * Training (M = N*H*W values per channel):
 *   mean = sum x / M, var = sum (x - mean)^2 / M, invstd = 1 / sqrt(var + eps)
 *   y = (x - mean) * invstd * gamma + beta
 *   running_mean = (1 - momentum) running_mean + momentum * mean
 *   running_var  = (1 - momentum) running_var  + momentum * var * (M / (M - 1) if unbiased)
 *   backward: xhat = (x - mean) invstd, dbeta = sum dy, dgamma = sum dy xhat,
 *   dx = gamma invstd / M * (M dy - dbeta - xhat dgamma).
 * Evaluation: mean/var are the running buffers; dx = dy gamma invstd. */
#include <math.h>

#include "../ops.h"

mt_batch_norm_params mt_batch_norm_default(void)
{
    mt_batch_norm_params p;
    p.training = 1;
    p.momentum = 0.1;
    p.eps = 1e-5;
    p.unbiased_running_var = 1;
    return p;
}

static mt_status check_vec(const mt_tensor *t, int C, const char *what)
{
    if (!t) return MT_OK;
    MT_REQUIRE(t->dtype == MT_REAL && t->ndim == 1 && t->shape[0] == C,
               "batch_norm2d: %s must be a %s vector [%d] (one per channel)", what, mt_dtype_name(MT_REAL), C);
    return MT_OK;
}

static mt_status batch_norm2d_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    const mt_batch_norm_params *p = MT_ATTR(n, mt_batch_norm_params);
    MT_REQUIRE(x->dtype == MT_REAL, "batch_norm2d: expected %s input, got %s", mt_dtype_name(MT_REAL),
               mt_dtype_name(x->dtype));
    MT_REQUIRE(x->ndim == 4 || x->ndim == 2, "batch_norm2d: expected x [N, C, H, W] or [N, C], got %d dimensions",
               x->ndim);
    int C = x->shape[1];
    MT_TRY(check_vec(n->in[1], C, "weight (gamma)"));
    MT_TRY(check_vec(n->in[2], C, "bias (beta)"));
    MT_TRY(check_vec(n->in[3], C, "running_mean"));
    MT_TRY(check_vec(n->in[4], C, "running_var"));
    MT_REQUIRE(p->eps > 0 && p->momentum >= 0 && p->momentum <= 1,
               "batch_norm2d: eps %g must be > 0 and momentum %g in [0, 1]", p->eps, p->momentum);
    MT_REQUIRE((n->in[3] == NULL) == (n->in[4] == NULL),
               "batch_norm2d: give both running_mean and running_var, or neither");
    size_t M = mt_numel(x) / (size_t)(C ? C : 1);
    if (p->training)
        MT_REQUIRE(M > 1, "batch_norm2d: training needs more than 1 value per channel (got %zu; batch size 1 "
                          "with 1x1 maps?)", M);
    else
        MT_REQUIRE(n->in[3] != NULL, "batch_norm2d: evaluation mode (training = 0) needs running_mean/running_var");
    out[0].ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++) out[0].shape[i] = x->shape[i];
    return MT_OK;
}

/* Per-sample layout: x[(b * C + c) * S + s], S = H*W (1 for [N, C]). */
static void dims(const mt_tensor *x, int *N, int *C, ptrdiff_t *S)
{
    *N = x->shape[0];
    *C = x->shape[1];
    *S = x->ndim == 4 ? (ptrdiff_t)x->shape[2] * x->shape[3] : 1;
}

static mt_status batch_norm2d_forward_cpu(mt_node *n)
{
    const mt_batch_norm_params *p = MT_ATTR(n, mt_batch_norm_params);
    const mt_tensor *xt = n->in[0];
    int N, C;
    ptrdiff_t S;
    dims(xt, &N, &C, &S);
    int cs[1] = {C};
    mt_tensor *mt = mt_tensor_new(MT_REAL, mt_cpu(), 1, cs);
    mt_tensor *it = mt ? mt_tensor_new(MT_REAL, mt_cpu(), 1, cs) : NULL;
    if (!it) {
        mt_tensor_release(mt);
        return mt_last_status();
    }
    n->saved[0] = mt;
    n->saved[1] = it;
    const mt_real *x = MT_DATA(xt);
    const mt_real *gamma = n->in[1] ? MT_DATA(n->in[1]) : NULL;
    const mt_real *beta = n->in[2] ? MT_DATA(n->in[2]) : NULL;
    mt_real *rmean = n->in[3] ? MT_DATA(n->in[3]) : NULL;
    mt_real *rvar = n->in[4] ? MT_DATA(n->in[4]) : NULL;
    mt_real *mean = MT_DATA(mt), *invstd = MT_DATA(it);
    mt_real *y = MT_DATA(n->out[0]);
    const double M = (double)N * (double)S;
#pragma omp parallel for schedule(static) if ((double)C * M > 16384)
    for (int c = 0; c < C; c++) {
        double m, v;
        if (p->training) {
            double s = 0;
            for (int b = 0; b < N; b++)
                for (ptrdiff_t i = 0; i < S; i++) s += x[((ptrdiff_t)b * C + c) * S + i];
            m = s / M;
            double ss = 0;
            for (int b = 0; b < N; b++)
                for (ptrdiff_t i = 0; i < S; i++) {
                    double d = x[((ptrdiff_t)b * C + c) * S + i] - m;
                    ss += d * d;
                }
            v = ss / M;
            if (rmean) {
                double vr = p->unbiased_running_var ? v * M / (M - 1) : v;
                rmean[c] = (mt_real)((1 - p->momentum) * rmean[c] + p->momentum * m);
                rvar[c] = (mt_real)((1 - p->momentum) * rvar[c] + p->momentum * vr);
            }
        } else {
            m = rmean[c];
            v = rvar[c];
        }
        double is = 1.0 / sqrt(v + p->eps);
        mean[c] = (mt_real)m;
        invstd[c] = (mt_real)is;
        double g = gamma ? gamma[c] : 1.0, bb = beta ? beta[c] : 0.0;
        double scale = g * is, shift = bb - m * scale;
        for (int b = 0; b < N; b++)
            for (ptrdiff_t i = 0; i < S; i++) {
                ptrdiff_t k = ((ptrdiff_t)b * C + c) * S + i;
                y[k] = (mt_real)(x[k] * scale + shift);
            }
    }
    return MT_OK;
}

static mt_status batch_norm2d_backward_cpu(mt_node *n)
{
    const mt_batch_norm_params *p = MT_ATTR(n, mt_batch_norm_params);
    const mt_tensor *xt = n->in[0];
    int N, C;
    ptrdiff_t S;
    dims(xt, &N, &C, &S);
    const mt_real *x = MT_DATA(xt);
    const mt_real *dy = MT_DATA(n->gout[0]);
    const mt_real *gamma = n->in[1] ? MT_DATA(n->in[1]) : NULL;
    const mt_real *mean = MT_DATA(n->saved[0]), *invstd = MT_DATA(n->saved[1]);
    mt_real *dx = n->gin[0] ? MT_DATA(n->gin[0]) : NULL;
    mt_real *dgamma = n->gin[1] ? MT_DATA(n->gin[1]) : NULL;
    mt_real *dbeta = n->gin[2] ? MT_DATA(n->gin[2]) : NULL;
    const double M = (double)N * (double)S;
#pragma omp parallel for schedule(static) if ((double)C * M > 16384)
    for (int c = 0; c < C; c++) {
        double m = mean[c], is = invstd[c], g = gamma ? gamma[c] : 1.0;
        double sdy = 0, sdyx = 0;
        for (int b = 0; b < N; b++)
            for (ptrdiff_t i = 0; i < S; i++) {
                ptrdiff_t k = ((ptrdiff_t)b * C + c) * S + i;
                sdy += dy[k];
                sdyx += dy[k] * (x[k] - m) * is;
            }
        if (dgamma) dgamma[c] += (mt_real)sdyx;
        if (dbeta) dbeta[c] += (mt_real)sdy;
        if (!dx) continue;
        double a = g * is;
        for (int b = 0; b < N; b++)
            for (ptrdiff_t i = 0; i < S; i++) {
                ptrdiff_t k = ((ptrdiff_t)b * C + c) * S + i;
                if (p->training) {
                    double xhat = (x[k] - m) * is;
                    dx[k] += (mt_real)(a * (dy[k] - sdy / M - xhat * sdyx / M));
                } else {
                    dx[k] += (mt_real)(a * dy[k]);
                }
            }
    }
    return MT_OK;
}

#ifdef MT_WITH_CUDA
mt_status batch_norm2d_forward_cuda(mt_node *n);
mt_status batch_norm2d_backward_cuda(mt_node *n);
#endif

const mt_op mt_op_batch_norm2d = {
    "batch_norm2d", batch_norm2d_shape,
    {batch_norm2d_forward_cpu, MT_CUDA_FN(batch_norm2d_forward_cuda)},
    {batch_norm2d_backward_cpu, MT_CUDA_FN(batch_norm2d_backward_cuda)},
};

mt_tensor *mt_batch_norm2d(mt_tensor *x, mt_tensor *weight, mt_tensor *bias, mt_tensor *running_mean,
                           mt_tensor *running_var, mt_batch_norm_params p)
{
    mt_tensor *in[5] = {x, weight, bias, running_mean, running_var};
    return mt_op1(&mt_op_batch_norm2d, 5, 1, in, &p, sizeof p);
}
