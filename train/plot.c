/* train/plot.c: charts drawn with cairo: line charts (loss / metric curves), ROC
 * curves and Bland-Altman plots (see plot.h). Frames: train/plot_axes.c. */
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "plot_internal.h"

static double ext_min(double a, double b) { return b < a ? b : a; }
static double ext_max(double a, double b) { return b > a ? b : a; }

/* a polyline through the finite points (x[i], y[i]), broken at non-finite ones,
 * 2-px wide; dots at every point (dots = 1) or only at isolated points */
static void draw_series(cairo_t *cr, const mtp_axes *ax, int n, const double *x, const double *y, const uint8_t *rgb,
                        int dots, double lw)
{
    mtp_rgb(cr, rgb);
    cairo_set_line_width(cr, lw);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    int run = 0;
    for (int i = 0; i <= n; i++) {
        double xv = i < n ? (x ? x[i] : i) : NAN, yv = i < n ? y[i] : NAN;
        int ok = isfinite(xv) && isfinite(yv) && (!ax->log_y || yv > 0);
        if (ok) {
            double px = mtp_ax_x(ax, xv), py = mtp_ax_y(ax, yv);
            if (run == 0) cairo_move_to(cr, px, py);
            else cairo_line_to(cr, px, py);
            run++;
        } else {
            if (run > 1) cairo_stroke(cr);
            cairo_new_path(cr);
            if (run == 1 && i > 0) { /* an isolated point: a dot, or it would not show */
                int j = i - 1;
                cairo_arc(cr, mtp_ax_x(ax, x ? x[j] : j), mtp_ax_y(ax, y[j]), 1.6 * lw, 0, 2 * M_PI);
                cairo_fill(cr);
            }
            run = 0;
        }
    }
    if (!dots) return;
    for (int i = 0; i < n; i++) {
        double xv = x ? x[i] : i, yv = y[i];
        if (!isfinite(xv) || !isfinite(yv) || (ax->log_y && yv <= 0)) continue;
        cairo_arc(cr, mtp_ax_x(ax, xv), mtp_ax_y(ax, yv), 1.6 * lw, 0, 2 * M_PI);
        cairo_fill(cr);
    }
}

mt_status mt_plot_lines(const char *path, const mt_plot_chart *chart, int n, const double *x, int n_series,
                        const mt_plot_series *series)
{
    MT_REQUIRE(n > 0 && n_series > 0 && series, "line chart %s: nothing to plot (%d points, %d series)", path, n,
               n_series);
    for (int s = 0; s < n_series; s++) MT_REQUIRE(series[s].y, "line chart %s: series %d has no values", path, s);
    int log_y = chart && chart->log_y;
    mtp_axes ax = {INFINITY, -INFINITY, INFINITY, -INFINITY, log_y, 1, 0, 1};
    for (int i = 0; i < n; i++) {
        double xv = x ? x[i] : i;
        if (!isfinite(xv)) continue;
        ax.x_lo = ext_min(ax.x_lo, xv), ax.x_hi = ext_max(ax.x_hi, xv);
        ax.x_int &= xv == floor(xv);
        for (int s = 0; s < n_series; s++) {
            double v = series[s].y[i];
            if (!isfinite(v) || (log_y && v <= 0)) continue;
            v = log_y ? log10(v) : v;
            ax.y_lo = ext_min(ax.y_lo, v), ax.y_hi = ext_max(ax.y_hi, v);
        }
    }
    mtp_legend leg[64];
    int nl = 0;
    for (int s = 0; s < n_series && nl < 64; s++)
        if (series[s].name) leg[nl++] = (mtp_legend){series[s].name, mtp_colour(s)};
    int w, h;
    mtp_chart_size(chart, &w, &h);
    mtp_canvas c;
    MT_TRY(mtp_canvas_new(&c, w, h, 255, 255, 255));
    mt_status st = mtp_axes_draw(&c, &ax, chart, NULL, NULL, nl, leg, path);
    if (st == MT_OK) {
        int dots = n == 1 || ax.pw / (n - 1) >= 16;
        mtp_axes_clip(c.cr, &ax, 4);
        for (int s = 0; s < n_series; s++)
            draw_series(c.cr, &ax, n, x, series[s].y, mtp_colour(s), dots, 2 * (w / 720.0 < 1 ? 1 : w / 720.0));
        cairo_reset_clip(c.cr);
        st = mtp_canvas_write(&c, path);
    }
    mtp_canvas_free(&c);
    return st;
}

