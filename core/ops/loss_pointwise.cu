/* core/ops/loss_pointwise.cu: CUDA twin of loss_pointwise.c (bce_with_logits,
 * bce, l1, mse). Per-element weighted losses are summed with the
 * deterministic two-pass reduction; the scale (1/numel, 1 or 1/sum(w)) stays
 * on the device in saved[0], so nothing is copied back to the host. */
#include "../cuda_common.h"
#include "loss_pointwise.h"

__device__ static float softplus_neg_f(float x) { return log1pf(expf(-fabsf(x))) + (x < 0.f ? -x : 0.f); }

__device__ static float ploss_value_f(int k, float x, float t, float pw)
{
    switch (k) {
    case MT_PLOSS_BCE_LOGITS: return (1.f - t) * x + (1.f + (pw - 1.f) * t) * softplus_neg_f(x);
    case MT_PLOSS_BCE: {
        float lp = fmaxf(logf(x), -100.f), lq = fmaxf(log1pf(-x), -100.f);
        return -(t * lp + (1.f - t) * lq);
    }
    case MT_PLOSS_L1: return fabsf(x - t);
    default: return (x - t) * (x - t);
    }
}

__device__ static float ploss_dx_f(int k, float x, float t, float pw)
{
    switch (k) {
    case MT_PLOSS_BCE_LOGITS: {
        float s = x >= 0.f ? expf(-x) / (1.f + expf(-x)) : 1.f / (1.f + expf(x)); /* sigmoid(-x) */
        return (1.f - t) - (1.f + (pw - 1.f) * t) * s;
    }
    case MT_PLOSS_BCE: return (x - t) / fmaxf((1.f - x) * x, 1e-12f);
    case MT_PLOSS_L1: return x > t ? 1.f : (x < t ? -1.f : 0.f);
    default: return 2.f * (x - t);
    }
}

__device__ static float ploss_dt_f(int k, float x, float t, float pw)
{
    switch (k) {
    case MT_PLOSS_BCE_LOGITS: return -x + (pw - 1.f) * softplus_neg_f(x);
    case MT_PLOSS_BCE: return fmaxf(log1pf(-x), -100.f) - fmaxf(logf(x), -100.f);
    default: return -ploss_dx_f(k, x, t, pw);
    }
}

/* l[i] = w l(x, t, pw); wf[i] = w (when wf != NULL) */
__global__ static void ploss_fwd_kernel(int k, const float *x, const float *t, const float *w, mt_imap mw,
                                        const float *pw, mt_imap mp, float *l, float *wf, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float wi = w ? w[mt_imap_offset(&mw, (long long)i)] : 1.f;
        float pwi = pw ? pw[mt_imap_offset(&mp, (long long)i)] : 1.f;
        l[i] = wi * ploss_value_f(k, x[i], t[i], pwi);
        if (wf) wf[i] = wi;
    }
}

/* sums[0] = sum(w l), sums[1] = sum(w) (count without weight) -> out = sums[0] * scale, scale_out = scale */
__global__ static void ploss_finish_kernel(int red, int has_w, float count, const float *sums, float *out,
                                           float *scale_out)
{
    float denom = red == MT_REDUCE_MEAN ? count : (red == MT_REDUCE_WEIGHTED_MEAN ? (has_w ? sums[1] : count) : 1.f);
    float scale = red == MT_REDUCE_SUM ? 1.f : (red == MT_REDUCE_WEIGHTED_MEAN && denom == 0.f ? 0.f : 1.f / denom);
    out[0] = sums[0] * scale;
    scale_out[0] = scale;
}

__global__ static void ploss_bwd_kernel(int k, int none, const float *x, const float *t, const float *w, mt_imap mw,
                                        const float *pw, mt_imap mp, const float *dy, const float *scale, float *gx,
                                        float *gt, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float g = (none ? dy[i] : dy[0] * scale[0]) * (w ? w[mt_imap_offset(&mw, (long long)i)] : 1.f);
        float pwi = pw ? pw[mt_imap_offset(&mp, (long long)i)] : 1.f;
        if (gx) gx[i] = g * ploss_dx_f(k, x[i], t[i], pwi);
        if (gt) gt[i] = g * ploss_dt_f(k, x[i], t[i], pwi);
    }
}

static mt_imap opt_map(const mt_tensor *w, const mt_tensor *x)
{
    mt_imap m;
    memset(&m, 0, sizeof m);
    return w ? mt_imap_broadcast(w, x->ndim, x->shape) : m;
}

