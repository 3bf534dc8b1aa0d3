/* core/ops/conv_transpose2d.cu: CUDA twin of conv_transpose2d.c on cuDNN.
 * A transposed conv is the data-gradient of the conv that maps its output y
 * [N, O, HO, WO] to its input x [N, C, H, W] with filter w [C, O/groups, KH, KW]:
 *   forward     y  = cudnnConvolutionBackwardData(w, x)   (+ cudnnAddTensor bias)
 *   backward dx = cudnnConvolutionForward(dy, w)
 *            dw = cudnnConvolutionBackwardFilter(conv input dy, conv output grad x)
 *            db = cudnnConvolutionBackwardBias(dy)
 * Asymmetric padding: cuDNN gets the symmetric part min(top, bottom),
 * min(left, right); y is computed at the larger "full" size and its window at
 * (top - min, left - min) is cropped into the output (mt_cuda_crop); backward
 * zero-pads dy back to the full size (mt_cuda_pad_zero). output_padding < stride
 * is folded into the full size; output_padding >= stride (allowed by PyTorch
 * when dilation is larger) is reported as unsupported on CUDA.
 * Shared cuDNN helpers: conv2d.cu (declared in gemm.h). */
#include "../cuda_common.h"
#include "../device.h"
#include "../ops.h"
#include "lowp.h"
#include "gemm.h"

/* cuDNN conv dims: conv input = full-size y, conv output = x. */
extern "C" mt_cudnn_conv_dims mt_cudnn_convt_dims(const mt_node *n, int *et, int *eb, int *el, int *er)
{
    const mt_conv_transpose2d_params *p = MT_ATTR(n, mt_conv_transpose2d_params);
    const mt_tensor *x = n->in[0], *w = n->in[1], *y = n->out[0];
    mt_cudnn_conv_dims d;
    d.N = x->shape[0];
    d.C = y->shape[1];
    d.H = y->shape[2];
    d.W = y->shape[3];
    mt_cudnn_conv_split_pad(&d, p->pad_top, p->pad_bottom, p->pad_left, p->pad_right, et, eb, el, er);
    d.O = x->shape[1];
    d.OH = x->shape[2];
    d.OW = x->shape[3];
    d.KH = w->shape[2];
    d.KW = w->shape[3];
    d.sh = p->stride_h;
    d.sw = p->stride_w;
    d.dh = p->dil_h;
    d.dw = p->dil_w;
    d.groups = p->groups;
    d.dtype = (int)CUDNN_DATA_FLOAT;
    return d;
}

/* Bias of the (cropped) output y [N, C, HO, WO]: y += b (cudnnAddTensor) or,
 * when backward, db += sum over n, h, w of dy (cudnnConvolutionBackwardBias). */
extern "C" mt_status mt_cudnn_convt_bias(mt_cuda_ctx *c, int N, int C, int HO, int WO, int backward, const void *src,
                                         void *dst)
{
    cudnnTensorDescriptor_t yd = NULL, bd = NULL;
    const float one = 1.f;
    cudnnStatus_t st = cudnnCreateTensorDescriptor(&yd);
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnCreateTensorDescriptor(&bd);
    if (st == CUDNN_STATUS_SUCCESS)
        st = cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, N, C, HO, WO);
    if (st == CUDNN_STATUS_SUCCESS)
        st = cudnnSetTensor4dDescriptor(bd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, C, 1, 1);
    if (st == CUDNN_STATUS_SUCCESS)
        st = backward ? cudnnConvolutionBackwardBias(c->cudnn, &one, yd, src, &one, bd, dst)
                      : cudnnAddTensor(c->cudnn, &one, bd, src, &one, yd, dst);
    if (yd) cudnnDestroyTensorDescriptor(yd);
    if (bd) cudnnDestroyTensorDescriptor(bd);
    MT_CUDNN_CHECK(st);
    return MT_OK;
}