double mt_plot_auc_trapezoid(int n, const double *x, const double *y)
{
    double a = 0, px = NAN, py = NAN;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) continue;
        if (isfinite(px)) a += (x[i] - px) * (y[i] + py) / 2;
        px = x[i], py = y[i];
    }
    return a;
}

mt_status mt_plot_roc(const char *path, const mt_plot_chart *chart, int n_curves, const mt_plot_roc_curve *curves)
{
    MT_REQUIRE(n_curves > 0 && curves, "ROC plot %s: no curves", path);
    for (int k = 0; k < n_curves; k++)
        MT_REQUIRE(curves[k].n > 0 && curves[k].fpr && curves[k].tpr, "ROC plot %s: curve %d has no points", path, k);
    int nl = n_curves < 64 ? n_curves : 64;
    char names[64][96];
    mtp_legend leg[64];
    for (int k = 0; k < nl; k++) {
        double auc = curves[k].auc;
        if (!isfinite(auc)) auc = mt_plot_auc_trapezoid(curves[k].n, curves[k].fpr, curves[k].tpr);
        snprintf(names[k], sizeof names[k], "%s (AUC %.3f)", curves[k].name ? curves[k].name : "ROC", auc);
        leg[k] = (mtp_legend){names[k], mtp_colour(k)};
    }
    mt_plot_chart ch = chart ? *chart : (mt_plot_chart){0};
    ch.log_y = 0;
    if (!chart || (chart->width <= 0 && chart->height <= 0)) ch.width = 600, ch.height = 560;
    int w, h;
    mtp_chart_size(&ch, &w, &h);
    mtp_axes ax = {0, 1, 0, 1, 0, 0, 1, 0};
    mtp_canvas c;
    MT_TRY(mtp_canvas_new(&c, w, h, 255, 255, 255));
    mt_status st = mtp_axes_draw(&c, &ax, &ch, "false positive rate", "true positive rate", nl, leg, path);
    if (st == MT_OK) {
        cairo_t *cr = c.cr;
        mtp_axes_clip(cr, &ax, 4);
        static const double dash[2] = {6, 4};
        static const uint8_t chance[3] = {150, 150, 150};
        mtp_rgb(cr, chance);
        cairo_set_line_width(cr, 1.5);
        cairo_set_dash(cr, dash, 2, 0);
        cairo_move_to(cr, mtp_ax_x(&ax, 0), mtp_ax_y(&ax, 0));
        cairo_line_to(cr, mtp_ax_x(&ax, 1), mtp_ax_y(&ax, 1));
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        for (int k = 0; k < n_curves; k++)
            draw_series(cr, &ax, curves[k].n, curves[k].fpr, curves[k].tpr, mtp_colour(k), 0, 2.5);
        cairo_reset_clip(cr);
        st = mtp_canvas_write(&c, path);
    }
    mtp_canvas_free(&c);
    return st;
}

