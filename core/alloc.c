/* core/alloc.c: best-fit caching allocator over the backends' raw alloc/free,
 * after PyTorch's CUDACachingAllocator.
 *
 * Memory comes from the backend in segments. A request is rounded up to a
 * multiple of 512 bytes and served from the smallest free block at least as big
 * in its pool (small pool: requests up to 1 MiB, carved from 2 MiB segments;
 * large pool: the rest, from segments of 20 MiB for requests under 10 MiB, else
 * of the request rounded up to 2 MiB). A block larger than the request is split
 * and the remainder stays free, when it is worth keeping (>= 512 bytes in the
 * small pool, > 1 MiB in the large one). On free, a block merges with its free
 * neighbours in the same segment, so memory freed in the backward pass serves
 * the forward pass's different sizes. Only when no free block fits is a new
 * segment allocated; if the pool then holds at least a segment's worth of free
 * memory in pieces that do not fit, wholly free segments (largest first) go back
 * to the backend before, so the cache does not keep the layout of a pattern that
 * changed (the first step's, before the optimizer state exists) next to the new
 * one. After a failed allocation every wholly free segment is released and the
 * allocation retried once. A training step repeats its requests, so after its
 * first steps no op calls malloc or cudaMalloc (tests/test_lean_step.c).
 *
 * Every block starts at a multiple of 512 bytes from its segment's base, which
 * the backends align to 64 (CPU aligned_alloc) or 256 bytes (cudaMalloc).
 * Thread-safe: one mutex guards all pools (the backend is called under it).
 * Under AddressSanitizer (the test-sanitize build) host memory that is not
 * handed out is poisoned: free blocks, and a block's bytes past the request,
 * so a read or write outside a live tensor is reported although the blocks
 * share a segment.
 * A CUDA-graph capture opens a private pool on its thread (mt_alloc_pool_begin,
 * alloc.h): blocks that thread frees meanwhile stay reserved for the graph (still
 * counted in use) instead of returning to the free lists, and its allocations
 * take the best-fitting reserved block first.
 *
 * Layer (docs/design.md, checked by tests/check_layers.sh): above device,
 * below tensor; knows devices and bytes, nothing of tensors.
 *   calls: device (mt_backend_get/peek), error;
 *   never: tensor, op, autograd.
 */
#include "alloc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "device.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
/* host memory only: device pointers are not the process's memory */
#define HOST_POISON(type, p, n) \
    do { if ((type) == MT_CPU) ASAN_POISON_MEMORY_REGION((p), (n)); } while (0)
#define HOST_UNPOISON(type, p, n) \
    do { if ((type) == MT_CPU) ASAN_UNPOISON_MEMORY_REGION((p), (n)); } while (0)
#else
#define HOST_POISON(type, p, n) ((void)0)
#define HOST_UNPOISON(type, p, n) ((void)0)
#endif

#define MIN_BLOCK ((size_t)512)            /* rounding unit and smallest block */
#define SMALL_SIZE ((size_t)1 << 20)       /* largest request of the small pool */
#define SMALL_SEGMENT ((size_t)2 << 20)    /* small pool segment size */
#define LARGE_SEGMENT ((size_t)20 << 20)   /* segment for large requests under MID_SIZE */
#define MID_SIZE ((size_t)10 << 20)
#define ROUND_LARGE ((size_t)2 << 20)      /* larger segments: request rounded up to this */
#define MAX_INDEX 16                       /* devices per type */
#define NBIN 64                            /* free-list bins: floor(log2(size)) */

typedef struct block block;
typedef struct pool pool;

struct block {
    char *ptr;
    size_t size;
    int allocated;
    pool *owner;
    block *prev, *next;           /* address neighbours in the same segment */
    block *fprev, *fnext;         /* free list of the bin (sorted by size, then ptr) */
    block *hnext;                 /* in-use hash chain */
};

