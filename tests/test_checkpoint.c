/* tests/test_checkpoint.c: HDF5 checkpoints (train/checkpoint.h): a save/load
 * round trip restores model, optimizer, scheduler, RNG position and loop
 * scalars bit-exactly; mismatched models fail naming the entry; a write that
 * fails part-way (file size limit) leaves neither the checkpoint nor a temp
 * file; and PyTorch (experiments/torch_models.py, via /usr/bin/python3 with
 * h5py + torch) loads our checkpoints with load_state_dict(strict=True) and
 * computes the same forward output (eval and train mode, BN buffers) within 1e-5. */
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/autograd.h"
#include "../core/ops.h"
#include "../train/checkpoint.h"
#include "../layers/model.h"
#include "../layers/weights.h"
#include "../optim/optim.h"
#include "test.h"

/* <tmpdir>/test_checkpoint/, so names cannot collide with other test files */
static const char *ck_tmpdir(void)
{
    static char dir[400];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/test_checkpoint", mt_test_tmpdir());
        mkdir(dir, 0700);
    }
    return dir;
}

static mt_status load_model(const char *rel, int n, const mt_model_arg *args, uint64_t seed, mt_model **m)
{
    char path[512];
    return mt_model_load_yaml(mt_test_path(rel, path, sizeof path), n, args, mt_cpu(), seed, m);
}

static mt_tensor *input(int n, int c, int h, int w, int salt)
{
    int s[4] = {n, c, h, w};
    mt_tensor *x = mt_tensor_new(MT_REAL, mt_cpu(), 4, s);
    if (!x) return NULL;
    for (size_t i = 0; i < mt_numel(x); i++) MT_DATA(x)[i] = (mt_real)sin(0.37 * (double)i + salt) * (mt_real)1.5;
    return x;
}

/* one Adam step on mean(model(x)) so the optimizer has state */
static mt_status train_step(mt_model *m, mt_optim *o, mt_tensor *x)
{
    mt_tensor *y = mt_model_forward(m, x, 1);
    mt_tensor *l = mt_mean_all(y);
    mt_status s = l ? mt_backward(l, NULL, 0) : mt_last_status();
    if (s == MT_OK) s = mt_optim_step(o);
    if (s == MT_OK) s = mt_optim_zero_grad(o);
    mt_tensor_release(l);
    mt_tensor_release(y);
    return s;
}

static int same_bytes(const mt_tensor *a, const mt_tensor *b)
{
    return a->ndim == b->ndim && mt_nbytes(a) == mt_nbytes(b) && !memcmp(mt_data(a), mt_data(b), mt_nbytes(a));
}

