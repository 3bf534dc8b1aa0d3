/* train/cuda_graph.c: capture conditions and the mechanics of a training step
 * captured in a CUDA graph (cuda_graph.h). The graph calls go through the
 * backend (core/device.h graph_*), so this file builds without CUDA; on the
 * CPU backend (no graph functions) mt_cuda_graph_eligible already refuses. */
#include "cuda_graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


void mt_cuda_graph_facts_init(mt_cuda_graph_facts *f)
{
    memset(f, 0, sizeof *f);
    f->device = mt_cpu();
    f->processes = 1;
    f->optim_ok = -1;
    f->d2h_reads = f->backend_allocs = f->rng_draws = -1;
}

int mt_cuda_graph_eligible(const mt_cuda_graph_facts *f, char *reason, size_t cap)
{
    char dev[32];
    const mt_backend *b = mt_backend_peek(f->device.type);
#define NO(...)                                  \
    do {                                         \
        if (reason && cap) snprintf(reason, cap, __VA_ARGS__); \
        return 0;                                \
    } while (0)
    if (f->device.type != MT_CUDA)
        NO("the training device is %s: CUDA graphs need a GPU (train.device: cuda)",
           mt_device_str(f->device, dev, sizeof dev));
    if (f->multi_network)
        NO("the task trains several networks in its own step (adversarial, G-D-C): only single-network steps are "
           "captured");
    if (f->processes > 1)
        NO("data-parallel training over %d processes: the gradient all-reduce is not captured", f->processes);
    if (f->batch_size > 0 && !f->drop_last && f->n_train % f->batch_size != 0)
        NO("the last batch of an epoch has %ld samples, not train.batch_size %d (dynamic shapes): set "
           "data.drop_last: true", f->n_train % f->batch_size, f->batch_size);
    if (f->host_targets) NO("the loss reads host-side targets of each batch (detection boxes), which a replay would repeat");
    if (f->optim_ok == 0)
        NO("an optimizer cannot keep its step scalars on the device (its parameters are not one contiguous block)");
    if (f->d2h_reads > 0)
        NO("a training step reads %ld values back to the host (the loss or a metric syncs), which a graph cannot "
           "capture", f->d2h_reads);
    if (f->backend_allocs > 0)
        NO("a step after the warm-up still allocated %ld blocks from the backend (its memory is not static)",
           f->backend_allocs);
    if (f->rng_draws > 0)
        NO("the model draws random numbers in training (dropout or drop-path): their seed and offset are kernel "
           "arguments, which every replay would repeat (set the dropout rates to 0 to capture)");
    if (!b || !b->graph_begin) NO("this build or machine has no CUDA backend with graph support");
#undef NO
    if (reason && cap) reason[0] = 0;
    return 1;
}

/* a new tensor shaped like t on t's device (NULL for NULL) */
static int like(mt_tensor **dst, const mt_tensor *t)
{
    *dst = NULL;
    if (!t) return 1;
    *dst = mt_tensor_new(t->dtype, t->storage->device, t->ndim, t->shape);
    return *dst != NULL;
}

static int same(const mt_tensor *a, const mt_tensor *b)
{
    if (!a || !b) return a == b;
    return a->dtype == b->dtype && mt_same_shape(a, b) && mt_device_eq(a->storage->device, b->storage->device);
}

int mt_step_graph_load(mt_step_graph *g, const mt_batch *b)
{
    mt_batch *s = &g->in;
    if (!s->images) {
        memset(s, 0, sizeof *s);
        if (!like(&s->images, b->images) || !like(&s->masks, b->masks) || !like(&s->labels, b->labels) ||
            !like(&s->points, b->points))
            return -1;
        if (!(s->sample_ids = mt_malloc(sizeof(int) * (size_t)(b->n > 0 ? b->n : 1)))) return -1;
        s->n = b->n;
        g->device = b->images->storage->device;
    }
    if (s->n != b->n || !same(s->images, b->images) || !same(s->masks, b->masks) || !same(s->labels, b->labels) ||
        !same(s->points, b->points) || b->n_boxes != 0)
        return 0;
    s->epoch = b->epoch;
    s->index = b->index;
    memcpy(s->sample_ids, b->sample_ids, sizeof(int) * (size_t)b->n);
    /* device-to-device copies, queued on the stream before the replay (no host sync) */
    mt_tensor *const src[4] = {b->images, b->masks, b->labels, b->points};
    mt_tensor *const dst[4] = {s->images, s->masks, s->labels, s->points};
    for (int i = 0; i < 4; i++)
        if (src[i] && mt_tensor_copy(dst[i], src[i]) != MT_OK) return -1;
    return 1;
}

mt_status mt_step_graph_capture(mt_step_graph *g, mt_status (*step)(void *user), void *user)
{
    MT_REQUIRE(g->in.images != NULL, "CUDA graph capture: no static batch (call mt_step_graph_load first)");
    MT_REQUIRE(g->exec == NULL, "CUDA graph capture: the step is already captured");
    const mt_backend *b = mt_backend_get(g->device.type);
    if (!b) return mt_last_status();
    if (!b->graph_begin) {
        char d[32];
        return MT_ERR(MT_ERR_UNSUPPORTED, "CUDA graph capture: the %s backend has no graphs",
                      mt_device_str(g->device, d, sizeof d));
    }
    MT_TRY(mt_alloc_pool_begin());
    mt_status st = b->graph_begin(b->ctx, g->device.index);
    if (st == MT_OK) {
        mt_status s1 = step(user);
        char first[512] = "";
        if (s1 != MT_OK) snprintf(first, sizeof first, "%s", mt_last_error());
        void *exec = NULL;
        mt_status s2 = b->graph_end(b->ctx, g->device.index, &exec); /* ends the capture in every case */
        if (s1 != MT_OK) {
            if (exec) b->graph_destroy(b->ctx, g->device.index, exec);
            st = MT_ERR(s1, "CUDA graph capture: the step failed while being captured: %s", first);
        } else {
            st = s2;
            g->exec = exec;
        }
    }
    mt_alloc_pool *pool = mt_alloc_pool_end();
    if (st != MT_OK) {
        mt_alloc_pool_release(pool); /* nothing ran: its blocks are free again */
        return st;
    }
    g->pool = pool;
    g->replays = 0;
    return MT_OK;
}

mt_status mt_step_graph_replay(mt_step_graph *g)
{
    MT_REQUIRE(g->exec != NULL, "CUDA graph replay: no captured step");
    const mt_backend *b = mt_backend_get(g->device.type);
    if (!b) return mt_last_status();
    MT_TRY(b->graph_launch(b->ctx, g->device.index, g->exec));
    g->replays++;
    return MT_OK;
}

void mt_step_graph_free(mt_step_graph *g)
{
    if (!g) return;
    if (g->exec) {
        const mt_backend *b = mt_backend_peek(g->device.type);
        if (b && b->synchronize) (void)b->synchronize(b->ctx, g->device.index); /* no replay still running */
        if (b && b->graph_destroy) b->graph_destroy(b->ctx, g->device.index, g->exec);
    }
    g->exec = NULL;
    mt_alloc_pool_release(g->pool);
    g->pool = NULL;
    mt_batch_free(&g->in);
}
