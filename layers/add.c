/* layers/add.c: `type: add` (residual sum, Keras Add): elementwise sum of its
 * `from:` inputs, which must have equal shapes (no broadcasting in graphs). */
#include <string.h>

#include "layer.h"

static mt_status add_setup(mt_model *m, mt_layer *L)
{
    for (int k = 1; k < L->n_in; k++)
        if (L->cin[k] > 0 && L->cin[0] > 0 && L->cin[k] != L->cin[0])
            return mt_layer_error(L, "from", "input %d has %d channels but input 0 has %d", k, L->cin[k], L->cin[0]);
    return MT_OK;
}

static mt_status add_shape(const mt_model *m, const mt_layer *L, const mt_lshape *vals, mt_lshape *o)
{
    *o = vals[L->in[0]];
    for (int k = 1; k < L->n_in; k++) {
        const mt_lshape *x = &vals[L->in[k]];
        if (x->ndim != o->ndim || memcmp(x->d, o->d, sizeof x->d[0] * (size_t)x->ndim))
            return mt_layer_error(L, "from", "input %d's shape differs from input 0's", k);
    }
    return MT_OK;
}

static mt_tensor *add_forward(mt_model *m, mt_layer *L, mt_tensor *const *vals, int training)
{
    mt_tensor *acc = mt_add(vals[L->in[0]], vals[L->in[1]]);
    for (int k = 2; k < L->n_in && acc; k++) {
        mt_tensor *next = mt_add(acc, vals[L->in[k]]);
        mt_tensor_release(acc);
        acc = next;
    }
    return acc;
}

const mt_layer_kind mt_layer_add = {"add", "", 2, MT_LAYER_MAX_IN, add_setup, add_shape, NULL, add_forward};
