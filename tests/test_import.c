/* tests/test_import.c: medical image import against pydicom / nibabel / numpy / torch
 * reference values (tests/fixtures/gen_import.py -> tests/fixtures/import.h5) on the real
 * files under ../shared/data, plus the bad-input files in tests/data/.
 * Tests that need ../shared/data SKIP when it is absent. Overlay PNGs are written to the
 * test tmpdir (and to $MT_OVERLAY_DIR when set, for looking at them). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/tensor.h"
#include "../data/dataset.h"
#include "../data/dicom.h"
#include "../data/image_io.h"
#include "../data/import.h"
#include "../data/labels.h"
#include "../data/nifti.h"
#include "../data/preprocess.h"
#include "../data/recon.h"
#include "../train/plot.h"
#include "fixture.h"
#include "test.h"

#define FX "tests/fixtures/import.h5"

/* Loads fixture `name` as floats (caller releases the tensor). */
#define LOAD(var, name)                                                                 \
    mt_tensor *var = fx_load(FX, name);                                                 \
    CHECK_NOTNULL(var)

#define SHARED(var, rel)                                                                \
    char var##_buf[1024];                                                               \
    const char *var = mt_test_shared_data(rel, var##_buf, sizeof var##_buf);            \
    if (!var) SKIP("skipped: ../shared/data/" rel " not present")

static const char *repo(const char *rel, char *buf, size_t n)
{
    return mt_test_path(rel, buf, n);
}

/* Writes an overlay (train/plot.h; the mask red) into the tmpdir and, if
 * MT_OVERLAY_DIR is set, there too. */
static mt_status overlay(const char *name, const float *img, int h, int w, float lo, float hi, const uint8_t *mask)
{
    char p[1200];
    mt_plot_mask mk = {mask, 255, 40, 40, "mask"};
    snprintf(p, sizeof p, "%s/%s", mt_test_tmpdir(), name);
    MT_TRY(mt_plot_overlay(p, img, h, w, lo, hi, mask ? 1 : 0, &mk, NULL));
    const char *keep = getenv("MT_OVERLAY_DIR");
    if (keep) {
        snprintf(p, sizeof p, "%s/%s", keep, name);
        MT_TRY(mt_plot_overlay(p, img, h, w, lo, hi, mask ? 1 : 0, &mk, NULL));
    }
    return MT_OK;
}

/* ------------------------------------------------------------------ DICOM */

static void check_dicom_slice(mt_test_ctx *T_, const char *group, const char *path)
{
    char name[256];
    mt_sample s;
    mt_sample_init(&s);
    CHECK_OK(mt_dicom_read_slice(path, &s));
    snprintf(name, sizeof name, "dicom/%s/shape", group);
    LOAD(shape, name);
    const int *sh = (const int *)mt_data(shape);
    CHECK(s.c == 1 && s.h == sh[0] && s.w == sh[1], "shape %dx%d vs pydicom %dx%d", s.h, s.w, sh[0], sh[1]);
    snprintf(name, sizeof name, "dicom/%s/points", group);
    LOAD(pts, name);
    snprintf(name, sizeof name, "dicom/%s/values", group);
    LOAD(vals, name);
    const int *p = (const int *)mt_data(pts);
    float got[64];
    for (int i = 0; i < 64; i++) got[i] = s.image[(size_t)p[2 * i] * s.w + p[2 * i + 1]];
    CHECK_CLOSE_F(got, MT_DATA(vals), 64, 0.0, 0.0); /* integer HU: exact */
    double sum = 0;
    for (size_t i = 0; i < (size_t)s.h * s.w; i++) sum += s.image[i];
    snprintf(name, sizeof name, "dicom/%s/sum", group);
    LOAD(ref_sum, name);
    CHECK(fabs(sum - MT_DATA(ref_sum)[0]) <= 1e-6 * fabs(MT_DATA(ref_sum)[0]), "sum of HU %.1f vs pydicom %.1f", sum, MT_DATA(ref_sum)[0]);
    snprintf(name, sizeof name, "dicom/%s/spacing", group);
    LOAD(sp, name);
    double spd[2] = {s.meta.spacing[0], s.meta.spacing[1]}, spr[2] = {MT_DATA(sp)[0], MT_DATA(sp)[1]};
    CHECK_CLOSE_D(spd, spr, 2, 1e-6, 0);
    snprintf(name, sizeof name, "dicom/%s/slice_position", group);
    LOAD(pos, name);
    CHECK(fabs(s.meta.slice_position - MT_DATA(pos)[0]) < 1e-3, "slice position %.4f vs %.4f", s.meta.slice_position,
          MT_DATA(pos)[0]);
    snprintf(name, sizeof name, "dicom/%s/origin_ras", group);
    LOAD(org, name);
    double ref_o[3] = {MT_DATA(org)[0], MT_DATA(org)[1], MT_DATA(org)[2]};
    CHECK_CLOSE_D(s.meta.origin, ref_o, 3, 0, 1e-3);
    snprintf(name, sizeof name, "dicom/%s/direction_ras", group);
    LOAD(dir, name);
    double ref_d[9];
    for (int i = 0; i < 9; i++) ref_d[i] = MT_DATA(dir)[i];
    CHECK_CLOSE_D(s.meta.direction, ref_d, 9, 0, 1e-5);
    mt_tensor_release(dir);
    snprintf(name, sizeof name, "dicom/%s/patient_id", group);
    LOAD(pid, name);
    char ref_pid[64] = {0};
    for (size_t i = 0; i < mt_numel(pid) && i < 63; i++) ref_pid[i] = (char)((const int *)mt_data(pid))[i];
    CHECK(!strcmp(s.meta.patient_id, ref_pid), "PatientID \"%s\" vs \"%s\"", s.meta.patient_id, ref_pid);
    snprintf(name, sizeof name, "dicom/%s/age_years", group);
    LOAD(age, name);
    CHECK(fabsf(s.meta.age_years - MT_DATA(age)[0]) < 1e-6, "age %g vs %g", s.meta.age_years, MT_DATA(age)[0]);
    CHECK(strstr(s.meta.source, path) != NULL, "source %s", s.meta.source);
    mt_tensor_release(shape), mt_tensor_release(pts), mt_tensor_release(vals), mt_tensor_release(ref_sum);
    mt_tensor_release(sp), mt_tensor_release(pos), mt_tensor_release(org), mt_tensor_release(pid);
    mt_tensor_release(age);
    mt_sample_free(&s);
}

TEST(import_dicom_uncompressed_matches_pydicom)
{
    SHARED(path, "tcga_ct_contrast_slices/dicom/ID_0044_AGE_0072_CONTRAST_1_CT.dcm");
    check_dicom_slice(T_, "tcga", path);
}

TEST(import_dicom_jpeg_lossless_matches_reference)
{
    SHARED(path, "cq500_head_ct_sample/dicom/CT000092.dcm");
    check_dicom_slice(T_, "cq500", path);
}

TEST(import_dicom_jpeg2000_matches_openjpeg)
{
    SHARED(dir, "totalsegmentator_example_ct/example_ct_dicom");
    (void)dir;
    char rel[512], buf[1024];
    /* the file gen_import.py used: the 4th in name order */
    snprintf(rel, sizeof rel, "totalsegmentator_example_ct/example_ct_dicom/%s",
             "CT.1.3.12.2.1107.5.1.4.60064.30000022120808113428000016576");
    const char *path = mt_test_shared_data(rel, buf, sizeof buf);
    CHECK(path, "missing %s", rel);
    check_dicom_slice(T_, "ts_j2k", path);
}

TEST(import_dicom_series_sorted_by_position)
{
    SHARED(dir, "totalsegmentator_example_ct/example_ct_dicom");
    mt_volume v;
    CHECK_OK(mt_dicom_read_series(dir, &v));
    LOAD(shape, "dicom/ts_series/shape");
    const int *sh = (const int *)mt_data(shape);
    CHECK(v.nz == sh[0] && v.ny == sh[1] && v.nx == sh[2], "series %dx%dx%d vs %dx%dx%d", v.nx, v.ny, v.nz, sh[2],
          sh[1], sh[0]);
    LOAD(pts, "dicom/ts_series/points");
    LOAD(vals, "dicom/ts_series/values");
    const int *p = (const int *)mt_data(pts);
    float got[64];
    for (int i = 0; i < 64; i++) got[i] = v.data[((size_t)p[3 * i] * v.ny + p[3 * i + 1]) * v.nx + p[3 * i + 2]];
    CHECK_CLOSE_F(got, MT_DATA(vals), 64, 0.0, 0.0);
    LOAD(dz, "dicom/ts_series/spacing_z");
    LOAD(pos, "dicom/ts_series/positions");
    CHECK(fabs(v.meta.spacing[2] - MT_DATA(dz)[0]) < 1e-4, "z spacing %g vs %g", v.meta.spacing[2], MT_DATA(dz)[0]);
    CHECK(fabs(v.meta.slice_position - MT_DATA(pos)[0]) < 1e-3, "first slice at %g vs %g", v.meta.slice_position,
          MT_DATA(pos)[0]);
    mt_tensor_release(shape), mt_tensor_release(pts), mt_tensor_release(vals), mt_tensor_release(dz);
    mt_tensor_release(pos);
    mt_volume_free(&v);
}

TEST(import_dicom_signed_12bit_and_patient_fields)
{
    char p[1024];
    mt_sample s;
    mt_sample_init(&s);
    CHECK_OK(mt_dicom_read_slice(repo("tests/data/tiny_signed.dcm", p, sizeof p), &s));
    LOAD(hu, "tiny/hu");
    CHECK(s.h == 6 && s.w == 8, "shape %dx%d", s.h, s.w);
    CHECK_CLOSE_F(s.image, MT_DATA(hu), 48, 0.0, 0.0);
    LOAD(hw, "tiny/height_weight");
    CHECK(fabsf(s.meta.height_m - MT_DATA(hw)[0]) < 1e-6 && fabsf(s.meta.weight_kg - MT_DATA(hw)[1]) < 1e-5,
          "size %g m weight %g kg", s.meta.height_m, s.meta.weight_kg);
    CHECK(!strcmp(s.meta.sex, "F"), "sex %s", s.meta.sex);
    CHECK(fabsf(s.meta.age_years - 0.5f) < 1e-6, "age \"006M\" -> %g years", s.meta.age_years);
    /* PixelSpacing "0.5\0.25" is row\column spacing: x (column) 0.25, y (row) 0.5 */
    CHECK(s.meta.spacing[0] == 0.25 && s.meta.spacing[1] == 0.5, "spacing %g %g", s.meta.spacing[0],
          s.meta.spacing[1]);
    mt_tensor_release(hu), mt_tensor_release(hw);
    mt_sample_free(&s);
}

TEST(import_dicom_bad_inputs_fail_with_file_name)
{
    char p[1024];
    mt_sample s;
    mt_sample_init(&s);
    CHECK_FAILS(mt_dicom_read_slice(repo("tests/data/truncated.dcm", p, sizeof p), &s), MT_ERR_IO, "truncated.dcm");
    CHECK(s.image == NULL, "image left behind on error");
    CHECK_FAILS(mt_dicom_read_slice(repo("tests/data/text_named.dcm", p, sizeof p), &s), MT_ERR_IO,
                "text_named.dcm");
    CHECK_FAILS(mt_dicom_read_slice(repo("tests/data/no_such_file.dcm", p, sizeof p), &s), MT_ERR_IO,
                "no_such_file.dcm");
    mt_volume v;
    CHECK_FAILS(mt_dicom_read_series(repo("tests/data", p, sizeof p), &v), MT_ERR_IO, "tests/data/");
    CHECK(v.data == NULL, "volume left behind on error");
    CHECK(fabsf(mt_dicom_parse_age("061Y") - 61) < 1e-6 && mt_dicom_parse_age("") < 0 &&
              mt_dicom_parse_age("abc") < 0,
          "age parsing");
}

/* ------------------------------------------------------------------ NIfTI */

TEST(import_nifti_matches_nibabel)
{
    SHARED(path, "totalsegmentator_example_ct/example_ct_sm.nii.gz");
    mt_volume v;
    CHECK_OK(mt_nifti_read(path, &v));
    LOAD(shape, "nifti/shape");
    const int *sh = (const int *)mt_data(shape);
    CHECK(v.nx == sh[0] && v.ny == sh[1] && v.nz == sh[2], "%dx%dx%d", v.nx, v.ny, v.nz);
    LOAD(aff, "nifti/affine");
    double a[16], ref[16];
    mt_volume_affine(&v, a);
    for (int i = 0; i < 16; i++) ref[i] = MT_DATA(aff)[i];
    CHECK_CLOSE_D(a, ref, 16, 0, 1e-4);
    LOAD(z, "nifti/zooms");
    double zr[3] = {MT_DATA(z)[0], MT_DATA(z)[1], MT_DATA(z)[2]};
    CHECK_CLOSE_D(v.meta.spacing, zr, 3, 1e-6, 0);
    LOAD(pts, "nifti/points");
    LOAD(vals, "nifti/values");
    const int *p = (const int *)mt_data(pts);
    float got[64];
    for (int i = 0; i < 64; i++) got[i] = v.data[((size_t)p[3 * i + 2] * v.ny + p[3 * i + 1]) * v.nx + p[3 * i]];
    CHECK_CLOSE_F(got, MT_DATA(vals), 64, 0.0, 0.0);
    mt_tensor_release(shape), mt_tensor_release(aff), mt_tensor_release(z), mt_tensor_release(pts);
    mt_tensor_release(vals);
    mt_volume_free(&v);
}

TEST(import_nifti_qform_and_scaling_match_nibabel)
{
    char p[1024];
    mt_volume v;
    CHECK_OK(mt_nifti_read(repo("tests/data/qform_scaled.nii", p, sizeof p), &v));
    LOAD(aff, "tiny/qform_affine");
    LOAD(vals, "tiny/qform_values");
    double a[16], ref[16];
    mt_volume_affine(&v, a);
    for (int i = 0; i < 16; i++) ref[i] = MT_DATA(aff)[i];
    CHECK_CLOSE_D(a, ref, 16, 0, 1e-5);
    CHECK(v.nx == 5 && v.ny == 4 && v.nz == 3, "%dx%dx%d", v.nx, v.ny, v.nz);
    CHECK_CLOSE_F(v.data, MT_DATA(vals), 60, 0, 1e-6);
    mt_tensor_release(aff), mt_tensor_release(vals);
    mt_volume_free(&v);
}

TEST(import_nifti_lying_header_fails)
{
    char p[1024];
    mt_volume v;
    CHECK_FAILS(mt_nifti_read(repo("tests/data/lying_header.nii", p, sizeof p), &v), MT_ERR_IO, "lying_header.nii");
    CHECK_FAILS(mt_nifti_read(repo("tests/data/lying_header.nii.gz", p, sizeof p), &v), MT_ERR_IO,
                "lying_header.nii.gz");
    CHECK(v.data == NULL, "volume left behind");
    CHECK_FAILS(mt_nifti_read(repo("tests/data/text_named.dcm", p, sizeof p), &v), MT_ERR_INVALID, "text_named.dcm");
}

/* ------------------------------------------------------------------ reconstructions */

static void check_recon(mt_test_ctx *T_, const mt_volume *v, mt_plane pl, mt_recon_kind k, const char *name)
{
    mt_sample s;
    mt_sample_init(&s);
    CHECK_OK(mt_recon(v, pl, k, &s));
    LOAD(ref, name);
    CHECK(s.h == ref->shape[0] && s.w == ref->shape[1], "%s: %dx%d vs %dx%d", name, s.h, s.w, ref->shape[0],
          ref->shape[1]);
    CHECK_CLOSE_F(s.image, MT_DATA(ref), (size_t)s.h * s.w, 1e-6, 1e-3);
    mt_tensor_release(ref);
    mt_sample_free(&s);
}

TEST(import_recon_mip_aip_mid_match_numpy)
{
    SHARED(path, "totalsegmentator_example_ct/example_ct_sm.nii.gz");
    mt_volume v;
    CHECK_OK(mt_nifti_read(path, &v));
    CHECK_OK(mt_volume_reorient(&v));
    /* RAS volume -> L,P,S index axes: x/y flipped, directions (-1,0,0), (0,-1,0), (0,0,1) */
    CHECK(v.meta.direction[0] == -1 && v.meta.direction[4] == -1 && v.meta.direction[8] == 1, "direction");
    check_recon(T_, &v, MT_PLANE_AXIAL, MT_RECON_MIP, "recon/axial_mip");
    check_recon(T_, &v, MT_PLANE_AXIAL, MT_RECON_AIP, "recon/axial_aip");
    check_recon(T_, &v, MT_PLANE_AXIAL, MT_RECON_MID, "recon/axial_mid");
    check_recon(T_, &v, MT_PLANE_CORONAL, MT_RECON_MIP, "recon/coronal_mip");
    check_recon(T_, &v, MT_PLANE_CORONAL, MT_RECON_AIP, "recon/coronal_aip");
    check_recon(T_, &v, MT_PLANE_SAGITTAL, MT_RECON_MIP, "recon/sagittal_mip");
    check_recon(T_, &v, MT_PLANE_SAGITTAL, MT_RECON_MID, "recon/sagittal_mid");
    mt_sample s;
    mt_sample_init(&s);
    CHECK_OK(mt_recon(&v, MT_PLANE_CORONAL, MT_RECON_MIP, &s));
    CHECK_OK(overlay("coronal_mip.png", s.image, s.h, s.w, -160, 240, NULL));
    mt_sample_free(&s);
    mt_volume_free(&v);
}

TEST(import_recon_isotropic_pixels)
{
    /* 4 x 3 x 2 voxels of 0.5 x 0.5 x 2 mm: a sagittal image is 2 rows of 2 mm x 3 columns of 0.5 mm;
     * isotropic -> 8 rows x 3 columns of 0.5 mm. Values x + 10 y + 100 z. */
    mt_volume v;
    memset(&v, 0, sizeof v);
    mt_meta_init(&v.meta);
    v.nx = 4, v.ny = 3, v.nz = 2;
    v.data = malloc(sizeof(float) * 24);
    CHECK(v.data, "oom");
    for (int z = 0; z < 2; z++)
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 4; x++) v.data[(z * 3 + y) * 4 + x] = (float)(x + 10 * y + 100 * z);
    v.meta.spacing[0] = v.meta.spacing[1] = 0.5, v.meta.spacing[2] = 2.0;
    v.meta.direction[0] = -1, v.meta.direction[4] = -1; /* already L,P,S: reorient is the identity */
    CHECK_OK(mt_volume_reorient(&v));
    CHECK(v.data[1] == 1 && v.data[4] == 10 && v.data[12] == 100, "reorient moved an L,P,S volume");
    mt_sample s;
    mt_sample_init(&s);
    CHECK_OK(mt_recon(&v, MT_PLANE_SAGITTAL, MT_RECON_MIP, &s));
    CHECK(s.h == 2 && s.w == 3, "sagittal %dx%d", s.h, s.w);
    /* top row = superior (z = 1), anterior (y = 0) on the left; MIP over x -> x = 3 */
    CHECK(s.image[0] == 103 && s.image[2] == 123 && s.image[3] == 3, "sagittal values %g %g %g", s.image[0],
          s.image[2], s.image[3]);
    mt_volume iso;
    CHECK_OK(mt_volume_resample_isotropic(&v, 0, &iso)); /* cubic voxels first, then the projection */
    CHECK_OK(mt_recon(&iso, MT_PLANE_SAGITTAL, MT_RECON_MIP, &s));
    CHECK(s.h == 8 && s.w == 3 && s.meta.spacing[0] == 0.5 && s.meta.spacing[1] == 0.5, "isotropic %dx%d %g %g", s.h,
          s.w, s.meta.spacing[0], s.meta.spacing[1]);
    mt_sample_free(&s);
    mt_volume_free(&iso);
    mt_volume_free(&v);
}

