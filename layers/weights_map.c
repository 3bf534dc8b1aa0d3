/* layers/weights_map.c: the name map of the weights loader (format in
 * docs/weights.md), parsed with the project's YAML tree so that every error
 * names map.yaml:line:column; patterns are POSIX extended regular
 * expressions (regex.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/yaml_tree.h"
#include "weights_internal.h"

/* Keras variable -> state_dict suffix, the built-in defaults */
static const char *const k_default_suffix[][2] = {
    {"kernel", "weight"},           {"depthwise_kernel", "weight"}, {"bias", "bias"},
    {"gamma", "weight"},            {"beta", "bias"},               {"moving_mean", "running_mean"},
    {"moving_variance", "running_var"},
};

static mt_status set_suffix(mt_wmap *m, const char *from, const char *to)
{
    for (int i = 0; i < m->n_suffix; i++) {
        if (strcmp(m->suffix_from[i], from)) continue;
        char *t = mt_strdup(to);
        if (!t) return MT_ERR_NOMEM;
        free(m->suffix_to[i]);
        m->suffix_to[i] = t;
        return MT_OK;
    }
    char **nf = mt_realloc(m->suffix_from, sizeof *nf * (size_t)(m->n_suffix + 1));
    if (!nf) return MT_ERR_NOMEM;
    m->suffix_from = nf;
    char **nt = mt_realloc(m->suffix_to, sizeof *nt * (size_t)(m->n_suffix + 1));
    if (!nt) return MT_ERR_NOMEM;
    m->suffix_to = nt;
    char *f = mt_strdup(from), *t = mt_strdup(to);
    if (!f || !t) {
        free(f);
        free(t);
        return MT_ERR_NOMEM;
    }
    m->suffix_from[m->n_suffix] = f;
    m->suffix_to[m->n_suffix] = t;
    m->n_suffix++;
    return MT_OK;
}

mt_status mt_wmap_default(mt_wmap *m)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < sizeof k_default_suffix / sizeof *k_default_suffix; i++) {
        mt_status s = set_suffix(m, k_default_suffix[i][0], k_default_suffix[i][1]);
        if (s != MT_OK) {
            mt_wmap_free(m);
            return s;
        }
    }
    return MT_OK;
}

static void free_rules(mt_wmap_rule *r, int n)
{
    for (int i = 0; i < n; i++) {
        if (r[i].has_from) regfree(&r[i].from);
        if (r[i].has_to_re) regfree(&r[i].to_re);
        free(r[i].from_text);
        free(r[i].to);
    }
    free(r);
}

void mt_wmap_free(mt_wmap *m)
{
    if (!m) return;
    free_rules(m->skip, m->n_skip);
    free_rules(m->order, m->n_order);
    free_rules(m->rules, m->n_rules);
    for (int i = 0; i < m->n_suffix; i++) {
        free(m->suffix_from[i]);
        free(m->suffix_to[i]);
    }
    free(m->suffix_from);
    free(m->suffix_to);
    memset(m, 0, sizeof *m);
}

const char *mt_wmap_suffix(const mt_wmap *m, const char *var)
{
    for (int i = 0; i < m->n_suffix; i++)
        if (!strcmp(m->suffix_from[i], var)) return m->suffix_to[i];
    return var;
}

int mt_wmap_match(const regex_t *re, const char *s, regmatch_t *pm)
{
    regmatch_t local[10];
    return regexec(re, s, 10, pm ? pm : local, 0) == 0;
}

