/* layers/weights.c: pretrained weights into a model's state_dict
 * (layers/weights.h). In order:
 *   1. open the source and list its tensors (names, shapes, dtypes; no values)
 *   2. map every source name to a state_dict name (skip, order rules, rules,
 *      default names; layers/weights_map.c), refusing two sources for one tensor
 *   3. check shapes after the layout conversion and dtypes, collecting
 *      mismatches (error, or skipped with skip_mismatched)
 *   4. read and convert every loaded tensor into host buffers
 *   5. only then copy them into the model, and fill the report.
 * Uses only the stable state_dict API of layers/model.h. */
#include "weights.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weights_internal.h"

const char *mt_weights_format_name(mt_weights_format f)
{
    switch (f) {
    case MT_WEIGHTS_AUTO: return "auto";
    case MT_WEIGHTS_KERAS_H5: return "keras-h5";
    case MT_WEIGHTS_SAFETENSORS: return "safetensors";
    case MT_WEIGHTS_CHECKPOINT: return "checkpoint";
    }
    return "?";
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcmp(s + ls - lx, suffix);
}

/* counters (BN num_batches_tracked, the Keras Normalization layer's int64 count, "<layer>.count")
   take integer sources and are never "missing" */
static int is_counter(const char *state_name)
{
    return ends_with(state_name, "num_batches_tracked") || ends_with(state_name, ".count");
}

/* -------------------------------------------------------------- sources --- */

mt_status mt_wsrc_add(mt_wsrc *s, mt_wsrc_tensor *t)
{
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        mt_wsrc_tensor *nt = mt_realloc(s->t, sizeof *nt * (size_t)cap);
        if (!nt) return MT_ERR_NOMEM;
        s->t = nt;
        s->cap = cap;
    }
    s->t[s->n++] = *t;
    return MT_OK;
}

long long mt_wsrc_order_key(const char *layer, size_t len)
{
    size_t i = len;
    while (i > 0 && isdigit((unsigned char)layer[i - 1])) i--;
    if (i == len || i == 0 || layer[i - 1] != '_' || len - i > 15) return 0;
    long long v = 0;
    for (size_t k = i; k < len; k++) v = v * 10 + (layer[k] - '0');
    return v;
}

/* which reader a file needs, from its first bytes (and a .safetensors name) */
static mt_status detect(const char *path, mt_weights_format *fmt)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return MT_ERR(MT_ERR_IO, "weights '%s': cannot open: %s", path, strerror(errno));
    unsigned char b[16];
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    if (n >= 8 && !memcmp(b, "\211HDF\r\n\032\n", 8)) {
        *fmt = MT_WEIGHTS_AUTO; /* Keras or checkpoint: decided from the content */
        return MT_OK;
    }
    if (ends_with(path, ".safetensors") || (n >= 9 && b[8] == '{')) {
        *fmt = MT_WEIGHTS_SAFETENSORS;
        return MT_OK;
    }
    if ((n >= 4 && !memcmp(b, "PK\003\004", 4)) || (n >= 1 && b[0] == 0x80))
        return MT_ERR(MT_ERR_UNSUPPORTED,
                      "weights '%s': a PyTorch pickle (.pt/.pth); convert it to safetensors first "
                      "(safetensors.torch.save_file(model.state_dict(), 'x.safetensors'))",
                      path);
    return MT_ERR(MT_ERR_FORMAT,
                  "weights '%s': not an HDF5 file (Keras .h5, medtrain checkpoint) nor safetensors%s", path,
                  n < 9 ? " (the file is shorter than 9 bytes)" : "");
}

mt_status mt_wsrc_open(const char *path, mt_weights_format format, mt_wsrc *s)
{
    return mt_wsrc_open_net(path, format, NULL, s);
}

