/* tests/test_robust_data.c: corrupt data and messages of issue 12 ("Corrupt data accepted",
 * "Messages that do not name the cause"). Each reproducer (tests/data/bad, listed in its README,
 * or written here) is refused with a non-zero status / exit, a message naming the file and the
 * HDF5 key / header field / attribute, and nothing left behind. */
#include <dirent.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/rng.h"
#include "../data/dataset.h"
#include "../data/image_io.h"
#include "../data/import.h"
#include "../data/nifti.h"
#include "../layers/model.h"
#include "../train/checkpoint.h"
#include "test.h"

static const char *bad(const char *name, char *buf, size_t len)
{
    char rel[512];
    snprintf(rel, sizeof rel, "tests/data/bad/%s", name);
    return mt_test_path(rel, buf, len);
}

/* Number of entries (but . and ..) of dir; -1 if it cannot be opened. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* mt_dataset_open(file) works, sample `good` reads, sample `bad_i` is refused with MT_ERR_FORMAT and a
 * message holding the file name and every string of want[]. */
static int check_bad_sample(mt_test_ctx *T_, const char *file, int good, int bad_i, const char *const *want, int nw)
{
    char path[1024];
    bad(file, path, sizeof path);
    mt_dataset *d = NULL;
    mt_status st = mt_dataset_open(path, &d);
    if (st != MT_OK) {
        mt_test_fail(T_, __FILE__, __LINE__, "%s: open failed: %s", file, mt_last_error());
        return 0;
    }
    mt_sample s;
    st = mt_dataset_read(d, good, &s);
    if (st != MT_OK) {
        mt_test_fail(T_, __FILE__, __LINE__, "%s: good sample %d refused: %s", file, good, mt_last_error());
        mt_dataset_close(d);
        return 0;
    }
    mt_sample_free(&s);
    st = mt_dataset_read(d, bad_i, &s);
    mt_dataset_close(d);
    if (st != MT_ERR_FORMAT || s.image || s.mask) {
        mt_test_fail(T_, __FILE__, __LINE__, "%s: sample %d gave status %d (image %p)", file, bad_i, (int)st,
                     (void *)s.image);
        return 0;
    }
    if (!strstr(mt_last_error(), file)) {
        mt_test_fail(T_, __FILE__, __LINE__, "message does not name %s: %s", file, mt_last_error());
        return 0;
    }
    for (int i = 0; i < nw; i++)
        if (!strstr(mt_last_error(), want[i])) {
            mt_test_fail(T_, __FILE__, __LINE__, "%s: message lacks '%s': %s", file, want[i], mt_last_error());
            return 0;
        }
    mt_error_clear();
    return 1;
}

/* 1. a uint8 200 and a float 7.5 in /masks: refused at read naming the file, /masks, the sample */
TEST(robust_data_mask_not_0_1_refused)
{
    const char *w200[] = {"/masks", "sample 2", "200", "0 or 1"};
    if (!check_bad_sample(T_, "dataset-mask-200.h5", 0, 2, w200, 4)) return;
    const char *w75[] = {"/masks", "sample 1", "7.5", "y 2, x 3"};
    if (!check_bad_sample(T_, "dataset-mask-float-7.5.h5", 2, 1, w75, 4)) return;
}

/* 2. NaN / Inf in /images: refused at read naming the file, /images, the sample */
TEST(robust_data_image_nan_inf_refused)
{
    const char *wnan[] = {"/images", "sample 1", "nan", "finite"};
    if (!check_bad_sample(T_, "dataset-image-nan.h5", 0, 1, wnan, 4)) return;
    const char *winf[] = {"/images", "sample 2", "inf", "y 3, x 0"};
    if (!check_bad_sample(T_, "dataset-image-inf.h5", 1, 2, winf, 4)) return;
}

