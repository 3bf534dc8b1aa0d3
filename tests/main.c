/* tests/main.c: runs the registered tests; prints one line per test and a
 * final "N passed, N failed, N skipped". Usage: run_tests [substring] [-v] */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/error.h"
#include "test.h"

typedef struct entry {
    const char *name, *file;
    mt_test_fn fn;
} entry;

static entry *g_tests;
static int g_n, g_cap;
static char g_tmp[512];

void mt_test_register(const char *name, const char *file, mt_test_fn fn)
{
    if (g_n == g_cap) {
        g_cap = g_cap ? g_cap * 2 : 64;
        g_tests = realloc(g_tests, sizeof *g_tests * (size_t)g_cap);
        if (!g_tests) {
            fprintf(stderr, "out of memory registering tests\n");
            _exit(2);
        }
    }
    g_tests[g_n++] = (entry){name, file, fn};
}

void mt_test_fail(mt_test_ctx *T_, const char *file, int line, const char *fmt, ...)
{
    if (T_->failed) return;
    T_->failed = 1;
    int n = snprintf(T_->msg, sizeof T_->msg, "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof T_->msg) vsnprintf(T_->msg + n, sizeof T_->msg - (size_t)n, fmt, ap);
    va_end(ap);
}

static int close_at(double a, double b, double rtol, double atol)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return fabs(a - b) <= atol + rtol * fabs(b);
}

#define CLOSE_IMPL(T)                                                                           \
    size_t worst = 0;                                                                           \
    double worst_excess = -1;                                                                   \
    size_t bad = 0;                                                                             \
    for (size_t i = 0; i < n; i++) {                                                            \
        if (!close_at(a[i], b[i], rtol, atol)) {                                                \
            bad++;                                                                              \
            double ex = fabs((double)a[i] - (double)b[i]) - (atol + rtol * fabs((double)b[i])); \
            if (isnan(ex) || ex > worst_excess) worst_excess = isnan(ex) ? 1e300 : ex, worst = i; \
        }                                                                                       \
    }                                                                                           \
    if (!bad) return 1;                                                                         \
    snprintf(why, whylen, "%zu of %zu differ; worst at [%zu]: %.9g vs %.9g (rtol %g, atol %g)", \
             bad, n, worst, (double)a[worst], (double)b[worst], rtol, atol);                    \
    return 0;

int mt_test_close_f(const float *a, const float *b, size_t n, double rtol, double atol, char *why, size_t whylen)
{
    CLOSE_IMPL(float)
}

int mt_test_close_d(const double *a, const double *b, size_t n, double rtol, double atol, char *why, size_t whylen)
{
    CLOSE_IMPL(double)
}

const char *mt_test_path(const char *rel, char *buf, size_t len)
{
    const char *root = getenv("MEDTRAIN_ROOT");
    snprintf(buf, len, "%s/%s", root ? root : ".", rel);
    return buf;
}

const char *mt_test_shared_data(const char *rel, char *buf, size_t len)
{
    const char *root = getenv("MEDTRAIN_SHARED_DATA");
    snprintf(buf, len, "%s/%s", root ? root : "../shared/data", rel);
    return access(buf, F_OK) == 0 ? buf : NULL;
}

const char *mt_test_tmpdir(void)
{
    if (!g_tmp[0]) {
        snprintf(g_tmp, sizeof g_tmp, "/tmp/medtrain-test-XXXXXX");
        if (!mkdtemp(g_tmp)) g_tmp[0] = '\0';
    }
    return g_tmp;
}

static void remove_tmp(void)
{
    if (g_tmp[0]) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp);
    }
}

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv)
{
    /* filters: a test runs when its name or file contains any of them (none: every test) */
    const char **filters = calloc((size_t)argc, sizeof *filters);
    int n_filters = 0, verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) verbose = 1;
        else if (filters) filters[n_filters++] = argv[i];
    }
    atexit(remove_tmp);
    qsort(g_tests, (size_t)g_n, sizeof *g_tests, cmp_entry);
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < g_n; i++) {
        int match = n_filters == 0;
        for (int f = 0; f < n_filters && !match; f++)
            match = strstr(g_tests[i].name, filters[f]) || strstr(g_tests[i].file, filters[f]);
        if (!match) continue;
        mt_test_ctx ctx;
        memset(&ctx, 0, sizeof ctx);
        mt_error_clear();
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        g_tests[i].fn(&ctx);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
        if (ctx.failed) {
            failed++;
            printf("FAIL %s (%s)\n     %s\n", g_tests[i].name, g_tests[i].file, ctx.msg);
        } else if (ctx.skipped) {
            skipped++;
            printf("SKIP %s: %s\n", g_tests[i].name, ctx.msg);
        } else {
            passed++;
            if (verbose) printf("PASS %s (%.0f ms)\n", g_tests[i].name, ms);
            else printf("PASS %s\n", g_tests[i].name);
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    free(filters);
    return failed ? 1 : 0;
}

int mt_test_run(const char *cmd, char *out, size_t len)
{
    size_t cl = strlen(cmd) + 8;
    char *full = malloc(cl);
    if (!full) return -1;
    snprintf(full, cl, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    free(full);
    if (!p) return -1;
    size_t n = 0;
    if (len) out[0] = '\0';
    while (len && n + 1 < len) {
        size_t r = fread(out + n, 1, len - n - 1, p);
        if (r == 0) break;
        n += r;
    }
    if (len) out[n] = '\0';
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0) {
    }
    int st = pclose(p);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *mt_test_medtrain(void)
{
    static char path[PATH_MAX + 16];
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return NULL;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash) return NULL;
    *slash = '\0';
    snprintf(path, sizeof path, "%s/medtrain", self);
    return access(path, X_OK) == 0 ? path : NULL;
}

int mt_test_run_tiny(const char *script_rel, const char *name, int threads, char *out_dir, size_t out_len, char *log,
                     size_t log_len)
{
    const char *mt = mt_test_medtrain();
    if (!mt) return -2;
    char bin[PATH_MAX], root[PATH_MAX], cmd[4 * PATH_MAX];
    snprintf(bin, sizeof bin, "%s", mt);
    char *slash = strrchr(bin, '/');
    if (slash) *slash = '\0';
    snprintf(out_dir, out_len, "%s/%s", mt_test_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "TINY=1 OUT='%s' BUILD='%s' THREADS=%d bash '%s'", out_dir, bin, threads,
             mt_test_path(script_rel, root, sizeof root));
    return mt_test_run(cmd, log, log_len);
}

double mt_test_table_value(const char *table, const char *row, int col)
{
    const char *p = strstr(table, row);
    for (int bars = 0; p && *p && *p != '\n'; p++)
        if (*p == '|' && ++bars == col) return strtod(p + 1, NULL);
    return -1;
}

const char *mt_test_tail(const char *log, size_t n)
{
    size_t l = strlen(log);
    return l > n ? log + l - n : log;
}
