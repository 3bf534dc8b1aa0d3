/* train/trainer_dist.h: the training loop's data-parallel steps (trainer_dist.c),
 * used by trainer.c only. With one process (t->dist NULL or of size 1) every
 * function is a no-op returning MT_OK. docs/distributed.md describes the whole. */
#ifndef MT_TRAIN_TRAINER_DIST_H
#define MT_TRAIN_TRAINER_DIST_H

#include "trainer.h"

/* Before the loader is made: train.batch_size must divide by the number of
 * processes, and each process must get a sample of the epoch's last batch
 * (MT_ERR_INVALID naming the keys otherwise). */
mt_status mt_trainer_dist_check_config(mt_trainer *t);
/* Rank r > 0 draws its own dropout masks: every network's dropout stream seed
 * becomes mt_rng_derive(seed, "rank", r) (rank 0 keeps the seed a single process
 * has, which is the one its checkpoints record). Call after the networks are
 * built and after a checkpoint is loaded. */
void mt_trainer_dist_dropout_streams(mt_trainer *t);
/* After rank 0 made (or locked) the run directory: its name to every rank; a
 * resumed run's other ranks load its last.h5; then every network's state_dict
 * goes from rank 0 to all (DistributedDataParallel's start). */
mt_status mt_trainer_dist_start(mt_trainer *t, int resumed);
/* This rank's weight in the gradient all-reduce for its slice `b` of a global
 * batch of m samples: n_r / m for a loss that is a mean over samples, 1 for one
 * that grows with the batch (task->loss_scales_with_batch); returns m. */
int mt_trainer_dist_batch(mt_trainer *t, const mt_batch *b);
/* Gradients of session network i summed over the ranks, weighted (before clipping). */
mt_status mt_trainer_dist_grads(mt_trainer *t, int i);
/* The step's loss and loss terms as the global batch's: weighted sums over the ranks. */
mt_status mt_trainer_dist_loss(mt_trainer *t, double *loss, double *terms, int n_terms);
/* Before validation: every network's buffers (BatchNorm running statistics) from
 * rank 0 to all, as DistributedDataParallel's broadcast_buffers, so every rank
 * validates the same model and takes the same early-stopping decision. */
mt_status mt_trainer_dist_sync_buffers(mt_trainer *t);
/* Before a checkpoint: every network's state_dict equal on all ranks, else MT_ERR_STATE. */
mt_status mt_trainer_dist_check_replicas(mt_trainer *t);

#endif
