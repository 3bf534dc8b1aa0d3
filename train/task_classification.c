/* train/task_classification.c: the classification task (task.h).
 *
 * Targets: the dataset's /labels (class ids; -1 = none is refused).
 * Losses: a model with K >= 2 logits [N, K]: softmax + cross-entropy (torch
 * CrossEntropyLoss, loss.kind cross_entropy, loss.class_weights; S2's 5 body
 * parts); a model with one logit [N, 1]: sigmoid + BCE against label 0/1 (torch
 * BCEWithLogitsLoss, loss.kind bce_with_logits, loss.pos_weight; S4's C, S2's
 * contrast).
 * Metrics (val_<name>): accuracy, precision and recall (macro averages over
 * classes, sklearn average='macro', zero_division=0; for one logit those of
 * class 1, sklearn's binary average), auc (binary ROC AUC of p(class 1); for K
 * classes the one-vs-rest macro average, sklearn roc_auc_score
 * multi_class='ovr'), and the confusion matrix (rows true, columns predicted).
 * Pictures: confusion_matrix.png and roc.png of the split. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/metrics.h"
#include "../core/ops.h"
#include "plot.h"
#include "run_dir.h"
#include "task.h"

static const char *const k_metrics[] = {"accuracy", "auc", "precision", "recall"};
static const char *const k_terms[] = {"ce"};

typedef struct cls_detail {
    int n, k;            /* samples, classes (2 for one logit) */
    int32_t *y_true, *y_pred;
    float *prob;         /* [n * k] class probabilities */
    int64_t *confusion;  /* [k * k] */
} cls_detail;

static void detail_free(void *p)
{
    cls_detail *d = p;
    free(d->y_true);
    free(d->y_pred);
    free(d->prob);
    free(d->confusion);
    free(d);
}

/* logits per sample of the model (1 = binary sigmoid) */
static int model_logits(mt_session *s)
{
    int nd = 0, shape[4] = {0};
    if (mt_model_output_shape(s->model, 1, s->in_c, s->in_h, s->in_w, &nd, shape) != MT_OK) {
        mt_error_clear();
        return -1;
    }
    return nd == 2 ? shape[1] : -1;
}

static mt_status check(mt_session *s)
{
    const mt_experiment *e = &s->exp;
    int n = mt_dataset_size(s->ds), labelled = 0, max_label = -1;
    for (int i = 0; i < n; i++) {
        int l = mt_dataset_label(s->ds, i);
        labelled += l >= 0;
        max_label = l > max_label ? l : max_label;
    }
    if (labelled == 0)
        return MT_ERR(MT_ERR_INVALID,
                      "%s: task classification needs class labels but dataset %s has none (/labels all -1 or "
                      "missing); import it with labels (labels_csv, classes, idx_labels)",
                      e->config_path, e->data.dataset);
    if (e->loss.kind != MT_LOSS_CROSS_ENTROPY && e->loss.kind != MT_LOSS_BCE_WITH_LOGITS)
        return MT_ERR(MT_ERR_INVALID,
                      "%s: loss.kind %s: task classification takes cross_entropy (K logits) or bce_with_logits (one "
                      "logit)",
                      e->config_path, mt_config_loss_name(e->loss.kind));
    if (!s->model) return MT_OK;
    int k = model_logits(s);
    if (k < 1)
        return MT_ERR(MT_ERR_INVALID, "%s: task classification needs a model whose output is [N, classes] logits",
                      e->config_path);
    if (k == 1 && e->loss.kind != MT_LOSS_BCE_WITH_LOGITS)
        return MT_ERR(MT_ERR_INVALID, "%s: the model gives one logit: use loss.kind bce_with_logits", e->config_path);
    if (k > 1 && e->loss.kind != MT_LOSS_CROSS_ENTROPY)
        return MT_ERR(MT_ERR_INVALID, "%s: the model gives %d logits: use loss.kind cross_entropy", e->config_path, k);
    int classes = k == 1 ? 2 : k;
    if (e->task.classes > 0 && e->task.classes != classes)
        return MT_ERR(MT_ERR_INVALID, "%s: task.classes is %d but the model gives %d logits", e->config_path,
                      e->task.classes, k);
    if (max_label >= classes)
        return MT_ERR(MT_ERR_INVALID, "%s: dataset %s has label %d but the model separates %d classes (0..%d)",
                      e->config_path, e->data.dataset, max_label, classes, classes - 1);
    return MT_OK;
}

