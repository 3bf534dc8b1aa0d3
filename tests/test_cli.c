/* tests/test_cli.c: the medtrain CLI end to end, run as a program (popen /
 * fork+exec) on a tiny synthetic CT-like dataset written with data/dataset.h:
 * config errors are reported with file:line before any training; a tiny run
 * leaves its files; a run killed with SIGKILL and resumed ends bit-identical to
 * an uninterrupted one; predict writes mask and overlay PNGs; info counts the
 * U-Net's parameters. The CLI binary is the `medtrain` next to run_tests
 * (`make test` builds both). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/rng.h"
#include "../data/dataset.h"
#include "../data/image_io.h"
#include "../train/plot.h"
#include "test.h"



static int file_exists(const char *dir, const char *name)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* A CT-like dataset: background fat (-100 HU) with noise, a muscle disc (+50 HU)
 * at a per-sample position; mask = the disc. Split by sample, seed 0. */
/* Writes the tiny experiment config; `extra` is appended verbatim (YAML); dropout 0.5
 * exercises the dropout stream across a resume, 0 lets the 30-step runs learn. */
static int write_config(const char *path, const char *dataset, const char *extra, double dropout)
{
    char graph[PATH_MAX], rel[PATH_MAX];
    if (!realpath(mt_test_path("configs/models/unet.yaml", rel, sizeof rel), graph)) return 0;
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fprintf(f,
            "name: tiny\n"
            "model:\n  graph: %s\n  params: {base: 4, depth: 2, in_channels: 1, out_channels: 1, dropout: %g}\n"
            "data:\n  dataset: %s\n  normalize: window\n  window: [-200, 200]\n  num_workers: 2\n"
            "loss:\n  kind: bce_dice\n"
            "optimizer:\n  kind: adam\n  lr: 0.01\n"
            "train:\n  epochs: 8\n  batch_size: 2\n  seed: 3\n  deterministic: true\n  log_every: 1\n"
            "checkpoint: {monitor: val_dsc, mode: max}\n"
            "postprocess:\n  hu_window: [-29, 150]\n%s",
            graph, dropout, dataset, extra ? extra : "");
    return fclose(f) == 0;
}

static const char *g_dataset; /* made once per test binary run */

static const char *dataset(void)
{
    static char path[1024];
    if (g_dataset) return g_dataset;
    snprintf(path, sizeof path, "%s/tiny_ct.h5", mt_test_tmpdir());
    if (!mt_test_disc_dataset(path, 24, 32, 21, "p0", 0.2, 0.2)) return NULL;
    g_dataset = path;
    return g_dataset;
}

#define NEED_CLI()                                                                         \
    const char *mt_ = mt_test_medtrain();                                                           \
    if (!mt_) SKIP("skipped: medtrain CLI not built next to run_tests (make test builds it)"); \
    char graph_rel_[512];                                                                  \
    if (access(mt_test_path("configs/models/unet.yaml", graph_rel_, sizeof graph_rel_), F_OK) != 0) \
        SKIP("skipped: configs/models/unet.yaml missing");

/* A misspelt key, a wrong type and a missing dataset fail before training, naming file:line. */
TEST(cli_config_errors_fail_before_training)
{
    NEED_CLI();
    const char *ds = dataset();
    CHECK(ds, "cannot write the test dataset: %s", mt_last_error());
    const char *tmp = mt_test_tmpdir();
    char cfg[1024], cmd[4096], out[8192], run[1024];
    struct {
        const char *extra, *dataset, *want1, *want2;
    } cases[] = {
        {"metrics:\n  treshold: 0.5\n", NULL, "treshold", ".yaml:"},
        {"early_stopping:\n  patience: ten\n", NULL, "patience", ".yaml:"},
        {"", "/nonexistent/missing_dataset.h5", "missing_dataset.h5", ".yaml:"},
    };
    for (int i = 0; i < 3; i++) {
        snprintf(cfg, sizeof cfg, "%s/bad%d.yaml", tmp, i);
        CHECK(write_config(cfg, cases[i].dataset ? cases[i].dataset : ds, cases[i].extra, 0), "write config");
        snprintf(run, sizeof run, "%s/bad_run%d", tmp, i);
        snprintf(cmd, sizeof cmd, "%s train %s --device cpu --out %s --quiet", mt_, cfg, run);
        int rc = mt_test_run(cmd, out, sizeof out);
        CHECK(rc != 0, "case %d: expected failure, got exit 0:\n%s", i, out);
        CHECK(strstr(out, cases[i].want1) && strstr(out, cases[i].want2), "case %d: message lacks '%s' / '%s':\n%s", i,
              cases[i].want1, cases[i].want2, out);
        /* file:line:column of the offending key: "bad<i>.yaml:<line>:" */
        char where[64];
        snprintf(where, sizeof where, "bad%d.yaml:", i);
        const char *at = strstr(out, where);
        CHECK(at && at[strlen(where)] >= '1' && at[strlen(where)] <= '9', "case %d: no line number:\n%s", i, out);
        CHECK(access(run, F_OK) != 0, "case %d: a run directory was created before the config was valid", i);
    }
}

/* Pixels within `tol` of colour (r, g, b) in every channel, in rows [y0, y1) x
 * columns [x0, x1) of an RGB sample read by mt_image_read ([3,H,W]). */
static int count_colour(const mt_sample *s, int x0, int x1, int y0, int y1, int r, int g, int b, int tol)
{
    int n = 0;
    size_t plane = (size_t)s->h * s->w;
    for (int y = y0; y < y1 && y < s->h; y++)
        for (int x = x0; x < x1 && x < s->w; x++) {
            size_t i = (size_t)y * s->w + x;
            n += fabsf(s->image[i] - r) <= tol && fabsf(s->image[plane + i] - g) <= tol &&
                 fabsf(s->image[2 * plane + i] - b) <= tol;
        }
    return n;
}

