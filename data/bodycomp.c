/* data/bodycomp.c: per-slice body-composition measurements and their CSV (bodycomp.h). */
#include "bodycomp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mt_status mt_tissue_stats_compute(const float *hu, const uint8_t *mask, size_t n, double spacing_x_mm,
                                  double spacing_y_mm, mt_tissue_stats *out)
{
    MT_REQUIRE(hu && mask && out, "mt_tissue_stats_compute: NULL argument");
    long long count = 0;
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!mask[i]) continue;
        double v = hu[i];
        count++;
        sum += v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    double mean = count ? sum / (double)count : NAN, ss = 0;
    for (size_t i = 0; count > 1 && i < n; i++)
        if (mask[i]) ss += ((double)hu[i] - mean) * ((double)hu[i] - mean);
    out->area_px = count;
    out->area_cm2 = spacing_x_mm > 0 && spacing_y_mm > 0 ? (double)count * spacing_x_mm * spacing_y_mm / 100.0 : NAN;
    out->hu_mean = mean;
    out->hu_sd = count > 1 ? sqrt(ss / (double)(count - 1)) : NAN;
    out->hu_min = count ? lo : NAN;
    out->hu_max = count ? hi : NAN;
    return MT_OK;
}

mt_status mt_bodycomp_measure(const mt_bodycomp_case *c, const float *hu, int h, int w, const double spacing[2],
                              int slice, double slice_position, const uint8_t *const *masks, mt_bodycomp_slice *out)
{
    MT_REQUIRE(c && hu && masks && out && spacing, "mt_bodycomp_measure: NULL argument");
    MT_REQUIRE(h > 0 && w > 0, "mt_bodycomp_measure: slice size %dx%d", h, w);
    MT_REQUIRE(c->n_tissues >= 1 && c->n_tissues <= MT_BODYCOMP_MAX_TISSUES,
               "mt_bodycomp_measure: %d tissue labels (1..%d)", c->n_tissues, MT_BODYCOMP_MAX_TISSUES);
    MT_REQUIRE(c->sma_tissue < c->n_tissues, "mt_bodycomp_measure: muscle label %d of %d", c->sma_tissue,
               c->n_tissues);
    memset(out, 0, sizeof *out);
    out->slice = slice;
    out->slice_position = slice_position;
    out->spacing[0] = spacing[0];
    out->spacing[1] = spacing[1];
    out->n_tissues = c->n_tissues;
    for (int t = 0; t < c->n_tissues; t++) {
        MT_REQUIRE(masks[t], "mt_bodycomp_measure: mask %d is NULL", t);
        MT_TRY(mt_tissue_stats_compute(hu, masks[t], (size_t)h * w, spacing[0], spacing[1], &out->tissue[t]));
    }
    for (int i = 0; i < MT_SARC_N; i++) out->index[i] = out->tscore[i] = NAN, out->tclass[i] = -1;
    if (c->sma_tissue < 0) return MT_OK;
    mt_sarc_indices(out->tissue[c->sma_tissue].area_cm2, c->body.height_m, c->body.weight_kg, out->index);
    const mt_sarc_group *g = mt_sarc_reference_group(c->ref, c->body.sex);
    for (int i = 0; g && i < MT_SARC_N; i++) {
        out->tscore[i] = mt_tscore(out->index[i], g->mean[i], g->sd[i]);
        out->tclass[i] = mt_tscore_class(out->tscore[i]);
    }
    return MT_OK;
}

/* ------------------------------------------------------------- CSV --- */

static void put_num(FILE *f, double v)
{
    fputc(',', f);
    if (isfinite(v)) fprintf(f, "%.10g", v);
}

static void put_text(FILE *f, const char *s, int first)
{
    if (!first) fputc(',', f);
    if (!s) return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"') fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static void csv_header(FILE *f, const mt_bodycomp_case *c)
{
    fputs("source,patient_id,slice,slice_position_mm,pixel_spacing_x_mm,pixel_spacing_y_mm,sex,height_m,weight_kg,"
          "bmi,sex_source,height_source,weight_source,reference",
          f);
    static const char *stat[] = {"area_px", "area_cm2", "hu_mean", "hu_sd", "hu_min", "hu_max"};
    for (int t = 0; t < c->n_tissues; t++)
        for (int s = 0; s < 6; s++) {
            fputc(',', f);
            put_text(f, c->tissue_names[t], 1);
            fprintf(f, "_%s", stat[s]);
        }
    if (c->sma_tissue >= 0) {
        fputs(",sma_cm2", f);
        for (int i = 1; i < MT_SARC_N; i++) fprintf(f, ",%s", mt_sarc_index_names[i]);
        for (int i = 0; i < MT_SARC_N; i++) fprintf(f, ",t_%s", mt_sarc_index_names[i]);
        for (int i = 0; i < MT_SARC_N; i++) fprintf(f, ",class_%s", mt_sarc_index_names[i]);
    }
    fputc('\n', f);
}

static void csv_row(FILE *f, const mt_bodycomp_case *c, const mt_bodycomp_slice *r)
{
    const mt_body_info *b = &c->body;
    put_text(f, c->source, 1);
    put_text(f, c->patient_id, 0);
    fprintf(f, ",%d", r->slice);
    put_num(f, r->slice_position);
    put_num(f, r->spacing[0]);
    put_num(f, r->spacing[1]);
    put_text(f, b->sex, 0);
    put_num(f, b->height_m);
    put_num(f, b->weight_kg);
    put_num(f, b->height_m > 0 && b->weight_kg > 0 ? b->weight_kg / (b->height_m * b->height_m) : NAN);
    put_text(f, b->sex_source, 0);
    put_text(f, b->height_source, 0);
    put_text(f, b->weight_source, 0);
    put_text(f, c->ref && c->sma_tissue >= 0 ? c->ref->source : "", 0);
    for (int t = 0; t < c->n_tissues; t++) {
        const mt_tissue_stats *s = &r->tissue[t];
        fprintf(f, ",%lld", s->area_px);
        put_num(f, s->area_cm2);
        put_num(f, s->hu_mean);
        put_num(f, s->hu_sd);
        put_num(f, s->hu_min);
        put_num(f, s->hu_max);
    }
    if (c->sma_tissue >= 0) {
        for (int i = 0; i < MT_SARC_N; i++) put_num(f, r->index[i]);
        for (int i = 0; i < MT_SARC_N; i++) put_num(f, r->tscore[i]);
        for (int i = 0; i < MT_SARC_N; i++) put_text(f, mt_tscore_class_name(r->tclass[i]), 0);
    }
    fputc('\n', f);
}

char *mt_bodycomp_csv(const mt_bodycomp_case *c, int n_rows, const mt_bodycomp_slice *rows)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        MT_ERR(MT_ERR_NOMEM, "mt_bodycomp_csv: open_memstream failed");
        return NULL;
    }
    csv_header(f, c);
    for (int r = 0; r < n_rows; r++) csv_row(f, c, &rows[r]);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || !text) {
        free(text);
        MT_ERR(MT_ERR_NOMEM, "mt_bodycomp_csv: out of memory writing %d rows", n_rows);
        return NULL;
    }
    return text;
}
