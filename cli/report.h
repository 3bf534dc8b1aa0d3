/* cli/report.h: what a run leaves behind besides checkpoints: curves PNGs
 * from log.csv, the metrics table (mean +- SD over images), metrics.json and
 * prediction overlays. */
#ifndef MT_CLI_REPORT_H
#define MT_CLI_REPORT_H

#include <stdio.h>

#include "train.h"

/* RUN/curves_loss.png (train loss, val loss per epoch) and
 * RUN/curves_metrics.png (val DSC, IoU, accuracy per epoch) from RUN/log.csv. */
mt_status cli_plot_run_curves(const char *run_dir);

/* Prints a table: metric, mean +- SD before and after post-processing. */
void cli_print_eval_table(FILE *f, const char *title, const cli_eval *e, int has_post);

/* Writes `e` as a JSON object body (no braces) into f: "n_images", "loss",
 * "auc", "raw": {metric: {"mean", "sd"}}, "post": {...}, "per_image_dsc_post". */
void cli_json_eval(FILE *f, const cli_eval *e, int indent);

/* Overlays of the first n_max images of idx (prediction in green/yellow,
 * reference contour in red) over the windowed input into dir/<index>.png. */
mt_status cli_write_overlays(cli_session *s, const int *idx, int n, int n_max, const char *dir);

/* End of training: test-split evaluation with best.h5 (or the last weights),
 * the table on stdout, metrics.json and overlays/ in the run directory. */
mt_status cli_report_run(cli_trainer *t, double train_seconds);

/* Display window for an image: soft tissue [-160, 240] HU (L 40 W 400) when the
 * values look like CT in HU, else data.window for normalize: window, else the image range. */
void cli_display_window(const cli_session *s, const float *img, size_t n, double *lo, double *hi);

#endif
