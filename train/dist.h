/* train/dist.h: data-parallel training across processes (docs/distributed.md).
 *
 * Several processes each hold a replica of the networks; every optimizer step
 * the gradients are summed over the processes (each rank's weighted by its
 * share of the global batch), so every replica takes the same step as one
 * process would with the whole batch (PyTorch DistributedDataParallel).
 *
 * Backends (one mt_dist_ops table each, train/dist_plugin.h):
 *   single  one process; nothing to communicate (also what NULL means below)
 *   mpi     MPI (Debian's OpenMPI) through build/libmedtrain_mpi.so, loaded with
 *           dlopen only when asked: a single-process medtrain never loads MPI
 *   nccl    NCCL all-reduce of device gradients (build/libmedtrain_nccl.so),
 *           bootstrapped over MPI (which also carries the host collectives)
 * Plugins are looked up in $MEDTRAIN_PLUGIN_DIR, else next to the executable.
 * `mpirun -np N medtrain train ...` and `srun --mpi=pmix|pmi2 medtrain train ...`
 * are recognised from the launcher's environment (mt_dist_launched_size).
 *
 * Every function takes d = NULL as the single-process backend (rank 0 of 1).
 */
#ifndef MT_TRAIN_DIST_H
#define MT_TRAIN_DIST_H

#include <stddef.h>

#include "../core/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_dist mt_dist;

/* The number of processes a launcher started this one among, from the
 * environment: OMPI_COMM_WORLD_SIZE (OpenMPI's mpirun), PMI_SIZE (srun
 * --mpi=pmi2, MPICH), SLURM_STEP_NUM_TASKS (any srun step, e.g. --mpi=pmix);
 * 1 when none says so. */
int mt_dist_launched_size(void);

/* Opens a backend: kind "auto" (mpi when mt_dist_launched_size() > 1, else
 * single; on a CUDA device mt_dist_use_device upgrades mpi to nccl when the NCCL
 * plugin exists), "single", "mpi" or "nccl". MT_ERR_INVALID for an unknown kind
 * or "single" inside an N-process launch (N independent runs); MT_ERR_UNSUPPORTED
 * naming the plugin file when it is missing (build with libopenmpi-dev / NCCL)
 * or fails to start, or when MPI sees another number of processes than the
 * launcher started (srun without --mpi=pmix / pmi2: N independent processes).
 * MPI is initialised here (once per process: open it once and pass it to every
 * trainer). */
mt_status mt_dist_open(const char *kind, mt_dist **out);
/* Finalizes the backend (MPI_Finalize: every rank must call it) and frees d. */
mt_status mt_dist_close(mt_dist *d);
/* Ends every process of the job at once with exit status `code` (MPI_Abort) when
 * d has more than one process; a no-op otherwise. For the CLI after a failure:
 * the other ranks may be waiting in a collective that would never complete. */
void mt_dist_abort_job(mt_dist *d, int code);

int mt_dist_rank(const mt_dist *d);
int mt_dist_size(const mt_dist *d);
int mt_dist_local_rank(const mt_dist *d);
/* "single", "mpi" or "nccl" */
const char *mt_dist_name(const mt_dist *d);

/* Called once the training device is known: kind nccl (or auto, when the NCCL
 * plugin is there) on a CUDA device starts NCCL on it; kind nccl on the CPU is
 * MT_ERR_INVALID. */
mt_status mt_dist_use_device(mt_dist *d, mt_device dev);

/* In place: buf[0..n) = its sum over the ranks (host memory). */
mt_status mt_dist_allreduce_sum(mt_dist *d, float *buf, size_t n);
/* buf[0..bytes) of rank `root` to every rank (host memory). */
mt_status mt_dist_bcast(mt_dist *d, void *buf, size_t bytes, int root);
mt_status mt_dist_barrier(mt_dist *d);

/* ---- tensors over a backend (train/dist_tensors.c) ---- */

/* For each parameter with a .grad: grad = sum over ranks of weight_r * grad_r,
 * where `weight` is this rank's weight (its share of the global batch, n_r / n,
 * for a loss that is a mean over samples). One packed all-reduce for all
 * parameters (float32, on the parameters' device: NCCL reduces device memory,
 * MPI a host copy). Parameters must be float32 on one device and the same list
 * on every rank; a parameter without .grad contributes zeros and keeps none. */
mt_status mt_dist_allreduce_grads(mt_dist *d, mt_tensor *const *params, int n, double weight);
/* Copies the values of tensors t[0..n) (any dtype, any device) of rank `root`
 * to every rank. */
mt_status mt_dist_bcast_tensors(mt_dist *d, mt_tensor *const *t, int n, int root);
/* MT_OK when tensors t[0..n) hold the same bytes on every rank (a 64-bit FNV-1a
 * hash of their bytes compared with rank 0's), else MT_ERR_STATE on every rank,
 * naming `what` and the number of ranks that differ. */
mt_status mt_dist_check_same(mt_dist *d, mt_tensor *const *t, int n, const char *what);

#ifdef __cplusplus
}
#endif
#endif
