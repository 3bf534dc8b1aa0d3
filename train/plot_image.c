/* train/plot_image.c: grey images with masks (overlays), the helpers the other
 * image pictures share (plot_boxes.c, plot_heatmap.c, plot_sheet.c) and the mask
 * PNG writer (see plot.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../data/image_io.h"
#include "plot.h"
#include "plot_internal.h"

int mt_plot_image_scale(int h, int w)
{
    if (h < 1 || w < 1) return 0;
    int m = h < w ? h : w;
    return m >= MT_PLOT_MIN_SIDE ? 1 : (MT_PLOT_MIN_SIDE + m - 1) / m;
}

mt_status mtp_check_image(const char *what, const char *path, const float *image, int h, int w, double lo, double hi)
{
    MT_REQUIRE(image && h > 0 && w > 0, "%s %s: no image or size %dx%d", what, path, h, w);
    MT_REQUIRE(h <= 32767 && w <= 32767, "%s %s: image %dx%d too large", what, path, h, w);
    MT_REQUIRE(isfinite(lo) && isfinite(hi) && hi > lo, "%s %s: display window [%g, %g] is empty", what, path, lo, hi);
    return MT_OK;
}

static mt_status surface_ok(cairo_surface_t *s, const char *what)
{
    cairo_status_t cs = cairo_surface_status(s);
    if (cs == CAIRO_STATUS_SUCCESS) return MT_OK;
    cairo_surface_destroy(s);
    if (cs == CAIRO_STATUS_NO_MEMORY) return MT_ERR(MT_ERR_NOMEM, "%s: cairo: %s", what, cairo_status_to_string(cs));
    return MT_ERR(MT_ERR_UNSUPPORTED, "%s: cairo: %s", what, cairo_status_to_string(cs));
}

/* paints surface s (w x h) at (x, y) scaled by `scale` with the given filter */
static void paint_scaled(cairo_t *cr, cairo_surface_t *s, double x, double y, double scale, int h, int w,
                         cairo_filter_t filter)
{
    cairo_save(cr);
    cairo_rectangle(cr, x, y, w * scale, h * scale);
    cairo_clip(cr);
    cairo_translate(cr, x, y);
    cairo_scale(cr, scale, scale);
    cairo_set_source_surface(cr, s, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), filter);
    cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
    cairo_paint(cr);
    cairo_restore(cr);
}

mt_status mtp_draw_image(cairo_t *cr, double x, double y, double scale, const float *image, int h, int w, double lo,
                         double hi)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    MT_TRY(surface_ok(s, "image picture"));
    cairo_surface_flush(s);
    unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int r = 0; r < h; r++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)r * stride);
        for (int c = 0; c < w; c++) {
            double v = (image[(size_t)r * w + c] - lo) / (hi - lo) * 255.0;
            v = isnan(v) ? 0 : v < 0 ? 0 : v > 255 ? 255 : v;
            uint32_t g = (uint32_t)lround(v);
            row[c] = 0xff000000u | g << 16 | g << 8 | g;
        }
    }
    cairo_surface_mark_dirty(s);
    paint_scaled(cr, s, x, y, scale, h, w, CAIRO_FILTER_BILINEAR);
    cairo_surface_destroy(s);
    return MT_OK;
}

/* 1 if pixel (r, c) is outside the mask (or outside the image) */
static int outside(const uint8_t *m, int h, int w, int r, int c)
{
    return r < 0 || c < 0 || r >= h || c >= w || !m[(size_t)r * w + c];
}

