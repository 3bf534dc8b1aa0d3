/* train/checkpoint.c: HDF5 checkpoints (train/checkpoint.h) with the HDF5
 * C API; every H5 call is checked and HDF5's own error printing is silenced
 * while we run (our messages name the file and the entry instead). */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../layers/h5_quiet.h"
#include "../core/file.h"
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#ifdef MT_REAL_DOUBLE
#define H5_REAL H5T_NATIVE_DOUBLE
#define H5_REAL_FILE H5T_IEEE_F64LE
#else
#define H5_REAL H5T_NATIVE_FLOAT
#define H5_REAL_FILE H5T_IEEE_F32LE
#endif


static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcmp(s + ls - lx, suffix);
}

/* CRC32 (zlib) of dataset d's values in their file representation (the
 * bytes HDF5 stores: float32/float64/int64 little-endian), read back through
 * HDF5; 0 on success, -1 if it cannot be read. */
static int dataset_crc(hid_t d, uint32_t *crc)
{
    hid_t ty = H5Dget_type(d), sp = H5Dget_space(d);
    hssize_t n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    size_t es = ty < 0 ? 0 : H5Tget_size(ty);
    int rc = -1;
    if (n >= 0 && es > 0) {
        size_t bytes = (size_t)n * es;
        unsigned char *buf = malloc(bytes + 1);
        if (buf && H5Dread(d, ty, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) {
            uLong c = crc32(0L, Z_NULL, 0);
            for (size_t off = 0; off < bytes;) { /* crc32 takes a uInt length */
                size_t chunk = bytes - off > (1u << 30) ? (1u << 30) : bytes - off;
                c = crc32(c, buf + off, (uInt)chunk);
                off += chunk;
            }
            *crc = (uint32_t)c;
            rc = 0;
        }
        free(buf);
    }
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
    return rc;
}

/* ------------------------------------------------------------- writing --- */

static mt_status write_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *v, const char *path)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = sp < 0 ? -1 : H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, mtype, v);
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    if (e < 0) return MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot write attribute '%s'", path, name);
    return MT_OK;
}