/* A tiny run leaves the run files and learns something. */
TEST(cli_train_tiny_run_writes_run_files)
{
    NEED_CLI();
    const char *ds = dataset();
    CHECK(ds, "dataset: %s", mt_last_error());
    char cfg[1024], run[1024], cmd[4096], out[16384];
    snprintf(cfg, sizeof cfg, "%s/tiny.yaml", mt_test_tmpdir());
    snprintf(run, sizeof run, "%s/tiny_run", mt_test_tmpdir());
    CHECK(write_config(cfg, ds, NULL, 0), "write config");
    snprintf(cmd, sizeof cmd, "%s train %s --device cpu --out %s", mt_, cfg, run);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "train failed (%d):\n%s", rc, out);
    const char *files[] = {"config.yaml", "log.csv", "last.h5", "best.h5", "metrics.json", "curves_loss.png",
                           "curves_metrics.png"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        CHECK(file_exists(run, files[i]), "run directory lacks %s", files[i]);
    char path[2048], *text = NULL;
    snprintf(path, sizeof path, "%s/metrics.json", run);
    FILE *f = fopen(path, "r");
    CHECK(f, "open metrics.json");
    text = calloc(1, 65536);
    size_t n = fread(text, 1, 65535, f);
    fclose(f);
    text[n] = '\0';
    const char *d = strstr(text, "\"post\": {\"accuracy\"");
    const char *dsc = d ? strstr(d, "\"dsc\": {\"mean\": ") : NULL;
    double v = dsc ? strtod(dsc + strlen("\"dsc\": {\"mean\": "), NULL) : -1;
    free(text);
    /* the disc is separable by intensity alone: a trained net must beat chance clearly */
    CHECK(v > 0.5 && v <= 1.0, "test DSC after post-processing %g (expected > 0.5); training output:\n%s", v, out);
    /* the loss curves are labelled (train/plot.h, cairo): anti-aliased text ink near
     * (40,40,40) (the axes, (96,96,96), are outside the tolerance) in the title band
     * (title "loss"), under the x axis (tick values, "epoch") and left of the y axis
     * (tick values); the legend swatches in the exact series colours on top */
    snprintf(path, sizeof path, "%s/curves_loss.png", run);
    mt_sample png;
    mt_sample_init(&png);
    CHECK_OK(mt_image_read(path, &png));
    int pw = png.w, ph = png.h, pc = png.c, is_rgb = pc == 3;
    int title_ink = is_rgb ? count_colour(&png, 0, pw, 0, 36, 40, 40, 40, 40) : 0;
    int x_ink = is_rgb ? count_colour(&png, 40, pw, ph - 40, ph, 40, 40, 40, 40) : 0;
    int y_ink = is_rgb ? count_colour(&png, 0, 40, 40, ph - 40, 40, 40, 40, 40) : 0;
    int train_col = is_rgb ? count_colour(&png, pw / 2, pw, 0, 36, 31, 119, 180, 0) : 0;
    int val_col = is_rgb ? count_colour(&png, pw / 2, pw, 0, 36, 255, 127, 14, 0) : 0;
    mt_sample_free(&png);
    CHECK(is_rgb && pw == 720 && ph == 450, "curves_loss.png is %dx%dx%d, want 3x450x720", pc, ph, pw);
    CHECK(title_ink > 50 && x_ink > 50 && y_ink > 50, "curves_loss.png text ink: title %d, x axis %d, y axis %d",
          title_ink, x_ink, y_ink);
    CHECK(train_col > 30 && val_col > 30, "curves_loss.png legend pixels: train %d, val %d", train_col, val_col);
    /* evaluate reproduces the test figures from best.h5 */
    snprintf(cmd, sizeof cmd, "%s evaluate %s --device cpu --overlays 2", mt_, run);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "dsc"), "evaluate failed (%d):\n%s", rc, out);
    CHECK(file_exists(run, "eval_test.json") && file_exists(run, "overlays_test"), "evaluate outputs missing");
}

/* Compares every dataset under group `g` of two HDF5 files byte for byte. */
static int same_group(const char *fa, const char *fb, const char *g, char *why, size_t wl)
{
    hid_t a = H5Fopen(fa, H5F_ACC_RDONLY, H5P_DEFAULT), b = H5Fopen(fb, H5F_ACC_RDONLY, H5P_DEFAULT);
    int ok = a >= 0 && b >= 0;
    hid_t ga = ok ? H5Gopen2(a, g, H5P_DEFAULT) : -1, gb = ok ? H5Gopen2(b, g, H5P_DEFAULT) : -1;
    ok = ga >= 0 && gb >= 0;
    if (!ok) snprintf(why, wl, "cannot open %s in %s / %s", g, fa, fb);
    hsize_t na = 0, nb = 0;
    if (ok) {
        H5Gget_num_objs(ga, &na);
        H5Gget_num_objs(gb, &nb);
        if (na != nb || na == 0) ok = 0, snprintf(why, wl, "%s: %llu vs %llu entries", g, (unsigned long long)na, (unsigned long long)nb);
    }
    for (hsize_t i = 0; ok && i < na; i++) {
        char name[256];
        H5Gget_objname_by_idx(ga, i, name, sizeof name);
        if (H5Gget_objtype_by_idx(ga, i) != H5G_DATASET) continue;
        hid_t da = H5Dopen2(ga, name, H5P_DEFAULT), db = H5Dopen2(gb, name, H5P_DEFAULT);
        if (da < 0 || db < 0) {
            ok = 0;
            snprintf(why, wl, "%s/%s missing", g, name);
        } else {
            hsize_t sa = H5Dget_storage_size(da);
            hid_t sp = H5Dget_space(da);
            hssize_t cnt = H5Sget_simple_extent_npoints(sp);
            H5Sclose(sp);
            double *va = malloc(sizeof(double) * (size_t)(cnt ? cnt : 1)), *vb = malloc(sizeof(double) * (size_t)(cnt ? cnt : 1));
            (void)sa;
            ok = va && vb && H5Dread(da, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, va) >= 0 &&
                 H5Dread(db, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, vb) >= 0;
            if (!ok) snprintf(why, wl, "cannot read %s/%s", g, name);
            else if (memcmp(va, vb, sizeof(double) * (size_t)cnt) != 0) {
                ok = 0;
                for (hssize_t j = 0; j < cnt; j++)
                    if (va[j] != vb[j]) {
                        snprintf(why, wl, "%s/%s[%lld]: %.9g vs %.9g", g, name, (long long)j, va[j], vb[j]);
                        break;
                    }
            }
            free(va);
            free(vb);
        }
        if (da >= 0) H5Dclose(da);
        if (db >= 0) H5Dclose(db);
    }
    if (ga >= 0) H5Gclose(ga);
    if (gb >= 0) H5Gclose(gb);
    if (a >= 0) H5Fclose(a);
    if (b >= 0) H5Fclose(b);
    return ok;
}

