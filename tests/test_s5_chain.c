/* tests/test_s5_chain.c: the whole S5 chain of experiments/s5_breast_mass/run.sh at tiny sizes
 * (TINY=1: 32 px crops, a 1/16-width DeconvNet and a base-4 depth-2 valid U-Net, 3 steps
 * each, one seed, no PyTorch peer): import split by woman, the centred and the jittered crops,
 * both nets trained from their YAML and scored by `medtrain evaluate`, the table. Checks the
 * per-image CSV (one row per test crop, every figure in [0, 1], areas consistent with the
 * figures), the Bland-Altman PNGs and the statistics drawn on them (evaluate prints them; they
 * must be the mean and mean -+ 1.96 SD of the CSV's gold - predicted areas), and the table's rows (medtrain's figures and the
 * constant-disc baseline, whose DSC on the study's centred crops is near 1). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#define PY "/usr/bin/python3"

/* rows of a run's eval_test_images.csv, each checked; -1 on a bad row (why says which) */
static int check_csv(const char *path, char *why, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f) return snprintf(why, len, "no %.300s", path), -1;
    char line[4096];
    int rows = 0, bad = 0;
    if (!fgets(line, sizeof line, f) || strncmp(line, "index,source,channel,sensitivity,specificity,accuracy,dsc", 57))
        bad = 1, snprintf(why, len, "%.300s: header %.200s", path, line);
    while (!bad && fgets(line, sizeof line, f)) {
        const char *q = strrchr(line, '"'); /* after the quoted source */
        double v[8];
        long gold, pred;
        if (!q || sscanf(q + 1, ",%*d,%lf,%lf,%lf,%lf,%lf,%lf,%ld,%ld", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &gold,
                         &pred) != 8) {
            bad = 1, snprintf(why, len, "%.300s: row %d unparsed (an undefined figure?): %.300s", path, rows + 1, line);
            break;
        }
        for (int k = 0; k < 6; k++)
            if (!(v[k] >= 0 && v[k] <= 1)) bad = 1, snprintf(why, len, "%.300s: row %d figure %d = %g", path, rows + 1, k, v[k]);
        /* DSC = 2 tp / (gold + pred) and sensitivity = tp / gold give the same tp */
        double tp = v[0] * gold;
        if (!bad && gold + pred > 0 && fabs(2 * tp / (gold + pred) - v[3]) > 1e-4)
            bad = 1, snprintf(why, len, "%.300s: row %d: DSC %g but 2 sens gold / (gold + pred) = %g", path, rows + 1, v[3],
                              2 * tp / (gold + pred));
        rows++;
    }
    fclose(f);
    return bad ? -1 : rows;
}

/* mean of gold - predicted area over a run's CSV rows and mean -+ 1.96 sample SD */
static int csv_bland_altman(const char *out, const char *net, double res[3])
{
    char path[PATH_MAX + 128], line[4096];
    snprintf(path, sizeof path, "%s/%s_seed1/eval_test_images.csv", out, net);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    double d[256];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < 256) {
        const char *q = strrchr(line, ',');
        long gold, pred;
        if (!q || q == line) continue;
        const char *p = q - 1;
        while (p > line && *p != ',') p--;
        if (sscanf(p, ",%ld,%ld", &gold, &pred) == 2) d[n++] = (double)(gold - pred);
    }
    fclose(f);
    if (n < 2) return 0;
    double m = 0, ss = 0;
    for (int i = 0; i < n; i++) m += d[i] / n;
    for (int i = 0; i < n; i++) ss += (d[i] - m) * (d[i] - m);
    double sd = sqrt(ss / (n - 1));
    res[0] = m, res[1] = m - 1.96 * sd, res[2] = m + 1.96 * sd;
    return 1;
}

TEST(s5_chain_tiny_runs_every_stage)
{
    char data[PATH_MAX], out[PATH_MAX + 64], log[65536], ev[16384], why[1024] = "";
    if (!mt_test_shared_data("mini_mias_masses/images", data, sizeof data))
        SKIP("skipped: ../shared/data/mini_mias_masses is not here");
    if (mt_test_run(PY " -c 'import h5py, numpy'", log, sizeof log) != 0)
        SKIP("skipped: " PY " with h5py and numpy is needed by run.sh's table");
    int rc = mt_test_run_tiny("experiments/s5_breast_mass/run.sh", "s5", 1, out, sizeof out, log, sizeof log);
    CHECK(rc != -2, "build/medtrain is missing");
    CHECK(rc == 0, "run.sh TINY=1 failed (%d):\n%s", rc, mt_test_tail(log, 6000));
    /* the test split: 11 films of 44 (val 0.1, test 0.25, split by woman, seed 4), one crop each */
    CHECK(strstr(log, "test 11 (11)"), "table does not state the test split of 11 films:\n%s", log);
    static const char *const nets[] = {"deconvnet", "unet"};
    for (int i = 0; i < 2; i++) {
        char path[PATH_MAX + 128];
        snprintf(path, sizeof path, "%s/%s_seed1/eval_test_images.csv", out, nets[i]);
        int rows = check_csv(path, why, sizeof why);
        CHECK(rows == 11, "%s: %d rows (want 11, one per test crop): %s", path, rows, why);
        snprintf(path, sizeof path, "%s/%s_seed1/bland_altman_test.png", out, nets[i]);
        CHECK(access(path, R_OK) == 0, "no %s", path);
        /* the statistics evaluate drew (printed into <run>.eval.txt) are those of the CSV's areas */
        double mean, lo, hi, want[3];
        CHECK(csv_bland_altman(out, nets[i], want), "%s: CSV areas unreadable", nets[i]);
        snprintf(path, sizeof path, "%s/%s_seed1.eval.txt", out, nets[i]);
        FILE *f = fopen(path, "r");
        CHECK(f, "no %s", path);
        size_t len = fread(ev, 1, sizeof ev - 1, f);
        fclose(f);
        ev[len] = 0;
        const char *ba = strstr(ev, "mean difference ");
        CHECK(ba && sscanf(ba, "mean difference %lf, limits of agreement %lf and %lf", &mean, &lo, &hi) == 3,
              "%s: no Bland-Altman line:\n%s", path, ev);
        CHECK(fabs(mean - want[0]) < 1e-3 && fabs(lo - want[1]) < 1e-3 && fabs(hi - want[2]) < 1e-3,
              "%s: Bland-Altman mean %g limits %g, %g; from the CSV %g, %g, %g", nets[i], mean, lo, hi, want[0],
              want[1], want[2]);
    }
    static const char *const rows[] = {"| DeconvNet | dsc |", "| U-Net | dsc |", "| DeconvNet | accuracy |",
                                       "| U-Net | sensitivity |"};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        double v = mt_test_table_value(log, rows[i], 4);
        double hi = strstr(rows[i], "dsc") ? 1 : 100;
        CHECK(v >= 0 && v <= hi, "table row %s: medtrain %g (want a number in [0, %g]):\n%s", rows[i], v, hi, log);
    }
    /* the constant disc on the study's centred crops: the degenerate protocol (DSC ~0.97 at 32 px) */
    double disc = mt_test_table_value(log, "| study's centred crop", 6);
    CHECK(disc > 0.9 && disc <= 1, "constant-disc DSC on the centred crops %g (want > 0.9):\n%s", disc, log);
    double jit = mt_test_table_value(log, "| jittered benchmark", 6);
    CHECK(jit > 0 && jit < disc - 0.1, "constant-disc DSC on the jittered crops %g (want well below %g)", jit, disc);
}
