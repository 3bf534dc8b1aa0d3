/* tests/test_metrics_class.c: classification metrics of core/metrics.h (accuracy, macro
 * precision / recall, one-vs-rest ROC AUC, ROC curve points) against scikit-learn 1.2
 * (tests/fixtures/gen_classification_metrics.py -> classification_metrics.h5): ties in
 * scores and in the argmax, a class never true, a class neither true nor predicted, K = 2
 * and K = 5. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/metrics.h"
#include "fixture.h"
#include "test.h"

#define FX "tests/fixtures/classification_metrics.h5"

/* A fixture case as host arrays. */
typedef struct class_case {
    int n, k;
    int32_t *y_true, *y_pred;
    float *probs;
} class_case;

static int load_case(const char *name, class_case *c)
{
    char key[128];
    memset(c, 0, sizeof *c);
    snprintf(key, sizeof key, "%s/y_true", name);
    mt_tensor *yt = fx_load(FX, key);
    snprintf(key, sizeof key, "%s/y_pred", name);
    mt_tensor *yp = fx_load(FX, key);
    snprintf(key, sizeof key, "%s/probs", name);
    mt_tensor *p = fx_load(FX, key);
    int ok = yt && yp && p && yt->dtype == MT_I32 && yp->dtype == MT_I32 && p->ndim == 2;
    if (ok) {
        c->n = p->shape[0], c->k = p->shape[1];
        c->y_true = malloc(sizeof(int32_t) * c->n);
        c->y_pred = malloc(sizeof(int32_t) * c->n);
        c->probs = malloc(sizeof(float) * c->n * c->k);
        ok = c->y_true && c->y_pred && c->probs;
        if (ok) {
            memcpy(c->y_true, mt_data(yt), sizeof(int32_t) * c->n);
            memcpy(c->y_pred, mt_data(yp), sizeof(int32_t) * c->n);
            const mt_real *pv = mt_data(p);
            for (int i = 0; i < c->n * c->k; i++) c->probs[i] = (float)pv[i];
        }
    }
    mt_tensor_release(yt);
    mt_tensor_release(yp);
    mt_tensor_release(p);
    return ok;
}

static void free_case(class_case *c)
{
    free(c->y_true);
    free(c->y_pred);
    free(c->probs);
}

/* values of a 1-D fixture dataset in float64; returns count or -1 */
static int load_vec(const char *name, const char *what, double *out, int max)
{
    char key[128];
    snprintf(key, sizeof key, "%s/%s", name, what);
    return fx_read_f64(FX, key, out, max);
}

static const char *const k_cases[] = {"k5_ties", "k5_absent", "k2_ties", "k5_random"};

TEST(metrics_class_accuracy_precision_recall_match_sklearn)
{
    for (int ci = 0; ci < 4; ci++) {
        const char *name = k_cases[ci];
        class_case c;
        CHECK(load_case(name, &c), "%s: cannot load the fixture: %s", name, mt_last_error());
        int32_t *pred = malloc(sizeof(int32_t) * c.n);
        CHECK(pred, "out of memory");
        CHECK_OK(mt_argmax_rows(c.probs, c.n, c.k, pred));
        for (int i = 0; i < c.n; i++)
            CHECK(pred[i] == c.y_pred[i], "%s: argmax row %d = %d, numpy %d (ties: first maximum)", name, i, pred[i],
                  c.y_pred[i]);
        double acc, mp, mr, ref, prec[8], rec[8], rp[8], rr[8];
        CHECK_OK(mt_accuracy(c.y_true, pred, c.n, &acc));
        CHECK(fx_attr(FX, name, "accuracy", &ref), "no accuracy");
        CHECK(fabs(acc - ref) < 1e-12, "%s: accuracy %.15g, sklearn %.15g", name, acc, ref);
        CHECK_OK(mt_precision_recall(c.y_true, pred, c.n, c.k, prec, rec, &mp, &mr));
        CHECK(fx_attr(FX, name, "precision_macro", &ref), "no precision_macro");
        CHECK(fabs(mp - ref) < 1e-12, "%s: macro precision %.15g, sklearn %.15g", name, mp, ref);
        CHECK(fx_attr(FX, name, "recall_macro", &ref), "no recall_macro");
        CHECK(fabs(mr - ref) < 1e-12, "%s: macro recall %.15g, sklearn %.15g", name, mr, ref);
        CHECK(load_vec(name, "precision", rp, 8) == c.k && load_vec(name, "recall", rr, 8) == c.k, "per-class refs");
        for (int k = 0; k < c.k; k++) {
            CHECK(fabs(prec[k] - rp[k]) < 1e-12, "%s: precision[%d] %.9g, sklearn %.9g", name, k, prec[k], rp[k]);
            CHECK(fabs(rec[k] - rr[k]) < 1e-12, "%s: recall[%d] %.9g, sklearn %.9g", name, k, rec[k], rr[k]);
        }
        /* the summary function agrees with the pieces */
        mt_class_metrics m;
        CHECK_OK(mt_classification_metrics(c.y_true, c.probs, c.n, c.k, &m));
        CHECK(m.accuracy == acc && m.precision == mp && m.recall == mr, "%s: summary differs from the pieces", name);
        CHECK(fx_attr(FX, name, "auc_macro", &ref), "no auc_macro");
        CHECK(fabs(m.auc - ref) < 1e-9, "%s: summary AUC %.15g, sklearn %.15g", name, m.auc, ref);
        free(pred);
        free_case(&c);
    }
}

