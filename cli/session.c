/* cli/session.c: experiment + dataset + model on a device, normalisation,
 * loss and split evaluation shared by train, evaluate and predict. */
#include "session.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ops.h"
#include "../data/preprocess.h"
#include "../layers/weights.h"

/* What the schema allows but this trainer cannot do, caught before any work. */
static mt_status check_supported(const mt_experiment *e, const char *path)
{
    if (e->loss.kind == MT_LOSS_CROSS_ENTROPY)
        return MT_ERR(MT_ERR_UNSUPPORTED,
                      "%s: loss.kind cross_entropy needs class-id targets; the segmentation trainer supports "
                      "bce_with_logits, dice, bce_dice, mse and l1 on 0/1 masks",
                      path);
    if (e->postprocess.largest_component)
        return MT_ERR(MT_ERR_UNSUPPORTED, "%s: postprocess.largest_component is not implemented yet; set it to false",
                      path);
    cli_eval dummy;
    memset(&dummy, 0, sizeof dummy);
    const char *mon[3] = {e->early_stopping.monitor, e->checkpoint.monitor, e->schedule.monitor};
    const char *key[3] = {"early_stopping.monitor", "checkpoint.monitor", "schedule.monitor"};
    for (int i = 0; i < 3; i++) {
        double v;
        if (mon[i] && cli_eval_monitor(&dummy, mon[i], &v) != MT_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", mt_last_error());
            return mt_error_replace(MT_ERR_INVALID, __FILE__, __LINE__, "%s: %s: %s", path, key[i], msg);
        }
    }
    return MT_OK;
}

mt_status cli_session_load(cli_session *s, const char *config_path, int n_sets, const char *const *sets)
{
    MT_TRY(mt_experiment_load(config_path, n_sets, sets, &s->exp));
    s->exp_loaded = 1;
    return check_supported(&s->exp, config_path);
}

mt_status cli_session_open_dataset(cli_session *s)
{
    MT_TRY(mt_dataset_open(s->exp.data.dataset, &s->ds));
    mt_dataset_geometry(s->ds, &s->geo);
    s->in_h = s->exp.data.input_size[0] > 0 ? s->exp.data.input_size[0] : s->geo.h;
    s->in_w = s->exp.data.input_size[1] > 0 ? s->exp.data.input_size[1] : s->geo.w;
    if (s->geo.k < 1)
        return MT_ERR(MT_ERR_INVALID,
                      "dataset %s has no masks (k = 0): the segmentation trainer needs mask channels; "
                      "re-import it with a mask source",
                      s->exp.data.dataset);
    return MT_OK;
}

mt_status cli_session_build_model(cli_session *s, uint64_t seed)
{
    return mt_model_load_yaml(s->exp.model.graph, s->exp.model.n_args, s->exp.model.args, s->dev, seed, &s->model);
}

mt_status cli_session_init_weights(cli_session *s)
{
    const char *from = s->exp.model.init_from, *map = s->exp.model.init_map;
    if (!from || !from[0]) return MT_OK;
    mt_weights_options opt = {MT_WEIGHTS_AUTO, map && map[0] ? map : NULL, !s->exp.model.init_strict};
    mt_weights_report rep;
    if (mt_weights_load(s->model, from, &opt, &rep) != MT_OK) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", mt_last_error());
        return mt_error_replace(mt_last_status(), __FILE__, __LINE__, "%s: model.init_from: %s", s->exp.config_path, msg);
    }
    mt_weights_report_print(stdout, &rep, from, 8, 0);
    mt_weights_report_free(&rep);
    return MT_OK;
}

void cli_session_free(cli_session *s)
{
    if (s->model) mt_model_free(s->model);
    if (s->ds) mt_dataset_close(s->ds);
    if (s->exp_loaded) mt_experiment_free(&s->exp);
    memset(s, 0, sizeof *s);
}

void cli_batch_free(cli_batch *b)
{
    mt_tensor_release(b->raw);
    mt_tensor_release(b->mask);
    memset(b, 0, sizeof *b);
}

