/* core/device.h: a backend is a small vtable of memory primitives plus a
 * context (ggml style). Ops do not live here: each op's kernels are in its
 * descriptor (op.h). The CPU backend is always present; the CUDA backend is
 * registered when medtrain is built with nvcc/cuDNN (-DMT_WITH_CUDA).
 *
 * All memory goes through a caching allocator (core/alloc.c) on top of the
 * backend's raw alloc/free, so a training step does not call malloc or
 * cudaMalloc per op.
 */
#ifndef MT_DEVICE_H
#define MT_DEVICE_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_copy_kind { MT_H2D, MT_D2H, MT_D2D, MT_H2H } mt_copy_kind;

typedef struct mt_backend {
    const char *name;
    void *ctx;
    /* raw memory (the caching allocator calls these) */
    mt_status (*raw_alloc)(void *ctx, int index, size_t bytes, void **ptr);
    void (*raw_free)(void *ctx, int index, void *ptr);
    /* synchronous copy of `bytes` between host and this device */
    mt_status (*copy)(void *ctx, int index, void *dst, const void *src, size_t bytes, mt_copy_kind kind);
    /* set `bytes` bytes to zero */
    mt_status (*memset0)(void *ctx, int index, void *ptr, size_t bytes);
    /* x[i] = v for n mt_real elements */
    mt_status (*fill)(void *ctx, int index, mt_real *x, size_t n, mt_real v);
    /* y[i] += a * x[i] for n mt_real elements (gradient accumulation) */
    mt_status (*axpy)(void *ctx, int index, size_t n, mt_real a, const mt_real *x, mt_real *y);
    /* wait for all queued work on the device */
    mt_status (*synchronize)(void *ctx, int index);
    /* number of devices of this type (1 for CPU, cudaGetDeviceCount for CUDA) */
    int (*device_count)(void *ctx);
} mt_backend;

/* The backend of a device type, or NULL (with an error recorded) if this
 * build or machine has none (e.g. CUDA without a GPU). */
const mt_backend *mt_backend_get(mt_device_type type);
/* Same, but records no error when absent (NULL). */
const mt_backend *mt_backend_peek(mt_device_type type);
/* Registers a backend (called by the CUDA backend's initialiser). */
void mt_backend_register(mt_device_type type, const mt_backend *b);
/* 1 if a usable device exists (CUDA compiled in and a GPU present). */
int mt_device_available(mt_device d);
/* The default training device: cuda:0 when available, else cpu. */
mt_device mt_default_device(void);

/* Caching allocator (core/alloc.c). Blocks are kept per (device, size class)
 * and reused; mt_alloc_empty_cache returns them to the backend. */
mt_status mt_alloc(mt_device dev, size_t bytes, void **ptr);
void mt_free(mt_device dev, void *ptr, size_t bytes);
void mt_alloc_empty_cache(void);
/* Bytes currently handed out / held in the cache, for a device type. */
size_t mt_alloc_in_use(mt_device_type type);
size_t mt_alloc_cached(mt_device_type type);

/* Threads used by CPU kernels (OpenMP); 0 = library default. */
void mt_set_num_threads(int n);
int mt_get_num_threads(void);

#ifdef __cplusplus
}
#endif
#endif
