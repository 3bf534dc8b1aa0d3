/* train/session.c: experiment + dataset + networks on a device, batches and
 * input normalisation (session.h). */
#include "session.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ops.h"
#include "../data/preprocess.h"
#include "../layers/weights.h"
#include "task.h"

mt_status mt_session_load(mt_session *s, const char *config_path, int n_sets, const char *const *sets)
{
    MT_TRY(mt_experiment_load(config_path, n_sets, sets, &s->exp));
    s->exp_loaded = 1;
    s->task = mt_task_for(s->exp.task.kind);
    if (!s->task)
        return MT_ERR(MT_ERR_UNSUPPORTED, "%s: task.kind %s is not built into this medtrain", config_path,
                      mt_config_task_name(s->exp.task.kind));
    if (s->exp.postprocess.largest_component)
        return MT_ERR(MT_ERR_UNSUPPORTED, "%s: postprocess.largest_component is not implemented yet; set it to false",
                      config_path);
    return MT_OK;
}

mt_status mt_session_open_dataset(mt_session *s)
{
    MT_TRY(mt_dataset_open(s->exp.data.dataset, &s->ds));
    mt_dataset_geometry(s->ds, &s->geo);
    s->in_h = s->exp.data.input_size[0] > 0 ? s->exp.data.input_size[0] : s->geo.h;
    s->in_w = s->exp.data.input_size[1] > 0 ? s->exp.data.input_size[1] : s->geo.w;
    s->in_c = s->exp.data.channels > 0 ? s->exp.data.channels : s->geo.c;
    if (s->in_c != s->geo.c && !(s->geo.c == 1 && s->in_c == 3))
        return MT_ERR(MT_ERR_INVALID,
                      "%s: data.channels %d: the dataset %s has %d channel(s); only 1 -> 3 (grey replicated) is "
                      "supported",
                      s->exp.config_path, s->in_c, s->exp.data.dataset, s->geo.c);
    if (s->exp.data.n_labels_keep > 0) {
        int labelled = 0;
        for (int i = 0; i < mt_dataset_size(s->ds) && !labelled; i++) labelled = mt_dataset_label(s->ds, i) >= 0;
        if (!labelled)
            return MT_ERR(MT_ERR_INVALID,
                          "%s: data.labels_keep selects samples by /labels, but dataset %s has none (/labels all -1 "
                          "or missing): import it with labels, or set data.labels_keep: []",
                          s->exp.config_path, s->exp.data.dataset);
    }
    return s->task->check(s);
}

/* 1 when label is one of data.labels_keep */
static int label_kept(const mt_experiment *e, int label)
{
    for (int j = 0; j < e->data.n_labels_keep; j++)
        if (e->data.labels_keep[j] == label) return 1;
    return 0;
}

/* data.folds K: test = fold data.fold, val = the next fold, train = the rest (config.h). */
static mt_status fold_indices(mt_session *s, const char *split, int **idx, int *n)
{
    const mt_experiment *e = &s->exp;
    int role = !strcmp(split, e->data.test_split) ? 2 : !strcmp(split, e->data.val_split) ? 1
             : !strcmp(split, e->data.train_split) ? 0 : -1;
    if (role < 0)
        return MT_ERR(MT_ERR_INVALID, "%s: with data.folds %d the splits are the fold's %s, %s and %s, not '%s'",
                      e->config_path, e->data.folds, e->data.train_split, e->data.val_split, e->data.test_split, split);
    int total = mt_dataset_size(s->ds);
    int *fold = mt_malloc(sizeof(int) * (size_t)total + 4);
    *idx = mt_malloc(sizeof(int) * (size_t)total + 4);
    if (!fold || !*idx) {
        free(fold), free(*idx), *idx = NULL;
        return MT_ERR_NOMEM;
    }
    mt_status st = mt_dataset_kfold(s->ds, e->data.folds, e->data.fold_seed, fold);
    int test = e->data.fold, val = (e->data.fold + 1) % e->data.folds;
    *n = 0;
    for (int i = 0; st == MT_OK && i < total; i++) {
        int r = fold[i] == test ? 2 : fold[i] == val ? 1 : 0;
        if (r == role) (*idx)[(*n)++] = i;
    }
    free(fold);
    if (st != MT_OK) free(*idx), *idx = NULL, *n = 0;
    return st;
}

