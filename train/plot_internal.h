/* train/plot_internal.h: what the train/plot*.c files share (not public API):
 * a cairo canvas written atomically as PNG, text in the DejaVu Sans toy face,
 * the series palette, and chart axes (nice ticks, grid, labels, legend). */
#ifndef MT_TRAIN_PLOT_INTERNAL_H
#define MT_TRAIN_PLOT_INTERNAL_H

#include <cairo.h>
#include <stdint.h>

#include "plot.h"

/* An RGB24 cairo image surface and its context. */
typedef struct mtp_canvas {
    cairo_surface_t *surf;
    cairo_t *cr;
    int w, h;
} mtp_canvas;

/* New w x h canvas filled with the colour (r, g, b) in 0..255; DejaVu Sans selected,
 * grey anti-aliasing. Errors: MT_ERR_INVALID (size outside 1..32767),
 * MT_ERR_NOMEM / MT_ERR_UNSUPPORTED (cairo status). */
mt_status mtp_canvas_new(mtp_canvas *c, int w, int h, int r, int g, int b);
/* Frees the canvas (safe on a zeroed or half-made one). */
void mtp_canvas_free(mtp_canvas *c);
/* Checks the cairo status of the drawing, then writes the PNG atomically (temporary
 * file + rename, see plot.h); frees nothing. */
mt_status mtp_canvas_write(mtp_canvas *c, const char *path);
/* Atomic file writer shared with mt_plot_mask_png: calls write(tmp_path, ctx) on a
 * fresh temporary file next to `path`, then renames it into place; removes the
 * temporary file on any failure. */
mt_status mtp_write_atomic(const char *path, mt_status (*write)(const char *tmp_path, int fd, void *ctx), void *ctx);

/* Font (DejaVu Sans, px pixels em size, bold 0/1) of the context. */
void mtp_font(cairo_t *cr, double px, int bold);
/* Advance width of `s` in the current font (0 for NULL). */
double mtp_text_w(cairo_t *cr, const char *s);
/* Ascent + descent of the current font, pixels. */
double mtp_text_h(cairo_t *cr);
/* Draws `s` (NULL: nothing) in colour rgb with its box's top at y; x is its left
 * edge (align 0), centre (1) or right edge (2). */
void mtp_text(cairo_t *cr, double x, double y, const char *s, int align, const uint8_t rgb[3]);
void mtp_rgb(cairo_t *cr, const uint8_t rgb[3]);

extern const uint8_t mtp_ink[3];  /* text (40, 40, 40) */
extern const uint8_t mtp_axis[3]; /* axes, tick marks */
extern const uint8_t mtp_grid[3]; /* grid lines */
/* Series colour i (matplotlib tab10, cycling). */
const uint8_t *mtp_colour(int i);

/* Tick label text: %.3g, rounding noise near zero printed as "0". */
void mtp_tick_label(char *buf, size_t len, double v, double step);
/* A "nice" step (1, 2, 2.5 or 5 x 10^k) giving about `target` intervals over span > 0. */
double mtp_nice_step(double span, int target);

/* Axes of a chart: the data ranges in, the plot area out. */
typedef struct mtp_axes {
    double x_lo, x_hi; /* data x range shown */
    double y_lo, y_hi; /* data y range shown (log_y: log10 of the values) */
    int log_y;
    int x_int;        /* ticks only at integers */
    int square;       /* plot area square (ROC) */
    int widen_y;      /* widen the y range to whole tick steps */
    double px, py, pw, ph; /* plot area, pixels (set by mtp_axes_draw) */
    double x_step, y_step;
} mtp_axes;

/* Legend entry of a chart. */
typedef struct mtp_legend {
    const char *name;
    const uint8_t *rgb;
} mtp_legend;

/* Lays out and draws the chart frame on c: title, legend (right-aligned on the
 * title row, wrapped to rows under it when too wide), y label (rotated), tick values
 * and grid, x label, axes; sets ax->px.. (plot area). `ax` holds the data ranges
 * (equal ends are widened). Errors: MT_ERR_INVALID when the canvas is too small
 * for its labels (message names `path`). */
mt_status mtp_axes_draw(mtp_canvas *c, mtp_axes *ax, const mt_plot_chart *chart, const char *def_x_label,
                        const char *def_y_label, int n_legend, const mtp_legend *legend, const char *path);
/* Pixel position of data x / y (y: a value, log10 taken when log_y). */
double mtp_ax_x(const mtp_axes *ax, double x);
double mtp_ax_y(const mtp_axes *ax, double y);
/* Clips drawing to the plot area widened by `margin` pixels (cairo_reset_clip undoes). */
void mtp_axes_clip(cairo_t *cr, const mtp_axes *ax, double margin);

/* Chart size from chart->width/height (0 = 720 x 450). */
void mtp_chart_size(const mt_plot_chart *chart, int *w, int *h);

/* ------------------------------------------------- image pictures (plot_image.c) */

/* Checks the arguments of a grey image (MT_ERR_INVALID naming `what` and `path`). */
mt_status mtp_check_image(const char *what, const char *path, const float *image, int h, int w, double lo, double hi);
/* Draws the grey image windowed to lo..hi (NaN black) with its top-left corner at
 * (x, y), each image pixel `scale` canvas pixels wide, bilinear. Errors: cairo / memory. */
mt_status mtp_draw_image(cairo_t *cr, double x, double y, double scale, const float *image, int h, int w, double lo,
                         double hi);
/* Draws the masks (same geometry as mtp_draw_image): nearest-neighbour tint at
 * MT_PLOT_MASK_ALPHA, then the outlines, `line_w` canvas pixels wide. */
mt_status mtp_draw_masks(cairo_t *cr, double x, double y, double scale, int h, int w, int n, const mt_plot_mask *m,
                         double line_w);
/* Legend box in the top-left corner of the area at (x, y): a swatch and the name of
 * each entry with a name, on a darkened box; nothing when no entry has a name. */
void mtp_image_legend(cairo_t *cr, double x, double y, int n, const char *const *names, const uint8_t *const *rgb);
/* The caption strip: text `s` left-aligned in light grey on the dark strip at
 * (x, y, w, h). */
void mtp_caption(cairo_t *cr, double x, double y, double w, double h, const char *s);

/* Height of the caption strip under an image picture, pixels. */
#define MTP_CAPTION_H 28

#endif
