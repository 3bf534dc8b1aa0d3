/* layers/flatten.c: `type: flatten` (torch.flatten(x, 1), Keras Flatten on
 * [N, C, H, W] in NCHW order): [N, C, H, W] -> [N, C*H*W]. The feature count is
 * known at build time only after global_avg_pool2d (C); otherwise the next
 * linear layer needs `in:`. */
#include "layer.h"

static mt_status flatten_setup(mt_model *m, mt_layer *L)
{
    int port;
    const mt_layer *P = mt_value_layer(m, L->in[0], &port);
    L->cout[0] = P && port == 0 && P->spatial_1x1 ? L->cin[0] : -1;
    return MT_OK;
}

static mt_status flatten_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    return mt_layer_out1(out, mt_flatten(in[0], 1));
}

const mt_layer_kind mt_layer_flatten = {"flatten", "", "", 1, 1, flatten_setup, NULL, flatten_forward};
