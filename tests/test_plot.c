/* tests/test_plot.c: train/plot.h pictures, rendered and read back with libpng
 * (png_image simplified API): sizes, colours at known pixels, the chart geometry
 * (log axis, NaN gaps, ROC corner), confusion-matrix shading, Bland-Altman
 * numbers, atomic writes that leave nothing behind on failure, NaN inputs. */
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/error.h"
#include "../train/plot.h"
#include "test.h"

/* A PNG read back as 8-bit RGB (or grey when grey = 1). */
typedef struct rgb_png {
    int w, h, c;
    uint8_t *px;
} rgb_png;

static int png_load(const char *path, rgb_png *p, int grey)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    p->px = NULL;
    if (!png_image_begin_read_from_file(&im, path)) return 0;
    im.format = grey ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    p->w = (int)im.width, p->h = (int)im.height, p->c = grey ? 1 : 3;
    p->px = malloc(PNG_IMAGE_SIZE(im));
    if (!p->px || !png_image_finish_read(&im, NULL, p->px, 0, NULL)) {
        png_image_free(&im);
        free(p->px);
        p->px = NULL;
        return 0;
    }
    return 1;
}

static const uint8_t *at(const rgb_png *p, int x, int y) { return p->px + ((size_t)y * p->w + x) * p->c; }

/* |pixel - (r,g,b)| <= tol in every channel */
static int near(const rgb_png *p, int x, int y, int r, int g, int b, int tol)
{
    const uint8_t *q = at(p, x, y);
    return abs(q[0] - r) <= tol && abs(q[1] - g) <= tol && abs(q[2] - b) <= tol;
}

static int count_near(const rgb_png *p, int x0, int x1, int y0, int y1, int r, int g, int b, int tol)
{
    int n = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < p->h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < p->w; x++) n += near(p, x, y, r, g, b, tol);
    return n;
}

static const char *tmp_path(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/plot_%s", mt_test_tmpdir(), name);
    return buf;
}

/* Two loss curves: size, legend swatches, a NaN gap leaves its columns empty. */
TEST(plot_lines_loss_curves_nan_gap)
{
    enum { N = 41 };
    double x[N], train[N], val[N];
    for (int i = 0; i < N; i++) {
        x[i] = i + 1;
        train[i] = 1.0 / (1 + 0.2 * i);
        val[i] = i >= 12 && i <= 28 ? NAN : 1.1 / (1 + 0.15 * i); /* a gap in the middle third */
    }
    mt_plot_series s[2] = {{"train loss", train}, {"val loss", val}};
    mt_plot_chart ch = {"loss", "epoch", "loss", 720, 450, 0};
    char path[1024];
    CHECK_OK(mt_plot_lines(tmp_path("loss.png", path, sizeof path), &ch, N, x, 2, s));
    rgb_png p;
    CHECK(png_load(path, &p, 0), "read %s", path);
    CHECK(p.w == 720 && p.h == 450, "size %dx%d", p.w, p.h);
    /* title ink and legend swatches (exact colours) on the title row */
    int ink = count_near(&p, 0, p.w, 0, 36, 40, 40, 40, 60);
    int sw_train = count_near(&p, p.w / 2, p.w, 0, 36, 31, 119, 180, 0);
    int sw_val = count_near(&p, p.w / 2, p.w, 0, 36, 255, 127, 14, 0);
    /* the val curve (orange) in the left fifth of the plot, none in the middle tenth */
    int val_left = count_near(&p, p.w / 8, p.w / 4, 40, p.h - 40, 255, 127, 14, 30);
    int val_mid = count_near(&p, p.w * 45 / 100, p.w * 55 / 100, 40, p.h - 40, 255, 127, 14, 30);
    int train_mid = count_near(&p, p.w * 45 / 100, p.w * 55 / 100, 40, p.h - 40, 31, 119, 180, 30);
    free(p.px);
    CHECK(ink > 30, "title ink pixels %d", ink);
    CHECK(sw_train >= 40 && sw_val >= 40, "legend swatch pixels: train %d, val %d", sw_train, sw_val);
    CHECK(val_left > 20 && val_mid == 0 && train_mid > 20, "val left %d, val in the gap %d, train in the gap %d",
          val_left, val_mid, train_mid);
}