/* kill -9 during epoch 2+ then --resume: final weights and optimizer state equal an uninterrupted run's. */
TEST(cli_resume_after_kill9_is_bit_exact)
{
    NEED_CLI();
    const char *ds = dataset();
    CHECK(ds, "dataset: %s", mt_last_error());
    const char *tmp = mt_test_tmpdir();
    char cfg[1024], ra[1024], rb[1024], cmd[4096], out[16384];
    snprintf(cfg, sizeof cfg, "%s/resume.yaml", tmp);
    snprintf(ra, sizeof ra, "%s/run_a", tmp);
    snprintf(rb, sizeof rb, "%s/run_b", tmp);
    CHECK(write_config(cfg, ds, NULL, 0.5), "write config");
    snprintf(cmd, sizeof cmd, "%s train %s --device cpu --out %s --quiet", mt_, cfg, ra);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "uninterrupted run failed:\n%s", out);
    /* run B: killed with SIGKILL as soon as its first checkpoint exists */
    pid_t pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
        int devnull = open("/dev/null", 1);
        if (devnull >= 0) dup2(devnull, 1), dup2(devnull, 2);
        execl(mt_, mt_, "train", cfg, "--device", "cpu", "--out", rb, "--quiet", (char *)NULL);
        _exit(127);
    }
    char ck[1100];
    snprintf(ck, sizeof ck, "%s/last.h5", rb);
    int killed = 0;
    for (int i = 0; i < 60000; i++) { /* up to 60 s */
        if (access(ck, F_OK) == 0) {
            kill(pid, SIGKILL);
            killed = 1;
            break;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            pid = -1;
            break;
        }
        usleep(1000);
    }
    if (pid > 0) {
        if (!killed) kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    CHECK(killed, "run B ended before its first checkpoint appeared");
    snprintf(cmd, sizeof cmd, "%s train --resume %s --device cpu --quiet", mt_, rb);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "resume failed:\n%s", out);
    int from = -1;
    const char *r = strstr(out, "at epoch ");
    if (r) from = atoi(r + 9);
    CHECK(from >= 1 && from < 8, "resume did not start mid-run (epoch %d):\n%s", from, out);
    char fa[1100], fb[1100], why[1024] = "";
    snprintf(fa, sizeof fa, "%s/last.h5", ra);
    snprintf(fb, sizeof fb, "%s/last.h5", rb);
    CHECK(same_group(fa, fb, "state_dict", why, sizeof why), "weights differ after resume: %s", why);
    CHECK(same_group(fa, fb, "optimizer", why, sizeof why), "optimizer state differs after resume: %s", why);
}

/* predict: a PNG slice -> <name>_mask.png of the input's size and <name>_overlay.png upscaled. */
TEST(cli_predict_writes_mask_and_overlay_png)
{
    NEED_CLI();
    const char *tmp = mt_test_tmpdir();
    char run[1024], cmd[4096], out[8192], png[1024], odir[1024];
    snprintf(run, sizeof run, "%s/pred_run", tmp);
    if (access(run, F_OK) != 0) {
        const char *ds = dataset();
        CHECK(ds, "dataset: %s", mt_last_error());
        char cfg[1024];
        snprintf(cfg, sizeof cfg, "%s/tiny.yaml", tmp);
        CHECK(write_config(cfg, ds, NULL, 0), "write config");
        snprintf(cmd, sizeof cmd, "%s train %s --device cpu --out %s --quiet", mt_, cfg, run);
        CHECK(mt_test_run(cmd, out, sizeof out) == 0, "train failed:\n%s", out);
    }
    /* 40x48 grey PNG (values used as the model's units): a bright disc on a dark background */
    enum { H = 40, W = 48 };
    uint8_t px[H * W];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) px[y * W + x] = (x - 20) * (x - 20) + (y - 18) * (y - 18) < 64 ? 60 : 0;
    snprintf(png, sizeof png, "%s/slice.png", tmp);
    CHECK_OK(mt_image_write_png(png, px, W, H, 1));
    snprintf(odir, sizeof odir, "%s/pred", tmp);
    snprintf(cmd, sizeof cmd, "%s predict %s %s --out %s --device cpu", mt_, run, png, odir);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "predict failed (%d):\n%s", rc, out);
    char p[2048];
    snprintf(p, sizeof p, "%s/slice_mask.png", odir);
    mt_sample s;
    mt_sample_init(&s);
    CHECK_OK(mt_image_read(p, &s));
    CHECK(s.c == 1 && s.h == H && s.w == W, "mask PNG is %dx%dx%d, want 1x%dx%d", s.c, s.h, s.w, H, W);
    for (int i = 0; i < H * W; i++) CHECK(s.image[i] == 0 || s.image[i] == 255, "mask value %g", s.image[i]);
    mt_sample_free(&s);
    snprintf(p, sizeof p, "%s/slice_overlay.png", odir);
    CHECK_OK(mt_image_read(p, &s));
    /* the overlay is the input upscaled by an integer factor to a shorter side >= 384 (train/plot.h) */
    int k = mt_plot_image_scale(H, W);
    CHECK(k == 10 && s.c == 3 && s.h == k * H && s.w == k * W, "overlay PNG is %dx%dx%d, want 3x%dx%d", s.c, s.h,
          s.w, k * H, k * W);
    mt_sample_free(&s);
}

