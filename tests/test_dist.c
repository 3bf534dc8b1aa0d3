/* tests/test_dist.c: data-parallel training (train/dist.h, docs/distributed.md).
 * The backend without a launcher; then, with `mpirun` and the MPI plugin built
 * next to medtrain (`make` builds it when mpicc exists; `make deps` installs
 * Debian's OpenMPI), `mpirun -np 2 medtrain train` end to end on a tiny
 * synthetic CT-like dataset:
 *   - 3 steps of a small U-Net (per-sample mean BCE, no BatchNorm, no dropout,
 *     augmentation on) with global batch 8 give every weight of one process with
 *     batch 8 within 1e-5 relative, and the same logged losses;
 *   - a 2-process run killed with SIGKILL (rank 0, after its first checkpoint)
 *     and resumed with mpirun ends bit-identical to an uninterrupted 2-process run
 *     (dropout on, so the per-rank dropout streams are resumed too);
 *   - a global batch that does not divide by the processes, or an srun step
 *     without an MPI plugin, stops with a message;
 *   - BatchNorm is per replica, its running statistics rank 0's (docs/distributed.md);
 *   - the YOLOv5 loss (a sum over the batch) is summed over the processes;
 *   - on a GPU machine: the equality over MPI (host copies) and, with 2 GPUs, NCCL.
 * Without mpirun those print "skipped: no mpirun". MPI children run with
 * OMP_NUM_THREADS=1 so 2 ranks fit on 2 cores. */
#include <hdf5.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/device.h"
#include "../core/rng.h"
#include "../data/dataset.h"
#include "../train/dist.h"
#include "test.h"

/* ---- the backend without a launcher ---- */

/* the launcher variables mt_dist_launched_size reads: saved, cleared, restored */
static const char *const k_launch_vars[3] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};

static void launch_env(char saved[3][32], int restore)
{
    for (int i = 0; i < 3; i++) {
        if (!restore) {
            const char *v = getenv(k_launch_vars[i]);
            snprintf(saved[i], 32, "%s", v ? v : "");
            unsetenv(k_launch_vars[i]);
        } else if (saved[i][0]) {
            setenv(k_launch_vars[i], saved[i], 1);
        } else {
            unsetenv(k_launch_vars[i]);
        }
    }
}

TEST(dist_single_backend_without_launcher)
{
    char saved[3][32];
    launch_env(saved, 0);
    int launched = mt_dist_launched_size();
    mt_dist *d = NULL;
    mt_status st = mt_dist_open("auto", &d);
    int rank = mt_dist_rank(d), size = mt_dist_size(d);
    const char *name = d ? mt_dist_name(d) : "";
    float v[3] = {1, 2, 3};
    mt_status st_sum = mt_dist_allreduce_sum(d, v, 3);
    mt_status st_close = mt_dist_close(d);
    /* a launch announced by the environment is recognised; "single" inside it is refused */
    setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
    int launched4 = mt_dist_launched_size();
    mt_dist *d4 = NULL;
    mt_error_clear();
    mt_status st_single = mt_dist_open("single", &d4);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", mt_last_error());
    unsetenv("OMPI_COMM_WORLD_SIZE");
    setenv("SLURM_STEP_NUM_TASKS", "3", 1); /* an srun step */
    int launched3 = mt_dist_launched_size();
    launch_env(saved, 1);
    mt_dist *bad = NULL;
    mt_error_clear();
    mt_status st_bad = mt_dist_open("gloo", &bad);
    CHECK(launched == 1 && launched4 == 4 && launched3 == 3, "launched sizes %d / %d / %d, want 1 / 4 / 3", launched,
          launched4, launched3);
    CHECK_OK(st);
    CHECK(rank == 0 && size == 1 && !strcmp(name, "single"), "auto without a launcher: rank %d of %d, %s", rank, size,
          name);
    CHECK(st_sum == MT_OK && v[0] == 1 && v[2] == 3, "single all-reduce changed the values");
    CHECK_OK(st_close);
    CHECK(st_single == MT_ERR_INVALID && d4 == NULL && strstr(msg, "one of 4"), "--dist single under a 4-process "
          "launch: status %d (%s)", st_single, msg);
    CHECK(st_bad == MT_ERR_INVALID && bad == NULL && strstr(mt_last_error(), "gloo"), "--dist gloo: status %d (%s)",
          st_bad, mt_last_error());
    CHECK(mt_dist_size(NULL) == 1 && mt_dist_rank(NULL) == 0, "NULL is not the single-process backend");
}

