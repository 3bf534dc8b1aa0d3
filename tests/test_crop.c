/* tests/test_crop.c: `medtrain crop` and what it rests on:
 *  - the crop geometry (data/crop.h) exactly, on images whose channels hold x and y,
 *    with masks, points (one NaN) and a window reaching outside the film;
 *  - variants: deterministic, different per variant, inside their jitter bounds;
 *  - splits fixed to the source sample's, sources "<source>#crop<v>";
 *  - S5's jittered benchmark: every crop jittered (jitter_all), variants only for the
 *    training split (variant_splits);
 *  - a sample without a box refused, naming it; no output left;
 *  - the detection metric mean_iou (mt_top_box_iou) on crafted detections;
 *  - the detector path on a tiny YOLO trained here: test-split crops come from its
 *    boxes, train-split crops equal the landmark crops, "boxes from detector" recorded;
 *    with no detection, the test films fall back to the train-split mean box (counted). */
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/rng.h"
#include "../data/crop.h"
#include "../data/dataset.h"
#include "../train/crop_dataset.h"
#include "../train/detect.h"
#include "test.h"

enum { GW = 40, GH = 30, GN = 6 };

/* GN samples GW x GH, channel 0 = x, channel 1 = y, mask x >= 20, points (10.5, 7.25) and NaN,
 * box i: centred at (33 - i, 7 + i), 10 x 6 (reaching past the right edge with margin);
 * sample `no_box` (or -1) has none. Split by sample, 2 val 2 test. */
static int make_grid_dataset(const char *path, int no_box)
{
    mt_dataset_spec spec = {2, GH, GW, 1, 2, "test_crop grid", "none"};
    mt_dataset_writer *w = NULL;
    if (mt_dataset_writer_open(path, &spec, &w) != MT_OK) return 0;
    if (mt_dataset_writer_set_split_by_sample(w, 1) != MT_OK) return 0;
    static float img[2 * GH * GW];
    static uint8_t msk[GH * GW];
    for (int y = 0; y < GH; y++)
        for (int x = 0; x < GW; x++) {
            img[y * GW + x] = (float)x;
            img[GH * GW + y * GW + x] = (float)y;
            msk[y * GW + x] = x >= 20;
        }
    int ok = 1;
    for (int i = 0; ok && i < GN; i++) {
        float box[5] = {28.0f - i, 4.0f + i, 38.0f - i, 10.0f + i, 1}, pts[4] = {10.5f, 7.25f, NAN, NAN};
        mt_sample s;
        mt_sample_init(&s);
        s.c = 2, s.h = GH, s.w = GW, s.k = 1;
        s.image = img;
        s.mask = msk;
        s.label = i % 2;
        s.n_points = 2;
        s.points = pts;
        s.n_boxes = i == no_box ? 0 : 1;
        s.boxes = i == no_box ? NULL : box;
        s.meta.spacing[0] = s.meta.spacing[1] = 0.5;
        snprintf(s.meta.source, sizeof s.meta.source, "grid-%d", i);
        snprintf(s.meta.patient_id, sizeof s.meta.patient_id, "p%d", i);
        ok = mt_dataset_writer_add(w, &s) == MT_OK;
        /* every sample holds the same grid image, and identical images would all share one split
         * (duplicates, data/dataset.h): the splits are fixed, 2 train / 2 val / 2 test */
        if (ok) ok = mt_dataset_writer_set_split(w, i, (const char *[]){"train", "val", "test"}[i % 3]) == MT_OK;
    }
    return mt_test_dataset_close(w, ok, 0.34, 0.34);
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* expected crop of the grid image through window (cx, cy, side) at size n: |err| of image, mask, points, box */
static int check_grid_crop(const mt_sample *o, double cx, double cy, double side, int n, char *why, size_t len)
{
    const double sc = side / n, L = cx - side / 2, T = cy - side / 2;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double xs = L + (j + 0.5) * sc, ys = T + (i + 0.5) * sc;
            int in = xs >= -0.5 && xs <= GW - 0.5 && ys >= -0.5 && ys <= GH - 0.5;
            double ex = in ? clampd(xs, 0, GW - 1) : 0, ey = in ? clampd(ys, 0, GH - 1) : 0;
            double gx = o->image[i * n + j], gy = o->image[n * n + i * n + j];
            if (fabs(gx - ex) > 1e-4 || fabs(gy - ey) > 1e-4)
                return snprintf(why, len, "pixel (%d, %d): (%g, %g), expected (%g, %g)", j, i, gx, gy, ex, ey), 0;
            double fx = floor(L + 0.5 + j * sc), fy = floor(T + 0.5 + i * sc);
            int em = fx >= 0 && fx < GW && fy >= 0 && fy < GH && fx >= 20;
            if (o->mask[i * n + j] != em) return snprintf(why, len, "mask (%d, %d) %d, expected %d", j, i, o->mask[i * n + j], em), 0;
        }
    double px = (10.5 - L) / sc - 0.5, py = (7.25 - T) / sc - 0.5;
    if (o->n_points != 2 || fabs(o->points[0] - px) > 1e-4 || fabs(o->points[1] - py) > 1e-4 || !isnan(o->points[2]) ||
        !isnan(o->points[3]))
        return snprintf(why, len, "points (%g, %g, %g, %g), expected (%g, %g, NaN, NaN)", o->points[0], o->points[1],
                        o->points[2], o->points[3], px, py), 0;
    return 1;
}

