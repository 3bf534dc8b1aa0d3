/* tests/test_s3_seg.c: the S3 library parts of the body-composition experiment:
 * the merged-label confusion and the Table 3 IoU bins (core/metrics.h) against numpy
 * (tests/seg_bins_check.py); the per-image IoU per class and merged and their bins in the
 * evaluation JSON of a hand-set multi-class model; the /meta/pseudo_label flag written and
 * read back; `mt_pseudo_label_dataset` (train/pseudo_label.h): predictions in place of the
 * masks after the first k training samples, flagged, everything else copied, and its
 * refusals; data.train_limit. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/metrics.h"
#include "../train/checkpoint.h"
#include "../train/pseudo_label.h"
#include "../train/run_dir.h"
#include "../train/task.h"
#include "../train/trainer.h"
#include "test.h"

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static int write_raw(const char *path, const void *p, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, bytes, f) == bytes;
    return fclose(f) == 0 && ok;
}

TEST(s3_merged_confusion_and_iou_bins_match_numpy)
{
    char out[8192], py[64];
    if (mt_test_run("/usr/bin/python3 -c 'import numpy'", py, sizeof py) != 0)
        SKIP("skipped: /usr/bin/python3 with numpy missing (make deps-py)");
    enum { N = 5, K = 3, P = 97 };
    static float pred[N * K * P], target[N * K * P];
    uint32_t seed = 7;
    for (int i = 0; i < N * K * P; i++) {
        pred[i] = (float)(lcg(&seed) % 1000) / 1000.0f;
        target[i] = lcg(&seed) % 5 == 0; /* sparse reference, so images differ */
    }
    for (int q = 0; q < K * P; q++) pred[q] = 0, target[q] = 0; /* image 0 empty both: IoU 1 by 0/0 := 1 */
    mt_confusion c[N];
    CHECK_OK(mt_confusion_merged(pred, target, N, K, P, 0.7, c));
    /* bin edges and NaN: 0.90 is in the top bin, 0.8999 not; NaN counts as < 0.70 */
    double iou[] = {1.0, 0.90, 0.8999, 0.80, 0.7999, 0.70, 0.6999, 0.0, NAN, 0.95, 0.85};
    int n_iou = (int)(sizeof iou / sizeof *iou), bins[MT_IOU_BIN_COUNT];
    mt_iou_bin_counts(iou, n_iou, bins);
    const char *tmp = mt_test_tmpdir();
    char pp[1024], tp[1024], ip[1024], cmd[4096];
    snprintf(pp, sizeof pp, "%s/s3_pred.f32", tmp);
    snprintf(tp, sizeof tp, "%s/s3_target.f32", tmp);
    snprintf(ip, sizeof ip, "%s/s3_iou.f64", tmp);
    CHECK(write_raw(pp, pred, sizeof pred) && write_raw(tp, target, sizeof target) && write_raw(ip, iou, sizeof iou),
          "cannot write the arrays");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/seg_bins_check.py %s %s %d %d %d 0.7 %s", pp, tp, N, K, P, ip);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0, "%s", out);
    const char *s = out;
    for (int i = 0; i < N; i++) {
        long long a, b, d, e;
        int used = 0;
        CHECK(sscanf(s, "%lld %lld %lld %lld%n", &a, &b, &d, &e, &used) == 4, "numpy output:\n%s", out);
        s += used;
        CHECK(a == c[i].tp && b == c[i].fp && d == c[i].fn && e == c[i].tn,
              "image %d: medtrain tp %lld fp %lld fn %lld tn %lld, numpy %lld %lld %lld %lld", i, (long long)c[i].tp,
              (long long)c[i].fp, (long long)c[i].fn, (long long)c[i].tn, a, b, d, e);
    }
    CHECK(c[0].tp == 0 && c[0].fp == 0 && c[0].fn == 0 && mt_seg_metrics_from_confusion(c[0]).iou == 1.0,
          "the empty image: IoU %g", mt_seg_metrics_from_confusion(c[0]).iou);
    CHECK(c[1].tp > 0 && c[1].fp > 0 && c[1].fn > 0, "a random image should have tp, fp and fn");
    int nb[4];
    CHECK(sscanf(s, "%d %d %d %d", &nb[0], &nb[1], &nb[2], &nb[3]) == 4, "numpy bins:\n%s", out);
    for (int b = 0; b < 4; b++) CHECK(bins[b] == nb[b], "bin %s: medtrain %d, numpy %d", mt_iou_bin_names[b], bins[b], nb[b]);
    CHECK(bins[0] == 3 && bins[1] == 3 && bins[2] == 2 && bins[3] == 3, "bins %d %d %d %d, want 3 3 2 3", bins[0], bins[1],
          bins[2], bins[3]);
    CHECK(mt_confusion_merged(NULL, target, N, K, P, 0.5, c) == MT_ERR_INVALID, "NULL pred accepted");
}

