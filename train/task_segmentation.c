/* train/task_segmentation.c: the segmentation task (task.h).
 *
 * Targets: the dataset's masks [N, K, H, W] (0/1).
 * Losses (loss.kind):
 *   bce_with_logits / dice / bce_dice / mse / l1: the model gives K logits, one
 *     sigmoid per channel (binary masks, S1): torch BCEWithLogitsLoss, soft Dice
 *     1 - (2 sum(p t) + s) / (sum p + sum t + s), bce_weight BCE + dice_weight Dice;
 *   cross_entropy: the model gives K + 1 logits, channel 0 = background, and the
 *     target class of a pixel is 0 where no mask is set, else 1 + its first set
 *     channel (S3 muscle/SAT/VAT, S5's 2-class nets): torch CrossEntropyLoss with
 *     loss.class_weights.
 * Metrics per image and mask channel (core/metrics.h): DSC, IoU, accuracy,
 * precision, recall (sensitivity), specificity, at metrics.threshold on the
 * sigmoid (binary) or by argmax (cross_entropy); before and after the HU-window
 * post-processing; mean +- SD over images. Logged: the means over images and
 * channels (post-processed when configured), plus dsc_<mask name> and
 * iou_<mask name> per channel and dsc_merged / iou_merged (the K masks as one
 * foreground, S3's "all" label map) when K > 1, and the pixel ROC AUC. The JSON adds
 * the per-image IoU per channel and merged, and their counts in S3's Table 3 IoU bins
 * (core/metrics.h mt_iou_bin_counts).
 * Pictures: overlays of prediction (green, yellow contour) and reference (red
 * contour) on the windowed input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/metrics.h"
#include "../core/ops.h"
#include "plot.h"
#include "run_dir.h"
#include "segment.h"
#include "task.h"

static const char *const k_metrics[] = {"dsc", "iou", "accuracy", "precision", "recall", "specificity", "auc"};
static const char *const k_terms[] = {"bce", "dice"};

/* per-image details of an evaluation */
typedef struct seg_detail {
    int n_images, k;
    mt_seg_metrics *raw, *post; /* [n_images * k] */
    mt_seg_metrics *merged_post; /* [n_images]: the k masks as one foreground, post-processed */
    mt_confusion *conf_post;     /* [n_images * k]: the counts behind `post` (areas: tp + fn, tp + fp) */
    mt_seg_metrics raw_mean, raw_sd, post_mean, post_sd;
    double auc;
} seg_detail;

static void detail_free(void *p)
{
    seg_detail *d = p;
    free(d->raw);
    free(d->post);
    free(d->merged_post);
    free(d->conf_post);
    free(d);
}

static int multiclass(const mt_session *s) { return s->exp.loss.kind == MT_LOSS_CROSS_ENTROPY; }

/* post-processing window of mask channel k: postprocess.class_hu_windows, else hu_window; 0 = none */
static int gate_of(const mt_session *s, int k, double *lo, double *hi)
{
    const mt_experiment *e = &s->exp;
    if (e->postprocess.n_class_hu > 2 * k + 1) {
        *lo = e->postprocess.class_hu[2 * k];
        *hi = e->postprocess.class_hu[2 * k + 1];
        return 1;
    }
    *lo = e->postprocess.hu_window[0];
    *hi = e->postprocess.hu_window[1];
    return e->postprocess.hu_window_enabled;
}

static int any_gate(const mt_session *s) { return s->exp.postprocess.hu_window_enabled || s->exp.postprocess.n_class_hu > 0; }

/* post-processed confusion counts: channel k gated by its window on the input's first channel */
static mt_status gated_confusion(mt_session *s, mt_tensor *pred, mt_tensor *mask, mt_tensor *gate, double thr,
                                 mt_confusion *counts)
{
    int bn = pred->shape[0], k = pred->shape[1];
    mt_confusion *one = mt_calloc((size_t)bn, sizeof *one);
    mt_status st = one ? MT_OK : mt_last_status();
    for (int c = 0; c < k && st == MT_OK; c++) {
        double lo, hi;
        int g = gate_of(s, c, &lo, &hi);
        mt_tensor *p = mt_slice(pred, 1, c, c + 1), *m = mt_slice(mask, 1, c, c + 1);
        st = p && m ? mt_confusion_per_image(p, m, thr, g ? gate : NULL, lo, hi, one) : mt_last_status();
        for (int i = 0; st == MT_OK && i < bn; i++) counts[i * k + c] = one[i];
        mt_tensor_release(p);
        mt_tensor_release(m);
    }
    free(one);
    return st;
}

