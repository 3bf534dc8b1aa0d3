/* data/loader_cuda.cu: pinned host staging buffers, asynchronous host-to-device copies and
 * the events that tell a loader worker when a staging slot may be refilled (see data/loader.h).
 * Copies go on medtrain's stream of the device (core/cuda_common.h), so the kernels of the
 * training step that follow are ordered after them; or, with the loader's copy_stream, on a
 * second stream per device: it first waits for an event recorded on the compute stream (the
 * batch tensors may reuse blocks that queued work still reads: the caching allocator's reuse
 * is ordered on the compute stream only), and the compute stream waits for the event recorded
 * after the uploads, so the step's kernels still follow them. Unverified on a GPU. */
#include <pthread.h>

#include "../core/cuda_common.h"
#include "loader.h"

extern "C" mt_status mt_loader_cuda_host_alloc(size_t bytes, void **ptr)
{
    *ptr = NULL;
    if (bytes == 0) bytes = 1;
    cudaError_t e = cudaHostAlloc(ptr, bytes, cudaHostAllocPortable);
    if (e != cudaSuccess) {
        *ptr = NULL;
        return mt_error_set(e == cudaErrorMemoryAllocation ? MT_ERR_NOMEM : MT_ERR_CUDA, __FILE__, __LINE__,
                            "cudaHostAlloc(%zu bytes) for loader staging failed: %s (lower batch_size or prefetch)",
                            bytes, cudaGetErrorString(e));
    }
    return MT_OK;
}

extern "C" void mt_loader_cuda_host_free(void *ptr)
{
    if (ptr) cudaFreeHost(ptr);
}

extern "C" mt_status mt_loader_cuda_event_create(int device, void **ev)
{
    *ev = NULL;
    MT_CUDA_CHECK(cudaSetDevice(device));
    cudaEvent_t e;
    MT_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    *ev = (void *)e;
    return MT_OK;
}

extern "C" void mt_loader_cuda_event_destroy(void *ev)
{
    if (ev) cudaEventDestroy((cudaEvent_t)ev);
}

#define MAX_COPY_DEVICES 16

/* the copy stream of each device and the event that orders it after the compute stream */
static cudaStream_t g_copy[MAX_COPY_DEVICES];
static cudaEvent_t g_fence[MAX_COPY_DEVICES];
static pthread_mutex_t g_copy_lock = PTHREAD_MUTEX_INITIALIZER;

static mt_status copy_stream(int device, cudaStream_t *out)
{
    if (device < 0 || device >= MAX_COPY_DEVICES)
        return MT_ERR(MT_ERR_INVALID, "loader copy stream: device cuda:%d out of range", device);
    mt_status s = MT_OK;
    pthread_mutex_lock(&g_copy_lock);
    if (!g_copy[device]) {
        cudaError_t e = cudaSetDevice(device);
        if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&g_copy[device], cudaStreamNonBlocking);
        if (e == cudaSuccess) e = cudaEventCreateWithFlags(&g_fence[device], cudaEventDisableTiming);
        if (e != cudaSuccess) {
            if (g_copy[device]) cudaStreamDestroy(g_copy[device]);
            g_copy[device] = NULL;
            s = mt_cuda_status(e, "creating the loader's copy stream", __FILE__, __LINE__);
        }
    }
    *out = g_copy[device];
    pthread_mutex_unlock(&g_copy_lock);
    return s;
}

extern "C" mt_status mt_loader_cuda_begin(int device, int copy)
{
    if (!copy) return MT_OK;
    mt_cuda_ctx *c = mt_cuda_get(device);
    if (!c) return mt_last_status() ? mt_last_status() : MT_ERR_CUDA;
    cudaStream_t cs;
    MT_TRY(copy_stream(device, &cs));
    pthread_mutex_lock(&g_copy_lock); /* one fence event per device: record and wait together */
    cudaError_t e = cudaEventRecord(g_fence[device], c->stream);
    if (e == cudaSuccess) e = cudaStreamWaitEvent(cs, g_fence[device], 0);
    pthread_mutex_unlock(&g_copy_lock);
    MT_CUDA_CHECK(e);
    return MT_OK;
}

extern "C" mt_status mt_loader_cuda_upload(int device, int copy, void *dst, const void *src, size_t bytes)
{
    if (bytes == 0) return MT_OK;
    mt_cuda_ctx *c = mt_cuda_get(device);
    if (!c) return mt_last_status() ? mt_last_status() : MT_ERR_CUDA;
    cudaStream_t st = c->stream;
    if (copy) MT_TRY(copy_stream(device, &st));
    MT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, st));
    return MT_OK;
}

extern "C" mt_status mt_loader_cuda_record(int device, int copy, void *ev)
{
    mt_cuda_ctx *c = mt_cuda_get(device);
    if (!c) return mt_last_status() ? mt_last_status() : MT_ERR_CUDA;
    if (!copy) {
        MT_CUDA_CHECK(cudaEventRecord((cudaEvent_t)ev, c->stream));
        return MT_OK;
    }
    cudaStream_t cs;
    MT_TRY(copy_stream(device, &cs));
    MT_CUDA_CHECK(cudaEventRecord((cudaEvent_t)ev, cs));
    MT_CUDA_CHECK(cudaStreamWaitEvent(c->stream, (cudaEvent_t)ev, 0));
    return MT_OK;
}

extern "C" mt_status mt_loader_cuda_wait(void *ev)
{
    if (!ev) return MT_OK;
    MT_CUDA_CHECK(cudaEventSynchronize((cudaEvent_t)ev));
    return MT_OK;
}
