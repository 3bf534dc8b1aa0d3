/* tests/test_recon.c: S2's reconstructions and the data problems the TCGA import reports.
 *   - mt_volume_resample_isotropic against torch trilinear (align_corners=False) on an
 *     anisotropic random volume, origin included;
 *   - the nine MIP / AIP / mid-plane images (mt_recon_nine and `import --recon` with
 *     isotropic_mm) against numpy on the same torch-resampled volume
 *     (tests/fixtures/gen_recon.py -> tests/fixtures/recon.h5);
 *   - duplicate images never straddle splits (/meta/duplicate_of) and patients with more
 *     than one label are counted (mt_dataset_writer_stats through mt_import_run). */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/tensor.h"
#include "../data/dataset.h"
#include "../data/import.h"
#include "../data/nifti.h"
#include "../data/recon.h"
#include "../train/plot.h"
#include "../train/run_dir.h"
#include "fixture.h"
#include "test.h"

#define FX "tests/fixtures/recon.h5"
#define LOAD(var, name)                                                                 \
    mt_tensor *var = fx_load(FX, name);                                                 \
    CHECK_NOTNULL(var)

TEST(recon_resample_isotropic_matches_torch_trilinear)
{
    LOAD(vol, "aniso/volume");
    LOAD(ref, "aniso/resampled");
    mt_volume v, iso;
    memset(&v, 0, sizeof v);
    mt_meta_init(&v.meta);
    v.nx = 7, v.ny = 5, v.nz = 4;
    v.data = malloc(sizeof(float) * 140);
    CHECK(v.data, "oom");
    memcpy(v.data, MT_DATA(vol), sizeof(float) * 140);
    v.meta.spacing[0] = 0.7, v.meta.spacing[1] = 0.9, v.meta.spacing[2] = 2.0;
    v.meta.origin[0] = 10, v.meta.origin[1] = 20, v.meta.origin[2] = 30;
    CHECK_OK(mt_volume_resample_isotropic(&v, 0.5, &iso));
    /* round(7 * 0.7 / 0.5) = 10, round(5 * 0.9 / 0.5) = 9, round(4 * 2 / 0.5) = 16 */
    CHECK(iso.nx == 10 && iso.ny == 9 && iso.nz == 16, "size %dx%dx%d", iso.nx, iso.ny, iso.nz);
    CHECK(ref->shape[0] == 16 && ref->shape[1] == 9 && ref->shape[2] == 10, "fixture shape");
    CHECK_CLOSE_F(iso.data, MT_DATA(ref), 1440, 1e-5, 1e-6);
    CHECK(iso.meta.spacing[0] == 0.5 && iso.meta.spacing[1] == 0.5 && iso.meta.spacing[2] == 0.5, "spacing");
    /* first centre at old index 0.5 n / n' - 0.5: x 0.7 (0.35 - 0.5), y 0.9 (0.5 * 5 / 9 - 0.5), z 2 (0.125 - 0.5) */
    CHECK(fabs(iso.meta.origin[0] - (10 + 0.7 * -0.15)) < 1e-9 &&
              fabs(iso.meta.origin[1] - (20 + 0.9 * (2.5 / 9 - 0.5))) < 1e-9 &&
              fabs(iso.meta.origin[2] - (30 + 2.0 * -0.375)) < 1e-9,
          "origin %g %g %g", iso.meta.origin[0], iso.meta.origin[1], iso.meta.origin[2]);
    /* smallest spacing by default; refused: zero spacing, a result over 2^31 voxels */
    mt_volume_free(&iso);
    CHECK_OK(mt_volume_resample_isotropic(&v, 0, &iso));
    CHECK(iso.nx == 7 && iso.ny == 6 && iso.nz == 11 && iso.meta.spacing[2] == 0.7, "default %dx%dx%d", iso.nx,
          iso.ny, iso.nz);
    mt_volume_free(&iso);
    CHECK_FAILS(mt_volume_resample_isotropic(&v, 1e-4, &iso), MT_ERR_INVALID, "2^31");
    v.meta.spacing[1] = 0;
    CHECK_FAILS(mt_volume_resample_isotropic(&v, 0.5, &iso), MT_ERR_INVALID, "spacing");
    mt_volume_free(&v);
    mt_tensor_release(vol);
    mt_tensor_release(ref);
}

