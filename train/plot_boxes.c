/* train/plot_boxes.c: detection pictures, true and predicted boxes on a grey
 * image (see plot.h). */
#include <math.h>
#include <stdio.h>

#include "plot.h"
#include "plot_internal.h"

static const uint8_t k_true[3] = {0, 200, 0}, k_pred[3] = {230, 30, 30};

static int box_ok(const mt_plot_box *b)
{
    return isfinite(b->x0) && isfinite(b->y0) && isfinite(b->x1) && isfinite(b->y1);
}

static void stroke_box(cairo_t *cr, const mt_plot_box *b, double s, const uint8_t rgb[3])
{
    mtp_rgb(cr, rgb);
    cairo_set_line_width(cr, 2);
    cairo_rectangle(cr, b->x0 * s, b->y0 * s, (b->x1 - b->x0) * s, (b->y1 - b->y0) * s);
    cairo_stroke(cr);
}

/* "name 0.87" on a red tab above the box (inside it when the box touches the top) */
static void label_box(cairo_t *cr, const mt_plot_box *b, double s, const char *const *class_names)
{
    char buf[128], cls[32] = "";
    const char *name = NULL;
    if (b->cls >= 0) {
        if (class_names && class_names[b->cls]) name = class_names[b->cls];
        else snprintf(cls, sizeof cls, "%d", b->cls), name = cls;
    }
    if (name && isfinite(b->score)) snprintf(buf, sizeof buf, "%s %.2f", name, b->score);
    else if (name) snprintf(buf, sizeof buf, "%s", name);
    else if (isfinite(b->score)) snprintf(buf, sizeof buf, "%.2f", b->score);
    else return;
    static const uint8_t white[3] = {255, 255, 255};
    mtp_font(cr, 12, 0);
    double tw = mtp_text_w(cr, buf), th = mtp_text_h(cr);
    double x = b->x0 * s - 1, y = b->y0 * s - th - 2;
    if (y < 0) y = b->y0 * s + 1;
    mtp_rgb(cr, k_pred);
    cairo_rectangle(cr, x, y, tw + 6, th + 2);
    cairo_fill(cr);
    mtp_text(cr, x + 3, y + 1, buf, 0, white);
}

mt_status mt_plot_boxes(const char *path, const float *image, int h, int w, double lo, double hi, int n_true,
                        const mt_plot_box *truth, int n_pred, const mt_plot_box *pred, const char *const *class_names,
                        const char *caption)
{
    MT_TRY(mtp_check_image("boxes picture", path, image, h, w, lo, hi));
    MT_REQUIRE(n_true >= 0 && n_pred >= 0 && (n_true == 0 || truth) && (n_pred == 0 || pred),
               "boxes picture %s: %d true / %d predicted boxes without arrays", path, n_true, n_pred);
    int s = mt_plot_image_scale(h, w), cap = caption ? MTP_CAPTION_H : 0;
    MT_REQUIRE((long)w * s <= 32767 && (long)h * s + cap <= 32767, "boxes picture %s: %dx%d too large", path, h, w);
    mtp_canvas c;
    MT_TRY(mtp_canvas_new(&c, w * s, h * s + cap, 0, 0, 0));
    cairo_t *cr = c.cr;
    mt_status st = mtp_draw_image(cr, 0, 0, s, image, h, w, lo, hi);
    if (st == MT_OK) {
        cairo_save(cr);
        cairo_rectangle(cr, 0, 0, w * s, h * s);
        cairo_clip(cr);
        for (int i = 0; i < n_true; i++)
            if (box_ok(&truth[i])) stroke_box(cr, &truth[i], s, k_true);
        for (int i = 0; i < n_pred; i++)
            if (box_ok(&pred[i])) stroke_box(cr, &pred[i], s, k_pred);
        for (int i = 0; i < n_pred; i++)
            if (box_ok(&pred[i])) label_box(cr, &pred[i], s, class_names);
        cairo_restore(cr);
        const char *names[2] = {n_true ? "truth" : NULL, n_pred ? "prediction" : NULL};
        const uint8_t *cols[2] = {k_true, k_pred};
        mtp_image_legend(cr, 0, 0, 2, names, cols);
        if (caption) mtp_caption(cr, 0, h * s, w * s, cap, caption);
        st = mtp_canvas_write(&c, path);
    }
    mtp_canvas_free(&c);
    return st;
}
