/* core/ops/conv_lowp.cu: native cuDNN bfloat16 / float16 passes of conv2d and
 * conv_transpose2d under autocast (gemm.h mt_cudnn_conv_lowp_*), instead of
 * widening x and w to float32 scratch first (core/ops/lowp.h).
 *
 * x and w stay in their low-precision type; the descriptors are
 * CUDNN_DATA_BFLOAT16 / CUDNN_DATA_HALF with a CUDNN_DATA_FLOAT compute type and
 * tensor-op math (cuDNN's PSEUDO_BFLOAT16 / PSEUDO_HALF configurations: the
 * products of the low-precision operands summed in float32, as torch's
 * autocast convolutions on a GPU), cached per shape and dtype
 * (core/ops/cudnn_cache.cu). cuDNN writes its results in the low-precision
 * type; they are widened into the float32 output / gradients, which then hold
 * low-precision values as lowp.h's convention wants (the output after the
 * float32 bias add is rounded again, as the widening path rounds conv + bias).
 * The incoming gradient dy (float32 holding values of any precision) is
 * rounded to the low-precision type on its way into cuDNN, as the widening path
 * rounds it; the bias gradient is summed from the float32 dy.
 *
 * Compiled here, not yet run on a GPU (tests/test_conv.c's
 * conv_lowp_native_matches_widened_cuda checks it where one is present). */
#include "../cuda_common.h"
#include "../device.h"
#include "gemm.h"
#include "lowp.h"

/* byte offsets of scratch parts, 256-aligned */
static size_t align256(size_t b) { return (b + 255) & ~(size_t)255; }

static cudnnDataType_t cudnn_type(mt_dtype dt) { return dt == MT_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_HALF; }

/* The node's low-precision type when it can run natively (x and w of that type, bias float32
 * or that type, no padding beyond cuDNN's symmetric part), else MT_REAL. */
static mt_dtype native_type(const mt_node *n, int excess)
{
    const mt_dtype dt = mt_lowp_node_dtype(n);
    if (dt != MT_BF16 && dt != MT_F16) return MT_REAL;
    if (n->in[0]->dtype != dt || n->in[1]->dtype != dt || excess) return MT_REAL;
    if (n->in[2] && n->in[2]->dtype != dt && n->in[2]->dtype != MT_REAL) return MT_REAL;
    if (n->out[0]->dtype != MT_REAL) return MT_REAL;
    return dt;
}

static mt_cudnn_conv_dims node_dims(const mt_node *n, int transposed, int *excess)
{
    int et, eb, el, er;
    mt_cudnn_conv_dims d = transposed ? mt_cudnn_convt_dims(n, &et, &eb, &el, &er)
                                      : mt_cudnn_conv2d_dims(n, &et, &eb, &el, &er);
    *excess = et || eb || el || er;
    return d;
}

/* y (float32) = round_dt(widen(conv result) + bias) */
static mt_status forward_impl(mt_cuda_ctx *c, mt_node *n, int transposed, mt_dtype dt, mt_cudnn_conv_dims d, void **tmp,
                              size_t *tmp_bytes, mt_cudnn_conv *cv)
{
    const mt_device dev = n->in[0]->storage->device;
    MT_TRY(mt_cudnn_conv_create(c, &d, cv));
    mt_tensor *y = n->out[0];
    const size_t ny = mt_numel(y), nb = n->in[2] ? mt_numel(n->in[2]) : 0;
    const int bias_low = n->in[2] && n->in[2]->dtype == dt;
    const size_t off_b = align256(ny * 2);
    *tmp_bytes = off_b + (bias_low ? nb * sizeof(float) : 0);
    MT_TRY(mt_alloc(dev, *tmp_bytes, tmp));
    void *y16 = *tmp;
    const void *x = mt_data(n->in[0]), *w = mt_data(n->in[1]);
    if (transposed) MT_TRY(mt_cudnn_conv_backward_data(c, cv, w, x, 0.f, y16)); /* y = conv^T(x, w) */
    else MT_TRY(mt_cudnn_conv_forward(c, cv, x, w, 0.f, y16));
    MT_TRY(mt_cast_buffer_cuda(dev, mt_data(y), MT_REAL, y16, dt, ny));
    if (n->in[2]) {
        const void *b = mt_data(n->in[2]);
        if (bias_low) {
            float *bf = (float *)((char *)*tmp + off_b);
            MT_TRY(mt_cast_buffer_cuda(dev, bf, MT_REAL, b, dt, nb));
            b = bf;
        }
        MT_TRY(mt_cudnn_convt_bias(c, y->shape[0], y->shape[1], y->shape[2], y->shape[3], 0, b, mt_data(y)));
        MT_TRY(mt_round_buffer_cuda(dev, (mt_real *)mt_data(y), (const mt_real *)mt_data(y), dt, ny));
    }
    return MT_OK;
}

