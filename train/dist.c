/* train/dist.c: the data-parallel backends (dist.h): the single-process one,
 * how a launch is recognised, and the MPI / NCCL plugins loaded with dlopen. */
#include "dist.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist_plugin.h"

struct mt_dist {
    mt_dist_ops ops;         /* the active backend */
    mt_dist_ops boot;        /* MPI under NCCL (NCCL's host collectives and its unique id) */
    int has_boot;
    void *mpi_lib, *nccl_lib;
    char kind[16];           /* what was asked: auto, single, mpi, nccl */
    float *scratch;          /* host staging of mt_dist_allreduce_grads (dist_tensors.c) */
    size_t scratch_n;
};

/* ---- the single-process backend ---- */

static int single_allreduce(void *ctx, float *buf, size_t n, int on_device, char *err, size_t cap) { return 0; }
static int single_bcast(void *ctx, void *buf, size_t bytes, int root, char *err, size_t cap) { return 0; }
static int single_barrier(void *ctx, char *err, size_t cap) { return 0; }
static void single_abort(void *ctx, int code) {}
static int single_finalize(void *ctx, char *err, size_t cap) { return 0; }

static const mt_dist_ops k_single = {MT_DIST_PLUGIN_ABI, "single", 0, 1, 0, 1, NULL, single_allreduce,
                                     single_bcast, single_barrier, single_abort, single_finalize};

/* ---- launch detection ---- */

static int env_int(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : 0;
}

int mt_dist_launched_size(void)
{
    int n = env_int("OMPI_COMM_WORLD_SIZE");
    if (n <= 0) n = env_int("PMI_SIZE");
    if (n <= 0) n = env_int("SLURM_STEP_NUM_TASKS"); /* an srun step (PMIx, or no MPI plugin at all) */
    return n > 1 ? n : 1;
}

/* ---- plugins ---- */

/* dir of the plugins: $MEDTRAIN_PLUGIN_DIR, else the executable's directory */
static void plugin_path(const char *file, char *out, size_t cap)
{
    const char *dir = getenv("MEDTRAIN_PLUGIN_DIR");
    char exe[PATH_MAX];
    if (!dir || !*dir) {
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[len > 0 ? len : 0] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        else snprintf(exe, sizeof exe, ".");
        dir = exe;
    }
    snprintf(out, cap, "%s/%s", dir, file);
}

static mt_status plugin_load(const char *file, const char *symbol, const char *what, void **lib, void **fn)
{
    char path[PATH_MAX + 64];
    plugin_path(file, path, sizeof path);
    if (access(path, F_OK) != 0)
        return MT_ERR(MT_ERR_UNSUPPORTED,
                      "%s needs the plugin %s, which this build lacks: install %s and rebuild (make), or set "
                      "MEDTRAIN_PLUGIN_DIR to the folder that holds it",
                      what, path, strcmp(what, "nccl") ? "libopenmpi-dev openmpi-bin" : "CUDA with NCCL (nccl.h)");
    *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*lib) return MT_ERR(MT_ERR_UNSUPPORTED, "cannot load the %s plugin %s: %s", what, path, dlerror());
    *fn = dlsym(*lib, symbol);
    if (!*fn) return MT_ERR(MT_ERR_UNSUPPORTED, "the %s plugin %s has no %s: rebuild it (make)", what, path, symbol);
    return MT_OK;
}

static mt_status check_abi(const mt_dist_ops *o, const char *what)
{
    if (o->abi != MT_DIST_PLUGIN_ABI)
        return MT_ERR(MT_ERR_UNSUPPORTED, "the %s plugin has interface version %d, medtrain %d: rebuild (make)", what,
                      o->abi, MT_DIST_PLUGIN_ABI);
    return MT_OK;
}

static mt_status open_mpi(mt_dist *d)
{
    void *fn = NULL;
    MT_TRY(plugin_load("libmedtrain_mpi.so", MT_DIST_MPI_OPEN_SYMBOL, "mpi", &d->mpi_lib, &fn));
    char err[512] = "";
    mt_dist_mpi_open_fn open_fn;
    *(void **)&open_fn = fn;
    if (open_fn(&d->ops, err, sizeof err) != 0) return MT_ERR(MT_ERR_UNSUPPORTED, "starting MPI: %s", err);
    return check_abi(&d->ops, "mpi");
}

mt_status mt_dist_open(const char *kind, mt_dist **out)
{
    MT_REQUIRE(out, "mt_dist_open: NULL argument");
    *out = NULL;
    if (!kind) kind = "auto";
    if (strcmp(kind, "auto") && strcmp(kind, "single") && strcmp(kind, "mpi") && strcmp(kind, "nccl"))
        return MT_ERR(MT_ERR_INVALID, "--dist '%s': expected auto, single, mpi or nccl", kind);
    int launched = mt_dist_launched_size();
    if (!strcmp(kind, "single") && launched > 1)
        return MT_ERR(MT_ERR_INVALID,
                      "--dist single, but this process is one of %d started by mpirun/srun: that would train %d "
                      "independent runs; use --dist auto (or mpi / nccl)", launched, launched);
    mt_dist *d = mt_calloc(1, sizeof *d);
    if (!d) return mt_last_status();
    snprintf(d->kind, sizeof d->kind, "%s", kind);
    d->ops = k_single;
    mt_status st = MT_OK;
    if (!strcmp(kind, "mpi") || !strcmp(kind, "nccl") || (!strcmp(kind, "auto") && launched > 1)) st = open_mpi(d);
    if (st == MT_OK && launched > 1 && d->ops.size != launched) {
        char err[512];
        d->ops.finalize(d->ops.ctx, err, sizeof err);
        st = MT_ERR(MT_ERR_UNSUPPORTED,
                    "the launcher started %d processes but MPI sees %d: MPI did not connect them (srun: add "
                    "--mpi=pmix or --mpi=pmi2; mpirun: use the OpenMPI medtrain was built with)", launched,
                    d->ops.size);
    }
    if (st != MT_OK) { /* the plugin stays loaded (see mt_dist_close) */
        free(d);
        return st;
    }
    *out = d;
    return MT_OK;
}