mt_status mtp_draw_masks(cairo_t *cr, double x, double y, double scale, int h, int w, int n, const mt_plot_mask *m,
                         double line_w)
{
    const uint32_t a = (uint32_t)lround(MT_PLOT_MASK_ALPHA * 255);
    for (int k = 0; k < n; k++) {
        /* the tint: premultiplied ARGB, nearest */
        cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
        MT_TRY(surface_ok(s, "mask picture"));
        cairo_surface_flush(s);
        unsigned char *data = cairo_image_surface_get_data(s);
        int stride = cairo_image_surface_get_stride(s);
        uint32_t px = a << 24 | (uint32_t)lround(m[k].r * a / 255.0) << 16 | (uint32_t)lround(m[k].g * a / 255.0) << 8 |
                      (uint32_t)lround(m[k].b * a / 255.0);
        for (int r = 0; r < h; r++) {
            uint32_t *row = (uint32_t *)(void *)(data + (size_t)r * stride);
            for (int c = 0; c < w; c++) row[c] = m[k].mask[(size_t)r * w + c] ? px : 0;
        }
        cairo_surface_mark_dirty(s);
        paint_scaled(cr, s, x, y, scale, h, w, CAIRO_FILTER_NEAREST);
        cairo_surface_destroy(s);
        /* the outline: every pixel edge between inside and outside */
        cairo_save(cr);
        cairo_rectangle(cr, x, y, w * scale, h * scale);
        cairo_clip(cr);
        cairo_set_source_rgb(cr, m[k].r / 255.0, m[k].g / 255.0, m[k].b / 255.0);
        cairo_set_line_width(cr, line_w);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_SQUARE);
        const uint8_t *mk = m[k].mask;
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++) {
                if (!mk[(size_t)r * w + c]) continue;
                double x0 = x + c * scale, y0 = y + r * scale, x1 = x0 + scale, y1 = y0 + scale;
                /* edges on the image border are drawn half inside: keep them visible */
                double e = line_w / 2;
                if (outside(mk, h, w, r - 1, c)) {
                    double yy = r == 0 ? y0 + e : y0;
                    cairo_move_to(cr, x0, yy), cairo_line_to(cr, x1, yy);
                }
                if (outside(mk, h, w, r + 1, c)) {
                    double yy = r == h - 1 ? y1 - e : y1;
                    cairo_move_to(cr, x0, yy), cairo_line_to(cr, x1, yy);
                }
                if (outside(mk, h, w, r, c - 1)) {
                    double xx = c == 0 ? x0 + e : x0;
                    cairo_move_to(cr, xx, y0), cairo_line_to(cr, xx, y1);
                }
                if (outside(mk, h, w, r, c + 1)) {
                    double xx = c == w - 1 ? x1 - e : x1;
                    cairo_move_to(cr, xx, y0), cairo_line_to(cr, xx, y1);
                }
            }
        cairo_stroke(cr);
        cairo_restore(cr);
    }
    return MT_OK;
}

void mtp_image_legend(cairo_t *cr, double x, double y, int n, const char *const *names, const uint8_t *const *rgb)
{
    int rows = 0;
    mtp_font(cr, 12, 0);
    double tw = 0, th = mtp_text_h(cr);
    for (int i = 0; i < n; i++)
        if (names[i]) rows++, tw = fmax(tw, mtp_text_w(cr, names[i]));
    if (rows == 0) return;
    double line = th + 4, bw = 8 + 16 + 6 + tw + 8, bh = 6 + rows * line + 2;
    cairo_set_source_rgba(cr, 0, 0, 0, 0.6);
    cairo_rectangle(cr, x + 4, y + 4, bw, bh);
    cairo_fill(cr);
    double yy = y + 4 + 5;
    for (int i = 0; i < n; i++) {
        if (!names[i]) continue;
        mtp_rgb(cr, rgb[i]);
        cairo_rectangle(cr, floor(x + 12), floor(yy + th / 2) - 2, 16, 4);
        cairo_fill(cr);
        mtp_text(cr, x + 12 + 16 + 6, yy, names[i], 0, rgb[i]);
        yy += line;
    }
}

void mtp_caption(cairo_t *cr, double x, double y, double w, double h, const char *s)
{
    static const uint8_t bg[3] = {24, 24, 24}, fg[3] = {235, 235, 235};
    mtp_rgb(cr, bg);
    cairo_rectangle(cr, x, y, w, h);
    cairo_fill(cr);
    if (!s) return;
    double fs = fmin(14, fmax(8, h * 0.5));
    mtp_font(cr, fs, 0);
    cairo_save(cr);
    cairo_rectangle(cr, x, y, w, h);
    cairo_clip(cr);
    mtp_text(cr, x + 6, y + (h - mtp_text_h(cr)) / 2, s, 0, fg);
    cairo_restore(cr);
}

