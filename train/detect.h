/* train/detect.h: YOLOv5 detection numerics: targets, loss, decoding, NMS, mAP.
 * Sources: Ultralytics YOLOv5 v6.x / v7.0 (GPL-3.0, read, not copied):
 * utils/loss.py ComputeLoss and build_targets, utils/metrics.py bbox_iou /
 * box_iou / ap_per_class / compute_ap, utils/general.py non_max_suppression,
 * val.py process_batch, models/yolo.py Detect; torchvision.ops.nms.
 *
 * Conventions
 *  - Predictions: one raw (no sigmoid) tensor per level, [N, A, H, W, 5 + nc] as
 *    medtrain's YOLOv5s graph returns (configs/models/yolov5s.yaml p3, p4, p5:
 *    Detect's view + permute), or [N, A * (5 + nc), H, W] (the 1x1 conv's
 *    output, channel a * (5 + nc) + j; viewed and permuted internally). Per
 *    anchor the last axis is x, y, w, h, obj, cls0 .. cls(nc-1).
 *    Level l has stride head->stride[l] (8, 16, 32): H = image height / stride.
 *  - Targets: host float [nt, 6] rows (image index in the batch, class, cx, cy,
 *    w, h) with cx, w divided by the image width and cy, h by its height
 *    (YOLO txt convention, 0 = left/top image edge, 1 = right/bottom edge).
 *  - Pixel boxes of the detections / mAP (mt_detection, labels): x0, y0, x1, y1
 *    in YOLOv5's pixel frame (0 = left/top image edge), unless said otherwise.
 *    medtrain's data frame (data/sample.h) puts 0 at the *centre* of the top-left
 *    pixel: mt_yolo_targets_from_boxes and mt_yolo_detect convert (+-0.5 px).
 */
#ifndef MT_TRAIN_DETECT_H
#define MT_TRAIN_DETECT_H

#include "../core/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_YOLO_MAX_LEVELS 5
#define MT_YOLO_MAX_ANCHORS 9

/* The Detect head: levels, anchors per level, classes, strides and anchors. */
typedef struct mt_yolo_head {
    int nl, na, nc;                                         /* levels, anchors per level, classes */
    double stride[MT_YOLO_MAX_LEVELS];                      /* pixels per cell: 8, 16, 32 */
    double anchors[MT_YOLO_MAX_LEVELS][MT_YOLO_MAX_ANCHORS][2]; /* (w, h) in pixels */
} mt_yolo_head;

/* YOLOv5s (P3-P5) head for nc classes: nl 3, na 3, strides 8/16/32, anchors
 * (10,13 16,30 33,23) (30,61 62,45 59,119) (116,90 156,198 373,326) pixels
 * (models/yolov5s.yaml, the same as configs/models/yolov5s.yaml). */
mt_yolo_head mt_yolo_head_default(int nc);

/* Loss hyperparameters (YOLOv5 data/hyps/hyp.scratch-low.yaml + ComputeLoss). */
typedef struct mt_yolo_hyp {
    double box;             /* box (1 - CIoU) gain, 0.05 */
    double obj;             /* objectness gain, 1.0 */
    double cls;             /* class gain, 0.5 */
    double cls_pw, obj_pw;  /* BCEWithLogits pos_weight for classes / objectness, 1.0 */
    double anchor_t;        /* target-anchor wh ratio threshold: max(r, 1/r) < anchor_t, 4.0 */
    double label_smoothing; /* eps: class targets cp = 1 - eps/2, cn = eps/2 (smooth_BCE), 0.0 */
    double gr;              /* objectness target = (1 - gr) + gr * clamp(CIoU, 0), 1.0 */
    double balance[MT_YOLO_MAX_LEVELS]; /* per-level objectness weights: [4.0, 1.0, 0.4] for
                                           3 levels, [4.0, 1.0, 0.25, 0.06, 0.02] otherwise */
} mt_yolo_hyp;

/* The defaults above (unscaled, as in the hyp file; balance for `nl` levels). */
mt_yolo_hyp mt_yolo_hyp_default(int nl);
/* train.py's scaling of the gains to the model and image size:
 * box *= 3 / nl; cls *= nc / 80 * 3 / nl; obj *= (imgsz / 640)^2 * 3 / nl.
 * imgsz: the (square) training image side in pixels. */
