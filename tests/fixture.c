/* tests/fixture.c: HDF5 fixture reader for the tests (fixture.h), and mt_test_randn (test.h):
 * the test inputs both test binaries (float32 and float64) link. */
#include "fixture.h"

#include <hdf5.h>
#include <stdlib.h>

#include "../core/device.h"
#include "../core/rng.h"
#include "test.h"

static hid_t open_file(const char *file)
{
    char path[1024];
    mt_test_path(file, path, sizeof path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) MT_ERR(MT_ERR_IO, "cannot open fixture file %s (run `make fixtures`)", path);
    return f;
}

int fx_exists(const char *file, const char *name)
{
    hid_t f = open_file(file);
    if (f < 0) return 0;
    htri_t e = H5Lexists(f, name, H5P_DEFAULT);
    H5Fclose(f);
    return e > 0;
}

mt_tensor *fx_load(const char *file, const char *name)
{
    hid_t f = open_file(file);
    if (f < 0) return NULL;
    mt_tensor *t = NULL;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) {
        MT_ERR(MT_ERR_IO, "fixture %s has no dataset %s (run `make fixtures`)", file, name);
        H5Fclose(f);
        return NULL;
    }
    hid_t sp = H5Dget_space(d);
    int nd = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[MT_MAX_DIMS] = {0};
    int shape[MT_MAX_DIMS];
    if (nd < 0 || nd > MT_MAX_DIMS) {
        MT_ERR(MT_ERR_FORMAT, "fixture %s:%s has rank %d", file, name, nd);
        goto done;
    }
    H5Sget_simple_extent_dims(sp, dims, NULL);
    for (int i = 0; i < nd; i++) shape[i] = (int)dims[i];
    hid_t ty = H5Dget_type(d);
    int is_int = H5Tget_class(ty) == H5T_INTEGER;
    H5Tclose(ty);
    t = mt_tensor_new(is_int ? MT_I32 : MT_REAL, mt_cpu(), nd, shape);
    if (!t) goto done;
    hid_t mem = is_int ? H5T_NATIVE_INT : (sizeof(mt_real) == 8 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT);
    if (H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, mt_data(t)) < 0) {
        MT_ERR(MT_ERR_IO, "cannot read fixture %s:%s", file, name);
        mt_tensor_release(t);
        t = NULL;
    }
done:
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    return t;
}

static hid_t open_attr(hid_t f, const char *name, const char *attr)
{
    if (H5Aexists_by_name(f, name, attr, H5P_DEFAULT) <= 0) return -1;
    return H5Aopen_by_name(f, name, attr, H5P_DEFAULT, H5P_DEFAULT);
}

int fx_attr(const char *file, const char *name, const char *attr, double *out)
{
    hid_t f = open_file(file);
    if (f < 0) return 0;
    hid_t a = open_attr(f, name, attr);
    int ok = a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, out) >= 0;
    if (a >= 0) H5Aclose(a);
    H5Fclose(f);
    if (!ok) MT_ERR(MT_ERR_IO, "fixture %s:%s has no attribute %s", file, name, attr);
    return ok;
}

int fx_attr_ints(const char *file, const char *name, const char *attr, int *out, int max)
{
    hid_t f = open_file(file);
    if (f < 0) return -1;
    hid_t a = open_attr(f, name, attr);
    int n = -1;
    if (a >= 0) {
        hid_t sp = H5Aget_space(a);
        hssize_t cnt = H5Sget_simple_extent_npoints(sp);
        H5Sclose(sp);
        if (cnt > 0 && cnt <= max && H5Aread(a, H5T_NATIVE_INT, out) >= 0) n = (int)cnt;
        H5Aclose(a);
    }
    H5Fclose(f);
    if (n < 0) MT_ERR(MT_ERR_IO, "fixture %s:%s has no int attribute %s (max %d)", file, name, attr, max);
    return n;
}

int fx_read_f64(const char *file, const char *name, double *out, int max)
{
    hid_t f = open_file(file);
    if (f < 0) return -1;
    int n = -1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d >= 0) {
        hid_t sp = H5Dget_space(d);
        hssize_t cnt = H5Sget_simple_extent_npoints(sp);
        H5Sclose(sp);
        if (cnt >= 0 && cnt <= max && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0) n = (int)cnt;
        H5Dclose(d);
    }
    H5Fclose(f);
    if (n < 0) MT_ERR(MT_ERR_IO, "fixture %s has no dataset %s of at most %d values", file, name, max);
    return n;
}

mt_tensor *mt_test_randn(int ndim, const int *shape, uint64_t seed)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    mt_real *v = malloc(sizeof(mt_real) * (n ? n : 1));
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++) v[i] = (mt_real)mt_philox_normal(seed, i);
    mt_tensor *t = mt_tensor_from_host(mt_cpu(), ndim, shape, v);
    free(v);
    return t;
}
