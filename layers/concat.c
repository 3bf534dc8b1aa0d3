/* layers/concat.c: `type: concat` (torch.cat(dim=1), Keras Concatenate):
 * joins its `from:` inputs along the channels in the order listed (the U-Net
 * uses [up, skip]; milesial and zhixuhao use [skip, up]). All inputs must
 * have the same N, H, W (crop skips first for a valid U-Net). */
#include "layer.h"

static mt_status concat_setup(mt_model *m, mt_layer *L)
{
    int c = 0;
    for (int k = 0; k < L->n_in; k++) {
        if (L->cin[k] <= 0) {
            c = -1;
            break;
        }
        c += L->cin[k];
    }
    L->cout[0] = c;
    return MT_OK;
}

static mt_status concat_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    mt_tensor *xs[MT_LAYER_MAX_IN];
    for (int k = 0; k < L->n_in; k++) xs[k] = in[k];
    return mt_layer_out1(out, mt_concat(L->n_in, xs, 1));
}

const mt_layer_kind mt_layer_concat = {"concat", "", "", 2, MT_LAYER_MAX_IN, concat_setup, NULL, concat_forward};