#ifdef MT_WITH_CUDA
void *mt_dist_cuda_stream(int device); /* train/dist_cuda.cu */
#endif

mt_status mt_dist_use_device(mt_dist *d, mt_device dev)
{
    if (!d) return MT_OK;
    int want = !strcmp(d->kind, "nccl");
    if (want && dev.type != MT_CUDA)
        return MT_ERR(MT_ERR_INVALID, "--dist nccl needs a CUDA device (--device cuda); use --dist mpi on the CPU");
    if (dev.type != MT_CUDA || d->has_boot || d->ops.size < 2) return MT_OK;
    char path[PATH_MAX + 64];
    plugin_path("libmedtrain_nccl.so", path, sizeof path);
    if (!want && (strcmp(d->kind, "auto") || access(path, F_OK) != 0)) return MT_OK; /* MPI over host copies */
#ifdef MT_WITH_CUDA
    void *fn = NULL;
    MT_TRY(plugin_load("libmedtrain_nccl.so", MT_DIST_NCCL_OPEN_SYMBOL, "nccl", &d->nccl_lib, &fn));
    void *stream = mt_dist_cuda_stream(dev.index);
    if (!stream) return mt_last_status();
    mt_dist_nccl_open_fn open_fn;
    *(void **)&open_fn = fn;
    d->boot = d->ops; /* the plugin keeps a pointer to it */
    char err[512] = "";
    mt_dist_ops nccl;
    memset(&nccl, 0, sizeof nccl);
    if (open_fn(&d->boot, dev.index, stream, &nccl, err, sizeof err) != 0)
        return MT_ERR(MT_ERR_UNSUPPORTED, "starting NCCL on cuda:%d: %s", dev.index, err);
    if (nccl.abi != MT_DIST_PLUGIN_ABI) {
        nccl.finalize(nccl.ctx, err, sizeof err);
        return check_abi(&nccl, "nccl");
    }
    d->ops = nccl;
    d->has_boot = 1;
    return MT_OK;
#else
    return MT_ERR(MT_ERR_UNSUPPORTED, "--dist nccl: this build has no CUDA backend");
#endif
}

static mt_status ops_status(int rc, const char *what, const char *err)
{
    return rc == 0 ? MT_OK : MT_ERR(MT_ERR_IO, "%s failed: %s", what, err[0] ? err : "(no message)");
}

mt_status mt_dist_close(mt_dist *d)
{
    if (!d) return MT_OK;
    char err[512] = "";
    mt_status st = ops_status(d->ops.finalize(d->ops.ctx, err, sizeof err), "finalizing the data-parallel backend", err);
    if (d->has_boot && st == MT_OK) st = ops_status(d->boot.finalize(d->boot.ctx, err, sizeof err), "MPI_Finalize", err);
    /* the plugins stay loaded: MPI libraries do not support being unloaded and initialised again */
    free(d->scratch);
    free(d);
    return st;
}

void mt_dist_abort_job(mt_dist *d, int code)
{
    if (d && d->ops.size > 1) d->ops.abort_job(d->ops.ctx, code);
}

int mt_dist_rank(const mt_dist *d) { return d ? d->ops.rank : 0; }
int mt_dist_size(const mt_dist *d) { return d ? d->ops.size : 1; }
int mt_dist_local_rank(const mt_dist *d) { return d ? d->ops.local_rank : 0; }
const char *mt_dist_name(const mt_dist *d) { return d ? d->ops.name : "single"; }

mt_status mt_dist_allreduce_sum(mt_dist *d, float *buf, size_t n)
{
    if (!d || d->ops.size < 2 || n == 0) return MT_OK;
    char err[512] = "";
    return ops_status(d->ops.allreduce_sum(d->ops.ctx, buf, n, 0, err, sizeof err), "all-reduce", err);
}

mt_status mt_dist_bcast(mt_dist *d, void *buf, size_t bytes, int root)
{
    if (!d || d->ops.size < 2 || bytes == 0) return MT_OK;
    MT_REQUIRE(root >= 0 && root < d->ops.size, "broadcast from rank %d of %d", root, d->ops.size);
    char err[512] = "";
    return ops_status(d->ops.bcast(d->ops.ctx, buf, bytes, root, err, sizeof err), "broadcast", err);
}

mt_status mt_dist_barrier(mt_dist *d)
{
    if (!d || d->ops.size < 2) return MT_OK;
    char err[512] = "";
    return ops_status(d->ops.barrier(d->ops.ctx, err, sizeof err), "barrier", err);
}

/* for dist_tensors.c: the device all-reduce and the host staging buffer */
int mt_dist_device_buffers_(const mt_dist *d) { return d && d->ops.size > 1 && d->ops.device_buffers; }

mt_status mt_dist_allreduce_device_(mt_dist *d, float *buf, size_t n)
{
    char err[512] = "";
    return ops_status(d->ops.allreduce_sum(d->ops.ctx, buf, n, 1, err, sizeof err), "device all-reduce", err);
}

float *mt_dist_scratch_(mt_dist *d, size_t n)
{
    if (d->scratch_n >= n) return d->scratch;
    float *p = realloc(d->scratch, sizeof(float) * n);
    if (!p) {
        MT_ERR(MT_ERR_NOMEM, "host buffer of %zu gradient values for the all-reduce", n);
        return NULL;
    }
    d->scratch = p;
    d->scratch_n = n;
    return p;
}
