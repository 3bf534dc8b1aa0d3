/* layers/drop_path.c: `type: drop_path` (stochastic depth; timm DropPath,
 * Keras EfficientNet's Dropout(rate, noise_shape=(None, 1, 1, 1)) before the
 * residual add). Attribute p (the drop rate, default 0; EfficientNet's block b
 * of B uses 0.2 * b / B). In training each sample's whole input is kept with
 * probability 1 - p and then scaled by 1 / (1 - p), or zeroed; identity in
 * evaluation or when p = 0. The per-sample draws come from the pass's random
 * stream (counter-based: sample i uses counter offset + i), so a run is
 * reproducible and resumable like dropout. */
#include "layer.h"

typedef struct drop_path_attr {
    double p;
} drop_path_attr;

static mt_status drop_path_setup(mt_model *m, mt_layer *L)
{
    drop_path_attr *a = MT_LAYER_ATTR(L, drop_path_attr);
    MT_TRY(mt_layer_get_double(L, "p", 0.0, &a->p));
    if (a->p < 0 || a->p >= 1) return mt_layer_error(L, "p", "must be in [0, 1), got %g", a->p);
    return MT_OK;
}

static mt_status drop_path_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const drop_path_attr *a = MT_LAYER_ATTR(L, drop_path_attr);
    mt_tensor *x = in[0];
    if (!f->training || a->p == 0 || mt_tensor_is_meta(x)) return mt_layer_out1(out, mt_tensor_retain(x));
    int shape[MT_MAX_DIMS];
    shape[0] = x->shape[0];
    for (int i = 1; i < x->ndim; i++) shape[i] = 1;
    mt_tensor *ones = mt_tensor_new(x->dtype, x->storage->device, x->ndim, shape);
    if (!ones || mt_tensor_fill(ones, 1.0) != MT_OK) {
        mt_tensor_release(ones);
        return mt_last_status();
    }
    mt_dropout_params p;
    p.p = a->p;
    p.training = 1;
    p.seed = f->rng->seed;
    p.offset = mt_rng_next_offset(f->rng, (uint64_t)shape[0]);
    mt_tensor *mask = mt_dropout(ones, p); /* [N, 1, ...]: 0 or 1 / (1 - p) */
    mt_tensor_release(ones);
    mt_tensor *y = mt_mul(x, mask);
    mt_tensor_release(mask);
    return mt_layer_out1(out, y);
}

const mt_layer_kind mt_layer_drop_path = {"drop_path", "p", "", 1, 1, drop_path_setup, NULL, drop_path_forward};
