/* train/draw.h: PNG pictures of a run (curves, overlays) drawn on an RGB
 * canvas with a built-in 5x7 font (train/font.h). */
#ifndef MT_TRAIN_DRAW_H
#define MT_TRAIN_DRAW_H

#include <stdint.h>

#include "../core/error.h"


/* An 8-bit RGB canvas [h][w][3]. */
typedef struct cli_canvas {
    int w, h;
    uint8_t *rgb;
} cli_canvas;

mt_status cli_canvas_new(cli_canvas *c, int w, int h, uint8_t r, uint8_t g, uint8_t b);
void cli_canvas_free(cli_canvas *c);
/* Line from (x0,y0) to (x1,y1) in pixels (Bresenham), clipped to the canvas. */
void cli_draw_line(cli_canvas *c, int x0, int y0, int x1, int y1, uint8_t r, uint8_t g, uint8_t b);
/* Writes the canvas as an RGB PNG (libpng through data/image_io.h). */
mt_status cli_canvas_write_png(const cli_canvas *c, const char *path);

/* Curves plot: `n_series` series of n points each (NaN = missing), x = 0..n-1,
 * each series scaled to the common y range; white background, grey axes,
 * one colour per series, tick values (cli_plot_curves_labeled without labels). */
mt_status cli_plot_curves(const char *path, int n, int n_series, const double *const *series, int w, int h);

/* Text for a curves plot; every field may be NULL. */
typedef struct cli_plot_labels {
    const char *title;        /* drawn above the plot, top left */
    const char *x_label;      /* drawn under the x tick values, e.g. "epoch" */
    const char *const *names; /* n_series legend entries, each in its series' colour */
    const double *x;          /* n x values, increasing (e.g. epochs); NULL = 0..n-1 */
} cli_plot_labels;

/* cli_plot_curves with readable axes (built-in 5x7 font, cli/font.h): y tick
 * values at "nice" steps (1, 2, 2.5, 5 x 10^k) spanning the data, formatted
 * %.3g, with a dotted grid; x tick values (integers when the x values are);
 * the title, x label and legend of `lab` (NULL = ticks only). Errors: as
 * cli_plot_curves (empty input, PNG write failure). */
mt_status cli_plot_curves_labeled(const char *path, int n, int n_series, const double *const *series,
                                  const cli_plot_labels *lab, int w, int h);

/* Overlay of a CT slice (HU, [h*w]) windowed to [lo, hi] with a predicted
 * mask (nonzero = inside) tinted green (40%) and its contour drawn in yellow,
 * and optionally the reference mask contour in red (NULL = none); images at
 * least 200 x 100 pixels get a legend naming the colours in the top-left corner. */
mt_status cli_write_overlay(const char *path, const float *hu, int h, int w, double lo, double hi,
                            const uint8_t *pred, const uint8_t *ref);
/* A binary mask as an 8-bit grey PNG (0 / 255). */
mt_status cli_write_mask_png(const char *path, const uint8_t *mask, int h, int w);

#endif