/* ---- mpirun end to end ---- */

/* A small U-Net experiment on `dataset`: graph configs/models/<graph>.yaml with `params` (YAML flow). */
static int write_config_graph(const char *path, const char *dataset, const char *graph_name, const char *params,
                              int epochs)
{
    char graph[PATH_MAX], rel[PATH_MAX], file[128];
    snprintf(file, sizeof file, "configs/models/%s.yaml", graph_name);
    if (!realpath(mt_test_path(file, rel, sizeof rel), graph)) return 0;
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fprintf(f,
            "name: dp\n"
            "model:\n  graph: %s\n  params: %s\n"
            "data:\n  dataset: %s\n  normalize: window\n  window: [-200, 200]\n  num_workers: 1\n"
            "  augment: {enabled: true, flip_h: 0.5, rotation_deg: 10, noise_std: 0.02}\n"
            "loss:\n  kind: bce_with_logits\n"
            "optimizer:\n  kind: sgd\n  lr: 0.05\n  momentum: 0.9\n"
            "train:\n  epochs: %d\n  batch_size: 8\n  seed: 5\n  deterministic: true\n  log_every: 1\n"
            "checkpoint: {monitor: val_loss, mode: min}\n",
            graph, params, dataset, epochs);
    return fclose(f) == 0;
}

/* The plain U-Net (base 4, depth 2, no BatchNorm) with dropout p. */
static int write_config(const char *path, const char *dataset, double dropout, int epochs)
{
    char params[160];
    snprintf(params, sizeof params, "{base: 4, depth: 2, in_channels: 1, out_channels: 1, dropout: %g}", dropout);
    return write_config_graph(path, dataset, "unet", params, epochs);
}

static const char *g_dataset;

static const char *dataset(void)
{
    static char path[1024];
    if (g_dataset) return g_dataset;
    snprintf(path, sizeof path, "%s/dist_discs.h5", mt_test_tmpdir());
    if (!mt_test_disc_dataset(path, 24, 32, 31, NULL, 0.2, 0.2)) return NULL;
    g_dataset = path;
    return g_dataset;
}

#define MPIRUN "mpirun --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS -np"
static const char k_mpirun[] = "OMP_NUM_THREADS=1 " MPIRUN;

/* medtrain, mpirun and the MPI plugin next to medtrain, or a skip */
#define NEED_MPI()                                                                                      \
    const char *mt_ = mt_test_medtrain();                                                               \
    if (!mt_) SKIP("skipped: medtrain CLI not built next to run_tests (make test builds it)");         \
    if (system("command -v mpirun >/dev/null 2>&1") != 0) SKIP("skipped: no mpirun");                  \
    char plugin_[PATH_MAX + 32];                                                                        \
    snprintf(plugin_, sizeof plugin_, "%s", mt_);                                                      \
    snprintf(strrchr(plugin_, '/'), sizeof plugin_ - (size_t)(strrchr(plugin_, '/') - plugin_),        \
             "/libmedtrain_mpi.so");                                                                    \
    if (access(plugin_, F_OK) != 0) SKIP("skipped: no MPI plugin next to medtrain (build with mpicc)");

