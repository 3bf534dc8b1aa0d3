/* core/alloc.c: caching allocator over the backends' raw alloc/free.
 *
 * Sizes are rounded up to a size class (512-byte multiples below 1 MiB, then
 * 1/8 steps of the next power of two), and freed blocks are kept in a per-
 * (device, class) free list for reuse, as PyTorch's caching allocators do. A
 * training step repeats the same sizes, so after the first step no op calls
 * malloc or cudaMalloc. When a raw allocation fails the cache is emptied and
 * the allocation retried once. Thread-safe (one mutex).
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
