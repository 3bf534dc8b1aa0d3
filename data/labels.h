/* data/labels.h: label sources besides pixel masks.
 *  - CSV class labels (e.g. TCGA overview.csv: key column dicom_name, value column Contrast).
 *  - mini-MIAS Info.txt circles (REFNUM BG CLASS SEVERITY X Y RADIUS; X,Y in pixels with
 *    the origin at the BOTTOM-left, so image row = height - Y) rasterised to masks/boxes.
 *  - LabelMe JSON point shapes (parsed with cJSON) -> landmark points in a fixed order.
 *  - Boxes around sets of points (e.g. a nasal-bone ROI from nasion + ANS).
 * Pixel coordinates follow data/sample.h: x = column, y = row, origin at the centre of
 * the top-left pixel. Errors name the label file and the row/key at fault.
 */
#ifndef MT_DATA_LABELS_H
#define MT_DATA_LABELS_H

#include <stdint.h>

#include "sample.h"

#ifdef __cplusplus
extern "C" {
#endif

/* key -> value table read from two columns of a CSV file. */
typedef struct mt_label_table {
    int n;
    char **keys;
    char **values;
    char source[1024]; /* the CSV path, for messages */
} mt_label_table;

/* Reads a CSV (RFC 4180: comma separated, "quoted" fields with "" escapes, first row =
 * header) and keeps columns `key_column` and `value_column` (header names; "" names an
 * unnamed column such as pandas' index). Keys must be unique.
 * Errors: MT_ERR_IO (missing), MT_ERR_FORMAT (column not in header, short row,
 * duplicate key; message names the file, row and column). */
mt_status mt_labels_csv_read(const char *path, const char *key_column, const char *value_column,
                             mt_label_table *out);
/* The value for `key`, or NULL if absent. */
const char *mt_label_table_get(const mt_label_table *t, const char *key);
/* Class index of `key`'s value in class_names[0..n_classes-1] (exact match), in *label.
 * Errors: MT_ERR_FORMAT "missing label for <key> in <csv>" or "value not a known class". */
mt_status mt_label_table_class(const mt_label_table *t, const char *key, const char *const *class_names,
                               int n_classes, int *label);
void mt_label_table_free(mt_label_table *t);

/* One mini-MIAS abnormality row. x, y, radius < 0 when the row has no coordinates. */
typedef struct mt_mias_row {
    char refnum[16];  /* "mdb001" */
    char bg;          /* F/G/D */
    char cls[8];      /* CIRC, SPIC, MISC, CALC, ARCH, ASYM, NORM */
    char severity;    /* B/M, or 0 */
    float x, y, radius;
} mt_mias_row;
typedef struct mt_mias_table {
    int n;
    mt_mias_row *rows;
} mt_mias_table;

/* Parses a MIAS Info.txt (whitespace separated; an optional header line starting with
 * REFNUM is skipped). Errors: MT_ERR_IO, MT_ERR_FORMAT (line number in the message). */
mt_status mt_mias_read(const char *path, mt_mias_table *out);
void mt_mias_free(mt_mias_table *t);
/* Rasterises every circle of `refnum` into mask uint8 [h,w] (zeroed first): pixel
 * (col, row) is inside when (col - X)^2 + (row - (h - Y))^2 <= RADIUS^2.
 * This is the usual approximation of a mass outline by its enclosing circle.
 * Returns the number of circles drawn in *n_circles (0 for rows without coordinates).
 * Errors: MT_ERR_INVALID when refnum has no row ("no label for mdbXXX"). */
mt_status mt_mias_mask(const mt_mias_table *t, const char *refnum, int h, int w, uint8_t *mask, int *n_circles);
/* Boxes [x0,y0,x1,y1,class] (pixels, clipped to the image) of the circles of `refnum`;
 * class = 0 benign, 1 malignant. *boxes is allocated (caller frees), *n set. */
mt_status mt_mias_boxes(const mt_mias_table *t, const char *refnum, int h, int w, float **boxes, int *n);
/* The woman a MIAS film belongs to: films come in left/right pairs mdb(2k-1), mdb(2k),
 * so "mdb027" and "mdb028" both give "mias_woman_014" (k = (NNN + 1) / 2, 3 digits).
 * The importer uses it as the patient id, so a woman's two films share a split.
 * Errors: MT_ERR_INVALID when refnum is not "mdb" + digits or out is too small. */
mt_status mt_mias_woman(const char *refnum, char *out, size_t cap);

/* Reads the point shapes of a LabelMe JSON file: for each wanted label names[i], the
 * first point of the first shape with that label goes to xy[2i], xy[2i+1] (x = column,
 * y = row, pixels); NaN,NaN if the label is absent. *n_found = labels found.
 * image_h / image_w (may be NULL) receive imageHeight / imageWidth (-1 if absent).
 * Errors: MT_ERR_IO (missing), MT_ERR_FORMAT (not JSON, no "shapes" array, a point
 * without two numbers), naming the file. */
mt_status mt_labelme_read_points(const char *path, const char *const *names, int n_names, float *xy,
                                 int *n_found, int *image_h, int *image_w);

/* Collects the distinct shape labels of a LabelMe JSON file: each label not yet among
 * labels[0..*n) is appended (truncated to MT_LABELME_NAME - 1 bytes) while *n < cap.
 * Errors as mt_labelme_read_points (missing file, not JSON, no "shapes" array). */
#define MT_LABELME_NAME 64
mt_status mt_labelme_labels(const char *path, char (*labels)[MT_LABELME_NAME], int cap, int *n);

/* Axis-aligned box around points xy[2*idx[i]] (i < n_idx; NaN points are an error),
 * grown by `margin` x its width/height on every side (0.1 = 10%) and clipped to [0,w-1] x
 * [0,h-1]. box = x0,y0,x1,y1. Errors: MT_ERR_INVALID if a point is missing or outside. */
mt_status mt_box_from_points(const float *xy, const int *idx, int n_idx, double margin, int h, int w,
                             float box[4]);

#ifdef __cplusplus
}
#endif
#endif
