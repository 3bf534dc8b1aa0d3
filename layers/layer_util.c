/* layers/layer_util.c: helpers shared by the layer kinds (layers/layer.h):
 * typed attribute access with file:line:column errors, padding rules,
 * activations and weight initialisation by scheme name. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "init.h"
#include "layer.h"

/* ------------------------------------------------- attribute helpers --- */

static const mt_yaml_node *attr(const mt_layer *L, const char *key) { return mt_yaml_map_get(L->spec, key); }

int mt_layer_has(const mt_layer *L, const char *key) { return attr(L, key) != NULL; }

mt_status mt_layer_error(const mt_layer *L, const char *key, const char *fmt, ...)
{
    char where[600], msg[1024];
    const mt_yaml_node *n = key ? attr(L, key) : NULL;
    mt_yaml_where(n ? n : L->spec, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mt_error_set(MT_ERR_INVALID, __FILE__, __LINE__, "%s: layer '%s' (%s): %s%s%s", where, L->name,
                        L->kind ? L->kind->type : "?", key ? key : "", key ? ": " : "", msg);
}

mt_status mt_layer_get_int(const mt_layer *L, const char *key, int def, int *out)
{
    const mt_yaml_node *n = attr(L, key);
    long v;
    if (!n) {
        *out = def;
        return MT_OK;
    }
    if (!mt_yaml_as_int(n, &v) || v < INT_MIN || v > INT_MAX)
        return mt_layer_error(L, key, "expected an integer, got '%s'", n->kind == MT_YAML_SCALAR ? n->value : "a list/map");
    *out = (int)v;
    return MT_OK;
}

mt_status mt_layer_get_double(const mt_layer *L, const char *key, double def, double *out)
{
    const mt_yaml_node *n = attr(L, key);
    if (!n) {
        *out = def;
        return MT_OK;
    }
    if (!mt_yaml_as_double(n, out))
        return mt_layer_error(L, key, "expected a number, got '%s'", n->kind == MT_YAML_SCALAR ? n->value : "a list/map");
    return MT_OK;
}

mt_status mt_layer_get_bool(const mt_layer *L, const char *key, int def, int *out)
{
    const mt_yaml_node *n = attr(L, key);
    long v;
    if (!n) {
        *out = def;
        return MT_OK;
    }
    if (mt_yaml_as_bool(n, out)) return MT_OK;
    if (mt_yaml_as_int(n, &v) && (v == 0 || v == 1)) {
        *out = (int)v;
        return MT_OK;
    }
    return mt_layer_error(L, key, "expected true or false, got '%s'", n->kind == MT_YAML_SCALAR ? n->value : "a list/map");
}

mt_status mt_layer_get_enum(const mt_layer *L, const char *key, const char *allowed, int def, int *out)
{
    const mt_yaml_node *n = attr(L, key);
    if (!n) {
        *out = def;
        return MT_OK;
    }
    int i = 0, best = INT_MAX;
    char near[64] = "";
    for (const char *p = allowed; *p; i++) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        char w[64];
        snprintf(w, sizeof w, "%.*s", (int)l, p);
        if (n->kind == MT_YAML_SCALAR && !strcmp(w, n->value)) {
            *out = i;
            return MT_OK;
        }
        int d = n->kind == MT_YAML_SCALAR ? mt_edit_distance(n->value, w) : INT_MAX;
        if (d < best) {
            best = d;
            snprintf(near, sizeof near, "%s", w);
        }
        p += l + (bar ? 1 : 0);
    }
    return mt_layer_error(L, key, "unknown value '%s'; allowed: %s; did you mean '%s'?",
                          n->kind == MT_YAML_SCALAR ? n->value : "a list/map", allowed, near);
}

