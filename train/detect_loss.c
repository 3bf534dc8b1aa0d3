/* train/detect_loss.c: YOLOv5 ComputeLoss (utils/loss.py, v6.x / v7.0) composed
 * from medtrain tensor ops, so it runs on the predictions' device and
 * mt_backward differentiates it (detect.h). build_targets runs on the host in
 * float32 like YOLOv5's (the same cell/anchor decisions); CIoU is
 * utils/metrics.py bbox_iou(xywh=True, CIoU=True, eps=1e-7). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"

mt_yolo_head mt_yolo_head_default(int nc)
{
    static const double a[3][6] = {{10, 13, 16, 30, 33, 23}, {30, 61, 62, 45, 59, 119}, {116, 90, 156, 198, 373, 326}};
    mt_yolo_head h;
    memset(&h, 0, sizeof h);
    h.nl = 3;
    h.na = 3;
    h.nc = nc;
    for (int l = 0; l < 3; l++) {
        h.stride[l] = 8 << l;
        for (int k = 0; k < 3; k++) {
            h.anchors[l][k][0] = a[l][2 * k];
            h.anchors[l][k][1] = a[l][2 * k + 1];
        }
    }
    return h;
}

mt_yolo_hyp mt_yolo_hyp_default(int nl)
{
    static const double b3[3] = {4.0, 1.0, 0.4}, b5[5] = {4.0, 1.0, 0.25, 0.06, 0.02};
    mt_yolo_hyp h;
    memset(&h, 0, sizeof h);
    h.box = 0.05;
    h.obj = 1.0;
    h.cls = 0.5;
    h.cls_pw = 1.0;
    h.obj_pw = 1.0;
    h.anchor_t = 4.0;
    h.label_smoothing = 0.0;
    h.gr = 1.0;
    for (int l = 0; l < MT_YOLO_MAX_LEVELS; l++) h.balance[l] = nl == 3 ? (l < 3 ? b3[l] : 0) : b5[l];
    return h;
}

void mt_yolo_hyp_scale(mt_yolo_hyp *h, int nc, int nl, int imgsz)
{
    h->box *= 3.0 / nl;
    h->cls *= nc / 80.0 * 3.0 / nl;
    h->obj *= (imgsz / 640.0) * (imgsz / 640.0) * 3.0 / nl;
}

/* ------------------------------------------------------ build_targets --- */

/* One assigned (target, anchor, cell) of a level. */
typedef struct yolo_assign {
    int b, a, gj, gi, cls;
    float tx, ty, tw, th; /* target box in grid units relative to the cell: gxy - gij, gwh */
    float aw, ah;         /* anchor in grid units */
} yolo_assign;

/* YOLOv5 build_targets for one level of H x W cells: entries in YOLOv5's order
 * (offset j = 0..4 outer, then anchor, then target). *out is malloc'd. */