static mt_status write_tensor(hid_t group, const char *name, const mt_tensor *t, const char *path)
{
    hsize_t dims[MT_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) dims[i] = (hsize_t)t->shape[i];
    size_t n = mt_numel(t);
    mt_real *host = mt_malloc(n * sizeof *host + 1);
    if (!host) return MT_ERR_NOMEM;
    mt_status s = mt_tensor_to_host(t, host, n * sizeof *host);
    if (s != MT_OK) {
        free(host);
        return s;
    }
    int as_int = ends_with(name, "num_batches_tracked");
    hid_t sp = t->ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(t->ndim, dims, NULL);
    hid_t d = sp < 0 ? -1 : H5Dcreate2(group, name, as_int ? H5T_STD_I64LE : H5_REAL_FILE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : H5Dwrite(d, H5_REAL, H5S_ALL, H5S_ALL, H5P_DEFAULT, host); /* HDF5 converts to int64 */
    uint32_t crc = 0;
    if (e >= 0 && dataset_crc(d, &crc) != 0) e = -1;
    if (e >= 0) {
        hid_t asp = H5Screate(H5S_SCALAR);
        hid_t a = asp < 0 ? -1 : H5Acreate2(d, "crc32", H5T_STD_U32LE, asp, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0 || H5Awrite(a, H5T_NATIVE_UINT32, &crc) < 0) e = -1;
        if (a >= 0) H5Aclose(a);
        if (asp >= 0) H5Sclose(asp);
    }
    if (d >= 0 && H5Dclose(d) < 0) e = -1;
    if (sp >= 0) H5Sclose(sp);
    free(host);
    if (e < 0) return MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot write tensor '%s' (disk full or not writable?)", path, name);
    return MT_OK;
}

static mt_status write_string(hid_t file, const char *name, const char *text, const char *path)
{
    hid_t ty = H5Tcopy(H5T_C_S1);
    herr_t e = ty < 0 ? -1 : H5Tset_size(ty, strlen(text) + 1);
    hid_t sp = e < 0 ? -1 : H5Screate(H5S_SCALAR);
    hid_t d = sp < 0 ? -1 : H5Dcreate2(file, name, ty, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    e = d < 0 ? -1 : H5Dwrite(d, ty, H5S_ALL, H5S_ALL, H5P_DEFAULT, text);
    if (d >= 0 && H5Dclose(d) < 0) e = -1;
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
    if (e < 0) return MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot write '%s'", path, name);
    return MT_OK;
}

/* The root attributes: format, progress, the first network's dropout stream, config. */
static mt_status write_progress(hid_t f, mt_model *m, const mt_checkpoint_info *info, const char *path)
{
    mt_checkpoint_info zero = {0};
    const mt_checkpoint_info *ci = info ? info : &zero;
    int64_t version = MT_CHECKPOINT_FORMAT_VERSION, step = ci->step, epoch = ci->epoch, de = ci->data_epoch,
            db = ci->data_batch, bad = ci->bad_epochs, be = ci->best_epoch, se = ci->stopped_early;
    uint64_t rs, ro, seed = ci->seed;
    double es = info ? ci->es_best : NAN;
    mt_model_get_rng(m, &rs, &ro);
    MT_TRY(write_attr(f, "format_version", H5T_STD_I64LE, H5T_NATIVE_INT64, &version, path));
    MT_TRY(write_attr(f, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &step, path));
    MT_TRY(write_attr(f, "epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, &epoch, path));
    MT_TRY(write_attr(f, "data_epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, &de, path));
    MT_TRY(write_attr(f, "data_batch", H5T_STD_I64LE, H5T_NATIVE_INT64, &db, path));
    MT_TRY(write_attr(f, "bad_epochs", H5T_STD_I64LE, H5T_NATIVE_INT64, &bad, path));
    MT_TRY(write_attr(f, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &seed, path));
    MT_TRY(write_attr(f, "rng_seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &rs, path));
    MT_TRY(write_attr(f, "rng_offset", H5T_STD_U64LE, H5T_NATIVE_UINT64, &ro, path));
    MT_TRY(write_attr(f, "best_metric", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &ci->best_metric, path));
    MT_TRY(write_attr(f, "trainer_es_best", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &es, path));
    MT_TRY(write_attr(f, "trainer_best_epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, &be, path));
    MT_TRY(write_attr(f, "trainer_stopped_early", H5T_STD_I64LE, H5T_NATIVE_INT64, &se, path));
    MT_TRY(write_attr(f, "train_seconds", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &ci->train_seconds, path));
    if (ci->loss_scale > 0) {
        int64_t tr = ci->loss_scale_tracker;
        MT_TRY(write_attr(f, "grad_scaler_scale", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &ci->loss_scale, path));
        MT_TRY(write_attr(f, "grad_scaler_growth_tracker", H5T_STD_I64LE, H5T_NATIVE_INT64, &tr, path));
    }
    if (ci->config_yaml) MT_TRY(write_string(f, "config", ci->config_yaml, path));
    return MT_OK;
}

static mt_status write_state_dict(hid_t loc, mt_model *m, const char *path)
{
    hid_t g = H5Gcreate2(loc, "state_dict", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot create a state_dict group", path);
    mt_status st = MT_OK;
    for (int i = 0; i < mt_model_state_count(m) && st == MT_OK; i++)
        st = write_tensor(g, mt_model_state_name(m, i), mt_model_state_tensor(m, i), path);
    H5Gclose(g);
    return st;
}

static mt_status write_optimizer(hid_t loc, mt_optim *o, const char *path)
{
    hid_t g = H5Gcreate2(loc, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot create an optimizer group", path);
    int64_t steps = mt_optim_steps(o);
    mt_status st = write_attr(g, "steps", H5T_STD_I64LE, H5T_NATIVE_INT64, &steps, path);
    int n = mt_optim_state_count(o);
    for (int i = 0; i < n && st == MT_OK; i++) {
        mt_tensor *t = mt_optim_state_tensor(o, i);
        const char *name = mt_optim_state_name(o, i);
        st = t && name ? write_tensor(g, name, t, path) : mt_last_status();
    }
    H5Gclose(g);
    return st;
}

static mt_status write_scheduler(hid_t loc, const mt_sched *s, const char *path)
{
    double state[8];
    MT_TRY(mt_sched_get_state(s, state));
    hid_t g = H5Gcreate2(loc, "scheduler", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot create a scheduler group", path);
    hsize_t d8 = 8;
    hid_t sp = H5Screate_simple(1, &d8, NULL);
    hid_t a = sp < 0 ? -1 : H5Acreate2(g, "state", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_DOUBLE, state);
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    H5Gclose(g);
    return e < 0 ? MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot write the scheduler state", path) : MT_OK;
}

/* One network's state_dict, optimizer and scheduler groups in loc. */
static mt_status write_net(hid_t loc, const mt_checkpoint_net *n, const char *path)
{
    MT_TRY(write_state_dict(loc, n->model, path));
    if (n->optim) MT_TRY(write_optimizer(loc, n->optim, path));
    if (n->sched) MT_TRY(write_scheduler(loc, n->sched, path));
    return MT_OK;
}

/* Network 0 at the root, the others under /nets/<name> with their dropout stream. */
static mt_status write_contents(hid_t f, int n, const mt_checkpoint_net *nets, const mt_checkpoint_info *info,
                                const char *path)
{
    MT_TRY(write_progress(f, nets[0].model, info, path));
    MT_TRY(write_net(f, &nets[0], path));
    if (n < 2) return MT_OK;
    hid_t all = H5Gcreate2(f, "nets", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (all < 0) return MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot create /nets", path);
    mt_status st = MT_OK;
    for (int i = 1; i < n && st == MT_OK; i++) {
        hid_t g = H5Gcreate2(all, nets[i].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) {
            st = MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot create /nets/%s", path, nets[i].name);
            break;
        }
        uint64_t rs, ro;
        mt_model_get_rng(nets[i].model, &rs, &ro);
        st = write_net(g, &nets[i], path);
        if (st == MT_OK) st = write_attr(g, "rng_seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &rs, path);
        if (st == MT_OK) st = write_attr(g, "rng_offset", H5T_STD_U64LE, H5T_NATIVE_UINT64, &ro, path);
        H5Gclose(g);
    }
    H5Gclose(all);
    return st;
}

/* writes all of buf to fd (retrying short writes) */
static int write_all(int fd, const unsigned char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The file is assembled in memory (HDF5 core driver, no backing store) and
 * written to the temporary file by us: a failed disk write then never
 * happens inside HDF5 (HDF5 1.10 leaves a half-closed file behind when its
 * own flush fails), and every disk error is ours to report and clean up. */
mt_status mt_checkpoint_save(const char *path, mt_model *m, mt_optim *o, const mt_sched *s,
                             const mt_checkpoint_info *info)
{
    mt_checkpoint_net net = {NULL, m, o, (mt_sched *)s};
    return mt_checkpoint_save_nets(path, 1, &net, info);
}

mt_status mt_checkpoint_save_nets(const char *path, int n_nets, const mt_checkpoint_net *nets,
                                  const mt_checkpoint_info *info)
{
    MT_REQUIRE(path && n_nets >= 1 && nets && nets[0].model, "checkpoint save: NULL path or model");
    for (int i = 1; i < n_nets; i++)
        MT_REQUIRE(nets[i].model && nets[i].name && nets[i].name[0] && !strchr(nets[i].name, '/'),
                   "checkpoint save: network %d needs a model and a name without '/'", i);
    h5_quiet q;
    quiet_on(&q);
    mt_status st = MT_OK;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_core(fapl, (size_t)16 << 20, 0) < 0)
        st = MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot set up the HDF5 in-memory driver", path);
    hid_t f = st == MT_OK ? H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : -1;
    if (st == MT_OK && f < 0) st = MT_ERR(MT_ERR_IO, "checkpoint '%s': HDF5 cannot create the file image", path);
    if (st == MT_OK) st = write_contents(f, n_nets, nets, info, path);
    unsigned char *image = NULL;
    ssize_t size = -1;
    if (st == MT_OK && H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0) size = H5Fget_file_image(f, NULL, 0);
    if (st == MT_OK && size > 0 && (image = mt_malloc((size_t)size)) != NULL)
        size = H5Fget_file_image(f, image, (size_t)size);
    if (st == MT_OK && (!image || size <= 0))
        st = image || mt_last_status() != MT_ERR_NOMEM ? MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot get the HDF5 file image", path)
                                                       : MT_ERR_NOMEM;
    if (f >= 0 && H5Fclose(f) < 0 && st == MT_OK) st = MT_ERR(MT_ERR_IO, "checkpoint '%s': closing the HDF5 image failed", path);
    if (fapl >= 0) H5Pclose(fapl);
    quiet_off(&q);
    if (st != MT_OK) {
        free(image);
        return st;
    }
    size_t len = strlen(path) + 16;
    char *tmp = mt_malloc(len);
    if (!tmp) {
        free(image);
        return MT_ERR_NOMEM;
    }
    snprintf(tmp, len, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd >= 0) (void)mt_file_default_mode(fd); /* best effort: else the file keeps mkstemp's 0600 */
    if (fd < 0) {
        st = MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot create a temporary file next to it: %s", path, strerror(errno));
    } else {
        if (write_all(fd, image, (size_t)size) != 0)
            st = MT_ERR(MT_ERR_IO, "checkpoint '%s': writing %zd bytes failed (disk full?): %s", path, size, strerror(errno));
        else if (fsync(fd) != 0) /* data on disk before the rename makes it visible */
            st = MT_ERR(MT_ERR_IO, "checkpoint '%s': fsync failed: %s", path, strerror(errno));
        if (fchmod(fd, 0644) != 0 && st == MT_OK)
            st = MT_ERR(MT_ERR_IO, "checkpoint '%s': chmod failed: %s", path, strerror(errno));
        if (close(fd) != 0 && st == MT_OK) st = MT_ERR(MT_ERR_IO, "checkpoint '%s': close failed: %s", path, strerror(errno));
        if (st == MT_OK && rename(tmp, path) != 0)
            st = MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot rename the temporary file into place: %s", path, strerror(errno));
        if (st != MT_OK) unlink(tmp);
    }
    free(tmp);
    free(image);
    return st;
}

/* ------------------------------------------------------------- reading --- */

typedef struct name_list {
    char **v;
    int n, cap;
} name_list;

static herr_t collect_name(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    name_list *l = data;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **nv = realloc(l->v, sizeof *nv * (size_t)cap);
        if (!nv) return -1;
        l->v = nv;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(name))) return -1;
    l->n++;
    return 0;
}

static void free_names(name_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

static mt_status list_group(hid_t f, const char *group, name_list *out, const char *path)
{
    hsize_t idx = 0;
    memset(out, 0, sizeof *out);
    if (H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, out) < 0) {
        free_names(out);
        memset(out, 0, sizeof *out); /* callers free_names it again */
        return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': cannot list %s", path, group);
    }
    return MT_OK;
}

/* shape of dataset `name` in g; ndim -1 if missing */
static mt_status dataset_shape(hid_t g, const char *name, int *ndim, int *shape)
{
    *ndim = -1;
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0) return MT_OK;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) return MT_OK;
    hid_t sp = H5Dget_space(d);
    int nd = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    hsize_t dims[MT_MAX_DIMS];
    if (nd >= 0 && nd <= MT_MAX_DIMS && H5Sget_simple_extent_dims(sp, dims, NULL) >= 0) {
        *ndim = nd;
        for (int i = 0; i < nd; i++) shape[i] = (int)dims[i];
    }
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    return MT_OK;
}

/* Reads dataset `name` of group `gname` into t after checking its crc32
 * attribute (required when need_crc, i.e. format_version >= 2; older files
 * have none) and that every value is finite. */
static mt_status read_into(hid_t g, const char *gname, const char *name, mt_tensor *t, int need_crc, const char *path)
{
    size_t n = mt_numel(t);
    mt_real *host = mt_malloc(n * sizeof *host + 1);
    if (!host) return MT_ERR_NOMEM;
    mt_status s = MT_OK;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) s = MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot open %s/%s (file corrupt?)", path, gname, name);
    int has_crc = s == MT_OK ? H5Aexists(d, "crc32") > 0 : 0;
    if (s == MT_OK && !has_crc && need_crc)
        s = MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': tensor %s/%s has no crc32 attribute (required since format_version 2; "
                   "file corrupt or edited?)", path, gname, name);
    if (s == MT_OK && has_crc) {
        uint32_t want = 0, got = 0;
        hid_t a = H5Aopen(d, "crc32", H5P_DEFAULT);
        herr_t e = a < 0 ? -1 : H5Aread(a, H5T_NATIVE_UINT32, &want);
        if (a >= 0) H5Aclose(a);
        if (e < 0) s = MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': cannot read the crc32 attribute of tensor %s/%s", path, gname, name);
        else if (dataset_crc(d, &got) != 0)
            s = MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot read tensor %s/%s (file truncated or corrupt?)", path, gname, name);
        else if (got != want)
            s = MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': tensor %s/%s is corrupt: CRC32 %08x, stored %08x (the file was "
                       "damaged after writing; use another checkpoint, e.g. best.h5 or a backup)", path, gname, name,
                       (unsigned)got, (unsigned)want);
    }
    if (s == MT_OK && H5Dread(d, H5_REAL, H5S_ALL, H5S_ALL, H5P_DEFAULT, host) < 0)
        s = MT_ERR(MT_ERR_IO, "checkpoint '%s': cannot read tensor %s/%s (file corrupt?)", path, gname, name);
    if (d >= 0) H5Dclose(d);
    for (size_t i = 0; s == MT_OK && i < n; i++)
        if (!isfinite((double)host[i]))
            s = MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': tensor %s/%s holds a non-finite value (%g at index %zu); the "
                       "training that saved it diverged or the file was altered: use an earlier checkpoint", path, gname,
                       name, (double)host[i], i);
    if (s == MT_OK) s = mt_tensor_from_host_into(t, host, n * sizeof *host);
    free(host);
    return s;
}

static void shape_text(int nd, const int *s, char *buf, size_t len)
{
    size_t u = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < nd && u < len; i++) u += (size_t)snprintf(buf + u, len - u, "%s%d", i ? ", " : "", s[i]);
    if (u < len) snprintf(buf + u, len - u, "]");
}

static mt_status read_attr(hid_t obj, const char *name, hid_t mtype, void *v, int required, const char *path)
{
    if (H5Aexists(obj, name) <= 0) {
        if (required) return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': attribute '%s' missing", path, name);
        return MT_OK;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Aread(a, mtype, v);
    if (a >= 0) H5Aclose(a);
    if (e < 0) return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': cannot read attribute '%s'", path, name);
    return MT_OK;
}

static mt_status read_config(hid_t f, char **out, const char *path)
{
    *out = NULL;
    if (H5Lexists(f, "config", H5P_DEFAULT) <= 0) return MT_OK;
    hid_t d = H5Dopen2(f, "config", H5P_DEFAULT);
    hid_t ty = d < 0 ? -1 : H5Dget_type(d);
    size_t sz = ty < 0 ? 0 : H5Tget_size(ty);
    char *buf = sz ? mt_malloc(sz + 1) : NULL;
    hid_t mt = ty < 0 ? -1 : H5Tcopy(H5T_C_S1);
    herr_t e = (!buf || mt < 0 || H5Tset_size(mt, sz) < 0 || H5Tis_variable_str(ty) > 0) ? -1
                                                                                        : H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    if (mt >= 0) H5Tclose(mt);
    if (ty >= 0) H5Tclose(ty);
    if (d >= 0) H5Dclose(d);
    if (e < 0) {
        free(buf);
        return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': cannot read /config (expected a fixed-length string)", path);
    }
    buf[sz] = '\0';
    *out = buf;
    return MT_OK;
}

/* /state_dict pass 1: every model entry present with the same shape. */
static mt_status check_state_shapes(hid_t g, mt_model *m, const char *path)
{
    int n = mt_model_state_count(m);
    for (int i = 0; i < n; i++) {
        const char *name = mt_model_state_name(m, i);
        mt_tensor *t = mt_model_state_tensor(m, i);
        int nd, shape[MT_MAX_DIMS];
        dataset_shape(g, name, &nd, shape);
        char a[96], b[96];
        if (nd < 0)
            return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': state_dict entry '%s' is missing (was it saved from a "
                          "different model graph or params?)", path, name);
        if (nd != t->ndim || memcmp(shape, t->shape, sizeof *shape * (size_t)nd)) {
            shape_text(nd, shape, a, sizeof a);
            shape_text(t->ndim, t->shape, b, sizeof b);
            return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': state_dict entry '%s' has shape %s in the file but the "
                          "model expects %s", path, name, a, b);
        }
    }
    return MT_OK;
}

/* /state_dict: nothing the model does not have. */
static mt_status check_state_extra(hid_t g, mt_model *m, const char *path)
{
    int n = mt_model_state_count(m);
    name_list names = {0};
    mt_status st = list_group(g, "/state_dict", &names, path);
    for (int j = 0; st == MT_OK && j < names.n; j++) {
        int known = 0;
        for (int i = 0; i < n && !known; i++) known = !strcmp(names.v[j], mt_model_state_name(m, i));
        if (!known)
            st = MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': state_dict entry '%s' does not exist in this model", path,
                        names.v[j]);
    }
    free_names(&names);
    return st;
}

/* /state_dict into the model: checked whole (shapes, no extra entries) before any copy. */
static mt_status load_state_dict(hid_t f, mt_model *m, int need_crc, const char *path)
{
    hid_t g = H5Gopen2(f, "state_dict", H5P_DEFAULT);
    if (g < 0) return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': no /state_dict group", path);
    mt_status st = check_state_shapes(g, m, path);
    if (st == MT_OK) st = check_state_extra(g, m, path);
    int n = mt_model_state_count(m);
    for (int i = 0; i < n && st == MT_OK; i++)
        st = read_into(g, "/state_dict", mt_model_state_name(m, i), mt_model_state_tensor(m, i), need_crc, path);
    H5Gclose(g);
    return st;
}

/* /optimizer (its steps attribute and every state tensor) into o. */
static mt_status load_optimizer(hid_t f, mt_optim *o, int need_crc, const char *path)
{
    hid_t g = H5Gopen2(f, "optimizer", H5P_DEFAULT);
    if (g < 0) return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': no /optimizer group (saved without an optimizer)", path);
    name_list names = {0};
    int64_t steps = 0;
    mt_status st = read_attr(g, "steps", H5T_NATIVE_INT64, &steps, 1, path);
    if (st == MT_OK) st = list_group(g, "/optimizer", &names, path);
    mt_tensor **ts = st == MT_OK ? mt_calloc((size_t)names.n + 1, sizeof *ts) : NULL;
    if (st == MT_OK && !ts) st = MT_ERR_NOMEM;
    for (int j = 0; st == MT_OK && j < names.n; j++) {
        int nd, shape[MT_MAX_DIMS];
        dataset_shape(g, names.v[j], &nd, shape);
        ts[j] = nd < 0 ? NULL : mt_tensor_new(MT_REAL, mt_cpu(), nd, shape);
        if (!ts[j]) st = nd < 0 ? MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': optimizer entry '%s' unreadable", path, names.v[j])
                                : mt_last_status();
        if (st == MT_OK) st = read_into(g, "/optimizer", names.v[j], ts[j], need_crc, path);
    }
    if (st == MT_OK) st = mt_optim_state_load(o, names.n, (const char *const *)names.v, ts, (long)steps);
    for (int j = 0; ts && j < names.n; j++) mt_tensor_release(ts[j]);
    free(ts);
    free_names(&names);
    H5Gclose(g);
    return st;
}

/* /scheduler's state attribute into s. */
static mt_status load_scheduler(hid_t f, mt_sched *s, const char *path)
{
    hid_t g = H5Gopen2(f, "scheduler", H5P_DEFAULT);
    if (g < 0) return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': no /scheduler group (saved without a schedule)", path);
    double state[8];
    hid_t a = H5Aopen(g, "state", H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Aread(a, H5T_NATIVE_DOUBLE, state);
    if (a >= 0) H5Aclose(a);
    H5Gclose(g);
    if (e < 0) return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': cannot read the scheduler state", path);
    return mt_sched_set_state(s, state);
}

/* The file's progress attributes (step, epoch, data position, RNG state, best
 * metric): the model's RNG is restored, the rest goes into info (if given). */
static mt_status load_progress(hid_t f, mt_model *m, mt_checkpoint_info *info, const char *path)
{
    int64_t step = 0, epoch = 0, de = 0, db = 0, bad = 0;
    uint64_t seed = 0, rs = 0, ro = 0;
    double best = 0;
    MT_TRY(read_attr(f, "step", H5T_NATIVE_INT64, &step, 1, path));
    MT_TRY(read_attr(f, "epoch", H5T_NATIVE_INT64, &epoch, 1, path));
    MT_TRY(read_attr(f, "data_epoch", H5T_NATIVE_INT64, &de, 1, path));
    MT_TRY(read_attr(f, "data_batch", H5T_NATIVE_INT64, &db, 1, path));
    MT_TRY(read_attr(f, "bad_epochs", H5T_NATIVE_INT64, &bad, 0, path));
    MT_TRY(read_attr(f, "seed", H5T_NATIVE_UINT64, &seed, 1, path));
    MT_TRY(read_attr(f, "rng_seed", H5T_NATIVE_UINT64, &rs, 1, path));
    MT_TRY(read_attr(f, "rng_offset", H5T_NATIVE_UINT64, &ro, 1, path));
    MT_TRY(read_attr(f, "best_metric", H5T_NATIVE_DOUBLE, &best, 0, path));
    double es = NAN;
    int64_t be = 0, se = 0;
    MT_TRY(read_attr(f, "trainer_es_best", H5T_NATIVE_DOUBLE, &es, 0, path));
    MT_TRY(read_attr(f, "trainer_best_epoch", H5T_NATIVE_INT64, &be, 0, path));
    MT_TRY(read_attr(f, "trainer_stopped_early", H5T_NATIVE_INT64, &se, 0, path));
    double secs = 0, gscale = 0;
    int64_t gtrack = 0;
    MT_TRY(read_attr(f, "train_seconds", H5T_NATIVE_DOUBLE, &secs, 0, path));
    MT_TRY(read_attr(f, "grad_scaler_scale", H5T_NATIVE_DOUBLE, &gscale, 0, path));
    MT_TRY(read_attr(f, "grad_scaler_growth_tracker", H5T_NATIVE_INT64, &gtrack, 0, path));
    if (gscale != 0 && (!(gscale > 0) || !isfinite(gscale) || gtrack < 0))
        return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': grad_scaler_scale %g / grad_scaler_growth_tracker %lld are "
                      "invalid (must be a finite scale > 0 and a count >= 0)", path, gscale, (long long)gtrack);
    /* counters a run resumes from: a negative one (or one past an int) would replay or skip data silently */
    const struct { const char *name; int64_t v, max; } ctr[] = {
        {"step", step, LONG_MAX},          {"epoch", epoch, INT_MAX},        {"data_epoch", de, INT_MAX},
        {"data_batch", db, LONG_MAX},      {"bad_epochs", bad, INT_MAX},     {"trainer_best_epoch", be, INT_MAX}};
    for (size_t i = 0; i < sizeof ctr / sizeof ctr[0]; i++)
        if (ctr[i].v < 0 || ctr[i].v > ctr[i].max)
            return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': attribute '%s' is %lld, must be in [0, %lld] (corrupt or "
                          "hand-edited checkpoint; use another checkpoint of the run)", path, ctr[i].name,
                          (long long)ctr[i].v, (long long)ctr[i].max);
    mt_model_set_rng(m, rs, ro);
    if (info) {
        memset(info, 0, sizeof *info);
        info->step = (long)step;
        info->epoch = (int)epoch;
        info->data_epoch = (int)de;
        info->data_batch = (long)db;
        info->bad_epochs = (int)bad;
        info->seed = seed;
        info->rng_seed = rs;
        info->rng_offset = ro;
        info->best_metric = best;
        info->es_best = es;
        info->best_epoch = (int)be;
        info->stopped_early = (int)se;
        info->train_seconds = isfinite(secs) && secs > 0 ? secs : 0;
        info->loss_scale = gscale;
        info->loss_scale_tracker = (long)gtrack;
        MT_TRY(read_config(f, &info->config_yaml, path));
    }
    return MT_OK;
}

/* Network i's group: the root for 0, /nets/<name> for the others (caller closes; -1 = missing). */
static hid_t net_group(hid_t f, int i, const mt_checkpoint_net *n)
{
    if (i == 0) return H5Gopen2(f, "/", H5P_DEFAULT);
    char name[300];
    snprintf(name, sizeof name, "nets/%s", n->name);
    return H5Lexists(f, "nets", H5P_DEFAULT) > 0 && H5Lexists(f, name, H5P_DEFAULT) > 0 ? H5Gopen2(f, name, H5P_DEFAULT)
                                                                                       : -1;
}

/* every network's state_dict present and matching before anything is modified */
static mt_status check_nets(hid_t f, int n, const mt_checkpoint_net *nets, const char *path)
{
    for (int i = 0; i < n; i++) {
        hid_t loc = net_group(f, i, &nets[i]);
        if (loc < 0)
            return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': no /nets/%s (network %s was not saved in it)", path,
                          nets[i].name, nets[i].name);
        hid_t g = H5Gopen2(loc, "state_dict", H5P_DEFAULT);
        mt_status st = g < 0 ? MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': no state_dict group for network %s", path,
                                      i ? nets[i].name : "0")
                             : check_state_shapes(g, nets[i].model, path);
        if (st == MT_OK) st = check_state_extra(g, nets[i].model, path);
        if (g >= 0) H5Gclose(g);
        H5Gclose(loc);
        MT_TRY(st);
    }
    return MT_OK;
}

static mt_status load_net(hid_t f, int i, const mt_checkpoint_net *n, int need_crc, const char *path)
{
    hid_t loc = net_group(f, i, n);
    if (loc < 0) return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': no /nets/%s", path, n->name);
    mt_status st = load_state_dict(loc, n->model, need_crc, path);
    if (st == MT_OK && n->optim) st = load_optimizer(loc, n->optim, need_crc, path);
    if (st == MT_OK && n->sched) st = load_scheduler(loc, n->sched, path);
    if (st == MT_OK && i > 0) {
        uint64_t rs = 0, ro = 0;
        st = read_attr(loc, "rng_seed", H5T_NATIVE_UINT64, &rs, 1, path);
        if (st == MT_OK) st = read_attr(loc, "rng_offset", H5T_NATIVE_UINT64, &ro, 1, path);
        if (st == MT_OK) mt_model_set_rng(n->model, rs, ro);
    }
    H5Gclose(loc);
    return st;
}

static mt_status load_contents(hid_t f, int n, const mt_checkpoint_net *nets, mt_checkpoint_info *info,
                               const char *path)
{
    int64_t version = 0;
    MT_TRY(read_attr(f, "format_version", H5T_NATIVE_INT64, &version, 1, path));
    if (version < 1 || version > MT_CHECKPOINT_FORMAT_VERSION)
        return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s': format_version %lld, this build reads 1 to %d (a newer medtrain "
                      "wrote it?)", path, (long long)version, MT_CHECKPOINT_FORMAT_VERSION);
    int need_crc = version >= 2; /* format_version 1 files carry no checksums */
    MT_TRY(check_nets(f, n, nets, path));
    for (int i = 0; i < n; i++) MT_TRY(load_net(f, i, &nets[i], need_crc, path));
    return load_progress(f, nets[0].model, info, path);
}

