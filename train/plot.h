/* train/plot.h: the pictures medtrain writes (loss and metric curves, ROC curves,
 * confusion matrices, Bland-Altman plots, mask overlays, detection boxes, heat /
 * change maps, contact sheets), drawn with cairo and written as PNG.
 *
 * Why cairo: a well-kept 2D vector library (the one GTK and Firefox draw with),
 * anti-aliased lines and real text (the "DejaVu Sans" toy font face, Debian
 * fonts-dejavu-core), writes PNG itself and is small (libcairo2-dev). PLplot would
 * give axes for free but drags in a larger plotting stack and its own driver
 * model, and we need image overlays and heat maps, which cairo does directly
 * (image surfaces, nearest / bilinear pattern filters, alpha compositing).
 * Axes, ticks and legends are therefore drawn here (train/plot_axes.c).
 * Files: plot.c (line, ROC, Bland-Altman), plot_confusion.c, plot_image.c
 * (overlays, mask PNG), plot_boxes.c, plot_heatmap.c, plot_sheet.c; shared
 * helpers in plot_internal.h (plot_canvas.c, plot_axes.c).
 *
 * Every function writes its PNG atomically: a temporary file next to `path`
 * (mkstemp "<path>.tmp-XXXXXX", mode from mt_file_default_mode), then rename; on
 * any failure the temporary file is removed and `path` is left as it was.
 * Errors (never exit): MT_ERR_INVALID (bad arguments, named), MT_ERR_NOMEM,
 * MT_ERR_IO (directory not writable, disk full: the message names the path),
 * MT_ERR_UNSUPPORTED (a cairo failure, with cairo's status string).
 *
 * Images are float [h][w] row-major in their own units (HU, grey levels), shown
 * through a display window lo..hi (lo -> black, hi -> white, clipped; NaN black).
 * Image pictures are upscaled by an integer factor s = ceil(384 / min(h, w)) when
 * the shorter side is under 384 pixels (s = 1 otherwise): the image bilinear, masks
 * nearest (each image pixel becomes an s x s block), so small training crops are
 * readable. Image pixel (x, y) covers [x, x+1) x [y, y+1) in image coordinates.
 */
#ifndef MT_TRAIN_PLOT_H
#define MT_TRAIN_PLOT_H

#include <stdint.h>

#include "../core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Smallest shorter side of an image picture before upscaling stops (pixels). */
#define MT_PLOT_MIN_SIDE 384

/* The integer upscaling factor of an h x w image picture: ceil(MT_PLOT_MIN_SIDE /
 * min(h, w)) when min(h, w) < MT_PLOT_MIN_SIDE, else 1 (0 for a non-positive size). */
int mt_plot_image_scale(int h, int w);

/* ----------------------------------------------------------- charts --- */

/* Text and size of a chart; every string may be NULL (not drawn). */
typedef struct mt_plot_chart {
    const char *title;   /* top left, bold */
    const char *x_label; /* under the x tick values, e.g. "epoch" */
    const char *y_label; /* left of the y tick values, rotated */
    int width, height;   /* pixels; 0 = 720 x 450 */
    int log_y;           /* 1: logarithmic y axis (decade ticks); values <= 0 are gaps */
} mt_plot_chart;

/* One named series of a line chart. */
typedef struct mt_plot_series {
    const char *name; /* legend entry, in the series' colour; NULL = not in the legend */
    const double *y;  /* n values; NaN / +-Inf break the line (a gap) */
} mt_plot_series;

/* Line chart of `n_series` series over n shared x values (x: n values, NaN = gap;
 * NULL = 0..n-1): series colours from the matplotlib "tab10" cycle, 2-pixel lines,
 * a dot per point when points are at least 16 pixels apart (and for isolated
 * points between gaps), "nice" tick values (1, 2, 2.5, 5 x 10^k) spanning the
 * finite data with a light grid, integer x ticks when all x are integers, the
 * legend right-aligned on the title row. All values NaN draws empty axes.
 * Errors: MT_ERR_INVALID (n < 1, n_series < 1, a NULL y, a chart smaller than its
 * labels), MT_ERR_IO / MT_ERR_NOMEM / MT_ERR_UNSUPPORTED as in the file comment.
 * Source: matplotlib.pyplot.plot + legend, with MaxNLocator-style ticks. */
