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
    L->cout = c;
    return MT_OK;
}

static mt_status concat_shape(const mt_model *m, const mt_layer *L, const mt_lshape *vals, mt_lshape *o)
{
    *o = vals[L->in[0]];
    o->d[1] = 0;
    for (int k = 0; k < L->n_in; k++) {
        const mt_lshape *x = &vals[L->in[k]];
        if (x->ndim != o->ndim || x->d[0] != o->d[0] || (x->ndim == 4 && (x->d[2] != o->d[2] || x->d[3] != o->d[3])))
            return mt_layer_error(L, "from", "input %d is %dx%d but input 0 is %dx%d (crop the skip first)", k,
                                  x->ndim == 4 ? x->d[2] : 0, x->ndim == 4 ? x->d[3] : 0, o->ndim == 4 ? o->d[2] : 0,
                                  o->ndim == 4 ? o->d[3] : 0);
        o->d[1] += x->d[1];
    }
    return MT_OK;
}

static mt_tensor *concat_forward(mt_model *m, mt_layer *L, mt_tensor *const *vals, int training)
{
    mt_tensor *xs[MT_LAYER_MAX_IN];
    for (int k = 0; k < L->n_in; k++) xs[k] = vals[L->in[k]];
    return mt_concat(L->n_in, xs, 1);
}

const mt_layer_kind mt_layer_concat = {"concat", "", 2, MT_LAYER_MAX_IN, concat_setup, concat_shape, NULL, concat_forward};
