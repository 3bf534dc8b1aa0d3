/* data/ct_volume.c: CT volumes and masks as display slices (ct_volume.h). */
#include "ct_volume.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dicom.h"
#include "image_io.h"
#include "nifti.h"
#include "recon.h"

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int is_nifti(const char *path) { return ends_with(path, ".nii") || ends_with(path, ".nii.gz"); }

int mt_path_is_image2d(const char *path)
{
    static const char *ext[] = {".png", ".tif", ".tiff", ".pgm", ".jpg", ".jpeg", ".PNG"};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (ends_with(path, ext[i])) return 1;
    return 0;
}

/* One DICOM slice as a 1-slice volume (the sample's image buffer moves into it). */
static mt_status dicom_slice_volume(const char *path, mt_volume *out)
{
    mt_sample s;
    mt_sample_init(&s);
    MT_TRY(mt_dicom_read_slice(path, &s));
    if (s.c != 1) {
        mt_sample_free(&s);
        return MT_ERR(MT_ERR_UNSUPPORTED, "%s: %d channels; a CT slice has 1", path, s.c);
    }
    out->nx = s.w, out->ny = s.h, out->nz = 1;
    out->data = s.image;
    out->meta = s.meta;
    if (!(out->meta.spacing[2] > 0)) out->meta.spacing[2] = 1.0;
    s.image = NULL;
    mt_sample_free(&s);
    return MT_OK;
}

mt_status mt_ct_volume_read(const char *path, mt_volume *out)
{
    MT_REQUIRE(path && out, "mt_ct_volume_read: NULL argument");
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(path, &sb) != 0) return MT_ERR(MT_ERR_IO, "%s: no such file or DICOM folder", path);
    mt_status st;
    if (S_ISDIR(sb.st_mode)) st = mt_dicom_read_series(path, out);
    else if (is_nifti(path)) st = mt_nifti_read(path, out);
    else st = dicom_slice_volume(path, out);
    if (st == MT_OK) st = mt_volume_reorient(out);
    if (st != MT_OK) mt_volume_free(out);
    return st;
}

static int in_ids(float v, const int *ids, int n_ids)
{
    if (n_ids == 0) return v != 0.0f;
    for (int i = 0; i < n_ids; i++)
        if (v == (float)ids[i]) return 1;
    return 0;
}

/* The reoriented mask grid against the image's: size, spacing, origin. */
static mt_status check_grid(const char *path, const mt_volume *m, const mt_volume *ref)
{
    if (m->nx != ref->nx || m->ny != ref->ny || m->nz != ref->nz)
        return MT_ERR(MT_ERR_INVALID, "mask %s is %dx%dx%d voxels (x,y,z after reorientation), the image %s is %dx%dx%d",
                      path, m->nx, m->ny, m->nz, ref->meta.source, ref->nx, ref->ny, ref->nz);
    double min_sp = INFINITY, d2 = 0;
    for (int a = 0; a < 3; a++) {
        double s = ref->meta.spacing[a], t = m->meta.spacing[a];
        if (ref->nz == 1 && a == 2) continue;
        if (fabs(s - t) > 1e-3 * fabs(s))
            return MT_ERR(MT_ERR_INVALID, "mask %s: voxel spacing %g mm along axis %d, the image %s has %g mm", path, t, a,
                          ref->meta.source, s);
        min_sp = fmin(min_sp, s);
        d2 += (m->meta.origin[a] - ref->meta.origin[a]) * (m->meta.origin[a] - ref->meta.origin[a]);
    }
    if (sqrt(d2) > 0.5 * min_sp)
        return MT_ERR(MT_ERR_INVALID,
                      "mask %s does not lie on the image's grid: its first voxel is at (%.2f, %.2f, %.2f) mm RAS, "
                      "the image %s's at (%.2f, %.2f, %.2f) mm (%.2f mm apart)",
                      path, m->meta.origin[0], m->meta.origin[1], m->meta.origin[2], ref->meta.source,
                      ref->meta.origin[0], ref->meta.origin[1], ref->meta.origin[2], sqrt(d2));
    return MT_OK;
}

mt_status mt_mask_volume_read(const char *path, const int *ids, int n_ids, const mt_volume *ref, mt_volume *out)
{
    MT_REQUIRE(path && ref && out && (ids || n_ids == 0), "mt_mask_volume_read: NULL argument");
    memset(out, 0, sizeof *out);
    MT_REQUIRE(is_nifti(path), "mask %s: a volume mask must be NIfTI (.nii / .nii.gz); PNG masks need one slice", path);
    mt_status st = mt_nifti_read(path, out);
    if (st == MT_OK) st = mt_volume_reorient(out);
    if (st == MT_OK) st = check_grid(path, out, ref);
    if (st != MT_OK) {
        mt_volume_free(out);
        return st;
    }
    size_t n = (size_t)out->nx * out->ny * out->nz;
    for (size_t i = 0; i < n; i++) out->data[i] = in_ids(out->data[i], ids, n_ids) ? 1.0f : 0.0f;
    return MT_OK;
}

mt_status mt_mask_image_read(const char *path, const int *ids, int n_ids, int h, int w, uint8_t *out)
{
    MT_REQUIRE(path && out && (ids || n_ids == 0), "mt_mask_image_read: NULL argument");
    mt_sample s;
    mt_sample_init(&s);
    MT_TRY(mt_image_read(path, &s));
    mt_status st = MT_OK;
    if (s.h != h || s.w != w)
        st = MT_ERR(MT_ERR_INVALID, "mask %s is %dx%d pixels (w x h), the slice is %dx%d", path, s.w, s.h, w, h);
    for (size_t i = 0; st == MT_OK && i < (size_t)h * w; i++) out[i] = (uint8_t)in_ids(s.image[i], ids, n_ids);
    mt_sample_free(&s);
    return st;
}

mt_status mt_mask_volume_slice(const mt_volume *mask, int z, int h, int w, uint8_t *out)
{
    MT_REQUIRE(mask && out, "mt_mask_volume_slice: NULL argument");
    mt_sample s;
    mt_sample_init(&s);
    MT_TRY(mt_volume_slice(mask, MT_PLANE_AXIAL, z, &s));
    mt_status st = MT_OK;
    if (s.h != h || s.w != w)
        st = MT_ERR(MT_ERR_INVALID, "mask %s: slice %d is %dx%d, expected %dx%d", mask->meta.source, z, s.w, s.h, w, h);
    for (size_t i = 0; st == MT_OK && i < (size_t)h * w; i++) out[i] = s.image[i] > 0.5f;
    mt_sample_free(&s);
    return st;
}

int mt_parse_ids(const char *s, int *ids, int max)
{
    int n = 0;
    while (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || n == max) return -1;
        ids[n++] = (int)v;
        if (*end == ',') end++;
        else if (*end) return -1;
        s = end;
    }
    return n;
}
