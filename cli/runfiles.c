/* cli/runfiles.c: run directories and atomic file writes (POSIX). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

mt_status cli_mkdirs(const char *path)
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

mt_status cli_write_file_atomic(const char *path, const void *data, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) return MT_ERR(MT_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
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

mt_status cli_read_file(const char *path, char **text, size_t *len)
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

int cli_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int cli_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

mt_status cli_new_run_dir(const char *root, const char *stem, char *out, size_t len)
{
    MT_TRY(cli_mkdirs(root));
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
