/* train/dist_plugin.h: the binary interface between medtrain and its
 * data-parallel communication plugins (docs/distributed.md).
 *
 * A plugin is a shared object loaded with dlopen only when a run asks for it
 * (launched by mpirun / srun, or --dist mpi|nccl), so a single-process medtrain
 * neither links nor loads MPI or NCCL:
 *   libmedtrain_mpi.so   train/dist_mpi.c, built with mpicc (Debian OpenMPI);
 *                        exports mt_dist_mpi_plugin_open
 *   libmedtrain_nccl.so  train/dist_nccl.cu, built with nvcc and libnccl (CUDA 13);
 *                        exports mt_dist_nccl_plugin_open; it needs a running
 *                        bootstrap backend (MPI) to share its unique id
 * Plain C types only, and no call back into medtrain (the plugin cannot see the
 * executable's symbols): errors come back as 0 / -1 and a message in `err`
 * (`cap` bytes). The single-process backend (train/dist.c) fills the same table.
 * Bump MT_DIST_PLUGIN_ABI on any change of this struct or of the open functions.
 */
#ifndef MT_TRAIN_DIST_PLUGIN_H
#define MT_TRAIN_DIST_PLUGIN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT_DIST_PLUGIN_ABI 1

typedef struct mt_dist_ops {
    int abi;                 /* MT_DIST_PLUGIN_ABI of the plugin */
    const char *name;        /* "single", "mpi", "nccl" */
    int rank, size;          /* this process in the job; 0 <= rank < size */
    int local_rank;          /* rank among the processes of this machine (picks cuda:N) */
    int device_buffers;      /* 1: allreduce_sum accepts CUDA device pointers (on_device = 1) */
    void *ctx;               /* the backend's own state */
    /* buf[0..n) = sum over ranks of buf[0..n), in place; every rank gets the same
     * bits. on_device = 1: buf is a CUDA pointer, ordered on the stream given at open
     * (device_buffers only). 0 or -1 with a message in err. */
    int (*allreduce_sum)(void *ctx, float *buf, size_t n, int on_device, char *err, size_t cap);
    /* buf[0..bytes) of rank `root` copied to every rank (host memory). */
    int (*bcast)(void *ctx, void *buf, size_t bytes, int root, char *err, size_t cap);
    int (*barrier)(void *ctx, char *err, size_t cap);
    /* Ends every process of the job with exit status `code` (MPI_Abort); does not return. */
    void (*abort_job)(void *ctx, int code);
    /* Releases the backend (MPI_Finalize, ncclCommDestroy); the table is unusable after. */
    int (*finalize)(void *ctx, char *err, size_t cap);
} mt_dist_ops;

/* Symbol names and signatures the loader (train/dist.c) resolves with dlsym. */
#define MT_DIST_MPI_OPEN_SYMBOL "mt_dist_mpi_plugin_open"
typedef int (*mt_dist_mpi_open_fn)(mt_dist_ops *out, char *err, size_t cap);
#define MT_DIST_NCCL_OPEN_SYMBOL "mt_dist_nccl_plugin_open"
/* boot: a running backend of the same job (its bcast shares NCCL's unique id);
 * cuda_device: this rank's GPU; cuda_stream: the cudaStream_t medtrain's kernels
 * run on (device allreduces are queued there). */
typedef int (*mt_dist_nccl_open_fn)(const mt_dist_ops *boot, int cuda_device, void *cuda_stream, mt_dist_ops *out,
                                    char *err, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
