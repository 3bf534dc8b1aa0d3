/* tests/test_import_box.c: the import keys box_points / box_offsets / box_class
 * (data/import.c add_keypoint_box; S4's nasal-bone box from nasion and subnasale):
 * on a temporary images folder with LabelMe JSON, the stored box equals
 * A + offsets * |B - A| with A, B the landmarks after the resize
 * (x' = (x + 0.5) * out/in - 0.5), clipped to [0, W - 1] x [0, H - 1]; and the
 * refusals: a missing landmark, box_points not among `points`, bad box_offsets. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../data/dataset.h"
#include "../data/image_io.h"
#include "../data/import.h"
#include "test.h"

enum { IW = 40, IH = 20 };

/* dir/<stem>.png (IW x IH grey) and json/<stem>.json with points l2 = a, l15 = b (b may be NULL: absent), l18 */
static int add_film(const char *dir, const char *json, const char *stem, const double a[2], const double *b)
{
    uint8_t px[IW * IH];
    for (int i = 0; i < IW * IH; i++) px[i] = (uint8_t)(i % 251);
    char p[1400], text[1024];
    snprintf(p, sizeof p, "%s/%s.png", dir, stem);
    if (mt_image_write_png(p, px, IW, IH, 1) != MT_OK) return 0;
    int n = snprintf(text, sizeof text, "{\"shapes\": [{\"label\": \"l2\", \"points\": [[%g, %g]], \"shape_type\": \"point\"},\n",
                     a[0], a[1]);
    if (b)
        n += snprintf(text + n, sizeof text - n, "  {\"label\": \"l15\", \"points\": [[%g, %g]], \"shape_type\": \"point\"},\n",
                      b[0], b[1]);
    snprintf(text + n, sizeof text - n,
             "  {\"label\": \"l18\", \"points\": [[3, 4]], \"shape_type\": \"point\"}],\n \"imageHeight\": %d, \"imageWidth\": %d}\n",
             IH, IW);
    snprintf(p, sizeof p, "%s/%s.json", json, stem);
    FILE *f = fopen(p, "w");
    if (!f) return 0;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

static int make_dirs(const char *name, char *img, char *json, size_t len)
{
    snprintf(img, len, "%s/%s_img", mt_test_tmpdir(), name);
    snprintf(json, len, "%s/%s_json", mt_test_tmpdir(), name);
    return (mkdir(img, 0755) == 0 || access(img, F_OK) == 0) && (mkdir(json, 0755) == 0 || access(json, F_OK) == 0);
}

static mt_status base_spec(mt_import_spec *sp, const char *img, const char *json, const char *out)
{
    mt_import_spec_init(sp);
    MT_TRY(mt_import_spec_set(sp, "source", "images"));
    MT_TRY(mt_import_spec_set(sp, "input", img));
    MT_TRY(mt_import_spec_set(sp, "labelme_dir", json));
    MT_TRY(mt_import_spec_set(sp, "points", "l2,l15,l18"));
    MT_TRY(mt_import_spec_set(sp, "resize", "10x20")); /* H x W: half size */
    MT_TRY(mt_import_spec_set(sp, "val_frac", "0"));
    MT_TRY(mt_import_spec_set(sp, "test_frac", "0"));
    return mt_import_spec_set(sp, "output", out);
}

static double rs(double v) { return (v + 0.5) * 0.5 - 0.5; } /* the resize's coordinate map (both axes halve) */

TEST(import_box_points_geometry_and_clipping)
{
    char img[1200], json[1200], out[1400];
    CHECK(make_dirs("boxpts", img, json, sizeof img), "mkdir");
    const double a0[2] = {9.5, 5.5}, b0[2] = {15.5, 13.5}; /* |B - A| = 10 px, 5 after the resize */
    const double a1[2] = {37.5, 1.5}, b1[2] = {37.5, 11.5}; /* near the top-right corner: clipped */
    CHECK(add_film(img, json, "f0", a0, b0) && add_film(img, json, "f1", a1, b1), "fixtures");
    snprintf(out, sizeof out, "%s/boxpts.h5", mt_test_tmpdir());
    mt_import_spec sp;
    mt_import_result r;
    CHECK_OK(base_spec(&sp, img, json, out));
    CHECK_OK(mt_import_spec_set(&sp, "box_points", "l2,l15"));
    CHECK_OK(mt_import_spec_set(&sp, "box_offsets", "-0.15,-0.12,0.45,0.48"));
    CHECK_OK(mt_import_spec_set(&sp, "box_class", "2"));
    CHECK_OK(mt_import_run(&sp, &r));
    CHECK(r.n_samples == 2, "%d samples", r.n_samples);
    mt_dataset *d = NULL;
    CHECK_OK(mt_dataset_open(out, &d));
    const double off[4] = {-0.15, -0.12, 0.45, 0.48};
    const double *as[2] = {a0, a1}, *bs[2] = {b0, b1};
    int ok = mt_dataset_size(d) == 2;
    char why[2048] = "size";
    for (int i = 0; ok && i < 2; i++) {
        mt_sample s;
        mt_sample_init(&s);
        ok = mt_dataset_read(d, i, &s) == MT_OK;
        int k = ok && strstr(s.meta.source, "f1") ? 1 : 0;
        double ax = rs(as[k][0]), ay = rs(as[k][1]), l = hypot(rs(bs[k][0]) - ax, rs(bs[k][1]) - ay), want[4];
        for (int j = 0; j < 4; j++) {
            double v = (j % 2 ? ay : ax) + off[j] * l, hi = j % 2 ? 9 : 19;
            want[j] = v < 0 ? 0 : v > hi ? hi : v;
        }
        if (ok && (s.n_boxes != 1 || s.boxes[4] != 2 || fabs(s.points[0] - ax) > 1e-5 || fabs(s.points[1] - ay) > 1e-5))
            ok = 0, snprintf(why, sizeof why, "%s: %d boxes, class %g, A (%g, %g) vs (%g, %g)", s.meta.source, s.n_boxes,
                             s.n_boxes ? s.boxes[4] : -1.0, s.points[0], s.points[1], ax, ay);
        for (int j = 0; ok && j < 4; j++)
            if (fabs(s.boxes[j] - want[j]) > 1e-5)
                ok = 0, snprintf(why, sizeof why, "%s: box[%d] = %.6g, expected %.6g", s.meta.source, j, s.boxes[j], want[j]);
        mt_sample_free(&s);
    }
    char **names = NULL;
    int nn = 0;
    if (ok && !(mt_dataset_names(d, "point_names", &names, &nn) == MT_OK && nn == 3 && !strcmp(names[1], "l15")))
        ok = 0, snprintf(why, sizeof why, "point_names: %d names, expected l2, l15, l18", nn);
    mt_dataset_free_names(names, nn);
    mt_dataset_close(d);
    CHECK(ok, "%s", why);
    /* f1's box is clipped: x1 = 18.5 + 0.45 * 5 > 19, y0 = 0.25 - 0.12 * 5 < 0 */
    CHECK(rs(a1[0]) + 0.45 * 5 > 19 && rs(a1[1]) - 0.12 * 5 < 0, "the clipping case does not clip");
}

TEST(import_box_points_refusals)
{
    char img[1200], json[1200], out[1400];
    CHECK(make_dirs("boxmiss", img, json, sizeof img), "mkdir");
    const double a[2] = {9.5, 5.5}, b[2] = {15.5, 13.5};
    CHECK(add_film(img, json, "g0", a, b) && add_film(img, json, "g1", a, NULL), "fixtures");
    snprintf(out, sizeof out, "%s/boxmiss.h5", mt_test_tmpdir());
    unlink(out);
    mt_import_spec sp;
    mt_import_result r;
    CHECK_OK(base_spec(&sp, img, json, out));
    CHECK_OK(mt_import_spec_set(&sp, "box_points", "l2,l15"));
    CHECK_OK(mt_import_spec_set(&sp, "box_offsets", "-0.15,-0.12,0.45,0.48"));
    /* g1 lacks l15 */
    CHECK_FAILS(mt_import_run(&sp, &r), MT_ERR_FORMAT, "landmark l15 is missing");
    CHECK(strstr(mt_last_error(), "g1"), "message does not name the film: %s", mt_last_error());
    CHECK(access(out, F_OK) != 0, "a refused import left %s", out);
    /* box_points not among points */
    CHECK_OK(mt_import_spec_set(&sp, "points", "l2,l18"));
    CHECK_FAILS(mt_import_run(&sp, &r), MT_ERR_INVALID, "must both be listed in `points`");
    /* bad offsets: x1 <= x0, three numbers, one box point */
    CHECK_FAILS(mt_import_spec_set(&sp, "box_offsets", "0.5,0,0.1,1"), MT_ERR_INVALID, "x0 < x1 and y0 < y1");
    CHECK_FAILS(mt_import_spec_set(&sp, "box_offsets", "0,0,1"), MT_ERR_INVALID, "box_offsets");
    CHECK_FAILS(mt_import_spec_set(&sp, "box_points", "l2"), MT_ERR_INVALID, "give two point labels A,B");
    /* box_points without box_offsets */
    mt_import_spec sp2;
    CHECK_OK(base_spec(&sp2, img, json, out));
    CHECK_OK(mt_import_spec_set(&sp2, "box_points", "l2,l15"));
    CHECK_FAILS(mt_import_run(&sp2, &r), MT_ERR_INVALID, "needs box_offsets");
    mt_error_clear();
}
