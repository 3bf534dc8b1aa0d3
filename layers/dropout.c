/* layers/dropout.c: `type: dropout` (torch.nn.Dropout; the U-Net's p = 0.5 at
 * the end of the contracting path). Attribute p (default 0.5; p = 0 makes the
 * layer an identity, handy in templates). In training each forward draws its
 * mask from the pass's random stream (seed, offset; layer.h mt_fwd) and advances the offset
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

static mt_status dropout_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const dropout_attr *a = MT_LAYER_ATTR(L, dropout_attr);
    mt_tensor *x = in[0];
    if (!f->training || a->p == 0) return mt_layer_out1(out, mt_tensor_retain(x));
    mt_dropout_params p;
    p.p = a->p;
    p.training = 1;
    p.seed = f->rng->seed;
    p.offset = mt_rng_next_offset(f->rng, mt_numel(x));
    return mt_layer_out1(out, mt_dropout(x, p));
}

const mt_layer_kind mt_layer_dropout = {"dropout", "p", "", 1, 1, dropout_setup, NULL, dropout_forward};