TEST(checkpoint_round_trip_bit_exact)
{
    mt_model_arg args[2] = {{"base", "4"}, {"depth", "2"}};
    mt_model *m = NULL, *m2 = NULL;
    CHECK_OK(load_model("configs/models/unet_bn.yaml", 2, args, 11, &m));
    CHECK_OK(load_model("configs/models/unet_bn.yaml", 2, args, 22, &m2));
    int np;
    mt_tensor **p = mt_model_params(m, &np);
    mt_optim *o = mt_optim_new(MT_OPTIM_ADAM), *o2 = mt_optim_new(MT_OPTIM_ADAM);
    mt_optim_hparams h = mt_optim_defaults(MT_OPTIM_ADAM);
    CHECK(mt_optim_add_group(o, p, np, &h) == 0, "add_group");
    mt_tensor **p2 = mt_model_params(m2, &np);
    CHECK(mt_optim_add_group(o2, p2, np, &h) == 0, "add_group 2");
    mt_sched_params sp = {0};
    sp.kind = MT_SCHED_STEP;
    sp.step_size = 1;
    sp.gamma = 0.5;
    mt_sched *s = mt_sched_new(o, &sp), *s2 = mt_sched_new(o2, &sp);
    CHECK(s && s2, "sched_new: %s", mt_last_error());
    mt_tensor *x = input(2, 1, 16, 16, 0);
    CHECK_OK(train_step(m, o, x));
    CHECK_OK(mt_sched_step(s, 0));
    CHECK_OK(train_step(m, o, x));
    CHECK_OK(mt_sched_step(s, 0));
    mt_model_set_rng(m, 0x1234abcdULL, 98765);

    char path[600];
    snprintf(path, sizeof path, "%s/rt.h5", ck_tmpdir());
    mt_checkpoint_info info = {0};
    info.step = 42;
    info.epoch = 3;
    info.data_epoch = 3;
    info.data_batch = 5;
    info.seed = 777;
    info.best_metric = 0.8125;
    info.bad_epochs = 2;
    info.config_yaml = "model:\n  graph: unet_bn.yaml\ntrain: {seed: 777}\n";
    CHECK_OK(mt_checkpoint_save(path, m, o, s, &info));

    mt_checkpoint_info back;
    CHECK_OK(mt_checkpoint_load(path, m2, o2, s2, &back));
    for (int i = 0; i < mt_model_state_count(m); i++)
        CHECK(same_bytes(mt_model_state_tensor(m, i), mt_model_state_tensor(m2, i)), "state '%s' differs after load",
              mt_model_state_name(m, i));
    int no = mt_optim_state_count(o);
    CHECK(no > 0 && no == mt_optim_state_count(o2), "optimizer state count %d vs %d", no, mt_optim_state_count(o2));
    for (int i = 0; i < no; i++) {
        CHECK(!strcmp(mt_optim_state_name(o, i), mt_optim_state_name(o2, i)), "optimizer entry %d name", i);
        CHECK(same_bytes(mt_optim_state_tensor(o, i), mt_optim_state_tensor(o2, i)), "optimizer '%s' differs",
              mt_optim_state_name(o, i));
    }
    CHECK(mt_optim_steps(o2) == mt_optim_steps(o), "optimizer steps %ld vs %ld", mt_optim_steps(o2), mt_optim_steps(o));
    double st1[8], st2[8];
    CHECK_OK(mt_sched_get_state(s, st1));
    CHECK_OK(mt_sched_get_state(s2, st2));
    CHECK(!memcmp(st1, st2, sizeof st1), "scheduler state differs");
    CHECK(mt_optim_get_lr(o2, 0) == mt_optim_get_lr(o, 0), "lr %g vs %g", mt_optim_get_lr(o2, 0), mt_optim_get_lr(o, 0));
    uint64_t rs, ro;
    mt_model_get_rng(m2, &rs, &ro);
    CHECK(rs == 0x1234abcdULL && ro == 98765, "rng restored as %llu/%llu", (unsigned long long)rs, (unsigned long long)ro);
    CHECK(back.step == 42 && back.epoch == 3 && back.data_epoch == 3 && back.data_batch == 5 && back.seed == 777 &&
              back.best_metric == 0.8125 && back.bad_epochs == 2,
          "scalars not restored");
    CHECK(back.config_yaml && !strcmp(back.config_yaml, info.config_yaml), "config text not restored");
    char *cfg = NULL;
    CHECK_OK(mt_checkpoint_read_config(path, &cfg));
    CHECK(cfg && !strcmp(cfg, info.config_yaml), "read_config");
    free(cfg);
    free(back.config_yaml);
    /* training continues identically from the restored state */
    CHECK_OK(train_step(m, o, x));
    CHECK_OK(train_step(m2, o2, x));
    for (int i = 0; i < mt_model_state_count(m); i++)
        CHECK(same_bytes(mt_model_state_tensor(m, i), mt_model_state_tensor(m2, i)), "state '%s' diverged after a step",
              mt_model_state_name(m, i));
    /* no temporary files left next to the checkpoint */
    DIR *d = opendir(ck_tmpdir());
    struct dirent *e;
    int stray = 0;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp-")) stray++;
    if (d) closedir(d);
    CHECK(stray == 0, "%d temporary files left", stray);
    mt_tensor_release(x);
    mt_sched_free(s);
    mt_sched_free(s2);
    mt_optim_free(o);
    mt_optim_free(o2);
    mt_model_free(m);
    mt_model_free(m2);
}