/* log-y: y = 10^(-4 t) is a straight line; on a linear axis it would sag to the bottom. */
TEST(plot_lines_log_y_straight)
{
    enum { N = 33 };
    double y[N], lin[N];
    for (int i = 0; i < N; i++) y[i] = pow(10.0, -4.0 * i / (N - 1)), lin[i] = y[i];
    mt_plot_series s = {NULL, y};
    char path[1024];
    for (int log_y = 1; log_y >= 0; log_y--) {
        mt_plot_chart ch = {NULL, "step", NULL, 600, 400, log_y};
        CHECK_OK(mt_plot_lines(tmp_path("logy.png", path, sizeof path), &ch, N, NULL, 1, &s));
        rgb_png p;
        CHECK(png_load(path, &p, 0), "read %s", path);
        /* extent of the curve's pixels, then its row in the middle column */
        int x0 = p.w, x1 = -1, y0 = p.h, y1 = -1;
        for (int yy = 0; yy < p.h; yy++)
            for (int xx = 0; xx < p.w; xx++)
                if (near(&p, xx, yy, 31, 119, 180, 20)) {
                    x0 = xx < x0 ? xx : x0, x1 = xx > x1 ? xx : x1;
                    y0 = yy < y0 ? yy : y0, y1 = yy > y1 ? yy : y1;
                }
        int xm = (x0 + x1) / 2, ys = 0, ny = 0;
        for (int yy = 0; yy < p.h && x1 > x0; yy++)
            if (near(&p, xm, yy, 31, 119, 180, 20)) ys += yy, ny++;
        free(p.px);
        CHECK(x1 - x0 > 300 && y1 - y0 > 200 && ny > 0, "curve extent x %d..%d y %d..%d", x0, x1, y0, y1);
        double mid = (double)ys / ny, want = (y0 + y1) / 2.0;
        if (log_y) CHECK(fabs(mid - want) < 4, "log-y: middle of the line at row %.1f, want %.1f", mid, want);
        else CHECK(mid > want + 0.3 * (y1 - y0), "linear y: row %.1f should sag below %.1f", mid, want);
    }
    (void)lin;
}

/* Nice ticks are not the subject here: all-NaN, single-point and zero/negative log values render. */
TEST(plot_lines_nan_and_degenerate_inputs)
{
    double nan3[3] = {NAN, NAN, NAN}, one[1] = {0.5}, neg[3] = {-1, 0, 1e-3}, big[3] = {1e300, -1e300, INFINITY}, huge[3] = {1.7e308, -1.7e308, 0};
    char path[1024];
    mt_plot_chart ch = {"t", NULL, NULL, 400, 300, 0}, chl = {"t", NULL, NULL, 400, 300, 1};
    mt_plot_series s1 = {"nan", nan3}, s2 = {"one", one}, s3 = {"neg", neg}, s4 = {"big", big}, s5 = {"huge", huge};
    CHECK_OK(mt_plot_lines(tmp_path("nan.png", path, sizeof path), &ch, 3, NULL, 1, &s1));
    CHECK_OK(mt_plot_lines(path, &ch, 1, NULL, 1, &s2));
    CHECK_OK(mt_plot_lines(path, &chl, 3, NULL, 1, &s3));
    CHECK_OK(mt_plot_lines(path, &chl, 3, NULL, 1, &s1));
    CHECK_OK(mt_plot_lines(path, &ch, 3, NULL, 1, &s4));
    CHECK_OK(mt_plot_lines(path, &ch, 3, NULL, 1, &s5));
    double xn[3] = {NAN, 1, NAN};
    CHECK_OK(mt_plot_lines(path, NULL, 3, xn, 1, &s3));
    rgb_png p;
    CHECK(png_load(path, &p, 0) && p.w == 720 && p.h == 450, "default size");
    free(p.px);
    /* bad arguments are refused, named */
    mt_error_clear();
    CHECK(mt_plot_lines(path, &ch, 0, NULL, 1, &s1) == MT_ERR_INVALID, "n = 0 accepted");
    mt_error_clear();
    mt_plot_chart tiny = {"title", "x", "y", 40, 30, 0};
    CHECK(mt_plot_lines(path, &tiny, 3, NULL, 1, &s3) == MT_ERR_INVALID && strstr(mt_last_error(), "too small"),
          "tiny chart: %s", mt_last_error());
    mt_error_clear();
}

