/* data/image_io.c: PNG/TIFF/JPEG/PGM readers and a PNG writer (see image_io.h).
 * libpng and libjpeg report fatal errors by longjmp back here (their defaults
 * would exit the process); libtiff errors are captured through a handler. */
#include "image_io.h"

#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>

/* Allocates out->image [c,h,w] and records the shape; NULL on overflow/OOM or when c x h x w
 * exceeds MEDTRAIN_IMAGE_MAX_PIXELS (default 2^28, a 16384 x 16384 grey image, 1 GiB of floats;
 * as MEDTRAIN_DICOM_MAX_PIXELS): a small header (a fuzzed TIFF declaring 6815808 x 48) must not
 * make the reader allocate gigabytes. */
static float *alloc_image(mt_sample *out, const char *path, int c, int h, int w)
{
    if (c <= 0 || h <= 0 || w <= 0 || (size_t)h * (size_t)w > ((size_t)1 << 31)) {
        MT_ERR(MT_ERR_FORMAT, "%s: implausible image size %dx%dx%d", path, c, h, w);
        return NULL;
    }
    double limit = 268435456.0, pixels = (double)c * h * w;
    const char *env = getenv("MEDTRAIN_IMAGE_MAX_PIXELS");
    if (env && atof(env) > 0) limit = atof(env);
    if (pixels > limit) {
        MT_ERR(MT_ERR_FORMAT, "%s: the header declares %d x %d x %d channels = %.0f pixels, over the limit of %.0f "
               "(raise it with the environment variable MEDTRAIN_IMAGE_MAX_PIXELS)", path, w, h, c, pixels, limit);
        return NULL;
    }
    out->image = mt_malloc((size_t)c * (size_t)h * (size_t)w * sizeof(float));
    if (!out->image) return NULL;
    out->c = c;
    out->h = h;
    out->w = w;
    return out->image;
}

/* ---------------------------------------------------------------- PGM */

/* Next header integer, skipping whitespace and '#' comments; -1 on EOF/garbage. */
static long pgm_int(FILE *f)
{
    int ch;
    for (;;) {
        ch = fgetc(f);
        if (ch == '#') {
            while (ch != '\n' && ch != EOF) ch = fgetc(f);
        } else if (!isspace(ch)) {
            break;
        }
    }
    if (ch == EOF || !isdigit(ch)) return -1;
    long v = 0;
    while (ch != EOF && isdigit(ch)) {
        v = v * 10 + (ch - '0');
        if (v > 1000000000L) return -1;
        ch = fgetc(f);
    }
    return v; /* the single whitespace after the header's maxval has been consumed */
}

static mt_status read_pgm(const char *path, FILE *f, mt_sample *out)
{
    char magic[2];
    if (fread(magic, 1, 2, f) != 2) return MT_ERR(MT_ERR_IO, "%s: empty PGM file", path);
    int ascii = magic[1] == '2';
    long w = pgm_int(f), h = pgm_int(f), maxval = pgm_int(f);
    if (w <= 0 || h <= 0 || maxval <= 0 || maxval > 65535)
        return MT_ERR(MT_ERR_FORMAT, "%s: bad PGM header (width %ld, height %ld, maxval %ld)", path, w, h, maxval);
    /* the header must not promise more pixels than the file can hold (checked before allocating):
     * P5 needs 1 or 2 bytes per pixel, P2 at least 2 characters per value but the last */
    long here = ftell(f);
    struct stat st;
    double need = ascii ? 2.0 * (double)w * (double)h - 1 : (double)w * (double)h * (maxval > 255 ? 2 : 1);
    if (here >= 0 && fstat(fileno(f), &st) == 0 && need > (double)(st.st_size - here))
        return MT_ERR(MT_ERR_FORMAT, "%s: PGM header declares %ldx%ld pixels but only %lld bytes follow it "
                      "(truncated file or corrupt header)", path, w, h, (long long)(st.st_size - here));
    float *img = alloc_image(out, path, 1, (int)h, (int)w);
    if (!img) return mt_last_status();
    size_t n = (size_t)w * (size_t)h;
    if (ascii) {
        for (size_t i = 0; i < n; i++) {
            long v = pgm_int(f);
            if (v < 0) return MT_ERR(MT_ERR_IO, "%s: P2 PGM ends after %zu of %zu values (truncated)", path, i, n);
            img[i] = (float)v;
        }
        return MT_OK;
    }
    int bps = maxval > 255 ? 2 : 1;
    uint8_t *raw = mt_malloc(n * (size_t)bps);
    if (!raw) return MT_ERR_NOMEM;
    size_t got = fread(raw, (size_t)bps, n, f);
    if (got != n) {
        free(raw);
        return MT_ERR(MT_ERR_IO, "%s: P5 PGM holds %zu of %zu pixels (%ldx%ld, %d B each): truncated file", path, got,
                      n, w, h, bps);
    }
    for (size_t i = 0; i < n; i++) img[i] = bps == 1 ? raw[i] : (float)((raw[2 * i] << 8) | raw[2 * i + 1]);
    free(raw);
    return MT_OK;
}