/* ------------------------------------------------------------------ 2D images and labels */

TEST(import_mias_circle_masks_land_on_the_right_pixels)
{
    SHARED(info, "mini_mias_masses/Info.txt");
    SHARED(img, "mini_mias_masses/images/mdb005.pgm");
    mt_mias_table t;
    CHECK_OK(mt_mias_read(info, &t));
    mt_sample s;
    mt_sample_init(&s);
    CHECK_OK(mt_image_read(img, &s));
    CHECK(s.c == 1 && s.h == 1024 && s.w == 1024, "mdb005 %dx%dx%d", s.c, s.h, s.w);
    LOAD(pts, "mias/mdb005/points");
    LOAD(vals, "mias/mdb005/values");
    const int *p = (const int *)mt_data(pts);
    float got[64];
    for (int i = 0; i < 64; i++) got[i] = s.image[(size_t)p[2 * i] * 1024 + p[2 * i + 1]];
    CHECK_CLOSE_F(got, MT_DATA(vals), 64, 0, 0);
    uint8_t *mask = malloc(1024 * 1024);
    CHECK(mask, "oom");
    const char *refs[2] = {"mdb005", "mdb001"};
    for (int r = 0; r < 2; r++) {
        char name[64];
        int nc = 0;
        CHECK_OK(mt_mias_mask(&t, refs[r], 1024, 1024, mask, &nc));
        snprintf(name, sizeof name, "mias/%s/nonzero", refs[r]);
        LOAD(nz, name);
        size_t cnt = 0;
        for (size_t i = 0; i < 1024 * 1024; i++) cnt += mask[i];
        int ok = cnt == mt_numel(nz);
        for (size_t i = 0; ok && i < mt_numel(nz); i++) ok = mask[((const int *)mt_data(nz))[i]] == 1;
        CHECK(ok, "%s: %zu mask pixels vs %zu from numpy (or a pixel differs)", refs[r], cnt, mt_numel(nz));
        CHECK(nc == (r == 0 ? 2 : 1), "%s: %d circles", refs[r], nc);
        mt_tensor_release(nz);
    }
    CHECK_OK(mt_mias_mask(&t, "mdb005", 1024, 1024, mask, NULL));
    CHECK_OK(overlay("mias_mdb005_overlay.png", s.image, 1024, 1024, 0, 255, mask));
    float *boxes;
    int nb;
    CHECK_OK(mt_mias_boxes(&t, "mdb005", 1024, 1024, &boxes, &nb));
    /* mdb005 477 133 r30: centre row 1024-133 = 891 */
    CHECK(nb == 2 && boxes[0] == 447 && boxes[1] == 861 && boxes[2] == 507 && boxes[3] == 921 && boxes[4] == 0,
          "box %g %g %g %g %g", boxes[0], boxes[1], boxes[2], boxes[3], boxes[4]);
    free(boxes);
    CHECK_FAILS(mt_mias_mask(&t, "mdb999", 1024, 1024, mask, NULL), MT_ERR_INVALID, "mdb999");
    free(mask);
    mt_tensor_release(pts), mt_tensor_release(vals);
    mt_mias_free(&t);
    mt_sample_free(&s);
}