/* Reads every dataset of group `g` of an HDF5 file as doubles: names[i], values[i], counts[i]. */
typedef struct h5_group {
    int n;
    char names[128][96];
    double *values[128];
    size_t counts[128];
} h5_group;

static void group_free(h5_group *g)
{
    for (int i = 0; i < g->n; i++) free(g->values[i]);
    g->n = 0;
}

static int read_group(const char *file, const char *group, h5_group *out, char *why, size_t wl)
{
    memset(out, 0, sizeof *out);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t g = f >= 0 ? H5Gopen2(f, group, H5P_DEFAULT) : -1;
    hsize_t n = 0;
    int ok = g >= 0 && H5Gget_num_objs(g, &n) >= 0 && n > 0 && n <= 128;
    if (!ok) snprintf(why, wl, "cannot read %s in %s", group, file);
    for (hsize_t i = 0; ok && i < n; i++) {
        H5Gget_objname_by_idx(g, i, out->names[out->n], sizeof out->names[0]);
        hid_t d = H5Dopen2(g, out->names[out->n], H5P_DEFAULT);
        hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
        hssize_t cnt = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
        double *v = cnt >= 0 ? malloc(sizeof(double) * (size_t)(cnt ? cnt : 1)) : NULL;
        ok = v && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;
        if (!ok) {
            snprintf(why, wl, "cannot read %s/%s in %s", group, out->names[out->n], file);
            free(v);
        } else {
            out->values[out->n] = v;
            out->counts[out->n++] = (size_t)cnt;
        }
        if (sp >= 0) H5Sclose(sp);
        if (d >= 0) H5Dclose(d);
    }
    if (g >= 0) H5Gclose(g);
    if (f >= 0) H5Fclose(f);
    if (!ok) group_free(out);
    return ok;
}

/* Every dataset of `group` in two checkpoints: |a - b| <= rtol * |b| + atol_frac * max|b of that tensor|
 * (rtol 0, atol_frac 0: bit-identical). *worst receives the largest |a - b| / max|b| over the tensors. */
static int same_group(const char *fa, const char *fb, const char *group, double rtol, double atol_frac, double *worst,
                      char *why, size_t wl)
{
    h5_group a, b;
    if (!read_group(fa, group, &a, why, wl)) return 0;
    if (!read_group(fb, group, &b, why, wl)) {
        group_free(&a);
        return 0;
    }
    int ok = a.n == b.n;
    if (!ok) snprintf(why, wl, "%s: %d vs %d tensors", group, a.n, b.n);
    if (worst) *worst = 0;
    for (int i = 0; ok && i < a.n; i++) {
        ok = !strcmp(a.names[i], b.names[i]) && a.counts[i] == b.counts[i];
        if (!ok) {
            snprintf(why, wl, "%s: %s [%zu] vs %s [%zu]", group, a.names[i], a.counts[i], b.names[i], b.counts[i]);
            break;
        }
        double mx = 0, md = 0;
        for (size_t j = 0; j < b.counts[i]; j++) mx = fabs(b.values[i][j]) > mx ? fabs(b.values[i][j]) : mx;
        for (size_t j = 0; ok && j < b.counts[i]; j++) {
            double x = a.values[i][j], y = b.values[i][j], dif = fabs(x - y);
            md = dif > md ? dif : md;
            if (dif > rtol * fabs(y) + atol_frac * mx || (rtol == 0 && atol_frac == 0 && memcmp(&x, &y, sizeof x))) {
                ok = 0;
                snprintf(why, wl, "%s/%s[%zu]: %.9g vs %.9g (relative %.3g)", group, a.names[i], j, x, y,
                         dif / (fabs(y) > 0 ? fabs(y) : 1));
            }
        }
        if (worst && mx > 0 && md / mx > *worst) *worst = md / mx;
    }
    group_free(&a);
    group_free(&b);
    return ok;
}

