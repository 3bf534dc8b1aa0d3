/* data/loader.c: worker threads, the ring of batch slots, shuffling, resume (see data/loader.h).
 *
 * Jobs are numbered j = epoch * batches_per_epoch + batch. Workers claim the next job
 * whose ring slot (j % prefetch) is free and within `prefetch` of the consumer's position,
 * fill it, and mark it ready; the consumer takes slots strictly in job order. Because each
 * job is computed from (seed, epoch, batch) alone, which worker made it does not matter.
 */
#include "loader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/device.h"
#include "../core/rng.h"

_Static_assert(sizeof(mt_real) == sizeof(float), "data/loader.c assumes the float32 build (mt_real = float)");

enum { SLOT_EMPTY = 0, SLOT_FILLING, SLOT_READY };

typedef struct slot {
    int state;
    long long job;
    mt_status status;
    char err[512];
    int n;
    float *images;           /* [bs,C,H,W]: augmented (or raw, for GPU augmentation) */
    float *masks;            /* [bs,K,H,W] 0/1 (CPU augmentation path) */
    uint8_t *masks_u8;       /* [bs,K,H,W] raw masks (GPU augmentation path) */
    int32_t *labels;
    float *points;           /* [bs,P,2] */
    int *ids;
    float *boxes;            /* [n_boxes,6] */
    int n_boxes, cap_boxes;
    mt_augment_draw *draws;  /* [bs] (GPU augmentation path) */
    void *event;             /* CUDA: uploads from this slot done */
    int event_pending;
} slot;

typedef struct worker {
    struct mt_loader *l;
    pthread_t thread;
    int started;
    int *order;              /* cached order of order_epoch */
    int order_epoch;
    uint8_t *mask_tmp;       /* [K,H,W] */
} worker;

struct mt_loader {
    mt_dataset *d;
    mt_dataset_spec spec;
    mt_loader_config cfg;
    mt_augment_params aug;
    int has_aug, gpu_aug, on_cuda;
    int *indices;
    int n, nb;
    int shards;              /* shard_count, 1 = whole batches */
    int rows;                /* rows of a slot: batch_size, or its largest slice */
    int cap;
    slot *slots;
    worker *workers;
    int n_workers;
    pthread_mutex_t mu;
    pthread_cond_t cv_ready, cv_space, cv_idle;
    int stop, paused, busy;
    long long next_claim;
    int epoch, batch;        /* consumer position */
};

void mt_loader_config_init(mt_loader_config *c)
{
    memset(c, 0, sizeof *c);
    c->batch_size = 1;
    c->num_workers = 2;
    c->device = mt_cpu();
}

void mt_loader_epoch_order(uint64_t seed, int epoch, int shuffle, const int *indices, int n, int *out)
{
    for (int i = 0; i < n; i++) out[i] = indices ? indices[i] : i;
    if (!shuffle) return;
    uint64_t s = mt_rng_derive(seed, 0x53485546464C45ull /* "SHUFFLE" */, (uint64_t)epoch);
    for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int j = (int)(mt_philox_uniform_d(s, (uint64_t)i) * (i + 1));
        if (j > i) j = i;
        int t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
}

/* ------------------------------------------------------------------ worker side */

static void host_free(mt_loader *l, void *p)
{
#ifdef MT_WITH_CUDA
    if (l->on_cuda) {
        mt_loader_cuda_host_free(p);
        return;
    }
#endif
    free(p);
}

static mt_status host_alloc(mt_loader *l, size_t bytes, void **p)
{
#ifdef MT_WITH_CUDA
    if (l->on_cuda) return mt_loader_cuda_host_alloc(bytes, p);
#endif
    *p = mt_malloc(bytes ? bytes : 1);
    return *p ? MT_OK : MT_ERR_NOMEM;
}

static mt_status append_boxes(slot *s, int row, int n, const float *b5)
{
    if (s->n_boxes + n > s->cap_boxes) {
        int cap = s->cap_boxes ? s->cap_boxes : 16;
        while (cap < s->n_boxes + n) cap *= 2;
        float *nb = mt_realloc(s->boxes, sizeof(float) * 6 * (size_t)cap);
        if (!nb) return MT_ERR_NOMEM;
        s->boxes = nb;
        s->cap_boxes = cap;
    }
    for (int i = 0; i < n; i++) {
        float *o = s->boxes + 6 * (size_t)(s->n_boxes + i);
        o[0] = (float)row;
        memcpy(o + 1, b5 + 5 * (size_t)i, 5 * sizeof(float));
    }
    s->n_boxes += n;
    return MT_OK;
}