TEST(import_labelme_points_and_tiff)
{
    SHARED(js, "hamedan_cephalometric/annotations/mollabashi/004.json");
    SHARED(tif, "hamedan_cephalometric/images/004.tif");
    const char *names[19];
    char nb[19][16];
    for (int i = 0; i < 19; i++) snprintf(nb[i], sizeof nb[i], "l%d", i + 1), names[i] = nb[i];
    float xy[38];
    int found, ih, iw;
    CHECK_OK(mt_labelme_read_points(js, names, 19, xy, &found, &ih, &iw));
    LOAD(ref, "labelme/points");
    LOAD(size, "labelme/size");
    CHECK(found == 19, "found %d of 19", found);
    CHECK_CLOSE_F(xy, MT_DATA(ref), 38, 1e-6, 0);
    CHECK(ih == ((const int *)mt_data(size))[0] && iw == ((const int *)mt_data(size))[1], "size %dx%d", iw, ih);
    mt_sample s;
    mt_sample_init(&s);
    CHECK_OK(mt_image_read(tif, &s));
    CHECK(s.c == 1 && s.h == ih && s.w == iw, "tif %dx%dx%d", s.c, s.h, s.w);
    LOAD(tp, "labelme/tif_points");
    LOAD(tv, "labelme/tif_values");
    float got[64];
    for (int i = 0; i < 64; i++)
        got[i] = s.image[(size_t)((const int *)mt_data(tp))[2 * i] * s.w + ((const int *)mt_data(tp))[2 * i + 1]];
    CHECK_CLOSE_F(got, MT_DATA(tv), 64, 0, 0);
    /* nasal-bone ROI from nasion (l2) and ANS (l18), 10% margin */
    int idx[2] = {1, 17};
    float box[4];
    CHECK_OK(mt_box_from_points(xy, idx, 2, 0.1, s.h, s.w, box));
    float x0 = fminf(xy[2], xy[34]), x1 = fmaxf(xy[2], xy[34]);
    CHECK(fabsf(box[0] - (x0 - 0.1f * (x1 - x0))) < 1e-3 && box[2] > x1, "box %g %g %g %g", box[0], box[1], box[2],
          box[3]);
    /* a missing label gives NaN; a file that is not JSON fails naming it */
    const char *missing[1] = {"l99"};
    CHECK_OK(mt_labelme_read_points(js, missing, 1, xy, &found, NULL, NULL));
    CHECK(found == 0 && isnan(xy[0]), "l99 found");
    char p[1024];
    CHECK_FAILS(mt_labelme_read_points(repo("tests/data/text_named.dcm", p, sizeof p), names, 1, xy, &found, NULL, NULL),
                MT_ERR_FORMAT, "text_named.dcm");
    mt_tensor_release(ref), mt_tensor_release(size), mt_tensor_release(tp), mt_tensor_release(tv);
    mt_sample_free(&s);
}