/* Finds the plot frame of a chart from its axes (exact colour (96,96,96)): the
 * bottom axis is the row holding most such pixels; the x tick marks are the
 * columns where the two rows 2 and 3 pixels under it are axis-coloured; the
 * first and last tick give the left and right ends of the frame. */
static void find_frame(const rgb_png *p, int *left, int *right, int *bottom)
{
    int best = 0;
    for (int y = 0; y < p->h; y++) {
        int n = count_near(p, 0, p->w, y, y + 1, 96, 96, 96, 0);
        if (n > best) best = n, *bottom = y;
    }
    *left = p->w, *right = -1;
    for (int x = 0; x < p->w && *bottom + 3 < p->h; x++)
        if (near(p, x, *bottom + 2, 96, 96, 96, 0) && near(p, x, *bottom + 3, 96, 96, 96, 0)) {
            *left = x < *left ? x : *left;
            *right = x > *right ? x : *right;
        }
}

/* A perfect classifier's ROC curve runs through the top-left corner; AUC by the trapezoid rule. */
TEST(plot_roc_perfect_through_top_left)
{
    double f[3] = {0, 0, 1}, t[3] = {0, 1, 1}, fr[2] = {0, 1}, tr[2] = {0, 1};
    CHECK(fabs(mt_plot_auc_trapezoid(3, f, t) - 1) < 1e-12, "perfect AUC");
    CHECK(fabs(mt_plot_auc_trapezoid(2, fr, tr) - 0.5) < 1e-12, "chance AUC");
    double sf[5] = {0, 0.25, 0.25, NAN, 1}, st[5] = {0, 0.5, 0.75, 0.9, 1};
    /* (0.25 * 0.25) + (0 * ...) + (0.75 * 0.875) with the NaN point skipped */
    CHECK(fabs(mt_plot_auc_trapezoid(5, sf, st) - (0.0625 + 0.65625)) < 1e-12, "staircase AUC %g",
          mt_plot_auc_trapezoid(5, sf, st));
    mt_plot_roc_curve c[2] = {{"perfect", 3, f, t, NAN}, {"chance", 2, fr, tr, 0.5}};
    char path[1024];
    CHECK_OK(mt_plot_roc(tmp_path("roc.png", path, sizeof path), NULL, 2, c));
    rgb_png p;
    CHECK(png_load(path, &p, 0), "read %s", path);
    int left = -1, right = -1, bottom = -1;
    find_frame(&p, &left, &right, &bottom);
    int side = right - left, top = bottom - side; /* the ROC frame is square */
    /* square frame; curve 0 (tab10 blue) in the 6-px box at the top-left corner, not in the middle */
    int corner = count_near(&p, left - 3, left + 4, top - 3, top + 4, 31, 119, 180, 40);
    int centre = count_near(&p, left + side / 2 - 3, left + side / 2 + 4, top + side / 2 - 3, top + side / 2 + 4, 31,
                            119, 180, 40);
    /* the chance curve (orange) passes the centre */
    int diag = count_near(&p, left + side / 2 - 3, left + side / 2 + 4, top + side / 2 - 3, top + side / 2 + 4, 255,
                          127, 14, 40);
    free(p.px);
    CHECK(side > 200 && left > 20, "frame: left %d, top %d, bottom %d", left, top, bottom);
    CHECK(corner > 5 && centre == 0 && diag > 3, "corner %d, centre %d, diagonal %d", corner, centre, diag);
}