static mt_status check(mt_session *s)
{
    const mt_experiment *e = &s->exp;
    if (s->geo.k < 1)
        return MT_ERR(MT_ERR_INVALID,
                      "%s: task segmentation needs masks but dataset %s has none (no /masks); re-import it with a "
                      "mask source, or choose another task.kind",
                      e->config_path, e->data.dataset);
    if (e->postprocess.n_class_hu > 0 && e->postprocess.n_class_hu != 2 * s->geo.k)
        return MT_ERR(MT_ERR_INVALID,
                      "%s: postprocess.class_hu_windows has %d values; the dataset has %d mask channel(s): give [lo, hi] "
                      "for each (%d values)",
                      e->config_path, e->postprocess.n_class_hu, s->geo.k, 2 * s->geo.k);
    for (int i = 0; i + 1 < e->postprocess.n_class_hu; i += 2)
        if (!(e->postprocess.class_hu[i] < e->postprocess.class_hu[i + 1]))
            return MT_ERR(MT_ERR_INVALID, "%s: postprocess.class_hu_windows: window %d has lo >= hi", e->config_path, i / 2);
    int want = multiclass(s) ? s->geo.k + 1 : s->geo.k, nd = 0, shape[4];
    if (s->model && mt_model_output_shape(s->model, 1, s->in_c, s->in_h, s->in_w, &nd, shape) == MT_OK && nd == 4 &&
        shape[1] != want)
        return MT_ERR(MT_ERR_INVALID,
                      "%s: the model gives %d output channel(s) but the dataset has %d mask channel(s): loss.kind %s "
                      "needs %d (%s)",
                      e->config_path, shape[1], s->geo.k, mt_config_loss_name(e->loss.kind), want,
                      multiclass(s) ? "background + one per mask" : "one per mask");
    mt_error_clear();
    return MT_OK;
}

/* class ids [N, H, W] from one-hot masks [N, K, H, W] (0 = none, 1 + first set channel) */
static mt_tensor *class_ids(const mt_tensor *mask)
{
    int n = mask->shape[0], k = mask->shape[1], h = mask->shape[2], w = mask->shape[3];
    size_t plane = (size_t)h * w;
    float *m = mt_task_host_floats(mask);
    int32_t *ids = mt_malloc(sizeof(int32_t) * (size_t)n * plane);
    mt_tensor *t = NULL;
    if (m && ids) {
        for (int i = 0; i < n; i++)
            for (size_t p = 0; p < plane; p++) {
                int32_t c = 0;
                for (int j = k - 1; j >= 0; j--)
                    if (m[((size_t)i * k + j) * plane + p] > 0.5f) c = j + 1;
                ids[(size_t)i * plane + p] = c;
            }
        int shape[3] = {n, h, w};
        t = mt_tensor_new(MT_I32, mask->storage->device, 3, shape);
        if (t && mt_tensor_from_host_into(t, ids, sizeof(int32_t) * (size_t)n * plane) != MT_OK) {
            mt_tensor_release(t);
            t = NULL;
        }
    }
    free(m);
    free(ids);
    return t;
}

static mt_tensor *soft_dice_loss(mt_tensor *logits, mt_tensor *target, double smooth)
{
    mt_tensor *p = mt_sigmoid(logits);
    mt_tensor *pt = mt_mul(p, target);
    mt_tensor *inter = mt_sum_all(pt);
    mt_tensor *sp = mt_sum_all(p), *st = mt_sum_all(target);
    mt_tensor *den = mt_add(sp, st);
    mt_tensor *num2 = mt_scale(inter, 2.0, smooth);
    mt_tensor *den2 = mt_scale(den, 1.0, smooth);
    mt_tensor *q = mt_div(num2, den2);
    mt_tensor *loss = mt_scale(q, -1.0, 1.0);
    mt_tensor *tmp[] = {p, pt, inter, sp, st, den, num2, den2, q};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) mt_tensor_release(tmp[i]);
    return loss;
}

