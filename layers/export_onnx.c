/* layers/export_onnx.c: the layer-kind -> ONNX operator mapping and the ONNX
 * writer (layers/export.h). Messages are built with the protobuf-c code that
 * the Makefile generates from libonnx-dev's onnx.proto (build/gen/onnx.pb-c.h)
 * and packed with protobuf_c_message_pack; nothing here encodes protobuf by
 * hand. Every allocation of the message tree goes through a small arena freed
 * at the end. Layer attributes are read again from the layer's expanded spec
 * with the same mt_layer_get_* calls and defaults as the kinds' setup. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onnx.pb-c.h"

#include "export.h"
#include "layer.h"
#include "../core/file.h"

#ifdef MT_REAL_DOUBLE
#error "the ONNX export is built in the float32 build only"
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "raw_data is written in host order: little-endian hosts only"
#endif

enum { T_FLOAT = 1, T_INT64 = 7 }; /* TensorProto.DataType */

typedef struct ex_ctx {
    mt_model *m;
    int opset, dynamic, batch;
    void **blocks; /* arena */
    size_t n_blocks, cap_blocks;
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    char *state_used;  /* per state entry: already an initializer */
    const char **vname; /* per value: its ONNX name */
    mt_tensor **vals, **vals2; /* traces at batch N and N + 1 */
    int oom;
    mt_status err; /* first failure other than memory (kept; later steps see it through ex_status) */
} ex_ctx;

/* ---------------------------------------------------------------- arena -- */

static void *ex_alloc(ex_ctx *c, size_t bytes)
{
    if (c->oom) return NULL;
    if (c->n_blocks == c->cap_blocks) {
        size_t cap = c->cap_blocks ? c->cap_blocks * 2 : 256;
        void **nb = realloc(c->blocks, cap * sizeof *nb);
        if (!nb) {
            c->oom = 1;
            return NULL;
        }
        c->blocks = nb, c->cap_blocks = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) {
        c->oom = 1;
        return NULL;
    }
    c->blocks[c->n_blocks++] = p;
    return p;
}

