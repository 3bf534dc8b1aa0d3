/* tests/test_import_fixes.c: regression tests for issue 12 (import defects found on
 * held-out files of the shared data sets). DICOM inputs: tests/fixtures/gen_import_fixes.py
 * (pydicom) -> tests/data/mono1_*.dcm, tests/data/no_pid/. Tests that need ../shared/data
 * SKIP when it is absent. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../data/dataset.h"
#include "../data/dicom.h"
#include "../data/import.h"
#include "../data/preprocess.h"
#include "test.h"

#define SHARED(var, rel)                                                                \
    char var##_buf[1024];                                                               \
    const char *var = mt_test_shared_data(rel, var##_buf, sizeof var##_buf);            \
    if (!var) SKIP("skipped: ../shared/data/" rel " not present")

/* The call must fail with `code` and a message containing `needle`. */

static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    char buf[4096];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b) ok = fclose(b) == 0 && ok;
    return ok;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* Imports `input` (source images) into tmpdir/<name>.h5; returns the status, *n samples. */
static mt_status import_images(const char *input, const char *name, int *n)
{
    mt_import_spec sp;
    mt_import_result r;
    char out[1200];
    mt_import_spec_init(&sp);
    snprintf(out, sizeof out, "%s/%s.h5", mt_test_tmpdir(), name);
    MT_TRY(mt_import_spec_set(&sp, "input", input));
    MT_TRY(mt_import_spec_set(&sp, "output", out));
    MT_TRY(mt_import_run(&sp, &r));
    *n = r.n_samples;
    return MT_OK;
}

/* 1. An existing file or folder whose name holds '[' is taken literally; a path that does
 *    not exist is still expanded as a glob. */
TEST(import_fix_bracket_path_taken_literally)
{
    char src[1024], dir[1200], f1[1400], f2[1400], f3[1400], pat[1400];
    mt_test_path("tests/data/ascii.pgm", src, sizeof src);
    snprintf(dir, sizeof dir, "%s/scan[1]", mt_test_tmpdir());
    CHECK(mkdir(dir, 0755) == 0 || access(dir, F_OK) == 0, "mkdir %s", dir);
    snprintf(f1, sizeof f1, "%s/ascii.pgm", dir);
    snprintf(f2, sizeof f2, "%s/x[2].pgm", mt_test_tmpdir());
    snprintf(f3, sizeof f3, "%s/x7.pgm", mt_test_tmpdir());
    CHECK(copy_file(src, f1) && copy_file(src, f2) && copy_file(src, f3), "cannot copy %s", src);
    int n = 0;
    CHECK_OK(import_images(dir, "bracket_dir", &n));
    CHECK(n == 1, "folder scan[1]: %d samples", n);
    CHECK_OK(import_images(f2, "bracket_file", &n));
    CHECK(n == 1, "file x[2].pgm: %d samples", n);
    /* not an existing path: a pattern ([0-9] matches x7.pgm, not x[2].pgm) */
    snprintf(pat, sizeof pat, "%s/x[0-9].pgm", mt_test_tmpdir());
    CHECK_OK(import_images(pat, "bracket_glob", &n));
    CHECK(n == 1, "pattern x[0-9].pgm: %d samples", n);
    snprintf(pat, sizeof pat, "%s/nothing[0-9].pgm", mt_test_tmpdir());
    CHECK_FAILS(import_images(pat, "bracket_none", &n), MT_ERR_IO, "matches no file");
    mt_error_clear();
}

/* 2. --resize moves the origin to the new first pixel centre (torch align_corners=False).
 *    Reference: pydicom + numpy on ID_0001 (IPP -162,-154,-220 LPS, PixelSpacing 0.6445312,
 *    512 -> 256): LPS = IPP + 0.5 * 0.6445312 * (row dir + column dir), RAS = (-x, -y, z). */
