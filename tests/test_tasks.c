/* tests/test_tasks.c: the tasks of train/task.h end to end through the CLI:
 *  - a task whose dataset lacks what it needs (classification without /labels,
 *    detection without /boxes, segmentation without /masks) stops before
 *    training, naming the key and the dataset file, and leaves no run directory;
 *  - a G-D-C run (G trained against frozen D and C, three networks in one
 *    checkpoint) killed with SIGKILL and resumed ends bit-identical to an
 *    uninterrupted run (every network's state_dict, G's optimizer state);
 *  - a classification run writes its metrics, confusion matrix and ROC PNGs,
 *    and its metrics.json confusion matrix agrees with its accuracy;
 *  - a G-D-C run on fracture samples only (data.labels_keep) of a dataset with
 *    defect masks scores its change, CAM and random maps (pointing, IoU, tau). */
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/autograd.h"
#include "../core/rng.h"
#include "../data/dataset.h"
#include "../layers/model.h"
#include "../train/checkpoint.h"
#include "../train/session.h"
#include "../train/task.h"
#include "../train/trainer.h"
#include "test.h"

/* n grey images size x size: a bright disc (label 1) or a dark one (label 0) on
 * noise; masks of the disc when with_mask; labels when with_labels. */
static int make_dataset(const char *path, int n, int size, int with_mask, int with_labels)
{
    mt_dataset_spec spec = {1, size, size, with_mask ? 1 : 0, 0, "test_tasks synthetic", "none"};
    mt_dataset_writer *w = NULL;
    if (mt_dataset_writer_open(path, &spec, &w) != MT_OK) return 0;
    if (mt_dataset_writer_set_split_by_sample(w, 1) != MT_OK) return 0;
    float *img = malloc(sizeof(float) * size * size);
    uint8_t *msk = malloc((size_t)size * size);
    int ok = img && msk;
    for (int i = 0; ok && i < n; i++) {
        int label = i % 2;
        float cx = size * (0.3f + 0.4f * mt_philox_uniform(31, (uint64_t)i));
        float cy = size * (0.3f + 0.4f * mt_philox_uniform(32, (uint64_t)i));
        float r = size * 0.2f;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                int in = (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
                float noise = 0.2f * (mt_philox_uniform(33, (uint64_t)(i * size * size + y * size + x)) - 0.5f);
                img[y * size + x] = (in ? (label ? 0.9f : 0.1f) : 0.5f) + noise;
                msk[y * size + x] = (uint8_t)in;
            }
        mt_sample s;
        mt_sample_init(&s);
        s.c = 1, s.h = size, s.w = size, s.k = with_mask ? 1 : 0;
        s.image = img;
        s.mask = with_mask ? msk : NULL;
        s.label = with_labels ? label : -1;
        snprintf(s.meta.source, sizeof s.meta.source, "synthetic-%d", i);
        ok = mt_dataset_writer_add(w, &s) == MT_OK;
    }
    free(img);
    free(msk);
    return mt_test_dataset_close(w, ok, 0.25, 0.25);
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

static const char *abs_path(const char *rel, char *out)
{
    char r[PATH_MAX];
    return realpath(mt_test_path(rel, r, sizeof r), out);
}

/* the refusal of one task on one dataset: rc 1, the message names the key and the file, no run directory */
static int refused(const char *mt, const char *cfg, const char *run, const char *key, const char *ds, char *out,
                   size_t len)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s train %s --device cpu --out %s --quiet", mt, cfg, run);
    int rc = mt_test_run(cmd, out, len);
    return rc == 1 && strstr(out, key) && strstr(out, ds) && access(run, F_OK) != 0;
}

TEST(tasks_missing_dataset_keys_refused_before_training)
{
    const char *mt = mt_test_medtrain();
    if (!mt) SKIP("skipped: medtrain CLI not built next to run_tests");
    const char *tmp = mt_test_tmpdir();
    char ds[1024], cfg[1024], run[1024], text[24576], out[16384], cnn[PATH_MAX], unet[PATH_MAX], yolo[PATH_MAX];
    CHECK(abs_path("tests/data/task_cnn.yaml", cnn) && abs_path("configs/models/unet.yaml", unet) &&
              abs_path("configs/models/yolov5s.yaml", yolo),
          "graphs missing");
    snprintf(ds, sizeof ds, "%s/tasks_plain.h5", tmp); /* images only: no labels, no masks, no boxes */
    CHECK(make_dataset(ds, 8, 32, 0, 0), "dataset: %s", mt_last_error());
    /* per task: its config head (graph path filled in), the key its refusal must name */
    const struct {
        const char *name, *head, *graph, *key;
    } cases[3] = {
        {"cls", "task: {kind: classification}\nmodel: {graph: %s, params: {classes: 2}}\nloss: {kind: cross_entropy}\n",
         cnn, "/labels"},
        {"det", "task: {kind: detection}\nmodel: {graph: %s, params: {nc: 1, in_channels: 1}}\n", yolo, "/boxes"},
        {"seg", "model: {graph: %s, params: {base: 4, depth: 2, in_channels: 1, out_channels: 1}}\n", unet, "/masks"},
    };
    for (int i = 0; i < 3; i++) {
        char head[2 * PATH_MAX];
        snprintf(head, sizeof head, cases[i].head, cases[i].graph);
        snprintf(text, sizeof text, "%sdata: {dataset: %s}\ntrain: {epochs: 1, batch_size: 2}\n", head, ds);
        snprintf(cfg, sizeof cfg, "%s/tasks_%s.yaml", tmp, cases[i].name);
        CHECK(write_text(cfg, text), "config");
        snprintf(run, sizeof run, "%s/tasks_%s_run", tmp, cases[i].name);
        CHECK(refused(mt, cfg, run, cases[i].key, ds, out, sizeof out), "%s without %s:\n%s", cases[i].name,
              cases[i].key, out);
    }
}

/* builds a graph with params and saves it as a checkpoint (frozen networks' init_from) */
static int save_net(const char *graph, int n_args, const mt_model_arg *args, uint64_t seed, const char *path)
{
    mt_model *m = NULL;
    int ok = mt_model_load_yaml(graph, n_args, args, mt_cpu(), seed, &m) == MT_OK &&
             mt_checkpoint_save(path, m, NULL, NULL, NULL) == MT_OK;
    if (m) mt_model_free(m);
    return ok;
}

