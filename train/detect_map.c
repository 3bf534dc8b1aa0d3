/* train/detect_map.c: YOLOv5 validation metrics (val.py process_batch,
 * utils/metrics.py box_iou / ap_per_class / compute_ap / smooth), detect.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"

#define NIOU 10

struct mt_map_acc {
    int nc;
    int n, cap;           /* detections */
    float *conf;          /* [cap] */
    int *pcls;            /* [cap] */
    unsigned char *tp;    /* [cap * NIOU] */
    int any_tp;
    int *n_lab;           /* [nc] labels per class */
    int n_labels;
};

mt_map_acc *mt_map_acc_new(int nc)
{
    if (nc < 1) {
        MT_ERR(MT_ERR_INVALID, "mt_map_acc_new: nc %d < 1", nc);
        return NULL;
    }
    mt_map_acc *a = mt_calloc(1, sizeof *a);
    if (!a) return NULL;
    a->nc = nc;
    a->n_lab = mt_calloc((size_t)nc, sizeof *a->n_lab);
    if (!a->n_lab) {
        free(a);
        return NULL;
    }
    return a;
}

void mt_map_acc_free(mt_map_acc *a)
{
    if (!a) return;
    free(a->conf);
    free(a->pcls);
    free(a->tp);
    free(a->n_lab);
    free(a);
}

/* torch.linspace(0.5, 0.95, 10) in float32 (ATen: start + step*i for the first
 * half, end - step*(steps-1-i) for the second). */
static void iou_thresholds(float t[NIOU])
{
    const float start = 0.5f, end = 0.95f, step = (end - start) / (float)(NIOU - 1);
    for (int i = 0; i < NIOU; i++) t[i] = i < NIOU / 2 ? start + step * (float)i : end - step * (float)(NIOU - 1 - i);
}

/* box_iou(label, det) with eps 1e-7, float32 as YOLOv5 evaluates it */
static float box_iou1(const float *l, const mt_detection *d)
{
    float iw = fminf(l[2], d->x1) - fmaxf(l[0], d->x0), ih = fminf(l[3], d->y1) - fmaxf(l[1], d->y0);
    iw = iw > 0 ? iw : 0;
    ih = ih > 0 ? ih : 0;
    float inter = iw * ih;
    float al = (l[2] - l[0]) * (l[3] - l[1]), ad = (d->x1 - d->x0) * (d->y1 - d->y0);
    return inter / (al + ad - inter + 1e-7f);
}

/* Argument checks of mt_map_acc_add: label and detection classes inside [0, nc). */
static mt_status check_add(const mt_map_acc *a, const mt_detection *det, int n_det, const float *labels, int n_lab)
{
    MT_REQUIRE(a && n_det >= 0 && n_lab >= 0 && (n_det == 0 || det) && (n_lab == 0 || labels),
               "mt_map_acc_add: bad arguments");
    for (int j = 0; j < n_lab; j++) {
        float c = labels[5 * j];
        MT_REQUIRE(c >= 0 && c < a->nc && c == floorf(c), "mt_map_acc_add: label %d class %g outside [0, %d)", j, c,
                   a->nc);
    }
    for (int i = 0; i < n_det; i++)
        MT_REQUIRE(det[i].cls >= 0 && det[i].cls < a->nc, "mt_map_acc_add: detection %d class %d outside [0, %d)", i,
                   det[i].cls, a->nc);
    return MT_OK;
}

/* Grows the detection arrays (doubling from 256) to hold at least `need` detections. */
static mt_status acc_reserve(mt_map_acc *a, int need)
{
    if (need <= a->cap) return MT_OK;
    int cap = a->cap ? a->cap : 256;
    while (cap < need) cap *= 2;
    float *c = mt_realloc(a->conf, (size_t)cap * sizeof *c);
    if (!c) return mt_last_status();
    a->conf = c;
    int *p = mt_realloc(a->pcls, (size_t)cap * sizeof *p);
    if (!p) return mt_last_status();
    a->pcls = p;
    unsigned char *t = mt_realloc(a->tp, (size_t)cap * NIOU);
    if (!t) return mt_last_status();
    a->tp = t;
    a->cap = cap;
    return MT_OK;
}

