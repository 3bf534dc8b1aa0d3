/* tests/test_quantify.c: S3 quantification (data/bodycomp.h, data/sarcopenia.h, medtrain quantify).
 * The T-scores against the paper's table arithmetic; the CSV of `medtrain quantify` against
 * tests/bodycomp_check.py (nibabel / pydicom / numpy, 1e-6 relative) on the shipped CT sample
 * (data/samples/s1: CT + skeletal_muscle, subcutaneous_fat, torso_fat masks) and, when
 * ../shared/data is present, on the TotalSegmentator DICOM series with a label-map mask. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../data/bodycomp.h"
#include "../data/ct_volume.h"
#include "../data/image_io.h"
#include "../data/sarcopenia.h"
#include "../train/plot.h"
#include "../train/run_dir.h"
#include "test.h"

#define SAMPLE "data/samples/s1/"
#define NEED_TOOLS()                                                                                   \
    const char *mt_ = mt_test_medtrain();                                                              \
    if (!mt_) SKIP("skipped: medtrain CLI not built next to run_tests (make test builds it)");         \
    char py_out_[256];                                                                                 \
    if (mt_test_run("/usr/bin/python3 -c 'import nibabel, pydicom, numpy, h5py, PIL'", py_out_,        \
                    sizeof py_out_) != 0)                                                              \
        SKIP("skipped: /usr/bin/python3 with nibabel, pydicom, numpy, h5py, PIL missing (make deps-py)")

/* The paper's table: each printed cut-off gives T = -1 / -2 to the table's rounding (within 0.025:
 * women SMA/BMI 4.54 gives -1.021), and
 * men SMA 153.56 = 186.54 - 32.98 gives exactly -1 and is flagged. */
TEST(sarcopenia_tscores_match_paper_table)
{
    mt_sarc_reference ref;
    mt_sarc_reference_paper(&ref);
    static const double cut[2][MT_SARC_N][2] = {
        {{153.56, 120.58}, {50.24, 38.83}, {1.97, 1.70}, {5.92, 5.03}},  /* men: T=-1, T=-2 */
        {{91.53, 66.86}, {35.71, 26.76}, {1.76, 1.59}, {4.54, 4.07}}};   /* women */
    for (int g = 0; g < 2; g++) {
        const mt_sarc_group *grp = mt_sarc_reference_group(&ref, g ? "F" : "M");
        CHECK(grp && grp->n == (g ? 68 : 83), "group %d", g);
        for (int i = 0; i < MT_SARC_N; i++)
            for (int c = 0; c < 2; c++) {
                double t = mt_tscore(cut[g][i][c], grp->mean[i], grp->sd[i]);
                CHECK(fabs(t - (-1.0 - c)) < 0.025, "sex %d index %s cut %g: T %.4f, want %d", g,
                      mt_sarc_index_names[i], cut[g][i][c], t, -1 - c);
            }
    }
    double t = mt_tscore(153.56, ref.men.mean[0], ref.men.sd[0]);
    CHECK(fabs(t + 1.0) < 1e-12, "men SMA 153.56: T %.15g", t);
    CHECK(mt_tscore_class(t) == 1 && !strcmp(mt_tscore_class_name(1), "class_I"), "153.56 -> %d", mt_tscore_class(t));
    CHECK(mt_tscore_class(mt_tscore(120.58, 186.54, 32.98)) == 2, "men SMA 120.58 is class II");
    CHECK(mt_tscore_class(mt_tscore(153.57, 186.54, 32.98)) == 0, "men SMA 153.57 is normal");
    CHECK(mt_tscore_class(NAN) == -1 && isnan(mt_tscore(100, 186.54, 0)), "NaN handling");
    double idx[MT_SARC_N];
    mt_sarc_indices(150.0, 1.75, 70.0, idx);
    double want[MT_SARC_N] = {150.0, 150.0 / (1.75 * 1.75), 150.0 / 70.0, 150.0 / (70.0 / (1.75 * 1.75))};
    CHECK_CLOSE_D(idx, want, MT_SARC_N, 1e-15, 0);
    mt_sarc_indices(150.0, NAN, 70.0, idx);
    CHECK(isnan(idx[1]) && isnan(idx[3]) && fabs(idx[2] - 150.0 / 70.0) < 1e-15, "unknown height");
}