mt_status mt_session_split_indices(mt_session *s, const char *split, int **idx, int *n)
{
    MT_REQUIRE(s && s->ds, "mt_session_split_indices: the dataset is not open");
    const mt_experiment *e = &s->exp;
    if (e->data.folds > 0) MT_TRY(fold_indices(s, split, idx, n));
    else MT_TRY(mt_dataset_split_indices(s->ds, split, idx, n));
    int limit = e->data.train_limit > 0 && !strcmp(split, e->data.train_split) ? e->data.train_limit : 0;
    if (e->data.n_labels_keep == 0 || *n == 0) {
        if (limit && *n > limit) *n = limit; /* the split's indices are in dataset order */
        return MT_OK;
    }
    int kept = 0;
    for (int i = 0; i < *n; i++)
        if (label_kept(e, mt_dataset_label(s->ds, (*idx)[i]))) (*idx)[kept++] = (*idx)[i];
    if (kept == 0) {
        char list[256] = "";
        size_t len = 0;
        for (int j = 0; j < e->data.n_labels_keep && len < sizeof list - 16; j++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%d", j ? ", " : "", e->data.labels_keep[j]);
        int total = *n;
        free(*idx);
        *idx = NULL;
        *n = 0;
        return MT_ERR(MT_ERR_INVALID,
                      "%s: data.labels_keep [%s] keeps none of the %d samples of split '%s' of %s (their /labels "
                      "differ): change data.labels_keep or the split",
                      e->config_path, list, total, split, e->data.dataset);
    }
    *n = limit && kept > limit ? limit : kept;
    return MT_OK;
}

static mt_status build_one(mt_session *s, mt_session_model *sm, uint64_t seed, int load_init)
{
    const mt_exp_model *c = sm->cfg;
    if (!c->graph || !c->graph[0])
        return MT_ERR(MT_ERR_INVALID, "%s: task.kind %s needs %s.graph (network %s)",
                      s->exp.config_path, s->task->kind, sm->section, sm->name);
    mt_status st = mt_model_load_yaml(c->graph, c->n_args, c->args, s->dev, seed, &sm->model);
    if (st != MT_OK || !load_init || !c->init_from || !c->init_from[0]) return st;
    mt_weights_options opt = {MT_WEIGHTS_AUTO, c->init_map && c->init_map[0] ? c->init_map : NULL, !c->init_strict,
                              c->init_net};
    mt_weights_report rep;
    if (mt_weights_load(sm->model, c->init_from, &opt, &rep) != MT_OK) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", mt_last_error());
        return mt_error_replace(mt_last_status(), __FILE__, __LINE__, "%s: %s.init_from (network %s): %s",
                                s->exp.config_path, sm->section, sm->name, msg);
    }
    printf("%s: ", sm->name);
    mt_weights_report_print(stdout, &rep, c->init_from, 8, 0);
    mt_weights_report_free(&rep);
    return MT_OK;
}

mt_status mt_session_build_models(mt_session *s, uint64_t seed, int with_init)
{
    s->models[0] = (mt_session_model){"model", "model", &s->exp.model, NULL, 1};
    s->n_models = 1;
    if (s->task->declare_models) MT_TRY(s->task->declare_models(s));
    for (int i = 0; i < s->n_models; i++) {
        mt_session_model *sm = &s->models[i];
        /* every network its own init stream: seed, seed + 1, ... (as torch.manual_seed per net) */
        MT_TRY(build_one(s, sm, seed + (uint64_t)i, sm->trainable ? with_init : 1));
        if (!sm->trainable) mt_model_set_trainable(sm->model, 0);
    }
    s->model = s->models[0].model;
    return MT_OK;
}

mt_model *mt_session_find_model(const mt_session *s, const char *name)
{
    for (int i = 0; i < s->n_models; i++)
        if (!strcmp(s->models[i].name, name)) return s->models[i].model;
    return NULL;
}

void mt_session_free(mt_session *s)
{
    if (s->task && s->task->free) s->task->free(s);
    for (int i = 0; i < s->n_models; i++)
        if (s->models[i].model) mt_model_free(s->models[i].model);
    for (int i = 0; i < s->n_ensemble; i++) mt_model_free(s->ensemble[i]);
    if (s->ds) mt_dataset_close(s->ds);
    if (s->exp_loaded) mt_experiment_free(&s->exp);
    memset(s, 0, sizeof *s);
}

