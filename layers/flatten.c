/* layers/flatten.c: `type: flatten` (torch.flatten(x, 1), Keras Flatten on
 * [N, C, H, W] in NCHW order): [N, C, H, W] -> [N, C*H*W]. The feature count is
 * known at build time only after global_avg_pool2d (C); otherwise the next
 * linear layer needs `in:`. */
#include "layer.h"

static mt_status flatten_setup(mt_model *m, mt_layer *L)
{
    int v = L->in[0];
    int known = v > 0 && m->layers[v - 1].spatial_1x1;
    L->cout = known ? L->cin[0] : -1;
    return MT_OK;
}

static mt_status flatten_shape(const mt_model *m, const mt_layer *L, const mt_lshape *vals, mt_lshape *o)
{
    const mt_lshape *x = &vals[L->in[0]];
    o->ndim = 2;
    o->d[0] = x->d[0];
    o->d[1] = 1;
    for (int i = 1; i < x->ndim; i++) o->d[1] *= x->d[i];
    return MT_OK;
}

static mt_tensor *flatten_forward(mt_model *m, mt_layer *L, mt_tensor *const *vals, int training)
{
    return mt_flatten(vals[L->in[0]], 1);
}

const mt_layer_kind mt_layer_flatten = {"flatten", "", 1, 1, flatten_setup, flatten_shape, NULL, flatten_forward};