/* The loss column of log.csv's train rows (at most max) */
static int train_losses(const char *run, double *loss, int max)
{
    char path[1200], line[2048];
    snprintf(path, sizeof path, "%s/log.csv", run);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && n < max && fgets(line, sizeof line, f)) {
        char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        if (c2 && !strncmp(c2 + 1, "train,", 6)) loss[n++] = strtod(c2 + 7, NULL);
    }
    if (f) fclose(f);
    return n;
}

/* 3 steps with global batch 8 over 2 processes vs one process with batch 8, both on `device`
 * (the 2 processes with --dist `dist`): every weight and momentum buffer within `rtol`
 * relative (a value near zero on its tensor's scale: rtol / 10 of its largest), and the
 * logged losses too. */
static void equal_one_process(mt_test_ctx *T_, const char *mt_, const char *device, const char *dist, double rtol)
{
    const char *ds = dataset();
    CHECK(ds, "dataset: %s", mt_last_error());
    const char *tmp = mt_test_tmpdir();
    char cfg[1024], r1[1024], r2[1024], cmd[4096], out[16384], want[128];
    snprintf(cfg, sizeof cfg, "%s/dp.yaml", tmp);
    snprintf(r1, sizeof r1, "%s/one_%s_%s", tmp, device, dist);
    snprintf(r2, sizeof r2, "%s/two_%s_%s", tmp, device, dist);
    CHECK(write_config(cfg, ds, 0, 2), "write config");
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 %s train %s --device %s --set train.steps=3 --out %s --quiet", mt_,
             cfg, device, r1);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "one process failed (%d):\n%s", rc, out);
    snprintf(cmd, sizeof cmd, "%s 2 %s train %s --device %s --dist %s --set train.steps=3 --out %s", k_mpirun, mt_,
             cfg, device, dist, r2);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "mpirun -np 2 failed (%d):\n%s", rc, out);
    snprintf(want, sizeof want, "x 2 processes (%s, global batch 8)", dist);
    CHECK(strstr(out, want), "the 2-process run does not say '%s':\n%s", want, out);
    char fa[1100], fb[1100], why[1024] = "";
    snprintf(fa, sizeof fa, "%s/last.h5", r2);
    snprintf(fb, sizeof fb, "%s/last.h5", r1);
    double worst = 0;
    CHECK(same_group(fa, fb, "state_dict", rtol, rtol / 10, &worst, why, sizeof why),
          "2 processes vs 1 after 3 steps on %s: %s", device, why);
    CHECK(worst > 0 && worst < rtol, "largest difference %.3g of a tensor's scale (0 would mean nothing was compared "
          "or the runs never trained)", worst);
    CHECK(same_group(fa, fb, "optimizer", rtol, rtol / 10, NULL, why, sizeof why), "momentum buffers: %s", why);
    double l1[8], l2[8];
    int n1 = train_losses(r1, l1, 8), n2 = train_losses(r2, l2, 8);
    CHECK(n1 == 3 && n2 == 3, "log.csv train rows: %d and %d, want 3", n1, n2);
    for (int i = 0; i < 3; i++)
        CHECK(fabs(l1[i] - l2[i]) <= rtol * fabs(l1[i]), "step %d loss: one process %.8g, 2 processes %.8g", i + 1,
              l1[i], l2[i]);
    CHECK(fabs(l1[0] - l1[2]) > 1e-4, "the loss did not move in 3 steps (%.8g, %.8g)", l1[0], l1[2]);
}

/* On the CPU: within 1e-5 relative. */
TEST(dist_mpirun_2_ranks_equal_one_process)
{
    NEED_MPI();
    equal_one_process(T_, mt_, "cpu", "mpi", 1e-5);
}

/* On a GPU: MPI through host copies (both processes may share one GPU), and NCCL when
 * there are 2 GPUs (NCCL takes one GPU per process); 1e-4 as the CUDA op tests. */
