/* core/metrics.c: segmentation and classification metrics (see metrics.h for
 * the definitions). CPU kernels here; the CUDA twins are in metrics.cu. */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"

const char *const mt_seg_metric_names[MT_SEG_METRIC_COUNT] = {
    "accuracy", "precision", "recall", "specificity", "iou", "dsc",
};

double mt_seg_metric_get(const mt_seg_metrics *m, int i)
{
    switch (i) {
    case 0: return m->accuracy;
    case 1: return m->precision;
    case 2: return m->recall;
    case 3: return m->specificity;
    case 4: return m->iou;
    case 5: return m->dsc;
    default: return NAN;
    }
}

static void metric_set(mt_seg_metrics *m, int i, double v)
{
    switch (i) {
    case 0: m->accuracy = v; break;
    case 1: m->precision = v; break;
    case 2: m->recall = v; break;
    case 3: m->specificity = v; break;
    case 4: m->iou = v; break;
    case 5: m->dsc = v; break;
    default: break;
    }
}

int mt_seg_metric_index(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < MT_SEG_METRIC_COUNT; i++)
        if (!strcmp(name, mt_seg_metric_names[i])) return i;
    if (!strcmp(name, "acc")) return 0;
    if (!strcmp(name, "sensitivity")) return 2;
    if (!strcmp(name, "jaccard")) return 4;
    if (!strcmp(name, "dice")) return 5;
    return -1;
}

/* Checks shapes/devices shared by the two tensor entry points. */
static mt_status check_inputs(const char *fn, const mt_tensor *scores, const mt_tensor *target,
                              const mt_tensor *gate)
{
    MT_REQUIRE(scores != NULL, "%s: scores is NULL", fn);
    MT_REQUIRE(scores->ndim == 4, "%s: scores must be [N, K, H, W], got %d dims", fn, scores->ndim);
    MT_REQUIRE(scores->dtype == MT_REAL, "%s: scores must be %s, got %s", fn, mt_dtype_name(MT_REAL),
               mt_dtype_name(scores->dtype));
    if (target) {
        MT_REQUIRE(mt_same_shape(scores, target), "%s: target shape differs from scores", fn);
        MT_REQUIRE(target->dtype == MT_REAL, "%s: target must be %s (0/1 mask)", fn, mt_dtype_name(MT_REAL));
        MT_REQUIRE(mt_device_eq(scores->storage->device, target->storage->device),
                   "%s: scores and target are on different devices", fn);
    }
    if (gate) {
        MT_REQUIRE(gate->ndim == 4 && gate->shape[0] == scores->shape[0] && gate->shape[1] == 1 &&
                       gate->shape[2] == scores->shape[2] && gate->shape[3] == scores->shape[3],
                   "%s: gate must be [N, 1, H, W] matching scores [%d, %d, %d, %d]", fn, scores->shape[0],
                   scores->shape[1], scores->shape[2], scores->shape[3]);
        MT_REQUIRE(gate->dtype == MT_REAL, "%s: gate must be %s", fn, mt_dtype_name(MT_REAL));
        MT_REQUIRE(mt_device_eq(scores->storage->device, gate->storage->device),
                   "%s: scores and gate are on different devices", fn);
    }
    return MT_OK;
}

static inline int predicted(mt_real s, double thr, const mt_real *gate, size_t i, double lo, double hi)
{
    if (!(s > thr)) return 0;
    if (gate && !(gate[i] >= lo && gate[i] <= hi)) return 0;
    return 1;
}

