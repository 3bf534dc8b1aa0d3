/* core/device.c: backend registry, the CPU backend and device values (see device.h).
 *
 * Layer (docs/design.md, checked by tests/check_layers.sh): the bottom of the
 * tensor stack.
 *   calls: error, the CUDA backend (cuda.cu: mt_cuda_backend);
 *   never: alloc, tensor, op, autograd. */
#include "device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static mt_status cpu_raw_alloc(void *ctx, int index, size_t bytes, void **ptr)
{
    (void)ctx; (void)index;
    /* 64-byte alignment for SIMD and cache lines */
    size_t rounded = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) return MT_ERR(MT_ERR_NOMEM, "out of host memory allocating %zu bytes for a tensor", bytes);
    *ptr = p;
    return MT_OK;
}

static void cpu_raw_free(void *ctx, int index, void *ptr)
{
    (void)ctx; (void)index;
    free(ptr);
}

static mt_status cpu_copy(void *ctx, int index, void *dst, const void *src, size_t bytes, mt_copy_kind kind)
{
    (void)ctx; (void)index; (void)kind;
    memcpy(dst, src, bytes);
    return MT_OK;
}

static mt_status cpu_memset0(void *ctx, int index, void *ptr, size_t bytes)
{
    (void)ctx; (void)index;
    memset(ptr, 0, bytes);
    return MT_OK;
}

static mt_status cpu_fill(void *ctx, int index, mt_real *x, size_t n, mt_real v)
{
    (void)ctx; (void)index;
    for (size_t i = 0; i < n; i++) x[i] = v;
    return MT_OK;
}

static mt_status cpu_axpy(void *ctx, int index, size_t n, mt_real a, const mt_real *x, mt_real *y)
{
    (void)ctx; (void)index;
    ptrdiff_t nn = (ptrdiff_t)n;
#pragma omp parallel for schedule(static) if (nn > 65536)
    for (ptrdiff_t i = 0; i < nn; i++) y[i] += a * x[i];
    return MT_OK;
}

static mt_status cpu_sync(void *ctx, int index)
{
    (void)ctx; (void)index;
    return MT_OK;
}

static int cpu_count(void *ctx)
{
    (void)ctx;
    return 1;
}

static const mt_backend g_cpu_backend = {
    "cpu", NULL, cpu_raw_alloc, cpu_raw_free, cpu_copy, cpu_memset0, cpu_fill, cpu_axpy, cpu_sync, cpu_count,
};

static const mt_backend *g_backends[MT_DEVICE_TYPES] = {&g_cpu_backend, NULL};

void mt_backend_register(mt_device_type type, const mt_backend *b) { g_backends[type] = b; }

#ifdef MT_WITH_CUDA
/* core/cuda.cu: the CUDA backend, or NULL when no GPU is present. */
const mt_backend *mt_cuda_backend(void);
static int g_cuda_init_done;
#endif

#ifdef MT_WITH_CUDA
void mt_cuda_set_conv_options(int benchmark, int deterministic); /* core/cuda.cu */
#endif

void mt_set_conv_options(int benchmark, int deterministic)
{
#ifdef MT_WITH_CUDA
    mt_cuda_set_conv_options(benchmark, deterministic);
#else
    (void)benchmark;
    (void)deterministic;
#endif
}

const mt_backend *mt_backend_peek(mt_device_type type)
{
#ifdef MT_WITH_CUDA
    if (type == MT_CUDA && !g_cuda_init_done) {
        g_cuda_init_done = 1;
        const mt_backend *cuda = mt_cuda_backend();
        if (cuda) mt_backend_register(MT_CUDA, cuda);
    }
#endif
    if ((int)type < 0 || type >= MT_DEVICE_TYPES) return NULL;
    return g_backends[type];
}

const mt_backend *mt_backend_get(mt_device_type type)
{
    const mt_backend *b = mt_backend_peek(type);
    if (!b) {
        if (type == MT_CUDA) {
#ifdef MT_WITH_CUDA
            MT_ERR(MT_ERR_UNSUPPORTED, "no CUDA device is available: use --device cpu");
#else
            MT_ERR(MT_ERR_UNSUPPORTED,
                   "this medtrain was built without CUDA (nvcc/cuDNN not found at build time): use --device cpu");
#endif
        } else {
            MT_ERR(MT_ERR_INVALID, "unknown device type %d", (int)type);
        }
    }
    return b;
}

int mt_device_available(mt_device d)
{
    const mt_backend *b = mt_backend_peek(d.type);
    if (!b) return 0;
    return d.index >= 0 && d.index < b->device_count(b->ctx);
}

mt_device mt_default_device(void)
{
    mt_device g = mt_cuda(0);
    return mt_device_available(g) ? g : mt_cpu();
}

static int g_threads;

void mt_set_num_threads(int n)
{
    g_threads = n;
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#endif
}

int mt_get_num_threads(void)
{
#ifdef _OPENMP
    return g_threads > 0 ? g_threads : omp_get_max_threads();
#else
    return 1;
#endif
}

mt_device mt_cpu(void)
{
    mt_device d = {MT_CPU, 0};
    return d;
}

mt_device mt_cuda(int index)
{
    mt_device d = {MT_CUDA, index};
    return d;
}

int mt_device_eq(mt_device a, mt_device b) { return a.type == b.type && a.index == b.index; }

mt_status mt_device_parse(const char *s, mt_device *out)
{
    if (!strcmp(s, "cpu")) {
        *out = mt_cpu();
        return MT_OK;
    }
    if (!strcmp(s, "cuda")) {
        *out = mt_cuda(0);
        return MT_OK;
    }
    if (!strncmp(s, "cuda:", 5)) {
        char *end = NULL;
        long i = strtol(s + 5, &end, 10);
        if (end != s + 5 && *end == '\0' && i >= 0 && i < 1024) {
            *out = mt_cuda((int)i);
            return MT_OK;
        }
    }
    return MT_ERR(MT_ERR_INVALID, "unknown device '%s': use cpu, cuda or cuda:N", s);
}

const char *mt_device_str(mt_device d, char *buf, size_t len)
{
    if (d.type == MT_CPU) snprintf(buf, len, "cpu");
    else snprintf(buf, len, "cuda:%d", d.index);
    return buf;
}

static unsigned long long g_d2h[MT_DEVICE_TYPES];

void mt_d2h_note(mt_device_type type)
{
    if ((int)type >= 0 && type < MT_DEVICE_TYPES) __atomic_add_fetch(&g_d2h[type], 1, __ATOMIC_RELAXED);
}

unsigned long long mt_d2h_count(mt_device_type type)
{
    return (int)type >= 0 && type < MT_DEVICE_TYPES ? __atomic_load_n(&g_d2h[type], __ATOMIC_RELAXED) : 0;
}