TEST(crop_geometry_matches_formula)
{
    const char *tmp = mt_test_tmpdir();
    char in[1024], out[1024], why[512];
    snprintf(in, sizeof in, "%s/crop_grid.h5", tmp);
    snprintf(out, sizeof out, "%s/crop_grid_out.h5", tmp);
    CHECK(make_grid_dataset(in, -1), "dataset: %s", mt_last_error());
    mt_crop_options o = {0};
    o.input = in, o.output = out, o.size = 16, o.margin = 0.25, o.variants = 1;
    mt_crop_result r;
    CHECK_OK(mt_crop_dataset(&o, &r));
    CHECK(r.n_written == GN && r.n_samples == GN && r.n_detector == 0, "%d written of %d", r.n_written, r.n_samples);
    mt_crop_result_free(&r);
    mt_dataset *d = NULL;
    CHECK_OK(mt_dataset_open(out, &d));
    mt_dataset_spec g;
    mt_dataset_geometry(d, &g);
    int ok = g.c == 2 && g.h == 16 && g.w == 16 && g.k == 1 && g.n_points == 2 && mt_dataset_size(d) == GN;
    for (int i = 0; ok && i < GN; i++) {
        mt_sample s;
        mt_sample_init(&s);
        ok = mt_dataset_read(d, i, &s) == MT_OK;
        /* box 10 x 6 -> side 10 * 1.5 = 15, centre (33 - i, 7 + i) */
        double cx = 33 - i, cy = 7 + i, side = 15, k = 16 / side;
        if (ok) ok = check_grid_crop(&s, cx, cy, side, 16, why, sizeof why);
        else snprintf(why, sizeof why, "read: %s", mt_last_error());
        /* box corners moved into the crop (x1 clipped to 15.5 never needed: the box is inside) */
        double ex0 = (28.0 - i - (cx - 7.5)) * k - 0.5, ey0 = (4.0 + i - (cy - 7.5)) * k - 0.5;
        if (ok && (s.n_boxes != 1 || fabs(s.boxes[0] - ex0) > 1e-4 || fabs(s.boxes[1] - ey0) > 1e-4 || s.boxes[4] != 1))
            ok = 0, snprintf(why, sizeof why, "box %d: (%g, %g), expected (%g, %g)", i, s.boxes[0], s.boxes[1], ex0, ey0);
        if (ok && (fabs(s.meta.spacing[0] - 0.5 * side / 16) > 1e-12 || s.label != i % 2 ||
                   strcmp(s.meta.patient_id, (char[8]){'p', (char)('0' + i), 0})))
            ok = 0, snprintf(why, sizeof why, "sample %d: spacing %g label %d patient %s", i, s.meta.spacing[0], s.label,
                             s.meta.patient_id);
        mt_sample_free(&s);
    }
    mt_dataset_close(d);
    CHECK(ok, "%s", why);
}