/* info counts the canonical U-Net exactly (design/models.md: 31,030,593). */
TEST(cli_info_unet_parameter_count)
{
    NEED_CLI();
    char cmd[4096], out[65536], rel[512];
    snprintf(cmd, sizeof cmd, "%s info %s", mt_, mt_test_path("configs/models/unet.yaml", rel, sizeof rel));
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "info failed (%d):\n%s", rc, out);
    CHECK(strstr(out, "parameters: 31,030,593") != NULL, "info output lacks 31,030,593:\n%s", out);
    snprintf(cmd, sizeof cmd, "%s trian", mt_);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 2 && strstr(out, "unknown command"), "misspelt command: rc %d\n%s", rc, out);
    snprintf(cmd, sizeof cmd, "%s train --devcie cpu", mt_);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 2 && strstr(out, "did you mean '--device'"), "misspelt option: rc %d\n%s", rc, out);
}

/* `medtrain info` prints every study network's count of ../shared/design/models.md exactly
 * (parameters for PyTorch-derived networks, the Keras total for Keras ones). */
TEST(cli_info_every_network_count)
{
    NEED_CLI();
    static const struct {
        const char *graph, *sets, *line;
    } nets[] = {
        {"configs/models/unet.yaml", "", "parameters: 31,030,593"},
        {"configs/models/unet_s5.yaml", "", "parameters: 31,030,658"},
        {"configs/models/deconvnet.yaml", "", "parameters: 151,139,970"},
        {"configs/models/efficientnet_b3.yaml", "", "Keras total: 12,320,535"},
        {"configs/models/efficientnet_b3.yaml", "--set classes=1 --input 3,256,256", "Keras total: 10,785,072"},
        {"configs/models/inception_resnet_v2.yaml", "", "Keras total: 55,873,736"},
        {"configs/models/inception_resnet_v2.yaml", "--set classes=5", "Keras total: 54,344,421"},
        {"configs/models/yolov5s.yaml", "", "parameters: 7,235,389"},
        {"configs/models/yolov5s.yaml", "--set in_channels=1 --set nc=1 --input 1,512,512", "parameters: 7,020,022"},
        {"configs/models/skip_ganomaly_g.yaml", "", "parameters: 54,407,809"},
        {"configs/models/skip_ganomaly_d.yaml", "", "parameters: 47,982,212"},
    };
    for (size_t i = 0; i < sizeof nets / sizeof *nets; i++) {
        char cmd[4096], out[65536], rel[512];
        snprintf(cmd, sizeof cmd, "%s info %s %s", mt_, mt_test_path(nets[i].graph, rel, sizeof rel), nets[i].sets);
        int rc = mt_test_run(cmd, out, sizeof out);
        CHECK(rc == 0, "%s failed (%d):\n%s", cmd, rc, out);
        CHECK(strstr(out, nets[i].line) != NULL, "%s: output lacks '%s':\n%s", cmd, nets[i].line, out + (strlen(out) > 600 ? strlen(out) - 600 : 0));
    }
}

/* ---- issue 12: run-directory lock, stale temp files, no empty run directory ---- */

/* whole file as a malloc'ed string ("" if missing) */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 1 << 20);
    if (f && buf) {
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = '\0';
    }
    if (f) fclose(f);
    return buf;
}

static int count_entries(const char *dir)
{
    char cmd[2100], out[64];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    if (mt_test_run(cmd, out, sizeof out) != 0) return -1;
    return atoi(out);
}

/* a finished 1-epoch run in <tmp>/<name> */
static int tiny_run(const char *mt, const char *name, char *run, size_t len, char *out, size_t olen)
{
    char cfg[1024], cmd[4096];
    snprintf(cfg, sizeof cfg, "%s/%s.yaml", mt_test_tmpdir(), name);
    snprintf(run, len, "%s/%s", mt_test_tmpdir(), name);
    if (!write_config(cfg, dataset(), NULL, 0)) return -1;
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && %s train %s --set train.epochs=1 --device cpu --out %s --quiet", run, mt,
             cfg, run);
    return mt_test_run(cmd, out, olen);
}

