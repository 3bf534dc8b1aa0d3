/* train/sweep.h: hyperparameter sweeps. A sweep file names a base experiment
 * and a search space over any of its config keys; every trial is an ordinary
 * run directory (train/trainer.h) made with the base config plus the trial's
 * overrides, exactly as `medtrain train BASE --set key=value ...` would.
 *
 * Sweep file (docs/sweep.md; paths relative to the sweep file):
 *
 *     experiment: s1_demo.yaml       # the base experiment
 *     name: s1_lr_seed               # default: the file's stem
 *     set:                           # fixed overrides of every trial
 *       train.epochs: 10
 *     grid:                          # cartesian product of lists
 *       optimizer.lr: [1.0e-3, 2.0e-3]
 *     seeds: [1, 2]                  # = grid train.seed: [1, 2]
 *     folds: 5                       # = grid data.fold: [0..4] with data.folds: 5
 *     random:                        # sampled per trial (ranges, log scale, choices)
 *       optimizer.weight_decay: {low: 1.0e-6, high: 1.0e-3, log: true}
 *       model.params.base: {low: 8, high: 32, int: true}
 *       train.batch_size: {choice: [2, 4]}
 *     trials: 8                      # random samples (each crossed with the grid)
 *     seed: 0                        # seed of the random samples
 *     metric: test.raw.dsc.mean      # a path into each trial's metrics.json
 *     mode: max
 *     local: {concurrent: 2, threads: 1}
 *     slurm: {partition: gpu, time: "02:00:00", cpus_per_task: 4, gpus: 1, mem: 16G}
 *
 * Trials are numbered 0..n-1: the grid in file order (last key fastest), then
 * the seed, then the fold (fastest), and for random sweeps the sample index
 * outermost. A random value is a counter-based draw of (seed, trial sample,
 * key index), so the list of trials is a pure function of the sweep file.
 *
 * Sweep directory: sweep.yaml (the sweep file as read), trials.csv (id and
 * overrides of each trial), trials/NNN/ (the run directories), logs/NNN.log
 * (each trial's output), results.csv, results.md, results.png (the table:
 * metric against each swept parameter) and, with seeds or folds, summary rows
 * (mean +- SD over seeds and folds of each configuration).
 *
 * A trial is finished when its run directory holds metrics.json and
 * sweep_trial.json (written after training and the report, atomically);
 * started when it holds last.h5 (it is resumed from there); anything else in
 * its directory is a trial killed before its first checkpoint and starts
 * again. So a sweep killed at any point (kill -9 included) continues with the
 * same command, and with train.deterministic the table equals an
 * uninterrupted sweep's.
 */
#ifndef MT_TRAIN_SWEEP_H
#define MT_TRAIN_SWEEP_H

#include <stdint.h>

#include "../core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_SWEEP_MAX_DIMS 16

/* One swept config key. */
typedef struct mt_sweep_dim {
    char *key;          /* dotted config path, e.g. "optimizer.lr" */
    int random;         /* 0: grid list (values); 1: random */
    int n_values;       /* grid / choice values as YAML text */
    char **values;
    double low, high;   /* random range (choice: n_values > 0 instead) */
    int log_scale;      /* random: log-uniform in [low, high] */
    int integer;        /* random: rounded to an integer in [low, high] */
} mt_sweep_dim;

/* Resources of the Slurm backend (sweep file `slurm:`; empty = sbatch's default). */
typedef struct mt_sweep_slurm {
    char *partition, *time, *mem, *account, *qos;
    int cpus_per_task;  /* 0 = unset */
    int gpus;           /* --gres=gpu:N; 0 = none */
    int max_parallel;   /* array throttle %K; 0 = none */
    int n_extra;        /* extra "#SBATCH ..." option lines, as written */
    char **extra;
} mt_sweep_slurm;

typedef struct mt_sweep {
    char *path;           /* the sweep file (absolute) */
    char *experiment;     /* the base experiment (absolute) */
    char *name;
    int n_sets;           /* fixed overrides "key=value" */
    char **sets;
    int n_dims;
    mt_sweep_dim dims[MT_SWEEP_MAX_DIMS];
    int n_samples;        /* random samples (`trials`); 1 without random dims */
    uint64_t seed;        /* seed of the random samples */
    int folds;            /* K of `folds: K` (0 = none): dimension data.fold */
    char *metric;         /* path into metrics.json ("" = the first best_* key) */
    int mode_max;         /* 1: higher metric is better */
    int concurrent;       /* local: trials at once (default 1) */
    int threads;          /* local: threads per trial (0 = cores / concurrent) */
    mt_sweep_slurm slurm;
    /* the trials */
    int n_trials;
    int n_params;         /* overrides per trial (one per dimension, + data.folds) */
    char **param_keys;    /* [n_params] */
    char **param_values;  /* [n_trials * n_params], YAML text */
    char *text;           /* the sweep file as read */
} mt_sweep;

