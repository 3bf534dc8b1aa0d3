/* core/ops/conv2d.cu: CUDA twin of conv2d.c, on cuDNN, plus the cuDNN
 * helpers conv_transpose2d.cu shares (declared in gemm.h).
 *
 * forward          cudnnConvolutionForward (+ cudnnAddTensor for the bias)
 * backward dx      cudnnConvolutionBackwardData
 * backward dw      cudnnConvolutionBackwardFilter
 * backward db      cudnnConvolutionBackwardBias
 * Algorithms: the first result of cudnnGet*Algorithm_v7 (heuristic; or of
 * cudnnFind*AlgorithmEx, timed, with ctx->cudnn_benchmark) that succeeds, fits
 * the shared workspace's limit and, with ctx->deterministic, is deterministic;
 * workspace from mt_cuda_workspace(). Descriptors and choices are cached per
 * shape (cudnn_cache.cu): a step after the warm-up creates and queries nothing. Math: CUDNN_FMA_MATH unless ctx->allow_tf32 (then
 * CUDNN_TENSOR_OP_MATH). On Ampere and newer CUDNN_DEFAULT_MATH already permits
 * TF32 for float, which would break the 1e-4 agreement with the CPU, so the
 * "TF32 off" default is expressed as FMA math.
 *
 * Asymmetric padding (TF "same"): cuDNN pads symmetrically, so the symmetric
 * part min(top, bottom), min(left, right) is given to cuDNN and only the
 * excess (e.g. the one extra bottom/right row of stride-2 "same") is padded
 * explicitly into a temporary copy of x (mt_cuda_pad_zero). Backward-data then
 * produces the gradient of that padded copy, whose interior is cropped back
 * into dx (mt_cuda_crop). Symmetric padding (the usual case) costs no copy.
 */
#include <string.h>

#include "../cuda_common.h"
#include "../device.h"
#include "../ops.h"
#include "lowp.h"
#include "gemm.h"

/* ------------------------------------------------------ shared helpers --- */

__global__ static void pad_zero_kernel(const float *src, float *dst, int NC, int H, int W, int Hp, int Wp, int top,
                                       int left)
{
    size_t total = (size_t)NC * Hp * Wp;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int x = (int)(i % Wp);
        int y = (int)((i / Wp) % Hp);
        size_t nc = i / ((size_t)Wp * Hp);
        int sy = y - top, sx = x - left;
        dst[i] = (sy >= 0 && sy < H && sx >= 0 && sx < W) ? src[(nc * H + sy) * W + sx] : 0.f;
    }
}

__global__ static void crop_kernel(const float *src, float *dst, int NC, int H, int W, int top, int left, int h, int w,
                                   int add)
{
    size_t total = (size_t)NC * h * w;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int x = (int)(i % w);
        int y = (int)((i / w) % h);
        size_t nc = i / ((size_t)w * h);
        float v = src[(nc * H + y + top) * W + x + left];
        dst[i] = add ? dst[i] + v : v;
    }
}

extern "C" mt_status mt_cuda_pad_zero(mt_cuda_ctx *c, const float *src, float *dst, int NC, int H, int W, int top,
                                      int bottom, int left, int right)
{
    int Hp = H + top + bottom, Wp = W + left + right;
    size_t total = (size_t)NC * Hp * Wp;
    pad_zero_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(src, dst, NC, H, W, Hp, Wp, top, left);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" mt_status mt_cuda_crop(mt_cuda_ctx *c, const float *src, float *dst, int NC, int H, int W, int top, int left,
                                  int h, int w, int add)
{
    size_t total = (size_t)NC * h * w;
    crop_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(src, dst, NC, H, W, top, left, h, w, add);
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}

extern "C" void mt_cudnn_conv_destroy(mt_cudnn_conv *cv)
{
    if (cv->entry) { /* the cache owns them */
        memset(cv, 0, sizeof *cv);
        return;
    }
    if (cv->in) cudnnDestroyTensorDescriptor(cv->in);
    if (cv->out) cudnnDestroyTensorDescriptor(cv->out);
    if (cv->bias) cudnnDestroyTensorDescriptor(cv->bias);
    if (cv->filt) cudnnDestroyFilterDescriptor(cv->filt);
    if (cv->conv) cudnnDestroyConvolutionDescriptor(cv->conv);
    cv->in = cv->out = cv->bias = NULL;
    cv->filt = NULL;
    cv->conv = NULL;
}