mt_status mt_confusion_per_image(const mt_tensor *scores, const mt_tensor *target, double threshold,
                                 const mt_tensor *gate, double gate_lo, double gate_hi, mt_confusion *counts)
{
    MT_REQUIRE(target != NULL, "mt_confusion_per_image: target is NULL");
    MT_REQUIRE(counts != NULL, "mt_confusion_per_image: counts is NULL");
    MT_TRY(check_inputs("mt_confusion_per_image", scores, target, gate));
    int n = scores->shape[0], k = scores->shape[1];
    size_t hw = (size_t)scores->shape[2] * (size_t)scores->shape[3];
    mt_device dev = scores->storage->device;
    if (dev.type == MT_CUDA) {
#ifdef MT_WITH_CUDA
        int64_t *tmp = mt_malloc(sizeof(int64_t) * 4 * (size_t)n * (size_t)k);
        if (!tmp) return mt_last_status();
        mt_status s = mt_confusion_cuda(dev.index, MT_DATA(scores), MT_DATA(target), gate ? MT_DATA(gate) : NULL,
                                        n, k, hw, threshold, gate_lo, gate_hi, tmp);
        if (s == MT_OK)
            for (int i = 0; i < n * k; i++)
                counts[i] = (mt_confusion){tmp[4 * i], tmp[4 * i + 1], tmp[4 * i + 2], tmp[4 * i + 3]};
        free(tmp);
        return s;
#else
        return MT_ERR(MT_ERR_UNSUPPORTED, "mt_confusion_per_image: this build has no CUDA backend");
#endif
    }
    const mt_real *sc = MT_DATA(scores), *tg = MT_DATA(target);
    const mt_real *gt = gate ? MT_DATA(gate) : NULL;
    /* Integer counts: the result does not depend on the order or thread count. */
#pragma omp parallel for schedule(static) if ((size_t)n * k * hw > 65536)
    for (int ik = 0; ik < n * k; ik++) {
        const mt_real *s = sc + (size_t)ik * hw, *t = tg + (size_t)ik * hw;
        const mt_real *g = gt ? gt + (size_t)(ik / k) * hw : NULL;
        int64_t tp = 0, fp = 0, fn = 0, tn = 0;
        for (size_t i = 0; i < hw; i++) {
            int p = predicted(s[i], threshold, g, i, gate_lo, gate_hi);
            int y = t[i] > (mt_real)0.5;
            tp += p & y;
            fp += p & (!y);
            fn += (!p) & y;
            tn += (!p) & (!y);
        }
        counts[ik] = (mt_confusion){tp, fp, fn, tn};
    }
    return MT_OK;
}

mt_tensor *mt_binarize_gated(const mt_tensor *scores, double threshold, const mt_tensor *gate, double gate_lo,
                             double gate_hi)
{
    if (!scores) return NULL;
    if (check_inputs("mt_binarize_gated", scores, NULL, gate) != MT_OK) return NULL;
    mt_tensor *out = mt_tensor_like(scores, 0);
    if (!out) return NULL;
    int n = scores->shape[0], k = scores->shape[1];
    size_t hw = (size_t)scores->shape[2] * (size_t)scores->shape[3];
    mt_device dev = scores->storage->device;
    if (dev.type == MT_CUDA) {
#ifdef MT_WITH_CUDA
        if (mt_binarize_gated_cuda(dev.index, MT_DATA(scores), gate ? MT_DATA(gate) : NULL, MT_DATA(out), n, k,
                                   hw, threshold, gate_lo, gate_hi) != MT_OK) {
            mt_tensor_release(out);
            return NULL;
        }
        return out;
#else
        mt_tensor_release(out);
        MT_ERR(MT_ERR_UNSUPPORTED, "mt_binarize_gated: this build has no CUDA backend");
        return NULL;
#endif
    }
    const mt_real *sc = MT_DATA(scores);
    const mt_real *gt = gate ? MT_DATA(gate) : NULL;
    mt_real *o = MT_DATA(out);
    for (int ik = 0; ik < n * k; ik++) {
        const mt_real *g = gt ? gt + (size_t)(ik / k) * hw : NULL;
        for (size_t i = 0; i < hw; i++)
            o[(size_t)ik * hw + i] = (mt_real)predicted(sc[(size_t)ik * hw + i], threshold, g, i, gate_lo, gate_hi);
    }
    return out;
}

