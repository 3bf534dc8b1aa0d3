/* data/nifti.c: NIfTI-1 reader over nifticlib (see nifti.h). */
#include "nifti.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nifti1_io.h>
#include <zlib.h>

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Converts voxel v of a buffer of NIfTI datatype `dt` to double; 0 if unsupported. */
static int load_value(const void *buf, size_t i, int dt, double *out)
{
    switch (dt) {
    case NIFTI_TYPE_UINT8: *out = ((const uint8_t *)buf)[i]; return 1;
    case NIFTI_TYPE_INT8: *out = ((const int8_t *)buf)[i]; return 1;
    case NIFTI_TYPE_INT16: *out = ((const int16_t *)buf)[i]; return 1;
    case NIFTI_TYPE_UINT16: *out = ((const uint16_t *)buf)[i]; return 1;
    case NIFTI_TYPE_INT32: *out = ((const int32_t *)buf)[i]; return 1;
    case NIFTI_TYPE_UINT32: *out = ((const uint32_t *)buf)[i]; return 1;
    case NIFTI_TYPE_INT64: *out = (double)((const int64_t *)buf)[i]; return 1;
    case NIFTI_TYPE_UINT64: *out = (double)((const uint64_t *)buf)[i]; return 1;
    case NIFTI_TYPE_FLOAT32: *out = ((const float *)buf)[i]; return 1;
    case NIFTI_TYPE_FLOAT64: *out = ((const double *)buf)[i]; return 1;
    default: return 0;
    }
}

void mt_volume_affine(const mt_volume *v, double a[16])
{
    const mt_meta *m = &v->meta;
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) a[r * 4 + c] = m->direction[r * 3 + c] * m->spacing[c];
        a[r * 4 + 3] = m->origin[r];
    }
    a[12] = a[13] = a[14] = 0.0;
    a[15] = 1.0;
}

/* Number of bytes a gzip file decompresses to before it ends or breaks; -1 if unopenable. */
static long long gz_length(const char *path)
{
    gzFile z = gzopen(path, "rb");
    if (!z) return -1;
    char buf[1 << 16];
    long long total = 0;
    int n;
    while ((n = gzread(z, buf, sizeof buf)) > 0) total += n;
    gzclose(z);
    return total;
}

/* Fields nifticlib repairs silently on read (it turns a NaN / 0 pixdim into 1), checked in the header as
 * stored: vox_offset >= 0 and finite, pixdim[1..ndim] (ndim <= 3) finite and > 0. */
static mt_status check_raw_header(const char *path, int ndim)
{
    int swapped = 0;
    nifti_1_header *h = nifti_read_header(path, &swapped, 0);
    if (!h) return MT_ERR(MT_ERR_FORMAT, "%s: cannot read the NIfTI-1 header", path);
    mt_status s = MT_OK;
    if (!isfinite(h->vox_offset) || h->vox_offset < 0)
        s = MT_ERR(MT_ERR_FORMAT, "%s: header field vox_offset is %g; it must be >= 0 (the byte offset of the "
                   "voxel data; corrupt header)", path, (double)h->vox_offset);
    for (int d = 1; s == MT_OK && d <= ndim && d <= 3; d++)
        if (!isfinite(h->pixdim[d]) || h->pixdim[d] <= 0)
            s = MT_ERR(MT_ERR_FORMAT, "%s: header field pixdim[%d] (voxel size along axis %d) is %g; it must be a "
                       "finite size > 0 mm (corrupt header; fix it, e.g. with nibabel set_zooms)", path, d, d,
                       (double)h->pixdim[d]);
    free(h);
    return s;
}