static mt_status seg_loss_of(mt_session *s, mt_tensor *logits, mt_tensor *target, mt_tensor **out, double *terms)
{
    const mt_experiment *e = &s->exp;
    if (terms) terms[0] = terms[1] = NAN;
    *out = NULL;
    switch (e->loss.kind) {
    case MT_LOSS_BCE_WITH_LOGITS:
    case MT_LOSS_BCE_DICE: {
        mt_tensor *pw = NULL;
        if (e->loss.pos_weight != 1.0) {
            int one = 1;
            mt_real v = (mt_real)e->loss.pos_weight;
            if (!(pw = mt_tensor_from_host(s->dev, 1, &one, &v))) return mt_last_status();
        }
        mt_tensor *bce = mt_bce_with_logits(logits, target, NULL, pw, MT_REDUCE_MEAN);
        mt_tensor_release(pw);
        if (!bce) return mt_last_status();
        if (e->loss.kind == MT_LOSS_BCE_WITH_LOGITS) {
            *out = bce;
            return MT_OK;
        }
        mt_tensor *dice = soft_dice_loss(logits, target, e->loss.dice_smooth);
        if (terms && dice) {
            terms[0] = mt_task_scalar(bce);
            terms[1] = mt_task_scalar(dice);
        }
        *out = dice ? mt_task_weighted_sum(bce, e->loss.bce_weight, dice, e->loss.dice_weight) : NULL;
        mt_tensor_release(bce);
        mt_tensor_release(dice);
        break;
    }
    case MT_LOSS_DICE: *out = soft_dice_loss(logits, target, e->loss.dice_smooth); break;
    case MT_LOSS_MSE: *out = mt_mse_loss(logits, target, NULL, MT_REDUCE_MEAN); break;
    case MT_LOSS_L1: *out = mt_l1_loss(logits, target, NULL, MT_REDUCE_MEAN); break;
    case MT_LOSS_CROSS_ENTROPY: {
        mt_tensor *ids = class_ids(target), *cw = NULL;
        if (!ids) return mt_last_status();
        if (e->loss.n_class_weights > 0) {
            mt_real v[MT_CFG_MAX_LIST];
            int n = e->loss.n_class_weights;
            for (int i = 0; i < n; i++) v[i] = (mt_real)e->loss.class_weights[i];
            cw = mt_tensor_from_host(s->dev, 1, &n, v);
        }
        *out = mt_cross_entropy(logits, ids, cw, -100, NULL, MT_REDUCE_MEAN);
        mt_tensor_release(ids);
        mt_tensor_release(cw);
        break;
    }
    }
    return *out ? MT_OK : mt_last_status();
}

static mt_status seg_loss(mt_session *s, mt_tensor *const *outs, int n_outs, const mt_batch *b, mt_tensor **loss,
                          double *terms)
{
    return seg_loss_of(s, outs[0], b->masks, loss, terms);
}

/* Per-pixel scores [N, K, H, W] of the masks from logits: sigmoid, or for
 * cross_entropy 1 where argmax = 1 + k (else 0) and the softmax probability for AUC. */
static mt_status scores_of(mt_session *s, mt_tensor *logits, mt_tensor **pred, mt_tensor **prob)
{
    *pred = *prob = NULL;
    if (!multiclass(s)) {
        *pred = mt_sigmoid(logits);
        *prob = mt_tensor_retain(*pred);
        return *pred ? MT_OK : mt_last_status();
    }
    int n = logits->shape[0], c = logits->shape[1], h = logits->shape[2], w = logits->shape[3], k = c - 1;
    size_t plane = (size_t)h * w;
    mt_tensor *sm = mt_softmax(logits, 1);
    float *p = sm ? mt_task_host_floats(sm) : NULL;
    mt_real *hp = mt_malloc(sizeof(mt_real) * (size_t)n * k * plane), *hq = mt_malloc(sizeof(mt_real) * (size_t)n * k * plane);
    mt_status st = p && hp && hq ? MT_OK : mt_last_status();
    for (int i = 0; st == MT_OK && i < n; i++)
        for (size_t q = 0; q < plane; q++) {
            int best = 0;
            for (int j = 1; j < c; j++)
                if (p[((size_t)i * c + j) * plane + q] > p[((size_t)i * c + best) * plane + q]) best = j;
            for (int j = 0; j < k; j++) {
                hp[((size_t)i * k + j) * plane + q] = best == j + 1;
                hq[((size_t)i * k + j) * plane + q] = p[((size_t)i * c + j + 1) * plane + q];
            }
        }
    int shape[4] = {n, k, h, w};
    if (st == MT_OK) {
        *pred = mt_tensor_from_host(s->dev, 4, shape, hp);
        *prob = mt_tensor_from_host(s->dev, 4, shape, hq);
        if (!*pred || !*prob) st = mt_last_status();
    }
    mt_tensor_release(sm);
    free(p);
    free(hp);
    free(hq);
    return st;
}

/* Merged-label metrics (any mask channel = foreground) of a batch into d rows b0..: each
 * channel above thr and within its HU window on the input's first channel (post-processing). */
