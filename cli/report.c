/* cli/report.c: curves, metric tables, metrics.json and overlays of a run. */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../train/plot.h"
#include "cli.h"

mt_status cli_plot_run_curves(const char *run_dir)
{
    char path[2300];
    snprintf(path, sizeof path, "%s/log.csv", run_dir);
    char *text = NULL;
    MT_TRY(cli_read_file(path, &text, NULL));
    /* columns: step,epoch,phase,loss,lr,images_per_s,val_loss,val_dsc,val_iou,val_accuracy,... */
    enum { NCOL = 6 }; /* loss, val_loss, val_dsc, val_iou, val_accuracy, epoch */
    int cap = 64, n = 0;
    double *col[NCOL];
    for (int j = 0; j < NCOL; j++) col[j] = malloc(sizeof(double) * (size_t)cap);
    char *next = strchr(text, '\n'); /* skip the header */
    while (next && next[1]) {
        char *l = next + 1;
        next = strchr(l, '\n');
        if (next) *next = '\0'; /* this line ends here; `next` still points past it */
        char *f[16];
        int nf = 0;
        for (char *p = l; nf < 16;) {
            f[nf++] = p;
            char *c = strchr(p, ',');
            if (!c) break;
            *c = '\0';
            p = c + 1;
        }
        if (nf < 10 || strcmp(f[2], "val") != 0) continue;
        if (n == cap) {
            cap *= 2;
            for (int j = 0; j < NCOL; j++) {
                double *grown = col[j] ? realloc(col[j], sizeof(double) * (size_t)cap) : NULL;
                if (!grown) free(col[j]);
                col[j] = grown;
            }
        }
        int ok = 1;
        for (int j = 0; j < NCOL; j++) ok &= col[j] != NULL;
        if (!ok) break;
        int src[NCOL] = {3, 6, 7, 8, 9, 1};
        for (int j = 0; j < NCOL; j++) col[j][n] = f[src[j]][0] ? strtod(f[src[j]], NULL) : NAN;
        n++;
    }
    free(text);
    mt_status st = MT_OK;
    int have = n > 0;
    for (int j = 0; j < NCOL; j++) have &= col[j] != NULL;
    if (have) {
        /* x = epoch; when the epochs are unreadable or not increasing, the row index */
        int by_epoch = 1;
        for (int i = 0; i < n; i++) by_epoch &= isfinite(col[5][i]) && (i == 0 || col[5][i] > col[5][i - 1]);
        const double *loss[2] = {col[0], col[1]}, *met[3] = {col[2], col[3], col[4]};
        static const char *const loss_names[2] = {"train loss", "val loss"};
        static const char *const met_names[3] = {"val DSC", "val IoU", "val accuracy"};
        const double *x = by_epoch ? col[5] : NULL;
        mt_plot_chart ch_loss = {"loss", by_epoch ? "epoch" : "validation (index)", NULL, 720, 450, 0};
        mt_plot_chart ch_met = {"validation metrics", ch_loss.x_label, NULL, 720, 450, 0};
        mt_plot_series s_loss[2] = {{loss_names[0], loss[0]}, {loss_names[1], loss[1]}};
        mt_plot_series s_met[3] = {{met_names[0], met[0]}, {met_names[1], met[1]}, {met_names[2], met[2]}};
        snprintf(path, sizeof path, "%s/curves_loss.png", run_dir);
        st = mt_plot_lines(path, &ch_loss, n, x, 2, s_loss);
        snprintf(path, sizeof path, "%s/curves_metrics.png", run_dir);
        if (st == MT_OK) st = mt_plot_lines(path, &ch_met, n, x, 3, s_met);
    }
    for (int j = 0; j < NCOL; j++) free(col[j]);
    return st;
}

void cli_print_eval_table(FILE *f, const char *title, const cli_eval *e, int has_post)
{
    fprintf(f, "%s (%d images, mean +- SD over images)\n", title, e->n);
    fprintf(f, "  %-12s %-20s %s\n", "metric", "raw", has_post ? "post-processed" : "");
    for (int i = 0; i < MT_SEG_METRIC_COUNT; i++) {
        char a[40], b[40] = "";
        snprintf(a, sizeof a, "%.4f +- %.4f", mt_seg_metric_get(&e->raw_mean, i), mt_seg_metric_get(&e->raw_sd, i));
        if (has_post)
            snprintf(b, sizeof b, "%.4f +- %.4f", mt_seg_metric_get(&e->post_mean, i),
                     mt_seg_metric_get(&e->post_sd, i));
        fprintf(f, "  %-12s %-20s %s\n", mt_seg_metric_names[i], a, b);
    }
    fprintf(f, "  %-12s %.5f\n  %-12s %.4f\n", "loss", e->loss, "pixel AUC", e->auc);
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.8g", v);
    else fprintf(f, "null");
}

