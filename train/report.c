/* train/report.c: what a run leaves besides checkpoints: curves PNGs from
 * log.csv, the test-split table on stdout, metrics.json and the task's
 * pictures (trainer.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"
#include "run_dir.h"
#include "trainer.h"

/* index of a column name in a CSV header line (comma-separated), -1 if absent */
static int column(const char *header, const char *name)
{
    int i = 0;
    size_t n = strlen(name);
    for (const char *p = header; p && *p; i++) {
        const char *end = strpbrk(p, ",\n");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return i;
        p = end && *end == ',' ? end + 1 : NULL;
    }
    return -1;
}

/* the numeric fields of a CSV line (empty = NaN), at most max */
static int split_line(char *l, double *v, char **phase, int max)
{
    int nf = 0;
    for (char *p = l; nf < max;) {
        char *c = strchr(p, ',');
        if (c) *c = '\0';
        if (nf == 2) *phase = p;
        v[nf] = p[0] && nf != 2 ? strtod(p, NULL) : NAN;
        nf++;
        if (!c) break;
        p = c + 1;
    }
    return nf;
}

mt_status mt_plot_run_curves(const char *run_dir)
{
    char path[2300];
    snprintf(path, sizeof path, "%s/log.csv", run_dir);
    char *text = NULL;
    MT_TRY(mt_read_file(path, &text, NULL));
    /* series: loss, val_loss, then up to three val_ metrics after val_loss */
    int col[6] = {column(text, "loss"), column(text, "val_loss"), -1, -1, -1, column(text, "epoch")};
    const char *names[5] = {"train loss", "val loss", NULL, NULL, NULL};
    static char name_buf[3][40];
    int n_met = 0;
    for (int c = col[1] + 1; col[1] >= 0 && n_met < 3; c++) {
        const char *p = text;
        for (int i = 0; i < c && p; i++) p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
        if (!p || *p == '\n' || strncmp(p, "val_", 4)) break;
        size_t len = strcspn(p, ",\n");
        snprintf(name_buf[n_met], sizeof name_buf[n_met], "val %.*s", (int)(len - 4), p + 4);
        names[2 + n_met] = name_buf[n_met];
        col[2 + n_met++] = c;
    }
    int cap = 64, n = 0;
    double *series[6];
    for (int j = 0; j < 6; j++) series[j] = malloc(sizeof(double) * (size_t)cap);
    char *next = strchr(text, '\n'); /* skip the header */
    mt_status st = MT_OK;
    while (next && next[1] && st == MT_OK) {
        char *l = next + 1;
        next = strchr(l, '\n');
        if (next) *next = '\0';
        double v[64];
        char *phase = "";
        int nf = split_line(l, v, &phase, 64);
        if (strcmp(phase, "val") != 0) continue;
        if (n == cap) {
            cap *= 2;
            for (int j = 0; j < 6; j++) {
                double *g = series[j] ? realloc(series[j], sizeof(double) * (size_t)cap) : NULL;
                if (!g) free(series[j]);
                series[j] = g;
            }
        }
        for (int j = 0; j < 6; j++) {
            if (!series[j]) st = MT_ERR(MT_ERR_NOMEM, "curves of %s", run_dir);
            else series[j][n] = col[j] >= 0 && col[j] < nf ? v[col[j]] : NAN;
        }
        n++;
    }
    free(text);
    if (st == MT_OK && n > 0 && col[0] >= 0) {
        int by_epoch = 1; /* x = epoch; the row index when epochs are unreadable or not increasing */
        for (int i = 0; i < n; i++) by_epoch &= isfinite(series[5][i]) && (i == 0 || series[5][i] > series[5][i - 1]);
        const double *loss[2] = {series[0], series[1]}, *met[3] = {series[2], series[3], series[4]};
        const double *x = by_epoch ? series[5] : NULL;
        mt_plot_chart ch_loss = {"loss", by_epoch ? "epoch" : "validation (index)", NULL, 720, 450, 0};
        mt_plot_chart ch_met = {"validation metrics", ch_loss.x_label, NULL, 720, 450, 0};
        mt_plot_series s_loss[2] = {{names[0], loss[0]}, {names[1], loss[1]}};
        mt_plot_series s_met[3] = {{names[2], met[0]}, {names[3], met[1]}, {names[4], met[2]}};
        snprintf(path, sizeof path, "%s/curves_loss.png", run_dir);
        st = mt_plot_lines(path, &ch_loss, n, x, 2, s_loss);
        snprintf(path, sizeof path, "%s/curves_metrics.png", run_dir);
        if (st == MT_OK && n_met > 0) st = mt_plot_lines(path, &ch_met, n, x, n_met, s_met);
    }
    for (int j = 0; j < 6; j++) free(series[j]);
    return st;
}