/* every dataset of group g (recursively one level: g/<sub>/...) bit-identical in files a and b */
static int same_datasets(hid_t ga, hid_t gb, const char *where, char *why, size_t wl)
{
    hsize_t na = 0, nb = 0;
    H5Gget_num_objs(ga, &na);
    H5Gget_num_objs(gb, &nb);
    if (na != nb || na == 0) {
        snprintf(why, wl, "%s: %llu vs %llu entries", where, (unsigned long long)na, (unsigned long long)nb);
        return 0;
    }
    int ok = 1;
    for (hsize_t i = 0; ok && i < na; i++) {
        char name[256], sub[600];
        H5Gget_objname_by_idx(ga, i, name, sizeof name);
        snprintf(sub, sizeof sub, "%s/%s", where, name);
        if (H5Gget_objtype_by_idx(ga, i) == H5G_GROUP) {
            hid_t a = H5Gopen2(ga, name, H5P_DEFAULT), b = H5Gopen2(gb, name, H5P_DEFAULT);
            ok = a >= 0 && b >= 0 && same_datasets(a, b, sub, why, wl);
            if (a < 0 || b < 0) snprintf(why, wl, "%s missing", sub);
            if (a >= 0) H5Gclose(a);
            if (b >= 0) H5Gclose(b);
            continue;
        }
        hid_t da = H5Dopen2(ga, name, H5P_DEFAULT), db = H5Dopen2(gb, name, H5P_DEFAULT);
        hid_t sp = da >= 0 ? H5Dget_space(da) : -1;
        hssize_t cnt = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : 0;
        if (sp >= 0) H5Sclose(sp);
        double *va = malloc(sizeof(double) * (size_t)(cnt + 1)), *vb = malloc(sizeof(double) * (size_t)(cnt + 1));
        ok = da >= 0 && db >= 0 && va && vb && H5Dread(da, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, va) >= 0 &&
             H5Dread(db, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, vb) >= 0;
        if (!ok) snprintf(why, wl, "cannot read %s", sub);
        for (hssize_t j = 0; ok && j < cnt; j++)
            if (va[j] != vb[j]) {
                snprintf(why, wl, "%s[%lld]: %.9g vs %.9g", sub, (long long)j, va[j], vb[j]);
                ok = 0;
            }
        free(va);
        free(vb);
        if (da >= 0) H5Dclose(da);
        if (db >= 0) H5Dclose(db);
    }
    return ok;
}

static int same_checkpoints(const char *fa, const char *fb, char *why, size_t wl)
{
    hid_t a = H5Fopen(fa, H5F_ACC_RDONLY, H5P_DEFAULT), b = H5Fopen(fb, H5F_ACC_RDONLY, H5P_DEFAULT);
    int ok = a >= 0 && b >= 0;
    if (!ok) snprintf(why, wl, "cannot open a checkpoint");
    const char *groups[] = {"state_dict", "optimizer", "nets"};
    for (int i = 0; ok && i < 3; i++) {
        hid_t ga = H5Gopen2(a, groups[i], H5P_DEFAULT), gb = H5Gopen2(b, groups[i], H5P_DEFAULT);
        ok = ga >= 0 && gb >= 0 && same_datasets(ga, gb, groups[i], why, wl);
        if (ga < 0 || gb < 0) snprintf(why, wl, "/%s missing", groups[i]);
        if (ga >= 0) H5Gclose(ga);
        if (gb >= 0) H5Gclose(gb);
    }
    if (a >= 0) H5Fclose(a);
    if (b >= 0) H5Fclose(b);
    return ok;
}

/* starts `train cfg --out run` and SIGKILLs it as soon as run/last.h5 exists; 1 if it was killed */
static int kill_at_first_checkpoint(const char *mt, const char *cfg, const char *run)
{
    pid_t pid = fork();
    if (pid < 0) return 0;
    if (pid == 0) {
        FILE *null = freopen("/dev/null", "w", stdout);
        (void)null;
        execl(mt, mt, "train", cfg, "--device", "cpu", "--out", run, "--quiet", (char *)NULL);
        _exit(127);
    }
    char ck[1100];
    snprintf(ck, sizeof ck, "%s/last.h5", run);
    int killed = 0;
    for (int i = 0; i < 120000 && !killed; i++) { /* up to 120 s */
        if (access(ck, F_OK) == 0) {
            kill(pid, SIGKILL);
            killed = 1;
            break;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) return 0;
        usleep(1000);
    }
    if (!killed) kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return killed;
}