TEST(checkpoint_mismatch_errors_name_the_entry)
{
    mt_model_arg a4[2] = {{"base", "4"}, {"depth", "2"}}, a8[2] = {{"base", "8"}, {"depth", "2"}},
                 d1[2] = {{"base", "4"}, {"depth", "1"}};
    mt_model *m4 = NULL, *m8 = NULL, *m1 = NULL;
    CHECK_OK(load_model("configs/models/unet.yaml", 2, a4, 1, &m4));
    CHECK_OK(load_model("configs/models/unet.yaml", 2, a8, 1, &m8));
    CHECK_OK(load_model("configs/models/unet.yaml", 2, d1, 1, &m1));
    char path[600];
    snprintf(path, sizeof path, "%s/m4.h5", ck_tmpdir());
    CHECK_OK(mt_checkpoint_save(path, m4, NULL, NULL, NULL));
    mt_real before = MT_DATA(mt_model_state_tensor(m8, 0))[0];
    CHECK(mt_checkpoint_load(path, m8, NULL, NULL, NULL) == MT_ERR_FORMAT, "base 4 into base 8 must fail");
    CHECK(strstr(mt_last_error(), "'enc1a.weight' has shape [4, 1, 3, 3]") && strstr(mt_last_error(), "[8, 1, 3, 3]"),
          "shape message: %s", mt_last_error());
    CHECK(MT_DATA(mt_model_state_tensor(m8, 0))[0] == before, "failed load modified the model");
    mt_error_clear();
    CHECK(mt_checkpoint_load(path, m1, NULL, NULL, NULL) == MT_ERR_FORMAT, "depth 2 into depth 1 must fail");
    CHECK(strstr(mt_last_error(), "does not exist in this model") || strstr(mt_last_error(), "is missing"),
          "extra entry message: %s", mt_last_error());
    mt_error_clear();
    snprintf(path, sizeof path, "%s/m1.h5", ck_tmpdir());
    CHECK_OK(mt_checkpoint_save(path, m1, NULL, NULL, NULL));
    CHECK(mt_checkpoint_load(path, m4, NULL, NULL, NULL) == MT_ERR_FORMAT, "depth 1 into depth 2 must fail");
    CHECK(strstr(mt_last_error(), "is missing"), "missing entry message: %s", mt_last_error());
    mt_error_clear();
    CHECK(mt_checkpoint_load("/nonexistent/x.h5", m4, NULL, NULL, NULL) == MT_ERR_IO, "missing file must be MT_ERR_IO");
    mt_error_clear();
    mt_model_free(m4);
    mt_model_free(m8);
    mt_model_free(m1);
}

TEST(checkpoint_failed_write_leaves_no_file)
{
    mt_model_arg a[2] = {{"base", "16"}, {"depth", "2"}};
    mt_model *m = NULL;
    CHECK_OK(load_model("configs/models/unet.yaml", 2, a, 1, &m));
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/limited", ck_tmpdir());
    CHECK(mkdir(dir, 0700) == 0, "mkdir %s", dir);
    snprintf(path, sizeof path, "%s/last.h5", dir);
    /* the model is ~0.5 MB; allow files of 64 KiB only, so HDF5 fails part-way */
    struct rlimit old, lim;
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0, "getrlimit");
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit");
    mt_status s = mt_checkpoint_save(path, m, NULL, NULL, NULL);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK(s == MT_ERR_IO, "save under a 64 KiB file limit should fail with MT_ERR_IO, got %d", (int)s);
    CHECK(strstr(mt_last_error(), "last.h5"), "message should name the checkpoint: %s", mt_last_error());
    mt_error_clear();
    DIR *d = opendir(dir);
    struct dirent *e;
    int files = 0;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') files++;
    if (d) closedir(d);
    CHECK(files == 0, "%d files left in %s after a failed save", files, dir);
    /* an existing good checkpoint survives a failed overwrite */
    CHECK_OK(mt_checkpoint_save(path, m, NULL, NULL, NULL));
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit");
    signal(SIGXFSZ, SIG_IGN);
    s = mt_checkpoint_save(path, m, NULL, NULL, NULL);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK(s != MT_OK, "second limited save should fail");
    mt_error_clear();
    CHECK_OK(mt_checkpoint_load(path, m, NULL, NULL, NULL));
    /* a directory that does not exist */
    CHECK(mt_checkpoint_save("/nonexistent-dir/last.h5", m, NULL, NULL, NULL) == MT_ERR_IO, "bad dir must fail");
    mt_error_clear();
    mt_model_free(m);
}

