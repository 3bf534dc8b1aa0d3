/* tests/test_detect.c: YOLOv5 detection numerics (train/detect.h) and the ops
 * they added (atan, index_select) against tests/fixtures/detect.h5
 * (gen_detect.py: an independent PyTorch/numpy re-implementation of YOLOv5
 * v7.0 ComputeLoss, non_max_suppression, process_batch and ap_per_class;
 * torchvision.ops.nms). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/device.h"
#include "../core/ops.h"
#include "../train/detect.h"
#include "fixture.h"
#include "test.h"

#define FX "tests/fixtures/detect.h5"

static double attr(const char *name, const char *key)
{
    double v = NAN;
    fx_attr(FX, name, key, &v);
    return v;
}

/* ------------------------------------------------------------------ ops --- */

TEST(detect_op_atan_matches_torch)
{
    mt_tensor *x = fx_load(FX, "ops/atan/x"), *yr = fx_load(FX, "ops/atan/y"), *gy = fx_load(FX, "ops/atan/gy"),
              *gx = fx_load(FX, "ops/atan/gx");
    CHECK_NOTNULL(x);
    CHECK_NOTNULL(gx);
    mt_requires_grad(x, 1);
    mt_tensor *y = mt_atan(x);
    CHECK_NOTNULL(y);
    CHECK_CLOSE_F(MT_DATA(y), MT_DATA(yr), mt_numel(y), 1e-6, 1e-7);
    CHECK_OK(mt_backward(y, gy, 0));
    CHECK_CLOSE_F(MT_DATA(x->grad), MT_DATA(gx), mt_numel(x), 1e-6, 1e-7);
    mt_tensor_release(y);
    mt_tensor_release(x);
    mt_tensor_release(yr);
    mt_tensor_release(gy);
    mt_tensor_release(gx);
}

TEST(detect_op_index_select_matches_torch)
{
    mt_tensor *x = fx_load(FX, "ops/index_select/x"), *idx = fx_load(FX, "ops/index_select/idx"),
              *yr = fx_load(FX, "ops/index_select/y"), *gy = fx_load(FX, "ops/index_select/gy"),
              *gx = fx_load(FX, "ops/index_select/gx");
    CHECK_NOTNULL(x);
    CHECK_NOTNULL(idx);
    CHECK_NOTNULL(gx);
    CHECK(idx->dtype == MT_I32, "index dtype %s", mt_dtype_name(idx->dtype));
    mt_requires_grad(x, 1);
    mt_tensor *y = mt_index_select(x, idx);
    CHECK_NOTNULL(y);
    CHECK(y->shape[0] == 7 && y->shape[1] == 3 && y->shape[2] == 2, "shape");
    CHECK_CLOSE_F(MT_DATA(y), MT_DATA(yr), mt_numel(y), 0, 0);
    CHECK_OK(mt_backward(y, gy, 0)); /* index 4 appears 3 times: its gradient rows add up */
    CHECK_CLOSE_F(MT_DATA(x->grad), MT_DATA(gx), mt_numel(x), 1e-6, 1e-7);
    /* out of range index is refused on the CPU */
    ((int32_t *)mt_data(idx))[0] = 6;
    mt_tensor *bad = mt_index_select(x, idx);
    CHECK(bad == NULL && strstr(mt_last_error(), "outside"), "out-of-range index accepted: %s", mt_last_error());
    mt_error_clear();
    mt_tensor_release(y);
    mt_tensor_release(x);
    mt_tensor_release(idx);
    mt_tensor_release(yr);
    mt_tensor_release(gy);
    mt_tensor_release(gx);
}

/* ----------------------------------------------------------------- loss --- */

typedef struct loss_case {
    mt_yolo_head head;
    mt_yolo_hyp hyp;
    mt_tensor *p[3], *g[3], *targets, *loss, *comp;
    float *tg;
    int nt;
} loss_case;