/* Reads, augments and stores sample `id` as row `row` of the slot. */
static mt_status fill_one(worker *wk, slot *s, int row, int id, int epoch)
{
    mt_loader *l = wk->l;
    const mt_dataset_spec *sp = &l->spec;
    size_t plane = (size_t)sp->h * sp->w, img_n = plane * (size_t)sp->c, mask_n = plane * (size_t)sp->k;
    mt_sample smp;
    MT_TRY(mt_dataset_read(l->d, id, &smp));
    mt_status st = MT_OK;
    mt_augment_draw dr;
    if (l->has_aug) st = mt_augment_draw_sample(&l->aug, sp->h, sp->w, l->cfg.seed, (uint64_t)epoch, (uint64_t)id, &dr);
    else mt_augment_draw_identity(sp->h, sp->w, &dr);
    if (st != MT_OK) goto done;
    float *img = s->images + (size_t)row * img_n;
    if (l->has_aug && !l->gpu_aug) mt_augment_image(&dr, sp->c, smp.image, img);
    else memcpy(img, smp.image, img_n * sizeof(float));
    if (sp->k > 0) {
        if (l->gpu_aug) {
            memcpy(s->masks_u8 + (size_t)row * mask_n, smp.mask, mask_n);
        } else {
            const uint8_t *m = smp.mask;
            if (l->has_aug) {
                mt_augment_mask(&dr, sp->k, smp.mask, wk->mask_tmp);
                m = wk->mask_tmp;
            }
            float *o = s->masks + (size_t)row * mask_n;
            for (size_t i = 0; i < mask_n; i++) o[i] = m[i] ? 1.0f : 0.0f;
        }
    }
    if (l->gpu_aug) s->draws[row] = dr;
    s->labels[row] = smp.label;
    if (sp->n_points > 0) {
        float *p = s->points + (size_t)row * sp->n_points * 2;
        if (l->has_aug) mt_augment_points(&dr, sp->n_points, smp.points, p);
        else memcpy(p, smp.points, sizeof(float) * 2 * (size_t)sp->n_points);
    }
    if (smp.n_boxes > 0) {
        int nb = smp.n_boxes;
        if (l->has_aug) nb = mt_augment_boxes(&dr, smp.n_boxes, smp.boxes, smp.boxes);
        st = append_boxes(s, row, nb, smp.boxes);
    }
    s->ids[row] = id;
done:
    mt_sample_free(&smp);
    return st;
}

static mt_status fill_slot(worker *wk, slot *s, long long job)
{
    mt_loader *l = wk->l;
    int epoch = (int)(job / l->nb), b = (int)(job % l->nb);
    if (wk->order_epoch != epoch) {
        mt_loader_epoch_order(l->cfg.seed, epoch, l->cfg.shuffle, l->indices, l->n, wk->order);
        wk->order_epoch = epoch;
    }
    int bs = l->cfg.batch_size;
    int start = b * bs, end = start + bs < l->n ? start + bs : l->n;
    if (l->shards > 1) { /* this shard's contiguous slice of the whole batch */
        int m = end - start, r = l->cfg.shard_index;
        end = start + (int)((long long)m * (r + 1) / l->shards);
        start += (int)((long long)m * r / l->shards);
    }
#ifdef MT_WITH_CUDA
    if (s->event_pending) { /* the previous batch of this slot may still be uploading */
        MT_TRY(mt_loader_cuda_wait(s->event));
        s->event_pending = 0;
    }
#endif
    s->n = end - start;
    s->n_boxes = 0;
    for (int i = start; i < end; i++) MT_TRY(fill_one(wk, s, i - start, wk->order[i], epoch));
    return MT_OK;
}

