/* train/sweep.c: reading a sweep file and expanding its trials (sweep.h). */
#include "sweep.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../configs/config.h"
#include "../core/rng.h"
#include "../core/yaml_tree.h"
#include "run_dir.h"

#define MAX_TRIALS 100000

static const char *const k_keys[] = {"experiment", "name", "set",  "grid",  "seeds", "folds", "random",
                                     "trials",     "seed", "metric", "mode", "local", "slurm"};
static const char *const k_local_keys[] = {"concurrent", "threads"};
static const char *const k_slurm_keys[] = {"partition", "time", "mem", "account", "qos",
                                           "cpus_per_task", "gpus", "max_parallel", "sbatch"};
static const char *const k_random_keys[] = {"low", "high", "log", "int", "choice"};
#define N_OF(a) ((int)(sizeof a / sizeof *a))

static mt_status unknown_key(const mt_yaml_node *n, const char *where, const char *const *allowed, int n_allowed)
{
    char pos[512], list[512] = "";
    size_t len = 0;
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int i = 0; i < n_allowed; i++) {
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", allowed[i]);
        if (len >= sizeof list) len = sizeof list - 1;
        int d = mt_edit_distance(n->key, allowed[i]);
        if (d < best_d) best_d = d, best = allowed[i];
    }
    char hint[96] = "";
    if (best && best_d <= 2) snprintf(hint, sizeof hint, "; did you mean '%s'?", best);
    return MT_ERR(MT_ERR_INVALID, "%s: unknown key '%s' in %s; allowed: %s%s", mt_yaml_key_where(n, pos, sizeof pos),
                  n->key, where, list, hint);
}

static mt_status check_keys(const mt_yaml_node *map, const char *where, const char *const *allowed, int n_allowed)
{
    char pos[512];
    if (map->kind != MT_YAML_MAP)
        return MT_ERR(MT_ERR_INVALID, "%s: %s must be a map of keys", mt_yaml_where(map, pos, sizeof pos), where);
    for (int i = 0; i < map->n; i++) {
        int ok = 0;
        for (int k = 0; k < n_allowed && !ok; k++) ok = !strcmp(map->child[i]->key, allowed[k]);
        if (!ok) return unknown_key(map->child[i], where, allowed, n_allowed);
    }
    return MT_OK;
}

static mt_status scalar_text(const mt_yaml_node *n, const char *what, char **out)
{
    char pos[512];
    if (n->kind != MT_YAML_SCALAR || !n->value[0])
        return MT_ERR(MT_ERR_INVALID, "%s: %s must be a non-empty value", mt_yaml_where(n, pos, sizeof pos), what);
    *out = mt_strdup(n->value);
    return *out ? MT_OK : MT_ERR_NOMEM;
}

static mt_status int_value(const mt_yaml_node *n, const char *what, long lo, long hi, int *out)
{
    char pos[512];
    long v;
    if (n->kind != MT_YAML_SCALAR || !mt_yaml_as_int(n, &v) || v < lo || v > hi)
        return MT_ERR(MT_ERR_INVALID, "%s: %s must be an integer in [%ld, %ld]", mt_yaml_where(n, pos, sizeof pos),
                      what, lo, hi);
    *out = (int)v;
    return MT_OK;
}

/* A value as the text a --set would carry: a scalar as written; a list or map as YAML flow text. */
static mt_status value_text(const mt_yaml_node *n, char **out)
{
    if (n->kind == MT_YAML_SCALAR) {
        size_t len = strlen(n->value);
        *out = mt_malloc(len + 3);
        if (!*out) return MT_ERR_NOMEM;
        if (n->quoted) snprintf(*out, len + 3, "'%s'", n->value); /* stays a string */
        else memcpy(*out, n->value, len + 1);
        return MT_OK;
    }
    char *dump = NULL;
    MT_TRY(mt_yaml_dump(n, &dump));
    /* block style to one line: "- a\n- b\n" -> "[a, b]" for sequences of scalars */
    if (n->kind == MT_YAML_SEQ) {
        size_t cap = strlen(dump) + 4, len = 0;
        char *s = mt_malloc(cap + 2 * (size_t)n->n + 8);
        if (!s) {
            free(dump);
            return MT_ERR_NOMEM;
        }
        s[len++] = '[';
        for (int i = 0; i < n->n; i++) {
            char pos[512];
            if (n->child[i]->kind != MT_YAML_SCALAR) {
                free(dump);
                free(s);
                return MT_ERR(MT_ERR_INVALID, "%s: a swept value may be a list of scalars, not nested lists",
                              mt_yaml_where(n->child[i], pos, sizeof pos));
            }
            len += (size_t)sprintf(s + len, "%s%s", i ? ", " : "", n->child[i]->value);
        }
        s[len++] = ']';
        s[len] = 0;
        free(dump);
        *out = s;
        return MT_OK;
    }
    free(dump);
    char pos[512];
    return MT_ERR(MT_ERR_INVALID, "%s: a swept value must be a scalar or a list of scalars",
                  mt_yaml_where(n, pos, sizeof pos));
}