mt_status mt_plot_lines(const char *path, const mt_plot_chart *chart, int n, const double *x, int n_series,
                        const mt_plot_series *series);

/* One ROC curve: n points (fpr[i], tpr[i]) in [0, 1], in order of decreasing
 * threshold (fpr non-decreasing), as sklearn.metrics.roc_curve returns them. */
typedef struct mt_plot_roc_curve {
    const char *name;        /* e.g. a class name for one-vs-rest; NULL = "ROC" */
    int n;
    const double *fpr, *tpr; /* n values each; non-finite points are skipped */
    double auc;              /* shown in the legend; NaN = trapezoid rule over the points */
} mt_plot_roc_curve;

/* ROC plot: x = false-positive rate, y = true-positive rate, both 0..1 on a square
 * plot area, the chance diagonal dashed grey, each curve in its colour, legend
 * "name (AUC 0.934)". chart->log_y is ignored; default labels "false positive
 * rate" / "true positive rate" when x_label / y_label are NULL.
 * Errors: MT_ERR_INVALID (n_curves < 1, a curve with n < 1 or NULL arrays),
 * MT_ERR_IO / MT_ERR_NOMEM / MT_ERR_UNSUPPORTED.
 * Source: sklearn.metrics.RocCurveDisplay (one-vs-rest: one curve per class). */
mt_status mt_plot_roc(const char *path, const mt_plot_chart *chart, int n_curves, const mt_plot_roc_curve *curves);

/* Trapezoid-rule area under the polyline (x[i], y[i]), i = 0..n-1, in the given
 * order, skipping non-finite points; 0 for fewer than 2 points.
 * Source: sklearn.metrics.auc. */
double mt_plot_auc_trapezoid(int n, const double *x, const double *y);

/* Confusion matrix: k x k counts[t * k + p] (row t = true class, column p =
 * predicted class). Each cell is coloured by its row-normalised value
 * counts[t,p] / sum_p counts[t,p] on a white -> dark blue ramp (a row of zeros is
 * white) and shows the count (white text on dark cells); rows labelled with the
 * class names (NULL = "0", "1", ...) under the axis title "true", columns under
 * "predicted". `title` may be NULL. Size: cell 64..96 px wide (large k: smaller).
 * Errors: MT_ERR_INVALID (k < 1 or k > 64, NULL counts, a negative count),
 * MT_ERR_IO / MT_ERR_NOMEM / MT_ERR_UNSUPPORTED.
 * Source: sklearn.metrics.ConfusionMatrixDisplay with normalize="true" colours. */
mt_status mt_plot_confusion(const char *path, const char *title, int k, const long long *counts,
                            const char *const *class_names);

/* The numbers of a Bland-Altman plot (units of the measurements a, b). */
typedef struct mt_plot_bland_altman_stats {
    int n;            /* pairs with both values finite */
    double mean_diff; /* mean of a - b (the bias) */
    double sd_diff;   /* sample SD (n - 1) of a - b; 0 when n = 1 */
    double lo, hi;    /* limits of agreement: mean_diff -+ 1.96 sd_diff */
} mt_plot_bland_altman_stats;

/* Bland-Altman plot of n pairs (a[i], b[i]) (e.g. muscle area by the model and
 * by the reference, mm^2): x = (a + b) / 2, y = a - b, one dot per pair; the mean
 * difference solid and the limits of agreement mean -+ 1.96 SD dashed, each line
 * labelled with its value at the right end. Pairs with a non-finite value are
 * skipped. chart->log_y is ignored; default labels "mean of a and b" /
 * "a - b". `stats` (may be NULL) receives the numbers drawn.
 * Errors: MT_ERR_INVALID (n < 1, NULL arrays, no finite pair),
 * MT_ERR_IO / MT_ERR_NOMEM / MT_ERR_UNSUPPORTED.
 * Source: Bland & Altman, Lancet 1986; pyCompare.blandAltman. */
