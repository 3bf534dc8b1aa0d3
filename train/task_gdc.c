/* train/task_gdc.c: the G-D-C task of S4 (../shared/design/papers.md, models 4
 * and 5): a generator G (the experiment's `model:`, trained, Adam) against a
 * frozen discriminator D (task.discriminator, from the G-D run) and a frozen
 * classifier C (task.classifier, from the classifier run; one logit, fracture =
 * 1), and in the restore step a frozen step-1 generator G1 (task.generator1).
 * Frozen networks run in evaluation mode (batch-norm running statistics) with
 * requires_grad 0: gradients flow through them into G only. Each sees the task's
 * input through its section's input_scale / input_channels (mt_session_model_input:
 * S4's C takes 0-255 RGB while G and D work on [0, 1] grey).
 *
 * For a batch X (normalised images):
 *   F(X)   the fracture map, constant (no gradient):
 *          localize: the class-activation map of C (Zhou et al., CVPR 2016):
 *            A = C's value task.cam_layer [N, K, h, w] (its last conv activation),
 *            w = the fracture row of C's last linear layer [K], CAM = ReLU(sum_k w_k A_k),
 *            min-max normalised per image to [0, 1], bilinear to the input size
 *            (for a global-average-pool + linear head this is Grad-CAM);
 *          restore: F = 1 where |G1(X) - X| > task.change_threshold (0.06), else 0.
 *   M      = 1 - F (task.mask_polarity background, default: only the fracture
 *            region may change, as papers.md argues) or M = F (literal).
 *   L_G    = |M X - M G(X)|                      (L1, mean)
 *   Adjust = X M + (1 - M) G(X)
 *   L_D    = BCE(1, D(G(Adjust)))                (D's logit output; G applied again)
 *   L_C    = BCE(0, C(Adjust))                   (normal = 0)
 *   L      = w_g L_G + w_d L_D + w_c L_C         (task.w_g 80, w_d 1, w_c 4)
 * Logged: loss = L; terms g, d, c (unweighted). Validation: the same (val_loss
 * = L, val_g, val_d, val_c) and val_changed, the mean fraction of pixels with
 * |G(X) - X| > change_threshold. Pictures: change maps |G(X) - X| per image
 * (the first mask channel outlined when the dataset has /masks).
 * The metrics.json and each checkpoint record the mask polarity used.
 *
 * Localization scores (task_gdc_localize.c), when the dataset has /masks (S4's
 * synthetic-fracture benchmark: channel `defect`, the recorded fracture):
 * three maps per image, each min-max normalised per image to [0, 1]:
 *   change  |G(X) - X| (mean over channels);
 *   cam     C's class-activation map as above (whenever task.cam_layer is set);
 *   random  uniform values of the counter-based stream (train.seed, sample).
 * Over the images whose mask is non-empty (train/localize.h):
 *   pointing_<map>  share of images whose map argmax (first in row-major order)
 *                   lies in the mask (pointing game);
 *   iou_<map>       mean IoU of (map > tau) with the mask;
 *   tau_<map>       tau from 0.05, 0.10, ..., 0.95 maximising the mean IoU over
 *                   the val split's images with a defect, applied unchanged to
 *                   the evaluated split;
 *   loc_images      the evaluated images with a defect.
 * log.csv has val_pointing_<map> and val_iou_<map> columns (empty without /masks);
 * metrics.json and eval_<split>.json have all of them.
 * Only samples with /labels in data.labels_keep take part (session.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ops.h"
#include "plot.h"
#include "run_dir.h"
#include "task_gdc.h"
#include "trainer.h"

/* log.csv columns: the loss terms, the changed fraction, then the localization scores of the
 * val split (empty cells when the dataset has no /masks, or no task.cam_layer for cam) */
static const char *const k_metrics[] = {"g", "d", "c", "changed", "pointing_change", "iou_change",
                                        "pointing_cam", "iou_cam", "pointing_random", "iou_random"};
static const char *const k_terms[] = {"g", "d", "c"};

static int restore_step(const mt_session *s) { return s->exp.task.gdc_step == 1; }

