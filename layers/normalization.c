/* layers/normalization.c: `type: normalization` (Keras Normalization layer,
 * the stem of tf.keras.applications.EfficientNet): y = (x - mean) /
 * max(sqrt(variance), 1e-7) per channel (dimension 1). Attributes mean and
 * variance: the initial values (a number for every channel or a list of C;
 * default 0 and 1, Keras's state before adapt()). State (buffers, not
 * trained; Keras counts them as non-trainable weights): <name>.mean [C],
 * <name>.variance [C], <name>.count [] (0). */
#include "layer.h"

typedef struct norm_attr {
    int c;
} norm_attr;

static mt_status norm_setup(mt_model *m, mt_layer *L)
{
    int c = L->cin[0];
    if (c <= 0) return mt_layer_error(L, "from", "input channels unknown");
    MT_LAYER_ATTR(L, norm_attr)->c = c;
    MT_TRY(mt_layer_declare(m, L, "mean", 1, &c, 0));
    MT_TRY(mt_layer_declare(m, L, "variance", 1, &c, 0));
    return mt_layer_declare(m, L, "count", 0, NULL, 0);
}

/* a number or a list of c numbers */
static mt_status fill_attr(mt_layer *L, const char *key, double def, mt_tensor *t, int c)
{
    const mt_yaml_node *n = mt_yaml_map_get(L->spec, key);
    mt_real v[4096];
    if (c > 4096) return mt_layer_error(L, NULL, "more than 4096 channels");
    for (int i = 0; i < c; i++) v[i] = (mt_real)def;
    if (n && n->kind == MT_YAML_SCALAR) {
        double d;
        if (!mt_yaml_as_double(n, &d)) return mt_layer_error(L, key, "expected a number or a list of %d", c);
        for (int i = 0; i < c; i++) v[i] = (mt_real)d;
    } else if (n) {
        if (n->kind != MT_YAML_SEQ || n->n != c) return mt_layer_error(L, key, "expected a number or a list of %d", c);
        for (int i = 0; i < c; i++) {
            double d;
            if (!mt_yaml_as_double(n->child[i], &d)) return mt_layer_error(L, key, "entry %d is not a number", i);
            v[i] = (mt_real)d;
        }
    }
    return mt_tensor_from_host_into(t, v, sizeof *v * (size_t)c);
}

static mt_status norm_init(mt_model *m, mt_layer *L, mt_rng *rng)
{
    int c = MT_LAYER_ATTR(L, norm_attr)->c;
    MT_TRY(fill_attr(L, "mean", 0.0, mt_layer_state(m, L, 0), c));
    MT_TRY(fill_attr(L, "variance", 1.0, mt_layer_state(m, L, 1), c));
    return mt_tensor_fill(mt_layer_state(m, L, 2), 0.0);
}

static mt_status norm_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    int c = MT_LAYER_ATTR(L, norm_attr)->c, shape[MT_MAX_DIMS];
    const mt_tensor *x = in[0];
    for (int i = 0; i < x->ndim; i++) shape[i] = i == 1 ? c : 1;
    mt_tensor *mean = mt_reshape(mt_layer_state(m, L, 0), x->ndim, shape);
    mt_tensor *var = mt_reshape(mt_layer_state(m, L, 1), x->ndim, shape);
    mt_tensor *sd = mt_sqrt(var), *den = mt_clamp(sd, 1e-7, 3.4e38), *cen = mt_sub(in[0], mean);
    mt_tensor *y = mt_div(cen, den);
    mt_tensor_release(mean);
    mt_tensor_release(var);
    mt_tensor_release(sd);
    mt_tensor_release(den);
    mt_tensor_release(cen);
    return mt_layer_out1(out, y);
}

const mt_layer_kind mt_layer_normalization = {"normalization", "mean|variance", "", 1, 1, norm_setup, norm_init,
                                              norm_forward};
