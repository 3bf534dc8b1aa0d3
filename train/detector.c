/* train/detector.c: a detection run as a detector (detector.h). */
#include "detector.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_dir.h"
#include "task.h"
#include "trainer.h"

mt_status mt_detector_open(mt_session *s, const char *run_or_ckpt, const char *dataset, mt_device dev,
                           char *weights_used, size_t cap)
{
    MT_REQUIRE(s && run_or_ckpt && dataset, "mt_detector_open: NULL argument");
    char weights[PATH_MAX + 16], cfg[PATH_MAX + 16], tmp[PATH_MAX];
    if (mt_path_is_dir(run_or_ckpt)) {
        snprintf(weights, sizeof weights, "%s/best.h5", run_or_ckpt);
        if (!mt_path_exists(weights)) snprintf(weights, sizeof weights, "%s/last.h5", run_or_ckpt);
        snprintf(cfg, sizeof cfg, "%s/config.yaml", run_or_ckpt);
    } else {
        snprintf(weights, sizeof weights, "%s", run_or_ckpt);
        snprintf(tmp, sizeof tmp, "%s", run_or_ckpt);
        snprintf(cfg, sizeof cfg, "%s/config.yaml", dirname(tmp));
    }
    if (!mt_path_exists(weights))
        return MT_ERR(MT_ERR_IO, "detector %s: no checkpoint (best.h5 / last.h5 of a run directory, or a .h5 file)",
                      run_or_ckpt);
    if (!mt_path_exists(cfg))
        return MT_ERR(MT_ERR_IO, "detector %s: no config.yaml at %s (the run's resolved config)", run_or_ckpt, cfg);
    char abs[PATH_MAX], set[PATH_MAX + 32];
    if (!realpath(dataset, abs)) return MT_ERR(MT_ERR_IO, "dataset %s: cannot resolve the path", dataset);
    snprintf(set, sizeof set, "data.dataset=%s", abs);
    const char *sets[1] = {set};
    MT_TRY(mt_session_load(s, cfg, 1, sets));
    if (s->task != &mt_task_detection)
        return MT_ERR(MT_ERR_INVALID, "detector %s: its config %s has task.kind %s, not detection", run_or_ckpt, cfg,
                      s->task->kind);
    s->dev = dev;
    MT_TRY(mt_session_open_dataset(s));
    MT_TRY(mt_session_build_models(s, s->exp.train.seed, 0));
    MT_TRY(mt_session_load_weights(s, weights));
    if (weights_used && cap) snprintf(weights_used, cap, "%s", weights);
    return MT_OK;
}

/* the highest-scoring detection of one image (first maximum), moved from the network input
 * to the dataset frame by pixel centres: x = (x' + 0.5) sx - 0.5 (sx = dataset / input size) */
static void top_of(const mt_detections *d, double sx, double sy, mt_top_box *o)
{
    memset(o, 0, sizeof *o);
    o->cls = -1;
    int best = -1;
    for (int k = 0; k < d->n; k++)
        if (best < 0 || d->det[k].score > d->det[best].score) best = k;
    if (best < 0) return;
    const mt_detection *e = &d->det[best];
    o->found = 1;
    o->x0 = (float)((e->x0 + 0.5) * sx - 0.5);
    o->y0 = (float)((e->y0 + 0.5) * sy - 0.5);
    o->x1 = (float)((e->x1 + 0.5) * sx - 0.5);
    o->y1 = (float)((e->y1 + 0.5) * sy - 0.5);
    o->score = e->score;
    o->cls = e->cls;
}

mt_status mt_detector_top_boxes(mt_session *s, const int *idx, int n, int batch_size, mt_top_box *out)
{
    MT_REQUIRE(s && s->ds && (n == 0 || (idx && out)) && n >= 0 && batch_size > 0,
               "mt_detector_top_boxes: bad arguments");
    /* the session moves dataset boxes to the input size by pixel centres (mt_session_fit_batch); undo it */
    const double sx = (double)s->geo.w / s->in_w, sy = (double)s->geo.h / s->in_h;
    mt_detections *det = mt_calloc((size_t)batch_size, sizeof *det);
    if (!det) return mt_last_status();
    mt_status st = MT_OK;
    int prev = mt_set_grad_enabled(0);
    for (int b0 = 0; b0 < n && st == MT_OK; b0 += batch_size) {
        int bn = n - b0 < batch_size ? n - b0 : batch_size;
        mt_batch b;
        st = mt_session_read_batch(s, idx + b0, bn, &b);
        if (st != MT_OK) break;
        st = mt_detection_infer(s, b.images, det);
        for (int i = 0; st == MT_OK && i < bn; i++) top_of(&det[i], sx, sy, &out[b0 + i]);
        if (st == MT_OK) mt_detections_free(det, bn);
        mt_batch_free(&b);
    }
    mt_set_grad_enabled(prev);
    free(det);
    return st;
}