static const char *const k_nine[9] = {"axial_mip",   "axial_aip",   "axial_mid",    "coronal_mip", "coronal_aip",
                                      "coronal_mid", "sagittal_mip", "sagittal_aip", "sagittal_mid"};

TEST(recon_nine_match_numpy_on_the_resampled_volume)
{
    char buf[1024];
    const char *path = mt_test_shared_data("totalsegmentator_example_ct/example_ct_sm.nii.gz", buf, sizeof buf);
    if (!path) SKIP("skipped: ../shared/data/totalsegmentator_example_ct is not here");
    mt_volume v;
    CHECK_OK(mt_nifti_read(path, &v));
    CHECK_OK(mt_volume_reorient(&v));
    mt_sample r[9];
    for (int i = 0; i < 9; i++) mt_sample_init(&r[i]);
    CHECK_OK(mt_recon_nine(&v, 4.0, r));
    for (int i = 0; i < 9; i++) {
        char name[64];
        snprintf(name, sizeof name, "nine/%s", k_nine[i]);
        LOAD(ref, name);
        CHECK(r[i].h == ref->shape[0] && r[i].w == ref->shape[1], "%s: %dx%d vs %dx%d", name, r[i].h, r[i].w,
              ref->shape[0], ref->shape[1]);
        CHECK_CLOSE_F(r[i].image, MT_DATA(ref), (size_t)r[i].h * r[i].w, 1e-5, 1e-2);
        CHECK(fabs(r[i].meta.spacing[0] - 4.0) < 1e-12 && fabs(r[i].meta.spacing[1] - 4.0) < 1e-12,
              "%s: pixels %g x %g mm", name, r[i].meta.spacing[0], r[i].meta.spacing[1]);
        mt_tensor_release(ref);
    }
    for (int i = 0; i < 9; i++) mt_sample_free(&r[i]);

    /* the importer: isotropic volume first, then the sagittal MIP / AIP / mid as 3 channels */
    char out[1200];
    mt_import_spec *sp = calloc(1, sizeof *sp);
    CHECK(sp, "oom");
    mt_import_spec_init(sp);
    snprintf(out, sizeof out, "%s/recon_sagittal.h5", mt_test_tmpdir());
    CHECK_OK(mt_import_spec_set(sp, "source", "nifti"));
    CHECK_OK(mt_import_spec_set(sp, "input", path));
    CHECK_OK(mt_import_spec_set(sp, "recon", "mip,aip,mid"));
    CHECK_OK(mt_import_spec_set(sp, "plane", "sagittal"));
    CHECK_OK(mt_import_spec_set(sp, "isotropic_mm", "4"));
    CHECK_OK(mt_import_spec_set(sp, "output", out));
    CHECK_FAILS(mt_import_spec_set(sp, "isotropic_mm", "-1"), MT_ERR_INVALID, "isotropic_mm");
    mt_import_result res;
    CHECK_OK(mt_import_run(sp, &res));
    mt_dataset *d;
    mt_sample s;
    CHECK_OK(mt_dataset_open(out, &d));
    CHECK_OK(mt_dataset_read(d, 0, &s));
    CHECK(s.c == 3 && s.h == 23 && s.w == 76, "import [%d,%d,%d]", s.c, s.h, s.w);
    for (int k = 0; k < 3; k++) {
        char name[64];
        snprintf(name, sizeof name, "nine/%s", k_nine[6 + k]);
        LOAD(ref, name);
        CHECK_CLOSE_F(s.image + (size_t)k * s.h * s.w, MT_DATA(ref), (size_t)s.h * s.w, 1e-5, 1e-2);
        mt_tensor_release(ref);
    }
    mt_sample_free(&s);
    mt_dataset_close(d);
    mt_volume_free(&v);
    free(sp);
}

