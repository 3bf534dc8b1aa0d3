/* core/error.h: status codes and the first-error slot of medtrain.
 *
 * Every library function that can fail returns mt_status (MT_OK == 0) or a
 * pointer that is NULL on failure. The failing site records a message with
 * its file:line through MT_ERR(); callers read it with mt_last_error().
 * The library never exits or aborts: only the CLI decides to exit.
 *
 * Convention ("sticky" errors): an op given a NULL input returns NULL without
 * touching the recorded message, so a forward pass can be written straight
 * and checked once at the end; the message still names the first failure.
 */
#ifndef MT_ERROR_H
#define MT_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_status {
    MT_OK = 0,
    MT_ERR_INVALID = 1,   /* bad argument, shape or config value            */
    MT_ERR_NOMEM = 2,     /* host or device allocation failed               */
    MT_ERR_IO = 3,        /* file missing, unreadable, truncated or corrupt */
    MT_ERR_CUDA = 4,      /* CUDA runtime, cuDNN or cuBLAS call failed      */
    MT_ERR_UNSUPPORTED = 5, /* op/dtype/device combination not implemented  */
    MT_ERR_FORMAT = 6,    /* file readable but content malformed            */
    MT_ERR_STATE = 7      /* API used in the wrong order (e.g. double backward) */
} mt_status;

/* Records an error (printf-style message) with its source location, unless
 * an error is already pending on this thread (the first one wins; see
 * mt_error_clear). Returns `code`, so `return mt_error_set(...)` works.
 * Use the MT_ERR macro rather than calling this directly. */
mt_status mt_error_set(mt_status code, const char *file, int line,
                       const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Same as mt_error_set but overwrites any pending error. */
mt_status mt_error_replace(mt_status code, const char *file, int line,
                           const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* The pending error message of this thread, "file:line: message", or "" if none. */
const char *mt_last_error(void);
/* The pending error code of this thread (MT_OK if none). */
mt_status mt_last_status(void);
/* Forget the pending error of this thread (call after handling it). */
void mt_error_clear(void);
/* Human name of a status ("invalid argument", "out of memory", ...). */
const char *mt_status_name(mt_status s);

#define MT_ERR(code, ...) mt_error_set((code), __FILE__, __LINE__, __VA_ARGS__)

/* Evaluate an mt_status expression; return it from the caller on failure. */
#define MT_TRY(expr)                                                        \
    do {                                                                    \
        mt_status mt_try_s_ = (expr);                                       \
        if (mt_try_s_ != MT_OK) return mt_try_s_;                           \
    } while (0)

/* Return MT_ERR_INVALID with a message when a precondition fails. */
#define MT_REQUIRE(cond, ...)                                               \
    do {                                                                    \
        if (!(cond)) return MT_ERR(MT_ERR_INVALID, __VA_ARGS__);            \
    } while (0)

/* Checked allocation helpers: return NULL and record MT_ERR_NOMEM on failure. */
void *mt_malloc_at(size_t bytes, const char *file, int line);
void *mt_calloc_at(size_t n, size_t size, const char *file, int line);
void *mt_realloc_at(void *p, size_t bytes, const char *file, int line);
char *mt_strdup_at(const char *s, const char *file, int line);
#define mt_malloc(bytes) mt_malloc_at((bytes), __FILE__, __LINE__)
#define mt_calloc(n, size) mt_calloc_at((n), (size), __FILE__, __LINE__)
#define mt_realloc(p, bytes) mt_realloc_at((p), (bytes), __FILE__, __LINE__)
#define mt_strdup(s) mt_strdup_at((s), __FILE__, __LINE__)

#ifdef __cplusplus
}
#endif
#endif /* MT_ERROR_H */
