/* cli/draw.c: RGB canvases, lines, loss/metric curve plots and CT overlays,
 * written as PNG through data/image_io.h (libpng). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/image_io.h"
#include "draw.h"
#include "font.h"

mt_status cli_canvas_new(cli_canvas *c, int w, int h, uint8_t r, uint8_t g, uint8_t b)
{
    MT_REQUIRE(w > 0 && h > 0, "canvas size %dx%d must be positive", w, h);
    c->w = w;
    c->h = h;
    c->rgb = mt_malloc((size_t)w * (size_t)h * 3);
    if (!c->rgb) return mt_last_status();
    for (size_t i = 0; i < (size_t)w * h; i++) {
        c->rgb[3 * i] = r;
        c->rgb[3 * i + 1] = g;
        c->rgb[3 * i + 2] = b;
    }
    return MT_OK;
}

void cli_canvas_free(cli_canvas *c)
{
    free(c->rgb);
    c->rgb = NULL;
}

static void put(cli_canvas *c, int x, int y, uint8_t r, uint8_t g, uint8_t b)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    uint8_t *p = c->rgb + 3 * ((size_t)y * c->w + x);
    p[0] = r, p[1] = g, p[2] = b;
}

void cli_draw_line(cli_canvas *c, int x0, int y0, int x1, int y1, uint8_t r, uint8_t g, uint8_t b)
{
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
    int dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (int guard = 0; guard < 100000; guard++) {
        put(c, x0, y0, r, g, b);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) err += dy, x0 += sx;
        if (e2 <= dx) err += dx, y0 += sy;
    }
}

mt_status cli_canvas_write_png(const cli_canvas *c, const char *path)
{
    return mt_image_write_png(path, c->rgb, c->w, c->h, 3);
}

/* Distinct colours for up to 8 series (then repeating). */
static const uint8_t k_colours[8][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
    {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
};

/* A "nice" tick step (1, 2, 2.5 or 5 x 10^k) giving about `target` intervals over span > 0. */
static double nice_step(double span, int target)
{
    double raw = span / target;
    double p = pow(10.0, floor(log10(raw)));
    double m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
}

/* Tick label: %.3g, with rounding noise near zero printed as "0". */
static void tick_label(char *buf, size_t len, double v, double step)
{
    if (fabs(v) < 1e-9 * step) v = 0;
    snprintf(buf, len, "%.3g", v);
}

static const uint8_t k_ink[3] = {40, 40, 40};    /* text */
static const uint8_t k_axis[3] = {96, 96, 96};   /* axes and tick marks */
static const uint8_t k_grid[3] = {215, 215, 215}; /* dotted grid */

mt_status cli_plot_curves_labeled(const char *path, int n, int n_series, const double *const *series,
                                  const cli_plot_labels *lab, int w, int h)
{
    MT_REQUIRE(n > 0 && n_series > 0, "plot %s: nothing to plot", path);
    static const cli_plot_labels none = {NULL, NULL, NULL, NULL};
    if (!lab) lab = &none;
    /* y range: the data, widened to whole tick steps */
    double lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < n_series; s++)
        for (int i = 0; i < n; i++) {
            double v = series[s][i];
            if (!isfinite(v)) continue;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    if (!isfinite(lo)) lo = 0, hi = 1;
    if (hi - lo < 1e-12 * (fabs(lo) > 1 ? fabs(lo) : 1)) lo -= 0.5, hi += 0.5;
    double ystep = nice_step(hi - lo, 4);
    lo = floor(lo / ystep + 1e-9) * ystep;
    hi = ceil(hi / ystep - 1e-9) * ystep;
    int ny = isfinite(lo) && isfinite(hi) ? (int)lround((hi - lo) / ystep) : 0;
    if (ny < 1 || ny > 50) lo = -1, hi = 1, ystep = 1, ny = 2; /* values too extreme for ticks */
    /* x range: the x values (or indices), ticks at whole steps inside it */
    double x_lo = lab->x ? lab->x[0] : 0, x_hi = lab->x ? lab->x[n - 1] : n - 1;
    int x_int = 1;
    for (int i = 0; lab->x && i < n; i++) x_int &= lab->x[i] == floor(lab->x[i]);
    double xstep = x_hi > x_lo ? nice_step(x_hi - x_lo, 6) : 1;
    if (x_int && xstep < 1) xstep = 1;

    /* layout: text at font scale 2 on canvases at least 600 pixels wide (1 below), title one larger */
    const int ts = w >= 600 ? 2 : 1, tt = ts + 1, tick = 2 + 2 * ts, pad = 6 + 2 * ts;
    char buf[64];
    int yl_w = 0;
    for (int k = 0; k <= ny; k++) {
        tick_label(buf, sizeof buf, lo + k * ystep, ystep);
        int tw = cli_text_width(buf, ts);
        yl_w = tw > yl_w ? tw : yl_w;
    }
    int ml = pad + yl_w + 3 + tick, mr = 8 + 6 * ts;
    int title_w = cli_text_width(lab->title, tt), sw = 10 + 4 * ts, gap = 8 + 6 * ts; /* legend swatch, spacing */
    int leg_w = 0;
    for (int s = 0; lab->names && s < n_series; s++)
        leg_w += (s ? gap : 0) + sw + 4 * ts + cli_text_width(lab->names[s], ts);
    int top_h = cli_text_height(tt);
    int two_rows = lab->names && title_w + 2 * gap + leg_w > w - ml - mr;
    int mt = pad + top_h + (two_rows ? 4 * ts + cli_text_height(ts) : 0) + 8 * ts + 4;
    int mb = tick + 4 + cli_text_height(ts) + (lab->x_label ? 8 + cli_text_height(ts) : 0) + pad;
    int pw = w - ml - mr, ph = h - mt - mb;
    MT_REQUIRE(pw > 10 && ph > 10, "plot %s: %dx%d pixels is too small for its labels", path, w, h);

    cli_canvas c;
    MT_TRY(cli_canvas_new(&c, w, h, 255, 255, 255));
    /* y grid, ticks and values */
    for (int k = 0; k <= ny; k++) {
        int y = mt + ph - (int)lround((double)k * ph / ny);
        if (k > 0)
            for (int x = ml + 1; x <= ml + pw; x += 3) put(&c, x, y, k_grid[0], k_grid[1], k_grid[2]);
        cli_draw_line(&c, ml - tick, y, ml, y, k_axis[0], k_axis[1], k_axis[2]);
        tick_label(buf, sizeof buf, lo + k * ystep, ystep);
        cli_draw_text(&c, ml - tick - 3 - cli_text_width(buf, ts), y - cli_text_height(ts) / 2, buf, ts, k_ink[0],
                      k_ink[1], k_ink[2]);
    }
    /* x ticks and values */
    double x0 = ceil(x_lo / xstep - 1e-9) * xstep;
    for (int k = 0; k < 64 && x0 + k * xstep <= x_hi + 1e-9 * xstep; k++) {
        double xv = x0 + k * xstep;
        int x = ml + (x_hi > x_lo ? (int)lround((xv - x_lo) / (x_hi - x_lo) * pw) : pw / 2);
        cli_draw_line(&c, x, mt + ph, x, mt + ph + tick, k_axis[0], k_axis[1], k_axis[2]);
        tick_label(buf, sizeof buf, xv, xstep);
        cli_draw_text(&c, x - cli_text_width(buf, ts) / 2, mt + ph + tick + 4, buf, ts, k_ink[0], k_ink[1], k_ink[2]);
    }
    cli_draw_line(&c, ml, mt, ml, mt + ph, k_axis[0], k_axis[1], k_axis[2]);
    cli_draw_line(&c, ml, mt + ph, ml + pw, mt + ph, k_axis[0], k_axis[1], k_axis[2]);
    if (lab->x_label)
        cli_draw_text(&c, ml + (pw - cli_text_width(lab->x_label, ts)) / 2, h - pad - cli_text_height(ts),
                      lab->x_label, ts, k_ink[0], k_ink[1], k_ink[2]);
    if (lab->title) cli_draw_text(&c, ml, pad, lab->title, tt, k_ink[0], k_ink[1], k_ink[2]);
    /* legend: swatch + name per series, right-aligned on the title row (or the row under it) */
    if (lab->names) {
        int x = ml + pw - leg_w;
        int yc = two_rows ? pad + top_h + 4 * ts + cli_text_height(ts) / 2 : pad + top_h / 2;
        if (two_rows) x = ml;
        for (int s = 0; s < n_series; s++) {
            const uint8_t *col = k_colours[s % 8];
            cli_fill_rect(&c, x, yc - ts, x + sw - 1, yc + ts, col[0], col[1], col[2]);
            x += sw + 4 * ts;
            cli_draw_text(&c, x, yc - cli_text_height(ts) / 2, lab->names[s], ts, col[0], col[1], col[2]);
            x += cli_text_width(lab->names[s], ts) + gap;
        }
    }
    /* the series: 2-pixel lines, a 3x3 marker per point when points are far apart */
    int markers = n == 1 || pw / (n - 1) >= 16;
    for (int s = 0; s < n_series; s++) {
        const uint8_t *col = k_colours[s % 8];
        int px = -1, py = -1;
        for (int i = 0; i < n; i++) {
            double v = series[s][i];
            if (!isfinite(v)) {
                px = -1;
                continue;
            }
            double xv = lab->x ? lab->x[i] : i;
            int x = ml + (x_hi > x_lo ? (int)lround((xv - x_lo) / (x_hi - x_lo) * pw) : pw / 2);
            int y = mt + ph - (int)lround((v - lo) / (hi - lo) * ph);
            if (px >= 0) {
                cli_draw_line(&c, px, py, x, y, col[0], col[1], col[2]);
                cli_draw_line(&c, px, py + 1, x, y + 1, col[0], col[1], col[2]);
            }
            if (markers || px < 0) cli_fill_rect(&c, x - 1, y - 1, x + 1, y + 1, col[0], col[1], col[2]);
            px = x, py = y;
        }
    }
    mt_status st = cli_canvas_write_png(&c, path);
    cli_canvas_free(&c);
    return st;
}

mt_status cli_plot_curves(const char *path, int n, int n_series, const double *const *series, int w, int h)
{
    return cli_plot_curves_labeled(path, n, n_series, series, NULL, w, h);
}

/* 1 if pixel (x,y) is inside the mask and has a 4-neighbour outside it (or the border). */
static int on_contour(const uint8_t *m, int h, int w, int x, int y)
{
    if (!m[(size_t)y * w + x]) return 0;
    if (x == 0 || y == 0 || x == w - 1 || y == h - 1) return 1;
    return !m[(size_t)y * w + x - 1] || !m[(size_t)y * w + x + 1] || !m[(size_t)(y - 1) * w + x] ||
           !m[(size_t)(y + 1) * w + x];
}

/* Legend in the top-left corner of an overlay: the contour colours named in
 * scale-1 text on a darkened box; only on images at least 200 x 100 pixels,
 * where it covers a small corner. */
static void overlay_legend(cli_canvas *c, int has_pred, int has_ref)
{
    if (c->w < 200 || c->h < 100 || (!has_pred && !has_ref)) return;
    const char *name[2] = {"prediction", "ground truth"};
    static const uint8_t col[2][3] = {{255, 230, 0}, {255, 40, 40}};
    int show[2] = {has_pred, has_ref}, rows = has_pred + has_ref, line = cli_text_height(1) + 5;
    int x1 = 4 + 4 + 12 + 4 + cli_text_width(has_ref ? name[1] : name[0], 1) + 4, y1 = 4 + 4 + rows * line;
    for (int y = 4; y < y1 && y < c->h; y++)
        for (int x = 4; x < x1 && x < c->w; x++) {
            uint8_t *p = c->rgb + 3 * ((size_t)y * c->w + x);
            p[0] = (uint8_t)(p[0] * 3 / 10), p[1] = (uint8_t)(p[1] * 3 / 10), p[2] = (uint8_t)(p[2] * 3 / 10);
        }
    int y = 4 + 5;
    for (int k = 0; k < 2; k++) {
        if (!show[k]) continue;
        cli_fill_rect(c, 8, y + 3, 8 + 11, y + 3, col[k][0], col[k][1], col[k][2]);
        cli_draw_text(c, 8 + 12 + 4, y, name[k], 1, col[k][0], col[k][1], col[k][2]);
        y += line;
    }
}

mt_status cli_write_overlay(const char *path, const float *hu, int h, int w, double lo, double hi,
                            const uint8_t *pred, const uint8_t *ref)
{
    MT_REQUIRE(hi > lo, "overlay window [%g, %g] is empty", lo, hi);
    cli_canvas c;
    MT_TRY(cli_canvas_new(&c, w, h, 0, 0, 0));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            double v = (hu[i] - lo) / (hi - lo) * 255.0;
            v = v < 0 ? 0 : v > 255 ? 255 : v;
            double r = v, g = v, b = v;
            if (pred && pred[i]) { /* green tint, 40% */
                r = 0.6 * r;
                g = 0.6 * g + 0.4 * 255;
                b = 0.6 * b;
            }
            uint8_t *p = c.rgb + 3 * i;
            p[0] = (uint8_t)lround(r), p[1] = (uint8_t)lround(g), p[2] = (uint8_t)lround(b);
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            if (ref && on_contour(ref, h, w, x, y)) put(&c, x, y, 255, 40, 40);
            if (pred && on_contour(pred, h, w, x, y)) put(&c, x, y, 255, 230, 0);
        }
    overlay_legend(&c, pred != NULL, ref != NULL);
    mt_status st = cli_canvas_write_png(&c, path);
    cli_canvas_free(&c);
    return st;
}

mt_status cli_write_mask_png(const char *path, const uint8_t *mask, int h, int w)
{
    uint8_t *g = mt_malloc((size_t)h * w);
    if (!g) return mt_last_status();
    for (size_t i = 0; i < (size_t)h * w; i++) g[i] = mask[i] ? 255 : 0;
    mt_status st = mt_image_write_png(path, g, w, h, 1);
    free(g);
    return st;
}