static mt_status declare(mt_session *s)
{
    s->models[1] = (mt_session_model){"D", "task.discriminator", &s->exp.task.discriminator, NULL, 0};
    s->models[2] = (mt_session_model){"C", "task.classifier", &s->exp.task.classifier, NULL, 0};
    s->n_models = 3;
    if (restore_step(s)) s->models[s->n_models++] = (mt_session_model){"G1", "task.generator1", &s->exp.task.generator1, NULL, 0};
    for (int i = 1; i < s->n_models; i++)
        if (!s->models[i].cfg->init_from || !s->models[i].cfg->init_from[0])
            return MT_ERR(MT_ERR_INVALID,
                          "%s: task gdc: %s.init_from is empty: the frozen network %s must come from an earlier run "
                          "(e.g. its best.h5)",
                          s->exp.config_path, s->models[i].section, s->models[i].name);
    return MT_OK;
}

static mt_status check(mt_session *s)
{
    if (!restore_step(s) && (!s->exp.task.cam_layer || !s->exp.task.cam_layer[0]))
        return MT_ERR(MT_ERR_INVALID,
                      "%s: task gdc (localize) needs task.cam_layer: the classifier's last conv activation (a layer "
                      "name of task.classifier.graph)",
                      s->exp.config_path);
    mt_model *c = mt_session_find_model(s, "C");
    if (c && mt_model_output_count(c) != 1)
        return MT_ERR(MT_ERR_INVALID, "%s: task.classifier.graph must have one output (the fracture logit)",
                      s->exp.config_path);
    return MT_OK;
}

/* logit output 0 of a frozen network (eval mode) */
static mt_tensor *frozen_logit(mt_session *s, const char *name, mt_tensor *x)
{
    mt_model *m = mt_session_find_model(s, name);
    mt_tensor *o[4] = {0}, *in = mt_session_model_input(s, name, x);
    mt_status st = in ? mt_model_forward_all(m, in, 0, o) : mt_last_status();
    mt_tensor_release(in);
    if (st != MT_OK) return NULL;
    for (int i = 1; i < mt_model_output_count(m) && i < 4; i++) mt_tensor_release(o[i]);
    return o[0];
}

/* the fracture row of C's last linear layer: the last 2-D parameter, row `out - 1`
 * (C is frozen: read once, then kept in s->task_state as [k] floats after k) */
typedef struct gdc_state {
    int k;
    float w[];
} gdc_state;

static mt_status cam_weights_read(mt_model *c, int k, float *w);

static mt_status cam_weights(mt_session *s, mt_model *c, int k, float *w)
{
    gdc_state *g = s->task_state;
    if (!g) {
        g = mt_malloc(sizeof *g + sizeof(float) * (size_t)k);
        if (!g) return mt_last_status();
        g->k = k;
        mt_status st = cam_weights_read(c, k, g->w);
        if (st != MT_OK) {
            free(g);
            return st;
        }
        s->task_state = g;
    }
    MT_REQUIRE(g->k == k, "task.cam_layer changed its channel count (%d, was %d)", k, g->k);
    memcpy(w, g->w, sizeof(float) * (size_t)k);
    return MT_OK;
}

static void gdc_free(mt_session *s)
{
    free(s->task_state);
    s->task_state = NULL;
}

static mt_status cam_weights_read(mt_model *c, int k, float *w)
{
    for (int i = mt_model_state_count(c) - 1; i >= 0; i--) {
        mt_tensor *t = mt_model_state_tensor(c, i);
        if (t->ndim != 2) continue;
        if (t->shape[1] != k)
            return MT_ERR(MT_ERR_INVALID, "task.cam_layer has %d channels but C's last linear layer (%s) takes %d", k,
                          mt_model_state_name(c, i), t->shape[1]);
        float *all = mt_task_host_floats(t);
        if (!all) return mt_last_status();
        memcpy(w, all + (size_t)(t->shape[0] - 1) * k, sizeof(float) * (size_t)k);
        free(all);
        return MT_OK;
    }
    return MT_ERR(MT_ERR_INVALID, "task gdc: the classifier has no linear layer for the class-activation map");
}