/* One sample's image/mask at the input size into img/msk (host), boxes scaled. */
static mt_status read_resized(mt_session *s, int index, float *tmpf, uint8_t *tmpm, mt_real *img, mt_real *msk,
                              int *label, float **boxes, int *n_boxes)
{
    int c = s->geo.c, k = s->geo.k, h = s->in_h, w = s->in_w;
    size_t plane = (size_t)h * w;
    mt_sample smp;
    mt_sample_init(&smp);
    mt_status st = mt_dataset_read(s->ds, index, &smp);
    if (st == MT_OK && (smp.h != h || smp.w != w)) {
        st = mt_resize_bilinear(smp.image, c, smp.h, smp.w, tmpf, h, w);
        if (st == MT_OK && k) st = mt_resize_nearest_u8(smp.mask, k, smp.h, smp.w, tmpm, h, w);
    } else if (st == MT_OK) {
        memcpy(tmpf, smp.image, sizeof(float) * (size_t)c * plane);
        if (k) memcpy(tmpm, smp.mask, (size_t)k * plane);
    }
    if (st == MT_OK) {
        for (size_t j = 0; j < (size_t)c * plane; j++) img[j] = (mt_real)tmpf[j];
        for (size_t j = 0; j < (size_t)k * plane; j++) msk[j] = tmpm[j] ? 1 : 0;
        *label = smp.label;
        *n_boxes = smp.n_boxes;
        *boxes = NULL;
        if (smp.n_boxes > 0) {
            *boxes = mt_malloc(sizeof(float) * 5 * (size_t)smp.n_boxes);
            if (!*boxes) st = mt_last_status();
            float sx = (float)w / (float)smp.w, sy = (float)h / (float)smp.h;
            for (int j = 0; *boxes && j < smp.n_boxes; j++) {
                const float *bx = smp.boxes + 5 * j;
                float *o = *boxes + 5 * j;
                o[0] = bx[0] * sx;
                o[1] = bx[1] * sy;
                o[2] = bx[2] * sx;
                o[3] = bx[3] * sy;
                o[4] = bx[4];
            }
        }
    }
    mt_sample_free(&smp);
    return st;
}

mt_status mt_session_read_batch(mt_session *s, const int *idx, int n, mt_batch *b)
{
    memset(b, 0, sizeof *b);
    int c = s->geo.c, k = s->geo.k, h = s->in_h, w = s->in_w;
    size_t plane = (size_t)h * w;
    mt_real *img = mt_malloc(sizeof(mt_real) * (size_t)n * c * plane);
    mt_real *msk = mt_malloc(sizeof(mt_real) * (size_t)n * (k ? k : 1) * plane);
    float *tmpf = mt_malloc(sizeof(float) * (size_t)c * plane);
    uint8_t *tmpm = mt_malloc((size_t)(k ? k : 1) * plane);
    int *labels = mt_malloc(sizeof(int) * (size_t)n);
    b->sample_ids = mt_malloc(sizeof(int) * (size_t)n);
    mt_status st = (img && msk && tmpf && tmpm && labels && b->sample_ids) ? MT_OK : mt_last_status();
    for (int i = 0; i < n && st == MT_OK; i++) {
        float *bx = NULL;
        int nb = 0;
        b->sample_ids[i] = idx[i];
        st = read_resized(s, idx[i], tmpf, tmpm, img + (size_t)i * c * plane, msk + (size_t)i * k * plane, &labels[i],
                          &bx, &nb);
        if (st == MT_OK && nb > 0) {
            float *grown = realloc(b->boxes, sizeof(float) * 6 * (size_t)(b->n_boxes + nb));
            if (!grown) st = MT_ERR(MT_ERR_NOMEM, "batch boxes");
            else {
                b->boxes = grown;
                for (int j = 0; j < nb; j++) {
                    float *o = b->boxes + 6 * (size_t)(b->n_boxes + j);
                    o[0] = (float)i;
                    memcpy(o + 1, bx + 5 * j, sizeof(float) * 5);
                }
                b->n_boxes += nb;
            }
        }
        free(bx);
    }
    if (st == MT_OK) {
        int si[4] = {n, c, h, w}, sm[4] = {n, k, h, w};
        b->n = n;
        b->images = mt_tensor_from_host(s->dev, 4, si, img);
        b->masks = k ? mt_tensor_from_host(s->dev, 4, sm, msk) : NULL;
        b->labels = mt_tensor_new(MT_I32, s->dev, 1, &n);
        if (!b->images || (k && !b->masks) || !b->labels) st = mt_last_status();
        if (st == MT_OK) st = mt_tensor_from_host_into(b->labels, labels, sizeof(int) * (size_t)n);
    }
    free(img);
    free(msk);
    free(tmpf);
    free(tmpm);
    free(labels);
    if (st != MT_OK) mt_batch_free(b);
    return st;
}