/* Tissue statistics on a hand-made slice: area from the spacing, sample SD, empty masks NaN. */
TEST(bodycomp_tissue_stats_by_hand)
{
    float hu[6] = {10, 20, 60, -100, 5, 7};
    uint8_t m[6] = {1, 1, 1, 0, 0, 0}, none[6] = {0};
    mt_tissue_stats s;
    CHECK_OK(mt_tissue_stats_compute(hu, m, 6, 0.5, 2.0, &s));
    double mean = 30, sd = sqrt((400.0 + 100.0 + 900.0) / 2.0);
    CHECK(s.area_px == 3 && fabs(s.area_cm2 - 0.03) < 1e-15 && fabs(s.hu_mean - mean) < 1e-12 &&
              fabs(s.hu_sd - sd) < 1e-12 && s.hu_min == 10 && s.hu_max == 60,
          "stats %lld %g %g %g %g %g", s.area_px, s.area_cm2, s.hu_mean, s.hu_sd, s.hu_min, s.hu_max);
    CHECK_OK(mt_tissue_stats_compute(hu, none, 6, 0.5, 2.0, &s));
    CHECK(s.area_px == 0 && s.area_cm2 == 0 && isnan(s.hu_mean) && isnan(s.hu_sd), "empty mask");
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* The shipped CT sample (NIfTI, 3 masks, 10 slices): every figure of the CSV equals numpy's. */
TEST(quantify_nifti_matches_numpy)
{
    NEED_TOOLS();
    char dir[1024], cmd[8192], out[16384], png[1200];
    snprintf(dir, sizeof dir, "%s/quant_nifti", mt_test_tmpdir());
    const char *masks = "--mask M=" SAMPLE "skeletal_muscle.nii.gz --mask SAT=" SAMPLE "subcutaneous_fat.nii.gz "
                        "--mask VAT=" SAMPLE "torso_fat.nii.gz";
    snprintf(cmd, sizeof cmd, "%s quantify " SAMPLE "example_ct_sm.nii.gz %s --slices 10:19 --sex M --height 1.75 "
             "--weight 79 --out %s", mt_, masks, dir);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0, "quantify failed:\n%s", out);
    snprintf(png, sizeof png, "%s/example_ct_sm_z015_quant.png", dir);
    mt_sample pic;
    mt_sample_init(&pic);
    CHECK_OK(mt_image_read(png, &pic));
    int pw = pic.w, ph = pic.h, pc = pic.c;
    mt_sample_free(&pic);
    /* 122x101 slice upscaled 4x, under it 8 px + 5 caption lines of 20 px (patient, sex/height/
     * weight, two lines of indices and T-scores, the reference) */
    CHECK(pw == 4 * 122 && ph == 4 * 101 + 8 + 5 * 20 && pc == 3, "overlay %s is %dx%dx%d", png, pw, ph, pc);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/bodycomp_check.py %s/quantify.csv " SAMPLE
             "example_ct_sm.nii.gz %s --slices 10:19 --sex M --height 1.75 --weight 79", dir, masks);
    int rc = mt_test_run(cmd, out, sizeof out);
    printf("  %s", out);
    CHECK(rc == 0, "bodycomp_check:\n%s", out);
}

/* A reference cohort CSV (mean / SD per sex computed from it) and a patients CSV for height,
 * weight and sex (looked up by the file stem as patient id). */
