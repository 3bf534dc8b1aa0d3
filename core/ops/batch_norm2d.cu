/* core/ops/batch_norm2d.cu: CUDA twin of batch_norm2d.c on cuDNN
 * (CUDNN_BATCHNORM_SPATIAL: statistics per channel over N, H, W).
 *
 * Training: cudnnBatchNormalizationForwardTraining saves mean and invstd
 * (saved[0], saved[1]). cuDNN updates running buffers with the unbiased
 * (M-1) variance and exponentialAverageFactor = PyTorch's momentum, which is
 * exactly unbiased_running_var = 1. For the Keras-3 biased update we pass no
 * running buffers to cuDNN and update them with our own kernel from the saved
 * statistics (var = 1/invstd^2 - eps, in double).
 * Evaluation: cudnnBatchNormalizationForwardInference; saved stats are the
 * running ones. Backward: cudnnBatchNormalizationBackward in training; our
 * own kernels in evaluation (dx = dy gamma invstd; per-channel sums).
 * Missing gamma/beta are passed to cuDNN as ones/zeros. */
#include "../cuda_common.h"
#include "../device.h"
#include "../ops.h"

/* A [C] float scratch buffer from the caching allocator; all users are on one
 * stream, so returning it right after the launches is stream-ordered safe. */
typedef struct scratch {
    mt_device dev;
    void *ptr;
    size_t bytes;
} scratch;

static void scratch_free(scratch *s)
{
    if (s->ptr) mt_free(s->dev, s->ptr, s->bytes);
    s->ptr = NULL;
}

__global__ static void fill_kernel(float *x, size_t n, float v)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) x[i] = v;
}

static mt_status scratch_get(scratch *s, mt_device dev, size_t count, int fill, float v, cudaStream_t st)
{
    s->dev = dev;
    s->bytes = count * sizeof(float);
    s->ptr = NULL;
    MT_TRY(mt_alloc(dev, s->bytes, &s->ptr));
    if (fill) {
        fill_kernel<<<mt_cuda_blocks(count), MT_CUDA_THREADS, 0, st>>>((float *)s->ptr, count, v);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) {
            scratch_free(s);
            return mt_cuda_status(e, "fill_kernel", __FILE__, __LINE__);
        }
    }
    return MT_OK;
}

/* x and bn descriptors for x [N, C, H, W] or [N, C] (as [N, C, 1, 1]). */
static mt_status make_descs(const mt_tensor *x, cudnnTensorDescriptor_t *xd, cudnnTensorDescriptor_t *bd)
{
    *xd = NULL;
    *bd = NULL;
    int H = x->ndim == 4 ? x->shape[2] : 1, W = x->ndim == 4 ? x->shape[3] : 1;
    MT_CUDNN_CHECK(cudnnCreateTensorDescriptor(xd));
    MT_CUDNN_CHECK(cudnnCreateTensorDescriptor(bd));
    MT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(*xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, x->shape[0], x->shape[1], H, W));
    MT_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(*bd, *xd, CUDNN_BATCHNORM_SPATIAL));
    return MT_OK;
}

static void destroy_descs(cudnnTensorDescriptor_t xd, cudnnTensorDescriptor_t bd)
{
    if (xd) cudnnDestroyTensorDescriptor(xd);
    if (bd) cudnnDestroyTensorDescriptor(bd);
}

__global__ static void running_update_kernel(float *rmean, float *rvar, const float *mean, const float *invstd, int C,
                                             double momentum, double eps, double unbias)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double is = invstd[c];
    double var = 1.0 / (is * is) - eps;
    if (var < 0) var = 0;
    rmean[c] = (float)((1 - momentum) * rmean[c] + momentum * mean[c]);
    rvar[c] = (float)((1 - momentum) * rvar[c] + momentum * var * unbias);
}

__global__ static void eval_stats_kernel(const float *rmean, const float *rvar, float *mean, float *invstd, int C,
                                         double eps)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    mean[c] = rmean[c];
    invstd[c] = (float)(1.0 / sqrt((double)rvar[c] + eps));
}

