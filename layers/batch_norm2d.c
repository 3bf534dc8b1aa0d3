/* layers/batch_norm2d.c: `type: batch_norm2d` (torch.nn.BatchNorm2d; Keras
 * BatchNormalization with momentum = 1 - Keras momentum). Attributes: momentum
 * (PyTorch convention, default 0.1), eps (1e-5), affine (true),
 * unbiased_running_var (true: PyTorch / Keras 2; false: Keras 3), activation
 * (applied after normalisation, + negative_slope).
 * State: <name>.weight, <name>.bias [C] (parameters, when affine);
 * buffers <name>.running_mean [C] (0), <name>.running_var [C] (1),
 * <name>.num_batches_tracked [] (0, incremented by each training forward as in PyTorch). */
#include "../core/device.h"
#include "init.h"
#include "layer.h"

typedef struct bn_attr {
    double momentum, eps, slope;
    int affine, unbiased, act;
} bn_attr;

static mt_status bn_setup(mt_model *m, mt_layer *L)
{
    bn_attr *a = MT_LAYER_ATTR(L, bn_attr);
    MT_TRY(mt_layer_get_double(L, "momentum", 0.1, &a->momentum));
    MT_TRY(mt_layer_get_double(L, "eps", 1e-5, &a->eps));
    MT_TRY(mt_layer_get_bool(L, "affine", 1, &a->affine));
    MT_TRY(mt_layer_get_bool(L, "unbiased_running_var", 1, &a->unbiased));
    MT_TRY(mt_layer_get_enum(L, "activation", MT_ACT_NAMES, 0, &a->act));
    MT_TRY(mt_layer_get_double(L, "negative_slope", 0.01, &a->slope));
    int c = L->cin[0];
    if (c <= 0) return mt_layer_error(L, "from", "input channels unknown");
    if (a->momentum < 0 || a->momentum > 1) return mt_layer_error(L, "momentum", "must be in [0, 1] (PyTorch convention)");
    if (a->affine) {
        MT_TRY(mt_layer_declare(m, L, "weight", 1, &c, 1));
        MT_TRY(mt_layer_declare(m, L, "bias", 1, &c, 1));
    }
    MT_TRY(mt_layer_declare(m, L, "running_mean", 1, &c, 0));
    MT_TRY(mt_layer_declare(m, L, "running_var", 1, &c, 0));
    MT_TRY(mt_layer_declare(m, L, "num_batches_tracked", 0, NULL, 0));
    return MT_OK;
}

static mt_status bn_shape(const mt_model *m, const mt_layer *L, const mt_lshape *vals, mt_lshape *o)
{
    *o = vals[L->in[0]];
    return MT_OK;
}

static mt_status bn_init(mt_model *m, mt_layer *L, mt_rng *rng)
{
    const bn_attr *a = MT_LAYER_ATTR(L, bn_attr);
    int k = 0;
    if (a->affine) {
        MT_TRY(mt_init_torch_batch_norm(mt_layer_state(m, L, 0), mt_layer_state(m, L, 1)));
        k = 2;
    }
    MT_TRY(mt_tensor_fill(mt_layer_state(m, L, k), 0.0));
    MT_TRY(mt_tensor_fill(mt_layer_state(m, L, k + 1), 1.0));
    return mt_tensor_fill(mt_layer_state(m, L, k + 2), 0.0);
}

static mt_tensor *bn_forward(mt_model *m, mt_layer *L, mt_tensor *const *vals, int training)
{
    const bn_attr *a = MT_LAYER_ATTR(L, bn_attr);
    int k = a->affine ? 2 : 0;
    mt_batch_norm_params p = mt_batch_norm_default();
    p.training = training;
    p.momentum = a->momentum;
    p.eps = a->eps;
    p.unbiased_running_var = a->unbiased;
    mt_tensor *y = mt_batch_norm2d(vals[L->in[0]], a->affine ? mt_layer_state(m, L, 0) : NULL,
                                   a->affine ? mt_layer_state(m, L, 1) : NULL, mt_layer_state(m, L, k),
                                   mt_layer_state(m, L, k + 1), p);
    if (y && training) { /* num_batches_tracked += 1 on the model's device */
        mt_tensor *nbt = mt_layer_state(m, L, k + 2);
        const mt_backend *b = mt_backend_get(m->dev.type);
        if (!b || b->axpy(b->ctx, m->dev.index, 1, 1, (const mt_real *)mt_data(m->one), (mt_real *)mt_data(nbt)) != MT_OK) {
            mt_tensor_release(y);
            return NULL;
        }
    }
    if (!y || a->act == MT_ACT_NONE) return y;
    mt_tensor *z = mt_layer_activate(y, (mt_activation)a->act, a->slope);
    mt_tensor_release(y);
    return z;
}

const mt_layer_kind mt_layer_batch_norm2d = {
    "batch_norm2d", "momentum|eps|affine|unbiased_running_var|activation|negative_slope", 1, 1, bn_setup, bn_shape, bn_init, bn_forward,
};