static mt_status create_descriptors(mt_cuda_ctx *c, const mt_cudnn_conv_dims *d, mt_cudnn_conv *cv)
{
    MT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&cv->in));
    MT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&cv->out));
    MT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&cv->bias));
    MT_CUDNN_CHECK(cudnnCreateFilterDescriptor(&cv->filt));
    MT_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&cv->conv));
    /* float32, or bf16 / fp16 data with a float32 compute type (cuDNN's PSEUDO_BFLOAT16 / PSEUDO_HALF
     * configurations: products of the low-precision operands summed in float32, like torch autocast) */
    const cudnnDataType_t dt = (cudnnDataType_t)d->dtype;
    cv->lowp = dt != CUDNN_DATA_FLOAT;
    MT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(cv->in, CUDNN_TENSOR_NCHW, dt, d->N, d->C, d->H, d->W));
    MT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(cv->out, CUDNN_TENSOR_NCHW, dt, d->N, d->O, d->OH, d->OW));
    MT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(cv->bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, d->O, 1, 1));
    MT_CUDNN_CHECK(cudnnSetFilter4dDescriptor(cv->filt, dt, CUDNN_TENSOR_NCHW, d->O, d->C / d->groups, d->KH, d->KW));
    MT_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(cv->conv, d->ph, d->pw, d->sh, d->sw, d->dh, d->dw,
                                                   CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    MT_CUDNN_CHECK(cudnnSetConvolutionGroupCount(cv->conv, d->groups));
    /* tensor cores for bf16 / fp16 (no TF32 question there); float32: FMA unless TF32 is allowed */
    MT_CUDNN_CHECK(cudnnSetConvolutionMathType(cv->conv, cv->lowp || c->allow_tf32 ? CUDNN_TENSOR_OP_MATH
                                                                                   : CUDNN_FMA_MATH));
    int n, o, h, w;
    MT_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(cv->conv, cv->in, cv->filt, &n, &o, &h, &w));
    if (n != d->N || o != d->O || h != d->OH || w != d->OW)
        return MT_ERR(MT_ERR_UNSUPPORTED,
                      "cuDNN convolution output [%d, %d, %d, %d] differs from the expected [%d, %d, %d, %d] "
                      "(output_padding >= stride is not supported on CUDA)",
                      n, o, h, w, d->N, d->O, d->OH, d->OW);
    return MT_OK;
}

extern "C" mt_status mt_cudnn_conv_create(mt_cuda_ctx *c, const mt_cudnn_conv_dims *d, mt_cudnn_conv *cv)
{
    memset(cv, 0, sizeof *cv);
    mt_cudnn_conv_entry *e = mt_cudnn_cache_find(c, d);
    if (e) {
        *cv = e->cv;
        cv->entry = e;
        return MT_OK;
    }
    MT_TRY(create_descriptors(c, d, cv));
    mt_cudnn_cache_put(c, d, cv);
    return MT_OK;
}

/* Accept a heuristic or timed result: it ran, fits the workspace limit, does
 * not use TF32 unless allowed (tensor-op math is TF32 only for float32 data), and is
 * deterministic when that is asked for. */
static int algo_ok(cudnnStatus_t st, cudnnMathType_t math, size_t mem, cudnnDeterminism_t det, const mt_cuda_ctx *c,
                   const mt_cudnn_conv *cv)
{
    if (st != CUDNN_STATUS_SUCCESS || mem > c->workspace_limit) return 0;
    if (c->deterministic && det != CUDNN_DETERMINISTIC) return 0;
    return cv->lowp || c->allow_tf32 || math != CUDNN_TENSOR_OP_MATH; /* tensor ops: TF32 for float32 data */
}

/* Scratch device memory of `bytes` for cudnnFind*AlgorithmEx to write its
 * trial outputs into (the real output may hold values it accumulates into),
 * and the largest workspace allowed for the trials. */
static mt_status find_buffers(mt_cuda_ctx *c, size_t bytes, void **scratch, void **ws)
{
    MT_TRY(mt_alloc(mt_cuda(c->device), bytes, scratch));
    mt_status s = mt_cuda_workspace(c, c->workspace_limit, ws);
    if (s != MT_OK) mt_free(mt_cuda(c->device), *scratch, bytes);
    return s;
}

static const char *const k_no_algo = "cuDNN found no %s convolution algorithm within the workspace limit%s "
                                     "(raise MEDTRAIN_CUDNN_WORKSPACE_MB%s)";
#define NO_ALGO(pass, c)                                                                                \
    MT_ERR(MT_ERR_CUDA, k_no_algo, pass, (c)->deterministic ? " that is deterministic" : "",          \
           (c)->deterministic ? " or set train.deterministic: false" : "")

