/* tests/test_sweep.c: sweeps (train/sweep.h) and K-fold cross-validation
 * (data.folds, mt_dataset_kfold). The sweep file is expanded as documented (grid
 * order, seeds, folds, random draws in range and reproducible), bad files are
 * refused naming file:line:col; folds partition the samples by patient; a sweep of
 * the S1 demo recipe (2 learning rates x 2 seeds, 2 trials at a time) killed with
 * kill -9 and stopped with SIGTERM midway, then re-run, ends with the table of an
 * uninterrupted sweep. */
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/autograd.h"
#include "../core/rng.h"
#include "../data/dataset.h"
#include "../train/run_dir.h"
#include "../train/session.h"
#include "../train/sweep.h"
#include "../train/task.h"
#include "../train/trainer.h"
#include "test.h"

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

/* absolute path of configs/s1_demo.yaml (sweep files in the test directory name it) */
static void demo_config(char *exp)
{
    char rel[PATH_MAX];
    mt_test_path("configs/s1_demo.yaml", rel, sizeof rel);
    if (!realpath(rel, exp)) snprintf(exp, PATH_MAX, "%s", rel);
}

static int patient_dataset(const char *path, int n, int patients);

/* a small dataset in the test directory for sweep files that only load their trials */
static const char *small_dataset(void)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/small.h5", mt_test_tmpdir());
    if (!mt_path_exists(path) && !patient_dataset(path, 6, 3)) return "(dataset not written)";
    return path;
}

static const char *pv(const mt_sweep *sw, int t, int p) { return sw->param_values[(size_t)t * (size_t)sw->n_params + p]; }

TEST(sweep_file_expands_grid_seeds_folds_in_order)
{
    char path[PATH_MAX], exp[PATH_MAX];
    snprintf(path, sizeof path, "%s/grid.yaml", mt_test_tmpdir());
    demo_config(exp);
    char text[PATH_MAX + 1024];
    snprintf(text, sizeof text,
             "experiment: %s\nset:\n  train.epochs: 3\n  data.dataset: %s\ngrid:\n  optimizer.lr: [1.0e-3, 2.0e-3, 5.0e-3]\n"
             "  train.batch_size: [2, 4]\nseeds: [7, 8]\nfolds: 3\n",
             exp, small_dataset());
    CHECK(write_text(path, text), "cannot write %s", path);
    mt_sweep sw;
    memset(&sw, 0, sizeof sw);
    CHECK_OK(mt_sweep_load(path, &sw));
    CHECK(sw.n_trials == 3 * 2 * 2 * 3, "%d trials, want 36", sw.n_trials);
    CHECK(sw.n_params == 5, "%d params", sw.n_params);
    CHECK(!strcmp(sw.param_keys[0], "optimizer.lr") && !strcmp(sw.param_keys[1], "train.batch_size") &&
              !strcmp(sw.param_keys[2], "train.seed") && !strcmp(sw.param_keys[3], "data.fold") &&
              !strcmp(sw.param_keys[4], "data.folds"),
          "keys %s %s %s %s %s", sw.param_keys[0], sw.param_keys[1], sw.param_keys[2], sw.param_keys[3], sw.param_keys[4]);
    CHECK(!strcmp(sw.name, "grid"), "name %s", sw.name);
    /* fold fastest, then seed, then the grid's last key */
    CHECK(!strcmp(pv(&sw, 0, 3), "0") && !strcmp(pv(&sw, 1, 3), "1") && !strcmp(pv(&sw, 2, 3), "2") &&
              !strcmp(pv(&sw, 3, 2), "8") && !strcmp(pv(&sw, 6, 1), "4") && !strcmp(pv(&sw, 12, 0), "2.0e-3") &&
              !strcmp(pv(&sw, 35, 0), "5.0e-3") && !strcmp(pv(&sw, 35, 4), "3"),
          "order: t1 fold %s, t3 seed %s, t6 batch %s, t12 lr %s", pv(&sw, 1, 3), pv(&sw, 3, 2), pv(&sw, 6, 1),
          pv(&sw, 12, 0));
    mt_sweep_free(&sw);
}

