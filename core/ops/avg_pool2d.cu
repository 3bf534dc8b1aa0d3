/* core/ops/avg_pool2d.cu: CUDA twin of avg_pool2d.c (same windows and
 * divisors). Backward is a deterministic gather over the covering windows.
 * Global average pool: one block per (n, c) plane with a shared-memory sum. */
#include "../cuda_common.h"
#include "../ops.h"

typedef struct avg_geom {
    int H, W, OH, OW;
    int kh, kw, sh, sw, pt, pb, pl, pr;
    int count_include_pad, divisor_override;
} avg_geom;

static avg_geom make_geom(const mt_node *n, const mt_tensor *x, const mt_tensor *y)
{
    const mt_pool2d_params *p = MT_ATTR(n, mt_pool2d_params);
    avg_geom g;
    g.H = x->shape[2], g.W = x->shape[3], g.OH = y->shape[2], g.OW = y->shape[3];
    g.kh = p->kh, g.kw = p->kw, g.sh = p->stride_h, g.sw = p->stride_w;
    g.pt = p->pad_top, g.pb = p->pad_bottom, g.pl = p->pad_left, g.pr = p->pad_right;
    g.count_include_pad = p->count_include_pad, g.divisor_override = p->divisor_override;
    return g;
}

/* Clipped window of output (oh, ow) and its divisor (0 when empty). */
__device__ static float avg_window(const avg_geom &g, int oh, int ow, int *h0, int *h1, int *w0, int *w1)
{
    int hs = oh * g.sh - g.pt, ws = ow * g.sw - g.pl;
    int he = min(hs + g.kh, g.H + g.pb), we = min(ws + g.kw, g.W + g.pr);
    int pool_size = (he - hs) * (we - ws);
    hs = max(hs, 0), ws = max(ws, 0), he = min(he, g.H), we = min(we, g.W);
    *h0 = hs, *h1 = he, *w0 = ws, *w1 = we;
    if (hs >= he || ws >= we) return 0.f;
    if (g.divisor_override > 0) return (float)g.divisor_override;
    return (float)(g.count_include_pad ? pool_size : (he - hs) * (we - ws));
}

__global__ static void avg_pool2d_forward_kernel(const float *x, float *y, size_t total, avg_geom g)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int ow = (int)(i % g.OW), oh = (int)((i / g.OW) % g.OH);
        const float *xp = x + (i / ((size_t)g.OW * g.OH)) * g.H * g.W;
        int h0, h1, w0, w1;
        float div = avg_window(g, oh, ow, &h0, &h1, &w0, &w1);
        float s = 0.f;
        for (int h = h0; h < h1; h++)
            for (int w = w0; w < w1; w++) s += xp[h * g.W + w];
        y[i] = div > 0.f ? s / div : 0.f;
    }
}

__device__ static void covering(int h, int k, int s, int pad, int out, int *lo, int *hi)
{
    int a = h + pad - k + 1;
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    *hi = min((h + pad) / s, out - 1);
}

__global__ static void avg_pool2d_backward_kernel(const float *dy, float *dx, size_t total, avg_geom g)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int w = (int)(i % g.W), h = (int)((i / g.W) % g.H);
        const float *dyp = dy + (i / ((size_t)g.W * g.H)) * g.OH * g.OW;
        int oh0, oh1, ow0, ow1;
        covering(h, g.kh, g.sh, g.pt, g.OH, &oh0, &oh1);
        covering(w, g.kw, g.sw, g.pl, g.OW, &ow0, &ow1);
        float s = 0.f;
        for (int oh = oh0; oh <= oh1; oh++)
            for (int ow = ow0; ow <= ow1; ow++) {
                int h0, h1, w0, w1;
                float div = avg_window(g, oh, ow, &h0, &h1, &w0, &w1);
                if (div > 0.f && h >= h0 && h < h1 && w >= w0 && w < w1) s += dyp[oh * g.OW + ow] / div;
            }
        dx[i] += s;
    }
}

extern "C" mt_status avg_pool2d_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    avg_geom g = make_geom(n, n->in[0], n->out[0]);
    size_t total = mt_numel(n->out[0]);
    if (total == 0) return MT_OK;
    avg_pool2d_forward_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(
        (const float *)mt_data(n->in[0]), (float *)mt_data(n->out[0]), total, g);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status avg_pool2d_backward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    avg_geom g = make_geom(n, n->in[0], n->gout[0]);
    size_t total = mt_numel(n->in[0]);
    if (total == 0) return MT_OK;
    avg_pool2d_backward_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(
        (const float *)mt_data(n->gout[0]), (float *)mt_data(n->gin[0]), total, g);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

/* one block (256 threads) per plane: y[plane] = mean of its hw values */
__global__ static void global_avg_forward_kernel(const float *x, float *y, size_t hw)
{
    __shared__ float part[MT_CUDA_THREADS];
    const float *xp = x + blockIdx.x * hw;
    float s = 0.f;
    for (size_t i = threadIdx.x; i < hw; i += blockDim.x) s += xp[i];
    part[threadIdx.x] = s;
    __syncthreads();
    for (unsigned k = blockDim.x / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) y[blockIdx.x] = part[0] / (float)hw;
}

__global__ static void global_avg_backward_kernel(const float *dy, float *dx, size_t total, size_t hw)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
        dx[i] += dy[i / hw] / (float)hw;
}

extern "C" mt_status global_avg_pool2d_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_tensor *x = n->in[0];
    size_t planes = (size_t)x->shape[0] * x->shape[1], hw = (size_t)x->shape[2] * x->shape[3];
    if (planes == 0) return MT_OK;
    if (planes > 2147483647u) return MT_ERR(MT_ERR_UNSUPPORTED, "global_avg_pool2d: %zu planes exceed the grid", planes);
    global_avg_forward_kernel<<<(unsigned)planes, MT_CUDA_THREADS, 0, c->stream>>>(
        (const float *)mt_data(x), (float *)mt_data(n->out[0]), hw);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status global_avg_pool2d_backward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_tensor *x = n->in[0];
    size_t total = mt_numel(x), hw = (size_t)x->shape[2] * x->shape[3];
    if (total == 0) return MT_OK;
    global_avg_backward_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(
        (const float *)mt_data(n->gout[0]), (float *)mt_data(n->gin[0]), total, hw);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
