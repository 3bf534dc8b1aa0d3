/* train/sweep_slurm.c: the Slurm backend of a sweep (train/sweep.h,
 * mt_sweep_run_slurm), on Slurm's own commands through train/slurm.h.
 *
 * One job array, one task per unfinished trial: DIR/slurm/sweep.sbatch holds
 * "#SBATCH --array=<trials>%K", the sweep file's `slurm:` resources and
 *     exec <medtrain> sweep <sweep file> --out <DIR> --trial $SLURM_ARRAY_TASK_ID
 * with absolute paths (the cluster's nodes must see the same files), so each
 * task runs, resumes or skips its trial exactly as the local backend's child
 * processes do. Task output: DIR/slurm/<job>_<task>.out. The job id is kept in
 * DIR/slurm/job_id (with its --array list); the sweep then follows the job with squeue until no task is
 * listed, reporting each trial as it finishes or fails. A task that leaves its
 * trial unfinished is a failure, explained by sacct's state (when accounting
 * answers) and the tail of its output file.
 *
 * Running the same command again: with the recorded job still queued or
 * running it follows that job instead of submitting another; with it gone it
 * submits a new array of the trials still unfinished only (--array=list).
 * Ctrl-C stops the following, not the job (scancel <job> cancels it). The
 * follower holds DIR/.lock as the local runner does: one runner per directory.
 *
 * MEDTRAIN_SLURM_POLL (seconds, default 10) sets how often squeue is asked. A
 * task gone from squeue whose trial is not finished is declared failed after
 * two more polls (a shared file system may show the trial's last files late),
 * at once when sacct reports it FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY... */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run_dir.h"
#include "slurm.h"
#include "sweep.h"

#define GIVE_UP_S 600.0 /* squeue failing this long: stop following (the job continues) */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sleep_s(double s)
{
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

static double poll_interval(void)
{
    const char *e = getenv("MEDTRAIN_SLURM_POLL");
    double s = e ? strtod(e, NULL) : 10.0;
    return s >= 0.05 && s <= 3600 ? s : 10.0;
}

/* The job name: "mt-sweep-<name>" with characters other than [A-Za-z0-9._-] as '_'. */
static void job_name(const mt_sweep *sw, char *out, size_t len)
{
    snprintf(out, len, "mt-sweep-%s", sw->name ? sw->name : "sweep");
    for (char *c = out; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("._-", *c)))
            *c = '_';
}

/* The command of every task: threads from the task's CPUs, then the trial. */
static char *task_command(const mt_sweep *sw, const char *dir, const char *exe, const char *device)
{
    char *q_exe = mt_slurm_shell_quote(exe), *q_file = mt_slurm_shell_quote(sw->path),
         *q_dir = mt_slurm_shell_quote(dir), *q_dev = device ? mt_slurm_shell_quote(device) : NULL;
    char *cmd = NULL;
    if (q_exe && q_file && q_dir && (!device || q_dev)) {
        size_t len = strlen(q_exe) + strlen(q_file) + strlen(q_dir) + (q_dev ? strlen(q_dev) : 0) + 512;
        cmd = mt_malloc(len);
        if (cmd)
            snprintf(cmd, len,
                     "# written by `medtrain sweep --backend slurm`: array task N runs trial N of the sweep\n"
                     "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}\n"
                     "export OPENBLAS_NUM_THREADS=$OMP_NUM_THREADS\n"
                     "exec %s sweep %s --out %s --trial \"$SLURM_ARRAY_TASK_ID\"%s%s",
                     q_exe, q_file, q_dir, q_dev ? " --device " : "", q_dev ? q_dev : "");
    }
    free(q_exe), free(q_file), free(q_dir), free(q_dev);
    return cmd;
}