mt_status cli_session_read_batch(cli_session *s, const int *idx, int n, cli_batch *b)
{
    memset(b, 0, sizeof *b);
    int c = s->geo.c, k = s->geo.k, h = s->in_h, w = s->in_w;
    size_t plane = (size_t)h * w;
    mt_real *img = mt_malloc(sizeof(mt_real) * (size_t)n * c * plane);
    mt_real *msk = mt_malloc(sizeof(mt_real) * (size_t)n * (k ? k : 1) * plane);
    float *tmpf = mt_malloc(sizeof(float) * (size_t)c * plane);
    uint8_t *tmpm = mt_malloc((size_t)(k ? k : 1) * plane);
    mt_status st = (img && msk && tmpf && tmpm) ? MT_OK : mt_last_status();
    for (int i = 0; i < n && st == MT_OK; i++) {
        mt_sample smp;
        mt_sample_init(&smp);
        st = mt_dataset_read(s->ds, idx[i], &smp);
        if (st == MT_OK && (smp.h != h || smp.w != w)) {
            st = mt_resize_bilinear(smp.image, c, smp.h, smp.w, tmpf, h, w);
            if (st == MT_OK && k) st = mt_resize_nearest_u8(smp.mask, k, smp.h, smp.w, tmpm, h, w);
        } else if (st == MT_OK) {
            memcpy(tmpf, smp.image, sizeof(float) * (size_t)c * plane);
            if (k) memcpy(tmpm, smp.mask, (size_t)k * plane);
        }
        if (st == MT_OK) {
            for (size_t j = 0; j < (size_t)c * plane; j++) img[(size_t)i * c * plane + j] = (mt_real)tmpf[j];
            for (size_t j = 0; j < (size_t)k * plane; j++) msk[(size_t)i * k * plane + j] = tmpm[j] ? 1 : 0;
        }
        mt_sample_free(&smp);
    }
    if (st == MT_OK) {
        int si[4] = {n, c, h, w}, sm[4] = {n, k, h, w};
        b->n = n;
        b->raw = mt_tensor_from_host(s->dev, 4, si, img);
        b->mask = k ? mt_tensor_from_host(s->dev, 4, sm, msk) : NULL;
        if (!b->raw || (k && !b->mask)) st = mt_last_status();
    }
    free(img);
    free(msk);
    free(tmpf);
    free(tmpm);
    if (st != MT_OK) cli_batch_free(b);
    return st;
}