/* 12 PNGs x0..x11 (x3 and x7 identical to x1; the rest distinct), one CSV label each */
static void write_images(mt_test_ctx *T_, const char *dir)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/labels.csv", dir);
    FILE *f = fopen(p, "w");
    CHECK(f, "cannot write %s", p);
    fprintf(f, "file,label\n");
    for (int i = 0; i < 12; i++) {
        uint8_t img[64];
        int src = (i == 3 || i == 7) ? 1 : i;
        for (int k = 0; k < 64; k++) img[k] = (uint8_t)(k == src || k == 63 - 2 * src); /* distinct per src */
        snprintf(p, sizeof p, "%s/x%d.png", dir, i);
        CHECK_OK(mt_plot_mask_png(p, img, 8, 8));
        fprintf(f, "x%d.png,%d\n", i, i % 2);
    }
    fclose(f);
}

TEST(recon_import_duplicates_share_a_split_and_mixed_labels_are_counted)
{
    char dir[1024], in[1100], csv[1100], out[1200];
    snprintf(dir, sizeof dir, "%s/dups", mt_test_tmpdir());
    CHECK_OK(mt_mkdirs(dir));
    write_images(T_, dir);
    snprintf(in, sizeof in, "%s/*.png", dir);
    snprintf(csv, sizeof csv, "%s/labels.csv", dir);
    mt_import_spec *sp = calloc(1, sizeof *sp);
    CHECK(sp, "oom");
    for (int seed = 0; seed < 12; seed++) {
        char sd[16];
        snprintf(sd, sizeof sd, "%d", seed);
        mt_import_spec_init(sp);
        snprintf(out, sizeof out, "%s/dups_%d.h5", mt_test_tmpdir(), seed);
        CHECK_OK(mt_import_spec_set(sp, "source", "images"));
        CHECK_OK(mt_import_spec_set(sp, "input", in));
        CHECK_OK(mt_import_spec_set(sp, "labels_csv", csv));
        CHECK_OK(mt_import_spec_set(sp, "csv_key", "file"));
        CHECK_OK(mt_import_spec_set(sp, "csv_label", "label"));
        CHECK_OK(mt_import_spec_set(sp, "val_frac", "0.3"));
        CHECK_OK(mt_import_spec_set(sp, "test_frac", "0.3"));
        CHECK_OK(mt_import_spec_set(sp, "seed", sd));
        CHECK_OK(mt_import_spec_set(sp, "output", out));
        mt_import_result res;
        CHECK_OK(mt_import_run(sp, &res));
        CHECK(res.n_duplicates == 2 && res.n_mixed_label_patients == 0, "seed %d: %d duplicates, %d mixed", seed,
              res.n_duplicates, res.n_mixed_label_patients);
        mt_dataset *d;
        CHECK_OK(mt_dataset_open(out, &d));
        /* sorted input order: x0 x1 x10 x11 x2 x3 ... -> x1 is sample 1, x3 sample 5, x7 sample 9 */
        int ds[3] = {1, 5, 9}, where[3] = {-1, -1, -1};
        static const char *const names[3] = {"train", "val", "test"};
        for (int k = 0; k < 3; k++) {
            int *idx, n;
            CHECK_OK(mt_dataset_split_indices(d, names[k], &idx, &n));
            for (int j = 0; j < n; j++)
                for (int q = 0; q < 3; q++)
                    if (idx[j] == ds[q]) where[q] = k;
            free(idx);
        }
        mt_dataset_close(d);
        CHECK(where[0] >= 0 && where[0] == where[1] && where[1] == where[2], "seed %d: duplicates in splits %d %d %d",
              seed, where[0], where[1], where[2]);
    }
    int dv[12] = {0};
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = f >= 0 ? H5Dopen2(f, "/meta/duplicate_of", H5P_DEFAULT) : -1;
    CHECK(ds >= 0 && H5Dread(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dv) >= 0, "no /meta/duplicate_of in %s",
          out);
    if (ds >= 0) H5Dclose(ds);
    if (f >= 0) H5Fclose(f);
    for (int i = 0; i < 12; i++) CHECK(dv[i] == (i == 5 || i == 9 ? 1 : -1), "duplicate_of[%d] = %d", i, dv[i]);
    /* one patient id for all: its samples carry labels 0 and 1 */
    CHECK_OK(mt_import_spec_set(sp, "patient_id", "P1"));
    mt_import_result res;
    CHECK_OK(mt_import_run(sp, &res));
    CHECK(res.n_mixed_label_patients == 1, "mixed %d", res.n_mixed_label_patients);
    free(sp);
}
