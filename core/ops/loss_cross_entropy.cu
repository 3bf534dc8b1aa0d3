/* core/ops/loss_cross_entropy.cu: CUDA twin of loss_cross_entropy.c: one
 * thread per position (coalesced over H*W in NCHW), sums by the deterministic
 * two-pass reduction, the scale kept on the device in saved[0]. A bad target
 * id raises a device flag that is read back once per forward (MT_ERR_INVALID). */
#include "../cuda_common.h"
#include "ew_common.h"

__global__ static void ce_fwd_kernel(long long P, long long C, long long S, int ignore, const float *x, const int *t,
                                     const float *cw, const float *pw, float *l, float *wc, float *wall, int *bad)
{
    for (long long p = blockIdx.x * (long long)blockDim.x + threadIdx.x; p < P; p += (long long)gridDim.x * blockDim.x) {
        long long base = (p / S) * C * S + p % S;
        int tp = t[p];
        if (tp == ignore || tp < 0 || tp >= C) {
            if (tp != ignore) *bad = 1;
            l[p] = 0.f;
            if (wc) wc[p] = wall[p] = 0.f;
            continue;
        }
        float m = x[base];
        for (long long c = 1; c < C; c++) m = fmaxf(m, x[base + c * S]);
        float s = 0.f;
        for (long long c = 0; c < C; c++) s += expf(x[base + c * S] - m);
        float cwt = cw ? cw[tp] : 1.f, w = cwt * (pw ? pw[p] : 1.f);
        l[p] = w * (logf(s) + m - x[base + tp * S]);
        if (wc) wc[p] = cwt, wall[p] = w;
    }
}

/* sums = [sum l, sum class weight, sum full weight] -> out, scale */
__global__ static void ce_finish_kernel(int red, const float *sums, float *out, float *scale_out)
{
    float scale = 1.f;
    if (red == MT_REDUCE_MEAN) scale = 1.f / sums[1];
    if (red == MT_REDUCE_WEIGHTED_MEAN) scale = sums[2] == 0.f ? 0.f : 1.f / sums[2];
    out[0] = sums[0] * scale;
    scale_out[0] = scale;
}

__global__ static void ce_bwd_kernel(long long P, long long C, long long S, int ignore, int none, const float *x,
                                     const int *t, const float *cw, const float *pw, const float *dy,
                                     const float *scale, float *dx)
{
    for (long long p = blockIdx.x * (long long)blockDim.x + threadIdx.x; p < P; p += (long long)gridDim.x * blockDim.x) {
        long long base = (p / S) * C * S + p % S;
        int tp = t[p];
        if (tp == ignore || tp < 0 || tp >= C) continue;
        float g = (none ? dy[p] : dy[0] * scale[0]) * (cw ? cw[tp] : 1.f) * (pw ? pw[p] : 1.f);
        float m = x[base];
        for (long long c = 1; c < C; c++) m = fmaxf(m, x[base + c * S]);
        float s = 0.f;
        for (long long c = 0; c < C; c++) s += expf(x[base + c * S] - m);
        float inv = 1.f / s;
        for (long long c = 0; c < C; c++)
            dx[base + c * S] = g * (expf(x[base + c * S] - m) * inv - (c == tp ? 1.f : 0.f));
    }
}

static void ce_dims(const mt_tensor *x, long long *N, long long *C, long long *S)
{
    *N = x->shape[0];
    *C = x->shape[1];
    *S = 1;
    for (int i = 2; i < x->ndim; i++) *S *= x->shape[i];
}