static mt_status build_level(const mt_yolo_head *hd, int l, int H, int W, const float *tg, int nt, double anchor_t,
                             yolo_assign **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (nt == 0) return MT_OK;
    const int na = hd->na;
    yolo_assign *v = mt_malloc((size_t)5 * na * nt * sizeof *v);
    if (!v) return mt_last_status();
    const float g = 0.5f, gw = (float)W, gh = (float)H;
    const float offx[5] = {0, 1, 0, -1, 0}, offy[5] = {0, 0, 1, 0, -1};
    int n = 0;
    for (int o = 0; o < 5; o++)
        for (int a = 0; a < na; a++) {
            const float aw = (float)hd->anchors[l][a][0] / (float)hd->stride[l];
            const float ah = (float)hd->anchors[l][a][1] / (float)hd->stride[l];
            for (int t = 0; t < nt; t++) {
                const float *r = tg + 6 * t;
                const float gx = r[2] * gw, gy = r[3] * gh, w = r[4] * gw, h = r[5] * gh;
                float rw = w / aw, rh = h / ah;
                float mw = fmaxf(rw, 1.0f / rw), mh = fmaxf(rh, 1.0f / rh);
                if (!(fmaxf(mw, mh) < (float)anchor_t)) continue;
                const float ix = gw - gx, iy = gh - gy; /* inverse */
                int use;
                switch (o) {
                case 0: use = 1; break;
                case 1: use = (gx - floorf(gx)) < g && gx > 1.f; break;
                case 2: use = (gy - floorf(gy)) < g && gy > 1.f; break;
                case 3: use = (ix - floorf(ix)) < g && ix > 1.f; break;
                default: use = (iy - floorf(iy)) < g && iy > 1.f; break;
                }
                if (!use) continue;
                int gi = (int)(gx - offx[o] * g), gj = (int)(gy - offy[o] * g); /* .long(): truncation */
                gi = gi < 0 ? 0 : (gi > W - 1 ? W - 1 : gi);
                gj = gj < 0 ? 0 : (gj > H - 1 ? H - 1 : gj);
                yolo_assign *e = &v[n++];
                e->b = (int)r[0];
                e->cls = (int)r[1];
                e->a = a;
                e->gi = gi;
                e->gj = gj;
                e->tx = gx - (float)gi;
                e->ty = gy - (float)gj;
                e->tw = w;
                e->th = h;
                e->aw = aw;
                e->ah = ah;
            }
        }
    *out = v;
    *n_out = n;
    return MT_OK;
}

/* ------------------------------------------------------------- helpers --- */

/* Tensors made while composing; released together at the end (the loss graph
 * keeps its own references). */
typedef struct tlist {
    mt_tensor **t;
    int n, cap;
} tlist;

static mt_tensor *keep(tlist *L, mt_tensor *t)
{
    if (!t) return NULL;
    if (L->n == L->cap) {
        int cap = L->cap ? 2 * L->cap : 256;
        mt_tensor **nt = mt_realloc(L->t, (size_t)cap * sizeof *nt);
        if (!nt) {
            mt_tensor_release(t);
            return NULL;
        }
        L->t = nt;
        L->cap = cap;
    }
    L->t[L->n++] = t;
    return t;
}

static void tlist_free(tlist *L)
{
    for (int i = 0; i < L->n; i++) mt_tensor_release(L->t[i]);
    free(L->t);
    L->t = NULL;
    L->n = L->cap = 0;
}

/* New [rows, cols] MT_REAL tensor on dev from host doubles. */
static mt_tensor *upload(tlist *L, mt_device dev, int rows, int cols, const double *v)
{
    size_t k = (size_t)rows * cols;
    mt_real *h = mt_malloc((k ? k : 1) * sizeof *h);
    if (!h) return NULL;
    for (size_t i = 0; i < k; i++) h[i] = (mt_real)v[i];
    int shape[2] = {rows, cols};
    mt_tensor *t = mt_tensor_from_host(dev, 2, shape, h);
    free(h);
    return keep(L, t);
}

/* elementwise min / max of a (needs grad) and b (constant), torch.min / torch.max:
 * the gradient goes to the selected operand (a on ties). */
static mt_tensor *emin(tlist *L, mt_tensor *a, mt_tensor *b)
{
    mt_tensor *gt = keep(L, mt_greater(keep(L, mt_sub(a, b)), 0.0));
    return keep(L, mt_where(gt, b, a));
}
static mt_tensor *emax(tlist *L, mt_tensor *a, mt_tensor *b)
{
    mt_tensor *gt = keep(L, mt_greater(keep(L, mt_sub(b, a)), 0.0));
    return keep(L, mt_where(gt, b, a));
}

