/* layers/max_pool2d.c: `type: max_pool2d` (torch.nn.MaxPool2d). Attributes:
 * kernel (default 2), stride (default = kernel), padding (p | [ph, pw] |
 * [t, b, l, r]; -inf padding), ceil_mode (false; Caffe/DeconvNet use true).
 * When a max_unpool2d names this layer in `indices:`, the argmax indices
 * (PyTorch convention, see core/ops.h) are kept during the forward pass. */
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
    return MT_OK;
}

static mt_status pool_shape(const mt_model *m, const mt_layer *L, const mt_lshape *vals, mt_lshape *o)
{
    const pool_attr *a = (const pool_attr *)(const void *)L->attr;
    const mt_lshape *x = &vals[L->in[0]];
    if (x->ndim != 4) return mt_layer_error(L, NULL, "expects a [N, C, H, W] input");
    *o = *x;
    o->d[2] = mt_layer_window_out(x->d[2], a->k[0], a->stride[0], a->pad[0] + a->pad[1], 1, a->ceil_mode);
    o->d[3] = mt_layer_window_out(x->d[3], a->k[1], a->stride[1], a->pad[2] + a->pad[3], 1, a->ceil_mode);
    return MT_OK;
}

static mt_tensor *pool_forward(mt_model *m, mt_layer *L, mt_tensor *const *vals, int training)
{
    const pool_attr *a = MT_LAYER_ATTR(L, pool_attr);
    mt_pool2d_params p = mt_pool2d_default(a->k[0]);
    p.kh = a->k[0], p.kw = a->k[1];
    p.stride_h = a->stride[0], p.stride_w = a->stride[1];
    p.pad_top = a->pad[0], p.pad_bottom = a->pad[1], p.pad_left = a->pad[2], p.pad_right = a->pad[3];
    p.ceil_mode = a->ceil_mode;
    mt_tensor *idx = NULL;
    mt_tensor *y = mt_max_pool2d(vals[L->in[0]], p, L->keep_aux ? &idx : NULL);
    if (y && L->keep_aux) {
        L->aux_hw[0] = vals[L->in[0]]->shape[2];
        L->aux_hw[1] = vals[L->in[0]]->shape[3];
        mt_tensor_release(m->aux[L->index + 1]);
        m->aux[L->index + 1] = idx;
    }
    return y;
}

const mt_layer_kind mt_layer_max_pool2d = {
    "max_pool2d", "kernel|stride|padding|ceil_mode", 1, 1, pool_setup, pool_shape, NULL, pool_forward,
};