TEST(cli_run_dir_lock_refuses_second_train)
{
    NEED_CLI();
    CHECK(dataset(), "dataset: %s", mt_last_error());
    char run[1024], cmd[4096], out[16384], path[1100];
    int rc = tiny_run(mt_, "locked_run", run, sizeof run, out, sizeof out);
    CHECK(rc == 0, "1-epoch run failed (%d):\n%s", rc, out);
    CHECK(file_exists(run, ".lock"), "the run left no .lock file");
    /* hold the lock as another medtrain would */
    snprintf(path, sizeof path, "%s/.lock", run);
    int fd = open(path, O_RDWR | O_CREAT, 0666);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0, "cannot take the lock in the test");
    char pid[32];
    int pl = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)pl, 0) == pl, "write pid");
    int before = count_entries(run);
    snprintf(path, sizeof path, "%s/log.csv", run);
    char *log_before = slurp(path);
    char want[128];
    snprintf(want, sizeof want, "in use by PID %ld", (long)getpid());
    /* 1. train --resume RUN */
    snprintf(cmd, sizeof cmd, "%s train --resume %s --device cpu --quiet", mt_, run);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc != 0, "resume on a locked run directory exited 0:\n%s", out);
    CHECK(strstr(out, want) && strstr(out, run), "resume: message lacks '%s' or the directory:\n%s", want, out);
    /* 2. a fresh train with --out on the same (existing, locked) directory */
    snprintf(cmd, sizeof cmd, "%s train %s/locked_run.yaml --device cpu --out %s --quiet", mt_, mt_test_tmpdir(), run);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc != 0, "train --out on a locked run directory exited 0:\n%s", out);
    CHECK(strstr(out, want) && strstr(out, run), "train --out: message lacks '%s' or the directory:\n%s", want, out);
    /* nothing added or changed in the directory */
    CHECK(count_entries(run) == before, "entries in %s: %d before, %d after", run, before, count_entries(run));
    char *log_after = slurp(path);
    CHECK(log_before && log_after && !strcmp(log_before, log_after), "log.csv changed by a refused run");
    free(log_before);
    free(log_after);
    close(fd); /* releases the lock */
    /* unlocked, an existing --out is still refused (mkdir EEXIST), naming the directory */
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc != 0 && strstr(out, run) && strstr(out, "already exists"), "existing --out (%d):\n%s", rc, out);
    CHECK(count_entries(run) == before, "entries in %s changed", run);
}

TEST(cli_stale_temps_removed_and_failed_run_leaves_no_dir)
{
    NEED_CLI();
    const char *ds = dataset();
    CHECK(ds, "dataset: %s", mt_last_error());
    char run[1024], cmd[4096], out[16384], path[1200];
    int rc = tiny_run(mt_, "stale_run", run, sizeof run, out, sizeof out);
    CHECK(rc == 0, "1-epoch run failed (%d):\n%s", rc, out);
    /* what a kill at various points leaves, plus names that only look similar */
    const char *stale[] = {"last.h5.trainer-tmp.tmp-Ab12cD", "last.h5.trainer-tmp", "best.h5.tmp-x9Y8z7", "log.csv.tmp",
                           "overlays/0001.png.tmp-Qw3Er5"}; /* a kill while report writes the pictures */
    const char *keep[] = {"notes.tmp-1", "keep.txt", "tmp-abcdef"};
    snprintf(path, sizeof path, "%s/overlays", run);
    CHECK(mkdir(path, 0777) == 0 || errno == EEXIST, "mkdir %s", path);
    for (size_t i = 0; i < 5 + 3; i++) {
        snprintf(path, sizeof path, "%s/%s", run, i < 5 ? stale[i] : keep[i - 5]);
        FILE *f = fopen(path, "w");
        CHECK(f && fputs("junk", f) >= 0 && fclose(f) == 0, "write %s", path);
    }
    snprintf(cmd, sizeof cmd, "%s train --resume %s --device cpu --quiet", mt_, run);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "resume failed (%d):\n%s", rc, out);
    for (size_t i = 0; i < 5; i++) CHECK(!file_exists(run, stale[i]), "stale %s not removed:\n%s", stale[i], out);
    for (size_t i = 0; i < 3; i++) CHECK(file_exists(run, keep[i]), "%s removed (not a temp file)", keep[i]);
    CHECK(file_exists(run, "last.h5") && file_exists(run, "config.yaml"), "run files lost");

    /* a new run failing after its directory was made (no file can be written:
     * ulimit -f 0) leaves no run directory behind */
    char run2[1100];
    snprintf(run2, sizeof run2, "%s/failed_early_run", mt_test_tmpdir());
    snprintf(cmd, sizeof cmd, "rm -rf '%s'; trap '' XFSZ; ulimit -f 0; exec %s train %s/stale_run.yaml --device cpu --out %s --quiet",
             run2, mt_, mt_test_tmpdir(), run2);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc != 0, "train without disk space exited 0:\n%s", out);
    CHECK(strstr(out, run2) && strstr(out, "too large"), "message lacks the file in the run directory:\n%s", out);
    CHECK(access(run2, F_OK) != 0, "failed run left its directory %s", run2);
    /* a dataset that cannot be opened: no run directory either */
    char cfg[1100];
    snprintf(cfg, sizeof cfg, "%s/nodata.yaml", mt_test_tmpdir());
    CHECK(write_config(cfg, "/nonexistent/nodata.h5", NULL, 0), "write config");
    snprintf(cmd, sizeof cmd, "%s train %s --device cpu --out %s --quiet", mt_, cfg, run2);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc != 0 && strstr(out, "nodata.h5"), "missing dataset (%d):\n%s", rc, out);
    CHECK(access(run2, F_OK) != 0, "failed run left its directory %s", run2);
}

/* NaN written into one weight of last.h5 / best.h5 (checksum not recomputed):
 * resume and evaluate refuse them naming the file and the tensor, writing nothing. */