TEST(import_jpeg_palette_png_pgm_and_png_roundtrip)
{
    SHARED(jpg, "covid_semiseg_medseg/TrainingSet/Imgs/2.jpg");
    SHARED(png, "covid_semiseg_medseg/TrainingSet/GT_multiclass/2.png");
    mt_sample s;
    mt_sample_init(&s);
    CHECK_OK(mt_image_read(jpg, &s));
    LOAD(jshape, "labelme/jpg_shape");
    LOAD(jsum, "labelme/jpg_sum");
    CHECK(s.h == ((const int *)mt_data(jshape))[0] && s.w == ((const int *)mt_data(jshape))[1], "jpg %dx%d", s.h, s.w);
    double sum = 0;
    for (size_t i = 0; i < (size_t)s.c * s.h * s.w; i++) sum += s.image[i];
    CHECK(s.c == 1 && fabs(sum - MT_DATA(jsum)[0]) < 0.5, "jpg c=%d sum %.0f vs PIL %.0f", s.c, sum, MT_DATA(jsum)[0]);
    CHECK_OK(mt_image_read(png, &s));
    LOAD(hist, "labelme/png_hist");
    float h[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < (size_t)s.h * s.w; i++)
        if (s.image[i] >= 0 && s.image[i] < 4) h[(int)s.image[i]] += 1;
    CHECK(s.c == 1, "palette PNG must read as indices, got %d channels", s.c);
    CHECK_CLOSE_F(h, MT_DATA(hist), 4, 0, 0);
    char p[1024];
    CHECK_OK(mt_image_read(repo("tests/data/ascii.pgm", p, sizeof p), &s));
    float ref[6] = {0, 500, 1000, 7, 8, 999};
    CHECK(s.h == 2 && s.w == 3, "P2 %dx%d", s.h, s.w);
    CHECK_CLOSE_F(s.image, ref, 6, 0, 0);
    uint8_t px[12] = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 255};
    snprintf(p, sizeof p, "%s/rt.png", mt_test_tmpdir());
    CHECK_OK(mt_image_write_png(p, px, 4, 3, 1));
    CHECK_OK(mt_image_read(p, &s));
    float pf[12];
    for (int i = 0; i < 12; i++) pf[i] = px[i];
    CHECK(s.h == 3 && s.w == 4, "roundtrip %dx%d", s.h, s.w);
    CHECK_CLOSE_F(s.image, pf, 12, 0, 0);
    CHECK_FAILS(mt_image_read(repo("tests/data/text_named.dcm", p, sizeof p), &s), MT_ERR_FORMAT, "text_named.dcm");
    mt_error_clear();
    CHECK(mt_image_read(repo("tests/data/truncated.jpg", p, sizeof p), &s) != MT_OK &&
              strstr(mt_last_error(), "truncated.jpg") && s.image == NULL,
          "truncated JPEG: %s", mt_last_error());
    mt_error_clear();
    CHECK(mt_image_read(repo("tests/data/truncated.png", p, sizeof p), &s) != MT_OK &&
              strstr(mt_last_error(), "truncated.png") && s.image == NULL,
          "truncated PNG: %s", mt_last_error());
    mt_error_clear();
    CHECK(mt_image_read(repo("tests/data/truncated.tif", p, sizeof p), &s) != MT_OK &&
              strstr(mt_last_error(), "truncated.tif") && s.image == NULL,
          "truncated TIFF: %s", mt_last_error());
    mt_error_clear();
    mt_tensor_release(jshape), mt_tensor_release(jsum), mt_tensor_release(hist);
    mt_sample_free(&s);
}

