/* layers/graph.c: builds an mt_model from a YAML model graph (layers/model.h,
 * docs/models.md): params with overrides, expansion of `repeat:` blocks and
 * ${...} expressions, `when:` conditions, `from:` references, per-kind setup,
 * one allocation for all parameters and one for all buffers (views into them
 * in state_dict order), and initialisation from a counter-based stream.
 *
 * Graph file:
 *   params: {in_channels: 1, base: 64, ...}   # defaults; overridable
 *   input: {channels: ${in_channels}}
 *   layers:                                   # in order; each output is named
 *     - {name: enc1a, type: conv2d, out: ${base}, kernel: 3, padding: same, activation: relu}
 *     - repeat: {var: i, from: 1, to: ${depth}}   # inclusive; descending when from > to
 *       layers: [...]
 *   output: score                             # default: the last layer
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/device.h"
#include "expr.h"
#include "init.h"
#include "layer.h"

/* ------------------------------------------------------------- kinds --- */

extern const mt_layer_kind mt_layer_conv2d, mt_layer_conv_transpose2d, mt_layer_batch_norm2d, mt_layer_linear,
    mt_layer_relu, mt_layer_leaky_relu, mt_layer_sigmoid, mt_layer_tanh, mt_layer_silu, mt_layer_max_pool2d,
    mt_layer_max_unpool2d, mt_layer_avg_pool2d, mt_layer_global_avg_pool2d, mt_layer_dropout, mt_layer_upsample,
    mt_layer_concat, mt_layer_add, mt_layer_crop, mt_layer_pad, mt_layer_flatten;

static const mt_layer_kind *const g_kinds[] = {
    &mt_layer_conv2d, &mt_layer_conv_transpose2d, &mt_layer_batch_norm2d, &mt_layer_linear, &mt_layer_relu,
    &mt_layer_leaky_relu, &mt_layer_sigmoid, &mt_layer_tanh, &mt_layer_silu, &mt_layer_max_pool2d,
    &mt_layer_max_unpool2d, &mt_layer_avg_pool2d, &mt_layer_global_avg_pool2d, &mt_layer_dropout,
    &mt_layer_upsample, &mt_layer_concat, &mt_layer_add, &mt_layer_crop, &mt_layer_pad, &mt_layer_flatten,
};
#define N_KINDS ((int)(sizeof g_kinds / sizeof *g_kinds))

/* ------------------------------------------------ layers and state --- */

static int value_of_name(const mt_model *m, int upto, const char *name)
{
    if (!strcmp(name, "input")) return 0;
    for (int i = upto - 1; i >= 0; i--)
        if (!strcmp(m->layers[i].name, name)) return i + 1;
    return -1;
}

mt_status mt_layer_lookup(const mt_model *m, const mt_layer *L, const char *key, int *value)
{
    const char *name = mt_layer_get_str(L, key);
    if (!name) return mt_layer_error(L, NULL, "missing attribute '%s' (a layer name)", key);
    *value = value_of_name(m, L->index, name);
    if (*value < 0) return mt_layer_error(L, key, "no earlier layer named '%s'", name);
    return MT_OK;
}

mt_status mt_layer_declare(mt_model *m, mt_layer *L, const char *suffix, int ndim, const int *shape, int is_param)
{
    if (L->n_state == MT_LAYER_MAX_STATE) return mt_layer_error(L, NULL, "too many state tensors");
    if (m->n_state == m->cap_state) {
        int cap = m->cap_state ? m->cap_state * 2 : 64;
        mt_state_entry *s = mt_realloc(m->state, sizeof *s * (size_t)cap);
        if (!s) return MT_ERR_NOMEM;
        m->state = s;
        m->cap_state = cap;
    }
    mt_state_entry *e = &m->state[m->n_state];
    memset(e, 0, sizeof *e);
    size_t len = strlen(L->name) + strlen(suffix) + 2;
    e->name = mt_malloc(len);
    if (!e->name) return MT_ERR_NOMEM;
    snprintf(e->name, len, "%s.%s", L->name, suffix);
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) {
            free(e->name);
            return mt_layer_error(L, NULL, "%s would have size %d in dimension %d", suffix, shape[i], i);
        }
        e->shape[i] = shape[i];
    }
    e->is_param = is_param;
    e->layer = L->index;
    L->state[L->n_state++] = m->n_state++;
    return MT_OK;
}

