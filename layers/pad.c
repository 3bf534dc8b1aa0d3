/* layers/pad.c: `type: pad` (torch.nn.functional.pad on H and W; Keras
 * ZeroPadding2D). Attributes: padding (p | [ph, pw] | [top, bottom, left, right]
 * | same, required), mode (constant | reflect | replicate, default constant),
 * value (0).
 * padding: same pads as TF/Keras "same" would for a `kernel` x `kernel` window
 * with `stride` (attributes kernel, required then, and stride, default 1),
 * resolved for each input's size (mt_same_padding: the extra pixel goes
 * bottom/right). Followed by a valid stride-2 conv this is Keras's
 * ZeroPadding2D(imagenet_utils.correct_pad(x, kernel)) + padding="valid"
 * (EfficientNet's stem and stride-2 depthwise convs): for an odd kernel and
 * stride 2, correct_pad's ((k//2 - 1 + n % 2, k//2), ...) equals the "same"
 * padding of every input size n. */
#include "layer.h"

typedef struct pad_attr {
    int pad[4], mode, pad_mode, k[2], stride[2];
    double value;
} pad_attr;

static mt_status pad_setup(mt_model *m, mt_layer *L)
{
    pad_attr *a = MT_LAYER_ATTR(L, pad_attr);
    if (!mt_layer_has(L, "padding")) return mt_layer_error(L, NULL, "missing required attribute 'padding'");
    MT_TRY(mt_layer_get_padding(L, "padding", 1, &a->pad_mode, a->pad));
    if (a->pad_mode == 2) return mt_layer_error(L, "padding", "'valid' pads nothing; give pixels or same");
    if (a->pad_mode == 1) {
        MT_TRY(mt_layer_get_ints(L, "kernel", 2, -1, a->k));
        MT_TRY(mt_layer_get_ints(L, "stride", 2, 1, a->stride));
        if (a->k[0] < 1 || a->k[1] < 1 || a->stride[0] < 1 || a->stride[1] < 1)
            return mt_layer_error(L, NULL, "kernel and stride must be >= 1");
    } else if (mt_layer_has(L, "kernel") || mt_layer_has(L, "stride")) {
        return mt_layer_error(L, mt_layer_has(L, "kernel") ? "kernel" : "stride", "only used with padding: same");
    }
    MT_TRY(mt_layer_get_enum(L, "mode", "constant|reflect|replicate", 0, &a->mode));
    MT_TRY(mt_layer_get_double(L, "value", 0, &a->value));
    return MT_OK;
}

static mt_status pad_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const pad_attr *a = MT_LAYER_ATTR(L, pad_attr);
    const mt_tensor *x = in[0];
    int p[4];
    if (x->ndim < 2) return mt_layer_error(L, NULL, "input of rank %d (needs [..., H, W])", x->ndim);
    mt_layer_resolve_padding(a->pad_mode, a->pad, x->shape[x->ndim - 2], x->shape[x->ndim - 1], a->k[0], a->k[1],
                             a->stride[0], a->stride[1], 1, 1, p);
    return mt_layer_out1(out, mt_pad2d(in[0], p[0], p[1], p[2], p[3], (mt_pad_mode)a->mode, a->value));
}

const mt_layer_kind mt_layer_pad = {"pad", "padding|kernel|stride|mode|value", "", 1, 1, pad_setup, NULL, pad_forward};
