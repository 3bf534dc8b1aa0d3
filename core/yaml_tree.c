/* core/yaml_tree.c: libyaml event stream -> positioned tree; base:
 * composition, --set overrides, dump back to YAML (see yaml_tree.h). */
#include "yaml_tree.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ------------------------------------------------------------ nodes --- */

static mt_yaml_node *node_new(mt_yaml_kind kind, const char *file, int line, int col)
{
    mt_yaml_node *n = mt_calloc(1, sizeof *n);
    if (!n) return NULL;
    n->kind = kind;
    n->file = mt_strdup(file ? file : "");
    if (!n->file) {
        free(n);
        return NULL;
    }
    n->line = line;
    n->col = col;
    return n;
}

void mt_yaml_free(mt_yaml_node *n)
{
    if (!n) return;
    for (int i = 0; i < n->n; i++) mt_yaml_free(n->child[i]);
    free(n->child);
    free(n->file);
    free(n->key);
    free(n->value);
    free(n);
}

mt_yaml_node *mt_yaml_new_scalar(const char *text, const mt_yaml_node *where)
{
    mt_yaml_node *n = node_new(MT_YAML_SCALAR, where ? where->file : "", where ? where->line : 0,
                               where ? where->col : 0);
    if (!n) return NULL;
    n->value = mt_strdup(text ? text : "");
    if (!n->value) {
        mt_yaml_free(n);
        return NULL;
    }
    return n;
}

mt_yaml_node *mt_yaml_new_map(const mt_yaml_node *where)
{
    return node_new(MT_YAML_MAP, where ? where->file : "", where ? where->line : 0, where ? where->col : 0);
}

mt_yaml_node *mt_yaml_new_seq(const mt_yaml_node *where)
{
    return node_new(MT_YAML_SEQ, where ? where->file : "", where ? where->line : 0, where ? where->col : 0);
}

static mt_status append_child(mt_yaml_node *p, mt_yaml_node *c)
{
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 8;
        mt_yaml_node **nc = mt_realloc(p->child, sizeof *nc * (size_t)cap);
        if (!nc) return MT_ERR_NOMEM;
        p->child = nc;
        p->cap = cap;
    }
    p->child[p->n++] = c;
    return MT_OK;
}

mt_yaml_node *mt_yaml_clone(const mt_yaml_node *n)
{
    if (!n) return NULL;
    mt_yaml_node *c = node_new(n->kind, n->file, n->line, n->col);
    if (!c) return NULL;
    c->key_line = n->key_line;
    c->key_col = n->key_col;
    c->quoted = n->quoted;
    if ((n->key && !(c->key = mt_strdup(n->key))) || (n->value && !(c->value = mt_strdup(n->value)))) {
        mt_yaml_free(c);
        return NULL;
    }
    for (int i = 0; i < n->n; i++) {
        mt_yaml_node *k = mt_yaml_clone(n->child[i]);
        if (!k || append_child(c, k) != MT_OK) {
            mt_yaml_free(k);
            mt_yaml_free(c);
            return NULL;
        }
    }
    return c;
}

mt_yaml_node *mt_yaml_map_get(const mt_yaml_node *map, const char *key)
{
    if (!map || map->kind != MT_YAML_MAP) return NULL;
    for (int i = 0; i < map->n; i++)
        if (!strcmp(map->child[i]->key, key)) return map->child[i];
    return NULL;
}

mt_yaml_node *mt_yaml_path(const mt_yaml_node *root, const char *path)
{
    char part[256];
    const mt_yaml_node *cur = root;
    while (cur && *path) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        if (len >= sizeof part) return NULL;
        memcpy(part, path, len);
        part[len] = '\0';
        if (cur->kind == MT_YAML_MAP) {
            cur = mt_yaml_map_get(cur, part);
        } else if (cur->kind == MT_YAML_SEQ) {
            char *end;
            long i = strtol(part, &end, 10);
            cur = (*end || i < 0 || i >= cur->n) ? NULL : cur->child[i];
        } else {
            return NULL;
        }
        path += len + (dot ? 1 : 0);
    }
    return (mt_yaml_node *)cur;
}