static mt_status add_dim(mt_sweep *sw, const mt_yaml_node *where, const char *key, mt_sweep_dim **out)
{
    char pos[512];
    for (int d = 0; d < sw->n_dims; d++)
        if (!strcmp(sw->dims[d].key, key))
            return MT_ERR(MT_ERR_INVALID, "%s: '%s' is swept twice (grid, random, seeds or folds)",
                          mt_yaml_key_where(where, pos, sizeof pos), key);
    if (sw->n_dims >= MT_SWEEP_MAX_DIMS)
        return MT_ERR(MT_ERR_INVALID, "%s: at most %d swept keys", mt_yaml_key_where(where, pos, sizeof pos),
                      MT_SWEEP_MAX_DIMS);
    mt_sweep_dim *d = &sw->dims[sw->n_dims++];
    memset(d, 0, sizeof *d);
    d->key = mt_strdup(key);
    if (!d->key) return MT_ERR_NOMEM;
    *out = d;
    return MT_OK;
}

/* A list of values (grid entry, seeds, choice). */
static mt_status list_values(const mt_yaml_node *n, mt_sweep_dim *d)
{
    char pos[512];
    if (n->kind != MT_YAML_SEQ || n->n == 0)
        return MT_ERR(MT_ERR_INVALID, "%s: '%s' needs a non-empty list of values, e.g. [1.0e-3, 2.0e-3]",
                      mt_yaml_where(n, pos, sizeof pos), d->key);
    d->values = mt_calloc((size_t)n->n, sizeof *d->values);
    if (!d->values) return MT_ERR_NOMEM;
    for (int i = 0; i < n->n; i++) {
        MT_TRY(value_text(n->child[i], &d->values[i]));
        d->n_values++;
    }
    return MT_OK;
}

static mt_status parse_random(mt_sweep *sw, const mt_yaml_node *map)
{
    char pos[512];
    for (int i = 0; i < map->n; i++) {
        const mt_yaml_node *e = map->child[i];
        mt_sweep_dim *d;
        MT_TRY(add_dim(sw, e, e->key, &d));
        d->random = 1;
        MT_TRY(check_keys(e, "a random range (random.<key>)", k_random_keys, N_OF(k_random_keys)));
        const mt_yaml_node *choice = mt_yaml_map_get(e, "choice");
        const mt_yaml_node *lo = mt_yaml_map_get(e, "low"), *hi = mt_yaml_map_get(e, "high");
        if (choice) {
            if (lo || hi)
                return MT_ERR(MT_ERR_INVALID, "%s: random.%s has both choice and low/high; give one",
                              mt_yaml_where(e, pos, sizeof pos), e->key);
            MT_TRY(list_values(choice, d));
            continue;
        }
        if (!lo || !hi || !mt_yaml_as_double(lo, &d->low) || !mt_yaml_as_double(hi, &d->high) ||
            !(d->low <= d->high))
            return MT_ERR(MT_ERR_INVALID,
                          "%s: random.%s needs numbers low <= high (or choice: [...]), e.g. {low: 1.0e-4, high: "
                          "1.0e-2, log: true}",
                          mt_yaml_where(e, pos, sizeof pos), e->key);
        const mt_yaml_node *lg = mt_yaml_map_get(e, "log"), *in = mt_yaml_map_get(e, "int");
        if (lg && !mt_yaml_as_bool(lg, &d->log_scale))
            return MT_ERR(MT_ERR_INVALID, "%s: log must be true or false", mt_yaml_where(lg, pos, sizeof pos));
        if (in && !mt_yaml_as_bool(in, &d->integer))
            return MT_ERR(MT_ERR_INVALID, "%s: int must be true or false", mt_yaml_where(in, pos, sizeof pos));
        if (d->log_scale && !(d->low > 0))
            return MT_ERR(MT_ERR_INVALID, "%s: random.%s: a log range needs low > 0",
                          mt_yaml_where(e, pos, sizeof pos), e->key);
    }
    return MT_OK;
}