void mt_yolo_hyp_scale(mt_yolo_hyp *h, int nc, int nl, int imgsz);

/* YOLOv5 ComputeLoss.__call__(p, targets).
 *  preds[l]: level l predictions (layout above), all on one device (CPU or
 *    CUDA), MT_REAL; nl = head->nl tensors, same N.
 *  targets: host float [nt, 6] (image, class, cx, cy, w, h normalised); nt may be 0.
 *  *loss (new reference): 0-d tensor on the predictions' device,
 *    (lbox + lobj + lcls) * N, with autograd to preds (mt_backward gives
 *    d loss / d preds). This is what YOLOv5 returns and back-propagates.
 *  components (may be NULL): host [lbox, lobj, lcls] after the gains (YOLOv5's
 *    second return value, detached); reading them waits for the device.
 * Per level (build_targets): each target is matched to every anchor with
 * max(w/aw, aw/w, h/ah, ah/h) < anchor_t (grid units), and assigned to its cell
 * and to the neighbouring cells in x and in y whose shared border is within half
 * a cell (g = 0.5; not at the image border), so up to 3 cells per target and
 * anchor. Box: pxy = 2 sigmoid(x, y) - 0.5, pwh = (2 sigmoid(w, h))^2 * anchor,
 * lbox_l = mean(1 - CIoU(pbox, target)) (eps 1e-7, alpha detached). Objectness:
 * BCE-with-logits mean over all N*A*H*W cells against tobj = (1-gr) + gr *
 * clamp(CIoU, 0) detached at assigned cells, 0 elsewhere; when several targets
 * hit one cell the highest IoU wins (YOLOv5 with sort_obj_iou). lobj = sum_l
 * balance[l] * obj_l. Class (only when nc > 1): BCE-with-logits mean over the
 * assigned [n, nc] entries against cp / cn. Then lbox *= box, lobj *= obj,
 * lcls *= cls (autobalance off).
 * Device traffic (documented, small): the assignment (row indices, anchors,
 * target boxes, class targets) is built on the host and uploaded; the detached
 * CIoU of the n assigned entries is copied to the host to build tobj, which is
 * uploaded ([N, A, H, W, 1] per level). Predictions are never copied.
 * Errors: MT_ERR_INVALID (shapes, channel count != na * (5 + nc), target image
 * index outside [0, N) or class outside [0, nc), non-finite target), op errors. */
mt_status mt_yolo_loss(const mt_yolo_head *head, const mt_yolo_hyp *hyp, mt_tensor *const *preds,
                       const float *targets, int nt, mt_tensor **loss, double components[3]);

/* Dataset boxes of a batch -> YOLO targets.
 *  boxes: host [n_boxes, 6] (row in batch, x0, y0, x1, y1, class) in pixels of
 *    medtrain's frame (data/loader.h mt_batch.boxes; origin at the centre of the
 *    top-left pixel, so the image spans [-0.5, W - 0.5]); img_h, img_w: input size.
 *  targets: caller's float [n_boxes, 6]: (row, class, (x0 + x1)/2 + 0.5) / W,
 *    ((y0 + y1)/2 + 0.5) / H, (x1 - x0) / W, (y1 - y0) / H.
 * Errors: MT_ERR_INVALID (NULL, bad size, x1 < x0 or y1 < y0, non-finite). */
mt_status mt_yolo_targets_from_boxes(const float *boxes, int n_boxes, int img_h, int img_w, float *targets);

/* One detection: box in pixels, score (obj * cls confidence), class id. */
typedef struct mt_detection {
    float x0, y0, x1, y1;
    float score;
    int cls;
} mt_detection;

/* Per-image detections (owned arrays; free with mt_detections_free). */
typedef struct mt_detections {
    int n;
    mt_detection *det;
} mt_detections;
void mt_detections_free(mt_detections *d, int n_images);

