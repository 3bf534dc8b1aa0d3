/* tests/test_s4_chain.c: the whole S4 chain of experiments/s4_nasal/run.sh at tiny sizes
 * (TINY=1: 64 px films, a 1/16-width YOLOv5s, 32 px crops, one epoch per stage, no PyTorch
 * peer): import with the landmark box, detector, crops from the detector, synthetic
 * fractures, classifier C, G-D, G-D-C step 1 and step 2, localization scores, the table.
 * Checks that every stage ran from its YAML with the previous stage's checkpoint (the
 * runs' metrics.json exist, the step-2 run loaded G1 from step 1's best.h5) and that the
 * table holds the figures, each a number in [0, 1]. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define PY "/usr/bin/python3"

TEST(s4_chain_tiny_runs_every_stage)
{
    char data[PATH_MAX], out[PATH_MAX + 64], log[65536];
    if (!mt_test_shared_data("hamedan_cephalometric/images", data, sizeof data))
        SKIP("skipped: ../shared/data/hamedan_cephalometric is not here");
    if (mt_test_run(PY " -c 'import h5py, numpy, PIL'", log, sizeof log) != 0)
        SKIP("skipped: " PY " with h5py, numpy and PIL is needed by run.sh's reports");
    int rc = mt_test_run_tiny("experiments/s4_nasal/run.sh", "s4", 1, out, sizeof out, log, sizeof log);
    CHECK(rc != -2, "build/medtrain is missing");
    CHECK(rc == 0, "run.sh TINY=1 failed (%d):\n%s", rc, mt_test_tail(log, 6000));
    static const char *const runs[] = {"detector", "classifier_s0.5_seed3", "gd", "gdc1", "gdc2"};
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        char path[PATH_MAX + 128];
        snprintf(path, sizeof path, "%s/%s/metrics.json", out, runs[i]);
        FILE *f = fopen(path, "r");
        CHECK(f, "stage %s wrote no %s", runs[i], path);
        fclose(f);
    }
    CHECK(strstr(log, "gdc1/best.h5"), "step 2 did not load G1 from step 1's best.h5:\n%s", log);
    static const char *const rows[] = {
        "| detector mAP@0.5 (test films) |", "| C accuracy (n = ", "| C AUC |",
        "| G-D-C step 1 change map: pointing game |", "| G-D-C step 2 change map: IoU at the val threshold |",
        "| C's CAM alone: pointing game |", "| random map: pointing game |",
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        double v = mt_test_table_value(log, rows[i], 3);
        CHECK(v >= 0 && v <= 1, "table row %s: %g (want a number in [0, 1]):\n%s", rows[i], v, log);
    }
}
