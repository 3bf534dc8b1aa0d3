/* data/bodycomp.h: body-composition measurements of CT slices (S3 quantification):
 * per slice and tissue label (skeletal muscle M, subcutaneous fat SAT, visceral fat VAT,
 * or any named mask) the area in pixels and cm^2 (from the pixel spacing) and the HU
 * mean, SD, min and max inside the mask; the sarcopenia indices of the muscle label and
 * their T-scores (data/sarcopenia.h); one spreadsheet-ready CSV row per slice.
 *
 * Definitions (per slice, n = mask pixels, HU = the slice's values in Hounsfield units):
 *   area_px  = n;  area_cm2 = n * spacing_x_mm * spacing_y_mm / 100
 *   hu_mean  = sum(HU) / n;  hu_sd = sqrt(sum((HU - mean)^2) / (n - 1)) (sample SD, as
 *   ImageJ's "StdDev"; NaN when n < 2);  hu_min, hu_max; all NaN when n = 0.
 * Equivalent (numpy): a = hu[mask > 0]; a.size, a.size * sx * sy / 100, a.mean(),
 * a.std(ddof=1), a.min(), a.max(), accumulated in float64.
 */
#ifndef MT_DATA_BODYCOMP_H
#define MT_DATA_BODYCOMP_H

#include <stddef.h>
#include <stdint.h>

#include "sarcopenia.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most tissue labels one slice row holds. */
#define MT_BODYCOMP_MAX_TISSUES 8

typedef struct mt_tissue_stats {
    long long area_px;
    double area_cm2;
    double hu_mean, hu_sd, hu_min, hu_max; /* NaN as described above */
} mt_tissue_stats;

/* Statistics of the n values hu[i] where mask[i] != 0; spacing in mm (> 0; NaN area_cm2
 * when a spacing is unknown, <= 0). Errors: MT_ERR_INVALID (NULL arrays). */
mt_status mt_tissue_stats_compute(const float *hu, const uint8_t *mask, size_t n, double spacing_x_mm,
                                  double spacing_y_mm, mt_tissue_stats *out);

/* One slice's measurements: the CSV row. */
typedef struct mt_bodycomp_slice {
    int slice;                  /* index in the (reoriented) volume, 0-based */
    double slice_position;      /* mm along the slice normal; NaN if unknown */
    double spacing[2];          /* mm: x (columns), y (rows) */
    int n_tissues;
    mt_tissue_stats tissue[MT_BODYCOMP_MAX_TISSUES];
    double index[MT_SARC_N];    /* SMA, SMA/Ht^2, SMA/Wt, SMA/BMI (NaN when not computable) */
    double tscore[MT_SARC_N];   /* against the group of the patient's sex; NaN if unknown */
    int tclass[MT_SARC_N];      /* mt_tscore_class of each T-score */
} mt_bodycomp_slice;

/* What every row of a table shares. */
typedef struct mt_bodycomp_case {
    const char *source;         /* the image file or DICOM folder */
    const char *patient_id;
    mt_body_info body;          /* sex, height, weight and their sources */
    const mt_sarc_reference *ref; /* NULL: no T-scores */
    int n_tissues;              /* 1..MT_BODYCOMP_MAX_TISSUES */
    const char *const *tissue_names; /* column prefixes, e.g. "M", "SAT", "VAT" */
    int sma_tissue;             /* index of the skeletal-muscle label, -1: no indices */
} mt_bodycomp_case;

/* Measures one slice: hu [h*w] (HU), masks[t] [h*w] for t < c->n_tissues; indices from
 * the muscle label's area_cm2 with c->body's height and weight, T-scores against c->ref's
 * group of c->body.sex. Errors: MT_ERR_INVALID (bad sizes, NULL arrays, too many tissues). */
mt_status mt_bodycomp_measure(const mt_bodycomp_case *c, const float *hu, int h, int w, const double spacing[2],
                              int slice, double slice_position, const uint8_t *const *masks, mt_bodycomp_slice *out);

/* The table as CSV text (malloc'ed, NUL-terminated; the caller frees it): a header row and
 * one row per slice. Columns: source, patient_id, slice, slice_position_mm,
 * pixel_spacing_x_mm, pixel_spacing_y_mm, sex, height_m, weight_kg, bmi, sex_source,
 * height_source, weight_source, reference; per tissue <name>_area_px, <name>_area_cm2,
 * <name>_hu_mean, <name>_hu_sd, <name>_hu_min, <name>_hu_max; then sma_cm2, sma_ht2,
 * sma_wt, sma_bmi, t_sma, t_sma_ht2, t_sma_wt, t_sma_bmi, class_sma, class_sma_ht2,
 * class_sma_wt, class_sma_bmi (index and T columns only when c->sma_tissue >= 0).
 * Numbers %.10g, unknown values empty cells, text quoted when it holds a comma or quote
 * (RFC 4180). Returns NULL on allocation failure (MT_ERR_NOMEM recorded). */
char *mt_bodycomp_csv(const mt_bodycomp_case *c, int n_rows, const mt_bodycomp_slice *rows);

#ifdef __cplusplus
}
#endif
#endif