TEST(quantify_cohort_reference_and_patients_csv)
{
    NEED_TOOLS();
    const char *tmp = mt_test_tmpdir();
    char dir[1024], cohort[1024], patients[1024], cmd[8192], out[16384], csv[1200];
    snprintf(dir, sizeof dir, "%s/quant_cohort", tmp);
    snprintf(cohort, sizeof cohort, "%s/cohort.csv", tmp);
    snprintf(patients, sizeof patients, "%s/patients.csv", tmp);
    CHECK(write_text(cohort, "id,sex,height_m,weight_kg,sma_cm2\n1,M,1.80,80,180\n2,M,1.70,70,150\n3,m,1.75,90,200\n"
                             "4,F,1.60,55,110\n5,female,1.65,60,125\n6,F,1.55,50,100\n"),
          "write %s", cohort);
    CHECK(write_text(patients, "patient_id,sex,height_m,weight_kg\nother,M,1.9,100\nexample_ct_sm,F,1.62,58\n"),
          "write %s", patients);
    snprintf(cmd, sizeof cmd, "%s quantify " SAMPLE "example_ct_sm.nii.gz --mask muscle=" SAMPLE
             "skeletal_muscle.nii.gz --slices 3:5 --patients %s --reference %s --height 2.5 --no_overlay --out %s",
             mt_, patients, cohort, dir);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0, "quantify failed:\n%s", out);
    snprintf(csv, sizeof csv, "%s/quantify.csv", dir);
    char *text = NULL;
    size_t len = 0;
    CHECK_OK(mt_read_file(csv, &text, &len));
    int ok = strstr(text, ",F,1.62,58,") && strstr(text, ",csv,csv,csv,") && strstr(text, "cohort ");
    free(text);
    CHECK(ok, "%s: expected sex F, height 1.62, weight 58 from the patients CSV (sources csv)", csv);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/bodycomp_check.py %s " SAMPLE "example_ct_sm.nii.gz --mask "
             "muscle=" SAMPLE "skeletal_muscle.nii.gz --muscle muscle --slices 3:5 --sex F --height 1.62 "
             "--weight 58 --reference %s", csv, cohort);
    int rc = mt_test_run(cmd, out, sizeof out);
    printf("  %s", out);
    CHECK(rc == 0, "bodycomp_check:\n%s", out);
    /* a malformed cohort is refused naming the file and line */
    CHECK(write_text(cohort, "sex,sma_cm2\nM,180\nX,150\n"), "write");
    snprintf(cmd, sizeof cmd, "%s quantify " SAMPLE "example_ct_sm.nii.gz --mask M=" SAMPLE "skeletal_muscle.nii.gz "
             "--slice 3 --sex M --reference %s --no_overlay --out %s", mt_, cohort, dir);
    CHECK(mt_test_run(cmd, out, sizeof out) == 1 && strstr(out, "cohort.csv:3") && strstr(out, "'X' is not M or F"),
          "bad cohort not refused clearly:\n%s", out);
}

/* A PNG mask of one slice (the layout `medtrain predict` writes) gives the same row as the
 * NIfTI mask it was cut from. */
