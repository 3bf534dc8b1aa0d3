/* data/loader_cuda.cu: pinned host staging buffers, asynchronous host-to-device copies and
 * the events that tell a loader worker when a staging slot may be refilled (see data/loader.h).
 * All copies go on medtrain's stream of the device (core/cuda_common.h), so the kernels of the
 * training step that follow are ordered after them. */
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

extern "C" mt_status mt_loader_cuda_upload(int device, void *dst, const void *src, size_t bytes)
{
    if (bytes == 0) return MT_OK;
    mt_cuda_ctx *c = mt_cuda_get(device);
    if (!c) return mt_last_status() ? mt_last_status() : MT_ERR_CUDA;
    MT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    return MT_OK;
}

extern "C" mt_status mt_loader_cuda_record(int device, void *ev)
{
    mt_cuda_ctx *c = mt_cuda_get(device);
    if (!c) return mt_last_status() ? mt_last_status() : MT_ERR_CUDA;
    MT_CUDA_CHECK(cudaEventRecord((cudaEvent_t)ev, c->stream));
    return MT_OK;
}

extern "C" mt_status mt_loader_cuda_wait(void *ev)
{
    if (!ev) return MT_OK;
    MT_CUDA_CHECK(cudaEventSynchronize((cudaEvent_t)ev));
    return MT_OK;
}
