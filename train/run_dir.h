/* train/run_dir.h: files of a run: a run directory (named, locked, cleaned
 * of a killed run's temporary files) and small whole-file helpers (mkdir -p,
 * atomic write, read) used by the trainer and the CLI. POSIX. */
#ifndef MT_TRAIN_RUN_DIR_H
#define MT_TRAIN_RUN_DIR_H

#include <stddef.h>

#include "../core/error.h"

#ifdef __cplusplus
extern "C" {
#endif


/* mkdir -p. MT_ERR_IO naming the path on failure. */
mt_status mt_mkdirs(const char *path);
/* Writes `len` bytes to path atomically: a temporary "<path>.tmp-XXXXXX" next
 * to it (mkstemp, the umask's mode), fsync, rename. Nothing is left at path
 * or in the temporary file on error (MT_ERR_IO naming the file). */
mt_status mt_write_file_atomic(const char *path, const void *data, size_t len);
/* Reads a whole file into a malloc'ed NUL-terminated buffer. */
mt_status mt_read_file(const char *path, char **text, size_t *len);
/* 1 if the path exists (file or directory); 1 if it is a directory. */
int mt_path_exists(const char *path);
int mt_path_is_dir(const char *path);
/* A new run directory under `root` named "<stem>-YYYYmmdd-HHMMSS" (UTC; the
 * clock only names the directory, it never affects results); the suffix
 * "-2", "-3", ... avoids collisions. */
mt_status mt_run_dir_new(const char *root, const char *stem, char *out, size_t len);
/* Run-directory lock: an exclusive flock (LOCK_EX|LOCK_NB) on <dir>/.lock,
 * which then holds our PID; keep *fd open for the whole run (close-on-exec).
 * A held lock is MT_ERR_INVALID "run directory X is in use by PID N". The
 * .lock file stays after the run. */
mt_status mt_run_lock(const char *dir, int *fd);
void mt_run_unlock(int fd);
/* MT_OK unless <dir>/.lock exists and is held (then the "in use by PID" error);
 * creates nothing. */
mt_status mt_run_check_unlocked(const char *dir);
/* Removes medtrain's stale temporary files (regular files named *.tmp-XXXXXX,
 * *.trainer-tmp, *.tmp) in dir and its subdirectories (overlays/, pictures/,
 * ...: a run killed while writing its pictures; up to 3 levels, symbolic
 * links not followed), saying so on stderr; call with the lock held. Returns
 * how many were removed. */
int mt_run_remove_temps(const char *dir);
/* Undoes a new run directory whose run failed before training: removes its
 * temp files, config.yaml, log.csv and .lock, then the directory if empty. */
void mt_run_dir_discard(const char *dir);

#ifdef __cplusplus
}
#endif
#endif