/* gin[0] (dx) and gin[1] (dw), float32 and zero on entry, get the widened cuDNN results; gin[2] the bias
 * gradient summed from the float32 dy (rounded to dt when the bias is of that type) */
static mt_status backward_impl(mt_cuda_ctx *c, mt_node *n, int transposed, mt_dtype dt, mt_cudnn_conv_dims d,
                               void **tmp, size_t *tmp_bytes, mt_cudnn_conv *cv)
{
    const mt_device dev = n->in[0]->storage->device;
    MT_TRY(mt_cudnn_conv_create(c, &d, cv));
    const mt_tensor *x = n->in[0], *w = n->in[1], *y = n->out[0];
    const mt_tensor *dy = n->gout[0];
    const size_t ny = mt_numel(y), nx = mt_numel(x), nw = mt_numel(w);
    if (n->in[2] && n->gin[2]) {
        MT_TRY(mt_cudnn_convt_bias(c, y->shape[0], y->shape[1], y->shape[2], y->shape[3], 1, mt_data(dy),
                                   mt_data(n->gin[2])));
        if (n->in[2]->dtype == dt)
            MT_TRY(mt_round_buffer_cuda(dev, (mt_real *)mt_data(n->gin[2]), (const mt_real *)mt_data(n->gin[2]), dt,
                                        mt_numel(n->gin[2])));
    }
    if (!n->gin[0] && !n->gin[1]) return MT_OK;
    const size_t off_dx = align256(ny * 2), off_dw = off_dx + align256(nx * 2);
    *tmp_bytes = off_dw + nw * 2;
    MT_TRY(mt_alloc(dev, *tmp_bytes, tmp));
    char *base = (char *)*tmp;
    void *dy16 = base, *dx16 = base + off_dx, *dw16 = base + off_dw;
    MT_TRY(mt_cast_buffer_cuda(dev, dy16, dt, mt_data(dy), MT_REAL, ny)); /* rounds dy to dt */
    const void *xd = mt_data(x), *wd = mt_data(w);
    if (n->gin[0]) {
        if (transposed) MT_TRY(mt_cudnn_conv_forward(c, cv, dy16, wd, 0.f, dx16)); /* dx = conv(dy, w) */
        else MT_TRY(mt_cudnn_conv_backward_data(c, cv, wd, dy16, 0.f, dx16));
        MT_TRY(mt_cast_buffer_cuda(dev, mt_data(n->gin[0]), MT_REAL, dx16, dt, nx));
    }
    if (n->gin[1]) {
        if (transposed) MT_TRY(mt_cudnn_conv_backward_filter(c, cv, dy16, xd, 0.f, dw16)); /* conv input dy, output x */
        else MT_TRY(mt_cudnn_conv_backward_filter(c, cv, xd, dy16, 0.f, dw16));
        MT_TRY(mt_cast_buffer_cuda(dev, mt_data(n->gin[1]), MT_REAL, dw16, dt, nw));
    }
    return MT_OK;
}

typedef mt_status (*lowp_impl)(mt_cuda_ctx *c, mt_node *n, int transposed, mt_dtype dt, mt_cudnn_conv_dims d,
                               void **tmp, size_t *tmp_bytes, mt_cudnn_conv *cv);

/* Runs impl on the node's CUDA context with dims d in cuDNN type dt, then frees its descriptors and
 * scratch whatever it returned; *done = 1 when it succeeded. */
static mt_status run_native(mt_node *n, int transposed, mt_dtype dt, mt_cudnn_conv_dims d, lowp_impl impl, int *done)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    d.dtype = (int)cudnn_type(dt);
    mt_cudnn_conv cv = {};
    void *tmp = NULL;
    size_t tmp_bytes = 0;
    mt_status s = impl(c, n, transposed, dt, d, &tmp, &tmp_bytes, &cv);
    mt_cudnn_conv_destroy(&cv);
    if (tmp) mt_free(n->in[0]->storage->device, tmp, tmp_bytes);
    MT_TRY(s);
    *done = 1;
    return MT_OK;
}

extern "C" mt_status mt_cudnn_conv_lowp_forward(mt_node *n, int transposed, int *done)
{
    *done = 0;
    int excess = 0;
    mt_cudnn_conv_dims d = node_dims(n, transposed, &excess);
    const mt_dtype dt = native_type(n, excess);
    if (dt == MT_REAL) return MT_OK;
    return run_native(n, transposed, dt, d, forward_impl, done);
}

extern "C" mt_status mt_cudnn_conv_lowp_backward(mt_node *n, int transposed, int *done)
{
    *done = 0;
    int excess = 0;
    mt_cudnn_conv_dims d = node_dims(n, transposed, &excess);
    const mt_dtype dt = native_type(n, excess);
    if (dt == MT_REAL || n->gout[0]->dtype != MT_REAL) return MT_OK;
    for (int j = 0; j < 3; j++)
        if (n->gin[j] && n->gin[j]->dtype != MT_REAL) return MT_OK;
    return run_native(n, transposed, dt, d, backward_impl, done);
}
