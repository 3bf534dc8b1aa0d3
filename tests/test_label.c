/* tests/test_label.c: semi-automatic labeling (data/semiauto.h, data/cv_seg.cpp, medtrain label)
 * on the shipped CT sample (data/samples/s1, slice 15, paraspinal muscles): threshold and
 * back-projection masks equal numpy's (tests/label_check.py); back-projection and GrabCut DSC
 * against the reference muscle mask printed and bounded; the HDF5 output records the method;
 * wrong boxes are refused with a message naming the box and the slice size. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../data/semiauto.h"
#include "test.h"

#define CT "data/samples/s1/example_ct_sm.nii.gz"
#define REF "data/samples/s1/skeletal_muscle.nii.gz"
#define BACK_BOX "26,70,98,98"   /* both paraspinal muscle groups of slice 15 (display pixels) */
#define SAMPLE_BOX "38,80,50,88" /* a patch inside the left one */

#define NEED_TOOLS()                                                                                   \
    const char *mt_ = mt_test_medtrain();                                                              \
    if (!mt_) SKIP("skipped: medtrain CLI not built next to run_tests (make test builds it)");         \
    char py_out_[256];                                                                                 \
    if (mt_test_run("/usr/bin/python3 -c 'import nibabel, numpy, h5py, PIL'", py_out_, sizeof py_out_) != 0) \
        SKIP("skipped: /usr/bin/python3 with nibabel, numpy, h5py, PIL missing (make deps-py)")

/* The two DSC values `medtrain label --reference` prints: whole slice, inside the box. */
static int parse_dsc(const char *out, double *whole, double *inside)
{
    const char *p = strstr(out, "DSC against ");
    p = p ? strstr(p, ": ") : NULL;
    return p && sscanf(p, ": %lf (whole slice), %lf", whole, inside) == 2;
}

TEST(label_threshold_and_backproject_match_numpy)
{
    NEED_TOOLS();
    const char *tmp = mt_test_tmpdir();
    char png[1024], cmd[8192], out[8192];
    snprintf(png, sizeof png, "%s/thr.png", tmp);
    snprintf(cmd, sizeof cmd, "%s label threshold " CT " --slice 15 --box " BACK_BOX " --hu muscle --output %s", mt_, png);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0, "threshold failed:\n%s", out);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/label_check.py threshold %s " CT " 15 " BACK_BOX " -29,150", png);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0, "%s", out);
    static const struct {
        int slice, bins;
        const char *ratio, *region;
    } cases[] = {{15, 32, "0.1", BACK_BOX}, {12, 64, "0.05", NULL}};
    for (int i = 0; i < 2; i++) {
        snprintf(png, sizeof png, "%s/bp%d.png", tmp, i);
        snprintf(cmd, sizeof cmd, "%s label backproject " CT " --slice %d --box " SAMPLE_BOX " --bins %d --min_ratio %s "
                 "%s%s --output %s", mt_, cases[i].slice, cases[i].bins, cases[i].ratio,
                 cases[i].region ? "--region " : "", cases[i].region ? cases[i].region : "", png);
        CHECK(mt_test_run(cmd, out, sizeof out) == 0, "backproject %d failed:\n%s", i, out);
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/label_check.py backproject %s " CT " %d " SAMPLE_BOX
                 " 40,400 %d %s %s", png, cases[i].slice, cases[i].bins, cases[i].ratio,
                 cases[i].region ? cases[i].region : "");
        CHECK(mt_test_run(cmd, out, sizeof out) == 0, "case %d: %s", i, out);
    }
}

/* Back-projection from a patch of one muscle, and GrabCut seeded by the muscle HU range in a box
 * around both paraspinal groups: DSC against the reference mask (measured 0.798 and 0.841 inside
 * the box; 0.597 and 0.627 over the whole slice, where the box leaves the other muscles out). */