mt_status mt_plot_bland_altman(const char *path, const mt_plot_chart *chart, int n, const double *a, const double *b,
                               mt_plot_bland_altman_stats *stats);

/* ----------------------------------------------------------- images --- */

/* A binary mask drawn over an image: inside pixels tinted with (r, g, b) at 35%
 * opacity, the mask outline (edges between inside and outside pixels, and the
 * image border) drawn opaque, 2 px wide. */
typedef struct mt_plot_mask {
    const uint8_t *mask; /* [h][w], nonzero = inside; same size as the image */
    uint8_t r, g, b;     /* colour */
    const char *name;    /* legend entry (top-left corner); NULL = none */
} mt_plot_mask;

/* Mask tint opacity of mt_plot_mask (the outline is opaque). */
#define MT_PLOT_MASK_ALPHA 0.35

/* Overlay: the grey image windowed to lo..hi, upscaled (mt_plot_image_scale), with
 * `n_masks` masks over it in order; a legend of the named masks in the top-left
 * corner; `caption` (NULL = none) in a dark strip under the image. Output size:
 * s*w x s*h (+ the caption strip, 28 px).
 * Errors: MT_ERR_INVALID (NULL image, h or w < 1, !(hi > lo), n_masks < 0, a NULL
 * mask), MT_ERR_IO / MT_ERR_NOMEM / MT_ERR_UNSUPPORTED.
 * Source: skimage.color.label2rgb(alpha=0.35) + skimage.segmentation.find_boundaries. */
mt_status mt_plot_overlay(const char *path, const float *image, int h, int w, double lo, double hi, int n_masks,
                          const mt_plot_mask *masks, const char *caption);

/* mt_plot_overlay with a caption of n_lines lines (0..64; NULL entries are blank lines),
 * each in its own 20 px row of the dark strip under the image (one line: the same 28 px
 * strip as mt_plot_overlay); e.g. the measurements of a quantified slice.
 * Errors: as mt_plot_overlay, and MT_ERR_INVALID for n_lines outside 0..64 or NULL lines. */
mt_status mt_plot_overlay_lines(const char *path, const float *image, int h, int w, double lo, double hi, int n_masks,
                                const mt_plot_mask *masks, int n_lines, const char *const *lines);

/* An axis-aligned box in image pixel coordinates: x0 <= x1, y0 <= y1, top-left
 * (x0, y0) to bottom-right (x1, y1), e.g. a YOLO box (cx -+ w/2, cy -+ h/2) in pixels. */
typedef struct mt_plot_box {
    double x0, y0, x1, y1;
    int cls;      /* class index (>= 0), or -1 = none */
    double score; /* confidence 0..1; NaN = none (ground truth) */
} mt_plot_box;

/* Detection picture: the grey image windowed to lo..hi, upscaled as mt_plot_overlay,
 * true boxes in green (0, 200, 0), predicted boxes in red (230, 30, 30) with a label
 * "class score" (class_names[cls] when class_names is given, else the index; the
 * score as %.2f) on a red tab above the box; a legend; `caption` as mt_plot_overlay.
 * Boxes with non-finite coordinates are skipped. `truth` / `pred` may be NULL when
 * their count is 0. class_names (may be NULL) has at least max(cls) + 1 entries.
 * Errors: MT_ERR_INVALID (bad image arguments, a NULL box array with count > 0),
 * MT_ERR_IO / MT_ERR_NOMEM / MT_ERR_UNSUPPORTED.
 * Source: torchvision.utils.draw_bounding_boxes. */
mt_status mt_plot_boxes(const char *path, const float *image, int h, int w, double lo, double hi, int n_true,
                        const mt_plot_box *truth, int n_pred, const mt_plot_box *pred, const char *const *class_names,
                        const char *caption);