/* ---------------------------------------------------------------- PNG */

typedef struct png_err {
    const char *path;
    char msg[256];
} png_err;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}
static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static mt_status read_png(const char *path, FILE *f, mt_sample *out)
{
    png_err err = {path, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, png_on_error, png_on_warning);
    if (!png) return MT_ERR(MT_ERR_NOMEM, "%s: libpng could not allocate a reader", path);
    png_infop info = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    png_bytep volatile buf = NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return MT_ERR(MT_ERR_NOMEM, "%s: libpng could not allocate info", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        free(buf);
        mt_sample_free(out);
        return MT_ERR(MT_ERR_FORMAT, "%s: corrupt or truncated PNG (libpng: %s)", path, err.msg);
    }
    png_init_io(png, f);
    png_read_info(png, info);
    int w = (int)png_get_image_width(png, info), h = (int)png_get_image_height(png, info);
    int ctype = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (depth < 8) {
        if (ctype == PNG_COLOR_TYPE_GRAY) png_set_expand_gray_1_2_4_to_8(png);
        else png_set_packing(png); /* palette indices one per byte */
    }
    if (depth == 16) png_set_swap(png); /* host little-endian uint16 */
    if (ctype & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    png_read_update_info(png, info);
    int ch = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    buf = malloc(rowbytes * (size_t)h);
    rows = malloc(sizeof(png_bytep) * (size_t)h);
    if (!buf || !rows) png_error(png, "out of memory");
    for (int y = 0; y < h; y++) rows[y] = buf + rowbytes * (size_t)y;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    int c = ch >= 3 ? 3 : 1;
    float *img = alloc_image(out, path, c, h, w);
    if (img) {
        int bps = depth == 16 ? 2 : 1;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < c; k++) {
                    const uint8_t *p = rows[y] + ((size_t)x * (size_t)ch + (size_t)k) * (size_t)bps;
                    float v = bps == 2 ? (float)(*(const uint16_t *)p) : (float)p[0];
                    img[((size_t)k * (size_t)h + (size_t)y) * (size_t)w + (size_t)x] = v;
                }
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    free(buf);
    return img ? MT_OK : mt_last_status();
}

mt_status mt_image_write_png(const char *path, const uint8_t *pixels, int w, int h, int c)
{
    MT_REQUIRE(path && pixels && w > 0 && h > 0 && (c == 1 || c == 3), "mt_image_write_png: bad arguments");
    FILE *f = fopen(path, "wb");
    if (!f) return MT_ERR(MT_ERR_IO, "%s: cannot create PNG: %s", path, strerror(errno));
    png_err err = {path, ""};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return MT_ERR(MT_ERR_NOMEM, "%s: libpng could not allocate a writer", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return MT_ERR(MT_ERR_IO, "%s: writing PNG failed (libpng: %s)", path, err.msg);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * (size_t)w * (size_t)c));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0) return MT_ERR(MT_ERR_IO, "%s: closing PNG failed: %s", path, strerror(errno));
    return MT_OK;
}

/* ---------------------------------------------------------------- JPEG */

typedef struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jb, 1);
}
static void jpeg_on_message(j_common_ptr cinfo)
{
    (void)cinfo;
}

static mt_status read_jpeg(const char *path, FILE *f, mt_sample *out)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    memset(&err, 0, sizeof err);
    uint8_t *volatile row = NULL;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_on_error;
    err.mgr.output_message = jpeg_on_message;
    if (setjmp(err.jb)) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        mt_sample_free(out);
        return MT_ERR(MT_ERR_FORMAT, "%s: corrupt JPEG (libjpeg: %s)", path, err.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space != JCS_GRAYSCALE) cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, ch = cinfo.output_components;
    float *img = alloc_image(out, path, ch >= 3 ? 3 : 1, h, w);
    row = malloc((size_t)w * (size_t)ch);
    if (!img || !row) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        return img ? MT_ERR(MT_ERR_NOMEM, "%s: out of memory decoding JPEG", path) : mt_last_status();
    }
    int c = out->c;
    while (cinfo.output_scanline < cinfo.output_height) {
        int y = (int)cinfo.output_scanline;
        JSAMPROW rp = row;
        jpeg_read_scanlines(&cinfo, &rp, 1);
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                img[((size_t)k * (size_t)h + (size_t)y) * (size_t)w + (size_t)x] = row[(size_t)x * (size_t)ch + (size_t)k];
    }
    int warned = err.mgr.num_warnings > 0;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    if (warned) {
        mt_sample_free(out);
        return MT_ERR(MT_ERR_IO, "%s: JPEG data ends early or is corrupt (libjpeg warned; truncated file?)", path);
    }
    return MT_OK;
}

