/* layers/batch_norm2d.c: `type: batch_norm2d` (torch.nn.BatchNorm2d; Keras
 * BatchNormalization with momentum = 1 - Keras momentum). Attributes: momentum
 * (PyTorch convention, default 0.1), eps (1e-5), affine (true), scale (true;
 * false = Keras BatchNormalization(scale=False): no gamma, only beta, as in
 * InceptionResNetV2),
 * unbiased_running_var (true: PyTorch / Keras 2; false: Keras 3), activation
 * (applied after normalisation, + negative_slope), init (default pytorch:
 * gamma 1, beta 0; normal: gamma ~ N(1, init_std^2), beta 0, the DCGAN /
 * pix2pix / GANomaly init_weights "normal", i.e. torch.nn.init.normal_(
 * bn.weight, 1.0, init_std), constant_(bn.bias, 0); init_std default 0.02).
 * State: <name>.weight, <name>.bias [C] (parameters, when affine);
 * buffers <name>.running_mean [C] (0), <name>.running_var [C] (1),
 * <name>.num_batches_tracked [] (0, incremented by each training forward as in PyTorch). */
#include "../core/device.h"
#include "init.h"
#include "layer.h"

typedef struct bn_attr {
    double momentum, eps, slope, std;
    int affine, scale, unbiased, act, init;
} bn_attr;

/* parameters declared before the running statistics: weight and bias, bias only (scale: false), or none */
static int n_affine(const bn_attr *a) { return a->affine ? (a->scale ? 2 : 1) : 0; }

static mt_status bn_setup(mt_model *m, mt_layer *L)
{
    bn_attr *a = MT_LAYER_ATTR(L, bn_attr);
    MT_TRY(mt_layer_get_double(L, "momentum", 0.1, &a->momentum));
    MT_TRY(mt_layer_get_double(L, "eps", 1e-5, &a->eps));
    MT_TRY(mt_layer_get_bool(L, "affine", 1, &a->affine));
    MT_TRY(mt_layer_get_bool(L, "scale", 1, &a->scale));
    MT_TRY(mt_layer_get_bool(L, "unbiased_running_var", 1, &a->unbiased));
    MT_TRY(mt_layer_get_enum(L, "activation", MT_ACT_NAMES, 0, &a->act));
    MT_TRY(mt_layer_get_double(L, "negative_slope", 0.01, &a->slope));
    MT_TRY(mt_layer_get_enum(L, "init", "pytorch|normal", 0, &a->init));
    MT_TRY(mt_layer_get_double(L, "init_std", 0.02, &a->std));
    int c = L->cin[0];
    if (c <= 0) return mt_layer_error(L, "from", "input channels unknown");
    if (a->momentum < 0 || a->momentum > 1) return mt_layer_error(L, "momentum", "must be in [0, 1] (PyTorch convention)");
    if (a->std < 0) return mt_layer_error(L, "init_std", "must be >= 0");
    if (a->init && !(a->affine && a->scale)) return mt_layer_error(L, "init", "normal draws gamma: needs affine and scale");
    if (a->affine && a->scale) MT_TRY(mt_layer_declare(m, L, "weight", 1, &c, 1));
    if (a->affine) MT_TRY(mt_layer_declare(m, L, "bias", 1, &c, 1));
    MT_TRY(mt_layer_declare(m, L, "running_mean", 1, &c, 0));
    MT_TRY(mt_layer_declare(m, L, "running_var", 1, &c, 0));
    MT_TRY(mt_layer_declare(m, L, "num_batches_tracked", 0, NULL, 0));
    return MT_OK;
}

static mt_status bn_init(mt_model *m, mt_layer *L, mt_rng *rng)
{
    const bn_attr *a = MT_LAYER_ATTR(L, bn_attr);
    int k = n_affine(a);
    if (k == 2 && a->init == 1) { /* gamma ~ N(1, std^2), beta 0 */
        MT_TRY(mt_init_normal(mt_layer_state(m, L, 0), 1.0, a->std, rng));
        MT_TRY(mt_init_constant(mt_layer_state(m, L, 1), 0.0));
    } else if (k == 2) {
        MT_TRY(mt_init_torch_batch_norm(mt_layer_state(m, L, 0), mt_layer_state(m, L, 1)));
    }
    if (k == 1) MT_TRY(mt_tensor_fill(mt_layer_state(m, L, 0), 0.0)); /* Keras beta: zeros */
    MT_TRY(mt_tensor_fill(mt_layer_state(m, L, k), 0.0));
    MT_TRY(mt_tensor_fill(mt_layer_state(m, L, k + 1), 1.0));
    return mt_tensor_fill(mt_layer_state(m, L, k + 2), 0.0);
}

static mt_status bn_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const bn_attr *a = MT_LAYER_ATTR(L, bn_attr);
    int k = n_affine(a);
    mt_batch_norm_params p = mt_batch_norm_default();
    p.training = f->training;
    p.momentum = a->momentum;
    p.eps = a->eps;
    p.unbiased_running_var = a->unbiased;
    mt_tensor *y = mt_batch_norm2d(in[0], k == 2 ? mt_layer_state(m, L, 0) : NULL,
                                   k ? mt_layer_state(m, L, k - 1) : NULL, mt_layer_state(m, L, k),
                                   mt_layer_state(m, L, k + 1), p);
    if (y && f->training && !mt_tensor_is_meta(y)) { /* num_batches_tracked += 1 on the model's device */
        mt_tensor *nbt = mt_layer_state(m, L, k + 2);
        const mt_backend *b = mt_backend_get(m->dev.type);
        if (!b || b->axpy(b->ctx, m->dev.index, 1, 1, (const mt_real *)mt_data(m->one), (mt_real *)mt_data(nbt)) != MT_OK) {
            mt_tensor_release(y);
            return mt_last_status() != MT_OK ? mt_last_status() : MT_ERR(MT_ERR_INVALID, "num_batches_tracked update failed");
        }
    }
    if (!y || a->act == MT_ACT_NONE) return mt_layer_out1(out, y);
    mt_tensor *z = mt_layer_activate(y, (mt_activation)a->act, a->slope);
    mt_tensor_release(y);
    return mt_layer_out1(out, z);
}

const mt_layer_kind mt_layer_batch_norm2d = {
    "batch_norm2d", "momentum|eps|affine|scale|unbiased_running_var|activation|negative_slope|init|init_std", "", 1, 1, bn_setup,
    bn_init, bn_forward,
};