TEST(tasks_gdc_kill9_resume_bit_identical)
{
    const char *mt = mt_test_medtrain();
    if (!mt) SKIP("skipped: medtrain CLI not built next to run_tests");
    const char *tmp = mt_test_tmpdir();
    char ds[1024], cfg[1024], ra[1024], rb[1024], initd[1024], initc[1024], cmd[4096], out[16384], text[24576];
    char gen[PATH_MAX], dis[PATH_MAX], cnn[PATH_MAX];
    CHECK(abs_path("configs/models/skip_ganomaly_g.yaml", gen) && abs_path("configs/models/skip_ganomaly_d.yaml", dis) &&
              abs_path("tests/data/task_cnn.yaml", cnn),
          "graphs missing");
    snprintf(ds, sizeof ds, "%s/tasks_gdc.h5", tmp);
    CHECK(make_dataset(ds, 16, 32, 0, 1), "dataset: %s", mt_last_error());
    mt_model_arg dargs[3] = {{"img_size", "32"}, {"ndf", "4"}, {"nz", "8"}}, cargs[1] = {{"classes", "1"}};
    snprintf(initd, sizeof initd, "%s/tasks_gdc_d.h5", tmp);
    snprintf(initc, sizeof initc, "%s/tasks_gdc_c.h5", tmp);
    CHECK(save_net(dis, 3, dargs, 11, initd) && save_net(cnn, 1, cargs, 12, initc), "frozen nets: %s", mt_last_error());
    snprintf(cfg, sizeof cfg, "%s/tasks_gdc.yaml", tmp);
    snprintf(text, sizeof text,
             "task:\n  kind: gdc\n  gdc_step: localize\n  cam_layer: conv2\n"
             "  discriminator: {graph: %s, params: {img_size: 32, ndf: 4, nz: 8}, init_from: %s}\n"
             "  classifier: {graph: %s, params: {classes: 1}, init_from: %s}\n"
             "model: {graph: %s, params: {img_size: 32, num_downs: 5, ngf: 4}}\n"
             "data: {dataset: %s, num_workers: 2, augment: {enabled: true, flip_h: 0.5, rotation_deg: 10}}\n"
             "optimizer: {kind: adam, lr: 2.0e-4, betas: [0.5, 0.999]}\n"
             "train: {epochs: 4, batch_size: 4, seed: 5, deterministic: true, log_every: 1}\n",
             dis, initd, cnn, initc, gen, ds);
    CHECK(write_text(cfg, text), "config");
    snprintf(ra, sizeof ra, "%s/tasks_gdc_a", tmp);
    snprintf(rb, sizeof rb, "%s/tasks_gdc_b", tmp);
    snprintf(cmd, sizeof cmd, "%s train %s --device cpu --out %s --quiet", mt, cfg, ra);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "uninterrupted G-D-C run failed:\n%s", out);
    CHECK(kill_at_first_checkpoint(mt, cfg, rb), "run B ended before its first checkpoint appeared");
    snprintf(cmd, sizeof cmd, "%s train --resume %s --device cpu --quiet", mt, rb);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "resume failed:\n%s", out);
    const char *r = strstr(out, "at epoch ");
    int from = r ? atoi(r + 9) : -1;
    CHECK(from >= 1 && from < 4, "resume did not start mid-run (epoch %d):\n%s", from, out);
    char fa[1100], fb[1100], why[1024] = "";
    snprintf(fa, sizeof fa, "%s/last.h5", ra);
    snprintf(fb, sizeof fb, "%s/last.h5", rb);
    CHECK(same_checkpoints(fa, fb, why, sizeof why), "G-D-C run differs after kill -9 and resume: %s", why);
    /* the frozen networks are still their init weights (nothing trained them) */
    mt_model *d = NULL, *d0 = NULL;
    mt_checkpoint_net nets[1] = {{NULL, NULL, NULL, NULL}};
    CHECK_OK(mt_model_load_yaml(dis, 3, dargs, mt_cpu(), 99, &d));
    CHECK_OK(mt_model_load_yaml(dis, 3, dargs, mt_cpu(), 98, &d0));
    nets[0].model = d0;
    mt_status st = mt_checkpoint_load_nets(initd, 1, nets, NULL);
    hid_t f = H5Fopen(fb, H5F_ACC_RDONLY, H5P_DEFAULT);
    int same = st == MT_OK && f >= 0;
    for (int i = 0; same && i < mt_model_state_count(d0); i++) {
        char name[512];
        snprintf(name, sizeof name, "nets/D/state_dict/%s", mt_model_state_name(d0, i));
        mt_tensor *t = mt_model_state_tensor(d0, i);
        size_t n = mt_numel(t);
        double *v = malloc(sizeof(double) * n);
        mt_real *w = malloc(sizeof(mt_real) * n);
        hid_t ds_ = H5Dopen2(f, name, H5P_DEFAULT);
        same = v && w && ds_ >= 0 && H5Dread(ds_, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0 &&
               mt_tensor_to_host(t, w, sizeof(mt_real) * n) == MT_OK;
        for (size_t j = 0; same && j < n; j++) same = (double)w[j] == v[j];
        if (ds_ >= 0) H5Dclose(ds_);
        free(v);
        free(w);
    }
    if (f >= 0) H5Fclose(f);
    mt_model_free(d);
    mt_model_free(d0);
    CHECK(same, "frozen D in last.h5 differs from its init_from weights");
}

TEST(tasks_classification_run_writes_metrics_and_pictures)
{
    const char *mt = mt_test_medtrain();
    if (!mt) SKIP("skipped: medtrain CLI not built next to run_tests");
    const char *tmp = mt_test_tmpdir();
    char ds[1024], cfg[1024], run[1024], cmd[4096], out[16384], text[12288], cnn[PATH_MAX], path[1200];
    CHECK(abs_path("tests/data/task_cnn.yaml", cnn), "graph missing");
    snprintf(ds, sizeof ds, "%s/tasks_cls_lab.h5", tmp);
    CHECK(make_dataset(ds, 48, 16, 0, 1), "dataset: %s", mt_last_error());
    snprintf(cfg, sizeof cfg, "%s/tasks_cls_ok.yaml", tmp);
    snprintf(text, sizeof text,
             "task: {kind: classification}\nmodel: {graph: %s, params: {classes: 2, c1: 8, c2: 8}}\n"
             "data: {dataset: %s}\nloss: {kind: cross_entropy}\noptimizer: {kind: adam, lr: 0.02}\n"
             "train: {epochs: 12, batch_size: 8, seed: 2}\n"
             "early_stopping: {enabled: true, monitor: val_accuracy, mode: max, patience: 50}\n"
             "checkpoint: {monitor: val_accuracy, mode: max}\n", cnn, ds);
    CHECK(write_text(cfg, text), "config");
    snprintf(run, sizeof run, "%s/tasks_cls_ok_run", tmp);
    snprintf(cmd, sizeof cmd, "%s train %s --device cpu --out %s --quiet", mt, cfg, run);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "classification run failed:\n%s", out);
    const char *pics[] = {"metrics.json", "log.csv", "curves_loss.png", "curves_metrics.png",
                          "pictures/confusion_matrix.png", "pictures/roc.png"};
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "%s/%s", run, pics[i]);
        CHECK(access(path, F_OK) == 0, "%s missing", pics[i]);
    }
    snprintf(path, sizeof path, "%s/metrics.json", run);
    FILE *f = fopen(path, "r");
    char json[8192] = "";
    size_t n = f ? fread(json, 1, sizeof json - 1, f) : 0;
    if (f) fclose(f);
    json[n] = '\0';
    const char *acc = strstr(json, "\"accuracy\": "), *cm = strstr(json, "\"confusion_matrix\": [[");
    CHECK(acc && cm && strstr(json, "\"task\": \"classification\""), "metrics.json:\n%s", json);
    double a = atof(acc + 12);
    long c00 = 0, c01 = 0, c10 = 0, c11 = 0;
    CHECK(sscanf(cm + 22, "%ld, %ld], [%ld, %ld", &c00, &c01, &c10, &c11) == 4, "confusion matrix:\n%s", json);
    long total = c00 + c01 + c10 + c11;
    CHECK(total == 12, "test split has 12 samples, the matrix counts %ld", total);
    CHECK(fabs(a - (double)(c00 + c11) / total) < 1e-9, "accuracy %g disagrees with the matrix", a);
    CHECK(a >= 0.9, "a bright vs dark disc should be learnt: test accuracy %g\n%s", a, out);
    const char *hdr = "step,epoch,phase,loss,lr,images_per_s,val_loss,val_accuracy,val_auc,val_precision,val_recall";
    snprintf(path, sizeof path, "%s/log.csv", run);
    f = fopen(path, "r");
    char line[512] = "";
    CHECK(f && fgets(line, sizeof line, f), "log.csv");
    fclose(f);
    CHECK(!strncmp(line, hdr, strlen(hdr)), "log.csv header: %s", line);
}