static void *worker_main(void *arg)
{
    worker *wk = arg;
    mt_loader *l = wk->l;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        long long deliver = (long long)l->epoch * l->nb + l->batch;
        long long j = l->next_claim;
        slot *s = &l->slots[j % l->cap];
        if (l->paused || j >= deliver + l->cap || s->state != SLOT_EMPTY) {
            pthread_cond_wait(&l->cv_space, &l->mu);
            continue;
        }
        s->state = SLOT_FILLING;
        s->job = j;
        l->next_claim++;
        l->busy++;
        pthread_mutex_unlock(&l->mu);
        mt_error_clear();
        mt_status st = fill_slot(wk, s, j);
        if (st != MT_OK) snprintf(s->err, sizeof s->err, "%s", mt_last_error());
        mt_error_clear();
        pthread_mutex_lock(&l->mu);
        s->status = st;
        s->state = SLOT_READY;
        l->busy--;
        pthread_cond_broadcast(&l->cv_ready);
        pthread_cond_broadcast(&l->cv_idle);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ------------------------------------------------------------------ lifetime */

static void stop_workers(mt_loader *l)
{
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->cv_space);
    pthread_cond_broadcast(&l->cv_ready);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->n_workers; i++)
        if (l->workers[i].started) pthread_join(l->workers[i].thread, NULL);
}

void mt_loader_destroy(mt_loader *l)
{
    if (!l) return;
    if (l->workers) stop_workers(l);
    for (int i = 0; l->workers && i < l->n_workers; i++) {
        free(l->workers[i].order);
        free(l->workers[i].mask_tmp);
    }
    for (int i = 0; l->slots && i < l->cap; i++) {
        slot *s = &l->slots[i];
#ifdef MT_WITH_CUDA
        if (s->event_pending) mt_loader_cuda_wait(s->event);
        mt_loader_cuda_event_destroy(s->event);
#endif
        host_free(l, s->images);
        host_free(l, s->masks);
        host_free(l, s->masks_u8);
        free(s->labels);
        free(s->points);
        free(s->ids);
        free(s->boxes);
        free(s->draws);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv_ready);
    pthread_cond_destroy(&l->cv_space);
    pthread_cond_destroy(&l->cv_idle);
    free(l->slots);
    free(l->workers);
    free(l->indices);
    free(l);
}

static mt_status slot_init(mt_loader *l, slot *s)
{
    const mt_dataset_spec *sp = &l->spec;
    size_t bs = (size_t)l->rows, plane = (size_t)sp->h * sp->w;
    void *p;
    MT_TRY(host_alloc(l, sizeof(float) * bs * plane * (size_t)sp->c, &p));
    s->images = p;
    if (sp->k > 0 && l->gpu_aug) {
        MT_TRY(host_alloc(l, bs * plane * (size_t)sp->k, &p));
        s->masks_u8 = p;
    } else if (sp->k > 0) {
        MT_TRY(host_alloc(l, sizeof(float) * bs * plane * (size_t)sp->k, &p));
        s->masks = p;
    }
    s->labels = mt_malloc(sizeof(int32_t) * bs);
    s->ids = mt_malloc(sizeof(int) * bs);
    s->points = mt_malloc(sizeof(float) * 2 * bs * (size_t)(sp->n_points ? sp->n_points : 1));
    s->draws = l->gpu_aug ? mt_malloc(sizeof(mt_augment_draw) * bs) : NULL;
    if (!s->labels || !s->ids || !s->points || (l->gpu_aug && !s->draws)) return MT_ERR_NOMEM;
#ifdef MT_WITH_CUDA
    if (l->on_cuda) MT_TRY(mt_loader_cuda_event_create(l->cfg.device.index, &s->event));
#endif
    return MT_OK;
}

