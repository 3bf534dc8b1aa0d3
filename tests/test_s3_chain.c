/* tests/test_s3_chain.c: the whole S3 chain of experiments/s3_body_composition/run.sh at tiny
 * sizes (TINY=1: 32 px slices, a base-4 U-Net, one epoch per model, k = 3): import with three
 * masks, the full-label model, v1 on 3 slices, `medtrain pseudo-label`, v2, labeling times,
 * predict + quantify. Checks that every model ran and was evaluated, that the pseudo-label
 * dataset flags exactly the 12 unlabelled training slices, and that the report holds the
 * per-class table, the IoU-bin table (each medtrain row summing to the 9 test slices), v1 vs
 * v2 and a labeling-time row per method. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define PY "/usr/bin/python3"

/* the cells after the first of the table row starting with `row` ("| a | b | ... |") */
static int row_cells(const char *text, const char *row, double *v, int n)
{
    const char *p = strstr(text, row);
    if (!p) return 0;
    p += strlen(row);
    for (int i = 0; i < n; i++) {
        char *end;
        v[i] = strtod(p, &end);
        if (end == p) return 0;
        p = end + strspn(end, " |");
    }
    return 1;
}

TEST(s3_chain_tiny_runs_every_stage)
{
    char out[PATH_MAX + 64], cmd[4 * PATH_MAX], log[65536];
    if (mt_test_run(PY " -c 'import h5py, numpy'", log, sizeof log) != 0)
        SKIP("skipped: " PY " with h5py and numpy is needed by run.sh's report");
    int rc = mt_test_run_tiny("experiments/s3_body_composition/run.sh", "s3", 1, out, sizeof out, log, sizeof log);
    CHECK(rc != -2, "build/medtrain is missing");
    CHECK(rc == 0, "run.sh TINY=1 failed (%d):\n%s", rc, mt_test_tail(log, 6000));
    static const char *const runs[] = {"full", "v1", "v2"};
    for (size_t i = 0; i < 3; i++) {
        char path[PATH_MAX + 128];
        snprintf(path, sizeof path, "%s/%s/eval_test.json", out, runs[i]);
        FILE *f = fopen(path, "r");
        CHECK(f, "model %s was not evaluated (%s)", runs[i], path);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, PY " -c \"import h5py; f = h5py.File('%s/s3_pseudo_k3.h5', 'r'); "
             "p = f['meta/pseudo_label'][...]; s = f['meta/split'][...]; "
             "print(int(p.sum()), int(((s == b'train') & (p == 1)).sum()), int((s == b'train').sum()))\"", out);
    char flags[256];
    CHECK(mt_test_run(cmd, flags, sizeof flags) == 0 && !strncmp(flags, "12 12 15", 8),
          "pseudo-label flags (flagged, flagged train, train): %s", flags);
    double v[8];
    static const char *const classes[] = {"| muscle | ", "| sat | ", "| vat | ", "| merged (M+SAT+VAT as one foreground) | "};
    for (int c = 0; c < 4; c++) {
        CHECK(row_cells(log, classes[c], v, 1) && v[0] >= 0 && v[0] <= 1, "per-class row %s:\n%s", classes[c], log);
    }
    static const char *const bins[] = {"| >=0.90 | ", "| 0.80-0.89 | ", "| 0.70-0.79 | ", "| <0.70 | "};
    static const double paper[4][4] = {{26, 39, 14, 23}, {15, 6, 8, 20}, {8, 2, 13, 5}, {1, 3, 15, 2}};
    double sum[4] = {0};
    for (int b = 0; b < 4; b++) {
        CHECK(row_cells(log, bins[b], v, 8), "IoU-bin row %s:\n%s", bins[b], log);
        for (int c = 0; c < 4; c++) {
            CHECK(v[2 * c] == paper[b][c], "bin %s column %d: paper %g, want %g", bins[b], c, v[2 * c], paper[b][c]);
            sum[c] += v[2 * c + 1];
        }
    }
    for (int c = 0; c < 4; c++) CHECK(sum[c] == 9, "IoU bins of column %d sum to %g, want the 9 test slices", c, sum[c]);
    CHECK(row_cells(log, "| v1 | 3 true | ", v, 1) && row_cells(log, "| v2 | 3 true + 12 pseudo | ", v + 1, 1),
          "v1 / v2 rows:\n%s", log);
    static const char *const methods[] = {"| HU threshold", "| histogram back-projection", "| GrabCut", "| model inference"};
    for (int m = 0; m < 4; m++) {
        const char *p = strstr(log, methods[m]);
        p = p ? strchr(p + 2, '|') : NULL;
        CHECK(p && row_cells(p, "| ", v, 2) && v[0] > 0 && v[1] >= 0 && v[1] <= 1,
              "labeling-time row %s (seconds > 0, DSC in [0, 1]):\n%s", methods[m], log);
    }
    CHECK(strstr(log, "MACHINE time"), "the time table must say it is machine time");
    snprintf(cmd, sizeof cmd, "ls %s/quant_pred/*_quant.png", out);
    CHECK(mt_test_run(cmd, flags, sizeof flags) == 0, "no quantify overlay PNG: %s", flags);
}
