/* train/sweep_table.c: the results of a sweep (sweep.h): results.csv,
 * results.md and results_<key>.png, gathered from the trial directories, so
 * every backend (local, Slurm) ends with the same table. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"
#include "run_dir.h"
#include "sweep.h"

typedef struct trial_result {
    int done;
    double metric, wall_s;
    int best_epoch, epochs;
} trial_result;

/* Number at a dotted path of a JSON object ("test.raw.dsc.mean"). */
static int json_number(const cJSON *root, const char *path, double *out)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *n = root;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && n; tok = strtok_r(NULL, ".", &save))
        n = cJSON_GetObjectItemCaseSensitive(n, tok);
    if (!n || !cJSON_IsNumber(n)) return 0;
    *out = n->valuedouble;
    return 1;
}

/* The metric's name: sw->metric, or the first top-level "best_*" number of metrics.json. */
static void metric_name(const mt_sweep *sw, const cJSON *root, char *out, size_t len)
{
    if (sw->metric[0]) {
        snprintf(out, len, "%s", sw->metric);
        return;
    }
    for (const cJSON *c = root ? root->child : NULL; c; c = c->next)
        if (c->string && !strncmp(c->string, "best_", 5) && strcmp(c->string, "best_epoch") && cJSON_IsNumber(c)) {
            snprintf(out, len, "%s", c->string);
            return;
        }
    snprintf(out, len, "best_metric");
}

static mt_status read_trial(const mt_sweep *sw, const char *dir, int i, trial_result *r, char *name, size_t name_len)
{
    memset(r, 0, sizeof *r);
    r->metric = r->wall_s = NAN;
    if (mt_sweep_trial_state(dir, i) != 2) return MT_OK;
    char tdir[4200], path[4400];
    mt_sweep_trial_dir(dir, i, tdir, sizeof tdir);
    snprintf(path, sizeof path, "%s/metrics.json", tdir);
    char *text = NULL;
    size_t len = 0;
    MT_TRY(mt_read_file(path, &text, &len));
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return MT_ERR(MT_ERR_FORMAT, "%s is not valid JSON (re-run the trial: delete %s)", path, tdir);
    if (!name[0]) metric_name(sw, root, name, name_len);
    double v;
    mt_status st = MT_OK;
    if (!json_number(root, name, &r->metric))
        st = MT_ERR(MT_ERR_FORMAT, "%s has no number at '%s' (the sweep's metric): give `metric:` a path into "
                    "metrics.json, e.g. test.raw.dsc.mean or best_val_loss", path, name);
    if (json_number(root, "best_epoch", &v)) r->best_epoch = (int)v;
    if (json_number(root, "epochs", &v)) r->epochs = (int)v;
    if (json_number(root, "train_seconds", &v)) r->wall_s = v;
    cJSON_Delete(root);
    r->done = st == MT_OK;
    return st;
}

/* Parameter p counts as a configuration key (not a repetition: seeds and folds). */
static int is_config_param(const mt_sweep *sw, int p)
{
    const char *k = sw->param_keys[p];
    return strcmp(k, "train.seed") && strcmp(k, "data.fold") && strcmp(k, "data.folds");
}

static int has_repeats(const mt_sweep *sw)
{
    for (int p = 0; p < sw->n_params; p++)
        if (!is_config_param(sw, p)) return 1;
    return 0;
}

static const char *val(const mt_sweep *sw, int t, int p) { return sw->param_values[(size_t)t * (size_t)sw->n_params + p]; }

/* 1 when trials a and b have the same configuration (all but seed and fold equal). */
static int same_config(const mt_sweep *sw, int a, int b)
{
    for (int p = 0; p < sw->n_params; p++)
        if (is_config_param(sw, p) && strcmp(val(sw, a, p), val(sw, b, p))) return 0;
    return 1;
}

/* A growing text buffer. */
typedef struct text { char *s; size_t len, cap; int oom; } text;
static void put(text *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
}

static void csv_field(text *b, const char *v) { put(b, strchr(v, ',') ? ",\"%s\"" : ",%s", v); }

/* mean and sample SD (n - 1; 0 for n = 1) of the finished trials of the configuration of trial t */
static int group_stats(const mt_sweep *sw, const trial_result *r, int t, double *mean, double *sd)
{
    int n = 0;
    double s = 0, ss = 0;
    for (int u = 0; u < sw->n_trials; u++)
        if (r[u].done && same_config(sw, t, u)) n++, s += r[u].metric;
    if (!n) return 0;
    *mean = s / n;
    for (int u = 0; u < sw->n_trials; u++)
        if (r[u].done && same_config(sw, t, u)) ss += (r[u].metric - *mean) * (r[u].metric - *mean);
    *sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
    return n;
}

