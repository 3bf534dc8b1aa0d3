/* train/trainer.h: the training loop shared by every task (task.h), as a
 * library: `medtrain train` is a thin shell over these calls, and a C program
 * trains the same way:
 *
 *     mt_train_options o = {.config = "configs/s1_demo.yaml"};
 *     mt_trainer *t;
 *     if (mt_trainer_open(&o, &t) == MT_OK && mt_trainer_fit(t) == MT_OK) mt_trainer_report(t);
 *     mt_trainer_close(t);
 *
 * For each epoch: batches from data/loader.h (seeded shuffle + augmentation),
 * fitted to the input size; the task's loss (single-model tasks: forward in
 * training mode, backward, gradient clipping, optimizer step) or the task's
 * own step (adversarial, G-D-C: several networks, each trainable one with its
 * own optimizer and schedule); then validation on the val split (the task's
 * metrics), the lr schedules, early stopping (patience on a monitored metric),
 * and the checkpoints last.h5 (every checkpoint.every epochs) and best.h5 (when
 * checkpoint.monitor improves; written after last.h5), both atomic. A run
 * killed at any point continues with mt_train_options.resume from last.h5;
 * with train.deterministic on the CPU the resumed run ends bit-identical to an
 * uninterrupted one (every random number is a function of (seed, epoch,
 * index); the loader seeks to the saved position; every network, optimizer,
 * schedule and dropout stream is in the checkpoint).
 *
 * Run directory: config.yaml (resolved), log.csv, last.h5, best.h5,
 * curves_loss.png / curves_metrics.png, metrics.json (test split), the task's
 * pictures (overlays/, confusion_matrix.png, roc.png, boxes/, change_maps/),
 * .lock (flock held for the whole run, holding its PID: a second run on the
 * directory fails with "in use by PID N"). A new run creates its directory with
 * mkdir (an existing one is refused) and removes it again if it fails before
 * training starts; a resumed run removes stale temporary files of a killed run
 * (also in overlays/, pictures/, ...) and writes best.h5 again when the kill came
 * between the saves of last.h5 and best.h5 (last.h5 names its epoch the best).
 * log.csv columns: step, epoch (1-based), phase (train: every train.log_every
 * steps with that step's loss; val: one row per epoch with the epoch's mean
 * training loss and the validation metrics), loss, lr, images_per_s, val_loss,
 * val_<metric> for the task's metrics, loss_<term> for the task's loss terms.
 *
 * Data parallel (mt_train_options.dist, train/dist.h, docs/distributed.md):
 * every process opens the same trainer; train.batch_size is the global batch,
 * each process takes its contiguous slice of every batch and the gradients are
 * summed over the processes before each optimizer step (mt_trainer_update), so
 * the replicas stay equal. Only rank 0 creates and writes the run directory
 * (log.csv, checkpoints, curves, report); every rank validates, so every rank
 * takes the same early-stopping decision; a resume loads last.h5 on every rank.
 */
#ifndef MT_TRAIN_TRAINER_H
#define MT_TRAIN_TRAINER_H

#include <stdio.h>

#include "../data/loader.h"
#include "../optim/grad_scaler.h"
#include "../optim/optim.h"
#include "loss_acc.h"
#include "session.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_train_options {
    const char *config;         /* experiment YAML (ignored with resume: RUN/config.yaml) */
    int n_sets;                 /* overrides "key.path=value" (not with resume) */
    const char *const *sets;
    const char *device;         /* "cpu", "cuda", "cuda:N"; NULL = train.device */
    const char *out_dir;        /* new run directory; NULL = runs/<name>-<UTC time> */
    const char *resume;         /* run directory to continue from its last.h5; NULL = a new run */
    int quiet;                  /* no progress output */
    struct mt_dist *dist;       /* data-parallel backend (train/dist.h), opened by the caller; NULL = one process */
} mt_train_options;