mt_status mt_loader_create(mt_dataset *d, const mt_loader_config *cfg, mt_loader **out)
{
    MT_REQUIRE(d && cfg && out, "mt_loader_create: NULL argument");
    *out = NULL;
    int nd = mt_dataset_size(d);
    MT_REQUIRE(cfg->batch_size > 0, "loader: batch_size %d must be > 0", cfg->batch_size);
    MT_REQUIRE(cfg->num_workers >= 1 && cfg->num_workers <= 64, "loader: num_workers %d outside [1,64]",
               cfg->num_workers);
    MT_REQUIRE(cfg->prefetch >= 0, "loader: prefetch %d must be >= 0", cfg->prefetch);
    MT_REQUIRE(!cfg->indices || cfg->n_indices >= 0, "loader: n_indices %d < 0", cfg->n_indices);
    int n = cfg->indices ? cfg->n_indices : nd;
    for (int i = 0; cfg->indices && i < n; i++)
        MT_REQUIRE(cfg->indices[i] >= 0 && cfg->indices[i] < nd, "loader: indices[%d] = %d outside the dataset [0,%d)",
                   i, cfg->indices[i], nd);
    int nb = cfg->drop_last ? n / cfg->batch_size : (n + cfg->batch_size - 1) / cfg->batch_size;
    MT_REQUIRE(nb > 0, "loader: no batch to deliver (%d samples, batch_size %d, drop_last %d)", n, cfg->batch_size,
               cfg->drop_last);
    int shards = cfg->shard_count > 1 ? cfg->shard_count : 1, last = n % cfg->batch_size;
    MT_REQUIRE(shards == 1 || (cfg->shard_index >= 0 && cfg->shard_index < shards), "loader: shard_index %d of %d",
               cfg->shard_index, shards);
    MT_REQUIRE(cfg->batch_size >= shards, "loader: batch_size %d is smaller than the %d shards", cfg->batch_size,
               shards);
    MT_REQUIRE(cfg->drop_last || last == 0 || last >= shards,
               "loader: the last batch of an epoch has %d samples (%d %% %d), fewer than the %d shards", last, n,
               cfg->batch_size, shards);
    int on_cuda = cfg->device.type == MT_CUDA;
#ifndef MT_WITH_CUDA
    if (on_cuda) return MT_ERR(MT_ERR_UNSUPPORTED, "loader: this build has no CUDA backend; use device cpu");
#endif
    MT_REQUIRE(!cfg->augment_on_device || on_cuda, "loader: augment_on_device needs a CUDA device");
    if (cfg->augment) MT_TRY(mt_augment_params_check(cfg->augment));
    if (on_cuda && !mt_device_available(cfg->device))
        return MT_ERR(MT_ERR_CUDA, "loader: device cuda:%d is not available", cfg->device.index);

    mt_loader *l = mt_calloc(1, sizeof *l);
    if (!l) return MT_ERR_NOMEM;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv_ready, NULL);
    pthread_cond_init(&l->cv_space, NULL);
    pthread_cond_init(&l->cv_idle, NULL);
    l->d = d;
    l->cfg = *cfg;
    l->cfg.indices = NULL;
    mt_dataset_geometry(d, &l->spec);
    l->has_aug = cfg->augment != NULL;
    if (l->has_aug) l->aug = *cfg->augment;
    l->cfg.augment = NULL;
    l->on_cuda = on_cuda;
    l->gpu_aug = l->has_aug && cfg->augment_on_device;
    l->n = n;
    l->nb = nb;
    l->shards = shards;
    l->rows = (cfg->batch_size + shards - 1) / shards;
    l->cap = cfg->prefetch > 0 ? cfg->prefetch : 2 * cfg->num_workers;
    l->n_workers = cfg->num_workers;
    mt_status st = MT_OK;
    l->indices = mt_malloc(sizeof(int) * (size_t)n);
    l->slots = mt_calloc((size_t)l->cap, sizeof(slot));
    l->workers = mt_calloc((size_t)l->n_workers, sizeof(worker));
    if (!l->indices || !l->slots || !l->workers) st = MT_ERR_NOMEM;
    for (int i = 0; st == MT_OK && i < n; i++) l->indices[i] = cfg->indices ? cfg->indices[i] : i;
    for (int i = 0; st == MT_OK && i < l->cap; i++) st = slot_init(l, &l->slots[i]);
    size_t mask_n = (size_t)l->spec.k * l->spec.h * l->spec.w;
    for (int i = 0; st == MT_OK && i < l->n_workers; i++) {
        worker *wk = &l->workers[i];
        wk->l = l;
        wk->order_epoch = -1;
        wk->order = mt_malloc(sizeof(int) * (size_t)n);
        wk->mask_tmp = mt_malloc(mask_n ? mask_n : 1);
        if (!wk->order || !wk->mask_tmp) st = MT_ERR_NOMEM;
    }
    for (int i = 0; st == MT_OK && i < l->n_workers; i++) {
        if (pthread_create(&l->workers[i].thread, NULL, worker_main, &l->workers[i]) != 0)
            st = MT_ERR(MT_ERR_NOMEM, "loader: cannot start worker thread %d of %d", i + 1, l->n_workers);
        else l->workers[i].started = 1;
    }
    if (st != MT_OK) {
        mt_loader_destroy(l);
        return st;
    }
    *out = l;
    return MT_OK;
}

