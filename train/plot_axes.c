/* train/plot_axes.c: chart frames for train/plot.c: nice tick values, grid,
 * axis labels, title and legend (see plot_internal.h). Ticks as matplotlib's
 * MaxNLocator (steps 1, 2, 2.5, 5 x 10^k) and LogLocator (decades). */
#include <math.h>
#include <stdio.h>

#include "plot_internal.h"

void mtp_chart_size(const mt_plot_chart *chart, int *w, int *h)
{
    *w = chart && chart->width > 0 ? chart->width : 720;
    *h = chart && chart->height > 0 ? chart->height : 450;
}

double mtp_nice_step(double span, int target)
{
    double raw = span / target;
    double p = pow(10.0, floor(log10(raw)));
    double m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
}

void mtp_tick_label(char *buf, size_t len, double v, double step)
{
    if (fabs(v) < 1e-9 * step) v = 0;
    snprintf(buf, len, "%.3g", v);
}

double mtp_ax_x(const mtp_axes *ax, double x) { return ax->px + (x - ax->x_lo) / (ax->x_hi - ax->x_lo) * ax->pw; }

double mtp_ax_y(const mtp_axes *ax, double y)
{
    double v = ax->log_y ? log10(y) : y;
    return ax->py + ax->ph - (v - ax->y_lo) / (ax->y_hi - ax->y_lo) * ax->ph;
}

void mtp_axes_clip(cairo_t *cr, const mtp_axes *ax, double margin)
{
    cairo_rectangle(cr, ax->px - margin, ax->py - margin, ax->pw + 2 * margin, ax->ph + 2 * margin);
    cairo_clip(cr);
}

/* y tick k: its value (log_y: the decade exponent) */
static int y_ticks(const mtp_axes *ax, double *first)
{
    *first = ceil(ax->y_lo / ax->y_step - 1e-9) * ax->y_step;
    int n = (int)floor((ax->y_hi - *first) / ax->y_step + 1e-9) + 1;
    return n < 0 ? 0 : n > 64 ? 64 : n;
}

static void y_label_of(const mtp_axes *ax, double v, char *buf, size_t len)
{
    if (ax->log_y) snprintf(buf, len, "%g", pow(10.0, v));
    else mtp_tick_label(buf, len, v, ax->y_step);
}

/* finishes the data ranges: equal ends widened, nice steps, y widened to whole steps */
static void set_ranges(mtp_axes *ax)
{
    if (!isfinite(ax->x_lo) || !isfinite(ax->x_hi) || ax->x_hi < ax->x_lo) ax->x_lo = 0, ax->x_hi = 1;
    if (!isfinite(ax->y_lo) || !isfinite(ax->y_hi) || ax->y_hi < ax->y_lo) ax->y_lo = 0, ax->y_hi = 1;
    if (ax->x_hi - ax->x_lo <= 1e-12 * fmax(1, fabs(ax->x_lo))) ax->x_lo -= ax->x_int ? 1 : 0.5, ax->x_hi += ax->x_int ? 1 : 0.5;
    double ys = fmax(1, fabs(ax->y_lo));
    if (ax->y_hi - ax->y_lo <= 1e-12 * ys) {
        if (ax->log_y) ax->y_lo -= 1, ax->y_hi += 1;
        else ax->y_lo -= 0.5 * ys, ax->y_hi += 0.5 * ys;
    }
    ax->x_step = mtp_nice_step(ax->x_hi - ax->x_lo, 6);
    if (ax->x_int && ax->x_step < 1) ax->x_step = 1;
    if (ax->log_y) {
        ax->y_lo = floor(ax->y_lo + 1e-9);
        ax->y_hi = ceil(ax->y_hi - 1e-9);
        if (ax->y_hi <= ax->y_lo) ax->y_hi = ax->y_lo + 1;
        ax->y_step = ceil((ax->y_hi - ax->y_lo) / 8); /* at most ~8 decade labels */
    } else {
        ax->y_step = mtp_nice_step(ax->y_hi - ax->y_lo, 5);
        if (ax->widen_y) {
            ax->y_lo = floor(ax->y_lo / ax->y_step + 1e-9) * ax->y_step;
            ax->y_hi = ceil(ax->y_hi / ax->y_step - 1e-9) * ax->y_step;
        }
    }
    /* values too extreme for ticks (1e300 spans): a plain 0..1 frame */
    if (!isfinite(ax->y_step) || ax->y_step <= 0 || (ax->y_hi - ax->y_lo) / ax->y_step > 64)
        ax->y_lo = 0, ax->y_hi = 1, ax->y_step = 0.25, ax->log_y = 0;
    if (!isfinite(ax->x_step) || ax->x_step <= 0 || (ax->x_hi - ax->x_lo) / ax->x_step > 64)
        ax->x_lo = 0, ax->x_hi = 1, ax->x_step = 0.25;
}

