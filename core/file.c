/* core/file.c: see file.h. */
#include "file.h"

#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

/* the process umask without changing it (Linux >= 4.7: /proc/self/status), else the
 * umask(0)/umask(old) pair */
static mode_t current_umask(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned int m;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Umask: %o", &m) == 1) {
            fclose(f);
            return (mode_t)m;
        }
    if (f) fclose(f);
    mode_t old = umask(0);
    umask(old);
    return old;
}

int mt_file_default_mode(int fd) { return fchmod(fd, (mode_t)0666 & ~current_umask()); }