TEST(import_fix_resize_moves_origin_tcga)
{
    SHARED(dcm, "tcga_ct_contrast_slices/dicom/ID_0001_AGE_0069_CONTRAST_1_CT.dcm");
    mt_import_spec sp;
    mt_import_result r;
    char out[1200];
    mt_import_spec_init(&sp);
    snprintf(out, sizeof out, "%s/tcga_resize.h5", mt_test_tmpdir());
    CHECK_OK(mt_import_spec_set(&sp, "source", "dicom"));
    CHECK_OK(mt_import_spec_set(&sp, "input", dcm));
    CHECK_OK(mt_import_spec_set(&sp, "resize", "256x256"));
    CHECK_OK(mt_import_spec_set(&sp, "output", out));
    CHECK_OK(mt_import_run(&sp, &r));
    mt_dataset *d;
    mt_sample s;
    mt_sample_init(&s);
    CHECK_OK(mt_dataset_open(out, &d));
    CHECK_OK(mt_dataset_read(d, 0, &s));
    const double want[3] = {161.6777344, 153.6777344, -220.0}; /* numpy, see above */
    double err = 0;
    for (int a = 0; a < 3; a++) err = fmax(err, fabs(s.meta.origin[a] - want[a]));
    CHECK(err < 1e-4, "origin %.7f %.7f %.7f vs numpy %.7f %.7f %.7f", s.meta.origin[0], s.meta.origin[1],
          s.meta.origin[2], want[0], want[1], want[2]);
    CHECK(fabs(s.meta.spacing[0] - 1.2890624) < 1e-6 && fabs(s.meta.spacing[1] - 1.2890624) < 1e-6, "spacing %g %g",
          s.meta.spacing[0], s.meta.spacing[1]);
    mt_sample_free(&s);
    mt_dataset_close(d);
    /* enlarging (sx = 0.5) moves the origin back by a quarter of the old pixel, along the
     * direction columns (here x -> -y, y -> +x) */
    mt_sample_init(&s);
    s.c = 1, s.h = 2, s.w = 3;
    s.image = calloc(6, sizeof(float));
    CHECK(s.image, "out of memory");
    s.meta.spacing[0] = 2.0, s.meta.spacing[1] = 4.0;
    memset(s.meta.direction, 0, sizeof s.meta.direction);
    s.meta.direction[1 * 3 + 0] = -1.0; /* x axis -> world -y */
    s.meta.direction[0 * 3 + 1] = 1.0;  /* y axis -> world +x */
    s.meta.direction[2 * 3 + 2] = 1.0;
    s.meta.origin[0] = 10, s.meta.origin[1] = 20, s.meta.origin[2] = 30;
    CHECK_OK(mt_sample_resize(&s, 4, 6));
    /* x: 2 mm * (0.5 - 1) / 2 = -0.5 mm along -y -> y + 0.5; y: 4 mm * -0.25 = -1 mm along +x */
    CHECK(fabs(s.meta.origin[0] - 9.0) < 1e-12 && fabs(s.meta.origin[1] - 20.5) < 1e-12 && s.meta.origin[2] == 30,
          "origin %g %g %g", s.meta.origin[0], s.meta.origin[1], s.meta.origin[2]);
    CHECK(s.meta.spacing[0] == 1.0 && s.meta.spacing[1] == 2.0, "spacing %g %g", s.meta.spacing[0], s.meta.spacing[1]);
    mt_sample_free(&s);
}