struct pool {
    mt_device dev;
    block *bin[NBIN];
    size_t free_bytes; /* on the free lists */
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pool g_pools[MT_DEVICE_TYPES][MAX_INDEX][2]; /* [type][index][small=0, large=1] */
static size_t g_in_use[MT_DEVICE_TYPES], g_cached[MT_DEVICE_TYPES], g_peak[MT_DEVICE_TYPES];
static unsigned long long g_backend_allocs[MT_DEVICE_TYPES]; /* raw_alloc calls that succeeded */

/* The private pool of a graph capture (mt_alloc_pool_begin): blocks freed during
 * it, still marked allocated (so no neighbour merges into them), chained by fnext. */
struct mt_alloc_pool {
    block *blocks;
    size_t bytes;
};
static _Thread_local mt_alloc_pool *t_pool; /* open on this thread; NULL = none */

/* ---- in-use blocks by pointer (chained hash table) ---- */

static block **g_hash;
static size_t g_hash_cap, g_hash_n;

static size_t hash_ptr(const void *p, size_t cap)
{
    uint64_t x = (uint64_t)(uintptr_t)p >> 6;
    x *= 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 20) & (cap - 1);
}

/* 0 when the table could not grow (the block is not recorded). */
static int hash_insert(block *b)
{
    if (g_hash_n + 1 > g_hash_cap / 2) {
        size_t cap = g_hash_cap ? g_hash_cap * 2 : 1024;
        block **t = calloc(cap, sizeof *t);
        if (!t) return 0;
        for (size_t i = 0; i < g_hash_cap; i++) {
            for (block *k = g_hash[i], *n; k; k = n) {
                n = k->hnext;
                size_t h = hash_ptr(k->ptr, cap);
                k->hnext = t[h];
                t[h] = k;
            }
        }
        free(g_hash);
        g_hash = t;
        g_hash_cap = cap;
    }
    size_t h = hash_ptr(b->ptr, g_hash_cap);
    b->hnext = g_hash[h];
    g_hash[h] = b;
    g_hash_n++;
    return 1;
}

static block *hash_remove(const void *p)
{
    if (!g_hash_cap) return NULL;
    for (block **pp = &g_hash[hash_ptr(p, g_hash_cap)]; *pp; pp = &(*pp)->hnext) {
        if ((*pp)->ptr == p) {
            block *b = *pp;
            *pp = b->hnext;
            g_hash_n--;
            return b;
        }
    }
    return NULL;
}

/* ---- free lists ---- */

static unsigned bin_of(size_t size)
{
    unsigned b = 0;
    while (size > 1 && b < NBIN - 1) {
        size >>= 1;
        b++;
    }
    return b;
}

static void free_insert(pool *p, block *b)
{
    block **pp = &p->bin[bin_of(b->size)], *prev = NULL;
    while (*pp && ((*pp)->size < b->size || ((*pp)->size == b->size && (*pp)->ptr < b->ptr))) {
        prev = *pp;
        pp = &(*pp)->fnext;
    }
    b->fnext = *pp;
    b->fprev = prev;
    if (*pp) (*pp)->fprev = b;
    *pp = b;
    p->free_bytes += b->size;
}

static void free_remove(pool *p, block *b)
{
    if (b->fprev) b->fprev->fnext = b->fnext;
    else p->bin[bin_of(b->size)] = b->fnext;
    if (b->fnext) b->fnext->fprev = b->fprev;
    b->fprev = b->fnext = NULL;
    p->free_bytes -= b->size;
}

/* The smallest free block of at least `size` bytes, or NULL. */
static block *best_fit(pool *p, size_t size)
{
    for (unsigned i = bin_of(size); i < NBIN; i++)
        for (block *b = p->bin[i]; b; b = b->fnext)
            if (b->size >= size) return b;
    return NULL;
}

/* ---- sizes ---- */

static size_t round_size(size_t bytes)
{
    if (bytes < MIN_BLOCK) return MIN_BLOCK;
    return (bytes + MIN_BLOCK - 1) / MIN_BLOCK * MIN_BLOCK;
}

static size_t segment_size(size_t size)
{
    if (size <= SMALL_SIZE) return SMALL_SEGMENT;
    if (size < MID_SIZE) return LARGE_SEGMENT;
    return (size + ROUND_LARGE - 1) / ROUND_LARGE * ROUND_LARGE;
}

static int worth_splitting(const pool *p, size_t remaining, int small)
{
    (void)p;
    return small ? remaining >= MIN_BLOCK : remaining > SMALL_SIZE;
}

/* ---- segments ---- */

/* Releases wholly free segments of pool p, the largest first, until `want`
 * bytes went back to the backend (SIZE_MAX: all of them); returns the bytes
 * released (lock held). */
