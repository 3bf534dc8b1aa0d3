/* core/ops/max_pool2d.cu: CUDA twin of max_pool2d.c. Same window, tie and NaN
 * rules (first maximum in row-major order wins, NaN propagates), same int32
 * flat h*W+w indices. The backward is a deterministic gather: each input
 * element sums dy over the windows that cover it and chose it. */
#include "../cuda_common.h"
#include "../ops.h"

typedef struct pool_geom {
    int H, W, OH, OW;
    int kh, kw, sh, sw, pt, pl;
} pool_geom;

static pool_geom make_geom(const mt_node *n, const mt_tensor *x, const mt_tensor *y)
{
    const mt_pool2d_params *p = MT_ATTR(n, mt_pool2d_params);
    pool_geom g;
    g.H = x->shape[2], g.W = x->shape[3], g.OH = y->shape[2], g.OW = y->shape[3];
    g.kh = p->kh, g.kw = p->kw, g.sh = p->stride_h, g.sw = p->stride_w, g.pt = p->pad_top, g.pl = p->pad_left;
    return g;
}

__global__ static void max_pool2d_forward_kernel(const float *x, float *y, int32_t *idx, size_t total, pool_geom g)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int ow = (int)(i % g.OW), oh = (int)((i / g.OW) % g.OH);
        size_t plane = i / ((size_t)g.OW * g.OH);
        const float *xp = x + plane * g.H * g.W;
        int h0 = oh * g.sh - g.pt, h1 = h0 + g.kh, w0 = ow * g.sw - g.pl, w1 = w0 + g.kw;
        h0 = max(h0, 0), w0 = max(w0, 0), h1 = min(h1, g.H), w1 = min(w1, g.W);
        float best = -INFINITY;
        int besti = h0 * g.W + w0;
        for (int h = h0; h < h1; h++)
            for (int w = w0; w < w1; w++) {
                float v = xp[h * g.W + w];
                if (v > best || isnan(v)) {
                    best = v;
                    besti = h * g.W + w;
                    if (isnan(v)) h = h1, w = w1; /* stop: NaN wins */
                }
            }
        y[i] = best;
        idx[i] = besti;
    }
}

/* Output rows whose window covers input row h: oh*s - pad <= h < oh*s - pad + k. */
__device__ static void covering(int h, int k, int s, int pad, int out, int *lo, int *hi)
{
    int a = h + pad - k + 1; /* oh*s >= a */
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    *hi = min((h + pad) / s, out - 1);
}

__global__ static void max_pool2d_backward_kernel(const float *dy, const int32_t *idx, float *dx, size_t total,
                                                  pool_geom g)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int w = (int)(i % g.W), h = (int)((i / g.W) % g.H);
        size_t plane = i / ((size_t)g.W * g.H);
        int me = h * g.W + w, oh0, oh1, ow0, ow1;
        covering(h, g.kh, g.sh, g.pt, g.OH, &oh0, &oh1);
        covering(w, g.kw, g.sw, g.pl, g.OW, &ow0, &ow1);
        const float *dyp = dy + plane * g.OH * g.OW;
        const int32_t *ip = idx + plane * g.OH * g.OW;
        float s = 0.f;
        for (int oh = oh0; oh <= oh1; oh++)
            for (int ow = ow0; ow <= ow1; ow++)
                if (ip[oh * g.OW + ow] == me) s += dyp[oh * g.OW + ow];
        dx[i] += s;
    }
}

extern "C" mt_status max_pool2d_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    mt_tensor *it = mt_tensor_new(MT_I32, n->out[0]->storage->device, 4, n->out[0]->shape);
    if (!it) return mt_last_status();
    n->saved[0] = it;
    pool_geom g = make_geom(n, n->in[0], n->out[0]);
    size_t total = mt_numel(n->out[0]);
    if (total == 0) return MT_OK;
    max_pool2d_forward_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(
        (const float *)mt_data(n->in[0]), (float *)mt_data(n->out[0]), (int32_t *)mt_data(it), total, g);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status max_pool2d_backward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    pool_geom g = make_geom(n, n->in[0], n->gout[0]);
    size_t total = mt_numel(n->in[0]);
    if (total == 0) return MT_OK;
    max_pool2d_backward_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(
        (const float *)mt_data(n->gout[0]), (const int32_t *)mt_data(n->saved[0]), (float *)mt_data(n->gin[0]), total,
        g);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
