/* tests/test_sweep_slurm.c: the Slurm backend of `medtrain sweep` (train/slurm.h,
 * train/sweep_slurm.c). Without Slurm: the --array lists, the batch script and
 * an output file's tail. With Slurm (Debian slurm-wlm + munge; `make deps-slurm`):
 * a private single-node cluster started by tests/slurm/start.sh (stopped by
 * tests/slurm/stop.sh when the test binary exits), on which
 *   - a job array of a fake command runs every task and squeue follows it;
 *   - a 4-trial tiny sweep (2 learning rates x 2 seeds) runs as one job array
 *     and its results.csv equals the local backend's in every column but the
 *     wall time; a re-run submits nothing; with trials 1 and 3 removed and the
 *     partition down, a re-run submits an array of 1 and 3 only (a second runner
 *     of the directory meanwhile refused), the next one
 *     follows that job instead of submitting again and reports the cancelled
 *     task 3 as failed, and the last resubmits trial 3 alone and ends with the
 *     local backend's table again.
 * Skips with "skipped: no slurm" when slurmctld is not installed. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/rng.h"
#include "../data/dataset.h"
#include "../train/run_dir.h"
#include "../train/slurm.h"
#include "test.h"

/* ------------------------------------------------------------ no Slurm needed -- */

TEST(slurm_array_spec_and_parse)
{
    char spec[64];
    int a[] = {0, 1, 2, 3}, b[] = {1, 4, 5, 6}, c[] = {0, 2, 4}, bad[] = {2, 1};
    CHECK_OK(mt_slurm_array_spec(a, 4, 0, spec, sizeof spec));
    CHECK(!strcmp(spec, "0-3"), "got %s", spec);
    CHECK_OK(mt_slurm_array_spec(b, 4, 2, spec, sizeof spec));
    CHECK(!strcmp(spec, "1,4-6%2"), "got %s", spec);
    CHECK_OK(mt_slurm_array_spec(c, 3, 0, spec, sizeof spec));
    CHECK(!strcmp(spec, "0,2,4"), "got %s", spec);
    CHECK_FAILS(mt_slurm_array_spec(bad, 2, 0, spec, sizeof spec), MT_ERR_INVALID, "ascending");
    CHECK_FAILS(mt_slurm_array_spec(b, 4, 2, spec, 5), MT_ERR_INVALID, "too long");

    unsigned char t[12];
    CHECK_OK(mt_slurm_array_parse("1,4-6%2", t, 12));
    const unsigned char want1[12] = {0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0};
    CHECK(!memcmp(t, want1, 12), "1,4-6%%2 parsed wrong");
    CHECK_OK(mt_slurm_array_parse("0-9:3,11", t, 12));
    const unsigned char want2[12] = {1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1};
    CHECK(!memcmp(t, want2, 12), "0-9:3,11 parsed wrong");
    CHECK_FAILS(mt_slurm_array_parse("3-1", t, 12), MT_ERR_INVALID, "3-1");
    CHECK_FAILS(mt_slurm_array_parse("0,x", t, 12), MT_ERR_INVALID, "0,x");

    char *q = mt_slurm_shell_quote("/a b/it's");
    CHECK_NOTNULL(q);
    CHECK(!strcmp(q, "'/a b/it'\\''s'"), "got %s", q);
    free(q);
}