TEST(dist_mpirun_cuda_equal_one_process)
{
    NEED_MPI();
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    equal_one_process(T_, mt_, "cuda", "mpi", 1e-4);
    if (T_->failed) return;
    snprintf(strrchr(plugin_, '/'), sizeof plugin_ - (size_t)(strrchr(plugin_, '/') - plugin_), "/libmedtrain_nccl.so");
    if (!mt_device_available(mt_cuda(1)) || access(plugin_, F_OK) != 0) {
        printf("    NCCL not run: %s\n", access(plugin_, F_OK) != 0 ? "no NCCL plugin" : "one GPU (NCCL needs 2)");
        return;
    }
    equal_one_process(T_, mt_, "cuda", "nccl", 1e-4);
}

/* SIGKILL to rank 0 after its first checkpoint, resume with mpirun: bit-identical to an uninterrupted 2-process run. */
TEST(dist_mpirun_resume_after_kill9_is_bit_exact)
{
    NEED_MPI();
    const char *ds = dataset();
    CHECK(ds, "dataset: %s", mt_last_error());
    const char *tmp = mt_test_tmpdir();
    char cfg[1024], ra[1024], rb[1024], cmd[4096], out[16384];
    snprintf(cfg, sizeof cfg, "%s/dp_resume.yaml", tmp);
    snprintf(ra, sizeof ra, "%s/full", tmp);
    snprintf(rb, sizeof rb, "%s/killed", tmp);
    /* 14 train samples, batch 4: 4 steps an epoch (the last 2 samples: 1 per process), dropout on */
    CHECK(write_config(cfg, ds, 0.5, 6), "write config");
    snprintf(cmd, sizeof cmd, "%s 2 %s train %s --device cpu --set train.batch_size=4 --out %s --quiet", k_mpirun, mt_,
             cfg, ra);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "uninterrupted 2-process run failed (%d):\n%s", rc, out);
    /* run B in its own process group (cleanup), killed once its first last.h5 exists */
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 exec " MPIRUN " 2 %s train %s --device cpu --set train.batch_size=4 "
             "--out %s --quiet >/dev/null 2>&1", mt_, cfg, rb);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
        setpgid(0, 0);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    char ck[1100], lock[1100];
    snprintf(ck, sizeof ck, "%s/last.h5", rb);
    snprintf(lock, sizeof lock, "%s/.lock", rb);
    long victim = 0;
    int finished = 0, st = 0;
    for (int i = 0; i < 60000 && !victim && !finished; i++) { /* up to 60 s */
        if (access(ck, F_OK) == 0) {
            FILE *lf = fopen(lock, "r");
            if (lf && fscanf(lf, "%ld", &victim) == 1 && victim > 0) kill((pid_t)victim, SIGKILL);
            else victim = 0;
            if (lf) fclose(lf);
        }
        if (!victim && waitpid(pid, &st, WNOHANG) == pid) finished = 1;
        if (!victim) usleep(1000);
    }
    if (!finished) {
        /* mpirun ends the job when a rank dies; give it 30 s, then kill what is left */
        int waited = 0;
        for (; waited < 3000 && waitpid(pid, &st, WNOHANG) != pid; waited++) usleep(10000);
        if (waited == 3000) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
        }
    }
    CHECK(victim > 0, "run B ended before its first checkpoint appeared");
    snprintf(cmd, sizeof cmd, "%s 2 %s train --resume %s --device cpu", k_mpirun, mt_, rb);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "resume with mpirun failed (%d):\n%s", rc, out);
    const char *r = strstr(out, "at epoch ");
    int from = r ? atoi(r + 9) : -1;
    CHECK(from >= 1 && from < 6, "the resume did not start mid-run (epoch %d):\n%s", from, out);
    char fa[1100], fb[1100], why[1024] = "";
    snprintf(fa, sizeof fa, "%s/last.h5", ra);
    snprintf(fb, sizeof fb, "%s/last.h5", rb);
    CHECK(same_group(fa, fb, "state_dict", 0, 0, NULL, why, sizeof why), "weights differ after the resume: %s", why);
    CHECK(same_group(fa, fb, "optimizer", 0, 0, NULL, why, sizeof why), "optimizer state differs: %s", why);
}