/* 3. `points` naming labels that no LabelMe annotation has is refused (was: NaN, exit 0). */
TEST(import_fix_unknown_points_refused)
{
    char src[1024], img[1200], js[1200], f[1400], out[1400];
    mt_test_path("tests/data/ascii.pgm", src, sizeof src);
    snprintf(img, sizeof img, "%s/lm_img", mt_test_tmpdir());
    snprintf(js, sizeof js, "%s/lm_json", mt_test_tmpdir());
    CHECK((mkdir(img, 0755) == 0 || access(img, F_OK) == 0) && (mkdir(js, 0755) == 0 || access(js, F_OK) == 0),
          "mkdir");
    snprintf(f, sizeof f, "%s/ascii.pgm", img);
    CHECK(copy_file(src, f), "copy");
    snprintf(f, sizeof f, "%s/ascii.json", js);
    CHECK(write_text(f, "{\"shapes\": [{\"label\": \"l1\", \"points\": [[0.5, 1.0]], \"shape_type\": \"point\"},\n"
                        "  {\"label\": \"l2\", \"points\": [[2.0, 0.0]], \"shape_type\": \"point\"}],\n"
                        " \"imageHeight\": 2, \"imageWidth\": 3}\n"),
          "write %s", f);
    mt_import_spec sp;
    mt_import_result r;
    snprintf(out, sizeof out, "%s/lm_points.h5", mt_test_tmpdir());
    unlink(out);
    mt_import_spec_init(&sp);
    CHECK_OK(mt_import_spec_set(&sp, "input", img));
    CHECK_OK(mt_import_spec_set(&sp, "labelme_dir", js));
    CHECK_OK(mt_import_spec_set(&sp, "points", "l1,L2,l99"));
    CHECK_OK(mt_import_spec_set(&sp, "output", out));
    CHECK_FAILS(mt_import_run(&sp, &r), MT_ERR_INVALID, "points L2,l99: no such label");
    const char *msg = mt_last_error();
    CHECK(strstr(msg, "points found: l1") && strstr(msg, "labels in the annotations: l1,l2") &&
              strstr(msg, "L2 -> l2") && strstr(msg, "labelme_dir"),
          "message \"%s\"", msg);
    mt_error_clear();
    CHECK(access(out, F_OK) != 0, "a refused import left %s", out);
    CHECK_OK(mt_import_spec_set(&sp, "points", "l1,l2"));
    CHECK_OK(mt_import_run(&sp, &r));
    CHECK(r.n_samples == 1 && r.n_points == 2, "%d samples %d points", r.n_samples, r.n_points);
}

/* 4. DICOM slices without PatientID are counted (the CLI warns); each stays grouped by its
 *    source file. */
TEST(import_fix_missing_patient_id_counted_and_warned)
{
    char in[1024], out[1200], cmd[4096], text[8192];
    mt_test_path("tests/data/no_pid", in, sizeof in);
    mt_import_spec sp;
    mt_import_result r;
    snprintf(out, sizeof out, "%s/no_pid.h5", mt_test_tmpdir());
    mt_import_spec_init(&sp);
    CHECK_OK(mt_import_spec_set(&sp, "source", "dicom"));
    CHECK_OK(mt_import_spec_set(&sp, "input", in));
    CHECK_OK(mt_import_spec_set(&sp, "output", out));
    CHECK_OK(mt_import_run(&sp, &r));
    CHECK(r.n_samples == 2 && r.n_no_patient_id == 2, "%d samples, %d without PatientID", r.n_samples,
          r.n_no_patient_id);
    CHECK_OK(mt_import_spec_set(&sp, "patient_id", "P1"));
    CHECK_OK(mt_import_run(&sp, &r));
    CHECK(r.n_no_patient_id == 0, "%d without PatientID after patient_id", r.n_no_patient_id);
    const char *mt = mt_test_medtrain();
    if (!mt) SKIP("skipped (library part passed): medtrain CLI not built next to run_tests");
    snprintf(cmd, sizeof cmd, "'%s' import --source dicom --input '%s' --output '%s' 2>&1 >/dev/null", mt, in, out);
    FILE *p = popen(cmd, "r");
    CHECK(p, "popen");
    size_t n = fread(text, 1, sizeof text - 1, p);
    text[n] = '\0';
    int rc = pclose(p);
    CHECK(rc == 0 && strstr(text, "warning: 2 of 2 samples have no PatientID") &&
              strstr(text, "grouped by its source file"),
          "rc %d stderr \"%s\"", rc, text);
}

/* 5. MONOCHROME1 is inverted on the stored range before the rescale: unsigned
 *    (2^BitsStored - 1) - v, signed -1 - v (files: tests/fixtures/gen_import_fixes.py). */