mt_status mt_plot_bland_altman(const char *path, const mt_plot_chart *chart, int n, const double *a, const double *b,
                               mt_plot_bland_altman_stats *stats)
{
    MT_REQUIRE(n > 0 && a && b, "Bland-Altman plot %s: no pairs", path);
    /* two-pass mean and sample SD of a - b over the finite pairs */
    int m = 0;
    double sum = 0, ss = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(a[i]) && isfinite(b[i]) && isfinite(a[i] - b[i])) m++, sum += a[i] - b[i];
    MT_REQUIRE(m > 0, "Bland-Altman plot %s: no pair has two finite values", path);
    double md = sum / m;
    for (int i = 0; i < n; i++)
        if (isfinite(a[i]) && isfinite(b[i]) && isfinite(a[i] - b[i])) ss += (a[i] - b[i] - md) * (a[i] - b[i] - md);
    double sd = m > 1 ? sqrt(ss / (m - 1)) : 0;
    mt_plot_bland_altman_stats bs = {m, md, sd, md - 1.96 * sd, md + 1.96 * sd};
    if (stats) *stats = bs;
    mtp_axes ax = {INFINITY, -INFINITY, bs.lo, bs.hi, 0, 0, 0, 1};
    for (int i = 0; i < n; i++) {
        double mean = (a[i] + b[i]) / 2, d = a[i] - b[i];
        if (!isfinite(mean) || !isfinite(d)) continue;
        ax.x_lo = ext_min(ax.x_lo, mean), ax.x_hi = ext_max(ax.x_hi, mean);
        ax.y_lo = ext_min(ax.y_lo, d), ax.y_hi = ext_max(ax.y_hi, d);
    }
    /* room on the right for the line labels, and a margin around the dots */
    double xs = ax.x_hi - ax.x_lo > 0 ? ax.x_hi - ax.x_lo : fmax(1, fabs(ax.x_lo));
    ax.x_lo -= 0.04 * xs, ax.x_hi += 0.30 * xs;
    mt_plot_chart ch = chart ? *chart : (mt_plot_chart){0};
    ch.log_y = 0;
    int w, h;
    mtp_chart_size(&ch, &w, &h);
    mtp_canvas c;
    MT_TRY(mtp_canvas_new(&c, w, h, 255, 255, 255));
    mt_status st = mtp_axes_draw(&c, &ax, &ch, "mean of a and b", "a - b", 0, NULL, path);
    if (st == MT_OK) {
        cairo_t *cr = c.cr;
        mtp_axes_clip(cr, &ax, 4);
        const uint8_t *dot = mtp_colour(0);
        mtp_rgb(cr, dot);
        for (int i = 0; i < n; i++) {
            double mean = (a[i] + b[i]) / 2, d = a[i] - b[i];
            if (!isfinite(mean) || !isfinite(d)) continue;
            cairo_arc(cr, mtp_ax_x(&ax, mean), mtp_ax_y(&ax, d), 3.5, 0, 2 * M_PI);
            cairo_fill(cr);
        }
        cairo_reset_clip(cr);
        static const double dash[2] = {7, 4};
        static const uint8_t k_mean[3] = {214, 39, 40}, k_loa[3] = {90, 90, 90};
        const char *fmt[3] = {"mean %.3g", "+1.96 SD %.3g", "-1.96 SD %.3g"};
        double val[3] = {bs.mean_diff, bs.hi, bs.lo};
        mtp_font(cr, 12 * fmax(0.75, w / 720.0), 0);
        double th = mtp_text_h(cr);
        for (int k = 0; k < 3; k++) {
            double y = floor(mtp_ax_y(&ax, val[k])) + 0.5;
            const uint8_t *col = k == 0 ? k_mean : k_loa;
            mtp_rgb(cr, col);
            cairo_set_line_width(cr, 1.5);
            cairo_set_dash(cr, dash, k == 0 ? 0 : 2, 0);
            cairo_move_to(cr, ax.px, y);
            cairo_line_to(cr, ax.px + ax.pw, y);
            cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
            char buf[64];
            snprintf(buf, sizeof buf, fmt[k], val[k]);
            /* above the line; the -1.96 SD label below it so close limits do not collide */
            mtp_text(cr, ax.px + ax.pw - 4, k == 2 ? y + 2 : y - th - 2, buf, 2, col);
        }
        st = mtp_canvas_write(&c, path);
    }
    mtp_canvas_free(&c);
    return st;
}