mt_tensor *cli_session_normalize(cli_session *s, mt_tensor *raw)
{
    if (!raw) return NULL;
    int prev = mt_set_grad_enabled(0);
    mt_tensor *x = NULL;
    switch (s->exp.data.normalize) {
    case MT_NORM_NONE:
        x = mt_tensor_alias(raw);
        break;
    case MT_NORM_WINDOW: {
        double lo = s->exp.data.window[0], hi = s->exp.data.window[1];
        mt_tensor *c = mt_clamp(raw, lo, hi);
        x = mt_scale(c, 1.0 / (hi - lo), -lo / (hi - lo));
        mt_tensor_release(c);
        break;
    }
    case MT_NORM_ZSCORE:
        x = mt_scale(raw, 1.0 / s->exp.data.std, -s->exp.data.mean / s->exp.data.std);
        break;
    case MT_NORM_MINMAX: {
        /* per image: (x - min) / (max - min), on the host (small, rarely used) */
        x = mt_tensor_to(raw, mt_cpu());
        if (!x) break;
        mt_real *v = MT_DATA(x);
        size_t per = mt_numel(raw) / (size_t)raw->shape[0];
        for (int i = 0; i < raw->shape[0]; i++) {
            mt_real lo = v[i * per], hi = v[i * per];
            for (size_t j = 0; j < per; j++) {
                lo = v[i * per + j] < lo ? v[i * per + j] : lo;
                hi = v[i * per + j] > hi ? v[i * per + j] : hi;
            }
            for (size_t j = 0; j < per; j++) v[i * per + j] = hi > lo ? (v[i * per + j] - lo) / (hi - lo) : 0;
        }
        if (!mt_device_eq(s->dev, mt_cpu())) {
            mt_tensor *d = mt_tensor_to(x, s->dev);
            mt_tensor_release(x);
            x = d;
        }
        break;
    }
    }
    mt_set_grad_enabled(prev);
    return x;
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

static double scalar_value(const mt_tensor *t)
{
    mt_real v = 0;
    if (mt_tensor_to_host(t, &v, sizeof v) != MT_OK) {
        mt_error_clear();
        return NAN;
    }
    return (double)v;
}

mt_tensor *cli_session_loss(cli_session *s, mt_tensor *logits, mt_tensor *target, double terms[2])
{
    if (terms) terms[0] = terms[1] = NAN;
    if (!logits || !target) return NULL;
    const mt_experiment *e = &s->exp;
    switch (e->loss.kind) {
    case MT_LOSS_BCE_WITH_LOGITS:
    case MT_LOSS_BCE_DICE: {
        mt_tensor *pw = NULL;
        if (e->loss.pos_weight != 1.0) {
            int one = 1;
            mt_real v = (mt_real)e->loss.pos_weight;
            pw = mt_tensor_from_host(s->dev, 1, &one, &v);
            if (!pw) return NULL;
        }
        mt_tensor *bce = mt_bce_with_logits(logits, target, NULL, pw, MT_REDUCE_MEAN);
        mt_tensor_release(pw);
        if (e->loss.kind == MT_LOSS_BCE_WITH_LOGITS) return bce;
        mt_tensor *dice = soft_dice_loss(logits, target, e->loss.dice_smooth);
        if (terms && bce && dice) {
            terms[0] = scalar_value(bce);
            terms[1] = scalar_value(dice);
        }
        mt_tensor *a = mt_scale(bce, e->loss.bce_weight, 0), *b = mt_scale(dice, e->loss.dice_weight, 0);
        mt_tensor *sum = mt_add(a, b);
        mt_tensor_release(bce);
        mt_tensor_release(dice);
        mt_tensor_release(a);
        mt_tensor_release(b);
        return sum;
    }
    case MT_LOSS_DICE: return soft_dice_loss(logits, target, e->loss.dice_smooth);
    case MT_LOSS_MSE: return mt_mse_loss(logits, target, NULL, MT_REDUCE_MEAN);
    case MT_LOSS_L1: return mt_l1_loss(logits, target, NULL, MT_REDUCE_MEAN);
    case MT_LOSS_CROSS_ENTROPY:
    default:
        MT_ERR(MT_ERR_UNSUPPORTED,
               "loss.kind %s: the segmentation trainer handles bce_with_logits, dice, bce_dice, mse and l1 on "
               "0/1 masks; cross_entropy needs class-id targets",
               mt_config_loss_name(e->loss.kind));
        return NULL;
    }
}

mt_tensor *cli_session_predict(cli_session *s, mt_tensor *raw)
{
    int prev = mt_set_grad_enabled(0);
    mt_tensor *x = cli_session_normalize(s, raw);
    mt_tensor *logits = mt_model_forward(s->model, x, 0);
    mt_tensor *p = mt_sigmoid(logits);
    mt_tensor_release(x);
    mt_tensor_release(logits);
    mt_set_grad_enabled(prev);
    return p;
}

void cli_eval_free(cli_eval *e)
{
    free(e->raw);
    free(e->post);
    memset(e, 0, sizeof *e);
}

mt_status cli_session_evaluate(cli_session *s, const int *idx, int n, int batch_size, cli_eval *out)
{
    memset(out, 0, sizeof *out);
    MT_REQUIRE(n > 0, "evaluation split is empty");
    int k = s->geo.k;
    size_t plane = (size_t)s->in_h * s->in_w;
    out->n = n * k;
    out->raw = mt_calloc((size_t)n * k, sizeof *out->raw);
    out->post = mt_calloc((size_t)n * k, sizeof *out->post);
    mt_confusion *cr = mt_calloc((size_t)batch_size * k, sizeof *cr), *cp = mt_calloc((size_t)batch_size * k, sizeof *cp);
    float *all_p = mt_malloc(sizeof(float) * (size_t)n * k * plane);
    float *all_t = mt_malloc(sizeof(float) * (size_t)n * k * plane);
    mt_real *hp = mt_malloc(sizeof(mt_real) * (size_t)batch_size * k * plane);
    mt_real *ht = mt_malloc(sizeof(mt_real) * (size_t)batch_size * k * plane);
    mt_status st = (out->raw && out->post && cr && cp && all_p && all_t && hp && ht) ? MT_OK : mt_last_status();
    int prev = mt_set_grad_enabled(0);
    double loss_sum = 0;
    int gate = s->exp.postprocess.hu_window_enabled;
    double glo = s->exp.postprocess.hu_window[0], ghi = s->exp.postprocess.hu_window[1];
    for (int b0 = 0; b0 < n && st == MT_OK; b0 += batch_size) {
        int bn = n - b0 < batch_size ? n - b0 : batch_size;
        cli_batch b;
        st = cli_session_read_batch(s, idx + b0, bn, &b);
        if (st != MT_OK) break;
        mt_tensor *x = cli_session_normalize(s, b.raw);
        mt_tensor *logits = mt_model_forward(s->model, x, 0);
        mt_tensor *loss = cli_session_loss(s, logits, b.mask, NULL);
        mt_tensor *p = mt_sigmoid(logits);
        mt_tensor *g = gate ? (s->geo.c == 1 ? mt_tensor_retain(b.raw) : mt_slice(b.raw, 1, 0, 1)) : NULL;
        if (!p || !loss || (gate && !g)) st = mt_last_status();
        mt_real lv = 0;
        if (st == MT_OK) st = mt_tensor_to_host(loss, &lv, sizeof lv);
        if (st == MT_OK) st = mt_confusion_per_image(p, b.mask, s->exp.metrics.threshold, NULL, 0, 0, cr);
        if (st == MT_OK)
            st = gate ? mt_confusion_per_image(p, b.mask, s->exp.metrics.threshold, g, glo, ghi, cp)
                      : MT_OK;
        if (st == MT_OK) st = mt_tensor_to_host(p, hp, sizeof(mt_real) * (size_t)bn * k * plane);
        if (st == MT_OK) st = mt_tensor_to_host(b.mask, ht, sizeof(mt_real) * (size_t)bn * k * plane);
        if (st == MT_OK) {
            loss_sum += (double)lv * bn;
            for (int i = 0; i < bn * k; i++) {
                out->raw[b0 * k + i] = mt_seg_metrics_from_confusion(cr[i]);
                out->post[b0 * k + i] = gate ? mt_seg_metrics_from_confusion(cp[i]) : out->raw[b0 * k + i];
            }
            for (size_t j = 0; j < (size_t)bn * k * plane; j++) {
                all_p[(size_t)b0 * k * plane + j] = (float)hp[j];
                all_t[(size_t)b0 * k * plane + j] = (float)ht[j];
            }
        }
        mt_tensor *tmp[] = {x, logits, loss, p, g};
        for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) mt_tensor_release(tmp[i]);
        cli_batch_free(&b);
    }
    mt_set_grad_enabled(prev);
    if (st == MT_OK) {
        out->loss = loss_sum / n;
        if (mt_roc_auc(all_p, all_t, (size_t)n * k * plane, &out->auc) != MT_OK) {
            out->auc = NAN; /* one class only: undefined, not an error for the run */
            mt_error_clear();
        }
        mt_seg_metrics_mean_sd(out->raw, out->n, &out->raw_mean, &out->raw_sd);
        mt_seg_metrics_mean_sd(out->post, out->n, &out->post_mean, &out->post_sd);
    }
    free(cr);
    free(cp);
    free(all_p);
    free(all_t);
    free(hp);
    free(ht);
    if (st != MT_OK) cli_eval_free(out);
    return st;
}

mt_status cli_eval_monitor(const cli_eval *e, const char *name, double *out)
{
    const char *m = !strncmp(name, "val_", 4) ? name + 4 : name;
    if (!strcmp(m, "loss")) {
        *out = e->loss;
        return MT_OK;
    }
    if (!strcmp(m, "auc")) {
        *out = e->auc;
        return MT_OK;
    }
    int i = mt_seg_metric_index(m);
    if (i < 0)
        return MT_ERR(MT_ERR_INVALID,
                      "unknown monitored metric '%s'; allowed: val_loss, val_dsc, val_iou, val_accuracy, "
                      "val_precision, val_recall, val_specificity, val_auc",
                      name);
    *out = mt_seg_metric_get(&e->post_mean, i);
    return MT_OK;
}