/* num / den, with 0/0 := 1 (see metrics.h). */
static double ratio(double num, double den)
{
    return den > 0 ? num / den : 1.0;
}

mt_seg_metrics mt_seg_metrics_from_confusion(mt_confusion c)
{
    double tp = (double)c.tp, fp = (double)c.fp, fn = (double)c.fn, tn = (double)c.tn;
    mt_seg_metrics m;
    m.accuracy = ratio(tp + tn, tp + fp + fn + tn);
    m.precision = ratio(tp, tp + fp);
    m.recall = ratio(tp, tp + fn);
    m.specificity = ratio(tn, tn + fp);
    m.iou = ratio(tp, tp + fp + fn);
    m.dsc = ratio(2 * tp, 2 * tp + fp + fn);
    return m;
}

mt_status mt_confusion_merged(const float *pred, const float *target, int n, int k, size_t plane, double threshold,
                              mt_confusion *counts)
{
    MT_REQUIRE(pred && target && counts && n > 0 && k > 0 && plane > 0,
               "mt_confusion_merged: NULL array or empty shape (n %d, k %d, plane %zu)", n, k, plane);
    for (int i = 0; i < n; i++) {
        mt_confusion c = {0, 0, 0, 0};
        for (size_t q = 0; q < plane; q++) {
            int p = 0, t = 0;
            for (int j = 0; j < k; j++) {
                size_t at = ((size_t)i * k + j) * plane + q;
                p |= pred[at] > threshold;
                t |= target[at] > 0.5f;
            }
            c.tp += p && t;
            c.fp += p && !t;
            c.fn += !p && t;
            c.tn += !p && !t;
        }
        counts[i] = c;
    }
    return MT_OK;
}

const char *const mt_iou_bin_names[MT_IOU_BIN_COUNT] = {">=0.90", "0.80-0.89", "0.70-0.79", "<0.70"};

void mt_iou_bin_counts(const double *iou, int n, int counts[MT_IOU_BIN_COUNT])
{
    for (int b = 0; b < MT_IOU_BIN_COUNT; b++) counts[b] = 0;
    for (int i = 0; i < n; i++) {
        double v = iou[i];
        counts[v >= 0.90 ? 0 : v >= 0.80 ? 1 : v >= 0.70 ? 2 : 3]++;
    }
}

void mt_mean_sd(const double *x, int n, double *mean, double *sd)
{
    double m = 0, ss = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m = n > 0 ? m / n : 0;
    for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    if (mean) *mean = m;
    if (sd) *sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
}

void mt_seg_metrics_mean_sd(const mt_seg_metrics *per_image, int n, mt_seg_metrics *mean, mt_seg_metrics *sd)
{
    mt_seg_metrics mm = {0}, ss = {0};
    for (int j = 0; j < MT_SEG_METRIC_COUNT; j++) {
        double m = 0, s2 = 0;
        for (int i = 0; i < n; i++) m += mt_seg_metric_get(&per_image[i], j);
        m = n > 0 ? m / n : 0;
        for (int i = 0; i < n; i++) {
            double d = mt_seg_metric_get(&per_image[i], j) - m;
            s2 += d * d;
        }
        metric_set(&mm, j, m);
        metric_set(&ss, j, n > 1 ? sqrt(s2 / (n - 1)) : 0);
    }
    if (mean) *mean = mm;
    if (sd) *sd = ss;
}

typedef struct scored {
    float s;
    int y;
} scored;

static int cmp_desc(const void *a, const void *b)
{
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x < y) - (x > y);
}