/* Heat map / change map: the grey image windowed to lo..hi with a scalar map
 * [h][w] (e.g. |G(x) - x|, a class-activation map) colour-mapped with viridis
 * (map_lo -> dark purple, map_hi -> yellow, clipped) and alpha-blended at opacity
 * `alpha` (0..1; NaN map values are transparent), both upscaled bilinear; a colour
 * bar with tick values right of the image, `map_label` (NULL = none) above it;
 * `caption` as mt_plot_overlay. Output width s*w + 96.
 * Errors: MT_ERR_INVALID (bad image arguments, NULL map, !(map_hi > map_lo), alpha
 * outside 0..1), MT_ERR_IO / MT_ERR_NOMEM / MT_ERR_UNSUPPORTED.
 * Source: matplotlib imshow(image, cmap="gray") + imshow(map, cmap="viridis",
 * alpha=alpha) + colorbar. */
mt_status mt_plot_heatmap(const char *path, const float *image, int h, int w, double lo, double hi, const float *map,
                          double map_lo, double map_hi, double alpha, const char *map_label, const char *caption);
/* mt_plot_heatmap with `n_masks` masks drawn over the map as mt_plot_overlay does
 * (tint and outline; a legend of the named ones), e.g. the recorded defect of S4's
 * synthetic-fracture benchmark, so a reader sees whether the map hits it. `masks`
 * may be NULL when n_masks = 0. Errors: as mt_plot_heatmap; a NULL mask. */
mt_status mt_plot_heatmap_masks(const char *path, const float *image, int h, int w, double lo, double hi,
                                const float *map, double map_lo, double map_hi, double alpha, const char *map_label,
                                int n_masks, const mt_plot_mask *masks, const char *caption);

/* One tile of a contact sheet: an image with its window, masks and caption. */
typedef struct mt_plot_tile {
    const float *image; /* [h][w] */
    int h, w;
    double lo, hi;      /* display window, hi > lo */
    int n_masks;
    const mt_plot_mask *masks; /* may be NULL when n_masks = 0 */
    const char *caption;       /* under the tile; NULL = none */
} mt_plot_tile;

/* Contact sheet: n tiles in a grid of `cols` columns (0 = ceil(sqrt(n))), each
 * image scaled to fit a tile_px x tile_px square (0 = 192; aspect kept, centred;
 * bilinear image, nearest masks, outlines as mt_plot_overlay) on a dark
 * background, its caption under it; `title` (NULL = none) above the grid.
 * Errors: MT_ERR_INVALID (n < 1, a tile with bad image arguments, tile_px outside
 * 16..2048, cols < 0, a sheet over 32767 pixels on a side, cairo's limit),
 * MT_ERR_IO / MT_ERR_NOMEM / MT_ERR_UNSUPPORTED.
 * Source: torchvision.utils.make_grid / skimage.util.montage. */
mt_status mt_plot_contact_sheet(const char *path, int n, const mt_plot_tile *tiles, int cols, int tile_px,
                                const char *title);

/* A binary mask as an 8-bit grey PNG (0 / 255), h x w, not upscaled (written with
 * libpng, data/image_io.h, atomically like the pictures above).
 * Errors: MT_ERR_INVALID (NULL mask, h or w < 1), MT_ERR_IO, MT_ERR_NOMEM.
 * Source: PIL.Image.fromarray(mask * 255).save(path). */
mt_status mt_plot_mask_png(const char *path, const uint8_t *mask, int h, int w);
/* A label map as an 8-bit grey PNG holding the values as they are (class ids: 0 =
 * background, 1..K), h x w, written atomically. `medtrain quantify --mask NAME=F.png@ID`
 * reads one class of it. Errors as mt_plot_mask_png. Source: PIL.Image.fromarray(labels). */
mt_status mt_plot_label_png(const char *path, const uint8_t *labels, int h, int w);

#ifdef __cplusplus
}
#endif
#endif