extern "C" mt_status mt_cudnn_conv_forward(mt_cuda_ctx *c, mt_cudnn_conv *cv, const void *x, const void *w,
                                           float beta, void *y)
{
    int algo = 0;
    size_t bytes = 0;
    if (!mt_cudnn_cache_algo(cv, MT_CONV_FWD, &algo, &bytes)) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int found = 0, pick = -1;
        if (c->cudnn_benchmark) {
            size_t out_bytes = 0;
            void *scratch = NULL, *fws = NULL;
            MT_CUDNN_CHECK(cudnnGetTensorSizeInBytes(cv->out, &out_bytes));
            MT_TRY(find_buffers(c, out_bytes, &scratch, &fws));
            cudnnStatus_t fs = cudnnFindConvolutionForwardAlgorithmEx(
                c->cudnn, cv->in, x, cv->filt, w, cv->conv, cv->out, scratch, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found,
                perf, fws, c->workspace_limit);
            mt_free(mt_cuda(c->device), scratch, out_bytes);
            MT_CUDNN_CHECK(fs);
        } else {
            MT_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(c->cudnn, cv->in, cv->filt, cv->conv, cv->out,
                                                                  CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf));
        }
        for (int i = 0; i < found && pick < 0; i++)
            if (algo_ok(perf[i].status, perf[i].mathType, perf[i].memory, perf[i].determinism, c, cv)) pick = i;
        if (pick < 0) return NO_ALGO("forward", c);
        algo = (int)perf[pick].algo;
        MT_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(c->cudnn, cv->in, cv->filt, cv->conv, cv->out,
                                                               perf[pick].algo, &bytes));
        mt_cudnn_cache_set_algo(cv, MT_CONV_FWD, algo, bytes);
    }
    void *ws = NULL;
    if (bytes) MT_TRY(mt_cuda_workspace(c, bytes, &ws));
    const float one = 1.f;
    MT_CUDNN_CHECK(cudnnConvolutionForward(c->cudnn, &one, cv->in, x, cv->filt, w, cv->conv,
                                           (cudnnConvolutionFwdAlgo_t)algo, ws, bytes, &beta, cv->out, y));
    return MT_OK;
}

extern "C" mt_status mt_cudnn_conv_backward_data(mt_cuda_ctx *c, mt_cudnn_conv *cv, const void *w, const void *dy,
                                                 float beta, void *dx)
{
    int algo = 0;
    size_t bytes = 0;
    if (!mt_cudnn_cache_algo(cv, MT_CONV_BWD_DATA, &algo, &bytes)) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        int found = 0, pick = -1;
        if (c->cudnn_benchmark) {
            size_t in_bytes = 0;
            void *scratch = NULL, *fws = NULL;
            MT_CUDNN_CHECK(cudnnGetTensorSizeInBytes(cv->in, &in_bytes));
            MT_TRY(find_buffers(c, in_bytes, &scratch, &fws));
            cudnnStatus_t fs = cudnnFindConvolutionBackwardDataAlgorithmEx(
                c->cudnn, cv->filt, w, cv->out, dy, cv->conv, cv->in, scratch, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                &found, perf, fws, c->workspace_limit);
            mt_free(mt_cuda(c->device), scratch, in_bytes);
            MT_CUDNN_CHECK(fs);
        } else {
            MT_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(c->cudnn, cv->filt, cv->out, cv->conv, cv->in,
                                                                       CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &found,
                                                                       perf));
        }
        for (int i = 0; i < found && pick < 0; i++)
            if (algo_ok(perf[i].status, perf[i].mathType, perf[i].memory, perf[i].determinism, c, cv)) pick = i;
        if (pick < 0) return NO_ALGO("backward-data", c);
        algo = (int)perf[pick].algo;
        MT_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(c->cudnn, cv->filt, cv->out, cv->conv, cv->in,
                                                                    perf[pick].algo, &bytes));
        mt_cudnn_cache_set_algo(cv, MT_CONV_BWD_DATA, algo, bytes);
    }
    void *ws = NULL;
    if (bytes) MT_TRY(mt_cuda_workspace(c, bytes, &ws));
    const float one = 1.f;
    MT_CUDNN_CHECK(cudnnConvolutionBackwardData(c->cudnn, &one, cv->filt, w, cv->out, dy, cv->conv,
                                                (cudnnConvolutionBwdDataAlgo_t)algo, ws, bytes, &beta, cv->in, dx));
    return MT_OK;
}