TEST(sweep_random_draws_are_in_range_and_reproducible)
{
    char path[PATH_MAX], exp[PATH_MAX];
    snprintf(path, sizeof path, "%s/random.yaml", mt_test_tmpdir());
    demo_config(exp);
    char text[PATH_MAX + 1024];
    snprintf(text, sizeof text,
             "experiment: %s\nrandom:\n  optimizer.lr: {low: 1.0e-5, high: 1.0e-1, log: true}\n"
             "  model.params.base: {low: 4, high: 8, int: true}\n  optimizer.kind: {choice: [adam, sgd]}\n"
             "trials: 200\nseed: 3\nset: {data.dataset: %s}\n",
             exp, small_dataset());
    CHECK(write_text(path, text), "cannot write %s", path);
    mt_sweep a, b;
    memset(&a, 0, sizeof a), memset(&b, 0, sizeof b);
    CHECK_OK(mt_sweep_load(path, &a));
    CHECK_OK(mt_sweep_load(path, &b));
    CHECK(a.n_trials == 200 && a.n_params == 3, "%d trials %d params", a.n_trials, a.n_params);
    int decade[4] = {0}, ints[5] = {0}, adam = 0;
    for (int t = 0; t < a.n_trials; t++) {
        for (int p = 0; p < 3; p++) CHECK(!strcmp(pv(&a, t, p), pv(&b, t, p)), "trial %d differs between loads", t);
        double lr = atof(pv(&a, t, 0));
        CHECK(lr >= 1e-5 && lr <= 1e-1, "lr %g out of range", lr);
        int dec = (int)floor(log10(lr) + 5);
        if (dec >= 0 && dec < 4) decade[dec]++;
        int base = atoi(pv(&a, t, 1));
        CHECK(base >= 4 && base <= 8 && strchr(pv(&a, t, 1), '.') == NULL, "base %s", pv(&a, t, 1));
        ints[base - 4]++;
        adam += !strcmp(pv(&a, t, 2), "adam");
        CHECK(!strcmp(pv(&a, t, 2), "adam") || !strcmp(pv(&a, t, 2), "sgd"), "kind %s", pv(&a, t, 2));
    }
    /* log-uniform: about 50 per decade; integers 4..8 about 40 each; choice about 100 */
    for (int k = 0; k < 4; k++) CHECK(decade[k] > 25 && decade[k] < 75, "decade %d has %d draws", k, decade[k]);
    for (int k = 0; k < 5; k++) CHECK(ints[k] > 20 && ints[k] < 60, "base %d drawn %d times", k + 4, ints[k]);
    CHECK(adam > 70 && adam < 130, "adam %d of 200", adam);
    mt_sweep_free(&a);
    mt_sweep_free(&b);
}

