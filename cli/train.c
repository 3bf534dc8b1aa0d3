/* cli/train.c: `medtrain train`: argument parsing over the training library
 * (train/trainer.h: the loop, checkpoints, run directory, reports; train/dist.h:
 * data-parallel training when started by mpirun / srun). */
#include <string.h>

#include "../train/dist.h"
#include "../train/trainer.h"
#include "cli.h"

static const cli_optspec k_spec[] = {
    {"set", 1, 1, "key.path=value: override a config value (repeatable), e.g. --set optimizer.lr=1e-4"},
    {"device", 1, 0, "cpu, cuda or cuda:N (default: train.device; auto = the GPU when there is one)"},
    {"out", 1, 0, "run directory to create (default runs/<name>-<UTC time>)"},
    {"resume", 1, 0, "RUN: continue the run in directory RUN from its last.h5"},
    {"dist", 1, 0, "data-parallel backend: auto (MPI when started by mpirun/srun, NCCL on GPUs), single, mpi, nccl"},
    {"quiet", 0, 0, "no progress output"},
};
#define N_SPEC ((int)(sizeof k_spec / sizeof *k_spec))

int cli_train(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse("train", argc, argv, k_spec, N_SPEC, &a);
    if (rc) return rc;
    const char *resume = cli_opt(&a, "resume", NULL);
    if (a.help || (a.n_pos != 1 && !resume) || (resume && a.n_pos > 0)) {
        cli_print_help(a.help ? stdout : stderr,
                       "medtrain train CONFIG.yaml [--set key.path=value ...] [--device D] [--out RUN_DIR]\n"
                       "       medtrain train --resume RUN_DIR [--device D]\n"
                       "       mpirun -np N medtrain train CONFIG.yaml ...   (data parallel; also srun)",
                       "Trains the networks of an experiment config (docs/config.md; task.kind segmentation,\n"
                       "classification, detection, adversarial or gdc). The run directory gets config.yaml\n"
                       "(resolved), log.csv, last.h5, best.h5, curves_*.png, metrics.json and the task's\n"
                       "pictures. --resume continues a stopped or killed run from its last.h5.\n"
                       "Started by mpirun or srun, the N processes train one model data-parallel: each takes\n"
                       "1/N of every train.batch_size batch and the gradients are all-reduced every step;\n"
                       "rank 0 writes the run directory (docs/distributed.md).",
                       k_spec, N_SPEC);
        return a.help ? 0 : 2;
    }
    const char *sets[CLI_MAX_ARGS];
    int n_sets = 0;
    for (int i = 0; i < a.n_opt; i++)
        if (!strcmp(a.opt_name[i], "set")) sets[n_sets++] = a.opt_value[i];
    mt_dist *dist = NULL;
    if (mt_dist_open(cli_opt(&a, "dist", "auto"), &dist) != MT_OK) return cli_fail("train");
    mt_train_options o = {.config = resume ? NULL : a.pos[0],
                          .n_sets = n_sets,
                          .sets = sets,
                          .device = cli_opt(&a, "device", NULL),
                          .out_dir = cli_opt(&a, "out", NULL),
                          .resume = resume,
                          .quiet = cli_has(&a, "quiet"),
                          .dist = dist};
    mt_trainer *t = NULL;
    mt_status st = mt_trainer_open(&o, &t);
    if (st == MT_OK) st = mt_trainer_fit(t);
    if (st == MT_OK) st = mt_trainer_report(t);
    if (st != MT_OK && mt_dist_size(dist) > 1) {
        /* the other processes may wait in a collective for this one: end the whole job */
        fprintf(stderr, "medtrain train (rank %d of %d): %s\n", mt_dist_rank(dist), mt_dist_size(dist),
                mt_last_error());
        mt_trainer_close(t, 1);
        fflush(NULL);
        mt_dist_abort_job(dist, 1);
    }
    rc = st == MT_OK ? 0 : cli_fail("train");
    mt_trainer_close(t, st != MT_OK);
    if (mt_dist_close(dist) != MT_OK && rc == 0) rc = cli_fail("train");
    return rc;
}
