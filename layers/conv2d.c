/* layers/conv2d.c: `type: conv2d` (torch.nn.Conv2d; Keras Conv2D with
 * padding: same). Attributes: out (channels, required), kernel (3 or [kh, kw]),
 * stride, padding (same | valid | p | [ph, pw] | [t, b, l, r]; default valid),
 * dilation, groups, bias (default true), activation (none | relu | leaky_relu |
 * sigmoid | tanh | silu) with negative_slope, init (layer.h MT_INIT_NAMES,
 * default pytorch) with init_std for normal.
 * State: <name>.weight [out, in/groups, kh, kw], <name>.bias [out]. */
#include "layer.h"

typedef mt_conv_layer_attr conv_attr;

static mt_status conv_setup(mt_model *m, mt_layer *L)
{
    conv_attr *a = MT_LAYER_ATTR(L, conv_attr);
    MT_TRY(mt_layer_get_conv_attr(L, 1, a));
    int ws[4] = {a->out, L->cin[0] / a->groups, a->k[0], a->k[1]};
    MT_TRY(mt_layer_declare(m, L, "weight", 4, ws, 1));
    if (a->bias) MT_TRY(mt_layer_declare(m, L, "bias", 1, &a->out, 1));
    L->cout[0] = a->out;
    return MT_OK;
}

static mt_status conv_init(mt_model *m, mt_layer *L, mt_rng *rng)
{
    const conv_attr *a = MT_LAYER_ATTR(L, conv_attr);
    /* groups == input channels: a depthwise conv (Keras DepthwiseConv2D, depth multiplier out / groups) */
    int depth_multiplier = a->groups > 1 && a->groups == L->cin[0] ? a->out / a->groups : 0;
    return mt_layer_init_weight(mt_layer_state(m, L, 0), a->bias ? mt_layer_state(m, L, 1) : NULL, a->init, a->std, 0,
                                depth_multiplier, rng);
}

static mt_status conv_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const conv_attr *a = MT_LAYER_ATTR(L, conv_attr);
    mt_tensor *x = in[0];
    mt_conv2d_params p = mt_conv2d_default();
    int pad[4];
    mt_layer_resolve_padding(a->pad_mode, a->pad, x->shape[2], x->shape[3], a->k[0], a->k[1], a->stride[0],
                             a->stride[1], a->dil[0], a->dil[1], pad);
    p.stride_h = a->stride[0], p.stride_w = a->stride[1];
    p.pad_top = pad[0], p.pad_bottom = pad[1], p.pad_left = pad[2], p.pad_right = pad[3];
    p.dil_h = a->dil[0], p.dil_w = a->dil[1];
    p.groups = a->groups;
    mt_tensor *y = mt_conv2d(x, mt_layer_state(m, L, 0), a->bias ? mt_layer_state(m, L, 1) : NULL, p);
    if (!y || a->act == MT_ACT_NONE) return mt_layer_out1(out, y);
    mt_tensor *z = mt_layer_activate(y, (mt_activation)a->act, a->slope);
    mt_tensor_release(y);
    return mt_layer_out1(out, z);
}

const mt_layer_kind mt_layer_conv2d = {
    "conv2d", "out|kernel|stride|padding|dilation|groups|bias|activation|negative_slope|init|init_std", "", 1, 1,
    conv_setup, conv_init, conv_forward,
};