TEST(sweep_refuses_bad_files_naming_the_place)
{
    char path[PATH_MAX], exp[PATH_MAX];
    snprintf(path, sizeof path, "%s/bad.yaml", mt_test_tmpdir());
    demo_config(exp);
    const struct { const char *body, *needle; } cases[] = {
        {"grid:\n  optimizer.lr: [1.0e-3]\nseedz: [1]\n", "bad.yaml:4:1: unknown key 'seedz' in the sweep; allowed:"},
        {"grid:\n  optimizer.lr: []\n", "needs a non-empty list"},
        {"random:\n  optimizer.lr: {low: 1.0e-3, high: 1.0e-4}\n", "low <= high"},
        {"random:\n  optimizer.lr: {low: 0, high: 1, log: true}\n", "a log range needs low > 0"},
        {"grid:\n  optimizer.lerning_rate: [1]\n", "trial 0 does not load"},
        {"grid:\n  optimizer.lr: [1.0e-3]\ntrials: 4\n", "needs a random: section"},
        {"folds: 1\n", "folds must be an integer in [3, 1000]"},
        {"local: {concurent: 2}\n", "unknown key 'concurent' in local; allowed: concurrent, threads; did you mean 'concurrent'?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[PATH_MAX + 1024];
        snprintf(text, sizeof text, "experiment: %s\n%sset: {data.dataset: %s}\n", exp, cases[i].body, small_dataset());
        CHECK(write_text(path, text), "write");
        mt_sweep sw;
        memset(&sw, 0, sizeof sw);
        mt_status st = mt_sweep_load(path, &sw);
        CHECK(st != MT_OK && strstr(mt_last_error(), cases[i].needle), "case %zu: status %d, message: %s", i, st,
              mt_last_error());
        mt_error_clear();
        mt_sweep_free(&sw);
    }
    /* a sweep directory holds one sweep */
    char text[PATH_MAX + 1024], dir[PATH_MAX];
    snprintf(text, sizeof text, "experiment: %s\ngrid:\n  optimizer.lr: [1.0e-3]\nset: {data.dataset: %s}\n", exp, small_dataset());
    CHECK(write_text(path, text), "write");
    snprintf(dir, sizeof dir, "%s/sweepdir", mt_test_tmpdir());
    mt_sweep sw;
    memset(&sw, 0, sizeof sw);
    CHECK_OK(mt_sweep_load(path, &sw));
    CHECK_OK(mt_sweep_prepare(&sw, dir));
    CHECK_OK(mt_sweep_prepare(&sw, dir));
    mt_sweep_free(&sw);
    snprintf(text, sizeof text, "experiment: %s\ngrid:\n  optimizer.lr: [2.0e-3]\nset: {data.dataset: %s}\n", exp, small_dataset());
    CHECK(write_text(path, text), "write");
    CHECK_OK(mt_sweep_load(path, &sw));
    CHECK_FAILS(mt_sweep_prepare(&sw, dir), MT_ERR_INVALID, "holds another sweep");
    mt_sweep_free(&sw);
}

/* A dataset of n 8x8 images of `patients` patients (sample i: patient i % patients), sample 5
 * an exact copy of sample 0's image under another patient id. */
static int patient_dataset(const char *path, int n, int patients)
{
    mt_dataset_spec spec = {1, 8, 8, 0, 0, "fold test", "none"};
    mt_dataset_writer *w = NULL;
    if (mt_dataset_writer_open(path, &spec, &w) != MT_OK) return 0;
    int ok = 1;
    for (int i = 0; ok && i < n; i++) {
        mt_sample s;
        mt_sample_init(&s);
        s.c = 1, s.h = 8, s.w = 8, s.label = -1;
        s.image = malloc(sizeof(float) * 64);
        if (!s.image) return mt_test_dataset_close(w, 0, 0, 0);
        for (int j = 0; j < 64; j++) s.image[j] = mt_philox_uniform(9, (uint64_t)((i == 5 ? 0 : i) * 64 + j));
        snprintf(s.meta.patient_id, sizeof s.meta.patient_id, "P%02d", i % patients);
        ok = mt_dataset_writer_add(w, &s) == MT_OK;
        mt_sample_free(&s);
    }
    return mt_test_dataset_close(w, ok, 0.2, 0.2);
}

TEST(kfold_partitions_by_patient_and_keeps_duplicates_together)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/patients.h5", mt_test_tmpdir());
    CHECK(patient_dataset(path, 60, 13), "dataset");
    mt_dataset *d = NULL;
    CHECK_OK(mt_dataset_open(path, &d));
    int fold[60], again[60], other[60];
    for (int k = 3; k <= 6; k++) {
        CHECK_OK(mt_dataset_kfold(d, k, 4, fold));
        CHECK_OK(mt_dataset_kfold(d, k, 4, again));
        CHECK(!memcmp(fold, again, sizeof fold), "k %d: not reproducible", k);
        int count[6] = {0};
        for (int i = 0; i < 60; i++) {
            CHECK(fold[i] >= 0 && fold[i] < k, "k %d: sample %d fold %d", k, i, fold[i]);
            count[fold[i]]++;
            for (int j = 0; j < i; j++)
                CHECK(i % 13 != j % 13 || fold[i] == fold[j], "k %d: patient P%02d in folds %d and %d", k, i % 13,
                      fold[j], fold[i]);
        }
        /* sample 5 repeats sample 0: patients P00 and P05 share a fold */
        CHECK(fold[5] == fold[0], "k %d: duplicate in fold %d, original in %d", k, fold[5], fold[0]);
        /* balanced: groups of 4-5 samples (P00+P05 merged: 9), dealt to the emptiest fold */
        int lo = 60, hi = 0;
        for (int f = 0; f < k; f++) lo = count[f] < lo ? count[f] : lo, hi = count[f] > hi ? count[f] : hi;
        CHECK(hi - lo <= 9, "k %d: fold sizes %d..%d", k, lo, hi);
    }
    CHECK_OK(mt_dataset_kfold(d, 5, 5, other));
    CHECK_OK(mt_dataset_kfold(d, 5, 4, fold));
    CHECK(memcmp(fold, other, sizeof fold) != 0, "fold_seed changes nothing");
    CHECK_FAILS(mt_dataset_kfold(d, 13, 0, fold), MT_ERR_INVALID, "needs at least 13 patient groups, it has 12");
    mt_dataset_close(d);
}