/* F from C's CAM: [N, 1, H, W] in [0, 1] */
mt_tensor *mt_gdc_cam_map(mt_session *s, mt_tensor *x)
{
    mt_model *c = mt_session_find_model(s, "C");
    const char *name = s->exp.task.cam_layer;
    mt_tensor *a = NULL, *in = mt_session_model_input(s, "C", x);
    mt_status st = in ? mt_model_run_values(c, in, 0, NULL, 1, &name, &a) : mt_last_status();
    mt_tensor_release(in);
    if (st != MT_OK) return NULL;
    if (a->ndim != 4) {
        MT_ERR(MT_ERR_INVALID, "task.cam_layer '%s' is not a [N, K, h, w] activation", name);
        mt_tensor_release(a);
        return NULL;
    }
    int n = a->shape[0], k = a->shape[1], h = a->shape[2], w = a->shape[3];
    size_t hw = (size_t)h * w;
    float *wk = mt_malloc(sizeof(float) * (size_t)k), *ha = mt_task_host_floats(a);
    mt_real *cam = mt_malloc(sizeof(mt_real) * (size_t)n * hw);
    mt_tensor *small = NULL, *up = NULL;
    if (wk && ha && cam && cam_weights(s, c, k, wk) == MT_OK) {
        for (int i = 0; i < n; i++) {
            double lo = INFINITY, hi = -INFINITY;
            for (size_t p = 0; p < hw; p++) {
                double v = 0;
                for (int j = 0; j < k; j++) v += (double)wk[j] * ha[((size_t)i * k + j) * hw + p];
                v = v > 0 ? v : 0;
                cam[(size_t)i * hw + p] = (mt_real)v;
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            for (size_t p = 0; p < hw; p++)
                cam[(size_t)i * hw + p] = hi > lo ? (mt_real)((cam[(size_t)i * hw + p] - lo) / (hi - lo)) : 0;
        }
        int shape[4] = {n, 1, h, w};
        small = mt_tensor_from_host(s->dev, 4, shape, cam);
        if (small) up = mt_upsample2d(small, x->shape[2], x->shape[3], MT_UPSAMPLE_BILINEAR, 0);
    }
    free(wk);
    free(ha);
    free(cam);
    mt_tensor_release(small);
    mt_tensor_release(a);
    return up;
}

/* F from |G1(X) - X| > threshold: [N, C, H, W] 0/1 */
static mt_tensor *change_map(mt_session *s, mt_tensor *x)
{
    mt_tensor *g1 = frozen_logit(s, "G1", x);
    mt_tensor *d = g1 ? mt_sub(g1, x) : NULL, *ad = d ? mt_abs(d) : NULL;
    mt_tensor *f = ad ? mt_greater(ad, s->exp.task.change_threshold) : NULL;
    mt_tensor_release(g1);
    mt_tensor_release(d);
    mt_tensor_release(ad);
    return f;
}

typedef struct gdc_losses {
    mt_tensor *total;
    double g, d, c;
} gdc_losses;

/* M, then the three losses; G in training mode when training */
static mt_status gdc_loss(mt_session *s, mt_tensor *x, int training, gdc_losses *l)
{
    const mt_experiment *e = &s->exp;
    int prev = mt_set_grad_enabled(0);
    mt_tensor *f = restore_step(s) ? change_map(s, x) : mt_gdc_cam_map(s, x);
    mt_tensor *m = f ? (e->task.mask_literal ? mt_tensor_retain(f) : mt_scale(f, -1.0, 1.0)) : NULL;
    mt_tensor *inv = m ? mt_scale(m, -1.0, 1.0) : NULL; /* 1 - M */
    mt_tensor *mx = inv ? mt_mul(m, x) : NULL;
    mt_set_grad_enabled(prev);
    mt_tensor *gx = mx ? mt_model_forward(s->model, x, training) : NULL;
    mt_tensor *mg = gx ? mt_mul(m, gx) : NULL, *lg = mg ? mt_l1_loss(mx, mg, NULL, MT_REDUCE_MEAN) : NULL;
    mt_tensor *ig = lg ? mt_mul(inv, gx) : NULL, *adj = ig ? mt_add(mx, ig) : NULL;
    mt_tensor *gadj = adj ? mt_model_forward(s->model, adj, training) : NULL;
    mt_tensor *dl = gadj ? frozen_logit(s, "D", gadj) : NULL, *ld = dl ? mt_task_bce_const(dl, 1.0) : NULL;
    mt_tensor *cl = ld ? frozen_logit(s, "C", adj) : NULL, *lc = cl ? mt_task_bce_const(cl, 0.0) : NULL;
    mt_tensor *a = lc ? mt_task_weighted_sum(lg, e->task.w_g, ld, e->task.w_d) : NULL;
    l->total = a ? mt_task_weighted_sum(a, 1.0, lc, e->task.w_c) : NULL;
    if (l->total) {
        l->g = mt_task_scalar(lg);
        l->d = mt_task_scalar(ld);
        l->c = mt_task_scalar(lc);
    }
    mt_tensor *tmp[] = {f, m, inv, mx, gx, mg, lg, ig, adj, gadj, dl, ld, cl, lc, a};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) mt_tensor_release(tmp[i]);
    return l->total ? MT_OK : mt_last_status();
}

