/* layers/elementwise.c: layers that combine or rescale values elementwise.
 *  - `type: mul` (Keras Multiply, PyTorch x * s): product of its `from:`
 *    inputs with NumPy/PyTorch broadcasting (squeeze-excitation: [N, C, H, W]
 *    times [N, C, 1, 1]). Shapes that do not broadcast name both.
 *  - `type: scale` (Keras Rescaling, IRv2's `x + 0.17 * r`): y = factor * x
 *    + offset with constants `factor` (1) and `offset` (0).
 *  - `type: identity` (nn.Identity): passes its input on (a named tap).
 * None of them has state. */
#include "layer.h"

static mt_status mul_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    mt_tensor *acc = mt_mul(in[0], in[1]);
    for (int k = 2; k < L->n_from && acc; k++) {
        mt_tensor *next = mt_mul(acc, in[k]);
        mt_tensor_release(acc);
        acc = next;
    }
    return mt_layer_out1(out, acc);
}

static mt_status mul_setup(mt_model *m, mt_layer *L)
{
    int c = -1;
    for (int k = 0; k < L->n_in; k++) c = L->cin[k] > c ? L->cin[k] : c;
    L->cout[0] = c;
    return MT_OK;
}

typedef struct scale_attr {
    double factor, offset;
} scale_attr;

static mt_status scale_setup(mt_model *m, mt_layer *L)
{
    scale_attr *a = MT_LAYER_ATTR(L, scale_attr);
    MT_TRY(mt_layer_get_double(L, "factor", 1.0, &a->factor));
    MT_TRY(mt_layer_get_double(L, "offset", 0.0, &a->offset));
    L->spatial_1x1 = 0;
    return MT_OK;
}

static mt_status scale_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const scale_attr *a = MT_LAYER_ATTR(L, scale_attr);
    return mt_layer_out1(out, mt_scale(in[0], a->factor, a->offset));
}

static mt_status identity_setup(mt_model *m, mt_layer *L) { return MT_OK; }

static mt_status identity_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    return mt_layer_out1(out, mt_tensor_retain(in[0]));
}

const mt_layer_kind mt_layer_mul = {"mul", "", "", 2, MT_LAYER_MAX_IN, mul_setup, NULL, mul_forward};
const mt_layer_kind mt_layer_scale = {"scale", "factor|offset", "", 1, 1, scale_setup, NULL, scale_forward};
const mt_layer_kind mt_layer_identity = {"identity", "", "", 1, 1, identity_setup, NULL, identity_forward};