static int poison_weight(const char *path, const char *name)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    char ds[256];
    snprintf(ds, sizeof ds, "/state_dict/%s", name);
    hid_t d = f < 0 ? -1 : H5Dopen2(f, ds, H5P_DEFAULT);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    hsize_t start[4] = {0, 0, 0, 0}, count[4] = {1, 1, 1, 1}, one = 1;
    hid_t msp = H5Screate_simple(1, &one, NULL);
    float nan = NAN;
    int ok = sp >= 0 && H5Sget_simple_extent_ndims(sp) == 4 &&
             H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
             H5Dwrite(d, H5T_NATIVE_FLOAT, msp, sp, H5P_DEFAULT, &nan) >= 0;
    H5Sclose(msp);
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    return f >= 0 && H5Fclose(f) >= 0 && ok;
}

TEST(cli_corrupt_checkpoint_refused_by_resume_and_evaluate)
{
    NEED_CLI();
    CHECK(dataset(), "dataset: %s", mt_last_error());
    char run[1024], cmd[4096], out[16384], path[1100];
    int rc = tiny_run(mt_, "nan_run", run, sizeof run, out, sizeof out);
    CHECK(rc == 0, "1-epoch run failed (%d):\n%s", rc, out);
    snprintf(path, sizeof path, "%s/last.h5", run);
    CHECK(poison_weight(path, "enc1a.weight"), "NaN into last.h5");
    snprintf(path, sizeof path, "%s/best.h5", run);
    CHECK(poison_weight(path, "enc1a.weight"), "NaN into best.h5");
    int before = count_entries(run);
    snprintf(cmd, sizeof cmd, "%s train --resume %s --device cpu --quiet", mt_, run);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc != 0 && strstr(out, "last.h5") && strstr(out, "enc1a.weight"), "resume (%d):\n%s", rc, out);
    snprintf(cmd, sizeof cmd, "%s evaluate %s --device cpu", mt_, run);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc != 0 && strstr(out, "best.h5") && strstr(out, "enc1a.weight"), "evaluate (%d):\n%s", rc, out);
    CHECK(count_entries(run) == before, "files added to %s by refused commands (%d -> %d)", run, before,
          count_entries(run));
}

/* A kill between the save of last.h5 and that of best.h5 (same epoch) leaves
 * last.h5 naming this epoch the best and best.h5 older or missing: the resume
 * writes best.h5 again from the state it loaded. */
TEST(cli_resume_restores_best_lost_to_kill)
{
    NEED_CLI();
    CHECK(dataset(), "dataset: %s", mt_last_error());
    char run[1024], cmd[4096], out[16384], fa[1100], fb[1100], why[1024] = "";
    int rc = tiny_run(mt_, "best_lost_run", run, sizeof run, out, sizeof out);
    CHECK(rc == 0, "1-epoch run failed (%d):\n%s", rc, out);
    snprintf(fa, sizeof fa, "%s/last.h5", run);
    snprintf(fb, sizeof fb, "%s/best.h5", run);
    CHECK(unlink(fb) == 0, "remove %s", fb);
    snprintf(cmd, sizeof cmd, "%s train --resume %s --device cpu --quiet", mt_, run);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "resume failed (%d):\n%s", rc, out);
    CHECK(access(fb, F_OK) == 0, "the resume did not write best.h5 again:\n%s", out);
    CHECK(same_group(fa, fb, "state_dict", why, sizeof why), "best.h5 is not the epoch-1 state: %s", why);
    char *m = NULL;
    snprintf(fb, sizeof fb, "%s/metrics.json", run);
    m = slurp(fb);
    CHECK(m && strstr(m, "\"weights\": \"best.h5\""), "metrics.json does not use best.h5:\n%s", m ? m : "");
    free(m);
}

/* ---- issue 12: SIGKILL at pseudo-random moments, 20 times, then a resume that finishes ---- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* fork+exec medtrain with argv (argv[0] ignored), stdout+stderr to /dev/null */
static pid_t spawn_mt(const char *mt, const char *const *argv)
{
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 1), dup2(devnull, 2);
        execv(mt, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Lets pid run for `delay` s (delay < 0: until it exits), then SIGKILLs it.
 * Returns 1 if it was killed, 0 if it exited by itself first (exit code in
 * *rc, -1 for a signal). With ck_times: the seconds at which `watch` was
 * replaced (a new inode: each atomic save of last.h5), at most 16. */
static int run_then_kill(pid_t pid, double delay, int *rc, const char *watch, double *ck_times, int *n_ck)
{
    double t0 = mono_s();
    ino_t last_ino = 0;
    for (;;) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            return 0;
        }
        double el = mono_s() - t0;
        struct stat sb;
        if (ck_times && stat(watch, &sb) == 0 && sb.st_ino != last_ino) {
            last_ino = sb.st_ino;
            if (*n_ck < 16) ck_times[(*n_ck)++] = el;
        }
        if (delay >= 0 && el >= delay) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            *rc = -1;
            return 1;
        }
        if (el > 600) delay = 0; /* a hung run: kill it (the test then fails) */
        usleep(500);
    }
}

/* First name under dir (recursively) that looks like a temporary file: *.tmp, *.tmp-XXXXXX, *.trainer-tmp. */
static int find_temp(const char *dir, char *found, size_t len)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int hit = 0;
    while (!hit && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[3000];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) hit = find_temp(p, found, len);
        else if (strstr(e->d_name, ".tmp") || strstr(e->d_name, "trainer-tmp")) {
            snprintf(found, len, "%s", p);
            hit = 1;
        }
    }
    closedir(d);
    return hit;
}

/* 1 if <dir>/.lock can be taken now (no process holds the run) */
static int lock_free(const char *dir)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/.lock", dir);
    int fd = open(p, O_RDWR);
    if (fd < 0) return 1;
    int ok = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return ok;
}

