/* cli/train.h: the training run state shared by the loop (train.c), its
 * checkpoints (train_ckpt.c) and its files (log.csv, curves, metrics.json). */
#ifndef MT_CLI_TRAIN_H
#define MT_CLI_TRAIN_H

#include "../data/loader.h"
#include "../optim/optim.h"
#include "session.h"

typedef struct cli_trainer {
    cli_session s;
    char run_dir[2048];
    mt_loader *loader;
    mt_optim *optim;
    mt_sched *sched;
    int *train_idx, n_train;
    int *val_idx, n_val;
    int *test_idx, n_test;
    /* progress, saved in every checkpoint */
    int epoch;              /* epochs completed */
    long step;              /* optimizer steps done */
    double es_best;         /* early stopping: best monitored value so far */
    int es_bad;             /* early stopping: epochs without improvement */
    double ckpt_best;       /* best.h5: best value of checkpoint.monitor */
    int best_epoch;         /* epoch (1-based) of best.h5, 0 = none */
    int stopped_early;
} cli_trainer;

/* Writes the run state (model, optimizer, schedule, RNG, position, early
 * stopping, config text) to `path` atomically. */
mt_status cli_trainer_save(cli_trainer *t, const char *path);
/* Restores everything cli_trainer_save wrote (the model/optimizer must exist). */
mt_status cli_trainer_load(cli_trainer *t, const char *path);
/* Loads only the model weights (state_dict) of a checkpoint into s->model. */
mt_status cli_load_weights(cli_session *s, const char *path);

#endif