/* The S1 stand-in (30 slices) imported at 64 x 64, split by slice; 1 on success. */
static int s1_dataset(const char *path)
{
    const char *exe = mt_test_medtrain();
    if (!exe) return 0;
    char cmd[2 * PATH_MAX], out[8192];
    snprintf(cmd, sizeof cmd,
             "%s import --source nifti --input data/samples/s1/example_ct_sm.nii.gz --mask "
             "data/samples/s1/skeletal_muscle.nii.gz --mask_names skeletal_muscle --resize 64x64 --split_by sample "
             "--val_frac 0.15 --test_frac 0.15 --seed 0 --output %s",
             exe, path);
    return mt_test_run(cmd, out, sizeof out) == 0;
}

TEST(kfold_every_s1_slice_is_in_exactly_one_test_fold)
{
    if (!mt_test_medtrain()) SKIP("skipped: build/medtrain missing");
    char ds[PATH_MAX], exp[PATH_MAX];
    snprintf(ds, sizeof ds, "%s/s1_64.h5", mt_test_tmpdir());
    CHECK(s1_dataset(ds), "import of the S1 sample failed");
    demo_config(exp);
    int in_test[64] = {0}, n_total = 0, *prev_test = NULL, n_prev = 0, *first_test = NULL, n_first = 0;
    for (int f = 0; f < 5; f++) {
        char s_ds[PATH_MAX + 32], s_fold[32];
        snprintf(s_ds, sizeof s_ds, "data.dataset=%s", ds);
        snprintf(s_fold, sizeof s_fold, "data.fold=%d", f);
        const char *sets[] = {s_ds, "data.folds=5", s_fold};
        mt_session s;
        memset(&s, 0, sizeof s);
        CHECK_OK(mt_session_load(&s, exp, 3, sets));
        CHECK_OK(mt_session_open_dataset(&s));
        n_total = mt_dataset_size(s.ds);
        int *tr, *va, *te, ntr, nva, nte;
        CHECK_OK(mt_session_split_indices(&s, "train", &tr, &ntr));
        CHECK_OK(mt_session_split_indices(&s, "val", &va, &nva));
        CHECK_OK(mt_session_split_indices(&s, "test", &te, &nte));
        CHECK(ntr + nva + nte == n_total && nte == 6 && nva == 6, "fold %d: %d + %d + %d of %d", f, ntr, nva, nte, n_total);
        for (int i = 0; i < nte; i++) in_test[te[i]]++;
        /* fold f's val is fold f + 1's test */
        if (prev_test) CHECK(n_prev == nte && !memcmp(prev_test, te, sizeof *te * (size_t)nte), "fold %d: val of fold %d differs", f, f - 1);
        free(prev_test);
        prev_test = va, n_prev = nva;
        if (f == 0) first_test = te, n_first = nte;
        else free(te);
        free(tr);
        CHECK_FAILS(mt_session_split_indices(&s, "holdout", &tr, &ntr), MT_ERR_INVALID, "with data.folds 5 the splits are");
        mt_session_free(&s);
    }
    CHECK(n_prev == n_first && !memcmp(prev_test, first_test, sizeof *first_test * (size_t)n_first), "fold 4's val is not fold 0's test");
    free(prev_test), free(first_test);
    for (int i = 0; i < n_total; i++) CHECK(in_test[i] == 1, "slice %d is in %d test folds", i, in_test[i]);
}

