/* train/dist_nccl.cu: the NCCL backend of data-parallel training, built with
 * nvcc as the plugin build/libmedtrain_nccl.so (train/dist_plugin.h) when
 * $(CUDA_HOME)/include/nccl.h exists (CUDA 13 ships libnccl). Gradients are
 * summed in device memory by ncclAllReduce on medtrain's CUDA stream, so the
 * reduction is ordered after the backward kernels and before the optimizer's
 * without a host round trip. NCCL's unique id goes from rank 0 to the others
 * over the bootstrap backend (MPI), which also carries every host collective
 * (broadcasts, barriers, the small loss all-reduce). One GPU per process. */
#include <cuda_runtime.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist_plugin.h"

typedef struct nccl_ctx {
    const mt_dist_ops *boot;
    ncclComm_t comm;
    cudaStream_t stream;
    int device;
} nccl_ctx;

#define NCCL_CHECK(call)                                                                          \
    do {                                                                                          \
        ncclResult_t r_ = (call);                                                                 \
        if (r_ != ncclSuccess) {                                                                  \
            snprintf(err, cap, "%s: %s", #call, ncclGetErrorString(r_));                          \
            return -1;                                                                            \
        }                                                                                         \
    } while (0)
#define CUDA_CHECK(call)                                                                          \
    do {                                                                                          \
        cudaError_t e_ = (call);                                                                  \
        if (e_ != cudaSuccess) {                                                                  \
            snprintf(err, cap, "%s: %s", #call, cudaGetErrorString(e_));                          \
            return -1;                                                                            \
        }                                                                                         \
    } while (0)

static int nccl_allreduce(void *ctx, float *buf, size_t n, int on_device, char *err, size_t cap)
{
    nccl_ctx *c = (nccl_ctx *)ctx;
    if (!on_device) return c->boot->allreduce_sum(c->boot->ctx, buf, n, 0, err, cap);
    CUDA_CHECK(cudaSetDevice(c->device));
    NCCL_CHECK(ncclAllReduce(buf, buf, n, ncclFloat32, ncclSum, c->comm, c->stream));
    return 0;
}

static int nccl_bcast(void *ctx, void *buf, size_t bytes, int root, char *err, size_t cap)
{
    nccl_ctx *c = (nccl_ctx *)ctx;
    return c->boot->bcast(c->boot->ctx, buf, bytes, root, err, cap);
}

static int nccl_barrier(void *ctx, char *err, size_t cap)
{
    nccl_ctx *c = (nccl_ctx *)ctx;
    return c->boot->barrier(c->boot->ctx, err, cap);
}

static void nccl_abort_job(void *ctx, int code)
{
    nccl_ctx *c = (nccl_ctx *)ctx;
    ncclCommAbort(c->comm);
    c->boot->abort_job(c->boot->ctx, code);
}

/* Destroys the communicator; the bootstrap backend is finalized by its owner. */
static int nccl_finalize(void *ctx, char *err, size_t cap)
{
    nccl_ctx *c = (nccl_ctx *)ctx;
    if (!c) return 0;
    ncclResult_t r = ncclCommDestroy(c->comm);
    free(c);
    if (r != ncclSuccess) {
        snprintf(err, cap, "ncclCommDestroy: %s", ncclGetErrorString(r));
        return -1;
    }
    return 0;
}

extern "C" int mt_dist_nccl_plugin_open(const mt_dist_ops *boot, int cuda_device, void *cuda_stream, mt_dist_ops *out,
                                        char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    if (!boot || boot->size < 1) {
        snprintf(err, cap, "NCCL needs a running bootstrap backend (MPI)");
        return -1;
    }
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (boot->rank == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    if (boot->bcast(boot->ctx, &id, sizeof id, 0, err, cap) != 0) return -1;
    CUDA_CHECK(cudaSetDevice(cuda_device));
    nccl_ctx *c = (nccl_ctx *)calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, cap, "out of host memory");
        return -1;
    }
    c->boot = boot;
    c->device = cuda_device;
    c->stream = (cudaStream_t)cuda_stream;
    ncclResult_t r = ncclCommInitRank(&c->comm, boot->size, id, boot->rank);
    if (r != ncclSuccess) {
        snprintf(err, cap, "ncclCommInitRank (rank %d of %d, cuda:%d): %s", boot->rank, boot->size, cuda_device,
                 ncclGetErrorString(r));
        free(c);
        return -1;
    }
    *out = *boot;
    out->abi = MT_DIST_PLUGIN_ABI;
    out->name = "nccl";
    out->device_buffers = 1;
    out->ctx = c;
    out->allreduce_sum = nccl_allreduce;
    out->bcast = nccl_bcast;
    out->barrier = nccl_barrier;
    out->abort_job = nccl_abort_job;
    out->finalize = nccl_finalize;
    return 0;
}