TEST(crop_variants_deterministic_and_splits_kept)
{
    const char *tmp = mt_test_tmpdir();
    char in[1024], out1[1024], out2[1024], why[512] = "";
    snprintf(in, sizeof in, "%s/crop_var.h5", tmp);
    snprintf(out1, sizeof out1, "%s/crop_var_a.h5", tmp);
    snprintf(out2, sizeof out2, "%s/crop_var_b.h5", tmp);
    CHECK(make_grid_dataset(in, -1), "dataset: %s", mt_last_error());
    mt_crop_options o = {0};
    o.input = in, o.size = 12, o.variants = 3, o.jitter = 0.1, o.scale_jitter = 0.2, o.seed = 7;
    mt_crop_result r;
    o.output = out1;
    CHECK_OK(mt_crop_dataset(&o, &r));
    mt_crop_result_free(&r);
    o.output = out2;
    CHECK_OK(mt_crop_dataset(&o, &r));
    mt_crop_result_free(&r);
    CHECK(r.n_written == 3 * GN, "%d crops", r.n_written);
    mt_dataset *src = NULL, *a = NULL, *b = NULL;
    CHECK_OK(mt_dataset_open(in, &src));
    CHECK_OK(mt_dataset_open(out1, &a));
    CHECK_OK(mt_dataset_open(out2, &b));
    int ok = mt_dataset_size(a) == 3 * GN, splits[3] = {0, 0, 0};
    for (int i = 0; ok && i < GN; i++) {
        mt_sample s0, v[3], w2;
        mt_sample_init(&s0);
        ok = mt_dataset_read(src, i, &s0) == MT_OK;
        for (int k = 0; k < 3 && ok; k++) {
            mt_sample_init(&v[k]);
            mt_sample_init(&w2);
            ok = mt_dataset_read(a, 3 * i + k, &v[k]) == MT_OK && mt_dataset_read(b, 3 * i + k, &w2) == MT_OK;
            if (ok && memcmp(v[k].image, w2.image, sizeof(float) * 2 * 144))
                ok = 0, snprintf(why, sizeof why, "sample %d variant %d differs between two runs", i, k);
            char want[64];
            snprintf(want, sizeof want, "grid-%d#crop%d", i, k);
            if (ok && (strcmp(v[k].meta.source, want) || strcmp(v[k].meta.split, s0.meta.split)))
                ok = 0, snprintf(why, sizeof why, "crop %d: source %s split %s, expected %s split %s", 3 * i + k,
                                 v[k].meta.source, v[k].meta.split, want, s0.meta.split);
            /* the variant's window: its point transform agrees with mt_crop_variant, inside the jitter bounds */
            mt_crop_window plain = {33 - i, 7 + i, 10}, win;
            if (ok) ok = mt_crop_variant(&plain, 7, i, k, 0.1, 0.2, &win) == MT_OK;
            if (ok && (fabs(win.cx - plain.cx) > 1.0001 || fabs(win.side / 10 - 1) > 0.2 + 1e-9 ||
                       (k == 0 && (win.cx != plain.cx || win.side != 10))))
                ok = 0, snprintf(why, sizeof why, "variant %d window (%g, %g, %g)", k, win.cx, win.cy, win.side);
            if (ok) ok = check_grid_crop(&v[k], win.cx, win.cy, win.side, 12, why, sizeof why);
            mt_sample_free(&w2);
        }
        if (ok && (!memcmp(v[0].image, v[1].image, sizeof(float) * 288) ||
                   !memcmp(v[1].image, v[2].image, sizeof(float) * 288)))
            ok = 0, snprintf(why, sizeof why, "sample %d: variants 0, 1, 2 not all different", i);
        for (int k = 0; k < 3; k++) mt_sample_free(&v[k]);
        if (ok) splits[!strcmp(s0.meta.split, "train") ? 0 : !strcmp(s0.meta.split, "val") ? 1 : 2]++;
        mt_sample_free(&s0);
    }
    mt_dataset_close(src);
    mt_dataset_close(a);
    mt_dataset_close(b);
    CHECK(ok, "%s", why);
    CHECK(splits[0] == 2 && splits[1] == 2 && splits[2] == 2, "source splits %d/%d/%d", splits[0], splits[1], splits[2]);
}

TEST(crop_missing_box_refused)
{
    const char *mt = mt_test_medtrain();
    if (!mt) SKIP("skipped: medtrain CLI not built next to run_tests");
    const char *tmp = mt_test_tmpdir();
    char in[1024], outp[1024], cmd[3000], out[4096];
    snprintf(in, sizeof in, "%s/crop_nobox.h5", tmp);
    snprintf(outp, sizeof outp, "%s/crop_nobox_out.h5", tmp);
    CHECK(make_grid_dataset(in, 3), "dataset: %s", mt_last_error());
    snprintf(cmd, sizeof cmd, "%s crop %s --out %s --size 8 2>&1", mt, in, outp);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 1, "rc %d:\n%s", rc, out);
    CHECK(strstr(out, "grid-3") && strstr(out, "no box") && strstr(out, "--detector"), "message:\n%s", out);
    CHECK(access(outp, F_OK) != 0, "a refused crop left %s", outp);
}