mt_status mt_yaml_put(mt_yaml_node *parent, const char *key, mt_yaml_node *child)
{
    if (parent->kind == MT_YAML_MAP) {
        if (!key) return MT_ERR(MT_ERR_INVALID, "mt_yaml_put: a map entry needs a key");
        free(child->key);
        child->key = mt_strdup(key);
        if (!child->key) return MT_ERR_NOMEM;
        for (int i = 0; i < parent->n; i++)
            if (!strcmp(parent->child[i]->key, key)) {
                if (!child->key_line) {
                    child->key_line = parent->child[i]->key_line;
                    child->key_col = parent->child[i]->key_col;
                }
                mt_yaml_free(parent->child[i]);
                parent->child[i] = child;
                return MT_OK;
            }
        return append_child(parent, child);
    }
    if (parent->kind == MT_YAML_SEQ) return append_child(parent, child);
    return MT_ERR(MT_ERR_INVALID, "mt_yaml_put: parent is a scalar");
}

const char *mt_yaml_where(const mt_yaml_node *n, char *buf, size_t len)
{
    if (!n) snprintf(buf, len, "<unknown>");
    else if (!strncmp(n->file, "--set", 5)) snprintf(buf, len, "%s", n->file);
    else snprintf(buf, len, "%s:%d:%d", n->file, n->line, n->col);
    return buf;
}

const char *mt_yaml_key_where(const mt_yaml_node *n, char *buf, size_t len)
{
    if (!n || !n->key_line) return mt_yaml_where(n, buf, len);
    if (!strncmp(n->file, "--set", 5)) snprintf(buf, len, "%s", n->file);
    else snprintf(buf, len, "%s:%d:%d", n->file, n->key_line, n->key_col);
    return buf;
}

/* ----------------------------------------------------------- parsing --- */

typedef struct anchor {
    char *name;
    mt_yaml_node *node; /* not owned (points into the tree) */
} anchor;

typedef struct parse_state {
    const char *file;
    anchor *anchors;
    int n_anchors, cap_anchors;
    int depth, max_depth;       /* current / largest map-sequence nesting */
    long alias_nodes, max_alias_nodes; /* nodes made by copying anchored subtrees */
} parse_state;

/* Limits (yaml_tree.h): a positive integer from the environment, else the default. */
static mt_status env_limit(const char *var, long def, long hard_max, long *out)
{
    const char *v = getenv(var);
    *out = def;
    if (!v || !*v) return MT_OK;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (*end || errno == ERANGE || x < 1 || x > hard_max)
        return MT_ERR(MT_ERR_INVALID, "environment variable %s='%s': expected an integer from 1 to %ld", var, v,
                      hard_max);
    *out = x;
    return MT_OK;
}

/* Node count and height (1 for a scalar) of a subtree; recursion bounded by the depth limit. */
static void subtree_stats(const mt_yaml_node *n, long *count, int *height)
{
    long c = 1;
    int h = 0;
    for (int i = 0; i < n->n; i++) {
        long cc;
        int hh;
        subtree_stats(n->child[i], &cc, &hh);
        c += cc;
        if (hh > h) h = hh;
    }
    *count = c;
    *height = h + 1;
}

static mt_status add_anchor(parse_state *ps, const unsigned char *name, mt_yaml_node *n)
{
    if (!name) return MT_OK;
    if (ps->n_anchors == ps->cap_anchors) {
        int cap = ps->cap_anchors ? ps->cap_anchors * 2 : 8;
        anchor *a = mt_realloc(ps->anchors, sizeof *a * (size_t)cap);
        if (!a) return MT_ERR_NOMEM;
        ps->anchors = a;
        ps->cap_anchors = cap;
    }
    ps->anchors[ps->n_anchors].name = mt_strdup((const char *)name);
    if (!ps->anchors[ps->n_anchors].name) return MT_ERR_NOMEM;
    ps->anchors[ps->n_anchors++].node = n;
    return MT_OK;
}