/* Writes DIR/slurm/sweep.sbatch for `tasks`, submits it and records the job id. */
static mt_status submit(const mt_sweep *sw, const char *dir, const char *sdir, const char *exe, const char *device,
                        const int *tasks, int n_tasks, const char *name, char *job_id, size_t len)
{
    const mt_sweep_slurm *r = &sw->slurm;
    char *cmd = task_command(sw, dir, exe, device);
    if (!cmd) return MT_ERR_NOMEM;
    mt_slurm_array a = {name, sdir, tasks, n_tasks, r->max_parallel, r->partition, r->time, r->mem, r->account,
                        r->qos, r->cpus_per_task, r->gpus, (const char *const *)r->extra, r->n_extra, cmd};
    char script[PATH_MAX + 32], idf[PATH_MAX + 32];
    snprintf(script, sizeof script, "%s/sweep.sbatch", sdir);
    snprintf(idf, sizeof idf, "%s/job_id", sdir);
    mt_status st = mt_slurm_write_script(&a, script);
    free(cmd);
    MT_TRY(st);
    MT_TRY(mt_slurm_submit(script, job_id, len));
    char spec[8192], text[8300];
    MT_TRY(mt_slurm_array_spec(tasks, n_tasks, r->max_parallel, spec, sizeof spec));
    int n = snprintf(text, sizeof text, "%s\n%s\n", job_id, spec);
    st = mt_write_file_atomic(idf, text, (size_t)n);
    if (st != MT_OK) /* the job runs anyway; without the file a re-run would submit it twice */
        fprintf(stderr, "sweep: submitted Slurm job %s but could not record it in %s; do not re-run the sweep "
                        "before it ends (scancel %s cancels it)\n", job_id, idf, job_id);
    return st;
}

/* The job recorded in DIR/slurm/job_id ("<id>\n<its --array list>\n"): its id,
 * and its tasks in is_task[0..n-1]. 1 if there is one. */
static int recorded_job(const char *sdir, char *job_id, size_t len, unsigned char *is_task, int n)
{
    char path[PATH_MAX + 32], *text = NULL;
    size_t size = 0;
    snprintf(path, sizeof path, "%s/job_id", sdir);
    if (!mt_path_exists(path) || mt_read_file(path, &text, &size) != MT_OK) {
        mt_error_clear();
        return 0;
    }
    size_t d = strspn(text, "0123456789");
    int ok = d > 0 && d < len && text[d] == '\n';
    if (ok) {
        memcpy(job_id, text, d), job_id[d] = '\0';
        char *spec = text + d + 1;
        spec[strcspn(spec, "\n")] = '\0';
        ok = mt_slurm_array_parse(spec, is_task, n) == MT_OK;
    }
    if (!ok) fprintf(stderr, "sweep: ignoring %s: not \"<job id>\\n<array list>\"\n", path);
    mt_error_clear();
    free(text);
    return ok;
}