/* The prediction as [N*A*H*W, 5+nc] rows plus N, A, H, W. */
static mt_tensor *pred_rows(tlist *L, const mt_yolo_head *hd, int l, mt_tensor *p, int dims[4], mt_tensor **p5)
{
    const int no = 5 + hd->nc;
    mt_tensor *q = p;
    if (p->ndim == 4) {
        if (p->shape[1] != hd->na * no) {
            MT_ERR(MT_ERR_INVALID, "mt_yolo_loss: level %d has %d channels, expected na * (5 + nc) = %d", l,
                   p->shape[1], hd->na * no);
            return NULL;
        }
        int s5[5] = {p->shape[0], hd->na, no, p->shape[2], p->shape[3]};
        int perm[5] = {0, 1, 3, 4, 2};
        q = keep(L, mt_permute(keep(L, mt_reshape(p, 5, s5)), 5, perm));
        if (!q) return NULL;
    } else if (p->ndim != 5 || p->shape[1] != hd->na || p->shape[4] != no) {
        char buf[64];
        MT_ERR(MT_ERR_INVALID, "mt_yolo_loss: level %d prediction %s is neither [N, %d, H, W, %d] nor [N, %d, H, W]",
               l, mt_shape_str(p, buf, sizeof buf), hd->na, no, hd->na * no);
        return NULL;
    }
    for (int d = 0; d < 4; d++) dims[d] = q->shape[d];
    *p5 = q;
    int s2[2] = {dims[0] * dims[1] * dims[2] * dims[3], no};
    return keep(L, mt_reshape(q, 2, s2));
}

/* CIoU(pred xywh, target) of bbox_iou(xywh=True, CIoU=True, eps=1e-7), [n, 1].
 * pxy, pwh: [n, 2] with grad; e: the n assignments (target constants). */
