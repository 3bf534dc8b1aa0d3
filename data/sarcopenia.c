/* data/sarcopenia.c: sarcopenia indices, T-scores and reference tables (sarcopenia.h). */
#include "sarcopenia.h"

#include "csv_table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const mt_sarc_index_names[MT_SARC_N] = {"sma", "sma_ht2", "sma_wt", "sma_bmi"};

void mt_sarc_reference_paper(mt_sarc_reference *ref)
{
    static const mt_sarc_group men = {83, {186.54, 61.64, 2.24, 6.80}, {32.98, 11.40, 0.27, 0.88}};
    static const mt_sarc_group women = {68, {116.20, 44.67, 1.93, 5.02}, {24.66, 8.95, 0.17, 0.47}};
    memset(ref, 0, sizeof *ref);
    ref->men = men;
    ref->women = women;
    snprintf(ref->source, sizeof ref->source, "paper (S3 table: men n=83, women n=68)");
}

const mt_sarc_group *mt_sarc_reference_group(const mt_sarc_reference *ref, const char *sex)
{
    if (!ref || !sex) return NULL;
    if (!strcmp(sex, "M")) return &ref->men;
    if (!strcmp(sex, "F")) return &ref->women;
    return NULL;
}

static int known(double v) { return isfinite(v) && v > 0; }

void mt_sarc_indices(double sma_cm2, double height_m, double weight_kg, double out[MT_SARC_N])
{
    int h = known(height_m), w = known(weight_kg);
    out[MT_SARC_SMA] = sma_cm2;
    out[MT_SARC_SMA_HT2] = h ? sma_cm2 / (height_m * height_m) : NAN;
    out[MT_SARC_SMA_WT] = w ? sma_cm2 / weight_kg : NAN;
    out[MT_SARC_SMA_BMI] = h && w ? sma_cm2 / (weight_kg / (height_m * height_m)) : NAN;
}

double mt_tscore(double value, double mean, double sd)
{
    if (isnan(value) || isnan(mean) || !(sd > 0)) return NAN;
    return (value - mean) / sd;
}

int mt_tscore_class(double t)
{
    if (isnan(t)) return -1;
    if (t <= -2.0 + 1e-9) return 2;
    if (t <= -1.0 + 1e-9) return 1;
    return 0;
}

const char *mt_tscore_class_name(int cls)
{
    switch (cls) {
    case 0: return "normal";
    case 1: return "class_I";
    case 2: return "class_II";
    default: return "";
    }
}

int mt_sex_normalize(const char *s, char out[8])
{
    out[0] = '\0';
    if (!s) return -1;
    if (!strcasecmp(s, "M") || !strcasecmp(s, "male") || !strcasecmp(s, "man")) return snprintf(out, 8, "M"), 0;
    if (!strcasecmp(s, "F") || !strcasecmp(s, "female") || !strcasecmp(s, "W") || !strcasecmp(s, "woman"))
        return snprintf(out, 8, "F"), 0;
    return -1;
}

/* Sums for a mean and a sample SD (Welford) of one index of one group. */
typedef struct acc {
    int n;
    double mean, m2;
} acc;

static void acc_add(acc *a, double x)
{
    if (isnan(x)) return;
    a->n++;
    double d = x - a->mean;
    a->mean += d / a->n;
    a->m2 += d * (x - a->mean);
}