TEST(metrics_class_absent_class_in_macro_means)
{
    /* k5_absent: class 3 is predicted but never true (precision 0, recall 0 by zero_division,
     * counted in the macro means); class 4 is neither (left out): macro over 4 classes. */
    class_case c;
    CHECK(load_case("k5_absent", &c), "cannot load k5_absent: %s", mt_last_error());
    double prec[5], rec[5], mp, mr;
    CHECK_OK(mt_precision_recall(c.y_true, c.y_pred, c.n, 5, prec, rec, &mp, &mr));
    double sp = 0, sr = 0;
    for (int k = 0; k < 4; k++) sp += prec[k], sr += rec[k];
    CHECK(prec[3] == 0 && rec[3] == 0 && prec[4] == 0 && rec[4] == 0, "absent classes: %g %g %g %g", prec[3], rec[3],
          prec[4], rec[4]);
    CHECK(fabs(mp - sp / 4) < 1e-15 && fabs(mr - sr / 4) < 1e-15, "macro is not the mean over 4 classes: %g %g", mp, mr);
    int used;
    double auc[5], macro, ref[5];
    CHECK_OK(mt_roc_auc_ovr(c.y_true, c.probs, c.n, 5, auc, &macro, &used));
    CHECK(used == 3, "OvR AUC used %d classes, expected the 3 present ones", used);
    CHECK(isnan(auc[3]) && isnan(auc[4]), "absent classes must have NaN AUC, got %g %g", auc[3], auc[4]);
    CHECK(load_vec("k5_absent", "auc", ref, 5) == 5, "auc refs");
    for (int k = 0; k < 3; k++) CHECK(fabs(auc[k] - ref[k]) < 1e-12, "auc[%d] %.15g, sklearn %.15g", k, auc[k], ref[k]);
    free_case(&c);
}