/* A global batch that does not divide by the processes stops before training, naming the key;
 * so does an srun step whose tasks MPI does not connect. */
TEST(dist_mpirun_batch_not_divisible_fails_cleanly)
{
    NEED_MPI();
    const char *ds = dataset();
    CHECK(ds, "dataset: %s", mt_last_error());
    const char *tmp = mt_test_tmpdir();
    char cfg[1024], run[1024], cmd[4096], out[16384];
    snprintf(cfg, sizeof cfg, "%s/dp_bad.yaml", tmp);
    snprintf(run, sizeof run, "%s/bad", tmp);
    CHECK(write_config(cfg, ds, 0, 2), "write config");
    snprintf(cmd, sizeof cmd, "%s 2 %s train %s --device cpu --set train.batch_size=7 --out %s", k_mpirun, mt_, cfg,
             run);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc != 0, "batch 7 over 2 processes trained:\n%s", out);
    CHECK(strstr(out, "train.batch_size 7 is the global batch, split over 2 processes: it must divide by 2"),
          "no clear message:\n%s", out);
    CHECK(access(run, F_OK) != 0, "a run directory was left behind");
    /* srun without an MPI plugin: 3 tasks that MPI does not connect are refused, not trained 3 times */
    snprintf(cmd, sizeof cmd, "SLURM_STEP_NUM_TASKS=3 OMP_NUM_THREADS=1 %s train %s --device cpu --out %s", mt_, cfg,
             run);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc != 0 && strstr(out, "the launcher started 3 processes but MPI sees 1") && strstr(out, "--mpi=pmix"),
          "an unconnected 3-task srun step was not refused (%d):\n%s", rc, out);
    CHECK(access(run, F_OK) != 0, "a run directory was left behind by the refused srun step");
}

/* BatchNorm is per replica and the running statistics are rank 0's: after one step of
 * global batch 8 on 2 processes, every BN buffer equals that of one process with batch 4
 * (rank 0's slice: the first 4 samples of the epoch order, the same initial weights), and
 * differs from one process with batch 8 (which a synchronised BN would give). */
TEST(dist_mpirun_batchnorm_is_per_replica)
{
    NEED_MPI();
    const char *ds = dataset();
    CHECK(ds, "dataset: %s", mt_last_error());
    const char *tmp = mt_test_tmpdir();
    char cfg[1024], run[3][1024], cmd[8192], out[16384];
    snprintf(cfg, sizeof cfg, "%s/dp_bn.yaml", tmp);
    CHECK(write_config_graph(cfg, ds, "unet_bn", "{base: 4, depth: 2, in_channels: 1, out_channels: 1}", 1),
          "write config");
    const char *names[3] = {"bn_two", "bn_one_b4", "bn_one_b8"};
    for (int i = 0; i < 3; i++) {
        snprintf(run[i], sizeof run[i], "%s/%s", tmp, names[i]);
        if (i == 0)
            snprintf(cmd, sizeof cmd, "%s 2 %s train %s --device cpu --set train.steps=1 --out %s --quiet", k_mpirun,
                     mt_, cfg, run[i]);
        else
            snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 %s train %s --device cpu --set train.steps=1 "
                     "--set train.batch_size=%d --out %s --quiet", mt_, cfg, i == 1 ? 4 : 8, run[i]);
        int rc = mt_test_run(cmd, out, sizeof out);
        CHECK(rc == 0, "%s failed (%d):\n%s", names[i], rc, out);
    }
    h5_group g[3];
    char why[1024] = "", path[1100];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/last.h5", run[i]);
        if (!read_group(path, "state_dict", &g[i], why, sizeof why)) {
            for (int j = 0; j < i; j++) group_free(&g[j]);
            CHECK(0, "%s", why);
        }
    }
    int n_stats = 0, same_b4 = 1, differs_b8 = 0;
    for (int k = 0; k < g[0].n; k++) {
        if (!strstr(g[0].names[k], "running_")) continue;
        n_stats++;
        for (size_t j = 0; j < g[0].counts[k]; j++) {
            double a = g[0].values[k][j], b4 = g[1].values[k][j], b8 = g[2].values[k][j];
            if (fabs(a - b4) > 1e-5 * fabs(b4) + 1e-7 && same_b4) {
                same_b4 = 0;
                snprintf(why, sizeof why, "%s[%zu]: 2 processes %.9g, one process batch 4 %.9g", g[0].names[k], j, a,
                         b4);
            }
            differs_b8 |= fabs(a - b8) > 1e-4 * fabs(b8) + 1e-6;
        }
    }
    for (int i = 0; i < 3; i++) group_free(&g[i]);
    CHECK(n_stats >= 16, "only %d BN running statistics in the checkpoint", n_stats);
    CHECK(same_b4, "running statistics are not rank 0's slice's: %s", why);
    CHECK(differs_b8, "running statistics equal the whole batch's (a synchronised BN): per replica was expected");
}

