/* train/trainer_graph.c: train.cuda_graph in the training loop: the warm-up,
 * the capture of one whole step and its replays (trainer_graph.h; the
 * conditions and mechanics are in cuda_graph.h). Everything that prevents a
 * capture turns the graph off with one message (stderr, unless quiet) and the
 * run goes on with eager steps; only errors of the steps themselves fail it.
 *
 * The step captured is mt_trainer_single_step on the static batch: forward,
 * loss (added to the device loss sum), backward, gradient clipping (no
 * read-back on a GPU), the fused optimizer update with its step scalars in
 * device memory (fp16: the GradScaler's unscale and update as kernels on its
 * device state, the skip decided by the update kernels), zero_grad. Host
 * bookkeeping that the replays skip is done by hand: the loss count
 * (mt_loss_acc_count) and the optimizer's step() count (mt_optim_add_steps,
 * saved in checkpoints). */
#include "trainer_graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "cuda_graph.h"
#include "dist.h"

enum { G_WARMUP = 0, G_CAPTURED = 1, G_OFF = -1 };

typedef struct mt_trainer_graph {
    int state;
    int warm;              /* warm-up steps done */
    int clean;             /* the last measured warm-up step read nothing back, allocated nothing, drew nothing */
    int scalars_on;        /* the optimizers' device scalars were switched on here */
    int shape_noted;       /* the message about a batch of another shape was printed */
    long eager;            /* eager steps after the capture (another shape, terms read) */
    mt_cuda_graph_facts facts;
    char reason[640];
    mt_step_graph g;
    mt_trainer *t;         /* for the capture callback */
} mt_trainer_graph;

mt_status mt_trainer_graph_open(mt_trainer *t)
{
    mt_trainer_graph *G = mt_calloc(1, sizeof *G);
    if (!G) return MT_ERR_NOMEM;
    mt_cuda_graph_facts_init(&G->facts);
    t->graph = G;
    return MT_OK;
}

/* the optimizers back to host scalars (reading the step counts back) */
static void scalars_off(mt_trainer *t)
{
    mt_trainer_graph *G = t->graph;
    if (!G->scalars_on) return;
    for (int i = 0; i < MT_SESSION_MAX_MODELS; i++) {
        if (!t->optim[i]) continue;
        mt_optim_set_found_inf(t->optim[i], NULL);
        if (mt_optim_set_device_scalars(t->optim[i], 0) != MT_OK) mt_error_clear();
    }
    if (t->scaler.dev) { /* fp16: the scale back on the host */
        long skipped = 0;
        if (mt_grad_scaler_sync(&t->scaler, &skipped) != MT_OK) mt_error_clear();
        t->skipped_steps += skipped;
        mt_grad_scaler_free(&t->scaler);
    }
    G->scalars_on = 0;
}

/* Turns the graph off for the rest of the run, with the message. */
static void turn_off(mt_trainer *t, const char *why)
{
    mt_trainer_graph *G = t->graph;
    if (why != G->reason) snprintf(G->reason, sizeof G->reason, "%s", why);
    G->state = G_OFF;
    scalars_off(t);
    mt_step_graph_free(&G->g);
    if (!t->quiet)
        fprintf(stderr, "train.cuda_graph: the training step is not captured: %s; training continues with eager "
                "steps\n", G->reason);
}

/* Before the first warm-up step: the static conditions, then device scalars. 1 = go on. */
static int start(mt_trainer *t, const mt_batch *b)
{
    mt_trainer_graph *G = t->graph;
    const mt_experiment *e = &t->s.exp;
    mt_cuda_graph_facts *f = &G->facts;
    f->device = t->s.dev;
    f->multi_network = t->s.task->train_step != NULL;
    f->processes = mt_dist_size(t->dist);
    f->n_train = t->n_train;
    f->batch_size = e->train.batch_size;
    f->drop_last = e->data.drop_last;
    f->host_targets = b->n_boxes > 0 || b->boxes != NULL;
    if (!mt_cuda_graph_eligible(f, G->reason, sizeof G->reason)) {
        turn_off(t, G->reason);
        return 0;
    }
    for (int i = 0; i < MT_SESSION_MAX_MODELS; i++) {
        if (!t->optim[i]) continue;
        G->scalars_on = 1;
        if (mt_optim_set_device_scalars(t->optim[i], 1) != MT_OK) {
            mt_error_clear();
            f->optim_ok = 0;
            mt_cuda_graph_eligible(f, G->reason, sizeof G->reason);
            turn_off(t, G->reason);
            return 0;
        }
    }
    f->optim_ok = 1;
    if (t->s.exp.train.precision == MT_PRECISION_FP16) { /* GradScaler state on the device, skip decided there */
        mt_tensor *found = NULL;
        if (mt_grad_scaler_to_device(&t->scaler, t->s.dev) != MT_OK || !(found = mt_grad_scaler_found_inf(&t->scaler))) {
            snprintf(G->reason, sizeof G->reason, "the fp16 loss scale could not move to the device (%s)",
                     mt_last_error());
            mt_error_clear();
            turn_off(t, G->reason);
            return 0;
        }
        for (int i = 0; i < MT_SESSION_MAX_MODELS; i++)
            if (t->optim[i]) mt_optim_set_found_inf(t->optim[i], found);
        mt_tensor_release(found);
    }
    return 1;
}