static mt_status parser_error(const yaml_parser_t *p, const char *file)
{
    return MT_ERR(MT_ERR_FORMAT, "%s:%zu:%zu: YAML syntax error: %s%s%s", file, p->problem_mark.line + 1,
                  p->problem_mark.column + 1, p->problem ? p->problem : "unknown problem",
                  p->context ? " " : "", p->context ? p->context : "");
}

static mt_status parse_node(yaml_parser_t *p, parse_state *ps, yaml_event_t *ev, mt_yaml_node **out);

/* An alias event: a copy of the anchored subtree, within the depth and
 * alias-expansion limits. */
static mt_status parse_alias(parse_state *ps, const yaml_event_t *ev, int line, int col, mt_yaml_node **out)
{
    for (int i = ps->n_anchors - 1; i >= 0; i--)
        if (!strcmp(ps->anchors[i].name, (const char *)ev->data.alias.anchor)) {
            long count;
            int height;
            subtree_stats(ps->anchors[i].node, &count, &height);
            if (ps->depth + height - 1 > ps->max_depth)
                return MT_ERR(MT_ERR_FORMAT, "%s:%d:%d: alias '*%s' nests the YAML deeper than %d levels "
                              "(limit; raise it with the environment variable MEDTRAIN_YAML_MAX_DEPTH)",
                              ps->file, line, col, ev->data.alias.anchor, ps->max_depth);
            if (count > ps->max_alias_nodes - ps->alias_nodes)
                return MT_ERR(MT_ERR_FORMAT, "%s:%d:%d: alias '*%s': aliases expand to more than %ld nodes "
                              "(limit against 'billion laughs' files; raise it with the environment variable "
                              "MEDTRAIN_YAML_MAX_ALIAS_NODES)", ps->file, line, col, ev->data.alias.anchor,
                              ps->max_alias_nodes);
            ps->alias_nodes += count;
            *out = mt_yaml_clone(ps->anchors[i].node);
            return *out ? MT_OK : MT_ERR_NOMEM;
        }
    return MT_ERR(MT_ERR_FORMAT, "%s:%d:%d: unknown alias '*%s'", ps->file, line, col, ev->data.alias.anchor);
}

/* A scalar event: its text (plain ~ / null become ""), quoting, anchor. */
static mt_status parse_scalar(parse_state *ps, const yaml_event_t *ev, int line, int col, mt_yaml_node **out)
{
    mt_yaml_node *n = node_new(MT_YAML_SCALAR, ps->file, line, col);
    if (!n) return MT_ERR_NOMEM;
    n->value = mt_strdup((const char *)ev->data.scalar.value);
    n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE ||
                ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
                ev->data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
    if (!n->value) {
        mt_yaml_free(n);
        return MT_ERR_NOMEM;
    }
    /* a plain "~" / "null" is YAML's null: keep it as an empty scalar */
    if (!n->quoted && (!strcmp(n->value, "~") || !strcmp(n->value, "null"))) n->value[0] = '\0';
    mt_status s = add_anchor(ps, ev->data.scalar.anchor, n);
    if (s != MT_OK) {
        mt_yaml_free(n);
        return s;
    }
    *out = n;
    return MT_OK;
}

/* In a map: takes the key from the event *e (consumed) and reads the value's
 * first event into *e. On error *e holds nothing to delete and no key is kept. */
static mt_status parse_map_key(yaml_parser_t *p, parse_state *ps, const mt_yaml_node *map, yaml_event_t *e,
                               char **key, int *kl, int *kc)
{
    if (e->type != YAML_SCALAR_EVENT) {
        mt_status s = MT_ERR(MT_ERR_FORMAT, "%s:%zu:%zu: map keys must be plain scalars", ps->file,
                             e->start_mark.line + 1, e->start_mark.column + 1);
        yaml_event_delete(e);
        return s;
    }
    *key = mt_strdup((const char *)e->data.scalar.value);
    *kl = (int)e->start_mark.line + 1;
    *kc = (int)e->start_mark.column + 1;
    yaml_event_delete(e);
    if (!*key) return MT_ERR_NOMEM;
    mt_status s = MT_OK;
    if (mt_yaml_map_get(map, *key))
        s = MT_ERR(MT_ERR_FORMAT, "%s:%d:%d: duplicate key '%s'", ps->file, *kl, *kc, *key);
    else if (!yaml_parser_parse(p, e))
        s = parser_error(p, ps->file);
    if (s != MT_OK) {
        free(*key);
        *key = NULL;
    }
    return s;
}