static void loss_case_free(loss_case *c)
{
    for (int k = 0; k < 3; k++) {
        mt_tensor_release(c->p[k]);
        mt_tensor_release(c->g[k]);
    }
    mt_tensor_release(c->targets);
    mt_tensor_release(c->loss);
    mt_tensor_release(c->comp);
    free(c->tg);
    memset(c, 0, sizeof *c);
}

static int loss_case_load(const char *name, loss_case *c)
{
    char key[128];
    memset(c, 0, sizeof *c);
    for (int k = 0; k < 3; k++) {
        snprintf(key, sizeof key, "%s/p%d", name, k + 3);
        c->p[k] = fx_load(FX, key);
        snprintf(key, sizeof key, "%s/g%d", name, k + 3);
        c->g[k] = fx_load(FX, key);
        if (!c->p[k] || !c->g[k]) return 0;
    }
    snprintf(key, sizeof key, "%s/targets", name);
    c->targets = fx_load(FX, key);
    snprintf(key, sizeof key, "%s/loss", name);
    c->loss = fx_load(FX, key);
    snprintf(key, sizeof key, "%s/components", name);
    c->comp = fx_load(FX, key);
    if (!c->targets || !c->loss || !c->comp) return 0;
    c->nt = c->targets->ndim == 2 ? c->targets->shape[0] : 0;
    c->tg = malloc(sizeof(float) * 6 * (c->nt ? c->nt : 1));
    for (int i = 0; i < 6 * c->nt; i++) c->tg[i] = (float)MT_DATA(c->targets)[i];
    c->head = mt_yolo_head_default((int)attr(name, "nc"));
    c->hyp = mt_yolo_hyp_default(3);
    c->hyp.box = attr(name, "box");
    c->hyp.obj = attr(name, "obj");
    c->hyp.cls = attr(name, "cls");
    c->hyp.gr = attr(name, "gr");
    c->hyp.label_smoothing = attr(name, "label_smoothing");
    return 1;
}

/* Runs the loss on `dev` with the case's predictions and checks loss,
 * components and d loss / d p against the fixture. */
static void check_loss_case(mt_test_ctx *T_, const char *name, mt_device dev)
{
    loss_case c;
    if (!loss_case_load(name, &c)) {
        loss_case_free(&c);
        CHECK(0, "%s: fixture: %s", name, mt_last_error());
    }
    mt_tensor *p[3] = {0};
    for (int k = 0; k < 3; k++) {
        p[k] = mt_tensor_to(c.p[k], dev);
        CHECK_NOTNULL(p[k]);
        mt_requires_grad(p[k], 1);
    }
    mt_tensor *loss = NULL;
    double comp[3];
    CHECK_OK(mt_yolo_loss(&c.head, &c.hyp, p, c.tg, c.nt, &loss, comp));
    CHECK(loss->ndim == 0, "%s: loss is not 0-d", name);
    mt_real lv;
    CHECK_OK(mt_tensor_to_host(loss, &lv, sizeof lv));
    double ref = MT_DATA(c.loss)[0];
    CHECK(fabs(lv - ref) <= 1e-5 * fabs(ref), "%s: loss %.9g vs torch %.9g", name, (double)lv, ref);
    for (int k = 0; k < 3; k++) {
        double r = MT_DATA(c.comp)[k];
        CHECK(fabs(comp[k] - r) <= 1e-5 * fabs(r) + 1e-9, "%s: component %d %.9g vs torch %.9g", name, k, comp[k], r);
    }
    CHECK_OK(mt_backward(loss, NULL, 0));
    for (int k = 0; k < 3; k++) {
        CHECK_NOTNULL(p[k]->grad);
        mt_tensor *g = mt_tensor_to(p[k]->grad, mt_cpu());
        CHECK_NOTNULL(g);
        char why[512];
        int ok = mt_test_close_f(MT_DATA(g), MT_DATA(c.g[k]), mt_numel(g), 0, 1e-5, why, sizeof why);
        mt_tensor_release(g);
        CHECK(ok, "%s: d loss / d p%d: %s", name, k + 3, why);
    }
    mt_tensor_release(loss);
    for (int k = 0; k < 3; k++) mt_tensor_release(p[k]);
    loss_case_free(&c);
}

