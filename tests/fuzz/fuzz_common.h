/* tests/fuzz/fuzz_common.h: shared helper of the libFuzzer harnesses (tests/fuzz/README.md).
 * The readers take a path, so each input is written to a per-process temporary file whose
 * name ends with the suffix the reader expects; the file is removed at exit. */
#ifndef MT_FUZZ_COMMON_H
#define MT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/error.h"

static char g_fuzz_path[256];

static void fuzz_cleanup(void)
{
    if (g_fuzz_path[0]) unlink(g_fuzz_path);
}

/* Writes data to /tmp/mt-fuzz-<pid><suffix>; returns the path, or NULL when the write failed. */
static const char *fuzz_write(const uint8_t *data, size_t size, const char *suffix)
{
    static int registered;
    if (g_fuzz_path[0]) unlink(g_fuzz_path);
    snprintf(g_fuzz_path, sizeof g_fuzz_path, "/tmp/mt-fuzz-%d%s", (int)getpid(), suffix);
    if (!registered) atexit(fuzz_cleanup), registered = 1;
    FILE *f = fopen(g_fuzz_path, "wb");
    if (!f) return NULL;
    int ok = fwrite(data, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    mt_error_clear();
    return ok ? g_fuzz_path : NULL;
}

#endif