mt_status mt_roc_auc(const float *scores, const float *labels, size_t n, double *auc)
{
    MT_REQUIRE(scores && labels && auc, "mt_roc_auc: NULL argument");
    MT_REQUIRE(n > 0, "mt_roc_auc: no samples");
    scored *v = mt_malloc(sizeof *v * n);
    if (!v) return mt_last_status();
    double npos = 0, nneg = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(scores[i])) {
            free(v);
            return MT_ERR(MT_ERR_INVALID, "mt_roc_auc: score %zu is NaN", i);
        }
        v[i].s = scores[i];
        v[i].y = labels[i] > 0.5f;
        npos += v[i].y;
    }
    nneg = (double)n - npos;
    if (npos == 0 || nneg == 0) {
        free(v);
        return MT_ERR(MT_ERR_INVALID,
                      "mt_roc_auc: only one class present in %zu labels (%g positive); ROC AUC is undefined", n,
                      npos);
    }
    qsort(v, n, sizeof *v, cmp_desc);
    /* Walk thresholds from high to low; each group of tied scores adds one ROC
     * point; area by trapezoids between consecutive points (in counts, then normalised). */
    double tp = 0, fp = 0, prev_tp = 0, prev_fp = 0, area = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s) {
            tp += v[j].y;
            fp += !v[j].y;
            j++;
        }
        area += (fp - prev_fp) * (tp + prev_tp) * 0.5;
        prev_tp = tp;
        prev_fp = fp;
        i = j;
    }
    free(v);
    *auc = area / (npos * nneg);
    return MT_OK;
}

mt_status mt_roc_auc_tensor(const mt_tensor *scores, const mt_tensor *target, double *auc)
{
    MT_REQUIRE(scores && target, "mt_roc_auc_tensor: NULL tensor");
    MT_REQUIRE(mt_numel(scores) == mt_numel(target), "mt_roc_auc_tensor: %zu scores but %zu targets",
               mt_numel(scores), mt_numel(target));
    MT_REQUIRE(scores->dtype == MT_REAL && target->dtype == MT_REAL, "mt_roc_auc_tensor: expected %s tensors",
               mt_dtype_name(MT_REAL));
    size_t n = mt_numel(scores);
    mt_real *s = mt_malloc(sizeof(mt_real) * n), *t = mt_malloc(sizeof(mt_real) * n);
    float *sf = mt_malloc(sizeof(float) * n), *tf = mt_malloc(sizeof(float) * n);
    mt_status st = (s && t && sf && tf) ? MT_OK : mt_last_status();
    if (st == MT_OK) st = mt_tensor_to_host(scores, s, sizeof(mt_real) * n);
    if (st == MT_OK) st = mt_tensor_to_host(target, t, sizeof(mt_real) * n);
    if (st == MT_OK) {
        for (size_t i = 0; i < n; i++) {
            sf[i] = (float)s[i];
            tf[i] = (float)t[i];
        }
        st = mt_roc_auc(sf, tf, n, auc);
    }
    free(s);
    free(t);
    free(sf);
    free(tf);
    return st;
}

mt_status mt_confusion_matrix(const int32_t *y_true, const int32_t *y_pred, size_t n, int n_classes,
                              int64_t *counts)
{
    MT_REQUIRE(y_true && y_pred && counts, "mt_confusion_matrix: NULL argument");
    MT_REQUIRE(n_classes > 0, "mt_confusion_matrix: n_classes must be > 0, got %d", n_classes);
    memset(counts, 0, sizeof(int64_t) * (size_t)n_classes * (size_t)n_classes);
    for (size_t i = 0; i < n; i++) {
        MT_REQUIRE(y_true[i] >= 0 && y_true[i] < n_classes, "mt_confusion_matrix: y_true[%zu] = %d not in [0, %d)", i,
                   (int)y_true[i], n_classes);
        MT_REQUIRE(y_pred[i] >= 0 && y_pred[i] < n_classes, "mt_confusion_matrix: y_pred[%zu] = %d not in [0, %d)", i,
                   (int)y_pred[i], n_classes);
        counts[(size_t)y_true[i] * n_classes + y_pred[i]]++;
    }
    return MT_OK;
}

/* ---------------------------------------------------------------- classification */