/* 3. /images [3,1,0,0] with /masks [3,1,4,4]: the message names /images and its shape, not /masks */
TEST(robust_data_image_zero_dim_names_images)
{
    char path[1024];
    bad("dataset-image-hw0.h5", path, sizeof path);
    mt_dataset *d = NULL;
    mt_status st = mt_dataset_open(path, &d);
    CHECK(st == MT_ERR_FORMAT && !d, "open gave %d", (int)st);
    const char *e = mt_last_error();
    CHECK(strstr(e, "dataset-image-hw0.h5") && strstr(e, "/images") && strstr(e, "[3,1,0,0]") && !strstr(e, "/masks"),
          "message should name the file, /images and its shape (not /masks): %s", e);
    mt_error_clear();
}

/* 4. checkpoint counters < 0: refused on load naming the file and the attribute */
TEST(robust_data_checkpoint_negative_counters_refused)
{
    char rel[512], dir[1024], path[1100];
    mt_model_arg a[2] = {{"base", "4"}, {"depth", "2"}};
    mt_model *m = NULL;
    CHECK_OK(mt_model_load_yaml(mt_test_path("configs/models/unet.yaml", rel, sizeof rel), 2, a, mt_cpu(), 1, &m));
    snprintf(dir, sizeof dir, "%s/ckpt", mt_test_tmpdir());
    CHECK(mkdir(dir, 0700) == 0, "mkdir %s", dir);
    const char *attrs[] = {"epoch", "step", "data_epoch", "data_batch"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/neg-%s.h5", dir, attrs[i]);
        mt_checkpoint_info info;
        memset(&info, 0, sizeof info);
        info.step = 40, info.epoch = 2, info.data_epoch = 2, info.data_batch = 0;
        CHECK_OK(mt_checkpoint_save(path, m, NULL, NULL, &info));
        CHECK_OK(mt_checkpoint_load(path, m, NULL, NULL, NULL)); /* the good one loads */
        hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        hid_t at = f >= 0 ? H5Aopen(f, attrs[i], H5P_DEFAULT) : -1;
        int64_t minus1 = -1;
        herr_t e = at >= 0 ? H5Awrite(at, H5T_NATIVE_INT64, &minus1) : -1;
        if (at >= 0) H5Aclose(at);
        if (f >= 0) H5Fclose(f);
        CHECK(e >= 0, "cannot set attribute %s of %s", attrs[i], path);
        int before = count_entries(dir);
        mt_checkpoint_info got;
        memset(&got, 0, sizeof got);
        mt_status st = mt_checkpoint_load(path, m, NULL, NULL, &got);
        free(got.config_yaml);
        char want[64];
        snprintf(want, sizeof want, "'%s' is -1", attrs[i]);
        CHECK(st == MT_ERR_FORMAT, "%s = -1 loaded (status %d)", attrs[i], (int)st);
        CHECK(strstr(mt_last_error(), path) && strstr(mt_last_error(), want), "message lacks the file or '%s': %s",
              want, mt_last_error());
        mt_error_clear();
        CHECK(count_entries(dir) == before, "load left files in %s", dir);
    }
    mt_model_free(m);
}

/* 5a. NIfTI header fields nifticlib would repair silently: refused naming the file and the field */
TEST(robust_data_nifti_bad_header_fields_refused)
{
    const struct { const char *file, *field; } cases[] = {
        {"nifti-vox-offset-negative.nii", "vox_offset is -352"},
        {"nifti-pixdim-nan.nii", "pixdim[1]"},
        {"nifti-pixdim-zero.nii", "pixdim[2]"},
        {"nifti-pixdim-negative.nii", "pixdim[3]"},
    };
    char path[1024];
    for (int i = 0; i < 4; i++) {
        mt_volume v;
        mt_status st = mt_nifti_read(bad(cases[i].file, path, sizeof path), &v);
        CHECK(st == MT_ERR_FORMAT && !v.data, "%s: status %d", cases[i].file, (int)st);
        CHECK(strstr(mt_last_error(), cases[i].file) && strstr(mt_last_error(), cases[i].field),
              "%s: message lacks the file or '%s': %s", cases[i].file, cases[i].field, mt_last_error());
        mt_error_clear();
    }
    /* the same file unpatched reads, with its voxel sizes */
    mt_volume v;
    CHECK_OK(mt_nifti_read(bad("nifti-image-4x3x2.nii", path, sizeof path), &v));
    CHECK(v.nx == 4 && v.ny == 3 && v.nz == 2 && v.meta.spacing[0] == 2 && v.meta.spacing[2] == 3, "%dx%dx%d",
          v.nx, v.ny, v.nz);
    mt_volume_free(&v);
}