/* ---- PyTorch cross-check ---- */

static int write_h5_x(const char *file, const mt_tensor *x)
{
    hsize_t dims[4] = {(hsize_t)x->shape[0], (hsize_t)x->shape[1], (hsize_t)x->shape[2], (hsize_t)x->shape[3]};
    hid_t f = H5Fcreate(file, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(4, dims, NULL);
    hid_t d = H5Dcreate2(f, "x", sizeof(mt_real) == 8 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    herr_t e = H5Dwrite(d, sizeof(mt_real) == 8 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                        mt_data(x));
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    return e >= 0 && f >= 0;
}

/* reads dataset `name` (n doubles expected) */
static int read_h5(const char *file, const char *name, double *out, size_t n)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return 0;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    int ok = sp >= 0 && (size_t)H5Sget_simple_extent_npoints(sp) == n &&
             H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0;
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    return ok;
}

static int close_to(const double *ref, const mt_real *got, size_t n, double tol, char *why, size_t len)
{
    double scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - ref[i]) <= tol * (fabs(ref[i]) + fmax(scale, 1e-3)))) {
            snprintf(why, len, "[%zu] medtrain %.9g vs torch %.9g (max |ref| %.3g)", i, (double)got[i], ref[i], scale);
            return 0;
        }
    return 1;
}

typedef struct torch_case {
    const char *graph, *torch_name;
    int n_args;
    mt_model_arg args[4];
    int n, h, train;
    mt_model *m;
    mt_tensor *y;
    char yout[600];
} torch_case;

/* builds the model, saves its checkpoint and input, runs our forward, and
 * appends the matching torch_models.py job line */
static void torch_prepare(mt_test_ctx *T_, torch_case *c, int k, FILE *jobs)
{
    CHECK_OK(load_model(c->graph, c->n_args, c->args, 5 + (uint64_t)k, &c->m));
    char ck[600], xin[600], params[256] = "";
    const char *tmp = ck_tmpdir();
    snprintf(ck, sizeof ck, "%s/ck%d.h5", tmp, k);
    snprintf(xin, sizeof xin, "%s/x%d.h5", tmp, k);
    snprintf(c->yout, sizeof c->yout, "%s/y%d.h5", tmp, k);
    for (int i = 0; i < c->n_args; i++)
        snprintf(params + strlen(params), sizeof params - strlen(params), "%s%s=%s", i ? "," : "", c->args[i].key,
                 c->args[i].value);
    CHECK_OK(mt_checkpoint_save(ck, c->m, NULL, NULL, NULL));
    mt_tensor *x = input(c->n, mt_model_in_channels(c->m), c->h, c->h, 3 + k);
    CHECK_NOTNULL(x);
    CHECK(write_h5_x(xin, x), "writing %s", xin);
    c->y = mt_model_forward(c->m, x, c->train);
    mt_tensor_release(x);
    CHECK_NOTNULL(c->y);
    fprintf(jobs, "--model %s --params %s --checkpoint %s --input %s --output %s %s\n", c->torch_name, params, ck, xin,
            c->yout, c->train ? "--train" : "");
}

static void torch_verify(mt_test_ctx *T_, torch_case *c)
{
    size_t ny = mt_numel(c->y);
    double *ref = malloc(ny * sizeof *ref);
    CHECK(ref, "malloc");
    int ok = read_h5(c->yout, "y", ref, ny);
    char why[300] = "";
    int close = ok && close_to(ref, MT_DATA(c->y), ny, 1e-5, why, sizeof why);
    free(ref);
    CHECK(ok, "cannot read y (%zu values) from %s", ny, c->yout);
    CHECK(close, "%s %s forward differs from PyTorch: %s", c->graph, c->train ? "train" : "eval", why);
    if (!c->train) return;
    for (int i = 0; i < mt_model_state_count(c->m); i++) { /* running statistics updated the same way */
        const char *name = mt_model_state_name(c->m, i);
        if (mt_model_state_is_param(c->m, i)) continue;
        mt_tensor *t = mt_model_state_tensor(c->m, i);
        size_t nt = mt_numel(t);
        double *r = malloc(nt * sizeof *r);
        char ds[300];
        snprintf(ds, sizeof ds, "state_dict/%s", name);
        int rok = r && read_h5(c->yout, ds, r, nt);
        int cok = rok && close_to(r, MT_DATA(t), nt, 1e-5, why, sizeof why);
        free(r);
        CHECK(rok, "cannot read %s", ds);
        CHECK(cok, "buffer %s differs from PyTorch: %s", name, why);
    }
}