mt_tensor *mt_layer_state(mt_model *m, const mt_layer *L, int k) { return m->state[L->state[k]].t; }

/* ------------------------------------------------------ expansion --- */

typedef struct env_t {
    mt_expr_var *v;
    int n, cap;
} env_t;

static mt_status env_push(env_t *e, const char *name, const mt_expr_value *val)
{
    if (e->n == e->cap) {
        int cap = e->cap ? e->cap * 2 : 16;
        mt_expr_var *nv = mt_realloc(e->v, sizeof *nv * (size_t)cap);
        if (!nv) return MT_ERR_NOMEM;
        e->v = nv;
        e->cap = cap;
    }
    e->v[e->n].name = name;
    e->v[e->n].value = *val;
    e->n++;
    return MT_OK;
}

/* Substitutes ${...} in a scalar; returns a malloc'ed string. */
static mt_status substitute(const mt_yaml_node *n, const env_t *env, char **out, int *is_num)
{
    const char *s = n->value;
    size_t cap = strlen(s) + 64, len = 0;
    char *buf = mt_malloc(cap);
    if (!buf) return MT_ERR_NOMEM;
    *is_num = 0;
    int whole = !strncmp(s, "${", 2) && strchr(s, '}') == s + strlen(s) - 1;
    mt_expr_env xe = {env->n, env->v};
    while (*s) {
        if (s[0] == '$' && s[1] == '{') {
            const char *end = strchr(s + 2, '}');
            char w[600];
            if (!end) {
                free(buf);
                return MT_ERR(MT_ERR_INVALID, "%s: unterminated '${' in '%s'", mt_yaml_where(n, w, sizeof w), n->value);
            }
            char expr[512], err[512], val[300];
            snprintf(expr, sizeof expr, "%.*s", (int)(end - s - 2), s + 2);
            mt_expr_value v;
            if (mt_expr_eval(expr, &xe, &v, err, sizeof err)) {
                free(buf);
                return MT_ERR(MT_ERR_INVALID, "%s: in '${%s}': %s", mt_yaml_where(n, w, sizeof w), expr, err);
            }
            mt_expr_format(&v, val, sizeof val);
            if (whole) *is_num = !v.is_str;
            size_t vl = strlen(val);
            if (len + vl + 1 > cap) {
                cap = (len + vl + 1) * 2;
                char *nb = mt_realloc(buf, cap);
                if (!nb) {
                    free(buf);
                    return MT_ERR_NOMEM;
                }
                buf = nb;
            }
            memcpy(buf + len, val, vl);
            len += vl;
            s = end + 1;
            continue;
        }
        if (len + 2 > cap) {
            cap *= 2;
            char *nb = mt_realloc(buf, cap);
            if (!nb) {
                free(buf);
                return MT_ERR_NOMEM;
            }
            buf = nb;
        }
        buf[len++] = *s++;
    }
    buf[len] = '\0';
    *out = buf;
    return MT_OK;
}

/* Deep copy of n with every scalar substituted. */
static mt_status expand_node(const mt_yaml_node *n, const env_t *env, mt_yaml_node **out)
{
    mt_yaml_node *c = mt_yaml_clone(n);
    if (!c) return MT_ERR_NOMEM;
    if (c->kind == MT_YAML_SCALAR) {
        if (strstr(c->value, "${")) {
            char *v;
            int is_num;
            mt_status s = substitute(n, env, &v, &is_num);
            if (s != MT_OK) {
                mt_yaml_free(c);
                return s;
            }
            free(c->value);
            c->value = v;
            c->quoted = 0;
        }
        *out = c;
        return MT_OK;
    }
    for (int i = 0; i < c->n; i++) {
        mt_yaml_node *e;
        mt_status s = expand_node(n->child[i], env, &e);
        if (s != MT_OK) {
            mt_yaml_free(c);
            return s;
        }
        free(e->key);
        e->key = c->child[i]->key;
        c->child[i]->key = NULL;
        mt_yaml_free(c->child[i]);
        c->child[i] = e;
    }
    *out = c;
    return MT_OK;
}