TEST(detect_yolo_loss_matches_torch)
{
    /* case0: nc 3, 2 images 96x128, targets at cell borders, a shared cell, an
     * anchor-ratio reject; case1: nc 1 (no class loss), gr 0.7, label smoothing
     * 0.1; case2: no targets (objectness only) */
    const char *cases[3] = {"loss/case0", "loss/case1", "loss/case2"};
    size_t before = mt_alloc_in_use(MT_CPU);
    for (int i = 0; i < 3; i++) {
        check_loss_case(T_, cases[i], mt_cpu());
        if (T_->failed) return;
    }
    /* releasing the loss after backward frees the whole graph and every intermediate */
    CHECK(mt_alloc_in_use(MT_CPU) == before, "the loss leaked %zu bytes", mt_alloc_in_use(MT_CPU) - before);
}

TEST(detect_yolo_loss_cuda_matches_torch)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    check_loss_case(T_, "loss/case0", mt_cuda(0));
    if (T_->failed) return;
    check_loss_case(T_, "loss/case1", mt_cuda(0));
}

/* The conv's [N, A*(5+nc), H, W] layout gives the same loss and (permuted) gradient. */
TEST(detect_yolo_loss_conv_layout)
{
    loss_case c;
    if (!loss_case_load("loss/case0", &c)) {
        loss_case_free(&c);
        CHECK(0, "fixture: %s", mt_last_error());
    }
    mt_tensor *p[3] = {0};
    for (int k = 0; k < 3; k++) {
        const mt_tensor *s = c.p[k];
        int N = s->shape[0], A = s->shape[1], H = s->shape[2], W = s->shape[3], no = s->shape[4];
        p[k] = mt_tensor_new4(MT_REAL, mt_cpu(), N, A * no, H, W);
        CHECK_NOTNULL(p[k]);
        for (int b = 0; b < N; b++)
            for (int a = 0; a < A; a++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++)
                        for (int j = 0; j < no; j++)
                            MT_DATA(p[k])[(((size_t)b * A * no + a * no + j) * H + y) * W + x] =
                                MT_DATA(s)[((((size_t)b * A + a) * H + y) * W + x) * no + j];
        mt_requires_grad(p[k], 1);
    }
    mt_tensor *loss = NULL;
    CHECK_OK(mt_yolo_loss(&c.head, &c.hyp, p, c.tg, c.nt, &loss, NULL));
    double ref = MT_DATA(c.loss)[0];
    CHECK(fabs(MT_DATA(loss)[0] - ref) <= 1e-5 * fabs(ref), "loss %.9g vs %.9g", (double)MT_DATA(loss)[0], ref);
    CHECK_OK(mt_backward(loss, NULL, 0));
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        const mt_tensor *s = c.g[k];
        int N = s->shape[0], A = s->shape[1], H = s->shape[2], W = s->shape[3], no = s->shape[4];
        for (int b = 0; b < N; b++)
            for (int a = 0; a < A; a++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++)
                        for (int j = 0; j < no; j++) {
                            double d = MT_DATA(p[k]->grad)[(((size_t)b * A * no + a * no + j) * H + y) * W + x] -
                                       MT_DATA(s)[((((size_t)b * A + a) * H + y) * W + x) * no + j];
                            worst = fmax(worst, fabs(d));
                        }
    }
    CHECK(worst <= 1e-5, "gradient differs by %g", worst);
    mt_tensor_release(loss);
    for (int k = 0; k < 3; k++) mt_tensor_release(p[k]);
    loss_case_free(&c);
}

