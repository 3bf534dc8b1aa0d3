/* layers/conv2d.c: `type: conv2d` (torch.nn.Conv2d; Keras Conv2D with
 * padding: same). Attributes: out (channels, required), kernel (3 or [kh, kw]),
 * stride, padding (same | valid | p | [ph, pw] | [t, b, l, r]; default valid),
 * dilation, groups, bias (default true), activation (none | relu | leaky_relu |
 * sigmoid | tanh | silu) with negative_slope, init (layer.h MT_INIT_NAMES,
 * default pytorch) with init_std for normal.
 * bias_offset: [[first, count, value], ...] with bias_offset_period P (default
 * out, must divide out): after initialisation, value is added to the bias of
 * channels first .. first + count - 1 of every group of P output channels
 * (YOLOv5 Detect._initialize_biases: per anchor, objectness += log(8 / (640 /
 * stride)^2) and classes += log(0.6 / (nc - 0.99999)); PyTorch: with
 * torch.no_grad(): b.view(na, -1)[:, first:first + count] += value).
 * Needs bias: true; not applied with init: none (zeros stay zeros).
 * State: <name>.weight [out, in/groups, kh, kw], <name>.bias [out]. */
#include <stdlib.h>

#include "layer.h"

typedef mt_conv_layer_attr conv_attr;

/* Checks bias_offset / bias_offset_period; with bias != NULL ([out] values on
 * the host) also adds the offsets. */
static mt_status bias_offset(const mt_layer *L, int out, int has_bias, mt_real *bias)
{
    const mt_yaml_node *n = mt_yaml_map_get(L->spec, "bias_offset");
    int period;
    MT_TRY(mt_layer_get_int(L, "bias_offset_period", out, &period));
    if (!n) {
        if (mt_layer_has(L, "bias_offset_period")) return mt_layer_error(L, "bias_offset_period", "without bias_offset");
        return MT_OK;
    }
    if (!has_bias) return mt_layer_error(L, "bias_offset", "needs bias: true");
    if (period < 1 || out % period) return mt_layer_error(L, "bias_offset_period", "%d does not divide out = %d", period, out);
    if (n->kind != MT_YAML_SEQ) return mt_layer_error(L, "bias_offset", "expected a list of [first, count, value]");
    for (int i = 0; i < n->n; i++) {
        const mt_yaml_node *e = n->child[i];
        long first, count;
        double v;
        if (e->kind != MT_YAML_SEQ || e->n != 3 || !mt_yaml_as_int(e->child[0], &first) ||
            !mt_yaml_as_int(e->child[1], &count) || !mt_yaml_as_double(e->child[2], &v))
            return mt_layer_error(L, "bias_offset", "entry %d must be [first, count, value] (integers, a number)", i);
        if (first < 0 || count < 0 || first + count > period)
            return mt_layer_error(L, "bias_offset", "entry %d: channels %ld .. %ld are outside a group of %d", i, first,
                                  first + count - 1, period);
        for (int g = 0; bias && g < out / period; g++)
            for (long c = first; c < first + count; c++) bias[g * period + c] += (mt_real)v;
    }
    return MT_OK;
}

static mt_status conv_setup(mt_model *m, mt_layer *L)
{
    conv_attr *a = MT_LAYER_ATTR(L, conv_attr);
    MT_TRY(mt_layer_get_conv_attr(L, 1, a));
    int ws[4] = {a->out, L->cin[0] / a->groups, a->k[0], a->k[1]};
    MT_TRY(mt_layer_declare(m, L, "weight", 4, ws, 1));
    if (a->bias) MT_TRY(mt_layer_declare(m, L, "bias", 1, &a->out, 1));
    MT_TRY(bias_offset(L, a->out, a->bias, NULL));
    L->cout[0] = a->out;
    return MT_OK;
}

static mt_status conv_init(mt_model *m, mt_layer *L, mt_rng *rng)
{
    const conv_attr *a = MT_LAYER_ATTR(L, conv_attr);
    /* groups == input channels: a depthwise conv (Keras DepthwiseConv2D, depth multiplier out / groups) */
    int depth_multiplier = a->groups > 1 && a->groups == L->cin[0] ? a->out / a->groups : 0;
    MT_TRY(mt_layer_init_weight(mt_layer_state(m, L, 0), a->bias ? mt_layer_state(m, L, 1) : NULL, a->init, a->std, 0,
                                depth_multiplier, rng));
    if (!a->bias || !mt_layer_has(L, "bias_offset") || a->init == 9 /* none */) return MT_OK;
    mt_tensor *b = mt_layer_state(m, L, 1);
    size_t bytes = (size_t)a->out * sizeof(mt_real);
    mt_real *host = mt_malloc(bytes);
    if (!host) return MT_ERR_NOMEM;
    mt_status s = mt_tensor_to_host(b, host, bytes);
    if (s == MT_OK) s = bias_offset(L, a->out, 1, host);
    if (s == MT_OK) s = mt_tensor_from_host_into(b, host, bytes);
    free(host);
    return s;
}

static mt_status conv_forward(mt_model *m, const mt_layer *L, mt_tensor *const *in, mt_tensor **out, mt_fwd *f)
{
    const conv_attr *a = MT_LAYER_ATTR(L, conv_attr);
    mt_tensor *x = in[0];
    mt_conv2d_params p = mt_conv2d_default();
    int pad[4];
    mt_layer_resolve_padding(a->pad_mode, a->pad, x->shape[2], x->shape[3], a->k[0], a->k[1], a->stride[0],
                             a->stride[1], a->dil[0], a->dil[1], pad);
    p.stride_h = a->stride[0], p.stride_w = a->stride[1];
    p.pad_top = pad[0], p.pad_bottom = pad[1], p.pad_left = pad[2], p.pad_right = pad[3];
    p.dil_h = a->dil[0], p.dil_w = a->dil[1];
    p.groups = a->groups;
    mt_tensor *y = mt_conv2d(x, mt_layer_state(m, L, 0), a->bias ? mt_layer_state(m, L, 1) : NULL, p);
    if (!y || a->act == MT_ACT_NONE) return mt_layer_out1(out, y);
    mt_tensor *z = mt_layer_activate(y, (mt_activation)a->act, a->slope);
    mt_tensor_release(y);
    return mt_layer_out1(out, z);
}

const mt_layer_kind mt_layer_conv2d = {
    "conv2d", "out|kernel|stride|padding|dilation|groups|bias|activation|negative_slope|init|init_std|bias_offset|"
    "bias_offset_period", "", 1, 1,
    conv_setup, conv_init, conv_forward,
};