/* legend entry width: swatch + gap + name */
static double entry_w(cairo_t *cr, const mtp_legend *e, double sw, double fs)
{
    return sw + 0.4 * fs + mtp_text_w(cr, e->name);
}

/* Sizes, margins and legend rows shared by the steps of mtp_axes_draw. */
typedef struct axes_layout {
    double f, fs, fl, ft, pad, tick, sw, gap; /* scale (1 at 720 px) and font / spacing sizes */
    double th, lh, top_h, row_h;              /* tick text, axis label, title and legend row heights */
    double ml, mr;                            /* left and right margins */
    double y0;                                /* first y tick value */
    int ny;                                   /* y ticks */
    int rows, first_row_used, row_of[64];     /* legend rows; entry i on row row_of[i] */
    double row_w[64];                         /* legend row widths */
} axes_layout;

/* Font sizes from the canvas width, y tick labels, and the left / right margins. */
static void layout_margins(mtp_canvas *c, const mtp_axes *ax, const char *yl, axes_layout *L)
{
    cairo_t *cr = c->cr;
    char buf[64];
    /* font sizes follow the width: 12 / 13 / 16 px at 720 */
    double f = c->w / 720.0;
    f = f < 0.75 ? 0.75 : f > 2 ? 2 : f;
    L->f = f;
    L->fs = 12 * f, L->fl = 13 * f, L->ft = 16 * f, L->pad = 8 * f, L->tick = 5 * f, L->sw = 22 * f, L->gap = 14 * f;
    /* left margin: y label, widest y tick value, tick mark */
    mtp_font(cr, L->fs, 0);
    double yw = 0;
    L->th = mtp_text_h(cr);
    L->ny = y_ticks(ax, &L->y0);
    for (int k = 0; k < L->ny; k++) {
        y_label_of(ax, L->y0 + k * ax->y_step, buf, sizeof buf);
        yw = fmax(yw, mtp_text_w(cr, buf));
    }
    mtp_font(cr, L->fl, 0);
    L->lh = mtp_text_h(cr);
    L->ml = L->pad + (yl ? L->lh + 6 * f : 0) + yw + 4 * f + L->tick;
    L->mr = L->pad + 12 * f;
}

/* Legend rows: the first on the title row after the title, then full rows under it. */
static void layout_legend(mtp_canvas *c, const mt_plot_chart *chart, int n_legend, const mtp_legend *legend,
                          axes_layout *L)
{
    cairo_t *cr = c->cr;
    const double gap = L->gap;
    mtp_font(cr, L->ft, 1);
    double title_w = chart->title ? mtp_text_w(cr, chart->title) + 2 * gap : 0;
    L->top_h = mtp_text_h(cr);
    mtp_font(cr, L->fs, 0);
    int rows = n_legend > 0 ? 1 : 0;
    double *row_w = L->row_w, avail = c->w - L->ml - L->mr;
    for (int i = 0; i < n_legend && i < 64; i++) {
        double ew = entry_w(cr, &legend[i], L->sw, L->fs);
        double cap = rows == 1 ? avail - title_w : avail;
        if (row_w[rows - 1] > 0 && row_w[rows - 1] + gap + ew > cap && rows < 64) rows++;
        if (rows == 1 && row_w[0] == 0 && ew > avail - title_w && chart->title) rows++; /* nothing fits beside the title */
        row_w[rows - 1] += (row_w[rows - 1] > 0 ? gap : 0) + ew;
        L->row_of[i] = rows - 1;
    }
    L->rows = rows;
    L->first_row_used = n_legend > 0 && L->row_of[0] == 0;
    L->row_h = L->th + 4 * L->f;
}

