/* train/trainer_graph.h (internal to train/): train.cuda_graph in the training
 * loop (train/trainer_graph.c; the mechanics in cuda_graph.h). */
#ifndef MT_TRAIN_TRAINER_GRAPH_H
#define MT_TRAIN_TRAINER_GRAPH_H

#include "trainer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The number of eager warm-up steps before the capture (PyTorch's examples use 3). */
#define MT_CUDA_GRAPH_WARMUP 3

/* One eager training step of a single-network task (train/trainer.c): forward and
 * loss under autocast, backward, update; terms read only when not NULL. */
mt_status mt_trainer_single_step(mt_trainer *t, const mt_batch *b, double *terms);

/* Starts train.cuda_graph for t (t->graph). MT_ERR_NOMEM only: every condition that
 * prevents a capture becomes a fallback to eager steps, with a message. */
mt_status mt_trainer_graph_open(mt_trainer *t);
/* One training step: eager warm-up steps (the last one measured), then the capture,
 * then replays; eager when the graph is off, for a batch of another shape, and at log
 * steps whose loss terms are read (terms not NULL and the task has terms). */
mt_status mt_trainer_graph_step(mt_trainer *t, const mt_batch *b, double *terms);
/* Where train.cuda_graph stands: 1 captured (*replays: launches so far), 0 still
 * warming up, -1 off (*reason: why, the message printed; static text valid until close). */
int mt_trainer_graph_state(const mt_trainer *t, long *replays, const char **reason);
/* Frees the graph, its pool and static inputs (t->graph = NULL). */
void mt_trainer_graph_close(mt_trainer *t);

#ifdef __cplusplus
}
#endif
#endif
