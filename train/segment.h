/* train/segment.h: a segmentation run's masks for new images (medtrain predict,
 * the S3 pseudo-label loop, train/pseudo_label.h). */
#ifndef MT_TRAIN_SEGMENT_H
#define MT_TRAIN_SEGMENT_H

#include <stdint.h>

#include "session.h"

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

#ifdef __cplusplus
}
#endif
#endif