/* Decoding (Detect inference + the candidate stage of non_max_suppression,
 * multi_label off) of image `image` of host predictions.
 *  preds_host[l]: host mt_real [N, A, H, W, 5 + nc] (the graph's layout);
 *    shapes come from shapes[l][0..4] = N, A, H, W, 5 + nc.
 *  For every level, anchor, row, column (that order: YOLOv5's concatenation),
 *  obj = sigmoid(o); kept when obj > conf_thres; class = argmax of sigmoid(cls) *
 *  obj (first maximum), score = that product, kept when score > conf_thres.
 *  Box: cx = (2 sigmoid(x) - 0.5 + col) * stride, cy likewise with row,
 *  w = (2 sigmoid(w))^2 * anchor_w, h likewise; x0 = cx - w/2 ... (YOLOv5 pixels).
 *  out: new array (free()) of *n_out candidates, in that order (may be NULL when 0).
 * Errors: MT_ERR_INVALID, MT_ERR_NOMEM. */
mt_status mt_yolo_decode(const mt_yolo_head *head, const mt_real *const *preds_host, const int (*shapes)[5],
                         int image, double conf_thres, mt_detection **out, int *n_out);

/* torchvision.ops.nms: boxes [n, 4] (x0, y0, x1, y1), scores [n]; visits boxes by
 * score descending (stable: equal scores keep index order, as torchvision's CPU
 * kernel) and suppresses every later box whose IoU with a kept box is
 * > iou_thres (IoU = inter / (area_i + area_j - inter) in float arithmetic, widths
 * clamped at 0, compared with the double threshold). keep: caller's int [n]; receives the kept indices in visiting
 * order, *n_keep their count. Errors: MT_ERR_INVALID, MT_ERR_NOMEM. */
mt_status mt_nms(const float *boxes, const float *scores, int n, double iou_thres, int *keep, int *n_keep);

/* Class-aware NMS as YOLOv5's non_max_suppression: every box is offset by
 * classes[i] * max_wh (max_wh = 7680 in YOLOv5; 0 = class-agnostic) before
 * mt_nms. Same outputs as mt_nms. */
mt_status mt_batched_nms(const float *boxes, const float *scores, const int *classes, int n, double iou_thres,
                         double max_wh, int *keep, int *n_keep);

/* YOLOv5 non_max_suppression settings. */
typedef struct mt_nms_params {
    double conf_thres; /* 0.25 (detect.py); val.py uses 0.001 */
    double iou_thres;  /* 0.45 (detect.py); val.py uses 0.6 */
    int max_det;       /* 300 */
    int max_nms;       /* 30000: candidates kept (best scores) before NMS */
    int agnostic;      /* 0: class-aware (offset max_wh = 7680) */
} mt_nms_params;
mt_nms_params mt_nms_params_default(void);

/* Model outputs -> per-image detections after NMS (decode + non_max_suppression
 * with multi_label off). preds: the nl level tensors (layout above, any device;
 * they are copied to the host once, here: post-processing is host code).
 * out: caller's array of N mt_detections (filled; free with mt_detections_free),
 * each sorted by score descending, boxes in YOLOv5 pixels if medtrain_frame = 0,
 * or shifted by -0.5 into medtrain's data frame (comparable with dataset boxes)
 * if 1. Errors: MT_ERR_INVALID, MT_ERR_NOMEM, copy errors. */
mt_status mt_yolo_detect(const mt_yolo_head *head, mt_tensor *const *preds, mt_nms_params p, int medtrain_frame,
                         mt_detections *out);

/* --------------------------------------------------------- mean IoU --- */

/* IoU of one image's top-confidence detection with its best-overlapping true box
 * (the detection task's `mean_iou` metric, averaged over images with a true box):
 * the detection with the highest score (first maximum) among det[0..n_det), and
 * among the labels (host float [n_lab, 5]: class, x0, y0, x1, y1, same pixel frame)
 * of its class the largest IoU = inter / (area_d + area_l - inter) (double, widths
 * clamped at 0, no eps). 0 when n_det = 0 or no label has its class; NaN when
 * n_lab = 0 (the image does not count). */
double mt_top_box_iou(const mt_detection *det, int n_det, const float *labels, int n_lab);

/* Adds a batch to the mean IoU sums: det[0..n_images) per-image detections and the
 * batch's boxes host [n_boxes, 6] (row, x0, y0, x1, y1, class; mt_batch.boxes); for
 * each image with at least one box, *sum += mt_top_box_iou and *count += 1.
 * Errors: MT_ERR_INVALID (a box row outside [0, n_images)), MT_ERR_NOMEM. */