/* Cell shading follows the row-normalised value; the largest count is the darkest cell. */
TEST(plot_confusion_largest_count_darkest)
{
    const long long cm[9] = {50, 3, 2, 4, 30, 6, 1, 2, 20}; /* rows: 50/55 = .91, 30/40 = .75, 20/23 = .87 */
    const char *names[3] = {"liver", "spleen", "kidney"};
    char path[1024];
    CHECK_OK(mt_plot_confusion(tmp_path("cm.png", path, sizeof path), "test split", 3, cm, names));
    rgb_png p;
    CHECK(png_load(path, &p, 0), "read %s", path);
    /* the matrix: bounding box of the bluish (b > r + 5) pixels */
    int x0 = p.w, x1 = -1, y0 = p.h, y1 = -1;
    for (int y = 0; y < p.h; y++)
        for (int x = 0; x < p.w; x++) {
            const uint8_t *q = at(&p, x, y);
            if (q[2] > q[0] + 5) x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1, y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
        }
    double cw = (x1 - x0 + 1) / 3.0, chh = (y1 - y0 + 1) / 3.0;
    int lum[9];
    for (int i = 0; i < 9; i++) {
        const uint8_t *q = at(&p, x0 + (int)((i % 3) * cw) + 6, y0 + (int)((i / 3) * chh) + 6);
        lum[i] = q[0] + q[1] + q[2];
    }
    free(p.px);
    CHECK(fabs(cw - chh) < 2 && cw > 40, "cells %gx%g", cw, chh);
    for (int i = 1; i < 9; i++) CHECK(lum[0] < lum[i], "cell 0 (%d) not darker than cell %d (%d)", lum[0], i, lum[i]);
    CHECK(lum[8] < lum[4] && lum[4] < lum[5] && lum[5] < lum[3], "shading order: %d %d %d %d", lum[8], lum[4],
          lum[5], lum[3]);
    /* a zero row is white-ish, one class and default names work, negative counts are refused */
    const long long z[4] = {0, 0, 3, 1};
    CHECK_OK(mt_plot_confusion(path, NULL, 2, z, NULL));
    const long long one = 7;
    CHECK_OK(mt_plot_confusion(path, NULL, 1, &one, NULL));
    const long long bad[1] = {-1};
    mt_error_clear();
    CHECK(mt_plot_confusion(path, NULL, 1, bad, NULL) == MT_ERR_INVALID, "negative count accepted");
    mt_error_clear();
}

/* Bland-Altman numbers by hand; the mean-difference line is drawn across the plot. */
TEST(plot_bland_altman_stats_and_lines)
{
    double a[5] = {10, 20, 30, NAN, 40}, b[5] = {8, 19, 27, 5, 38}; /* diffs 2, 1, 3, (skipped), 2 */
    mt_plot_bland_altman_stats s;
    char path[1024];
    mt_plot_chart ch = {"muscle area", "mean (mm^2)", "model - reference (mm^2)", 0, 0, 0};
    CHECK_OK(mt_plot_bland_altman(tmp_path("ba.png", path, sizeof path), &ch, 5, a, b, &s));
    double sd = sqrt(2.0 / 3.0);
    CHECK(s.n == 4 && fabs(s.mean_diff - 2) < 1e-12 && fabs(s.sd_diff - sd) < 1e-12, "n %d mean %g sd %g", s.n,
          s.mean_diff, s.sd_diff);
    CHECK(fabs(s.lo - (2 - 1.96 * sd)) < 1e-12 && fabs(s.hi - (2 + 1.96 * sd)) < 1e-12, "limits %g %g", s.lo, s.hi);
    rgb_png p;
    CHECK(png_load(path, &p, 0), "read %s", path);
    int best = 0;
    for (int y = 0; y < p.h; y++) {
        int n = count_near(&p, 0, p.w, y, y + 1, 214, 39, 40, 10);
        best = n > best ? n : best;
    }
    free(p.px);
    CHECK(best > p.w / 2, "longest mean-difference row %d pixels of %d", best, p.w);
    double na[2] = {NAN, 1}, nb[2] = {2, NAN};
    mt_error_clear();
    CHECK(mt_plot_bland_altman(path, NULL, 2, na, nb, NULL) == MT_ERR_INVALID, "no finite pair accepted");
    mt_error_clear();
    double one_a = 3, one_b = 1;
    CHECK_OK(mt_plot_bland_altman(path, NULL, 1, &one_a, &one_b, &s));
    CHECK(s.n == 1 && s.sd_diff == 0 && s.mean_diff == 2, "single pair");
}

