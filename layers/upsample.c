/* layers/upsample.c: `type: upsample` (torch.nn.Upsample / F.interpolate,
 * Keras UpSampling2D). Attributes: scale (integer factor, default 2) or size
 * ([h, w], fixed output), mode (nearest | bilinear, default nearest),
 * align_corners (false). */
#include "layer.h"

typedef struct upsample_attr {
    int scale[2], size[2], mode, align_corners;
} upsample_attr;

static mt_status upsample_setup(mt_model *m, mt_layer *L)
{
    upsample_attr *a = MT_LAYER_ATTR(L, upsample_attr);
    MT_TRY(mt_layer_get_ints(L, "scale", 2, 2, a->scale));
    MT_TRY(mt_layer_get_ints(L, "size", 2, 0, a->size));
    MT_TRY(mt_layer_get_enum(L, "mode", "nearest|bilinear", 0, &a->mode));
    MT_TRY(mt_layer_get_bool(L, "align_corners", 0, &a->align_corners));
    if (mt_layer_has(L, "scale") && mt_layer_has(L, "size")) return mt_layer_error(L, "size", "give scale or size, not both");
    if (a->scale[0] < 1 || a->scale[1] < 1) return mt_layer_error(L, "scale", "must be >= 1");
    return MT_OK;
}

static void out_size(const upsample_attr *a, int h, int w, int *oh, int *ow)
{
    if (a->size[0] > 0) *oh = a->size[0], *ow = a->size[1];
    else *oh = h * a->scale[0], *ow = w * a->scale[1];
}

static mt_status upsample_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const upsample_attr *a = MT_LAYER_ATTR(L, upsample_attr);
    mt_tensor *x = in[0];
    int oh, ow;
    out_size(a, x->shape[2], x->shape[3], &oh, &ow);
    return mt_layer_out1(out, mt_upsample2d(x, oh, ow, a->mode ? MT_UPSAMPLE_BILINEAR : MT_UPSAMPLE_NEAREST, a->align_corners));
}

const mt_layer_kind mt_layer_upsample = {
    "upsample", "scale|size|mode|align_corners", "", 1, 1, upsample_setup, NULL, upsample_forward,
};