TEST(label_backproject_and_grabcut_dsc_on_muscle_box)
{
    NEED_TOOLS();
    const char *tmp = mt_test_tmpdir();
    static const struct {
        const char *method, *args;
        double min_inside, min_whole;
    } cases[] = {
        {"backproject", "--box " SAMPLE_BOX " --region " BACK_BOX, 0.77, 0.57},
        {"grabcut", "--box " BACK_BOX " --hu muscle --margin 0 --iterations 1", 0.80, 0.60},
        {"threshold", "--box " BACK_BOX " --hu muscle", 0.77, 0.58},
    };
    for (int i = 0; i < 3; i++) {
        char png[1024], cmd[8192], out[8192];
        snprintf(png, sizeof png, "%s/dsc_%s.png", tmp, cases[i].method);
        snprintf(cmd, sizeof cmd, "%s label %s " CT " --slice 15 %s --reference " REF " --output %s", mt_,
                 cases[i].method, cases[i].args, png);
        CHECK(mt_test_run(cmd, out, sizeof out) == 0, "%s failed:\n%s", cases[i].method, out);
        double whole, inside;
        CHECK(parse_dsc(out, &whole, &inside), "%s: no DSC line:\n%s", cases[i].method, out);
        printf("  %-11s DSC %.4f inside the box, %.4f whole slice\n", cases[i].method, inside, whole);
        CHECK(inside >= cases[i].min_inside && whole >= cases[i].min_whole && inside <= 1 && whole < inside,
              "%s: DSC %.4f / %.4f below %.2f / %.2f", cases[i].method, inside, whole, cases[i].min_inside,
              cases[i].min_whole);
    }
}

/* The HDF5 output: the slice in HU, the same mask as the PNG, the method in the description. */
TEST(label_dataset_records_method)
{
    NEED_TOOLS();
    const char *tmp = mt_test_tmpdir();
    char h5[1024], png[1024], cmd[8192], out[8192];
    snprintf(h5, sizeof h5, "%s/gc.h5", tmp);
    snprintf(png, sizeof png, "%s/gc.png", tmp);
    const char *args = "--slice 15 --box " BACK_BOX " --hu muscle --margin 0 --iterations 1 --name M";
    snprintf(cmd, sizeof cmd, "%s label grabcut " CT " %s --output %s && %s label grabcut " CT " %s --output %s", mt_,
             args, h5, mt_, args, png);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0, "grabcut failed:\n%s", out);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/label_check.py dataset %s %s " CT " 15 'medtrain label grabcut box="
             BACK_BOX " window=40/400 iterations=1 margin=0 hu=-29,150'", h5, png);
    CHECK(mt_test_run(cmd, out, sizeof out) == 0, "%s", out);
}

/* Boxes outside the slice or empty, and a missing box, are refused naming the box and size. */
TEST(label_refuses_wrong_boxes)
{
    mt_box b = {100, 80, 130, 95};
    CHECK(mt_box_check(&b, 101, 122, "--box") == MT_ERR_INVALID && strstr(mt_last_error(), "reaches outside the 122x101"),
          "outside: %s", mt_last_error());
    mt_error_clear();
    b = (mt_box){40, 40, 40, 60};
    CHECK(mt_box_check(&b, 101, 122, "--box") == MT_ERR_INVALID && strstr(mt_last_error(), "40,40,40,60 is empty"),
          "empty: %s", mt_last_error());
    mt_error_clear();
    CHECK(mt_box_parse("1,2,3", "--box", &b) == MT_ERR_INVALID && strstr(mt_last_error(), "x0,y0,x1,y1"), "parse: %s",
          mt_last_error());
    mt_error_clear();
    NEED_TOOLS();
    static const struct {
        const char *args, *want;
    } cases[] = {
        {"grabcut " CT " --slice 15 --box 100,80,130,95", "reaches outside the 122x101 slice"},
        {"backproject " CT " --slice 15 --box 40,40,40,60", "--box 40,40,40,60 is empty"},
        {"backproject " CT " --slice 15 --box -5,10,20,30", "reaches outside"},
        {"grabcut " CT " --slice 15", "GrabCut needs a box"},
        {"threshold " CT " --slice 15 --box 10,10,20,20", "needs an HU range"},
        {"grabcut " CT " --box 10,10,20,20", "choose one with --slice K"},
        {"backproject " CT " --slice 15 --box 10,10,20,20 --region 0,0,200,50", "--region 0,0,200,50 reaches outside"},
    };
    char cmd[8192], out[8192], png[1024];
    snprintf(png, sizeof png, "%s/never.png", mt_test_tmpdir());
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(cmd, sizeof cmd, "%s label %s --output %s", mt_, cases[i].args, png);
        int rc = mt_test_run(cmd, out, sizeof out);
        CHECK(rc == 1 && strstr(out, cases[i].want), "case %zu (%s): rc %d, want '%s':\n%s", i, cases[i].args, rc,
              cases[i].want, out);
    }
    CHECK(access(png, F_OK) != 0, "%s written by a refused command", png);
}