TEST(tasks_detection_run_writes_map_and_boxes)
{
    const char *mt = mt_test_medtrain();
    if (!mt) SKIP("skipped: medtrain CLI not built next to run_tests");
    const char *tmp = mt_test_tmpdir();
    char ds[1024], cfg[1024], run[1024], cmd[4096], out[16384], text[12288], yolo[PATH_MAX], path[1200];
    CHECK(abs_path("configs/models/yolov5s.yaml", yolo), "graph missing");
    snprintf(ds, sizeof ds, "%s/tasks_boxes.h5", tmp);
    CHECK(mt_test_box_dataset(ds, 16, 64, 2, 41), "dataset: %s", mt_last_error());
    snprintf(cfg, sizeof cfg, "%s/tasks_det_ok.yaml", tmp);
    snprintf(text, sizeof text,
             "task: {kind: detection}\n"
             "model: {graph: %s, params: {in_channels: 1, nc: 2, img_size: 64, width_multiple: 0.125}}\n"
             "data: {dataset: %s, normalize: window, window: [0, 255], augment: {enabled: true, flip_h: 0.5}}\n"
             "optimizer: {kind: adam, lr: 0.001}\ntrain: {epochs: 2, batch_size: 4, seed: 1, log_every: 1}\n",
             yolo, ds);
    CHECK(write_text(cfg, text), "config");
    snprintf(run, sizeof run, "%s/tasks_det_ok_run", tmp);
    snprintf(cmd, sizeof cmd, "%s train %s --device cpu --out %s --quiet", mt, cfg, run);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "detection run failed:\n%s", out);
    CHECK(strstr(out, "map50") && strstr(out, "map50_95"), "no mAP in the report:\n%s", out);
    snprintf(path, sizeof path, "%s/metrics.json", run);
    FILE *f = fopen(path, "r");
    char json[8192] = "";
    size_t n = f ? fread(json, 1, sizeof json - 1, f) : 0;
    if (f) fclose(f);
    json[n] = '\0';
    const char *m = strstr(json, "\"map50\": "), *l = strstr(json, "\"labels\": ");
    CHECK(m && l && strstr(json, "\"task\": \"detection\""), "metrics.json:\n%s", json);
    double map50 = atof(m + 9);
    const char *mi = strstr(json, "\"mean_iou\": ");
    CHECK(mi && atof(mi + 12) >= 0 && atof(mi + 12) <= 1, "metrics.json has no mean_iou in [0, 1]:\n%s", json);
    CHECK(map50 >= 0 && map50 <= 1 && atof(l + 10) == 4, "mAP@0.5 %g, labels %g (4 test boxes)", map50, atof(l + 10));
    snprintf(path, sizeof path, "%s/log.csv", run);
    f = fopen(path, "r");
    char line[512] = "";
    CHECK(f && fgets(line, sizeof line, f), "log.csv");
    fclose(f);
    CHECK(strstr(line, "val_map50,val_map50_95,val_precision,val_recall,val_mean_iou,loss_box,loss_obj,loss_cls"), "log.csv header: %s", line);
    int pngs = 0;
    for (int i = 0; i < 16; i++) {
        snprintf(path, sizeof path, "%s/pictures/boxes_%04d.png", run, i);
        pngs += access(path, F_OK) == 0;
    }
    CHECK(pngs == 4, "%d boxes PNGs (one per test image expected)", pngs);
}

/* data.normalize window, x data.output_scale, grey replicated to data.channels 3 (Keras EfficientNet input) */
TEST(tasks_input_normalisation_window_scale_channels)
{
    mt_session s;
    memset(&s, 0, sizeof s);
    s.dev = mt_cpu();
    s.exp.data.normalize = MT_NORM_WINDOW;
    s.exp.data.window[0] = -100;
    s.exp.data.window[1] = 300;
    s.exp.data.output_scale = 255;
    s.in_c = 3;
    int shape[4] = {2, 1, 1, 3};
    mt_real v[6] = {-200, -100, 0, 100, 300, 500};
    mt_tensor *raw = mt_tensor_from_host(mt_cpu(), 4, shape, v);
    mt_tensor *x = mt_session_normalize(&s, raw);
    CHECK(x && x->ndim == 4 && x->shape[0] == 2 && x->shape[1] == 3 && x->shape[2] == 1 && x->shape[3] == 3,
          "normalised shape");
    mt_real got[18];
    CHECK_OK(mt_tensor_to_host(x, got, sizeof got));
    /* clip to [-100, 300], (x + 100) / 400, x 255; the same plane in the 3 channels */
    const double want[6] = {0, 0, 63.75, 127.5, 255, 255};
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 3; c++)
            for (int j = 0; j < 3; j++)
                CHECK(fabs(got[(n * 3 + c) * 3 + j] - want[n * 3 + j]) < 1e-4, "sample %d channel %d px %d: %g, want %g",
                      n, c, j, (double)got[(n * 3 + c) * 3 + j], want[n * 3 + j]);
    CHECK(!x->requires_grad, "the input must not require grad");
    mt_tensor_release(x);
    mt_tensor_release(raw);
}

/* data.input_size: a batch resized 8x8 -> 4x4 moves its boxes with the pixel-centre
 * convention of docs/dataset.md, x' = (x + 0.5) s - 0.5 (the importer's resize) */