/* 1 when sacct's state says the task ended badly (not COMPLETED, nor still in flight). */
static int failed_state(const char *acct)
{
    static const char *const bad[] = {"FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
                                      "BOOT_FAIL", "DEADLINE", "PREEMPTED"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        if (!strncmp(acct, bad[k], strlen(bad[k]))) return 1;
    return 0;
}

/* Prints why trial i's task left it unfinished: sacct's state, the output's tail. */
static void report_failure(const char *sdir, const char *job_id, int i, const char *acct)
{
    char tail[2048];
    int have = mt_slurm_task_output_tail(sdir, job_id, i, 8, tail, sizeof tail);
    fprintf(stderr, "sweep: trial %d FAILED under Slurm job %s_%d%s%s%s\n", i, job_id, i, acct[0] ? " (" : "", acct,
            acct[0] ? ")" : "");
    if (have)
        fprintf(stderr, "  last lines of %s/%s_%d.out:\n    %s\n", sdir, job_id, i, tail[0] ? tail : "(empty)");
    else
        fprintf(stderr, "  no output file %s/%s_%d.out: the task never started (cancelled, or refused by the "
                        "node)\n", sdir, job_id, i);
}

/* Follows job `job_id` until squeue lists none of its tasks. watch[i]: trials
 * this job runs that were unfinished when following began; failed trials go to
 * failed[] (*n_failed). */
static mt_status follow(const mt_sweep *sw, const char *dir, const char *sdir, const char *job_id, const char *name,
                        const unsigned char *watch, int *failed, int *n_failed, int quiet)
{
    int n = sw->n_trials, n_watch = 0, done = 0;
    unsigned char *active = mt_calloc((size_t)n + 1, 1);
    unsigned char *settled = mt_calloc((size_t)n + 1, 1);
    double *gone_at = mt_calloc((size_t)n + 1, sizeof *gone_at);
    if (!active || !settled || !gone_at) {
        free(active), free(settled), free(gone_at);
        return MT_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) n_watch += watch[i];
    double poll = poll_interval(), last_ok = now_s();
    int last_print[4] = {-1, -1, -1, -1}, warned = 0;
    mt_status st = MT_OK;
    for (;;) {
        int pending = 0, running = 0;
        int listed = mt_slurm_active_tasks(job_id, name, active, n, &pending, &running);
        double t = now_s();
        if (listed < 0) { /* controller unreachable: the job goes on; keep asking for a while */
            if (t - last_ok > GIVE_UP_S) {
                char why[1024];
                snprintf(why, sizeof why, "%s", mt_last_error());
                st = mt_error_replace(MT_ERR_IO, __FILE__, __LINE__,
                                      "sweep %s: squeue has not answered for %.0f s (%s); Slurm job %s continues: "
                                      "run the same command again to follow it", sw->name, t - last_ok, why, job_id);
                break;
            }
            if (!warned) fprintf(stderr, "sweep: %s; retrying\n", mt_last_error());
            warned = 1;
            mt_error_clear();
            sleep_s(poll);
            continue;
        }
        last_ok = t, warned = 0;
        int unsettled = 0;
        for (int i = 0; i < n; i++) {
            if (!watch[i] || settled[i] || active[i]) continue;
            if (mt_sweep_trial_state(dir, i) == 2) {
                settled[i] = 1, done++;
                if (!quiet) printf("sweep: trial %d finished (%d/%d of Slurm job %s)\n", i, done, n_watch, job_id);
                continue;
            }
            char acct[256] = "";
            int known = mt_slurm_task_state(job_id, i, acct, sizeof acct);
            if (!gone_at[i]) gone_at[i] = t;
            if ((known && failed_state(acct)) || t - gone_at[i] >= 2 * poll - 1e-9) {
                settled[i] = 1;
                failed[(*n_failed)++] = i;
                report_failure(sdir, job_id, i, acct);
            } else {
                unsettled++;
            }
        }
        if (!quiet && (done != last_print[0] || running != last_print[1] || pending != last_print[2] ||
                       *n_failed != last_print[3])) {
            printf("sweep %s: Slurm job %s: %d/%d trials finished, %d running, %d pending%s%.0d\n", sw->name, job_id,
                   done, n_watch, running, pending, *n_failed ? ", failed " : "", *n_failed);
            last_print[0] = done, last_print[1] = running, last_print[2] = pending, last_print[3] = *n_failed;
        }
        fflush(stdout);
        if (listed == 0 && unsettled == 0) break;
        sleep_s(poll);
    }
    free(active), free(settled), free(gone_at);
    return st;
}

mt_status mt_sweep_run_slurm(const mt_sweep *sw, const char *dir, const char *exe, const char *device, int quiet)
{
    MT_REQUIRE(sw && dir && exe, "mt_sweep_run_slurm: NULL argument");
    char adir[PATH_MAX], aexe[PATH_MAX], sdir[PATH_MAX + 8], name[256], job_id[64];
    if (!realpath(dir, adir)) return MT_ERR(MT_ERR_IO, "sweep: cannot resolve the sweep directory %s: %s", dir, strerror(errno));
    if (!realpath(exe, aexe)) return MT_ERR(MT_ERR_IO, "sweep: cannot resolve the medtrain binary %s: %s", exe, strerror(errno));
    snprintf(sdir, sizeof sdir, "%s/slurm", adir);
    MT_TRY(mt_mkdirs(sdir));
    job_name(sw, name, sizeof name);
    int lock = -1; /* DIR/.lock, as the local runner: one runner per sweep directory, never two submissions */
    MT_TRY(mt_run_lock(adir, &lock));
    int n = sw->n_trials, n_failed = 0;
    int *tasks = mt_calloc((size_t)n + 1, sizeof *tasks), *failed = mt_calloc((size_t)n + 1, sizeof *failed);
    unsigned char *watch = mt_calloc((size_t)n + 1, 1);
    mt_status st = tasks && failed && watch ? MT_OK : MT_ERR_NOMEM;

    /* 1. a job submitted before and still listed: follow it */
    if (st == MT_OK && recorded_job(sdir, job_id, sizeof job_id, watch, n)) {
        int listed = mt_slurm_active_tasks(job_id, name, NULL, 0, NULL, NULL);
        if (listed < 0) {
            char why[1024];
            snprintf(why, sizeof why, "%s", mt_last_error());
            st = mt_error_replace(MT_ERR_IO, __FILE__, __LINE__,
                                  "sweep %s: cannot ask Slurm about job %s (recorded in %s/job_id): %s", sw->name,
                                  job_id, sdir, why);
        } else if (listed > 0) {
            for (int i = 0; i < n; i++) watch[i] = watch[i] && mt_sweep_trial_state(adir, i) != 2;
            if (st == MT_OK && !quiet)
                printf("sweep %s: following Slurm job %s, submitted before (scancel %s cancels it)\n", sw->name,
                       job_id, job_id);
            if (st == MT_OK) st = follow(sw, adir, sdir, job_id, name, watch, failed, &n_failed, quiet);
            if (st == MT_OK && n_failed) goto report;
        }
    }
    /* 2. the unfinished trials as a new job array */
    if (st == MT_OK) {
        int n_tasks = 0, done = 0;
        for (int i = 0; i < n; i++) {
            int fin = mt_sweep_trial_state(adir, i) == 2;
            watch[i] = !fin;
            if (fin) done++;
            else tasks[n_tasks++] = i;
        }
        if (n_tasks == 0) {
            if (!quiet) printf("sweep %s: all %d trials finished\n", sw->name, n);
        } else {
            st = submit(sw, adir, sdir, aexe, device, tasks, n_tasks, name, job_id, sizeof job_id);
            if (st == MT_OK && !quiet)
                printf("sweep %s: %d trials, %d finished before; submitted %d as Slurm job %s (script %s/sweep.sbatch, "
                       "output %s/%s_<trial>.out); Ctrl-C stops following, not the job (scancel %s cancels it)\n",
                       sw->name, n, done, n_tasks, job_id, sdir, sdir, job_id, job_id);
            if (st == MT_OK) st = follow(sw, adir, sdir, job_id, name, watch, failed, &n_failed, quiet);
        }
    }
report:
    if (st == MT_OK && n_failed) {
        char list[512] = "";
        size_t len = 0;
        for (int k = 0; k < n_failed && len < sizeof list - 16; k++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%d", k ? ", " : "", failed[k]);
        st = MT_ERR(MT_ERR_INVALID, "sweep %s: %d trial(s) failed under Slurm job %s: %s; their output is in "
                    "%s/%s_<trial>.out; run the same command again to resubmit the unfinished trials only",
                    sw->name, n_failed, job_id, list, sdir, job_id);
    }
    free(tasks), free(failed), free(watch);
    mt_run_unlock(lock);
    return st;
}