/* mean_iou: the top-score detection against the best-overlapping true box of its class */
TEST(detect_mean_iou_top_box)
{
    mt_detection d[2] = {{0, 0, 10, 10, 0.5f, 0}, {2, 2, 12, 12, 0.9f, 0}};
    float lab[15] = {0, 0, 0, 10, 10, 0, 3, 3, 13, 13, 1, 2, 2, 12, 12};
    /* top = (2,2,12,12) class 0: IoU 64/136 with the first, 81/119 with the second; class 1 ignored */
    double v = mt_top_box_iou(d, 2, lab, 3);
    CHECK(fabs(v - 81.0 / 119.0) < 1e-12, "IoU %.12g, expected %.12g", v, 81.0 / 119.0);
    CHECK(mt_top_box_iou(d, 0, lab, 3) == 0, "no detection must give 0");
    CHECK(isnan(mt_top_box_iou(d, 2, lab, 0)), "no true box must give NaN");
    mt_detection c1 = {2, 2, 12, 12, 0.9f, 1};
    CHECK(fabs(mt_top_box_iou(&c1, 1, lab, 3) - 1.0) < 1e-12, "class 1 detection on the class 1 box");
    /* a batch: image 0 as above, image 1 a box but no detection (0), image 2 no box (skipped) */
    mt_detections det[3] = {{2, d}, {0, NULL}, {1, &c1}};
    float boxes[12] = {0, 3, 3, 13, 13, 0, 1, 5, 5, 9, 9, 0};
    double sum = 0;
    int n = 0;
    CHECK_OK(mt_top_box_iou_add_batch(det, 3, boxes, 2, &sum, &n));
    CHECK(n == 2 && fabs(sum / n - 81.0 / 119.0 / 2) < 1e-12, "mean %g over %d images, expected %g over 2", sum / n, n,
          81.0 / 119.0 / 2);
}

/* the root string attribute `name` of an HDF5 file into buf ("" when absent) */
static void read_str_attr(const char *path, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a >= 0) {
        hid_t t = H5Aget_type(a); /* the file's own variable-length string type (UTF-8) */
        char *v = NULL;
        if (H5Aread(a, t, &v) >= 0 && v) {
            snprintf(buf, len, "%s", v);
            H5free_memory(v);
        }
        H5Tclose(t);
        H5Aclose(a);
    }
    H5Fclose(f);
}

