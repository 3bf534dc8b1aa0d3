/* layers/max_pool2d.c: `type: max_pool2d` (torch.nn.MaxPool2d). Attributes:
 * kernel (default 2), stride (default = kernel), padding (p | [ph, pw] |
 * [t, b, l, r]; -inf padding), ceil_mode (false; Caffe/DeconvNet use true).
 * Outputs: the pooled map, and port `indices` (`<name>.indices`): the argmax
 * positions (MT_I32, PyTorch convention, core/ops.h) that a max_unpool2d reads. */
#include "layer.h"

typedef struct pool_attr {
    int k[2], stride[2], pad_mode, pad[4], ceil_mode;
} pool_attr;

static mt_status pool_setup(mt_model *m, mt_layer *L)
{
    pool_attr *a = MT_LAYER_ATTR(L, pool_attr);
    MT_TRY(mt_layer_get_ints(L, "kernel", 2, 2, a->k));
    MT_TRY(mt_layer_get_ints(L, "stride", 2, 0, a->stride));
    if (!mt_layer_has(L, "stride")) a->stride[0] = a->k[0], a->stride[1] = a->k[1];
    MT_TRY(mt_layer_get_padding(L, "padding", 0, &a->pad_mode, a->pad));
    MT_TRY(mt_layer_get_bool(L, "ceil_mode", 0, &a->ceil_mode));
    if (a->k[0] < 1 || a->k[1] < 1 || a->stride[0] < 1 || a->stride[1] < 1)
        return mt_layer_error(L, NULL, "kernel and stride must be >= 1");
    L->cout[1] = L->cin[0];
    return MT_OK;
}

static mt_status pool_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const pool_attr *a = MT_LAYER_ATTR(L, pool_attr);
    mt_pool2d_params p = mt_pool2d_default(a->k[0]);
    p.kh = a->k[0], p.kw = a->k[1];
    p.stride_h = a->stride[0], p.stride_w = a->stride[1];
    p.pad_top = a->pad[0], p.pad_bottom = a->pad[1], p.pad_left = a->pad[2], p.pad_right = a->pad[3];
    p.ceil_mode = a->ceil_mode;
    out[1] = NULL;
    out[0] = mt_max_pool2d(in[0], p, &out[1]);
    return out[0] ? MT_OK : mt_last_status();
}

const mt_layer_kind mt_layer_max_pool2d = {
    "max_pool2d", "kernel|stride|padding|ceil_mode", "indices", 1, 1, pool_setup, NULL, pool_forward,
};