/* 5b. a float mask of 0.5 everywhere (a probability map) would import as all background: refused */
TEST(robust_data_nifti_probability_mask_refused)
{
    char img[1024], mask[1024], out[1024];
    bad("nifti-image-4x3x2.nii", img, sizeof img);
    bad("nifti-mask-probability-0.5.nii", mask, sizeof mask);
    snprintf(out, sizeof out, "%s/prob.h5", mt_test_tmpdir());
    mt_import_spec sp;
    mt_import_spec_init(&sp);
    CHECK_OK(mt_import_spec_set(&sp, "source", "nifti"));
    CHECK_OK(mt_import_spec_set(&sp, "input", img));
    CHECK_OK(mt_import_spec_set(&sp, "mask", mask));
    CHECK_OK(mt_import_spec_set(&sp, "split_by", "sample"));
    CHECK_OK(mt_import_spec_set(&sp, "output", out));
    int before = count_entries(mt_test_tmpdir());
    mt_import_result r;
    mt_status st = mt_import_run(&sp, &r);
    CHECK(st == MT_ERR_FORMAT, "probability-map mask imported (status %d)", (int)st);
    CHECK(strstr(mt_last_error(), "nifti-mask-probability-0.5.nii") && strstr(mt_last_error(), "threshold 0.5") &&
              strstr(mt_last_error(), "probability map"),
          "message lacks the file, the threshold or the cause: %s", mt_last_error());
    mt_error_clear();
    CHECK(access(out, F_OK) != 0 && count_entries(mt_test_tmpdir()) == before, "failed import left files in %s",
          mt_test_tmpdir());
    /* the image with itself as a (> 0.5 somewhere) mask still imports */
    sp.n_masks = 0;
    CHECK_OK(mt_import_spec_set(&sp, "mask", img));
    CHECK_OK(mt_import_run(&sp, &r));
    CHECK(r.n_samples == 2 && r.k == 1, "%d samples k %d", r.n_samples, r.k);
    remove(out);
}

/* ------------------------------------------------------------------ 6. evaluate / predict on a locked run */

static int make_dataset(const char *path, int n, int size)
{
    mt_dataset_spec spec = {1, size, size, 1, 0, "test_robust_data synthetic", "none"};
    mt_dataset_writer *w = NULL;
    if (mt_dataset_writer_open(path, &spec, &w) != MT_OK) return 0;
    if (mt_dataset_writer_set_split_by_sample(w, 1) != MT_OK) return 0;
    float *img = malloc(sizeof(float) * size * size);
    uint8_t *msk = malloc((size_t)size * size);
    int ok = img && msk;
    for (int i = 0; ok && i < n; i++) {
        float cx = size * (0.3f + 0.4f * mt_philox_uniform(21, (uint64_t)i)), r = size * 0.2f;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                int in = (x - cx) * (x - cx) + (y - size / 2) * (y - size / 2) < r * r;
                img[y * size + x] = in ? 50.f : -100.f;
                msk[y * size + x] = (uint8_t)in;
            }
        mt_sample s;
        mt_sample_init(&s);
        s.c = 1, s.h = size, s.w = size, s.k = 1, s.image = img, s.mask = msk;
        snprintf(s.meta.source, sizeof s.meta.source, "synthetic-%d", i);
        ok = mt_dataset_writer_add(w, &s) == MT_OK;
    }
    free(img);
    free(msk);
    return mt_test_dataset_close(w, ok, 0.25, 0.25);
}