static mt_status eval_merged(mt_session *s, const mt_batch *b, mt_tensor *pred, const float *ht, double thr, int b0,
                             seg_detail *d)
{
    int bn = b->n, k = d->k, c = s->geo.c;
    size_t plane = (size_t)s->in_h * s->in_w;
    float *hp = mt_task_host_floats(pred), *img = hp ? mt_task_host_floats(b->images) : NULL;
    float *gated = img ? mt_malloc(sizeof(float) * (size_t)bn * k * plane) : NULL;
    mt_confusion *cp = gated ? mt_calloc((size_t)bn, sizeof *cp) : NULL;
    mt_status st = cp ? MT_OK : mt_last_status();
    for (int i = 0; st == MT_OK && i < bn; i++)
        for (int j = 0; j < k; j++) {
            double lo, hi;
            int g = gate_of(s, j, &lo, &hi);
            const float *in = img + (size_t)i * c * plane;
            for (size_t q = 0; q < plane; q++) {
                size_t at = ((size_t)i * k + j) * plane + q;
                gated[at] = hp[at] > thr && (!g || (in[q] >= lo && in[q] <= hi));
            }
        }
    if (st == MT_OK) st = mt_confusion_merged(gated, ht, bn, k, plane, 0.5, cp);
    for (int i = 0; st == MT_OK && i < bn; i++) d->merged_post[b0 + i] = mt_seg_metrics_from_confusion(cp[i]);
    free(hp);
    free(img);
    free(gated);
    free(cp);
    return st;
}

/* Evaluates one batch into d (rows b0..), collecting AUC inputs into all_p/all_t. */
static mt_status eval_batch(mt_session *s, const mt_batch *b, int b0, seg_detail *d, float *all_p, float *all_t,
                            double *loss_sum)
{
    const mt_experiment *e = &s->exp;
    int k = d->k, bn = b->n, gate = any_gate(s);
    size_t plane = (size_t)s->in_h * s->in_w;
    mt_confusion *cr = mt_calloc((size_t)bn * k, sizeof *cr), *cp = mt_calloc((size_t)bn * k, sizeof *cp);
    mt_tensor *x = mt_session_normalize(s, b->images), *logits = x ? mt_session_forward(s, x) : NULL;
    mt_tensor *loss = NULL, *pred = NULL, *prob = NULL;
    mt_status st = cr && cp && logits ? MT_OK : mt_last_status();
    if (st == MT_OK) st = seg_loss_of(s, logits, b->masks, &loss, NULL);
    if (st == MT_OK) st = scores_of(s, logits, &pred, &prob);
    mt_tensor *g = gate && st == MT_OK ? (s->geo.c == 1 ? mt_tensor_retain(b->images) : mt_slice(b->images, 1, 0, 1)) : NULL;
    if (st == MT_OK && gate && !g) st = mt_last_status();
    double thr = multiclass(s) ? 0.5 : e->metrics.threshold;
    if (st == MT_OK) st = mt_confusion_per_image(pred, b->masks, thr, NULL, 0, 0, cr);
    if (st == MT_OK && gate) st = gated_confusion(s, pred, b->masks, g, thr, cp);
    float *hp = st == MT_OK ? mt_task_host_floats(prob) : NULL, *ht = hp ? mt_task_host_floats(b->masks) : NULL;
    if (st == MT_OK && !ht) st = mt_last_status();
    if (st == MT_OK) {
        *loss_sum += mt_task_scalar(loss) * bn;
        for (int i = 0; i < bn * k; i++) {
            d->raw[b0 * k + i] = mt_seg_metrics_from_confusion(cr[i]);
            d->post[b0 * k + i] = gate ? mt_seg_metrics_from_confusion(cp[i]) : d->raw[b0 * k + i];
            d->conf_post[b0 * k + i] = gate ? cp[i] : cr[i];
        }
        memcpy(all_p + (size_t)b0 * k * plane, hp, sizeof(float) * (size_t)bn * k * plane);
        memcpy(all_t + (size_t)b0 * k * plane, ht, sizeof(float) * (size_t)bn * k * plane);
        if (k > 1) st = eval_merged(s, b, pred, ht, thr, b0, d);
    }
    free(hp);
    free(ht);
    free(cr);
    free(cp);
    mt_tensor *tmp[] = {x, logits, loss, pred, prob, g};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) mt_tensor_release(tmp[i]);
    return st;
}