/* per image: 40 muscle px (50 HU), b bone (500), a air (-1000), the rest fat (-100) of 100 */
enum { S = 10, NIMG = 4 };
static const int k_bone[NIMG] = {0, 5, 12, 30}, k_air[NIMG] = {2, 0, 20, 1};

static void fill_image(int i, float *img, uint8_t *msk)
{
    for (int p = 0; p < S * S; p++) {
        int kind = p < 40 ? 0 : p < 40 + k_bone[i] ? 2 : p < 40 + k_bone[i] + k_air[i] ? 3 : 1;
        static const float hu[4] = {50, -100, 500, -1000};
        img[p] = hu[kind];
        msk[p] = kind == 0;
        msk[S * S + p] = kind == 1;
    }
}

/* writes the dataset: n images cycling through the 4 layouts; split[i] 0 train, 1 val, 2 test */
static int make_ds(const char *path, int n, const int *split, int with_masks)
{
    mt_dataset_spec spec = {1, S, S, with_masks ? 2 : 0, 0, "test_s3_seg", "none"};
    mt_dataset_writer *w = NULL;
    if (mt_dataset_writer_open(path, &spec, &w) != MT_OK) return 0;
    static const char *const names[2] = {"muscle", "fat"}, *const splits[3] = {"train", "val", "test"};
    int ok = mt_dataset_writer_set_split_by_sample(w, 1) == MT_OK &&
             (!with_masks || mt_dataset_writer_set_names(w, "mask_names", names, 2) == MT_OK);
    float img[S * S];
    uint8_t msk[2 * S * S];
    for (int i = 0; ok && i < n; i++) {
        fill_image(i % NIMG, img, msk);
        mt_sample smp;
        mt_sample_init(&smp);
        smp.c = 1, smp.h = S, smp.w = S, smp.image = img;
        if (with_masks) smp.k = 2, smp.mask = msk;
        snprintf(smp.meta.source, sizeof smp.meta.source, "s3-%d", i);
        ok = mt_dataset_writer_add(w, &smp) == MT_OK &&
             (!split || mt_dataset_writer_set_split(w, i, splits[split[i]]) == MT_OK);
    }
    return mt_test_dataset_close(w, ok, 0, 0);
}

/* the hand-set 1x1 conv of tests/data/seg_linear.yaml: muscle where HU > -25, fat where HU < -25 */
static int linear_model(mt_model **m)
{
    char graph[PATH_MAX], r[PATH_MAX];
    if (!realpath(mt_test_path("tests/data/seg_linear.yaml", r, sizeof r), graph)) return 0;
    if (mt_model_load_yaml(graph, 0, NULL, mt_cpu(), 1, m) != MT_OK) return 0;
    mt_real wv[3] = {0, 1, -1}, bv[3] = {0, 25, -25};
    return mt_tensor_from_host_into(mt_model_state_tensor(*m, 0), wv, sizeof wv) == MT_OK &&
           mt_tensor_from_host_into(mt_model_state_tensor(*m, 1), bv, sizeof bv) == MT_OK;
}

/* the n numbers of the JSON array after `key` */
static int json_array(const char *json, const char *key, double *v, int n)
{
    const char *p = strstr(json, key);
    if (!p || !(p = strchr(p + strlen(key), '['))) return 0;
    p++;
    for (int i = 0; i < n; i++) {
        char *end;
        v[i] = strtod(p, &end);
        if (end == p) return 0;
        p = end + strspn(end, ", ");
    }
    return *p == ']';
}

