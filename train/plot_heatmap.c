/* train/plot_heatmap.c: heat / change maps over a grey image with a colour bar
 * (see plot.h). */
#include <math.h>
#include <stdio.h>

#include "plot.h"
#include "plot_internal.h"

/* matplotlib "viridis" sampled at 0, 1/8, ..., 1 (its _viridis_data), linear in between */
static void viridis(double t, double rgb[3])
{
    static const double k[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},  {44, 113, 142}, {33, 144, 141},
                                   {39, 173, 129}, {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double f = t * 8;
    int i = f >= 8 ? 7 : (int)f;
    f -= i;
    for (int c = 0; c < 3; c++) rgb[c] = k[i][c] + (k[i + 1][c] - k[i][c]) * f;
}

enum { BAR_PANEL = 96 };

/* Fills the w x h ARGB32 surface m with the viridis-coloured map, premultiplied at opacity alpha (NaN: clear). */
static void fill_map_surface(cairo_surface_t *m, const float *map, int h, int w, double map_lo, double map_hi,
                             double alpha)
{
    cairo_surface_flush(m);
    unsigned char *data = cairo_image_surface_get_data(m);
    int stride = cairo_image_surface_get_stride(m);
    double a = alpha * 255;
    for (int r = 0; r < h; r++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)r * stride);
        for (int x = 0; x < w; x++) {
            double v = map[(size_t)r * w + x], rgb[3];
            if (isnan(v)) {
                row[x] = 0;
                continue;
            }
            viridis((v - map_lo) / (map_hi - map_lo), rgb);
            row[x] = (uint32_t)lround(a) << 24 | (uint32_t)lround(rgb[0] * alpha) << 16 |
                     (uint32_t)lround(rgb[1] * alpha) << 8 | (uint32_t)lround(rgb[2] * alpha);
        }
    }
    cairo_surface_mark_dirty(m);
}

/* The map over the image: premultiplied ARGB at opacity alpha, upscaled by s, bilinear. */
static mt_status draw_map(cairo_t *cr, const char *path, const float *map, int h, int w, int s, double map_lo,
                          double map_hi, double alpha)
{
    cairo_surface_t *m = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    if (cairo_surface_status(m) != CAIRO_STATUS_SUCCESS) {
        mt_status st =
            MT_ERR(MT_ERR_NOMEM, "heat map %s: cairo: %s", path, cairo_status_to_string(cairo_surface_status(m)));
        cairo_surface_destroy(m);
        return st;
    }
    fill_map_surface(m, map, h, w, map_lo, map_hi, alpha);
    cairo_save(cr);
    cairo_rectangle(cr, 0, 0, w * s, h * s);
    cairo_clip(cr);
    cairo_scale(cr, s, s);
    cairo_set_source_surface(cr, m, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_BILINEAR);
    cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
    cairo_paint(cr);
    cairo_restore(cr);
    cairo_surface_destroy(m);
    return MT_OK;
}

/* The colour bar right of the image: map_hi at the top, ticks at nice steps, map_label above it. */
static void draw_colour_bar(cairo_t *cr, int h, int w, int s, double map_lo, double map_hi, const char *map_label)
{
    static const uint8_t fg[3] = {235, 235, 235};
    mtp_font(cr, 12, 0);
    double th = mtp_text_h(cr);
    double bx = w * s + 12, bw = 16, by = 12 + (map_label ? th + 8 : 0), bh = h * s - by - 12;
    if (map_label) {
        cairo_save(cr);
        cairo_rectangle(cr, w * s, 0, BAR_PANEL, by);
        cairo_clip(cr);
        mtp_text(cr, bx, 10, map_label, 0, fg);
        cairo_restore(cr);
    }
    if (!(bh > 8)) return;
    for (int i = 0; i < (int)bh; i++) {
        double rgb[3];
        viridis(1 - (i + 0.5) / bh, rgb);
        cairo_set_source_rgb(cr, rgb[0] / 255, rgb[1] / 255, rgb[2] / 255);
        cairo_rectangle(cr, bx, by + i, bw, 1);
        cairo_fill(cr);
    }
    double step = mtp_nice_step(map_hi - map_lo, 5), t0 = ceil(map_lo / step - 1e-9) * step;
    char buf[64];
    cairo_set_line_width(cr, 1);
    for (int k = 0; k < 32 && t0 + k * step <= map_hi + 1e-9 * step; k++) {
        double v = t0 + k * step, y = floor(by + bh - (v - map_lo) / (map_hi - map_lo) * bh) + 0.5;
        mtp_rgb(cr, fg);
        cairo_move_to(cr, bx + bw, y);
        cairo_line_to(cr, bx + bw + 4, y);
        cairo_stroke(cr);
        mtp_tick_label(buf, sizeof buf, v, step);
        mtp_text(cr, bx + bw + 7, y - th / 2, buf, 0, fg);
    }
}

