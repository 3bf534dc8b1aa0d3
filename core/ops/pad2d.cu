/* core/ops/pad2d.cu: CUDA twin of pad2d.c. Forward gathers (one thread per
 * output element); backward adds each output gradient into the input element
 * it read, with atomicAdd for reflect/replicate (several outputs read one
 * input, as in PyTorch's CUDA kernel) and a plain gather for constant. With
 * train.deterministic (ctx->deterministic) reflect/replicate backward gathers
 * instead: each input gradient sums, in a fixed order, the output positions
 * that read it (its own, and those in the padded border). */
#include "../cuda_common.h"
#include "../ops.h"

__device__ static int pad_src(int i, int n, int mode)
{
    if (i >= 0 && i < n) return i;
    if (mode == MT_PAD_CONSTANT) return -1;
    if (mode == MT_PAD_REFLECT) return i < 0 ? -i : 2 * (n - 1) - i;
    return i < 0 ? 0 : n - 1;
}

typedef struct pad_geom {
    int H, W, OH, OW, top, left, mode;
} pad_geom;

__global__ static void pad_forward_kernel(const float *x, float *y, size_t total, pad_geom g, float value)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(i % g.OW), r = (int)((i / g.OW) % g.OH);
        size_t plane = i / ((size_t)g.OW * g.OH);
        int h = pad_src(r - g.top, g.H, g.mode), w = pad_src(c - g.left, g.W, g.mode);
        y[i] = (h < 0 || w < 0) ? value : x[(plane * g.H + h) * g.W + w];
    }
}

__global__ static void pad_backward_kernel(const float *dy, float *dx, size_t total, pad_geom g)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)(i % g.OW), r = (int)((i / g.OW) % g.OH);
        size_t plane = i / ((size_t)g.OW * g.OH);
        int h = pad_src(r - g.top, g.H, g.mode), w = pad_src(c - g.left, g.W, g.mode);
        if (h < 0 || w < 0) continue;
        float *dst = dx + (plane * g.H + h) * g.W + w;
        if (g.mode == MT_PAD_CONSTANT) *dst += dy[i]; /* one-to-one: no race */
        else atomicAdd(dst, dy[i]);
    }
}

/* The next output index after `r` along an axis that may read input index i:
 * the border [0, before), then i + before, then the border [before + n, out). */
__device__ static int next_candidate(int r, int i, int n, int before, int out)
{
    int own = i + before;
    for (r++; r < out; r++) {
        if (r < before) return r;      /* the border before the input */
        if (r < own) {                 /* skip to the input's own position */
            r = own - 1;
            continue;
        }
        if (r == own) return r;
        if (r < before + n) {          /* skip the rest of the input's span */
            r = before + n - 1;
            continue;
        }
        return r;                      /* the border after it */
    }
    return out;
}

__global__ static void pad_backward_gather_kernel(const float *dy, float *dx, size_t total, pad_geom g)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int w = (int)(i % g.W), h = (int)((i / g.W) % g.H);
        const float *dyp = dy + (i / ((size_t)g.W * g.H)) * g.OH * g.OW;
        float acc = 0.f;
        for (int r = next_candidate(-1, h, g.H, g.top, g.OH); r < g.OH; r = next_candidate(r, h, g.H, g.top, g.OH)) {
            if (pad_src(r - g.top, g.H, g.mode) != h) continue;
            for (int c = next_candidate(-1, w, g.W, g.left, g.OW); c < g.OW;
                 c = next_candidate(c, w, g.W, g.left, g.OW))
                if (pad_src(c - g.left, g.W, g.mode) == w) acc += dyp[r * g.OW + c];
        }
        dx[i] += acc;
    }
}

extern "C" mt_status pad2d_cuda(mt_node *n, int backward, int top, int left, int mode, double value)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_tensor *x = n->in[0];
    const mt_tensor *y = backward ? n->gout[0] : n->out[0];
    pad_geom g = {x->shape[2], x->shape[3], y->shape[2], y->shape[3], top, left, mode};
    size_t total = mt_numel(y);
    if (total == 0) return MT_OK;
    if (!backward)
        pad_forward_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(
            (const float *)mt_data(x), (float *)mt_data(n->out[0]), total, g, (float)value);
    else if (c->deterministic && mode != MT_PAD_CONSTANT)
        pad_backward_gather_kernel<<<mt_cuda_blocks(mt_numel(x)), MT_CUDA_THREADS, 0, c->stream>>>(
            (const float *)mt_data(n->gout[0]), (float *)mt_data(n->gin[0]), mt_numel(x), g);
    else
        pad_backward_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(
            (const float *)mt_data(n->gout[0]), (float *)mt_data(n->gin[0]), total, g);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