mt_status mt_wsrc_open_net(const char *path, mt_weights_format format, const char *net, mt_wsrc *s)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    s->net = net && net[0] ? net : NULL;
    s->h5 = -1;
    s->fd = -1;
    mt_status st = MT_OK;
    if (format == MT_WEIGHTS_AUTO) st = detect(path, &format);
    if (st == MT_OK) st = format == MT_WEIGHTS_SAFETENSORS ? mt_wsrc_open_safetensors(s) : mt_wsrc_open_h5(s, format);
    if (st != MT_OK) mt_wsrc_close(s);
    return st;
}

mt_status mt_wsrc_read(mt_wsrc *s, int i, double *out, size_t numel, int counter)
{
    if (s->format == MT_WEIGHTS_SAFETENSORS) return mt_wsrc_read_safetensors(s, i, out, numel, counter);
    return mt_wsrc_read_h5(s, i, out, numel);
}

void mt_wsrc_close(mt_wsrc *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->t[i].name);
        free(s->t[i].kpath);
        free(s->t[i].kvar);
        free(s->t[i].h5_path);
    }
    free(s->t);
    mt_wsrc_close_h5(s);
    if (s->fd >= 0) close(s->fd);
    s->t = NULL;
    s->n = s->cap = 0;
    s->fd = -1;
}

static int dtype_loadable(mt_wdtype d, int counter)
{
    switch (d) {
    case MT_WD_F64: case MT_WD_F32: case MT_WD_F16: case MT_WD_BF16: case MT_WD_H5_FLOAT: return 1;
    case MT_WD_I64: case MT_WD_I32: case MT_WD_I16: case MT_WD_I8:
    case MT_WD_U64: case MT_WD_U32: case MT_WD_U16: case MT_WD_U8: case MT_WD_H5_INT: return counter;
    default: return 0;
    }
}

/* -------------------------------------------------------------- layouts --- */

static mt_wlayout auto_layout(const mt_wsrc_tensor *t)
{
    if (!t->kvar) return MT_WLAYOUT_NONE;
    if (!strcmp(t->kvar, "kernel") || !strcmp(t->kvar, "pointwise_kernel")) return MT_WLAYOUT_KERNEL;
    if (!strcmp(t->kvar, "depthwise_kernel")) return MT_WLAYOUT_DEPTHWISE;
    return MT_WLAYOUT_NONE;
}

static const char *layout_name(mt_wlayout l)
{
    return l == MT_WLAYOUT_KERNEL ? "Keras kernel" : l == MT_WLAYOUT_DEPTHWISE ? "Keras depthwise" : "no";
}

/* Output axis d takes input axis perm[d]; *reshape_dw: the depthwise reshape
 * [C, m, kh, kw] -> [C*m, 1, kh, kw] follows. Returns 0 if the layout does
 * not apply to this rank. */
static int layout_perm(mt_wlayout l, int ndim, int perm[8], int *reshape_dw)
{
    *reshape_dw = 0;
    for (int d = 0; d < ndim; d++) perm[d] = d;
    if (l == MT_WLAYOUT_KERNEL) {
        if (ndim < 2) return 0;
        perm[0] = ndim - 1;
        perm[1] = ndim - 2;
        for (int d = 2; d < ndim; d++) perm[d] = d - 2;
    } else if (l == MT_WLAYOUT_DEPTHWISE) {
        if (ndim != 4) return 0;
        perm[0] = 2, perm[1] = 3, perm[2] = 0, perm[3] = 1;
        *reshape_dw = 1;
    }
    return 1;
}

/* Shape in PyTorch layout; 0 if the layout does not apply. */
static int converted_shape(mt_wlayout l, const mt_wsrc_tensor *t, int *ndim, long long shape[8])
{
    int perm[8], dw;
    if (!layout_perm(l, t->ndim, perm, &dw)) return 0;
    *ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[perm[d]];
    if (dw) { /* [C, m, kh, kw] -> [C*m, 1, kh, kw] */
        shape[0] *= shape[1];
        shape[1] = 1;
    }
    return 1;
}