static mt_status reference_rows(const mt_csv *c, const char *path, mt_sarc_reference *ref)
{
    int c_sex = mt_csv_column(c, "sex"), c_sma = mt_csv_column(c, "sma_cm2");
    int c_ht = mt_csv_column(c, "height_m"), c_wt = mt_csv_column(c, "weight_kg");
    if (c_sex < 0 || c_sma < 0)
        return MT_ERR(MT_ERR_FORMAT, "reference CSV %s: needs the columns sex and sma_cm2 (optional height_m, weight_kg)",
                      path);
    acc a[2][MT_SARC_N];
    memset(a, 0, sizeof a);
    int n[2] = {0, 0};
    for (int r = 1; r < c->n_rows; r++) {
        MT_TRY(mt_csv_check_row(c, path, r));
        char sex[8];
        if (mt_sex_normalize(c->cells[r][c_sex], sex) != 0)
            return MT_ERR(MT_ERR_FORMAT, "%s:%d: sex '%s' is not M or F", path, c->line[r], c->cells[r][c_sex]);
        double sma, ht, wt, idx[MT_SARC_N];
        MT_TRY(mt_csv_number(c, path, r, c_sma, &sma));
        MT_TRY(mt_csv_number(c, path, r, c_ht, &ht));
        MT_TRY(mt_csv_number(c, path, r, c_wt, &wt));
        if (isnan(sma)) return MT_ERR(MT_ERR_FORMAT, "%s:%d: sma_cm2 is empty", path, c->line[r]);
        mt_sarc_indices(sma, ht, wt, idx);
        int g = sex[0] == 'F';
        n[g]++;
        for (int i = 0; i < MT_SARC_N; i++) acc_add(&a[g][i], idx[i]);
    }
    if (n[0] + n[1] == 0) return MT_ERR(MT_ERR_INVALID, "reference CSV %s has no subject rows", path);
    mt_sarc_group *grp[2] = {&ref->men, &ref->women};
    for (int g = 0; g < 2; g++) {
        grp[g]->n = n[g];
        for (int i = 0; i < MT_SARC_N; i++) {
            grp[g]->mean[i] = a[g][i].n > 0 ? a[g][i].mean : NAN;
            grp[g]->sd[i] = a[g][i].n > 1 ? sqrt(a[g][i].m2 / (a[g][i].n - 1)) : NAN;
        }
    }
    return MT_OK;
}

mt_status mt_sarc_reference_csv(const char *path, mt_sarc_reference *ref)
{
    MT_REQUIRE(path && ref, "mt_sarc_reference_csv: NULL argument");
    memset(ref, 0, sizeof *ref);
    mt_csv c;
    MT_TRY(mt_csv_read(path, &c));
    mt_status st = reference_rows(&c, path, ref);
    mt_csv_free(&c);
    if (st == MT_OK)
        snprintf(ref->source, sizeof ref->source, "cohort %s (men n=%d, women n=%d)", path, ref->men.n, ref->women.n);
    return st;
}

static mt_status body_row(const mt_csv *c, const char *path, int r, mt_body_info *b)
{
    int c_sex = mt_csv_column(c, "sex"), c_ht = mt_csv_column(c, "height_m"), c_wt = mt_csv_column(c, "weight_kg");
    double ht, wt;
    MT_TRY(mt_csv_number(c, path, r, c_ht, &ht));
    MT_TRY(mt_csv_number(c, path, r, c_wt, &wt));
    if (!b->sex[0] && c_sex >= 0 && c->cells[r][c_sex][0]) {
        if (mt_sex_normalize(c->cells[r][c_sex], b->sex) != 0)
            return MT_ERR(MT_ERR_FORMAT, "%s:%d: sex '%s' is not M or F", path, c->line[r], c->cells[r][c_sex]);
        snprintf(b->sex_source, sizeof b->sex_source, "csv");
    }
    if (isnan(b->height_m) && !isnan(ht)) b->height_m = ht, snprintf(b->height_source, sizeof b->height_source, "csv");
    if (isnan(b->weight_kg) && !isnan(wt)) b->weight_kg = wt, snprintf(b->weight_source, sizeof b->weight_source, "csv");
    return MT_OK;
}

mt_status mt_body_info_from_csv(const char *path, const char *patient_id, mt_body_info *b)
{
    MT_REQUIRE(path && patient_id && b, "mt_body_info_from_csv: NULL argument");
    mt_csv c;
    MT_TRY(mt_csv_read(path, &c));
    int c_id = mt_csv_column(&c, "patient_id");
    mt_status st = c_id < 0 ? MT_ERR(MT_ERR_FORMAT, "patients CSV %s: no patient_id column", path) : MT_OK;
    for (int r = 1; st == MT_OK && r < c.n_rows; r++) {
        st = mt_csv_check_row(&c, path, r);
        if (st == MT_OK && !strcmp(c.cells[r][c_id], patient_id)) {
            st = body_row(&c, path, r, b);
            break;
        }
    }
    mt_csv_free(&c);
    return st;
}