mt_status mt_plot_overlay_lines(const char *path, const float *image, int h, int w, double lo, double hi, int n_masks,
                                const mt_plot_mask *masks, int n_lines, const char *const *lines)
{
    MT_TRY(mtp_check_image("overlay", path, image, h, w, lo, hi));
    MT_REQUIRE(n_masks >= 0 && (n_masks == 0 || masks), "overlay %s: %d masks given as NULL", path, n_masks);
    MT_REQUIRE(n_lines >= 0 && n_lines <= 64 && (n_lines == 0 || lines), "overlay %s: %d caption lines", path, n_lines);
    for (int k = 0; k < n_masks; k++) MT_REQUIRE(masks[k].mask, "overlay %s: mask %d is NULL", path, k);
    int s = mt_plot_image_scale(h, w), line_h = n_lines > 1 ? 20 : MTP_CAPTION_H, cap = n_lines * line_h;
    if (n_lines > 1) cap += 8;
    MT_REQUIRE((long)w * s <= 32767 && (long)h * s + cap <= 32767, "overlay %s: %dx%d too large", path, h, w);
    mtp_canvas c;
    MT_TRY(mtp_canvas_new(&c, w * s, h * s + cap, 0, 0, 0));
    mt_status st = mtp_draw_image(c.cr, 0, 0, s, image, h, w, lo, hi);
    if (st == MT_OK) st = mtp_draw_masks(c.cr, 0, 0, s, h, w, n_masks, masks, 2);
    if (st == MT_OK) {
        const char *names[16];
        uint8_t rgb[16][3];
        const uint8_t *cols[16];
        int nl = n_masks < 16 ? n_masks : 16;
        for (int k = 0; k < nl; k++) {
            names[k] = masks[k].name;
            rgb[k][0] = masks[k].r, rgb[k][1] = masks[k].g, rgb[k][2] = masks[k].b;
            cols[k] = rgb[k];
        }
        mtp_image_legend(c.cr, 0, 0, nl, names, cols);
        if (n_lines > 1) mtp_caption(c.cr, 0, h * s, w * s, cap, NULL);
        for (int i = 0; i < n_lines; i++) mtp_caption(c.cr, 0, h * s + (n_lines > 1 ? 4 : 0) + i * line_h, w * s, line_h,
                                                     lines[i]);
        st = mtp_canvas_write(&c, path);
    }
    mtp_canvas_free(&c);
    return st;
}

mt_status mt_plot_overlay(const char *path, const float *image, int h, int w, double lo, double hi, int n_masks,
                          const mt_plot_mask *masks, const char *caption)
{
    return mt_plot_overlay_lines(path, image, h, w, lo, hi, n_masks, masks, caption ? 1 : 0, &caption);
}

typedef struct mask_png {
    const uint8_t *mask;
    int h, w;
    int raw; /* 1: values as they are (class ids), 0: nonzero -> 255 */
} mask_png;

static mt_status write_mask(const char *tmp_path, int fd, void *ctx)
{
    (void)fd;
    const mask_png *m = ctx;
    size_t n = (size_t)m->h * m->w;
    uint8_t *g = mt_malloc(n);
    if (!g) return MT_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) g[i] = m->raw ? m->mask[i] : m->mask[i] ? 255 : 0;
    mt_status st = mt_image_write_png(tmp_path, g, m->w, m->h, 1);
    free(g);
    return st;
}

mt_status mt_plot_mask_png(const char *path, const uint8_t *mask, int h, int w)
{
    MT_REQUIRE(mask && h > 0 && w > 0, "mask PNG %s: no mask or size %dx%d", path, h, w);
    mask_png m = {mask, h, w, 0};
    return mtp_write_atomic(path, write_mask, &m);
}

mt_status mt_plot_label_png(const char *path, const uint8_t *labels, int h, int w)
{
    MT_REQUIRE(labels && h > 0 && w > 0, "label PNG %s: no label map or size %dx%d", path, h, w);
    mask_png m = {labels, h, w, 1};
    return mtp_write_atomic(path, write_mask, &m);
}
