/* core/alloc.h: the caching allocator over the backends' raw alloc/free
 * (device.h); implemented in core/alloc.c. Best fit with block splitting and
 * coalescing within backend segments (PyTorch's CUDACachingAllocator design),
 * so after the first training step no op calls malloc or cudaMalloc and memory
 * freed at one size serves requests of other sizes. Every pointer returned is
 * at least 64-byte aligned. Knows devices and bytes, nothing of tensors.
 */
/* Layer (docs/design.md): above device.h, below tensor.h. */
#ifndef MT_ALLOC_H
#define MT_ALLOC_H

#include <stddef.h>

#include "device.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A block of at least `bytes` bytes on `dev` (64-byte aligned; the smallest
 * cached free block that fits, split when the rest is worth keeping, else a new
 * backend segment). MT_ERR_NOMEM / the backend's error on failure,
 * MT_ERR_INVALID for a device index >= 16. */
mt_status mt_alloc(mt_device dev, size_t bytes, void **ptr);
/* Returns a block from mt_alloc (same dev and bytes) to the cache, merged with
 * free neighbours of its segment. ptr NULL: no-op; a pointer not from mt_alloc
 * is left alone and MT_ERR_INVALID recorded (mt_last_status). */
void mt_free(mt_device dev, void *ptr, size_t bytes);
/* Gives every wholly free segment back to its backend (segments holding a live
 * block stay). */
void mt_alloc_empty_cache(void);
/* Bytes currently handed out (block sizes: requests rounded up to 512 bytes, or
 * a whole block when its remainder was too small to split off) / held free in
 * the cache, for a device type. in_use + cached = bytes taken from the backend. */
size_t mt_alloc_in_use(mt_device_type type);
size_t mt_alloc_cached(mt_device_type type);
/* The high-water mark of mt_alloc_in_use since the start or the last
 * mt_alloc_reset_peak (which sets it to the current in-use bytes). */
size_t mt_alloc_peak_in_use(mt_device_type type);
void mt_alloc_reset_peak(mt_device_type type);
/* How many blocks the backend of a device type has allocated since the start (malloc /
 * cudaMalloc calls, i.e. cache misses): a training step that allocates nothing after its
 * warm-up leaves it unchanged (tests/test_lean_step.c). */
unsigned long long mt_alloc_backend_count(mt_device_type type);

/* Private pool for a captured CUDA graph (torch.cuda.graph's private memory pool):
 * between pool_begin and pool_end, blocks this thread frees go to a new pool
 * instead of the shared cache, and its allocations take blocks from that pool
 * first. A graph's replays reuse exactly the addresses of its capture, so the
 * blocks freed during the capture stay reserved (not handed to other users)
 * until pool_release gives them back to the shared cache, after the graph is
 * destroyed. Other threads are unaffected. pool_begin: MT_ERR_STATE when this
 * thread already has a pool open, MT_ERR_NOMEM. pool_end returns the pool
 * (NULL when none was open). */
typedef struct mt_alloc_pool mt_alloc_pool;
mt_status mt_alloc_pool_begin(void);
mt_alloc_pool *mt_alloc_pool_end(void);
void mt_alloc_pool_release(mt_alloc_pool *p);
/* Bytes of the blocks a pool holds. */
size_t mt_alloc_pool_bytes(const mt_alloc_pool *p);

#ifdef __cplusplus
}
#endif
#endif