static mt_status parse_slurm(mt_sweep *sw, const mt_yaml_node *m)
{
    MT_TRY(check_keys(m, "slurm", k_slurm_keys, N_OF(k_slurm_keys)));
    mt_sweep_slurm *s = &sw->slurm;
    for (int i = 0; i < m->n; i++) {
        const mt_yaml_node *e = m->child[i];
        const char *k = e->key;
        if (!strcmp(k, "partition")) MT_TRY(scalar_text(e, "slurm.partition", &s->partition));
        else if (!strcmp(k, "time")) MT_TRY(scalar_text(e, "slurm.time", &s->time));
        else if (!strcmp(k, "mem")) MT_TRY(scalar_text(e, "slurm.mem", &s->mem));
        else if (!strcmp(k, "account")) MT_TRY(scalar_text(e, "slurm.account", &s->account));
        else if (!strcmp(k, "qos")) MT_TRY(scalar_text(e, "slurm.qos", &s->qos));
        else if (!strcmp(k, "cpus_per_task")) MT_TRY(int_value(e, "slurm.cpus_per_task", 1, 4096, &s->cpus_per_task));
        else if (!strcmp(k, "gpus")) MT_TRY(int_value(e, "slurm.gpus", 0, 64, &s->gpus));
        else if (!strcmp(k, "max_parallel")) MT_TRY(int_value(e, "slurm.max_parallel", 0, 100000, &s->max_parallel));
        else { /* sbatch: list of extra option lines */
            char pos[512];
            if (e->kind != MT_YAML_SEQ)
                return MT_ERR(MT_ERR_INVALID, "%s: slurm.sbatch must be a list of sbatch options, e.g. [\"--constraint=a100\"]",
                              mt_yaml_where(e, pos, sizeof pos));
            s->extra = mt_calloc((size_t)e->n + 1, sizeof *s->extra);
            if (!s->extra) return MT_ERR_NOMEM;
            for (int j = 0; j < e->n; j++) {
                MT_TRY(scalar_text(e->child[j], "an slurm.sbatch entry", &s->extra[j]));
                s->n_extra++;
                if (strchr(s->extra[j], '\n'))
                    return MT_ERR(MT_ERR_INVALID, "%s: an slurm.sbatch entry must be one line",
                                  mt_yaml_where(e->child[j], pos, sizeof pos));
            }
        }
    }
    return MT_OK;
}

/* Directory of `path` (absolute) into out. */
static void dir_of(const char *path, char *out, size_t len)
{
    snprintf(out, len, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash) *slash = 0;
    else snprintf(out, len, ".");
}