/* log.csv rows equal but for column 6 (images_per_s, a timing); *rows = the reference's row count */
static int same_log(const char *la, const char *lb, int *rows, char *why, size_t wl)
{
    char *a = slurp(la), *b = slurp(lb);
    int ok = a && b, n = 0;
    char *pa = a, *pb = b;
    while (ok && *pa && *pb) {
        char *ea = strchr(pa, '\n'), *eb = strchr(pb, '\n');
        size_t na = ea ? (size_t)(ea - pa) : strlen(pa), nb = eb ? (size_t)(eb - pb) : strlen(pb);
        /* blank out field 6 of both lines */
        char ra[1024], rb[1024];
        snprintf(ra, sizeof ra, "%.*s", (int)na, pa);
        snprintf(rb, sizeof rb, "%.*s", (int)nb, pb);
        char *fa = ra, *fb = rb;
        for (int k = 0; k < 5 && fa && fb; k++) {
            fa = strchr(fa, ',');
            fb = strchr(fb, ',');
            if (fa) fa++;
            if (fb) fb++;
        }
        if (n > 0 && fa && fb) {
            char *ca = strchr(fa, ','), *cb = strchr(fb, ',');
            if (ca) memmove(fa, ca, strlen(ca) + 1);
            if (cb) memmove(fb, cb, strlen(cb) + 1);
        }
        if (strcmp(ra, rb)) {
            ok = 0;
            snprintf(why, wl, "row %d: reference '%.300s', killed run '%.300s'", n, ra, rb);
        }
        n++;
        pa += na + (ea != NULL);
        pb += nb + (eb != NULL);
    }
    if (ok && (*pa || *pb)) {
        ok = 0;
        snprintf(why, wl, "row %d: %s has more rows", n, *pa ? "the reference" : "the killed run");
    }
    *rows = n;
    free(a);
    free(b);
    return ok;
}

/* metrics.json equal but for the "run" and "train_seconds" lines */
static int same_metrics(const char *ja, const char *jb, char *why, size_t wl)
{
    char *a = slurp(ja), *b = slurp(jb);
    int ok = a && b && *a && *b;
    if (!ok) snprintf(why, wl, "metrics.json missing");
    char *sa = NULL, *sb = NULL, *la = ok ? strtok_r(a, "\n", &sa) : NULL, *lb = ok ? strtok_r(b, "\n", &sb) : NULL;
    while (ok && (la || lb)) {
        if (!la || !lb) ok = 0, snprintf(why, wl, "metrics.json: different line counts");
        else if (!strstr(la, "\"run\":") && !strstr(la, "\"train_seconds\":") && strcmp(la, lb))
            ok = 0, snprintf(why, wl, "metrics.json: reference '%.300s', killed run '%.300s'", la, lb);
        la = strtok_r(NULL, "\n", &sa);
        lb = strtok_r(NULL, "\n", &sb);
    }
    free(a);
    free(b);
    return ok;
}

/* A finished run `dir` equals the reference `ref`: last.h5 (state_dict,
 * optimizer) and best.h5 bit for bit, log.csv row for row but the timings,
 * metrics.json; no temporary file anywhere in it; no .lock held. */
static int finished_like_ref(const char *ref, const char *dir, char *why, size_t wl)
{
    char fa[1200], fb[1200], w[1024] = "";
    static const char *groups[][2] = {{"last.h5", "state_dict"}, {"last.h5", "optimizer"}, {"best.h5", "state_dict"}};
    for (int i = 0; i < 3; i++) {
        snprintf(fa, sizeof fa, "%s/%s", ref, groups[i][0]);
        snprintf(fb, sizeof fb, "%s/%s", dir, groups[i][0]);
        if (!same_group(fa, fb, groups[i][1], w, sizeof w))
            return snprintf(why, wl, "%s %s differs: %s", groups[i][0], groups[i][1], w), 0;
    }
    int rows = 0;
    snprintf(fa, sizeof fa, "%s/log.csv", ref);
    snprintf(fb, sizeof fb, "%s/log.csv", dir);
    if (!same_log(fa, fb, &rows, w, sizeof w)) return snprintf(why, wl, "log.csv differs: %s", w), 0;
    if (rows != 1 + 6 * 2 + 6)
        return snprintf(why, wl, "the reference log.csv has %d rows (header + 12 steps + 6 epochs wanted)", rows), 0;
    snprintf(fa, sizeof fa, "%s/metrics.json", ref);
    snprintf(fb, sizeof fb, "%s/metrics.json", dir);
    if (!same_metrics(fa, fb, w, sizeof w)) return snprintf(why, wl, "%s", w), 0;
    char temp[3000];
    if (find_temp(dir, temp, sizeof temp)) return snprintf(why, wl, "temporary file left in the run: %s", temp), 0;
    if (!lock_free(dir)) return snprintf(why, wl, "%s/.lock still held after the run ended", dir), 0;
    return 1;
}

/* A 6-epoch run of 2 steps an epoch (dropout on) killed with SIGKILL 20 times
 * at pseudo-random moments, each time continued with `train --resume DIR`
 * (itself killed again), until a resume finishes. The moments come from a
 * fixed seed: the delay after a (re)start is drawn in [0, what the timed
 * uninterrupted reference run had left after the checkpoint it resumes from),
 * every 5th in [0, the reference's first checkpoint). A kill before the first
 * checkpoint leaves a directory without last.h5: --resume refuses it (and --out
 * refuses to reuse it), so, as a user would, the run starts afresh in a new
 * directory. A run that ends before its kill (the machine got faster) is checked
 * the same way and a new directory takes the remaining kills. Every finished run
 * equals the reference (finished_like_ref: checkpoints bit for bit, log.csv rows,
 * metrics.json, no temporary file, no lock held). */