static mt_status convt_forward_impl(mt_cuda_ctx *c, mt_node *n, mt_cudnn_conv *cv, void **tmp, size_t *tmp_bytes)
{
    int et, eb, el, er;
    mt_cudnn_conv_dims d = mt_cudnn_convt_dims(n, &et, &eb, &el, &er);
    MT_TRY(mt_cudnn_conv_create(c, &d, cv));
    const float *x = (const float *)mt_data(n->in[0]), *w = (const float *)mt_data(n->in[1]);
    float *y = (float *)mt_data(n->out[0]);
    const int HO = n->out[0]->shape[2], WO = n->out[0]->shape[3];
    if (et || eb || el || er) {
        *tmp_bytes = sizeof(float) * (size_t)d.N * d.C * d.H * d.W;
        MT_TRY(mt_alloc(n->in[0]->storage->device, *tmp_bytes, tmp));
        MT_TRY(mt_cudnn_conv_backward_data(c, cv, w, x, 0.f, (float *)*tmp));
        MT_TRY(mt_cuda_crop(c, (const float *)*tmp, y, d.N * d.C, d.H, d.W, et, el, HO, WO, 0));
    } else {
        MT_TRY(mt_cudnn_conv_backward_data(c, cv, w, x, 0.f, y));
    }
    if (n->in[2]) MT_TRY(mt_cudnn_convt_bias(c, d.N, d.C, HO, WO, 0, mt_data(n->in[2]), y));
    return MT_OK;
}

extern "C" mt_status conv_transpose2d_forward_cuda(mt_node *n)
{
    if (mt_lowp_node_dtype(n) != MT_REAL) { /* bf16/f16: native cuDNN when it qualifies, else widened to float32 */
        int done = 0;
        MT_TRY(mt_cudnn_conv_lowp_forward(n, 1, &done));
        return done ? MT_OK : mt_lowp_forward(n, conv_transpose2d_forward_cuda);
    }
    return mt_cudnn_conv_run(n, convt_forward_impl);
}

static mt_status convt_backward_impl(mt_cuda_ctx *c, mt_node *n, mt_cudnn_conv *cv, void **tmp, size_t *tmp_bytes)
{
    int et, eb, el, er;
    mt_cudnn_conv_dims d = mt_cudnn_convt_dims(n, &et, &eb, &el, &er);
    MT_TRY(mt_cudnn_conv_create(c, &d, cv));
    const float *x = (const float *)mt_data(n->in[0]), *w = (const float *)mt_data(n->in[1]);
    const float *dy = (const float *)mt_data(n->gout[0]);
    const int HO = n->out[0]->shape[2], WO = n->out[0]->shape[3];
    if (n->in[2] && n->gin[2]) MT_TRY(mt_cudnn_convt_bias(c, d.N, d.C, HO, WO, 1, dy, mt_data(n->gin[2])));
    if (!n->gin[0] && !n->gin[1]) return MT_OK;
    const float *dyf = dy;
    if (et || eb || el || er) {
        *tmp_bytes = sizeof(float) * (size_t)d.N * d.C * d.H * d.W;
        MT_TRY(mt_alloc(n->in[0]->storage->device, *tmp_bytes, tmp));
        MT_TRY(mt_cuda_pad_zero(c, dy, (float *)*tmp, d.N * d.C, HO, WO, et, eb, el, er));
        dyf = (const float *)*tmp;
    }
    if (n->gin[0]) MT_TRY(mt_cudnn_conv_forward(c, cv, dyf, w, 1.f, (float *)mt_data(n->gin[0])));
    if (n->gin[1]) MT_TRY(mt_cudnn_conv_backward_filter(c, cv, dyf, x, 1.f, (float *)mt_data(n->gin[1])));
    return MT_OK;
}

extern "C" mt_status conv_transpose2d_backward_cuda(mt_node *n)
{
    if (mt_lowp_node_dtype(n) != MT_REAL) { /* bf16/f16: native cuDNN when it qualifies, else widened to float32 */
        int done = 0;
        MT_TRY(mt_cudnn_conv_lowp_backward(n, 1, &done));
        return done ? MT_OK : mt_lowp_backward(n, conv_transpose2d_backward_cuda);
    }
    return mt_cudnn_conv_run(n, convt_backward_impl);
}