static char *ex_str(ex_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *ex_str(ex_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = ex_alloc(c, (size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static int ex_push(ex_ctx *c, void ***arr, size_t *n, size_t *cap, void *item)
{
    if (!item) return -1;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        void **na = realloc(*arr, nc * sizeof *na);
        if (!na) {
            c->oom = 1;
            return -1;
        }
        *arr = na, *cap = nc;
    }
    (*arr)[(*n)++] = item;
    return 0;
}

static mt_status ex_status(ex_ctx *c)
{
    if (c->err != MT_OK) return c->err;
    return c->oom ? MT_ERR(MT_ERR_NOMEM, "ONNX export: out of memory") : MT_OK;
}

/* ---------------------------------------------------------- messages --- */

#define MAX_ATTR 10

/* A node op_type(inputs) -> outputs, named as its first output (unique in the
 * graph; `name` is unused); "" inputs are omitted optional inputs. */
static Onnx__NodeProto *ex_node(ex_ctx *c, const char *op, const char *name, int n_in, const char *const *in, int n_out,
                                const char *const *out)
{
    if (c->oom || c->err != MT_OK || !out[0]) { /* a name failed to allocate: recorded, stop adding */
        c->oom = c->oom || c->err == MT_OK;
        return NULL;
    }
    for (int i = 0; i < n_in; i++)
        if (!in[i]) {
            c->oom = c->oom || c->err == MT_OK;
            return NULL;
        }
    Onnx__NodeProto *n = ex_alloc(c, sizeof *n);
    char **ins = ex_alloc(c, sizeof *ins * (size_t)(n_in ? n_in : 1));
    char **outs = ex_alloc(c, sizeof *outs * (size_t)n_out);
    Onnx__AttributeProto **attrs = ex_alloc(c, sizeof *attrs * MAX_ATTR);
    if (!n || !ins || !outs || !attrs) return NULL;
    Onnx__NodeProto z = ONNX__NODE_PROTO__INIT;
    *n = z;
    for (int i = 0; i < n_in; i++) ins[i] = (char *)in[i];
    for (int i = 0; i < n_out; i++) outs[i] = (char *)out[i];
    n->n_input = (size_t)n_in, n->input = ins;
    n->n_output = (size_t)n_out, n->output = outs;
    n->op_type = (char *)op;
    n->name = ex_str(c, "%s", out[0]);
    n->attribute = attrs;
    if (!n->name || ex_push(c, (void ***)&c->nodes, &c->n_nodes, &c->cap_nodes, n)) return NULL;
    return n;
}

static Onnx__AttributeProto *ex_attr(ex_ctx *c, Onnx__NodeProto *n, const char *name,
                                     Onnx__AttributeProto__AttributeType type)
{
    if (!n) return NULL; /* out of memory, already recorded */
    if (n->n_attribute >= MAX_ATTR) {
        if (c->err == MT_OK) c->err = MT_ERR(MT_ERR_INVALID, "ONNX export: node '%s': more than %d attributes", n->name, MAX_ATTR);
        return NULL;
    }
    Onnx__AttributeProto *a = ex_alloc(c, sizeof *a);
    if (!a) return NULL;
    Onnx__AttributeProto z = ONNX__ATTRIBUTE_PROTO__INIT;
    *a = z;
    a->name = (char *)name;
    a->has_type = 1, a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static void attr_i(ex_ctx *c, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = ex_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) a->has_i = 1, a->i = v;
}

static void attr_f(ex_ctx *c, Onnx__NodeProto *n, const char *name, double v)
{
    Onnx__AttributeProto *a = ex_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) a->has_f = 1, a->f = (float)v;
}

static void attr_s(ex_ctx *c, Onnx__NodeProto *n, const char *name, const char *v)
{
    Onnx__AttributeProto *a = ex_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    if (a) a->has_s = 1, a->s.data = (uint8_t *)v, a->s.len = strlen(v);
}

static void attr_ints(ex_ctx *c, Onnx__NodeProto *n, const char *name, int k, const int *v)
{
    Onnx__AttributeProto *a = ex_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *d = ex_alloc(c, sizeof *d * (size_t)k);
    if (!a || !d) return;
    for (int i = 0; i < k; i++) d[i] = v[i];
    a->n_ints = (size_t)k, a->ints = d;
}

/* An initializer `name` of type `dtype` and shape dims[ndim] with raw little-endian bytes (copied). */
static const char *ex_init(ex_ctx *c, const char *name, int dtype, int ndim, const int64_t *dims, const void *data,
                           size_t bytes)
{
    Onnx__TensorProto *t = ex_alloc(c, sizeof *t);
    int64_t *d = ex_alloc(c, sizeof *d * (size_t)(ndim ? ndim : 1));
    uint8_t *raw = ex_alloc(c, bytes);
    if (!t || !d || !raw) return NULL;
    Onnx__TensorProto z = ONNX__TENSOR_PROTO__INIT;
    *t = z;
    memcpy(d, dims, sizeof *d * (size_t)ndim);
    if (bytes) memcpy(raw, data, bytes);
    t->n_dims = (size_t)ndim, t->dims = d;
    t->has_data_type = 1, t->data_type = dtype;
    t->name = (char *)name;
    t->has_raw_data = 1, t->raw_data.data = raw, t->raw_data.len = bytes;
    if (ex_push(c, (void ***)&c->inits, &c->n_inits, &c->cap_inits, t)) return NULL;
    return name;
}

/* 1-D int64 constant "<layer>.__<what>" */
static const char *ex_const_i64(ex_ctx *c, const mt_layer *L, const char *what, int k, const int64_t *v)
{
    int64_t dims[1] = {k};
    char *name = ex_str(c, "%s.__%s", L->name, what);
    return name ? ex_init(c, name, T_INT64, 1, dims, v, sizeof *v * (size_t)k) : NULL;
}

/* float constant of shape dims[ndim] (ndim 0: a scalar) */
static const char *ex_const_f32(ex_ctx *c, const mt_layer *L, const char *what, int ndim, const int64_t *dims,
                                const float *v, size_t count)
{
    char *name = ex_str(c, "%s.__%s", L->name, what);
    return name ? ex_init(c, name, T_FLOAT, ndim, dims, v, sizeof *v * count) : NULL;
}

/* The state entry `k` of layer L as an initializer named as in the state_dict (added once). */
static const char *ex_state(ex_ctx *c, const mt_layer *L, int k)
{
    int idx = L->state[k];
    mt_state_entry *e = &c->m->state[idx];
    if (c->state_used[idx]) return e->name;
    size_t n = mt_numel(e->t), bytes = n * sizeof(float);
    float *host = malloc(bytes ? bytes : 1);
    if (!host) {
        c->oom = 1;
        return NULL;
    }
    const char *name = NULL;
    mt_status s = mt_tensor_to_host(e->t, host, bytes);
    if (s == MT_OK) {
        int64_t dims[MT_MAX_DIMS];
        for (int i = 0; i < e->ndim; i++) dims[i] = e->shape[i];
        name = ex_init(c, e->name, T_FLOAT, e->ndim, dims, host, bytes);
    } else if (c->err == MT_OK) {
        c->err = s;
    }
    free(host);
    if (name) c->state_used[idx] = 1;
    return name;
}

/* --------------------------------------------------------- the layers --- */

static const mt_tensor *in_t(const ex_ctx *c, const mt_layer *L, int k) { return c->vals[L->in[k]]; }
static const char *in_n(const ex_ctx *c, const mt_layer *L, int k) { return c->vname[L->in[k]]; }

/* Emits the activation act on value `x` into `out`. */
static mt_status ex_activation(ex_ctx *c, const mt_layer *L, int act, double slope, const char *x, const char *out)
{
    const char *in[2] = {x, NULL};
    Onnx__NodeProto *n = NULL;
    switch (act) {
    case MT_ACT_RELU: n = ex_node(c, "Relu", out, 1, in, 1, &out); break;
    case MT_ACT_LEAKY_RELU:
        n = ex_node(c, "LeakyRelu", out, 1, in, 1, &out);
        attr_f(c, n, "alpha", slope);
        break;
    case MT_ACT_SIGMOID: n = ex_node(c, "Sigmoid", out, 1, in, 1, &out); break;
    case MT_ACT_TANH: n = ex_node(c, "Tanh", out, 1, in, 1, &out); break;
    case MT_ACT_SILU: { /* SiLU(x) = x * Sigmoid(x) */
        const char *s = ex_str(c, "%s.__sigmoid", out);
        if (!s) break;
        n = ex_node(c, "Sigmoid", s, 1, in, 1, &s);
        in[1] = s;
        if (n) n = ex_node(c, "Mul", out, 2, in, 1, &out);
        break;
    }
    default: return mt_layer_error(L, "activation", "activation %d cannot be exported", act);
    }
    (void)n;
    return ex_status(c);
}

/* Output name of L's port p; the main op writes to a temporary first when an activation follows. */
static const char *ex_pre(ex_ctx *c, const mt_layer *L, int act)
{
    return act == MT_ACT_NONE ? c->vname[L->out] : ex_str(c, "%s.__preact", L->name);
}

static mt_status ex_conv(ex_ctx *c, const mt_layer *L, int transposed)
{
    mt_conv_layer_attr a;
    MT_TRY(mt_layer_get_conv_attr(L, !transposed, &a));
    const mt_tensor *x = in_t(c, L, 0);
    int pad[4], opad[2] = {0, 0};
    if (transposed) {
        MT_TRY(mt_layer_get_ints(L, "output_padding", 2, 0, opad));
        memcpy(pad, a.pad, sizeof pad);
    } else {
        mt_layer_resolve_padding(a.pad_mode, a.pad, x->shape[2], x->shape[3], a.k[0], a.k[1], a.stride[0], a.stride[1],
                                 a.dil[0], a.dil[1], pad);
    }
    const char *in[3] = {in_n(c, L, 0), ex_state(c, L, 0), a.bias ? ex_state(c, L, 1) : NULL};
    const char *out = ex_pre(c, L, a.act);
    Onnx__NodeProto *n = ex_node(c, transposed ? "ConvTranspose" : "Conv", L->name, a.bias ? 3 : 2, in, 1, &out);
    int pads[4] = {pad[0], pad[2], pad[1], pad[3]}; /* ONNX: [top, left, bottom, right] */
    attr_ints(c, n, "kernel_shape", 2, a.k);
    attr_ints(c, n, "strides", 2, a.stride);
    attr_ints(c, n, "pads", 4, pads);
    attr_ints(c, n, "dilations", 2, a.dil);
    attr_i(c, n, "group", a.groups);
    if (transposed) attr_ints(c, n, "output_padding", 2, opad);
    MT_TRY(ex_status(c));
    return a.act == MT_ACT_NONE ? MT_OK : ex_activation(c, L, a.act, a.slope, out, c->vname[L->out]);
}

static mt_status ex_batch_norm(ex_ctx *c, const mt_layer *L)
{
    double eps, slope;
    int affine, scale, act;
    MT_TRY(mt_layer_get_double(L, "eps", 1e-5, &eps));
    MT_TRY(mt_layer_get_bool(L, "affine", 1, &affine));
    MT_TRY(mt_layer_get_bool(L, "scale", 1, &scale));
    MT_TRY(mt_layer_get_enum(L, "activation", MT_ACT_NAMES, 0, &act));
    MT_TRY(mt_layer_get_double(L, "negative_slope", 0.01, &slope));
    int k = affine ? (scale ? 2 : 1) : 0, ch = L->cin[0];
    float *ones = ex_alloc(c, sizeof(float) * (size_t)ch), *zeros = ex_alloc(c, sizeof(float) * (size_t)ch);
    if (!ones || !zeros) return ex_status(c);
    for (int i = 0; i < ch; i++) ones[i] = 1.0f;
    int64_t dims[1] = {ch};
    const char *gamma = k == 2 ? ex_state(c, L, 0) : ex_const_f32(c, L, "ones", 1, dims, ones, (size_t)ch);
    const char *beta = k >= 1 ? ex_state(c, L, k - 1) : ex_const_f32(c, L, "zeros", 1, dims, zeros, (size_t)ch);
    const char *in[5] = {in_n(c, L, 0), gamma, beta, ex_state(c, L, k), ex_state(c, L, k + 1)};
    const char *out = ex_pre(c, L, act);
    Onnx__NodeProto *n = ex_node(c, "BatchNormalization", L->name, 5, in, 1, &out);
    attr_f(c, n, "epsilon", eps);
    MT_TRY(ex_status(c));
    return act == MT_ACT_NONE ? MT_OK : ex_activation(c, L, act, slope, out, c->vname[L->out]);
}

/* [1, C, 1, ...] of the input's rank */
static const char *ex_channel_shape(ex_ctx *c, const mt_layer *L, int rank, int ch)
{
    int64_t s[MT_MAX_DIMS];
    for (int i = 0; i < rank; i++) s[i] = i == 1 ? ch : 1;
    return ex_const_i64(c, L, "channel_shape", rank, s);
}

static mt_status ex_normalization(ex_ctx *c, const mt_layer *L)
{
    const mt_tensor *x = in_t(c, L, 0);
    int ch = L->cin[0];
    const char *shape = ex_channel_shape(c, L, x->ndim, ch);
    float eps = 1e-7f;
    const char *floor_ = ex_const_f32(c, L, "min_std", 0, NULL, &eps, 1);
    const char *mean = ex_state(c, L, 0), *var = ex_state(c, L, 1);
    const char *m4 = ex_str(c, "%s.__mean", L->name), *sd = ex_str(c, "%s.__std", L->name),
               *sd2 = ex_str(c, "%s.__std_floor", L->name), *sd4 = ex_str(c, "%s.__std_c", L->name),
               *cen = ex_str(c, "%s.__centred", L->name);
    const char *a[2];
    a[0] = mean, a[1] = shape;
    ex_node(c, "Reshape", m4, 2, a, 1, &m4);
    ex_node(c, "Sqrt", sd, 1, &var, 1, &sd);
    a[0] = sd, a[1] = floor_;
    ex_node(c, "Max", sd2, 2, a, 1, &sd2); /* Keras: max(sqrt(variance), 1e-7) */
    a[0] = sd2, a[1] = shape;
    ex_node(c, "Reshape", sd4, 2, a, 1, &sd4);
    a[0] = in_n(c, L, 0), a[1] = m4;
    ex_node(c, "Sub", cen, 2, a, 1, &cen);
    a[0] = cen, a[1] = sd4;
    ex_node(c, "Div", L->name, 2, a, 1, &c->vname[L->out]);
    return ex_status(c);
}

static mt_status ex_linear(ex_ctx *c, const mt_layer *L)
{
    int bias, act;
    double slope;
    MT_TRY(mt_layer_get_bool(L, "bias", 1, &bias));
    MT_TRY(mt_layer_get_enum(L, "activation", MT_ACT_NAMES, 0, &act));
    MT_TRY(mt_layer_get_double(L, "negative_slope", 0.01, &slope));
    if (in_t(c, L, 0)->ndim != 2) return mt_layer_error(L, NULL, "Gemm needs a [N, F] input (flatten first)");
    const char *in[3] = {in_n(c, L, 0), ex_state(c, L, 0), bias ? ex_state(c, L, 1) : NULL};
    const char *out = ex_pre(c, L, act);
    Onnx__NodeProto *n = ex_node(c, "Gemm", L->name, bias ? 3 : 2, in, 1, &out);
    attr_i(c, n, "transB", 1);
    MT_TRY(ex_status(c));
    return act == MT_ACT_NONE ? MT_OK : ex_activation(c, L, act, slope, out, c->vname[L->out]);
}

typedef struct pool_attrs {
    int k[2], stride[2], pad[4], ceil_mode, count_include_pad;
} pool_attrs;

/* max_pool2d / avg_pool2d attributes (their setup's keys and defaults), padding resolved for input h x w */
static mt_status ex_pool_attrs(const mt_layer *L, int h, int w, pool_attrs *p)
{
    int mode, pad[4];
    MT_TRY(mt_layer_get_ints(L, "kernel", 2, 2, p->k));
    MT_TRY(mt_layer_get_ints(L, "stride", 2, 0, p->stride));
    if (!mt_layer_has(L, "stride")) p->stride[0] = p->k[0], p->stride[1] = p->k[1];
    MT_TRY(mt_layer_get_padding(L, "padding", 0, &mode, pad));
    mt_layer_resolve_padding(mode, pad, h, w, p->k[0], p->k[1], p->stride[0], p->stride[1], 1, 1, p->pad);
    MT_TRY(mt_layer_get_bool(L, "ceil_mode", 0, &p->ceil_mode));
    return mt_layer_get_bool(L, "count_include_pad", 1, &p->count_include_pad);
}

static void ex_pool_node_attrs(ex_ctx *c, Onnx__NodeProto *n, const pool_attrs *p)
{
    int pads[4] = {p->pad[0], p->pad[2], p->pad[1], p->pad[3]};
    attr_ints(c, n, "kernel_shape", 2, p->k);
    attr_ints(c, n, "strides", 2, p->stride);
    attr_ints(c, n, "pads", 4, pads);
}

static mt_status ex_pool(ex_ctx *c, const mt_layer *L, int is_max)
{
    const mt_tensor *x = in_t(c, L, 0);
    pool_attrs p;
    MT_TRY(ex_pool_attrs(L, x->shape[2], x->shape[3], &p));
    const char *in = in_n(c, L, 0), *out[2] = {c->vname[L->out], is_max ? c->vname[L->out + 1] : NULL};
    Onnx__NodeProto *n = ex_node(c, is_max ? "MaxPool" : "AveragePool", L->name, 1, &in, is_max ? 2 : 1, out);
    ex_pool_node_attrs(c, n, &p);
    attr_i(c, n, "ceil_mode", p.ceil_mode);
    if (!is_max) attr_i(c, n, "count_include_pad", p.count_include_pad);
    return ex_status(c);
}

static mt_status ex_unpool(ex_ctx *c, const mt_layer *L)
{
    int port;
    const mt_layer *pool = mt_value_layer(c->m, L->in[1], &port);
    const mt_tensor *before = in_t(c, L, 2);
    pool_attrs p;
    if (!pool) return mt_layer_error(L, "indices", "no max_pool2d found");
    MT_TRY(ex_pool_attrs(pool, before->shape[2], before->shape[3], &p));
    const char *shape = ex_str(c, "%s.__output_shape", L->name);
    const char *sin = in_n(c, L, 2);
    ex_node(c, "Shape", shape, 1, &sin, 1, &shape); /* the pool input's shape (any batch) */
    /* ceil_mode pools (DeconvNet: 75 -> 38): the size MaxUnpool infers from kernel, strides and
       pads, (in - 1) * stride + k - pads, may exceed output_shape, which ONNX Runtime rejects; the
       pads only enter that inference (the indices are absolute), so the excess goes to the end pads */
    const mt_tensor *x = in_t(c, L, 0);
    for (int d = 0; d < 2; d++) {
        int inferred = (x->shape[2 + d] - 1) * p.stride[d] + p.k[d] - p.pad[2 * d] - p.pad[2 * d + 1];
        if (inferred > before->shape[2 + d]) p.pad[2 * d + 1] += inferred - before->shape[2 + d];
    }
    const char *in[3] = {in_n(c, L, 0), in_n(c, L, 1), shape};
    Onnx__NodeProto *n = ex_node(c, "MaxUnpool", L->name, 3, in, 1, &c->vname[L->out]);
    ex_pool_node_attrs(c, n, &p);
    return ex_status(c);
}

static mt_status ex_upsample(ex_ctx *c, const mt_layer *L)
{
    int scale[2], size[2], mode, align;
    MT_TRY(mt_layer_get_ints(L, "scale", 2, 2, scale));
    MT_TRY(mt_layer_get_ints(L, "size", 2, 0, size));
    MT_TRY(mt_layer_get_enum(L, "mode", "nearest|bilinear", 0, &mode));
    MT_TRY(mt_layer_get_bool(L, "align_corners", 0, &align));
    const mt_tensor *x = in_t(c, L, 0);
    if (x->ndim != 4) return mt_layer_error(L, NULL, "Resize export expects [N, C, H, W]");
    const char *in[4] = {in_n(c, L, 0), "", "", ""};
    if (size[0] > 0) { /* sizes = concat(shape(x)[0:2], [h, w]) */
        int64_t zero = 0, two = 2, hw[2] = {size[0], size[1]};
        const char *sh = ex_str(c, "%s.__in_shape", L->name), *nc = ex_str(c, "%s.__nc", L->name),
                   *sz = ex_str(c, "%s.__sizes", L->name);
        const char *a[5] = {in_n(c, L, 0)};
        ex_node(c, "Shape", sh, 1, a, 1, &sh);
        a[0] = sh, a[1] = ex_const_i64(c, L, "start", 1, &zero), a[2] = ex_const_i64(c, L, "end", 1, &two);
        ex_node(c, "Slice", nc, 3, a, 1, &nc);
        a[0] = nc, a[1] = ex_const_i64(c, L, "hw", 2, hw);
        Onnx__NodeProto *cat = ex_node(c, "Concat", sz, 2, a, 1, &sz);
        attr_i(c, cat, "axis", 0);
        in[3] = sz;
    } else {
        float sc[4] = {1, 1, (float)scale[0], (float)scale[1]};
        int64_t d[1] = {4};
        in[2] = ex_const_f32(c, L, "scales", 1, d, sc, 4);
    }
    Onnx__NodeProto *n = ex_node(c, "Resize", L->name, size[0] > 0 ? 4 : 3, in, 1, &c->vname[L->out]);
    if (mode == 0) {
        attr_s(c, n, "mode", "nearest");
        attr_s(c, n, "coordinate_transformation_mode", "asymmetric");
        attr_s(c, n, "nearest_mode", "floor");
    } else {
        attr_s(c, n, "mode", "linear");
        attr_s(c, n, "coordinate_transformation_mode", align ? "align_corners" : "pytorch_half_pixel");
    }
    return ex_status(c);
}

/* Add / Mul over the `from:` inputs, left to right */
static mt_status ex_chain(ex_ctx *c, const mt_layer *L, const char *op)
{
    const char *acc = in_n(c, L, 0);
    for (int k = 1; k < L->n_from; k++) {
        const char *out = k == L->n_from - 1 ? c->vname[L->out] : ex_str(c, "%s.__%d", L->name, k);
        const char *a[2] = {acc, in_n(c, L, k)};
        ex_node(c, op, k == L->n_from - 1 ? L->name : out, 2, a, 1, &out);
        acc = out;
    }
    return ex_status(c);
}

static mt_status ex_scale(ex_ctx *c, const mt_layer *L)
{
    double factor, offset;
    MT_TRY(mt_layer_get_double(L, "factor", 1.0, &factor));
    MT_TRY(mt_layer_get_double(L, "offset", 0.0, &offset));
    float f = (float)factor, o = (float)offset;
    const char *x = in_n(c, L, 0);
    if (offset == 0) {
        const char *a[2] = {x, ex_const_f32(c, L, "factor", 0, NULL, &f, 1)};
        ex_node(c, "Mul", L->name, 2, a, 1, &c->vname[L->out]);
        return ex_status(c);
    }
    if (factor != 1) {
        const char *t = ex_str(c, "%s.__scaled", L->name);
        const char *a[2] = {x, ex_const_f32(c, L, "factor", 0, NULL, &f, 1)};
        ex_node(c, "Mul", t, 2, a, 1, &t);
        x = t;
    }
    const char *a[2] = {x, ex_const_f32(c, L, "offset", 0, NULL, &o, 1)};
    ex_node(c, "Add", L->name, 2, a, 1, &c->vname[L->out]);
    return ex_status(c);
}

static mt_status ex_crop(ex_ctx *c, const mt_layer *L)
{
    const mt_tensor *x = in_t(c, L, 0), *y = c->vals[L->out];
    int top, left;
    if (mt_layer_has(L, "like")) {
        top = (x->shape[2] - y->shape[2]) / 2, left = (x->shape[3] - y->shape[3]) / 2;
    } else {
        int mg[4];
        if (mt_layer_get_str(L, "margin")) {
            MT_TRY(mt_layer_get_int(L, "margin", 0, &mg[0]));
            mg[2] = mg[0];
        } else {
            MT_TRY(mt_layer_get_ints(L, "margin", 4, -1, mg));
        }
        top = mg[0], left = mg[2];
    }
    if (y->shape[2] == x->shape[2] && y->shape[3] == x->shape[3]) {
        c->vname[L->out] = in_n(c, L, 0); /* a crop to the same size passes the input on */
        return MT_OK;
    }
    int64_t st[2] = {top, left}, en[2] = {top + y->shape[2], left + y->shape[3]}, ax[2] = {2, 3};
    const char *a[4] = {in_n(c, L, 0), ex_const_i64(c, L, "starts", 2, st), ex_const_i64(c, L, "ends", 2, en),
                        ex_const_i64(c, L, "axes", 2, ax)};
    ex_node(c, "Slice", L->name, 4, a, 1, &c->vname[L->out]);
    return ex_status(c);
}

static mt_status ex_pad(ex_ctx *c, const mt_layer *L)
{
    int pmode, pad[4], k[2] = {1, 1}, stride[2] = {1, 1}, mode, p[4];
    double value;
    const mt_tensor *x = in_t(c, L, 0);
    MT_TRY(mt_layer_get_padding(L, "padding", 1, &pmode, pad));
    if (pmode == 1) {
        MT_TRY(mt_layer_get_ints(L, "kernel", 2, -1, k));
        MT_TRY(mt_layer_get_ints(L, "stride", 2, 1, stride));
    }
    MT_TRY(mt_layer_get_enum(L, "mode", "constant|reflect|replicate", 0, &mode));
    MT_TRY(mt_layer_get_double(L, "value", 0, &value));
    int r = x->ndim;
    mt_layer_resolve_padding(pmode, pad, x->shape[r - 2], x->shape[r - 1], k[0], k[1], stride[0], stride[1], 1, 1, p);
    int64_t pads[2 * MT_MAX_DIMS] = {0};
    pads[r - 2] = p[0], pads[r - 1] = p[2], pads[2 * r - 2] = p[1], pads[2 * r - 1] = p[3];
    float v = (float)value;
    const char *a[3] = {in_n(c, L, 0), ex_const_i64(c, L, "pads", 2 * r, pads),
                        ex_const_f32(c, L, "value", 0, NULL, &v, 1)};
    static const char *modes[3] = {"constant", "reflect", "edge"};
    Onnx__NodeProto *n = ex_node(c, "Pad", L->name, mode == 0 ? 3 : 2, a, 1, &c->vname[L->out]);
    attr_s(c, n, "mode", modes[mode]);
    return ex_status(c);
}

/* Reshape to the traced output shape: a dimension that changes with the batch
 * becomes 0 (copy the input's batch) at position 0, else -1 (inferred). */
static mt_status ex_reshape(ex_ctx *c, const mt_layer *L)
{
    const mt_tensor *x = in_t(c, L, 0), *y = c->vals[L->out], *y2 = c->vals2[L->out];
    int64_t s[MT_MAX_DIMS];
    int varying = 0;
    for (int i = 0; i < y->ndim; i++) {
        s[i] = y->shape[i];
        if (y->shape[i] == y2->shape[i]) continue;
        varying++;
        s[i] = i == 0 && x->shape[0] == y->shape[0] && c->vals2[L->in[0]]->shape[0] == y2->shape[0] ? 0 : -1;
    }
    if (varying > 1)
        return mt_layer_error(L, NULL, "%d output dimensions depend on the batch: cannot export a batch-free Reshape", varying);
    const char *a[2] = {in_n(c, L, 0), ex_const_i64(c, L, "shape", y->ndim, s)};
    ex_node(c, "Reshape", L->name, 2, a, 1, &c->vname[L->out]);
    return ex_status(c);
}

/* a list attribute of up to MT_MAX_DIMS ints */
static mt_status ex_list(const mt_layer *L, const char *key, int *n, int *v)
{
    const mt_yaml_node *node = mt_yaml_map_get(L->spec, key);
    long x;
    if (!node || node->kind != MT_YAML_SEQ || node->n > MT_MAX_DIMS) return mt_layer_error(L, key, "expected a list");
    for (int i = 0; i < node->n; i++) {
        if (!mt_yaml_as_int(node->child[i], &x)) return mt_layer_error(L, key, "entry %d is not an integer", i);
        v[i] = (int)x;
    }
    *n = node->n;
    return MT_OK;
}

static mt_status ex_permute(ex_ctx *c, const mt_layer *L)
{
    int n, dims[MT_MAX_DIMS];
    MT_TRY(ex_list(L, "dims", &n, dims));
    const char *in = in_n(c, L, 0);
    Onnx__NodeProto *node = ex_node(c, "Transpose", L->name, 1, &in, 1, &c->vname[L->out]);
    attr_ints(c, node, "perm", n, dims);
    return ex_status(c);
}

static mt_status ex_split(ex_ctx *c, const mt_layer *L)
{
    int n, sizes[MT_MAX_DIMS], dim;
    MT_TRY(ex_list(L, "sizes", &n, sizes));
    MT_TRY(mt_layer_get_int(L, "dim", 1, &dim));
    int64_t s[MT_MAX_DIMS];
    for (int i = 0; i < n; i++) s[i] = sizes[i];
    const char *a[2] = {in_n(c, L, 0), ex_const_i64(c, L, "split", n, s)};
    Onnx__NodeProto *node = ex_node(c, "Split", L->name, 2, a, n, &c->vname[L->out]);
    attr_i(c, node, "axis", dim);
    return ex_status(c);
}

static mt_status ex_layer(ex_ctx *c, const mt_layer *L)
{
    const char *t = L->kind->type;
    const char *x = in_n(c, L, 0);
    if (!strcmp(t, "conv2d")) return ex_conv(c, L, 0);
    if (!strcmp(t, "conv_transpose2d")) return ex_conv(c, L, 1);
    if (!strcmp(t, "batch_norm2d")) return ex_batch_norm(c, L);
    if (!strcmp(t, "normalization")) return ex_normalization(c, L);
    if (!strcmp(t, "linear")) return ex_linear(c, L);
    if (!strcmp(t, "relu")) return ex_activation(c, L, MT_ACT_RELU, 0, x, c->vname[L->out]);
    if (!strcmp(t, "sigmoid")) return ex_activation(c, L, MT_ACT_SIGMOID, 0, x, c->vname[L->out]);
    if (!strcmp(t, "tanh")) return ex_activation(c, L, MT_ACT_TANH, 0, x, c->vname[L->out]);
    if (!strcmp(t, "silu")) return ex_activation(c, L, MT_ACT_SILU, 0, x, c->vname[L->out]);
    if (!strcmp(t, "leaky_relu")) {
        double slope;
        MT_TRY(mt_layer_get_double(L, "negative_slope", 0.01, &slope));
        return ex_activation(c, L, MT_ACT_LEAKY_RELU, slope, x, c->vname[L->out]);
    }
    if (!strcmp(t, "softmax")) {
        int dim;
        MT_TRY(mt_layer_get_int(L, "dim", 1, &dim));
        Onnx__NodeProto *n = ex_node(c, "Softmax", L->name, 1, &x, 1, &c->vname[L->out]);
        attr_i(c, n, "axis", dim);
        return ex_status(c);
    }
    if (!strcmp(t, "max_pool2d")) return ex_pool(c, L, 1);
    if (!strcmp(t, "avg_pool2d")) return ex_pool(c, L, 0);
    if (!strcmp(t, "max_unpool2d")) return ex_unpool(c, L);
    if (!strcmp(t, "global_avg_pool2d")) {
        ex_node(c, "GlobalAveragePool", L->name, 1, &x, 1, &c->vname[L->out]);
        return ex_status(c);
    }
    if (!strcmp(t, "upsample")) return ex_upsample(c, L);
    if (!strcmp(t, "concat")) {
        const char *in[MT_LAYER_MAX_IN];
        for (int k = 0; k < L->n_from; k++) in[k] = in_n(c, L, k);
        Onnx__NodeProto *n = ex_node(c, "Concat", L->name, L->n_from, in, 1, &c->vname[L->out]);
        attr_i(c, n, "axis", 1);
        return ex_status(c);
    }
    if (!strcmp(t, "add")) return ex_chain(c, L, "Add");
    if (!strcmp(t, "mul")) return ex_chain(c, L, "Mul");
    if (!strcmp(t, "scale")) return ex_scale(c, L);
    if (!strcmp(t, "identity") || !strcmp(t, "dropout") || !strcmp(t, "drop_path")) {
        c->vname[L->out] = x; /* evaluation: passes its input on */
        return MT_OK;
    }
    if (!strcmp(t, "crop")) return ex_crop(c, L);
    if (!strcmp(t, "pad")) return ex_pad(c, L);
    if (!strcmp(t, "flatten")) {
        Onnx__NodeProto *n = ex_node(c, "Flatten", L->name, 1, &x, 1, &c->vname[L->out]);
        attr_i(c, n, "axis", 1);
        return ex_status(c);
    }
    if (!strcmp(t, "reshape") || !strcmp(t, "unflatten")) return ex_reshape(c, L);
    if (!strcmp(t, "permute")) return ex_permute(c, L);
    if (!strcmp(t, "split")) return ex_split(c, L);
    return mt_layer_error(L, NULL, "layer kind '%s' cannot be exported to ONNX", t);
}

/* ---------------------------------------------------------- the model --- */

/* ValueInfo of a float/int64 tensor: dims that differ between the two traces are symbolic "N". */
static Onnx__ValueInfoProto *ex_value_info(ex_ctx *c, const char *name, const mt_tensor *t, const mt_tensor *t2)
{
    Onnx__ValueInfoProto *vi = ex_alloc(c, sizeof *vi);
    Onnx__TypeProto *tp = ex_alloc(c, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = ex_alloc(c, sizeof *tt);
    Onnx__TensorShapeProto *sh = ex_alloc(c, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dims = ex_alloc(c, sizeof *dims * (size_t)(t->ndim ? t->ndim : 1));
    if (!vi || !tp || !tt || !sh || !dims) return NULL;
    Onnx__ValueInfoProto z1 = ONNX__VALUE_INFO_PROTO__INIT;
    Onnx__TypeProto z2 = ONNX__TYPE_PROTO__INIT;
    Onnx__TypeProto__Tensor z3 = ONNX__TYPE_PROTO__TENSOR__INIT;
    Onnx__TensorShapeProto z4 = ONNX__TENSOR_SHAPE_PROTO__INIT;
    *vi = z1, *tp = z2, *tt = z3, *sh = z4;
    for (int i = 0; i < t->ndim; i++) {
        Onnx__TensorShapeProto__Dimension *d = ex_alloc(c, sizeof *d);
        if (!d) return NULL;
        Onnx__TensorShapeProto__Dimension z5 = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
        *d = z5;
        if (t2 && t2->shape[i] != t->shape[i]) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = i == 0 ? "N" : ex_str(c, "%s_dim%d", name, i);
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = t->shape[i];
        }
        dims[i] = d;
    }
    sh->n_dim = (size_t)t->ndim, sh->dim = dims;
    tt->has_elem_type = 1, tt->elem_type = t->dtype == MT_I32 ? T_INT64 : T_FLOAT;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, tp->tensor_type = tt;
    vi->name = (char *)name, vi->type = tp;
    return vi;
}

static Onnx__StringStringEntryProto *ex_kv(ex_ctx *c, const char *k, const char *v)
{
    Onnx__StringStringEntryProto *e = ex_alloc(c, sizeof *e);
    if (!e) return NULL;
    Onnx__StringStringEntryProto z = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
    *e = z;
    e->key = (char *)k, e->value = (char *)(v ? v : "");
    return e;
}

/* bytes to path via a temporary file in the same directory, fsync, rename */
static mt_status ex_write_atomic(const char *path, const uint8_t *data, size_t len)
{
    size_t pl = strlen(path) + 16;
    char *tmp = malloc(pl);
    if (!tmp) return MT_ERR(MT_ERR_NOMEM, "ONNX export: out of memory");
    snprintf(tmp, pl, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd >= 0) (void)mt_file_default_mode(fd); /* best effort: else the file keeps mkstemp's 0600 */
    if (fd < 0) {
        mt_status s = MT_ERR(MT_ERR_IO, "ONNX export: cannot create a temporary file next to '%s': %s", path, strerror(errno));
        free(tmp);
        return s;
    }
    mt_status s = MT_OK;
    size_t off = 0;
    while (s == MT_OK && off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) s = MT_ERR(MT_ERR_IO, "ONNX export: writing '%s' failed: %s", tmp, strerror(errno));
        else off += (size_t)w;
    }
    if (s == MT_OK && fsync(fd) != 0) s = MT_ERR(MT_ERR_IO, "ONNX export: fsync of '%s' failed: %s", tmp, strerror(errno));
    if (close(fd) != 0 && s == MT_OK) s = MT_ERR(MT_ERR_IO, "ONNX export: closing '%s' failed: %s", tmp, strerror(errno));
    if (s == MT_OK && rename(tmp, path) != 0)
        s = MT_ERR(MT_ERR_IO, "ONNX export: cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    if (s != MT_OK) unlink(tmp);
    free(tmp);
    return s;
}

static mt_status ex_build(ex_ctx *c, const mt_export_options *o, const char *path)
{
    mt_model *m = c->m;
    int h = o->in_h, w = o->in_w;
    if (h <= 0 || w <= 0) mt_model_nominal_size(m, &h, &w);
    if (h <= 0 || w <= 0)
        return MT_ERR(MT_ERR_INVALID, "%s: the graph gives no input size: give the export input size (--input C,H,W)", m->file);
    int shape[4] = {c->batch, m->in_channels, h, w};
    MT_TRY(mt_model_trace(m, 4, shape, c->vals));
    shape[0] = c->batch + 1;
    MT_TRY(mt_model_trace(m, 4, shape, c->vals2));
    c->vname[0] = "input";
    for (int i = 0; i < m->n_layers; i++) { /* value names: the layer, "layer.port" for ports */
        const mt_layer *L = &m->layers[i];
        for (int p = 0; p < L->n_out; p++) {
            if (p == 0) c->vname[L->out] = L->name;
            else if (!strcmp(L->kind->type, "split")) c->vname[L->out + p] = ex_str(c, "%s.%d", L->name, p);
            else {
                const char *ports = L->kind->ports, *s = ports;
                for (int q = 1; q < p && s; q++) s = strchr(s, '|') ? strchr(s, '|') + 1 : NULL;
                size_t len = s ? strcspn(s, "|") : 0;
                c->vname[L->out + p] = len ? ex_str(c, "%s.%.*s", L->name, (int)len, s) : ex_str(c, "%s.%d", L->name, p);
            }
        }
        if (!strcmp(L->kind->type, "split")) c->vname[L->out] = ex_str(c, "%s.0", L->name);
    }
    MT_TRY(ex_status(c));
    for (int i = 0; i < m->n_layers; i++) {
        MT_TRY(ex_layer(c, &m->layers[i]));
        MT_TRY(ex_status(c));
    }
    /* outputs: named as the model's outputs (an Identity where the value has another name) */
    Onnx__ValueInfoProto **outs = ex_alloc(c, sizeof *outs * (size_t)m->n_outputs);
    Onnx__ValueInfoProto **ins = ex_alloc(c, sizeof *ins);
    if (!outs || !ins) return ex_status(c);
    for (int i = 0; i < m->n_outputs; i++) {
        int v = m->outputs[i];
        const char *name = m->output_names[i];
        if (strcmp(c->vname[v], name)) ex_node(c, "Identity", name, 1, &c->vname[v], 1, &name);
        outs[i] = ex_value_info(c, name, c->vals[v], o->dynamic_batch ? c->vals2[v] : NULL);
    }
    ins[0] = ex_value_info(c, "input", c->vals[0], o->dynamic_batch ? c->vals2[0] : NULL);
    MT_TRY(ex_status(c));

    Onnx__GraphProto *g = ex_alloc(c, sizeof *g);
    Onnx__ModelProto *mp = ex_alloc(c, sizeof *mp);
    Onnx__OperatorSetIdProto *os = ex_alloc(c, sizeof *os);
    Onnx__OperatorSetIdProto **oss = ex_alloc(c, sizeof *oss);
    int n_meta = 2 + (o->n_meta > 0 ? o->n_meta : 0);
    Onnx__StringStringEntryProto **meta = ex_alloc(c, sizeof *meta * (size_t)n_meta);
    if (!g || !mp || !os || !oss || !meta) return ex_status(c);
    Onnx__GraphProto zg = ONNX__GRAPH_PROTO__INIT;
    Onnx__ModelProto zm = ONNX__MODEL_PROTO__INIT;
    Onnx__OperatorSetIdProto zo = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    *g = zg, *mp = zm, *os = zo;
    g->name = (char *)(m->name && m->name[0] ? m->name : "medtrain");
    g->n_node = c->n_nodes, g->node = c->nodes;
    g->n_initializer = c->n_inits, g->initializer = c->inits;
    g->n_input = 1, g->input = ins;
    g->n_output = (size_t)m->n_outputs, g->output = outs;
    os->domain = "", os->has_version = 1, os->version = c->opset;
    oss[0] = os;
    meta[0] = ex_kv(c, "medtrain.graph_name", mt_model_name(m));
    meta[1] = ex_kv(c, "medtrain.graph_file", m->file);
    for (int i = 2; i < n_meta; i++) meta[i] = ex_kv(c, o->meta_keys[i - 2], o->meta_values[i - 2]);
    MT_TRY(ex_status(c));
    mp->has_ir_version = 1, mp->ir_version = c->opset >= 14 ? 8 : 7;
    mp->n_opset_import = 1, mp->opset_import = oss;
    mp->producer_name = "medtrain";
    mp->producer_version = (char *)(o->producer_version ? o->producer_version : "");
    mp->graph = g;
    mp->n_metadata_props = (size_t)n_meta, mp->metadata_props = meta;

    size_t len = onnx__model_proto__get_packed_size(mp);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return MT_ERR(MT_ERR_NOMEM, "ONNX export: cannot allocate %zu bytes", len);
    size_t packed = onnx__model_proto__pack(mp, buf);
    mt_status s = packed == len ? ex_write_atomic(path, buf, len)
                                : MT_ERR(MT_ERR_INVALID, "ONNX export: packed %zu bytes, expected %zu", packed, len);
    free(buf);
    return s;
}

mt_status mt_export_onnx(mt_model *m, const char *path, const mt_export_options *opts)
{
    mt_export_options def;
    memset(&def, 0, sizeof def);
    const mt_export_options *o = opts ? opts : &def;
    if (!m || !path) return MT_ERR(MT_ERR_INVALID, "mt_export_onnx: model and path are required");
    int opset = o->opset ? o->opset : MT_ONNX_DEFAULT_OPSET;
    if (opset < MT_ONNX_DEFAULT_OPSET || opset > MT_ONNX_MAX_OPSET)
        return MT_ERR(MT_ERR_INVALID, "ONNX export: opset %d is not supported (%d to %d)", opset, MT_ONNX_DEFAULT_OPSET,
                      MT_ONNX_MAX_OPSET);
    if (o->batch < 0) return MT_ERR(MT_ERR_INVALID, "ONNX export: batch %d must be >= 1", o->batch);
    if (o->n_meta > 0 && (!o->meta_keys || !o->meta_values))
        return MT_ERR(MT_ERR_INVALID, "ONNX export: %d metadata entries without keys/values", o->n_meta);
    ex_ctx c;
    memset(&c, 0, sizeof c);
    c.m = m, c.opset = opset, c.dynamic = o->dynamic_batch, c.batch = o->batch ? o->batch : 1;
    c.vals = calloc((size_t)m->n_values, sizeof *c.vals);
    c.vals2 = calloc((size_t)m->n_values, sizeof *c.vals2);
    c.vname = calloc((size_t)m->n_values, sizeof *c.vname);
    c.state_used = calloc((size_t)m->n_state + 1, 1);
    mt_status s = c.vals && c.vals2 && c.vname && c.state_used ? ex_build(&c, o, path)
                                                               : MT_ERR(MT_ERR_NOMEM, "ONNX export: out of memory");
    for (int v = 0; c.vals && v < m->n_values; v++) mt_tensor_release(c.vals[v]);
    for (int v = 0; c.vals2 && v < m->n_values; v++) mt_tensor_release(c.vals2[v]);
    for (size_t i = 0; i < c.n_blocks; i++) free(c.blocks[i]);
    free(c.blocks);
    free(c.nodes);
    free(c.inits);
    free(c.vals);
    free(c.vals2);
    free(c.vname);
    free(c.state_used);
    return s;
}