/* A 96x96 overlay is upscaled x4; inside a mask the pixel is the 35% blend, the outline opaque. */
TEST(plot_overlay_mask_blend_and_outline)
{
    enum { H = 96, W = 96 };
    float img[H * W];
    uint8_t m1[H * W] = {0}, m2[H * W] = {0};
    for (int i = 0; i < H * W; i++) img[i] = 0.5f;
    for (int y = 90; y < 93; y++)
        for (int x = 60; x < 63; x++) img[y * W + x] = NAN; /* NaN pixels show black, no crash */
    for (int y = 30; y < 60; y++)
        for (int x = 30; x < 60; x++) m1[y * W + x] = 1;
    for (int y = 70; y < 90; y++)
        for (int x = 10; x < 30; x++) m2[y * W + x] = 1;
    mt_plot_mask m[2] = {{m1, 255, 0, 0, "prediction"}, {m2, 0, 0, 255, NULL}};
    CHECK(mt_plot_image_scale(H, W) == 4 && mt_plot_image_scale(40, 48) == 10 && mt_plot_image_scale(512, 400) == 1,
          "scale");
    char path[1024];
    CHECK_OK(mt_plot_overlay(tmp_path("overlay.png", path, sizeof path), img, H, W, 0, 1, 2, m, "slice 12"));
    rgb_png p;
    CHECK(png_load(path, &p, 0), "read %s", path);
    CHECK(p.w == 384 && p.h == 384 + 28, "size %dx%d", p.w, p.h);
    /* grey 128; red at 35%: 128 * (1 - 89/255) + 89 = 172.3, 83.3, 83.3 */
    double a = round(MT_PLOT_MASK_ALPHA * 255) / 255;
    int g = 128, r_in = (int)lround(g * (1 - a) + 255 * a), o_in = (int)lround(g * (1 - a));
    int ok_out = near(&p, 42, 42 + 4 * 40, g, g, g, 0);
    int ok_in = near(&p, 45 * 4 + 2, 45 * 4 + 2, r_in, o_in, o_in, 2);
    int ok_blue = near(&p, 20 * 4 + 2, 80 * 4 + 2, o_in, o_in, r_in, 2);
    int ok_edge = near(&p, 30 * 4, 45 * 4, 255, 0, 0, 3) && near(&p, 30 * 4 - 1, 45 * 4, 255, 0, 0, 3);
    /* masks nearest: the first pixel past the 2-px outline already has the full tint */
    int ok_nearest = near(&p, 30 * 4 + 1, 45 * 4, r_in, o_in, o_in, 2);
    int ok_nan = near(&p, 61 * 4 + 2, 91 * 4 + 2, 0, 0, 0, 0);
    const uint8_t *q = at(&p, 45 * 4 + 2, 45 * 4 + 2);
    int qr = q[0], qg = q[1], qb = q[2];
    free(p.px);
    CHECK(ok_out, "outside pixel not grey 128");
    CHECK(ok_in, "inside pixel (%d,%d,%d), want (%d,%d,%d)", qr, qg, qb, r_in, o_in, o_in);
    CHECK(ok_blue && ok_edge && ok_nan && ok_nearest, "blue mask %d, red outline %d, NaN black %d, nearest %d",
          ok_blue, ok_edge, ok_nan, ok_nearest);
    /* a non-square image: integer scale 10 */
    float small[40 * 48];
    for (int i = 0; i < 40 * 48; i++) small[i] = (float)(i % 48);
    CHECK_OK(mt_plot_overlay(path, small, 40, 48, 0, 47, 0, NULL, NULL));
    CHECK(png_load(path, &p, 0), "read %s", path);
    int ok_size = p.w == 480 && p.h == 400;
    int dark_left = at(&p, 0, 200)[0], bright_right = at(&p, 479, 200)[0];
    free(p.px);
    CHECK(ok_size && dark_left == 0 && bright_right == 255, "40x48: size ok %d, ramp %d..%d", ok_size, dark_left,
          bright_right);
    mt_error_clear();
    CHECK(mt_plot_overlay(path, img, H, W, 1, 1, 0, NULL, NULL) == MT_ERR_INVALID, "empty window accepted");
    mt_error_clear();
}

