/* train/plot_confusion.c: the confusion-matrix picture (see plot.h). */
#include <math.h>
#include <stdio.h>

#include "plot.h"
#include "plot_internal.h"

/* matplotlib "Blues" end points: value 0 -> near white, 1 -> dark blue */
static void blues(double v, double rgb[3])
{
    static const double lo[3] = {247, 251, 255}, hi[3] = {8, 48, 107};
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    for (int i = 0; i < 3; i++) rgb[i] = (lo[i] + (hi[i] - lo[i]) * v) / 255.0;
}

/* Sizes of the picture: cell, fonts, label extents and margins. */
typedef struct cm_layout {
    double cs, fs, fc, pad; /* cell size, label / count font sizes, outer padding */
    double th, nw, tw, tth; /* label text height, widest class name, title width and height */
    int rot;                /* column names rotated */
    double ml, mt;          /* left and top margins (the matrix origin) */
    int w, h;               /* picture size */
} cm_layout;

/* Measures the class names and the title on a scratch canvas, then sets the margins and picture size. */
static mt_status measure(int k, const char *const *name, const char *title, cm_layout *L)
{
    mtp_canvas c;
    MT_TRY(mtp_canvas_new(&c, 1, 1, 255, 255, 255));
    mtp_font(c.cr, L->fs, 0);
    L->th = mtp_text_h(c.cr), L->nw = 0;
    for (int i = 0; i < k; i++) L->nw = fmax(L->nw, mtp_text_w(c.cr, name[i]));
    mtp_font(c.cr, 16, 1);
    L->tw = title ? mtp_text_w(c.cr, title) : 0, L->tth = mtp_text_h(c.cr);
    mtp_canvas_free(&c);
    const double cs = L->cs, pad = L->pad, th = L->th, nw = L->nw;
    L->rot = nw > cs - 6; /* column names rotated when wider than a cell */
    L->ml = pad + th + 8 + nw + 8, L->mt = pad + (title ? L->tth + 10 : 0);
    double mb = 6 + (L->rot ? nw : th) + 8 + th + pad;
    L->w = (int)ceil(fmax(L->ml + k * cs + pad, L->tw + 2 * pad)), L->h = (int)ceil(L->mt + k * cs + mb);
    return MT_OK;
}

/* The k x k cells coloured by row-normalised value, each with its count. */
static void draw_cells(cairo_t *cr, const cm_layout *L, int k, const long long *counts)
{
    static const uint8_t white[3] = {255, 255, 255};
    const double cs = L->cs;
    char buf[32];
    mtp_font(cr, L->fc, 0);
    double fch = mtp_text_h(cr);
    for (int t = 0; t < k; t++) {
        long long row = 0;
        for (int p = 0; p < k; p++) row += counts[t * k + p];
        for (int p = 0; p < k; p++) {
            double v = row > 0 ? (double)counts[t * k + p] / (double)row : 0, rgb[3];
            blues(v, rgb);
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
            double x = L->ml + p * cs, y = L->mt + t * cs;
            cairo_rectangle(cr, x, y, cs, cs);
            cairo_fill(cr);
            snprintf(buf, sizeof buf, "%lld", counts[t * k + p]);
            mtp_text(cr, x + cs / 2, y + (cs - fch) / 2, buf, 1, v > 0.5 ? white : mtp_ink);
        }
    }
    /* cell borders */
    cairo_set_line_width(cr, 1);
    mtp_rgb(cr, mtp_grid);
    for (int i = 0; i <= k; i++) {
        cairo_move_to(cr, L->ml + i * cs + 0.5, L->mt);
        cairo_line_to(cr, L->ml + i * cs + 0.5, L->mt + k * cs);
        cairo_move_to(cr, L->ml, L->mt + i * cs + 0.5);
        cairo_line_to(cr, L->ml + k * cs, L->mt + i * cs + 0.5);
    }
    cairo_stroke(cr);
}

/* Class names (rows right-aligned left of the matrix, columns under it) and the axis titles. */
static void draw_labels(cairo_t *cr, const cm_layout *L, int k, const char *const *name)
{
    const double cs = L->cs, ml = L->ml, mt = L->mt, th = L->th, pad = L->pad;
    mtp_font(cr, L->fs, 0);
    for (int i = 0; i < k; i++) {
        mtp_text(cr, ml - 8, mt + i * cs + (cs - th) / 2, name[i], 2, mtp_ink);
        if (!L->rot) {
            mtp_text(cr, ml + i * cs + cs / 2, mt + k * cs + 6, name[i], 1, mtp_ink);
        } else {
            cairo_save(cr);
            cairo_translate(cr, ml + i * cs + (cs - th) / 2, mt + k * cs + 6);
            cairo_rotate(cr, M_PI / 2);
            mtp_text(cr, 0, -th, name[i], 0, mtp_ink);
            cairo_restore(cr);
        }
    }
    /* axis titles */
    mtp_text(cr, ml + k * cs / 2, L->h - pad - th, "predicted", 1, mtp_ink);
    cairo_save(cr);
    cairo_translate(cr, pad, mt + k * cs / 2);
    cairo_rotate(cr, -M_PI / 2);
    mtp_text(cr, 0, 0, "true", 1, mtp_ink);
    cairo_restore(cr);
}

mt_status mt_plot_confusion(const char *path, const char *title, int k, const long long *counts,
                            const char *const *class_names)
{
    MT_REQUIRE(k >= 1 && k <= 64 && counts, "confusion matrix %s: %d classes (want 1..64) or no counts", path, k);
    for (int i = 0; i < k * k; i++)
        MT_REQUIRE(counts[i] >= 0, "confusion matrix %s: negative count %lld at (%d, %d)", path, counts[i], i / k, i % k);
    cm_layout L = {0};
    L.cs = k <= 6 ? 96 : k <= 12 ? 64 : fmax(24, floor(768.0 / k));
    L.fs = 13, L.fc = fmin(16, fmax(8, L.cs * 0.2)), L.pad = 10;
    char def[64][16];
    const char *name[64];
    for (int i = 0; i < k; i++) {
        snprintf(def[i], sizeof def[i], "%d", i);
        name[i] = class_names && class_names[i] ? class_names[i] : def[i];
    }
    MT_TRY(measure(k, name, title, &L));
    mtp_canvas c;
    MT_TRY(mtp_canvas_new(&c, L.w, L.h, 255, 255, 255));
    cairo_t *cr = c.cr;
    if (title) {
        mtp_font(cr, 16, 1);
        mtp_text(cr, L.pad, L.pad, title, 0, mtp_ink);
    }
    draw_cells(cr, &L, k, counts);
    draw_labels(cr, &L, k, name);
    mt_status st = mtp_canvas_write(&c, path);
    mtp_canvas_free(&c);
    return st;
}