TEST(import_fix_monochrome1_inverted)
{
    char p[1024];
    mt_sample s;
    mt_sample_init(&s);
    CHECK_OK(mt_dicom_read_slice(mt_test_path("tests/data/mono1_u12.dcm", p, sizeof p), &s));
    CHECK(s.h == 6 && s.w == 8, "shape %dx%d", s.h, s.w);
    for (int i = 0; i < 48; i++) {
        float want = 2.0f * (4095 - (80 * i + 7)) - 1000.0f; /* slope 2, intercept -1000 */
        CHECK(s.image[i] == want, "u12 pixel %d: %g, want %g", i, s.image[i], want);
    }
    CHECK(s.image[0] > s.image[47], "stored minimum must come out brightest");
    CHECK_OK(mt_dicom_read_slice(mt_test_path("tests/data/mono1_s12.dcm", p, sizeof p), &s));
    for (int i = 0; i < 48; i++) {
        float want = -1.0f - (80 * i - 2000);
        CHECK(s.image[i] == want, "s12 pixel %d: %g, want %g", i, s.image[i], want);
    }
    /* MONOCHROME2 unchanged */
    CHECK_OK(mt_dicom_read_slice(mt_test_path("tests/data/no_pid/a.dcm", p, sizeof p), &s));
    CHECK(s.image[0] == -1024.0f && s.image[47] == 80 * 47 - 1024.0f, "mono2 %g %g", s.image[0], s.image[47]);
    mt_sample_free(&s);
}

/* HDF5 layout of dataset `name` in file `path` (-1 on error) and its first dimension. */
static int h5_layout(const char *path, const char *name, hsize_t *rows)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    int lay = -1;
    if (d >= 0) {
        hid_t pl = H5Dget_create_plist(d), sp = H5Dget_space(d);
        hsize_t dims[2] = {0, 0};
        H5Sget_simple_extent_dims(sp, dims, NULL);
        *rows = dims[0];
        lay = (int)H5Pget_layout(pl);
        H5Pclose(pl), H5Sclose(sp), H5Dclose(d);
    }
    H5Fclose(f);
    return lay;
}

/* 6. docs/dataset.md: a single DICOM slice keeps SliceThickness in spacing[2]; /boxes is
 *    contiguous, chunked (unlimited rows) only when empty. */
TEST(import_fix_single_slice_spacing_and_boxes_layout)
{
    char in[1024], p[1024], out[1200], out2[1200];
    mt_import_spec sp;
    mt_import_result r;
    mt_import_spec_init(&sp);
    snprintf(out, sizeof out, "%s/fix6_tcga.h5", mt_test_tmpdir());
    CHECK_OK(mt_import_spec_set(&sp, "source", "dicom"));
    CHECK_OK(mt_import_spec_set(&sp, "input", mt_test_path("data/samples/tcga/ID_0044_AGE_0072_CONTRAST_1_CT.dcm", in,
                                                            sizeof in)));
    CHECK_OK(mt_import_spec_set(&sp, "output", out));
    CHECK_OK(mt_import_run(&sp, &r));
    mt_dataset *d;
    mt_sample s;
    mt_sample_init(&s);
    CHECK_OK(mt_dataset_open(out, &d));
    CHECK_OK(mt_dataset_read(d, 0, &s));
    CHECK(s.meta.spacing[2] == 8.0, "spacing[2] %g, want SliceThickness 8 (pydicom)", s.meta.spacing[2]);
    mt_sample_free(&s);
    mt_dataset_close(d);
    hsize_t rows = 99;
    int lay = h5_layout(out, "boxes", &rows);
    CHECK(lay == H5D_CHUNKED && rows == 0, "empty /boxes: layout %d rows %llu", lay, (unsigned long long)rows);
    mt_import_spec_init(&sp);
    snprintf(out2, sizeof out2, "%s/fix6_mias.h5", mt_test_tmpdir());
    CHECK_OK(mt_import_spec_set(&sp, "input", mt_test_path("data/samples/mias/mdb028.pgm", in, sizeof in)));
    CHECK_OK(mt_import_spec_set(&sp, "mias_info", mt_test_path("data/samples/mias/Info.txt", p, sizeof p)));
    CHECK_OK(mt_import_spec_set(&sp, "output", out2));
    CHECK_OK(mt_import_run(&sp, &r));
    lay = h5_layout(out2, "boxes", &rows);
    CHECK(lay == H5D_CONTIGUOUS && rows == 1, "/boxes with one box: layout %d rows %llu", lay,
          (unsigned long long)rows);
    CHECK_OK(mt_dataset_open(out2, &d));
    CHECK_OK(mt_dataset_read(d, 0, &s));
    CHECK(s.meta.spacing[2] == 0.0, "2D image spacing[2] %g", s.meta.spacing[2]);
    mt_sample_free(&s);
    mt_dataset_close(d);
}