/* Value of a node: a scalar with ${...} is substituted; a bare scalar
 * (when:, repeat bounds) is evaluated as an expression itself. */
static mt_status eval_node(const mt_yaml_node *n, const env_t *env, mt_expr_value *v)
{
    if (n->kind == MT_YAML_SCALAR && !strstr(n->value, "${")) {
        char err[512], w[600];
        mt_expr_env xe = {env->n, env->v};
        if (mt_expr_eval(n->value, &xe, v, err, sizeof err))
            return MT_ERR(MT_ERR_INVALID, "%s: in '%s': %s", mt_yaml_where(n, w, sizeof w), n->value, err);
        return MT_OK;
    }
    mt_yaml_node *e;
    MT_TRY(expand_node(n, env, &e));
    if (e->kind != MT_YAML_SCALAR) {
        char w[600];
        mt_yaml_free(e);
        return MT_ERR(MT_ERR_INVALID, "%s: expected a single value", mt_yaml_where(n, w, sizeof w));
    }
    mt_expr_from_text(e->value, v);
    mt_yaml_free(e);
    return MT_OK;
}

typedef struct spec_list {
    mt_yaml_node **v;
    int n, cap;
} spec_list;

static mt_status expand_layers(const mt_yaml_node *seq, env_t *env, spec_list *out, int depth)
{
    char w[600];
    if (seq->kind != MT_YAML_SEQ)
        return MT_ERR(MT_ERR_INVALID, "%s: 'layers' must be a list", mt_yaml_where(seq, w, sizeof w));
    if (depth > 16) return MT_ERR(MT_ERR_INVALID, "%s: repeat blocks nested too deeply", mt_yaml_where(seq, w, sizeof w));
    for (int i = 0; i < seq->n; i++) {
        const mt_yaml_node *item = seq->child[i];
        if (item->kind != MT_YAML_MAP)
            return MT_ERR(MT_ERR_INVALID, "%s: each layer must be a map (name:, type:, ...)", mt_yaml_where(item, w, sizeof w));
        const mt_yaml_node *when = mt_yaml_map_get(item, "when");
        if (when) {
            mt_expr_value v;
            MT_TRY(eval_node(when, env, &v));
            if (v.is_str ? !v.str[0] || !strcmp(v.str, "false") : v.num == 0) continue;
        }
        const mt_yaml_node *rep = mt_yaml_map_get(item, "repeat");
        if (!rep) {
            mt_yaml_node *e;
            MT_TRY(expand_node(item, env, &e));
            if (out->n == out->cap) {
                int cap = out->cap ? out->cap * 2 : 64;
                mt_yaml_node **nv = mt_realloc(out->v, sizeof *nv * (size_t)cap);
                if (!nv) {
                    mt_yaml_free(e);
                    return MT_ERR_NOMEM;
                }
                out->v = nv;
                out->cap = cap;
            }
            out->v[out->n++] = e;
            continue;
        }
        const mt_yaml_node *var = mt_yaml_map_get(rep, "var"), *from = mt_yaml_map_get(rep, "from"),
                           *to = mt_yaml_map_get(rep, "to"), *body = mt_yaml_map_get(item, "layers");
        if (rep->kind != MT_YAML_MAP || !var || var->kind != MT_YAML_SCALAR || !from || !to || !body)
            return MT_ERR(MT_ERR_INVALID, "%s: a repeat block needs repeat: {var: i, from: A, to: B} and layers: [...]",
                          mt_yaml_where(item, w, sizeof w));
        mt_expr_value a, b;
        MT_TRY(eval_node(from, env, &a));
        MT_TRY(eval_node(to, env, &b));
        if (a.is_str || b.is_str)
            return MT_ERR(MT_ERR_INVALID, "%s: repeat bounds must be numbers", mt_yaml_where(rep, w, sizeof w));
        int lo = (int)a.num, hi = (int)b.num, step = lo <= hi ? 1 : -1;
        for (int k = lo;; k += step) {
            mt_expr_value kv = {0, k, ""};
            MT_TRY(env_push(env, var->value, &kv));
            mt_status s = expand_layers(body, env, out, depth + 1);
            env->n--;
            MT_TRY(s);
            if (k == hi) break;
        }
    }
    return MT_OK;
}

