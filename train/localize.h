/* train/localize.h: scores of a localization map against a ground-truth mask
 * (S4's synthetic-fracture benchmark: G-D-C maps against the recorded defect;
 * papers.md S4 "Stand-in"). Plain arrays, no tensors, so they are testable on
 * crafted values. A map is float [n] (one image, row-major), a mask uint8 [n]
 * (nonzero = inside).
 *
 *   pointing game (Zhang et al., ECCV 2016): a hit when the map's maximum pixel
 *     lies in the mask; ties: the first maximum in row-major order (numpy argmax).
 *   IoU at tau: |{map > tau} & mask| / |{map > tau} | mask|.
 *   tau search: tau from the grid 0.05, 0.10, ..., 0.95 (MT_LOC_N_TAU values,
 *     tau_j = (j + 1) / 20) maximising the mean IoU over a set of images (the
 *     first best on ties); used on the val split, then applied unchanged.
 * Only images whose mask is non-empty are scored (mt_loc_acc_add skips others).
 */
#ifndef MT_TRAIN_LOCALIZE_H
#define MT_TRAIN_LOCALIZE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT_LOC_N_TAU 19

/* Grid threshold j (0..MT_LOC_N_TAU-1): (j + 1) / 20. */
double mt_loc_tau(int j);
/* Min-max normalises map[0..n-1] in place to [0, 1]; a constant map becomes all 0. */
void mt_loc_minmax(float *map, size_t n);
/* Index of the first maximum of map (NaN never wins); 0 when n = 0. */
size_t mt_loc_argmax(const float *map, size_t n);
/* 1 when the map's argmax pixel lies in the mask, else 0. */
int mt_loc_pointing_hit(const float *map, const uint8_t *mask, size_t n);
/* IoU of (map > tau) with the mask; 1 when both are empty. */
double mt_loc_iou(const float *map, const uint8_t *mask, size_t n, double tau);
/* iou[j] = mt_loc_iou(map, mask, n, mt_loc_tau(j)) for the whole grid, in one pass. */
void mt_loc_iou_grid(const float *map, const uint8_t *mask, size_t n, double iou[MT_LOC_N_TAU]);

/* Running scores of one map kind over the images of a split. */
typedef struct mt_loc_acc {
    long n;                          /* images with a non-empty mask */
    long hits;                       /* pointing-game hits among them */
    double iou_sum[MT_LOC_N_TAU];    /* sum of IoU at each grid tau */
} mt_loc_acc;

/* Adds one image (skipped when its mask is empty). */
void mt_loc_acc_add(mt_loc_acc *a, const float *map, const uint8_t *mask, size_t n);
/* Grid index of the tau with the highest mean IoU (the first on ties); -1 when a->n = 0. */
int mt_loc_acc_best_tau(const mt_loc_acc *a);
/* Pointing-game hit rate, NaN when a->n = 0. */
double mt_loc_acc_pointing(const mt_loc_acc *a);
/* Mean IoU at grid tau j, NaN when a->n = 0 or j < 0. */
double mt_loc_acc_iou(const mt_loc_acc *a, int j);

#ifdef __cplusplus
}
#endif
#endif
