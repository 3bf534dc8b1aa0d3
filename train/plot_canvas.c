/* train/plot_canvas.c: the cairo canvas of train/plot*.c, its atomic PNG writer
 * and text in the DejaVu Sans toy font face (see plot_internal.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/file.h"
#include "plot_internal.h"

const uint8_t mtp_ink[3] = {40, 40, 40};
const uint8_t mtp_axis[3] = {96, 96, 96};
const uint8_t mtp_grid[3] = {226, 226, 226};

/* matplotlib's "tab10" colour cycle */
static const uint8_t k_tab10[10][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},   {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};

const uint8_t *mtp_colour(int i) { return k_tab10[(i % 10 + 10) % 10]; }

static mt_status cairo_err(cairo_status_t s, const char *what)
{
    if (s == CAIRO_STATUS_NO_MEMORY) return MT_ERR(MT_ERR_NOMEM, "%s: cairo: %s", what, cairo_status_to_string(s));
    return MT_ERR(MT_ERR_UNSUPPORTED, "%s: cairo: %s", what, cairo_status_to_string(s));
}

mt_status mtp_canvas_new(mtp_canvas *c, int w, int h, int r, int g, int b)
{
    memset(c, 0, sizeof *c);
    MT_REQUIRE(w > 0 && h > 0 && w <= 32767 && h <= 32767, "picture size %dx%d outside 1..32767 pixels", w, h);
    c->w = w;
    c->h = h;
    c->surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_status_t s = cairo_surface_status(c->surf);
    if (s != CAIRO_STATUS_SUCCESS) {
        mtp_canvas_free(c);
        return cairo_err(s, "picture surface");
    }
    c->cr = cairo_create(c->surf);
    s = cairo_status(c->cr);
    if (s != CAIRO_STATUS_SUCCESS) {
        mtp_canvas_free(c);
        return cairo_err(s, "picture context");
    }
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_ON);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_SLIGHT); /* not left to the machine's fontconfig */
    cairo_set_font_options(c->cr, fo);
    cairo_font_options_destroy(fo);
    mtp_font(c->cr, 12, 0);
    cairo_set_source_rgb(c->cr, r / 255.0, g / 255.0, b / 255.0);
    cairo_paint(c->cr);
    return MT_OK;
}

void mtp_canvas_free(mtp_canvas *c)
{
    if (c->cr) cairo_destroy(c->cr);
    if (c->surf) cairo_surface_destroy(c->surf);
    c->cr = NULL;
    c->surf = NULL;
}

mt_status mtp_write_atomic(const char *path, mt_status (*write)(const char *tmp_path, int fd, void *ctx), void *ctx)
{
    MT_REQUIRE(path && path[0], "picture: no output path");
    size_t len = strlen(path) + 16;
    char *tmp = mt_malloc(len);
    if (!tmp) return MT_ERR_NOMEM;
    snprintf(tmp, len, "%s.tmp-XXXXXX", path);
    mt_status st = MT_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = MT_ERR(MT_ERR_IO, "picture '%s': cannot create a temporary file next to it: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    (void)mt_file_default_mode(fd); /* best effort: else the file keeps mkstemp's 0600 */
    st = write(tmp, fd, ctx);
    if (st == MT_OK && fsync(fd) != 0)
        st = MT_ERR(MT_ERR_IO, "picture '%s': fsync failed: %s", path, strerror(errno));
    if (close(fd) != 0 && st == MT_OK) st = MT_ERR(MT_ERR_IO, "picture '%s': close failed: %s", path, strerror(errno));
    if (st == MT_OK && rename(tmp, path) != 0)
        st = MT_ERR(MT_ERR_IO, "picture '%s': cannot rename the temporary file into place: %s", path, strerror(errno));
    if (st != MT_OK) unlink(tmp);
    free(tmp);
    return st;
}

typedef struct png_sink {
    int fd;
    int err; /* errno of the first failed write, 0 = none */
    cairo_surface_t *surf;
    const char *path;
} png_sink;

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int length)
{
    png_sink *s = closure;
    while (length > 0) {
        ssize_t k = write(s->fd, data, length);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            s->err = k < 0 ? errno : ENOSPC;
            return CAIRO_STATUS_WRITE_ERROR;
        }
        data += k;
        length -= (unsigned int)k;
    }
    return CAIRO_STATUS_SUCCESS;
}

static mt_status write_png(const char *tmp_path, int fd, void *ctx)
{
    (void)tmp_path;
    png_sink *s = ctx;
    s->fd = fd;
    cairo_status_t cs = cairo_surface_write_to_png_stream(s->surf, sink_write, s);
    if (s->err) return MT_ERR(MT_ERR_IO, "picture '%s': write failed (disk full?): %s", s->path, strerror(s->err));
    if (cs != CAIRO_STATUS_SUCCESS) return cairo_err(cs, s->path);
    return MT_OK;
}

mt_status mtp_canvas_write(mtp_canvas *c, const char *path)
{
    cairo_status_t s = cairo_status(c->cr);
    if (s == CAIRO_STATUS_SUCCESS) s = cairo_surface_status(c->surf);
    if (s != CAIRO_STATUS_SUCCESS) return cairo_err(s, path ? path : "picture");
    cairo_surface_flush(c->surf);
    png_sink sink = {-1, 0, c->surf, path};
    return mtp_write_atomic(path, write_png, &sink);
}

/* ---------------------------------------------------------------- text --- */

void mtp_font(cairo_t *cr, double px, int bold)
{
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, px);
}

double mtp_text_w(cairo_t *cr, const char *s)
{
    if (!s || !s[0]) return 0;
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

double mtp_text_h(cairo_t *cr)
{
    cairo_font_extents_t e;
    cairo_font_extents(cr, &e);
    return e.ascent + e.descent;
}

void mtp_rgb(cairo_t *cr, const uint8_t rgb[3]) { cairo_set_source_rgb(cr, rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0); }

void mtp_text(cairo_t *cr, double x, double y, const char *s, int align, const uint8_t rgb[3])
{
    if (!s || !s[0]) return;
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    double w = mtp_text_w(cr, s);
    double x0 = align == 1 ? x - w / 2 : align == 2 ? x - w : x;
    mtp_rgb(cr, rgb);
    /* whole-pixel baseline: hinted glyphs stay crisp */
    cairo_move_to(cr, (double)(long)(x0 + 0.5), (double)(long)(y + fe.ascent + 0.5));
    cairo_show_text(cr, s);
    cairo_new_path(cr);
}
