/* layers/avg_pool2d.c: `type: avg_pool2d` (torch.nn.AvgPool2d: kernel (2),
 * stride (= kernel), padding, ceil_mode (false), count_include_pad (true)) and
 * `type: global_avg_pool2d` (torch.nn.AdaptiveAvgPool2d(1), Keras
 * GlobalAveragePooling2D keeping [N, C, 1, 1]; follow with flatten for linear). */
#include "layer.h"

typedef struct avg_attr {
    int k[2], stride[2], pad_mode, pad[4], ceil_mode, count_include_pad;
} avg_attr;

static mt_status avg_setup(mt_model *m, mt_layer *L)
{
    avg_attr *a = MT_LAYER_ATTR(L, avg_attr);
    MT_TRY(mt_layer_get_ints(L, "kernel", 2, 2, a->k));
    MT_TRY(mt_layer_get_ints(L, "stride", 2, 0, a->stride));
    if (!mt_layer_has(L, "stride")) a->stride[0] = a->k[0], a->stride[1] = a->k[1];
    MT_TRY(mt_layer_get_padding(L, "padding", 0, &a->pad_mode, a->pad));
    MT_TRY(mt_layer_get_bool(L, "ceil_mode", 0, &a->ceil_mode));
    MT_TRY(mt_layer_get_bool(L, "count_include_pad", 1, &a->count_include_pad));
    if (a->k[0] < 1 || a->k[1] < 1 || a->stride[0] < 1 || a->stride[1] < 1)
        return mt_layer_error(L, NULL, "kernel and stride must be >= 1");
    return MT_OK;
}

static mt_status avg_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const avg_attr *a = MT_LAYER_ATTR(L, avg_attr);
    mt_pool2d_params p = mt_pool2d_default(a->k[0]);
    p.kh = a->k[0], p.kw = a->k[1];
    p.stride_h = a->stride[0], p.stride_w = a->stride[1];
    p.pad_top = a->pad[0], p.pad_bottom = a->pad[1], p.pad_left = a->pad[2], p.pad_right = a->pad[3];
    p.ceil_mode = a->ceil_mode;
    p.count_include_pad = a->count_include_pad;
    return mt_layer_out1(out, mt_avg_pool2d(in[0], p));
}

const mt_layer_kind mt_layer_avg_pool2d = {
    "avg_pool2d", "kernel|stride|padding|ceil_mode|count_include_pad", "", 1, 1, avg_setup, NULL, avg_forward,
};

static mt_status gap_setup(mt_model *m, mt_layer *L)
{
    L->spatial_1x1 = 1;
    return MT_OK;
}

static mt_status gap_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    return mt_layer_out1(out, mt_global_avg_pool2d(in[0]));
}

const mt_layer_kind mt_layer_global_avg_pool2d = {
    "global_avg_pool2d", "", "", 1, 1, gap_setup, NULL, gap_forward,
};