TEST(s3_eval_json_per_image_iou_and_bins_exact)
{
    const char *tmp = mt_test_tmpdir();
    char ds[1024];
    snprintf(ds, sizeof ds, "%s/s3_eval.h5", tmp);
    CHECK(make_ds(ds, NIMG, NULL, 1), "dataset: %s", mt_last_error());
    mt_session s;
    memset(&s, 0, sizeof s);
    s.dev = mt_cpu();
    s.exp.loss.kind = MT_LOSS_CROSS_ENTROPY;
    s.exp.data.normalize = MT_NORM_NONE;
    s.exp.data.output_scale = 1;
    s.exp.metrics.threshold = 0.5;
    s.task = &mt_task_segmentation;
    CHECK_OK(mt_dataset_open(ds, &s.ds));
    mt_dataset_geometry(s.ds, &s.geo);
    s.in_h = s.in_w = S;
    s.in_c = 1;
    CHECK(linear_model(&s.model), "model: %s", mt_last_error());
    int idx[NIMG] = {0, 1, 2, 3};
    mt_eval ev;
    CHECK_OK(mt_task_segmentation.evaluate(&s, idx, NIMG, 3, &ev));
    char path[1100];
    snprintf(path, sizeof path, "%s/s3_eval.json", tmp);
    FILE *f = fopen(path, "w+");
    CHECK(f, "json file");
    mt_task_segmentation.json(f, &s, &ev, 0);
    rewind(f);
    static char json[32768];
    size_t n = fread(json, 1, sizeof json - 1, f);
    json[n] = '\0';
    fclose(f);
    /* muscle: 40 / (40 + bone); fat F / (F + air); merged: every pixel predicted, (40 + F) / 100 */
    double want[3][NIMG], got[3][NIMG];
    for (int i = 0; i < NIMG; i++) {
        double fat = 100 - 40 - k_bone[i] - k_air[i];
        want[0][i] = 40.0 / (40 + k_bone[i]);
        want[1][i] = fat / (fat + k_air[i]);
        want[2][i] = (40 + fat) / 100.0;
    }
    static const char *const keys[3] = {"\"muscle\": ", "\"fat\": ", "\"merged\": "};
    const char *per = strstr(json, "\"per_image_iou_post\": {"), *bins = strstr(json, "\"iou_bins_post\": {");
    CHECK(per && bins, "no per-image IoU / bins in the JSON:\n%s", json);
    for (int c = 0; c < 3; c++) {
        CHECK(json_array(per, keys[c], got[c], NIMG), "per-image IoU %s:\n%s", keys[c], per);
        CHECK_CLOSE_D(got[c], want[c], NIMG, 1e-7, 0);
    }
    static const int want_bins[3][4] = {{1, 1, 1, 1}, {3, 0, 0, 1}, {2, 0, 0, 2}};
    for (int c = 0; c < 3; c++) {
        double b[4];
        CHECK(json_array(bins, keys[c], b, 4), "bins %s:\n%s", keys[c], bins);
        for (int j = 0; j < 4; j++)
            CHECK(b[j] == want_bins[c][j], "%s bin %s: %g, want %d", keys[c], mt_iou_bin_names[j], b[j], want_bins[c][j]);
    }
    double m = NAN, want_m = 0;
    for (int i = 0; i < NIMG; i++) want_m += want[2][i] / NIMG;
    CHECK_OK(mt_eval_get(&ev, "iou_merged", &m));
    CHECK(fabs(m - want_m) < 1e-9, "iou_merged %.9g, want %.9g", m, want_m);
    CHECK_OK(mt_eval_get(&ev, "iou_fat", &m));
    double want_f = 0;
    for (int i = 0; i < NIMG; i++) want_f += want[1][i] / NIMG;
    CHECK(fabs(m - want_f) < 1e-9, "iou_fat %.9g, want %.9g", m, want_f);
    mt_eval_free(&ev);
    mt_model_free(s.model);
    mt_dataset_close(s.ds);
}