static size_t release_pool(pool *p, size_t want)
{
    const mt_backend *be = mt_backend_peek(p->dev.type);
    size_t released = 0;
    for (int n = NBIN - 1; n >= 0 && released < want; n--) {
        block *b = p->bin[n];
        while (b && released < want) {
            block *next = b->fnext;
            if (!b->prev && !b->next) { /* a whole segment */
                free_remove(p, b);
                HOST_UNPOISON(p->dev.type, b->ptr, b->size);
                if (be) be->raw_free(be->ctx, p->dev.index, b->ptr);
                g_cached[p->dev.type] -= b->size;
                released += b->size;
                free(b);
            }
            b = next;
        }
    }
    return released;
}

/* Releases every wholly free segment of every pool (lock held). */
static void release_free_segments(void)
{
    for (int t = 0; t < MT_DEVICE_TYPES; t++)
        for (int i = 0; i < MAX_INDEX; i++)
            for (int s = 0; s < 2; s++) release_pool(&g_pools[t][i][s], SIZE_MAX);
}

/* A new free segment of `bytes` in pool p (lock held); NULL with the error recorded. */
static block *new_segment(const mt_backend *be, pool *p, size_t bytes)
{
    block *b = calloc(1, sizeof *b);
    if (!b) {
        MT_ERR(MT_ERR_NOMEM, "out of host memory for the allocator's block record");
        return NULL;
    }
    void *raw = NULL;
    mt_status s = be->raw_alloc(be->ctx, p->dev.index, bytes, &raw);
    if (s != MT_OK) { /* give the cache back and retry once */
        mt_error_clear();
        release_free_segments();
        s = be->raw_alloc(be->ctx, p->dev.index, bytes, &raw);
        if (s != MT_OK) {
            free(b);
            return NULL;
        }
    }
    b->ptr = raw;
    HOST_POISON(p->dev.type, raw, bytes); /* nothing handed out yet */
    b->size = bytes;
    b->owner = p;
    g_backend_allocs[p->dev.type]++;
    g_cached[p->dev.type] += bytes;
    return b;
}

/* ---- API ---- */

mt_status mt_alloc(mt_device dev, size_t bytes, void **ptr)
{
    const mt_backend *be = mt_backend_get(dev.type);
    if (!be) return mt_last_status();
    if (dev.index < 0 || dev.index >= MAX_INDEX)
        return MT_ERR(MT_ERR_INVALID, "device index %d out of range: the allocator serves devices 0..%d",
                      dev.index, MAX_INDEX - 1);
    size_t size = round_size(bytes);
    if (size < bytes) return MT_ERR(MT_ERR_NOMEM, "allocation of %zu bytes is too large", bytes);
    int small = size <= SMALL_SIZE;
    pthread_mutex_lock(&g_lock);
    if (t_pool) { /* a capture: the smallest reserved block of this device that fits */
        block **best = NULL;
        for (block **pp = &t_pool->blocks; *pp; pp = &(*pp)->fnext)
            if ((*pp)->size >= size && mt_device_eq((*pp)->owner->dev, dev) && (!best || (*pp)->size < (*best)->size))
                best = pp;
        if (best) {
            block *b = *best;
            if (hash_insert(b)) { /* still counted in use: only the pool's list changes */
                *best = b->fnext;
                b->fnext = NULL;
                t_pool->bytes -= b->size;
                *ptr = b->ptr;
                HOST_UNPOISON(dev.type, b->ptr, bytes);
                pthread_mutex_unlock(&g_lock);
                return MT_OK;
            }
        }
    }
    pool *p = &g_pools[dev.type][dev.index][small ? 0 : 1];
    p->dev = dev;
    block *b = best_fit(p, size);
    if (b) {
        free_remove(p, b);
    } else {
        /* growing while the pool holds at least as much free memory, in pieces
         * that do not fit: give back wholly free segments first, so the cache
         * does not keep the fragments of a pattern that changed (step 1's order,
         * the optimizer state's first allocation) next to the new segment */
        size_t seg = segment_size(size);
        if (p->free_bytes >= seg) release_pool(p, seg);
        b = new_segment(be, p, seg);
        if (!b) {
            pthread_mutex_unlock(&g_lock);
            return mt_last_status();
        }
    }
    if (b->size > size && worth_splitting(p, b->size - size, small)) {
        block *rest = calloc(1, sizeof *rest);
        if (rest) { /* without a record the block is handed out whole */
            rest->ptr = b->ptr + size;
            rest->size = b->size - size;
            rest->owner = p;
            rest->prev = b;
            rest->next = b->next;
            if (b->next) b->next->prev = rest;
            b->next = rest;
            b->size = size;
            free_insert(p, rest);
        }
    }
    if (!hash_insert(b)) {
        free_insert(p, b);
        pthread_mutex_unlock(&g_lock);
        return MT_ERR(MT_ERR_NOMEM, "out of host memory for the allocator's table");
    }
    b->allocated = 1;
    g_cached[dev.type] -= b->size;
    g_in_use[dev.type] += b->size;
    if (g_in_use[dev.type] > g_peak[dev.type]) g_peak[dev.type] = g_in_use[dev.type];
    *ptr = b->ptr;
    HOST_UNPOISON(dev.type, b->ptr, bytes); /* the rest of the block stays poisoned */
    pthread_mutex_unlock(&g_lock);
    return MT_OK;
}

