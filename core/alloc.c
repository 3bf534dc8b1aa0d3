/* core/alloc.c: caching allocator over the backends' raw alloc/free.
 *
 * Sizes are rounded up to a size class (512-byte multiples below 1 MiB, then
 * 1/8 steps of the next power of two), and freed blocks are kept in a per-
 * (device, class) free list for reuse, as PyTorch's caching allocators do. A
 * training step repeats the same sizes, so after the first step no op calls
 * malloc or cudaMalloc. When a raw allocation fails the cache is emptied and
 * the allocation retried once. Thread-safe (one mutex). A CUDA-graph capture
 * opens a private pool on its thread (mt_alloc_pool_begin, alloc.h): blocks
 * freed meanwhile are kept there for the graph, not in the shared lists.
 *
 * Layer (docs/design.md, checked by tests/check_layers.sh): above device,
 * below tensor; knows devices and bytes, nothing of tensors.
 *   calls: device (mt_backend_get/peek), error;
 *   never: tensor, op, autograd.
 */
#include "alloc.h"

#include <pthread.h>
#include <stdlib.h>

#include "device.h"

typedef struct block {
    void *ptr;
    size_t bytes; /* size class */
    mt_device dev;
    struct block *next;
} block;

#define NBUCKET 64

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static block *g_free[MT_DEVICE_TYPES][NBUCKET];
static size_t g_in_use[MT_DEVICE_TYPES], g_cached[MT_DEVICE_TYPES];
static unsigned long long g_backend_allocs[MT_DEVICE_TYPES]; /* raw_alloc calls that succeeded */

/* the private pool of a graph capture (mt_alloc_pool_begin): blocks freed during it */
struct mt_alloc_pool {
    block *blocks;
    size_t bytes;
};
static _Thread_local mt_alloc_pool *t_pool; /* open on this thread; NULL = none */

static size_t size_class(size_t bytes)
{
    if (bytes == 0) bytes = 1;
    if (bytes <= (1u << 20)) return (bytes + 511) & ~(size_t)511;
    size_t p = 1;
    while (p < bytes) p <<= 1;
    size_t step = p / 16; /* classes p/2 + k*p/16 */
    return (bytes + step - 1) / step * step;
}

static unsigned bucket_of(size_t cls)
{
    unsigned b = 0;
    while (cls > 1 && b < NBUCKET - 1) {
        cls >>= 1;
        b++;
    }
    return b;
}

mt_status mt_alloc(mt_device dev, size_t bytes, void **ptr)
{
    const mt_backend *be = mt_backend_get(dev.type);
    if (!be) return mt_last_status();
    size_t cls = size_class(bytes);
    unsigned b = bucket_of(cls);
    if (t_pool) /* a capture: the pool's own blocks first (only this thread uses it) */
        for (block **pp = &t_pool->blocks; *pp; pp = &(*pp)->next) {
            block *k = *pp;
            if (k->bytes == cls && mt_device_eq(k->dev, dev)) {
                *pp = k->next;
                *ptr = k->ptr;
                t_pool->bytes -= cls; /* pool blocks count as in use (by the graph) throughout */
                free(k);
                return MT_OK;
            }
        }
    pthread_mutex_lock(&g_lock);
    for (block **pp = &g_free[dev.type][b]; *pp; pp = &(*pp)->next) {
        block *k = *pp;
        if (k->bytes == cls && k->dev.index == dev.index) {
            *pp = k->next;
            *ptr = k->ptr;
            g_cached[dev.type] -= cls;
            g_in_use[dev.type] += cls;
            pthread_mutex_unlock(&g_lock);
            free(k);
            return MT_OK;
        }
    }
    pthread_mutex_unlock(&g_lock);
    mt_status s = be->raw_alloc(be->ctx, dev.index, cls, ptr);
    if (s != MT_OK) {
        mt_error_clear();
        mt_alloc_empty_cache();
        s = be->raw_alloc(be->ctx, dev.index, cls, ptr);
        if (s != MT_OK) return s;
    }
    pthread_mutex_lock(&g_lock);
    g_in_use[dev.type] += cls;
    g_backend_allocs[dev.type]++;
    pthread_mutex_unlock(&g_lock);
    return MT_OK;
}

void mt_free(mt_device dev, void *ptr, size_t bytes)
{
    if (!ptr) return;
    size_t cls = size_class(bytes);
    block *k = malloc(sizeof *k);
    if (!k) { /* cannot cache: give it straight back */
        const mt_backend *be = mt_backend_get(dev.type);
        if (be) be->raw_free(be->ctx, dev.index, ptr);
        pthread_mutex_lock(&g_lock);
        g_in_use[dev.type] -= cls;
        pthread_mutex_unlock(&g_lock);
        return;
    }
    k->ptr = ptr;
    k->bytes = cls;
    k->dev = dev;
    if (t_pool) { /* a capture: reserved for the graph */
        k->next = t_pool->blocks;
        t_pool->blocks = k;
        t_pool->bytes += cls;
        return;
    }
    unsigned b = bucket_of(cls);
    pthread_mutex_lock(&g_lock);
    k->next = g_free[dev.type][b];
    g_free[dev.type][b] = k;
    g_in_use[dev.type] -= cls;
    g_cached[dev.type] += cls;
    pthread_mutex_unlock(&g_lock);
}

void mt_alloc_empty_cache(void)
{
    pthread_mutex_lock(&g_lock);
    for (int t = 0; t < MT_DEVICE_TYPES; t++) {
        const mt_backend *be = mt_backend_peek((mt_device_type)t);
        for (int b = 0; b < NBUCKET; b++) {
            block *k = g_free[t][b];
            while (k) {
                block *n = k->next;
                if (be) be->raw_free(be->ctx, k->dev.index, k->ptr);
                free(k);
                k = n;
            }
            g_free[t][b] = NULL;
        }
        g_cached[t] = 0;
    }
    pthread_mutex_unlock(&g_lock);
}

size_t mt_alloc_in_use(mt_device_type type) { return g_in_use[type]; }
size_t mt_alloc_cached(mt_device_type type) { return g_cached[type]; }

unsigned long long mt_alloc_backend_count(mt_device_type type)
{
    pthread_mutex_lock(&g_lock);
    unsigned long long n = g_backend_allocs[type];
    pthread_mutex_unlock(&g_lock);
    return n;
}

mt_status mt_alloc_pool_begin(void)
{
    if (t_pool) return MT_ERR(MT_ERR_STATE, "allocator: a private pool (CUDA graph capture) is already open on this thread");
    mt_alloc_pool *p = calloc(1, sizeof *p);
    if (!p) return MT_ERR(MT_ERR_NOMEM, "allocator: no memory for a private pool");
    t_pool = p;
    return MT_OK;
}

mt_alloc_pool *mt_alloc_pool_end(void)
{
    mt_alloc_pool *p = t_pool;
    t_pool = NULL;
    return p;
}

void mt_alloc_pool_release(mt_alloc_pool *p)
{
    if (!p) return;
    block *k = p->blocks;
    pthread_mutex_lock(&g_lock);
    while (k) {
        block *n = k->next;
        unsigned b = bucket_of(k->bytes);
        k->next = g_free[k->dev.type][b];
        g_free[k->dev.type][b] = k;
        g_in_use[k->dev.type] -= k->bytes;
        g_cached[k->dev.type] += k->bytes;
        k = n;
    }
    pthread_mutex_unlock(&g_lock);
    free(p);
}

size_t mt_alloc_pool_bytes(const mt_alloc_pool *p) { return p ? p->bytes : 0; }