static mt_tensor *ciou(tlist *L, mt_device dev, mt_tensor *pxy, mt_tensor *pwh, const yolo_assign *e, int n)
{
    const double eps = 1e-7;
    double *c = mt_malloc((size_t)8 * (n ? n : 1) * sizeof *c);
    if (!c) return NULL;
    double *tx1 = c, *tx2 = c + n, *ty1 = c + 2 * n, *ty2 = c + 3 * n, *tarea = c + 4 * n, *tsx = c + 5 * n,
           *tsy = c + 6 * n, *tat = c + 7 * n;
    for (int i = 0; i < n; i++) {
        /* in double from the float32 assignment (the precision of the loss itself) */
        double x = e[i].tx, y = e[i].ty, w = e[i].tw, h = e[i].th, w_ = w / 2, h_ = h / 2;
        double x1 = x - w_, x2 = x + w_, y1 = y - h_, y2 = y + h_;
        tx1[i] = x1;
        tx2[i] = x2;
        ty1[i] = y1;
        ty2[i] = y2;
        tarea[i] = w * h;
        tsx[i] = x1 + x2;
        tsy[i] = y1 + y2;
        tat[i] = atan(w / h);
    }
    mt_tensor *Tx1 = upload(L, dev, n, 1, tx1), *Tx2 = upload(L, dev, n, 1, tx2), *Ty1 = upload(L, dev, n, 1, ty1),
              *Ty2 = upload(L, dev, n, 1, ty2), *Tarea = upload(L, dev, n, 1, tarea),
              *Tsx = upload(L, dev, n, 1, tsx), *Tsy = upload(L, dev, n, 1, tsy), *Tat = upload(L, dev, n, 1, tat);
    free(c);
    mt_tensor *x1 = keep(L, mt_slice(pxy, 1, 0, 1)), *y1 = keep(L, mt_slice(pxy, 1, 1, 2));
    mt_tensor *w1 = keep(L, mt_slice(pwh, 1, 0, 1)), *h1 = keep(L, mt_slice(pwh, 1, 1, 2));
    mt_tensor *w1_ = keep(L, mt_scale(w1, 0.5, 0)), *h1_ = keep(L, mt_scale(h1, 0.5, 0));
    mt_tensor *bx1 = keep(L, mt_sub(x1, w1_)), *bx2 = keep(L, mt_add(x1, w1_));
    mt_tensor *by1 = keep(L, mt_sub(y1, h1_)), *by2 = keep(L, mt_add(y1, h1_));
    /* intersection, union, IoU */
    mt_tensor *iw = keep(L, mt_clamp(keep(L, mt_sub(emin(L, bx2, Tx2), emax(L, bx1, Tx1))), 0, INFINITY));
    mt_tensor *ih = keep(L, mt_clamp(keep(L, mt_sub(emin(L, by2, Ty2), emax(L, by1, Ty1))), 0, INFINITY));
    mt_tensor *inter = keep(L, mt_mul(iw, ih));
    mt_tensor *uni = keep(L, mt_scale(keep(L, mt_sub(keep(L, mt_add(keep(L, mt_mul(w1, h1)), Tarea)), inter)), 1, eps));
    mt_tensor *iou = keep(L, mt_div(inter, uni));
    /* enclosing box diagonal and centre distance */
    mt_tensor *cw = keep(L, mt_sub(emax(L, bx2, Tx2), emin(L, bx1, Tx1)));
    mt_tensor *ch = keep(L, mt_sub(emax(L, by2, Ty2), emin(L, by1, Ty1)));
    mt_tensor *c2 = keep(L, mt_scale(keep(L, mt_add(keep(L, mt_square(cw)), keep(L, mt_square(ch)))), 1, eps));
    mt_tensor *dx = keep(L, mt_sub(Tsx, keep(L, mt_add(bx1, bx2))));
    mt_tensor *dy = keep(L, mt_sub(Tsy, keep(L, mt_add(by1, by2))));
    mt_tensor *rho2 = keep(L, mt_scale(keep(L, mt_add(keep(L, mt_square(dx)), keep(L, mt_square(dy)))), 0.25, 0));
    /* aspect term v and its detached weight alpha = v / (v - iou + 1 + eps) */
    mt_tensor *at1 = keep(L, mt_atan(keep(L, mt_div(w1, h1))));
    mt_tensor *v = keep(L, mt_scale(keep(L, mt_square(keep(L, mt_sub(Tat, at1)))), 4.0 / (M_PI * M_PI), 0));
    mt_tensor *alpha = NULL;
    if (v && iou) {
        int prev = mt_set_grad_enabled(0);
        mt_tensor *vd = keep(L, mt_tensor_alias(v)), *id = keep(L, mt_tensor_alias(iou));
        alpha = keep(L, mt_div(vd, keep(L, mt_scale(keep(L, mt_sub(vd, id)), 1, 1 + eps))));
        mt_set_grad_enabled(prev);
    }
    mt_tensor *pen = keep(L, mt_add(keep(L, mt_div(rho2, c2)), keep(L, mt_mul(v, alpha))));
    return keep(L, mt_sub(iou, pen));
}

/* ---------------------------------------------------------------- loss --- */

static mt_status check_targets(const mt_yolo_head *hd, const float *tg, int nt, int N)
{
    MT_REQUIRE(nt >= 0 && (nt == 0 || tg), "mt_yolo_loss: %d targets with NULL array", nt);
    for (int t = 0; t < nt; t++) {
        const float *r = tg + 6 * t;
        for (int k = 0; k < 6; k++)
            MT_REQUIRE(isfinite(r[k]), "mt_yolo_loss: target %d column %d is not finite", t, k);
        MT_REQUIRE(r[0] >= 0 && (int)r[0] < N && r[0] == floorf(r[0]),
                   "mt_yolo_loss: target %d image index %g outside [0, %d)", t, r[0], N);
        MT_REQUIRE(r[1] >= 0 && (int)r[1] < hd->nc && r[1] == floorf(r[1]),
                   "mt_yolo_loss: target %d class %g outside [0, %d)", t, r[1], hd->nc);
        MT_REQUIRE(r[4] > 0 && r[5] > 0, "mt_yolo_loss: target %d has width %g, height %g (must be > 0)", t, r[4],
                   r[5]);
    }
    return MT_OK;
}