/* dst (row-major, converted) <- src (row-major, as stored) */
static void convert_values(mt_wlayout l, const mt_wsrc_tensor *t, const double *src, mt_real *dst)
{
    int perm[8], dw, nd = t->ndim;
    layout_perm(l, nd, perm, &dw);
    size_t n = 1, in_stride[8], step[8];
    for (int d = nd - 1; d >= 0; d--) {
        in_stride[d] = n;
        n *= (size_t)t->shape[d];
    }
    long long out_shape[8], idx[8] = {0};
    for (int d = 0; d < nd; d++) {
        out_shape[d] = t->shape[perm[d]];
        step[d] = in_stride[perm[d]];
    }
    size_t off = 0;
    for (size_t k = 0; k < n; k++) {
        dst[k] = (mt_real)src[off];
        for (int d = nd - 1; d >= 0; d--) { /* odometer over the output index */
            off += step[d];
            if (++idx[d] < out_shape[d]) break;
            off -= step[d] * (size_t)out_shape[d];
            idx[d] = 0;
        }
    }
}

/* ------------------------------------------------------------- mapping --- */

typedef struct wassign {
    int target;          /* state_dict index, or -1 */
    char *mapped;        /* state_dict name it maps to (NULL when skipped) */
    char *dflt;          /* default name */
    mt_wlayout layout;   /* from the rule; AUTO = by the Keras variable name */
    int skipped;         /* dropped by the map's skip */
    int mismatched;      /* shape differs (skip_mismatched) */
    int shape_ndim;      /* converted shape */
    long long shape[8];
} wassign;

typedef struct wload {
    mt_model *m;
    const char *path;
    mt_wsrc src;
    mt_wmap map;
    wassign *a;          /* per source tensor */
    int *owner;          /* per state tensor: source index + 1, or 0 */
    mt_real **staged;    /* per state tensor: converted values to copy */
} wload;

static int find_target(mt_model *m, const char *name)
{
    for (int j = 0; j < mt_model_state_count(m); j++)
        if (!strcmp(mt_model_state_name(m, j), name)) return j;
    return -1;
}

static char *default_name(const mt_wmap *map, const mt_wsrc_tensor *t)
{
    if (!t->kpath) return mt_strdup(t->name);
    const char *suffix = mt_wmap_suffix(map, t->kvar);
    size_t len = strlen(t->kpath) + strlen(suffix) + 2;
    char *s = mt_malloc(len);
    if (s) snprintf(s, len, "%s%s%s", t->kpath, t->kpath[0] ? "." : "", suffix);
    return s;
}

/* A rule's `from` against the stored name, then the default name; returns
 * the string it matched (for the replacement) or NULL. */
static const char *rule_match(const regex_t *re, const char *raw, const char *dflt, regmatch_t *pm)
{
    if (mt_wmap_match(re, raw, pm)) return raw;
    if (strcmp(raw, dflt) && mt_wmap_match(re, dflt, pm)) return dflt;
    return NULL;
}

static mt_status claim(wload *w, int i, int j)
{
    if (w->owner[j]) {
        const char *other = w->src.t[w->owner[j] - 1].name;
        return MT_ERR(MT_ERR_INVALID, "weights '%s': both '%s' and '%s' map to the model tensor '%s'; fix the name map",
                      w->path, other, w->src.t[i].name, mt_model_state_name(w->m, j));
    }
    w->owner[j] = i + 1;
    w->a[i].target = j;
    return MT_OK;
}

typedef struct keyed {
    long long key;
    int index;
} keyed;

static int cmp_keyed(const void *x, const void *y)
{
    const keyed *a = x, *b = y;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return a->index - b->index;
}

/* one `order:` rule: the k-th matching source (layer-number order) -> the
 * k-th unclaimed matching model tensor (state_dict order) */