mt_status mt_plot_heatmap(const char *path, const float *image, int h, int w, double lo, double hi, const float *map,
                          double map_lo, double map_hi, double alpha, const char *map_label, const char *caption)
{
    return mt_plot_heatmap_masks(path, image, h, w, lo, hi, map, map_lo, map_hi, alpha, map_label, 0, NULL, caption);
}

mt_status mt_plot_heatmap_masks(const char *path, const float *image, int h, int w, double lo, double hi,
                                const float *map, double map_lo, double map_hi, double alpha, const char *map_label,
                                int n_masks, const mt_plot_mask *masks, const char *caption)
{
    MT_REQUIRE(n_masks >= 0 && n_masks <= 16 && (n_masks == 0 || masks), "heat map %s: %d masks", path, n_masks);
    for (int k = 0; k < n_masks; k++) MT_REQUIRE(masks[k].mask, "heat map %s: mask %d is NULL", path, k);
    MT_TRY(mtp_check_image("heat map", path, image, h, w, lo, hi));
    MT_REQUIRE(map && isfinite(map_lo) && isfinite(map_hi) && map_hi > map_lo,
               "heat map %s: no map or empty map range [%g, %g]", path, map_lo, map_hi);
    MT_REQUIRE(alpha >= 0 && alpha <= 1, "heat map %s: alpha %g outside 0..1", path, alpha);
    int s = mt_plot_image_scale(h, w), cap = caption ? MTP_CAPTION_H : 0;
    MT_REQUIRE((long)w * s + BAR_PANEL <= 32767 && (long)h * s + cap <= 32767, "heat map %s: %dx%d too large", path, h,
               w);
    int W = w * s + BAR_PANEL, H = h * s + cap;
    mtp_canvas c;
    MT_TRY(mtp_canvas_new(&c, W, H, 24, 24, 24));
    cairo_t *cr = c.cr;
    mt_status st = mtp_draw_image(cr, 0, 0, s, image, h, w, lo, hi);
    if (st == MT_OK) st = draw_map(cr, path, map, h, w, s, map_lo, map_hi, alpha);
    if (st == MT_OK) st = mtp_draw_masks(cr, 0, 0, s, h, w, n_masks, masks, 2);
    if (st == MT_OK && n_masks > 0) {
        const char *names[16];
        uint8_t rgb[16][3];
        const uint8_t *cols[16];
        for (int k = 0; k < n_masks; k++) {
            names[k] = masks[k].name;
            rgb[k][0] = masks[k].r, rgb[k][1] = masks[k].g, rgb[k][2] = masks[k].b;
            cols[k] = rgb[k];
        }
        mtp_image_legend(cr, 0, 0, n_masks, names, cols);
    }
    if (st == MT_OK) {
        draw_colour_bar(cr, h, w, s, map_lo, map_hi, map_label);
        if (caption) mtp_caption(cr, 0, h * s, W, cap, caption);
        st = mtp_canvas_write(&c, path);
    }
    mtp_canvas_free(&c);
    return st;
}