static mt_status forward_impl(mt_node *n, mt_cuda_ctx *c, cudnnTensorDescriptor_t xd, cudnnTensorDescriptor_t bd,
                              scratch *ones, scratch *zeros)
{
    const mt_batch_norm_params *p = MT_ATTR(n, mt_batch_norm_params);
    const mt_tensor *x = n->in[0];
    const int C = x->shape[1];
    mt_device dev = x->storage->device;
    int cs[1] = {C};
    mt_tensor *mt = mt_tensor_new(MT_F32, dev, 1, cs);
    if (!mt) return mt_last_status();
    n->saved[0] = mt;
    mt_tensor *it = mt_tensor_new(MT_F32, dev, 1, cs);
    if (!it) return mt_last_status();
    n->saved[1] = it;
    const void *gamma = n->in[1] ? mt_data(n->in[1]) : NULL;
    const void *beta = n->in[2] ? mt_data(n->in[2]) : NULL;
    if (!gamma) {
        MT_TRY(scratch_get(ones, dev, (size_t)C, 1, 1.f, c->stream));
        gamma = ones->ptr;
    }
    if (!beta) {
        MT_TRY(scratch_get(zeros, dev, (size_t)C, 1, 0.f, c->stream));
        beta = zeros->ptr;
    }
    float *rmean = n->in[3] ? (float *)mt_data(n->in[3]) : NULL;
    float *rvar = n->in[4] ? (float *)mt_data(n->in[4]) : NULL;
    const float one = 1.f, zero = 0.f;
    unsigned cb = (unsigned)((C + 255) / 256);
    if (!p->training) {
        MT_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(c->cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd,
                                                               mt_data(x), xd, mt_data(n->out[0]), bd, gamma, beta,
                                                               rmean, rvar, p->eps));
        eval_stats_kernel<<<cb, 256, 0, c->stream>>>(rmean, rvar, (float *)mt_data(mt), (float *)mt_data(it), C, p->eps);
        MT_CUDA_LAUNCH_CHECK();
        return MT_OK;
    }
    int cudnn_updates = rmean && p->unbiased_running_var;
    MT_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
        c->cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd, mt_data(x), xd, mt_data(n->out[0]), bd, gamma, beta,
        p->momentum, cudnn_updates ? rmean : NULL, cudnn_updates ? rvar : NULL, p->eps, mt_data(mt), mt_data(it)));
    if (rmean && !cudnn_updates) {
        running_update_kernel<<<cb, 256, 0, c->stream>>>(rmean, rvar, (const float *)mt_data(mt),
                                                         (const float *)mt_data(it), C, p->momentum, p->eps, 1.0);
        MT_CUDA_LAUNCH_CHECK();
    }
    return MT_OK;
}

extern "C" mt_status batch_norm2d_forward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    MT_CUDNN_CHECK(cudnnSetStream(c->cudnn, c->stream));
    cudnnTensorDescriptor_t xd = NULL, bd = NULL;
    scratch ones = {}, zeros = {};
    mt_status s = make_descs(n->in[0], &xd, &bd);
    if (s == MT_OK) s = forward_impl(n, c, xd, bd, &ones, &zeros);
    scratch_free(&ones);
    scratch_free(&zeros);
    destroy_descs(xd, bd);
    return s;
}

/* Evaluation backward: per channel (one block each) sums of dy and dy * xhat. */
__global__ static void eval_param_grad_kernel(const float *x, const float *dy, const float *mean, const float *invstd,
                                              float *dgamma, float *dbeta, int N, int C, size_t S)
{
    __shared__ float s1[256], s2[256];
    int c = blockIdx.x;
    float a = 0.f, b = 0.f, m = mean[c], is = invstd[c];
    size_t M = (size_t)N * S;
    for (size_t k = threadIdx.x; k < M; k += blockDim.x) {
        size_t i = ((k / S) * C + c) * S + k % S;
        a += dy[i];
        b += dy[i] * (x[i] - m) * is;
    }
    s1[threadIdx.x] = a;
    s2[threadIdx.x] = b;
    __syncthreads();
    for (unsigned k = blockDim.x / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) {
            s1[threadIdx.x] += s1[threadIdx.x + k];
            s2[threadIdx.x] += s2[threadIdx.x + k];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        if (dbeta) dbeta[c] += s1[0];
        if (dgamma) dgamma[c] += s2[0];
    }
}