/* float targets [N, 1] (binary) or the labels (cross-entropy); refuses unlabelled samples */
static mt_status targets(mt_session *s, const mt_batch *b, int binary, mt_tensor **out)
{
    int n = b->n;
    int32_t *l = mt_malloc(sizeof(int32_t) * (size_t)n);
    mt_real *v = mt_malloc(sizeof(mt_real) * (size_t)n);
    mt_status st = l && v ? mt_tensor_to_host(b->labels, l, sizeof(int32_t) * (size_t)n) : mt_last_status();
    for (int i = 0; st == MT_OK && i < n; i++) {
        if (l[i] < 0)
            st = MT_ERR(MT_ERR_INVALID, "dataset %s: sample %d has no label (-1); task classification needs one",
                        s->exp.data.dataset, b->sample_ids ? b->sample_ids[i] : i);
        v[i] = (mt_real)l[i];
    }
    int shape[2] = {n, 1};
    *out = NULL;
    if (st == MT_OK) *out = binary ? mt_tensor_from_host(s->dev, 2, shape, v) : mt_tensor_retain(b->labels);
    if (st == MT_OK && !*out) st = mt_last_status();
    free(l);
    free(v);
    return st;
}

static mt_status loss_of(mt_session *s, mt_tensor *logits, const mt_batch *b, mt_tensor **loss)
{
    const mt_experiment *e = &s->exp;
    int binary = logits->shape[1] == 1;
    mt_tensor *t = NULL, *w = NULL;
    MT_TRY(targets(s, b, binary, &t));
    if (binary) {
        if (e->loss.pos_weight != 1.0) {
            int one = 1;
            mt_real pw = (mt_real)e->loss.pos_weight;
            w = mt_tensor_from_host(s->dev, 1, &one, &pw);
        }
        *loss = mt_bce_with_logits(logits, t, NULL, w, MT_REDUCE_MEAN);
    } else {
        if (e->loss.n_class_weights > 0) {
            mt_real v[MT_CFG_MAX_LIST];
            int n = e->loss.n_class_weights;
            for (int i = 0; i < n; i++) v[i] = (mt_real)e->loss.class_weights[i];
            w = mt_tensor_from_host(s->dev, 1, &n, v);
        }
        *loss = mt_cross_entropy(logits, t, w, -100, NULL, MT_REDUCE_MEAN);
    }
    mt_tensor_release(t);
    mt_tensor_release(w);
    return *loss ? MT_OK : mt_last_status();
}

static mt_status cls_loss(mt_session *s, mt_tensor *const *outs, int n_outs, const mt_batch *b, mt_tensor **loss,
                          double *terms)
{
    MT_TRY(loss_of(s, outs[0], b, loss));
    if (terms) terms[0] = NAN;
    return MT_OK;
}

/* probabilities [n, k] (k = 2 for one logit: 1 - p, p) of one batch into d at row b0 */
static mt_status eval_batch(mt_session *s, const mt_batch *b, int b0, cls_detail *d, double *loss_sum)
{
    mt_tensor *x = mt_session_normalize(s, b->images), *logits = x ? mt_session_forward(s, x) : NULL;
    mt_tensor *loss = NULL, *p = NULL;
    mt_status st = logits ? loss_of(s, logits, b, &loss) : mt_last_status();
    int binary = logits && logits->shape[1] == 1;
    if (st == MT_OK) p = binary ? mt_sigmoid(logits) : mt_softmax(logits, 1);
    float *hp = p ? mt_task_host_floats(p) : NULL;
    if (st == MT_OK && !hp) st = mt_last_status();
    if (st == MT_OK) st = mt_tensor_to_host(b->labels, d->y_true + b0, sizeof(int32_t) * (size_t)b->n);
    if (st == MT_OK) {
        *loss_sum += mt_task_scalar(loss) * b->n;
        double thr = s->exp.metrics.threshold;
        for (int i = 0; i < b->n; i++) {
            float *row = d->prob + (size_t)(b0 + i) * d->k;
            if (binary) {
                row[0] = 1 - hp[i];
                row[1] = hp[i];
                d->y_pred[b0 + i] = hp[i] > thr;
            } else {
                int best = 0;
                for (int c = 0; c < d->k; c++) {
                    row[c] = hp[(size_t)i * d->k + c];
                    if (row[c] > row[best]) best = c;
                }
                d->y_pred[b0 + i] = best;
            }
        }
    }
    free(hp);
    mt_tensor *tmp[] = {x, logits, loss, p};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) mt_tensor_release(tmp[i]);
    return st;
}