typedef struct mt_trainer {
    mt_session s;
    char run_dir[2048];
    mt_loader *loader;
    mt_optim *optim[MT_SESSION_MAX_MODELS]; /* per session network; NULL when frozen */
    mt_sched *sched[MT_SESSION_MAX_MODELS];
    int *train_idx, n_train;
    int *val_idx, n_val;
    int *test_idx, n_test;
    /* progress, saved in every checkpoint */
    int epoch;              /* epochs completed */
    long step;              /* optimizer steps (training batches) done */
    double es_best;         /* early stopping: best monitored value so far */
    int es_bad;             /* early stopping: epochs without improvement */
    double ckpt_best;       /* best.h5: best value of checkpoint.monitor */
    int best_epoch;         /* epoch (1-based) of best.h5, 0 = none */
    int stopped_early;
    /* the run */
    int quiet;
    int lock_fd;            /* run-directory lock, -1 = none */
    int new_dir;            /* 1 while a failure should remove the run directory again */
    FILE *log;              /* log.csv, appended (rank 0 only; NULL on the other ranks) */
    double train_seconds;
    /* data parallel (docs/distributed.md) */
    struct mt_dist *dist;   /* from the options; NULL = one process */
    int rank;               /* this process; only rank 0 writes the run directory */
    double shard_weight;    /* this rank's share of the current global batch */
    mt_grad_scaler scaler;  /* train.precision fp16: dynamic loss scale (in the checkpoint) */
    long skipped_steps;     /* fp16: steps skipped for an inf/NaN gradient */
    /* lean step (issue 13): single-network tasks on one process sum the loss on the
     * device and read it back (with the loss terms) only at log steps and epoch ends */
    mt_loss_acc loss_acc;
    /* train.cuda_graph: the step captured in a CUDA graph (train/trainer_graph.h); NULL when off */
    struct mt_trainer_graph *graph;
    /* optional: called with end = 0 when a training step starts (its batch loaded) and
     * end = 1 when it is done (logged); tests count allocations and copies in between */
    void (*step_hook)(struct mt_trainer *t, int end, void *user);
    void *step_hook_user;
} mt_trainer;

/* Everything that can be checked before training: the config, the device, the
 * dataset (the task's keys), the networks (and their init_from weights), the
 * optimizers, the loader; then the run directory (created and locked, or the
 * resumed one locked and restored from last.h5). *out is set even on error
 * (close it). Errors name the file and key. */
mt_status mt_trainer_open(const mt_train_options *o, mt_trainer **out);
/* The epochs (or train.steps) of the run, from where it stands. */
mt_status mt_trainer_fit(mt_trainer *t);
/* End of training: the test split (val when there is none) evaluated with
 * best.h5 (else the last weights): the table on stdout, metrics.json and the
 * task's pictures in the run directory. Data parallel: rank 0 only (a no-op elsewhere). */
mt_status mt_trainer_report(mt_trainer *t);
/* Frees everything; failed = 1 removes a run directory that never started training. */
void mt_trainer_close(mt_trainer *t, int failed);

/* For multi-model tasks: the gradients summed over the processes (data
 * parallel), gradient clipping (optimizer.clip_grad_norm), the optimizer step
 * and zero_grad of session network i. MT_ERR_INVALID for a frozen one. */
mt_status mt_trainer_update(mt_trainer *t, int i);

/* Writes / restores the whole run state (every network, optimizer, schedule,
 * dropout stream, loader position, early stopping, config text) atomically. */
mt_status mt_trainer_save(mt_trainer *t, const char *path);
mt_status mt_trainer_load(mt_trainer *t, const char *path);
/* Loads only the network weights of a checkpoint into the session's networks. */
mt_status mt_session_load_weights(mt_session *s, const char *path);
/* Opens a trained run `run_or_ckpt` (a run directory: its config.yaml and best.h5,
 * else last.h5; or a checkpoint .h5 with config.yaml beside it) as a session on
 * `dev` whose data.dataset is `dataset` (so sample indices are that dataset's):
 * the run's networks built and their weights loaded. *s must be zeroed; free with
 * mt_session_free (also on failure). weights_used (may be NULL; `cap` bytes)
 * receives the checkpoint path. `what` names the caller in messages ("detector");
 * `kind` (may be NULL = any) the task kind the run must have. Errors: MT_ERR_IO (no
 * checkpoint / config, naming the path), MT_ERR_INVALID (another task.kind), config,
 * dataset (the task's checks against `dataset`) and checkpoint errors. */
mt_status mt_session_open_run(mt_session *s, const char *what, const char *kind, const char *run_or_ckpt,
                              const char *dataset, mt_device dev, char *weights_used, size_t cap);

/* RUN/curves_loss.png (train loss, val loss per epoch) and RUN/curves_metrics.png
 * (the first validation metrics of the task) from RUN/log.csv (by column name). */
mt_status mt_plot_run_curves(const char *run_dir);

#ifdef __cplusplus
}
#endif
#endif