static mt_status open_checkpoint(const char *path, hid_t *f)
{
    if (access(path, R_OK) != 0) return MT_ERR(MT_ERR_IO, "checkpoint '%s' cannot be read: %s", path, strerror(errno));
    *f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*f < 0) return MT_ERR(MT_ERR_FORMAT, "checkpoint '%s' is not an HDF5 file (truncated or corrupt?)", path);
    return MT_OK;
}

mt_status mt_checkpoint_load(const char *path, mt_model *m, mt_optim *o, mt_sched *s, mt_checkpoint_info *info)
{
    mt_checkpoint_net net = {NULL, m, o, s};
    return mt_checkpoint_load_nets(path, 1, &net, info);
}

mt_status mt_checkpoint_load_nets(const char *path, int n_nets, const mt_checkpoint_net *nets, mt_checkpoint_info *info)
{
    MT_REQUIRE(path && n_nets >= 1 && nets && nets[0].model, "checkpoint load: NULL path or model");
    h5_quiet q;
    quiet_on(&q);
    hid_t f;
    mt_status st = open_checkpoint(path, &f);
    if (st == MT_OK) {
        st = load_contents(f, n_nets, nets, info, path);
        H5Fclose(f);
    }
    quiet_off(&q);
    return st;
}

mt_status mt_checkpoint_read_config(const char *path, char **yaml_out)
{
    *yaml_out = NULL;
    h5_quiet q;
    quiet_on(&q);
    hid_t f;
    mt_status st = open_checkpoint(path, &f);
    if (st == MT_OK) {
        st = read_config(f, yaml_out, path);
        H5Fclose(f);
    }
    quiet_off(&q);
    return st;
}
