/* core/ops/cudnn_cache.cu: cuDNN convolution descriptors and algorithm choices
 * cached per shape and option set (gemm.h), so that a training step after its
 * warm-up creates no descriptor and queries no heuristic (issue 13's lean
 * step; PyTorch keeps the same per-shape cache in its cuDNN conv path). The
 * table of a GPU context is a fixed array searched linearly (a network has a few
 * dozen convolution shapes), guarded by a mutex; entries are never moved or
 * evicted, so a pointer to one stays valid for the life of the context. */
#include <pthread.h>
#include <string.h>

#include "../cuda_common.h"
#include "gemm.h"

struct mt_cudnn_cache {
    pthread_mutex_t lock;
    int n;
    mt_cudnn_conv_entry e[MT_CUDNN_CACHE_MAX];
};

static pthread_mutex_t g_create_lock = PTHREAD_MUTEX_INITIALIZER;

/* c's table, created on first use; NULL when out of memory (then nothing is cached) */
static struct mt_cudnn_cache *table(mt_cuda_ctx *c)
{
    pthread_mutex_lock(&g_create_lock);
    if (!c->conv_cache) {
        struct mt_cudnn_cache *t = (struct mt_cudnn_cache *)calloc(1, sizeof *t);
        if (t && pthread_mutex_init(&t->lock, NULL) != 0) {
            free(t);
            t = NULL;
        }
        c->conv_cache = t;
    }
    pthread_mutex_unlock(&g_create_lock);
    return c->conv_cache;
}

static int same_key(const mt_cudnn_conv_entry *e, const mt_cuda_ctx *c, const mt_cudnn_conv_dims *d)
{
    return e->tf32 == c->allow_tf32 && e->benchmark == c->cudnn_benchmark && e->deterministic == c->deterministic &&
           !memcmp(&e->d, d, sizeof *d);
}

static mt_cudnn_conv_entry *find_locked(struct mt_cudnn_cache *t, const mt_cuda_ctx *c, const mt_cudnn_conv_dims *d)
{
    for (int i = 0; i < t->n; i++)
        if (same_key(&t->e[i], c, d)) return &t->e[i];
    return NULL;
}

extern "C" mt_cudnn_conv_entry *mt_cudnn_cache_find(mt_cuda_ctx *c, const mt_cudnn_conv_dims *d)
{
    struct mt_cudnn_cache *t = table(c);
    if (!t) return NULL;
    pthread_mutex_lock(&t->lock);
    mt_cudnn_conv_entry *e = find_locked(t, c, d);
    pthread_mutex_unlock(&t->lock);
    return e;
}

extern "C" void mt_cudnn_cache_put(mt_cuda_ctx *c, const mt_cudnn_conv_dims *d, mt_cudnn_conv *cv)
{
    struct mt_cudnn_cache *t = table(c);
    if (!t) return;
    pthread_mutex_lock(&t->lock);
    mt_cudnn_conv_entry *e = find_locked(t, c, d);
    if (e) { /* another thread stored this shape meanwhile: use its descriptors */
        mt_cudnn_conv_destroy(cv);
        *cv = e->cv;
        cv->entry = e;
    } else if (t->n < MT_CUDNN_CACHE_MAX) {
        e = &t->e[t->n];
        memset(e, 0, sizeof *e);
        e->d = *d;
        e->tf32 = c->allow_tf32;
        e->benchmark = c->cudnn_benchmark;
        e->deterministic = c->deterministic;
        e->cv = *cv;
        e->cv.entry = NULL;
        for (int k = 0; k < 3; k++) e->algo[k] = -1;
        t->n++; /* published under the lock: readers search under it too */
        cv->entry = e;
    }
    pthread_mutex_unlock(&t->lock);
}

/* guards each entry's (algorithm, workspace) pairs: read and written together */
static pthread_mutex_t g_algo_lock = PTHREAD_MUTEX_INITIALIZER;

extern "C" int mt_cudnn_cache_algo(const mt_cudnn_conv *cv, int pass, int *algo, size_t *ws_bytes)
{
    const mt_cudnn_conv_entry *e = cv->entry;
    if (!e) return 0;
    pthread_mutex_lock(&g_algo_lock);
    int found = e->algo[pass] >= 0;
    if (found) {
        *algo = e->algo[pass];
        *ws_bytes = e->ws[pass];
    }
    pthread_mutex_unlock(&g_algo_lock);
    return found;
}

extern "C" void mt_cudnn_cache_set_algo(mt_cudnn_conv *cv, int pass, int algo, size_t ws_bytes)
{
    mt_cudnn_conv_entry *e = cv->entry;
    if (!e) return;
    pthread_mutex_lock(&g_algo_lock);
    if (e->algo[pass] < 0) { /* the first choice stays (another thread may have timed the same shape) */
        e->algo[pass] = algo;
        e->ws[pass] = ws_bytes;
    }
    pthread_mutex_unlock(&g_algo_lock);
}
