/* layers/linear.c: `type: linear` (torch.nn.Linear, Keras Dense) on [N, F]
 * (after flatten or global_avg_pool2d + flatten). Attributes: out (required),
 * in (input features, needed only when they cannot be inferred), bias (true),
 * activation (+ negative_slope), init (+ init_std).
 * State: <name>.weight [out, in], <name>.bias [out]. */
#include "layer.h"

typedef struct linear_attr {
    int out, in, bias, act, init;
    double slope, std;
} linear_attr;

static mt_status linear_setup(mt_model *m, mt_layer *L)
{
    linear_attr *a = MT_LAYER_ATTR(L, linear_attr);
    MT_TRY(mt_layer_get_ints(L, "out", 1, -1, &a->out));
    MT_TRY(mt_layer_get_int(L, "in", L->cin[0], &a->in));
    MT_TRY(mt_layer_get_bool(L, "bias", 1, &a->bias));
    MT_TRY(mt_layer_get_enum(L, "activation", MT_ACT_NAMES, 0, &a->act));
    MT_TRY(mt_layer_get_double(L, "negative_slope", 0.01, &a->slope));
    MT_TRY(mt_layer_get_enum(L, "init", MT_INIT_NAMES, 0, &a->init));
    MT_TRY(mt_layer_get_double(L, "init_std", 0.02, &a->std));
    if (a->in <= 0) return mt_layer_error(L, NULL, "input features unknown: give 'in:'");
    int ws[2] = {a->out, a->in};
    MT_TRY(mt_layer_declare(m, L, "weight", 2, ws, 1));
    if (a->bias) MT_TRY(mt_layer_declare(m, L, "bias", 1, &a->out, 1));
    L->cout[0] = a->out;
    return MT_OK;
}

static mt_status linear_init(mt_model *m, mt_layer *L, mt_rng *rng)
{
    const linear_attr *a = MT_LAYER_ATTR(L, linear_attr);
    return mt_layer_init_weight(mt_layer_state(m, L, 0), a->bias ? mt_layer_state(m, L, 1) : NULL, a->init, a->std, 0, 0,
                                rng);
}

static mt_status linear_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const linear_attr *a = MT_LAYER_ATTR(L, linear_attr);
    mt_tensor *y = mt_linear(in[0], mt_layer_state(m, L, 0), a->bias ? mt_layer_state(m, L, 1) : NULL);
    if (!y || a->act == MT_ACT_NONE) return mt_layer_out1(out, y);
    mt_tensor *z = mt_layer_activate(y, (mt_activation)a->act, a->slope);
    mt_tensor_release(y);
    return mt_layer_out1(out, z);
}

const mt_layer_kind mt_layer_linear = {
    "linear", "out|in|bias|activation|negative_slope|init|init_std", "", 1, 1,
    linear_setup, linear_init, linear_forward,
};