/* An eager warm-up step; measured when it reads no loss terms. */
static mt_status warm_up(mt_trainer *t, const mt_batch *b, double *terms)
{
    mt_trainer_graph *G = t->graph;
    mt_device_type type = t->s.dev.type;
    uint64_t seed, off0, off1;
    mt_model_get_rng(t->s.model, &seed, &off0);
    unsigned long long d0 = mt_d2h_count(type), a0 = mt_alloc_backend_count(type);
    MT_TRY(mt_trainer_single_step(t, b, terms));
    G->warm++;
    if (terms && t->s.task->n_terms > 0) { /* its reads of the terms are wanted: not measured */
        if (G->warm >= 4 * MT_CUDA_GRAPH_WARMUP && !G->clean)
            turn_off(t, "no warm-up step could be measured: every one read the loss terms back (train.log_every: 1 "
                        "with a loss that logs terms); raise train.log_every");
        return MT_OK;
    }
    mt_model_get_rng(t->s.model, &seed, &off1);
    G->facts.d2h_reads = (long)(mt_d2h_count(type) - d0);
    G->facts.backend_allocs = G->warm > 1 ? (long)(mt_alloc_backend_count(type) - a0) : 0; /* the first allocates */
    G->facts.rng_draws = (long)(off1 - off0);
    G->clean = mt_cuda_graph_eligible(&G->facts, G->reason, sizeof G->reason);
    if (!G->clean && (G->facts.d2h_reads > 0 || G->facts.rng_draws > 0)) turn_off(t, G->reason);
    else if (!G->clean && G->warm >= 4 * MT_CUDA_GRAPH_WARMUP) turn_off(t, G->reason); /* allocations never settle */
    return MT_OK;
}

static mt_status capture_step(void *user)
{
    mt_trainer_graph *G = user;
    return mt_trainer_single_step(G->t, &G->g.in, NULL);
}

mt_status mt_trainer_graph_step(mt_trainer *t, const mt_batch *b, double *terms)
{
    mt_trainer_graph *G = t->graph;
    if (!G || G->state == G_OFF) return mt_trainer_single_step(t, b, terms);
    if (G->state == G_WARMUP) {
        if (G->warm == 0 && !start(t, b)) return mt_trainer_single_step(t, b, terms);
        if (G->warm < MT_CUDA_GRAPH_WARMUP || !G->clean) {
            MT_TRY(warm_up(t, b, terms));
            return MT_OK;
        }
    }
    if (terms && t->s.task->n_terms > 0) { /* a log step reading the loss terms: eager */
        G->eager++;
        return mt_trainer_single_step(t, b, terms);
    }
    int ld = mt_step_graph_load(&G->g, b);
    if (ld < 0) return mt_last_status();
    if (ld == 0) { /* another shape (e.g. a last, smaller batch): this step eagerly */
        if (!G->shape_noted && !t->quiet)
            fprintf(stderr, "train.cuda_graph: step %ld has a batch of another shape than the captured one; such steps "
                    "run eagerly\n", t->step + 1);
        G->shape_noted = 1;
        G->eager++;
        return mt_trainer_single_step(t, b, terms);
    }
    if (G->state == G_WARMUP) { /* the capture: recorded now, run by the replay below */
        long n = t->loss_acc.n, first = t->loss_acc.first_step, steps[MT_SESSION_MAX_MODELS];
        for (int i = 0; i < MT_SESSION_MAX_MODELS; i++) steps[i] = mt_optim_steps(t->optim[i]);
        G->t = t;
        if (mt_step_graph_capture(&G->g, capture_step, G) != MT_OK) {
            t->loss_acc.n = n; /* the captured step's host half ran, its device half did not */
            t->loss_acc.first_step = first;
            for (int i = 0; i < MT_SESSION_MAX_MODELS; i++)
                mt_optim_add_steps(t->optim[i], steps[i] - mt_optim_steps(t->optim[i]));
            char why[600];
            snprintf(why, sizeof why, "the capture failed (%s)", mt_last_error());
            mt_error_clear();
            turn_off(t, why);
            return mt_trainer_single_step(t, b, terms);
        }
        G->state = G_CAPTURED;
        if (!t->quiet)
            fprintf(stderr, "train.cuda_graph: step %ld captured after %d warm-up steps (%.1f MiB kept for the graph)\n",
                    t->step + 1, G->warm, (double)mt_alloc_pool_bytes(G->g.pool) / (1 << 20));
        return mt_step_graph_replay(&G->g); /* the loss count was taken during the capture */
    }
    MT_TRY(mt_step_graph_replay(&G->g));
    for (int i = 0; i < MT_SESSION_MAX_MODELS; i++) mt_optim_add_steps(t->optim[i], 1);
    return mt_loss_acc_count(&t->loss_acc, t->step + 1);
}

int mt_trainer_graph_state(const mt_trainer *t, long *replays, const char **reason)
{
    const mt_trainer_graph *G = t ? t->graph : NULL;
    if (replays) *replays = G ? G->g.replays : 0;
    if (reason) *reason = G && G->state == G_OFF ? G->reason : G ? "" : "train.cuda_graph is false";
    return G ? G->state : G_OFF;
}

void mt_trainer_graph_close(mt_trainer *t)
{
    if (!t || !t->graph) return;
    mt_step_graph_free(&t->graph->g);
    free(t->graph);
    t->graph = NULL;
}
