/* core/ops/ew_common.c: broadcasting, reduction plans and deterministic CPU
 * sums shared by the elementwise, reduction and loss ops (ew_common.h). */
#include "ew_common.h"

#include <stdio.h>
#include <string.h>

static char *shape_text(int nd, const int *s, char *buf, size_t len)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < nd && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, i ? ", %d" : "%d", s[i]);
    if (used < len) snprintf(buf + used, len - used, "]");
    return buf;
}

void mt_imap_coalesce(mt_imap *m)
{
    int nd = 0;
    for (int d = 0; d < m->ndim; d++) {
        if (m->shape[d] == 1) continue;
        if (nd > 0 && m->stride[nd - 1] == m->stride[d] * (long long)m->shape[d]) {
            m->shape[nd - 1] *= m->shape[d];
            m->stride[nd - 1] = m->stride[d];
        } else {
            m->shape[nd] = m->shape[d];
            m->stride[nd++] = m->stride[d];
        }
    }
    m->ndim = nd;
}

mt_status mt_broadcast_shape(const char *op, int na, const int *sa, int nb, const int *sb, int *nout, int *sout)
{
    int nd = na > nb ? na : nb;
    for (int d = 0; d < nd; d++) {
        int ia = d - (nd - na), ib = d - (nd - nb);
        int a = ia >= 0 ? sa[ia] : 1, b = ib >= 0 ? sb[ib] : 1;
        if (a != b && a != 1 && b != 1) {
            char x[96], y[96];
            return MT_ERR(MT_ERR_INVALID, "%s: shapes %s and %s do not broadcast (dimension %d: %d vs %d)", op,
                          shape_text(na, sa, x, sizeof x), shape_text(nb, sb, y, sizeof y), d, a, b);
        }
        sout[d] = a == 1 ? b : a;
    }
    *nout = nd;
    return MT_OK;
}

mt_imap mt_imap_broadcast(const mt_tensor *t, int nd, const int *shape)
{
    mt_imap m;
    memset(&m, 0, sizeof m);
    m.ndim = nd;
    long long st = 1;
    for (int d = nd - 1; d >= 0; d--) {
        int it = d - (nd - t->ndim);
        m.shape[d] = shape[d];
        int size = it >= 0 ? t->shape[it] : 1;
        m.stride[d] = (size == 1) ? 0 : st;
        st *= size;
    }
    mt_imap_coalesce(&m);
    return m;
}

int mt_shape_is(const mt_tensor *t, int nd, const int *shape)
{
    if (t->ndim != nd) return 0;
    for (int i = 0; i < nd; i++)
        if (t->shape[i] != shape[i]) return 0;
    return 1;
}

mt_rplan mt_rplan_unbroadcast(int nd_full, const int *full, int nd_target, const int *target)
{
    mt_rplan p;
    memset(&p, 0, sizeof p);
    long long st = 1, stride[MT_MAX_DIMS];
    for (int d = nd_full - 1; d >= 0; d--) {
        stride[d] = st;
        st *= full[d];
    }
    p.nout = p.nred = 1;
    for (int d = 0; d < nd_full; d++) {
        int it = d - (nd_full - nd_target);
        int ts = it >= 0 ? target[it] : 1;
        if (it >= 0 && ts == full[d]) {
            p.kept.shape[p.kept.ndim] = full[d];
            p.kept.stride[p.kept.ndim++] = stride[d];
            p.nout *= full[d];
        } else {
            p.red.shape[p.red.ndim] = full[d];
            p.red.stride[p.red.ndim++] = stride[d];
            p.nred *= full[d];
        }
    }
    mt_imap_coalesce(&p.kept);
    mt_imap_coalesce(&p.red);
    return p;
}

mt_rplan mt_rplan_axes(int nd, const int *shape, unsigned axis_mask)
{
    mt_rplan p;
    memset(&p, 0, sizeof p);
    long long st = 1, stride[MT_MAX_DIMS];
    for (int d = nd - 1; d >= 0; d--) {
        stride[d] = st;
        st *= shape[d];
    }
    p.nout = p.nred = 1;
    for (int d = 0; d < nd; d++) {
        mt_imap *m = (axis_mask >> d) & 1u ? &p.red : &p.kept;
        m->shape[m->ndim] = shape[d];
        m->stride[m->ndim++] = stride[d];
        if ((axis_mask >> d) & 1u) p.nred *= shape[d];
        else p.nout *= shape[d];
    }
    mt_imap_coalesce(&p.kept);
    mt_imap_coalesce(&p.red);
    return p;
}