TEST(robust_data_cli_evaluate_refuses_locked_run_predict_reads_it)
{
    const char *mt = mt_test_medtrain();
    if (!mt) SKIP("skipped: build/medtrain not built");
    const char *tmp = mt_test_tmpdir();
    char ds[1024], cfg[1024], graph[PATH_MAX], rel[PATH_MAX], run[1024], cmd[8192], out[16384], path[1100];
    snprintf(ds, sizeof ds, "%s/tiny.h5", tmp);
    CHECK(make_dataset(ds, 8, 16), "dataset: %s", mt_last_error());
    CHECK(realpath(mt_test_path("configs/models/unet.yaml", rel, sizeof rel), graph), "no configs/models/unet.yaml");
    snprintf(cfg, sizeof cfg, "%s/tiny.yaml", tmp);
    FILE *f = fopen(cfg, "w");
    CHECK(f, "cannot write %s", cfg);
    fprintf(f,
            "name: tiny\nmodel:\n  graph: %s\n  params: {base: 2, depth: 1, in_channels: 1, out_channels: 1}\n"
            "data:\n  dataset: %s\n  normalize: window\n  window: [-200, 200]\n  num_workers: 1\n"
            "loss:\n  kind: bce_dice\noptimizer:\n  kind: adam\n  lr: 0.01\n"
            "train:\n  epochs: 1\n  batch_size: 2\n  seed: 3\n",
            graph, ds);
    CHECK(fclose(f) == 0, "write %s", cfg);
    snprintf(run, sizeof run, "%s/run", tmp);
    snprintf(cmd, sizeof cmd, "%s train %s --device cpu --out %s --quiet", mt, cfg, run);
    int rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "tiny train failed (%d):\n%s", rc, out);
    /* hold the run's lock as a running `medtrain train` would */
    snprintf(path, sizeof path, "%s/.lock", run);
    int fd = open(path, O_RDWR | O_CREAT, 0666);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0, "cannot take the lock in the test");
    char pid[32], want[64];
    int pl = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)pl, 0) == pl, "write pid");
    snprintf(want, sizeof want, "in use by PID %ld", (long)getpid());
    int before = count_entries(run);
    snprintf(cmd, sizeof cmd, "%s evaluate %s --device cpu", mt, run);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc > 0, "evaluate on a locked run exited %d:\n%s", rc, out);
    CHECK(strstr(out, want) && strstr(out, run), "evaluate: message lacks '%s' or %s:\n%s", want, run, out);
    CHECK(count_entries(run) == before, "evaluate changed %s: %d entries before, %d after", run, before,
          count_entries(run));
    /* predict only reads the run directory: it works while the run is held */
    enum { H = 16, W = 16 };
    uint8_t px[H * W];
    for (int i = 0; i < H * W; i++) px[i] = (uint8_t)(i % 7 * 9);
    char png[1024], odir[1024];
    snprintf(png, sizeof png, "%s/slice.png", tmp);
    CHECK_OK(mt_image_write_png(png, px, W, H, 1));
    snprintf(odir, sizeof odir, "%s/pred", tmp);
    snprintf(cmd, sizeof cmd, "%s predict %s %s --out %s --device cpu", mt, run, png, odir);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "predict on a held run failed (%d):\n%s", rc, out);
    snprintf(path, sizeof path, "%s/slice_mask.png", odir);
    CHECK(access(path, F_OK) == 0, "predict wrote no %s", path);
    CHECK(count_entries(run) == before, "predict changed %s", run);
    close(fd);
    /* released: evaluate runs and writes into the run directory */
    snprintf(cmd, sizeof cmd, "%s evaluate %s --device cpu --overlays 0", mt, run);
    rc = mt_test_run(cmd, out, sizeof out);
    CHECK(rc == 0, "evaluate on the released run failed (%d):\n%s", rc, out);
}

/* A DICOM header that promises 65535 x 65535 pixels in an 830-byte file, and one whose Pixel
 * Data is shorter than Rows x Columns x Bits Allocated: refused by the pre-parser naming the
 * file, the pixel count and the limit (MEDTRAIN_DICOM_MAX_PIXELS), before GDCM allocates. */