/* Starts `medtrain sweep FILE --out DIR --quiet` in the background; its pid. */
static pid_t start_sweep(const char *file, const char *dir)
{
    pid_t p = fork();
    if (p == 0) {
        FILE *devnull = freopen("/dev/null", "w", stdout);
        (void)devnull;
        execl(mt_test_medtrain(), mt_test_medtrain(), "sweep", file, "--out", dir, "--quiet", (char *)NULL);
        _exit(127);
    }
    return p;
}

static int n_in_state(const char *dir, int n, int state)
{
    int k = 0;
    for (int i = 0; i < n; i++) k += mt_sweep_trial_state(dir, i) == state;
    return k;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* results.csv without the wall_s column of the trial rows (the only field that may differ) */
static int table_without_time(const char *dir, char *out, size_t len)
{
    char path[PATH_MAX + 32], *text = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/results.csv", dir);
    if (mt_read_file(path, &text, &n) != MT_OK) return 0;
    size_t o = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && o + 1 < len; line = strtok_r(NULL, "\n", &save)) {
        char *status = strrchr(line, ',');
        if (status && (!strcmp(status, ",finished") || !strcmp(status, ",unfinished") || !strcmp(status, ",status"))) {
            char keep[32];
            snprintf(keep, sizeof keep, "%s", status);
            *status = 0;
            char *wall = strrchr(line, ',');
            if (wall) *wall = 0;
            o += (size_t)snprintf(out + o, len - o, "%s%s\n", line, keep);
            continue;
        }
        o += (size_t)snprintf(out + o, len - o, "%s\n", line);
    }
    free(text);
    return 1;
}

