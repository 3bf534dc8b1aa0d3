/* layers/safetensors.c: safetensors files (the format PyTorch, timm and
 * Hugging Face publish): the reader half of the weights loader and
 * mt_safetensors_save (layers/weights.h).
 *
 * File: u64 little-endian header length N, N bytes of JSON
 *   {"<name>": {"dtype": "F32", "shape": [64, 3, 7, 7], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"<key>": "<string>", ...}}
 * then the tensor bytes, little-endian, row-major; offsets are relative to
 * the first byte after the header. The reader trusts nothing: the header
 * length is checked against the file size before anything is allocated, the
 * JSON is parsed by libcjson with its length (no over-read), and every entry's
 * dtype, shape and offsets are validated (in range, non-overlapping, shape x
 * dtype size == byte span) before any tensor byte is read. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "weights_internal.h"
#include "../core/file.h"

#define MAX_HEADER_BYTES ((uint64_t)100 << 20) /* the reference implementation's limit */

static const struct {
    const char *name;
    mt_wdtype dtype;
    int size;
} k_dtypes[] = {
    {"F64", MT_WD_F64, 8},  {"F32", MT_WD_F32, 4},  {"F16", MT_WD_F16, 2},   {"BF16", MT_WD_BF16, 2},
    {"I64", MT_WD_I64, 8},  {"I32", MT_WD_I32, 4},  {"I16", MT_WD_I16, 2},   {"I8", MT_WD_I8, 1},
    {"U64", MT_WD_U64, 8},  {"U32", MT_WD_U32, 4},  {"U16", MT_WD_U16, 2},   {"U8", MT_WD_U8, 1},
    {"BOOL", MT_WD_BOOL, 1}, {"F8_E4M3", MT_WD_F8_E4M3, 1}, {"F8_E5M2", MT_WD_F8_E5M2, 1},
};
#define N_DTYPES ((int)(sizeof k_dtypes / sizeof *k_dtypes))

const char *mt_wdtype_name(mt_wdtype d)
{
    for (int i = 0; i < N_DTYPES; i++)
        if (k_dtypes[i].dtype == d) return k_dtypes[i].name;
    return d == MT_WD_H5_FLOAT ? "float (HDF5)" : d == MT_WD_H5_INT ? "integer (HDF5)" : "non-numeric (HDF5)";
}

static int dtype_size(mt_wdtype d)
{
    for (int i = 0; i < N_DTYPES; i++)
        if (k_dtypes[i].dtype == d) return k_dtypes[i].size;
    return 0;
}

/* ------------------------------------------------------------- reading --- */

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* reads exactly n bytes at offset; 0 on success */
static int read_at(int fd, void *buf, size_t n, uint64_t off)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* a JSON number that is a non-negative integer below 2^53 */
static int json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j)) return 0;
    double v = j->valuedouble;
    if (!isfinite(v) || v < 0 || v != floor(v) || v > 9007199254740992.0) return 0;
    *out = (uint64_t)v;
    return 1;
}

