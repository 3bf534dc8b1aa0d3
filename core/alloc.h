/* core/alloc.h: the caching allocator over the backends' raw alloc/free
 * (device.h); implemented in core/alloc.c. Blocks are kept per (device, size
 * class) and reused, so after the first training step no op calls malloc or
 * cudaMalloc. Knows devices and bytes, nothing of tensors.
 */
/* Layer (docs/design.md): above device.h, below tensor.h. */
#ifndef MT_ALLOC_H
#define MT_ALLOC_H

#include <stddef.h>

#include "device.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A block of at least `bytes` bytes on `dev` (reused from the cache when one of
 * its size class is free). MT_ERR_NOMEM / the backend's error on failure. */
mt_status mt_alloc(mt_device dev, size_t bytes, void **ptr);
/* Returns a block from mt_alloc (same dev and bytes) to the cache. ptr NULL: no-op. */
void mt_free(mt_device dev, void *ptr, size_t bytes);
/* Gives every cached block back to its backend. */
void mt_alloc_empty_cache(void);
/* Bytes currently handed out / held in the cache, for a device type. */
size_t mt_alloc_in_use(mt_device_type type);
size_t mt_alloc_cached(mt_device_type type);
/* How many blocks the backend of a device type has allocated since the start (malloc /
 * cudaMalloc calls, i.e. cache misses): a training step that allocates nothing after its
 * warm-up leaves it unchanged (tests/test_lean_step.c). */
unsigned long long mt_alloc_backend_count(mt_device_type type);

#ifdef __cplusplus
}
#endif
#endif
