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
#include "../train/progress.h"
#include "../train/run_dir.h"

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
/* Integer / number value of an option (`def` when absent) into *out; 0, or prints
 * "--name 'x' is not an integer/number" and returns 2. */
int cli_int(const cli_args *a, const char *name, int def, int *out);
int cli_double(const cli_args *a, const char *name, double def, double *out);
/* Parses --device (NULL: mt_default_device()). Prints and returns 2 if invalid or unavailable. */
int cli_device(const cli_args *a, mt_device *dev);
/* Reports a library error ("medtrain cmd: <mt_last_error()>") and returns 1. */
int cli_fail(const char *cmd);

/* --------------------------------------------------------- subcommands -- */

int cli_train(int argc, char **argv);
int cli_evaluate(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_import(int argc, char **argv);
int cli_crop(int argc, char **argv);
int cli_import_weights(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_synth_fracture(int argc, char **argv);
int cli_recon(int argc, char **argv);
int cli_quantify(int argc, char **argv);
int cli_label(int argc, char **argv);
int cli_pseudo_label(int argc, char **argv);
int cli_sweep(int argc, char **argv);

#endif