typedef struct span {
    uint64_t begin, end;
    int index;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

static int cmp_name(const void *a, const void *b)
{
    const mt_wsrc_tensor *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* one header entry -> a source tensor; data_len = bytes after the header */
static mt_status parse_entry(mt_wsrc *s, const cJSON *e, uint64_t data_start, uint64_t data_len)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': entry '%.200s' is not an object {dtype, shape, data_offsets}",
                      s->path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of))
        return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': tensor '%.200s' lacks a string dtype, a shape list or a "
                      "data_offsets list", s->path, name);
    mt_wsrc_tensor t;
    memset(&t, 0, sizeof t);
    int dsize = 0;
    for (int i = 0; i < N_DTYPES && !dsize; i++)
        if (!strcmp(dt->valuestring, k_dtypes[i].name)) {
            t.dtype = k_dtypes[i].dtype;
            dsize = k_dtypes[i].size;
        }
    if (!dsize)
        return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': tensor '%.200s' has unknown dtype '%.40s'", s->path, name,
                      dt->valuestring);
    int nd = cJSON_GetArraySize(sh);
    if (nd > 8)
        return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': tensor '%.200s' has %d dimensions (at most 8)", s->path, name, nd);
    uint64_t numel = 1;
    int i = 0;
    for (const cJSON *d = sh->child; d; d = d->next, i++) {
        uint64_t v;
        if (!json_uint(d, &v) || v > (uint64_t)1 << 40)
            return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': tensor '%.200s': shape entry %d is not a non-negative "
                          "integer of sane size", s->path, name, i);
        t.shape[i] = (long long)v;
        numel = v == 0 || numel == 0 ? 0 : numel * v;
        if (numel > (uint64_t)1 << 50)
            return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': tensor '%.200s': shape too large", s->path, name);
    }
    t.ndim = nd;
    uint64_t b, en;
    if (cJSON_GetArraySize(of) != 2 || !json_uint(of->child, &b) || !json_uint(of->child->next, &en))
        return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': tensor '%.200s': data_offsets must be [begin, end] "
                      "(non-negative integers)", s->path, name);
    if (b > en || en > data_len)
        return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': tensor '%.200s': data_offsets [%llu, %llu] out of range "
                      "(the data section has %llu bytes)", s->path, name, (unsigned long long)b,
                      (unsigned long long)en, (unsigned long long)data_len);
    if (numel * (uint64_t)dsize != en - b)
        return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': tensor '%.200s': shape holds %llu elements of %s (%d bytes "
                      "each, %llu bytes) but data_offsets span %llu bytes", s->path, name,
                      (unsigned long long)numel, dt->valuestring, dsize, (unsigned long long)(numel * (uint64_t)dsize),
                      (unsigned long long)(en - b));
    t.begin = data_start + b;
    t.end = data_start + en;
    const char *dot = strrchr(name, '.');
    t.order_key = mt_wsrc_order_key(name, dot ? (size_t)(dot - name) : strlen(name));
    if (!(t.name = mt_strdup(name))) return MT_ERR_NOMEM;
    mt_status st = mt_wsrc_add(s, &t);
    if (st != MT_OK) free(t.name);
    return st;
}

/* the parsed header -> source tensors; checks duplicates and overlaps */
static mt_status parse_header(mt_wsrc *s, const cJSON *root, uint64_t data_start, uint64_t data_len)
{
    if (!cJSON_IsObject(root))
        return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': the header is not a JSON object", s->path);
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!e->string) return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': header entry without a name", s->path);
        if (!strcmp(e->string, "__metadata__")) {
            if (!cJSON_IsObject(e))
                return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': __metadata__ is not an object", s->path);
            for (const cJSON *m = e->child; m; m = m->next)
                if (!cJSON_IsString(m))
                    return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': __metadata__ value '%.200s' is not a string",
                                  s->path, m->string ? m->string : "");
            continue;
        }
        MT_TRY(parse_entry(s, e, data_start, data_len));
    }
    if (s->n > 1) { /* duplicate names (libcjson keeps both) */
        mt_wsrc_tensor *sorted = mt_malloc(sizeof *sorted * (size_t)s->n);
        if (!sorted) return MT_ERR_NOMEM;
        memcpy(sorted, s->t, sizeof *sorted * (size_t)s->n);
        qsort(sorted, (size_t)s->n, sizeof *sorted, cmp_name);
        const char *dup = NULL;
        for (int i = 1; i < s->n && !dup; i++)
            if (!strcmp(sorted[i - 1].name, sorted[i].name)) dup = sorted[i].name;
        free(sorted);
        if (dup) return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': tensor '%.200s' appears twice in the header", s->path, dup);
    }
    span *sp = s->n ? mt_malloc(sizeof *sp * (size_t)s->n) : NULL;
    if (s->n && !sp) return MT_ERR_NOMEM;
    for (int i = 0; i < s->n; i++) sp[i] = (span){s->t[i].begin, s->t[i].end, i};
    qsort(sp, (size_t)s->n, sizeof *sp, cmp_span);
    mt_status st = MT_OK;
    int last = -1; /* the non-empty tensor reaching furthest so far */
    for (int i = 0; i < s->n && st == MT_OK; i++) {
        if (sp[i].begin == sp[i].end) continue;
        if (last >= 0 && sp[i].begin < sp[last].end)
            st = MT_ERR(MT_ERR_FORMAT, "safetensors '%s': tensors '%.200s' and '%.200s' overlap in the data section",
                        s->path, s->t[sp[last].index].name, s->t[sp[i].index].name);
        if (last < 0 || sp[i].end > sp[last].end) last = i;
    }
    free(sp);
    return st;
}