TEST(checkpoint_torch_cross_check_forward)
{
    if (access("/usr/bin/python3", X_OK) != 0) SKIP("skipped: /usr/bin/python3 (with torch, h5py) not installed");
    torch_case cases[] = {
        {"configs/models/unet.yaml", "unet", 3, {{"base", "4"}, {"depth", "2"}, {"padding", "same"}}, 2, 32, 0},
        {"configs/models/unet.yaml", "unet", 4, {{"base", "4"}, {"depth", "2"}, {"padding", "valid"}, {"out_channels", "2"}}, 1, 60, 0},
        {"configs/models/unet_bn.yaml", "unet_bn", 2, {{"base", "4"}, {"depth", "2"}}, 2, 16, 0},
        {"configs/models/unet_bn.yaml", "unet_bn", 2, {{"base", "4"}, {"depth", "2"}}, 2, 16, 1},
    };
    int nc = (int)(sizeof cases / sizeof *cases);
    char jobs_path[600], cmd[2000], root[512];
    snprintf(jobs_path, sizeof jobs_path, "%s/torch_jobs.txt", ck_tmpdir());
    FILE *jobs = fopen(jobs_path, "w");
    CHECK(jobs, "cannot write %s", jobs_path);
    for (int k = 0; k < nc && !T_->failed; k++) torch_prepare(T_, &cases[k], k, jobs);
    fclose(jobs);
    if (!T_->failed) {
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s batch %s 2>&1",
                 mt_test_path("experiments/torch_models.py", root, sizeof root), jobs_path);
        FILE *pp = popen(cmd, "r");
        char out[4096] = "";
        size_t got = pp ? fread(out, 1, sizeof out - 1, pp) : 0;
        out[got] = '\0';
        int rc = pp ? pclose(pp) : -1;
        if (rc != 0) mt_test_fail(T_, __FILE__, __LINE__, "torch_models.py failed (exit %d): %s\ncommand: %s", rc, out, cmd);
    }
    for (int k = 0; k < nc && !T_->failed; k++) torch_verify(T_, &cases[k]);
    for (int k = 0; k < nc; k++) {
        mt_tensor_release(cases[k].y);
        mt_model_free(cases[k].m);
    }
}

/* A checkpoint is written through mkstemp + rename but gets the mode of an ordinary new
 * file (0666 less the umask: 0644 under umask 022), not mkstemp's 0600 (issue 12). */
TEST(checkpoint_file_mode_follows_umask)
{
    mt_model *m = NULL;
    mt_model_arg args[2] = {{"base", "2"}, {"depth", "1"}};
    CHECK_OK(load_model("configs/models/unet.yaml", 2, args, 1, &m));
    char path[600];
    snprintf(path, sizeof path, "%s/mode.h5", ck_tmpdir());
    mode_t old = umask(022);
    mt_status s = mt_checkpoint_save(path, m, NULL, NULL, NULL);
    umask(old);
    mt_model_free(m);
    CHECK_OK(s);
    struct stat st;
    CHECK(stat(path, &st) == 0, "stat %s", path);
    CHECK((st.st_mode & 0777) == 0644, "checkpoint mode %o, want 644 under umask 022", (unsigned)(st.st_mode & 0777));
}

/* ---- issue 12: corrupt checkpoints (flipped bytes, NaN) are refused ---- */

/* number of directory entries of dir other than . and .. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

/* writes NaN into element 0 of /state_dict/<name>, changing nothing else */
static int write_nan(const char *path, const char *name)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return 0;
    char ds[256];
    snprintf(ds, sizeof ds, "/state_dict/%s", name);
    hid_t d = H5Dopen2(f, ds, H5P_DEFAULT);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    hsize_t start[MT_MAX_DIMS] = {0}, count[MT_MAX_DIMS], one = 1;
    int nd = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    for (int i = 0; i < nd; i++) count[i] = 1;
    hid_t msp = H5Screate_simple(1, &one, NULL);
    float nan = NAN;
    int ok = nd > 0 && H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
             H5Dwrite(d, H5T_NATIVE_FLOAT, msp, sp, H5P_DEFAULT, &nan) >= 0;
    H5Sclose(msp);
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    return H5Fclose(f) >= 0 && ok;
}