/* ------------------------------------------------------------ build --- */

static const char *g_common_keys = "name|type|from|when";

static int key_allowed(const char *list, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = list; *p;) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == kl && !strncmp(p, key, l)) return 1;
        p += l + (bar ? 1 : 0);
    }
    return 0;
}

static mt_status check_keys(const mt_layer *L)
{
    for (int i = 0; i < L->spec->n; i++) {
        const char *k = L->spec->child[i]->key;
        if (key_allowed(g_common_keys, k) || key_allowed(L->kind->attrs, k)) continue;
        char w[600], near[64] = "";
        int best = INT_MAX;
        const char *lists[2] = {g_common_keys, L->kind->attrs};
        for (int j = 0; j < 2; j++)
            for (const char *p = lists[j]; *p;) {
                const char *bar = strchr(p, '|');
                size_t l = bar ? (size_t)(bar - p) : strlen(p);
                char cand[64];
                snprintf(cand, sizeof cand, "%.*s", (int)l, p);
                int d = mt_edit_distance(k, cand);
                if (d < best) best = d, snprintf(near, sizeof near, "%s", cand);
                p += l + (bar ? 1 : 0);
            }
        return MT_ERR(MT_ERR_INVALID, "%s: unknown attribute '%s' of %s layer '%s'; allowed: %s|%s; did you mean '%s'?",
                      mt_yaml_key_where(L->spec->child[i], w, sizeof w), k, L->kind->type, L->name, g_common_keys,
                      L->kind->attrs, near);
    }
    return MT_OK;
}

