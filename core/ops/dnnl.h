/* core/ops/dnnl.h: oneDNN (Intel's Deep Neural Network Library, Debian
 * libdnnl 2.x, the library PyTorch's CPU convolutions run in) under medtrain's
 * CPU ops: one CPU engine and stream, a primitive cache keyed by op kind and
 * every shape and parameter, and the choice of convolution implementation.
 *
 * Memory: medtrain's tensors stay plain row-major NCHW; a cached primitive
 * wraps them with memory objects (dnnl_memory_set_data_handle). When the
 * primitive wants another layout (blocked nChw8c, ...), its inputs are
 * reordered into, and its outputs out of, scratch taken from medtrain's
 * caching allocator (core/alloc.h) for the call, together with the primitive's
 * own scratchpad (user scratchpad mode), so a warm step allocates nothing.
 * Weights change every training step, so their reorder runs on every call
 * (nothing reordered is cached).
 *
 * Only the float32 build has oneDNN (MT_HAVE_DNNL); the float64 build used by
 * the gradient checks keeps the im2col convolution.
 */
#ifndef MT_OPS_DNNL_H
#define MT_OPS_DNNL_H

#include <stddef.h>

#include "../op.h"

#ifdef MT_REAL_DOUBLE
#define MT_HAVE_DNNL 0
#else
#define MT_HAVE_DNNL 1
#endif

/* Which CPU convolution runs (conv2d and conv_transpose2d): the one selector of
 * the three CPU implementations (docs/performance.md). */
typedef enum mt_conv_impl {
    MT_CONV_IMPL_AUTO = 0,    /* per shape: mt_*_use_dnnl, mt_winograd_profitable (winograd.h) */
    MT_CONV_IMPL_IM2COL = 1,  /* im2col + OpenBLAS GEMM (gemm.h) */
    MT_CONV_IMPL_DNNL = 2,    /* oneDNN wherever it supports the shape (float32 build) */
    MT_CONV_IMPL_WINOGRAD = 3 /* Winograd (F(2x2,3x3) / F(4x4,3x3)) for every conv2d it supports (winograd.h) */
} mt_conv_impl;

/* The implementation in force: set by mt_conv_set_impl, else read once from the
 * environment variable MT_CONV_IMPL (auto | im2col | dnnl | winograd; unset or
 * unknown values mean auto, an unknown value also prints one warning to stderr;
 * dnnl means im2col in the float64 build, which has no oneDNN). */
mt_conv_impl mt_conv_get_impl(void);
/* Forces an implementation for this process (tests, benchmarks); returns the
 * previous one. Not meant to be changed while another thread runs convolutions. */
mt_conv_impl mt_conv_set_impl(mt_conv_impl impl);
/* "auto", "im2col", "dnnl" or "winograd". */
const char *mt_conv_impl_name(mt_conv_impl impl);

#if MT_HAVE_DNNL
#include <dnnl.h>

/* Builds the primitive descriptor of one cache entry. `ctx` is the caller's
 * parameter block. It sets *pd and lists the n_args (<= MT_DNNL_MAX_ARGS)
 * execution arguments: their DNNL_ARG_* number, the plain layout of medtrain's
 * buffer (user_md) and whether the primitive writes it. Errors: MT_ERR with the
 * primitive's name (already created objects are destroyed by the caller). */
#define MT_DNNL_MAX_ARGS 4
typedef struct mt_dnnl_args {
    int n;
    int arg[MT_DNNL_MAX_ARGS];
    dnnl_memory_desc_t user_md[MT_DNNL_MAX_ARGS];
    int is_output[MT_DNNL_MAX_ARGS];
} mt_dnnl_args;
typedef mt_status (*mt_dnnl_build_fn)(const void *ctx, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                                      dnnl_primitive_desc_t *pd, mt_dnnl_args *args);

/* Runs one cached primitive: looks up `key` (key_bytes <= 128 bytes, compared
 * bytewise, so zero its padding), building it with build(ctx) on a miss, then
 * executes it on medtrain buffers ptr[i] (one per argument, in the order the
 * builder listed them; all plain layouts), reordering through scratch as
 * described above, and waits for the stream. `name` describes the primitive and
 * its shape in error messages ("conv2d forward x[4,64,128,128] w[...]").
 * Thread-safe: a mutex is held across the lookup and the execution (oneDNN's
 * OpenMP threads run inside). Errors: MT_ERR_UNSUPPORTED for a oneDNN failure
 * (naming the call, oneDNN's status and `name`), MT_ERR_NOMEM for scratch. */
mt_status mt_dnnl_run(const void *key, size_t key_bytes, const char *name, mt_dnnl_build_fn build, const void *ctx,
                      void *const *ptr);

/* Converts a oneDNN status into MT_ERR_UNSUPPORTED (invalid arguments: MT_ERR_INVALID)
 * "oneDNN <call> failed (<status>) for <name>" at the caller's file:line; MT_OK for dnnl_success. */
mt_status mt_dnnl_check_at(dnnl_status_t st, const char *call, const char *name, const char *file, int line);
#define MT_DNNL_TRY(call, name)                                                         \
    do {                                                                                \
        mt_status mt_dnnl_s_ = mt_dnnl_check_at((call), #call, (name), __FILE__, __LINE__); \
        if (mt_dnnl_s_ != MT_OK) return mt_dnnl_s_;                                     \
    } while (0)

/* Primitive-cache control. Capacity: entries kept (least recently used evicted
 * first); default 256, from MT_DNNL_CACHE_CAPACITY when set. Returns the
 * previous capacity; a smaller one evicts at once. n < 1 is treated as 1. */
int mt_dnnl_cache_set_capacity(int n);
/* Entries now held, and primitives built since the start (cache misses). */
int mt_dnnl_cache_size(void);
unsigned long long mt_dnnl_cache_misses(void);
/* Destroys every cached primitive, the stream and the engine (registered with
 * atexit on first use; tests may call it any time no convolution runs; the
 * next oneDNN call starts afresh). */
void mt_dnnl_release(void);

/* Whether oneDNN should run this node's conv2d / conv_transpose2d (defined in
 * conv_dnnl.c): never for shapes its path does not cover; with MT_CONV_IMPL=auto
 * only for the shape classes where it measured faster (docs/performance.md). */
int mt_conv2d_use_dnnl(const mt_node *n);
int mt_conv_transpose2d_use_dnnl(const mt_node *n);
/* The oneDNN kernels of conv2d and conv_transpose2d (same contract as the CPU
 * kernels in conv2d.c / conv_transpose2d.c; bias gradient via gemm.h). */
mt_status mt_conv2d_forward_dnnl(mt_node *n);
mt_status mt_conv2d_backward_dnnl(mt_node *n);
mt_status mt_conv_transpose2d_forward_dnnl(mt_node *n);
mt_status mt_conv_transpose2d_backward_dnnl(mt_node *n);

/* Layout the conv primitives are created with (measurements, tests):
 * 0 = format_tag any (oneDNN's choice, blocked on AVX2, reordered per call),
 * 1 = plain nchw / oihw (no reorders). Default 0; returns the previous value.
 * Changing it builds new primitives (it is part of the key). */
int mt_dnnl_set_plain_layout(int plain);
int mt_dnnl_plain_layout(void);
#endif

#endif
