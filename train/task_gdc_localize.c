/* train/task_gdc_localize.c: localization scores of the G-D-C task (task_gdc.h)
 * on a dataset with /masks (S4's synthetic-fracture benchmark: the first mask
 * channel, `defect`, is the recorded fracture; all zero for normal crops).
 *
 * Three maps per image [H, W] at the network input size, each min-max
 * normalised per image to [0, 1]:
 *   change  |G(X) - X| of the trained generator, mean over channels;
 *   cam     C's class-activation map (mt_gdc_cam_map; only when task.cam_layer
 *           is set, also in the restore step);
 *   random  uniform values from the counter-based stream seed =
 *           mt_rng_derive(train.seed, sample index, 0x10CA), counter = pixel
 *           (core/rng.h): the chance level (its pointing rate tends to the mean
 *           mask area fraction).
 * Per map, over the images whose mask is non-empty (localize.h): the pointing
 * game hit rate and the mean IoU of (map > tau) with the mask, tau searched on
 * the val split (data.val_split, with data.labels_keep) on the grid 0.05..0.95
 * and applied unchanged to the evaluated split. Metrics: pointing_<map>,
 * iou_<map>, tau_<map> (NaN = null in JSON when val has no image with a
 * defect), and loc_images (the evaluated images with a defect). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ops.h"
#include "../core/rng.h"
#include "localize.h"
#include "task_gdc.h"

enum { LOC_CHANGE, LOC_CAM, LOC_RANDOM, LOC_KINDS };
static const char *const k_loc_names[LOC_KINDS] = {"change", "cam", "random"};

static int has_cam(const mt_session *s) { return s->exp.task.cam_layer && s->exp.task.cam_layer[0]; }

/* |G(X) - X| mean over channels, per image, into maps [n][plane] */
static mt_status change_maps(mt_session *s, mt_tensor *x, float *maps)
{
    mt_tensor *g = mt_model_forward(s->model, x, 0);
    float *hx = g ? mt_task_host_floats(x) : NULL, *hg = hx ? mt_task_host_floats(g) : NULL;
    mt_status st = hg ? MT_OK : mt_last_status();
    if (st == MT_OK && (g->ndim != 4 || g->shape[2] != x->shape[2] || g->shape[3] != x->shape[3]))
        st = MT_ERR(MT_ERR_INVALID, "gdc localization: G's output is not [N, C, %d, %d] like its input", x->shape[2],
                    x->shape[3]);
    if (st == MT_OK) {
        int n = x->shape[0], cx = x->shape[1], cg = g->shape[1], c = cx < cg ? cx : cg;
        size_t plane = (size_t)x->shape[2] * x->shape[3];
        for (int i = 0; i < n; i++)
            for (size_t p = 0; p < plane; p++) {
                double v = 0;
                for (int k = 0; k < c; k++)
                    v += fabs((double)hg[((size_t)i * cg + k) * plane + p] - hx[((size_t)i * cx + k) * plane + p]);
                maps[(size_t)i * plane + p] = (float)(v / c);
            }
    }
    free(hx);
    free(hg);
    mt_tensor_release(g);
    return st;
}

/* C's CAM per image into maps [n][plane] */
static mt_status cam_maps(mt_session *s, mt_tensor *x, float *maps)
{
    mt_tensor *f = mt_gdc_cam_map(s, x);
    float *h = f ? mt_task_host_floats(f) : NULL;
    mt_status st = h ? MT_OK : mt_last_status();
    if (st == MT_OK) memcpy(maps, h, sizeof(float) * mt_numel(f));
    free(h);
    mt_tensor_release(f);
    return st;
}