mt_status mt_top_box_iou_add_batch(const mt_detections *det, int n_images, const float *boxes, int n_boxes,
                                   double *sum, int *count);

/* ------------------------------------------------------------------ mAP --- */

/* Accumulates val.py statistics over images: for each image,
 * process_batch matches detections to labels at IoU thresholds
 * 0.50, 0.55, ..., 0.95 (torch.linspace(0.5, 0.95, 10) in float32): a
 * detection is a candidate for a label of its class with IoU >= t; each
 * detection keeps its highest-IoU label, then each label keeps the first such
 * detection in the detections' order (YOLOv5's rule: detections arrive sorted by
 * score, so the most confident). */
typedef struct mt_map_acc mt_map_acc;
/* New accumulator for classes 0..nc-1. NULL on MT_ERR_NOMEM / nc < 1. */
mt_map_acc *mt_map_acc_new(int nc);
void mt_map_acc_free(mt_map_acc *a);
/* One image: det [n_det] (pixels; order matters, see above), labels host float
 * [n_lab, 5] (class, x0, y0, x1, y1) in the same pixel frame as det.
 * Errors: MT_ERR_INVALID (class outside [0, nc)), MT_ERR_NOMEM. */
mt_status mt_map_acc_add(mt_map_acc *a, const mt_detection *det, int n_det, const float *labels, int n_lab);
/* The true boxes of batch row `image` from a loader batch's boxes [n_boxes, 6] (row, x0, y0,
 * x1, y1, class) into lab [m, 5] (class, x0, y0, x1, y1: the layout mt_map_acc_add and
 * mt_top_box_iou take); lab holds room for n_boxes rows. Returns m. */
int mt_batch_image_labels(const float *boxes, int n_boxes, int image, float *lab);

/* A whole batch: det[0..n_images) per-image detections (e.g. mt_yolo_detect with
 * medtrain_frame = 1) and the batch's dataset boxes, host [n_boxes, 6] (row in
 * batch, x0, y0, x1, y1, class; mt_batch.boxes), in the same pixel frame.
 * Calls mt_map_acc_add once per image. Errors: as mt_map_acc_add, and
 * MT_ERR_INVALID for a box row outside [0, n_images). */
mt_status mt_map_acc_add_batch(mt_map_acc *a, const mt_detections *det, int n_images, const float *boxes,
                               int n_boxes);

/* mAP results (val.py after ap_per_class). Means run over the classes that
 * have at least one label (np.unique(target_cls)). */
typedef struct mt_map_result {
    double map50;     /* mean AP at IoU 0.5 */
    double map;       /* mean over classes of AP averaged over IoU 0.5:0.05:0.95 */
    double precision; /* mean P at the max-F1 confidence (see below) */
    double recall;    /* mean R at the max-F1 confidence */
    int n_classes;    /* classes with labels */
    int n_labels;     /* labels seen */
} mt_map_result;

/* ap_per_class + compute_ap: detections sorted by score descending (stable);
 * per class c with labels: recall = cumTP / n_labels, precision = cumTP /
 * (cumTP + cumFP); AP per IoU threshold = trapz over x = linspace(0, 1, 101) of
 * np.interp(x, [0, recall, 1], envelope([1, precision, 0])) (the envelope is the
 * running max from the right); classes without detections have AP = P = R = 0.
 * P and R: YOLOv5 samples each class's precision and recall at IoU 0.5 on
 * 1000 confidences px = linspace(0, 1, 1000) (np.interp over -score, left 1 for
 * P, left 0 for R), takes the F1 = 2PR/(P+R+1e-16) curve averaged over classes,
 * smooths it with a 101-point box filter (edge-padded) and reports the class-mean
 * P and R at its argmax (first maximum). ap50 / ap (may be NULL): caller's
 * double [nc], per-class AP@0.5 and AP@0.5:0.95, NaN for classes without labels.
 * With no labels at all, everything is 0 (YOLOv5 prints zeros). Errors: MT_ERR_NOMEM. */
mt_status mt_detection_map(const mt_map_acc *a, mt_map_result *r, double *ap50, double *ap);

#ifdef __cplusplus
}
#endif
#endif
