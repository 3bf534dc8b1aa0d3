/* train/plot_sheet.c: contact sheets, a grid of grey images with masks and
 * captions in one PNG (see plot.h). */
#include <math.h>

#include "plot.h"
#include "plot_internal.h"

mt_status mt_plot_contact_sheet(const char *path, int n, const mt_plot_tile *tiles, int cols, int tile_px,
                                const char *title)
{
    MT_REQUIRE(n > 0 && tiles, "contact sheet %s: no tiles", path);
    MT_REQUIRE(cols >= 0, "contact sheet %s: %d columns", path, cols);
    if (tile_px == 0) tile_px = 192;
    MT_REQUIRE(tile_px >= 16 && tile_px <= 2048, "contact sheet %s: tile size %d outside 16..2048", path, tile_px);
    int any_caption = 0;
    for (int i = 0; i < n; i++) {
        const mt_plot_tile *t = &tiles[i];
        MT_TRY(mtp_check_image("contact sheet", path, t->image, t->h, t->w, t->lo, t->hi));
        MT_REQUIRE(t->n_masks >= 0 && (t->n_masks == 0 || t->masks), "contact sheet %s: tile %d masks", path, i);
        for (int k = 0; k < t->n_masks; k++) MT_REQUIRE(t->masks[k].mask, "contact sheet %s: tile %d mask %d is NULL", path, i, k);
        any_caption |= t->caption != NULL;
    }
    if (cols == 0) cols = (int)ceil(sqrt((double)n));
    if (cols > n) cols = n;
    int rows = (n + cols - 1) / cols, gap = 8, cap = any_caption ? 22 : 0, top = title ? 32 : 0;
    long W = (long)cols * (tile_px + gap) + gap, H = top + (long)rows * (tile_px + cap + gap) + gap;
    MT_REQUIRE(W <= 32767 && H <= 32767, "contact sheet %s: %ldx%ld pixels exceeds 32767 on a side", path, H, W);
    mtp_canvas c;
    MT_TRY(mtp_canvas_new(&c, (int)W, (int)H, 16, 16, 16));
    cairo_t *cr = c.cr;
    static const uint8_t fg[3] = {235, 235, 235};
    if (title) {
        mtp_font(cr, 16, 1);
        mtp_text(cr, gap, 8, title, 0, fg);
    }
    mt_status st = MT_OK;
    for (int i = 0; i < n && st == MT_OK; i++) {
        const mt_plot_tile *t = &tiles[i];
        double s = fmin((double)tile_px / t->w, (double)tile_px / t->h);
        double tx = gap + (i % cols) * (tile_px + gap), ty = top + gap + (i / cols) * (tile_px + cap + gap);
        double x = tx + (tile_px - s * t->w) / 2, y = ty + (tile_px - s * t->h) / 2;
        st = mtp_draw_image(cr, x, y, s, t->image, t->h, t->w, t->lo, t->hi);
        if (st == MT_OK) st = mtp_draw_masks(cr, x, y, s, t->h, t->w, t->n_masks, t->masks, 1.5);
        if (st == MT_OK && t->caption) mtp_caption(cr, tx, ty + tile_px, tile_px, cap, t->caption);
    }
    if (st == MT_OK) st = mtp_canvas_write(&c, path);
    mtp_canvas_free(&c);
    return st;
}
