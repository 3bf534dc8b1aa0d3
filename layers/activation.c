/* layers/activation.c: parameter-free activation layers
 * `type: relu | leaky_relu | sigmoid | tanh | silu` (torch.nn.ReLU, LeakyReLU
 * (attribute negative_slope, default 0.01 as PyTorch; Keras LeakyReLU uses 0.3),
 * Sigmoid, Tanh, SiLU = swish) and `type: softmax` (attribute dim, default 1:
 * the classes of [N, C] or [N, C, H, W]). Output shape = input shape. Convolution and
 * linear layers also take `activation:` to apply one of these in place. */
#include "layer.h"

typedef struct act_attr {
    double slope;
} act_attr;

static mt_status act_setup(mt_model *m, mt_layer *L)
{
    return mt_layer_get_double(L, "negative_slope", 0.01, &MT_LAYER_ATTR(L, act_attr)->slope);
}

#define ACT_FORWARD(fname, act)                                                                              \
    static mt_status fname(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f) \
    {                                                                                                        \
        return mt_layer_out1(out, mt_layer_activate(in[0], act, MT_LAYER_ATTR(L, act_attr)->slope));          \
    }
ACT_FORWARD(relu_forward, MT_ACT_RELU)
ACT_FORWARD(leaky_relu_forward, MT_ACT_LEAKY_RELU)
ACT_FORWARD(sigmoid_forward, MT_ACT_SIGMOID)
ACT_FORWARD(tanh_forward, MT_ACT_TANH)
ACT_FORWARD(silu_forward, MT_ACT_SILU)

const mt_layer_kind mt_layer_relu = {"relu", "", "", 1, 1, act_setup, NULL, relu_forward};
const mt_layer_kind mt_layer_leaky_relu = {"leaky_relu", "negative_slope", "", 1, 1, act_setup, NULL,
                                           leaky_relu_forward};
const mt_layer_kind mt_layer_sigmoid = {"sigmoid", "", "", 1, 1, act_setup, NULL, sigmoid_forward};
const mt_layer_kind mt_layer_tanh = {"tanh", "", "", 1, 1, act_setup, NULL, tanh_forward};
typedef struct softmax_attr {
    int dim;
} softmax_attr;

static mt_status softmax_setup(mt_model *m, mt_layer *L)
{
    return mt_layer_get_int(L, "dim", 1, &MT_LAYER_ATTR(L, softmax_attr)->dim);
}

static mt_status softmax_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    return mt_layer_out1(out, mt_softmax(in[0], MT_LAYER_ATTR(L, softmax_attr)->dim));
}

const mt_layer_kind mt_layer_softmax = {"softmax", "dim", "", 1, 1, softmax_setup, NULL, softmax_forward};
const mt_layer_kind mt_layer_silu = {"silu", "", "", 1, 1, act_setup, NULL, silu_forward};