extern "C" mt_status mt_cudnn_conv_backward_filter(mt_cuda_ctx *c, mt_cudnn_conv *cv, const void *x, const void *dy,
                                                   float beta, void *dw)
{
    int algo = 0;
    size_t bytes = 0;
    if (!mt_cudnn_cache_algo(cv, MT_CONV_BWD_FILTER, &algo, &bytes)) {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        int found = 0, pick = -1;
        if (c->cudnn_benchmark) {
            size_t w_bytes = 0;
            void *scratch = NULL, *fws = NULL;
            MT_CUDNN_CHECK(cudnnGetFilterSizeInBytes(cv->filt, &w_bytes));
            MT_TRY(find_buffers(c, w_bytes, &scratch, &fws));
            cudnnStatus_t fs = cudnnFindConvolutionBackwardFilterAlgorithmEx(
                c->cudnn, cv->in, x, cv->out, dy, cv->conv, cv->filt, scratch, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                &found, perf, fws, c->workspace_limit);
            mt_free(mt_cuda(c->device), scratch, w_bytes);
            MT_CUDNN_CHECK(fs);
        } else {
            MT_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(c->cudnn, cv->in, cv->out, cv->conv, cv->filt,
                                                                         CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                                         &found, perf));
        }
        for (int i = 0; i < found && pick < 0; i++)
            if (algo_ok(perf[i].status, perf[i].mathType, perf[i].memory, perf[i].determinism, c, cv)) pick = i;
        if (pick < 0) return NO_ALGO("backward-filter", c);
        algo = (int)perf[pick].algo;
        MT_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(c->cudnn, cv->in, cv->out, cv->conv, cv->filt,
                                                                      perf[pick].algo, &bytes));
        mt_cudnn_cache_set_algo(cv, MT_CONV_BWD_FILTER, algo, bytes);
    }
    void *ws = NULL;
    if (bytes) MT_TRY(mt_cuda_workspace(c, bytes, &ws));
    const float one = 1.f;
    MT_CUDNN_CHECK(cudnnConvolutionBackwardFilter(c->cudnn, &one, cv->in, x, cv->out, dy, cv->conv,
                                                  (cudnnConvolutionBwdFilterAlgo_t)algo, ws, bytes, &beta, cv->filt, dw));
    return MT_OK;
}

extern "C" void mt_cudnn_conv_split_pad(mt_cudnn_conv_dims *d, int top, int bottom, int left, int right, int *et,
                                        int *eb, int *el, int *er)
{
    d->ph = top < bottom ? top : bottom;
    d->pw = left < right ? left : right;
    *et = top - d->ph;
    *eb = bottom - d->ph;
    *el = left - d->pw;
    *er = right - d->pw;
    d->H += *et + *eb;
    d->W += *el + *er;
}

extern "C" mt_status mt_cudnn_conv_run(mt_node *n, mt_cudnn_conv_impl impl)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    mt_cudnn_conv cv = {};
    void *tmp = NULL;
    size_t tmp_bytes = 0;
    mt_status s = impl(c, n, &cv, &tmp, &tmp_bytes);
    mt_cudnn_conv_destroy(&cv);
    if (tmp) mt_free(n->in[0]->storage->device, tmp, tmp_bytes);
    return s;
}

/* ------------------------------------------------------------- conv2d --- */

/* Dimensions of the cuDNN conv: input = x grown by the padding excess. */
extern "C" mt_cudnn_conv_dims mt_cudnn_conv2d_dims(const mt_node *n, int *et, int *eb, int *el, int *er)
{
    const mt_conv2d_params *p = MT_ATTR(n, mt_conv2d_params);
    const mt_tensor *x = n->in[0], *w = n->in[1], *y = n->out[0];
    mt_cudnn_conv_dims d;
    d.N = x->shape[0];
    d.C = x->shape[1];
    d.H = x->shape[2];
    d.W = x->shape[3];
    mt_cudnn_conv_split_pad(&d, p->pad_top, p->pad_bottom, p->pad_left, p->pad_right, et, eb, el, er);
    d.O = w->shape[0];
    d.KH = w->shape[2];
    d.KW = w->shape[3];
    d.OH = y->shape[2];
    d.OW = y->shape[3];
    d.sh = p->stride_h;
    d.sw = p->stride_w;
    d.dh = p->dil_h;
    d.dw = p->dil_w;
    d.groups = p->groups;
    d.dtype = (int)CUDNN_DATA_FLOAT;
    return d;
}