/* True boxes green, predicted red with a label tab above. */
TEST(plot_boxes_colours)
{
    enum { H = 96, W = 96 };
    float img[H * W] = {0};
    mt_plot_box t = {10, 10, 40, 40, 1, NAN}, pr[2] = {{50, 50, 80, 80, 1, 0.9}, {NAN, 0, 1, 1, 0, 0.5}};
    const char *names[2] = {"normal", "fracture"};
    char path[1024];
    CHECK_OK(mt_plot_boxes(tmp_path("boxes.png", path, sizeof path), img, H, W, 0, 1, 1, &t, 2, pr, names, NULL));
    rgb_png p;
    CHECK(png_load(path, &p, 0), "read %s", path);
    int ok_size = p.w == 384 && p.h == 384;
    int green = near(&p, 40, 100, 0, 200, 0, 3) && near(&p, 39, 100, 0, 200, 0, 3);
    int red = near(&p, 200, 260, 230, 30, 30, 3);
    int inside_black = near(&p, 100, 100, 0, 0, 0, 0);
    int tab = count_near(&p, 200, 300, 180, 199, 230, 30, 30, 0);
    free(p.px);
    CHECK(ok_size && green && red && inside_black, "size %d, green edge %d, red edge %d, inside black %d", ok_size,
          green, red, inside_black);
    CHECK(tab > 100, "label tab pixels %d", tab);
}

/* viridis ends at the two sides of a 0..1 ramp; alpha 0.5 halves it; NaN shows the image. */
TEST(plot_heatmap_colours_and_bar)
{
    enum { H = 64, W = 64 };
    float img[H * W], map[H * W];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) img[y * W + x] = 0, map[y * W + x] = x / (float)(W - 1);
    char path[1024];
    CHECK_OK(mt_plot_heatmap(tmp_path("heat.png", path, sizeof path), img, H, W, 0, 1, map, 0, 1, 1.0, "|G(x)-x|",
                             "change map"));
    rgb_png p;
    CHECK(png_load(path, &p, 0), "read %s", path);
    int ok_size = p.w == 384 + 96 && p.h == 384 + 28;
    int lo = near(&p, 1, 200, 68, 1, 84, 2), hi = near(&p, 383, 200, 253, 231, 37, 2);
    /* the colour bar: yellow near its top, purple near its bottom */
    int bar_top = count_near(&p, 384, 480, 30, 60, 253, 231, 37, 25), bar_bottom = count_near(&p, 384, 480, 350, 370, 68, 1, 84, 25);
    free(p.px);
    CHECK(ok_size && lo && hi, "size %d, left viridis(0) %d, right viridis(1) %d", ok_size, lo, hi);
    CHECK(bar_top > 20 && bar_bottom > 20, "colour bar: top %d, bottom %d", bar_top, bar_bottom);
    for (int i = 0; i < H * W; i++) img[i] = 1, map[i] = i < H * W / 2 ? NAN : 1;
    CHECK_OK(mt_plot_heatmap(path, img, H, W, 0, 1, map, 0, 1, 0.5, NULL, NULL));
    CHECK(png_load(path, &p, 0), "read %s", path);
    int nan_white = near(&p, 100, 10, 255, 255, 255, 0);
    int half = near(&p, 100, 300, (255 + 253) / 2, (255 + 231) / 2, (255 + 37) / 2, 2);
    free(p.px);
    CHECK(nan_white && half, "NaN shows the image %d, alpha 0.5 blend %d", nan_white, half);
}