mt_status mt_layer_get_ints(const mt_layer *L, const char *key, int n, int def_all, int *out)
{
    const mt_yaml_node *a = attr(L, key);
    long v;
    if (!a) {
        if (def_all < 0) return mt_layer_error(L, NULL, "missing required attribute '%s'", key);
        for (int i = 0; i < n; i++) out[i] = def_all;
        return MT_OK;
    }
    if (a->kind == MT_YAML_SCALAR) {
        if (!mt_yaml_as_int(a, &v) || v < -(1L << 30) || v > (1L << 30))
            return mt_layer_error(L, key, "expected an integer in [-2^30, 2^30], got '%s'", a->value);
        for (int i = 0; i < n; i++) out[i] = (int)v;
        return MT_OK;
    }
    if (a->kind != MT_YAML_SEQ || a->n != n) return mt_layer_error(L, key, "expected an integer or a list of %d integers", n);
    for (int i = 0; i < n; i++) {
        if (!mt_yaml_as_int(a->child[i], &v) || v < -(1L << 30) || v > (1L << 30))
            return mt_layer_error(L, key, "expected integers in [-2^30, 2^30], got '%s'", a->child[i]->value);
        out[i] = (int)v;
    }
    return MT_OK;
}

const char *mt_layer_get_str(const mt_layer *L, const char *key)
{
    const mt_yaml_node *n = attr(L, key);
    return n && n->kind == MT_YAML_SCALAR ? n->value : NULL;
}

mt_status mt_layer_get_conv_attr(const mt_layer *L, int allow_same, mt_conv_layer_attr *a)
{
    a->opad[0] = a->opad[1] = 0;
    MT_TRY(mt_layer_get_ints(L, "out", 1, -1, &a->out));
    MT_TRY(mt_layer_get_ints(L, "kernel", 2, -1, a->k));
    MT_TRY(mt_layer_get_ints(L, "stride", 2, 1, a->stride));
    MT_TRY(mt_layer_get_ints(L, "dilation", 2, 1, a->dil));
    MT_TRY(mt_layer_get_int(L, "groups", 1, &a->groups));
    MT_TRY(mt_layer_get_bool(L, "bias", 1, &a->bias));
    MT_TRY(mt_layer_get_padding(L, "padding", allow_same, &a->pad_mode, a->pad));
    MT_TRY(mt_layer_get_enum(L, "activation", MT_ACT_NAMES, 0, &a->act));
    MT_TRY(mt_layer_get_double(L, "negative_slope", 0.01, &a->slope));
    MT_TRY(mt_layer_get_enum(L, "init", MT_INIT_NAMES, 0, &a->init));
    MT_TRY(mt_layer_get_double(L, "init_std", 0.02, &a->std));
    if (L->cin[0] <= 0) return mt_layer_error(L, "from", "input channels unknown");
    if (a->groups < 1 || L->cin[0] % a->groups || a->out % a->groups)
        return mt_layer_error(L, "groups", "%d groups do not divide %d input and %d output channels", a->groups,
                              L->cin[0], a->out);
    if (a->stride[0] < 1 || a->stride[1] < 1 || a->dil[0] < 1 || a->dil[1] < 1 || a->k[0] < 1 || a->k[1] < 1)
        return mt_layer_error(L, NULL, "kernel, stride and dilation must be >= 1");
    return MT_OK;
}