mt_status mt_wsrc_open_safetensors(mt_wsrc *s)
{
    s->format = MT_WEIGHTS_SAFETENSORS;
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return MT_ERR(MT_ERR_IO, "safetensors '%s': cannot open: %s", s->path, strerror(errno));
    s->fd = fd;
    struct stat stt;
    if (fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode))
        return MT_ERR(MT_ERR_IO, "safetensors '%s': not a regular file", s->path);
    uint64_t size = (uint64_t)stt.st_size;
    s->file_size = size;
    unsigned char hb[8];
    if (size < 8 || read_at(fd, hb, 8, 0) != 0)
        return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': file too short (%llu bytes) for the 8-byte header length",
                      s->path, (unsigned long long)size);
    uint64_t hlen = le64(hb);
    if (hlen > size - 8)
        return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': header length %llu exceeds the %llu bytes after it (truncated "
                      "or not a safetensors file)", s->path, (unsigned long long)hlen, (unsigned long long)(size - 8));
    if (hlen > MAX_HEADER_BYTES || hlen < 2)
        return MT_ERR(MT_ERR_FORMAT, "safetensors '%s': implausible header length %llu", s->path, (unsigned long long)hlen);
    char *text = mt_malloc((size_t)hlen + 1);
    if (!text) return MT_ERR_NOMEM;
    mt_status st = MT_OK;
    if (read_at(fd, text, (size_t)hlen, 8) != 0)
        st = MT_ERR(MT_ERR_IO, "safetensors '%s': cannot read the %llu-byte header", s->path, (unsigned long long)hlen);
    text[hlen] = '\0';
    if (st == MT_OK && memchr(text, '\0', (size_t)hlen))
        st = MT_ERR(MT_ERR_FORMAT, "safetensors '%s': the header contains a NUL byte", s->path);
    cJSON *root = NULL;
    if (st == MT_OK) {
        const char *end = NULL;
        root = cJSON_ParseWithLengthOpts(text, (size_t)hlen, &end, 0);
        if (!root) {
            const char *at = cJSON_GetErrorPtr();
            long off = at && at >= text && at <= text + hlen ? (long)(at - text) : -1;
            st = MT_ERR(MT_ERR_FORMAT, "safetensors '%s': the header is not valid JSON (error near byte %ld of %llu)",
                        s->path, off, (unsigned long long)hlen);
        } else {
            for (const char *p = end; p && p < text + hlen && st == MT_OK; p++)
                if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
                    st = MT_ERR(MT_ERR_FORMAT, "safetensors '%s': text after the JSON header (byte %ld)", s->path,
                                (long)(p - text));
        }
    }
    if (st == MT_OK) st = parse_header(s, root, 8 + hlen, size - 8 - hlen);
    cJSON_Delete(root);
    free(text);
    return st;
}

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return h & 0x8000 ? -v : v;
}

