/* tests/test.h: a small test framework. Each tests/test_*.c file defines
 *   TEST(conv2d_matches_torch) { ... CHECK(cond, "fmt", ...); ... }
 * Tests self-register; tests/main.c runs them (filter: argv[1] substring) and
 * ends with the line "N passed, N failed, N skipped".
 * SKIP("reason") ends a test as skipped (e.g. "skipped: no GPU").
 * Checks record the first failure with file:line and stop the test. */
#ifndef MT_TEST_H
#define MT_TEST_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../core/error.h"

typedef struct mt_test_ctx {
    int failed;
    int skipped;
    char msg[2048];
} mt_test_ctx;

typedef void (*mt_test_fn)(mt_test_ctx *T_);
void mt_test_register(const char *name, const char *file, mt_test_fn fn);
void mt_test_fail(mt_test_ctx *T_, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define TEST(name)                                                                      \
    static void name(mt_test_ctx *T_);                                                  \
    __attribute__((constructor)) static void mt_reg_##name(void)                        \
    {                                                                                   \
        mt_test_register(#name, __FILE__, name);                                        \
    }                                                                                   \
    static void name(mt_test_ctx *T_)

/* CHECK(cond, fmt, ...): fail and return from the test if cond is false. */
#define CHECK(cond, ...)                                                                \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            mt_test_fail(T_, __FILE__, __LINE__, __VA_ARGS__);                          \
            return;                                                                     \
        }                                                                               \
    } while (0)

/* CHECK_OK(status_expr): the expression must be MT_OK; prints mt_last_error() otherwise. */
#define CHECK_OK(expr)                                                                  \
    do {                                                                                \
        int mt_s_ = (int)(expr);                                                        \
        if (mt_s_ != 0) {                                                               \
            mt_test_fail(T_, __FILE__, __LINE__, "%s returned %d: %s", #expr, mt_s_,    \
                         mt_last_error());                                              \
            return;                                                                     \
        }                                                                               \
    } while (0)