/* A heat map with a mask (the recorded defect of S4): its outline opaque in the mask colour,
 * the map unchanged away from it, the legend named. */
TEST(plot_heatmap_mask_outline)
{
    enum { H = 64, W = 64 };
    float img[H * W], map[H * W];
    uint8_t m[H * W] = {0};
    for (int i = 0; i < H * W; i++) img[i] = 0, map[i] = 0;
    for (int y = 16; y < 48; y++)
        for (int x = 16; x < 48; x++) m[y * W + x] = 1;
    mt_plot_mask mk = {m, 230, 40, 40, "defect"};
    char path[1024];
    CHECK_OK(mt_plot_heatmap_masks(tmp_path("heat_mask.png", path, sizeof path), img, H, W, 0, 1, map, 0, 1, 1.0,
                                   NULL, 1, &mk, NULL));
    rgb_png p;
    CHECK(png_load(path, &p, 0), "read %s", path);
    /* scale 6: the mask's left edge at x = 96 (2 px line), its top at y = 96 */
    int edge = near(&p, 96, 200, 230, 40, 40, 3) && near(&p, 95, 200, 230, 40, 40, 3) && near(&p, 200, 96, 230, 40, 40, 3);
    int outside = near(&p, 40, 300, 68, 1, 84, 2), inside_tinted = !near(&p, 200, 200, 68, 1, 84, 10);
    free(p.px);
    CHECK(p.w == 384 + 96 && edge && outside && inside_tinted, "width %d, red edge %d, plain outside %d, tint inside %d",
          p.w, edge, outside, inside_tinted);
    CHECK(mt_plot_heatmap_masks(path, img, H, W, 0, 1, map, 0, 1, 1.0, NULL, 1, NULL, NULL) != MT_OK, "NULL masks accepted");
    mt_error_clear();
}

/* A 3-column sheet of 5 tiles: size, a mask tint inside a tile, the empty slot dark. */
TEST(plot_contact_sheet_grid)
{
    enum { H = 32, W = 48, N = 5 };
    float img[H * W];
    uint8_t m[H * W] = {0};
    for (int i = 0; i < H * W; i++) img[i] = 100;
    for (int y = 8; y < 24; y++)
        for (int x = 12; x < 36; x++) m[y * W + x] = 1;
    mt_plot_mask mk = {m, 0, 255, 0, NULL};
    mt_plot_tile t[N];
    for (int i = 0; i < N; i++) t[i] = (mt_plot_tile){img, H, W, 0, 200, i == 2, &mk, i == 0 ? "case 0" : NULL};
    char path[1024];
    CHECK_OK(mt_plot_contact_sheet(tmp_path("sheet.png", path, sizeof path), N, t, 3, 96, "test split"));
    rgb_png p;
    CHECK(png_load(path, &p, 0), "read %s", path);
    /* 3 * (96 + 8) + 8 wide; 32 title + 2 * (96 + 22 + 8) + 8 high */
    int ok_size = p.w == 320 && p.h == 292;
    /* tile 2 (row 0, col 2) at x 216.., y 40..; scale 2, image centred vertically (offset 16) */
    double a = round(MT_PLOT_MASK_ALPHA * 255) / 255;
    int g = 128, in = (int)lround(g * (1 - a)), ing = (int)lround(g * (1 - a) + 255 * a);
    int tint = near(&p, 216 + 48, 40 + 16 + 32, in, ing, in, 2), plain = near(&p, 8 + 48, 40 + 16 + 32, g, g, g, 1);
    int empty = near(&p, 216 + 48, 40 + 126 + 48, 16, 16, 16, 0);
    free(p.px);
    CHECK(ok_size && tint && plain && empty, "size %d, tint %d, plain %d, empty slot %d", ok_size, tint, plain, empty);
}