static void tables(const mt_sweep *sw, const trial_result *r, const char *metric, text *csv, text *md)
{
    put(csv, "trial");
    put(md, "# Sweep %s\n\n%d trials; metric `%s` (%s is better). Experiment: `%s`.\n\n| trial |", sw->name,
        sw->n_trials, metric, sw->mode_max ? "higher" : "lower", sw->experiment);
    for (int p = 0; p < sw->n_params; p++) csv_field(csv, sw->param_keys[p]), put(md, " %s |", sw->param_keys[p]);
    put(csv, ",%s,best_epoch,epochs,wall_s,status\n", metric);
    put(md, " %s | best epoch | epochs | wall s |\n|---|", metric);
    for (int p = 0; p < sw->n_params + 4; p++) put(md, "---|");
    put(md, "\n");
    int best = -1;
    for (int t = 0; t < sw->n_trials; t++) {
        put(csv, "%d", t);
        put(md, "| %d |", t);
        for (int p = 0; p < sw->n_params; p++) csv_field(csv, val(sw, t, p)), put(md, " %s |", val(sw, t, p));
        if (r[t].done) {
            put(csv, ",%.8g,%d,%d,%.1f,finished\n", r[t].metric, r[t].best_epoch, r[t].epochs, r[t].wall_s);
            put(md, " %.4f | %d | %d | %.0f |\n", r[t].metric, r[t].best_epoch, r[t].epochs, r[t].wall_s);
            if (best < 0 || (sw->mode_max ? r[t].metric > r[best].metric : r[t].metric < r[best].metric)) best = t;
        } else {
            put(csv, ",,,,,unfinished\n");
            put(md, " unfinished | | | |\n");
        }
    }
    if (best >= 0) put(md, "\nBest trial: %d (%s %.4f).\n", best, metric, r[best].metric);
    if (!has_repeats(sw)) return;
    /* one summary row per configuration: mean +- SD over seeds and folds */
    put(csv, "\nconfiguration");
    put(md, "\n## Mean +- SD over seeds and folds\n\n| configuration |");
    for (int p = 0; p < sw->n_params; p++)
        if (is_config_param(sw, p)) csv_field(csv, sw->param_keys[p]), put(md, " %s |", sw->param_keys[p]);
    put(csv, ",n,%s_mean,%s_sd\n", metric, metric);
    put(md, " n | %s mean | SD |\n|---|", metric);
    for (int p = 0; p < sw->n_params; p++)
        if (is_config_param(sw, p)) put(md, "---|");
    put(md, "---|---|---|\n");
    int c = 0;
    for (int t = 0; t < sw->n_trials; t++) {
        int first = 1;
        for (int u = 0; u < t && first; u++) first = !same_config(sw, t, u);
        if (!first) continue;
        double mean = NAN, sd = NAN;
        int n = group_stats(sw, r, t, &mean, &sd);
        put(csv, "%d", c);
        put(md, "| %d |", c++);
        for (int p = 0; p < sw->n_params; p++)
            if (is_config_param(sw, p)) csv_field(csv, val(sw, t, p)), put(md, " %s |", val(sw, t, p));
        if (n) {
            put(csv, ",%d,%.8g,%.8g\n", n, mean, sd);
            put(md, " %d | %.4f | %.4f |\n", n, mean, sd);
        } else {
            put(csv, ",0,,\n");
            put(md, " 0 | | |\n");
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* results_<key>.png: the metric of every finished trial against swept parameter p (dots) and its mean per
 * value (a line); numbers on a log10 axis when they are positive and span a factor of 10 or more, other
 * values by their order of first appearance (named in the title). One pass over the trials per value
 * kind: O(trials x distinct values). */
static mt_status plot_param(const mt_sweep *sw, const trial_result *r, int p, const char *metric, const char *dir)
{
    int n = sw->n_trials, numeric = 1, n_cat = 0;
    double lo = INFINITY, hi = -INFINITY;
    size_t cap = (size_t)n * 3 + 4;
    double *x = mt_calloc(cap, sizeof *x), *y = mt_calloc(cap, sizeof *y), *ym = mt_calloc(cap, sizeof *ym);
    double *xs = mt_calloc((size_t)n + 1, sizeof *xs), *sorted = mt_calloc((size_t)n + 1, sizeof *sorted);
    const char **cats = mt_calloc((size_t)n + 1, sizeof *cats);
    if (!x || !y || !ym || !xs || !sorted || !cats) {
        free(x), free(y), free(ym), free(xs), free(sorted), free(cats);
        return MT_ERR_NOMEM;
    }
    for (int t = 0; t < n; t++) {
        char *end;
        double v = strtod(val(sw, t, p), &end);
        if (*end || end == val(sw, t, p)) numeric = 0;
        else lo = fmin(lo, v), hi = fmax(hi, v);
    }
    int logx = numeric && lo > 0 && hi >= 10 * lo;
    for (int t = 0; t < n; t++) { /* the x of every trial: its number, or its category's index */
        if (numeric) {
            double v = strtod(val(sw, t, p), NULL);
            xs[t] = logx ? log10(v) : v;
            continue;
        }
        int k = 0;
        while (k < n_cat && strcmp(cats[k], val(sw, t, p))) k++;
        if (k == n_cat) cats[n_cat++] = val(sw, t, p);
        xs[t] = k;
    }
    int nd = 0;
    for (int t = 0; t < n; t++)
        if (r[t].done) sorted[nd++] = xs[t];
    mt_status st = MT_OK;
    if (nd > 0) {
        qsort(sorted, (size_t)nd, sizeof *sorted, cmp_double);
        int m = 0;
        /* margins: points with no value 5 % beyond the data, so edge dots are not drawn on the axes */
        double x0 = sorted[0], x1 = sorted[nd - 1], pad = x1 > x0 ? 0.05 * (x1 - x0) : 0.5;
        x[m] = x0 - pad, y[m] = ym[m] = NAN, m++;
        x[m] = x1 + pad, y[m] = ym[m] = NAN, m++;
        x[m] = NAN, y[m] = ym[m] = NAN, m++;
        for (int t = 0; t < n; t++) { /* each trial an isolated point between gaps: a dot */
            if (!r[t].done) continue;
            x[m] = xs[t], y[m] = r[t].metric, ym[m++] = NAN;
            x[m] = NAN, y[m] = ym[m] = NAN, m++;
        }
        for (int i = 0; i < nd; i++) { /* the mean per distinct value, joined */
            if (i > 0 && sorted[i] == sorted[i - 1]) continue;
            double sum = 0;
            int k = 0;
            for (int t = 0; t < n; t++)
                if (r[t].done && xs[t] == sorted[i]) sum += r[t].metric, k++;
            x[m] = sorted[i], y[m] = NAN, ym[m++] = sum / k;
        }
        char legend[256] = "", title[600], path[4400], key[256];
        for (int k = 0, len = 0; k < n_cat && len < (int)sizeof legend - 32; k++)
            len += snprintf(legend + len, sizeof legend - (size_t)len, "%s%d = %s", k ? ", " : "", k, cats[k]);
        snprintf(title, sizeof title, "sweep %s: %s%s%s", sw->name, metric, legend[0] ? "; " : "", legend);
        snprintf(key, sizeof key, "%s", sw->param_keys[p]);
        for (char *c = key; *c; c++)
            if (*c == '/' || *c == ' ') *c = '_';
        snprintf(path, sizeof path, "%s/results_%s.png", dir, key);
        char xlabel[300];
        snprintf(xlabel, sizeof xlabel, "%s%s%s", logx ? "log10(" : "", sw->param_keys[p], logx ? ")" : "");
        mt_plot_chart chart = {title, xlabel, metric, 0, 0, 0};
        mt_plot_series series[2] = {{"trial", y}, {"mean", ym}};
        st = mt_plot_lines(path, &chart, m, x, 2, series);
    }
    free(x), free(y), free(ym), free(xs), free(sorted), free(cats);
    return st;
}

mt_status mt_sweep_table(const mt_sweep *sw, const char *dir, int *n_done)
{
    MT_REQUIRE(sw && dir, "mt_sweep_table: NULL argument");
    trial_result *r = mt_calloc((size_t)sw->n_trials + 1, sizeof *r);
    if (!r) return MT_ERR_NOMEM;
    char metric[256] = "";
    mt_status st = MT_OK;
    int done = 0;
    for (int t = 0; t < sw->n_trials && st == MT_OK; t++) {
        st = read_trial(sw, dir, t, &r[t], metric, sizeof metric);
        done += r[t].done;
    }
    if (!metric[0]) snprintf(metric, sizeof metric, "%s", sw->metric[0] ? sw->metric : "metric");
    text csv = {0}, md = {0};
    if (st == MT_OK) {
        tables(sw, r, metric, &csv, &md);
        if (csv.oom || md.oom) st = MT_ERR(MT_ERR_NOMEM, "out of memory writing the sweep table");
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    if (st == MT_OK) st = mt_write_file_atomic(path, csv.s, csv.len);
    snprintf(path, sizeof path, "%s/results.md", dir);
    if (st == MT_OK) st = mt_write_file_atomic(path, md.s, md.len);
    for (int p = 0; p < sw->n_params && st == MT_OK && done > 0; p++)
        if (strcmp(sw->param_keys[p], "data.folds")) st = plot_param(sw, r, p, metric, dir);
    free(csv.s), free(md.s), free(r);
    if (n_done) *n_done = done;
    return st;
}