static void fill_metrics(mt_session *s, seg_detail *d, mt_eval *out)
{
    mt_seg_metrics_mean_sd(d->raw, d->n_images * d->k, &d->raw_mean, &d->raw_sd);
    mt_seg_metrics_mean_sd(d->post, d->n_images * d->k, &d->post_mean, &d->post_sd);
    for (int i = 0; i < MT_SEG_METRIC_COUNT; i++) mt_eval_set(out, mt_seg_metric_names[i], mt_seg_metric_get(&d->post_mean, i));
    mt_eval_set(out, "auc", d->auc);
    if (d->k < 2) return;
    char **names = NULL;
    int nn = 0;
    if (mt_dataset_names(s->ds, "mask_names", &names, &nn) != MT_OK) mt_error_clear();
    double *v = mt_malloc(sizeof(double) * (size_t)d->n_images);
    for (int m = 0; v && m < 2; m++) { /* dsc_<mask>, then iou_<mask> */
        for (int j = 0; j < d->k; j++) {
            for (int i = 0; i < d->n_images; i++) v[i] = m ? d->post[i * d->k + j].iou : d->post[i * d->k + j].dsc;
            double mean;
            mt_mean_sd(v, d->n_images, &mean, NULL);
            char name[32];
            if (j < nn && names[j] && strlen(names[j]) < 24) snprintf(name, sizeof name, "%s_%s", m ? "iou" : "dsc", names[j]);
            else snprintf(name, sizeof name, "%s_%d", m ? "iou" : "dsc", j);
            mt_eval_set(out, name, mean);
        }
        for (int i = 0; i < d->n_images; i++) v[i] = m ? d->merged_post[i].iou : d->merged_post[i].dsc;
        double mean;
        mt_mean_sd(v, d->n_images, &mean, NULL);
        mt_eval_set(out, m ? "iou_merged" : "dsc_merged", mean);
    }
    free(v);
    mt_dataset_free_names(names, nn);
}

static mt_status seg_evaluate(mt_session *s, const int *idx, int n, int batch_size, mt_eval *out)
{
    memset(out, 0, sizeof *out);
    MT_REQUIRE(n > 0, "evaluation split is empty");
    int k = s->geo.k;
    size_t plane = (size_t)s->in_h * s->in_w;
    seg_detail *d = mt_calloc(1, sizeof *d);
    if (!d) return mt_last_status();
    out->detail = d;
    out->detail_free = detail_free;
    d->n_images = n;
    d->k = k;
    d->raw = mt_calloc((size_t)n * k, sizeof *d->raw);
    d->post = mt_calloc((size_t)n * k, sizeof *d->post);
    d->merged_post = mt_calloc((size_t)n, sizeof *d->merged_post);
    d->conf_post = mt_calloc((size_t)n * k, sizeof *d->conf_post);
    float *all_p = mt_malloc(sizeof(float) * (size_t)n * k * plane), *all_t = mt_malloc(sizeof(float) * (size_t)n * k * plane);
    mt_status st = d->raw && d->post && d->merged_post && d->conf_post && all_p && all_t ? MT_OK : mt_last_status();
    int prev = mt_set_grad_enabled(0);
    double loss_sum = 0;
    for (int b0 = 0; b0 < n && st == MT_OK; b0 += batch_size) {
        int bn = n - b0 < batch_size ? n - b0 : batch_size;
        mt_batch b;
        st = mt_session_read_batch(s, idx + b0, bn, &b);
        if (st == MT_OK) st = eval_batch(s, &b, b0, d, all_p, all_t, &loss_sum);
        mt_batch_free(&b);
    }
    mt_set_grad_enabled(prev);
    if (st == MT_OK) {
        out->n_samples = n;
        out->loss = loss_sum / n;
        if (mt_roc_auc(all_p, all_t, (size_t)n * k * plane, &d->auc) != MT_OK) {
            d->auc = NAN; /* one class only: undefined, not an error for the run */
            mt_error_clear();
        }
        fill_metrics(s, d, out);
    }
    free(all_p);
    free(all_t);
    if (st != MT_OK) mt_eval_free(out);
    return st;
}