/* process_batch: tp[i * NIOU + k] = 1 when detection i matches a label at IoU threshold k (n_lab > 0). */
static mt_status match_detections(mt_map_acc *a, const mt_detection *det, int n_det, const float *labels, int n_lab,
                                  unsigned char *tp)
{
    float *iou = mt_malloc((size_t)n_lab * n_det * sizeof *iou);
    int *best_l = mt_malloc((size_t)n_det * sizeof *best_l), *lab_d = mt_malloc((size_t)n_lab * sizeof *lab_d);
    if (!iou || !best_l || !lab_d) {
        free(iou);
        free(best_l);
        free(lab_d);
        return mt_last_status();
    }
    for (int j = 0; j < n_lab; j++)
        for (int i = 0; i < n_det; i++) iou[(size_t)j * n_det + i] = box_iou1(labels + 5 * j + 1, &det[i]);
    float thr[NIOU];
    iou_thresholds(thr);
    for (int k = 0; k < NIOU; k++) {
        /* each detection: its highest-IoU label among matches (same class, IoU >= t) */
        for (int i = 0; i < n_det; i++) {
            best_l[i] = -1;
            for (int j = 0; j < n_lab; j++) {
                float v = iou[(size_t)j * n_det + i];
                if ((int)labels[5 * j] != det[i].cls || !(v >= thr[k])) continue;
                if (best_l[i] < 0 || v > iou[(size_t)best_l[i] * n_det + i]) best_l[i] = j;
            }
        }
        /* each label: the first detection (in order) that kept it */
        for (int j = 0; j < n_lab; j++) lab_d[j] = -1;
        for (int i = 0; i < n_det; i++)
            if (best_l[i] >= 0 && lab_d[best_l[i]] < 0) lab_d[best_l[i]] = i;
        for (int j = 0; j < n_lab; j++)
            if (lab_d[j] >= 0) {
                tp[(size_t)lab_d[j] * NIOU + k] = 1;
                a->any_tp = 1;
            }
    }
    free(iou);
    free(best_l);
    free(lab_d);
    return MT_OK;
}

mt_status mt_map_acc_add(mt_map_acc *a, const mt_detection *det, int n_det, const float *labels, int n_lab)
{
    MT_TRY(check_add(a, det, n_det, labels, n_lab));
    for (int j = 0; j < n_lab; j++) a->n_lab[(int)labels[5 * j]]++;
    a->n_labels += n_lab;
    if (n_det == 0) return MT_OK;
    MT_TRY(acc_reserve(a, a->n + n_det));
    unsigned char *tp = a->tp + (size_t)a->n * NIOU;
    memset(tp, 0, (size_t)n_det * NIOU);
    if (n_lab > 0) MT_TRY(match_detections(a, det, n_det, labels, n_lab, tp));
    for (int i = 0; i < n_det; i++) {
        a->conf[a->n + i] = det[i].score;
        a->pcls[a->n + i] = det[i].cls;
    }
    a->n += n_det;
    return MT_OK;
}

int mt_batch_image_labels(const float *boxes, int n_boxes, int image, float *lab)
{
    int m = 0;
    for (int i = 0; i < n_boxes; i++) {
        const float *r = boxes + 6 * i;
        if ((int)r[0] != image) continue;
        lab[5 * m] = r[5];
        for (int k = 0; k < 4; k++) lab[5 * m + 1 + k] = r[1 + k];
        m++;
    }
    return m;
}

mt_status mt_map_acc_add_batch(mt_map_acc *a, const mt_detections *det, int n_images, const float *boxes,
                               int n_boxes)
{
    MT_REQUIRE(a && n_images >= 0 && (n_images == 0 || det) && n_boxes >= 0 && (n_boxes == 0 || boxes),
               "mt_map_acc_add_batch: bad arguments");
    for (int i = 0; i < n_boxes; i++)
        MT_REQUIRE(boxes[6 * i] >= 0 && boxes[6 * i] < n_images, "mt_map_acc_add_batch: box %d row %g outside [0, %d)",
                   i, boxes[6 * i], n_images);
    float *lab = mt_malloc((size_t)(n_boxes ? n_boxes : 1) * 5 * sizeof *lab);
    if (!lab) return mt_last_status();
    mt_status st = MT_OK;
    for (int b = 0; b < n_images && st == MT_OK; b++)
        st = mt_map_acc_add(a, det[b].det, det[b].n, lab, mt_batch_image_labels(boxes, n_boxes, b, lab));
    free(lab);
    return st;
}

