/* train/task_gdc.h: what the G-D-C task's files share (task_gdc.c, the
 * training and loss side; task_gdc_localize.c, the localization scores).
 * Not public API: the task is used through mt_task_gdc (task.h). */
#ifndef MT_TRAIN_TASK_GDC_H
#define MT_TRAIN_TASK_GDC_H

#include "task.h"

/* C's class-activation map of a batch x (network input [N, C, H, W]): [N, 1, H, W]
 * in [0, 1] (task_gdc.c's header comment); needs task.cam_layer. NULL on error. */
mt_tensor *mt_gdc_cam_map(mt_session *s, mt_tensor *x);

/* Localization scores of the split idx[0..n-1] into out, when the dataset has
 * /masks (nothing otherwise): pointing_<map>, iou_<map>, tau_<map> for the maps
 * change, cam (when task.cam_layer is set) and random, tau searched on the val
 * split (task_gdc_localize.c; definitions in train/localize.h). */
mt_status mt_gdc_localize(mt_session *s, const int *idx, int n, int batch_size, mt_eval *out);

#endif