TEST(crop_detector_boxes_for_test_split)
{
    const char *mt = mt_test_medtrain();
    if (!mt) SKIP("skipped: medtrain CLI not built next to run_tests");
    const char *tmp = mt_test_tmpdir();
    char ds[1024], cfg[1024], run[1024], plain[1024], det[1024], cmd[8192], out[16384], text[9000], yolo[PATH_MAX];
    char rel[PATH_MAX];
    CHECK(realpath(mt_test_path("configs/models/yolov5s.yaml", rel, sizeof rel), yolo), "graph missing");
    snprintf(ds, sizeof ds, "%s/crop_squares.h5", tmp);
    CHECK(mt_test_box_dataset(ds, 16, 64, 1, 51), "dataset: %s", mt_last_error());
    snprintf(cfg, sizeof cfg, "%s/crop_det.yaml", tmp);
    snprintf(text, sizeof text,
             "task: {kind: detection, conf_threshold: 0.001}\n"
             "model: {graph: %s, params: {in_channels: 1, nc: 1, img_size: 64, width_multiple: 0.125}}\n"
             "data: {dataset: %s, normalize: window, window: [0, 255]}\n"
             "optimizer: {kind: adam, lr: 0.001}\ntrain: {epochs: 1, batch_size: 4, seed: 1, log_every: 1}\n",
             yolo, ds);
    FILE *f = fopen(cfg, "w");
    CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "config");
    snprintf(run, sizeof run, "%s/crop_det_run", tmp);
    snprintf(cmd, sizeof cmd, "rm -rf %s && %s train %s --device cpu --out %s --quiet 2>&1", run, mt, cfg, run);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "detector training failed:\n%s", out);
    snprintf(plain, sizeof plain, "%s/crop_plain.h5", tmp);
    snprintf(det, sizeof det, "%s/crop_det.h5", tmp);
    snprintf(cmd, sizeof cmd, "%s crop %s --out %s --size 32 2>&1", mt, ds, plain);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0, "plain crop:\n%s", out);
    snprintf(cmd, sizeof cmd, "%s crop %s --out %s --size 32 --detector %s --detector_splits test --device cpu 2>&1", mt,
             ds, det, run);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "wrote") && strstr(out, "boxes from detector"), "detector crop rc %d:\n%s", rc, out);
    read_str_attr(det, "preprocess", text, sizeof text);
    CHECK(strstr(text, "boxes from detector") && strstr(text, "crop_det_run") && strstr(text, "4 samples"),
          "preprocess attribute: %s", text);
    mt_dataset *a = NULL, *b = NULL;
    CHECK_OK(mt_dataset_open(plain, &a));
    CHECK_OK(mt_dataset_open(det, &b));
    int ok = mt_dataset_size(a) == 16 && mt_dataset_size(b) == 16, n_train = 0, n_test = 0, test_differ = 0;
    char why[256] = "sizes";
    for (int i = 0; ok && i < 16; i++) {
        mt_sample p, q;
        mt_sample_init(&p);
        mt_sample_init(&q);
        ok = mt_dataset_read(a, i, &p) == MT_OK && mt_dataset_read(b, i, &q) == MT_OK && !strcmp(p.meta.split, q.meta.split);
        int same = ok && !memcmp(p.image, q.image, sizeof(float) * 32 * 32);
        if (ok && !strcmp(p.meta.split, "train")) {
            n_train++;
            if (!same) ok = 0, snprintf(why, sizeof why, "train crop %d differs from the landmark crop", i);
        }
        if (ok && !strcmp(p.meta.split, "test")) n_test++, test_differ += !same;
        mt_sample_free(&p);
        mt_sample_free(&q);
    }
    mt_dataset_close(a);
    mt_dataset_close(b);
    CHECK(ok, "%s", why);
    CHECK(n_train == 8 && n_test == 4, "%d train, %d test crops", n_train, n_test);
    CHECK(test_differ == 4, "%d of 4 test crops differ from the landmark crops", test_differ);

    /* a detector that finds nothing (conf_threshold 1): every test film falls back to the train-split mean box */
    snprintf(cmd, sizeof cmd, "cd %s && sed -i 's/conf_threshold: .*/conf_threshold: 1/' config.yaml && grep -c "
             "'conf_threshold: 1$' config.yaml", run);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0, "could not set conf_threshold in %s/config.yaml:\n%s", run, out);
    snprintf(cmd, sizeof cmd, "%s crop %s --out %s --size 32 --detector %s --device cpu 2>&1", mt, ds, det, run);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "4 without a detection"), "fallback crop rc %d:\n%s", rc, out);
    read_str_attr(det, "preprocess", text, sizeof text);
    CHECK(strstr(text, "4 without a detection fell back to the train-split mean box: boxes-"), "preprocess: %s", text);
    double mean[4] = {0, 0, 0, 0};
    int n_mean = 0;
    CHECK_OK(mt_dataset_open(ds, &a));
    CHECK_OK(mt_dataset_open(det, &b));
    for (int i = 0; ok && i < 16; i++) {
        mt_sample p;
        mt_sample_init(&p);
        ok = mt_dataset_read(a, i, &p) == MT_OK;
        if (ok && !strcmp(p.meta.split, "train"))
            for (int k = 0; k < 4; k++) mean[k] += p.boxes[k] / 8.0, n_mean += k == 0;
        mt_sample_free(&p);
    }
    /* the mean box moved into its own crop: square side max(w, h) around its centre, 32 px */
    double side = fmax(mean[2] - mean[0], mean[3] - mean[1]), cx = (mean[0] + mean[2]) / 2, cy = (mean[1] + mean[3]) / 2;
    float want[4] = {(float)((mean[0] - cx + side / 2) * 32 / side - 0.5), (float)((mean[1] - cy + side / 2) * 32 / side - 0.5),
                     (float)((mean[2] - cx + side / 2) * 32 / side - 0.5), (float)((mean[3] - cy + side / 2) * 32 / side - 0.5)};
    int n_fb = 0;
    for (int i = 0; ok && i < 16; i++) {
        mt_sample q;
        mt_sample_init(&q);
        ok = mt_dataset_read(b, i, &q) == MT_OK;
        if (ok && !strcmp(q.meta.split, "test")) {
            n_fb++;
            for (int k = 0; k < 4 && ok; k++)
                if (q.n_boxes != 1 || fabsf(q.boxes[k] - want[k]) > 1e-3f)
                    ok = 0, snprintf(why, sizeof why, "test crop %d box[%d] %g, expected %g (mean box)", i, k,
                                     q.n_boxes ? q.boxes[k] : NAN, want[k]);
        }
        mt_sample_free(&q);
    }
    mt_dataset_close(a);
    mt_dataset_close(b);
    CHECK(ok && n_mean == 8 && n_fb == 4, "%s (%d train boxes, %d fallbacks)", why, n_mean, n_fb);
}

