/* layers/dropout.c: `type: dropout` (torch.nn.Dropout; the U-Net's p = 0.5 at
 * the end of the contracting path). Attribute p (default 0.5; p = 0 makes the
 * layer an identity, handy in templates). In training each forward draws its
 * mask from the model's dropout stream (seed, offset) and advances the offset
 * by the number of elements (core/rng.h), so resuming from a checkpoint that
 * stored (seed, offset) reproduces the masks; identity in evaluation. */
#include "layer.h"

typedef struct dropout_attr {
    double p;
} dropout_attr;

static mt_status dropout_setup(mt_model *m, mt_layer *L)
{
    dropout_attr *a = MT_LAYER_ATTR(L, dropout_attr);
    MT_TRY(mt_layer_get_double(L, "p", 0.5, &a->p));
    if (a->p < 0 || a->p >= 1) return mt_layer_error(L, "p", "must be in [0, 1), got %g", a->p);
    return MT_OK;
}

static mt_status dropout_shape(const mt_model *m, const mt_layer *L, const mt_lshape *vals, mt_lshape *o)
{
    *o = vals[L->in[0]];
    return MT_OK;
}

static mt_tensor *dropout_forward(mt_model *m, mt_layer *L, mt_tensor *const *vals, int training)
{
    const dropout_attr *a = MT_LAYER_ATTR(L, dropout_attr);
    mt_tensor *x = vals[L->in[0]];
    if (!training || a->p == 0) return mt_tensor_retain(x);
    mt_dropout_params p;
    p.p = a->p;
    p.training = 1;
    p.seed = m->dropout_rng.seed;
    p.offset = mt_rng_next_offset(&m->dropout_rng, mt_numel(x));
    return mt_dropout(x, p);
}

const mt_layer_kind mt_layer_dropout = {"dropout", "p", 1, 1, dropout_setup, dropout_shape, NULL, dropout_forward};