TEST(sweep_killed_and_stopped_midway_ends_with_the_uninterrupted_table)
{
    if (!mt_test_medtrain()) SKIP("skipped: build/medtrain missing");
    char ds[PATH_MAX], exp[PATH_MAX], file[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
    const char *tmp = mt_test_tmpdir();
    snprintf(ds, sizeof ds, "%s/s1_sweep.h5", tmp);
    CHECK(s1_dataset(ds), "import of the S1 sample failed");
    demo_config(exp);
    snprintf(file, sizeof file, "%s/lr_seed.yaml", tmp);
    char text[3 * PATH_MAX];
    snprintf(text, sizeof text,
             "experiment: %s\nname: lr_seed\nset:\n  data.dataset: %s\n  train.epochs: 4\n  train.deterministic: true\n"
             "  checkpoint.every: 1\ngrid:\n  optimizer.lr: [1.0e-3, 3.0e-3]\nseeds: [1, 2]\nmetric: test.raw.dsc.mean\n"
             "local: {concurrent: 2, threads: 1}\n",
             exp, ds);
    CHECK(write_text(file, text), "write %s", file);
    snprintf(a, sizeof a, "%s/uninterrupted", tmp);
    snprintf(b, sizeof b, "%s/interrupted", tmp);
    char cmd[4 * PATH_MAX], out[16384];
    snprintf(cmd, sizeof cmd, "%s sweep %s --out %s", mt_test_medtrain(), file, a);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "uninterrupted sweep: rc %d\n%s", rc, mt_test_tail(out, 3000));
    CHECK(strstr(out, "4 of 4 trials finished"), "%s", mt_test_tail(out, 2000));
    /* 1. kill -9 while a trial has a checkpoint and is not finished */
    pid_t p = start_sweep(file, b);
    CHECK(p > 0, "fork");
    int started = 0;
    for (int k = 0; k < 600 && !started; k++) {
        sleep_ms(50);
        started = n_in_state(b, 4, 1) > 0;
    }
    kill(p, SIGKILL);
    int status = 0;
    waitpid(p, &status, 0);
    CHECK(started, "no trial reached its first checkpoint in 30 s");
    int finished_at_kill = n_in_state(b, 4, 2);
    /* the trials die with the runner (PR_SET_PDEATHSIG): their run directories are unlocked soon */
    for (int i = 0; i < 4; i++) {
        char tdir[PATH_MAX + 32];
        mt_sweep_trial_dir(b, i, tdir, sizeof tdir);
        int free_ = 0;
        for (int k = 0; k < 100 && !free_; k++) {
            free_ = !mt_path_exists(tdir) || mt_run_check_unlocked(tdir) == MT_OK;
            if (!free_) mt_error_clear(), sleep_ms(50);
        }
        CHECK(free_, "trial %d still running 5 s after its runner was killed", i);
    }
    CHECK(finished_at_kill < 4, "the sweep finished before the kill");
    /* 2. re-run, stopped with SIGTERM while its trials run */
    p = start_sweep(file, b);
    int held = 0;
    for (int k = 0; k < 600 && !held; k++) { /* the runner holds the sweep directory's lock */
        sleep_ms(50);
        held = mt_run_check_unlocked(b) != MT_OK;
        mt_error_clear();
    }
    CHECK(held, "the re-run did not take the sweep directory's lock in 30 s");
    sleep_ms(500);
    /* one runner per sweep directory */
    snprintf(cmd, sizeof cmd, "%s sweep %s --out %s", mt_test_medtrain(), file, b);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 1 && strstr(out, "is in use by PID"), "a second runner on a busy sweep: rc %d\n%s", rc, mt_test_tail(out, 2000));
    kill(p, SIGTERM);
    waitpid(p, &status, 0);
    int done_after_term = n_in_state(b, 4, 2);
    CHECK(WIFEXITED(status) && (WEXITSTATUS(status) == 1 || (WEXITSTATUS(status) == 0 && done_after_term == 4)),
          "SIGTERM: status %d", status);
    /* 3. the same command finishes it */
    snprintf(cmd, sizeof cmd, "%s sweep %s --out %s", mt_test_medtrain(), file, b);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "4 of 4 trials finished"), "re-run: rc %d\n%s", rc, mt_test_tail(out, 3000));
    static char ta[16384], tb[16384];
    CHECK(table_without_time(a, ta, sizeof ta) && table_without_time(b, tb, sizeof tb), "no results.csv");
    CHECK(!strcmp(ta, tb), "tables differ:\n--- uninterrupted\n%s--- interrupted\n%s", ta, tb);
    /* the table has what it says: 4 finished rows with a DSC, 2 summary rows of n = 2 */
    CHECK(strstr(ta, "trial,optimizer.lr,train.seed,test.raw.dsc.mean,best_epoch,epochs,status") &&
              strstr(ta, "configuration,optimizer.lr,n,test.raw.dsc.mean_mean,test.raw.dsc.mean_sd") &&
              strstr(ta, "\n0,1.0e-3,2,") && strstr(ta, "\n1,3.0e-3,2,"),
          "table:\n%s", ta);
    char png[PATH_MAX + 64];
    snprintf(png, sizeof png, "%s/results_optimizer.lr.png", b);
    CHECK(mt_path_exists(png), "no %s", png);
}