/* Detection: the YOLOv5 loss is its terms times the batch size, so the processes' gradients
 * and logged losses are summed, not weighted by shares (task->loss_scales_with_batch): the
 * first step's loss of 2 processes with global batch 4 is one process's with batch 4 (up to
 * the per-process means over targets), not half of it. */
TEST(dist_mpirun_detection_loss_is_summed)
{
    NEED_MPI();
    const char *tmp = mt_test_tmpdir();
    char ds[1024], cfg[1024], r1[1024], r2[1024], cmd[8192], out[16384], yolo[PATH_MAX], rel[PATH_MAX];
    CHECK(realpath(mt_test_path("configs/models/yolov5s.yaml", rel, sizeof rel), yolo), "yolov5s.yaml missing");
    snprintf(ds, sizeof ds, "%s/dist_boxes.h5", tmp);
    CHECK(mt_test_box_dataset(ds, 16, 64, 2, 41), "dataset: %s", mt_last_error());
    snprintf(cfg, sizeof cfg, "%s/dp_det.yaml", tmp);
    FILE *f = fopen(cfg, "w");
    CHECK(f, "config");
    fprintf(f,
            "task: {kind: detection}\n"
            "model: {graph: %s, params: {in_channels: 1, nc: 2, img_size: 64, width_multiple: 0.125}}\n"
            "data: {dataset: %s, normalize: window, window: [0, 255], num_workers: 1}\n"
            "optimizer: {kind: sgd, lr: 0.001}\ntrain: {epochs: 1, steps: 2, batch_size: 4, seed: 1, log_every: 1}\n",
            yolo, ds);
    CHECK(fclose(f) == 0, "config");
    snprintf(r1, sizeof r1, "%s/det_one", tmp);
    snprintf(r2, sizeof r2, "%s/det_two", tmp);
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 %s train %s --device cpu --out %s --quiet", mt_, cfg, r1);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "one process failed (%d):\n%s", rc, out);
    snprintf(cmd, sizeof cmd, "%s 2 %s train %s --device cpu --out %s --quiet", k_mpirun, mt_, cfg, r2);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "mpirun -np 2 failed (%d):\n%s", rc, out);
    double l1[4], l2[4];
    CHECK(train_losses(r1, l1, 4) == 2 && train_losses(r2, l2, 4) == 2, "log.csv train rows");
    CHECK(l1[0] > 0 && fabs(l2[0] - l1[0]) < 0.2 * l1[0], "first-step loss: one process %.6g, 2 processes %.6g "
          "(half would mean averaged shares)", l1[0], l2[0]);
}