/* ------------------------------------------------------------------ consumer side */

void mt_batch_free(mt_batch *b)
{
    if (!b) return;
    mt_tensor_release(b->images);
    mt_tensor_release(b->masks);
    mt_tensor_release(b->labels);
    mt_tensor_release(b->points);
    free(b->sample_ids);
    free(b->boxes);
    memset(b, 0, sizeof *b);
}

/* Copies host data into tensor t (synchronously on CPU; async from pinned memory on CUDA). */
static mt_status upload(mt_loader *l, mt_tensor *t, const void *host, size_t bytes)
{
#ifdef MT_WITH_CUDA
    if (l->on_cuda) return mt_loader_cuda_upload(l->cfg.device.index, l->cfg.copy_stream, mt_data(t), host, bytes);
#endif
    memcpy(mt_data(t), host, bytes);
    return MT_OK;
}

static mt_status deliver(mt_loader *l, slot *s, mt_batch *b)
{
    const mt_dataset_spec *sp = &l->spec;
    mt_device dev = l->cfg.device;
    int n = s->n;
    size_t plane = (size_t)sp->h * sp->w;
    size_t img_bytes = sizeof(float) * (size_t)n * sp->c * plane;
    b->n = n;
    b->images = mt_tensor_new4(MT_REAL, dev, n, sp->c, sp->h, sp->w);
    b->labels = mt_tensor_new(MT_I32, dev, 1, &n);
    b->sample_ids = mt_malloc(sizeof(int) * (size_t)n);
    if (sp->k > 0) b->masks = mt_tensor_new4(MT_REAL, dev, n, sp->k, sp->h, sp->w);
    if (sp->n_points > 0) {
        int ps[3] = {n, sp->n_points, 2};
        b->points = mt_tensor_new(MT_REAL, dev, 3, ps);
    }
    if (s->n_boxes > 0) b->boxes = mt_malloc(sizeof(float) * 6 * (size_t)s->n_boxes);
    if (!b->images || !b->labels || !b->sample_ids || (sp->k > 0 && !b->masks) || (sp->n_points > 0 && !b->points) ||
        (s->n_boxes > 0 && !b->boxes))
        return mt_last_status() ? mt_last_status() : MT_ERR_NOMEM;
    memcpy(b->sample_ids, s->ids, sizeof(int) * (size_t)n);
    if (s->n_boxes) memcpy(b->boxes, s->boxes, sizeof(float) * 6 * (size_t)s->n_boxes);
    b->n_boxes = s->n_boxes;
#ifdef MT_WITH_CUDA
    if (l->on_cuda) MT_TRY(mt_loader_cuda_begin(dev.index, l->cfg.copy_stream));
#endif
    MT_TRY(upload(l, b->labels, s->labels, sizeof(int32_t) * (size_t)n));
    if (b->points) MT_TRY(upload(l, b->points, s->points, sizeof(float) * 2 * (size_t)n * sp->n_points));
    if (!l->gpu_aug) {
        MT_TRY(upload(l, b->images, s->images, img_bytes));
        if (b->masks) MT_TRY(upload(l, b->masks, s->masks, sizeof(float) * (size_t)n * sp->k * plane));
    }
#ifdef MT_WITH_CUDA
    if (l->gpu_aug) { /* raw image/mask to the GPU, then the augmentation kernel into the batch tensors */
        size_t mask_bytes = (size_t)n * sp->k * plane;
        void *raw_img = NULL, *raw_mask = NULL;
        mt_status st = mt_alloc(dev, img_bytes, &raw_img);
        if (st == MT_OK && mask_bytes) st = mt_alloc(dev, mask_bytes, &raw_mask);
        int cp = l->cfg.copy_stream;
        if (st == MT_OK) st = mt_loader_cuda_upload(dev.index, cp, raw_img, s->images, img_bytes);
        if (st == MT_OK && mask_bytes) st = mt_loader_cuda_upload(dev.index, cp, raw_mask, s->masks_u8, mask_bytes);
        if (st == MT_OK && cp) st = mt_loader_cuda_record(dev.index, cp, s->event); /* the kernel waits for them */
        if (st == MT_OK)
            st = mt_augment_batch_cuda(dev.index, s->draws, n, sp->c, sp->h, sp->w, raw_img, MT_DATA(b->images), sp->k,
                                       raw_mask, b->masks ? MT_DATA(b->masks) : NULL);
        /* stream-ordered reuse: later work on the same stream runs after the kernel */
        if (raw_img) mt_free(dev, raw_img, img_bytes);
        if (raw_mask) mt_free(dev, raw_mask, mask_bytes);
        MT_TRY(st);
    }
    if (l->on_cuda) {
        MT_TRY(mt_loader_cuda_record(dev.index, l->cfg.copy_stream, s->event));
        s->event_pending = 1;
    }
#endif
    return MT_OK;
}