TEST(import_csv_class_labels)
{
    SHARED(csv, "tcga_ct_contrast_slices/overview.csv");
    mt_label_table t;
    CHECK_OK(mt_labels_csv_read(csv, "dicom_name", "Contrast", &t));
    LOAD(nr, "csv/n_rows");
    LOAD(nt, "csv/n_true");
    const char *cls[2] = {"False", "True"};
    int n_true = 0;
    for (int i = 0; i < t.n; i++) {
        int lab;
        CHECK_OK(mt_label_table_class(&t, t.keys[i], cls, 2, &lab));
        n_true += lab;
        /* the file name encodes the label too: ..._CONTRAST_1_CT.dcm */
        CHECK(lab == (strstr(t.keys[i], "CONTRAST_1") != NULL), "%s -> %d", t.keys[i], lab);
    }
    CHECK(t.n == ((const int *)mt_data(nr))[0] && n_true == ((const int *)mt_data(nt))[0], "%d rows, %d true", t.n,
          n_true);
    CHECK_FAILS(mt_label_table_class(&t, "nope.dcm", cls, 2, &n_true), MT_ERR_FORMAT, "nope.dcm");
    mt_label_table tt;
    CHECK_FAILS(mt_labels_csv_read(csv, "dicom_name", "NoSuchColumn", &tt), MT_ERR_FORMAT, "NoSuchColumn");
    mt_tensor_release(nr), mt_tensor_release(nt);
    mt_label_table_free(&t);
}

