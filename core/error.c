/* core/error.c: thread-local first-error slot (see error.h). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MT_ERRMSG_MAX 2048

static _Thread_local char g_msg[MT_ERRMSG_MAX];
static _Thread_local mt_status g_code = MT_OK;

static void vset(mt_status code, const char *file, int line, const char *fmt, va_list ap)
{
    const char *base = strrchr(file, '/');
    /* keep "dir/file.c" so the message names the source file unambiguously */
    if (base) {
        const char *p = base - 1;
        while (p > file && *p != '/') p--;
        base = (*p == '/') ? p + 1 : file;
    } else {
        base = file;
    }
    int n = snprintf(g_msg, sizeof g_msg, "%s:%d: ", base, line);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof g_msg) vsnprintf(g_msg + n, sizeof g_msg - (size_t)n, fmt, ap);
    g_code = code;
}

mt_status mt_error_set(mt_status code, const char *file, int line, const char *fmt, ...)
{
    if (g_code != MT_OK) return code; /* first error wins */
    va_list ap;
    va_start(ap, fmt);
    vset(code, file, line, fmt, ap);
    va_end(ap);
    return code;
}

mt_status mt_error_replace(mt_status code, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(code, file, line, fmt, ap);
    va_end(ap);
    return code;
}

const char *mt_last_error(void) { return g_code == MT_OK ? "" : g_msg; }
mt_status mt_last_status(void) { return g_code; }
void mt_error_clear(void) { g_code = MT_OK; g_msg[0] = '\0'; }

const char *mt_status_name(mt_status s)
{
    switch (s) {
    case MT_OK: return "ok";
    case MT_ERR_INVALID: return "invalid argument";
    case MT_ERR_NOMEM: return "out of memory";
    case MT_ERR_IO: return "I/O error";
    case MT_ERR_CUDA: return "CUDA error";
    case MT_ERR_UNSUPPORTED: return "unsupported";
    case MT_ERR_FORMAT: return "malformed input";
    case MT_ERR_STATE: return "invalid state";
    }
    return "unknown error";
}

void *mt_malloc_at(size_t bytes, const char *file, int line)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) mt_error_set(MT_ERR_NOMEM, file, line, "out of host memory allocating %zu bytes", bytes);
    return p;
}

void *mt_calloc_at(size_t n, size_t size, const char *file, int line)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) mt_error_set(MT_ERR_NOMEM, file, line, "out of host memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *mt_realloc_at(void *old, size_t bytes, const char *file, int line)
{
    void *p = realloc(old, bytes ? bytes : 1);
    if (!p) mt_error_set(MT_ERR_NOMEM, file, line, "out of host memory reallocating to %zu bytes", bytes);
    return p;
}

char *mt_strdup_at(const char *s, const char *file, int line)
{
    size_t n = strlen(s) + 1;
    char *p = mt_malloc_at(n, file, line);
    if (p) memcpy(p, s, n);
    return p;
}