TEST(slurm_script_and_output_tail)
{
    const char *tmp = mt_test_tmpdir();
    char dir[1024], script[1100], *text = NULL;
    size_t len = 0;
    snprintf(dir, sizeof dir, "%s/slurm_script", tmp);
    CHECK_OK(mt_mkdirs(dir));
    snprintf(script, sizeof script, "%s/job.sbatch", dir);
    int tasks[] = {0, 1, 2, 3};
    const char *extra[] = {"--exclusive", "#SBATCH --constraint=a100"};
    mt_slurm_array a = {"mt-sweep-x", dir, tasks, 4, 2, "gpu", "02:00:00", "16G", "proj", NULL, 4, 1, extra, 2,
                        "exec /bin/true"};
    CHECK_OK(mt_slurm_write_script(&a, script));
    CHECK_OK(mt_read_file(script, &text, &len));
    char want[2048];
    snprintf(want, sizeof want,
             "#!/bin/bash\n#SBATCH --job-name=mt-sweep-x\n#SBATCH --array=0-3%%2\n#SBATCH --output=%s/%%A_%%a.out\n"
             "#SBATCH --partition=gpu\n#SBATCH --time=02:00:00\n#SBATCH --cpus-per-task=4\n#SBATCH --gres=gpu:1\n"
             "#SBATCH --mem=16G\n#SBATCH --account=proj\n#SBATCH --exclusive\n#SBATCH --constraint=a100\n\n"
             "exec /bin/true\n",
             dir);
    CHECK(!strcmp(text, want), "script:\n%s\nexpected:\n%s", text, want);
    free(text);
    /* an option value over two lines would end the #SBATCH block early */
    a.time = "1:00\nrm -rf /";
    CHECK_FAILS(mt_slurm_write_script(&a, script), MT_ERR_INVALID, "--time");
    a.time = NULL, a.out_dir = "relative/dir";
    CHECK_FAILS(mt_slurm_write_script(&a, script), MT_ERR_INVALID, "absolute");

    /* without Slurm's commands: errors that say so */
    const char *path_env = getenv("PATH");
    char saved[8192];
    snprintf(saved, sizeof saved, "%s", path_env ? path_env : "/usr/bin:/bin");
    setenv("PATH", "/nonexistent", 1);
    mt_error_clear();
    char id[32];
    mt_status st_submit = mt_slurm_submit(script, id, sizeof id);
    char msg_submit[1024];
    snprintf(msg_submit, sizeof msg_submit, "%s", mt_last_error());
    mt_error_clear();
    int listed = mt_slurm_active_tasks("12", NULL, NULL, 0, NULL, NULL);
    setenv("PATH", saved, 1);
    CHECK(st_submit == MT_ERR_IO && strstr(msg_submit, "sbatch not found"), "submit without sbatch: %d %s", st_submit,
          msg_submit);
    CHECK(listed == -1 && strstr(mt_last_error(), "squeue -j 12 could not run"), "squeue missing: %d %s", listed,
          mt_last_error());
    mt_error_clear();

    /* the tail of a task's output file: the last lines, and 0 for a task that never ran */
    char out[1200], tail[256];
    snprintf(out, sizeof out, "%s/77_3.out", dir);
    FILE *f = fopen(out, "w");
    CHECK(f, "cannot write %s", out);
    for (int i = 0; i < 20; i++) fprintf(f, "line %d\n", i);
    fclose(f);
    CHECK(mt_slurm_task_output_tail(dir, "77", 3, 3, tail, sizeof tail) == 1, "no tail of %s", out);
    CHECK(!strcmp(tail, "line 17\nline 18\nline 19"), "tail: '%s'", tail);
    CHECK(mt_slurm_task_output_tail(dir, "77", 3, 3, tail, 12) == 1, "no short tail");
    CHECK(!strcmp(tail, "18\nline 19"), "short tail: '%s'", tail);
    CHECK(mt_slurm_task_output_tail(dir, "77", 2, 3, tail, sizeof tail) == 0 && !tail[0], "a missing file has a tail");
}

/* -------------------------------------------------------------- a real Slurm -- */

static char g_slurm_dir[1200]; /* set while our Slurm runs */

static void stop_slurm(void)
{
    if (!g_slurm_dir[0]) return;
    char cmd[3200], root[2048], log[4096];
    snprintf(cmd, sizeof cmd, "bash '%s' '%s'", mt_test_path("tests/slurm/stop.sh", root, sizeof root), g_slurm_dir);
    if (mt_test_run(cmd, log, sizeof log) != 0) fprintf(stderr, "tests/slurm/stop.sh failed:\n%s\n", log);
    g_slurm_dir[0] = '\0';
}

/* Starts the private Slurm once per test binary run (stopped at exit); 1 when it
 * runs, 0 with why[] = the skip reason, -1 with why[] = the failure. */