TEST(s3_pseudo_label_flag_written_and_read_back)
{
    const char *tmp = mt_test_tmpdir();
    char ds[1024];
    float img[4] = {1, 2, 3, 4};
    uint8_t msk[4] = {1, 0, 0, 1};
    for (int flagged = 0; flagged < 2; flagged++) {
        snprintf(ds, sizeof ds, "%s/s3_flag%d.h5", tmp, flagged);
        mt_dataset_spec spec = {1, 2, 2, 1, 0, "flag", "none"};
        mt_dataset_writer *w = NULL;
        CHECK_OK(mt_dataset_writer_open(ds, &spec, &w));
        for (int i = 0; i < 3; i++) {
            mt_sample smp;
            mt_sample_init(&smp);
            smp.c = 1, smp.h = 2, smp.w = 2, smp.k = 1, smp.image = img, smp.mask = msk;
            smp.meta.pseudo_label = flagged && i == 1;
            CHECK_OK(mt_dataset_writer_add(w, &smp));
        }
        CHECK_OK(mt_dataset_writer_close(w, 1, 0, 0, 0));
        mt_dataset *d = NULL;
        CHECK_OK(mt_dataset_open(ds, &d));
        for (int i = 0; i < 3; i++) {
            mt_sample smp;
            mt_status st = mt_dataset_read(d, i, &smp);
            int flag = smp.meta.pseudo_label;
            if (st == MT_OK) mt_sample_free(&smp);
            CHECK(st == MT_OK && flag == (flagged && i == 1), "sample %d of %s: flag %d", i, ds, flag);
        }
        mt_dataset_close(d);
        /* /meta/pseudo_label exists (uint8) only where a sample is flagged */
        char cmd[2048], out[1024];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"import h5py; m = h5py.File('%s', 'r')['meta']; "
                 "print(m['pseudo_label'].dtype, m['pseudo_label'][...].tolist() if 'pseudo_label' in m else 'absent')"
                 " if 'pseudo_label' in m else print('absent')\"", ds);
        if (mt_test_run("/usr/bin/python3 -c 'import h5py'", out, sizeof out) != 0) continue;
        CHECK(mt_test_run(cmd, out, sizeof out) == 0, "%s", out);
        CHECK(flagged ? strstr(out, "uint8 [0, 1, 0]") != NULL : strstr(out, "absent") != NULL, "%s: %s", ds, out);
    }
}

