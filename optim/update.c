/* optim/update.c: CPU update loops of SGD, Adam/AdamW and Adadelta, and the
 * norm/scale helpers of gradient clipping. The arithmetic (and its order) is
 * that of torch 1.13's single-tensor optimizer paths; see update.h. */
#include "update.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define MT_OMP_MIN 32768 /* below this many elements a loop runs on one thread */

void mt_sgd_update_cpu(size_t n, mt_real *p, const mt_real *g, mt_real *buf, mt_sgd_scalars s)
{
    ptrdiff_t count = (ptrdiff_t)n;
#pragma omp parallel for schedule(static) if (count > MT_OMP_MIN)
    for (ptrdiff_t i = 0; i < count; i++) {
        mt_real d = g[i];
        if (s.has_wd) d = d + s.wd * p[i];
        if (s.has_momentum) {
            mt_real b = s.first ? d : buf[i] * s.momentum + s.one_minus_dampening * d;
            buf[i] = b;
            d = s.nesterov ? d + s.momentum * b : b;
        }
        p[i] = p[i] + s.neg_lr * d;
    }
}

void mt_adam_update_cpu(size_t n, mt_real *p, const mt_real *g, mt_real *m, mt_real *v, mt_real *vmax,
                        mt_adam_scalars s)
{
    ptrdiff_t count = (ptrdiff_t)n;
#pragma omp parallel for schedule(static) if (count > MT_OMP_MIN)
    for (ptrdiff_t i = 0; i < count; i++) {
        mt_real gi = g[i];
        mt_real pi = p[i];
        if (s.decoupled) pi = pi * s.decay;
        else if (s.has_wd) gi = gi + s.wd * pi;
        mt_real mi = m[i] * s.beta1 + s.one_minus_beta1 * gi;
        mt_real vi = v[i] * s.beta2 + s.one_minus_beta2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (s.amsgrad) {
            if (vmax[i] > vi || isnan(vmax[i])) vi = vmax[i]; /* torch.maximum propagates NaN */
            vmax[i] = vi;
        }
        mt_real denom = (mt_real)sqrt(vi) / s.bias_correction2_sqrt + s.eps;
        p[i] = pi + s.neg_step_size * mi / denom;
    }
}

void mt_adadelta_update_cpu(size_t n, mt_real *p, const mt_real *g, mt_real *sq, mt_real *acc,
                            mt_adadelta_scalars s)
{
    ptrdiff_t count = (ptrdiff_t)n;
#pragma omp parallel for schedule(static) if (count > MT_OMP_MIN)
    for (ptrdiff_t i = 0; i < count; i++) {
        mt_real gi = g[i];
        if (s.has_wd) gi = gi + s.wd * p[i];
        mt_real sqi = sq[i] * s.rho + s.one_minus_rho * gi * gi;
        sq[i] = sqi;
        mt_real std = (mt_real)sqrt(sqi + s.eps);
        mt_real delta = (mt_real)sqrt(acc[i] + s.eps) / std * gi;
        acc[i] = acc[i] * s.rho + s.one_minus_rho * delta * delta;
        p[i] = p[i] + s.neg_lr * delta;
    }
}

double mt_sumsq_cpu(size_t n, const mt_real *x)
{
    double total = 0;
    ptrdiff_t count = (ptrdiff_t)n;
#pragma omp parallel for schedule(static) reduction(+ : total) if (count > MT_OMP_MIN)
    for (ptrdiff_t i = 0; i < count; i++) total += (double)x[i] * (double)x[i];
    return total;
}

void mt_scale_cpu(size_t n, mt_real *x, mt_real a)
{
    ptrdiff_t count = (ptrdiff_t)n;
#pragma omp parallel for schedule(static) if (count > MT_OMP_MIN)
    for (ptrdiff_t i = 0; i < count; i++) x[i] = x[i] * a;
}

mt_status mt_segment_sumsq_cpu(int n_seg, const size_t *len, const mt_real *x, double *out)
{
    size_t total = 0;
    for (int s = 0; s < n_seg; s++) total += len[s];
    int nt = 1;
#ifdef _OPENMP
    if (total > MT_OMP_MIN) nt = omp_get_max_threads();
#endif
    double *part = mt_calloc((size_t)nt * (size_t)n_seg + 1, sizeof *part);
    if (!part) return MT_ERR_NOMEM;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int tid = 0, used = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        used = omp_get_num_threads();
#endif
        size_t lo = total * (size_t)tid / (size_t)used, hi = total * (size_t)(tid + 1) / (size_t)used;
        size_t start = 0;
        double *mine = part + (size_t)tid * (size_t)n_seg;
        for (int s = 0; s < n_seg && start < hi; start += len[s], s++) {
            size_t a = start > lo ? start : lo, b = start + len[s] < hi ? start + len[s] : hi;
            double acc = 0;
            for (size_t i = a; i < b; i++) acc += (double)x[i] * (double)x[i];
            mine[s] = acc;
        }
    }
    for (int s = 0; s < n_seg; s++) {
        double acc = 0;
        for (int t = 0; t < nt; t++) acc += part[(size_t)t * (size_t)n_seg + s];
        out[s] = acc;
    }
    free(part);
    return MT_OK;
}