/* ---------------------------------------------------------------- TIFF */

static _Thread_local char g_tiff_msg[256];
static void tiff_on_error(const char *module, const char *fmt, va_list ap)
{
    int n = snprintf(g_tiff_msg, sizeof g_tiff_msg, "%s: ", module ? module : "libtiff");
    if (n > 0 && (size_t)n < sizeof g_tiff_msg) vsnprintf(g_tiff_msg + n, sizeof g_tiff_msg - (size_t)n, fmt, ap);
}
static void tiff_on_warning(const char *module, const char *fmt, va_list ap)
{
    (void)module;
    (void)fmt;
    (void)ap;
}

static mt_status read_tiff(const char *path, mt_sample *out)
{
    TIFFSetErrorHandler(tiff_on_error);
    TIFFSetWarningHandler(tiff_on_warning);
    g_tiff_msg[0] = '\0';
    TIFF *t = TIFFOpen(path, "r");
    if (!t) return MT_ERR(MT_ERR_FORMAT, "%s: cannot open TIFF (%s)", path, g_tiff_msg);
    uint32_t w = 0, h = 0;
    uint16_t spp = 1, bps = 8, fmt = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &fmt);
    TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &planar);
    mt_status s = MT_OK;
    uint8_t *line = NULL;
    if ((bps != 8 && bps != 16) || fmt != SAMPLEFORMAT_UINT || (spp != 1 && spp < 3) ||
        (spp > 1 && planar != PLANARCONFIG_CONTIG)) {
        s = MT_ERR(MT_ERR_UNSUPPORTED, "%s: TIFF with %u bits x %u samples (format %u, planar %u) is not supported; "
                   "need 8/16-bit unsigned grey or RGB", path, bps, spp, fmt, planar);
        goto done;
    }
    int c = spp >= 3 ? 3 : 1;
    if (!alloc_image(out, path, c, (int)h, (int)w)) {
        s = mt_last_status();
        goto done;
    }
    line = mt_malloc((size_t)TIFFScanlineSize(t));
    if (!line) {
        s = MT_ERR_NOMEM;
        goto done;
    }
    for (uint32_t y = 0; y < h; y++) {
        if (TIFFReadScanline(t, line, y, 0) < 0) {
            s = MT_ERR(MT_ERR_IO, "%s: TIFF row %u of %u unreadable (truncated or corrupt: %s)", path, y, h,
                       g_tiff_msg);
            goto done;
        }
        for (uint32_t x = 0; x < w; x++)
            for (int k = 0; k < c; k++) {
                size_t i = (size_t)x * spp + (size_t)k;
                float v = bps == 8 ? line[i] : (float)((const uint16_t *)line)[i];
                out->image[((size_t)k * h + y) * w + x] = v;
            }
    }
done:
    free(line);
    TIFFClose(t);
    if (s != MT_OK) mt_sample_free(out);
    return s;
}

/* ---------------------------------------------------------------- dispatch */

mt_status mt_image_read(const char *path, mt_sample *out)
{
    if (!path || !out) return MT_ERR(MT_ERR_INVALID, "mt_image_read: NULL argument");
    mt_sample_free(out);
    FILE *f = fopen(path, "rb");
    if (!f) return MT_ERR(MT_ERR_IO, "%s: cannot open image: %s", path, strerror(errno));
    uint8_t m[8] = {0};
    size_t got = fread(m, 1, sizeof m, f);
    rewind(f);
    mt_status s;
    if (got >= 8 && !png_sig_cmp(m, 0, 8)) {
        s = read_png(path, f, out);
    } else if (got >= 3 && m[0] == 0xFF && m[1] == 0xD8 && m[2] == 0xFF) {
        s = read_jpeg(path, f, out);
    } else if (got >= 4 && ((m[0] == 'I' && m[1] == 'I' && m[2] == 42) || (m[0] == 'M' && m[1] == 'M' && m[3] == 42))) {
        fclose(f);
        f = NULL;
        s = read_tiff(path, out);
    } else if (got >= 3 && m[0] == 'P' && (m[1] == '5' || m[1] == '2') && isspace(m[2])) {
        s = read_pgm(path, f, out);
    } else {
        s = MT_ERR(MT_ERR_FORMAT, "%s: unknown image format (not PNG, JPEG, TIFF or PGM P2/P5)", path);
    }
    if (f) fclose(f);
    if (s != MT_OK) {
        mt_sample_free(out);
        return s;
    }
    snprintf(out->meta.source, sizeof out->meta.source, "%s", path);
    return MT_OK;
}