TEST(cli_resume_after_random_kills_is_bit_exact)
{
    NEED_CLI();
    const char *ds = dataset();
    CHECK(ds, "dataset: %s", mt_last_error());
    const char *tmp = mt_test_tmpdir();
    char cfg[1024], ref[1024], cmd[4096], out[16384], ck[1200], why[4096] = "";
    snprintf(cfg, sizeof cfg, "%s/kills.yaml", tmp);
    snprintf(ref, sizeof ref, "%s/kills_ref", tmp);
    CHECK(write_config(cfg, ds, NULL, 0.5), "write config");
    /* 14 train samples, batch 7: 2 steps an epoch */
    const char *sets[] = {"--set", "train.epochs=6", "--set", "train.batch_size=7"};
    /* the reference, timed, with the moments of its 6 checkpoints */
    snprintf(ck, sizeof ck, "%s/last.h5", ref);
    const char *argv_ref[] = {mt_, "train", cfg, sets[0], sets[1], sets[2], sets[3], "--device", "cpu", "--out", ref,
                              "--quiet", NULL};
    double t0 = mono_s(), t_ck[16];
    int rc = 0, n_ck = 0;
    pid_t pid = spawn_mt(mt_, argv_ref);
    CHECK(pid > 0, "fork failed");
    CHECK(run_then_kill(pid, -1, &rc, ck, t_ck, &n_ck) == 0 && rc == 0, "reference run failed (%d)", rc);
    double t_ref = mono_s() - t0;
    CHECK(n_ck >= 1, "the reference never wrote last.h5");

    /* the killed run */
    char dir[1100];
    int n_dirs = 1, kills = 0, kills_nock = 0, resumes = 0, max_from = 0, fresh = 1, finished = 0;
    snprintf(dir, sizeof dir, "%s/kills_run", tmp);
    for (int k = 0;; k++) {
        const char *argv_fresh[] = {mt_, "train", cfg, sets[0], sets[1], sets[2], sets[3], "--device", "cpu", "--out",
                                    dir, "--quiet", NULL};
        const char *argv_resume[] = {mt_, "train", "--resume", dir, "--device", "cpu", "--quiet", NULL};
        snprintf(ck, sizeof ck, "%s/last.h5", dir);
        int from = 0;
        if (!fresh) {
            resumes++;
            hid_t f = H5Fopen(ck, H5F_ACC_RDONLY, H5P_DEFAULT); /* the epoch it continues from */
            hid_t a = f >= 0 && H5Aexists(f, "epoch") > 0 ? H5Aopen(f, "epoch", H5P_DEFAULT) : -1;
            if (a >= 0) H5Aread(a, H5T_NATIVE_INT, &from), H5Aclose(a);
            if (f >= 0) H5Fclose(f);
            if (from > max_from) max_from = from;
        }
        double u = mt_philox_uniform(1212, (uint64_t)k);
        double left = t_ref - (from > 0 ? t_ck[(from < n_ck ? from : n_ck) - 1] : 0);
        double delay = kills >= 20 ? -1 : k % 5 == 0 ? u * t_ck[0] : u * left;
        pid = spawn_mt(mt_, fresh ? argv_fresh : argv_resume);
        CHECK(pid > 0, "fork failed");
        if (!run_then_kill(pid, delay, &rc, NULL, NULL, NULL)) {
            CHECK(rc == 0, "%s run %d in %s failed (exit %d) after %d kills", fresh ? "fresh" : "resumed", k, dir, rc,
                  kills);
            finished++;
            CHECK(finished_like_ref(ref, dir, why, sizeof why), "%s (after %d kills, %d resumes): %s", dir, kills,
                  resumes, why);
            if (kills >= 20) break;
            snprintf(dir, sizeof dir, "%s/kills_run_%d", tmp, ++n_dirs); /* ended before its kill: go on elsewhere */
            fresh = 1;
            continue;
        }
        kills++;
        CHECK(lock_free(dir), "%s: .lock still held after the kill", dir);
        if (access(ck, F_OK) == 0) {
            fresh = 0;
            continue;
        }
        /* killed before its first checkpoint: nothing to resume */
        CHECK(fresh, "%s lost its last.h5", dir);
        kills_nock++;
        snprintf(cmd, sizeof cmd, "%s train --resume %s --device cpu --quiet", mt_, dir);
        rc = mt_test_run(cmd, out, sizeof out);
        CHECK(rc != 0 && strstr(out, dir), "resume of %s (killed before its first checkpoint) exit %d:\n%s", dir, rc, out);
        CHECK(access(ck, F_OK) != 0, "a refused resume wrote %s", ck);
        if (access(dir, F_OK) == 0) {
            snprintf(cmd, sizeof cmd, "%s train %s --device cpu --out %s --quiet", mt_, cfg, dir);
            rc = mt_test_run(cmd, out, sizeof out);
            CHECK(rc != 0 && strstr(out, "already exists"), "train --out on the killed %s (%d):\n%s", dir, rc, out);
            snprintf(dir, sizeof dir, "%s/kills_run_%d", tmp, ++n_dirs); /* start afresh elsewhere */
        }
    }
    if (getenv("MT_TEST_KILL_VERBOSE"))
        printf("kills: reference %.2f s (checkpoints at %.2f .. %.2f s); %d kills (%d before a first checkpoint), "
               "%d resumes (latest from epoch %d), %d run directories, %d finished\n",
               t_ref, t_ck[0], t_ck[n_ck - 1], kills, kills_nock, resumes, max_from, n_dirs, finished);
    CHECK(resumes >= 1 && max_from >= 1, "no resume continued a run mid-way (%d resumes, latest epoch %d)", resumes,
          max_from);
}