mt_status mt_session_fit_batch(mt_session *s, mt_batch *b)
{
    mt_tensor *x = b->images;
    if (x->shape[2] == s->in_h && x->shape[3] == s->in_w) return MT_OK;
    float sx = (float)s->in_w / (float)x->shape[3], sy = (float)s->in_h / (float)x->shape[2];
    mt_tensor *rx = mt_upsample2d(x, s->in_h, s->in_w, MT_UPSAMPLE_BILINEAR, 0);
    mt_tensor *rm = b->masks ? mt_upsample2d(b->masks, s->in_h, s->in_w, MT_UPSAMPLE_NEAREST, 0) : NULL;
    if (!rx || (b->masks && !rm)) {
        mt_tensor_release(rx);
        return mt_last_status();
    }
    mt_tensor_release(b->images);
    mt_tensor_release(b->masks);
    b->images = rx;
    b->masks = rm;
    for (int j = 0; j < b->n_boxes; j++) { /* pixel centres (docs/dataset.md): x' = (x + 0.5) s - 0.5 */
        float *o = b->boxes + 6 * j;
        o[1] = (o[1] + 0.5f) * sx - 0.5f;
        o[2] = (o[2] + 0.5f) * sy - 0.5f;
        o[3] = (o[3] + 0.5f) * sx - 0.5f;
        o[4] = (o[4] + 0.5f) * sy - 0.5f;
    }
    return MT_OK;
}

/* per image (x - min) / (max - min), on the host (small, rarely used) */
static mt_tensor *minmax(mt_session *s, mt_tensor *raw)
{
    mt_tensor *x = mt_tensor_to(raw, mt_cpu());
    if (!x) return NULL;
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
    if (mt_device_eq(s->dev, mt_cpu())) return x;
    mt_tensor *d = mt_tensor_to(x, s->dev);
    mt_tensor_release(x);
    return d;
}

mt_tensor *mt_session_normalize(mt_session *s, mt_tensor *raw)
{
    if (!raw) return NULL;
    int prev = mt_set_grad_enabled(0);
    mt_tensor *x = NULL;
    switch (s->exp.data.normalize) {
    case MT_NORM_NONE: x = mt_tensor_alias(raw); break;
    case MT_NORM_WINDOW: {
        double lo = s->exp.data.window[0], hi = s->exp.data.window[1];
        mt_tensor *c = mt_clamp(raw, lo, hi);
        x = mt_scale(c, 1.0 / (hi - lo), -lo / (hi - lo));
        mt_tensor_release(c);
        break;
    }
    case MT_NORM_ZSCORE: x = mt_scale(raw, 1.0 / s->exp.data.std, -s->exp.data.mean / s->exp.data.std); break;
    case MT_NORM_MINMAX: x = minmax(s, raw); break;
    }
    if (x && s->exp.data.output_scale != 1.0) {
        mt_tensor *y = mt_scale(x, s->exp.data.output_scale, 0);
        mt_tensor_release(x);
        x = y;
    }
    if (x && s->in_c == 3 && x->shape[1] == 1) {
        mt_tensor *three[3] = {x, x, x};
        mt_tensor *y = mt_concat(3, three, 1);
        mt_tensor_release(x);
        x = y;
    }
    mt_set_grad_enabled(prev);
    return x;
}

mt_tensor *mt_session_model_input(mt_session *s, const char *name, mt_tensor *x)
{
    const mt_exp_model *cfg = NULL;
    const char *section = "";
    for (int i = 0; i < s->n_models; i++)
        if (!strcmp(s->models[i].name, name)) cfg = s->models[i].cfg, section = s->models[i].section;
    if (!x || !cfg) {
        if (!cfg) MT_ERR(MT_ERR_INVALID, "mt_session_model_input: no session network called %s", name);
        return NULL;
    }
    int scaled = cfg->input_scale > 0 && cfg->input_scale != 1.0; /* 0: the trained model, which has no such key */
    mt_tensor *y = scaled ? mt_scale(x, cfg->input_scale, 0) : mt_tensor_retain(x);
    if (y && cfg->input_channels > 0 && cfg->input_channels != y->shape[1]) {
        if (cfg->input_channels != 3 || y->shape[1] != 1) {
            MT_ERR(MT_ERR_INVALID, "%s.input_channels %d: only a 1-channel input can be replicated to 3 (it has %d)",
                   section, cfg->input_channels, y->shape[1]);
            mt_tensor_release(y);
            return NULL;
        }
        mt_tensor *three[3] = {y, y, y}, *z = mt_concat(3, three, 1);
        mt_tensor_release(y);
        y = z;
    }
    return y;
}

void mt_display_window(const mt_session *s, const float *img, size_t n, double *lo, double *hi)
{
    float mn = img[0], mx = img[0];
    for (size_t i = 1; i < n; i++) {
        mn = img[i] < mn ? img[i] : mn;
        mx = img[i] > mx ? img[i] : mx;
    }
    if (mn < -500 && mx > 100) {
        *lo = -160;
        *hi = 240;
    } else if (s->exp.data.normalize == MT_NORM_WINDOW) {
        *lo = s->exp.data.window[0];
        *hi = s->exp.data.window[1];
    } else {
        *lo = mn;
        *hi = mx > mn ? mx : mn + 1;
    }
}
