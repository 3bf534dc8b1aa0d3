/* train/task_adversarial.c: the adversarial task: a generator G (the
 * experiment's `model:`) and a discriminator D (task.discriminator, whose graph
 * has two outputs: the logit [N] and the features D_feat) trained alternately,
 * each with its own optimizer (optimizer.*, D's lr task.d_lr when set) and
 * schedule: Skip-GANomaly (Akcay et al., IJCNN 2019) as S4's model 3 in
 * ../shared/design/papers.md. One step on a batch X (dataset images after
 * normalisation), both networks in training mode:
 *   1. G̃ = G(X); (p_f, f_f) = D(G̃); (p_r, f_r) = D(X)
 *      L_G = w_adv BCE(1, p_f) + w_con |X - G̃| + w_lat MSE(f_r, f_f)
 *      backward, G's optimizer step (the gradients this leaves on D are dropped)
 *   2. (p_r, f_r) = D(X); (p_f, f_f) = D(G̃.detach())
 *      L_D = BCE(1, p_r) + BCE(0, p_f) + w_lat MSE(f_r, f_f)
 *      backward, D's optimizer step
 * (BCE on logits, torch BCEWithLogitsLoss; |.| = L1Loss, MSE = MSELoss, means.)
 * The reference's re-initialisation of D when L_D < 1e-5 is not done.
 * Logged: loss = L_G; terms adv, con, lat (of L_G, unweighted) and d (L_D).
 * Validation (eval mode): the same losses (val_loss = L_G, val_con, val_adv,
 * val_lat, val_d) and, when the split has labels, val_auc of the anomaly score
 * A(X) = 0.9 |X - G(X)| + 0.1 MSE(f(X), f(G(X))) per image against label > 0
 * (Skip-GANomaly's lambda = 0.9). Pictures: |G(X) - X| change maps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/metrics.h"
#include "../core/ops.h"
#include "plot.h"
#include "run_dir.h"
#include "trainer.h"

static const char *const k_metrics[] = {"con", "adv", "lat", "d", "auc"};
static const char *const k_terms[] = {"adv", "con", "lat", "d"};

static mt_status declare(mt_session *s)
{
    s->models[1] = (mt_session_model){"D", "task.discriminator", &s->exp.task.discriminator, NULL, 1};
    s->n_models = 2;
    return MT_OK;
}

static mt_status check(mt_session *s)
{
    mt_model *d = mt_session_find_model(s, "D");
    if (d && mt_model_output_count(d) != 2)
        return MT_ERR(MT_ERR_INVALID,
                      "%s: task.discriminator.graph must have two outputs [logit, features] (it has %d); see "
                      "configs/models/skip_ganomaly_d.yaml",
                      s->exp.config_path, mt_model_output_count(d));
    if (s->model && d && mt_model_output_count(s->model) != 1)
        return MT_ERR(MT_ERR_INVALID, "%s: the generator (model.graph) must have one output", s->exp.config_path);
    return MT_OK;
}

/* D's two outputs on x */
static mt_status run_d(mt_model *d, mt_tensor *x, int training, mt_tensor **logit, mt_tensor **feat)
{
    mt_tensor *o[2] = {0};
    mt_status st = mt_model_forward_all(d, x, training, o);
    *logit = o[0];
    *feat = o[1];
    return st;
}

/* The four unweighted losses of one batch; *lg = L_G (weighted, autograd),
 * *ld = L_D when want_d (autograd). fake is returned for the D step. */
typedef struct adv_losses {
    mt_tensor *fake, *lg, *ld;
    double adv, con, lat, d;
} adv_losses;

static void losses_free(adv_losses *l)
{
    mt_tensor_release(l->fake);
    mt_tensor_release(l->lg);
    mt_tensor_release(l->ld);
    memset(l, 0, sizeof *l);
}

static mt_status generator_loss(mt_session *s, mt_tensor *x, int training, adv_losses *l)
{
    const mt_experiment *e = &s->exp;
    mt_model *d = s->models[1].model;
    mt_tensor *pf = NULL, *ff = NULL, *pr = NULL, *fr = NULL, *adv = NULL, *con = NULL, *lat = NULL, *a = NULL;
    l->fake = mt_model_forward(s->model, x, training);
    mt_status st = l->fake ? run_d(d, l->fake, training, &pf, &ff) : mt_last_status();
    if (st == MT_OK) st = run_d(d, x, training, &pr, &fr);
    if (st == MT_OK) {
        adv = mt_task_bce_const(pf, 1.0);
        con = mt_l1_loss(l->fake, x, NULL, MT_REDUCE_MEAN);
        lat = mt_mse_loss(fr, ff, NULL, MT_REDUCE_MEAN);
        a = adv && con ? mt_task_weighted_sum(adv, e->task.w_adv, con, e->task.w_con) : NULL;
        l->lg = a && lat ? mt_task_weighted_sum(a, 1.0, lat, e->task.w_lat) : NULL;
        if (!l->lg) st = mt_last_status();
    }
    if (st == MT_OK) {
        l->adv = mt_task_scalar(adv);
        l->con = mt_task_scalar(con);
        l->lat = mt_task_scalar(lat);
    }
    mt_tensor *tmp[] = {pf, ff, pr, fr, adv, con, lat, a};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) mt_tensor_release(tmp[i]);
    return st;
}