mt_status mt_loader_next(mt_loader *l, mt_batch *b)
{
    MT_REQUIRE(l && b, "mt_loader_next: NULL argument");
    memset(b, 0, sizeof *b);
    pthread_mutex_lock(&l->mu);
    b->epoch = l->epoch;
    b->index = l->batch;
    if (l->batch >= l->nb) { /* end-of-epoch marker */
        l->epoch++;
        l->batch = 0;
        pthread_cond_broadcast(&l->cv_space);
        pthread_mutex_unlock(&l->mu);
        return MT_OK;
    }
    long long j = (long long)l->epoch * l->nb + l->batch;
    slot *s = &l->slots[j % l->cap];
    while (!(s->state == SLOT_READY && s->job == j)) pthread_cond_wait(&l->cv_ready, &l->mu);
    pthread_mutex_unlock(&l->mu);
    if (s->status != MT_OK) {
        return mt_error_set(s->status, __FILE__, __LINE__, "loader (epoch %d, batch %d): %s", b->epoch, b->index,
                            s->err);
    }
    mt_status st = deliver(l, s, b);
    if (st != MT_OK) {
        int e = b->epoch, i = b->index;
        mt_batch_free(b);
        b->epoch = e, b->index = i;
        return st;
    }
    pthread_mutex_lock(&l->mu);
    s->state = SLOT_EMPTY;
    l->batch++;
    pthread_cond_broadcast(&l->cv_space);
    pthread_mutex_unlock(&l->mu);
    return MT_OK;
}

void mt_loader_position(const mt_loader *l, int *epoch, int *batch)
{
    mt_loader *m = (mt_loader *)l;
    pthread_mutex_lock(&m->mu);
    if (epoch) *epoch = l->epoch;
    if (batch) *batch = l->batch;
    pthread_mutex_unlock(&m->mu);
}

mt_status mt_loader_seek(mt_loader *l, int epoch, int batch)
{
    MT_REQUIRE(l, "mt_loader_seek: NULL loader");
    MT_REQUIRE(epoch >= 0 && batch >= 0 && batch <= l->nb, "loader: position (epoch %d, batch %d) outside [0,%d]",
               epoch, batch, l->nb);
    pthread_mutex_lock(&l->mu);
    l->paused = 1;
    while (l->busy > 0) pthread_cond_wait(&l->cv_idle, &l->mu);
    for (int i = 0; i < l->cap; i++) l->slots[i].state = SLOT_EMPTY;
    l->epoch = epoch;
    l->batch = batch;
    l->next_claim = (long long)epoch * l->nb + (batch < l->nb ? batch : l->nb);
    l->paused = 0;
    pthread_cond_broadcast(&l->cv_space);
    pthread_mutex_unlock(&l->mu);
    return MT_OK;
}

int mt_loader_batches_per_epoch(const mt_loader *l) { return l ? l->nb : 0; }
int mt_loader_num_samples(const mt_loader *l) { return l ? l->n : 0; }
