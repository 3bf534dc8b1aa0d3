/* layers/crop.c: `type: crop`, centre crop of H and W (the valid U-Net's skip
 * cropping, models.md §1.2: 4, 16, 40, 88 px per side at depth 4). Attributes:
 * like (name of a layer whose H, W to crop to) or margin (px removed per side,
 * an int or [top, bottom, left, right]). Centre: top = (H - h) / 2,
 * left = (W - w) / 2 (floor), as torchvision's center_crop rounds. A crop to
 * the same size is an identity (padded U-Net). */
#include "layer.h"

typedef struct crop_attr {
    int margin[4];
} crop_attr;

static mt_status crop_setup(mt_model *m, mt_layer *L)
{
    crop_attr *a = MT_LAYER_ATTR(L, crop_attr);
    if (mt_layer_has(L, "like") == mt_layer_has(L, "margin"))
        return mt_layer_error(L, NULL, "give exactly one of like (a layer name) or margin");
    if (mt_layer_has(L, "like")) return mt_layer_ref(m, L, "like", NULL);
    const char *s = mt_layer_get_str(L, "margin");
    if (s) {
        int v;
        MT_TRY(mt_layer_get_int(L, "margin", 0, &v));
        a->margin[0] = a->margin[1] = a->margin[2] = a->margin[3] = v;
    } else {
        MT_TRY(mt_layer_get_ints(L, "margin", 4, -1, a->margin));
    }
    for (int i = 0; i < 4; i++)
        if (a->margin[i] < 0) return mt_layer_error(L, "margin", "must be >= 0");
    return MT_OK;
}

/* crop box [top, left, h, w] for an input h x w */
static mt_status crop_box(const mt_layer *L, int h, int w, int rh, int rw, int box[4])
{
    const crop_attr *a = (const crop_attr *)(const void *)L->attr;
    if (L->n_in > 1) {
        if (rh > h || rw > w) return mt_layer_error(L, "like", "reference %dx%d is larger than the input %dx%d", rh, rw, h, w);
        box[0] = (h - rh) / 2, box[1] = (w - rw) / 2, box[2] = rh, box[3] = rw;
    } else {
        box[0] = a->margin[0], box[1] = a->margin[2];
        box[2] = h - a->margin[0] - a->margin[1], box[3] = w - a->margin[2] - a->margin[3];
        if (box[2] <= 0 || box[3] <= 0) return mt_layer_error(L, "margin", "crops away the whole %dx%d input", h, w);
    }
    return MT_OK;
}

static mt_status crop_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    mt_tensor *x = in[0];
    const mt_tensor *r = L->n_in > 1 ? in[1] : x;
    int box[4] = {0, 0, 0, 0};
    if (x->ndim != 4 || r->ndim != 4) return mt_layer_error(L, NULL, "expects [N, C, H, W] inputs");
    MT_TRY(crop_box(L, x->shape[2], x->shape[3], r->shape[2], r->shape[3], box));
    if (box[2] == x->shape[2] && box[3] == x->shape[3]) return mt_layer_out1(out, mt_tensor_retain(x));
    return mt_layer_out1(out, mt_crop2d(x, box[0], box[1], box[2], box[3]));
}

const mt_layer_kind mt_layer_crop = {"crop", "like|margin", "", 1, 1, crop_setup, NULL, crop_forward};