static mt_status apply_order_rule(wload *w, const mt_wmap_rule *r)
{
    int ns = w->src.n, nt = mt_model_state_count(w->m);
    keyed *srcs = mt_malloc(sizeof *srcs * (size_t)(ns + 1));
    int *tgts = mt_malloc(sizeof *tgts * (size_t)(nt + 1));
    if (!srcs || !tgts) {
        free(srcs);
        free(tgts);
        return MT_ERR_NOMEM;
    }
    int n_src = 0, n_tgt = 0;
    for (int i = 0; i < ns; i++)
        if (!w->a[i].skipped && w->a[i].target < 0 && rule_match(&r->from, w->src.t[i].name, w->a[i].dflt, NULL))
            srcs[n_src++] = (keyed){w->src.t[i].order_key, i};
    for (int j = 0; j < nt; j++)
        if (!w->owner[j] && mt_wmap_match(&r->to_re, mt_model_state_name(w->m, j), NULL)) tgts[n_tgt++] = j;
    mt_status st = MT_OK;
    if (n_src != n_tgt) {
        st = MT_ERR(MT_ERR_INVALID,
                    "%s: weights map order rule: %d tensors of '%s' match from '%s' but %d model tensors match to "
                    "'%s' (they must pair one to one)",
                    r->where, n_src, w->path, r->from_text, n_tgt, r->to);
    } else {
        qsort(srcs, (size_t)n_src, sizeof *srcs, cmp_keyed);
        for (int k = 0; k < n_src && st == MT_OK; k++) {
            wassign *a = &w->a[srcs[k].index];
            a->layout = r->layout;
            if (!(a->mapped = mt_strdup(mt_model_state_name(w->m, tgts[k])))) st = MT_ERR_NOMEM;
            if (st == MT_OK) st = claim(w, srcs[k].index, tgts[k]);
        }
    }
    free(srcs);
    free(tgts);
    return st;
}

static mt_status map_names(wload *w)
{
    int ns = w->src.n;
    for (int i = 0; i < ns; i++) {
        w->a[i].target = -1;
        if (!(w->a[i].dflt = default_name(&w->map, &w->src.t[i]))) return MT_ERR_NOMEM;
    }
    for (int i = 0; i < ns; i++)
        for (int k = 0; k < w->map.n_skip && !w->a[i].skipped; k++)
            w->a[i].skipped = rule_match(&w->map.skip[k].from, w->src.t[i].name, w->a[i].dflt, NULL) != NULL;
    for (int k = 0; k < w->map.n_order; k++) MT_TRY(apply_order_rule(w, &w->map.order[k]));
    for (int i = 0; i < ns; i++) {
        wassign *a = &w->a[i];
        if (a->skipped || a->target >= 0) continue;
        regmatch_t pm[10];
        for (int k = 0; k < w->map.n_rules && !a->mapped; k++) {
            const mt_wmap_rule *r = &w->map.rules[k];
            const char *hit = rule_match(&r->from, w->src.t[i].name, a->dflt, pm);
            if (!hit) continue;
            if (!(a->mapped = mt_wmap_subst(r->to, hit, pm))) return MT_ERR_NOMEM;
            a->layout = r->layout;
        }
        if (!a->mapped && !(a->mapped = mt_strdup(a->dflt))) return MT_ERR_NOMEM;
        int j = find_target(w->m, a->mapped);
        if (j >= 0) MT_TRY(claim(w, i, j));
    }
    return MT_OK;
}

static void shape_text(int nd, const long long *s, char *buf, size_t len)
{
    size_t u = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < nd && u < len; i++) u += (size_t)snprintf(buf + u, len - u, "%s%lld", i ? ", " : "", s[i]);
    if (u < len) snprintf(buf + u, len - u, "]");
}

static void tensor_shape(const mt_tensor *t, int *nd, long long s[8])
{
    *nd = t->ndim;
    for (int d = 0; d < t->ndim; d++) s[d] = t->shape[d];
}