/* mt_sample_reorient_axial on a 3x2 slice stored rotated by 180 degrees (DICOM IOP
 * (-1,0,0, 0,-1,0), i.e. RAS direction columns (+1,0,0), (0,+1,0)): image, mask, point and
 * box flipped in both axes, origin moved to the old last pixel; then a slice stored
 * transposed (IOP (0,-1,0, 1,0,0)) comes out 2x3 with the pixel at (x, y) moved to
 * (y, w - 1 - x). A coronal slice is refused naming its source. */
TEST(import_reorient_axial_flips_and_transposes)
{
    mt_sample s;
    mt_sample_init(&s);
    s.c = 1, s.h = 2, s.w = 3, s.k = 1;
    s.image = malloc(6 * sizeof(float));
    s.mask = malloc(6);
    s.points = malloc(2 * sizeof(float));
    s.boxes = malloc(5 * sizeof(float));
    CHECK(s.image && s.mask && s.points && s.boxes, "alloc");
    for (int i = 0; i < 6; i++) s.image[i] = (float)i, s.mask[i] = (uint8_t)(i == 1);
    s.n_points = 1, s.points[0] = 0, s.points[1] = 0;
    s.n_boxes = 1;
    const float box[5] = {0, 0, 1, 1, 7};
    memcpy(s.boxes, box, sizeof box);
    snprintf(s.meta.source, sizeof s.meta.source, "rot180.dcm");
    const double dir[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    memcpy(s.meta.direction, dir, sizeof dir);
    s.meta.spacing[0] = 0.5, s.meta.spacing[1] = 0.7;
    s.meta.origin[0] = 10, s.meta.origin[1] = 20, s.meta.origin[2] = 30;
    int changed = 0;
    CHECK_OK(mt_sample_reorient_axial(&s, 1, &changed));
    CHECK(changed && s.h == 2 && s.w == 3, "changed %d, %dx%d", changed, s.w, s.h);
    for (int i = 0; i < 6; i++) CHECK(s.image[i] == (float)(5 - i), "pixel %d: %g, want %d", i, s.image[i], 5 - i);
    CHECK(s.mask[4] == 1 && s.mask[1] == 0, "mask not flipped");
    CHECK(s.points[0] == 2 && s.points[1] == 1, "point (%g, %g), want (2, 1)", s.points[0], s.points[1]);
    CHECK(s.boxes[0] == 1 && s.boxes[1] == 0 && s.boxes[2] == 2 && s.boxes[3] == 1 && s.boxes[4] == 7, "box %g %g %g %g",
          s.boxes[0], s.boxes[1], s.boxes[2], s.boxes[3]);
    CHECK(fabs(s.meta.origin[0] - 11) < 1e-12 && fabs(s.meta.origin[1] - 20.7) < 1e-12, "origin %g %g",
          s.meta.origin[0], s.meta.origin[1]);
    CHECK(s.meta.direction[0] == -1 && s.meta.direction[4] == -1, "direction not the standard one");
    CHECK_OK(mt_sample_reorient_axial(&s, 1, &changed));
    CHECK(!changed, "a standard slice must stay as it is");
    /* transposed storage: column index along -y (anterior), row index along +x (left) in LPS,
     * i.e. RAS columns (0,+1,0) and (-1,0,0) */
    for (int i = 0; i < 6; i++) s.image[i] = (float)i;
    const double tdir[9] = {0, -1, 0, 1, 0, 0, 0, 0, 1};
    memcpy(s.meta.direction, tdir, sizeof tdir);
    s.n_points = 0, s.n_boxes = 0;
    CHECK_OK(mt_sample_reorient_axial(&s, 1, &changed));
    CHECK(changed && s.h == 3 && s.w == 2, "transposed shape %dx%d", s.w, s.h);
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++)
            CHECK(s.image[(2 - x) * 2 + y] == (float)(y * 3 + x), "input (%d, %d) misplaced", x, y);
    const double cor[9] = {-1, 0, 0, 0, 0, 1, 0, 1, 0};
    memcpy(s.meta.direction, cor, sizeof cor);
    CHECK_OK(mt_sample_reorient_axial(&s, 0, &changed)); /* auto: a coronal slice is kept as stored */
    CHECK(!changed, "a coronal slice moved in auto mode");
    CHECK(mt_sample_reorient_axial(&s, 1, &changed) == MT_ERR_FORMAT && strstr(mt_last_error(), "rot180.dcm") &&
              strstr(mt_last_error(), "not an axial slice"),
          "coronal slice: %s", mt_last_error());
    mt_error_clear();
    mt_sample_free(&s);
}

