/* train/slurm.h: a Slurm job array through Slurm's own commands (sbatch,
 * squeue, sacct), no scheduler of ours: write the batch script, submit it,
 * ask which array tasks are still queued or running, and explain a task that
 * ended badly (its accounting state when sacct answers, the tail of its output
 * file). The sweep's Slurm backend (train/sweep_slurm.c) is built on it; the
 * calls know nothing of sweeps. The commands are found on PATH and talk to the
 * cluster that SLURM_CONF (or Slurm's default configuration) names. POSIX. */
#ifndef MT_TRAIN_SLURM_H
#define MT_TRAIN_SLURM_H

#include <stddef.h>

#include "../core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One job array: every task runs `command` with $SLURM_ARRAY_TASK_ID set to its
 * index. Strings may be NULL or "" (sbatch's default / the cluster's). */
typedef struct mt_slurm_array {
    const char *name;          /* --job-name (also how a job is recognised again) */
    const char *out_dir;       /* absolute; task output: <out_dir>/<job>_<task>.out */
    const int *tasks;          /* array indices, ascending, each >= 0 */
    int n_tasks;
    int max_parallel;          /* %K throttle; 0 = none */
    const char *partition, *time, *mem, *account, *qos;
    int cpus_per_task;         /* 0 = unset */
    int gpus;                  /* --gres=gpu:N; 0 = none */
    const char *const *extra;  /* more sbatch options, "--constraint=a100" or "#SBATCH ..." */
    int n_extra;
    const char *command;       /* shell text, one line or more */
} mt_slurm_array;

/* The --array value for `tasks` (ascending): runs of consecutive indices as
 * ranges, then "%K" when max_parallel > 0: {0,1,2,3} -> "0-3", {1,4,5,6} with
 * K = 2 -> "1,4-6%2". MT_ERR_INVALID when the text does not fit in len or the
 * list is empty or not ascending. */
mt_status mt_slurm_array_spec(const int *tasks, int n_tasks, int max_parallel, char *out, size_t len);

/* Marks the indices an --array value names (as mt_slurm_array_spec writes it, or
 * by hand: "0-3,7,9-11%2"; a step "0-9:2" too) in is_task[0..n_max-1]; indices
 * at or past n_max are ignored. MT_ERR_INVALID naming the value if it is not
 * such a list. */
mt_status mt_slurm_array_parse(const char *spec, unsigned char *is_task, int n_max);

/* `text` quoted for a POSIX shell (single quotes; ' as '\''), into a malloc'ed
 * string; NULL (MT_ERR_NOMEM) on allocation failure. */
char *mt_slurm_shell_quote(const char *text);

/* Writes the batch script of `a` to `path` atomically: #!/bin/bash, one
 * "#SBATCH" line per option (--job-name, --array, --output, then the
 * resources, then the extra lines as given), then the command. Errors:
 * MT_ERR_INVALID (no tasks, no command, a field holding a newline), MT_ERR_IO. */
mt_status mt_slurm_write_script(const mt_slurm_array *a, const char *path);

/* Submits a batch script: `sbatch --parsable SCRIPT`; the job id (digits) into
 * job_id. Errors: MT_ERR_IO "sbatch not found" (Slurm's client commands are not
 * on PATH) or "sbatch refused SCRIPT: <what sbatch said>". */
mt_status mt_slurm_submit(const char *script, char *job_id, size_t len);

/* The array tasks of job `job_id` that Slurm still lists (pending, running,
 * completing...): `squeue -h -r -j ID -o "%K %t %j"`. With `name` non-NULL a
 * job of another name is not ours (an id reused after the controller's state
 * was reset) and counts as gone. active[t] (t < n_active_max) is set to 1 for
 * each listed task index below n_active_max, 0 otherwise; *n_pending and
 * *n_running (may be NULL) count the tasks in state PD and R/CG. Returns the
 * number of listed tasks (0: the job is gone or finished), or -1 when squeue
 * cannot answer (controller unreachable, squeue missing): MT_ERR_IO with what
 * squeue said is recorded. */
int mt_slurm_active_tasks(const char *job_id, const char *name, unsigned char *active, int n_active_max,
                          int *n_pending, int *n_running);

/* What Slurm's accounting says of array task `task` of job `job_id`: its state
 * and exit code ("FAILED 1:0", "TIMEOUT 0:15", "OUT_OF_MEMORY 0:125") from
 * `sacct -n -P -X -j ID_TASK -o State,ExitCode`, into out. Returns 1 when sacct
 * answered, 0 when it cannot (not installed, accounting disabled, no record);
 * records no error. */
int mt_slurm_task_state(const char *job_id, int task, char *out, size_t len);

/* The last `lines` lines (at most len - 1 bytes) of the output file of array
 * task `task` of job `job_id`: <out_dir>/<job_id>_<task>.out. Returns 1 when
 * the file exists, 0 (out = "") when it does not (a task that never started). */
int mt_slurm_task_output_tail(const char *out_dir, const char *job_id, int task, int lines, char *out, size_t len);

#ifdef __cplusplus
}
#endif
#endif