TEST(s3_pseudo_label_dataset_predicts_flags_and_refuses)
{
    const char *tmp = mt_test_tmpdir();
    char ds[1024], out[1024], run[1024], path[1200], graph[PATH_MAX], r[PATH_MAX];
    enum { N = 10 };
    static const int split[N] = {0, 1, 0, 0, 2, 0, 0, 1, 0, 2}; /* train: 0 2 3 5 6 8 */
    snprintf(ds, sizeof ds, "%s/s3_pl.h5", tmp);
    snprintf(out, sizeof out, "%s/s3_pl_v2.h5", tmp);
    snprintf(run, sizeof run, "%s/s3_pl_run", tmp);
    CHECK(make_ds(ds, N, split, 1), "dataset: %s", mt_last_error());
    CHECK_OK(mt_mkdirs(run));
    CHECK(realpath(mt_test_path("tests/data/seg_linear.yaml", r, sizeof r), graph), "graph missing");
    snprintf(path, sizeof path, "%s/config.yaml", run);
    FILE *f = fopen(path, "w");
    CHECK(f, "config");
    fprintf(f, "model: {graph: %s}\ndata: {dataset: %s}\nloss: {kind: cross_entropy}\n", graph, ds);
    fclose(f);
    mt_model *m = NULL;
    CHECK(linear_model(&m), "model: %s", mt_last_error());
    snprintf(path, sizeof path, "%s/best.h5", run);
    mt_status st = mt_checkpoint_save(path, m, NULL, NULL, NULL);
    mt_model_free(m);
    CHECK_OK(st);

    mt_pseudo_label_report rep;
    CHECK_OK(mt_pseudo_label_dataset(run, ds, out, 2, mt_cpu(), &rep));
    CHECK(rep.n_labelled == 2 && rep.n_pseudo == 4 && rep.n_other == 4, "labelled %d pseudo %d other %d", rep.n_labelled,
          rep.n_pseudo, rep.n_other);
    mt_dataset *in = NULL, *o = NULL;
    CHECK_OK(mt_dataset_open(ds, &in));
    st = mt_dataset_open(out, &o);
    if (st != MT_OK) mt_dataset_close(in);
    CHECK_OK(st);
    double dsc_sum = 0;
    int bad = -1;
    for (int i = 0; i < N && bad < 0; i++) {
        mt_sample a, b;
        if (mt_dataset_read(in, i, &a) != MT_OK) { bad = i; break; }
        if (mt_dataset_read(o, i, &b) != MT_OK) { mt_sample_free(&a); bad = i; break; }
        int pseudo = split[i] == 0 && i > 2; /* train samples after the first two (0 and 2) */
        int ok = b.meta.pseudo_label == pseudo && !strcmp(a.meta.split, b.meta.split) &&
                 !memcmp(a.image, b.image, sizeof(float) * S * S);
        if (pseudo) { /* the linear model: muscle = HU > -25 (muscle + bone), fat = the rest */
            double dsc = 0;
            for (int c = 0; c < 2; c++) {
                int tp = 0, fp = 0, fn = 0;
                for (int p = 0; p < S * S; p++) {
                    int want = c == 0 ? a.image[p] > -25 : a.image[p] < -25;
                    ok &= b.mask[c * S * S + p] == want;
                    tp += want && a.mask[c * S * S + p];
                    fp += want && !a.mask[c * S * S + p];
                    fn += !want && a.mask[c * S * S + p];
                }
                dsc += 2.0 * tp / (2.0 * tp + fp + fn) / 2;
            }
            dsc_sum += dsc;
        } else {
            ok &= !memcmp(a.mask, b.mask, 2 * S * S);
        }
        if (!ok) bad = i;
        mt_sample_free(&a);
        mt_sample_free(&b);
    }
    mt_dataset_close(in);
    mt_dataset_close(o);
    CHECK(bad < 0, "sample %d of %s differs from what it should hold: %s", bad, out, mt_last_error());
    CHECK(fabs(rep.dsc_replaced - dsc_sum / 4) < 1e-12, "dsc_replaced %.12g, want %.12g", rep.dsc_replaced, dsc_sum / 4);

    /* refusals: k < 1, k leaving nothing, output = input, a dataset without masks */
    mt_error_clear();
    CHECK(mt_pseudo_label_dataset(run, ds, out, 0, mt_cpu(), &rep) == MT_ERR_INVALID &&
              strstr(mt_last_error(), "at least 1"), "k = 0: %s", mt_last_error());
    mt_error_clear();
    CHECK(mt_pseudo_label_dataset(run, ds, out, 6, mt_cpu(), &rep) == MT_ERR_INVALID &&
              strstr(mt_last_error(), "leaves nothing to label") && strstr(mt_last_error(), "has 6 sample"),
          "k = 6: %s", mt_last_error());
    mt_error_clear();
    CHECK(mt_pseudo_label_dataset(run, ds, ds, 2, mt_cpu(), &rep) == MT_ERR_INVALID && strstr(mt_last_error(), "differ"),
          "out = in: %s", mt_last_error());
    char plain[1024];
    snprintf(plain, sizeof plain, "%s/s3_plain.h5", tmp);
    CHECK(make_ds(plain, 4, NULL, 0), "dataset: %s", mt_last_error());
    mt_error_clear();
    CHECK(mt_pseudo_label_dataset(run, plain, out, 1, mt_cpu(), &rep) != MT_OK && strstr(mt_last_error(), "/masks") &&
              strstr(mt_last_error(), plain), "no masks: %s", mt_last_error());

    /* data.train_limit: the first k of the training split, in dataset order */
    mt_session s;
    memset(&s, 0, sizeof s);
    snprintf(path, sizeof path, "%s/config.yaml", run);
    const char *sets[1] = {"data.train_limit=2"};
    int *idx = NULL, n = 0, nv = 0, *vidx = NULL;
    st = mt_session_load(&s, path, 1, sets);
    s.dev = mt_cpu();
    if (st == MT_OK) st = mt_session_open_dataset(&s);
    if (st == MT_OK) st = mt_session_split_indices(&s, "train", &idx, &n);
    if (st == MT_OK) st = mt_session_split_indices(&s, "val", &vidx, &nv);
    mt_session_free(&s);
    int got[2] = {idx && n > 0 ? idx[0] : -1, idx && n > 1 ? idx[1] : -1};
    free(idx);
    free(vidx);
    CHECK_OK(st);
    CHECK(n == 2 && got[0] == 0 && got[1] == 2 && nv == 2, "train_limit 2: %d train (%d, %d), %d val", n, got[0], got[1], nv);
}