/* rewrites a checkpoint as format_version 1 (before checksums): no crc32 attributes */
static herr_t drop_crc(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    herr_t e = d < 0 || H5Aexists(d, "crc32") <= 0 ? -1 : H5Adelete(d, "crc32");
    if (d >= 0) H5Dclose(d);
    return e < 0 ? -1 : 0;
}

static int make_v1(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return 0;
    int ok = 1;
    const char *groups[2] = {"state_dict", "optimizer"};
    for (int k = 0; k < 2; k++) {
        if (H5Lexists(f, groups[k], H5P_DEFAULT) <= 0) continue;
        hid_t g = H5Gopen2(f, groups[k], H5P_DEFAULT);
        hsize_t idx = 0;
        if (g < 0 || H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, drop_crc, NULL) < 0) ok = 0;
        if (g >= 0) H5Gclose(g);
    }
    int64_t v = 1;
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, H5T_NATIVE_INT64, &v) < 0) ok = 0;
    if (a >= 0) H5Aclose(a);
    return H5Fclose(f) >= 0 && ok;
}

TEST(checkpoint_corrupt_tensor_refused_naming_it)
{
    mt_model_arg args[2] = {{"base", "8"}, {"depth", "2"}};
    mt_model *m = NULL, *m2 = NULL;
    CHECK_OK(load_model("configs/models/unet_bn.yaml", 2, args, 3, &m));
    CHECK_OK(load_model("configs/models/unet_bn.yaml", 2, args, 4, &m2));
    int np;
    mt_tensor **p = mt_model_params(m, &np);
    mt_optim *o = mt_optim_new(MT_OPTIM_ADAM), *o2 = mt_optim_new(MT_OPTIM_ADAM);
    mt_optim_hparams h = mt_optim_defaults(MT_OPTIM_ADAM);
    CHECK(mt_optim_add_group(o, p, np, &h) == 0, "add_group");
    mt_tensor **p2 = mt_model_params(m2, &np);
    CHECK(mt_optim_add_group(o2, p2, np, &h) == 0, "add_group 2");
    mt_tensor *x = input(2, 1, 16, 16, 1);
    CHECK_OK(train_step(m, o, x));
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/corrupt", ck_tmpdir());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/c.h5", dir);
    /* the largest state tensor: flip up to 4 KB of its data bytes */
    int big = 0;
    for (int i = 1; i < mt_model_state_count(m); i++)
        if (mt_numel(mt_model_state_tensor(m, i)) > mt_numel(mt_model_state_tensor(m, big))) big = i;
    const char *bname = mt_model_state_name(m, big);
    CHECK_OK(mt_checkpoint_save(path, m, o, NULL, NULL));
    CHECK_OK(mt_checkpoint_load(path, m2, o2, NULL, NULL)); /* intact: loads */
    {
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        char ds[256];
        snprintf(ds, sizeof ds, "/state_dict/%s", bname);
        hid_t d = f < 0 ? -1 : H5Dopen2(f, ds, H5P_DEFAULT);
        haddr_t off = d < 0 ? HADDR_UNDEF : H5Dget_offset(d);
        hsize_t size = d < 0 ? 0 : H5Dget_storage_size(d);
        if (d >= 0) H5Dclose(d);
        if (f >= 0) H5Fclose(f);
        CHECK(off != HADDR_UNDEF && size > 0, "no data offset for %s", ds);
        size_t nflip = size < 4096 ? (size_t)size : 4096;
        FILE *fp = fopen(path, "r+b");
        CHECK(fp, "reopen");
        unsigned char *buf = malloc(nflip);
        CHECK(fseek(fp, (long)off, SEEK_SET) == 0 && fread(buf, 1, nflip, fp) == nflip, "read data bytes");
        for (size_t i = 0; i < nflip; i++) buf[i] ^= 0x5a;
        CHECK(fseek(fp, (long)off, SEEK_SET) == 0 && fwrite(buf, 1, nflip, fp) == nflip, "write data bytes");
        free(buf);
        CHECK(fclose(fp) == 0, "close");
    }
    CHECK(mt_checkpoint_load(path, m2, o2, NULL, NULL) != MT_OK, "flipped bytes in %s: load must fail", bname);
    CHECK(strstr(mt_last_error(), path) && strstr(mt_last_error(), bname) && strstr(mt_last_error(), "corrupt"),
          "flipped-bytes message lacks the file or the tensor: %s", mt_last_error());
    mt_error_clear();
    /* the same file through the weights importer (model.init_from, import-weights) */
    mt_weights_options wopt = {MT_WEIGHTS_AUTO, NULL, 0};
    mt_weights_report rep;
    CHECK(mt_weights_load(m2, path, &wopt, &rep) != MT_OK, "flipped bytes in %s: mt_weights_load must fail", bname);
    CHECK(strstr(mt_last_error(), path) && strstr(mt_last_error(), bname) && strstr(mt_last_error(), "corrupt"),
          "weights-import message lacks the file or the tensor: %s", mt_last_error());
    mt_error_clear();
    /* a NaN written into one weight (checksum not recomputed) */
    const char *wname = mt_model_state_name(m, 0);
    CHECK_OK(mt_checkpoint_save(path, m, o, NULL, NULL));
    CHECK(write_nan(path, wname), "write NaN");
    CHECK(mt_checkpoint_load(path, m2, o2, NULL, NULL) != MT_OK, "NaN in %s: load must fail", wname);
    CHECK(strstr(mt_last_error(), path) && strstr(mt_last_error(), wname), "NaN message: %s", mt_last_error());
    mt_error_clear();
    /* old format (no checksums) still loads... */
    CHECK_OK(mt_checkpoint_save(path, m, o, NULL, NULL));
    CHECK(make_v1(path), "rewrite as format_version 1");
    CHECK_OK(mt_checkpoint_load(path, m2, o2, NULL, NULL));
    for (int i = 0; i < mt_model_state_count(m); i++)
        CHECK(same_bytes(mt_model_state_tensor(m, i), mt_model_state_tensor(m2, i)), "v1: state '%s' differs",
              mt_model_state_name(m, i));
    /* ...but a NaN in it is refused by the finiteness check, naming the tensor */
    CHECK(write_nan(path, wname), "write NaN into v1");
    CHECK(mt_checkpoint_load(path, m2, NULL, NULL, NULL) != MT_OK, "v1 NaN in %s: load must fail", wname);
    CHECK(strstr(mt_last_error(), path) && strstr(mt_last_error(), wname) && strstr(mt_last_error(), "non-finite"),
          "v1 NaN message: %s", mt_last_error());
    mt_error_clear();
    CHECK(mt_weights_load(m2, path, &wopt, &rep) != MT_OK, "v1 NaN in %s: mt_weights_load must fail", wname);
    CHECK(strstr(mt_last_error(), path) && strstr(mt_last_error(), wname) && strstr(mt_last_error(), "non-finite"),
          "weights-import v1 NaN message: %s", mt_last_error());
    mt_error_clear();
    /* a format_version 2 file whose checksum was removed is refused */
    CHECK_OK(mt_checkpoint_save(path, m, o, NULL, NULL));
    CHECK(make_v1(path), "drop checksums");
    {
        hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        int64_t v = 2;
        hid_t a = f < 0 ? -1 : H5Aopen(f, "format_version", H5P_DEFAULT);
        CHECK(a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0, "set version 2");
        H5Aclose(a);
        H5Fclose(f);
    }
    CHECK(mt_checkpoint_load(path, m2, NULL, NULL, NULL) != MT_OK, "v2 without crc32 must fail");
    CHECK(strstr(mt_last_error(), path) && strstr(mt_last_error(), "crc32"), "missing crc message: %s", mt_last_error());
    mt_error_clear();
    CHECK(dir_entries(dir) == 1, "files left next to the checkpoint: %d entries", dir_entries(dir));
    mt_tensor_release(x);
    mt_optim_free(o);
    mt_optim_free(o2);
    mt_model_free(m);
    mt_model_free(m2);
}