static mt_status parse(mt_sweep *sw, const mt_yaml_node *root)
{
    char pos[512];
    MT_TRY(check_keys(root, "the sweep", k_keys, N_OF(k_keys)));
    sw->mode_max = 1;
    sw->concurrent = 1;
    sw->n_samples = 1;
    int trials_given = 0;
    const mt_yaml_node *exp = mt_yaml_map_get(root, "experiment");
    if (!exp)
        return MT_ERR(MT_ERR_INVALID, "%s: the sweep needs `experiment: FILE.yaml` (the base experiment)", sw->path);
    char *rel = NULL;
    MT_TRY(scalar_text(exp, "experiment", &rel));
    char dir[PATH_MAX], joined[2 * PATH_MAX + 2];
    dir_of(sw->path, dir, sizeof dir);
    if (rel[0] == '/') snprintf(joined, sizeof joined, "%s", rel);
    else snprintf(joined, sizeof joined, "%s/%s", dir, rel);
    free(rel);
    char abs[PATH_MAX];
    if (!realpath(joined, abs))
        return MT_ERR(MT_ERR_IO, "%s: experiment file %s not found", mt_yaml_where(exp, pos, sizeof pos), joined);
    sw->experiment = mt_strdup(abs);
    if (!sw->experiment) return MT_ERR_NOMEM;
    for (int i = 0; i < root->n; i++) {
        const mt_yaml_node *e = root->child[i];
        const char *k = e->key;
        if (!strcmp(k, "experiment")) continue;
        if (!strcmp(k, "name")) MT_TRY(scalar_text(e, "name", &sw->name));
        else if (!strcmp(k, "metric")) MT_TRY(scalar_text(e, "metric", &sw->metric));
        else if (!strcmp(k, "mode")) {
            if (e->kind != MT_YAML_SCALAR || (strcmp(e->value, "max") && strcmp(e->value, "min")))
                return MT_ERR(MT_ERR_INVALID, "%s: mode must be max or min", mt_yaml_where(e, pos, sizeof pos));
            sw->mode_max = !strcmp(e->value, "max");
        } else if (!strcmp(k, "trials")) {
            MT_TRY(int_value(e, "trials", 1, MAX_TRIALS, &sw->n_samples));
            trials_given = 1;
        } else if (!strcmp(k, "seed")) {
            long v;
            if (e->kind != MT_YAML_SCALAR || !mt_yaml_as_int(e, &v) || v < 0)
                return MT_ERR(MT_ERR_INVALID, "%s: seed must be an integer >= 0", mt_yaml_where(e, pos, sizeof pos));
            sw->seed = (uint64_t)v;
        } else if (!strcmp(k, "folds")) {
            MT_TRY(int_value(e, "folds", 3, 1000, &sw->folds));
        } else if (!strcmp(k, "set")) {
            if (e->kind != MT_YAML_MAP)
                return MT_ERR(MT_ERR_INVALID, "%s: set must be a map of config keys, e.g. {train.epochs: 5}",
                              mt_yaml_where(e, pos, sizeof pos));
            sw->sets = mt_calloc((size_t)e->n + 1, sizeof *sw->sets);
            if (!sw->sets) return MT_ERR_NOMEM;
            for (int j = 0; j < e->n; j++) {
                char *v = NULL;
                MT_TRY(value_text(e->child[j], &v));
                size_t len = strlen(e->child[j]->key) + strlen(v) + 2;
                sw->sets[j] = mt_malloc(len);
                if (!sw->sets[j]) {
                    free(v);
                    return MT_ERR_NOMEM;
                }
                snprintf(sw->sets[j], len, "%s=%s", e->child[j]->key, v);
                free(v);
                sw->n_sets++;
            }
        } else if (!strcmp(k, "grid")) {
            if (e->kind != MT_YAML_MAP)
                return MT_ERR(MT_ERR_INVALID, "%s: grid must be a map of config keys to lists",
                              mt_yaml_where(e, pos, sizeof pos));
            for (int j = 0; j < e->n; j++) {
                mt_sweep_dim *d;
                MT_TRY(add_dim(sw, e->child[j], e->child[j]->key, &d));
                MT_TRY(list_values(e->child[j], d));
            }
        } else if (!strcmp(k, "seeds")) {
            mt_sweep_dim *d;
            MT_TRY(add_dim(sw, e, "train.seed", &d));
            MT_TRY(list_values(e, d));
        } else if (!strcmp(k, "random")) {
            if (e->kind != MT_YAML_MAP)
                return MT_ERR(MT_ERR_INVALID, "%s: random must be a map of config keys to ranges",
                              mt_yaml_where(e, pos, sizeof pos));
            MT_TRY(parse_random(sw, e));
        } else if (!strcmp(k, "local")) {
            MT_TRY(check_keys(e, "local", k_local_keys, N_OF(k_local_keys)));
            const mt_yaml_node *c = mt_yaml_map_get(e, "concurrent"), *t = mt_yaml_map_get(e, "threads");
            if (c) MT_TRY(int_value(c, "local.concurrent", 1, 1024, &sw->concurrent));
            if (t) MT_TRY(int_value(t, "local.threads", 0, 1024, &sw->threads));
        } else if (!strcmp(k, "slurm")) {
            MT_TRY(parse_slurm(sw, e));
        }
    }
    int any_random = 0;
    for (int d = 0; d < sw->n_dims; d++) any_random |= sw->dims[d].random;
    if (trials_given && !any_random)
        return MT_ERR(MT_ERR_INVALID, "%s: trials: %d needs a random: section (a grid has as many trials as points)",
                      sw->path, sw->n_samples);
    if (sw->folds) { /* folds: K = grid over data.fold (last, fastest) with data.folds fixed */
        const mt_yaml_node *f = mt_yaml_map_get(root, "folds");
        mt_sweep_dim *d;
        MT_TRY(add_dim(sw, f, "data.fold", &d));
        d->values = mt_calloc((size_t)sw->folds, sizeof *d->values);
        if (!d->values) return MT_ERR_NOMEM;
        for (int j = 0; j < sw->folds; j++) {
            char v[16];
            snprintf(v, sizeof v, "%d", j);
            if (!(d->values[j] = mt_strdup(v))) return MT_ERR_NOMEM;
            d->n_values++;
        }
    }
    if (!sw->name) {
        const char *base = strrchr(sw->path, '/');
        base = base ? base + 1 : sw->path;
        sw->name = mt_strdup(base);
        if (!sw->name) return MT_ERR_NOMEM;
        char *dot = strrchr(sw->name, '.');
        if (dot) *dot = 0;
    }
    if (!sw->metric && !(sw->metric = mt_strdup(""))) return MT_ERR_NOMEM;
    return MT_OK;
}