TEST(tasks_fit_batch_moves_boxes_by_pixel_centres)
{
    mt_session s;
    memset(&s, 0, sizeof s);
    s.dev = mt_cpu();
    s.in_h = 4;
    s.in_w = 2;
    int shape[4] = {1, 1, 8, 8};
    mt_real v[64] = {0};
    mt_batch b;
    memset(&b, 0, sizeof b);
    b.n = 1;
    b.images = mt_tensor_from_host(mt_cpu(), 4, shape, v);
    float boxes[6] = {0, 1, 2, 5, 7, 0};
    b.boxes = boxes;
    b.n_boxes = 1;
    CHECK(b.images, "tensor");
    CHECK_OK(mt_session_fit_batch(&s, &b));
    CHECK(b.images->shape[2] == 4 && b.images->shape[3] == 2, "resized to %dx%d", b.images->shape[2], b.images->shape[3]);
    const float want[4] = {(1 + 0.5f) * 0.25f - 0.5f, (2 + 0.5f) * 0.5f - 0.5f, (5 + 0.5f) * 0.25f - 0.5f,
                           (7 + 0.5f) * 0.5f - 0.5f};
    for (int i = 0; i < 4; i++) CHECK(fabsf(boxes[1 + i] - want[i]) < 1e-6, "box[%d] %g, want %g", i, boxes[1 + i], want[i]);
    mt_tensor_release(b.images);
}

/* Multi-class segmentation evaluation with a window per class: a hand-set 1x1 conv predicts
 * "muscle" (class 1) wherever HU > -25 and "fat" (class 2) wherever HU < -25; the class
 * windows [-29, 150] and [-190, -30] remove bone (500 HU) and air (-1000 HU), so the
 * post-processed DSC of both is 1 and the raw DSC is 2A / (2A + bone), 2B / (2B + air). */
TEST(tasks_segmentation_class_hu_windows_exact)
{
    const char *tmp = mt_test_tmpdir();
    char ds[1024], graph[PATH_MAX];
    CHECK(abs_path("tests/data/seg_linear.yaml", graph), "graph missing");
    snprintf(ds, sizeof ds, "%s/tasks_hu.h5", tmp);
    enum { S = 8, N = 4 };
    mt_dataset_spec spec = {1, S, S, 2, 0, "test_tasks hu", "none"};
    mt_dataset_writer *w = NULL;
    CHECK_OK(mt_dataset_writer_open(ds, &spec, &w));
    CHECK_OK(mt_dataset_writer_set_split_by_sample(w, 1));
    float img[S * S];
    uint8_t msk[2 * S * S];
    int area[4] = {0}; /* muscle, fat, bone, air pixels over all images */
    for (int i = 0; i < N; i++) {
        for (int p = 0; p < S * S; p++) {
            int kind = (p + i) % 4 == 0 ? 2 : (p + 2 * i) % 5 == 0 ? 3 : (p / S) < S / 2 ? 0 : 1;
            static const float hu[4] = {50, -100, 500, -1000};
            img[p] = hu[kind];
            msk[p] = kind == 0;
            msk[S * S + p] = kind == 1;
            area[kind]++;
        }
        mt_sample smp;
        mt_sample_init(&smp);
        smp.c = 1, smp.h = S, smp.w = S, smp.k = 2, smp.image = img, smp.mask = msk;
        snprintf(smp.meta.source, sizeof smp.meta.source, "hu-%d", i);
        CHECK_OK(mt_dataset_writer_add(w, &smp));
    }
    CHECK_OK(mt_dataset_writer_close(w, 1, 0, 0, 0));
    mt_session s;
    memset(&s, 0, sizeof s);
    s.dev = mt_cpu();
    s.exp.loss.kind = MT_LOSS_CROSS_ENTROPY;
    s.exp.data.normalize = MT_NORM_NONE;
    s.exp.data.output_scale = 1;
    s.exp.metrics.threshold = 0.5;
    const double win[4] = {-29, 150, -190, -30};
    s.exp.postprocess.n_class_hu = 4;
    memcpy(s.exp.postprocess.class_hu, win, sizeof win);
    s.task = &mt_task_segmentation;
    CHECK_OK(mt_dataset_open(ds, &s.ds));
    mt_dataset_geometry(s.ds, &s.geo);
    s.in_h = s.in_w = S;
    s.in_c = 1;
    CHECK_OK(mt_model_load_yaml(graph, 0, NULL, mt_cpu(), 1, &s.model));
    /* conv.weight [3, 1, 1, 1], conv.bias [3]: background 0; muscle x + 25; fat -(x + 25) */
    mt_real wv[3] = {0, 1, -1}, bv[3] = {0, 25, -25};
    CHECK_OK(mt_tensor_from_host_into(mt_model_state_tensor(s.model, 0), wv, sizeof wv));
    CHECK_OK(mt_tensor_from_host_into(mt_model_state_tensor(s.model, 1), bv, sizeof bv));
    int idx[N] = {0, 1, 2, 3};
    mt_eval ev;
    mt_status st = mt_task_segmentation.evaluate(&s, idx, N, 2, &ev);
    CHECK_OK(st);
    double dm = NAN, df = NAN, dsc = NAN;
    CHECK_OK(mt_eval_get(&ev, "dsc_0", &dm));
    CHECK_OK(mt_eval_get(&ev, "dsc_1", &df));
    CHECK_OK(mt_eval_get(&ev, "val_dsc", &dsc));
    CHECK(fabs(dm - 1) < 1e-12 && fabs(df - 1) < 1e-12 && fabs(dsc - 1) < 1e-12,
          "post-processed DSC muscle %g, fat %g, mean %g: want 1", dm, df, dsc);
    /* raw (before the windows): per image 2A / (2A + bone) for muscle, 2B / (2B + air) for fat */
    char json_path[1100];
    snprintf(json_path, sizeof json_path, "%s/tasks_hu.json", tmp);
    FILE *f = fopen(json_path, "w+");
    CHECK(f, "json file");
    mt_task_segmentation.json(f, &s, &ev, 0);
    rewind(f);
    char json[16384] = "";
    size_t n = fread(json, 1, sizeof json - 1, f);
    json[n] = '\0';
    fclose(f);
    const char *raw = strstr(json, "\"raw\": {"), *rd = raw ? strstr(raw, "\"dsc\": {\"mean\": ") : NULL;
    CHECK(rd && strstr(json, "\"per_class_post\": [{\"channel\": 0"), "json:\n%s", json);
    double raw_mean = atof(rd + strlen("\"dsc\": {\"mean\": ")), want = 0;
    /* recompute per image and channel from the same layout */
    for (int i = 0; i < N; i++) {
        int a[4] = {0};
        for (int p = 0; p < S * S; p++) a[(p + i) % 4 == 0 ? 2 : (p + 2 * i) % 5 == 0 ? 3 : (p / S) < S / 2 ? 0 : 1]++;
        want += 2.0 * a[0] / (2.0 * a[0] + a[2]) + 2.0 * a[1] / (2.0 * a[1] + a[3]);
    }
    want /= 2 * N;
    CHECK(fabs(raw_mean - want) < 1e-7, "raw mean DSC %.9g, want %.9g", raw_mean, want);
    mt_eval_free(&ev);
    mt_model_free(s.model);
    mt_dataset_close(s.ds);
}