/* shapes after conversion against the model, and dtypes, in state_dict order */
static mt_status check_shapes(wload *w, int skip_mismatched, int *n_loaded)
{
    *n_loaded = 0;
    for (int j = 0; j < mt_model_state_count(w->m); j++) {
        if (!w->owner[j]) continue;
        wassign *a = &w->a[w->owner[j] - 1];
        const mt_wsrc_tensor *t = &w->src.t[w->owner[j] - 1];
        const char *tname = mt_model_state_name(w->m, a->target);
        if (a->layout == MT_WLAYOUT_AUTO) a->layout = auto_layout(t);
        char s1[160], s2[160];
        if (!converted_shape(a->layout, t, &a->shape_ndim, a->shape)) {
            shape_text(t->ndim, t->shape, s1, sizeof s1);
            return MT_ERR(MT_ERR_INVALID, "weights '%s': '%s' -> '%s': the %s layout does not apply to shape %s (check "
                          "the map's layout:)", w->path, t->name, tname, layout_name(a->layout), s1);
        }
        int nd;
        long long ms[8];
        tensor_shape(mt_model_state_tensor(w->m, a->target), &nd, ms);
        if (nd != a->shape_ndim || memcmp(ms, a->shape, sizeof *ms * (size_t)nd)) {
            if (skip_mismatched) {
                a->mismatched = 1;
                continue;
            }
            shape_text(a->shape_ndim, a->shape, s1, sizeof s1);
            shape_text(nd, ms, s2, sizeof s2);
            char conv[96] = "";
            if (a->layout != MT_WLAYOUT_NONE) snprintf(conv, sizeof conv, " (after the %s conversion)", layout_name(a->layout));
            return MT_ERR(MT_ERR_INVALID,
                          "weights '%s': tensor '%s' has shape %s in the file%s ('%s') but the model expects %s; "
                          "strict: false / --skip-mismatched leaves it as initialised",
                          w->path, tname, s1, conv, t->name, s2);
        }
        if (!dtype_loadable(t->dtype, is_counter(tname)))
            return MT_ERR(MT_ERR_UNSUPPORTED,
                          "weights '%s': tensor '%s' has dtype %s; medtrain loads F32, F64, F16 and BF16 (integers "
                          "only into *.num_batches_tracked)",
                          w->path, t->name, mt_wdtype_name(t->dtype));
        (*n_loaded)++;
    }
    return MT_OK;
}

/* reads and converts every loaded tensor into w->staged[target] */
static mt_status stage(wload *w)
{
    for (int i = 0; i < w->src.n; i++) {
        const wassign *a = &w->a[i];
        if (a->target < 0 || a->mismatched) continue;
        const mt_tensor *dst = mt_model_state_tensor(w->m, a->target);
        size_t n = mt_numel(dst);
        double *raw = mt_malloc(n * sizeof *raw + 1);
        mt_real *out = mt_malloc(n * sizeof *out + 1);
        mt_status st = raw && out ? mt_wsrc_read(&w->src, i, raw, n, is_counter(mt_model_state_name(w->m, a->target)))
                                  : MT_ERR_NOMEM;
        if (st == MT_OK) convert_values(a->layout, &w->src.t[i], raw, out);
        free(raw);
        if (st != MT_OK) {
            free(out);
            return st;
        }
        w->staged[a->target] = out;
    }
    return MT_OK;
}

/* ---------------------------------------------------------------- report --- */

static mt_status item_set(mt_weights_item *it, const char *source, const char *target, int snd, const long long *ss,
                          const mt_tensor *dst)
{
    memset(it, 0, sizeof *it);
    it->src_ndim = snd;
    for (int d = 0; d < snd; d++) it->src_shape[d] = ss[d];
    it->dst_ndim = dst ? dst->ndim : -1;
    for (int d = 0; dst && d < dst->ndim; d++) it->dst_shape[d] = dst->shape[d];
    if (source && !(it->source = mt_strdup(source))) return MT_ERR_NOMEM;
    if (target && !(it->target = mt_strdup(target))) return MT_ERR_NOMEM;
    return MT_OK;
}

