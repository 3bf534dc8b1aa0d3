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
    mt_layer_relu, mt_layer_leaky_relu, mt_layer_sigmoid, mt_layer_tanh, mt_layer_silu, mt_layer_softmax,
    mt_layer_max_pool2d, mt_layer_max_unpool2d, mt_layer_avg_pool2d, mt_layer_global_avg_pool2d, mt_layer_dropout,
    mt_layer_drop_path, mt_layer_upsample, mt_layer_concat, mt_layer_add, mt_layer_mul, mt_layer_scale,
    mt_layer_identity, mt_layer_crop, mt_layer_pad, mt_layer_flatten, mt_layer_reshape, mt_layer_unflatten,
    mt_layer_permute, mt_layer_split, mt_layer_normalization;

static const mt_layer_kind *const g_kinds[] = {
    &mt_layer_conv2d, &mt_layer_conv_transpose2d, &mt_layer_batch_norm2d, &mt_layer_linear, &mt_layer_relu,
    &mt_layer_leaky_relu, &mt_layer_sigmoid, &mt_layer_tanh, &mt_layer_silu, &mt_layer_softmax, &mt_layer_max_pool2d,
    &mt_layer_max_unpool2d, &mt_layer_avg_pool2d, &mt_layer_global_avg_pool2d, &mt_layer_dropout, &mt_layer_drop_path,
    &mt_layer_upsample, &mt_layer_concat, &mt_layer_add, &mt_layer_mul, &mt_layer_scale, &mt_layer_identity,
    &mt_layer_crop, &mt_layer_pad, &mt_layer_flatten, &mt_layer_reshape, &mt_layer_unflatten, &mt_layer_permute,
    &mt_layer_split, &mt_layer_normalization,
};
#define N_KINDS ((int)(sizeof g_kinds / sizeof *g_kinds))

/* ------------------------------------------------ layers and state --- */

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

/* Limits that keep a hostile or mistyped graph from exhausting memory or time. */
#define MT_GRAPH_MAX_LAYERS 200000   /* layers after expanding repeats and blocks */
#define MT_GRAPH_MAX_DEPTH 32        /* nesting of repeat blocks and block instances */