static void seg_print(FILE *f, const mt_session *s, const char *title, const mt_eval *e)
{
    const seg_detail *d = e->detail;
    int has_post = any_gate(s);
    fprintf(f, "%s (%d images, mean +- SD over images)\n", title, d->n_images * d->k);
    fprintf(f, "  %-12s %-20s %s\n", "metric", "raw", has_post ? "post-processed" : "");
    for (int i = 0; i < MT_SEG_METRIC_COUNT; i++) {
        char a[40], b[40] = "";
        snprintf(a, sizeof a, "%.4f +- %.4f", mt_seg_metric_get(&d->raw_mean, i), mt_seg_metric_get(&d->raw_sd, i));
        if (has_post)
            snprintf(b, sizeof b, "%.4f +- %.4f", mt_seg_metric_get(&d->post_mean, i), mt_seg_metric_get(&d->post_sd, i));
        fprintf(f, "  %-12s %-20s %s\n", mt_seg_metric_names[i], a, b);
    }
    fprintf(f, "  %-12s %.5f\n  %-12s %.4f\n", "loss", e->loss, "pixel AUC", d->auc);
    for (int i = 0; i < e->n; i++)
        if (!strncmp(e->names[i], "dsc_", 4) || !strncmp(e->names[i], "iou_", 4))
            fprintf(f, "  %-12s %.4f\n", e->names[i], e->values[i]);
    if (d->k < 2) return;
    char **names = NULL;
    int nn = 0;
    if (mt_dataset_names(s->ds, "mask_names", &names, &nn) != MT_OK) mt_error_clear();
    double *v = mt_malloc(sizeof(double) * (size_t)d->n_images);
    fprintf(f, "  IoU bins (images per bin %s, %s, %s, %s; post-processed):\n", mt_iou_bin_names[0], mt_iou_bin_names[1],
            mt_iou_bin_names[2], mt_iou_bin_names[3]);
    for (int j = 0; v && j <= d->k; j++) {
        for (int i = 0; i < d->n_images; i++) v[i] = j < d->k ? d->post[i * d->k + j].iou : d->merged_post[i].iou;
        int c[MT_IOU_BIN_COUNT];
        mt_iou_bin_counts(v, d->n_images, c);
        char name[40];
        if (j < d->k && j < nn && names[j]) snprintf(name, sizeof name, "%.30s", names[j]);
        else if (j < d->k) snprintf(name, sizeof name, "channel %d", j);
        else snprintf(name, sizeof name, "merged");
        fprintf(f, "    %-10s %d / %d / %d / %d\n", name, c[0], c[1], c[2], c[3]);
    }
    free(v);
    mt_dataset_free_names(names, nn);
}

static void json_metrics(FILE *f, const char *name, const mt_seg_metrics *mean, const mt_seg_metrics *sd, const char *pad)
{
    fprintf(f, "%s\"%s\": {", pad, name);
    for (int i = 0; i < MT_SEG_METRIC_COUNT; i++) {
        fprintf(f, "%s\"%s\": {\"mean\": ", i ? ", " : "", mt_seg_metric_names[i]);
        mt_json_number(f, mt_seg_metric_get(mean, i));
        fprintf(f, ", \"sd\": ");
        mt_json_number(f, mt_seg_metric_get(sd, i));
        fprintf(f, "}");
    }
    fprintf(f, "}");
}

/* S3's Table 3 form: per-image IoU (post-processed) per channel and merged, and their bin counts */
static void json_iou_bins(FILE *f, const mt_session *s, const seg_detail *d, const char *pad)
{
    char **names = NULL;
    int nn = 0;
    if (mt_dataset_names(s->ds, "mask_names", &names, &nn) != MT_OK) mt_error_clear();
    double *v = mt_malloc(sizeof(double) * (size_t)d->n_images);
    fprintf(f, ",\n%s\"iou_bin_names\": [", pad);
    for (int b = 0; b < MT_IOU_BIN_COUNT; b++) fprintf(f, "%s\"%s\"", b ? ", " : "", mt_iou_bin_names[b]);
    fprintf(f, "],\n%s\"per_image_iou_post\": {", pad);
    for (int j = 0; v && j <= d->k; j++) {
        if (j < d->k && j < nn && names[j]) fprintf(f, "%s\"%s\": [", j ? ", " : "", names[j]);
        else if (j < d->k) fprintf(f, "%s\"%d\": [", j ? ", " : "", j);
        else fprintf(f, ", \"merged\": [");
        for (int i = 0; i < d->n_images; i++) {
            if (i) fprintf(f, ", ");
            mt_json_number(f, j < d->k ? d->post[i * d->k + j].iou : d->merged_post[i].iou);
        }
        fprintf(f, "]");
    }
    fprintf(f, "},\n%s\"iou_bins_post\": {", pad);
    for (int j = 0; v && j <= d->k; j++) {
        for (int i = 0; i < d->n_images; i++) v[i] = j < d->k ? d->post[i * d->k + j].iou : d->merged_post[i].iou;
        int counts[MT_IOU_BIN_COUNT];
        mt_iou_bin_counts(v, d->n_images, counts);
        if (j < d->k && j < nn && names[j]) fprintf(f, "%s\"%s\": [", j ? ", " : "", names[j]);
        else if (j < d->k) fprintf(f, "%s\"%d\": [", j ? ", " : "", j);
        else fprintf(f, ", \"merged\": [");
        for (int b = 0; b < MT_IOU_BIN_COUNT; b++) fprintf(f, "%s%d", b ? ", " : "", counts[b]);
        fprintf(f, "]");
    }
    fprintf(f, "}");
    free(v);
    mt_dataset_free_names(names, nn);
}