/* one batch: the maps of every kind scored against the masks (first channel) */
static mt_status loc_batch(mt_session *s, const mt_batch *b, float *maps, uint8_t *mask, mt_loc_acc acc[LOC_KINDS])
{
    int n = b->n;
    size_t plane = (size_t)s->in_h * s->in_w;
    float *hm = mt_task_host_floats(b->masks);
    if (!hm) return mt_last_status();
    int k = b->masks->shape[1];
    mt_tensor *x = mt_session_normalize(s, b->images);
    mt_status st = x ? MT_OK : mt_last_status();
    for (int kind = 0; kind < LOC_KINDS && st == MT_OK; kind++) {
        if (kind == LOC_CAM && !has_cam(s)) continue;
        if (kind == LOC_CHANGE) st = change_maps(s, x, maps);
        else if (kind == LOC_CAM) st = cam_maps(s, x, maps);
        else
            for (int i = 0; i < n; i++) {
                uint64_t seed = mt_rng_derive(s->exp.train.seed, (uint64_t)b->sample_ids[i], 0x10CA);
                for (size_t p = 0; p < plane; p++) maps[(size_t)i * plane + p] = mt_philox_uniform(seed, p);
            }
        for (int i = 0; i < n && st == MT_OK; i++) {
            float *m = maps + (size_t)i * plane;
            for (size_t p = 0; p < plane; p++) mask[p] = hm[(size_t)i * k * plane + p] > 0.5f;
            mt_loc_minmax(m, plane);
            mt_loc_acc_add(&acc[kind], m, mask, plane);
        }
    }
    free(hm);
    mt_tensor_release(x);
    return st;
}

/* scores of every map kind over the samples idx[0..n-1] */
static mt_status loc_pass(mt_session *s, const int *idx, int n, int batch_size, mt_loc_acc acc[LOC_KINDS])
{
    memset(acc, 0, sizeof(mt_loc_acc) * LOC_KINDS);
    size_t plane = (size_t)s->in_h * s->in_w;
    float *maps = mt_malloc(sizeof(float) * plane * (size_t)batch_size);
    uint8_t *mask = mt_malloc(plane);
    mt_status st = maps && mask ? MT_OK : mt_last_status();
    int prev = mt_set_grad_enabled(0);
    for (int b0 = 0; b0 < n && st == MT_OK; b0 += batch_size) {
        int bn = n - b0 < batch_size ? n - b0 : batch_size;
        mt_batch b;
        st = mt_session_read_batch(s, idx + b0, bn, &b);
        if (st != MT_OK) break;
        if (!b.masks)
            st = MT_ERR(MT_ERR_INVALID, "gdc localization: dataset %s gave a batch without /masks", s->exp.data.dataset);
        if (st == MT_OK) st = loc_batch(s, &b, maps, mask, acc);
        mt_batch_free(&b);
    }
    mt_set_grad_enabled(prev);
    free(maps);
    free(mask);
    return st;
}

mt_status mt_gdc_localize(mt_session *s, const int *idx, int n, int batch_size, mt_eval *out)
{
    if (s->geo.k <= 0) return MT_OK;
    MT_REQUIRE(batch_size > 0, "gdc localization: batch size %d", batch_size);
    int *vidx = NULL, vn = 0;
    MT_TRY(mt_session_split_indices(s, s->exp.data.val_split, &vidx, &vn));
    mt_loc_acc acc[LOC_KINDS], val[LOC_KINDS];
    mt_status st = loc_pass(s, idx, n, batch_size, acc);
    /* tau comes from the val split: the evaluated one itself when it is val */
    int same = vn == n && (n == 0 || !memcmp(vidx, idx, sizeof(int) * (size_t)n));
    if (st == MT_OK && same) memcpy(val, acc, sizeof val);
    else if (st == MT_OK) st = loc_pass(s, vidx, vn, batch_size, val);
    free(vidx);
    if (st != MT_OK) return st;
    for (int kind = 0; kind < LOC_KINDS; kind++) {
        if (kind == LOC_CAM && !has_cam(s)) continue;
        int j = mt_loc_acc_best_tau(&val[kind]);
        char name[32];
        snprintf(name, sizeof name, "pointing_%s", k_loc_names[kind]);
        mt_eval_set(out, name, mt_loc_acc_pointing(&acc[kind]));
        snprintf(name, sizeof name, "iou_%s", k_loc_names[kind]);
        mt_eval_set(out, name, mt_loc_acc_iou(&acc[kind], j));
        snprintf(name, sizeof name, "tau_%s", k_loc_names[kind]);
        mt_eval_set(out, name, j >= 0 ? mt_loc_tau(j) : NAN);
    }
    mt_eval_set(out, "loc_images", (double)acc[LOC_CHANGE].n);
    return MT_OK;
}