/* Host arrays of the n assignments: flat cell index, anchor (w, h), smoothed one-hot class targets. */
static void assign_arrays(const mt_yolo_hyp *hy, const yolo_assign *e, int n, const int dims[4], int nc, int32_t *ix,
                          double *anc, double *tcls)
{
    const int A = dims[1], H = dims[2], W = dims[3];
    const double cp = 1.0 - 0.5 * hy->label_smoothing, cn = 0.5 * hy->label_smoothing;
    for (int i = 0; i < n; i++) {
        ix[i] = ((e[i].b * A + e[i].a) * H + e[i].gj) * W + e[i].gi;
        anc[2 * i] = e[i].aw;
        anc[2 * i + 1] = e[i].ah;
        if (tcls)
            for (int k = 0; k < nc; k++) tcls[(size_t)i * nc + k] = k == e[i].cls ? cp : cn;
    }
}

/* Objectness targets of the assigned cells: detached CIoU clamped at 0, the highest wins a shared cell, gr blend. */
static mt_status fill_tobj(const mt_yolo_hyp *hy, const int32_t *ix, const mt_real *iouh, int n, float *tobj,
                           size_t cells)
{
    int *hit = mt_calloc(cells, sizeof *hit);
    if (!hit) return mt_last_status();
    for (int i = 0; i < n; i++) {
        float v = (float)iouh[i];
        v = v > 0 ? v : 0;
        if (!hit[ix[i]] || v > tobj[ix[i]]) tobj[ix[i]] = v;
        hit[ix[i]] = 1;
    }
    if (hy->gr < 1)
        for (size_t k = 0; k < cells; k++)
            if (hit[k]) tobj[k] = (float)((1.0 - hy->gr) + hy->gr * tobj[k]);
    free(hit);
    return MT_OK;
}

/* Class BCE of the selected prediction rows ps against tcls ([n, nc]), added to *lcls. */
static mt_status class_loss(tlist *L, const mt_yolo_hyp *hy, mt_device dev, mt_tensor *ps, const double *tcls, int n,
                            int nc, mt_tensor **lcls)
{
    mt_tensor *pcls = keep(L, mt_slice(ps, 1, 5, 5 + nc));
    mt_tensor *pw = NULL;
    if (hy->cls_pw != 1.0) pw = upload(L, dev, 1, 1, &hy->cls_pw);
    mt_tensor *lc = keep(L, mt_bce_with_logits(pcls, upload(L, dev, n, nc, tcls), NULL, pw, MT_REDUCE_MEAN));
    if (!lc) return mt_last_status();
    *lcls = *lcls ? keep(L, mt_add(*lcls, lc)) : lc;
    return MT_OK;
}