static void seg_json(FILE *f, const mt_session *s, const mt_eval *e, int indent)
{
    const seg_detail *d = e->detail;
    char pad[32];
    snprintf(pad, sizeof pad, "%*s", indent, "");
    fprintf(f, "%s\"n_images\": %d,\n%s\"loss\": ", pad, d->n_images * d->k, pad);
    mt_json_number(f, e->loss);
    fprintf(f, ",\n%s\"pixel_auc\": ", pad);
    mt_json_number(f, d->auc);
    fprintf(f, ",\n");
    json_metrics(f, "raw", &d->raw_mean, &d->raw_sd, pad);
    fprintf(f, ",\n");
    json_metrics(f, "post", &d->post_mean, &d->post_sd, pad);
    for (int i = 0; i < e->n; i++)
        if (!strncmp(e->names[i], "dsc_", 4) || !strncmp(e->names[i], "iou_", 4)) {
            fprintf(f, ",\n%s\"%s\": ", pad, e->names[i]);
            mt_json_number(f, e->values[i]);
        }
    if (d->k > 1) { /* per mask channel: means over images after post-processing */
        fprintf(f, ",\n%s\"per_class_post\": [", pad);
        mt_seg_metrics *v = mt_malloc(sizeof *v * (size_t)d->n_images);
        for (int c = 0; v && c < d->k; c++) {
            for (int i = 0; i < d->n_images; i++) v[i] = d->post[i * d->k + c];
            mt_seg_metrics mean;
            mt_seg_metrics_mean_sd(v, d->n_images, &mean, NULL);
            fprintf(f, "%s{\"channel\": %d", c ? ", " : "", c);
            for (int j = 0; j < MT_SEG_METRIC_COUNT; j++) {
                fprintf(f, ", \"%s\": ", mt_seg_metric_names[j]);
                mt_json_number(f, mt_seg_metric_get(&mean, j));
            }
            fprintf(f, "}");
        }
        free(v);
        fprintf(f, "]");
    }
    fprintf(f, ",\n%s\"per_image_dsc_post\": [", pad);
    for (int i = 0; i < d->n_images * d->k; i++) {
        if (i) fprintf(f, ", ");
        mt_json_number(f, d->post[i].dsc);
    }
    fprintf(f, "]");
    if (d->k > 1) json_iou_bins(f, s, d, pad);
    fprintf(f, "\n");
}

static mt_status overlay_one(mt_session *s, int index, const char *dir)
{
    const mt_experiment *e = &s->exp;
    size_t plane = (size_t)s->in_h * s->in_w;
    int k = s->geo.k;
    mt_batch b;
    MT_TRY(mt_session_read_batch(s, &index, 1, &b));
    int prev = mt_set_grad_enabled(0);
    mt_tensor *x = mt_session_normalize(s, b.images), *logits = x ? mt_session_forward(s, x) : NULL;
    mt_tensor *pred = NULL, *prob = NULL, *bin = NULL;
    mt_status st = logits ? scores_of(s, logits, &pred, &prob) : mt_last_status();
    mt_tensor *g = s->geo.c == 1 ? b.images : NULL, *parts[MT_CFG_MAX_LIST] = {0};
    for (int c = 0; st == MT_OK && c < k && c < MT_CFG_MAX_LIST; c++) {
        double lo, hi;
        int gated = gate_of(s, c, &lo, &hi);
        mt_tensor *p = mt_slice(pred, 1, c, c + 1);
        parts[c] = p ? mt_binarize_gated(p, multiclass(s) ? 0.5 : e->metrics.threshold, gated ? g : NULL, lo, hi) : NULL;
        mt_tensor_release(p);
        if (!parts[c]) st = mt_last_status();
    }
    if (st == MT_OK) bin = mt_concat(k, parts, 1);
    for (int c = 0; c < k && c < MT_CFG_MAX_LIST; c++) mt_tensor_release(parts[c]);
    mt_set_grad_enabled(prev);
    float *hb = bin ? mt_task_host_floats(bin) : NULL, *hr = hb ? mt_task_host_floats(b.images) : NULL;
    float *hm = hr ? mt_task_host_floats(b.masks) : NULL;
    uint8_t *pm = mt_malloc(plane), *rm = mt_malloc(plane);
    if (st == MT_OK && (!hm || !pm || !rm)) st = mt_last_status();
    if (st == MT_OK) {
        for (size_t j = 0; j < plane; j++) {
            pm[j] = rm[j] = 0;
            for (int c = 0; c < k; c++) {
                pm[j] |= hb[c * plane + j] > 0.5f;
                rm[j] |= hm[c * plane + j] > 0.5f;
            }
        }
        double lo, hi;
        mt_display_window(s, hr, plane, &lo, &hi);
        char path[2400];
        snprintf(path, sizeof path, "%s/%04d.png", dir, index);
        mt_plot_mask mk[2] = {{rm, 255, 40, 40, "ground truth"}, {pm, 255, 230, 0, "prediction"}};
        st = mt_plot_overlay(path, hr, s->in_h, s->in_w, lo, hi, 2, mk, NULL);
    }
    free(hb);
    free(hr);
    free(hm);
    free(pm);
    free(rm);
    mt_tensor *tmp[] = {x, logits, pred, prob, bin};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) mt_tensor_release(tmp[i]);
    mt_batch_free(&b);
    return st;
}