TEST(metrics_class_ovr_auc_and_roc_curve_match_sklearn)
{
    for (int ci = 0; ci < 4; ci++) {
        const char *name = k_cases[ci];
        class_case c;
        CHECK(load_case(name, &c), "%s: cannot load the fixture: %s", name, mt_last_error());
        double auc[8], macro, ref[8], ref_macro;
        int used;
        CHECK_OK(mt_roc_auc_ovr(c.y_true, c.probs, c.n, c.k, auc, &macro, &used));
        CHECK(load_vec(name, "auc", ref, 8) == c.k, "auc refs");
        for (int k = 0; k < c.k; k++)
            CHECK((isnan(ref[k]) && isnan(auc[k])) || fabs(auc[k] - ref[k]) < 1e-12, "%s: auc[%d] %.15g, sklearn %.15g",
                  name, k, auc[k], ref[k]);
        CHECK(fx_attr(FX, name, "auc_macro", &ref_macro), "no auc_macro");
        CHECK(fabs(macro - ref_macro) < 1e-12, "%s: OvR macro AUC %.15g, sklearn %.15g", name, macro, ref_macro);
        if (c.k == 2) {
            double bin;
            CHECK(fx_attr(FX, name, "auc_binary", &bin), "no auc_binary");
            CHECK(fabs(macro - bin) < 1e-12, "K = 2: OvR macro %.15g != binary AUC %.15g", macro, bin);
        }
        /* ROC curve of one class, ties included */
        double rc;
        CHECK(fx_attr(FX, name, "roc_class", &rc), "no roc_class");
        int cls = (int)rc;
        float *col = malloc(sizeof(float) * c.n), *lab = malloc(sizeof(float) * c.n);
        double *fpr = malloc(sizeof(double) * (c.n + 1)), *tpr = malloc(sizeof(double) * (c.n + 1)),
               *thr = malloc(sizeof(double) * (c.n + 1)), *rf = malloc(sizeof(double) * (c.n + 1)),
               *rt = malloc(sizeof(double) * (c.n + 1)), *rh = malloc(sizeof(double) * (c.n + 1));
        CHECK(col && lab && fpr && tpr && thr && rf && rt && rh, "out of memory");
        for (int i = 0; i < c.n; i++) col[i] = c.probs[i * c.k + cls], lab[i] = c.y_true[i] == cls;
        size_t np;
        CHECK_OK(mt_roc_curve(col, lab, c.n, fpr, tpr, thr, &np));
        int nr = load_vec(name, "roc_fpr", rf, c.n + 1);
        CHECK(nr == (int)np, "%s: %zu ROC points, sklearn %d", name, np, nr);
        CHECK(load_vec(name, "roc_tpr", rt, c.n + 1) == nr && load_vec(name, "roc_thr", rh, c.n + 1) == nr, "refs");
        for (int j = 0; j < nr; j++) {
            CHECK(fabs(fpr[j] - rf[j]) < 1e-12 && fabs(tpr[j] - rt[j]) < 1e-12,
                  "%s: ROC point %d (%.9g, %.9g), sklearn (%.9g, %.9g)", name, j, fpr[j], tpr[j], rf[j], rt[j]);
            CHECK(fabs(thr[j] - rh[j]) < 1e-6, "%s: threshold %d %.9g, sklearn %.9g", name, j, thr[j], rh[j]);
        }
        free(col), free(lab), free(fpr), free(tpr), free(thr), free(rf), free(rt), free(rh);
        free_case(&c);
    }
}

TEST(metrics_class_bad_input_refused)
{
    int32_t yt[4] = {0, 1, 2, 1}, yp[4] = {0, 1, 3, 1};
    float pr[8] = {0.9f, 0.1f, 0.2f, 0.8f, NAN, 0.5f, 0.3f, 0.7f};
    double a, b;
    CHECK(mt_precision_recall(yt, yp, 4, 3, NULL, NULL, &a, &b) == MT_ERR_INVALID, "id 3 with k = 3 accepted");
    CHECK(strstr(mt_last_error(), "y_pred[2] = 3"), "message does not name the index: %s", mt_last_error());
    mt_error_clear();
    int32_t p2[4];
    CHECK(mt_argmax_rows(pr, 4, 2, p2) == MT_ERR_INVALID, "NaN probability accepted");
    mt_error_clear();
    int32_t one[3] = {1, 1, 1};
    float p3[6] = {0.2f, 0.8f, 0.4f, 0.6f, 0.9f, 0.1f};
    CHECK(mt_roc_auc_ovr(one, p3, 3, 2, NULL, &a, NULL) == MT_ERR_INVALID, "one-class AUC accepted");
    mt_error_clear();
    mt_class_metrics m;
    CHECK_OK(mt_classification_metrics(one, p3, 3, 2, &m));
    CHECK(isnan(m.auc) && fabs(m.accuracy - 2.0 / 3) < 1e-15, "one-class summary: auc %g accuracy %g", m.auc,
          m.accuracy);
    CHECK(mt_accuracy(yt, yp, 0, &a) == MT_ERR_INVALID, "n = 0 accepted");
    mt_error_clear();
}