/* Sigmoid probabilities of a session's forward pass on the batch of samples idx[0..n-1]; caller frees. */
static float *session_probs(mt_session *s, const int *idx, int n, size_t *count)
{
    int k = 0;
    float *h = mt_test_session_logits(s, idx, n, count, &k);
    for (size_t i = 0; h && i < *count; i++) h[i] = 1.0f / (1.0f + expf(-h[i]));
    return h;
}

TEST(ensemble_forward_is_the_mean_of_member_probabilities)
{
    if (!mt_test_medtrain()) SKIP("skipped: build/medtrain missing");
    const char *tmp = mt_test_tmpdir();
    char ds[PATH_MAX], runs[3][PATH_MAX], cmd[4 * PATH_MAX], out[16384];
    snprintf(ds, sizeof ds, "%s/s1_ens.h5", tmp);
    CHECK(s1_dataset(ds), "import of the S1 sample failed");
    for (int r = 0; r < 2; r++) { /* two short runs from different seeds */
        snprintf(runs[r], sizeof runs[r], "%s/run%d", tmp, r);
        snprintf(cmd, sizeof cmd, "%s train configs/s1_demo.yaml --out %s --set data.dataset=%s --set train.epochs=1 "
                 "--set train.seed=%d --quiet", mt_test_medtrain(), runs[r], ds, 11 + r);
        CHECK(mt_test_run(cmd, out, sizeof out) == 0, "%s\n%s", cmd, mt_test_tail(out, 2000));
    }
    int idx[3] = {0, 7, 19};
    float *p[2] = {NULL, NULL}, *pe = NULL;
    size_t n[3] = {0, 0, 0};
    for (int r = 0; r < 2; r++) {
        mt_session s;
        memset(&s, 0, sizeof s);
        CHECK_OK(mt_session_open_run(&s, "test", "segmentation", runs[r], ds, mt_cpu(), NULL, 0));
        p[r] = session_probs(&s, idx, 3, &n[r]);
        mt_session_free(&s);
        CHECK(p[r], "forward of run %d: %s", r, mt_last_error());
    }
    mt_session s;
    memset(&s, 0, sizeof s);
    CHECK_OK(mt_session_open_run(&s, "test", "segmentation", runs[0], ds, mt_cpu(), NULL, 0));
    CHECK_OK(mt_session_add_ensemble(&s, runs[1]));
    pe = session_probs(&s, idx, 3, &n[2]);
    mt_session_free(&s);
    CHECK(pe && n[2] == n[0] && n[0] == n[1] && n[0] == 3 * 64 * 64, "sizes %zu %zu %zu", n[0], n[1], n[2]);
    double max_err = 0, max_gap = 0;
    for (size_t i = 0; i < n[0]; i++) {
        double want = 0.5 * ((double)p[0][i] + p[1][i]);
        max_err = fmax(max_err, fabs(pe[i] - want));
        max_gap = fmax(max_gap, fabs((double)p[0][i] - p[1][i]));
    }
    CHECK(max_gap > 1e-3, "the two runs give the same probabilities (gap %g): the test shows nothing", max_gap);
    CHECK(max_err < 2e-6, "ensemble probability differs from the mean by %g", max_err);
    free(p[0]), free(p[1]), free(pe);
    /* the CLI: --ensemble of the two runs writes its evaluation under the first positional's ensemble/ */
    snprintf(cmd, sizeof cmd, "%s evaluate --ensemble %s %s --overlays 0", mt_test_medtrain(), runs[0], runs[1]);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0 && strstr(out, "ensemble of 2 runs"), "%s\n%s", cmd, mt_test_tail(out, 2000));
    char json[PATH_MAX + 64];
    snprintf(json, sizeof json, "%s/ensemble/eval_test.json", runs[0]);
    CHECK(mt_path_exists(json), "no %s", json);
    snprintf(cmd, sizeof cmd, "%s evaluate %s %s", mt_test_medtrain(), runs[0], runs[1]);
    CHECK(mt_test_run(cmd, out, sizeof out) == 2, "two runs without --ensemble accepted:\n%s", out);
}
