/* train/segment.h: a segmentation run's masks for new images (medtrain predict,
 * the S3 pseudo-label loop, train/pseudo_label.h) and the per-image outputs of
 * `medtrain evaluate` (CSV, Bland-Altman plot; seg_images.c). */
#ifndef MT_TRAIN_SEGMENT_H
#define MT_TRAIN_SEGMENT_H

#include <stdint.h>

#include "../core/metrics.h"
#include "plot.h"
#include "session.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Predicted masks of raw images [N, C, H, W] (dataset units, e.g. HU; H, W = the
 * session's input size) with the session's model, as `medtrain evaluate` scores
 * them: normalised as in training, then sigmoid > metrics.threshold per channel
 * (K logits) or, for loss.kind cross_entropy (K + 1 logits), channel k set where
 * the argmax is 1 + k; then each channel's post-processing window
 * (postprocess.class_hu_windows / hu_window) on the first input channel.
 * out: caller's uint8 [N, K, H, W] (K = the dataset's mask channels), 0/1.
 * Implemented in task_segmentation.c (it owns the scores). Errors: MT_ERR_INVALID
 * (not a segmentation session, bad shapes), op errors. */
mt_status mt_segmentation_masks(mt_session *s, mt_tensor *images, uint8_t *out);

/* The per-image results of a segmentation evaluation `e` (the segmentation task's
 * evaluate): *n images x *k mask channels, row i * k + c = image i (the evaluated
 * index list's order), channel c; metrics after post-processing and the confusion
 * counts behind them (reference area = tp + fn, predicted area = tp + fp pixels).
 * The pointers stay owned by e. Errors: MT_ERR_INVALID (NULL, or e is not a
 * segmentation evaluation). */
mt_status mt_segmentation_eval_images(const mt_eval *e, int *n, int *k, const mt_seg_metrics **metrics,
                                      const mt_confusion **counts);

/* `medtrain evaluate`'s per-image outputs of a segmentation run, written atomically into dir:
 *   eval_<split>_images.csv: one row per image and mask channel: index (dataset row),
 *     source, channel, sensitivity (recall), specificity, accuracy, dsc, iou, precision
 *     (fractions in [0, 1]; empty when undefined), gold_area_px, pred_area_px (pixels at
 *     the network input size);
 *   bland_altman_<split>[_<channel>].png: Bland-Altman plot of the area (S5, papers.md):
 *     x = mean of gold and predicted area, y = gold - predicted, lines at the mean
 *     difference and -+ 1.96 SD (train/plot.h mt_plot_bland_altman); the suffix only
 *     when the dataset has more than one mask channel.
 * idx / n: the evaluated dataset rows, as passed to evaluate. ba (may be NULL) receives the
 * plot's numbers for channel 0. Errors: MT_ERR_INVALID (not a segmentation evaluation, n
 * differs), dataset read errors (naming the dataset), MT_ERR_IO / MT_ERR_NOMEM. */
mt_status mt_segmentation_write_images(mt_session *s, const mt_eval *e, const int *idx, int n, const char *dir,
                                       const char *split, mt_plot_bland_altman_stats *ba);

#ifdef __cplusplus
}
#endif
#endif
