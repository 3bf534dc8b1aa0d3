/* train/task_detection.c: the detection task, YOLOv5 style (train/detect.h).
 *
 * Targets: the dataset's /boxes (pixels, x0, y0, x1, y1, class; scaled with the
 * image to the input size), turned into YOLO targets (image, class, cx, cy, w,
 * h normalised) per batch.
 * Model: a graph with one output per level, [N, A, H, W, 5 + nc] raw
 * (configs/models/yolov5s.yaml p3, p4, p5); nc = last dimension - 5; strides
 * 8/16/32 and the anchors of task.anchors (YOLOv5s's by default; keep them equal
 * to the graph's `anchors` param).
 * Loss: YOLOv5's ComputeLoss (mt_yolo_loss): CIoU box loss, objectness BCE
 * with IoU targets and per-level balance [4, 1, 0.4], class BCE; gains
 * task.box_gain / obj_gain / cls_gain (hyp.scratch-low: 0.05 / 1.0 / 0.5)
 * scaled as train.py does for nc, the 3 levels and the input size; anchor
 * ratio threshold task.anchor_t (4). As YOLOv5, the loss is (lbox + lobj +
 * lcls) * batch size. Logged terms: box, obj, cls (after the gains).
 * Evaluation: decoding + class-aware NMS (task.conf_threshold 0.001,
 * task.nms_iou 0.6: val.py's), then val.py's matching and ap_per_class:
 * val_map50, val_map50_95, val_precision, val_recall (at the max-F1 confidence),
 * and val_mean_iou: per image with a true box, the IoU of its top-confidence
 * detection with the best-overlapping true box of its class (0 without a
 * detection), averaged (mt_top_box_iou; S4 crops with the top box).
 * Pictures: boxes/ PNGs with true (green) and predicted (red) boxes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ops.h"
#include "detect.h"
#include "detector.h"
#include "plot.h"
#include "run_dir.h"
#include "task.h"

#define MAX_LEVELS MT_YOLO_MAX_LEVELS

static const char *const k_metrics[] = {"map50", "map50_95", "precision", "recall", "mean_iou"};
static const char *const k_terms[] = {"box", "obj", "cls"};

typedef struct det_state {
    mt_yolo_head head;
    mt_yolo_hyp hyp;
} det_state;

/* the head of the session's model: levels = outputs, nc from the last dimension
 * (traced once with meta tensors, then kept in s->task_state: it is asked every step) */
static mt_status head_of(mt_session *s, mt_yolo_head *head, mt_yolo_hyp *hyp)
{
    const det_state *cached = s->task_state;
    if (cached) {
        *head = cached->head;
        *hyp = cached->hyp;
        return MT_OK;
    }
    int nl = mt_model_output_count(s->model);
    if (nl < 1 || nl > 3)
        return MT_ERR(MT_ERR_INVALID, "%s: task detection needs a model with 1 to 3 outputs (one per level); it has %d",
                      s->exp.config_path, nl);
    int in[4] = {1, s->in_c, s->in_h, s->in_w}, nd, shape[MT_MAX_DIMS];
    char value[256];
    snprintf(value, sizeof value, "%s", mt_model_output_name(s->model, 0));
    MT_TRY(mt_model_shape(s->model, value, 4, in, &nd, shape));
    if (nd != 5 || shape[4] < 6)
        return MT_ERR(MT_ERR_INVALID, "%s: task detection: the model's output %s must be [N, A, H, W, 5 + classes]",
                      s->exp.config_path, value);
    *head = mt_yolo_head_default(shape[4] - 5);
    head->nl = nl;
    for (int l = 0; l < 3; l++)
        for (int a = 0; a < 3; a++) {
            head->anchors[l][a][0] = s->exp.task.anchors[6 * l + 2 * a];
            head->anchors[l][a][1] = s->exp.task.anchors[6 * l + 2 * a + 1];
        }
    *hyp = mt_yolo_hyp_default(nl);
    hyp->box = s->exp.task.box_gain;
    hyp->obj = s->exp.task.obj_gain;
    hyp->cls = s->exp.task.cls_gain;
    hyp->anchor_t = s->exp.task.anchor_t;
    mt_yolo_hyp_scale(hyp, head->nc, nl, s->in_h);
    det_state *st = mt_malloc(sizeof *st);
    if (!st) return mt_last_status();
    st->head = *head;
    st->hyp = *hyp;
    s->task_state = st;
    return MT_OK;
}

static void det_free(mt_session *s)
{
    free(s->task_state);
    s->task_state = NULL;
}

static mt_status check(mt_session *s)
{
    if (mt_dataset_box_count(s->ds) == 0)
        return MT_ERR(MT_ERR_INVALID,
                      "%s: task detection needs boxes but dataset %s has none (no /boxes rows); import it with a box "
                      "source, or choose another task.kind",
                      s->exp.config_path, s->exp.data.dataset);
    if (!s->model) return MT_OK;
    mt_yolo_head head;
    mt_yolo_hyp hyp;
    return head_of(s, &head, &hyp);
}