/* ------------------------------------------------------------------ pre-processing */

TEST(import_window_and_resize_match_numpy_torch)
{
    LOAD(x, "window/x");
    LOAD(w01, "window/soft_tissue_01");
    LOAD(wu8, "window/soft_tissue_u8");
    float v[10];
    uint8_t u[10];
    float uf[10];
    memcpy(v, MT_DATA(x), sizeof v);
    CHECK_OK(mt_window_to_u8(v, 10, 40, 400, u));
    for (int i = 0; i < 10; i++) uf[i] = u[i];
    CHECK_CLOSE_F(uf, MT_DATA(wu8), 10, 0, 0);
    CHECK_OK(mt_hu_window(v, 10, 40, 400, 1));
    CHECK_CLOSE_F(v, MT_DATA(w01), 10, 1e-6, 1e-7);
    CHECK_FAILS(mt_hu_window(v, 10, 40, 0, 1), MT_ERR_INVALID, "width");
    LOAD(img, "resize/x");
    LOAD(msk, "resize/m");
    uint8_t m8[63];
    for (int i = 0; i < 63; i++) m8[i] = (uint8_t)MT_DATA(msk)[i];
    const int sizes[5][2] = {{5, 13}, {14, 18}, {3, 4}, {7, 9}, {20, 6}};
    for (int k = 0; k < 5; k++) {
        int oh = sizes[k][0], ow = sizes[k][1];
        char name[64];
        float out[2 * 20 * 18], mf[20 * 18];
        uint8_t mo[20 * 18];
        CHECK_OK(mt_resize_bilinear(MT_DATA(img), 2, 7, 9, out, oh, ow));
        snprintf(name, sizeof name, "resize/bilinear_%dx%d", oh, ow);
        LOAD(rb, name);
        CHECK_CLOSE_F(out, MT_DATA(rb), (size_t)2 * oh * ow, 1e-5, 1e-5);
        CHECK_OK(mt_resize_nearest_u8(m8, 1, 7, 9, mo, oh, ow));
        for (int i = 0; i < oh * ow; i++) mf[i] = mo[i];
        snprintf(name, sizeof name, "resize/nearest_%dx%d", oh, ow);
        LOAD(rn, name);
        CHECK_CLOSE_F(mf, MT_DATA(rn), (size_t)oh * ow, 0, 0);
        mt_tensor_release(rb), mt_tensor_release(rn);
    }
    mt_tensor_release(x), mt_tensor_release(w01), mt_tensor_release(wu8), mt_tensor_release(img);
    mt_tensor_release(msk);
}

TEST(import_crop_roi_and_pad_keep_labels_on_pixels)
{
    /* 20x30 image whose value encodes its pixel: v = 100 y + x; mask = a 4x5 block at (x 10..14, y 6..9);
     * one point at (12, 7). Crop around the mask with 25% margin, then pad to a multiple of 8. */
    mt_sample s;
    mt_sample_init(&s);
    s.c = 1, s.h = 20, s.w = 30, s.k = 1, s.n_points = 1, s.n_boxes = 1;
    s.image = malloc(sizeof(float) * 600);
    s.mask = calloc(600, 1);
    s.points = malloc(sizeof(float) * 2);
    s.boxes = malloc(sizeof(float) * 5);
    CHECK(s.image && s.mask && s.points && s.boxes, "oom");
    for (int y = 0; y < 20; y++)
        for (int x = 0; x < 30; x++) s.image[y * 30 + x] = (float)(100 * y + x), s.mask[y * 30 + x] = x >= 10 && x <= 14 && y >= 6 && y <= 9;
    s.points[0] = 12, s.points[1] = 7;
    float b[5] = {10, 6, 14, 9, 0};
    memcpy(s.boxes, b, sizeof b);
    int bb[4];
    CHECK_OK(mt_mask_bbox(s.mask, 1, 20, 30, bb));
    CHECK(bb[0] == 10 && bb[1] == 6 && bb[2] == 14 && bb[3] == 9, "bbox %d %d %d %d", bb[0], bb[1], bb[2], bb[3]);
    float roi[4] = {10, 6, 14, 9};
    CHECK_OK(mt_sample_crop_roi(&s, roi, 0.25)); /* margin 1.25 x, 1 y -> x 8..16, y 5..10 */
    CHECK(s.w == 9 && s.h == 6, "crop %dx%d", s.w, s.h);
    CHECK(s.image[0] == 508, "crop origin value %g", s.image[0]);
    int px = (int)s.points[0], py = (int)s.points[1];
    CHECK(s.image[py * s.w + px] == 712 && s.mask[py * s.w + px] == 1, "point no longer on its pixel");
    CHECK(s.boxes[0] == 2 && s.boxes[1] == 1 && s.boxes[2] == 6 && s.boxes[3] == 4, "box %g %g %g %g", s.boxes[0],
          s.boxes[1], s.boxes[2], s.boxes[3]);
    CHECK_OK(mt_sample_pad_multiple(&s, 8, -1.0f));
    CHECK(s.w == 16 && s.h == 8 && s.image[0] == 508 && s.image[15] == -1 && s.image[7 * 16] == -1, "pad %dx%d", s.w,
          s.h);
    CHECK(s.image[py * s.w + px] == 712 && s.mask[py * s.w + px] == 1, "point moved by padding");
    mt_sample_free(&s);
}

/* ------------------------------------------------------------------ the importer */