__global__ static void eval_dx_kernel(const float *dy, const float *gamma, const float *invstd, float *dx, size_t total,
                                      int C, size_t S)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)((i / S) % C);
        dx[i] += dy[i] * (gamma ? gamma[c] : 1.f) * invstd[c];
    }
}

static mt_status backward_impl(mt_node *n, mt_cuda_ctx *c, cudnnTensorDescriptor_t xd, cudnnTensorDescriptor_t bd,
                               scratch *ones, scratch *tdx, scratch *tdg, scratch *tdb)
{
    const mt_batch_norm_params *p = MT_ATTR(n, mt_batch_norm_params);
    const mt_tensor *x = n->in[0];
    const int N = x->shape[0], C = x->shape[1];
    const size_t S = x->ndim == 4 ? (size_t)x->shape[2] * x->shape[3] : 1;
    mt_device dev = x->storage->device;
    const float *mean = (const float *)mt_data(n->saved[0]), *invstd = (const float *)mt_data(n->saved[1]);
    const float *dy = (const float *)mt_data(n->gout[0]);
    float *dx = n->gin[0] ? (float *)mt_data(n->gin[0]) : NULL;
    float *dgamma = n->gin[1] ? (float *)mt_data(n->gin[1]) : NULL;
    float *dbeta = n->gin[2] ? (float *)mt_data(n->gin[2]) : NULL;
    if (!p->training) {
        const float *gamma = n->in[1] ? (const float *)mt_data(n->in[1]) : NULL;
        if (dgamma || dbeta) {
            eval_param_grad_kernel<<<(unsigned)C, 256, 0, c->stream>>>((const float *)mt_data(x), dy, mean, invstd,
                                                                      dgamma, dbeta, N, C, S);
            MT_CUDA_LAUNCH_CHECK();
        }
        size_t total = mt_numel(x);
        if (dx && total) {
            eval_dx_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, c->stream>>>(dy, gamma, invstd, dx, total, C, S);
            MT_CUDA_LAUNCH_CHECK();
        }
        return MT_OK;
    }
    const void *gamma = n->in[1] ? mt_data(n->in[1]) : NULL;
    if (!gamma) {
        MT_TRY(scratch_get(ones, dev, (size_t)C, 1, 1.f, c->stream));
        gamma = ones->ptr;
    }
    if (!dx) {
        MT_TRY(mt_alloc(dev, mt_nbytes(x), &tdx->ptr));
        tdx->dev = dev, tdx->bytes = mt_nbytes(x);
        dx = (float *)tdx->ptr;
    }
    if (!dgamma) {
        MT_TRY(scratch_get(tdg, dev, (size_t)C, 0, 0.f, c->stream));
        dgamma = (float *)tdg->ptr;
    }
    if (!dbeta) {
        MT_TRY(scratch_get(tdb, dev, (size_t)C, 0, 0.f, c->stream));
        dbeta = (float *)tdb->ptr;
    }
    const float one = 1.f, zero = 0.f;
    MT_CUDNN_CHECK(cudnnBatchNormalizationBackward(c->cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, xd,
                                                   mt_data(x), xd, dy, xd, dx, bd, gamma, dgamma, dbeta, p->eps, mean,
                                                   invstd));
    return MT_OK;
}

extern "C" mt_status batch_norm2d_backward_cuda(mt_node *n)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    MT_CUDNN_CHECK(cudnnSetStream(c->cudnn, c->stream));
    cudnnTensorDescriptor_t xd = NULL, bd = NULL;
    scratch ones = {}, tdx = {}, tdg = {}, tdb = {};
    mt_status s = make_descs(n->in[0], &xd, &bd);
    if (s == MT_OK) s = backward_impl(n, c, xd, bd, &ones, &tdx, &tdg, &tdb);
    scratch_free(&ones);
    scratch_free(&tdx);
    scratch_free(&tdg);
    scratch_free(&tdb);
    destroy_descs(xd, bd);
    return s;
}