/* S5's jittered benchmark: --jitter_all 1 (crop v takes draw v + 1, no plain crop) and
 * --variant_splits train (3 crops per train sample, 1 per val / test sample); a bad split name
 * is refused naming the option. */
TEST(crop_jitter_all_and_variant_splits)
{
    const char *tmp = mt_test_tmpdir();
    char in[1024], out[1024], why[512] = "";
    snprintf(in, sizeof in, "%s/crop_jall.h5", tmp);
    snprintf(out, sizeof out, "%s/crop_jall_out.h5", tmp);
    CHECK(make_grid_dataset(in, -1), "dataset: %s", mt_last_error());
    mt_crop_options o = {0};
    o.input = in, o.output = out, o.size = 12, o.variants = 3, o.jitter = 0.2, o.scale_jitter = 0.2, o.seed = 7;
    o.jitter_all = 1, o.variant_splits = "trian";
    mt_crop_result r;
    mt_error_clear();
    mt_status st = mt_crop_dataset(&o, &r);
    CHECK(st == MT_ERR_INVALID && strstr(mt_last_error(), "--variant_splits \"trian\""), "status %d: %s", st,
          mt_last_error());
    mt_error_clear();
    CHECK(access(out, F_OK) != 0, "a refused crop left %s", out);
    o.variant_splits = "train";
    CHECK_OK(mt_crop_dataset(&o, &r));
    mt_crop_result_free(&r);
    /* 2 train samples x 3 + 2 val + 2 test */
    CHECK(r.n_written == 10, "%d crops written, expected 10", r.n_written);
    mt_dataset *src = NULL, *d = NULL;
    CHECK_OK(mt_dataset_open(in, &src));
    CHECK_OK(mt_dataset_open(out, &d));
    int ok = mt_dataset_size(d) == 10, row = 0;
    for (int i = 0; ok && i < GN; i++) {
        mt_sample s0;
        mt_sample_init(&s0);
        ok = mt_dataset_read(src, i, &s0) == MT_OK;
        int count = ok && !strcmp(s0.meta.split, "train") ? 3 : 1;
        for (int k = 0; ok && k < count; k++, row++) {
            mt_sample v;
            mt_sample_init(&v);
            ok = mt_dataset_read(d, row, &v) == MT_OK;
            char want[64];
            snprintf(want, sizeof want, "grid-%d#crop%d", i, k);
            if (ok && (strcmp(v.meta.source, want) || strcmp(v.meta.split, s0.meta.split)))
                ok = 0, snprintf(why, sizeof why, "row %d: source %.60s split %.15s, expected %.60s split %.15s", row, v.meta.source,
                                 v.meta.split, want, s0.meta.split);
            mt_crop_window plain = {33 - i, 7 + i, 10}, win;
            if (ok) ok = mt_crop_variant(&plain, 7, i, k + 1, 0.2, 0.2, &win) == MT_OK;
            if (ok && win.cx == plain.cx && win.cy == plain.cy && win.side == plain.side)
                ok = 0, snprintf(why, sizeof why, "row %d is the plain crop", row);
            if (ok) ok = check_grid_crop(&v, win.cx, win.cy, win.side, 12, why, sizeof why);
            mt_sample_free(&v);
        }
        mt_sample_free(&s0);
    }
    mt_dataset_close(src);
    mt_dataset_close(d);
    CHECK(ok, "%s", why);
}