/* CHECK_NOTNULL(ptr_expr): must not be NULL; prints mt_last_error() otherwise. */
#define CHECK_NOTNULL(expr)                                                             \
    do {                                                                                \
        if ((expr) == NULL) {                                                           \
            mt_test_fail(T_, __FILE__, __LINE__, "%s is NULL: %s", #expr, mt_last_error()); \
            return;                                                                     \
        }                                                                               \
    } while (0)

/* |a - b| <= atol + rtol * |b| for n doubles-or-floats; reports the worst index. */
int mt_test_close_f(const float *a, const float *b, size_t n, double rtol, double atol, char *why, size_t whylen);
int mt_test_close_d(const double *a, const double *b, size_t n, double rtol, double atol, char *why, size_t whylen);
/* The call must fail with status `code` and a message containing `needle` (the file, key or
 * option a user must see); mt_last_error() keeps the message for further checks. */
#define CHECK_FAILS(expr, code, needle)                                                          \
    do {                                                                                         \
        mt_error_clear();                                                                        \
        mt_status st_ = (expr);                                                                  \
        CHECK(st_ == (code), "%s returned %d, expected %d (%s)", #expr, st_, (code), mt_last_error()); \
        CHECK(strstr(mt_last_error(), (needle)) != NULL, "message \"%s\" does not name %s", mt_last_error(), \
              (needle));                                                                         \
    } while (0)

#define CHECK_CLOSE_F(a, b, n, rtol, atol)                                              \
    do {                                                                                \
        char mt_why_[512];                                                              \
        if (!mt_test_close_f((a), (b), (n), (rtol), (atol), mt_why_, sizeof mt_why_)) { \
            mt_test_fail(T_, __FILE__, __LINE__, "%s vs %s: %s", #a, #b, mt_why_);      \
            return;                                                                     \
        }                                                                               \
    } while (0)
#define CHECK_CLOSE_D(a, b, n, rtol, atol)                                              \
    do {                                                                                \
        char mt_why_[512];                                                              \
        if (!mt_test_close_d((a), (b), (n), (rtol), (atol), mt_why_, sizeof mt_why_)) { \
            mt_test_fail(T_, __FILE__, __LINE__, "%s vs %s: %s", #a, #b, mt_why_);      \
            return;                                                                     \
        }                                                                               \
    } while (0)

#define SKIP(reason)                                                                    \
    do {                                                                                \
        T_->skipped = 1;                                                                \
        snprintf(T_->msg, sizeof T_->msg, "%s", (reason));                              \
        return;                                                                         \
    } while (0)

/* Path of a repo-relative file (tests run from the repo root; MEDTRAIN_ROOT overrides). */
const char *mt_test_path(const char *rel, char *buf, size_t len);
/* Path of a file under ../shared/data (MEDTRAIN_SHARED_DATA overrides); NULL if absent. */
const char *mt_test_shared_data(const char *rel, char *buf, size_t len);
/* Runs a shell command (through popen, stderr joined to stdout), captures its output into
 * out (at most len - 1 bytes, NUL-terminated; the rest is read and dropped) and returns its
 * exit status, or -1 if it did not exit normally (a signal) or could not start. */
int mt_test_run(const char *cmd, char *out, size_t len);
/* Path of the medtrain CLI built next to this test binary, or NULL if it is not there. */
const char *mt_test_medtrain(void);
/* Runs a study script (e.g. "experiments/s2_ct_recon/run.sh") at tiny sizes: TINY=1,
 * OUT=<test tmpdir>/<name> (copied into out_dir), BUILD = the folder of mt_test_medtrain(),
 * THREADS=threads; its output goes to log as mt_test_run. Returns the exit status, or -2 when
 * build/medtrain is missing. */
int mt_test_run_tiny(const char *script_rel, const char *name, int threads, char *out_dir, size_t out_len, char *log,
                     size_t log_len);
/* The number after the col-th '|' of the first line of a Markdown table that starts with
 * `row` (the study chains' printed tables); -1 when there is no such row. */
double mt_test_table_value(const char *table, const char *row, int col);
/* The last `n` bytes of a log (for failure messages). */
const char *mt_test_tail(const char *log, size_t n);
/* Ends a test's synthetic dataset: ok = 1 commits it (split val_frac / test_frac, seed 0) and
 * returns 1 on success; ok = 0 discards the temporary file and returns 0. */
struct mt_dataset_writer;
int mt_test_dataset_close(struct mt_dataset_writer *w, int ok, double val_frac, double test_frac);
/* A detection dataset of n grey size x size images (40), each with one bright square (200) of
 * side size/4..size/2 and its box, class i % classes; sizes and places from Philox streams
 * seed, seed + 1, seed + 2; split by sample 0.5 / 0.25 / 0.25. Returns 1 on success. */
int mt_test_box_dataset(const char *path, int n, int size, int classes, uint64_t seed);
/* CT-like discs: n grey size x size images of fat (-100) with noise (+-20) and one muscle disc (+50)
 * and its mask, centres and radii from Philox streams seed .. seed + 2, noise from seed + 3; patient
 * id `patient` for all, or "p<i>" per sample when NULL; split by sample with val_frac / test_frac.
 * Returns 1 on success. (The tiny training runs of test_cli, test_dist, test_sweep_slurm.) */
int mt_test_disc_dataset(const char *path, int n, int size, uint64_t seed, const char *patient, double val_frac,
                         double test_frac);
/* The evaluation forward pass (mt_session_forward, ensembles included) of samples idx[0..n-1] read
 * without augmentation: the logits on the host (caller frees), *count values, *k = dim 1. NULL on error. */
struct mt_session;
float *mt_test_session_logits(struct mt_session *s, const int *idx, int n, size_t *count, int *k);
/* max |t[i]| of an MT_REAL host tensor (the scale of the relative errors the op tests assert). */
struct mt_tensor;
double mt_test_max_abs(const struct mt_tensor *t);
/* A CPU MT_REAL tensor of the given shape filled with standard normal values from the
 * counter-based stream `seed` (mt_philox_normal(seed, i) for element i); NULL on failure. */
struct mt_tensor *mt_test_randn(int ndim, const int *shape, uint64_t seed);
/* A fresh temporary directory for this test (removed by the runner at exit). */
const char *mt_test_tmpdir(void);

#endif