/* Mask PNGs are 1-channel 0/255 at the mask's size. */
TEST(plot_mask_png_grey)
{
    uint8_t m[6] = {0, 1, 0, 7, 0, 0};
    char path[1024];
    CHECK_OK(mt_plot_mask_png(tmp_path("mask.png", path, sizeof path), m, 2, 3));
    rgb_png p;
    CHECK(png_load(path, &p, 1), "read %s", path);
    int ok = p.w == 3 && p.h == 2 && p.px[0] == 0 && p.px[1] == 255 && p.px[3] == 255 && p.px[5] == 0;
    free(p.px);
    CHECK(ok, "mask PNG content");
}

/* entries of dir whose name contains ".tmp-" */
static int temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp-") != NULL;
    if (d) closedir(d);
    return n;
}

/* A failed write returns MT_ERR_IO naming the file and leaves no temporary file. */
TEST(plot_write_failure_leaves_nothing)
{
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/plot_ro", mt_test_tmpdir());
    mkdir(dir, 0755);
    double y[3] = {1, 2, 3};
    mt_plot_series s = {"y", y};
    float img[16] = {0};
    /* 1: a missing directory */
    snprintf(path, sizeof path, "%s/missing/curves.png", dir);
    mt_error_clear();
    CHECK(mt_plot_lines(path, NULL, 3, NULL, 1, &s) == MT_ERR_IO && strstr(mt_last_error(), "curves.png"),
          "missing directory: %s", mt_last_error());
    mt_error_clear();
    /* 2: the target is a directory: the PNG is written, the rename fails, the temp file goes */
    snprintf(path, sizeof path, "%s/taken.png", dir);
    mkdir(path, 0755);
    CHECK(mt_plot_overlay(path, img, 4, 4, 0, 1, 0, NULL, NULL) == MT_ERR_IO && strstr(mt_last_error(), "taken.png"),
          "rename onto a directory: %s", mt_last_error());
    mt_error_clear();
    CHECK(temp_files(dir) == 0, "%d temporary files left in %s", temp_files(dir), dir);
    /* 3: a directory without write permission (not testable as root: root may write anyway) */
    if (geteuid() != 0) {
        char ro[1100];
        snprintf(ro, sizeof ro, "%s/ro", dir);
        mkdir(ro, 0755);
        chmod(ro, 0555);
        snprintf(path, sizeof path, "%s/curves.png", ro);
        mt_status st = mt_plot_lines(path, NULL, 3, NULL, 1, &s);
        int left = temp_files(ro), exists = access(path, F_OK) == 0;
        chmod(ro, 0755);
        CHECK(st == MT_ERR_IO && left == 0 && !exists, "read-only directory: status %d, %d temp files, file %d", st,
              left, exists);
        mt_error_clear();
    }
    /* a successful write replaces the old file and leaves no temporary file either */
    snprintf(path, sizeof path, "%s/ok.png", dir);
    CHECK_OK(mt_plot_lines(path, NULL, 3, NULL, 1, &s));
    CHECK_OK(mt_plot_lines(path, NULL, 3, NULL, 1, &s));
    struct stat stt;
    CHECK(stat(path, &stt) == 0 && stt.st_size > 1000 && temp_files(dir) == 0, "ok.png written, no temp file");
}