/* The TCGA slices stored rotated (IOP (-1,0,0,0,-1,0) and (0,-1,0,1,0,0), all of the
 * non-contrast class: orientation would leak the label) come out of a default import (reorient
 * auto) equal to a
 * pydicom + numpy placement of every pixel by its patient position (tests/reorient_check.py). */
TEST(import_reorient_tcga_matches_numpy)
{
    char dir[1024], py[1100], out[1200], cmd[8192], msg[4096];
    if (!mt_test_shared_data("tcga_ct_contrast_slices/dicom", dir, sizeof dir))
        SKIP("skipped: ../shared/data/tcga_ct_contrast_slices is not here");
    if (mt_test_run("/usr/bin/python3 -c 'import pydicom, h5py, numpy'", msg, sizeof msg) != 0)
        SKIP("skipped: /usr/bin/python3 with pydicom, h5py and numpy is needed");
    static const char *const files[] = {"ID_0001_AGE_0069_CONTRAST_1_CT.dcm", "ID_0050_AGE_0074_CONTRAST_0_CT.dcm",
                                        "ID_0052_AGE_0072_CONTRAST_0_CT.dcm", "ID_0076_AGE_0068_CONTRAST_0_CT.dcm"};
    mt_import_spec *sp = calloc(1, sizeof *sp);
    CHECK(sp, "alloc");
    mt_import_spec_init(sp);
    snprintf(out, sizeof out, "%s/reoriented.h5", mt_test_tmpdir());
    int n = snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", mt_test_path("tests/reorient_check.py", py, sizeof py),
                     out);
    for (int i = 0; i < 4; i++) {
        char p[1300];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        CHECK_OK(mt_import_spec_set(sp, "input", p));
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " '%s'", p);
    }
    CHECK_OK(mt_import_spec_set(sp, "source", "dicom"));
    CHECK_OK(mt_import_spec_set(sp, "split_by", "sample")); /* reorient: the default (auto) */
    CHECK_OK(mt_import_spec_set(sp, "output", out));
    mt_import_result res;
    mt_status st = mt_import_run(sp, &res);
    free(sp);
    CHECK_OK(st);
    CHECK(res.n_reoriented == 3 && res.n_samples == 4, "reoriented %d of %d (want 3 of 4)", res.n_reoriented,
          res.n_samples);
    int rc = mt_test_run(cmd, msg, sizeof msg);
    CHECK(rc == 0, "numpy disagrees (%d): %s", rc, msg);
}