/* The n assigned cells: box CIoU loss into *lbox, their objectness targets into tobj, class loss into *lcls. */
static mt_status assigned_loss(tlist *L, const mt_yolo_hyp *hy, mt_device dev, mt_tensor *rows, const yolo_assign *e,
                               int n, const int dims[4], int nc, float *tobj, mt_tensor **lbox, mt_tensor **lcls)
{
    const size_t cells = (size_t)dims[0] * dims[1] * dims[2] * dims[3];
    mt_status st = MT_OK;
    int32_t *ix = mt_malloc((size_t)n * sizeof *ix);
    double *anc = mt_malloc((size_t)2 * n * sizeof *anc);
    double *tcls = nc > 1 ? mt_malloc((size_t)n * nc * sizeof *tcls) : NULL;
    mt_real *iouh = mt_malloc((size_t)n * sizeof *iouh);
    if (!ix || !anc || (nc > 1 && !tcls) || !iouh) {
        st = mt_last_status();
        goto done;
    }
    assign_arrays(hy, e, n, dims, nc, ix, anc, tcls);
    int s1[1] = {n};
    mt_tensor *idx = keep(L, mt_tensor_new(MT_I32, dev, 1, s1));
    if (!idx || mt_tensor_from_host_into(idx, ix, (size_t)n * sizeof *ix) != MT_OK) {
        st = mt_last_status();
        goto done;
    }
    mt_tensor *ps = keep(L, mt_index_select(rows, idx)); /* pi[b, a, gj, gi]: [n, 5 + nc] */
    mt_tensor *pxy = keep(L, mt_scale(keep(L, mt_sigmoid(keep(L, mt_slice(ps, 1, 0, 2)))), 2, -0.5));
    mt_tensor *s2 = keep(L, mt_scale(keep(L, mt_sigmoid(keep(L, mt_slice(ps, 1, 2, 4)))), 2, 0));
    mt_tensor *pwh = keep(L, mt_mul(keep(L, mt_square(s2)), upload(L, dev, n, 2, anc)));
    mt_tensor *ci = ciou(L, dev, pxy, pwh, e, n);
    mt_tensor *lb = keep(L, mt_mean_all(keep(L, mt_scale(ci, -1, 1))));
    if (!lb) {
        st = mt_last_status();
        goto done;
    }
    *lbox = *lbox ? keep(L, mt_add(*lbox, lb)) : lb;
    if ((st = mt_tensor_to_host(ci, iouh, (size_t)n * sizeof *iouh)) != MT_OK) goto done;
    if ((st = fill_tobj(hy, ix, iouh, n, tobj, cells)) != MT_OK) goto done;
    if (nc > 1) st = class_loss(L, hy, dev, ps, tcls, n, nc, lcls);
done:
    free(ix);
    free(anc);
    free(tcls);
    free(iouh);
    return st;
}

/* Objectness BCE over all cells of p5 against tobj, times balance[l], added to *lobj. */
static mt_status objectness_loss(tlist *L, const mt_yolo_hyp *hy, int l, mt_device dev, mt_tensor *p5,
                                 const int dims[4], const float *tobj, mt_tensor **lobj)
{
    const size_t cells = (size_t)dims[0] * dims[1] * dims[2] * dims[3];
    mt_status st = MT_OK;
    mt_tensor *pobj = keep(L, mt_slice(p5, 4, 4, 5)); /* [N, A, H, W, 1] */
    int s5[5] = {dims[0], dims[1], dims[2], dims[3], 1};
    mt_tensor *tt = keep(L, mt_tensor_new(MT_REAL, dev, 5, s5));
    if (tt) {
        mt_real *hv = mt_malloc(cells * sizeof *hv);
        if (!hv) return mt_last_status();
        for (size_t k = 0; k < cells; k++) hv[k] = tobj[k];
        st = mt_tensor_from_host_into(tt, hv, cells * sizeof *hv);
        free(hv);
    }
    if (!tt || st != MT_OK) return mt_last_status();
    mt_tensor *pw = NULL;
    if (hy->obj_pw != 1.0) pw = upload(L, dev, 1, 1, &hy->obj_pw);
    mt_tensor *lo = keep(L, mt_scale(keep(L, mt_bce_with_logits(pobj, tt, NULL, pw, MT_REDUCE_MEAN)), hy->balance[l], 0));
    if (!lo) return mt_last_status();
    *lobj = *lobj ? keep(L, mt_add(*lobj, lo)) : lo;
    return *lobj ? MT_OK : mt_last_status();
}