typedef struct env_t {
    mt_expr_var *v;
    int n, cap;
    int n_global; /* the first n_global entries are the graph's params (all a block body sees besides its own) */
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

static mt_status eval_text(const mt_yaml_node *n, const char *expr, const env_t *env, mt_expr_value *v)
{
    char err[512], w[600];
    mt_expr_env xe = {env->n, env->v};
    if (mt_expr_eval(expr, &xe, v, err, sizeof err))
        return MT_ERR(MT_ERR_INVALID, "%s: in '%s': %s", mt_yaml_where(n, w, sizeof w), expr, err);
    return MT_OK;
}

/* 1 if the scalar is exactly one "${...}" */
static int whole_expr(const char *s)
{
    size_t l = strlen(s);
    return l >= 3 && !strncmp(s, "${", 2) && s[l - 1] == '}' && strchr(s + 2, '}') == s + l - 1;
}

/* Substitutes ${...} in a scalar; returns a malloc'ed string. */
static mt_status substitute(const mt_yaml_node *n, const env_t *env, char **out)
{
    const char *s = n->value;
    size_t cap = strlen(s) + 64, len = 0;
    char *buf = mt_malloc(cap), w[600];
    if (!buf) return MT_ERR_NOMEM;
    while (*s) {
        const char *piece = s;
        size_t pl = 1;
        char val[300];
        if (s[0] == '$' && s[1] == '{') {
            const char *end = strchr(s + 2, '}');
            if (!end) {
                free(buf);
                return MT_ERR(MT_ERR_INVALID, "%s: unterminated '${' in '%s'", mt_yaml_where(n, w, sizeof w), n->value);
            }
            char *expr = mt_malloc((size_t)(end - s));
            if (!expr) {
                free(buf);
                return MT_ERR_NOMEM;
            }
            snprintf(expr, (size_t)(end - s - 1), "%s", s + 2);
            mt_expr_value v;
            mt_status st = eval_text(n, expr, env, &v);
            if (st == MT_OK && v.list)
                st = MT_ERR(MT_ERR_INVALID, "%s: '${%s}' is a list; a list can only stand alone as a value, or be indexed",
                            mt_yaml_where(n, w, sizeof w), expr);
            free(expr);
            if (st != MT_OK) {
                free(buf);
                return st;
            }
            mt_expr_format(&v, val, sizeof val);
            piece = val;
            pl = strlen(val);
            s = end + 1;
        } else {
            s++;
        }
        if (len + pl + 1 > cap) {
            cap = (len + pl + 1) * 2;
            char *nb = mt_realloc(buf, cap);
            if (!nb) {
                free(buf);
                return MT_ERR_NOMEM;
            }
            buf = nb;
        }
        memcpy(buf + len, piece, pl);
        len += pl;
    }
    buf[len] = '\0';
    *out = buf;
    return MT_OK;
}

/* Deep copy of n with every scalar substituted; a scalar that is one
 * "${expr}" naming a list becomes that list. */
static mt_status expand_node(const mt_yaml_node *n, const env_t *env, mt_yaml_node **out)
{
    if (n->kind == MT_YAML_SCALAR && whole_expr(n->value)) {
        char *expr = mt_strdup(n->value + 2);
        if (!expr) return MT_ERR_NOMEM;
        expr[strlen(expr) - 1] = '\0';
        mt_expr_value v;
        mt_status st = eval_text(n, expr, env, &v);
        free(expr);
        MT_TRY(st);
        if (v.list) {
            mt_yaml_node *c = mt_yaml_clone(v.list);
            if (!c) return MT_ERR_NOMEM;
            free(c->key);
            c->key = n->key ? mt_strdup(n->key) : NULL;
            *out = c;
            return MT_OK;
        }
    }
    mt_yaml_node *c = mt_yaml_clone(n);
    if (!c) return MT_ERR_NOMEM;
    if (c->kind == MT_YAML_SCALAR) {
        if (strstr(c->value, "${")) {
            char *v;
            mt_status s = substitute(n, env, &v);
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
 * (when:, repeat bounds) is evaluated as an expression itself; a sequence is a list. */
static mt_status eval_node(const mt_yaml_node *n, const env_t *env, mt_expr_value *v)
{
    char w[600];
    if (n->kind == MT_YAML_SEQ) return mt_expr_from_node(n, v), MT_OK;
    if (n->kind == MT_YAML_SCALAR && !strstr(n->value, "${")) return eval_text(n, n->value, env, v);
    if (n->kind == MT_YAML_SCALAR && whole_expr(n->value)) {
        char *expr = mt_strdup(n->value + 2);
        if (!expr) return MT_ERR_NOMEM;
        expr[strlen(expr) - 1] = '\0';
        mt_status st = eval_text(n, expr, env, v);
        free(expr);
        return st;
    }
    if (n->kind != MT_YAML_SCALAR) return MT_ERR(MT_ERR_INVALID, "%s: expected a single value", mt_yaml_where(n, w, sizeof w));
    char *t;
    MT_TRY(substitute(n, env, &t));
    mt_expr_from_text(t, v);
    free(t);
    return MT_OK;
}

/* Value of an attribute-like node (block arguments and param defaults): a
 * plain scalar is taken as written (a number or a string), "${...}" is
 * evaluated, a sequence is a list. */
static mt_status value_node(const mt_yaml_node *n, const env_t *env, mt_expr_value *v)
{
    if (n->kind == MT_YAML_SCALAR && !strstr(n->value, "${")) {
        mt_expr_from_text(n->value, v);
        return MT_OK;
    }
    return eval_node(n, env, v);
}

/* An integer from an expression value, range-checked (no silent wrap). */
static mt_status value_int(const mt_yaml_node *n, const mt_expr_value *v, long lo, long hi, const char *what, int *out)
{
    char w[600];
    if (v->is_str || v->list || v->num != floor(v->num) || v->num < (double)lo || v->num > (double)hi)
        return MT_ERR(MT_ERR_INVALID, "%s: %s must be an integer in [%ld, %ld]", mt_yaml_where(n, w, sizeof w), what, lo, hi);
    *out = (int)v->num;
    return MT_OK;
}

/* The expanded layer specs, in order, and the aliases (block instances) among them. */
typedef struct spec_list {
    mt_yaml_node **v;
    int n, cap;
    char **alias_name, **alias_target;
    int n_alias, cap_alias;
    char *next_from; /* the value the next layer without `from:` reads (a block instance's output), or NULL */
} spec_list;

static void spec_list_free(spec_list *l)
{
    for (int i = 0; i < l->n; i++) mt_yaml_free(l->v[i]);
    for (int i = 0; i < l->n_alias; i++) free(l->alias_name[i]), free(l->alias_target[i]);
    free(l->v);
    free(l->alias_name);
    free(l->alias_target);
    free(l->next_from);
    memset(l, 0, sizeof *l);
}

static mt_status set_scalar(mt_yaml_node *map, const char *key, const char *text)
{
    mt_yaml_node *c = mt_yaml_new_scalar(text, map);
    if (!c) return MT_ERR_NOMEM;
    return mt_yaml_put(map, key, c);
}

static mt_status spec_push(spec_list *out, mt_yaml_node *e)
{
    if (out->n >= MT_GRAPH_MAX_LAYERS) {
        char w[600];
        mt_status s = MT_ERR(MT_ERR_INVALID, "%s: the graph expands to more than %d layers (repeat bounds?)",
                             mt_yaml_where(e, w, sizeof w), MT_GRAPH_MAX_LAYERS);
        mt_yaml_free(e);
        return s;
    }
    if (out->next_from && !mt_yaml_map_get(e, "from")) {
        mt_status s = set_scalar(e, "from", out->next_from);
        if (s != MT_OK) {
            mt_yaml_free(e);
            return s;
        }
    }
    free(out->next_from);
    out->next_from = NULL;
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
    return MT_OK;
}

static mt_status alias_push(spec_list *out, const char *name, const char *target)
{
    if (out->n_alias == out->cap_alias) {
        int cap = out->cap_alias ? out->cap_alias * 2 : 16;
        char **a = mt_realloc(out->alias_name, sizeof *a * (size_t)cap);
        if (!a) return MT_ERR_NOMEM;
        out->alias_name = a;
        char **b = mt_realloc(out->alias_target, sizeof *b * (size_t)cap);
        if (!b) return MT_ERR_NOMEM;
        out->alias_target = b;
        out->cap_alias = cap;
    }
    out->alias_name[out->n_alias] = mt_strdup(name);
    out->alias_target[out->n_alias] = mt_strdup(target);
    if (!out->alias_name[out->n_alias] || !out->alias_target[out->n_alias]) {
        free(out->alias_name[out->n_alias]);
        free(out->alias_target[out->n_alias]);
        return MT_ERR_NOMEM;
    }
    out->n_alias++;
    return MT_OK;
}

/* Keys whose values name other values (rewritten when a block is instantiated). */
static const char *const g_ref_keys[] = {"from", "like", "indices"};

static int names_local(const spec_list *l, int first, int first_alias, const char *name)
{
    for (int i = first; i < l->n; i++) {
        const mt_yaml_node *nm = mt_yaml_map_get(l->v[i], "name");
        if (nm && nm->kind == MT_YAML_SCALAR && !strcmp(nm->value, name)) return 1;
    }
    for (int i = first_alias; i < l->n_alias; i++)
        if (!strcmp(l->alias_name[i], name)) return 1;
    return 0;
}

/* Rewrites one reference inside a block instance: "input" / "inputK" -> the
 * instance's K-th input, a local name (or local "name.port") -> prefix.name;
 * anything else is left as written (a name outside the block). */
static mt_status rewrite_ref(mt_yaml_node *r, const spec_list *l, int first, int first_alias, const char *prefix,
                             const mt_yaml_node *inputs)
{
    char w[600];
    if (r->kind != MT_YAML_SCALAR) return MT_ERR(MT_ERR_INVALID, "%s: expected a layer name", mt_yaml_where(r, w, sizeof w));
    const char *v = r->value;
    char *nv = NULL;
    if (!strncmp(v, "input", 5) && (v[5] == '\0' || isdigit((unsigned char)v[5]))) {
        int k = v[5] ? atoi(v + 5) : 0;
        int n_inputs = !inputs ? 0 : inputs->kind == MT_YAML_SEQ ? inputs->n : 1;
        if (!inputs) return MT_OK; /* the instance reads the previous layer: leave "input" for the first layer only */
        if (k >= n_inputs)
            return MT_ERR(MT_ERR_INVALID, "%s: '%s' but the block instance has %d input(s) in from:", mt_yaml_where(r, w, sizeof w),
                          v, n_inputs);
        const mt_yaml_node *src = inputs->kind == MT_YAML_SEQ ? inputs->child[k] : inputs;
        nv = mt_strdup(src->value);
    } else {
        /* longest local name that is v itself or a prefix of v followed by '.' */
        char *head = mt_strdup(v);
        if (!head) return MT_ERR_NOMEM;
        for (;;) {
            if (names_local(l, first, first_alias, head)) {
                size_t len = strlen(prefix) + strlen(v) + 2;
                nv = mt_malloc(len);
                if (nv) snprintf(nv, len, "%s.%s", prefix, v);
                break;
            }
            char *dot = strrchr(head, '.');
            if (!dot) break;
            *dot = '\0';
        }
        free(head);
        if (!nv) return MT_OK;
    }
    if (!nv) return MT_ERR_NOMEM;
    free(r->value);
    r->value = nv;
    return MT_OK;
}

/* Writes the keys of `map` into list (", " separated) and the one nearest to
 * `key` into *near ("" if none): the "allowed ...; did you mean" of errors. */
static void keys_and_nearest(const mt_yaml_node *map, const char *key, char *list, size_t len, const char **near)
{
    size_t u = 0;
    int best = INT_MAX;
    list[0] = '\0';
    *near = "";
    for (int i = 0; map && i < map->n && u + 64 < len; i++) {
        u += (size_t)snprintf(list + u, len - u, "%s%s", i ? ", " : "", map->child[i]->key);
        int d = mt_edit_distance(key, map->child[i]->key);
        if (d < best) best = d, *near = map->child[i]->key;
    }
}

static mt_status expand_layers(const mt_yaml_node *seq, env_t *env, spec_list *out, int depth, const mt_yaml_node *blocks);

/* Instantiates `block: NAME` (a definition under the graph's top-level
 * `blocks:`): its params get the instance's arguments, its layers are
 * expanded with only the graph params and its own params in scope, and are
 * renamed "<instance>.<layer>"; the instance name stands for the block's
 * output (its `output:` or last layer). */
static mt_status expand_block(const mt_yaml_node *item, env_t *env, spec_list *out, int depth, const mt_yaml_node *blocks)
{
    char w[600];
    const mt_yaml_node *bn = mt_yaml_map_get(item, "block"), *nm = mt_yaml_map_get(item, "name");
    mt_yaml_node *bname = NULL, *iname = NULL, *inputs = NULL;
    MT_TRY(expand_node(bn, env, &bname));
    mt_status s = MT_OK;
    const mt_yaml_node *def = NULL;
    if (bname->kind != MT_YAML_SCALAR) s = MT_ERR(MT_ERR_INVALID, "%s: block: expects a block name", mt_yaml_where(bn, w, sizeof w));
    if (s == MT_OK) def = blocks ? mt_yaml_map_get(blocks, bname->value) : NULL;
    if (s == MT_OK && !def) {
        char list[1024];
        const char *near;
        keys_and_nearest(blocks, bname->value, list, sizeof list, &near);
        s = MT_ERR(MT_ERR_INVALID, "%s: unknown block '%s'; defined under blocks: %s%s%s%s", mt_yaml_where(bn, w, sizeof w),
                   bname->value, list[0] ? list : "(none)", near[0] ? "; did you mean '" : "", near, near[0] ? "'?" : "");
    }
    if (s == MT_OK && (!nm || nm->kind != MT_YAML_SCALAR))
        s = MT_ERR(MT_ERR_INVALID, "%s: a block instance needs a name", mt_yaml_where(item, w, sizeof w));
    if (s == MT_OK) s = expand_node(nm, env, &iname);
    if (s == MT_OK) {
        for (const char *c = iname->value; *c && s == MT_OK; c++)
            if (!isalnum((unsigned char)*c) && *c != '_')
                s = MT_ERR(MT_ERR_INVALID, "%s: block instance name '%s' may only use letters, digits and '_'",
                           mt_yaml_where(nm, w, sizeof w), iname->value);
        if (!iname->value[0]) s = MT_ERR(MT_ERR_INVALID, "%s: empty block instance name", mt_yaml_where(nm, w, sizeof w));
    }
    const mt_yaml_node *from = mt_yaml_map_get(item, "from");
    if (s == MT_OK && from) s = expand_node(from, env, &inputs);
    if (s == MT_OK && !inputs && out->next_from) {
        inputs = mt_yaml_new_scalar(out->next_from, item);
        if (!inputs) s = MT_ERR_NOMEM;
    }
    /* after a plain layer: that layer (so that `input` names it in every layer of the body, not only the first) */
    const mt_yaml_node *prev = s == MT_OK && !inputs && out->n > 0 ? mt_yaml_map_get(out->v[out->n - 1], "name") : NULL;
    if (prev && prev->kind == MT_YAML_SCALAR && !(inputs = mt_yaml_new_scalar(prev->value, item))) s = MT_ERR_NOMEM;
    const mt_yaml_node *params = def ? mt_yaml_map_get(def, "params") : NULL, *body = def ? mt_yaml_map_get(def, "layers") : NULL;
    if (s == MT_OK && (def->kind != MT_YAML_MAP || !body))
        s = MT_ERR(MT_ERR_INVALID, "%s: block '%s' needs layers: [...] (and optional params:, output:)",
                   mt_yaml_where(def, w, sizeof w), bname->value);
    for (int i = 0; s == MT_OK && i < def->n; i++) {
        const char *k = def->child[i]->key;
        if (strcmp(k, "params") && strcmp(k, "layers") && strcmp(k, "output") && strcmp(k, "description"))
            s = MT_ERR(MT_ERR_INVALID, "%s: unknown key '%s' in block '%s'; allowed: params|layers|output|description",
                       mt_yaml_key_where(def->child[i], w, sizeof w), k, bname->value);
    }
    /* arguments: every instance key besides name|block|from|when must be a block param */
    for (int i = 0; s == MT_OK && i < item->n; i++) {
        const char *k = item->child[i]->key;
        if (!strcmp(k, "name") || !strcmp(k, "block") || !strcmp(k, "from") || !strcmp(k, "when")) continue;
        if (params && mt_yaml_map_get(params, k)) continue;
        char list[1024];
        const char *near;
        keys_and_nearest(params, k, list, sizeof list, &near);
        s = MT_ERR(MT_ERR_INVALID, "%s: block '%s' has no parameter '%s'; its params: %s%s%s%s",
                   mt_yaml_key_where(item->child[i], w, sizeof w), bname->value, k, list[0] ? list : "(none)",
                   near[0] ? "; did you mean '" : "", near, near[0] ? "'?" : "");
    }
    /* the block's scope: graph params, then its params (defaults or arguments, evaluated in the caller's scope) */
    env_t benv = {0};
    for (int i = 0; s == MT_OK && i < env->n_global; i++) s = env_push(&benv, env->v[i].name, &env->v[i].value);
    benv.n_global = benv.n;
    for (int i = 0; s == MT_OK && params && i < params->n; i++) {
        const mt_yaml_node *p = params->child[i], *arg = mt_yaml_map_get(item, p->key);
        mt_expr_value v;
        if (arg) s = value_node(arg, env, &v);
        else if (p->kind == MT_YAML_SCALAR) s = value_node(p, &benv, &v); /* a default may use earlier params */
        else if (mt_expr_from_node(p, &v))
            s = MT_ERR(MT_ERR_INVALID, "%s: block parameter '%s' must be a value or a list", mt_yaml_where(p, w, sizeof w), p->key);
        if (s == MT_OK) s = env_push(&benv, p->key, &v);
    }
    spec_list local = {0};
    if (s == MT_OK && depth > MT_GRAPH_MAX_DEPTH)
        s = MT_ERR(MT_ERR_INVALID, "%s: blocks nested more than %d deep (does block '%s' instantiate itself?)",
                   mt_yaml_where(item, w, sizeof w), MT_GRAPH_MAX_DEPTH, bname->value);
    if (s == MT_OK) s = expand_layers(body, &benv, &local, depth + 1, blocks);
    if (s == MT_OK && local.n == 0) s = MT_ERR(MT_ERR_INVALID, "%s: block '%s' has no layers", mt_yaml_where(item, w, sizeof w), bname->value);
    /* block output: `output:` (a local name) or the last layer */
    char *target = NULL;
    if (s == MT_OK) {
        const mt_yaml_node *on = mt_yaml_map_get(def, "output");
        mt_yaml_node *oe = NULL;
        if (on) s = expand_node(on, &benv, &oe);
        if (s == MT_OK && oe && oe->kind != MT_YAML_SCALAR) s = MT_ERR(MT_ERR_INVALID, "%s: output: expects a layer name", mt_yaml_where(on, w, sizeof w));
        if (s == MT_OK && oe && !names_local(&local, 0, 0, oe->value))
            s = MT_ERR(MT_ERR_INVALID, "%s: block output '%s' is not a layer of the block", mt_yaml_where(on, w, sizeof w), oe->value);
        const mt_yaml_node *last = mt_yaml_map_get(local.v[local.n - 1], "name");
        const char *tn = oe ? oe->value : last ? last->value : "";
        size_t len = strlen(iname->value) + strlen(tn) + 2;
        if (s == MT_OK && !(target = mt_malloc(len))) s = MT_ERR_NOMEM;
        if (s == MT_OK) snprintf(target, len, "%s.%s", iname->value, tn);
        mt_yaml_free(oe);
    }
    /* rewrite the references first (all against the block's own names), then rename the layers */
    for (int i = 0; s == MT_OK && i < local.n; i++) {
        mt_yaml_node *spec = local.v[i];
        for (size_t k = 0; s == MT_OK && k < sizeof g_ref_keys / sizeof *g_ref_keys; k++) {
            mt_yaml_node *r = mt_yaml_map_get(spec, g_ref_keys[k]);
            if (!r) continue;
            if (r->kind == MT_YAML_SEQ)
                for (int j = 0; s == MT_OK && j < r->n; j++) s = rewrite_ref(r->child[j], &local, 0, 0, iname->value, inputs);
            else s = rewrite_ref(r, &local, 0, 0, iname->value, inputs);
        }
        if (s == MT_OK && i == 0 && !mt_yaml_map_get(spec, "from") && inputs) {
            mt_yaml_node *c = mt_yaml_clone(inputs);
            if (!c) s = MT_ERR_NOMEM;
            else s = mt_yaml_put(spec, "from", c);
        }
    }
    for (int i = 0; s == MT_OK && i < local.n; i++) { /* names last: references above saw the local names */
        mt_yaml_node *n = mt_yaml_map_get(local.v[i], "name");
        if (s == MT_OK && n && n->kind == MT_YAML_SCALAR) {
            size_t len = strlen(iname->value) + strlen(n->value) + 2;
            char *nv = mt_malloc(len);
            if (!nv) s = MT_ERR_NOMEM;
            else {
                snprintf(nv, len, "%s.%s", iname->value, n->value);
                free(n->value);
                n->value = nv;
            }
        }
    }
    for (int i = 0; s == MT_OK && i < local.n_alias; i++) {
        size_t l1 = strlen(iname->value) + strlen(local.alias_name[i]) + 2, l2 = strlen(iname->value) + strlen(local.alias_target[i]) + 2;
        char *a = mt_malloc(l1), *b = mt_malloc(l2);
        if (!a || !b) s = MT_ERR_NOMEM;
        else {
            snprintf(a, l1, "%s.%s", iname->value, local.alias_name[i]);
            snprintf(b, l2, "%s.%s", iname->value, local.alias_target[i]);
            s = alias_push(out, a, b);
        }
        free(a);
        free(b);
    }
    if (s == MT_OK) {
        /* the first layer reads the instance's input explicitly; move the layers over */
        char *pending = out->next_from;
        out->next_from = NULL;
        for (int i = 0; s == MT_OK && i < local.n; i++) {
            s = spec_push(out, local.v[i]);
            local.v[i] = NULL;
        }
        free(pending);
        for (int i = 0; i < local.n; i++) mt_yaml_free(local.v[i]);
        local.n = 0;
    }
    if (s == MT_OK) s = alias_push(out, iname->value, target);
    if (s == MT_OK) {
        /* the next layer without from: reads the block's output (it may not be the last layer) */
        out->next_from = target;
        target = NULL;
    }
    free(target);
    spec_list_free(&local);
    free(benv.v);
    mt_yaml_free(bname);
    mt_yaml_free(iname);
    mt_yaml_free(inputs);
    return s;
}

static mt_status expand_layers(const mt_yaml_node *seq, env_t *env, spec_list *out, int depth, const mt_yaml_node *blocks)
{
    char w[600];
    if (seq->kind != MT_YAML_SEQ)
        return MT_ERR(MT_ERR_INVALID, "%s: 'layers' must be a list", mt_yaml_where(seq, w, sizeof w));
    if (depth > MT_GRAPH_MAX_DEPTH)
        return MT_ERR(MT_ERR_INVALID, "%s: repeat blocks nested more than %d deep", mt_yaml_where(seq, w, sizeof w),
                      MT_GRAPH_MAX_DEPTH);
    for (int i = 0; i < seq->n; i++) {
        const mt_yaml_node *item = seq->child[i];
        if (item->kind != MT_YAML_MAP)
            return MT_ERR(MT_ERR_INVALID, "%s: each layer must be a map (name:, type:, ...)", mt_yaml_where(item, w, sizeof w));
        const mt_yaml_node *when = mt_yaml_map_get(item, "when");
        if (when) {
            mt_expr_value v;
            MT_TRY(eval_node(when, env, &v));
            if (v.list ? v.list->n == 0 : v.is_str ? !v.str[0] || !strcmp(v.str, "false") : v.num == 0) continue;
        }
        if (mt_yaml_map_get(item, "block")) {
            MT_TRY(expand_block(item, env, out, depth, blocks));
            continue;
        }
        const mt_yaml_node *rep = mt_yaml_map_get(item, "repeat");
        if (!rep) {
            mt_yaml_node *e;
            MT_TRY(expand_node(item, env, &e));
            mt_yaml_node *wn = mt_yaml_map_get(e, "when");
            if (wn) { /* evaluated above; not an attribute of the layer */
                for (int k = 0; k < e->n; k++)
                    if (e->child[k] == wn) {
                        mt_yaml_free(wn);
                        memmove(&e->child[k], &e->child[k + 1], sizeof *e->child * (size_t)(e->n - k - 1));
                        e->n--;
                        break;
                    }
            }
            MT_TRY(spec_push(out, e));
            continue;
        }
        const mt_yaml_node *var = mt_yaml_map_get(rep, "var"), *from = mt_yaml_map_get(rep, "from"),
                           *to = mt_yaml_map_get(rep, "to"), *body = mt_yaml_map_get(item, "layers");
        if (rep->kind != MT_YAML_MAP || !var || var->kind != MT_YAML_SCALAR || !from || !to || !body)
            return MT_ERR(MT_ERR_INVALID, "%s: a repeat block needs repeat: {var: i, from: A, to: B} and layers: [...]",
                          mt_yaml_where(item, w, sizeof w));
        mt_expr_value a, b;
        int lo, hi;
        MT_TRY(eval_node(from, env, &a));
        MT_TRY(eval_node(to, env, &b));
        MT_TRY(value_int(from, &a, -MT_GRAPH_MAX_LAYERS, MT_GRAPH_MAX_LAYERS, "a repeat bound", &lo));
        MT_TRY(value_int(to, &b, -MT_GRAPH_MAX_LAYERS, MT_GRAPH_MAX_LAYERS, "a repeat bound", &hi));
        int step = lo <= hi ? 1 : -1;
        for (int k = lo;; k += step) {
            mt_expr_value kv = {0, k, "", NULL};
            MT_TRY(env_push(env, var->value, &kv));
            mt_status s = expand_layers(body, env, out, depth + 1, blocks);
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

/* Value of `ref` among the first `upto` layers: "input", a layer, "layer.port",
 * a numbered output "layer.K" or an alias (block instance). -1 if none. */
static int resolve_value(const mt_model *m, const spec_list *specs, int upto, const char *ref, int depth)
{
    if (!strcmp(ref, "input")) return 0;
    for (int i = upto - 1; i >= 0; i--)
        if (!strcmp(m->layers[i].name, ref)) return m->layers[i].out;
    for (int i = 0; specs && i < specs->n_alias && depth < MT_GRAPH_MAX_DEPTH; i++)
        if (!strcmp(specs->alias_name[i], ref)) return resolve_value(m, specs, upto, specs->alias_target[i], depth + 1);
    const char *dot = strrchr(ref, '.');
    if (!dot) return -1;
    size_t hl = (size_t)(dot - ref);
    for (int i = upto - 1; i >= 0; i--) {
        const mt_layer *L = &m->layers[i];
        if (strlen(L->name) != hl || strncmp(L->name, ref, hl)) continue;
        int p = mt_layer_port(L, dot + 1);
        return p < 0 ? -1 : L->out + p;
    }
    return -1;
}

/* Error for an unresolvable reference: nearest name, and the layer's ports if the head is a layer. */
static mt_status ref_error(const mt_model *m, const mt_layer *L, const mt_yaml_node *at, const char *ref)
{
    char w[600];
    const char *dot = strrchr(ref, '.');
    for (int i = L->index - 1; dot && i >= 0; i--) {
        const mt_layer *P = &m->layers[i];
        if (strlen(P->name) == (size_t)(dot - ref) && !strncmp(P->name, ref, (size_t)(dot - ref)))
            return MT_ERR(MT_ERR_INVALID, "%s: layer '%s' reads '%s': %s layer '%s' has no output '%s' (outputs: %s%s%s)",
                          mt_yaml_where(at, w, sizeof w), L->name, ref, P->kind->type, P->name, dot + 1,
                          P->n_out > 1 && !P->kind->ports[0] ? "0.." : "out", P->kind->ports[0] ? ", " : "", P->kind->ports);
    }
    const spec_list *specs = (const spec_list *)m->build_specs;
    for (int i = L->index + 1; specs && i < specs->n; i++) {
        const mt_yaml_node *nm = specs->v[i] ? mt_yaml_map_get(specs->v[i], "name") : NULL;
        if (nm && nm->kind == MT_YAML_SCALAR && !strcmp(nm->value, ref))
            return MT_ERR(MT_ERR_INVALID, "%s: layer '%s' reads '%s', which comes later: a layer may only read earlier "
                          "layers (the graph has no cycles)", mt_yaml_where(at, w, sizeof w), L->name, ref);
    }
    int bd = INT_MAX;
    const char *nr = "input";
    for (int j = 0; j < L->index; j++) {
        int d = mt_edit_distance(ref, m->layers[j].name);
        if (d < bd) bd = d, nr = m->layers[j].name;
    }
    return MT_ERR(MT_ERR_INVALID, "%s: layer '%s' reads '%s', which is not an earlier layer; did you mean '%s'?",
                  mt_yaml_where(at, w, sizeof w), L->name, ref, nr);
}

int mt_layer_port(const mt_layer *L, const char *port)
{
    int p = 1;
    for (const char *q = L->kind->ports; *q; p++) {
        const char *bar = strchr(q, '|');
        size_t l = bar ? (size_t)(bar - q) : strlen(q);
        if (strlen(port) == l && !strncmp(q, port, l)) return p < L->n_out ? p : -1;
        q += l + (bar ? 1 : 0);
    }
    char *end;
    long k = strtol(port, &end, 10); /* split outputs: "layer.0", "layer.1", ... */
    return *end == '\0' && end != port && k >= 0 && k < L->n_out ? (int)k : -1;
}

mt_status mt_layer_read_value(mt_model *m, mt_layer *L, int v, int *slot)
{
    if (L->n_in >= MT_LAYER_MAX_IN) return mt_layer_error(L, NULL, "reads more than %d values", MT_LAYER_MAX_IN);
    L->in[L->n_in] = v;
    int port;
    const mt_layer *P = mt_value_layer(m, v, &port);
    L->cin[L->n_in] = P ? P->cout[port] : m->in_channels;
    if (slot) *slot = L->n_in;
    L->n_in++;
    return MT_OK;
}

const mt_layer *mt_value_layer(const mt_model *m, int v, int *port)
{
    *port = v > 0 ? m->value_port[v] : 0;
    return v > 0 ? &m->layers[m->value_layer[v]] : NULL;
}

static int resolve_for(const mt_model *m, const mt_layer *L, const char *ref);

mt_status mt_layer_ref(mt_model *m, mt_layer *L, const char *key, int *slot)
{
    const mt_yaml_node *n = mt_yaml_map_get(L->spec, key);
    if (!n || n->kind != MT_YAML_SCALAR) return mt_layer_error(L, n ? key : NULL, "needs attribute '%s' naming a layer", key);
    int v = resolve_for(m, L, n->value);
    if (v < 0) return ref_error(m, L, n, n->value);
    return mt_layer_read_value(m, L, v, slot);
}

/* the spec list being built, for alias lookups during setup (build is not re-entrant per model) */
static int resolve_for(const mt_model *m, const mt_layer *L, const char *ref)
{
    return resolve_value(m, (const spec_list *)m->build_specs, L->index, ref, 0);
}

static mt_status setup_layer(mt_model *m, mt_layer *L, mt_yaml_node *spec, int index)
{
    char w[600];
    L->spec = spec;
    L->index = index;
    const mt_yaml_node *nm = mt_yaml_map_get(spec, "name"), *ty = mt_yaml_map_get(spec, "type");
    if (!nm || nm->kind != MT_YAML_SCALAR || !nm->value[0])
        return MT_ERR(MT_ERR_INVALID, "%s: layer without a name", mt_yaml_where(spec, w, sizeof w));
    for (const char *c = nm->value; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.')
            return MT_ERR(MT_ERR_INVALID, "%s: layer name '%s' may only use letters, digits and '_'",
                          mt_yaml_where(nm, w, sizeof w), nm->value);
    if (!(L->name = mt_strdup(nm->value))) return MT_ERR_NOMEM;
    for (int i = 0; i < index; i++)
        if (!strcmp(m->layers[i].name, L->name) || !strcmp(L->name, "input"))
            return MT_ERR(MT_ERR_INVALID, "%s: duplicate layer name '%s'", mt_yaml_where(nm, w, sizeof w), L->name);
    if (!ty || ty->kind != MT_YAML_SCALAR)
        return MT_ERR(MT_ERR_INVALID, "%s: layer '%s' has no type (or block:)", mt_yaml_where(spec, w, sizeof w), L->name);
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
        /* the previous layer's output 0 (or the input for the first) */
        MT_TRY(mt_layer_read_value(m, L, index ? m->layers[index - 1].out : 0, NULL));
    } else {
        int n = from->kind == MT_YAML_SEQ ? from->n : 1;
        if (n > MT_LAYER_MAX_IN) return mt_layer_error(L, "from", "at most %d inputs", MT_LAYER_MAX_IN);
        for (int k = 0; k < n; k++) {
            const mt_yaml_node *f = from->kind == MT_YAML_SEQ ? from->child[k] : from;
            if (f->kind != MT_YAML_SCALAR) return mt_layer_error(L, "from", "expected layer names");
            int v = resolve_for(m, L, f->value);
            if (v < 0) return ref_error(m, L, f, f->value);
            MT_TRY(mt_layer_read_value(m, L, v, NULL));
        }
    }
    L->n_from = L->n_in;
    if (L->n_from < L->kind->min_in || L->n_from > L->kind->max_in)
        return mt_layer_error(L, "from", "%s takes %d to %d inputs, got %d", L->kind->type, L->kind->min_in,
                              L->kind->max_in, L->n_from);
    L->n_out = 1;
    for (const char *p = L->kind->ports; *p; p++)
        if (p == L->kind->ports || *p == '|') L->n_out++;
    for (int p = 0; p < MT_LAYER_MAX_OUT; p++) L->cout[p] = L->cin[0];
    L->out = m->n_values; /* provisional: outputs are numbered after setup (split sets n_out) */
    MT_TRY(L->kind->setup(m, L));
    if (L->n_out < 1 || L->n_out > MT_LAYER_MAX_OUT) return mt_layer_error(L, NULL, "%d outputs (1..%d)", L->n_out, MT_LAYER_MAX_OUT);
    for (int p = 0; p < L->n_out; p++) {
        m->value_layer[m->n_values] = index;
        m->value_port[m->n_values] = p;
        m->n_values++;
    }
    return MT_OK;
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
    if (np > INT_MAX || nb > INT_MAX) return MT_ERR(MT_ERR_INVALID, "%s: model too large for one allocation", m->file);
    /* optional cap (docs/models.md), e.g. for fuzzing or shared machines: refused before any allocation */
    const char *cap = getenv("MEDTRAIN_MAX_PARAMS");
    if (cap && *cap && (double)np > strtod(cap, NULL))
        return MT_ERR(MT_ERR_INVALID, "%s: the graph has %zu parameters, more than MEDTRAIN_MAX_PARAMS=%s allows", m->file,
                      np, cap);
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

/* params: defaults from the file (values or lists), overridden by args (unknown args are errors) */
static mt_status build_env(const mt_yaml_node *root, int n_args, const mt_model_arg *args, env_t *env, const char *path)
{
    const mt_yaml_node *params = mt_yaml_map_get(root, "params");
    char w[600];
    if (params && params->kind != MT_YAML_MAP)
        return MT_ERR(MT_ERR_INVALID, "%s: 'params' must be a map of name: value", mt_yaml_where(params, w, sizeof w));
    for (int i = 0; params && i < params->n; i++) {
        const mt_yaml_node *p = params->child[i];
        mt_expr_value v;
        if (mt_expr_from_node(p, &v))
            return MT_ERR(MT_ERR_INVALID, "%s: parameter '%s' must be a value or a list", mt_yaml_where(p, w, sizeof w), p->key);
        MT_TRY(env_push(env, p->key, &v));
    }
    for (int a = 0; a < n_args; a++) {
        int found = 0, best = INT_MAX;
        const char *near = "";
        for (int i = 0; i < env->n; i++) {
            if (!strcmp(env->v[i].name, args[a].key)) {
                if (env->v[i].value.list)
                    return MT_ERR(MT_ERR_INVALID, "%s: model parameter '%s' is a list; override it in the graph file", path,
                                  args[a].key);
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
    env->n_global = env->n;
    return MT_OK;
}

static mt_status check_top_keys(const mt_yaml_node *root)
{
    static const char *allowed = "name|params|input|blocks|layers|output|outputs|description";
    for (int i = 0; i < root->n; i++) {
        if (key_allowed(allowed, root->child[i]->key)) continue;
        char w[600];
        return MT_ERR(MT_ERR_INVALID, "%s: unknown key '%s' in a model graph; allowed: %s",
                      mt_yaml_key_where(root->child[i], w, sizeof w), root->child[i]->key, allowed);
    }
    const mt_yaml_node *b = mt_yaml_map_get(root, "blocks");
    if (b && b->kind != MT_YAML_MAP) {
        char w[600];
        return MT_ERR(MT_ERR_INVALID, "%s: 'blocks' must be a map of name: {params:, layers:}", mt_yaml_where(b, w, sizeof w));
    }
    return MT_OK;
}

/* input: {channels: C, size: [H, W] (optional, nominal: summaries and the build-time shape check)} */
static mt_status read_input(mt_model *m, const mt_yaml_node *input, env_t *env)
{
    char w[600];
    if (!input || input->kind != MT_YAML_MAP || !mt_yaml_map_get(input, "channels"))
        return MT_ERR(MT_ERR_INVALID, "%s:1:1: model graph needs input: {channels: N}", m->file);
    for (int i = 0; i < input->n; i++)
        if (strcmp(input->child[i]->key, "channels") && strcmp(input->child[i]->key, "size"))
            return MT_ERR(MT_ERR_INVALID, "%s: unknown key '%s' of input:; allowed: channels|size",
                          mt_yaml_key_where(input->child[i], w, sizeof w), input->child[i]->key);
    const mt_yaml_node *ch = mt_yaml_map_get(input, "channels"), *sz = mt_yaml_map_get(input, "size");
    mt_expr_value v;
    MT_TRY(eval_node(ch, env, &v));
    MT_TRY(value_int(ch, &v, 1, 1 << 20, "input channels", &m->in_channels));
    if (sz) {
        mt_yaml_node *e;
        MT_TRY(expand_node(sz, env, &e));
        long h = 0, wd = 0;
        int ok = e->kind == MT_YAML_SEQ && e->n == 2 && mt_yaml_as_int(e->child[0], &h) && mt_yaml_as_int(e->child[1], &wd) &&
                 h >= 1 && wd >= 1 && h <= 1 << 16 && wd <= 1 << 16;
        mt_yaml_free(e);
        if (!ok) return MT_ERR(MT_ERR_INVALID, "%s: input size must be [H, W] (1..65536)", mt_yaml_where(sz, w, sizeof w));
        m->nominal_hw[0] = (int)h;
        m->nominal_hw[1] = (int)wd;
    }
    return MT_OK;
}

/* output: name | outputs: [name, ...]; default: the last layer */
static mt_status read_outputs(mt_model *m, const mt_yaml_node *root, env_t *env, const spec_list *specs)
{
    char w[600];
    const mt_yaml_node *o1 = mt_yaml_map_get(root, "output"), *on = mt_yaml_map_get(root, "outputs");
    if (o1 && on) return MT_ERR(MT_ERR_INVALID, "%s: give output: or outputs:, not both", mt_yaml_where(on, w, sizeof w));
    mt_yaml_node *e = NULL;
    if (o1 || on) MT_TRY(expand_node(o1 ? o1 : on, env, &e));
    int n = !e ? 1 : e->kind == MT_YAML_SEQ ? e->n : 1;
    mt_status s = MT_OK;
    if (e && (n < 1 || (e->kind == MT_YAML_MAP)))
        s = MT_ERR(MT_ERR_INVALID, "%s: outputs: expects a list of layer names", mt_yaml_where(e, w, sizeof w));
    m->outputs = mt_calloc((size_t)n, sizeof *m->outputs);
    m->output_names = mt_calloc((size_t)n, sizeof *m->output_names);
    if (s == MT_OK && (!m->outputs || !m->output_names)) s = MT_ERR_NOMEM;
    for (int i = 0; s == MT_OK && i < n; i++) {
        const mt_yaml_node *r = !e ? NULL : e->kind == MT_YAML_SEQ ? e->child[i] : e;
        const char *ref = r ? r->value : m->layers[m->n_layers - 1].name;
        if (r && r->kind != MT_YAML_SCALAR) {
            s = MT_ERR(MT_ERR_INVALID, "%s: outputs: expects layer names", mt_yaml_where(r, w, sizeof w));
            break;
        }
        m->n_outputs = i + 1;
        m->outputs[i] = resolve_value(m, specs, m->n_layers, ref, 0);
        if (!(m->output_names[i] = mt_strdup(ref))) s = MT_ERR_NOMEM;
        else if (m->outputs[i] < 1)
            s = MT_ERR(MT_ERR_INVALID, "%s: output '%s' is not a layer, layer.port or block instance",
                       mt_yaml_where(r, w, sizeof w), ref);
    }
    mt_yaml_free(e);
    return s;
}

static mt_status build(mt_model *m, const mt_yaml_node *root, int n_args, const mt_model_arg *args, uint64_t seed)
{
    env_t env = {0};
    spec_list specs = {0};
    mt_status s = check_top_keys(root);
    const mt_yaml_node *nm = mt_yaml_map_get(root, "name");
    if (s == MT_OK && nm && nm->kind == MT_YAML_SCALAR && !(m->name = mt_strdup(nm->value))) s = MT_ERR_NOMEM;
    if (s == MT_OK) s = build_env(root, n_args, args, &env, m->file);
    const mt_yaml_node *layers = mt_yaml_map_get(root, "layers");
    if (s == MT_OK) s = read_input(m, mt_yaml_map_get(root, "input"), &env);
    if (s == MT_OK && !layers) s = MT_ERR(MT_ERR_INVALID, "%s:1:1: model graph needs a 'layers' list", m->file);
    if (s == MT_OK) s = expand_layers(layers, &env, &specs, 0, mt_yaml_map_get(root, "blocks"));
    if (s == MT_OK && specs.n == 0) s = MT_ERR(MT_ERR_INVALID, "%s: the graph has no layers", m->file);
    size_t nv_cap = (size_t)specs.n * MT_LAYER_MAX_OUT + 1;
    if (s == MT_OK && (!(m->layers = mt_calloc((size_t)specs.n, sizeof *m->layers)) ||
                       !(m->value_layer = mt_calloc(nv_cap, sizeof *m->value_layer)) ||
                       !(m->value_port = mt_calloc(nv_cap, sizeof *m->value_port))))
        s = MT_ERR_NOMEM;
    m->n_values = 1;
    if (m->value_layer) m->value_layer[0] = -1;
    m->build_specs = &specs;
    for (int i = 0; s == MT_OK && i < specs.n; i++) {
        m->n_layers = i + 1;
        s = setup_layer(m, &m->layers[i], specs.v[i], i);
        specs.v[i] = NULL; /* owned by the layer now */
    }
    if (s == MT_OK) s = read_outputs(m, root, &env, &specs);
    /* aliases stay available by name (mt_model_shape "b3", ...) */
    if (s == MT_OK && specs.n_alias && !(m->alias = mt_calloc((size_t)specs.n_alias, sizeof *m->alias))) s = MT_ERR_NOMEM;
    for (int i = 0; s == MT_OK && i < specs.n_alias; i++) {
        m->alias[i].value = resolve_value(m, &specs, m->n_layers, specs.alias_target[i], 0);
        m->alias[i].name = specs.alias_name[i];
        specs.alias_name[i] = NULL;
        m->n_alias = i + 1;
    }
    m->build_specs = NULL;
    spec_list_free(&specs);
    free(env.v);
    if (s != MT_OK) return s;
    /* last use of each value (for releasing activations early); the input and the outputs are kept */
    m->last_use = mt_calloc((size_t)m->n_values, sizeof *m->last_use);
    if (!m->last_use) return MT_ERR_NOMEM;
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i].n_in; k++) m->last_use[m->layers[i].in[k]] = i;
    m->last_use[0] = INT_MAX;
    for (int i = 0; i < m->n_outputs; i++) m->last_use[m->outputs[i]] = INT_MAX;
    MT_TRY(allocate_state(m));
    mt_rng rng = {seed, 0};
    for (int i = 0; i < m->n_layers; i++) {
        mt_layer *L = &m->layers[i];
        if (L->kind->init && (s = L->kind->init(m, L, &rng)) != MT_OK) return s;
    }
    m->dropout_rng.seed = mt_rng_derive(seed, 0x64726f70ULL /* "drop" */, 0);
    m->dropout_rng.offset = 0;
    /* with a nominal input size, check every shape now (concat/add/mul mismatches name both shapes) */
    if (m->nominal_hw[0] > 0) {
        int ndim, shape[MT_MAX_DIMS], in[4] = {1, m->in_channels, m->nominal_hw[0], m->nominal_hw[1]};
        MT_TRY(mt_model_shape(m, NULL, 4, in, &ndim, shape));
    }
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
    for (int i = 0; i < m->n_outputs; i++) free(m->output_names[i]);
    for (int i = 0; i < m->n_alias; i++) free(m->alias[i].name);
    free(m->alias);
    free(m->outputs);
    free(m->output_names);
    free(m->state);
    free(m->params);
    free(m->last_use);
    free(m->value_layer);
    free(m->value_port);
    mt_tensor_release(m->param_block);
    mt_tensor_release(m->buffer_block);
    mt_tensor_release(m->one);
    free(m->name);
    free(m->file);
    free(m);
}
