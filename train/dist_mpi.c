/* train/dist_mpi.c: the MPI backend of data-parallel training, built with
 * mpicc as the plugin build/libmedtrain_mpi.so (train/dist_plugin.h) and loaded
 * by train/dist.c only when a run is launched by mpirun / srun (or --dist mpi).
 * Host memory only (OpenMPI is not assumed CUDA-aware: CUDA gradients come as a
 * host copy). MPI_Init_thread with MPI_THREAD_FUNNELED: only the training
 * thread calls MPI; the loader's workers never do. */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "dist_plugin.h"

static void mpi_message(int rc, const char *call, char *err, size_t cap)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "MPI error %d", rc);
    snprintf(err, cap, "%s: %s", call, text);
}

#define MPI_CHECK(call)                                       \
    do {                                                      \
        int rc_ = (call);                                     \
        if (rc_ != MPI_SUCCESS) {                             \
            mpi_message(rc_, #call, err, cap);                \
            return -1;                                        \
        }                                                     \
    } while (0)

/* chunks of at most INT_MAX elements (MPI counts are int) */
static int mpi_allreduce(void *ctx, float *buf, size_t n, int on_device, char *err, size_t cap)
{
    (void)ctx;
    if (on_device) {
        snprintf(err, cap, "the MPI backend reduces host memory only");
        return -1;
    }
    for (size_t off = 0; off < n;) {
        int k = n - off > (size_t)INT_MAX ? INT_MAX : (int)(n - off);
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf + off, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
        off += (size_t)k;
    }
    return 0;
}

static int mpi_bcast(void *ctx, void *buf, size_t bytes, int root, char *err, size_t cap)
{
    (void)ctx;
    for (size_t off = 0; off < bytes;) {
        int k = bytes - off > (size_t)INT_MAX ? INT_MAX : (int)(bytes - off);
        MPI_CHECK(MPI_Bcast((char *)buf + off, k, MPI_BYTE, root, MPI_COMM_WORLD));
        off += (size_t)k;
    }
    return 0;
}

static int mpi_barrier(void *ctx, char *err, size_t cap)
{
    (void)ctx;
    MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
    return 0;
}

static void mpi_abort_job(void *ctx, int code)
{
    (void)ctx;
    MPI_Abort(MPI_COMM_WORLD, code);
}

static int mpi_finalize(void *ctx, char *err, size_t cap)
{
    (void)ctx;
    int done = 0;
    MPI_Finalized(&done);
    if (!done) MPI_CHECK(MPI_Finalize());
    return 0;
}

/* Initialises MPI (once per process) and fills *out. */
int mt_dist_mpi_plugin_open(mt_dist_ops *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    int inited = 0, provided = 0;
    MPI_CHECK(MPI_Initialized(&inited));
    if (!inited) MPI_CHECK(MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided));
    /* errors come back as codes (turned into medtrain errors), not as a job abort */
    MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    int rank = 0, size = 1, local = 0;
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
    MPI_Comm node;
    MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node));
    MPI_CHECK(MPI_Comm_rank(node, &local));
    MPI_CHECK(MPI_Comm_free(&node));
    *out = (mt_dist_ops){MT_DIST_PLUGIN_ABI, "mpi", rank, size, local, 0, NULL, mpi_allreduce, mpi_bcast,
                         mpi_barrier, mpi_abort_job, mpi_finalize};
    return 0;
}