TEST(quantify_png_mask_equals_nifti_mask)
{
    NEED_TOOLS();
    const char *tmp = mt_test_tmpdir();
    mt_volume img, m;
    CHECK_OK(mt_ct_volume_read(SAMPLE "example_ct_sm.nii.gz", &img));
    mt_status st = mt_mask_volume_read(SAMPLE "skeletal_muscle.nii.gz", NULL, 0, &img, &m);
    uint8_t plane[101 * 122];
    int h = img.ny, w = img.nx;
    mt_volume_free(&img);
    CHECK_OK(st);
    CHECK(h * w <= (int)sizeof plane, "slice %dx%d", w, h);
    st = mt_mask_volume_slice(&m, 15, h, w, plane);
    mt_volume_free(&m);
    CHECK_OK(st);
    char png[1024], d1[1024], d2[1024], cmd[8192], out[8192];
    snprintf(png, sizeof png, "%s/m_z015_mask.png", tmp);
    CHECK_OK(mt_plot_mask_png(png, plane, h, w));
    snprintf(d1, sizeof d1, "%s/quant_png", tmp);
    snprintf(d2, sizeof d2, "%s/quant_nii", tmp);
    snprintf(cmd, sizeof cmd, "%s quantify " SAMPLE "example_ct_sm.nii.gz --mask M=%s --slice 15 --sex M --height 1.7 "
             "--weight 70 --no_overlay --out %s", mt_, png, d1);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0, "quantify (PNG) failed:\n%s", out);
    snprintf(cmd, sizeof cmd, "%s quantify " SAMPLE "example_ct_sm.nii.gz --mask M=" SAMPLE "skeletal_muscle.nii.gz "
             "--slice 15 --sex M --height 1.7 --weight 70 --no_overlay --out %s", mt_, d2);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0, "quantify (NIfTI) failed:\n%s", out);
    char p1[1100], p2[1100], *a = NULL, *b = NULL;
    size_t la, lb;
    snprintf(p1, sizeof p1, "%s/quantify.csv", d1);
    snprintf(p2, sizeof p2, "%s/quantify.csv", d2);
    CHECK_OK(mt_read_file(p1, &a, &la));
    st = mt_read_file(p2, &b, &lb);
    int same = st == MT_OK && la == lb && !memcmp(a, b, la);
    free(a);
    free(b);
    CHECK(same, "%s and %s differ", p1, p2);
    /* a PNG mask needs one slice */
    snprintf(cmd, sizeof cmd, "%s quantify " SAMPLE "example_ct_sm.nii.gz --mask M=%s --out %s", mt_, png, d1);
    CHECK(mt_test_run(cmd, out, sizeof out) == 1 && strstr(out, "--slice K"), "PNG mask over 30 slices:\n%s", out);
}

/* The TotalSegmentator DICOM series (JPEG 2000) with its label map: M = autochthon 86,87.
 * Weight comes from PatientWeight (79 kg), height from the flag; equal to pydicom + numpy. */
TEST(quantify_dicom_matches_pydicom)
{
    NEED_TOOLS();
    char series[1024], seg[1024];
    if (!mt_test_shared_data("totalsegmentator_example_ct/example_ct_dicom", series, sizeof series) ||
        !mt_test_shared_data("totalsegmentator_example_ct/example_seg_dicom.nii.gz", seg, sizeof seg))
        SKIP("skipped: ../shared/data/totalsegmentator_example_ct not present");
    char dir[1024], cmd[8192], out[16384];
    snprintf(dir, sizeof dir, "%s/quant_dicom", mt_test_tmpdir());
    snprintf(cmd, sizeof cmd, "%s quantify %s --mask M=%s@86,87 --mask liver=%s@5 --slices 4:6 --sex M --height 1.8 "
             "--weight 60 --out %s", mt_, series, seg, seg, dir);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0, "quantify failed:\n%s", out);
    char csv[1200], *text = NULL;
    size_t len;
    snprintf(csv, sizeof csv, "%s/quantify.csv", dir);
    CHECK_OK(mt_read_file(csv, &text, &len));
    int ok = strstr(text, ",M,1.8,79,") && strstr(text, ",flag,flag,dicom,");
    free(text);
    CHECK(ok, "%s: expected weight 79 kg from PatientWeight, height 1.8 from the flag", csv);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/bodycomp_check.py %s %s --mask M=%s@86,87 --mask liver=%s@5 "
             "--slices 4:6 --sex M --height 1.8", csv, series, seg, seg);
    int rc = mt_test_run(cmd, out, sizeof out);
    printf("  %s", out);
    CHECK(rc == 0, "bodycomp_check:\n%s", out);
    /* the NIfTI sample's mask is not on the DICOM grid: refused naming both files */
    snprintf(cmd, sizeof cmd, "%s quantify %s --mask M=" SAMPLE "skeletal_muscle.nii.gz --out %s", mt_, series, dir);
    CHECK(mt_test_run(cmd, out, sizeof out) == 1 && strstr(out, "skeletal_muscle.nii.gz") &&
              strstr(out, "example_ct_dicom"),
          "grid mismatch not refused clearly:\n%s", out);
}
