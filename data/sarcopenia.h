/* data/sarcopenia.h: sarcopenia indices from the skeletal-muscle area (SMA) of an
 * abdominal CT slice, and their T-scores against a healthy young reference group (S3).
 *
 *   SMA      cm^2                 skeletal-muscle area (e.g. at L3)
 *   SMA/Ht^2 cm^2 / m^2           height-normalised (the skeletal muscle index, SMI)
 *   SMA/Wt   cm^2 / kg
 *   SMA/BMI  cm^2 / (kg / m^2)    BMI = weight_kg / height_m^2
 *   T-score  (value - mean_young) / SD_young of the reference group of the patient's sex
 *
 * Cut-offs at T = -1 and T = -2 (the paper's table, after Janssen et al. 2002's class I /
 * class II sarcopenia): "normal" T > -1, "class_I" -2 < T <= -1, "class_II" T <= -2.
 * The comparisons allow 1e-9 of rounding, so a value printed in the table as the T = -1
 * cut-off (men SMA 153.56 = 186.54 - 32.98) is flagged class_I.
 *
 * Reference tables: the paper's (men n=83, women n=68; mean and SD of each index) is built
 * in; a reference-cohort CSV gives mean and sample SD (n - 1) per sex instead.
 */
#ifndef MT_DATA_SARCOPENIA_H
#define MT_DATA_SARCOPENIA_H

#include "../core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_sarc_index {
    MT_SARC_SMA = 0,     /* cm^2 */
    MT_SARC_SMA_HT2 = 1, /* cm^2 / m^2 */
    MT_SARC_SMA_WT = 2,  /* cm^2 / kg */
    MT_SARC_SMA_BMI = 3, /* cm^2 / (kg / m^2) */
    MT_SARC_N = 4
} mt_sarc_index;

/* Column-name stems of the indices: "sma", "sma_ht2", "sma_wt", "sma_bmi". */
extern const char *const mt_sarc_index_names[MT_SARC_N];

/* Mean and SD of each index in the young reference group of one sex. */
typedef struct mt_sarc_group {
    int n;                    /* subjects (0: no group) */
    double mean[MT_SARC_N];
    double sd[MT_SARC_N];     /* NaN when fewer than 2 subjects had the index */
} mt_sarc_group;

typedef struct mt_sarc_reference {
    mt_sarc_group men, women;
    char source[1100];        /* "paper (S3 Table: men n=83, women n=68)" or the CSV path */
} mt_sarc_reference;

/* The paper's table (S3, ../shared/design/papers.md): men SMA 186.54 +- 32.98,
 * SMA/Ht^2 61.64 +- 11.40, SMA/Wt 2.24 +- 0.27, SMA/BMI 6.80 +- 0.88 (n=83); women SMA
 * 116.20 +- 24.66, SMA/Ht^2 44.67 +- 8.95, SMA/Wt 1.93 +- 0.17, SMA/BMI 5.02 +- 0.47 (n=68). */
void mt_sarc_reference_paper(mt_sarc_reference *ref);

/* A reference table computed from a cohort CSV with a header row naming the columns
 * sex (M/F, also male/female, any case), sma_cm2, and optionally height_m and weight_kg;
 * other columns are ignored. Each subject's four indices are computed as by
 * mt_sarc_indices (missing height/weight: only the indices that do not need them);
 * per sex: mean and sample SD (n - 1) of each index over the subjects that have it.
 * Equivalent: numpy mean(x) and std(x, ddof=1) per sex.
 * Errors: MT_ERR_IO (unreadable), MT_ERR_FORMAT (no sex or sma_cm2 column, a row with a
 * wrong column count, a value that is not a number, a sex other than M/F; the message
 * names the file and line), MT_ERR_INVALID (no subject at all), MT_ERR_NOMEM. */
mt_status mt_sarc_reference_csv(const char *path, mt_sarc_reference *ref);

/* The group of `sex` ("M" or "F"; NULL for anything else). */
const mt_sarc_group *mt_sarc_reference_group(const mt_sarc_reference *ref, const char *sex);

/* The four indices of one slice: out[MT_SARC_SMA] = sma_cm2; the others NaN when
 * height_m (for SMA/Ht^2, SMA/BMI) or weight_kg (SMA/Wt, SMA/BMI) is unknown (<= 0 or NaN). */
void mt_sarc_indices(double sma_cm2, double height_m, double weight_kg, double out[MT_SARC_N]);

/* T-score (value - mean) / sd; NaN when any input is NaN or sd <= 0. */
double mt_tscore(double value, double mean, double sd);

/* 0 normal (T > -1), 1 class I (-2 < T <= -1), 2 class II (T <= -2), -1 for NaN. */
int mt_tscore_class(double t);
/* "normal", "class_I", "class_II", or "" for -1. */
const char *mt_tscore_class_name(int cls);

/* Height, weight and sex of a patient and where each came from ("dicom", "csv", "flag"
 * or "" when unknown). */
typedef struct mt_body_info {
    char sex[8];             /* "M", "F" or "" */
    double height_m;         /* NaN if unknown */
    double weight_kg;        /* NaN if unknown */
    char sex_source[8], height_source[8], weight_source[8];
} mt_body_info;

/* Fills the unknown fields of `b` (sex "", NaN height/weight) from the row of a patients
 * CSV whose patient_id column equals `patient_id` (columns patient_id and any of sex,
 * height_m, weight_kg; empty cells stay unknown), marking them source "csv". No matching
 * row leaves `b` as it was and is not an error.
 * Errors: MT_ERR_IO, MT_ERR_FORMAT (no patient_id column, a bad number or sex, naming the
 * file and line), MT_ERR_NOMEM. */
mt_status mt_body_info_from_csv(const char *path, const char *patient_id, mt_body_info *b);

/* "M"/"m"/"male" -> "M", "F"/"f"/"female"/"W"/"woman" -> "F"; 0 on success, -1 otherwise. */
int mt_sex_normalize(const char *s, char out[8]);

#ifdef __cplusplus
}
#endif
#endif