mt_status mt_wsrc_read_safetensors(mt_wsrc *s, int i, double *out, size_t numel, int counter)
{
    const mt_wsrc_tensor *t = &s->t[i];
    int dsize = dtype_size(t->dtype);
    uint64_t bytes = t->end - t->begin;
    if (!dsize || bytes != (uint64_t)numel * (uint64_t)dsize)
        return MT_ERR(MT_ERR_INVALID, "safetensors '%s': tensor '%s': size mismatch while reading", s->path, t->name);
    unsigned char *buf = mt_malloc((size_t)bytes + 1);
    if (!buf) return MT_ERR_NOMEM;
    if (read_at(s->fd, buf, (size_t)bytes, t->begin) != 0) {
        free(buf);
        return MT_ERR(MT_ERR_IO, "safetensors '%s': tensor '%s': file truncated or unreadable at byte %llu", s->path,
                      t->name, (unsigned long long)t->begin);
    }
    mt_status st = MT_OK;
    for (size_t k = 0; k < numel && st == MT_OK; k++) {
        const unsigned char *p = buf + k * (size_t)dsize;
        uint64_t u = 0;
        for (int j = dsize - 1; j >= 0; j--) u = (u << 8) | p[j];
        switch (t->dtype) {
        case MT_WD_F64: { double d; memcpy(&d, &u, 8); out[k] = d; break; }
        case MT_WD_F32: { uint32_t w = (uint32_t)u; float f; memcpy(&f, &w, 4); out[k] = f; break; }
        case MT_WD_BF16: { uint32_t w = (uint32_t)u << 16; float f; memcpy(&f, &w, 4); out[k] = f; break; }
        case MT_WD_F16: out[k] = half_to_double((uint16_t)u); break;
        case MT_WD_I64: out[k] = counter ? (double)(int64_t)u : NAN; break;
        case MT_WD_I32: out[k] = counter ? (double)(int32_t)(uint32_t)u : NAN; break;
        case MT_WD_I16: out[k] = counter ? (double)(int16_t)(uint16_t)u : NAN; break;
        case MT_WD_I8: out[k] = counter ? (double)(int8_t)(uint8_t)u : NAN; break;
        case MT_WD_U64: case MT_WD_U32: case MT_WD_U16: case MT_WD_U8: out[k] = counter ? (double)u : NAN; break;
        default:
            st = MT_ERR(MT_ERR_UNSUPPORTED, "safetensors '%s': tensor '%s' has dtype %s, which medtrain does not load",
                        s->path, t->name, mt_wdtype_name(t->dtype));
        }
    }
    free(buf);
    return st;
}

/* ------------------------------------------------------------- writing --- */

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcmp(s + ls - lx, suffix);
}

static int write_all(int fd, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* the JSON header for the model (metadata first, tensors in state_dict order) */
static mt_status build_header(mt_model *m, int n_meta, const char *const *keys, const char *const *values, char **out)
{
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && n_meta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        ok = meta != NULL;
        for (int i = 0; ok && i < n_meta; i++) ok = cJSON_AddStringToObject(meta, keys[i], values[i]) != NULL;
    }
    uint64_t off = 0;
    for (int i = 0; ok && i < mt_model_state_count(m); i++) {
        const char *name = mt_model_state_name(m, i);
        const mt_tensor *t = mt_model_state_tensor(m, i);
        int counter = ends_with(name, "num_batches_tracked");
        uint64_t bytes = (uint64_t)mt_numel(t) * (counter ? 8 : sizeof(mt_real));
        cJSON *e = cJSON_AddObjectToObject(root, name);
        cJSON *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *offs = shape ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        ok = offs && cJSON_AddStringToObject(e, "dtype", counter ? "I64" : MT_REAL == MT_F32 ? "F32" : "F64");
        for (int d = 0; ok && d < t->ndim; d++) ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber(t->shape[d]));
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off)) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + bytes)));
        off += bytes;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) return MT_ERR(MT_ERR_NOMEM, "safetensors: out of memory building the header");
    *out = text;
    return MT_OK;
}