/* One entry of the map or sequence n whose first event *e was read (a map's
 * key, a sequence's item): parses it (key, then value) and appends it to n.
 * Consumes *e. */
static mt_status parse_entry(yaml_parser_t *p, parse_state *ps, mt_yaml_node *n, yaml_event_t *e)
{
    char *key = NULL;
    int kl = 0, kc = 0;
    if (n->kind == MT_YAML_MAP) MT_TRY(parse_map_key(p, ps, n, e, &key, &kl, &kc));
    mt_yaml_node *c = NULL;
    ps->depth++;
    mt_status s = parse_node(p, ps, e, &c);
    ps->depth--;
    yaml_event_delete(e);
    if (s != MT_OK) {
        free(key);
        return s;
    }
    free(c->key); /* an alias's copy carries the anchored entry's own key (ASan: leaked) */
    c->key = key;
    c->key_line = kl;
    c->key_col = kc;
    if ((s = append_child(n, c)) != MT_OK) mt_yaml_free(c);
    return s;
}

/* A map or sequence whose start event is `ev`: its entries up to the end
 * event, within the depth limit, then its anchor. */
static mt_status parse_collection(yaml_parser_t *p, parse_state *ps, const yaml_event_t *ev, int line, int col,
                                  mt_yaml_node **out)
{
    int is_map = ev->type == YAML_MAPPING_START_EVENT;
    if (!is_map && ev->type != YAML_SEQUENCE_START_EVENT)
        return MT_ERR(MT_ERR_FORMAT, "%s:%d:%d: unexpected YAML event %d", ps->file, line, col, (int)ev->type);
    if (ps->depth >= ps->max_depth)
        return MT_ERR(MT_ERR_FORMAT, "%s:%d:%d: YAML nested deeper than %d levels of maps/sequences (limit; raise "
                      "it with the environment variable MEDTRAIN_YAML_MAX_DEPTH, at most %d)", ps->file, line, col,
                      ps->max_depth, MT_YAML_DEPTH_HARD_MAX);
    mt_yaml_node *n = node_new(is_map ? MT_YAML_MAP : MT_YAML_SEQ, ps->file, line, col);
    if (!n) return MT_ERR_NOMEM;
    const unsigned char *anchor_name = is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    mt_status s = MT_OK;
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(p, &e)) {
            s = parser_error(p, ps->file);
            break;
        }
        if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&e);
            break;
        }
        if ((s = parse_entry(p, ps, n, &e)) != MT_OK) break;
    }
    if (s == MT_OK) s = add_anchor(ps, anchor_name, n);
    if (s != MT_OK) {
        mt_yaml_free(n);
        return s;
    }
    *out = n;
    return MT_OK;
}

/* Parses one node whose first event is `ev` (already read); recursive. */
static mt_status parse_node(yaml_parser_t *p, parse_state *ps, yaml_event_t *ev, mt_yaml_node **out)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    *out = NULL;
    if (ev->type == YAML_ALIAS_EVENT) return parse_alias(ps, ev, line, col, out);
    if (ev->type == YAML_SCALAR_EVENT) return parse_scalar(ps, ev, line, col, out);
    return parse_collection(p, ps, ev, line, col, out);
}

