/* tests/test_s2_chain.c: the S2 chain of experiments/s2_ct_recon/run.sh at tiny sizes (TINY=1:
 * 107 px, 2 training steps, one seed, no PyTorch peer, body part on the axial MIP only): the
 * nine-reconstruction contact sheets of the three volumes, the TCGA import with its data report
 * (6 slices reoriented, 5 duplicates kept with their originals, 8 mixed-label patients, no
 * patient in two splits), an InceptionResNetV2 contrast run and its evaluation, the body-part
 * dataset and run, and the table. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define PY "/usr/bin/python3"

TEST(s2_chain_tiny_runs_every_stage)
{
    char data[PATH_MAX], out[PATH_MAX + 64], log[65536];
    if (!mt_test_shared_data("tcga_ct_contrast_slices/dicom", data, sizeof data) ||
        !mt_test_shared_data("cq500_head_ct_sample/dicom", data, sizeof data) ||
        !mt_test_shared_data("totalsegmentator_example_ct/example_ct.nii.gz", data, sizeof data))
        SKIP("skipped: ../shared/data (tcga, cq500, totalsegmentator) is not here");
    if (mt_test_run(PY " -c 'import h5py, numpy'", log, sizeof log) != 0)
        SKIP("skipped: " PY " with h5py and numpy is needed by run.sh's table");
    int rc = mt_test_run_tiny("experiments/s2_ct_recon/run.sh", "s2", 2, out, sizeof out, log, sizeof log);
    CHECK(rc != -2, "build/medtrain is missing");
    CHECK(rc == 0, "run.sh TINY=1 failed (%d):\n%s", rc, mt_test_tail(log, 6000));
    static const char *const files[] = {"sheets/cq500_head_ct_sample_dicom.png",
                                        "sheets/totalsegmentator_example_ct_example_ct_dicom.png",
                                        "sheets/totalsegmentator_example_ct_example_ct.png",
                                        "contrast_mt_s0/eval_test.json", "contrast_mt_s0/best.h5",
                                        "bodypart_axial_mip_107.h5", "bodypart_axial_mip/eval_train.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[PATH_MAX + 128];
        snprintf(path, sizeof path, "%s/%s", out, files[i]);
        FILE *f = fopen(path, "r");
        CHECK(f, "stage output %s is missing", path);
        if (f) fclose(f);
    }
    static const char *const report[] = {
        "reoriented 6 of 79 slices", "5 samples have the same pixels as an earlier sample",
        "8 patients have samples of more than one class label", "duplicate pairs across splits: 0 (of 5 duplicates)",
        "patients in more than one split: 0", "test: 10 slices (NE 6 / CE 4) from 6 patients"};
    for (size_t i = 0; i < sizeof report / sizeof *report; i++)
        CHECK(strstr(log, report[i]), "the report lacks \"%s\":\n%s", report[i], log);
    double acc = mt_test_table_value(log, "| medtrain (from scratch) |", 2);
    CHECK(acc >= 0 && acc <= 100, "contrast accuracy %g (want a number in [0, 100]):\n%s", acc, log);
    double bp = mt_test_table_value(log, "| axial mip |", 3);
    CHECK(bp >= 0 && bp <= 100, "body-part accuracy %g:\n%s", bp, log);
}