/* seeds and folds move after the grid keys (folds last), so trials of one configuration are adjacent */
static void order_dims(mt_sweep *sw)
{
    mt_sweep_dim tmp[MT_SWEEP_MAX_DIMS];
    int n = 0;
    for (int pass = 0; pass < 4; pass++)
        for (int d = 0; d < sw->n_dims; d++) {
            const mt_sweep_dim *x = &sw->dims[d];
            int cls = x->random ? 0 : !strcmp(x->key, "data.fold") ? 3 : !strcmp(x->key, "train.seed") ? 2 : 1;
            if (cls == pass) tmp[n++] = *x;
        }
    memcpy(sw->dims, tmp, sizeof tmp[0] * (size_t)n);
}

/* Random value of dimension d (index di) for sample s, as YAML text. */
static mt_status random_value(const mt_sweep *sw, const mt_sweep_dim *d, int di, int s, char **out)
{
    uint64_t counter = ((uint64_t)s << 8) | (uint64_t)di;
    double u = mt_philox_uniform_d(sw->seed ^ 0x5357454550ull /* "SWEEP" */, counter);
    if (d->n_values) {
        int j = (int)(u * d->n_values);
        if (j >= d->n_values) j = d->n_values - 1;
        *out = mt_strdup(d->values[j]);
        return *out ? MT_OK : MT_ERR_NOMEM;
    }
    double v = d->log_scale ? exp(log(d->low) + u * (log(d->high) - log(d->low))) : d->low + u * (d->high - d->low);
    char buf[64];
    if (d->integer) {
        double r = floor(d->low + u * (floor(d->high) - ceil(d->low) + 1));
        if (d->log_scale) r = floor(v + 0.5);
        if (r > d->high) r = floor(d->high);
        if (r < d->low) r = ceil(d->low);
        snprintf(buf, sizeof buf, "%.0f", r);
    } else {
        snprintf(buf, sizeof buf, "%.6g", v);
        if (!strpbrk(buf, ".eEn")) strcat(buf, ".0"); /* stays a float in YAML */
    }
    *out = mt_strdup(buf);
    return *out ? MT_OK : MT_ERR_NOMEM;
}

static mt_status expand(mt_sweep *sw)
{
    long n = sw->n_samples;
    for (int d = 0; d < sw->n_dims; d++)
        if (!sw->dims[d].random) {
            n *= sw->dims[d].n_values;
            if (n > MAX_TRIALS) break;
        }
    if (n > MAX_TRIALS)
        return MT_ERR(MT_ERR_INVALID, "%s: more than %d trials; make the grid smaller", sw->path, MAX_TRIALS);
    sw->n_trials = (int)n;
    sw->n_params = sw->n_dims + (sw->folds ? 1 : 0);
    sw->param_keys = mt_calloc((size_t)sw->n_params + 1, sizeof *sw->param_keys);
    sw->param_values = mt_calloc((size_t)n * (size_t)sw->n_params + 1, sizeof *sw->param_values);
    if (!sw->param_keys || !sw->param_values) return MT_ERR_NOMEM;
    for (int d = 0; d < sw->n_dims; d++)
        if (!(sw->param_keys[d] = mt_strdup(sw->dims[d].key))) return MT_ERR_NOMEM;
    if (sw->folds && !(sw->param_keys[sw->n_dims] = mt_strdup("data.folds"))) return MT_ERR_NOMEM;
    for (int t = 0; t < sw->n_trials; t++) {
        long rest = t;
        char **row = &sw->param_values[(size_t)t * (size_t)sw->n_params];
        for (int d = sw->n_dims - 1; d >= 0; d--) { /* grid digits, last dimension fastest */
            const mt_sweep_dim *x = &sw->dims[d];
            if (x->random) continue;
            int j = (int)(rest % x->n_values);
            rest /= x->n_values;
            if (!(row[d] = mt_strdup(x->values[j]))) return MT_ERR_NOMEM;
        }
        int sample = (int)rest; /* what is left: the random sample, outermost */
        for (int d = 0; d < sw->n_dims; d++)
            if (sw->dims[d].random) MT_TRY(random_value(sw, &sw->dims[d], d, sample, &row[d]));
        if (sw->folds) {
            char v[16];
            snprintf(v, sizeof v, "%d", sw->folds);
            if (!(row[sw->n_dims] = mt_strdup(v))) return MT_ERR_NOMEM;
        }
    }
    return MT_OK;
}