static mt_status loss_of(mt_session *s, mt_tensor *const *outs, const mt_batch *b, mt_tensor **loss, double *terms)
{
    mt_yolo_head head;
    mt_yolo_hyp hyp;
    MT_TRY(head_of(s, &head, &hyp));
    float *targets = mt_malloc(sizeof(float) * 6 * (size_t)(b->n_boxes + 1));
    if (!targets) return mt_last_status();
    mt_status st = mt_yolo_targets_from_boxes(b->boxes, b->n_boxes, s->in_h, s->in_w, targets);
    double comp[3] = {NAN, NAN, NAN};
    if (st == MT_OK) st = mt_yolo_loss(&head, &hyp, outs, targets, b->n_boxes, loss, comp);
    free(targets);
    if (terms)
        for (int i = 0; i < 3; i++) terms[i] = comp[i];
    return st;
}

static mt_status det_loss(mt_session *s, mt_tensor *const *outs, int n_outs, const mt_batch *b, mt_tensor **loss,
                          double *terms)
{
    return loss_of(s, outs, b, loss, terms);
}

static mt_nms_params nms_params(const mt_session *s)
{
    mt_nms_params p = mt_nms_params_default();
    p.conf_thres = s->exp.task.conf_threshold;
    p.iou_thres = s->exp.task.nms_iou;
    return p;
}

mt_status mt_detection_infer(mt_session *s, mt_tensor *images, mt_detections *det)
{
    MT_REQUIRE(s && images && det, "mt_detection_infer: NULL argument");
    MT_REQUIRE(s->task == &mt_task_detection, "mt_detection_infer: the session's task is %s, not detection",
               s->task ? s->task->kind : "none");
    mt_yolo_head head;
    mt_yolo_hyp hyp;
    MT_TRY(head_of(s, &head, &hyp));
    mt_tensor *outs[MAX_LEVELS] = {0};
    int prev = mt_set_grad_enabled(0);
    mt_tensor *x = mt_session_normalize(s, images);
    mt_status st = x ? mt_model_forward_all(s->model, x, 0, outs) : mt_last_status();
    if (st == MT_OK) st = mt_yolo_detect(&head, outs, nms_params(s), 1, det);
    for (int i = 0; i < MAX_LEVELS; i++) mt_tensor_release(outs[i]);
    mt_tensor_release(x);
    mt_set_grad_enabled(prev);
    return st;
}

/* forward (eval) + loss + detections of one batch */
static mt_status run_batch(mt_session *s, const mt_batch *b, double *loss, mt_detections *det)
{
    mt_yolo_head head;
    mt_yolo_hyp hyp;
    MT_TRY(head_of(s, &head, &hyp));
    mt_tensor *outs[MAX_LEVELS] = {0}, *l = NULL;
    mt_tensor *x = mt_session_normalize(s, b->images);
    mt_status st = x ? mt_model_forward_all(s->model, x, 0, outs) : mt_last_status();
    if (st == MT_OK) st = loss_of(s, outs, b, &l, NULL);
    if (st == MT_OK) *loss = mt_task_scalar(l);
    if (st == MT_OK) st = mt_yolo_detect(&head, outs, nms_params(s), 1, det);
    for (int i = 0; i < MAX_LEVELS; i++) mt_tensor_release(outs[i]);
    mt_tensor_release(x);
    mt_tensor_release(l);
    return st;
}

static mt_status det_evaluate(mt_session *s, const int *idx, int n, int batch_size, mt_eval *out)
{
    memset(out, 0, sizeof *out);
    MT_REQUIRE(n > 0, "evaluation split is empty");
    mt_yolo_head head;
    mt_yolo_hyp hyp;
    MT_TRY(head_of(s, &head, &hyp));
    mt_map_acc *acc = mt_map_acc_new(head.nc);
    mt_detections *det = mt_calloc((size_t)batch_size, sizeof *det);
    mt_status st = acc && det ? MT_OK : mt_last_status();
    double loss_sum = 0, iou_sum = 0;
    int iou_n = 0;
    int prev = mt_set_grad_enabled(0);
    for (int b0 = 0; b0 < n && st == MT_OK; b0 += batch_size) {
        int bn = n - b0 < batch_size ? n - b0 : batch_size;
        mt_batch b;
        double lv = NAN;
        st = mt_session_read_batch(s, idx + b0, bn, &b);
        if (st == MT_OK) st = run_batch(s, &b, &lv, det);
        if (st == MT_OK) st = mt_map_acc_add_batch(acc, det, bn, b.boxes, b.n_boxes);
        if (st == MT_OK) st = mt_top_box_iou_add_batch(det, bn, b.boxes, b.n_boxes, &iou_sum, &iou_n);
        if (st == MT_OK) loss_sum += lv; /* YOLOv5's loss is already x batch size */
        mt_detections_free(det, bn);
        mt_batch_free(&b);
    }
    mt_set_grad_enabled(prev);
    mt_map_result r;
    if (st == MT_OK) st = mt_detection_map(acc, &r, NULL, NULL);
    if (st == MT_OK) {
        out->n_samples = n;
        out->loss = loss_sum / n;
        mt_eval_set(out, "map50", r.map50);
        mt_eval_set(out, "map50_95", r.map);
        mt_eval_set(out, "precision", r.precision);
        mt_eval_set(out, "recall", r.recall);
        mt_eval_set(out, "mean_iou", iou_n > 0 ? iou_sum / iou_n : NAN);
        mt_eval_set(out, "labels", r.n_labels);
    }
    mt_map_acc_free(acc);
    free(det);
    return st;
}