mt_status mt_nifti_read(const char *path, mt_volume *out)
{
    if (!path || !out) return MT_ERR(MT_ERR_INVALID, "mt_nifti_read: NULL argument");
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) != 0) return MT_ERR(MT_ERR_IO, "%s: cannot open NIfTI file (missing?)", path);
    if (!ends_with(path, ".nii") && !ends_with(path, ".nii.gz"))
        return MT_ERR(MT_ERR_INVALID, "%s: expected a .nii or .nii.gz file", path);
    nifti_set_debug_level(0);
    nifti_image *nim = nifti_image_read(path, 0);
    if (!nim) return MT_ERR(MT_ERR_FORMAT, "%s: not a valid NIfTI-1 header (nifticlib could not parse it)", path);

    mt_status s = check_raw_header(path, nim->dim[0]);
    if (s != MT_OK) goto done;
    int nx = nim->dim[1], ny = nim->dim[0] >= 2 ? nim->dim[2] : 1, nz = nim->dim[0] >= 3 ? nim->dim[3] : 1;
    size_t extra = 1;
    for (int d = 4; d <= nim->dim[0] && d <= 7; d++) extra *= (size_t)(nim->dim[d] > 0 ? nim->dim[d] : 1);
    double probe;
    if (nx <= 0 || ny <= 0 || nz <= 0) {
        s = MT_ERR(MT_ERR_FORMAT, "%s: header dimensions %dx%dx%d are invalid", path, nx, ny, nz);
        goto done;
    }
    if (extra != 1) {
        s = MT_ERR(MT_ERR_UNSUPPORTED, "%s: %d-D NIfTI with %zu volumes; only 2D/3D single volumes are supported",
                   path, nim->dim[0], extra);
        goto done;
    }
    {
        uint8_t zero[8] = {0};
        if (!load_value(zero, 0, nim->datatype, &probe)) {
            s = MT_ERR(MT_ERR_UNSUPPORTED, "%s: NIfTI datatype %d (%s) is not supported (need a real scalar type)",
                       path, nim->datatype, nifti_datatype_string(nim->datatype));
            goto done;
        }
    }
    size_t data_bytes = nim->nvox * (size_t)nim->nbyper;
    if (!ends_with(path, ".gz") && (size_t)st.st_size < (size_t)nim->iname_offset + data_bytes) {
        s = MT_ERR(MT_ERR_IO, "%s: file has %lld bytes but the header promises %d + %zu bytes (%dx%dx%d x %d B); "
                   "truncated file or lying header",
                   path, (long long)st.st_size, nim->iname_offset, data_bytes, nx, ny, nz, nim->nbyper);
        goto done;
    }
    if (ends_with(path, ".gz")) { /* the decompressed length must cover the data too */
        long long have = gz_length(path);
        if (have < 0) {
            s = MT_ERR(MT_ERR_IO, "%s: cannot open the gzip stream", path);
            goto done;
        }
        if ((size_t)have < (size_t)nim->iname_offset + data_bytes) {
            s = MT_ERR(MT_ERR_IO, "%s: decompresses to %lld bytes but the header promises %d + %zu bytes "
                       "(%dx%dx%d x %d B); truncated file or lying header",
                       path, have, nim->iname_offset, data_bytes, nx, ny, nz, nim->nbyper);
            goto done;
        }
    }
    if (nifti_image_load(nim) != 0 || !nim->data) {
        s = MT_ERR(MT_ERR_IO, "%s: could not read the %zu data bytes the header promises (%dx%dx%d x %d B): "
                   "truncated file or lying header", path, data_bytes, nx, ny, nz, nim->nbyper);
        goto done;
    }
    out->data = mt_malloc(nim->nvox * sizeof(float));
    if (!out->data) {
        s = MT_ERR_NOMEM;
        goto done;
    }
    double slope = nim->scl_slope, inter = nim->scl_inter;
    int scale = isfinite(slope) && slope != 0.0;
    if (!isfinite(inter)) inter = 0.0;
    for (size_t i = 0; i < nim->nvox; i++) {
        double v;
        load_value(nim->data, i, nim->datatype, &v);
        out->data[i] = (float)(scale ? v * slope + inter : v);
    }
    out->nx = nx;
    out->ny = ny;
    out->nz = nz;
    mt_meta_init(&out->meta);
    snprintf(out->meta.source, sizeof out->meta.source, "%s", path);
    double aff[3][4];
    double dx = fabs(nim->pixdim[1]), dy = fabs(nim->pixdim[2]), dz = fabs(nim->pixdim[3]);
    if (nim->dim[0] < 3 || dz == 0.0) dz = dz == 0.0 ? 1.0 : dz;
    if (nim->sform_code > 0 || nim->qform_code > 0) {
        const mat44 *M = nim->sform_code > 0 ? &nim->sto_xyz : &nim->qto_xyz;
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 4; c++) aff[r][c] = M->m[r][c];
    } else { /* nibabel get_base_affine: x flipped, centred on the volume */
        memset(aff, 0, sizeof aff);
        aff[0][0] = -dx;
        aff[1][1] = dy;
        aff[2][2] = dz;
        aff[0][3] = (nx - 1) / 2.0 * dx;
        aff[1][3] = -(ny - 1) / 2.0 * dy;
        aff[2][3] = -(nz - 1) / 2.0 * dz;
    }
    double sp[3] = {dx, dy, dz};
    for (int c = 0; c < 3; c++) {
        double len = sqrt(aff[0][c] * aff[0][c] + aff[1][c] * aff[1][c] + aff[2][c] * aff[2][c]);
        if (len == 0.0) len = 1.0;
        for (int r = 0; r < 3; r++) out->meta.direction[r * 3 + c] = aff[r][c] / len;
        out->meta.spacing[c] = sp[c] > 0 ? sp[c] : len;
    }
    for (int r = 0; r < 3; r++) out->meta.origin[r] = aff[r][3];
done:
    nifti_image_free(nim);
    if (s != MT_OK) mt_volume_free(out);
    return s;
}
