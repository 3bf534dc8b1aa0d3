/* layers/pad.c: `type: pad` (torch.nn.functional.pad on H and W; Keras
 * ZeroPadding2D). Attributes: padding (p | [ph, pw] | [top, bottom, left, right],
 * required), mode (constant | reflect | replicate, default constant), value (0). */
#include "layer.h"

typedef struct pad_attr {
    int pad[4], mode;
    double value;
} pad_attr;

static mt_status pad_setup(mt_model *m, mt_layer *L)
{
    pad_attr *a = MT_LAYER_ATTR(L, pad_attr);
    int mode;
    if (!mt_layer_has(L, "padding")) return mt_layer_error(L, NULL, "missing required attribute 'padding'");
    MT_TRY(mt_layer_get_padding(L, "padding", 0, &mode, a->pad));
    MT_TRY(mt_layer_get_enum(L, "mode", "constant|reflect|replicate", 0, &a->mode));
    MT_TRY(mt_layer_get_double(L, "value", 0, &a->value));
    return MT_OK;
}

static mt_status pad_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const pad_attr *a = MT_LAYER_ATTR(L, pad_attr);
    return mt_layer_out1(out, mt_pad2d(in[0], a->pad[0], a->pad[1], a->pad[2], a->pad[3], (mt_pad_mode)a->mode, a->value));
}

const mt_layer_kind mt_layer_pad = {"pad", "padding|mode|value", "", 1, 1, pad_setup, NULL, pad_forward};