static mt_status fill_report(wload *w, mt_weights_report *rep)
{
    int ns = w->src.n, nt = mt_model_state_count(w->m);
    rep->format = w->src.format;
    rep->n_source = ns;
    rep->loaded = mt_calloc((size_t)nt + 1, sizeof *rep->loaded);
    rep->mismatched = mt_calloc((size_t)nt + 1, sizeof *rep->mismatched);
    rep->missing = mt_calloc((size_t)nt + 1, sizeof *rep->missing);
    rep->unexpected = mt_calloc((size_t)ns + 1, sizeof *rep->unexpected);
    rep->skipped = mt_calloc((size_t)ns + 1, sizeof *rep->skipped);
    if (!rep->loaded || !rep->mismatched || !rep->missing || !rep->unexpected || !rep->skipped) return MT_ERR_NOMEM;
    for (int j = 0; j < nt; j++) {
        const char *name = mt_model_state_name(w->m, j);
        const mt_tensor *t = mt_model_state_tensor(w->m, j);
        if (!w->owner[j]) {
            if (!is_counter(name)) MT_TRY(item_set(&rep->missing[rep->n_missing++], NULL, name, -1, NULL, t));
            continue;
        }
        int i = w->owner[j] - 1;
        const wassign *a = &w->a[i];
        mt_weights_item *it = a->mismatched ? &rep->mismatched[rep->n_mismatched++] : &rep->loaded[rep->n_loaded++];
        MT_TRY(item_set(it, w->src.t[i].name, name, a->shape_ndim, a->shape, t));
    }
    for (int i = 0; i < ns; i++) {
        const wassign *a = &w->a[i];
        const mt_wsrc_tensor *s = &w->src.t[i];
        if (a->skipped) MT_TRY(item_set(&rep->skipped[rep->n_skipped++], s->name, NULL, s->ndim, s->shape, NULL));
        else if (a->target < 0) MT_TRY(item_set(&rep->unexpected[rep->n_unexpected++], s->name, a->mapped, s->ndim, s->shape, NULL));
    }
    return MT_OK;
}

static void free_items(mt_weights_item *v, int n)
{
    for (int i = 0; v && i < n; i++) {
        free(v[i].source);
        free(v[i].target);
    }
    free(v);
}

void mt_weights_report_free(mt_weights_report *rep)
{
    if (!rep) return;
    free_items(rep->loaded, rep->n_loaded);
    free_items(rep->mismatched, rep->n_mismatched);
    free_items(rep->missing, rep->n_missing);
    free_items(rep->unexpected, rep->n_unexpected);
    free_items(rep->skipped, rep->n_skipped);
    memset(rep, 0, sizeof *rep);
}

static void print_list(FILE *f, const char *title, const mt_weights_item *v, int n, int max_lines)
{
    if (n == 0) return;
    fprintf(f, "  %s (%d):\n", title, n);
    for (int i = 0; i < n; i++) {
        if (max_lines > 0 && i == max_lines) {
            fprintf(f, "    ... and %d more\n", n - i);
            return;
        }
        char a[160] = "", b[160] = "";
        long long ds[8];
        for (int d = 0; d < v[i].dst_ndim; d++) ds[d] = v[i].dst_shape[d];
        if (v[i].src_ndim >= 0) shape_text(v[i].src_ndim, v[i].src_shape, a, sizeof a);
        if (v[i].dst_ndim >= 0) shape_text(v[i].dst_ndim, ds, b, sizeof b);
        if (v[i].source && v[i].target && v[i].dst_ndim >= 0)
            fprintf(f, "    %s: model %s, file %s ('%s')\n", v[i].target, b, a, v[i].source);
        else if (v[i].source && v[i].target)
            fprintf(f, "    '%s' %s -> '%s' (no such model tensor)\n", v[i].source, a, v[i].target);
        else if (v[i].source)
            fprintf(f, "    '%s' %s\n", v[i].source, a);
        else
            fprintf(f, "    %s %s\n", v[i].target, b);
    }
}

