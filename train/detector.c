/* train/detector.c: a detection run as a detector (detector.h). */
#include "detector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_dir.h"
#include "task.h"
#include "trainer.h"

mt_status mt_detector_open(mt_session *s, const char *run_or_ckpt, const char *dataset, mt_device dev,
                           char *weights_used, size_t cap)
{
    return mt_session_open_run(s, "detector", mt_task_detection.kind, run_or_ckpt, dataset, dev, weights_used, cap);
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