static mt_status gdc_step(mt_trainer *t, const mt_batch *b, double *loss, double *terms)
{
    mt_tensor *x = mt_session_normalize(&t->s, b->images);
    if (!x) return mt_last_status();
    gdc_losses l = {0};
    mt_status st = gdc_loss(&t->s, x, 1, &l);
    double v = st == MT_OK ? mt_task_scalar(l.total) : NAN;
    if (st == MT_OK && !isfinite(v))
        st = MT_ERR(MT_ERR_INVALID, "loss is %g at step %ld: lower optimizer.lr or check data.normalize", v, t->step + 1);
    if (st == MT_OK) st = mt_backward(l.total, NULL, 0);
    if (st == MT_OK) st = mt_trainer_update(t, 0);
    *loss = v;
    terms[0] = l.g;
    terms[1] = l.d;
    terms[2] = l.c;
    mt_tensor_release(l.total);
    mt_tensor_release(x);
    return st;
}

/* fraction of pixels with |G(x) - x| > threshold */
static double changed_fraction(mt_session *s, mt_tensor *x)
{
    mt_tensor *g = mt_model_forward(s->model, x, 0);
    mt_tensor *d = g ? mt_sub(g, x) : NULL, *ad = d ? mt_abs(d) : NULL;
    mt_tensor *f = ad ? mt_greater(ad, s->exp.task.change_threshold) : NULL, *m = f ? mt_mean_all(f) : NULL;
    double v = mt_task_scalar(m);
    mt_tensor *tmp[] = {g, d, ad, f, m};
    for (size_t i = 0; i < 5; i++) mt_tensor_release(tmp[i]);
    return v;
}

static mt_status gdc_evaluate(mt_session *s, const int *idx, int n, int batch_size, mt_eval *out)
{
    memset(out, 0, sizeof *out);
    MT_REQUIRE(n > 0, "evaluation split is empty");
    double sum[5] = {0};
    mt_status st = MT_OK;
    int prev = mt_set_grad_enabled(0);
    for (int b0 = 0; b0 < n && st == MT_OK; b0 += batch_size) {
        int bn = n - b0 < batch_size ? n - b0 : batch_size;
        mt_batch b;
        gdc_losses l = {0};
        st = mt_session_read_batch(s, idx + b0, bn, &b);
        mt_tensor *x = st == MT_OK ? mt_session_normalize(s, b.images) : NULL;
        if (st == MT_OK && !x) st = mt_last_status();
        if (st == MT_OK) st = gdc_loss(s, x, 0, &l);
        if (st == MT_OK) {
            double v[5] = {mt_task_scalar(l.total), l.g, l.d, l.c, changed_fraction(s, x)};
            for (int j = 0; j < 5; j++) sum[j] += v[j] * bn;
        }
        mt_tensor_release(l.total);
        mt_tensor_release(x);
        mt_batch_free(&b);
    }
    mt_set_grad_enabled(prev);
    if (st != MT_OK) return st;
    out->n_samples = n;
    out->loss = sum[0] / n;
    for (int j = 0; j < 4; j++) mt_eval_set(out, k_metrics[j], sum[j + 1] / n); /* g, d, c, changed */
    return mt_gdc_localize(s, idx, n, batch_size, out);
}