static mt_status setup_layer(mt_model *m, mt_layer *L, mt_yaml_node *spec, int index)
{
    char w[600];
    L->spec = spec;
    L->index = index;
    L->ref = -1;
    const mt_yaml_node *nm = mt_yaml_map_get(spec, "name"), *ty = mt_yaml_map_get(spec, "type");
    if (!nm || nm->kind != MT_YAML_SCALAR || !nm->value[0])
        return MT_ERR(MT_ERR_INVALID, "%s: layer without a name", mt_yaml_where(spec, w, sizeof w));
    for (const char *c = nm->value; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_')
            return MT_ERR(MT_ERR_INVALID, "%s: layer name '%s' may only use letters, digits and '_'",
                          mt_yaml_where(nm, w, sizeof w), nm->value);
    if (!(L->name = mt_strdup(nm->value))) return MT_ERR_NOMEM;
    if (!strcmp(L->name, "input") || value_of_name(m, index, L->name) >= 0)
        return MT_ERR(MT_ERR_INVALID, "%s: duplicate layer name '%s'", mt_yaml_where(nm, w, sizeof w), L->name);
    if (!ty || ty->kind != MT_YAML_SCALAR)
        return MT_ERR(MT_ERR_INVALID, "%s: layer '%s' has no type", mt_yaml_where(spec, w, sizeof w), L->name);
    int best = INT_MAX;
    const char *near = "";
    for (int k = 0; k < N_KINDS; k++) {
        if (!strcmp(g_kinds[k]->type, ty->value)) L->kind = g_kinds[k];
        int d = mt_edit_distance(ty->value, g_kinds[k]->type);
        if (d < best) best = d, near = g_kinds[k]->type;
    }
    if (!L->kind) {
        char list[1024];
        size_t u = 0;
        for (int k = 0; k < N_KINDS; k++) u += (size_t)snprintf(list + u, sizeof list - u, "%s%s", k ? ", " : "", g_kinds[k]->type);
        return MT_ERR(MT_ERR_INVALID, "%s: unknown layer type '%s' of layer '%s'; known: %s; did you mean '%s'?",
                      mt_yaml_where(ty, w, sizeof w), ty->value, L->name, list, near);
    }
    MT_TRY(check_keys(L));
    /* inputs */
    const mt_yaml_node *from = mt_yaml_map_get(spec, "from");
    if (!from) {
        L->n_in = 1;
        L->in[0] = index; /* the previous layer's output (or the input for the first) */
    } else {
        int n = from->kind == MT_YAML_SEQ ? from->n : 1;
        if (n > MT_LAYER_MAX_IN) return mt_layer_error(L, "from", "at most %d inputs", MT_LAYER_MAX_IN);
        for (int k = 0; k < n; k++) {
            const mt_yaml_node *f = from->kind == MT_YAML_SEQ ? from->child[k] : from;
            if (f->kind != MT_YAML_SCALAR) return mt_layer_error(L, "from", "expected layer names");
            int v = value_of_name(m, index, f->value);
            if (v < 0) {
                int bd = INT_MAX;
                const char *nr = "input";
                for (int j = 0; j < index; j++) {
                    int d = mt_edit_distance(f->value, m->layers[j].name);
                    if (d < bd) bd = d, nr = m->layers[j].name;
                }
                return MT_ERR(MT_ERR_INVALID, "%s: layer '%s' reads '%s', which is not an earlier layer; did you mean '%s'?",
                              mt_yaml_where(f, w, sizeof w), L->name, f->value, nr);
            }
            L->in[k] = v;
        }
        L->n_in = n;
    }
    if (L->n_in < L->kind->min_in || L->n_in > L->kind->max_in)
        return mt_layer_error(L, "from", "%s takes %d to %d inputs, got %d", L->kind->type, L->kind->min_in,
                              L->kind->max_in, L->n_in);
    for (int k = 0; k < L->n_in; k++) {
        int v = L->in[k];
        L->cin[k] = v == 0 ? m->in_channels : m->layers[v - 1].cout;
    }
    L->cout = L->cin[0];
    return L->kind->setup(m, L);
}

static mt_tensor *make_view(mt_tensor *block, size_t offset, int ndim, const int *shape)
{
    mt_tensor *t = mt_tensor_alias(block);
    if (!t) return NULL;
    t->ndim = ndim;
    for (int i = 0; i < MT_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 0;
    t->offset = block->offset + offset * mt_dtype_size(block->dtype);
    return t;
}

static mt_status allocate_state(mt_model *m)
{
    size_t np = 0, nb = 0;
    for (int i = 0; i < m->n_state; i++) {
        mt_state_entry *e = &m->state[i];
        size_t n = mt_shape_numel(e->ndim, e->shape);
        e->offset = e->is_param ? np : nb;
        if (e->is_param) np += n, m->n_params++;
        else nb += n;
    }
    int s1 = (int)(np ? np : 1), s2 = (int)(nb ? nb : 1);
    if (np > INT_MAX || nb > INT_MAX) return MT_ERR(MT_ERR_INVALID, "model too large for one allocation");
    m->param_block = mt_tensor_zeros(MT_REAL, m->dev, 1, &s1);
    m->buffer_block = mt_tensor_zeros(MT_REAL, m->dev, 1, &s2);
    int one_shape[1] = {1};
    m->one = mt_tensor_new(MT_REAL, m->dev, 1, one_shape);
    m->params = mt_calloc((size_t)(m->n_params ? m->n_params : 1), sizeof *m->params);
    if (!m->param_block || !m->buffer_block || !m->one || !m->params) return mt_last_status() ? mt_last_status() : MT_ERR_NOMEM;
    MT_TRY(mt_tensor_fill(m->one, 1.0));
    int k = 0;
    for (int i = 0; i < m->n_state; i++) {
        mt_state_entry *e = &m->state[i];
        e->t = make_view(e->is_param ? m->param_block : m->buffer_block, e->offset, e->ndim, e->shape);
        if (!e->t || !(e->t->name = mt_strdup(e->name))) return MT_ERR_NOMEM;
        if (e->is_param) {
            mt_requires_grad(e->t, 1);
            m->params[k++] = e->t;
        }
    }
    return MT_OK;
}

/* params: defaults from the file, overridden by args (unknown args are errors) */
static mt_status build_env(const mt_yaml_node *root, int n_args, const mt_model_arg *args, env_t *env, const char *path)
{
    const mt_yaml_node *params = mt_yaml_map_get(root, "params");
    char w[600];
    if (params && params->kind != MT_YAML_MAP)
        return MT_ERR(MT_ERR_INVALID, "%s: 'params' must be a map of name: value", mt_yaml_where(params, w, sizeof w));
    for (int i = 0; params && i < params->n; i++) {
        const mt_yaml_node *p = params->child[i];
        if (p->kind != MT_YAML_SCALAR)
            return MT_ERR(MT_ERR_INVALID, "%s: parameter '%s' must be a single value", mt_yaml_where(p, w, sizeof w), p->key);
        mt_expr_value v;
        mt_expr_from_text(p->value, &v);
        MT_TRY(env_push(env, p->key, &v));
    }
    for (int a = 0; a < n_args; a++) {
        int found = 0, best = INT_MAX;
        const char *near = "";
        for (int i = 0; i < env->n; i++) {
            if (!strcmp(env->v[i].name, args[a].key)) {
                mt_expr_from_text(args[a].value, &env->v[i].value);
                found = 1;
            }
            int d = mt_edit_distance(args[a].key, env->v[i].name);
            if (d < best) best = d, near = env->v[i].name;
        }
        if (!found) {
            char list[1024];
            size_t u = 0;
            for (int i = 0; i < env->n && u + 40 < sizeof list; i++)
                u += (size_t)snprintf(list + u, sizeof list - u, "%s%s", i ? ", " : "", env->v[i].name);
            return MT_ERR(MT_ERR_INVALID, "%s: unknown model parameter '%s'; allowed: %s; did you mean '%s'?", path,
                          args[a].key, list, near);
        }
    }
    return MT_OK;
}

static mt_status check_top_keys(const mt_yaml_node *root)
{
    static const char *allowed = "name|params|input|layers|output|description";
    for (int i = 0; i < root->n; i++) {
        if (key_allowed(allowed, root->child[i]->key)) continue;
        char w[600];
        return MT_ERR(MT_ERR_INVALID, "%s: unknown key '%s' in a model graph; allowed: %s",
                      mt_yaml_key_where(root->child[i], w, sizeof w), root->child[i]->key, allowed);
    }
    return MT_OK;
}

static mt_status build(mt_model *m, const mt_yaml_node *root, int n_args, const mt_model_arg *args, uint64_t seed)
{
    char w[600];
    env_t env = {0};
    spec_list specs = {0};
    mt_status s = check_top_keys(root);
    if (s == MT_OK) s = build_env(root, n_args, args, &env, m->file);
    const mt_yaml_node *input = mt_yaml_map_get(root, "input"), *layers = mt_yaml_map_get(root, "layers");
    if (s == MT_OK && (!input || !mt_yaml_map_get(input, "channels")))
        s = MT_ERR(MT_ERR_INVALID, "%s:1:1: model graph needs input: {channels: N}", m->file);
    if (s == MT_OK && !layers) s = MT_ERR(MT_ERR_INVALID, "%s:1:1: model graph needs a 'layers' list", m->file);
    if (s == MT_OK) {
        mt_expr_value v;
        s = eval_node(mt_yaml_map_get(input, "channels"), &env, &v);
        if (s == MT_OK && (v.is_str || v.num < 1))
            s = MT_ERR(MT_ERR_INVALID, "%s: input channels must be a positive number",
                       mt_yaml_where(mt_yaml_map_get(input, "channels"), w, sizeof w));
        m->in_channels = (int)v.num;
    }
    if (s == MT_OK) s = expand_layers(layers, &env, &specs, 0);
    if (s == MT_OK && specs.n == 0) s = MT_ERR(MT_ERR_INVALID, "%s: the graph has no layers", m->file);
    if (s == MT_OK && !(m->layers = mt_calloc((size_t)specs.n, sizeof *m->layers))) s = MT_ERR_NOMEM;
    int taken = 0;
    for (int i = 0; s == MT_OK && i < specs.n; i++) {
        m->n_layers = i + 1;
        s = setup_layer(m, &m->layers[i], specs.v[i], i);
        taken = i + 1;
    }
    for (int i = taken; i < specs.n; i++) mt_yaml_free(specs.v[i]);
    if (s != MT_OK && taken > 0 && !m->layers[taken - 1].spec) mt_yaml_free(specs.v[taken - 1]);
    free(specs.v);
    m->output = m->n_layers;
    const mt_yaml_node *outn = mt_yaml_map_get(root, "output");
    if (s == MT_OK && outn) {
        mt_yaml_node *e = NULL;
        s = expand_node(outn, &env, &e);
        if (s == MT_OK) {
            m->output = value_of_name(m, m->n_layers, e->value);
            if (m->output < 1) s = MT_ERR(MT_ERR_INVALID, "%s: output '%s' is not a layer", mt_yaml_where(outn, w, sizeof w), e->value);
        }
        mt_yaml_free(e);
    }
    free(env.v);
    if (s != MT_OK) return s;
    /* last use of each value (for freeing activations early in inference) */
    m->last_use = mt_calloc((size_t)m->n_layers + 1, sizeof *m->last_use);
    m->aux = mt_calloc((size_t)m->n_layers + 1, sizeof *m->aux);
    if (!m->last_use || !m->aux) return MT_ERR_NOMEM;
    for (int i = 0; i < m->n_layers; i++) {
        for (int k = 0; k < m->layers[i].n_in; k++) m->last_use[m->layers[i].in[k]] = i;
        if (m->layers[i].ref >= 0) m->last_use[m->layers[i].ref] = i;
    }
    MT_TRY(allocate_state(m));
    mt_rng rng = {seed, 0};
    for (int i = 0; i < m->n_layers; i++) {
        mt_layer *L = &m->layers[i];
        if (L->kind->init && (s = L->kind->init(m, L, &rng)) != MT_OK) return s;
    }
    m->dropout_rng.seed = mt_rng_derive(seed, 0x64726f70ULL /* "drop" */, 0);
    m->dropout_rng.offset = 0;
    return MT_OK;
}

mt_status mt_model_load_yaml(const char *path, int n_args, const mt_model_arg *args, mt_device dev, uint64_t seed,
                             mt_model **out)
{
    *out = NULL;
    mt_yaml_node *root = NULL;
    MT_TRY(mt_yaml_load_file(path, &root));
    mt_model *m = mt_calloc(1, sizeof *m);
    if (!m || !(m->file = mt_strdup(path))) {
        free(m);
        mt_yaml_free(root);
        return MT_ERR_NOMEM;
    }
    m->dev = dev;
    mt_status s = root->kind == MT_YAML_MAP ? build(m, root, n_args, args, seed)
                                            : MT_ERR(MT_ERR_INVALID, "%s:1:1: a model graph must be a map", path);
    mt_yaml_free(root);
    if (s != MT_OK) {
        mt_model_free(m);
        return s;
    }
    *out = m;
    return MT_OK;
}

void mt_model_free(mt_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_layers; i++) {
        free(m->layers[i].name);
        mt_yaml_free(m->layers[i].spec);
    }
    free(m->layers);
    for (int i = 0; i < m->n_state; i++) {
        free(m->state[i].name);
        mt_tensor_release(m->state[i].t);
    }
    free(m->state);
    free(m->params);
    free(m->last_use);
    free(m->aux);
    mt_tensor_release(m->param_block);
    mt_tensor_release(m->buffer_block);
    mt_tensor_release(m->one);
    free(m->file);
    free(m);
}
