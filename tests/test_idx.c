/* tests/test_idx.c: IDX (MNIST / Fashion-MNIST) files: data/idx.h reader and
 * `medtrain import --source idx` (data/import.c). A tiny pair written here is imported
 * and read back (pixels, labels, the fixed test split); the malformed files of
 * tests/data/bad/idx-* (README there) are refused naming the file; when Debian's
 * dataset-fashion-mnist is installed, its 10k test file is imported and checked against
 * numbers computed with numpy. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../data/dataset.h"
#include "../data/idx.h"
#include "../data/import.h"
#include "test.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Writes an IDX file (gzip when gz): magic 00 00 dtype ndim, big-endian sizes, payload. */
static int write_idx(const char *path, int gz, int dtype, int ndim, const uint32_t *dims, const void *payload,
                     size_t bytes)
{
    uint8_t hdr[4 + 16] = {0, 0, (uint8_t)dtype, (uint8_t)ndim};
    for (int d = 0; d < ndim; d++)
        for (int b = 0; b < 4; b++) hdr[4 + 4 * d + b] = (uint8_t)(dims[d] >> (24 - 8 * b));
    size_t hl = 4 + 4 * (size_t)ndim;
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f) return 0;
        int ok = gzwrite(f, hdr, (unsigned)hl) == (int)hl && gzwrite(f, payload, (unsigned)bytes) == (int)bytes;
        return gzclose(f) == Z_OK && ok;
    }
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(hdr, 1, hl, f) == hl && fwrite(payload, 1, bytes, f) == bytes;
    return fclose(f) == 0 && ok;
}

/* pixel j of tiny image i (file t: 0 train, 1 test) */
static uint8_t tiny_px(int t, int i, int j) { return (uint8_t)((t * 101 + i * 37 + j * 11) % 256); }

TEST(idx_reader_int16_big_endian_and_gzip)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/s16.idx2.gz", mt_test_tmpdir());
    /* int16 [2, 3] = -300, -1, 0, 1, 258, 32767 written big-endian */
    const int16_t v[6] = {-300, -1, 0, 1, 258, 32767};
    uint8_t be[12];
    for (int i = 0; i < 6; i++) be[2 * i] = (uint8_t)((uint16_t)v[i] >> 8), be[2 * i + 1] = (uint8_t)((uint16_t)v[i] & 0xff);
    uint32_t dims[2] = {2, 3};
    CHECK(write_idx(p, 1, MT_IDX_I16, 2, dims, be, sizeof be), "cannot write %s", p);
    mt_idx x;
    CHECK_OK(mt_idx_read(p, &x));
    CHECK(x.dtype == MT_IDX_I16 && x.ndim == 2 && x.dims[0] == 2 && x.dims[1] == 3 && x.count == 6,
          "header: dtype %d ndim %d dims %lld %lld", x.dtype, x.ndim, (long long)x.dims[0], (long long)x.dims[1]);
    for (int i = 0; i < 6; i++) CHECK(mt_idx_get(&x, (size_t)i) == v[i], "item %d = %g, wrote %d", i, mt_idx_get(&x, i), v[i]);
    mt_idx_free(&x);
}