/* Parses text into a tree (no base resolution). Empty documents give an empty map. */
static mt_status parse_text(const char *text, size_t len, const char *name, mt_yaml_node **out)
{
    yaml_parser_t p;
    *out = NULL;
    if (!yaml_parser_initialize(&p)) return MT_ERR(MT_ERR_NOMEM, "libyaml: cannot initialise a parser");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    parse_state ps = {name, NULL, 0, 0, 0, 0, 0, 0};
    long max_depth;
    mt_status s = env_limit("MEDTRAIN_YAML_MAX_DEPTH", MT_YAML_DEFAULT_MAX_DEPTH, MT_YAML_DEPTH_HARD_MAX, &max_depth);
    if (s == MT_OK)
        s = env_limit("MEDTRAIN_YAML_MAX_ALIAS_NODES", MT_YAML_DEFAULT_MAX_ALIAS_NODES, LONG_MAX / 2,
                      &ps.max_alias_nodes);
    ps.max_depth = (int)max_depth;
    mt_yaml_node *root = NULL;
    for (int done = 0; !done && s == MT_OK;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e)) {
            s = parser_error(&p, name);
            break;
        }
        switch (e.type) {
        case YAML_STREAM_END_EVENT: done = 1; break;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
            if (root) {
                s = MT_ERR(MT_ERR_FORMAT, "%s:%zu:%zu: only one YAML document per file is supported", name,
                           e.start_mark.line + 1, e.start_mark.column + 1);
                break;
            }
            s = parse_node(&p, &ps, &e, &root);
            break;
        default: break;
        }
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&p);
    for (int i = 0; i < ps.n_anchors; i++) free(ps.anchors[i].name);
    free(ps.anchors);
    if (s != MT_OK) {
        mt_yaml_free(root);
        return s;
    }
    if (!root) root = node_new(MT_YAML_MAP, name, 1, 1);
    if (!root) return MT_ERR_NOMEM;
    *out = root;
    return MT_OK;
}

/* ------------------------------------------------------------- merge --- */

mt_status mt_yaml_merge(mt_yaml_node *dst, const mt_yaml_node *over)
{
    if (dst->kind != MT_YAML_MAP || over->kind != MT_YAML_MAP)
        return MT_ERR(MT_ERR_INVALID, "mt_yaml_merge: both nodes must be maps");
    for (int i = 0; i < over->n; i++) {
        const mt_yaml_node *o = over->child[i];
        mt_yaml_node *d = mt_yaml_map_get(dst, o->key);
        if (d && d->kind == MT_YAML_MAP && o->kind == MT_YAML_MAP) {
            MT_TRY(mt_yaml_merge(d, o));
            continue;
        }
        mt_yaml_node *c = mt_yaml_clone(o);
        if (!c) return MT_ERR_NOMEM;
        mt_status s = mt_yaml_put(dst, o->key, c);
        if (s != MT_OK) {
            mt_yaml_free(c);
            return s;
        }
    }
    return MT_OK;
}

/* ------------------------------------------------------ file loading --- */