mt_status mt_layer_get_padding(const mt_layer *L, const char *key, int allow_same, int *mode, int pad[4])
{
    const mt_yaml_node *a = attr(L, key);
    long v;
    *mode = 0;
    pad[0] = pad[1] = pad[2] = pad[3] = 0;
    if (!a) return MT_OK;
    if (a->kind == MT_YAML_SCALAR && (!strcmp(a->value, "same") || !strcmp(a->value, "valid"))) {
        *mode = a->value[0] == 's' ? 1 : 2;
        if (*mode == 1 && !allow_same) return mt_layer_error(L, key, "'same' is not available here; give pixels");
        return MT_OK;
    }
    if (a->kind == MT_YAML_SCALAR) {
        if (!mt_yaml_as_int(a, &v) || v < 0)
            return mt_layer_error(L, key, "expected same, valid, a pixel count or a list, got '%s'", a->value);
        pad[0] = pad[1] = pad[2] = pad[3] = (int)v;
        return MT_OK;
    }
    if (a->kind == MT_YAML_SEQ && (a->n == 2 || a->n == 4)) {
        int p[4];
        for (int i = 0; i < a->n; i++) {
            if (!mt_yaml_as_int(a->child[i], &v) || v < 0) return mt_layer_error(L, key, "padding values must be integers >= 0");
            p[i] = (int)v;
        }
        if (a->n == 2) pad[0] = pad[1] = p[0], pad[2] = pad[3] = p[1];
        else memcpy(pad, p, sizeof p);
        return MT_OK;
    }
    return mt_layer_error(L, key, "expected same, valid, p, [ph, pw] or [top, bottom, left, right]");
}

void mt_layer_resolve_padding(int mode, const int pad[4], int h, int w, int kh, int kw, int sh, int sw, int dh, int dw,
                              int out[4])
{
    if (mode == 1) {
        mt_same_padding(h, kh, sh, dh, &out[0], &out[1]);
        mt_same_padding(w, kw, sw, dw, &out[2], &out[3]);
    } else if (mode == 2) {
        out[0] = out[1] = out[2] = out[3] = 0;
    } else {
        memcpy(out, pad, 4 * sizeof *out);
    }
}

int mt_layer_window_out(int in, int k, int stride, int pad_total, int dil, int ceil_mode)
{
    int span = in + pad_total - dil * (k - 1) - 1;
    if (span < 0) return 0;
    int out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    /* PyTorch: the last window must start inside the input or left padding */
    if (ceil_mode && (out - 1) * stride >= in + pad_total / 2) out--;
    return out;
}

mt_tensor *mt_layer_activate(mt_tensor *x, mt_activation act, double negative_slope)
{
    switch (act) {
    case MT_ACT_NONE: return mt_tensor_retain(x);
    case MT_ACT_RELU: return mt_relu(x);
    case MT_ACT_LEAKY_RELU: return mt_leaky_relu(x, negative_slope);
    case MT_ACT_SIGMOID: return mt_sigmoid(x);
    case MT_ACT_TANH: return mt_tanh(x);
    case MT_ACT_SILU: return mt_silu(x);
    }
    return NULL;
}

mt_status mt_layer_init_weight(mt_tensor *w, mt_tensor *b, int init, double std, int transposed, int depth_multiplier,
                               mt_rng *rng)
{
    if (init == 0) return mt_init_torch_default(w, b, transposed, rng);
    mt_status s;
    switch (init) {
    case 1: s = mt_init_kaiming_normal(w, 0, 1, transposed, rng); break;
    case 2: s = mt_init_kaiming_uniform(w, 0, 1, transposed, rng); break;
    case 3: s = mt_init_xavier_uniform(w, 1, rng); break;
    case 4: s = mt_init_xavier_normal(w, 1, rng); break;
    case 5: s = mt_init_keras_glorot_uniform(w, rng); break;
    case 6: s = mt_init_keras_he_normal(w, rng); break;
    case 7: s = mt_init_keras_he_uniform(w, rng); break;
    case 8: s = mt_init_normal(w, 0, std, rng); break;
    case 9: return MT_OK; /* none: zeros from the allocation */
    case 10: s = mt_init_variance_scaling(w, 2.0, MT_FAN_OUT, MT_VS_TRUNCATED_NORMAL, depth_multiplier, rng); break;
    case 11: s = mt_init_variance_scaling(w, 1.0 / 3.0, MT_FAN_OUT, MT_VS_UNIFORM, 0, rng); break;
    default: return MT_ERR(MT_ERR_INVALID, "unknown init scheme %d", init);
    }
    if (s == MT_OK && b) s = mt_init_constant(b, 0);
    return s;
}

