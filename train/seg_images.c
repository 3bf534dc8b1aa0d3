/* train/seg_images.c: the per-image outputs of `medtrain evaluate` for a segmentation
 * run (segment.h): eval_<split>_images.csv (S5's per-image sensitivity, specificity,
 * accuracy, DSC and the areas) and the Bland-Altman plot of the area, gold vs
 * predicted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/dataset.h"
#include "../data/sample.h"
#include "run_dir.h"
#include "segment.h"

/* a metric as a CSV field: %.6f, empty when undefined */
static void csv_number(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, ",%.6f", v);
    else fputc(',', f);
}

/* a text CSV field, double-quoted with inner quotes doubled */
static void csv_text(FILE *f, const char *t)
{
    fputc('"', f);
    for (; *t; t++) {
        if (*t == '"') fputc('"', f);
        fputc(*t, f);
    }
    fputc('"', f);
}

static mt_status write_csv(mt_session *s, const int *idx, int n, int k, const mt_seg_metrics *m,
                           const mt_confusion *c, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return MT_ERR(MT_ERR_NOMEM, "%s: text buffer", path);
    fprintf(f, "index,source,channel,sensitivity,specificity,accuracy,dsc,iou,precision,gold_area_px,pred_area_px\n");
    mt_status st = MT_OK;
    for (int i = 0; i < n && st == MT_OK; i++) {
        mt_sample smp;
        mt_sample_init(&smp);
        st = mt_dataset_read(s->ds, idx[i], &smp);
        if (st != MT_OK) st = mt_error_replace(st, __FILE__, __LINE__, "%s: sample %d: %s", s->exp.data.dataset, idx[i],
                                               mt_last_error());
        for (int j = 0; j < k && st == MT_OK; j++) {
            const mt_seg_metrics *r = &m[i * k + j];
            const mt_confusion *q = &c[i * k + j];
            fprintf(f, "%d,", idx[i]);
            csv_text(f, smp.meta.source);
            fprintf(f, ",%d", j);
            csv_number(f, r->recall);
            csv_number(f, r->specificity);
            csv_number(f, r->accuracy);
            csv_number(f, r->dsc);
            csv_number(f, r->iou);
            csv_number(f, r->precision);
            fprintf(f, ",%lld,%lld\n", (long long)(q->tp + q->fn), (long long)(q->tp + q->fp));
        }
        mt_sample_free(&smp);
    }
    if (fclose(f) != 0 && st == MT_OK) st = MT_ERR(MT_ERR_NOMEM, "%s: text buffer", path);
    if (st == MT_OK) st = mt_write_file_atomic(path, buf, len);
    free(buf);
    return st;
}

static mt_status write_bland_altman(const char *name, int n, int k, int j, const mt_confusion *c, const char *path,
                                    const char *split, mt_plot_bland_altman_stats *ba)
{
    double *gold = mt_malloc(sizeof(double) * (size_t)n), *pred = mt_malloc(sizeof(double) * (size_t)n);
    mt_status st = gold && pred ? MT_OK : mt_last_status();
    for (int i = 0; st == MT_OK && i < n; i++) {
        gold[i] = (double)(c[i * k + j].tp + c[i * k + j].fn);
        pred[i] = (double)(c[i * k + j].tp + c[i * k + j].fp);
    }
    char title[200];
    snprintf(title, sizeof title, "Bland-Altman, mask area, %.60s, %.40s split (%d images)", name ? name : "run", split,
             n);
    mt_plot_chart ch = {title, "mean of gold and predicted area (px)", "gold - predicted (px)", 0, 0, 0};
    if (st == MT_OK) st = mt_plot_bland_altman(path, &ch, n, gold, pred, ba);
    free(gold);
    free(pred);
    return st;
}

mt_status mt_segmentation_write_images(mt_session *s, const mt_eval *e, const int *idx, int n, const char *dir,
                                       const char *split, mt_plot_bland_altman_stats *ba)
{
    MT_REQUIRE(s && s->ds && idx && dir && split, "mt_segmentation_write_images: NULL argument");
    int ne, k;
    const mt_seg_metrics *m;
    const mt_confusion *c;
    MT_TRY(mt_segmentation_eval_images(e, &ne, &k, &m, &c));
    MT_REQUIRE(ne == n, "mt_segmentation_write_images: %d rows given, the evaluation has %d images", n, ne);
    char path[2600];
    snprintf(path, sizeof path, "%s/eval_%s_images.csv", dir, split);
    MT_TRY(write_csv(s, idx, n, k, m, c, path));
    printf("wrote %s\n", path);
    for (int j = 0; j < k; j++) {
        if (k == 1) snprintf(path, sizeof path, "%s/bland_altman_%s.png", dir, split);
        else snprintf(path, sizeof path, "%s/bland_altman_%s_%d.png", dir, split, j);
        MT_TRY(write_bland_altman(s->exp.name, n, k, j, c, path, split, j == 0 ? ba : NULL));
        printf("wrote %s\n", path);
    }
    return MT_OK;
}
