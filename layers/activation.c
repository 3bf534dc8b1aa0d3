/* layers/activation.c: parameter-free activation layers
 * `type: relu | leaky_relu | sigmoid | tanh | silu` (torch.nn.ReLU, LeakyReLU
 * (attribute negative_slope, default 0.01 as PyTorch; Keras LeakyReLU uses 0.3),
 * Sigmoid, Tanh, SiLU = swish). Output shape = input shape. Convolution and
 * linear layers also take `activation:` to apply one of these in place. */
#include "layer.h"

typedef struct act_attr {
    double slope;
} act_attr;

static mt_status act_setup(mt_model *m, mt_layer *L)
{
    return mt_layer_get_double(L, "negative_slope", 0.01, &MT_LAYER_ATTR(L, act_attr)->slope);
}

static mt_status act_shape(const mt_model *m, const mt_layer *L, const mt_lshape *vals, mt_lshape *o)
{
    *o = vals[L->in[0]];
    return MT_OK;
}

#define ACT_FORWARD(fname, act)                                                                      \
    static mt_tensor *fname(mt_model *m, mt_layer *L, mt_tensor *const *vals, int training)          \
    {                                                                                                \
        return mt_layer_activate(vals[L->in[0]], act, MT_LAYER_ATTR(L, act_attr)->slope);            \
    }
ACT_FORWARD(relu_forward, MT_ACT_RELU)
ACT_FORWARD(leaky_relu_forward, MT_ACT_LEAKY_RELU)
ACT_FORWARD(sigmoid_forward, MT_ACT_SIGMOID)
ACT_FORWARD(tanh_forward, MT_ACT_TANH)
ACT_FORWARD(silu_forward, MT_ACT_SILU)

const mt_layer_kind mt_layer_relu = {"relu", "", 1, 1, act_setup, act_shape, NULL, relu_forward};
const mt_layer_kind mt_layer_leaky_relu = {"leaky_relu", "negative_slope", 1, 1, act_setup, act_shape, NULL,
                                           leaky_relu_forward};
const mt_layer_kind mt_layer_sigmoid = {"sigmoid", "", 1, 1, act_setup, act_shape, NULL, sigmoid_forward};
const mt_layer_kind mt_layer_tanh = {"tanh", "", 1, 1, act_setup, act_shape, NULL, tanh_forward};
const mt_layer_kind mt_layer_silu = {"silu", "", 1, 1, act_setup, act_shape, NULL, silu_forward};