TEST(detect_yolo_loss_rejects_bad_targets)
{
    loss_case c;
    if (!loss_case_load("loss/case0", &c)) {
        loss_case_free(&c);
        CHECK(0, "fixture: %s", mt_last_error());
    }
    mt_tensor *loss = NULL;
    float t[6] = {0, 3, 0.5f, 0.5f, 0.1f, 0.1f}; /* class 3 with nc 3 */
    CHECK(mt_yolo_loss(&c.head, &c.hyp, c.p, t, 1, &loss, NULL) == MT_ERR_INVALID && !loss, "class 3 accepted");
    CHECK(strstr(mt_last_error(), "class"), "message: %s", mt_last_error());
    mt_error_clear();
    t[1] = 0;
    t[0] = 2; /* image 2 of a batch of 2 */
    CHECK(mt_yolo_loss(&c.head, &c.hyp, c.p, t, 1, &loss, NULL) == MT_ERR_INVALID, "image 2 accepted");
    CHECK(strstr(mt_last_error(), "image index"), "message: %s", mt_last_error());
    mt_error_clear();
    mt_yolo_head h = c.head;
    h.nc = 4; /* channel count no longer matches */
    t[0] = 0;
    CHECK(mt_yolo_loss(&h, &c.hyp, c.p, t, 1, &loss, NULL) == MT_ERR_INVALID, "wrong nc accepted");
    CHECK(strstr(mt_last_error(), "channels") || strstr(mt_last_error(), "neither"), "message: %s", mt_last_error());
    mt_error_clear();
    loss_case_free(&c);
}

TEST(detect_hyp_defaults_and_scaling)
{
    mt_yolo_hyp h = mt_yolo_hyp_default(3);
    CHECK(h.box == 0.05 && h.obj == 1.0 && h.cls == 0.5 && h.anchor_t == 4.0 && h.gr == 1.0, "defaults");
    CHECK(h.balance[0] == 4.0 && h.balance[1] == 1.0 && h.balance[2] == 0.4, "balance");
    mt_yolo_hyp_scale(&h, 3, 3, 128);
    CHECK(fabs(h.box - 0.05) < 1e-15 && fabs(h.cls - 0.5 * 3 / 80) < 1e-15 && fabs(h.obj - 0.04) < 1e-15,
          "scaled box %g cls %g obj %g", h.box, h.cls, h.obj);
    /* the fixture's gains were computed the same way in gen_detect.py */
    CHECK(fabs(h.obj - attr("loss/case0", "obj")) < 1e-12 && fabs(h.cls - attr("loss/case0", "cls")) < 1e-12,
          "fixture gains differ");
    mt_yolo_head d = mt_yolo_head_default(1);
    CHECK(d.nl == 3 && d.na == 3 && d.stride[2] == 32 && d.anchors[2][2][0] == 373 && d.anchors[0][1][1] == 30,
          "default head");
}

/* ---------------------------------------------------------------- boxes --- */

TEST(detect_targets_from_dataset_boxes)
{
    /* medtrain frame: pixel centres at integers, image 100 wide x 50 high spans [-0.5, 99.5] x [-0.5, 49.5] */
    const float boxes[12] = {0, -0.5f, -0.5f, 99.5f, 49.5f, 2, /* the whole image */
                             1, 10, 20, 30, 24, 0};
    float t[12];
    CHECK_OK(mt_yolo_targets_from_boxes(boxes, 2, 50, 100, t));
    const float ref[12] = {0, 2, 0.5f, 0.5f, 1.0f, 1.0f, 1, 0, 20.5f / 100, 22.5f / 50, 0.2f, 4.0f / 50};
    CHECK_CLOSE_F(t, ref, 12, 1e-6, 1e-7);
    const float bad[6] = {0, 10, 10, 5, 20, 0};
    CHECK(mt_yolo_targets_from_boxes(bad, 1, 50, 100, t) == MT_ERR_INVALID, "x1 < x0 accepted");
    mt_error_clear();
}

/* ------------------------------------------------------------------ NMS --- */