char *mt_wmap_subst(const char *tmpl, const char *s, const regmatch_t *pm)
{
    size_t len = 0;
    for (int pass = 0; pass < 2; pass++) {
        char *out = pass ? mt_malloc(len + 1) : NULL;
        if (pass && !out) return NULL;
        size_t u = 0;
        for (const char *p = tmpl; *p; p++) {
            if (p[0] == '\\' && p[1] >= '0' && p[1] <= '9') {
                const regmatch_t *g = &pm[p[1] - '0'];
                size_t gl = g->rm_so >= 0 ? (size_t)(g->rm_eo - g->rm_so) : 0;
                if (pass && gl) memcpy(out + u, s + g->rm_so, gl);
                u += gl;
                p++;
                continue;
            }
            if (p[0] == '\\' && p[1] == '\\') p++;
            if (pass) out[u] = *p;
            u++;
        }
        if (pass) {
            out[u] = '\0';
            return out;
        }
        len = u;
    }
    return NULL;
}

/* ------------------------------------------------------------ parsing --- */

static mt_status map_error(const mt_yaml_node *n, const char *fmt, const char *a, const char *b)
{
    char w[256];
    mt_yaml_where(n, w, sizeof w);
    char msg[768];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    return MT_ERR(MT_ERR_INVALID, "%s: weights map: %s", w, msg);
}

static mt_status compile(regex_t *re, const mt_yaml_node *n, const char *what)
{
    if (n->kind != MT_YAML_SCALAR || !n->value[0])
        return map_error(n, "%s must be a non-empty regular expression (quote it)%s", what, NULL);
    for (const char *p = n->value; *p; p++) {
        if (*p != '\\') continue;
        if (p[1] == 'd' || p[1] == 'D')
            return map_error(n, "%s '%s': \\d is not POSIX; write [0-9]", what, n->value);
        if (p[1]) p++;
    }
    int rc = regcomp(re, n->value, REG_EXTENDED);
    if (rc != 0) {
        char err[256];
        regerror(rc, re, err, sizeof err);
        return map_error(n, "%s: invalid regular expression: %s", n->value, err);
    }
    return MT_OK;
}

/* checks a replacement template against the number of groups of its pattern */
static mt_status check_template(const mt_yaml_node *n, size_t n_groups)
{
    for (const char *p = n->value; *p; p++) {
        if (*p != '\\') continue;
        if (p[1] >= '0' && p[1] <= '9') {
            if ((size_t)(p[1] - '0') > n_groups) {
                char g[64];
                snprintf(g, sizeof g, "\\%c but the pattern has %zu group%s", p[1], n_groups, n_groups == 1 ? "" : "s");
                return map_error(n, "to '%s' uses %s", n->value, g);
            }
        } else if (p[1] != '\\') {
            return map_error(n, "to '%s': in a replacement only \\0..\\9 and \\\\ are escapes (write '.' not '\\.')%s",
                             n->value, NULL);
        }
        p++;
    }
    return MT_OK;
}

static mt_status parse_layout(const mt_yaml_node *n, mt_wlayout *out)
{
    static const char *const names[] = {"auto", "none", "kernel", "depthwise"};
    if (n->kind == MT_YAML_SCALAR)
        for (int i = 0; i < 4; i++)
            if (!strcmp(n->value, names[i])) {
                *out = (mt_wlayout)i;
                return MT_OK;
            }
    return map_error(n, "layout '%s': expected one of auto, none, kernel, depthwise%s",
                     n->kind == MT_YAML_SCALAR ? n->value : "(not a scalar)", NULL);
}

