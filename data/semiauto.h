/* data/semiauto.h: semi-automatic labeling of one CT slice (S3's labeling tool): three ways
 * to turn a box drawn by a user into a tissue mask.
 *
 *   threshold    pixels inside the box (whole slice without one) whose HU lie in [lo, hi]
 *                (tissue ranges: muscle -29..150, subcutaneous fat -190..-30, visceral fat
 *                -150..-50 HU, the Alberta protocol's; or any lo,hi).
 *   backproject  histogram back-projection: the user boxes part of the target tissue; the
 *                slice windowed to 8 bits (level/width, default soft tissue 40/400 HU), the
 *                box's histogram (`bins` bins) is back-projected (OpenCV calcBackProject,
 *                data/cv_seg.h) and pixels whose scaled histogram value is >= min_ratio * 255
 *                are selected, within `region` (default: the whole slice).
 *   grabcut      OpenCV GrabCut on the windowed slice cropped to the box grown by `margin`
 *                pixels: the object inside the box is separated from its surroundings
 *                (`iterations` rounds). Without an HU range it starts from the box (inside
 *                probable foreground, outside background); with one it starts from the box's
 *                in-range pixels as probable foreground, all else background (seeded).
 *                GrabCut needs the object to differ from what surrounds it: a box around a
 *                liver works (DSC 0.93 on the TotalSegmentator DICOM sample with the defaults),
 *                but skeletal muscle shares its grey levels with the neighbouring soft tissue,
 *                and each further round re-learns the colour models from the last cut until
 *                the muscle is lost; for muscle use the seeded form with --margin 0
 *                --iterations 1 (docs/labeling.md).
 * Every method may also be gated by an HU range (backproject / grabcut: pixels outside
 * [lo, hi] are dropped), as the tool applies HU thresholds before the ROI step.
 *
 * Boxes are pixel rectangles of the display slice: columns x0 <= x < x1, rows y0 <= y < y1.
 * A box that is empty (x1 <= x0 or y1 <= y0) or reaches outside the slice is an error that
 * names the box and the slice size; nothing is clipped silently.
 */
#ifndef MT_DATA_SEMIAUTO_H
#define MT_DATA_SEMIAUTO_H

#include <stddef.h>
#include <stdint.h>

#include "../core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_box {
    int x0, y0, x1, y1;
} mt_box;

/* "x0,y0,x1,y1" (integers) into b. Errors: MT_ERR_INVALID naming `what` (e.g. "--box"). */
mt_status mt_box_parse(const char *s, const char *what, mt_box *b);
/* MT_OK when b is non-empty and inside an h x w slice; else MT_ERR_INVALID naming `what`,
 * the box and the slice size. */
mt_status mt_box_check(const mt_box *b, int h, int w, const char *what);

typedef enum mt_label_method {
    MT_LABEL_THRESHOLD = 0,
    MT_LABEL_BACKPROJECT = 1,
    MT_LABEL_GRABCUT = 2
} mt_label_method;

/* "threshold", "backproject", "grabcut". Errors: MT_ERR_INVALID for anything else. */
mt_status mt_label_method_parse(const char *s, mt_label_method *m);
const char *mt_label_method_name(mt_label_method m);

/* "muscle" (-29,150), "sat" or "fat" (-190,-30), "vat" (-150,-50), or "lo,hi" (lo < hi) in HU.
 * Errors: MT_ERR_INVALID naming the text. */
mt_status mt_hu_range_parse(const char *s, double *lo, double *hi);

typedef struct mt_label_params {
    mt_label_method method;
    double hu_lo, hu_hi;       /* threshold: the range (required); others: a gate, NaN = none */
    double level, width;       /* 8-bit window of backproject / grabcut, HU (default 40, 400) */
    int has_box;
    mt_box box;                /* threshold: region (optional); backproject: the tissue sample;
                                  grabcut: the object's box (both required) */
    int has_region;
    mt_box region;             /* backproject: where pixels may be selected (default all) */
    int bins;                  /* backproject: histogram bins, 2..256 (default 32) */
    double min_ratio;          /* backproject: selection threshold, 0..1 (default 0.1) */
    int iterations;            /* grabcut: rounds (default 5) */
    int margin;                /* grabcut: the image it sees is the box grown by this many pixels
                                  per side, clipped to the slice (default 10) */
} mt_label_params;

/* The defaults above for method m (no box, no HU range). */
void mt_label_params_default(mt_label_params *p, mt_label_method m);

/* Labels one slice: hu [h*w] in HU -> mask [h*w] 0/1 as described in the file comment.
 * Errors: MT_ERR_INVALID (a missing or bad box, region or HU range, bad parameters; the
 * message names the option), MT_ERR_UNSUPPORTED (an OpenCV failure), MT_ERR_NOMEM. */
mt_status mt_label_slice(const float *hu, int h, int w, const mt_label_params *p, uint8_t *mask);

/* One line describing the method and its parameters, e.g.
 * "grabcut box=40,50,80,90 window=40/400 iterations=5 hu=-29,150", kept with the mask. */
void mt_label_describe(const mt_label_params *p, char *buf, size_t len);

/* Dice similarity coefficient 2|A n B| / (|A| + |B|) of two h x w 0/1 masks, counting only
 * the pixels inside `within` (NULL: all; clipped to the slice); NaN when both are empty there. */
double mt_mask_dsc(const uint8_t *a, const uint8_t *b, int h, int w, const mt_box *within);

#ifdef __cplusplus
}
#endif
#endif