/* Every trial's config loads: wrong keys and values show before anything runs. */
static mt_status check_trials(const mt_sweep *sw)
{
    int n_sets = sw->n_sets + sw->n_params;
    char **sets = mt_calloc((size_t)n_sets + 1, sizeof *sets);
    if (!sets) return MT_ERR_NOMEM;
    mt_status st = MT_OK;
    for (int t = 0; t < sw->n_trials && st == MT_OK; t++) {
        for (int i = 0; i < sw->n_sets; i++) sets[i] = sw->sets[i];
        for (int p = 0; p < sw->n_params && st == MT_OK; p++) {
            const char *k = sw->param_keys[p], *v = sw->param_values[(size_t)t * (size_t)sw->n_params + p];
            size_t len = strlen(k) + strlen(v) + 2;
            sets[sw->n_sets + p] = mt_malloc(len);
            if (!sets[sw->n_sets + p]) st = MT_ERR_NOMEM;
            else snprintf(sets[sw->n_sets + p], len, "%s=%s", k, v);
        }
        if (st == MT_OK) {
            mt_experiment e;
            memset(&e, 0, sizeof e);
            st = mt_experiment_load(sw->experiment, n_sets, (const char *const *)sets, &e);
            if (st == MT_OK) mt_experiment_free(&e);
            else {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s", mt_last_error());
                mt_error_clear();
                st = MT_ERR(st, "%s: trial %d does not load: %s", sw->path, t, msg);
            }
        }
        for (int p = 0; p < sw->n_params; p++) {
            free(sets[sw->n_sets + p]);
            sets[sw->n_sets + p] = NULL;
        }
    }
    free(sets);
    return st;
}

mt_status mt_sweep_load(const char *path, mt_sweep *sw)
{
    MT_REQUIRE(path && sw, "mt_sweep_load: NULL argument");
    char abs[PATH_MAX];
    if (!realpath(path, abs)) return MT_ERR(MT_ERR_IO, "sweep file %s not found", path);
    if (!(sw->path = mt_strdup(abs))) return MT_ERR_NOMEM;
    size_t len;
    MT_TRY(mt_read_file(abs, &sw->text, &len));
    mt_yaml_node *root = NULL;
    MT_TRY(mt_yaml_load_string(sw->text, abs, &root));
    mt_status st = parse(sw, root);
    mt_yaml_free(root);
    MT_TRY(st);
    order_dims(sw);
    MT_TRY(expand(sw));
    return check_trials(sw);
}

void mt_sweep_free(mt_sweep *sw)
{
    if (!sw) return;
    free(sw->path);
    free(sw->experiment);
    free(sw->name);
    for (int i = 0; i < sw->n_sets; i++) free(sw->sets[i]);
    free(sw->sets);
    for (int d = 0; d < sw->n_dims; d++) {
        free(sw->dims[d].key);
        for (int j = 0; j < sw->dims[d].n_values; j++) free(sw->dims[d].values[j]);
        free(sw->dims[d].values);
    }
    free(sw->metric);
    mt_sweep_slurm *s = &sw->slurm;
    free(s->partition), free(s->time), free(s->mem), free(s->account), free(s->qos);
    for (int i = 0; i < s->n_extra; i++) free(s->extra[i]);
    free(s->extra);
    for (int p = 0; p < sw->n_params; p++) free(sw->param_keys ? sw->param_keys[p] : NULL);
    free(sw->param_keys);
    if (sw->param_values)
        for (size_t i = 0; i < (size_t)sw->n_trials * (size_t)sw->n_params; i++) free(sw->param_values[i]);
    free(sw->param_values);
    free(sw->text);
    memset(sw, 0, sizeof *sw);
}