/* accuracy, precision and recall (K classes: macro; one logit: of class 1, sklearn's
 * binary average) and AUC (K: one-vs-rest macro; one logit: of p(class 1)), core/metrics.h */
static mt_status fill_metrics(const cls_detail *d, int binary, mt_eval *out)
{
    if (!binary) {
        mt_class_metrics m;
        MT_TRY(mt_classification_metrics(d->y_true, d->prob, (size_t)d->n, d->k, &m));
        mt_eval_set(out, "accuracy", m.accuracy);
        mt_eval_set(out, "precision", m.precision);
        mt_eval_set(out, "recall", m.recall);
        mt_eval_set(out, "auc", m.auc);
        return MT_OK;
    }
    double acc, prec[2], rec[2], auc = NAN;
    MT_TRY(mt_accuracy(d->y_true, d->y_pred, (size_t)d->n, &acc));
    MT_TRY(mt_precision_recall(d->y_true, d->y_pred, (size_t)d->n, 2, prec, rec, NULL, NULL));
    float *score = mt_malloc(sizeof(float) * (size_t)d->n), *lab = mt_malloc(sizeof(float) * (size_t)d->n);
    if (!score || !lab) {
        free(score);
        free(lab);
        return mt_last_status();
    }
    for (int i = 0; i < d->n; i++) {
        score[i] = d->prob[(size_t)i * 2 + 1];
        lab[i] = d->y_true[i] == 1;
    }
    if (mt_roc_auc(score, lab, (size_t)d->n, &auc) != MT_OK) {
        auc = NAN; /* one class only in the split: undefined */
        mt_error_clear();
    }
    free(score);
    free(lab);
    mt_eval_set(out, "accuracy", acc);
    mt_eval_set(out, "precision", prec[1]);
    mt_eval_set(out, "recall", rec[1]);
    mt_eval_set(out, "auc", auc);
    return MT_OK;
}

static mt_status cls_evaluate(mt_session *s, const int *idx, int n, int batch_size, mt_eval *out)
{
    memset(out, 0, sizeof *out);
    MT_REQUIRE(n > 0, "evaluation split is empty");
    int logits = model_logits(s);
    MT_REQUIRE(logits >= 1, "classification: the model output is not [N, classes]");
    cls_detail *d = mt_calloc(1, sizeof *d);
    if (!d) return mt_last_status();
    out->detail = d;
    out->detail_free = detail_free;
    d->n = n;
    d->k = logits == 1 ? 2 : logits;
    d->y_true = mt_malloc(sizeof(int32_t) * (size_t)n);
    d->y_pred = mt_malloc(sizeof(int32_t) * (size_t)n);
    d->prob = mt_malloc(sizeof(float) * (size_t)n * d->k);
    d->confusion = mt_calloc((size_t)d->k * d->k, sizeof(int64_t));
    mt_status st = d->y_true && d->y_pred && d->prob && d->confusion ? MT_OK : mt_last_status();
    int prev = mt_set_grad_enabled(0);
    double loss_sum = 0;
    for (int b0 = 0; b0 < n && st == MT_OK; b0 += batch_size) {
        int bn = n - b0 < batch_size ? n - b0 : batch_size;
        mt_batch b;
        st = mt_session_read_batch(s, idx + b0, bn, &b);
        if (st == MT_OK) st = eval_batch(s, &b, b0, d, &loss_sum);
        mt_batch_free(&b);
    }
    mt_set_grad_enabled(prev);
    if (st == MT_OK) st = mt_confusion_matrix(d->y_true, d->y_pred, (size_t)n, d->k, d->confusion);
    if (st == MT_OK) {
        out->n_samples = n;
        out->loss = loss_sum / n;
        st = fill_metrics(d, logits == 1, out);
    }
    if (st != MT_OK) mt_eval_free(out);
    return st;
}

static void cls_print(FILE *f, const mt_session *s, const char *title, const mt_eval *e)
{
    const cls_detail *d = e->detail;
    fprintf(f, "%s (%d samples, %d classes)\n", title, d->n, d->k);
    mt_eval_print_members(f, e);
    fprintf(f, "  %-12s %.5f\n  confusion matrix (rows true, columns predicted):\n", "loss", e->loss);
    for (int r = 0; r < d->k; r++) {
        fprintf(f, "   ");
        for (int c = 0; c < d->k; c++) fprintf(f, " %6lld", (long long)d->confusion[r * d->k + c]);
        fprintf(f, "\n");
    }
}