/* Grid and y ticks; a log axis of at most 4 decades also gets unlabelled minor grid lines at 2..9 x 10^k. */
static void draw_y_ticks(cairo_t *cr, const mtp_axes *ax, const axes_layout *L)
{
    char buf[64];
    cairo_set_line_width(cr, 1);
    if (ax->log_y && ax->y_hi - ax->y_lo <= 4) {
        static const uint8_t minor[3] = {242, 242, 242};
        mtp_rgb(cr, minor);
        for (double d = ax->y_lo; d < ax->y_hi; d += 1)
            for (int m = 2; m <= 9; m++) {
                double y = floor(ax->py + ax->ph - (d + log10(m) - ax->y_lo) / (ax->y_hi - ax->y_lo) * ax->ph) + 0.5;
                cairo_move_to(cr, ax->px, y);
                cairo_line_to(cr, ax->px + ax->pw, y);
            }
        cairo_stroke(cr);
    }
    mtp_font(cr, L->fs, 0);
    for (int k = 0; k < L->ny; k++) {
        double v = L->y0 + k * ax->y_step;
        double y = floor(ax->py + ax->ph - (v - ax->y_lo) / (ax->y_hi - ax->y_lo) * ax->ph) + 0.5;
        mtp_rgb(cr, mtp_grid);
        cairo_move_to(cr, ax->px, y);
        cairo_line_to(cr, ax->px + ax->pw, y);
        cairo_stroke(cr);
        mtp_rgb(cr, mtp_axis);
        cairo_move_to(cr, ax->px - L->tick, y);
        cairo_line_to(cr, ax->px, y);
        cairo_stroke(cr);
        y_label_of(ax, v, buf, sizeof buf);
        mtp_text(cr, ax->px - L->tick - 3 * L->f, y - L->th / 2, buf, 2, mtp_ink);
    }
}

/* x grid lines, tick marks and tick values. */
static void draw_x_ticks(cairo_t *cr, const mtp_axes *ax, const axes_layout *L)
{
    char buf[64];
    double x0 = ceil(ax->x_lo / ax->x_step - 1e-9) * ax->x_step;
    for (int k = 0; k < 64 && x0 + k * ax->x_step <= ax->x_hi + 1e-9 * ax->x_step; k++) {
        double v = x0 + k * ax->x_step;
        double x = floor(mtp_ax_x(ax, v)) + 0.5;
        mtp_rgb(cr, mtp_grid);
        cairo_move_to(cr, x, ax->py);
        cairo_line_to(cr, x, ax->py + ax->ph);
        cairo_stroke(cr);
        mtp_rgb(cr, mtp_axis);
        cairo_move_to(cr, x, ax->py + ax->ph);
        cairo_line_to(cr, x, ax->py + ax->ph + L->tick);
        cairo_stroke(cr);
        mtp_tick_label(buf, sizeof buf, v, ax->x_step);
        mtp_text(cr, x, ax->py + ax->ph + L->tick + 3 * L->f, buf, 1, mtp_ink);
    }
}