/* one entry of `rules:` (order = 0) or `order:` (order = 1) */
static mt_status parse_rule(const mt_yaml_node *n, int order, mt_wmap_rule *r)
{
    if (n->kind != MT_YAML_MAP) return map_error(n, "each %s entry must be a map {from: ..., to: ...}", order ? "order" : "rules", NULL);
    const mt_yaml_node *from = NULL, *to = NULL;
    for (int i = 0; i < n->n; i++) {
        const mt_yaml_node *c = n->child[i];
        if (!strcmp(c->key, "from")) from = c;
        else if (!strcmp(c->key, "to")) to = c;
        else if (!strcmp(c->key, "layout")) MT_TRY(parse_layout(c, &r->layout));
        else return map_error(c, "unknown key '%s' in a %s entry; allowed: from, to, layout", c->key, order ? "order" : "rules");
    }
    if (!from || !to) return map_error(n, "a %s entry needs both 'from' and 'to'%s", order ? "order" : "rules", NULL);
    mt_yaml_where(n, r->where, sizeof r->where);
    MT_TRY(compile(&r->from, from, "from"));
    r->has_from = 1;
    if (!(r->from_text = mt_strdup(from->value))) return MT_ERR_NOMEM;
    if (to->kind != MT_YAML_SCALAR || !to->value[0]) return map_error(to, "to must be a non-empty string%s", NULL, NULL);
    if (!(r->to = mt_strdup(to->value))) return MT_ERR_NOMEM;
    if (order) {
        MT_TRY(compile(&r->to_re, to, "to"));
        r->has_to_re = 1;
        return MT_OK;
    }
    return check_template(to, r->from.re_nsub);
}

static mt_status parse_list(const mt_yaml_node *n, int kind, mt_wmap_rule **out, int *n_out)
{
    if (n->kind != MT_YAML_SEQ) return map_error(n, "'%s' must be a list%s", n->key, NULL);
    *out = n->n ? mt_calloc((size_t)n->n, sizeof **out) : NULL;
    if (n->n && !*out) return MT_ERR_NOMEM;
    for (int i = 0; i < n->n; i++) {
        mt_wmap_rule *r = &(*out)[i];
        *n_out = i + 1; /* counted before parsing, so mt_wmap_free releases a half-parsed rule */
        if (kind == 2) { /* skip: plain patterns */
            mt_yaml_where(n->child[i], r->where, sizeof r->where);
            MT_TRY(compile(&r->from, n->child[i], "a skip pattern"));
            r->has_from = 1;
            if (!(r->from_text = mt_strdup(n->child[i]->value))) return MT_ERR_NOMEM;
        } else {
            MT_TRY(parse_rule(n->child[i], kind, r));
        }
    }
    return MT_OK;
}

static mt_status parse_map(const mt_yaml_node *root, mt_wmap *m)
{
    if (root->kind != MT_YAML_MAP) return map_error(root, "a map file is a YAML map (skip, order, rules, suffixes)%s", NULL, NULL);
    for (int i = 0; i < root->n; i++) {
        const mt_yaml_node *c = root->child[i];
        if (!strcmp(c->key, "skip")) {
            MT_TRY(parse_list(c, 2, &m->skip, &m->n_skip));
        } else if (!strcmp(c->key, "order")) {
            MT_TRY(parse_list(c, 1, &m->order, &m->n_order));
        } else if (!strcmp(c->key, "rules")) {
            MT_TRY(parse_list(c, 0, &m->rules, &m->n_rules));
        } else if (!strcmp(c->key, "suffixes")) {
            if (c->kind != MT_YAML_MAP) return map_error(c, "'suffixes' must be a map {keras_variable: suffix}%s", NULL, NULL);
            for (int j = 0; j < c->n; j++) {
                if (c->child[j]->kind != MT_YAML_SCALAR || !c->child[j]->value[0])
                    return map_error(c->child[j], "suffix of '%s' must be a non-empty name%s", c->child[j]->key, NULL);
                MT_TRY(set_suffix(m, c->child[j]->key, c->child[j]->value));
            }
        } else if (!strcmp(c->key, "description")) {
            continue;
        } else {
            return map_error(c, "unknown key '%s'; allowed: skip, order, rules, suffixes, description%s", c->key, NULL);
        }
    }
    return MT_OK;
}

mt_status mt_wmap_load(const char *path, mt_wmap *m)
{
    MT_TRY(mt_wmap_default(m));
    mt_yaml_node *root = NULL;
    mt_status s = mt_yaml_load_file(path, &root);
    if (s == MT_OK) s = parse_map(root, m);
    mt_yaml_free(root);
    if (s != MT_OK) mt_wmap_free(m);
    return s;
}