TEST(robust_data_dicom_pixel_count_checked_before_decode)
{
    char big[1024], shrt[1024];
    mt_test_path("tests/data/bad/oom-dicom-huge-rows-cols.dcm", big, sizeof big);
    mt_test_path("tests/data/bad/truncated-dicom-pixel-data-short.dcm", shrt, sizeof shrt);
    static mt_import_spec spec; /* large: inputs by value */
    mt_import_spec_init(&spec);
    char out[900];
    snprintf(out, sizeof out, "%.800s/robust_dicom_big.h5", mt_test_tmpdir());
    spec.source = MT_IMPORT_DICOM;
    spec.n_inputs = 1;
    snprintf(spec.inputs[0], sizeof spec.inputs[0], "%s", big);
    snprintf(spec.output, sizeof spec.output, "%s", out);
    mt_import_result res;
    mt_status st = mt_import_run(&spec, &res);
    CHECK(st != MT_OK && strstr(mt_last_error(), "oom-dicom-huge-rows-cols.dcm") &&
              strstr(mt_last_error(), "MEDTRAIN_DICOM_MAX_PIXELS") && strstr(mt_last_error(), "4294836225"),
          "huge Rows x Columns: status %d: %s", (int)st, mt_last_error());
    CHECK(access(out, F_OK) != 0, "an output was written");
    mt_error_clear();
    snprintf(spec.inputs[0], sizeof spec.inputs[0], "%s", shrt);
    st = mt_import_run(&spec, &res);
    CHECK(st != MT_OK && strstr(mt_last_error(), "truncated-dicom-pixel-data-short.dcm") &&
              strstr(mt_last_error(), "Pixel Data holds"),
          "short Pixel Data: status %d: %s", (int)st, mt_last_error());
    CHECK(access(out, F_OK) != 0, "an output was written");
    mt_error_clear();
}

/* A PGM header that promises 500 x 666500 pixels in a 151-byte file (found by fuzz_image): refused
 * naming the file and the declared size before the 1.3 GB image is allocated. */
TEST(robust_data_pgm_header_checked_against_file_size)
{
    char path[1024];
    mt_test_path("tests/data/bad/oom-pgm-header-500x666500.pgm", path, sizeof path);
    mt_sample s;
    mt_sample_init(&s);
    mt_status st = mt_image_read(path, &s);
    CHECK(st == MT_ERR_FORMAT && strstr(mt_last_error(), "oom-pgm-header-500x666500.pgm") &&
              strstr(mt_last_error(), "500x666500"),
          "status %d: %s", (int)st, mt_last_error());
    CHECK(s.image == NULL, "image left after an error");
    mt_error_clear();
}

/* A TIFF header that declares 6815808 x 48 pixels in 156 bytes (found by fuzz_image): refused
 * against MEDTRAIN_IMAGE_MAX_PIXELS (default 2^28) before allocating; a lower limit set in the
 * environment refuses a small valid image the same way. */
TEST(robust_data_image_pixel_limit)
{
    char path[1024];
    mt_test_path("tests/data/bad/oom-tiff-width-6815808.tif", path, sizeof path);
    mt_sample s;
    mt_sample_init(&s);
    mt_status st = mt_image_read(path, &s);
    CHECK(st == MT_ERR_FORMAT && strstr(mt_last_error(), "oom-tiff-width-6815808.tif") &&
              strstr(mt_last_error(), "327158784") && strstr(mt_last_error(), "MEDTRAIN_IMAGE_MAX_PIXELS"),
          "status %d: %s", (int)st, mt_last_error());
    CHECK(s.image == NULL, "image left after an error");
    mt_error_clear();
    char ok[1024];
    mt_test_path("data/samples/mias/mdb028.pgm", ok, sizeof ok);
    setenv("MEDTRAIN_IMAGE_MAX_PIXELS", "1000", 1);
    st = mt_image_read(ok, &s);
    unsetenv("MEDTRAIN_IMAGE_MAX_PIXELS");
    CHECK(st == MT_ERR_FORMAT && strstr(mt_last_error(), "1048576 pixels"), "limit 1000: status %d: %s", (int)st,
          mt_last_error());
    mt_error_clear();
    CHECK_OK(mt_image_read(ok, &s));
    CHECK(s.h == 1024 && s.w == 1024, "mdb028 %dx%d", s.h, s.w);
    mt_sample_free(&s);
}