static mt_status conv2d_forward_impl(mt_cuda_ctx *c, mt_node *n, mt_cudnn_conv *cv, void **tmp, size_t *tmp_bytes)
{
    int et, eb, el, er;
    mt_cudnn_conv_dims d = mt_cudnn_conv2d_dims(n, &et, &eb, &el, &er);
    MT_TRY(mt_cudnn_conv_create(c, &d, cv));
    const float *x = (const float *)mt_data(n->in[0]);
    if (et || eb || el || er) {
        *tmp_bytes = sizeof(float) * (size_t)d.N * d.C * d.H * d.W;
        MT_TRY(mt_alloc(n->in[0]->storage->device, *tmp_bytes, tmp));
        MT_TRY(mt_cuda_pad_zero(c, x, (float *)*tmp, d.N * d.C, n->in[0]->shape[2], n->in[0]->shape[3], et, eb, el, er));
        x = (const float *)*tmp;
    }
    float *y = (float *)mt_data(n->out[0]);
    MT_TRY(mt_cudnn_conv_forward(c, cv, x, (const float *)mt_data(n->in[1]), 0.f, y));
    if (n->in[2]) {
        const float one = 1.f;
        MT_CUDNN_CHECK(cudnnAddTensor(c->cudnn, &one, cv->bias, mt_data(n->in[2]), &one, cv->out, y));
    }
    return MT_OK;
}

extern "C" mt_status conv2d_forward_cuda(mt_node *n)
{
    if (mt_lowp_node_dtype(n) != MT_REAL) { /* bf16/f16: native cuDNN when it qualifies, else widened to float32 */
        int done = 0;
        MT_TRY(mt_cudnn_conv_lowp_forward(n, 0, &done));
        return done ? MT_OK : mt_lowp_forward(n, conv2d_forward_cuda);
    }
    return mt_cudnn_conv_run(n, conv2d_forward_impl);
}

static mt_status conv2d_backward_impl(mt_cuda_ctx *c, mt_node *n, mt_cudnn_conv *cv, void **tmp, size_t *tmp_bytes)
{
    int et, eb, el, er;
    mt_cudnn_conv_dims d = mt_cudnn_conv2d_dims(n, &et, &eb, &el, &er);
    MT_TRY(mt_cudnn_conv_create(c, &d, cv));
    const int padded = et || eb || el || er;
    const float *x = (const float *)mt_data(n->in[0]);
    const float *dy = (const float *)mt_data(n->gout[0]);
    const size_t pad_elems = (size_t)d.N * d.C * d.H * d.W;
    if (padded && (n->gin[0] || n->gin[1])) {
        /* one buffer: padded x (for dw), then padded dx */
        *tmp_bytes = sizeof(float) * pad_elems * 2;
        MT_TRY(mt_alloc(n->in[0]->storage->device, *tmp_bytes, tmp));
    }
    if (n->in[2] && n->gin[2]) {
        const float one = 1.f;
        MT_CUDNN_CHECK(cudnnConvolutionBackwardBias(c->cudnn, &one, cv->out, dy, &one, cv->bias, mt_data(n->gin[2])));
    }
    if (n->gin[1]) {
        const float *xs = x;
        if (padded) {
            MT_TRY(mt_cuda_pad_zero(c, x, (float *)*tmp, d.N * d.C, n->in[0]->shape[2], n->in[0]->shape[3], et, eb, el,
                                    er));
            xs = (const float *)*tmp;
        }
        MT_TRY(mt_cudnn_conv_backward_filter(c, cv, xs, dy, 1.f, (float *)mt_data(n->gin[1])));
    }
    if (n->gin[0]) {
        const float *w = (const float *)mt_data(n->in[1]);
        float *dx = (float *)mt_data(n->gin[0]);
        if (padded) {
            float *dxp = (float *)*tmp + pad_elems;
            MT_TRY(mt_cudnn_conv_backward_data(c, cv, w, dy, 0.f, dxp));
            MT_TRY(mt_cuda_crop(c, dxp, dx, d.N * d.C, d.H, d.W, et, el, n->in[0]->shape[2], n->in[0]->shape[3], 1));
        } else {
            MT_TRY(mt_cudnn_conv_backward_data(c, cv, w, dy, 1.f, dx));
        }
    }
    return MT_OK;
}

extern "C" mt_status conv2d_backward_cuda(mt_node *n)
{
    if (mt_lowp_node_dtype(n) != MT_REAL) { /* bf16/f16: native cuDNN when it qualifies, else widened to float32 */
        int done = 0;
        MT_TRY(mt_cudnn_conv_lowp_backward(n, 0, &done));
        return done ? MT_OK : mt_lowp_backward(n, conv2d_backward_cuda);
    }
    return mt_cudnn_conv_run(n, conv2d_backward_impl);
}
