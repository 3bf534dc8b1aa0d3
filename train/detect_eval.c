/* train/detect_eval.c: host-side detection post-processing (detect.h):
 * dataset boxes -> YOLO targets, decoding (models/yolo.py Detect inference),
 * NMS (torchvision.ops.nms, utils/general.py non_max_suppression) and
 * per-image detections. mAP is in detect_map.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"

mt_status mt_yolo_targets_from_boxes(const float *boxes, int n_boxes, int img_h, int img_w, float *targets)
{
    MT_REQUIRE(n_boxes >= 0 && img_h > 0 && img_w > 0, "mt_yolo_targets_from_boxes: %d boxes, image %dx%d",
               n_boxes, img_h, img_w);
    MT_REQUIRE(n_boxes == 0 || (boxes && targets), "mt_yolo_targets_from_boxes: NULL array");
    for (int i = 0; i < n_boxes; i++) {
        const float *b = boxes + 6 * i;
        for (int k = 0; k < 6; k++)
            MT_REQUIRE(isfinite(b[k]), "mt_yolo_targets_from_boxes: box %d column %d is not finite", i, k);
        MT_REQUIRE(b[3] >= b[1] && b[4] >= b[2], "mt_yolo_targets_from_boxes: box %d (%g, %g, %g, %g) has x1 < x0 or y1 < y0",
                   i, b[1], b[2], b[3], b[4]);
        float *t = targets + 6 * i;
        t[0] = b[0];
        t[1] = b[5];
        t[2] = (float)((0.5 * ((double)b[1] + b[3]) + 0.5) / img_w);
        t[3] = (float)((0.5 * ((double)b[2] + b[4]) + 0.5) / img_h);
        t[4] = (float)(((double)b[3] - b[1]) / img_w);
        t[5] = (float)(((double)b[4] - b[2]) / img_h);
    }
    return MT_OK;
}

void mt_detections_free(mt_detections *d, int n_images)
{
    if (!d) return;
    for (int i = 0; i < n_images; i++) {
        free(d[i].det);
        d[i].det = NULL;
        d[i].n = 0;
    }
}

static inline float sigmoidf_(float x)
{
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

mt_status mt_yolo_decode(const mt_yolo_head *head, const mt_real *const *preds_host, const int (*shapes)[5],
                         int image, double conf_thres, mt_detection **out, int *n_out)
{
    MT_REQUIRE(head && preds_host && shapes && out && n_out, "mt_yolo_decode: NULL argument");
    *out = NULL;
    *n_out = 0;
    const int nc = head->nc, no = 5 + nc;
    size_t cap = 0;
    for (int l = 0; l < head->nl; l++) {
        const int *s = shapes[l];
        MT_REQUIRE(preds_host[l] && s[1] == head->na && s[4] == no && s[2] > 0 && s[3] > 0,
                   "mt_yolo_decode: level %d shape [%d, %d, %d, %d, %d], expected [N, %d, H, W, %d]", l, s[0], s[1],
                   s[2], s[3], s[4], head->na, no);
        MT_REQUIRE(image >= 0 && image < s[0], "mt_yolo_decode: image %d outside [0, %d)", image, s[0]);
        cap += (size_t)s[1] * s[2] * s[3];
    }
    mt_detection *d = mt_malloc((cap ? cap : 1) * sizeof *d);
    if (!d) return mt_last_status();
    const float ct = (float)conf_thres;
    int n = 0;
    for (int l = 0; l < head->nl; l++) {
        const int A = shapes[l][1], H = shapes[l][2], W = shapes[l][3];
        const float st = (float)head->stride[l];
        const mt_real *base = preds_host[l] + (size_t)image * A * H * W * no;
        for (int a = 0; a < A; a++) {
            const float aw = (float)head->anchors[l][a][0], ah = (float)head->anchors[l][a][1];
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    const mt_real *v = base + (((size_t)a * H + y) * W + x) * no;
                    float obj = sigmoidf_((float)v[4]);
                    if (!(obj > ct)) continue;
                    int best = 0;
                    float conf = sigmoidf_((float)v[5]) * obj;
                    for (int k = 1; k < nc; k++) {
                        float c = sigmoidf_((float)v[5 + k]) * obj;
                        if (c > conf) {
                            conf = c;
                            best = k;
                        }
                    }
                    if (!(conf > ct)) continue;
                    /* grid = cell - 0.5, anchor_grid = anchor in pixels (Detect._make_grid) */
                    float cx = (sigmoidf_((float)v[0]) * 2 + ((float)x - 0.5f)) * st;
                    float cy = (sigmoidf_((float)v[1]) * 2 + ((float)y - 0.5f)) * st;
                    float sw = sigmoidf_((float)v[2]) * 2, sh = sigmoidf_((float)v[3]) * 2;
                    float w = sw * sw * aw, h = sh * sh * ah;
                    mt_detection *o = &d[n++];
                    o->x0 = cx - w / 2;
                    o->y0 = cy - h / 2;
                    o->x1 = cx + w / 2;
                    o->y1 = cy + h / 2;
                    o->score = conf;
                    o->cls = best;
                }
        }
    }
    if (n == 0) {
        free(d);
        d = NULL;
    }
    *out = d;
    *n_out = n;
    return MT_OK;
}