/* first number after `key` in text (NaN if absent) */
static double json_number(const char *text, const char *key)
{
    const char *p = text ? strstr(text, key) : NULL;
    return p ? atof(p + strlen(key)) : NAN;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 20);
    if (buf) buf[fread(buf, 1, (1 << 20) - 1, f)] = '\0';
    fclose(f);
    return buf;
}

/* The short version of experiments/fashion_mnist: the official 10,000 test images (Debian's
 * dataset-fashion-mnist) imported and split 7,000 / 1,000 / 2,000, the recipe of
 * experiments/fashion_mnist/fmnist.yaml for 2 epochs in medtrain and in its PyTorch peer
 * (peer_torch.py, same split from the same file): both reach test accuracy >= 0.80 and lie
 * within 3 points of each other (2,000 test images: one sample's SD of an accuracy near 0.85 is
 * 0.8 points, and the two engines draw different initial weights and orders). */
TEST(tasks_fashion_mnist_short_vs_torch)
{
    const char *mt = mt_test_medtrain();
    if (!mt) SKIP("skipped: medtrain CLI not built next to run_tests");
    const char *D = "/usr/share/datasets/fashion-mnist";
    char img[512], lab[512];
    snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte.gz", D);
    snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte.gz", D);
    if (access(img, R_OK) != 0 || access(lab, R_OK) != 0)
        SKIP("skipped: Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)");
    if (access("/usr/bin/python3", X_OK) != 0) SKIP("skipped: /usr/bin/python3 missing");
    const char *tmp = mt_test_tmpdir();
    char ds[1024], run[1024], peer[1024], cmd[8192], out[65536], cfg[PATH_MAX], script[PATH_MAX], path[1200];
    CHECK(abs_path("experiments/fashion_mnist/fmnist.yaml", cfg) && abs_path("experiments/fashion_mnist/peer_torch.py", script),
          "experiment files missing");
    snprintf(ds, sizeof ds, "%s/fmnist_short.h5", tmp);
    snprintf(cmd, sizeof cmd,
             "%s import --source idx --input %s --idx_labels %s --scale 0,255 --val_frac 0.1 --test_frac 0.2 "
             "--seed 0 --output %s",
             mt, img, lab, ds);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "import failed:\n%s", out);
    snprintf(run, sizeof run, "%s/fmnist_short_run", tmp);
    snprintf(cmd, sizeof cmd, "%s train %s --set data.dataset=%s --set train.epochs=2 --device cpu --out %s --quiet", mt,
             cfg, ds, run);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "medtrain train failed:\n%s", out);
    snprintf(path, sizeof path, "%s/metrics.json", run);
    char *m = slurp(path);
    double acc_mt = json_number(m, "\"accuracy\": ");
    free(m);
    snprintf(peer, sizeof peer, "%s/fmnist_short_peer.json", tmp);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s --epochs 2 --threads 2 --json %s", script, ds, peer);
    rc = mt_test_run(cmd, out, sizeof out);
    if (rc != 0 && strstr(out, "No module named")) SKIP("skipped: the PyTorch peer needs torch, h5py, sklearn");
    CHECK(rc == 0, "peer failed:\n%s", out);
    char *p = slurp(peer);
    const char *test = p ? strstr(p, "\"test\": {") : NULL;
    double acc_t = json_number(test, "\"accuracy\": ");
    free(p);
    printf("    Fashion-MNIST short (7,000 train, 2 epochs): test accuracy medtrain %.4f, PyTorch %.4f\n", acc_mt, acc_t);
    CHECK(acc_mt >= 0.80 && acc_t >= 0.80, "test accuracy medtrain %.4f, PyTorch %.4f (want >= 0.80)", acc_mt, acc_t);
    CHECK(fabs(acc_mt - acc_t) <= 0.03, "medtrain %.4f vs PyTorch %.4f: more than 3 points apart", acc_mt, acc_t);
}

/* n grey images size x size of S4's synthetic-fracture benchmark in miniature: label 1
 * (fracture, odd i) has a bright disc of radius size/4 recorded in the one mask channel
 * (`defect`), label 0 (normal) plain noise and an all-zero mask. */
static int make_defect_dataset(const char *path, int n, int size, double val_frac, double test_frac)
{
    mt_dataset_spec spec = {1, size, size, 1, 0, "test_tasks synthetic defects", "none"};
    mt_dataset_writer *w = NULL;
    if (mt_dataset_writer_open(path, &spec, &w) != MT_OK) return 0;
    const char *names[1] = {"defect"};
    if (mt_dataset_writer_set_split_by_sample(w, 1) != MT_OK || mt_dataset_writer_set_names(w, "mask_names", names, 1))
        return 0;
    float *img = malloc(sizeof(float) * size * size);
    uint8_t *msk = malloc((size_t)size * size);
    int ok = img && msk;
    for (int i = 0; ok && i < n; i++) {
        int label = i % 2;
        float cx = size * (0.3f + 0.4f * mt_philox_uniform(41, (uint64_t)i));
        float cy = size * (0.3f + 0.4f * mt_philox_uniform(42, (uint64_t)i)), r = size * 0.25f;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                int in = label && (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
                float noise = 0.2f * (mt_philox_uniform(43, (uint64_t)(i * size * size + y * size + x)) - 0.5f);
                img[y * size + x] = (in ? 0.9f : 0.5f) + noise;
                msk[y * size + x] = (uint8_t)in;
            }
        mt_sample s;
        mt_sample_init(&s);
        s.c = 1, s.h = size, s.w = size, s.k = 1;
        s.image = img;
        s.mask = msk;
        s.label = label;
        snprintf(s.meta.source, sizeof s.meta.source, "defect-%d", i);
        ok = mt_dataset_writer_add(w, &s) == MT_OK;
    }
    free(img);
    free(msk);
    return mt_test_dataset_close(w, ok, val_frac, test_frac);
}