void mt_weights_report_print(FILE *f, const mt_weights_report *rep, const char *path, int max_lines, int verbose)
{
    fprintf(f, "loaded %d tensors from %s '%s' (%d in the file): %d skipped (shape), %d missing, %d unexpected, "
               "%d dropped by the map\n",
            rep->n_loaded, mt_weights_format_name(rep->format), path ? path : "", rep->n_source, rep->n_mismatched,
            rep->n_missing, rep->n_unexpected, rep->n_skipped);
    if (verbose) print_list(f, "loaded", rep->loaded, rep->n_loaded, max_lines);
    print_list(f, "shape differs, left as initialised", rep->mismatched, rep->n_mismatched, max_lines);
    print_list(f, "missing in the file, left as initialised", rep->missing, rep->n_missing, max_lines);
    print_list(f, "unexpected (mapped to no model tensor)", rep->unexpected, rep->n_unexpected, max_lines);
    print_list(f, "dropped by the map's skip", rep->skipped, rep->n_skipped, max_lines);
}

/* ------------------------------------------------------------------ load --- */

static mt_status load(wload *w, const mt_weights_options *opt, mt_weights_report *rep)
{
    MT_TRY(opt->map_path ? mt_wmap_load(opt->map_path, &w->map) : mt_wmap_default(&w->map));
    MT_TRY(mt_wsrc_open_net(w->path, opt->format, opt->checkpoint_net, &w->src));
    MT_REQUIRE(!w->src.net || w->src.format == MT_WEIGHTS_CHECKPOINT,
               "weights '%s': a network name (%s) applies to medtrain checkpoints only, this file is %s", w->path,
               w->src.net, mt_weights_format_name(w->src.format));
    int nt = mt_model_state_count(w->m);
    w->a = mt_calloc((size_t)w->src.n + 1, sizeof *w->a);
    w->owner = mt_calloc((size_t)nt + 1, sizeof *w->owner);
    w->staged = mt_calloc((size_t)nt + 1, sizeof *w->staged);
    if (!w->a || !w->owner || !w->staged) return MT_ERR_NOMEM;
    MT_TRY(map_names(w));
    int n_loaded;
    MT_TRY(check_shapes(w, opt->skip_mismatched, &n_loaded));
    if (n_loaded == 0) {
        char first[512] = "";
        for (int i = 0; i < w->src.n && !first[0]; i++)
            if (w->a[i].target < 0 && w->a[i].mapped)
                snprintf(first, sizeof first, "; e.g. '%s' maps to '%s', which the model lacks", w->src.t[i].name,
                         w->a[i].mapped);
        return MT_ERR(MT_ERR_INVALID, "weights '%s' (%s, %d tensors): no tensor matches the model%s; give a name "
                      "map (docs/weights.md)", w->path, mt_weights_format_name(w->src.format), w->src.n, first);
    }
    MT_TRY(stage(w));
    if (rep) MT_TRY(fill_report(w, rep));
    for (int j = 0; j < nt; j++) {
        if (!w->staged[j]) continue;
        mt_tensor *t = mt_model_state_tensor(w->m, j);
        MT_TRY(mt_tensor_from_host_into(t, w->staged[j], mt_numel(t) * sizeof(mt_real)));
    }
    return MT_OK;
}

mt_status mt_weights_load(mt_model *m, const char *path, const mt_weights_options *opt, mt_weights_report *rep)
{
    if (rep) memset(rep, 0, sizeof *rep);
    MT_REQUIRE(m && path, "weights load: NULL model or path");
    mt_weights_options defaults = {MT_WEIGHTS_AUTO, NULL, 0};
    wload w;
    memset(&w, 0, sizeof w);
    w.m = m;
    w.path = path;
    w.src.h5 = -1;
    w.src.fd = -1;
    mt_status st = load(&w, opt ? opt : &defaults, rep);
    for (int i = 0; w.a && i < w.src.n; i++) {
        free(w.a[i].mapped);
        free(w.a[i].dflt);
    }
    for (int j = 0; w.staged && j < mt_model_state_count(m); j++) free(w.staged[j]);
    free(w.a);
    free(w.owner);
    free(w.staged);
    mt_wsrc_close(&w.src);
    mt_wmap_free(&w.map);
    if (st != MT_OK && rep) mt_weights_report_free(rep);
    return st;
}
