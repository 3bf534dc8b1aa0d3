/* train/cuda_graph.h: the training step captured in a CUDA graph (issue 13;
 * PyTorch's torch.cuda.graphs "whole network capture"), train.cuda_graph.
 *
 * How the trainer uses it (train/trainer_graph.c): when the run qualifies
 * (mt_cuda_graph_eligible, static part), the optimizers switch to device-
 * resident step scalars (optim.h mt_optim_set_device_scalars), then 3 warm-up
 * steps run eagerly; the last one is measured (device-to-host reads, backend
 * allocations, random numbers drawn) and must show none (the dynamic part).
 * The next step is captured once: the batch is copied into static input
 * tensors (mt_step_graph_load), forward + loss + backward + optimizer step are
 * recorded on the device's stream (mt_step_graph_capture) while the caching
 * allocator serves the capture from a private pool kept for the graph's
 * lifetime (core/alloc.h mt_alloc_pool_*), and the graph is instantiated. Every
 * later step copies its batch into the static inputs and replays the graph
 * (mt_step_graph_replay): no host sync, no read-back, no allocation. Whatever
 * fails (a condition, the capture itself) falls back to eager steps with a
 * message naming the reason; it is never an error of the run.
 *
 * Compiled everywhere; the capture needs a GPU (the CPU backend has no graph
 * functions), so on the CPU only the decisions and the device-scalar
 * optimizer path run (tests/test_cuda_graph.c, tests/test_optim_dev.c).
 */
#ifndef MT_TRAIN_CUDA_GRAPH_H
#define MT_TRAIN_CUDA_GRAPH_H

#include <stddef.h>

#include "../core/alloc.h"
#include "../data/loader.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What decides whether a training step can be captured. Fields measured over a
 * warm-up step are -1 while not measured (the static check before warm-up). */
typedef struct mt_cuda_graph_facts {
    mt_device device;       /* the training device */
    int multi_network;      /* the task has its own step over several networks (adversarial, G-D-C) */
    int processes;          /* data-parallel processes (the all-reduce is not captured) */
    long n_train;           /* training samples (per epoch) */
    int batch_size;         /* train.batch_size */
    int drop_last;          /* data.drop_last */
    int host_targets;       /* the batches carry host-side targets the loss reads (detection boxes) */
    int optim_ok;           /* every optimizer took device-resident scalars (1), or not yet tried (-1) */
    long d2h_reads;         /* device-to-host reads inside a warm-up step that is not a log step */
    long backend_allocs;    /* backend (cudaMalloc) allocations inside that step */
    long rng_draws;         /* random numbers the model drew in that step (dropout: its seed and offset are
                             * kernel arguments, which a replay would repeat) */
} mt_cuda_graph_facts;

/* Facts with every field "unknown / harmless": measured fields -1, optim_ok -1, processes 1. */
void mt_cuda_graph_facts_init(mt_cuda_graph_facts *f);

/* 1 when a step with these facts can be captured and replayed; else 0 with the
 * first reason (one sentence naming the config key or condition, e.g. "the last
 * batch of an epoch has 2 samples, not train.batch_size 4 (dynamic shapes): set
 * data.drop_last: true") written to reason[cap]. Fields still -1 are not judged. */
int mt_cuda_graph_eligible(const mt_cuda_graph_facts *f, char *reason, size_t cap);

/* A captured step: its static inputs, the executable graph and its memory. */
typedef struct mt_step_graph {
    mt_device device;
    mt_batch in;           /* static batch (device tensors; host fields copied) the captured step reads */
    void *exec;            /* the instantiated graph (backend handle); NULL until captured */
    mt_alloc_pool *pool;   /* blocks freed during the capture, reserved for the replays */
    long replays;          /* launches since the capture */
} mt_step_graph;

/* Copies batch b into g->in (created like b on the first call: shapes, dtypes,
 * device). Returns 1 when copied, 0 when b's shapes differ from the static ones
 * (the step must run eagerly), -1 on error (recorded). */
int mt_step_graph_load(mt_step_graph *g, const mt_batch *b);
/* Records step(user) (which must read its batch from g->in) into g->exec. On
 * success the step has NOT run yet: replay it. On failure (an error of the step
 * or of the capture) nothing of the step ran, g->exec stays NULL, the pool is
 * given back and the error is returned (the caller falls back). */
mt_status mt_step_graph_capture(mt_step_graph *g, mt_status (*step)(void *user), void *user);
/* Launches the captured step on the device's stream (asynchronous). */
mt_status mt_step_graph_replay(mt_step_graph *g);
/* Destroys the graph, gives its pool back, releases the static inputs. */
void mt_step_graph_free(mt_step_graph *g);

#ifdef __cplusplus
}
#endif
#endif