/* label-1 samples of a split and their mean defect-mask area fraction */
static int defect_stats(const char *path, const char *split, int *n1, double *area)
{
    mt_dataset *d = NULL;
    int *idx = NULL, n = 0, ok = mt_dataset_open(path, &d) == MT_OK &&
                                mt_dataset_split_indices(d, split, &idx, &n) == MT_OK;
    *n1 = 0;
    *area = 0;
    for (int i = 0; ok && i < n; i++) {
        if (mt_dataset_label(d, idx[i]) != 1) continue;
        mt_sample s;
        mt_sample_init(&s);
        ok = mt_dataset_read(d, idx[i], &s) == MT_OK;
        long in = 0;
        for (int p = 0; ok && p < s.h * s.w; p++) in += s.mask[p] != 0;
        if (ok) *area += (double)in / (s.h * s.w), ++*n1;
        mt_sample_free(&s);
    }
    if (*n1) *area /= *n1;
    free(idx);
    if (d) mt_dataset_close(d);
    return ok;
}

/* A G-D-C localize run on fracture crops only (data.labels_keep: [1]) of a dataset with
 * /labels and defect masks: evaluate's JSON holds pointing / IoU / tau of the change, CAM
 * and random maps in [0, 1], n_images = the label-1 samples of the test split, the random
 * map's pointing rate near the mean defect area fraction (its argmax is a uniform pixel:
 * 200 images, SD of the rate about 0.03, tolerance 0.1), and change maps drawn with the
 * defect outline. labels_keep on a dataset without labels, or keeping nothing, is refused. */
TEST(tasks_gdc_localization_scores_fracture_only)
{
    const char *mt = mt_test_medtrain();
    if (!mt) SKIP("skipped: medtrain CLI not built next to run_tests");
    const char *tmp = mt_test_tmpdir();
    char ds[1024], plain[1024], cfg[1024], run[1024], initd[1024], initc[1024], cmd[4096], out[16384], text[24576];
    char gen[PATH_MAX], dis[PATH_MAX], cnn[PATH_MAX], path[1200];
    CHECK(abs_path("configs/models/skip_ganomaly_g.yaml", gen) && abs_path("configs/models/skip_ganomaly_d.yaml", dis) &&
              abs_path("tests/data/task_cnn.yaml", cnn),
          "graphs missing");
    snprintf(ds, sizeof ds, "%s/loc_defects.h5", tmp);
    CHECK(make_defect_dataset(ds, 800, 32, 0.15, 0.5), "dataset: %s", mt_last_error());
    mt_model_arg dargs[3] = {{"img_size", "32"}, {"ndf", "4"}, {"nz", "8"}}, cargs[1] = {{"classes", "1"}};
    snprintf(initd, sizeof initd, "%s/loc_d.h5", tmp);
    snprintf(initc, sizeof initc, "%s/loc_c.h5", tmp);
    CHECK(save_net(dis, 3, dargs, 11, initd) && save_net(cnn, 1, cargs, 12, initc), "frozen nets: %s", mt_last_error());
    const char *fmt = "task:\n  kind: gdc\n  gdc_step: localize\n  cam_layer: conv2\n"
                      "  discriminator: {graph: %s, params: {img_size: 32, ndf: 4, nz: 8}, init_from: %s}\n"
                      "  classifier: {graph: %s, params: {classes: 1}, init_from: %s}\n"
                      "model: {graph: %s, params: {img_size: 32, num_downs: 5, ngf: 4}}\n"
                      "data: {dataset: %s, labels_keep: [%s]}\n"
                      "optimizer: {kind: adam, lr: 2.0e-4, betas: [0.5, 0.999]}\n"
                      "train: {epochs: 1, batch_size: 16, seed: 5}\n";
    /* refusals: a dataset without labels; a label no sample has */
    snprintf(plain, sizeof plain, "%s/loc_plain.h5", tmp);
    CHECK(make_dataset(plain, 8, 32, 0, 0), "dataset: %s", mt_last_error());
    const struct {
        const char *data, *keep, *msg;
    } bad[2] = {{plain, "1", "has none (/labels"}, {ds, "7", "keeps none of the"}};
    for (int i = 0; i < 2; i++) {
        snprintf(text, sizeof text, fmt, dis, initd, cnn, initc, gen, bad[i].data, bad[i].keep);
        snprintf(cfg, sizeof cfg, "%s/loc_bad%d.yaml", tmp, i);
        CHECK(write_text(cfg, text), "config");
        snprintf(cmd, sizeof cmd, "%s train %s --device cpu --out %s/loc_bad%d_run --quiet", mt, cfg, tmp, i);
        int rc = mt_test_run(cmd, out, sizeof out);
        CHECK(rc == 1 && strstr(out, "data.labels_keep") && strstr(out, bad[i].msg) &&
                  (i == 0 ? strstr(out, plain) != NULL : strstr(out, "split 'train'") != NULL),
              "labels_keep [%s] on %s: rc %d\n%s", bad[i].keep, bad[i].data, rc, out);
    }
    snprintf(text, sizeof text, fmt, dis, initd, cnn, initc, gen, ds, "1");
    snprintf(cfg, sizeof cfg, "%s/loc_gdc.yaml", tmp);
    CHECK(write_text(cfg, text), "config");
    snprintf(run, sizeof run, "%s/loc_gdc_run", tmp);
    snprintf(cmd, sizeof cmd, "%s train %s --device cpu --out %s --quiet", mt, cfg, run);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "G-D-C run failed:\n%s", out);
    snprintf(cmd, sizeof cmd, "%s evaluate %s --device cpu --overlays 2", mt, run);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "pointing_change"), "evaluate failed:\n%s", out);
    snprintf(path, sizeof path, "%s/eval_test.json", run);
    char *json = slurp(path);
    CHECK(json, "%s missing", path);
    int n1 = 0;
    double area = 0;
    int stats_ok = defect_stats(ds, "test", &n1, &area);
    double n_images = json_number(json, "\"n_images\": "), loc = json_number(json, "\"loc_images\": ");
    static const char *const keys[] = {"pointing_change", "iou_change", "tau_change", "pointing_cam", "iou_cam",
                                       "tau_cam", "pointing_random", "iou_random", "tau_random"};
    int in_range = 1;
    char key[64];
    for (int i = 0; i < 9; i++) {
        snprintf(key, sizeof key, "\"%s\": ", keys[i]);
        double v = json_number(json, key);
        if (!(v >= 0 && v <= 1)) in_range = 0, printf("     %s = %g\n", keys[i], v);
    }
    double pr = json_number(json, "\"pointing_random\": ");
    if (!in_range || !stats_ok || n_images != n1 || loc != n1 || !(fabs(pr - area) < 0.1)) printf("%s\n", json);
    free(json);
    CHECK(stats_ok && n1 >= 150, "test split: %d label-1 samples (%s)", n1, mt_last_error());
    CHECK(in_range, "a localization score outside [0, 1] or missing");
    CHECK(n_images == n1 && loc == n1, "n_images %g, loc_images %g: the test split has %d label-1 samples", n_images,
          loc, n1);
    CHECK(fabs(pr - area) < 0.1, "random map's pointing rate %g vs mean defect area fraction %g", pr, area);
    /* log.csv: a val_pointing_change ... val_iou_random column each, filled in epoch 1's val row */
    snprintf(path, sizeof path, "%s/log.csv", run);
    char *csv = slurp(path);
    const char *row = csv ? strstr(csv, ",val,") : NULL;
    int filled = csv && row, col = 0;
    for (const char *h = csv; filled && *h != '\n'; h++) col += *h == ','; /* header columns - 1 */
    static const char *const loc_cols[6] = {"val_pointing_change", "val_iou_change", "val_pointing_cam",
                                            "val_iou_cam", "val_pointing_random", "val_iou_random"};
    while (row && row > csv && row[-1] != '\n') row--;
    for (int i = 0; filled && i < 6; i++) {
        const char *h = strstr(csv, loc_cols[i]);
        int k = 0;
        for (const char *c = csv; h && c < h; c++) k += *c == ',';
        const char *f = row;
        for (int j = 0; f && j < k; j++) f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL;
        filled = h && k <= col && f && *f != ',' && *f != '\n';
    }
    free(csv);
    CHECK(filled, "log.csv lacks a localization column or its val row leaves one empty");
    snprintf(path, sizeof path, "%s/overlays_test", run);
    char ls[2400];
    snprintf(ls, sizeof ls, "ls %s | grep -c '^change_.*\\.png$'", path);
    rc = mt_test_run(ls, out, sizeof out);
    CHECK(rc == 0 && atoi(out) == 2, "overlays_test has %s change maps (2 expected)", out);
}