/* one state tensor as little-endian bytes */
static mt_status write_tensor(int fd, const char *name, const mt_tensor *t, const char *path)
{
    size_t n = mt_numel(t);
    int counter = ends_with(name, "num_batches_tracked");
    size_t es = counter ? 8 : sizeof(mt_real);
    mt_real *host = mt_malloc(n * sizeof *host + 1);
    unsigned char *bytes = mt_malloc(n * es + 1);
    mt_status st = host && bytes ? mt_tensor_to_host(t, host, n * sizeof *host) : MT_ERR_NOMEM;
    for (size_t k = 0; st == MT_OK && k < n; k++) {
        uint64_t u = 0;
        if (counter) {
            int64_t v = (int64_t)host[k];
            memcpy(&u, &v, 8);
        } else if (es == 4) {
            uint32_t w;
            memcpy(&w, &host[k], 4);
            u = w;
        } else {
            memcpy(&u, &host[k], 8);
        }
        for (size_t j = 0; j < es; j++) bytes[k * es + j] = (unsigned char)(u >> (8 * j));
    }
    if (st == MT_OK && write_all(fd, bytes, n * es) != 0)
        st = MT_ERR(MT_ERR_IO, "safetensors '%s': writing tensor '%s' failed (disk full?): %s", path, name, strerror(errno));
    free(host);
    free(bytes);
    return st;
}

mt_status mt_safetensors_save(const char *path, mt_model *m, int n_meta, const char *const *meta_keys,
                              const char *const *meta_values)
{
    MT_REQUIRE(path && m, "safetensors save: NULL path or model");
    MT_REQUIRE(n_meta >= 0 && (n_meta == 0 || (meta_keys && meta_values)), "safetensors save: bad metadata arrays");
    for (int i = 0; i < n_meta; i++) {
        MT_REQUIRE(meta_keys[i] && meta_values[i], "safetensors save '%s': metadata entry %d is NULL", path, i);
        for (int j = 0; j < i; j++)
            MT_REQUIRE(strcmp(meta_keys[i], meta_keys[j]), "safetensors save '%s': metadata key '%s' given twice", path,
                       meta_keys[i]);
    }
    char *json = NULL;
    MT_TRY(build_header(m, n_meta, meta_keys, meta_values, &json));
    size_t hl = strlen(json), pad = (8 - (8 + hl) % 8) % 8;
    unsigned char len8[8];
    for (int j = 0; j < 8; j++) len8[j] = (unsigned char)((uint64_t)(hl + pad) >> (8 * j));
    size_t tl = strlen(path) + 16;
    char *tmp = mt_malloc(tl);
    if (!tmp) {
        free(json);
        return MT_ERR_NOMEM;
    }
    snprintf(tmp, tl, "%s.tmp-XXXXXX", path);
    mt_status st = MT_OK;
    int fd = mkstemp(tmp);
    if (fd >= 0) (void)mt_file_default_mode(fd); /* best effort: else the file keeps mkstemp's 0600 */
    if (fd < 0) {
        st = MT_ERR(MT_ERR_IO, "safetensors '%s': cannot create a temporary file next to it: %s", path, strerror(errno));
    } else {
        if (write_all(fd, len8, 8) != 0 || write_all(fd, json, hl) != 0 || write_all(fd, "        ", pad) != 0)
            st = MT_ERR(MT_ERR_IO, "safetensors '%s': writing the header failed (disk full?): %s", path, strerror(errno));
        for (int i = 0; st == MT_OK && i < mt_model_state_count(m); i++)
            st = write_tensor(fd, mt_model_state_name(m, i), mt_model_state_tensor(m, i), path);
        if (st == MT_OK && fsync(fd) != 0)
            st = MT_ERR(MT_ERR_IO, "safetensors '%s': fsync failed: %s", path, strerror(errno));
        if (fchmod(fd, 0644) != 0 && st == MT_OK)
            st = MT_ERR(MT_ERR_IO, "safetensors '%s': chmod failed: %s", path, strerror(errno));
        if (close(fd) != 0 && st == MT_OK) st = MT_ERR(MT_ERR_IO, "safetensors '%s': close failed: %s", path, strerror(errno));
        if (st == MT_OK && rename(tmp, path) != 0)
            st = MT_ERR(MT_ERR_IO, "safetensors '%s': cannot rename the temporary file into place: %s", path,
                        strerror(errno));
        if (st != MT_OK) unlink(tmp);
    }
    free(tmp);
    free(json);
    return st;
}
