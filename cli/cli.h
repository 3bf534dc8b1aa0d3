/* cli/cli.h: what the medtrain subcommands share: argument parsing, the run
 * directory (log.csv, metrics.json, atomic files), PNG drawing (curves,
 * overlays) and the progress display. Library errors reach the user as
 * "medtrain <cmd>: file:line: message" and exit status 1; usage errors exit 2.
 */
#ifndef MT_CLI_H
#define MT_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "../core/tensor.h"

/* ------------------------------------------------------------ arguments -- */

/* One accepted option of a subcommand: "--name VALUE" (has_value = 1) or a
 * flag "--name". `repeat` options (--set) may be given several times. */
typedef struct cli_optspec {
    const char *name;     /* without the leading dashes, e.g. "device" */
    int has_value;
    int repeat;
    const char *help;     /* one line for --help */
} cli_optspec;

#define CLI_MAX_ARGS 64

typedef struct cli_args {
    const char *cmd;
    int n_pos;
    const char *pos[CLI_MAX_ARGS];      /* positional arguments in order */
    int n_opt;
    const char *opt_name[CLI_MAX_ARGS]; /* options in order of appearance */
    const char *opt_value[CLI_MAX_ARGS];/* NULL for flags */
    int help;                           /* --help / -h given */
} cli_args;

/* Parses argv[0..argc-1] (after the subcommand) against `spec` (n entries).
 * Accepts "--name value" and "--name=value". Unknown options are an error
 * naming the nearest allowed one. Returns 0 or prints the problem and returns 2. */
int cli_parse(const char *cmd, int argc, char **argv, const cli_optspec *spec, int n, cli_args *out);
/* Last value of an option, or `def` when absent. */
const char *cli_opt(const cli_args *a, const char *name, const char *def);
/* 1 if a flag/option was given. */
int cli_has(const cli_args *a, const char *name);
/* Prints "usage" text and the option table. */
void cli_print_help(FILE *f, const char *usage, const char *about, const cli_optspec *spec, int n);
/* Parses --device (NULL: mt_default_device()). Prints and returns 2 if invalid or unavailable. */
int cli_device(const cli_args *a, mt_device *dev);
/* Reports a library error ("medtrain cmd: <mt_last_error()>") and returns 1. */
int cli_fail(const char *cmd);

/* ----------------------------------------------------------- run files -- */

/* mkdir -p. MT_ERR_IO naming the path on failure. */
mt_status cli_mkdirs(const char *path);
/* Writes `len` bytes to path atomically (path.tmp, fsync, rename). */
mt_status cli_write_file_atomic(const char *path, const void *data, size_t len);
/* Reads a whole file into a malloc'ed NUL-terminated buffer. */
mt_status cli_read_file(const char *path, char **text, size_t *len);
/* 1 if the path exists (file or directory); 1 if it is a directory. */
int cli_exists(const char *path);
int cli_is_dir(const char *path);
/* A new run directory under `root` named "<stem>-YYYYmmdd-HHMMSS" (UTC; the
 * clock only names the directory, it never affects results); the suffix
 * "-2", "-3", ... avoids collisions. */
mt_status cli_new_run_dir(const char *root, const char *stem, char *out, size_t len);
/* Run-directory lock: an exclusive flock (LOCK_EX|LOCK_NB) on <dir>/.lock,
 * which then holds our PID; keep *fd open for the whole run (close-on-exec).
 * A held lock is MT_ERR_INVALID "run directory X is in use by PID N". The
 * .lock file stays after the run. */
mt_status cli_run_lock(const char *dir, int *fd);
void cli_run_unlock(int fd);
/* MT_OK unless <dir>/.lock exists and is held (then the "in use by PID" error);
 * creates nothing. */
mt_status cli_run_check_unlocked(const char *dir);
/* Removes medtrain's stale temporary files (regular files named *.tmp-XXXXXX,
 * *.trainer-tmp, *.tmp) directly in dir, saying so on stderr; call with the
 * lock held. Returns how many were removed. */
int cli_run_remove_temps(const char *dir);
/* Undoes a new run directory whose run failed before training: removes its
 * temp files, config.yaml, log.csv and .lock, then the directory if empty. */
void cli_run_dir_discard(const char *dir);

/* ------------------------------------------------------------- images --- */

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

/* ----------------------------------------------------------- progress --- */

/* Progress display: on a terminal (isatty(stdout)) a bar redrawn in place
 * with loss, images/s and ETA; otherwise one plain line every `every` steps. */
typedef struct cli_progress {
    int tty;
    int every;
    double t0;          /* monotonic seconds at start of the epoch */
    long total;         /* steps in the epoch */
} cli_progress;

void cli_progress_start(cli_progress *p, long total);
void cli_progress_update(cli_progress *p, int epoch, int epochs, long step, double loss, double images_per_s);
void cli_progress_end(cli_progress *p);
/* Monotonic seconds (for rates only; never for results). */
double cli_now(void);

/* --------------------------------------------------------- subcommands -- */

int cli_train(int argc, char **argv);
int cli_evaluate(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_import(int argc, char **argv);
int cli_import_weights(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_bench(int argc, char **argv);

#endif