/* The left and bottom axis lines and the axis labels (y rotated). */
static void draw_axis_lines(mtp_canvas *c, const mtp_axes *ax, const axes_layout *L, const char *xl, const char *yl)
{
    cairo_t *cr = c->cr;
    mtp_rgb(cr, mtp_axis);
    cairo_move_to(cr, ax->px, ax->py);
    cairo_line_to(cr, ax->px, ax->py + ax->ph);
    cairo_line_to(cr, ax->px + ax->pw, ax->py + ax->ph);
    cairo_stroke(cr);
    mtp_font(cr, L->fl, 0);
    if (xl) mtp_text(cr, ax->px + ax->pw / 2, c->h - L->pad - L->lh, xl, 1, mtp_ink);
    if (yl) {
        cairo_save(cr);
        cairo_translate(cr, L->pad, ax->py + ax->ph / 2);
        cairo_rotate(cr, -M_PI / 2);
        mtp_text(cr, 0, 0, yl, 1, mtp_ink);
        cairo_restore(cr);
    }
}

/* The title, then the legend rows (row 0 right-aligned on the title row). */
static void draw_title_legend(cairo_t *cr, const mtp_axes *ax, const mt_plot_chart *chart, const axes_layout *L,
                              int n_legend, const mtp_legend *legend)
{
    const double pad = L->pad, top_h = L->top_h, row_h = L->row_h, sw = L->sw, fs = L->fs;
    mtp_font(cr, L->ft, 1);
    if (chart->title) mtp_text(cr, L->ml, pad, chart->title, 0, mtp_ink);
    mtp_font(cr, fs, 0);
    double right = ax->px + ax->pw;
    for (int r = 0, i = 0; r < L->rows; r++) {
        double yc = r == 0 ? pad + top_h / 2 : pad + top_h + (r - (L->first_row_used ? 1 : 0)) * row_h + row_h / 2;
        if (r == 0 && !L->first_row_used) continue;
        double x = r == 0 ? right - L->row_w[0] : L->ml;
        for (; i < n_legend && i < 64 && L->row_of[i] == r; i++) {
            mtp_rgb(cr, legend[i].rgb);
            cairo_rectangle(cr, floor(x), floor(yc) - 2, floor(sw), 4); /* whole pixels: the exact colour */
            cairo_fill(cr);
            mtp_text(cr, x + sw + 0.4 * fs, yc - L->th / 2, legend[i].name, 0, mtp_ink);
            x += entry_w(cr, &legend[i], sw, fs) + L->gap;
        }
    }
}

mt_status mtp_axes_draw(mtp_canvas *c, mtp_axes *ax, const mt_plot_chart *chart, const char *def_x_label,
                        const char *def_y_label, int n_legend, const mtp_legend *legend, const char *path)
{
    static const mt_plot_chart none = {0};
    if (!chart) chart = &none;
    cairo_t *cr = c->cr;
    const char *xl = chart->x_label ? chart->x_label : def_x_label;
    const char *yl = chart->y_label ? chart->y_label : def_y_label;
    set_ranges(ax);
    axes_layout L = {0};
    layout_margins(c, ax, yl, &L);
    layout_legend(c, chart, n_legend, legend, &L);
    const double f = L.f;
    double mt = L.pad + L.top_h + (L.rows - (L.first_row_used ? 1 : 0)) * L.row_h + 8 * f;
    double mb = L.tick + 4 * f + L.th + (xl ? 6 * f + L.lh : 0) + L.pad;
    ax->px = L.ml;
    ax->py = mt;
    ax->pw = c->w - L.ml - L.mr;
    ax->ph = c->h - mt - mb;
    if (ax->pw < 20 || ax->ph < 20)
        return MT_ERR(MT_ERR_INVALID, "chart %s: %dx%d pixels is too small for its labels", path, c->w, c->h);
    if (ax->square) {
        double s = fmin(ax->pw, ax->ph);
        ax->pw = ax->ph = s;
    }
    /* whole-pixel plot area: 1-px lines at .5 are sharp */
    ax->px = floor(ax->px) + 0.5, ax->py = floor(ax->py) + 0.5, ax->pw = floor(ax->pw), ax->ph = floor(ax->ph);
    draw_y_ticks(cr, ax, &L);
    draw_x_ticks(cr, ax, &L);
    draw_axis_lines(c, ax, &L, xl, yl);
    draw_title_legend(cr, ax, chart, &L, n_legend, legend);
    return MT_OK;
}