static void json_metrics(FILE *f, const char *name, const mt_seg_metrics *mean, const mt_seg_metrics *sd,
                         const char *pad)
{
    fprintf(f, "%s\"%s\": {", pad, name);
    for (int i = 0; i < MT_SEG_METRIC_COUNT; i++) {
        fprintf(f, "%s\"%s\": {\"mean\": ", i ? ", " : "", mt_seg_metric_names[i]);
        json_num(f, mt_seg_metric_get(mean, i));
        fprintf(f, ", \"sd\": ");
        json_num(f, mt_seg_metric_get(sd, i));
        fprintf(f, "}");
    }
    fprintf(f, "}");
}

void cli_json_eval(FILE *f, const cli_eval *e, int indent)
{
    char pad[32];
    snprintf(pad, sizeof pad, "%*s", indent, "");
    fprintf(f, "%s\"n_images\": %d,\n%s\"loss\": ", pad, e->n, pad);
    json_num(f, e->loss);
    fprintf(f, ",\n%s\"pixel_auc\": ", pad);
    json_num(f, e->auc);
    fprintf(f, ",\n");
    json_metrics(f, "raw", &e->raw_mean, &e->raw_sd, pad);
    fprintf(f, ",\n");
    json_metrics(f, "post", &e->post_mean, &e->post_sd, pad);
    fprintf(f, ",\n%s\"per_image_dsc_post\": [", pad);
    for (int i = 0; i < e->n; i++) {
        if (i) fprintf(f, ", ");
        json_num(f, e->post[i].dsc);
    }
    fprintf(f, "]\n");
}

void cli_display_window(const cli_session *s, const float *img, size_t n, double *lo, double *hi)
{
    float mn = img[0], mx = img[0];
    for (size_t i = 1; i < n; i++) {
        mn = img[i] < mn ? img[i] : mn;
        mx = img[i] > mx ? img[i] : mx;
    }
    if (mn < -500 && mx > 100) { /* looks like CT in HU: soft-tissue window L 40 W 400 */
        *lo = -160;
        *hi = 240;
    } else if (s->exp.data.normalize == MT_NORM_WINDOW) {
        *lo = s->exp.data.window[0];
        *hi = s->exp.data.window[1];
    } else {
        *lo = mn;
        *hi = mx > mn ? mx : mn + 1;
    }
}

mt_status cli_write_overlays(cli_session *s, const int *idx, int n, int n_max, const char *dir)
{
    MT_TRY(cli_mkdirs(dir));
    int m = n < n_max ? n : n_max;
    size_t plane = (size_t)s->in_h * s->in_w;
    mt_status st = MT_OK;
    for (int i = 0; i < m && st == MT_OK; i++) {
        cli_batch b;
        MT_TRY(cli_session_read_batch(s, idx + i, 1, &b));
        mt_tensor *p = cli_session_predict(s, b.raw);
        mt_tensor *g = s->exp.postprocess.hu_window_enabled ? mt_tensor_retain(b.raw) : NULL;
        mt_tensor *bin = p ? mt_binarize_gated(p, s->exp.metrics.threshold, g && s->geo.c == 1 ? g : NULL,
                                               s->exp.postprocess.hu_window[0], s->exp.postprocess.hu_window[1])
                           : NULL;
        float *img = malloc(sizeof(float) * plane);
        mt_real *hb = malloc(sizeof(mt_real) * plane * (size_t)s->geo.k);
        mt_real *hr = malloc(sizeof(mt_real) * plane * (size_t)s->geo.c);
        mt_real *hm = malloc(sizeof(mt_real) * plane * (size_t)s->geo.k);
        uint8_t *pm = malloc(plane), *rm = malloc(plane);
        if (!bin || !img || !hb || !hr || !hm || !pm || !rm) st = bin ? MT_ERR(MT_ERR_NOMEM, "overlay buffers") : mt_last_status();
        if (st == MT_OK) st = mt_tensor_to_host(bin, hb, sizeof(mt_real) * plane * (size_t)s->geo.k);
        if (st == MT_OK) st = mt_tensor_to_host(b.raw, hr, sizeof(mt_real) * plane * (size_t)s->geo.c);
        if (st == MT_OK) st = mt_tensor_to_host(b.mask, hm, sizeof(mt_real) * plane * (size_t)s->geo.k);
        if (st == MT_OK) {
            for (size_t j = 0; j < plane; j++) {
                img[j] = (float)hr[j];
                pm[j] = hb[j] > 0.5f;
                rm[j] = hm[j] > 0.5f;
            }
            double lo, hi;
            cli_display_window(s, img, plane, &lo, &hi);
            char path[2400];
            snprintf(path, sizeof path, "%s/%04d.png", dir, idx[i]);
            mt_plot_mask mk[2] = {{rm, 255, 40, 40, "ground truth"}, {pm, 255, 230, 0, "prediction"}};
            st = mt_plot_overlay(path, img, s->in_h, s->in_w, lo, hi, 2, mk, NULL);
        }
        free(img);
        free(hb);
        free(hr);
        free(hm);
        free(pm);
        free(rm);
        mt_tensor_release(p);
        mt_tensor_release(g);
        mt_tensor_release(bin);
        cli_batch_free(&b);
    }
    return st;
}