static mt_status ce_forward_run(mt_node *n, mt_cuda_ctx *c, mt_tensor *buf, mt_tensor *sums, mt_tensor *sc,
                                mt_tensor *flag)
{
    const mt_ce_attr *a = MT_ATTR(n, mt_ce_attr);
    long long N, C, S;
    ce_dims(n->in[0], &N, &C, &S);
    long long P = N * S;
    const int red = a->reduction;
    float *l = (float *)mt_data(buf ? buf : n->out[0]);
    float *wc = buf ? l + P : NULL, *wall = buf ? l + 2 * P : NULL;
    if (P) {
        ce_fwd_kernel<<<mt_cuda_blocks((size_t)P), MT_CUDA_THREADS, 0, c->stream>>>(
            P, C, S, a->ignore_index, (const float *)mt_data(n->in[0]), (const int *)mt_data(n->in[1]),
            n->in[2] ? (const float *)mt_data(n->in[2]) : NULL, n->in[3] ? (const float *)mt_data(n->in[3]) : NULL, l,
            wc, wall, (int *)mt_data(flag));
        MT_CUDA_LAUNCH_CHECK();
    }
    if (red != MT_REDUCE_NONE) {
        mt_rplan p;
        memset(&p, 0, sizeof p);
        p.nout = 1;
        p.nred = P;
        p.red.ndim = 1;
        p.red.shape[0] = (int)P;
        p.red.stride[0] = 1;
        float *sv = (float *)mt_data(sums);
        if (P)
            for (int k = 0; k < 3; k++) MT_TRY(mt_cuda_reduce_sum(c, &p, l + k * P, sv + k, 1.f, 0));
        ce_finish_kernel<<<1, 1, 0, c->stream>>>(red, sv, (float *)mt_data(n->out[0]), (float *)mt_data(sc));
        MT_CUDA_LAUNCH_CHECK();
    }
    int bad = 0;
    MT_TRY(mt_tensor_to_host(flag, &bad, sizeof bad));
    if (bad)
        return MT_ERR(MT_ERR_INVALID, "cross_entropy: a target id is outside [0, %lld) and is not ignore_index (%d)",
                      C, a->ignore_index);
    return MT_OK;
}

extern "C" mt_status ce_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    long long N, C, S;
    ce_dims(n->in[0], &N, &C, &S);
    mt_device dev = n->in[0]->storage->device;
    int one[1] = {1}, three[1] = {3}, shp[2] = {3, (int)(N * S)};
    const int reduce = MT_ATTR(n, mt_ce_attr)->reduction != MT_REDUCE_NONE;
    mt_tensor *flag = mt_tensor_zeros(MT_I32, dev, 1, one);
    mt_tensor *buf = reduce ? mt_tensor_new(MT_REAL, dev, 2, shp) : NULL;
    mt_tensor *sums = reduce ? mt_tensor_zeros(MT_REAL, dev, 1, three) : NULL;
    mt_tensor *sc = reduce ? mt_tensor_new(MT_REAL, dev, 0, NULL) : NULL;
    mt_status s = (!flag || (reduce && (!buf || !sums || !sc))) ? mt_last_status() : ce_forward_run(n, c, buf, sums, sc, flag);
    mt_tensor_release(flag);
    mt_tensor_release(buf);
    mt_tensor_release(sums);
    if (s != MT_OK) {
        mt_tensor_release(sc);
        return s;
    }
    n->saved[0] = sc;
    return MT_OK;
}

extern "C" mt_status ce_backward_cuda(mt_node *n)
{
    if (n->gin[2] || n->gin[3])
        return MT_ERR(MT_ERR_UNSUPPORTED, "cross_entropy: no gradient with respect to class_weight / pixel_weight; "
                                          "pass them without requires_grad");
    if (!n->gin[0]) return MT_OK;
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_ce_attr *a = MT_ATTR(n, mt_ce_attr);
    long long N, C, S;
    ce_dims(n->in[0], &N, &C, &S);
    long long P = N * S;
    if (!P) return MT_OK;
    const int none = a->reduction == MT_REDUCE_NONE;
    ce_bwd_kernel<<<mt_cuda_blocks((size_t)P), MT_CUDA_THREADS, 0, c->stream>>>(
        P, C, S, a->ignore_index, none, (const float *)mt_data(n->in[0]), (const int *)mt_data(n->in[1]),
        n->in[2] ? (const float *)mt_data(n->in[2]) : NULL, n->in[3] ? (const float *)mt_data(n->in[3]) : NULL,
        (const float *)mt_data(n->gout[0]), none ? NULL : (const float *)mt_data(n->saved[0]),
        (float *)mt_data(n->gin[0]));
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
