/* train/detect_iou.c: the top-box IoU of an image and its mean over a split
 * (detect.h, the detection task's `mean_iou`). */
#include <math.h>
#include <stdlib.h>

#include "detect.h"

static double iou_d(const mt_detection *d, const float *l)
{
    double iw = fmin(d->x1, l[2]) - fmax(d->x0, l[0]), ih = fmin(d->y1, l[3]) - fmax(d->y0, l[1]);
    iw = iw > 0 ? iw : 0;
    ih = ih > 0 ? ih : 0;
    double inter = iw * ih;
    double ad = ((double)d->x1 - d->x0) * ((double)d->y1 - d->y0), al = ((double)l[2] - l[0]) * ((double)l[3] - l[1]);
    double uni = ad + al - inter;
    return uni > 0 ? inter / uni : 0.0;
}

double mt_top_box_iou(const mt_detection *det, int n_det, const float *labels, int n_lab)
{
    if (n_lab <= 0 || !labels) return NAN;
    if (n_det <= 0 || !det) return 0.0;
    int top = 0;
    for (int i = 1; i < n_det; i++)
        if (det[i].score > det[top].score) top = i;
    double best = 0.0;
    for (int j = 0; j < n_lab; j++) {
        if ((int)labels[5 * j] != det[top].cls) continue;
        double v = iou_d(&det[top], labels + 5 * j + 1);
        if (v > best) best = v;
    }
    return best;
}

mt_status mt_top_box_iou_add_batch(const mt_detections *det, int n_images, const float *boxes, int n_boxes,
                                   double *sum, int *count)
{
    MT_REQUIRE(sum && count && n_images >= 0 && (n_images == 0 || det) && n_boxes >= 0 && (n_boxes == 0 || boxes),
               "mt_top_box_iou_add_batch: bad arguments");
    for (int i = 0; i < n_boxes; i++)
        MT_REQUIRE(boxes[6 * i] >= 0 && boxes[6 * i] < n_images,
                   "mt_top_box_iou_add_batch: box %d row %g outside [0, %d)", i, boxes[6 * i], n_images);
    float *lab = mt_malloc((size_t)(n_boxes ? n_boxes : 1) * 5 * sizeof *lab);
    if (!lab) return mt_last_status();
    for (int b = 0; b < n_images; b++) {
        int m = mt_batch_image_labels(boxes, n_boxes, b, lab);
        if (m == 0) continue;
        *sum += mt_top_box_iou(det[b].det, det[b].n, lab, m);
        (*count)++;
    }
    free(lab);
    return MT_OK;
}
