/* core/metrics.h: evaluation metrics for binary segmentation and
 * classification, per image and as mean +- SD over images (how S1 and most
 * medical segmentation papers report them).
 *
 * Segmentation metrics start from a per-image binary confusion matrix
 * (TP, FP, FN, TN pixel counts) computed ON THE DEVICE of the tensors
 * (CPU kernel here, CUDA twin in metrics.cu); only the N*K*4 counts travel to
 * the host. From the counts (standard definitions, e.g. Taha & Hanbury,
 * BMC Med Imaging 2015):
 *   accuracy    = (TP + TN) / (TP + FP + FN + TN)
 *   precision   = TP / (TP + FP)            (positive predictive value)
 *   recall      = TP / (TP + FN)            (sensitivity, true positive rate)
 *   specificity = TN / (TN + FP)            (true negative rate)
 *   IoU         = TP / (TP + FP + FN)       (Jaccard index)
 *   DSC         = 2 TP / (2 TP + FP + FN)   (Dice similarity coefficient, = F1)
 * A ratio whose denominator is 0 (e.g. DSC of an image where both prediction
 * and ground truth are empty) is defined as 1: there was nothing to get wrong.
 * (sklearn would return 0 with a warning; MONAI's DiceMetric ignore_empty=False
 * returns 1 for this case.)
 *
 * Mean and SD over images: SD is the sample standard deviation (n - 1 in the
 * denominator, numpy.std(ddof=1), pandas .std()); 0 for a single image.
 *
 * AUC: area under the ROC curve by the exact trapezoid rule over the sorted
 * scores, tied scores forming one ROC point (sklearn.metrics.roc_auc_score).
 *
 * Multi-class classification (accuracy, macro precision / recall, one-vs-rest AUC, ROC
 * curve points): the section "classification" below.
 */
#ifndef MT_METRICS_H
#define MT_METRICS_H

#include <stdint.h>

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One binary confusion matrix (pixel or sample counts). */
typedef struct mt_confusion {
    int64_t tp, fp, fn, tn;
} mt_confusion;

/* The six segmentation metrics of one image (or of pooled counts). */
typedef struct mt_seg_metrics {
    double accuracy, precision, recall, specificity, iou, dsc;
} mt_seg_metrics;

#define MT_SEG_METRIC_COUNT 6
/* Names in struct order: "accuracy", "precision", "recall", "specificity", "iou", "dsc". */
extern const char *const mt_seg_metric_names[MT_SEG_METRIC_COUNT];
/* Value of metric i (struct order) of m. */
double mt_seg_metric_get(const mt_seg_metrics *m, int i);
/* Index of a metric by name (also accepts "sensitivity" = recall, "dice" = dsc,
 * "jaccard" = iou, "acc"); -1 if unknown. */
int mt_seg_metric_index(const char *name);

/* Per-image binary confusion counts, computed on the tensors' device.
 *   scores  MT_REAL [N, K, H, W] (probabilities, or logits with a logit threshold);
 *           a pixel is predicted positive when score > threshold.
 *   target  MT_REAL [N, K, H, W], positive where > 0.5 (masks as the loader delivers them).
 *   gate    MT_REAL [N, 1, H, W] or NULL: post-processing; a pixel is predicted
 *           positive only if also gate_lo <= gate <= gate_hi (S1: gate = input
 *           CT in HU, window [-29, 150] HU keeps muscle attenuation only).
 *   counts  host array of N*K entries, counts[n*K + k] for image n, channel k.
 * All tensors on one device. Errors: shape/dtype/device mismatch (MT_ERR_INVALID),
 * device failures. */
mt_status mt_confusion_per_image(const mt_tensor *scores, const mt_tensor *target, double threshold,
                                 const mt_tensor *gate, double gate_lo, double gate_hi,
                                 mt_confusion *counts);

/* Post-processing as a mask: out[n,k,h,w] = 1 if scores > threshold and (gate is
 * NULL or gate_lo <= gate[n,0,h,w] <= gate_hi), else 0. out is a new MT_REAL
 * tensor shaped like scores on its device; NULL on error. */
