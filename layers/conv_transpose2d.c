/* layers/conv_transpose2d.c: `type: conv_transpose2d` (torch.nn.ConvTranspose2d;
 * the U-Net "up-conv" 2x2/2). Attributes: out (required), kernel, stride
 * (default 1), padding (p | [ph, pw] | [t, b, l, r]), output_padding, dilation,
 * groups, bias (true), activation (+ negative_slope), init (+ init_std).
 * State: <name>.weight [in, out/groups, kh, kw] (PyTorch layout), <name>.bias [out].
 * Output: H = (H_in - 1) * stride - pad_top - pad_bottom + dil * (k - 1) + output_padding + 1. */
#include "layer.h"

typedef mt_conv_layer_attr convt_attr;

static mt_status convt_setup(mt_model *m, mt_layer *L)
{
    convt_attr *a = MT_LAYER_ATTR(L, convt_attr);
    MT_TRY(mt_layer_get_conv_attr(L, 0, a));
    MT_TRY(mt_layer_get_ints(L, "output_padding", 2, 0, a->opad));
    int ws[4] = {L->cin[0], a->out / a->groups, a->k[0], a->k[1]};
    MT_TRY(mt_layer_declare(m, L, "weight", 4, ws, 1));
    if (a->bias) MT_TRY(mt_layer_declare(m, L, "bias", 1, &a->out, 1));
    L->cout[0] = a->out;
    return MT_OK;
}

static mt_status convt_init(mt_model *m, mt_layer *L, mt_rng *rng)
{
    const convt_attr *a = MT_LAYER_ATTR(L, convt_attr);
    return mt_layer_init_weight(mt_layer_state(m, L, 0), a->bias ? mt_layer_state(m, L, 1) : NULL, a->init, a->std, 1, 0,
                                rng);
}

static mt_status convt_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const convt_attr *a = MT_LAYER_ATTR(L, convt_attr);
    mt_conv_transpose2d_params p = mt_conv_transpose2d_default();
    p.stride_h = a->stride[0], p.stride_w = a->stride[1];
    p.pad_top = a->pad[0], p.pad_bottom = a->pad[1], p.pad_left = a->pad[2], p.pad_right = a->pad[3];
    p.out_pad_h = a->opad[0], p.out_pad_w = a->opad[1];
    p.dil_h = a->dil[0], p.dil_w = a->dil[1];
    p.groups = a->groups;
    mt_tensor *y = mt_conv_transpose2d(in[0], mt_layer_state(m, L, 0), a->bias ? mt_layer_state(m, L, 1) : NULL, p);
    if (!y || a->act == MT_ACT_NONE) return mt_layer_out1(out, y);
    mt_tensor *z = mt_layer_activate(y, (mt_activation)a->act, a->slope);
    mt_tensor_release(y);
    return mt_layer_out1(out, z);
}

const mt_layer_kind mt_layer_conv_transpose2d = {
    "conv_transpose2d",
    "out|kernel|stride|padding|output_padding|dilation|groups|bias|activation|negative_slope|init|init_std", "", 1, 1,
    convt_setup, convt_init, convt_forward,
};