static mt_status discriminator_loss(mt_session *s, mt_tensor *x, int training, adv_losses *l)
{
    mt_model *d = s->models[1].model;
    mt_tensor *fake = mt_tensor_alias(l->fake); /* detach: no gradient into G */
    mt_tensor *pr = NULL, *fr = NULL, *pf = NULL, *ff = NULL, *real = NULL, *fk = NULL, *lat = NULL, *a = NULL;
    mt_status st = fake ? run_d(d, x, training, &pr, &fr) : mt_last_status();
    if (st == MT_OK) st = run_d(d, fake, training, &pf, &ff);
    if (st == MT_OK) {
        real = mt_task_bce_const(pr, 1.0);
        fk = mt_task_bce_const(pf, 0.0);
        lat = mt_mse_loss(fr, ff, NULL, MT_REDUCE_MEAN);
        a = real && fk ? mt_add(real, fk) : NULL;
        l->ld = a && lat ? mt_task_weighted_sum(a, 1.0, lat, s->exp.task.w_lat) : NULL;
        if (!l->ld) st = mt_last_status();
    }
    if (st == MT_OK) l->d = mt_task_scalar(l->ld);
    mt_tensor *tmp[] = {fake, pr, fr, pf, ff, real, fk, lat, a};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) mt_tensor_release(tmp[i]);
    return st;
}

static mt_status adv_step(mt_trainer *t, const mt_batch *b, double *loss, double *terms)
{
    mt_session *s = &t->s;
    mt_tensor *x = mt_session_normalize(s, b->images);
    if (!x) return mt_last_status();
    adv_losses l = {0};
    mt_status st = generator_loss(s, x, 1, &l);
    double lg = st == MT_OK ? mt_task_scalar(l.lg) : NAN;
    if (st == MT_OK && !isfinite(lg))
        st = MT_ERR(MT_ERR_INVALID, "L_G is %g at step %ld: lower optimizer.lr or check data.normalize", lg, t->step + 1);
    if (st == MT_OK) st = mt_backward(l.lg, NULL, 0);
    if (st == MT_OK) st = mt_trainer_update(t, 0);
    if (st == MT_OK) st = mt_optim_zero_grad(t->optim[1]); /* L_G's gradients on D are not D's */
    if (st == MT_OK) st = discriminator_loss(s, x, 1, &l);
    if (st == MT_OK) st = mt_backward(l.ld, NULL, 0);
    if (st == MT_OK) st = mt_trainer_update(t, 1);
    *loss = lg;
    terms[0] = l.adv;
    terms[1] = l.con;
    terms[2] = l.lat;
    terms[3] = l.d;
    losses_free(&l);
    mt_tensor_release(x);
    return st;
}

typedef struct adv_detail {
    int n;
    float *score, *label;
} adv_detail;

static void detail_free(void *p)
{
    adv_detail *d = p;
    free(d->score);
    free(d->label);
    free(d);
}

/* per-image anomaly score 0.9 mean|x - G(x)| + 0.1 mean (f(x) - f(G(x)))^2 */
static mt_status anomaly_scores(mt_session *s, mt_tensor *x, const adv_losses *l, float *out)
{
    mt_tensor *pr = NULL, *fr = NULL, *pf = NULL, *ff = NULL;
    MT_TRY(run_d(s->models[1].model, x, 0, &pr, &fr));
    mt_status st = run_d(s->models[1].model, l->fake, 0, &pf, &ff);
    float *hx = st == MT_OK ? mt_task_host_floats(x) : NULL, *hg = hx ? mt_task_host_floats(l->fake) : NULL;
    float *a = hg ? mt_task_host_floats(fr) : NULL, *c = a ? mt_task_host_floats(ff) : NULL;
    if (st == MT_OK && !c) st = mt_last_status();
    int n = x->shape[0];
    size_t px = mt_numel(x) / (size_t)n, pfe = st == MT_OK ? mt_numel(fr) / (size_t)n : 1;
    for (int i = 0; st == MT_OK && i < n; i++) {
        double rec = 0, lat = 0;
        for (size_t j = 0; j < px; j++) rec += fabs((double)hx[i * px + j] - hg[i * px + j]);
        for (size_t j = 0; j < pfe; j++) {
            double dd = (double)a[i * pfe + j] - c[i * pfe + j];
            lat += dd * dd;
        }
        out[i] = (float)(0.9 * rec / (double)px + 0.1 * lat / (double)pfe);
    }
    free(hx);
    free(hg);
    free(a);
    free(c);
    mt_tensor *tmp[] = {pr, fr, pf, ff};
    for (size_t i = 0; i < 4; i++) mt_tensor_release(tmp[i]);
    return st;
}