static int start_slurm(char *why, size_t len)
{
    static int state; /* 0 not tried, 1 up, 2 skipped, 3 failed */
    static char reason[4096];
    if (!state) {
        if (access("/usr/sbin/slurmctld", X_OK) != 0 && mt_test_run("command -v slurmctld", reason, 16) != 0) {
            snprintf(reason, sizeof reason, "skipped: no slurm (slurmctld not installed; make deps-slurm)");
            state = 2;
        } else {
            char cmd[3200], root[2048], dir[1100];
            snprintf(dir, sizeof dir, "%s/slurm", mt_test_tmpdir());
            snprintf(cmd, sizeof cmd, "bash '%s' '%s'", mt_test_path("tests/slurm/start.sh", root, sizeof root), dir);
            snprintf(g_slurm_dir, sizeof g_slurm_dir, "%s", dir);
            atexit(stop_slurm); /* runs before the runner removes the temporary directory */
            int rc = mt_test_run(cmd, reason, sizeof reason);
            size_t n = strlen(reason);
            while (n && reason[n - 1] == '\n') reason[--n] = '\0';
            if (rc == 0) {
                const char *conf = strrchr(reason, '\n');
                setenv("SLURM_CONF", conf ? conf + 1 : reason, 1);
                setenv("MEDTRAIN_SLURM_POLL", "0.5", 1);
                state = 1;
            } else {
                state = rc == 77 ? 2 : 3;
                if (rc == 77) g_slurm_dir[0] = '\0';
            }
        }
    }
    snprintf(why, len, "%s", reason);
    return state == 1 ? 1 : state == 2 ? 0 : -1;
}

#define NEED_SLURM()                                                                        \
    char why_[2000];                                                                       \
    int up_ = start_slurm(why_, sizeof why_);                                              \
    if (up_ == 0) SKIP(why_);                                                              \
    CHECK(up_ == 1, "tests/slurm/start.sh failed:\n%s", why_)

/* Output (stdout and stderr) of a shell command, trailing newlines dropped; its exit status. */
static int sh(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sh(char *out, size_t len, const char *fmt, ...)
{
    char cmd[8192] = "{ ";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + 2, sizeof cmd - 8, fmt, ap);
    va_end(ap);
    strcat(cmd, "; }"); /* stderr of every command with the output */
    int rc = mt_test_run(cmd, out, len);
    size_t n = strlen(out);
    while (n && out[n - 1] == '\n') out[--n] = '\0';
    return rc;
}

/* Polls squeue until job `id` lists no task (at most `seconds`); 1 when it ended. */
static int wait_job(const char *id, double seconds)
{
    for (int k = 0; k < (int)(seconds * 4); k++) {
        int n = mt_slurm_active_tasks(id, NULL, NULL, 0, NULL, NULL);
        if (n == 0) return 1;
        usleep(250000);
    }
    return 0;
}

/* A job array of a fake trial command: every task leaves its file and its output; task 2
 * exits 3. squeue lists the job until the tasks end, then none. */