TEST(import_s1_nifti_slices_with_muscle_mask)
{
    /* the shipped sample (byte-identical to ../shared/data/totalsegmentator_example_ct/...) */
    char ct[1024], mus[1024];
    repo("data/samples/s1/example_ct_sm.nii.gz", ct, sizeof ct);
    repo("data/samples/s1/skeletal_muscle.nii.gz", mus, sizeof mus);
    mt_import_spec sp;
    mt_import_spec_init(&sp);
    char out[1024];
    snprintf(out, sizeof out, "%s/s1.h5", mt_test_tmpdir());
    CHECK_OK(mt_import_spec_set(&sp, "source", "nifti"));
    CHECK_OK(mt_import_spec_set(&sp, "input", ct));
    CHECK_OK(mt_import_spec_set(&sp, "mask", mus));
    CHECK_OK(mt_import_spec_set(&sp, "mask_names", "skeletal_muscle"));
    CHECK_OK(mt_import_spec_set(&sp, "split_by", "sample"));
    CHECK_OK(mt_import_spec_set(&sp, "output", out));
    mt_import_result r;
    CHECK_OK(mt_import_run(&sp, &r));
    CHECK(r.n_samples == 30 && r.c == 1 && r.h == 101 && r.w == 122 && r.k == 1, "%d samples %dx%dx%d k %d",
          r.n_samples, r.c, r.h, r.w, r.k);
    mt_dataset *d;
    CHECK_OK(mt_dataset_open(out, &d));
    CHECK(mt_dataset_size(d) == 30, "dataset has %d samples", mt_dataset_size(d));
    mt_sample s;
    CHECK_OK(mt_dataset_read(d, 15, &s));
    LOAD(slice, "nifti/axial_slice15");
    LOAD(mslice, "nifti/axial_mask_slice15");
    LOAD(msum, "nifti/axial_mask_sum");
    CHECK_CLOSE_F(s.image, MT_DATA(slice), 101 * 122, 0, 0);
    float mf[101 * 122];
    for (int i = 0; i < 101 * 122; i++) mf[i] = s.mask[i];
    CHECK_CLOSE_F(mf, MT_DATA(mslice), 101 * 122, 0, 0);
    CHECK(!strcmp(s.meta.patient_id, "example_ct_sm"), "patient id %s", s.meta.patient_id);
    CHECK(fabs(s.meta.spacing[0] - 3) < 1e-9 && fabs(s.meta.spacing[1] - 3) < 1e-9, "spacing");
    CHECK_OK(overlay("s1_slice15_muscle_overlay.png", s.image, s.h, s.w, -160, 240, s.mask));
    mt_sample_free(&s);
    float sums[30];
    for (int i = 0; i < 30; i++) {
        CHECK_OK(mt_dataset_read(d, i, &s));
        sums[i] = 0;
        for (int j = 0; j < 101 * 122; j++) sums[i] += s.mask[j];
        mt_sample_free(&s);
    }
    CHECK_CLOSE_F(sums, MT_DATA(msum), 30, 0, 0);
    int *idx, n_val, n_test;
    CHECK_OK(mt_dataset_split_indices(d, "val", &idx, &n_val));
    free(idx);
    CHECK_OK(mt_dataset_split_indices(d, "test", &idx, &n_test));
    free(idx);
    CHECK(n_val > 0 && n_test > 0, "split_by sample gave val %d test %d of one patient", n_val, n_test);
    mt_dataset_close(d);
    mt_tensor_release(slice), mt_tensor_release(mslice), mt_tensor_release(msum);
}

TEST(import_errors_name_the_file_and_leave_no_output)
{
    char img[1024], out[1024], p[1024];
    repo("tests/data/images", img, sizeof img);
    snprintf(out, sizeof out, "%s/bad.h5", mt_test_tmpdir());
    mt_import_spec sp;
    mt_import_result r;
    /* b.pgm has no MIAS row */
    mt_import_spec_init(&sp);
    CHECK_OK(mt_import_spec_set(&sp, "input", img));
    CHECK_OK(mt_import_spec_set(&sp, "output", out));
    CHECK_OK(mt_import_spec_set(&sp, "mias_info", repo("tests/data/Info_only_a.txt", p, sizeof p)));
    CHECK_FAILS(mt_import_run(&sp, &r), MT_ERR_INVALID, "b.pgm");
    CHECK(access(out, F_OK) != 0, "a failed import left %s behind", out);
    /* b.pgm has no CSV label */
    mt_import_spec_init(&sp);
    CHECK_OK(mt_import_spec_set(&sp, "input", img));
    CHECK_OK(mt_import_spec_set(&sp, "output", out));
    CHECK_OK(mt_import_spec_set(&sp, "labels_csv", repo("tests/data/labels_only_a.csv", p, sizeof p)));
    CHECK_OK(mt_import_spec_set(&sp, "csv_key", "file"));
    CHECK_OK(mt_import_spec_set(&sp, "csv_label", "cls"));
    CHECK_FAILS(mt_import_run(&sp, &r), MT_ERR_FORMAT, "b.pgm");
    CHECK(access(out, F_OK) != 0, "a failed import left %s behind", out);
    /* mask of the wrong size for a.pgm (10x10 for a 16x16 image) */
    mt_import_spec_init(&sp);
    CHECK_OK(mt_import_spec_set(&sp, "input", img));
    CHECK_OK(mt_import_spec_set(&sp, "output", out));
    CHECK_OK(mt_import_spec_set(&sp, "mask_dir", repo("tests/data/masks_wrong_size", p, sizeof p)));
    CHECK_FAILS(mt_import_run(&sp, &r), MT_ERR_FORMAT, "a.png");
    /* missing image / missing mask NIfTI */
    mt_import_spec_init(&sp);
    CHECK_OK(mt_import_spec_set(&sp, "input", repo("tests/data/images/missing.pgm", p, sizeof p)));
    CHECK_OK(mt_import_spec_set(&sp, "output", out));
    CHECK_FAILS(mt_import_run(&sp, &r), MT_ERR_IO, "missing.pgm");
    CHECK_FAILS(mt_import_spec_set(&sp, "resize", "12xabc"), MT_ERR_INVALID, "resize");
    CHECK_FAILS(mt_import_spec_set(&sp, "colour", "red"), MT_ERR_INVALID, "colour");
    CHECK(access(out, F_OK) != 0, "a failed import left %s behind", out);
    /* the good path on the same tiny images: a has a label, pad to 32, scale to [0,1] */
    mt_import_spec_init(&sp);
    CHECK_OK(mt_import_spec_set(&sp, "input", repo("tests/data/images/a.pgm", p, sizeof p)));
    CHECK_OK(mt_import_spec_set(&sp, "output", out));
    CHECK_OK(mt_import_spec_set(&sp, "mias_info", repo("tests/data/Info_only_a.txt", p, sizeof p)));
    CHECK_OK(mt_import_spec_set(&sp, "scale", "0,255"));
    CHECK_OK(mt_import_spec_set(&sp, "pad_multiple", "32"));
    CHECK_OK(mt_import_run(&sp, &r));
    CHECK(r.n_samples == 1 && r.h == 32 && r.w == 32 && r.k == 1, "tiny import %d %dx%d k %d", r.n_samples, r.h, r.w,
          r.k);
    CHECK(access(out, F_OK) == 0, "no dataset written");
}

