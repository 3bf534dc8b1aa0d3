/* core/device.h: a backend is a small vtable of memory primitives plus a
 * context (ggml style). Ops do not live here: each op's kernels are in its
 * descriptor (op.h). The CPU backend is always present; the CUDA backend is
 * registered when medtrain is built with nvcc/cuDNN (-DMT_WITH_CUDA).
 *
 * All memory goes through a caching allocator (alloc.h) on top of the
 * backend's raw alloc/free, so a training step does not call malloc or
 * cudaMalloc per op.
 *
 * Also here: the element type mt_real and device values (mt_device, "cpu",
 * "cuda:N"), which everything above needs and which need no tensor.
 *
 * Layer (docs/design.md): the bottom of the tensor stack, above error.h;
 * includes nothing else of core.
 */
#ifndef MT_DEVICE_H
#define MT_DEVICE_H

#include <stddef.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* `mt_real` is the floating type of this build: float normally, double when
 * compiled with -DMT_REAL_DOUBLE (the float64 build used by the
 * finite-difference gradient checks); its dtype is MT_REAL (tensor.h). */
#ifdef MT_REAL_DOUBLE
typedef double mt_real;
#else
typedef float mt_real;
#endif

typedef enum mt_device_type { MT_CPU = 0, MT_CUDA = 1, MT_DEVICE_TYPES = 2 } mt_device_type;

typedef struct mt_device {
    mt_device_type type;
    int index; /* cuda:N; 0 for the CPU */
} mt_device;

/* Devices */
mt_device mt_cpu(void);
mt_device mt_cuda(int index);
int mt_device_eq(mt_device a, mt_device b);
/* Parses "cpu", "cuda", "cuda:N". MT_ERR_INVALID on anything else. */
mt_status mt_device_parse(const char *s, mt_device *out);
/* "cpu" or "cuda:N" */
const char *mt_device_str(mt_device d, char *buf, size_t len);

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
    /* Graphs of queued work (CUDA graphs; NULL on the CPU): graph_begin starts capturing
     * what this thread queues on the device's stream (nothing runs until launched),
     * graph_end stops and instantiates it (*exec; on failure the capture is ended and
     * discarded, *exec NULL), graph_launch replays it on the stream (asynchronous),
     * graph_destroy frees it. Errors carry the CUDA call and file:line. */
    mt_status (*graph_begin)(void *ctx, int index);
    mt_status (*graph_end)(void *ctx, int index, void **exec);
    mt_status (*graph_launch)(void *ctx, int index, void *exec);
    void (*graph_destroy)(void *ctx, int index, void *exec);
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

/* Device-to-host reads of tensor data, per device type of the tensor read
 * (issue 13's lean step: a training step reads nothing back but the loss at
 * log steps). Counted where tensors reach the host: mt_tensor_to_host of any
 * tensor (CPU ones too, so the count is the same with or without a GPU) and
 * mt_tensor_copy / mt_tensor_to from a GPU tensor into a CPU one. note adds
 * one (called by tensor.c); count reads the total since the start. */
void mt_d2h_note(mt_device_type type);
unsigned long long mt_d2h_count(mt_device_type type);

/* Convolution algorithm options of the GPU backend (cuDNN; nothing on the CPU):
 * benchmark = time the candidate algorithms once per shape (cudnnFind*AlgorithmEx,
 * torch.backends.cudnn.benchmark) instead of taking cuDNN's heuristic order;
 * deterministic = only algorithms whose results do not depend on scheduling
 * (torch.use_deterministic_algorithms for convolutions). train.cudnn_benchmark
 * and train.deterministic set them. */
void mt_set_conv_options(int benchmark, int deterministic);

/* Threads used by CPU kernels (OpenMP); 0 = library default. */
void mt_set_num_threads(int n);
int mt_get_num_threads(void);

#ifdef __cplusplus
}
#endif
#endif