static mt_status adv_evaluate(mt_session *s, const int *idx, int n, int batch_size, mt_eval *out)
{
    memset(out, 0, sizeof *out);
    MT_REQUIRE(n > 0, "evaluation split is empty");
    adv_detail *d = mt_calloc(1, sizeof *d);
    if (!d) return mt_last_status();
    out->detail = d;
    out->detail_free = detail_free;
    d->n = n;
    d->score = mt_malloc(sizeof(float) * (size_t)n);
    d->label = mt_malloc(sizeof(float) * (size_t)n);
    mt_status st = d->score && d->label ? MT_OK : mt_last_status();
    double sum[5] = {0};
    int prev = mt_set_grad_enabled(0);
    for (int b0 = 0; b0 < n && st == MT_OK; b0 += batch_size) {
        int bn = n - b0 < batch_size ? n - b0 : batch_size;
        mt_batch b;
        adv_losses l = {0};
        st = mt_session_read_batch(s, idx + b0, bn, &b);
        mt_tensor *x = st == MT_OK ? mt_session_normalize(s, b.images) : NULL;
        if (st == MT_OK && !x) st = mt_last_status();
        if (st == MT_OK) st = generator_loss(s, x, 0, &l);
        if (st == MT_OK) st = discriminator_loss(s, x, 0, &l);
        if (st == MT_OK) st = anomaly_scores(s, x, &l, d->score + b0);
        int32_t lab[4096];
        if (st == MT_OK && bn <= 4096) st = mt_tensor_to_host(b.labels, lab, sizeof(int32_t) * (size_t)bn);
        for (int i = 0; st == MT_OK && i < bn; i++) d->label[b0 + i] = bn <= 4096 ? (float)lab[i] : -1.0f;
        if (st == MT_OK) {
            double v[5] = {mt_task_scalar(l.lg), l.con, l.adv, l.lat, l.d};
            for (int j = 0; j < 5; j++) sum[j] += v[j] * bn;
        }
        losses_free(&l);
        mt_tensor_release(x);
        mt_batch_free(&b);
    }
    mt_set_grad_enabled(prev);
    if (st != MT_OK) {
        mt_eval_free(out);
        return st;
    }
    out->n_samples = n;
    out->loss = sum[0] / n;
    for (int j = 0; j < 4; j++) mt_eval_set(out, k_metrics[j], sum[j + 1] / n);
    /* AUC of the anomaly score against label > 0, over the labelled images */
    int m = 0;
    for (int i = 0; i < n; i++)
        if (d->label[i] >= 0) {
            d->score[m] = d->score[i];
            d->label[m++] = d->label[i] > 0;
        }
    double auc = NAN;
    if (m > 0 && mt_roc_auc(d->score, d->label, (size_t)m, &auc) != MT_OK) {
        auc = NAN;
        mt_error_clear();
    }
    mt_eval_set(out, "auc", auc);
    return MT_OK;
}

static void adv_print(FILE *f, const mt_session *s, const char *title, const mt_eval *e)
{
    fprintf(f, "%s (%d images)\n  %-12s %.5f (L_G)\n", title, e->n_samples, "loss", e->loss);
    mt_eval_print_members(f, e);
}

static void adv_json(FILE *f, const mt_session *s, const mt_eval *e, int indent)
{
    fprintf(f, "%*s\"n_images\": %d,\n%*s\"loss_g\": %.8g", indent, "", e->n_samples, indent, "", e->loss);
    mt_eval_json_members(f, e, indent);
    fprintf(f, "\n");
}

static mt_status adv_pictures(mt_session *s, const mt_eval *e, const int *idx, int n, int n_max, const char *dir)
{
    return mt_task_change_maps(s, idx, n, n_max, dir);
}

const mt_task mt_task_adversarial = {
    .kind = "adversarial",
    .n_log_metrics = 5,
    .log_metrics = k_metrics,
    .n_terms = 4,
    .terms = k_terms,
    .check = check,
    .declare_models = declare,
    .train_step = adv_step,
    .evaluate = adv_evaluate,
    .print = adv_print,
    .json = adv_json,
    .pictures = adv_pictures,
};