TEST(idx_tiny_pair_imported_and_read_back)
{
    const char *tmp = mt_test_tmpdir();
    enum { N = 12, NT = 5, H = 3, W = 4 };
    uint8_t img[N * H * W], timg[NT * H * W], lab[N], tlab[NT];
    for (int i = 0; i < N; i++) {
        lab[i] = (uint8_t)(i % 3);
        for (int j = 0; j < H * W; j++) img[i * H * W + j] = tiny_px(0, i, j);
    }
    for (int i = 0; i < NT; i++) {
        tlab[i] = (uint8_t)((i + 1) % 3);
        for (int j = 0; j < H * W; j++) timg[i * H * W + j] = tiny_px(1, i, j);
    }
    char pi[1024], pl[1024], pti[1024], ptl[1024], out[1024];
    snprintf(pi, sizeof pi, "%s/tiny-images-idx3-ubyte", tmp);
    snprintf(pl, sizeof pl, "%s/tiny-labels-idx1-ubyte", tmp);
    snprintf(pti, sizeof pti, "%s/tiny-t-images-idx3-ubyte.gz", tmp);
    snprintf(ptl, sizeof ptl, "%s/tiny-t-labels-idx1-ubyte.gz", tmp);
    snprintf(out, sizeof out, "%s/tiny.h5", tmp);
    uint32_t di[3] = {N, H, W}, dl[1] = {N}, dti[3] = {NT, H, W}, dtl[1] = {NT};
    CHECK(write_idx(pi, 0, MT_IDX_U8, 3, di, img, sizeof img) && write_idx(pl, 0, MT_IDX_U8, 1, dl, lab, sizeof lab) &&
              write_idx(pti, 1, MT_IDX_U8, 3, dti, timg, sizeof timg) &&
              write_idx(ptl, 1, MT_IDX_U8, 1, dtl, tlab, sizeof tlab),
          "cannot write the tiny IDX files in %s", tmp);

    mt_import_spec sp;
    mt_import_spec_init(&sp);
    const char *kv[][2] = {{"source", "idx"},     {"input", pi},          {"idx_labels", pl}, {"test_input", pti},
                           {"test_labels", ptl},  {"classes", "a,b,c"},   {"scale", "0,255"}, {"val_frac", "0.25"},
                           {"seed", "3"},         {"output", out}};
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++) CHECK_OK(mt_import_spec_set(&sp, kv[i][0], kv[i][1]));
    mt_import_result res;
    CHECK_OK(mt_import_run(&sp, &res));
    CHECK(res.n_samples == N + NT && res.c == 1 && res.h == H && res.w == W, "result: %d samples [%d,%d,%d]",
          res.n_samples, res.c, res.h, res.w);

    mt_dataset *d;
    CHECK_OK(mt_dataset_open(out, &d));
    CHECK(mt_dataset_size(d) == N + NT, "dataset has %d samples", mt_dataset_size(d));
    for (int i = 0; i < N + NT; i++) {
        mt_sample s;
        mt_sample_init(&s);
        CHECK_OK(mt_dataset_read(d, i, &s));
        int t = i >= N, k = t ? i - N : i;
        CHECK(s.c == 1 && s.h == H && s.w == W, "sample %d shape [%d,%d,%d]", i, s.c, s.h, s.w);
        for (int j = 0; j < H * W; j++)
            CHECK(fabsf(s.image[j] - tiny_px(t, k, j) / 255.0f) < 1e-7f, "sample %d pixel %d = %g, expected %d/255", i,
                  j, s.image[j], tiny_px(t, k, j));
        CHECK(s.label == (t ? tlab[k] : lab[k]), "sample %d label %d", i, s.label);
        int ok = t ? !strcmp(s.meta.split, "test") : (!strcmp(s.meta.split, "train") || !strcmp(s.meta.split, "val"));
        CHECK(ok, "sample %d (from the %s file) is in split '%s'", i, t ? "test" : "training", s.meta.split);
        mt_sample_free(&s);
    }
    int *idx, n;
    CHECK_OK(mt_dataset_split_indices(d, "val", &idx, &n));
    free(idx);
    CHECK(n == 3, "val has %d samples, expected round(0.25 * 12) = 3", n);
    CHECK_OK(mt_dataset_split_indices(d, "test", &idx, &n));
    CHECK(n == NT && idx[0] == N && idx[NT - 1] == N + NT - 1, "test split: %d samples from %d", n, n ? idx[0] : -1);
    free(idx);
    char **names;
    int nn;
    CHECK_OK(mt_dataset_names(d, "class_names", &names, &nn));
    CHECK(nn == 3 && !strcmp(names[0], "a") && !strcmp(names[2], "c"), "class_names: %d", nn);
    mt_dataset_free_names(names, nn);
    mt_dataset_close(d);
}