/* np.interp(x, xp, fp, left, right) for increasing xp (duplicates allowed):
 * the segment j with xp[j] <= x < xp[j+1] (the last of equal xp), exact fp[j]
 * when x == xp[j], fp[last] at x == xp[last]. */
static double interp(double x, const double *xp, const double *fp, int n, double left, double right)
{
    if (x < xp[0]) return left;
    if (x > xp[n - 1]) return right;
    int lo = 0, hi = n - 1; /* find the last j with xp[j] <= x */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (xp[mid] <= x)
            lo = mid;
        else
            hi = mid - 1;
    }
    int j = lo;
    if (j == n - 1 || xp[j] == x) return fp[j];
    double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    double r = slope * (x - xp[j]) + fp[j];
    if (isnan(r)) {
        r = slope * (x - xp[j + 1]) + fp[j + 1];
        if (isnan(r) && fp[j] == fp[j + 1]) r = fp[j];
    }
    return r;
}

/* compute_ap: 101-point interpolated AP of one recall/precision curve (n points). */
static double compute_ap(const double *recall, const double *precision, int n, double *mrec, double *mpre)
{
    mrec[0] = 0.0;
    mpre[0] = 1.0;
    for (int i = 0; i < n; i++) {
        mrec[i + 1] = recall[i];
        mpre[i + 1] = precision[i];
    }
    mrec[n + 1] = 1.0;
    mpre[n + 1] = 0.0;
    for (int i = n; i >= 0; i--) mpre[i] = fmax(mpre[i], mpre[i + 1]); /* envelope */
    const double step = 1.0 / 100.0;
    double ap = 0, yprev = 0, xprev = 0;
    for (int k = 0; k <= 100; k++) {
        double x = k == 100 ? 1.0 : k * step;
        double y = interp(x, mrec, mpre, n + 2, mpre[0], mpre[n + 1]);
        if (k > 0) ap += (x - xprev) * (y + yprev) / 2.0;
        xprev = x;
        yprev = y;
    }
    return ap;
}

typedef struct conf_idx {
    float c;
    int i;
} conf_idx;