TEST(detect_nms_matches_torchvision)
{
    /* random boxes with duplicates and tied scores at IoU 0.45 and 0.2; class-aware
     * (offset 7680 per class); one box; IoU exactly at the threshold */
    const char *cases[5] = {"nms/case0", "nms/case1", "nms/case2", "nms/case3", "nms/case4"};
    for (int c = 0; c < 5; c++) {
        char key[64];
        snprintf(key, sizeof key, "%s/boxes", cases[c]);
        mt_tensor *b = fx_load(FX, key);
        snprintf(key, sizeof key, "%s/scores", cases[c]);
        mt_tensor *s = fx_load(FX, key);
        snprintf(key, sizeof key, "%s/classes", cases[c]);
        mt_tensor *cl = fx_load(FX, key);
        snprintf(key, sizeof key, "%s/keep", cases[c]);
        mt_tensor *kr = fx_load(FX, key);
        CHECK_NOTNULL(b);
        CHECK_NOTNULL(s);
        CHECK_NOTNULL(cl);
        CHECK_NOTNULL(kr);
        int n = s->shape[0];
        float *bf = malloc(sizeof(float) * 4 * n), *sf = malloc(sizeof(float) * n);
        int *keep = malloc(sizeof(int) * n), nk = -1;
        for (int i = 0; i < 4 * n; i++) bf[i] = (float)MT_DATA(b)[i];
        for (int i = 0; i < n; i++) sf[i] = (float)MT_DATA(s)[i];
        double iou = attr(cases[c], "iou"), max_wh = attr(cases[c], "max_wh");
        mt_status st = max_wh > 0 ? mt_batched_nms(bf, sf, (const int *)mt_data(cl), n, iou, max_wh, keep, &nk)
                                  : mt_nms(bf, sf, n, iou, keep, &nk);
        int ok = st == MT_OK && nk == kr->shape[0];
        for (int i = 0; ok && i < nk; i++) ok = keep[i] == ((const int32_t *)mt_data(kr))[i];
        int nref = kr->shape[0];
        free(bf);
        free(sf);
        free(keep);
        mt_tensor_release(b);
        mt_tensor_release(s);
        mt_tensor_release(cl);
        mt_tensor_release(kr);
        CHECK(ok, "%s: kept %d boxes, torchvision %d (or order differs)", cases[c], nk, nref);
    }
    int nk = -1;
    CHECK_OK(mt_nms(NULL, NULL, 0, 0.5, NULL, &nk));
    CHECK(nk == 0, "empty input");
}

/* --------------------------------------------------------------- detect --- */

TEST(detect_decode_nms_matches_yolov5)
{
    loss_case c;
    if (!loss_case_load("loss/case0", &c)) {
        loss_case_free(&c);
        CHECK(0, "fixture: %s", mt_last_error());
    }
    mt_tensor *ref = fx_load(FX, "detect/det");
    CHECK_NOTNULL(ref);
    mt_nms_params p = mt_nms_params_default();
    p.conf_thres = attr("detect", "conf_thres");
    p.iou_thres = attr("detect", "iou_thres");
    mt_detections out[2];
    CHECK_OK(mt_yolo_detect(&c.head, c.p, p, 0, out));
    int m = ref->shape[0], k = 0;
    char why[256] = "";
    for (int b = 0; b < 2 && !why[0]; b++)
        for (int i = 0; i < out[b].n; i++, k++) {
            if (k >= m) {
                snprintf(why, sizeof why, "more detections than the reference (%d)", m);
                break;
            }
            const mt_real *r = MT_DATA(ref) + 7 * k;
            const mt_detection *d = &out[b].det[i];
            float v[5] = {d->x0, d->y0, d->x1, d->y1, d->score};
            int bad = (int)r[0] != b || (int)r[6] != d->cls;
            for (int j = 0; j < 5; j++) bad |= fabs(v[j] - r[1 + j]) > 1e-4 * fmax(1.0, fabs(r[1 + j]));
            if (bad) {
                snprintf(why, sizeof why, "detection %d (image %d): (%g %g %g %g %g c%d) vs (%g %g %g %g %g c%g)", k, b,
                         v[0], v[1], v[2], v[3], v[4], d->cls, r[1], r[2], r[3], r[4], r[5], r[6]);
                break;
            }
        }
    if (!why[0] && k != m) snprintf(why, sizeof why, "%d detections, reference %d", k, m);
    /* the medtrain-frame variant is the same boxes shifted by -0.5 px */
    mt_detections sh[2];
    if (!why[0] && mt_yolo_detect(&c.head, c.p, p, 1, sh) == MT_OK) {
        if (sh[0].n != out[0].n || fabs(sh[0].det[0].x0 - (out[0].det[0].x0 - 0.5f)) > 1e-4)
            snprintf(why, sizeof why, "medtrain frame shift");
        mt_detections_free(sh, 2);
    }
    /* max_det keeps the first (most confident) detections of each image */
    mt_nms_params p5 = p;
    p5.max_det = 5;
    if (!why[0] && mt_yolo_detect(&c.head, c.p, p5, 0, sh) == MT_OK) {
        for (int b = 0; b < 2 && !why[0]; b++) {
            int want = out[b].n < 5 ? out[b].n : 5;
            if (sh[b].n != want || memcmp(sh[b].det, out[b].det, sizeof(mt_detection) * want))
                snprintf(why, sizeof why, "max_det 5: image %d has %d detections", b, sh[b].n);
        }
        mt_detections_free(sh, 2);
    }
    mt_detections_free(out, 2);
    mt_tensor_release(ref);
    loss_case_free(&c);
    CHECK(!why[0], "%s", why);
}