static void cls_json(FILE *f, const mt_session *s, const mt_eval *e, int indent)
{
    const cls_detail *d = e->detail;
    char pad[32];
    snprintf(pad, sizeof pad, "%*s", indent, "");
    fprintf(f, "%s\"n_samples\": %d,\n%s\"classes\": %d,\n%s\"loss\": %.8g", pad, d->n, pad, d->k, pad, e->loss);
    mt_eval_json_members(f, e, indent);
    fprintf(f, ",\n%s\"confusion_matrix\": [", pad);
    for (int r = 0; r < d->k; r++) {
        fprintf(f, "%s[", r ? ", " : "");
        for (int c = 0; c < d->k; c++) fprintf(f, "%s%lld", c ? ", " : "", (long long)d->confusion[r * d->k + c]);
        fprintf(f, "]");
    }
    fprintf(f, "]\n");
}

/* ROC points of class c one-vs-rest (sklearn roc_curve, drop_intermediate False); 0 when undefined */
static int roc_points(const cls_detail *d, int c, double *fpr, double *tpr, double *thr)
{
    float *score = mt_malloc(sizeof(float) * (size_t)d->n), *lab = mt_malloc(sizeof(float) * (size_t)d->n);
    size_t m = 0;
    for (int i = 0; score && lab && i < d->n; i++) {
        score[i] = d->prob[(size_t)i * d->k + c];
        lab[i] = d->y_true[i] == c;
    }
    if (score && lab && mt_roc_curve(score, lab, (size_t)d->n, fpr, tpr, thr, &m) != MT_OK) {
        m = 0;
        mt_error_clear();
    }
    free(score);
    free(lab);
    return (int)m;
}

static mt_status cls_pictures(mt_session *s, const mt_eval *e, const int *idx, int n, int n_max, const char *dir)
{
    const cls_detail *d = e->detail;
    MT_TRY(mt_mkdirs(dir));
    char **names = NULL;
    int nn = 0;
    if (mt_dataset_names(s->ds, "class_names", &names, &nn) != MT_OK) mt_error_clear();
    const char *cn[64];
    for (int c = 0; c < d->k && c < 64; c++) cn[c] = c < nn ? names[c] : NULL;
    long long *counts = mt_malloc(sizeof(long long) * (size_t)d->k * d->k);
    double *fpr = mt_malloc(sizeof(double) * ((size_t)d->n + 1) * d->k), *tpr = mt_malloc(sizeof(double) * ((size_t)d->n + 1) * d->k);
    double *thr = mt_malloc(sizeof(double) * ((size_t)d->n + 1));
    mt_plot_roc_curve *curves = mt_calloc((size_t)d->k, sizeof *curves);
    mt_status st = counts && fpr && tpr && thr && curves ? MT_OK : mt_last_status();
    char path[2400];
    if (st == MT_OK) {
        for (int i = 0; i < d->k * d->k; i++) counts[i] = d->confusion[i];
        snprintf(path, sizeof path, "%s/confusion_matrix.png", dir);
        st = mt_plot_confusion(path, "confusion matrix", d->k, counts, nn >= d->k ? cn : NULL);
    }
    int first = d->k == 2 ? 1 : 0, nc = 0;
    for (int c = first; st == MT_OK && c < d->k; c++) {
        double *f = fpr + (size_t)nc * (d->n + 1), *t = tpr + (size_t)nc * (d->n + 1);
        int m = roc_points(d, c, f, t, thr);
        if (m > 0) curves[nc++] = (mt_plot_roc_curve){c < nn ? names[c] : NULL, m, f, t, NAN};
    }
    if (st == MT_OK && nc > 0) {
        mt_plot_chart ch = {"ROC (one-vs-rest)", "false positive rate", "true positive rate", 560, 520, 0};
        snprintf(path, sizeof path, "%s/roc.png", dir);
        st = mt_plot_roc(path, &ch, nc, curves);
    }
    free(counts);
    free(fpr);
    free(tpr);
    free(thr);
    free(curves);
    mt_dataset_free_names(names, nn);
    return st;
}

const mt_task mt_task_classification = {
    .kind = "classification",
    .n_log_metrics = 4,
    .log_metrics = k_metrics,
    .n_terms = 0,
    .terms = k_terms,
    .check = check,
    .loss = cls_loss,
    .evaluate = cls_evaluate,
    .print = cls_print,
    .json = cls_json,
    .pictures = cls_pictures,
};