/* Reads and checks a sweep file and expands its trials. Every trial's config is
 * loaded once (mt_experiment_load with the base and the trial's overrides), so a
 * wrong key or value is reported before anything runs, naming the sweep file's
 * line (or the experiment's). *sw must be zeroed; free with mt_sweep_free (also
 * on failure). Errors: MT_ERR_IO (unreadable file), MT_ERR_FORMAT (YAML),
 * MT_ERR_INVALID (unknown key: "file:line:col: unknown key 'x' in the sweep;
 * allowed: ..."; bad range, empty list, more than 100,000 trials). */
mt_status mt_sweep_load(const char *path, mt_sweep *sw);
void mt_sweep_free(mt_sweep *sw);

/* Creates the sweep directory `dir` (mkdir -p): sweep.yaml, trials.csv, trials/,
 * logs/. An existing directory must hold the same sweep (its sweep.yaml equal to
 * this file's text), else MT_ERR_INVALID naming both. */
mt_status mt_sweep_prepare(const mt_sweep *sw, const char *dir);

/* State of trial i in `dir`: 0 not started, 1 started (last.h5: resume), 2 finished. */
int mt_sweep_trial_state(const char *dir, int i);
/* Run directory of trial i: "<dir>/trials/NNN" (3 digits or more). */
void mt_sweep_trial_dir(const char *dir, int i, char *out, size_t len);

/* Runs trial i in this process: a new run when not started (a directory left by a
 * trial killed before its first checkpoint is removed first), a resume from last.h5
 * when started, nothing when finished; then sweep_trial.json. `device` may be NULL
 * (train.device). Errors: those of mt_trainer_open / fit / report. */
mt_status mt_sweep_run_trial(const mt_sweep *sw, const char *dir, int i, const char *device, int quiet);

/* Local backend: runs the unfinished trials, `concurrent` at a time, each as a child
 * process "`exe` sweep FILE --out DIR --trial I" with OMP_NUM_THREADS and
 * OPENBLAS_NUM_THREADS set to `threads` and its output in logs/NNN.log. Children die
 * with the runner (PR_SET_PDEATHSIG). The runner holds DIR/.lock (mt_run_lock): a second
 * runner on the same directory is refused with "in use by PID N". SIGINT / SIGTERM stop the runner: running
 * trials get SIGTERM and are resumed by the next run. Progress on stdout (a bar on a
 * terminal). Errors: MT_ERR_INVALID when trials failed (naming them and their logs),
 * MT_ERR_IO when interrupted or a child cannot start. */
mt_status mt_sweep_run_local(const mt_sweep *sw, const char *dir, const char *exe, const char *device,
                             int concurrent, int threads, int quiet);

/* Slurm backend (train/sweep_slurm.c, docs/sweep.md): one sbatch job array of the
 * unfinished trials (DIR/slurm/sweep.sbatch, resources from sw->slurm, each task runs
 * "`exe` sweep FILE --out DIR --trial $SLURM_ARRAY_TASK_ID"), its id in DIR/slurm/job_id,
 * followed with squeue until it ends. A job recorded before and still listed is followed
 * instead of submitting another. Holds DIR/.lock as the local runner. Errors:
 * MT_ERR_IO (sbatch / squeue missing or refusing, named with what they said),
 * MT_ERR_INVALID when trials failed (naming them and their DIR/slurm/<job>_<trial>.out). */
mt_status mt_sweep_run_slurm(const mt_sweep *sw, const char *dir, const char *exe, const char *device, int quiet);

/* The results of every finished trial in `dir`: results.csv and results.md (trial,
 * parameters, metric, best_epoch, epochs, wall_s; then, with seeds or folds, one
 * summary row per configuration: mean +- SD (n - 1) of the metric over its seeds and
 * folds) and results.png (metric against each swept parameter). Unfinished trials are
 * listed as such. *n_done (may be NULL) receives the number of finished trials.
 * Errors: MT_ERR_IO, MT_ERR_FORMAT (a metrics.json without the metric, naming it). */
mt_status mt_sweep_table(const mt_sweep *sw, const char *dir, int *n_done);

#ifdef __cplusplus
}
#endif
#endif