TEST(import_shipped_dicom_samples_series_recon_and_csv)
{
    char in[1024], out[1024], p[1024];
    mt_import_spec sp;
    mt_import_result r;
    /* CQ500: 3 JPEG-lossless slices as one series -> MIP/AIP/mid coronal, square pixels */
    mt_import_spec_init(&sp);
    CHECK_OK(mt_import_spec_set(&sp, "source", "dicom-series"));
    CHECK_OK(mt_import_spec_set(&sp, "input", repo("data/samples/cq500", in, sizeof in)));
    CHECK_OK(mt_import_spec_set(&sp, "recon", "mip,aip,mid"));
    CHECK_OK(mt_import_spec_set(&sp, "plane", "coronal"));
    snprintf(out, sizeof out, "%s/cq500.h5", mt_test_tmpdir());
    CHECK_OK(mt_import_spec_set(&sp, "output", out));
    CHECK_OK(mt_import_run(&sp, &r));
    /* 512 columns of 0.443 mm; 3 rows 1.875 mm apart -> round(3 * 1.875 / 0.443359) = 13 rows */
    CHECK(r.n_samples == 1 && r.c == 3 && r.w == 512 && r.h == 13, "cq500 recon %d [%d,%d,%d]", r.n_samples, r.c,
          r.h, r.w);
    mt_dataset *d;
    mt_sample s;
    CHECK_OK(mt_dataset_open(out, &d));
    CHECK_OK(mt_dataset_read(d, 0, &s));
    size_t hw = (size_t)s.h * s.w;
    int mip_ge = 1;
    for (size_t i = 0; i < hw; i++) mip_ge &= s.image[i] >= s.image[hw + i] - 1e-3f && s.image[i] >= s.image[2 * hw + i] - 1e-3f;
    CHECK(mip_ge, "MIP channel below AIP/mid somewhere");
    CHECK(!strcmp(s.meta.patient_id, "CQ500-CT-0"), "patient %s", s.meta.patient_id);
    mt_sample_free(&s);
    mt_dataset_close(d);
    /* TCGA: one uncompressed slice labelled from overview.csv, HU window -> [0,1], 64x64 */
    mt_import_spec_init(&sp);
    CHECK_OK(mt_import_spec_set(&sp, "source", "dicom"));
    CHECK_OK(mt_import_spec_set(&sp, "input", repo("data/samples/tcga/*.dcm", in, sizeof in)));
    CHECK_OK(mt_import_spec_set(&sp, "labels_csv", repo("data/samples/tcga/overview.csv", p, sizeof p)));
    CHECK_OK(mt_import_spec_set(&sp, "csv_key", "dicom_name"));
    CHECK_OK(mt_import_spec_set(&sp, "csv_label", "Contrast"));
    CHECK_OK(mt_import_spec_set(&sp, "classes", "False,True"));
    CHECK_OK(mt_import_spec_set(&sp, "window", "40,400"));
    CHECK_OK(mt_import_spec_set(&sp, "resize", "64x64"));
    snprintf(out, sizeof out, "%s/tcga.h5", mt_test_tmpdir());
    CHECK_OK(mt_import_spec_set(&sp, "output", out));
    CHECK_OK(mt_import_run(&sp, &r));
    CHECK(r.n_samples == 1 && r.h == 64 && r.w == 64, "tcga %d %dx%d", r.n_samples, r.h, r.w);
    CHECK_OK(mt_dataset_open(out, &d));
    CHECK_OK(mt_dataset_read(d, 0, &s));
    float lo = 1, hi = 0;
    for (int i = 0; i < 64 * 64; i++) lo = fminf(lo, s.image[i]), hi = fmaxf(hi, s.image[i]);
    CHECK(s.label == 1 && lo >= 0 && hi <= 1 && hi > lo, "label %d range %g..%g", s.label, lo, hi);
    CHECK(fabs(s.meta.spacing[0] - 0.697265625 * 8) < 1e-4, "resized spacing %g", s.meta.spacing[0]);
    mt_sample_free(&s);
    mt_dataset_close(d);
    /* MIAS: circle mask + box, ROI crop with 10% margin, then 128x128 */
    mt_import_spec_init(&sp);
    CHECK_OK(mt_import_spec_set(&sp, "input", repo("data/samples/mias/mdb028.pgm", in, sizeof in)));
    CHECK_OK(mt_import_spec_set(&sp, "mias_info", repo("data/samples/mias/Info.txt", p, sizeof p)));
    CHECK_OK(mt_import_spec_set(&sp, "scale", "0,255"));
    CHECK_OK(mt_import_spec_set(&sp, "roi_crop", "1"));
    CHECK_OK(mt_import_spec_set(&sp, "resize", "128x128"));
    snprintf(out, sizeof out, "%s/mias.h5", mt_test_tmpdir());
    CHECK_OK(mt_import_spec_set(&sp, "output", out));
    CHECK_OK(mt_import_run(&sp, &r));
    CHECK_OK(mt_dataset_open(out, &d));
    CHECK_OK(mt_dataset_read(d, 0, &s));
    /* circle r 56 -> 113 px box, +10% (11.3 px) each side -> ~136 px crop; the circle fills
     * pi/4 of its box: (113/136)^2 * pi/4 = 0.54 of the crop */
    double frac = 0;
    for (int i = 0; i < 128 * 128; i++) frac += s.mask[i];
    frac /= 128 * 128;
    CHECK(fabs(frac - 0.54) < 0.03 && s.label == 1 && s.n_boxes == 1, "mask fraction %.3f label %d boxes %d", frac,
          s.label, s.n_boxes);
    mt_sample_free(&s);
    mt_dataset_close(d);
}