/* The image files of tests/data/bad refused by the reader, naming the file and the problem. */
TEST(idx_malformed_images_refused_naming_the_file)
{
    static const char *const bad[][2] = {{"idx-bad-magic.idx3-ubyte", "magic"},
                                         {"idx-bad-dtype.idx3-ubyte", "dtype code 0x07"},
                                         {"idx-truncated.idx3-ubyte", "truncated IDX data"},
                                         {"idx-truncated.idx3-ubyte.gz", "truncated"},
                                         {"idx-extra-bytes.idx1-ubyte", "bytes after"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char rel[256], path[1024];
        snprintf(rel, sizeof rel, "tests/data/bad/%s", bad[i][0]);
        mt_test_path(rel, path, sizeof path);
        mt_idx x;
        mt_status st = mt_idx_read(path, &x);
        CHECK(st == MT_ERR_FORMAT || st == MT_ERR_IO, "%s: status %d (%s)", bad[i][0], (int)st, mt_last_error());
        CHECK(!x.data, "%s: data left after an error", bad[i][0]);
        CHECK(strstr(mt_last_error(), bad[i][0]) && strstr(mt_last_error(), bad[i][1]),
              "%s: message lacks the file or '%s': %s", bad[i][0], bad[i][1], mt_last_error());
        mt_error_clear();
    }
}

/* Label files that do not fit the images: wrong count, out of the classes' range; the import
 * fails naming the labels file and leaves nothing at the output. Also through the CLI. */
TEST(idx_bad_labels_refused_by_import_and_cli)
{
    const char *tmp = mt_test_tmpdir();
    char pi[1024], out[1024];
    snprintf(pi, sizeof pi, "%s/two-images-idx3-ubyte", tmp);
    snprintf(out, sizeof out, "%s/bad.h5", tmp);
    uint8_t img[2 * 2 * 2] = {0, 1, 2, 3, 4, 5, 6, 7};
    uint32_t di[3] = {2, 2, 2};
    CHECK(write_idx(pi, 0, MT_IDX_U8, 3, di, img, sizeof img), "cannot write %s", pi);
    static const char *const bad[][2] = {{"idx-3-labels.idx1-ubyte", "3 labels but"},
                                         {"idx-label-12.idx1-ubyte", "label 12 of item 1 is outside 0..9"}};
    for (int i = 0; i < 2; i++) {
        char rel[256], lab[1024];
        snprintf(rel, sizeof rel, "tests/data/bad/%s", bad[i][0]);
        mt_test_path(rel, lab, sizeof lab);
        mt_import_spec sp;
        mt_import_spec_init(&sp);
        CHECK_OK(mt_import_spec_set(&sp, "source", "idx"));
        CHECK_OK(mt_import_spec_set(&sp, "input", pi));
        CHECK_OK(mt_import_spec_set(&sp, "idx_labels", lab));
        CHECK_OK(mt_import_spec_set(&sp, "classes", "c0,c1,c2,c3,c4,c5,c6,c7,c8,c9"));
        CHECK_OK(mt_import_spec_set(&sp, "output", out));
        mt_import_result res;
        CHECK(mt_import_run(&sp, &res) == MT_ERR_FORMAT, "%s accepted", bad[i][0]);
        CHECK(strstr(mt_last_error(), bad[i][0]) && strstr(mt_last_error(), bad[i][1]),
              "%s: message lacks the file or '%s': %s", bad[i][0], bad[i][1], mt_last_error());
        mt_error_clear();
        CHECK(access(out, F_OK) != 0, "%s: an output was left after a failed import", bad[i][0]);
    }
    const char *bin = mt_test_medtrain();
    if (!bin) SKIP("skipped: build/medtrain not built (library part passed)");
    char rel[1024], cmd[4096], txt[4096];
    mt_test_path("tests/data/bad/idx-bad-magic.idx3-ubyte", rel, sizeof rel);
    snprintf(cmd, sizeof cmd, "%s import --source idx --input %s --idx_labels %s/none --output %s", bin, rel, tmp, out);
    int rc = mt_test_run(cmd, txt, sizeof txt);
    CHECK(rc > 0 && strstr(txt, "idx-bad-magic.idx3-ubyte") && strstr(txt, "magic"),
          "CLI: exit %d, output: %s", rc, txt);
    CHECK(access(out, F_OK) != 0, "CLI left an output after a failed import");
}

/* Debian's dataset-fashion-mnist: the official 10k test file. */
TEST(idx_fashion_mnist_test_file)
{
    const char *img = FMNIST_DIR "/t10k-images-idx3-ubyte.gz", *lab = FMNIST_DIR "/t10k-labels-idx1-ubyte.gz";
    if (access(img, R_OK) != 0 || access(lab, R_OK) != 0)
        SKIP("skipped: " FMNIST_DIR " absent (apt-get install dataset-fashion-mnist)");
    char out[1024];
    snprintf(out, sizeof out, "%s/fmnist_t10k.h5", mt_test_tmpdir());
    mt_import_spec sp;
    mt_import_spec_init(&sp);
    CHECK_OK(mt_import_spec_set(&sp, "source", "idx"));
    CHECK_OK(mt_import_spec_set(&sp, "input", img));
    CHECK_OK(mt_import_spec_set(&sp, "idx_labels", lab));
    CHECK_OK(mt_import_spec_set(&sp, "classes",
                                "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"));
    CHECK_OK(mt_import_spec_set(&sp, "output", out)); /* no scale: grey levels 0..255 as stored */
    mt_import_result res;
    CHECK_OK(mt_import_run(&sp, &res));
    mt_dataset *d;
    CHECK_OK(mt_dataset_open(out, &d));
    CHECK(mt_dataset_size(d) == 10000, "N = %d, expected 10000", mt_dataset_size(d));
    int hist[10] = {0};
    for (int i = 0; i < 10000; i++) {
        int l = mt_dataset_label(d, i);
        CHECK(l >= 0 && l < 10, "label %d of sample %d", l, i);
        hist[l]++;
    }
    for (int c = 0; c < 10; c++) CHECK(hist[c] == 1000, "class %d has %d samples, expected 1000", c, hist[c]);
    mt_sample s;
    mt_sample_init(&s);
    CHECK_OK(mt_dataset_read(d, 0, &s));
    double sum = 0;
    for (int j = 0; j < 28 * 28; j++) sum += s.image[j];
    /* 33456 = numpy: np.frombuffer(gzip.open(".../t10k-images-idx3-ubyte.gz").read(), np.uint8,
     * offset=16)[:784].astype(np.int64).sum()  (label 9, Ankle boot) */
    CHECK(s.h == 28 && s.w == 28 && sum == 33456.0 && s.label == 9, "first image %dx%d sum %.1f label %d", s.h, s.w,
          sum, s.label);
    mt_sample_free(&s);
    char **names;
    int nn;
    CHECK_OK(mt_dataset_names(d, "class_names", &names, &nn));
    CHECK(nn == 10 && !strcmp(names[0], "T-shirt/top") && !strcmp(names[9], "Ankle boot"), "class_names (%d)", nn);
    mt_dataset_free_names(names, nn);
    mt_dataset_close(d);
}