mt_tensor *mt_binarize_gated(const mt_tensor *scores, double threshold, const mt_tensor *gate,
                             double gate_lo, double gate_hi);

/* Metrics of one confusion matrix (definitions above). */
mt_seg_metrics mt_seg_metrics_from_confusion(mt_confusion c);

/* Mean and sample SD over n per-image metric sets (mean = the metric averaged
 * over images, not pooled counts). sd may be NULL. n = 0 gives zeros. */
void mt_seg_metrics_mean_sd(const mt_seg_metrics *per_image, int n, mt_seg_metrics *mean, mt_seg_metrics *sd);

/* Per-image confusion of the merged label (S3: M + SAT + VAT as one foreground):
 * a pixel is predicted positive when any of the K channels of `pred` is > threshold,
 * reference positive when any channel of `target` is > 0.5. Host arrays
 * [n, k, plane] (float); counts: caller's array of n. Equivalent numpy:
 * (pred > thr).any(1) against (target > 0.5).any(1), tp/fp/fn/tn per image.
 * Errors: MT_ERR_INVALID on NULL arrays or n, k, plane < 1. */
mt_status mt_confusion_merged(const float *pred, const float *target, int n, int k, size_t plane, double threshold,
                              mt_confusion *counts);

/* IoU bins of S3's Table 3 (papers.md): counts[0] IoU >= 0.90, counts[1] 0.80 <= IoU < 0.90
 * ("0.80-0.89"), counts[2] 0.70 <= IoU < 0.80, counts[3] IoU < 0.70 (a NaN IoU counts
 * there too). iou: n per-image values. */
#define MT_IOU_BIN_COUNT 4
extern const char *const mt_iou_bin_names[MT_IOU_BIN_COUNT]; /* ">=0.90", "0.80-0.89", "0.70-0.79", "<0.70" */
void mt_iou_bin_counts(const double *iou, int n, int counts[MT_IOU_BIN_COUNT]);

/* Mean and sample SD (ddof = 1) of n doubles; sd may be NULL. */
void mt_mean_sd(const double *x, int n, double *mean, double *sd);

/* ROC AUC (sklearn roc_auc_score for binary labels) of n scores with labels
 * (label > 0.5 positive), exact trapezoid over distinct score thresholds.
 * Host arrays. Errors: n = 0, or only one class present (AUC undefined,
 * MT_ERR_INVALID, as sklearn raises). Uses O(n) extra memory, O(n log n) time. */
mt_status mt_roc_auc(const float *scores, const float *labels, size_t n, double *auc);

/* Same on tensors (any device, same numel; copied to the host to sort). */
mt_status mt_roc_auc_tensor(const mt_tensor *scores, const mt_tensor *target, double *auc);

/* Multi-class confusion matrix (sklearn.metrics.confusion_matrix): counts
 * [n_classes * n_classes], row = true class, column = predicted class.
 * Host arrays of n class ids in [0, n_classes); errors name the bad index. */
mt_status mt_confusion_matrix(const int32_t *y_true, const int32_t *y_pred, size_t n, int n_classes,
                              int64_t *counts);

/* ---------------------------------------------------------------- classification
 * Multi-class metrics from true class ids y_true[n] in [0, K) and predicted class ids
 * y_pred[n] (or probabilities probs[n*K], row-major [n, K]). Host arrays; no device.
 * Definitions follow scikit-learn 1.2 (sklearn.metrics), the reference of the tests
 * (tests/fixtures/gen_classification_metrics.py):
 *   accuracy           = mean(y_pred == y_true)                       (accuracy_score)
 *   precision[c]       = TP_c / (TP_c + FP_c), 0 when nothing is predicted c
 *   recall[c]          = TP_c / (TP_c + FN_c), 0 when c never occurs in y_true
 *                        (precision_score / recall_score average=None, zero_division=0)
 *   macro precision / recall = unweighted mean of the per-class values over the classes
 *                        that occur in y_true OR y_pred (sklearn's default `labels`); a class in
 *                        neither is left out of the mean (its per-class values are 0).
 */