static void det_print(FILE *f, const mt_session *s, const char *title, const mt_eval *e)
{
    fprintf(f, "%s (%d images; NMS IoU %g, conf %g)\n  %-12s %.5f (per image)\n", title, e->n_samples,
            s->exp.task.nms_iou, s->exp.task.conf_threshold, "loss", e->loss);
    mt_eval_print_members(f, e);
}

static void det_json(FILE *f, const mt_session *s, const mt_eval *e, int indent)
{
    fprintf(f, "%*s\"n_images\": %d,\n%*s\"loss\": %.8g", indent, "", e->n_samples, indent, "", e->loss);
    mt_eval_json_members(f, e, indent);
    fprintf(f, "\n");
}

static mt_status picture_one(mt_session *s, int index, const char *dir, const char *const *names)
{
    mt_batch b;
    MT_TRY(mt_session_read_batch(s, &index, 1, &b));
    mt_detections det = {0};
    double lv;
    int prev = mt_set_grad_enabled(0);
    mt_status st = run_batch(s, &b, &lv, &det);
    mt_set_grad_enabled(prev);
    float *img = st == MT_OK ? mt_task_host_floats(b.images) : NULL;
    mt_plot_box *truth = mt_malloc(sizeof *truth * (size_t)(b.n_boxes + 1));
    /* the detections a reader would keep: score >= 0.25 (YOLOv5's detect.py default), at most 20,
     * and at least the most confident one (det is sorted by score) */
    int np = 0;
    while (np < det.n && np < 20 && (np == 0 || det.det[np].score >= 0.25f)) np++;
    mt_plot_box *pred = mt_malloc(sizeof *pred * (size_t)(np + 1));
    if (st == MT_OK && (!img || !truth || !pred)) st = mt_last_status();
    if (st == MT_OK) {
        for (int j = 0; j < b.n_boxes; j++) {
            const float *o = b.boxes + 6 * j;
            truth[j] = (mt_plot_box){o[1], o[2], o[3], o[4], (int)o[5], NAN};
        }
        for (int j = 0; j < np; j++) {
            const mt_detection *d = &det.det[j];
            pred[j] = (mt_plot_box){d->x0, d->y0, d->x1, d->y1, d->cls, d->score};
        }
        double lo, hi;
        mt_display_window(s, img, (size_t)s->in_h * s->in_w, &lo, &hi);
        char path[2400], caption[128];
        snprintf(path, sizeof path, "%s/boxes_%04d.png", dir, index);
        snprintf(caption, sizeof caption, "sample %d: %d true, %d predicted, %d drawn (score >= 0.25)",
                 index, b.n_boxes, det.n, np);
        st = mt_plot_boxes(path, img, s->in_h, s->in_w, lo, hi, b.n_boxes, truth, np, pred, names, caption);
    }
    free(img);
    free(truth);
    free(pred);
    mt_detections_free(&det, 1);
    mt_batch_free(&b);
    return st;
}

static mt_status det_pictures(mt_session *s, const mt_eval *e, const int *idx, int n, int n_max, const char *dir)
{
    MT_TRY(mt_mkdirs(dir));
    char **names = NULL;
    int nn = 0;
    if (mt_dataset_names(s->ds, "class_names", &names, &nn) != MT_OK) mt_error_clear();
    mt_yolo_head head;
    mt_yolo_hyp hyp;
    mt_status st = head_of(s, &head, &hyp);
    int m = n < n_max ? n : n_max;
    for (int i = 0; i < m && st == MT_OK; i++) st = picture_one(s, idx[i], dir, nn >= head.nc ? (const char *const *)names : NULL);
    mt_dataset_free_names(names, nn);
    return st;
}

const mt_task mt_task_detection = {
    .kind = "detection",
    .n_log_metrics = 5,
    .log_metrics = k_metrics,
    .n_terms = 3,
    .terms = k_terms,
    .check = check,
    .loss = det_loss,
    .evaluate = det_evaluate,
    .print = det_print,
    .json = det_json,
    .pictures = det_pictures,
    .free = det_free,
    .loss_scales_with_batch = 1, /* YOLOv5: the loss is its terms times the batch size */
};