/* softmax over dim 1 of a session's forward pass on samples idx[0..n-1]: [n, k] on the host; caller frees */
static double *class_probs(mt_session *s, const int *idx, int n, int *k)
{
    size_t count = 0;
    float *h = mt_test_session_logits(s, idx, n, &count, k);
    double *p = h ? malloc(sizeof(double) * count) : NULL;
    for (int i = 0; p && i < n; i++) {
        double m = -INFINITY, sum = 0;
        for (int c = 0; c < *k; c++) m = fmax(m, h[i * *k + c]);
        for (int c = 0; c < *k; c++) sum += exp(h[i * *k + c] - m);
        for (int c = 0; c < *k; c++) p[i * *k + c] = exp(h[i * *k + c] - m) / sum;
    }
    free(h);
    return p;
}

TEST(tasks_classification_ensemble_is_the_mean_of_softmax_probabilities)
{
    const char *mt = mt_test_medtrain();
    if (!mt) SKIP("skipped: medtrain CLI not built next to run_tests");
    const char *tmp = mt_test_tmpdir();
    char ds[1024], cfg[1024], run[2][1024], cmd[4096], out[16384], text[12288], cnn[PATH_MAX];
    CHECK(abs_path("tests/data/task_cnn.yaml", cnn), "graph missing");
    snprintf(ds, sizeof ds, "%s/tasks_ens.h5", tmp);
    CHECK(make_dataset(ds, 24, 16, 0, 1), "dataset: %s", mt_last_error());
    snprintf(cfg, sizeof cfg, "%s/tasks_ens.yaml", tmp);
    snprintf(text, sizeof text,
             "task: {kind: classification}\nmodel: {graph: %s, params: {classes: 3, c1: 4, c2: 4}}\n"
             "data: {dataset: %s}\nloss: {kind: cross_entropy}\noptimizer: {kind: adam, lr: 0.02}\n"
             "train: {epochs: 1, batch_size: 8}\n", cnn, ds);
    CHECK(write_text(cfg, text), "config");
    for (int r = 0; r < 2; r++) {
        snprintf(run[r], sizeof run[r], "%s/tasks_ens_%d", tmp, r);
        snprintf(cmd, sizeof cmd, "%s train %s --device cpu --out %s --set train.seed=%d --quiet", mt, cfg, run[r], 5 + r);
        CHECK(mt_test_run(cmd, out, sizeof out) == 0, "run %d failed:\n%s", r, out);
    }
    int idx[5] = {0, 3, 8, 13, 21}, k[3] = {0, 0, 0};
    double *p[3] = {NULL, NULL, NULL};
    for (int r = 0; r < 3; r++) {
        mt_session s;
        memset(&s, 0, sizeof s);
        CHECK_OK(mt_session_open_run(&s, "test", "classification", run[r == 2 ? 0 : r], ds, mt_cpu(), NULL, 0));
        if (r == 2) CHECK_OK(mt_session_add_ensemble(&s, run[1]));
        p[r] = class_probs(&s, idx, 5, &k[r]);
        mt_session_free(&s);
        CHECK(p[r] && k[r] == 3, "forward %d: %s", r, mt_last_error());
    }
    double err = 0, gap = 0, rowsum = 0;
    for (int i = 0; i < 15; i++) {
        err = fmax(err, fabs(p[2][i] - 0.5 * (p[0][i] + p[1][i])));
        gap = fmax(gap, fabs(p[0][i] - p[1][i]));
    }
    for (int c = 0; c < 3; c++) rowsum += p[2][c];
    CHECK(gap > 1e-3, "the two runs agree (gap %g): the test shows nothing", gap);
    CHECK(err < 1e-6 && fabs(rowsum - 1) < 1e-6, "ensemble softmax differs from the mean by %g (row sum %g)", err, rowsum);
    free(p[0]), free(p[1]), free(p[2]);
}