TEST(slurm_fake_array_runs_every_task)
{
    NEED_SLURM();
    char dir[1024], script[1100], id[64], out[4096], cmd[2048];
    snprintf(dir, sizeof dir, "%s/fake_array", mt_test_tmpdir());
    CHECK_OK(mt_mkdirs(dir));
    snprintf(script, sizeof script, "%s/fake.sbatch", dir);
    snprintf(cmd, sizeof cmd,
             "echo \"task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID\"\n"
             "touch '%s/done_'$SLURM_ARRAY_TASK_ID\n[ \"$SLURM_ARRAY_TASK_ID\" != 2 ] || exit 3",
             dir);
    int tasks[] = {0, 1, 2, 3};
    mt_slurm_array a = {"mt-fake", dir, tasks, 4, 0, NULL, NULL, NULL, NULL, NULL, 1, 0, NULL, 0, cmd};
    CHECK_OK(mt_slurm_write_script(&a, script));
    CHECK_OK(mt_slurm_submit(script, id, sizeof id));
    unsigned char active[8];
    int pending = 0, running = 0;
    int listed = mt_slurm_active_tasks(id, "mt-fake", active, 8, &pending, &running);
    CHECK(listed >= 0, "squeue: %s", mt_last_error());
    CHECK(mt_slurm_active_tasks(id, "another-name", NULL, 0, NULL, NULL) == 0, "a job of another name counts as ours");
    CHECK(wait_job(id, 30), "job %s still listed after 30 s", id);
    for (int t = 0; t < 4; t++) {
        char f[1200];
        snprintf(f, sizeof f, "%s/done_%d", dir, t);
        CHECK(mt_path_exists(f), "task %d did not run (%s missing)", t, f);
        char tail[256], want[128];
        CHECK(mt_slurm_task_output_tail(dir, id, t, 2, tail, sizeof tail) == 1, "no output of task %d", t);
        snprintf(want, sizeof want, "task %d of %s", t, id);
        CHECK(!strcmp(tail, want), "task %d output: '%s', expected '%s'", t, tail, want);
    }
    CHECK(mt_slurm_active_tasks(id, "mt-fake", active, 8, &pending, &running) == 0 && !active[2],
          "the ended job is still listed");
    /* sacct has no database here (accounting_storage/none): it must say so by returning 0 */
    char acct[128];
    (void)sh(out, sizeof out, "sacct -n -j %s 2>&1", id);
    if (strstr(out, "disabled")) CHECK(mt_slurm_task_state(id, 2, acct, sizeof acct) == 0, "sacct state '%s'", acct);
}

/* The experiment and the 4-trial sweep (lr x seed) in dir; the sweep file's path in out. */
static int write_sweep(const char *dir, char *out, size_t len)
{
    char ds[1200], exp[1200], graph[PATH_MAX], rel[PATH_MAX];
    snprintf(ds, sizeof ds, "%s/tiny.h5", dir);
    snprintf(exp, sizeof exp, "%s/tiny.yaml", dir);
    snprintf(out, len, "%s/sweep.yaml", dir);
    if (!mt_test_disc_dataset(ds, 16, 24, 31, NULL, 0.25, 0.25) || !realpath(mt_test_path("configs/models/unet.yaml", rel, sizeof rel), graph))
        return 0;
    FILE *f = fopen(exp, "w");
    if (!f) return 0;
    fprintf(f,
            "name: tiny\n"
            "model:\n  graph: %s\n  params: {base: 4, depth: 2, in_channels: 1, out_channels: 1, dropout: 0}\n"
            "data:\n  dataset: %s\n  normalize: window\n  window: [-200, 200]\n  num_workers: 0\n"
            "loss:\n  kind: bce_dice\n"
            "optimizer:\n  kind: adam\n  lr: 0.01\n"
            "train:\n  epochs: 2\n  batch_size: 4\n  seed: 3\n  deterministic: true\n  log_every: 1\n"
            "checkpoint: {monitor: val_dsc, mode: max}\n",
            graph, ds);
    if (fclose(f) != 0) return 0;
    f = fopen(out, "w");
    if (!f) return 0;
    fprintf(f,
            "experiment: tiny.yaml\n"
            "name: tiny_slurm\n"
            "grid:\n  optimizer.lr: [0.01, 0.03]\n"
            "seeds: [1, 2]\n"
            "metric: best_val_dsc\n"
            "mode: max\n"
            "local: {concurrent: 2, threads: 1}\n"
            "slurm: {cpus_per_task: 1, time: \"00:10:00\", mem: 500M}\n");
    return fclose(f) == 0;
}

/* results.csv of a sweep directory without its wall_s column (the one thing that may differ). */
static int table_without_wall(const char *sweep_dir, char *out, size_t len)
{
    char path[1200], *text = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/results.csv", sweep_dir);
    if (mt_read_file(path, &text, &n) != MT_OK) return 0;
    int wall = -1, in_trials = 1;
    size_t o = 0;
    out[0] = '\0';
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "configuration", 13)) in_trials = 0;
        int col = 0;
        for (char *c = line; o + 2 < len;) {
            char *end = strchr(c, ',');
            size_t w = end ? (size_t)(end - c) : strlen(c);
            if (wall < 0 && in_trials && w == 6 && !strncmp(c, "wall_s", 6)) wall = col;
            if (!(in_trials && col == wall)) o += (size_t)snprintf(out + o, len - o, "%s%.*s", col ? "," : "", (int)w, c);
            else o += (size_t)snprintf(out + o, len - o, "%s", col ? "," : "");
            col++;
            if (!end) break;
            c = end + 1;
        }
        if (o + 2 < len) out[o++] = '\n', out[o] = '\0';
    }
    free(text);
    return wall >= 0;
}

