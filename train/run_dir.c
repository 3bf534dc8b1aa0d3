/* train/run_dir.c: run directories and atomic file writes (POSIX); see run_dir.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run_dir.h"

#include "../core/file.h"

mt_status mt_mkdirs(const char *path)
{
    char buf[4096];
    if (strlen(path) >= sizeof buf) return MT_ERR(MT_ERR_INVALID, "path too long: %s", path);
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return MT_ERR(MT_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return MT_ERR(MT_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
    return MT_OK;
}

mt_status mt_write_file_atomic(const char *path, const void *data, size_t len)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= (int)sizeof tmp)
        return MT_ERR(MT_ERR_INVALID, "path too long: %s", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return MT_ERR(MT_ERR_IO, "cannot write a temporary file next to %s: %s", path, strerror(errno));
    (void)mt_file_default_mode(fd); /* best effort: else the file keeps mkstemp's 0600 */
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return MT_ERR(MT_ERR_IO, "cannot write %s: %s", tmp, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return MT_ERR(MT_ERR_IO, "cannot flush %s: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return MT_ERR(MT_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    return MT_OK;
}

mt_status mt_read_file(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return MT_ERR(MT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = mt_malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (n < cap - 1) break;
        cap *= 2;
        char *nb = mt_realloc(buf, cap);
        if (!nb) {
            free(buf);
            buf = NULL;
        } else buf = nb;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) return mt_last_status();
    if (err) {
        free(buf);
        return MT_ERR(MT_ERR_IO, "error reading %s", path);
    }
    buf[n] = '\0';
    *text = buf;
    if (len) *len = n;
    return MT_OK;
}

int mt_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int mt_path_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

mt_status mt_run_dir_new(const char *root, const char *stem, char *out, size_t len)
{
    MT_TRY(mt_mkdirs(root));
    time_t now = time(NULL); /* names the directory only */
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    for (int k = 1; k < 1000; k++) {
        if (k == 1) snprintf(out, len, "%s/%s-%s", root, stem, stamp);
        else snprintf(out, len, "%s/%s-%s-%d", root, stem, stamp, k);
        if (mkdir(out, 0777) == 0) return MT_OK;
        if (errno != EEXIST) return MT_ERR(MT_ERR_IO, "cannot create run directory %s: %s", out, strerror(errno));
    }
    return MT_ERR(MT_ERR_IO, "cannot find a free run directory name under %s", root);
}

/* The PID written in a lock file, or 0 if unreadable. */
static long lock_owner(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

static mt_status in_use(const char *dir, int fd)
{
    long pid = lock_owner(fd);
    if (pid > 0)
        return MT_ERR(MT_ERR_INVALID, "run directory %s is in use by PID %ld (another medtrain train or sweep on it; "
                      "wait for it to end or stop it, or use another directory)", dir, pid);
    return MT_ERR(MT_ERR_INVALID, "run directory %s is in use by PID (unknown: %s/.lock is locked but holds no PID; "
                  "another medtrain train or sweep is starting on it)", dir, dir);
}

mt_status mt_run_lock(const char *dir, int *fd_out)
{
    *fd_out = -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return MT_ERR(MT_ERR_IO, "cannot open the run lock %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        mt_status st = e == EWOULDBLOCK ? in_use(dir, fd)
                                        : MT_ERR(MT_ERR_IO, "cannot lock %s: %s", path, strerror(e));
        close(fd);
        return st;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        int e = errno;
        close(fd);
        return MT_ERR(MT_ERR_IO, "cannot write the PID into the run lock %s: %s", path, strerror(e));
    }
    *fd_out = fd;
    return MT_OK;
}

void mt_run_unlock(int fd)
{
    if (fd >= 0) close(fd); /* releases the flock; .lock stays (removing it would race with a waiting locker) */
}

mt_status mt_run_check_unlocked(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return MT_OK;
    mt_status st = MT_OK;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) st = in_use(dir, fd);
    close(fd);
    return st;
}

/* 1 for the names of medtrain's temporary files: "*.tmp-XXXXXX" (mkstemp:
 * checkpoints, core/file.h writers), "*.trainer-tmp" (cli/train_ckpt.c) and
 * "*.tmp" (mt_write_file_atomic). */
static int is_temp_name(const char *name)
{
    size_t n = strlen(name);
    if (n > 12 && !strcmp(name + n - 12, ".trainer-tmp")) return 1;
    if (n > 4 && !strcmp(name + n - 4, ".tmp")) return 1;
    if (n > 11 && !strncmp(name + n - 11, ".tmp-", 5)) {
        for (size_t i = n - 6; i < n; i++)
            if (!isalnum((unsigned char)name[i])) return 0;
        return 1;
    }
    return 0;
}

/* mt_run_remove_temps in dir and, `depth` levels down, its subdirectories (the
 * run's pictures: overlays/, pictures/, ...; symbolic links are not followed) */
static int remove_temps_in(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    char path[4400];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth > 0) removed += remove_temps_in(path, depth - 1);
            continue;
        }
        if (!is_temp_name(e->d_name)) continue;
        if (S_ISREG(st.st_mode) && unlink(path) == 0) {
            fprintf(stderr, "medtrain train: removed the stale temporary file %s (left by an interrupted run)\n", path);
            removed++;
        }
    }
    closedir(d);
    return removed;
}

int mt_run_remove_temps(const char *dir)
{
    return remove_temps_in(dir, 3);
}

void mt_run_dir_discard(const char *dir)
{
    static const char *k_files[] = {"config.yaml", "log.csv", ".lock"};
    char path[4400];
    mt_run_remove_temps(dir);
    for (size_t i = 0; i < sizeof k_files / sizeof *k_files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, k_files[i]);
        unlink(path);
    }
    rmdir(dir); /* fails, leaving it, if anything else is in it */
}