static int cmp_conf_desc(const void *a, const void *b)
{
    const conf_idx *x = a, *y = b;
    if (x->c > y->c) return -1;
    if (x->c < y->c) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

#define NPX 1000

/* One class with labels: AP@0.5 (*ap50_c) and AP@0.5:0.95 (*ap_c) over its detections in confidence order o,
 * and its recall / precision at -px (IoU 0.5) into rc / pc (NPX each). buf: 6 * (n + 2) doubles of work space.
 * Returns the class's number of detections (0: nothing written). */
static int class_ap(const mt_map_acc *a, const conf_idx *o, int c, double *buf, const double *px, double *pc,
                    double *rc, double *ap50_c, double *ap_c)
{
    const int n = a->n, nl = a->n_lab[c];
    const double eps = 1e-16;
    double *negc = buf, *rec = buf + (n + 2), *pre = buf + 2 * (n + 2), *mrec = buf + 3 * (n + 2),
           *mpre = buf + 4 * (n + 2), *rec0 = buf + 5 * (n + 2);
    int np = 0;
    for (int s = 0; s < n; s++)
        if (a->pcls[o[s].i] == c) negc[np++] = -(double)o[s].c;
    if (np == 0) return 0; /* AP, P, R stay 0 */
    double cls_ap = 0;
    for (int k = 0; k < NIOU; k++) {
        int tpc = 0, fpc = 0, m = 0;
        for (int s = 0; s < n; s++) {
            const int i = o[s].i;
            if (a->pcls[i] != c) continue;
            if (a->tp[(size_t)i * NIOU + k])
                tpc++;
            else
                fpc++;
            rec[m] = tpc / (nl + eps);
            pre[m] = (double)tpc / (tpc + fpc);
            m++;
        }
        if (k == 0) {
            memcpy(rec0, rec, (size_t)np * sizeof *rec);
            for (int q = 0; q < NPX; q++) {
                rc[q] = interp(-px[q], negc, rec0, np, 0.0, rec0[np - 1]);
                pc[q] = interp(-px[q], negc, pre, np, 1.0, pre[np - 1]);
            }
        }
        double v = compute_ap(rec, pre, np, mrec, mpre);
        if (k == 0) *ap50_c = v;
        cls_ap += v;
    }
    *ap_c = cls_ap / NIOU;
    return np;
}

/* The confidence index of the best mean F1 over the classes with labels, box-filter smoothed (f = 0.1 -> 101 taps). */
static int best_f1_index(const mt_map_acc *a, const double *pc, const double *rc, int ncls, double *f1, double *sm)
{
    const double eps = 1e-16;
    for (int q = 0; q < NPX; q++) {
        double s = 0;
        for (int c = 0; c < a->nc; c++) {
            if (a->n_lab[c] == 0) continue;
            double p = pc[(size_t)c * NPX + q], rr = rc[(size_t)c * NPX + q];
            s += 2 * p * rr / (p + rr + eps);
        }
        f1[q] = s / ncls;
    }
    const int nf = 101, half = nf / 2;
    int best = 0;
    for (int q = 0; q < NPX; q++) {
        double s = 0;
        for (int t = -half; t <= half; t++) {
            int idx = q + t;
            s += f1[idx < 0 ? 0 : (idx >= NPX ? NPX - 1 : idx)] * (1.0 / nf);
        }
        sm[q] = s;
        if (s > sm[best]) best = q;
    }
    return best;
}

mt_status mt_detection_map(const mt_map_acc *a, mt_map_result *r, double *ap50, double *ap)
{
    MT_REQUIRE(a && r, "mt_detection_map: NULL argument");
    memset(r, 0, sizeof *r);
    const int nc = a->nc, n = a->n;
    for (int c = 0; c < nc; c++) {
        if (ap50) ap50[c] = a->n_lab[c] > 0 ? 0.0 : NAN;
        if (ap) ap[c] = a->n_lab[c] > 0 ? 0.0 : NAN;
        if (a->n_lab[c] > 0) r->n_classes++;
    }
    r->n_labels = a->n_labels;
    if (!a->any_tp || r->n_classes == 0) return MT_OK; /* val.py: `if len(stats) and stats[0].any()` */
    conf_idx *o = mt_malloc((size_t)(n ? n : 1) * sizeof *o);
    double *buf = mt_malloc((size_t)(6 * (n + 2) + 3 * NPX) * sizeof *buf);
    double *pc = mt_calloc((size_t)nc * NPX, sizeof *pc), *rc = mt_calloc((size_t)nc * NPX, sizeof *rc);
    if (!o || !buf || !pc || !rc) {
        free(o);
        free(buf);
        free(pc);
        free(rc);
        return mt_last_status();
    }
    for (int i = 0; i < n; i++) {
        o[i].c = a->conf[i];
        o[i].i = i;
    }
    qsort(o, (size_t)n, sizeof *o, cmp_conf_desc);
    double *f1 = buf + 6 * (n + 2), *px = f1 + NPX, *sm = px + NPX;
    const double pstep = 1.0 / (NPX - 1);
    for (int k = 0; k < NPX; k++) px[k] = k == NPX - 1 ? 1.0 : k * pstep;
    double sum_ap50 = 0, sum_ap = 0;
    for (int c = 0; c < nc; c++) {
        double v50 = 0, vap = 0;
        if (a->n_lab[c] == 0 || !class_ap(a, o, c, buf, px, pc + (size_t)c * NPX, rc + (size_t)c * NPX, &v50, &vap))
            continue;
        sum_ap50 += v50;
        if (ap50) ap50[c] = v50;
        sum_ap += vap;
        if (ap) ap[c] = vap;
    }
    const int ncls = r->n_classes;
    const int best = best_f1_index(a, pc, rc, ncls, f1, sm);
    double mp = 0, mr = 0;
    for (int c = 0; c < nc; c++) {
        if (a->n_lab[c] == 0) continue;
        mp += pc[(size_t)c * NPX + best];
        mr += rc[(size_t)c * NPX + best];
    }
    r->precision = mp / ncls;
    r->recall = mr / ncls;
    r->map50 = sum_ap50 / ncls;
    r->map = sum_ap / ncls;
    free(o);
    free(buf);
    free(pc);
    free(rc);
    return MT_OK;
}