mt_status mt_segmentation_eval_images(const mt_eval *e, int *n, int *k, const mt_seg_metrics **metrics,
                                      const mt_confusion **counts)
{
    MT_REQUIRE(e && n && k && metrics && counts, "mt_segmentation_eval_images: NULL argument");
    MT_REQUIRE(e->detail && e->detail_free == detail_free,
               "mt_segmentation_eval_images: not the evaluation of a segmentation run");
    const seg_detail *d = e->detail;
    *n = d->n_images, *k = d->k, *metrics = d->post, *counts = d->conf_post;
    return MT_OK;
}

mt_status mt_segmentation_masks(mt_session *s, mt_tensor *images, uint8_t *out)
{
    MT_REQUIRE(s && s->model && images && out && images->ndim == 4, "mt_segmentation_masks: bad arguments");
    MT_REQUIRE(s->task == &mt_task_segmentation, "%s: task.kind is %s; masks need a segmentation run",
               s->exp.config_path, s->task->kind);
    int n = images->shape[0], k = s->geo.k;
    size_t plane = (size_t)images->shape[2] * images->shape[3];
    int prev = mt_set_grad_enabled(0);
    mt_tensor *x = mt_session_normalize(s, images), *logits = x ? mt_session_forward(s, x) : NULL;
    mt_tensor *pred = NULL, *prob = NULL;
    mt_status st = logits ? scores_of(s, logits, &pred, &prob) : mt_last_status();
    mt_set_grad_enabled(prev);
    float *hp = st == MT_OK ? mt_task_host_floats(pred) : NULL, *img = hp ? mt_task_host_floats(images) : NULL;
    if (st == MT_OK && !img) st = mt_last_status();
    double thr = multiclass(s) ? 0.5 : s->exp.metrics.threshold;
    for (int i = 0; st == MT_OK && i < n; i++)
        for (int j = 0; j < k; j++) {
            double lo, hi;
            int g = gate_of(s, j, &lo, &hi);
            const float *in = img + (size_t)i * images->shape[1] * plane;
            for (size_t q = 0; q < plane; q++) {
                size_t at = ((size_t)i * k + j) * plane + q;
                out[at] = hp[at] > thr && (!g || (in[q] >= lo && in[q] <= hi));
            }
        }
    free(hp);
    free(img);
    mt_tensor *tmp[] = {x, logits, pred, prob};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) mt_tensor_release(tmp[i]);
    return st;
}

static mt_status seg_pictures(mt_session *s, const mt_eval *e, const int *idx, int n, int n_max, const char *dir)
{
    MT_TRY(mt_mkdirs(dir));
    int m = n < n_max ? n : n_max;
    for (int i = 0; i < m; i++) MT_TRY(overlay_one(s, idx[i], dir));
    return MT_OK;
}

const mt_task mt_task_segmentation = {
    .kind = "segmentation",
    .n_log_metrics = 7,
    .log_metrics = k_metrics,
    .n_terms = 2,
    .terms = k_terms,
    .check = check,
    .loss = seg_loss,
    .evaluate = seg_evaluate,
    .print = seg_print,
    .json = seg_json,
    .pictures = seg_pictures,
};