/* Level l's contribution: adds to lbox / lobj / lcls (tensors or NULL = 0). */
static mt_status level_loss(tlist *L, const mt_yolo_head *hd, const mt_yolo_hyp *hy, int l, mt_tensor *p,
                            const float *tg, int nt, mt_tensor **lbox, mt_tensor **lobj, mt_tensor **lcls, int *bs)
{
    const mt_device dev = p->storage->device;
    int dims[4];
    mt_tensor *p5 = NULL;
    mt_tensor *rows = pred_rows(L, hd, l, p, dims, &p5);
    if (!rows) return mt_last_status();
    const int N = dims[0], A = dims[1], H = dims[2], W = dims[3];
    *bs = N;
    if (l == 0) MT_TRY(check_targets(hd, tg, nt, N));
    yolo_assign *e = NULL;
    int n = 0;
    MT_TRY(build_level(hd, l, H, W, tg, nt, hy->anchor_t, &e, &n));
    float *tobj = mt_calloc((size_t)N * A * H * W, sizeof *tobj);
    if (!tobj) {
        free(e);
        return mt_last_status();
    }
    mt_status st = n > 0 ? assigned_loss(L, hy, dev, rows, e, n, dims, hd->nc, tobj, lbox, lcls) : MT_OK;
    free(e);
    if (st == MT_OK) st = objectness_loss(L, hy, l, dev, p5, dims, tobj, lobj);
    free(tobj);
    return st;
}

mt_status mt_yolo_loss(const mt_yolo_head *head, const mt_yolo_hyp *hyp, mt_tensor *const *preds,
                       const float *targets, int nt, mt_tensor **loss, double components[3])
{
    MT_REQUIRE(head && hyp && preds && loss, "mt_yolo_loss: NULL argument");
    *loss = NULL;
    MT_REQUIRE(head->nl >= 1 && head->nl <= MT_YOLO_MAX_LEVELS && head->na >= 1 && head->na <= MT_YOLO_MAX_ANCHORS &&
                   head->nc >= 1,
               "mt_yolo_loss: bad head (nl %d, na %d, nc %d)", head->nl, head->na, head->nc);
    for (int l = 0; l < head->nl; l++) {
        MT_REQUIRE(preds[l], "mt_yolo_loss: prediction %d is NULL", l);
        MT_REQUIRE(preds[l]->dtype == MT_REAL, "mt_yolo_loss: prediction %d is %s", l, mt_dtype_name(preds[l]->dtype));
        MT_REQUIRE(preds[l]->shape[0] == preds[0]->shape[0] &&
                       mt_device_eq(preds[l]->storage->device, preds[0]->storage->device),
                   "mt_yolo_loss: predictions differ in batch size or device (level %d)", l);
    }
    tlist *L = mt_calloc(1, sizeof *L);
    if (!L) return mt_last_status();
    mt_tensor *lbox = NULL, *lobj = NULL, *lcls = NULL;
    int bs = 0;
    mt_status st = MT_OK;
    for (int l = 0; l < head->nl && st == MT_OK; l++)
        st = level_loss(L, head, hyp, l, preds[l], targets, nt, &lbox, &lobj, &lcls, &bs);
    if (st == MT_OK) {
        mt_tensor *sum = keep(L, mt_scale(lobj, hyp->obj, 0));
        if (lbox) sum = keep(L, mt_add(keep(L, mt_scale(lbox, hyp->box, 0)), sum));
        if (lcls) sum = keep(L, mt_add(sum, keep(L, mt_scale(lcls, hyp->cls, 0))));
        mt_tensor *total = mt_scale(sum, bs, 0);
        if (!total) st = mt_last_status();
        if (st == MT_OK && components) {
            mt_real v[3] = {0, 0, 0};
            mt_tensor *parts[3] = {lbox, lobj, lcls};
            const double gain[3] = {hyp->box, hyp->obj, hyp->cls};
            for (int k = 0; k < 3 && st == MT_OK; k++) {
                if (parts[k]) st = mt_tensor_to_host(parts[k], &v[k], sizeof v[k]);
                components[k] = (double)v[k] * gain[k];
            }
        }
        if (st == MT_OK)
            *loss = total;
        else
            mt_tensor_release(total);
    }
    tlist_free(L);
    free(L);
    return st;
}