extern "C" mt_status mt_ploss_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_ploss_attr *a = MT_ATTR(n, mt_ploss_attr);
    const mt_tensor *xt = n->in[0];
    const mt_tensor *wt = n->n_in > 2 ? n->in[2] : NULL, *pt = n->n_in > 3 ? n->in[3] : NULL;
    const int red = a->reduction;
    size_t count = mt_numel(xt);
    mt_device dev = xt->storage->device;
    int two[1] = {2};
    /* reductions: [l | w] scratch of 2 * count, two sums, the saved scale */
    mt_tensor *buf = NULL, *sums = NULL, *sc = NULL;
    if (red != MT_REDUCE_NONE) {
        int shp[2] = {2, (int)count};
        buf = mt_tensor_new(MT_REAL, dev, 2, shp);
        sums = mt_tensor_zeros(MT_REAL, dev, 1, two);
        sc = mt_tensor_new(MT_REAL, dev, 0, NULL);
        if (!buf || !sums || !sc) {
            mt_tensor_release(buf);
            mt_tensor_release(sums);
            mt_tensor_release(sc);
            return mt_last_status();
        }
    }
    float *l = (float *)mt_data(buf ? buf : n->out[0]);
    float *wf = (red == MT_REDUCE_WEIGHTED_MEAN && wt) ? l + count : NULL;
    mt_status s = MT_OK;
    if (count) {
        ploss_fwd_kernel<<<mt_cuda_blocks(count), MT_CUDA_THREADS, 0, c->stream>>>(
            a->kind, (const float *)mt_data(xt), (const float *)mt_data(n->in[1]),
            wt ? (const float *)mt_data(wt) : NULL, opt_map(wt, xt), pt ? (const float *)mt_data(pt) : NULL,
            opt_map(pt, xt), l, wf, count);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) s = mt_cuda_status(e, "ploss_fwd_kernel", __FILE__, __LINE__);
    }
    if (red != MT_REDUCE_NONE) {
        mt_rplan p;
        memset(&p, 0, sizeof p);
        p.nout = 1;
        p.nred = (long long)count;
        p.red.ndim = 1;
        p.red.shape[0] = (int)count;
        p.red.stride[0] = 1;
        float *sv = (float *)mt_data(sums);
        if (s == MT_OK && count) s = mt_cuda_reduce_sum(c, &p, l, sv, 1.f, 0);
        if (s == MT_OK && count && wf) s = mt_cuda_reduce_sum(c, &p, wf, sv + 1, 1.f, 0);
        if (s == MT_OK) {
            ploss_finish_kernel<<<1, 1, 0, c->stream>>>(red, wf != NULL, (float)count, sv, (float *)mt_data(n->out[0]),
                                                        (float *)mt_data(sc));
            cudaError_t e = cudaGetLastError();
            if (e != cudaSuccess) s = mt_cuda_status(e, "ploss_finish_kernel", __FILE__, __LINE__);
        }
        mt_tensor_release(buf);
        mt_tensor_release(sums);
        if (s != MT_OK) {
            mt_tensor_release(sc);
            return s;
        }
        n->saved[0] = sc;
    }
    return s;
}

extern "C" mt_status mt_ploss_backward_cuda(mt_node *n)
{
    if ((n->n_in > 2 && n->gin[2]) || (n->n_in > 3 && n->gin[3]))
        return MT_ERR(MT_ERR_UNSUPPORTED, "%s: no gradient with respect to weight / pos_weight; pass them "
                      "without requires_grad (detach with mt_tensor_alias)", n->op->name);
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_ploss_attr *a = MT_ATTR(n, mt_ploss_attr);
    const mt_tensor *xt = n->in[0];
    const mt_tensor *wt = n->n_in > 2 ? n->in[2] : NULL, *pt = n->n_in > 3 ? n->in[3] : NULL;
    size_t count = mt_numel(xt);
    if (!count || (!n->gin[0] && !n->gin[1])) return MT_OK;
    const int none = a->reduction == MT_REDUCE_NONE;
    ploss_bwd_kernel<<<mt_cuda_blocks(count), MT_CUDA_THREADS, 0, c->stream>>>(
        a->kind, none, (const float *)mt_data(xt), (const float *)mt_data(n->in[1]),
        wt ? (const float *)mt_data(wt) : NULL, opt_map(wt, xt), pt ? (const float *)mt_data(pt) : NULL,
        opt_map(pt, xt), (const float *)mt_data(n->gout[0]), none ? NULL : (const float *)mt_data(n->saved[0]),
        n->gin[0] ? (float *)mt_data(n->gin[0]) : NULL, n->gin[1] ? (float *)mt_data(n->gin[1]) : NULL, count);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
