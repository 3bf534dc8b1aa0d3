/* data/idx.c: IDX (MNIST / Fashion-MNIST) reader (see idx.h). */
#include "idx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

const char *mt_idx_dtype_name(int code)
{
    switch (code) {
    case MT_IDX_U8: return "uint8";
    case MT_IDX_I8: return "int8";
    case MT_IDX_I16: return "int16";
    case MT_IDX_I32: return "int32";
    case MT_IDX_F32: return "float32";
    case MT_IDX_F64: return "float64";
    default: return NULL;
    }
}

static size_t dtype_size(int code)
{
    return code == MT_IDX_U8 || code == MT_IDX_I8 ? 1 : code == MT_IDX_I16 ? 2 : code == MT_IDX_F64 ? 8 : 4;
}

void mt_idx_free(mt_idx *x)
{
    if (!x) return;
    free(x->data);
    memset(x, 0, sizeof *x);
}

/* Reads up to n bytes; returns the count read, or -1 on a gzip stream error (message in *err). */
static long long read_some(gzFile f, void *buf, size_t n, const char **err)
{
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
        int r = gzread(f, (char *)buf + got, chunk);
        if (r < 0) {
            int zerr;
            *err = gzerror(f, &zerr);
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (long long)got;
}

/* Big-endian items to host order, in place. */
static void to_host(uint8_t *p, size_t count, size_t size)
{
    if (size == 1) return;
    for (size_t i = 0; i < count; i++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

static int host_is_big_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 0;
}

mt_status mt_idx_read(const char *path, mt_idx *out)
{
    MT_REQUIRE(path && out, "mt_idx_read: NULL argument");
    memset(out, 0, sizeof *out);
    gzFile f = gzopen(path, "rb");
    if (!f) return MT_ERR(MT_ERR_IO, "%s: cannot open IDX file: %s", path, errno ? strerror(errno) : "gzopen failed");
    gzbuffer(f, 1u << 20);
    mt_status st = MT_OK;
    const char *zerr = NULL;
    uint8_t hdr[4 + 4 * MT_IDX_MAX_DIMS];
    uint8_t *data = NULL;
    long long r = read_some(f, hdr, 4, &zerr);
    if (r < 0) {
        st = MT_ERR(MT_ERR_IO, "%s: corrupt gzip stream: %s", path, zerr);
        goto done;
    }
    if (r < 4) {
        st = MT_ERR(MT_ERR_FORMAT, "%s: not an IDX file: only %lld bytes, the magic number alone has 4", path, r);
        goto done;
    }
    if (hdr[0] || hdr[1]) {
        st = MT_ERR(MT_ERR_FORMAT, "%s: not an IDX file: magic number starts 0x%02X%02X, expected 0x0000", path, hdr[0],
                    hdr[1]);
        goto done;
    }
    if (!mt_idx_dtype_name(hdr[2])) {
        st = MT_ERR(MT_ERR_FORMAT,
                    "%s: IDX dtype code 0x%02X is not one of 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, "
                    "0x0D float32, 0x0E float64", path, hdr[2]);
        goto done;
    }
    int ndim = hdr[3];
    if (ndim < 1 || ndim > MT_IDX_MAX_DIMS) {
        st = MT_ERR(MT_ERR_FORMAT, "%s: IDX header declares %d dimensions (1..%d supported)", path, ndim,
                    MT_IDX_MAX_DIMS);
        goto done;
    }
    r = read_some(f, hdr + 4, 4 * (size_t)ndim, &zerr);
    if (r < 0) {
        st = MT_ERR(MT_ERR_IO, "%s: corrupt gzip stream: %s", path, zerr);
        goto done;
    }
    if (r < 4 * ndim) {
        st = MT_ERR(MT_ERR_FORMAT, "%s: truncated IDX header: %d dimension sizes declared, file ends after %lld bytes",
                    path, ndim, 4 + r);
        goto done;
    }
    out->dtype = hdr[2];
    out->ndim = ndim;
    out->item_size = dtype_size(hdr[2]);
    size_t count = 1;
    for (int d = 0; d < ndim; d++) {
        const uint8_t *q = hdr + 4 + 4 * d;
        uint32_t v = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
        out->dims[d] = v;
        if (v && count > ((size_t)1 << 40) / v) {
            st = MT_ERR(MT_ERR_FORMAT, "%s: IDX header declares an array of more than 2^40 items", path);
            goto done;
        }
        count *= v;
    }
    out->count = count;
    size_t want = count * out->item_size, have = 0, cap = 0;
    /* grow with what is actually read, so a header promising more than the file holds fails cleanly */
    while (have < want) {
        if (have == cap) {
            size_t ncap = cap ? cap * 2 : (size_t)1 << 20;
            if (ncap > want) ncap = want;
            uint8_t *nd = mt_realloc(data, ncap ? ncap : 1);
            if (!nd) {
                st = MT_ERR_NOMEM;
                goto done;
            }
            data = nd, cap = ncap;
        }
        size_t req = cap - have;
        r = read_some(f, data + have, req, &zerr);
        if (r < 0) {
            st = MT_ERR(MT_ERR_IO, "%s: corrupt gzip stream: %s", path, zerr);
            goto done;
        }
        have += (size_t)r;
        if ((size_t)r < req) break; /* end of file */
    }
    if (have < want) {
        st = MT_ERR(MT_ERR_FORMAT, "%s: truncated IDX data: the header declares %zu %s items, the file holds %zu", path,
                    count, mt_idx_dtype_name(out->dtype), have / out->item_size);
        goto done;
    }
    uint8_t extra;
    r = read_some(f, &extra, 1, &zerr);
    if (r < 0) {
        st = MT_ERR(MT_ERR_IO, "%s: corrupt gzip stream: %s", path, zerr);
        goto done;
    }
    if (r > 0) {
        st = MT_ERR(MT_ERR_FORMAT, "%s: bytes after the %zu items the IDX header declares (wrong header?)", path, count);
        goto done;
    }
    if (!data && !(data = mt_malloc(1))) {
        st = MT_ERR_NOMEM;
        goto done;
    }
    if (!host_is_big_endian()) to_host(data, count, out->item_size);
    out->data = data;
    data = NULL;
done:
    gzclose(f);
    free(data);
    if (st != MT_OK) {
        free(out->data);
        memset(out, 0, sizeof *out);
    }
    return st;
}

double mt_idx_get(const mt_idx *x, size_t i)
{
    switch (x->dtype) {
    case MT_IDX_U8: return ((const uint8_t *)x->data)[i];
    case MT_IDX_I8: return ((const int8_t *)x->data)[i];
    case MT_IDX_I16: return ((const int16_t *)x->data)[i];
    case MT_IDX_I32: return ((const int32_t *)x->data)[i];
    case MT_IDX_F32: return ((const float *)x->data)[i];
    case MT_IDX_F64: return ((const double *)x->data)[i];
    default: return 0;
    }
}
