/* train/trainer_dist.c: the data-parallel steps of the training loop
 * (trainer_dist.h, dist.h, docs/distributed.md). Each process runs the same
 * loop on its slice of every global batch (the loader's shard); these are the
 * points where the processes meet. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "dist.h"
#include "trainer_dist.h"

static int world(const mt_trainer *t) { return mt_dist_size(t->dist); }

mt_status mt_trainer_dist_check_config(mt_trainer *t)
{
    int w = world(t);
    if (w < 2) return MT_OK;
    const mt_experiment *e = &t->s.exp;
    int b = e->train.batch_size;
    if (b % w != 0)
        return MT_ERR(MT_ERR_INVALID,
                      "train.batch_size %d is the global batch, split over %d processes: it must divide by %d "
                      "(e.g. --set train.batch_size=%d)", b, w, w, (b / w + 1) * w);
    int last = t->n_train % b;
    if (!e->data.drop_last && last > 0 && last < w)
        return MT_ERR(MT_ERR_INVALID,
                      "the last training batch of each epoch has %d samples (%d train samples, train.batch_size %d), "
                      "fewer than the %d processes: set data.drop_last: true or change train.batch_size",
                      last, t->n_train, b, w);
    return MT_OK;
}

void mt_trainer_dist_dropout_streams(mt_trainer *t)
{
    int r = mt_dist_rank(t->dist);
    if (r == 0) return;
    for (int i = 0; i < t->s.n_models; i++) {
        uint64_t seed = 0, offset = 0;
        mt_model_get_rng(t->s.models[i].model, &seed, &offset);
        mt_model_set_rng(t->s.models[i].model, mt_rng_derive(seed, 0x72616e6bULL /* "rank" */, (uint64_t)r), offset);
    }
}

/* every state tensor (params, then buffers when `buffers`) of session network i */
static mt_status states(mt_trainer *t, int i, int params, int buffers, mt_tensor ***out, int *n)
{
    mt_model *m = t->s.models[i].model;
    int total = mt_model_state_count(m);
    *n = 0;
    *out = mt_malloc(sizeof(mt_tensor *) * (size_t)(total ? total : 1));
    if (!*out) return mt_last_status();
    for (int k = 0; k < total; k++) {
        int p = mt_model_state_is_param(m, k);
        if ((p && params) || (!p && buffers)) (*out)[(*n)++] = mt_model_state_tensor(m, k);
    }
    return MT_OK;
}

static mt_status bcast_states(mt_trainer *t, int params, int buffers)
{
    mt_status st = MT_OK;
    for (int i = 0; i < t->s.n_models && st == MT_OK; i++) {
        mt_tensor **ts = NULL;
        int n = 0;
        st = states(t, i, params, buffers, &ts, &n);
        if (st == MT_OK) st = mt_dist_bcast_tensors(t->dist, ts, n, 0);
        free(ts);
    }
    return st;
}

mt_status mt_trainer_dist_start(mt_trainer *t, int resumed)
{
    if (world(t) < 2) return MT_OK;
    /* rank 0 has made (or locked and cleaned) the directory: its name is the signal */
    MT_TRY(mt_dist_bcast(t->dist, t->run_dir, sizeof t->run_dir, 0));
    if (resumed && mt_dist_rank(t->dist) > 0) {
        char path[2300];
        snprintf(path, sizeof path, "%s/last.h5", t->run_dir);
        MT_TRY(mt_trainer_load(t, path));
        mt_trainer_dist_dropout_streams(t);
    }
    return bcast_states(t, 1, 1);
}

int mt_trainer_dist_batch(mt_trainer *t, const mt_batch *b)
{
    if (world(t) < 2) {
        t->shard_weight = 1;
        return b->n;
    }
    int bs = t->s.exp.train.batch_size, left = t->n_train - b->index * bs;
    int m = left < bs ? left : bs;
    t->shard_weight = t->s.task->loss_scales_with_batch ? 1 : m > 0 ? (double)b->n / m : 0;
    return m;
}

mt_status mt_trainer_dist_grads(mt_trainer *t, int i)
{
    if (world(t) < 2) return MT_OK;
    int n = 0;
    mt_tensor **p = mt_model_params(t->s.models[i].model, &n);
    if (!p) return mt_last_status();
    return mt_dist_allreduce_grads(t->dist, p, n, t->shard_weight);
}

mt_status mt_trainer_dist_loss(mt_trainer *t, double *loss, double *terms, int n_terms)
{
    if (world(t) < 2) return MT_OK;
    float v[1 + MT_TASK_MAX_TERMS];
    int n = 1 + (n_terms < MT_TASK_MAX_TERMS ? n_terms : MT_TASK_MAX_TERMS);
    v[0] = (float)(*loss * t->shard_weight);
    for (int i = 1; i < n; i++) v[i] = (float)(terms[i - 1] * t->shard_weight);
    MT_TRY(mt_dist_allreduce_sum(t->dist, v, (size_t)n));
    *loss = v[0];
    for (int i = 1; i < n; i++) terms[i - 1] = v[i];
    return MT_OK;
}

mt_status mt_trainer_dist_sync_buffers(mt_trainer *t)
{
    return world(t) < 2 ? MT_OK : bcast_states(t, 0, 1);
}

mt_status mt_trainer_dist_check_replicas(mt_trainer *t)
{
    if (world(t) < 2) return MT_OK;
    mt_status st = MT_OK;
    for (int i = 0; i < t->s.n_models && st == MT_OK; i++) {
        mt_tensor **ts = NULL;
        int n = 0;
        st = states(t, i, 1, 1, &ts, &n);
        char what[160];
        snprintf(what, sizeof what, "the weights of network '%s'", t->s.models[i].name);
        if (st == MT_OK) st = mt_dist_check_same(t->dist, ts, n, what);
        free(ts);
    }
    return st;
}
