/* core/ops/upsample2d.cu: CUDA twin of upsample2d.c (same index and weight
 * formulas, float arithmetic). Forward gathers; backward scatters with
 * atomicAdd (as PyTorch's CUDA kernels do, so the summation order of
 * overlapping contributions, and the last bits, may vary run to run), or,
 * with train.deterministic (ctx->deterministic), gathers: each input
 * gradient sums the output positions that read it, in a fixed order. */
#include "../cuda_common.h"
#include "../ops.h"

__device__ static int nearest_src(int dst, int in, int out)
{
    if (out == in) return dst;
    if (out == 2 * in) return dst >> 1;
    float scale = (float)in / (float)out;
    int s = (int)floorf((float)dst * scale);
    return min(s, in - 1);
}

__device__ static void linear_src(int dst, int in, int out, int align_corners, int *i0, int *i1, float *l0, float *l1)
{
    float src;
    if (align_corners) {
        float scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.f;
        src = scale * (float)dst;
    } else {
        float scale = (float)in / (float)out;
        src = fmaxf(scale * ((float)dst + 0.5f) - 0.5f, 0.f);
    }
    int a = (int)src;
    *i0 = a;
    *i1 = a + (a < in - 1 ? 1 : 0);
    float l = fminf(fmaxf(src - (float)a, 0.f), 1.f);
    *l1 = l;
    *l0 = 1.f - l;
}

typedef struct up_geom {
    int H, W, OH, OW, mode, align_corners;
} up_geom;

__global__ static void upsample_forward_kernel(const float *x, float *y, size_t total, up_geom g)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int ow = (int)(i % g.OW), oh = (int)((i / g.OW) % g.OH);
        const float *xp = x + (i / ((size_t)g.OW * g.OH)) * g.H * g.W;
        if (g.mode == MT_UPSAMPLE_NEAREST) {
            y[i] = xp[nearest_src(oh, g.H, g.OH) * g.W + nearest_src(ow, g.W, g.OW)];
            continue;
        }
        int h0, h1, w0, w1;
        float lh0, lh1, lw0, lw1;
        linear_src(oh, g.H, g.OH, g.align_corners, &h0, &h1, &lh0, &lh1);
        linear_src(ow, g.W, g.OW, g.align_corners, &w0, &w1, &lw0, &lw1);
        y[i] = lh0 * (lw0 * xp[h0 * g.W + w0] + lw1 * xp[h0 * g.W + w1]) +
               lh1 * (lw0 * xp[h1 * g.W + w0] + lw1 * xp[h1 * g.W + w1]);
    }
}

__global__ static void upsample_backward_kernel(const float *dy, float *dx, size_t total, up_geom g)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int ow = (int)(i % g.OW), oh = (int)((i / g.OW) % g.OH);
        float *dxp = dx + (i / ((size_t)g.OW * g.OH)) * g.H * g.W;
        float d = dy[i];
        if (g.mode == MT_UPSAMPLE_NEAREST) {
            atomicAdd(dxp + nearest_src(oh, g.H, g.OH) * g.W + nearest_src(ow, g.W, g.OW), d);
            continue;
        }
        int h0, h1, w0, w1;
        float lh0, lh1, lw0, lw1;
        linear_src(oh, g.H, g.OH, g.align_corners, &h0, &h1, &lh0, &lh1);
        linear_src(ow, g.W, g.OW, g.align_corners, &w0, &w1, &lw0, &lw1);
        atomicAdd(dxp + h0 * g.W + w0, lh0 * lw0 * d);
        atomicAdd(dxp + h0 * g.W + w1, lh0 * lw1 * d);
        atomicAdd(dxp + h1 * g.W + w0, lh1 * lw0 * d);
        atomicAdd(dxp + h1 * g.W + w1, lh1 * lw1 * d);
    }
}

/* Output positions [*lo, *hi] that may read input index i (a superset, checked exactly by the caller):
 * the forward maps are monotonic with slope at most max(out / in, (out - 1) / (in - 1)). */
__device__ static void candidates(int i, int in, int out, int *lo, int *hi)
{
    if (in <= 1) {
        *lo = 0;
        *hi = out - 1;
        return;
    }
    float r = fmaxf((float)out / (float)in, (float)(out - 1) / (float)(in - 1));
    *lo = max(0, (int)floorf((float)(i - 1) * r) - 2);
    *hi = min(out - 1, (int)ceilf((float)(i + 2) * r) + 2);
}

/* weight of input index i in output position dst along one axis (0 when dst does not read i) */
__device__ static float axis_weight(int i, int dst, int in, int out, int mode, int align_corners)
{
    if (mode == MT_UPSAMPLE_NEAREST) return nearest_src(dst, in, out) == i ? 1.f : 0.f;
    int i0, i1;
    float l0, l1;
    linear_src(dst, in, out, align_corners, &i0, &i1, &l0, &l1);
    return (i0 == i ? l0 : 0.f) + (i1 == i ? l1 : 0.f);
}

__global__ static void upsample_backward_gather_kernel(const float *dy, float *dx, size_t total, up_geom g)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int w = (int)(i % g.W), h = (int)((i / g.W) % g.H);
        const float *dyp = dy + (i / ((size_t)g.W * g.H)) * g.OH * g.OW;
        int oh0, oh1, ow0, ow1;
        candidates(h, g.H, g.OH, &oh0, &oh1);
        candidates(w, g.W, g.OW, &ow0, &ow1);
        float acc = 0.f;
        for (int oh = oh0; oh <= oh1; oh++) {
            float wh = axis_weight(h, oh, g.H, g.OH, g.mode, g.align_corners);
            if (wh == 0.f) continue;
            for (int ow = ow0; ow <= ow1; ow++) {
                float ww = axis_weight(w, ow, g.W, g.OW, g.mode, g.align_corners);
                if (ww != 0.f) acc += wh * ww * dyp[oh * g.OW + ow];
            }
        }
        dx[i] += acc;
    }
}

extern "C" mt_status upsample2d_cuda(mt_node *n, int backward, int mode, int align_corners)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_tensor *x = n->in[0];
    const mt_tensor *y = backward ? n->gout[0] : n->out[0];
    up_geom g = {x->shape[2], x->shape[3], y->shape[2], y->shape[3], mode, align_corners};
    size_t total = mt_numel(y);
    if (total == 0) return MT_OK;
    if (!backward)
        upsample_forward_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(
            (const float *)mt_data(x), (float *)mt_data(n->out[0]), total, g);
    else if (c->deterministic)
        upsample_backward_gather_kernel<<<mt_cuda_blocks(mt_numel(x)), MT_CUDA_THREADS, 0, c->stream>>>(
            (const float *)mt_data(n->gout[0]), (float *)mt_data(n->gin[0]), mt_numel(x), g);
    else
        upsample_backward_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(
            (const float *)mt_data(n->gout[0]), (float *)mt_data(n->gin[0]), total, g);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