/* ------------------------------------------------------------------ mAP --- */

TEST(detect_map_matches_yolov5)
{
    const char *cases[2] = {"map/case0", "map/case1"};
    for (int c = 0; c < 2; c++) {
        char key[64];
        snprintf(key, sizeof key, "%s/det", cases[c]);
        mt_tensor *det = fx_load(FX, key);
        snprintf(key, sizeof key, "%s/labels", cases[c]);
        mt_tensor *lab = fx_load(FX, key);
        snprintf(key, sizeof key, "%s/ap50", cases[c]);
        mt_tensor *ap50r = fx_load(FX, key);
        snprintf(key, sizeof key, "%s/ap", cases[c]);
        mt_tensor *apr = fx_load(FX, key);
        CHECK_NOTNULL(det);
        CHECK_NOTNULL(lab);
        CHECK_NOTNULL(apr);
        const int nc = (int)attr(cases[c], "nc"), ni = (int)attr(cases[c], "n_images");
        /* case0 image by image (mt_map_acc_add), case1 as one batch of dataset-layout boxes (mt_map_acc_add_batch) */
        mt_map_acc *acc = mt_map_acc_new(nc);
        CHECK_NOTNULL(acc);
        int nd = det->shape[0], nl = lab->shape[0];
        mt_detections *dd = calloc((size_t)ni, sizeof *dd);
        float *l = malloc(sizeof(float) * 5 * (nl ? nl : 1)), *bx = malloc(sizeof(float) * 6 * (nl ? nl : 1));
        mt_status st = MT_OK;
        for (int b = 0; b < ni; b++) {
            dd[b].det = malloc(sizeof(mt_detection) * (nd ? nd : 1));
            for (int i = 0; i < nd; i++) {
                const mt_real *r = MT_DATA(det) + 7 * i;
                if ((int)r[0] != b) continue;
                dd[b].det[dd[b].n++] =
                    (mt_detection){(float)r[1], (float)r[2], (float)r[3], (float)r[4], (float)r[5], (int)r[6]};
            }
        }
        for (int i = 0; i < nl; i++) {
            const mt_real *r = MT_DATA(lab) + 6 * i;
            float row[6] = {(float)r[0], (float)r[2], (float)r[3], (float)r[4], (float)r[5], (float)r[1]};
            memcpy(bx + 6 * i, row, sizeof row);
        }
        if (c == 1) {
            st = mt_map_acc_add_batch(acc, dd, ni, bx, nl);
        } else {
            for (int b = 0; b < ni && st == MT_OK; b++) {
                int m = 0;
                for (int i = 0; i < nl; i++) {
                    const mt_real *r = MT_DATA(lab) + 6 * i;
                    if ((int)r[0] != b) continue;
                    for (int j = 0; j < 5; j++) l[5 * m + j] = (float)r[1 + j];
                    m++;
                }
                st = mt_map_acc_add(acc, dd[b].det, dd[b].n, l, m);
            }
        }
        mt_detections_free(dd, ni);
        free(dd);
        free(l);
        free(bx);
        mt_map_result r;
        double ap50[8], ap[8];
        if (st == MT_OK) st = mt_detection_map(acc, &r, ap50, ap);
        mt_map_acc_free(acc);
        CHECK_OK(st);
        const double tol = 1e-9;
        CHECK(fabs(r.map50 - attr(cases[c], "map50")) < tol && fabs(r.map - attr(cases[c], "map")) < tol,
              "%s: mAP50 %.12g mAP %.12g vs %.12g %.12g", cases[c], r.map50, r.map, attr(cases[c], "map50"),
              attr(cases[c], "map"));
        CHECK(fabs(r.precision - attr(cases[c], "mp")) < tol && fabs(r.recall - attr(cases[c], "mr")) < tol,
              "%s: P %.12g R %.12g vs %.12g %.12g", cases[c], r.precision, r.recall, attr(cases[c], "mp"),
              attr(cases[c], "mr"));
        CHECK(r.n_labels == nl, "%s: %d labels counted, %d given", cases[c], r.n_labels, nl);
        for (int k = 0; k < nc; k++) {
            double e50 = MT_DATA(ap50r)[k], e = MT_DATA(apr)[k];
            /* per-class references are read back as float32 (fx_load) */
            int same = isnan(e50) ? isnan(ap50[k]) && isnan(ap[k]) : fabs(ap50[k] - e50) < 1e-7 && fabs(ap[k] - e) < 1e-7;
            CHECK(same, "%s: class %d AP50 %.12g AP %.12g vs %.12g %.12g", cases[c], k, ap50[k], ap[k], e50, e);
        }
        mt_tensor_release(det);
        mt_tensor_release(lab);
        mt_tensor_release(ap50r);
        mt_tensor_release(apr);
    }
}