#define MT_SUM_CHUNKS 64

mt_real *mt_bgrad_begin(const mt_tensor *out, mt_tensor *g, mt_tensor **full)
{
    *full = NULL;
    if (mt_same_shape(g, out)) return MT_DATA(g);
    *full = mt_tensor_new(MT_REAL, out->storage->device, out->ndim, out->shape);
    return *full ? MT_DATA(*full) : NULL;
}

void mt_bgrad_end_cpu(const mt_tensor *out, mt_tensor *g, mt_tensor *full)
{
    if (!full) return;
    mt_rplan p = mt_rplan_unbroadcast(out->ndim, out->shape, g->ndim, g->shape);
    mt_cpu_reduce_sum(&p, MT_DATA(full), MT_DATA(g), 1.0, 0);
    mt_tensor_release(full);
}

void mt_cpu_reduce_sum(const mt_rplan *p, const mt_real *in, mt_real *out, double scale, int accumulate)
{
    long long nout = p->nout, nred = p->nred;
    if (nout >= MT_SUM_CHUNKS || nred < 4096) {
#pragma omp parallel for schedule(static) if (nout * nred > 32768)
        for (long long o = 0; o < nout; o++) {
            long long base = mt_imap_offset(&p->kept, o);
            double s = 0;
            for (long long r = 0; r < nred; r++) s += in[base + mt_imap_offset(&p->red, r)];
            out[o] = (mt_real)(s * scale + (accumulate ? out[o] : 0));
        }
        return;
    }
    /* few outputs, long reductions: fixed chunks summed in parallel, then in order */
    for (long long o = 0; o < nout; o++) {
        long long base = mt_imap_offset(&p->kept, o);
        double part[MT_SUM_CHUNKS];
        long long chunk = (nred + MT_SUM_CHUNKS - 1) / MT_SUM_CHUNKS;
#pragma omp parallel for schedule(static)
        for (int c = 0; c < MT_SUM_CHUNKS; c++) {
            double s = 0;
            long long r1 = (c + 1) * chunk < nred ? (c + 1) * chunk : nred;
            for (long long r = c * chunk; r < r1; r++) s += in[base + mt_imap_offset(&p->red, r)];
            part[c] = s;
        }
        double s = 0;
        for (int c = 0; c < MT_SUM_CHUNKS; c++) s += part[c];
        out[o] = (mt_real)(s * scale + (accumulate ? out[o] : 0));
    }
}

double mt_cpu_sum(const mt_real *x, size_t n)
{
    double part[MT_SUM_CHUNKS];
    size_t chunk = (n + MT_SUM_CHUNKS - 1) / MT_SUM_CHUNKS;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int c = 0; c < MT_SUM_CHUNKS; c++) {
        double s = 0;
        size_t r0 = (size_t)c * chunk, r1 = r0 + chunk < n ? r0 + chunk : n;
        for (size_t r = r0; r < r1; r++) s += x[r];
        part[c] = s;
    }
    double s = 0;
    for (int c = 0; c < MT_SUM_CHUNKS; c++) s += part[c];
    return s;
}

mt_status mt_norm_dim(const char *op, int dim, int ndim, int *out)
{
    int d = dim < 0 ? dim + ndim : dim;
    if (d < 0 || d >= ndim)
        return MT_ERR(MT_ERR_INVALID, "%s: dim %d out of range for a %d-d tensor (allowed %d..%d)", op, dim, ndim,
                      -ndim, ndim - 1);
    *out = d;
    return MT_OK;
}

mt_imap mt_imap_reduced(int nd, const int *shape, unsigned mask)
{
    mt_imap m;
    memset(&m, 0, sizeof m);
    m.ndim = nd;
    long long st = 1;
    for (int d = nd - 1; d >= 0; d--) {
        m.shape[d] = shape[d];
        if ((mask >> d) & 1u) {
            m.stride[d] = 0;
        } else {
            m.stride[d] = st;
            st *= shape[d];
        }
    }
    mt_imap_coalesce(&m);
    return m;
}