static int read_id(const char *sweep_dir, char *id, size_t len)
{
    char path[1200], *text = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/slurm/job_id", sweep_dir);
    if (mt_read_file(path, &text, &n) != MT_OK) return 0;
    snprintf(id, len, "%.*s", (int)strcspn(text, "\n"), text);
    free(text);
    return id[0] != '\0';
}

TEST(sweep_slurm_matches_local)
{
    NEED_SLURM();
    const char *mt = mt_test_medtrain();
    if (!mt) SKIP("skipped: medtrain CLI not built next to run_tests (make test builds it)");
    char dir[1024], sweep[1200], local[1200], sl[1200], out[16384], t_local[8192], t_slurm[8192];
    snprintf(dir, sizeof dir, "%s/sweep_slurm", mt_test_tmpdir());
    CHECK_OK(mt_mkdirs(dir));
    CHECK(write_sweep(dir, sweep, sizeof sweep), "cannot write the tiny sweep: %s", mt_last_error());
    snprintf(local, sizeof local, "%s/local", dir);
    snprintf(sl, sizeof sl, "%s/slurm", dir);

    int rc = sh(out, sizeof out, "%s sweep %s --backend local --out %s --device cpu", mt, sweep, local);
    CHECK(rc == 0, "local sweep exit %d:\n%s", rc, mt_test_tail(out, 3000));
    CHECK(table_without_wall(local, t_local, sizeof t_local), "no results.csv in %s", local);

    /* one job array of the 4 trials; the same table */
    rc = sh(out, sizeof out, "%s sweep %s --backend slurm --out %s --device cpu", mt, sweep, sl);
    CHECK(rc == 0, "slurm sweep exit %d:\n%s", rc, mt_test_tail(out, 3000));
    char id1[64], id2[64], id3[64], path[1300], *text = NULL;
    size_t n = 0;
    CHECK(read_id(sl, id1, sizeof id1), "no %s/slurm/job_id", sl);
    snprintf(path, sizeof path, "%s/slurm/sweep.sbatch", sl);
    CHECK_OK(mt_read_file(path, &text, &n));
    int has = strstr(text, "#SBATCH --array=0-3\n") && strstr(text, "#SBATCH --mem=500M\n") &&
              strstr(text, "--trial \"$SLURM_ARRAY_TASK_ID\" --device 'cpu'");
    free(text);
    CHECK(has, "%s lacks the array, the resources or the trial command", path);
    for (int t = 0; t < 4; t++) {
        snprintf(path, sizeof path, "%s/slurm/%s_%d.out", sl, id1, t);
        CHECK(mt_path_exists(path), "task %d left no output %s", t, path);
    }
    CHECK(table_without_wall(sl, t_slurm, sizeof t_slurm), "no results.csv in %s", sl);
    CHECK(!strcmp(t_local, t_slurm), "tables differ:\nlocal:\n%s\nslurm:\n%s", t_local, t_slurm);
    CHECK(strstr(t_slurm, ",finished\n") && !strstr(t_slurm, "unfinished"), "trials unfinished:\n%s", t_slurm);

    /* all finished: a re-run submits nothing */
    rc = sh(out, sizeof out, "%s sweep %s --backend slurm --out %s --device cpu", mt, sweep, sl);
    CHECK(rc == 0 && strstr(out, "all 4 trials finished"), "re-run exit %d:\n%s", rc, mt_test_tail(out, 2000));
    CHECK(read_id(sl, id2, sizeof id2) && !strcmp(id1, id2), "a finished sweep was submitted again (%s)", id2);

    /* trials 1 and 3 lost, the partition down: the new job has tasks 1 and 3 only and stays pending */
    CHECK(sh(out, sizeof out, "rm -rf %s/trials/001 %s/trials/003 && scontrol update PartitionName=debug State=DOWN",
             sl, sl) == 0, "cannot set the partition down: %s", out);
    /* the follower is stopped (SIGTERM) a second after the new job id is recorded; it must still be
     * following, and a second runner of the directory meanwhile refused */
    rc = sh(out, sizeof out,
            "%s sweep %s --backend slurm --out %s --device cpu & p=$!; "
            "for i in $(seq 300); do [ \"$(head -n 1 %s/slurm/job_id)\" != %s ] && break; sleep 0.1; done; "
            "sleep 1; %s sweep %s --backend slurm --out %s --device cpu; echo \"second runner: $?\"; kill $p; wait $p",
            mt, sweep, sl, sl, id1, mt, sweep, sl);
    CHECK(rc == 128 + 15, "the follower of a pending job ended (exit %d):\n%s", rc, mt_test_tail(out, 2000));
    CHECK(strstr(out, "in use by PID") && strstr(out, "second runner: 1"), "a second runner was not refused:\n%s",
          mt_test_tail(out, 2000));
    CHECK(read_id(sl, id2, sizeof id2) && strcmp(id1, id2), "no new job submitted (%s)", id2);
    snprintf(path, sizeof path, "%s/slurm/sweep.sbatch", sl);
    CHECK_OK(mt_read_file(path, &text, &n));
    has = strstr(text, "#SBATCH --array=1,3\n") != NULL;
    free(text);
    CHECK(has, "%s does not submit trials 1 and 3 only", path);
    CHECK(sh(out, sizeof out, "squeue -h -r -j %s -o '%%K %%t' | sort", id2) == 0 && !strcmp(out, "1 PD\n3 PD"),
          "squeue of job %s: '%s'", id2, out);

    /* task 3 cancelled, the partition up: the re-run follows job id2 (no new job) and reports trial 3 */
    CHECK(sh(out, sizeof out, "scancel %s_3 && scontrol update PartitionName=debug State=UP", id2) == 0,
          "scancel / scontrol: %s", out);
    rc = sh(out, sizeof out, "%s sweep %s --backend slurm --out %s --device cpu", mt, sweep, sl);
    CHECK(rc != 0, "a sweep with a cancelled task ended with exit 0:\n%s", mt_test_tail(out, 2000));
    char want[256];
    snprintf(want, sizeof want, "following Slurm job %s", id2);
    CHECK(strstr(out, want), "the re-run did not follow job %s:\n%s", id2, mt_test_tail(out, 2000));
    snprintf(want, sizeof want, "1 trial(s) failed under Slurm job %s: 3;", id2);
    CHECK(strstr(out, want) && strstr(out, "never started"), "failure not reported as '%s':\n%s", want,
          mt_test_tail(out, 2000));
    CHECK(read_id(sl, id3, sizeof id3) && !strcmp(id2, id3), "a followed job was submitted again (%s)", id3);
    CHECK(sh(out, sizeof out, "squeue -h") == 0 && !out[0], "jobs left: %s", out);

    /* the next run resubmits trial 3 alone; the table equals the local one again */
    rc = sh(out, sizeof out, "%s sweep %s --backend slurm --out %s --device cpu", mt, sweep, sl);
    CHECK(rc == 0, "resubmission exit %d:\n%s", rc, mt_test_tail(out, 3000));
    CHECK(read_id(sl, id3, sizeof id3) && strcmp(id2, id3), "trial 3 was not resubmitted");
    CHECK_OK(mt_read_file(path, &text, &n));
    has = strstr(text, "#SBATCH --array=3\n") != NULL;
    free(text);
    CHECK(has, "%s does not resubmit trial 3 only", path);
    CHECK(table_without_wall(sl, t_slurm, sizeof t_slurm), "no results.csv in %s", sl);
    CHECK(!strcmp(t_local, t_slurm), "tables differ after resubmission:\nlocal:\n%s\nslurm:\n%s", t_local, t_slurm);
}
