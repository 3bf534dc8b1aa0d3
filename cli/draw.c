/* cli/draw.c: RGB canvases, lines, loss/metric curve plots and CT overlays,
 * written as PNG through data/image_io.h (libpng). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../data/image_io.h"
#include "cli.h"

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

mt_status cli_plot_curves(const char *path, int n, int n_series, const double *const *series, int w, int h)
{
    MT_REQUIRE(n > 0 && n_series > 0, "plot %s: nothing to plot", path);
    double lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < n_series; s++)
        for (int i = 0; i < n; i++) {
            double v = series[s][i];
            if (!isfinite(v)) continue;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    if (!isfinite(lo)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) hi = lo + 1;
    cli_canvas c;
    MT_TRY(cli_canvas_new(&c, w, h, 255, 255, 255));
    int ml = 30, mr = 10, mt = 10, mb = 30; /* margins */
    int pw = w - ml - mr, ph = h - mt - mb;
    cli_draw_line(&c, ml, mt, ml, mt + ph, 96, 96, 96);
    cli_draw_line(&c, ml, mt + ph, ml + pw, mt + ph, 96, 96, 96);
    /* light grid at quarters */
    for (int q = 1; q < 4; q++) {
        int y = mt + ph - q * ph / 4;
        for (int x = ml + 1; x <= ml + pw; x += 4) put(&c, x, y, 210, 210, 210);
    }
    for (int s = 0; s < n_series; s++) {
        const uint8_t *col = k_colours[s % 8];
        int px = -1, py = -1;
        for (int i = 0; i < n; i++) {
            double v = series[s][i];
            if (!isfinite(v)) {
                px = -1;
                continue;
            }
            int x = ml + (n > 1 ? (int)lround((double)i * pw / (n - 1)) : pw / 2);
            int y = mt + ph - (int)lround((v - lo) / (hi - lo) * ph);
            if (px >= 0) {
                cli_draw_line(&c, px, py, x, y, col[0], col[1], col[2]);
                cli_draw_line(&c, px, py + 1, x, y + 1, col[0], col[1], col[2]);
            } else {
                put(&c, x, y, col[0], col[1], col[2]);
            }
            px = x, py = y;
        }
    }
    mt_status st = cli_canvas_write_png(&c, path);
    cli_canvas_free(&c);
    return st;
}

/* 1 if pixel (x,y) is inside the mask and has a 4-neighbour outside it (or the border). */
static int on_contour(const uint8_t *m, int h, int w, int x, int y)
{
    if (!m[(size_t)y * w + x]) return 0;
    if (x == 0 || y == 0 || x == w - 1 || y == h - 1) return 1;
    return !m[(size_t)y * w + x - 1] || !m[(size_t)y * w + x + 1] || !m[(size_t)(y - 1) * w + x] ||
           !m[(size_t)(y + 1) * w + x];
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