/* Predicted class ids by row-wise argmax of probs [n, k] (the first maximum wins on ties,
 * as numpy.argmax / torch.argmax on CPU). Errors: MT_ERR_INVALID for NULL, k < 1 or a NaN. */
mt_status mt_argmax_rows(const float *probs, size_t n, int k, int32_t *pred);

/* Fraction of i with y_pred[i] == y_true[i] (sklearn accuracy_score). Errors: n = 0. */
mt_status mt_accuracy(const int32_t *y_true, const int32_t *y_pred, size_t n, double *accuracy);

/* Per-class precision[k] and recall[k] (either may be NULL) and the macro means (either may
 * be NULL), definitions above. Errors: MT_ERR_INVALID for n = 0 or an id outside [0, k),
 * naming the index. */
mt_status mt_precision_recall(const int32_t *y_true, const int32_t *y_pred, size_t n, int k, double *precision,
                              double *recall, double *macro_precision, double *macro_recall);

/* One-vs-rest ROC AUC of every class and their macro mean: auc_c = mt_roc_auc(probs[:, c],
 * y_true == c) (sklearn roc_auc_score(y_true, probs, multi_class='ovr', average='macro')).
 * per_class[k] may be NULL; a class absent from y_true gets NaN there and is left out of the
 * mean (sklearn raises in that case); *n_used = classes averaged (may be NULL). Rows need not
 * sum to 1 (sklearn requires it; the value does not depend on it). K = 2 gives the binary AUC
 * of probs[:, 1] when probs[:, 0] = 1 - probs[:, 1].
 * Errors: MT_ERR_INVALID for n = 0, k < 2, a bad id, a NaN score, or no class with both
 * positives and negatives in y_true. O(k n log n) time, O(n) extra memory. */
mt_status mt_roc_auc_ovr(const int32_t *y_true, const float *probs, size_t n, int k, double *per_class,
                         double *macro_auc, int *n_used);

/* Binary ROC curve (sklearn.metrics.roc_curve(labels, scores, drop_intermediate=False)) of
 * n scores with labels (> 0.5 positive): one point per distinct score, thresholds decreasing,
 * predicted positive when score >= threshold; fpr[j] = FP_j / negatives, tpr[j] = TP_j /
 * positives. Point 0 is (0, 0) with threshold = max score + 1 (sklearn <= 1.2; sklearn >= 1.3
 * writes +inf there). fpr, tpr, thresholds have room for n + 1 points; *n_points = distinct
 * scores + 1. Errors: as mt_roc_auc (n = 0, NaN score, one class only). */
mt_status mt_roc_curve(const float *scores, const float *labels, size_t n, double *fpr, double *tpr,
                       double *thresholds, size_t *n_points);

/* The classification summary a trainer logs, from probabilities [n, k]. */
typedef struct mt_class_metrics {
    double accuracy;  /* argmax predictions */
    double precision; /* macro, zero_division = 0 */
    double recall;    /* macro, zero_division = 0 */
    double auc;       /* one-vs-rest macro ROC AUC; NaN when no class has positives and negatives */
} mt_class_metrics;

/* accuracy, macro precision / recall of argmax(probs) and OvR macro AUC of probs [n, k]
 * against y_true (functions above; an undefined AUC is NaN, not an error).
 * Errors: MT_ERR_INVALID for n = 0, k < 2, a bad id or a NaN probability. */
mt_status mt_classification_metrics(const int32_t *y_true, const float *probs, size_t n, int k,
                                    mt_class_metrics *out);

#ifdef MT_WITH_CUDA
/* CUDA kernels behind mt_confusion_per_image / mt_binarize_gated (metrics.cu). */
mt_status mt_confusion_cuda(int device, const mt_real *scores, const mt_real *target, const mt_real *gate,
                            int n, int k, size_t hw, double threshold, double gate_lo, double gate_hi,
                            int64_t *counts_host);
mt_status mt_binarize_gated_cuda(int device, const mt_real *scores, const mt_real *gate, mt_real *out,
                                 int n, int k, size_t hw, double threshold, double gate_lo, double gate_hi);
#endif

#ifdef __cplusplus
}
#endif
#endif