mt_status mt_argmax_rows(const float *probs, size_t n, int k, int32_t *pred)
{
    MT_REQUIRE(probs && pred, "mt_argmax_rows: NULL argument");
    MT_REQUIRE(k >= 1, "mt_argmax_rows: k must be >= 1, got %d", k);
    for (size_t i = 0; i < n; i++) {
        const float *r = probs + i * (size_t)k;
        int best = 0;
        for (int c = 0; c < k; c++) {
            MT_REQUIRE(!isnan(r[c]), "mt_argmax_rows: probs[%zu, %d] is NaN", i, c);
            if (r[c] > r[best]) best = c;
        }
        pred[i] = best;
    }
    return MT_OK;
}

mt_status mt_accuracy(const int32_t *y_true, const int32_t *y_pred, size_t n, double *accuracy)
{
    MT_REQUIRE(y_true && y_pred && accuracy, "mt_accuracy: NULL argument");
    MT_REQUIRE(n > 0, "mt_accuracy: no samples");
    size_t hit = 0;
    for (size_t i = 0; i < n; i++) hit += y_true[i] == y_pred[i];
    *accuracy = (double)hit / (double)n;
    return MT_OK;
}

mt_status mt_precision_recall(const int32_t *y_true, const int32_t *y_pred, size_t n, int k, double *precision,
                              double *recall, double *macro_precision, double *macro_recall)
{
    MT_REQUIRE(y_true && y_pred, "mt_precision_recall: NULL argument");
    MT_REQUIRE(n > 0, "mt_precision_recall: no samples");
    MT_REQUIRE(k >= 1, "mt_precision_recall: k must be >= 1, got %d", k);
    /* tp[c], predicted[c] = TP + FP, actual[c] = TP + FN */
    int64_t *cnt = mt_calloc((size_t)k * 3, sizeof *cnt);
    if (!cnt) return mt_last_status();
    int64_t *tp = cnt, *npred = cnt + k, *ntrue = cnt + 2 * k;
    for (size_t i = 0; i < n; i++) {
        if (y_true[i] < 0 || y_true[i] >= k || y_pred[i] < 0 || y_pred[i] >= k) {
            free(cnt);
            return MT_ERR(MT_ERR_INVALID, "mt_precision_recall: y_true[%zu] = %d or y_pred[%zu] = %d not in [0, %d)", i,
                          (int)y_true[i], i, (int)y_pred[i], k);
        }
        ntrue[y_true[i]]++;
        npred[y_pred[i]]++;
        tp[y_true[i]] += y_true[i] == y_pred[i];
    }
    double sp = 0, sr = 0;
    int used = 0;
    for (int c = 0; c < k; c++) {
        double p = npred[c] ? (double)tp[c] / (double)npred[c] : 0.0;
        double r = ntrue[c] ? (double)tp[c] / (double)ntrue[c] : 0.0;
        if (precision) precision[c] = p;
        if (recall) recall[c] = r;
        if (npred[c] || ntrue[c]) sp += p, sr += r, used++;
    }
    free(cnt);
    if (macro_precision) *macro_precision = sp / used; /* used >= 1 since n > 0 */
    if (macro_recall) *macro_recall = sr / used;
    return MT_OK;
}