mt_status cli_report_run(cli_trainer *t, double train_seconds)
{
    char path[2400];
    snprintf(path, sizeof path, "%s/best.h5", t->run_dir);
    int use_best = cli_exists(path);
    if (use_best) MT_TRY(cli_load_weights(&t->s, path));
    const int *idx = t->n_test > 0 ? t->test_idx : t->val_idx;
    int n = t->n_test > 0 ? t->n_test : t->n_val;
    const char *split = t->n_test > 0 ? t->s.exp.data.test_split : t->s.exp.data.val_split;
    cli_eval ev;
    memset(&ev, 0, sizeof ev);
    int have = n > 0;
    if (have) MT_TRY(cli_session_evaluate(&t->s, idx, n, t->s.exp.train.batch_size, &ev));
    if (have) {
        char title[256];
        snprintf(title, sizeof title, "%s split, %s weights", split, use_best ? "best.h5" : "last");
        cli_print_eval_table(stdout, title, &ev, t->s.exp.postprocess.hu_window_enabled);
    }
    snprintf(path, sizeof path, "%s/metrics.json", t->run_dir);
    char tmp[2500];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        cli_eval_free(&ev);
        return MT_ERR(MT_ERR_IO, "cannot write %s", tmp);
    }
    fprintf(f, "{\n  \"run\": \"%s\",\n  \"epochs\": %d,\n  \"steps\": %ld,\n  \"stopped_early\": %s,\n", t->run_dir,
            t->epoch, t->step, t->stopped_early ? "true" : "false");
    fprintf(f, "  \"best_epoch\": %d,\n  \"best_%s\": ", t->best_epoch, t->s.exp.checkpoint.monitor);
    json_num(f, t->ckpt_best);
    fprintf(f, ",\n  \"weights\": \"%s\",\n  \"train_seconds\": %.1f,\n  \"split\": \"%s\",\n",
            use_best ? "best.h5" : "last.h5", train_seconds, have ? split : "");
    fprintf(f, "  \"postprocess_hu_window\": ");
    if (t->s.exp.postprocess.hu_window_enabled)
        fprintf(f, "[%g, %g]", t->s.exp.postprocess.hu_window[0], t->s.exp.postprocess.hu_window[1]);
    else fprintf(f, "null");
    fprintf(f, ",\n  \"test\": {\n");
    if (have) cli_json_eval(f, &ev, 4);
    fprintf(f, "  }\n}\n");
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        cli_eval_free(&ev);
        return MT_ERR(MT_ERR_IO, "cannot write %s", path);
    }
    cli_eval_free(&ev);
    if (have) {
        snprintf(path, sizeof path, "%s/overlays", t->run_dir);
        MT_TRY(cli_write_overlays(&t->s, idx, n, 8, path));
    }
    printf("run directory: %s (metrics.json, curves_*.png, overlays/)\n", t->run_dir);
    return MT_OK;
}
