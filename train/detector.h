/* train/detector.h: a trained detection run used as a detector on a dataset:
 * loading it (run directory or checkpoint) against another dataset, and each
 * image's highest-confidence box (S4: the YOLOv5s nasal-bone boxes that crop the
 * films for every later model, `medtrain crop --detector`).
 */
#ifndef MT_TRAIN_DETECTOR_H
#define MT_TRAIN_DETECTOR_H

#include "detect.h"
#include "session.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opens the detection run `run_or_ckpt` (a run directory: its config.yaml and
 * best.h5, else last.h5; or a checkpoint .h5 with config.yaml beside it) as a
 * session on `dev` whose data.dataset is `dataset` (so sample indices are that
 * dataset's). *s must be zeroed; free with mt_session_free (also on failure).
 * *weights_used (may be NULL; caller's buffer of `cap` bytes) receives the
 * checkpoint path. Errors: MT_ERR_IO (no checkpoint / config, naming the path),
 * MT_ERR_INVALID (the run's task.kind is not detection), config, dataset and
 * checkpoint errors. */
mt_status mt_detector_open(mt_session *s, const char *run_or_ckpt, const char *dataset, mt_device dev,
                           char *weights_used, size_t cap);

/* The model's detections (decoding + class-aware NMS at the run's
 * task.conf_threshold and task.nms_iou, train/detect.h) for network-input images
 * [N, C, in_h, in_w] in dataset units (normalised here as in training), in
 * medtrain's pixel frame of the network input. det: caller's array of N
 * (free with mt_detections_free), each sorted by score, descending.
 * Implemented in task_detection.c (it owns the head). Errors: MT_ERR_INVALID
 * (the session's task is not detection), op errors. */
mt_status mt_detection_infer(mt_session *s, mt_tensor *images, mt_detections *det);

/* One image's top box. */
typedef struct mt_top_box {
    int found;              /* 0: no detection above task.conf_threshold ("none") */
    float x0, y0, x1, y1;   /* pixels of the dataset's frame (data/sample.h) */
    float score;            /* obj * class confidence */
    int cls;
} mt_top_box;

/* For samples idx[0..n) of the session's dataset, each image's highest-
 * confidence box after decoding + NMS (YOLOv5 detect.py with the run's
 * conf_threshold / nms_iou), in the dataset's pixel frame: the session reads
 * images resized to the input size with boxes scaled by in/dataset size
 * (mt_session_read_batch), so the box is scaled back by dataset/in size.
 * Runs in eval mode without gradients, batch_size images at a time.
 * out: caller's array of n. Errors: as mt_detection_infer, dataset reads. */
mt_status mt_detector_top_boxes(mt_session *s, const int *idx, int n, int batch_size, mt_top_box *out);

#ifdef __cplusplus
}
#endif
#endif