TEST(detect_map_perfect_and_empty)
{
    /* every label found exactly: AP = 0.995 at all thresholds (YOLOv5's 101-point
     * interpolation reads the envelope's end sentinel 0 at recall 1); P = R = 1 */
    mt_map_acc *acc = mt_map_acc_new(2);
    CHECK_NOTNULL(acc);
    const float lab[10] = {0, 10, 10, 50, 60, 1, 70, 20, 90, 40};
    mt_detection d[2] = {{10, 10, 50, 60, 0.9f, 0}, {70, 20, 90, 40, 0.8f, 1}};
    CHECK_OK(mt_map_acc_add(acc, d, 2, lab, 2));
    mt_map_result r;
    CHECK_OK(mt_detection_map(acc, &r, NULL, NULL));
    CHECK(fabs(r.map50 - 0.995) < 1e-12 && fabs(r.map - 0.995) < 1e-12, "perfect: mAP50 %g mAP %g", r.map50, r.map);
    CHECK(fabs(r.precision - 1) < 1e-12 && fabs(r.recall - 1) < 1e-12, "perfect: P %g R %g", r.precision, r.recall);
    mt_map_acc_free(acc);
    /* no true positive at all: val.py reports zeros */
    acc = mt_map_acc_new(2);
    CHECK_NOTNULL(acc);
    d[0].cls = 1;
    CHECK_OK(mt_map_acc_add(acc, d, 1, lab, 1));
    CHECK_OK(mt_detection_map(acc, &r, NULL, NULL));
    CHECK(r.map50 == 0 && r.map == 0 && r.precision == 0 && r.recall == 0 && r.n_labels == 1, "no TP");
    const float badlab[5] = {2, 0, 0, 1, 1};
    CHECK(mt_map_acc_add(acc, NULL, 0, badlab, 1) == MT_ERR_INVALID, "class 2 of 2 accepted");
    mt_error_clear();
    mt_map_acc_free(acc);
}