/* ----------------------------------------------------------------- NMS --- */

typedef struct score_idx {
    float s;
    int i;
} score_idx;

/* descending score, ties by index (stable) */
static int cmp_score_desc(const void *a, const void *b)
{
    const score_idx *x = a, *y = b;
    if (x->s > y->s) return -1;
    if (x->s < y->s) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

mt_status mt_nms(const float *boxes, const float *scores, int n, double iou_thres, int *keep, int *n_keep)
{
    MT_REQUIRE(n >= 0 && n_keep && (n == 0 || (boxes && scores && keep)), "mt_nms: bad arguments (n = %d)", n);
    *n_keep = 0;
    if (n == 0) return MT_OK;
    score_idx *o = mt_malloc((size_t)n * sizeof *o);
    unsigned char *sup = mt_calloc((size_t)n, 1);
    float *area = mt_malloc((size_t)n * sizeof *area);
    if (!o || !sup || !area) {
        free(o);
        free(sup);
        free(area);
        return mt_last_status();
    }
    for (int i = 0; i < n; i++) {
        o[i].s = scores[i];
        o[i].i = i;
        const float *b = boxes + 4 * i;
        area[i] = (b[2] - b[0]) * (b[3] - b[1]);
    }
    qsort(o, (size_t)n, sizeof *o, cmp_score_desc);
    int k = 0;
    for (int a = 0; a < n; a++) {
        const int i = o[a].i;
        if (sup[i]) continue;
        keep[k++] = i;
        const float *bi = boxes + 4 * i;
        for (int c = a + 1; c < n; c++) {
            const int j = o[c].i;
            if (sup[j]) continue;
            const float *bj = boxes + 4 * j;
            float xx1 = fmaxf(bi[0], bj[0]), yy1 = fmaxf(bi[1], bj[1]);
            float xx2 = fminf(bi[2], bj[2]), yy2 = fminf(bi[3], bj[3]);
            float w = fmaxf(0.0f, xx2 - xx1), h = fmaxf(0.0f, yy2 - yy1);
            float inter = w * h;
            float ovr = inter / (area[i] + area[j] - inter);
            if ((double)ovr > iou_thres) sup[j] = 1; /* float IoU against the double threshold, as torchvision */
        }
    }
    *n_keep = k;
    free(o);
    free(sup);
    free(area);
    return MT_OK;
}

mt_status mt_batched_nms(const float *boxes, const float *scores, const int *classes, int n, double iou_thres,
                         double max_wh, int *keep, int *n_keep)
{
    MT_REQUIRE(n >= 0 && n_keep && (n == 0 || (boxes && scores && classes && keep)),
               "mt_batched_nms: bad arguments (n = %d)", n);
    float *ob = mt_malloc((size_t)(n ? n : 1) * 4 * sizeof *ob);
    if (!ob) return mt_last_status();
    for (int i = 0; i < n; i++) {
        const float off = (float)classes[i] * (float)max_wh; /* x[:, 5:6] * max_wh in float32 */
        for (int k = 0; k < 4; k++) ob[4 * i + k] = boxes[4 * i + k] + off;
    }
    mt_status st = mt_nms(ob, scores, n, iou_thres, keep, n_keep);
    free(ob);
    return st;
}

mt_nms_params mt_nms_params_default(void)
{
    mt_nms_params p = {0.25, 0.45, 300, 30000, 0};
    return p;
}

/* One image of non_max_suppression on decoded candidates d[0..n) (in decode order). */
static mt_status nms_image(mt_detection *d, int n, mt_nms_params p, mt_detections *out)
{
    out->n = 0;
    out->det = NULL;
    if (n == 0) return MT_OK;
    score_idx *o = mt_malloc((size_t)n * sizeof *o);
    if (!o) return mt_last_status();
    for (int i = 0; i < n; i++) {
        o[i].s = d[i].score;
        o[i].i = i;
    }
    qsort(o, (size_t)n, sizeof *o, cmp_score_desc); /* x[x[:, 4].argsort(descending=True)] (stable here) */
    int m = n > p.max_nms ? p.max_nms : n;
    float *bx = mt_malloc((size_t)m * 4 * sizeof *bx), *sc = mt_malloc((size_t)m * sizeof *sc);
    int *cl = mt_malloc((size_t)m * sizeof *cl), *keep = mt_malloc((size_t)m * sizeof *keep);
    mt_detection *res = NULL;
    mt_status st = MT_OK;
    if (!bx || !sc || !cl || !keep) {
        st = mt_last_status();
        goto done;
    }
    for (int a = 0; a < m; a++) {
        const mt_detection *e = &d[o[a].i];
        bx[4 * a] = e->x0;
        bx[4 * a + 1] = e->y0;
        bx[4 * a + 2] = e->x1;
        bx[4 * a + 3] = e->y1;
        sc[a] = e->score;
        cl[a] = e->cls;
    }
    int nk = 0;
    if ((st = mt_batched_nms(bx, sc, cl, m, p.iou_thres, p.agnostic ? 0.0 : 7680.0, keep, &nk)) != MT_OK) goto done;
    if (nk > p.max_det) nk = p.max_det;
    if (nk > 0) {
        res = mt_malloc((size_t)nk * sizeof *res);
        if (!res) {
            st = mt_last_status();
            goto done;
        }
        for (int k = 0; k < nk; k++) res[k] = d[o[keep[k]].i];
    }
    out->n = nk;
    out->det = res;
done:
    free(o);
    free(bx);
    free(sc);
    free(cl);
    free(keep);
    return st;
}

/* Level l's host shape [N, A, H, W, no] of a 4-D [N, A*no, H, W] or 5-D prediction, checked. */
static mt_status level_shape(const mt_yolo_head *head, const mt_tensor *t, int l, int s[5])
{
    const int no = 5 + head->nc;
    if (!t || t->dtype != MT_REAL || (t->ndim != 5 && t->ndim != 4))
        return MT_ERR(MT_ERR_INVALID, "mt_yolo_detect: prediction %d missing or not a 4-D / 5-D real tensor", l);
    if (t->ndim == 5) {
        for (int k = 0; k < 5; k++) s[k] = t->shape[k];
    } else {
        s[0] = t->shape[0];
        s[1] = head->na;
        s[2] = t->shape[2];
        s[3] = t->shape[3];
        s[4] = no;
        if (t->shape[1] != head->na * no)
            return MT_ERR(MT_ERR_INVALID, "mt_yolo_detect: level %d has %d channels, expected %d", l, t->shape[1],
                          head->na * no);
    }
    return MT_OK;
}

/* Copies t to the host as [N, A, H, W, no] into *host (malloc'd; set even when a later step fails). */
static mt_status level_to_host(const mt_tensor *t, const int s[5], mt_real **host)
{
    size_t cnt = mt_numel(t);
    *host = mt_malloc(cnt * sizeof(mt_real));
    if (!*host) return mt_last_status();
    mt_status st = mt_tensor_to_host(t, *host, cnt * sizeof(mt_real));
    if (st == MT_OK && t->ndim == 4) { /* [N, A, no, H, W] -> [N, A, H, W, no] */
        mt_real *q = mt_malloc(cnt * sizeof *q);
        if (!q) return mt_last_status();
        const int N = s[0], A = s[1], H = s[2], W = s[3], no = s[4];
        for (int b = 0; b < N; b++)
            for (int a = 0; a < A; a++)
                for (int j = 0; j < no; j++)
                    for (int y = 0; y < H; y++)
                        for (int x = 0; x < W; x++)
                            q[((((size_t)b * A + a) * H + y) * W + x) * no + j] =
                                (*host)[((((size_t)b * A + a) * no + j) * H + y) * W + x];
        free(*host);
        *host = q;
    }
    return st;
}

/* All levels on the host ([N, A, H, W, no] each) with their shapes and the shared batch size *N. */
static mt_status levels_to_host(const mt_yolo_head *head, mt_tensor *const *preds, mt_real **host,
                                int shapes[][5], int *N)
{
    mt_status st = MT_OK;
    for (int l = 0; l < head->nl && st == MT_OK; l++) {
        int s[5];
        if ((st = level_shape(head, preds[l], l, s)) != MT_OK) break;
        if (l == 0) *N = s[0];
        if (s[0] != *N) {
            st = MT_ERR(MT_ERR_INVALID, "mt_yolo_detect: level %d batch %d differs from %d", l, s[0], *N);
            break;
        }
        memcpy(shapes[l], s, sizeof s);
        st = level_to_host(preds[l], s, &host[l]);
    }
    return st;
}

/* Image b: decode, NMS, and (medtrain_frame) the half-pixel shift into out[b]. */
static mt_status detect_image(const mt_yolo_head *head, mt_real *const *host, const int (*shapes)[5], int b,
                              mt_nms_params p, int medtrain_frame, mt_detections *out)
{
    out[b].n = 0;
    out[b].det = NULL;
    mt_detection *cand = NULL;
    int nc = 0;
    mt_status st = mt_yolo_decode(head, (const mt_real *const *)host, shapes, b, p.conf_thres, &cand, &nc);
    if (st == MT_OK) st = nms_image(cand, nc, p, &out[b]);
    free(cand);
    if (st == MT_OK && medtrain_frame)
        for (int k = 0; k < out[b].n; k++) {
            out[b].det[k].x0 -= 0.5f;
            out[b].det[k].y0 -= 0.5f;
            out[b].det[k].x1 -= 0.5f;
            out[b].det[k].y1 -= 0.5f;
        }
    return st;
}

mt_status mt_yolo_detect(const mt_yolo_head *head, mt_tensor *const *preds, mt_nms_params p, int medtrain_frame,
                         mt_detections *out)
{
    MT_REQUIRE(head && preds && out && head->nl >= 1 && head->nl <= MT_YOLO_MAX_LEVELS,
               "mt_yolo_detect: bad arguments");
    MT_REQUIRE(p.max_det >= 0 && p.max_nms >= 1, "mt_yolo_detect: max_det %d, max_nms %d", p.max_det, p.max_nms);
    mt_real *host[MT_YOLO_MAX_LEVELS] = {0};
    int shapes[MT_YOLO_MAX_LEVELS][5];
    int N = 0;
    mt_status st = levels_to_host(head, preds, host, shapes, &N);
    for (int b = 0; b < N && st == MT_OK; b++) {
        st = detect_image(head, host, (const int(*)[5])shapes, b, p, medtrain_frame, out);
        if (st != MT_OK) mt_detections_free(out, b + 1);
    }
    for (int l = 0; l < head->nl; l++) free(host[l]);
    return st;
}