static void gdc_print(FILE *f, const mt_session *s, const char *title, const mt_eval *e)
{
    fprintf(f, "%s (%d images, %s step, mask polarity %s)\n  %-12s %.5f\n", title, e->n_samples,
            restore_step(s) ? "restore" : "localize", s->exp.task.mask_literal ? "literal" : "background", "loss",
            e->loss);
    mt_eval_print_members(f, e);
}

static void gdc_json(FILE *f, const mt_session *s, const mt_eval *e, int indent)
{
    fprintf(f, "%*s\"n_images\": %d,\n%*s\"step\": \"%s\",\n%*s\"mask_polarity\": \"%s\",\n%*s\"loss\": %.8g", indent,
            "", e->n_samples, indent, "", restore_step(s) ? "restore" : "localize", indent, "",
            s->exp.task.mask_literal ? "literal" : "background", indent, "", e->loss);
    mt_eval_json_members(f, e, indent);
    fprintf(f, "\n");
}

mt_status mt_task_change_maps(mt_session *s, const int *idx, int n, int n_max, const char *dir)
{
    MT_TRY(mt_mkdirs(dir));
    int m = n < n_max ? n : n_max;
    size_t plane = (size_t)s->in_h * s->in_w;
    mt_status st = MT_OK;
    for (int i = 0; i < m && st == MT_OK; i++) {
        mt_batch b;
        MT_TRY(mt_session_read_batch(s, idx + i, 1, &b));
        int prev = mt_set_grad_enabled(0);
        mt_tensor *x = mt_session_normalize(s, b.images), *g = x ? mt_model_forward(s->model, x, 0) : NULL;
        mt_set_grad_enabled(prev);
        float *hx = g ? mt_task_host_floats(x) : NULL, *hg = hx ? mt_task_host_floats(g) : NULL;
        float *hm = hg && b.masks ? mt_task_host_floats(b.masks) : NULL;
        uint8_t *mask = hm ? mt_malloc(plane) : NULL;
        if (!hg || (b.masks && !mask)) st = mt_last_status();
        for (size_t p = 0; mask && p < plane; p++) mask[p] = hm[p] > 0.5f; /* the first mask channel (S4: defect) */
        double lo = 0, hi = 0;
        for (size_t p = 0; st == MT_OK && p < plane; p++) {
            lo = p == 0 || hx[p] < lo ? hx[p] : lo;
            hi = p == 0 || hx[p] > hi ? hx[p] : hi;
            hg[p] = fabsf(hg[p] - hx[p]); /* the change map |G(X) - X| (first channel) */
        }
        char path[2400], caption[128];
        snprintf(path, sizeof path, "%s/change_%04d.png", dir, idx[i]);
        snprintf(caption, sizeof caption, "sample %d: |G(X) - X|, pixels above %g count as changed", idx[i],
                 s->exp.task.change_threshold);
        mt_plot_mask outline = {mask, 230, 40, 40, "recorded defect"};
        if (st == MT_OK)
            st = mt_plot_heatmap_masks(path, hx, s->in_h, s->in_w, lo, hi > lo ? hi : lo + 1, hg, 0,
                                       4 * s->exp.task.change_threshold, 0.6, "|G(X) - X|", mask ? 1 : 0, &outline,
                                       caption);
        free(hm);
        free(mask);
        free(hx);
        free(hg);
        mt_tensor_release(x);
        mt_tensor_release(g);
        mt_batch_free(&b);
    }
    return st;
}

static mt_status gdc_pictures(mt_session *s, const mt_eval *e, const int *idx, int n, int n_max, const char *dir)
{
    return mt_task_change_maps(s, idx, n, n_max, dir);
}

const mt_task mt_task_gdc = {
    .kind = "gdc",
    .n_log_metrics = 10,
    .log_metrics = k_metrics,
    .n_terms = 3,
    .terms = k_terms,
    .check = check,
    .declare_models = declare,
    .train_step = gdc_step,
    .evaluate = gdc_evaluate,
    .print = gdc_print,
    .json = gdc_json,
    .pictures = gdc_pictures,
    .free = gdc_free,
};
