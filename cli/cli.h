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