mt_status mt_roc_auc_ovr(const int32_t *y_true, const float *probs, size_t n, int k, double *per_class,
                         double *macro_auc, int *n_used)
{
    MT_REQUIRE(y_true && probs && macro_auc, "mt_roc_auc_ovr: NULL argument");
    MT_REQUIRE(n > 0, "mt_roc_auc_ovr: no samples");
    MT_REQUIRE(k >= 2, "mt_roc_auc_ovr: k must be >= 2, got %d", k);
    size_t *count = mt_calloc((size_t)k, sizeof *count);
    float *col = mt_malloc(sizeof(float) * n), *lab = mt_malloc(sizeof(float) * n);
    mt_status st = (count && col && lab) ? MT_OK : mt_last_status();
    for (size_t i = 0; st == MT_OK && i < n; i++) {
        if (y_true[i] < 0 || y_true[i] >= k) st = MT_ERR(MT_ERR_INVALID, "mt_roc_auc_ovr: y_true[%zu] = %d not in [0, %d)", i, (int)y_true[i], k);
        else count[y_true[i]]++;
    }
    double sum = 0;
    int used = 0;
    for (int c = 0; st == MT_OK && c < k; c++) {
        if (per_class) per_class[c] = NAN;
        if (count[c] == 0 || count[c] == n) continue; /* AUC undefined for this class */
        for (size_t i = 0; i < n; i++) {
            col[i] = probs[i * (size_t)k + c];
            lab[i] = y_true[i] == c ? 1.0f : 0.0f;
        }
        double a;
        st = mt_roc_auc(col, lab, n, &a);
        if (st != MT_OK) break;
        if (per_class) per_class[c] = a;
        sum += a;
        used++;
    }
    if (st == MT_OK && used == 0)
        st = MT_ERR(MT_ERR_INVALID, "mt_roc_auc_ovr: only one class present in %zu labels; ROC AUC is undefined", n);
    if (st == MT_OK) *macro_auc = sum / used;
    if (n_used) *n_used = st == MT_OK ? used : 0;
    free(count);
    free(col);
    free(lab);
    return st;
}

mt_status mt_roc_curve(const float *scores, const float *labels, size_t n, double *fpr, double *tpr,
                       double *thresholds, size_t *n_points)
{
    MT_REQUIRE(scores && labels && fpr && tpr && thresholds && n_points, "mt_roc_curve: NULL argument");
    MT_REQUIRE(n > 0, "mt_roc_curve: no samples");
    scored *v = mt_malloc(sizeof *v * n);
    if (!v) return mt_last_status();
    double npos = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(scores[i])) {
            free(v);
            return MT_ERR(MT_ERR_INVALID, "mt_roc_curve: score %zu is NaN", i);
        }
        v[i].s = scores[i];
        v[i].y = labels[i] > 0.5f;
        npos += v[i].y;
    }
    double nneg = (double)n - npos;
    if (npos == 0 || nneg == 0) {
        free(v);
        return MT_ERR(MT_ERR_INVALID, "mt_roc_curve: only one class present in %zu labels (%g positive); the ROC "
                      "curve is undefined", n, npos);
    }
    qsort(v, n, sizeof *v, cmp_desc);
    size_t m = 0;
    fpr[0] = tpr[0] = 0;
    thresholds[m++] = (double)v[0].s + 1.0; /* sklearn <= 1.2: thresholds[0] + 1 */
    double tp = 0, fp = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s) {
            tp += v[j].y;
            fp += !v[j].y;
            j++;
        }
        fpr[m] = fp / nneg;
        tpr[m] = tp / npos;
        thresholds[m++] = v[i].s;
        i = j;
    }
    free(v);
    *n_points = m;
    return MT_OK;
}

mt_status mt_classification_metrics(const int32_t *y_true, const float *probs, size_t n, int k,
                                    mt_class_metrics *out)
{
    MT_REQUIRE(y_true && probs && out, "mt_classification_metrics: NULL argument");
    MT_REQUIRE(n > 0 && k >= 2, "mt_classification_metrics: need n > 0 and k >= 2 (n = %zu, k = %d)", n, k);
    int32_t *pred = mt_malloc(sizeof *pred * n);
    if (!pred) return mt_last_status();
    mt_status st = mt_argmax_rows(probs, n, k, pred);
    if (st == MT_OK) st = mt_accuracy(y_true, pred, n, &out->accuracy);
    if (st == MT_OK) st = mt_precision_recall(y_true, pred, n, k, NULL, NULL, &out->precision, &out->recall);
    free(pred);
    if (st != MT_OK) return st;
    /* one class only in y_true: AUC undefined, reported as NaN rather than an error */
    size_t i = 1;
    while (i < n && y_true[i] == y_true[0]) i++;
    if (i == n) {
        out->auc = NAN;
        return MT_OK;
    }
    return mt_roc_auc_ovr(y_true, probs, n, k, NULL, &out->auc, NULL);
}