/* metrics.json: the run's summary and the task's evaluation members */
static mt_status write_metrics_json(mt_trainer *t, const mt_eval *ev, int use_best, const char *split)
{
    char path[2400];
    snprintf(path, sizeof path, "%s/metrics.json", t->run_dir);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return MT_ERR(MT_ERR_NOMEM, "metrics.json text");
    const mt_experiment *e = &t->s.exp;
    fprintf(f, "{\n  \"run\": \"%s\",\n  \"task\": \"%s\",\n  \"epochs\": %d,\n  \"steps\": %ld,\n  \"stopped_early\": %s,\n",
            t->run_dir, t->s.task->kind, t->epoch, t->step, t->stopped_early ? "true" : "false");
    fprintf(f, "  \"best_epoch\": %d,\n  \"best_%s\": ", t->best_epoch, e->checkpoint.monitor);
    mt_json_number(f, t->ckpt_best);
    fprintf(f, ",\n  \"weights\": \"%s\",\n  \"train_seconds\": %.1f,\n  \"split\": \"%s\",\n",
            use_best ? "best.h5" : "last.h5", t->train_seconds, ev ? split : "");
    fprintf(f, "  \"postprocess_hu_window\": ");
    if (e->postprocess.hu_window_enabled) fprintf(f, "[%g, %g]", e->postprocess.hu_window[0], e->postprocess.hu_window[1]);
    else fprintf(f, "null");
    fprintf(f, ",\n  \"test\": {\n");
    if (ev) t->s.task->json(f, &t->s, ev, 4);
    fprintf(f, "  }\n}\n");
    if (fclose(f) != 0) {
        free(buf);
        return MT_ERR(MT_ERR_NOMEM, "metrics.json text");
    }
    mt_status st = mt_write_file_atomic(path, buf, len);
    free(buf);
    return st;
}

mt_status mt_trainer_report(mt_trainer *t)
{
    if (t->rank > 0) return MT_OK; /* data parallel: rank 0 evaluates and writes the report */
    char path[2400];
    snprintf(path, sizeof path, "%s/best.h5", t->run_dir);
    int use_best = mt_path_exists(path);
    if (use_best) MT_TRY(mt_session_load_weights(&t->s, path));
    const int *idx = t->n_test > 0 ? t->test_idx : t->val_idx;
    int n = t->n_test > 0 ? t->n_test : t->n_val;
    const char *split = t->n_test > 0 ? t->s.exp.data.test_split : t->s.exp.data.val_split;
    mt_eval ev;
    memset(&ev, 0, sizeof ev);
    if (n > 0) {
        MT_TRY(t->s.task->evaluate(&t->s, idx, n, t->s.exp.train.batch_size, &ev));
        char title[256];
        snprintf(title, sizeof title, "%s split, %s weights", split, use_best ? "best.h5" : "last");
        t->s.task->print(stdout, &t->s, title, &ev);
    }
    mt_status st = write_metrics_json(t, n > 0 ? &ev : NULL, use_best, split);
    if (st == MT_OK && n > 0) {
        /* segmentation overlays in overlays/ (as before tasks existed); other tasks' pictures in pictures/ */
        snprintf(path, sizeof path, "%s/%s", t->run_dir, strcmp(t->s.task->kind, "segmentation") ? "pictures" : "overlays");
        st = t->s.task->pictures(&t->s, &ev, idx, n, 8, path);
    }
    mt_eval_free(&ev);
    if (st == MT_OK) printf("run directory: %s (metrics.json, curves_*.png, pictures)\n", t->run_dir);
    return st;
}