/* Merges free neighbour n into b (both in pool p; n follows b). */
static void merge_next(pool *p, block *b, block *n)
{
    free_remove(p, n);
    b->size += n->size;
    b->next = n->next;
    if (n->next) n->next->prev = b;
    free(n);
}

/* Returns in-use block b to its pool's free list, merged with free neighbours (lock held). */
static void give_back(block *b)
{
    pool *p = b->owner;
    mt_device_type t = p->dev.type;
    b->allocated = 0;
    g_in_use[t] -= b->size;
    g_cached[t] += b->size;
    if (b->next && !b->next->allocated) merge_next(p, b, b->next);
    if (b->prev && !b->prev->allocated) { /* b joins its free predecessor */
        block *a = b->prev;
        free_remove(p, a);
        a->size += b->size;
        a->next = b->next;
        if (b->next) b->next->prev = a;
        free(b);
        b = a;
    }
    free_insert(p, b);
}

void mt_free(mt_device dev, void *ptr, size_t bytes)
{
    (void)bytes;
    if (!ptr) return;
    pthread_mutex_lock(&g_lock);
    block *b = hash_remove(ptr);
    if (!b) { /* not from mt_alloc: nothing safe to do */
        pthread_mutex_unlock(&g_lock);
        char name[32];
        MT_ERR(MT_ERR_INVALID, "mt_free of %p on %s: not a block from mt_alloc", ptr,
               mt_device_str(dev, name, sizeof name));
        return;
    }
    HOST_POISON(b->owner->dev.type, b->ptr, b->size);
    if (t_pool) { /* a capture: reserved for the graph, still in use */
        b->fnext = t_pool->blocks;
        t_pool->blocks = b;
        t_pool->bytes += b->size;
    } else {
        give_back(b);
    }
    pthread_mutex_unlock(&g_lock);
}

void mt_alloc_empty_cache(void)
{
    pthread_mutex_lock(&g_lock);
    release_free_segments();
    pthread_mutex_unlock(&g_lock);
}

/* One counter of a device type, read under the lock. */
static size_t read_counter(const size_t *counter)
{
    pthread_mutex_lock(&g_lock);
    size_t n = *counter;
    pthread_mutex_unlock(&g_lock);
    return n;
}

size_t mt_alloc_in_use(mt_device_type type) { return read_counter(&g_in_use[type]); }
size_t mt_alloc_cached(mt_device_type type) { return read_counter(&g_cached[type]); }
size_t mt_alloc_peak_in_use(mt_device_type type) { return read_counter(&g_peak[type]); }

void mt_alloc_reset_peak(mt_device_type type)
{
    pthread_mutex_lock(&g_lock);
    g_peak[type] = g_in_use[type];
    pthread_mutex_unlock(&g_lock);
}

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
    pthread_mutex_lock(&g_lock);
    for (block *b = p->blocks, *n; b; b = n) {
        n = b->fnext;
        b->fnext = NULL;
        give_back(b);
    }
    pthread_mutex_unlock(&g_lock);
    free(p);
}

size_t mt_alloc_pool_bytes(const mt_alloc_pool *p) { return p ? p->bytes : 0; }