static mt_status read_file(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return MT_ERR(MT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = mt_malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = mt_realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) return MT_ERR_NOMEM;
    if (err) {
        free(buf);
        return MT_ERR(MT_ERR_IO, "error reading '%s'", path);
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return MT_OK;
}

/* dir of `file` joined with `rel` (rel unchanged if absolute or file has no dir) */
static char *join_relative(const char *file, const char *rel)
{
    const char *slash = strrchr(file, '/');
    if (rel[0] == '/' || !slash) return mt_strdup(rel);
    size_t dl = (size_t)(slash - file) + 1, rl = strlen(rel);
    char *p = mt_malloc(dl + rl + 1);
    if (!p) return NULL;
    memcpy(p, file, dl);
    memcpy(p + dl, rel, rl + 1);
    return p;
}

#define MAX_BASE_DEPTH 16

static mt_status load_file_depth(const char *path, int depth, const char **chain, mt_yaml_node **out);

/* Resolves the top-level `base:` of `root` (parsed from `file`). */
static mt_status resolve_base(mt_yaml_node **rootp, const char *file, int depth, const char **chain)
{
    mt_yaml_node *root = *rootp;
    mt_yaml_node *b = mt_yaml_map_get(root, "base");
    if (!b) return MT_OK;
    char where[512];
    mt_yaml_where(b, where, sizeof where);
    int nb = b->kind == MT_YAML_SEQ ? b->n : 1;
    mt_yaml_node *merged = NULL;
    mt_status s = MT_OK;
    for (int i = 0; i < nb && s == MT_OK; i++) {
        const mt_yaml_node *item = b->kind == MT_YAML_SEQ ? b->child[i] : b;
        if (item->kind != MT_YAML_SCALAR || !item->value[0]) {
            s = MT_ERR(MT_ERR_INVALID, "%s: 'base' must be a file name or a list of file names", where);
            break;
        }
        char *path = join_relative(file, item->value);
        if (!path) {
            s = MT_ERR_NOMEM;
            break;
        }
        for (int d = 0; d < depth; d++)
            if (!strcmp(chain[d], path)) s = MT_ERR(MT_ERR_INVALID, "%s: 'base' cycle through '%s'", where, path);
        mt_yaml_node *bt = NULL;
        if (s == MT_OK) {
            s = load_file_depth(path, depth, chain, &bt);
            if (s == MT_ERR_IO) {
                char prev[1024];
                snprintf(prev, sizeof prev, "%s", mt_last_error());
                mt_error_replace(MT_ERR_IO, __FILE__, __LINE__, "%s: base file '%s' cannot be read (%s)", where,
                                 path, prev);
            }
        }
        free(path);
        if (s != MT_OK) break;
        if (!merged) {
            merged = bt;
        } else {
            s = bt->kind == MT_YAML_MAP ? mt_yaml_merge(merged, bt) : MT_ERR(MT_ERR_INVALID, "%s: base is not a map", where);
            mt_yaml_free(bt);
        }
    }
    if (s == MT_OK && merged->kind != MT_YAML_MAP) s = MT_ERR(MT_ERR_INVALID, "%s: base file is not a YAML map", where);
    if (s != MT_OK) {
        mt_yaml_free(merged);
        return s;
    }
    /* drop the base key, then merge this file over its bases */
    for (int i = 0; i < root->n; i++)
        if (root->child[i] == b) {
            mt_yaml_free(b);
            memmove(root->child + i, root->child + i + 1, sizeof *root->child * (size_t)(root->n - i - 1));
            root->n--;
            break;
        }
    s = mt_yaml_merge(merged, root);
    if (s != MT_OK) {
        mt_yaml_free(merged);
        return s;
    }
    /* the merged root takes the including file's position */
    free(merged->file);
    merged->file = mt_strdup(root->file);
    merged->line = root->line;
    merged->col = root->col;
    mt_yaml_free(root);
    *rootp = merged;
    return merged->file ? MT_OK : MT_ERR_NOMEM;
}

static mt_status load_file_depth(const char *path, int depth, const char **chain, mt_yaml_node **out)
{
    if (depth >= MAX_BASE_DEPTH) return MT_ERR(MT_ERR_INVALID, "'%s': base chain deeper than %d", path, MAX_BASE_DEPTH);
    char *text = NULL;
    size_t len = 0;
    MT_TRY(read_file(path, &text, &len));
    mt_yaml_node *root = NULL;
    mt_status s = parse_text(text, len, path, &root);
    free(text);
    if (s != MT_OK) return s;
    chain[depth] = path;
    if (root->kind == MT_YAML_MAP) s = resolve_base(&root, path, depth + 1, chain);
    if (s != MT_OK) {
        mt_yaml_free(root);
        return s;
    }
    *out = root;
    return MT_OK;
}

mt_status mt_yaml_load_file(const char *path, mt_yaml_node **out)
{
    const char *chain[MAX_BASE_DEPTH];
    *out = NULL;
    return load_file_depth(path, 0, chain, out);
}

mt_status mt_yaml_load_string(const char *text, const char *name, mt_yaml_node **out)
{
    const char *chain[MAX_BASE_DEPTH];
    *out = NULL;
    mt_yaml_node *root = NULL;
    MT_TRY(parse_text(text, strlen(text), name, &root));
    chain[0] = name;
    mt_status s = root->kind == MT_YAML_MAP ? resolve_base(&root, "", 1, chain) : MT_OK;
    if (s != MT_OK) {
        mt_yaml_free(root);
        return s;
    }
    *out = root;
    return MT_OK;
}

/* ----------------------------------------------------------- --set ----- */

static void set_file_recursive(mt_yaml_node *n, const char *file)
{
    char *f = mt_strdup(file);
    if (f) {
        free(n->file);
        n->file = f;
    }
    n->line = n->col = n->key_line = n->key_col = 0;
    for (int i = 0; i < n->n; i++) set_file_recursive(n->child[i], file);
}

mt_status mt_yaml_set(mt_yaml_node *root, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return MT_ERR(MT_ERR_INVALID, "--set '%s': expected key.path=value (e.g. optimizer.lr=1e-4)", assignment);
    char origin[600];
    snprintf(origin, sizeof origin, "--set %s", assignment);
    size_t kl = (size_t)(eq - assignment);
    char *path = mt_malloc(kl + 1);
    if (!path) return MT_ERR_NOMEM;
    memcpy(path, assignment, kl);
    path[kl] = '\0';
    int parts = 1;
    for (const char *c = path; *c; c++) parts += *c == '.';
    if (parts > MT_YAML_DEFAULT_MAX_DEPTH) {
        free(path);
        return MT_ERR(MT_ERR_INVALID, "%s: key path of %d parts is deeper than the %d levels allowed", origin, parts,
                      MT_YAML_DEFAULT_MAX_DEPTH);
    }
    mt_yaml_node *val = NULL;
    mt_status s = parse_text(eq + 1, strlen(eq + 1), origin, &val);
    if (s == MT_OK && val->kind == MT_YAML_MAP && val->n == 0 && eq[1] == '\0') {
        /* "key=" sets an empty value */
        mt_yaml_free(val);
        val = mt_yaml_new_scalar("", NULL);
        if (!val) s = MT_ERR_NOMEM;
    }
    if (s != MT_OK) {
        free(path);
        return s;
    }
    set_file_recursive(val, origin);
    mt_yaml_node *cur = root;
    char *part = path;
    while (s == MT_OK) {
        char *dot = strchr(part, '.');
        if (dot) *dot = '\0';
        if (!*part) {
            s = MT_ERR(MT_ERR_INVALID, "%s: empty key in path '%.*s'", origin, (int)kl, assignment);
            break;
        }
        if (cur->kind != MT_YAML_MAP) {
            s = MT_ERR(MT_ERR_INVALID, "%s: '%s' is inside a value that is not a map", origin, part);
            break;
        }
        if (!dot) {
            s = mt_yaml_put(cur, part, val);
            if (s == MT_OK) val = NULL;
            break;
        }
        mt_yaml_node *next = mt_yaml_map_get(cur, part);
        if (!next) {
            next = mt_yaml_new_map(NULL);
            if (!next) {
                s = MT_ERR_NOMEM;
                break;
            }
            set_file_recursive(next, origin);
            if ((s = mt_yaml_put(cur, part, next)) != MT_OK) {
                mt_yaml_free(next);
                break;
            }
        }
        cur = next;
        part = dot + 1;
    }
    mt_yaml_free(val);
    free(path);
    return s;
}

/* ------------------------------------------------------------- dump ---- */

typedef struct dump_buf {
    char *p;
    size_t n, cap;
    int failed;
} dump_buf;

static int dump_write(void *data, unsigned char *buffer, size_t size)
{
    dump_buf *b = data;
    if (b->n + size + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + size + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return 0;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, buffer, size);
    b->n += size;
    b->p[b->n] = '\0';
    return 1;
}

static int emit_scalar(yaml_emitter_t *em, const char *text, int quoted)
{
    yaml_event_t e;
    yaml_scalar_event_initialize(&e, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), !quoted, 1,
                                 quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
    return yaml_emitter_emit(em, &e);
}

static int emit_node(yaml_emitter_t *em, const mt_yaml_node *n)
{
    yaml_event_t e;
    if (n->kind == MT_YAML_SCALAR) return emit_scalar(em, n->value, n->quoted);
    int is_map = n->kind == MT_YAML_MAP;
    /* short sequences of scalars in flow style: [1, 2] */
    int flow = !is_map && n->n <= 8;
    for (int i = 0; flow && i < n->n; i++)
        if (n->child[i]->kind != MT_YAML_SCALAR) flow = 0;
    if (is_map)
        yaml_mapping_start_event_initialize(&e, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    else
        yaml_sequence_start_event_initialize(&e, NULL, NULL, 1, flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
    if (!yaml_emitter_emit(em, &e)) return 0;
    for (int i = 0; i < n->n; i++) {
        if (is_map && !emit_scalar(em, n->child[i]->key, 0)) return 0;
        if (!emit_node(em, n->child[i])) return 0;
    }
    if (is_map)
        yaml_mapping_end_event_initialize(&e);
    else
        yaml_sequence_end_event_initialize(&e);
    return yaml_emitter_emit(em, &e);
}

mt_status mt_yaml_dump(const mt_yaml_node *root, char **text_out)
{
    yaml_emitter_t em;
    yaml_event_t e;
    dump_buf b = {0};
    *text_out = NULL;
    if (!yaml_emitter_initialize(&em)) return MT_ERR(MT_ERR_NOMEM, "libyaml: cannot initialise an emitter");
    yaml_emitter_set_output(&em, dump_write, &b);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, 100);
    int ok = 1;
    yaml_stream_start_event_initialize(&e, YAML_UTF8_ENCODING);
    ok = ok && yaml_emitter_emit(&em, &e);
    yaml_document_start_event_initialize(&e, NULL, NULL, NULL, 1);
    ok = ok && yaml_emitter_emit(&em, &e);
    ok = ok && emit_node(&em, root);
    yaml_document_end_event_initialize(&e, 1);
    ok = ok && yaml_emitter_emit(&em, &e);
    yaml_stream_end_event_initialize(&e);
    ok = ok && yaml_emitter_emit(&em, &e);
    ok = ok && yaml_emitter_flush(&em);
    const char *problem = em.problem;
    yaml_emitter_delete(&em);
    if (!ok || b.failed) {
        free(b.p);
        if (b.failed) return MT_ERR(MT_ERR_NOMEM, "out of memory writing YAML");
        return MT_ERR(MT_ERR_FORMAT, "libyaml emitter: %s", problem ? problem : "unknown problem");
    }
    *text_out = b.p;
    return MT_OK;
}

/* -------------------------------------------------------- conversion --- */

int mt_yaml_as_double(const mt_yaml_node *n, double *out)
{
    if (!n || n->kind != MT_YAML_SCALAR || n->quoted || !n->value[0]) return 0;
    const char *s = n->value;
    if (!strcmp(s, ".inf") || !strcmp(s, "+.inf") || !strcmp(s, "-.inf")) {
        *out = s[0] == '-' ? -HUGE_VAL : HUGE_VAL;
        return 1;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || end == s) return 0;
    for (const char *c = s; *c; c++) /* refuse hex / nan / inf spellings of strtod */
        if (isalpha((unsigned char)*c) && *c != 'e' && *c != 'E') return 0;
    *out = v;
    return 1;
}

int mt_yaml_as_int(const mt_yaml_node *n, long *out)
{
    if (!n || n->kind != MT_YAML_SCALAR || n->quoted || !n->value[0]) return 0;
    char *end;
    errno = 0;
    long v = strtol(n->value, &end, 10);
    if (*end || errno == ERANGE) {
        /* allow integral floats written like 1e3 */
        double d;
        if (!mt_yaml_as_double(n, &d) || !(fabs(d) <= 9e15) || d != floor(d)) return 0; /* range first: no UB cast */
        v = (long)d;
    }
    *out = v;
    return 1;
}

int mt_yaml_as_bool(const mt_yaml_node *n, int *out)
{
    if (!n || n->kind != MT_YAML_SCALAR || n->quoted) return 0;
    static const char *yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (!strcmp(n->value, yes[i]) || !strcmp(n->value, no[i])) {
            *out = !strcmp(n->value, yes[i]);
            return 1;
        }
    }
    return 0;
}

int mt_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 255 || lb > 255) return INT_MAX / 2;
    int row[256];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int prev = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cur = row[j];
            int sub = prev + (a[i - 1] != b[j - 1]);
            int del = row[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = cur;
        }
    }
    return row[lb];
}
