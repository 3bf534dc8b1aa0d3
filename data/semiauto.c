/* data/semiauto.c: threshold, back-projection and GrabCut labeling of a slice (semiauto.h). */
#include "semiauto.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cv_seg.h"
#include "preprocess.h"

mt_status mt_box_parse(const char *s, const char *what, mt_box *b)
{
    MT_REQUIRE(s && b, "%s: no box given", what);
    char tail;
    if (sscanf(s, "%d,%d,%d,%d%c", &b->x0, &b->y0, &b->x1, &b->y1, &tail) != 4)
        return MT_ERR(MT_ERR_INVALID, "%s '%s': expected x0,y0,x1,y1 (integer pixels, x1 and y1 exclusive)", what, s);
    return MT_OK;
}

mt_status mt_box_check(const mt_box *b, int h, int w, const char *what)
{
    MT_REQUIRE(b, "%s: no box given", what);
    if (b->x1 <= b->x0 || b->y1 <= b->y0)
        return MT_ERR(MT_ERR_INVALID, "%s %d,%d,%d,%d is empty (needs x0 < x1 and y0 < y1)", what, b->x0, b->y0, b->x1,
                      b->y1);
    if (b->x0 < 0 || b->y0 < 0 || b->x1 > w || b->y1 > h)
        return MT_ERR(MT_ERR_INVALID, "%s %d,%d,%d,%d reaches outside the %dx%d slice (x in 0..%d, y in 0..%d)", what,
                      b->x0, b->y0, b->x1, b->y1, w, h, w, h);
    return MT_OK;
}

static const char *const k_methods[] = {"threshold", "backproject", "grabcut"};

mt_status mt_label_method_parse(const char *s, mt_label_method *m)
{
    for (int i = 0; s && i < 3; i++)
        if (!strcmp(s, k_methods[i])) return *m = (mt_label_method)i, MT_OK;
    return MT_ERR(MT_ERR_INVALID, "labeling method '%s': expected threshold, backproject or grabcut", s ? s : "");
}

const char *mt_label_method_name(mt_label_method m)
{
    return (unsigned)m < 3 ? k_methods[m] : "?";
}

mt_status mt_hu_range_parse(const char *s, double *lo, double *hi)
{
    static const struct {
        const char *name;
        double lo, hi;
    } k_tissue[] = {{"muscle", -29, 150}, {"sat", -190, -30}, {"fat", -190, -30}, {"vat", -150, -50}};
    MT_REQUIRE(s, "HU range: none given");
    for (size_t i = 0; i < sizeof k_tissue / sizeof *k_tissue; i++)
        if (!strcasecmp(s, k_tissue[i].name)) return *lo = k_tissue[i].lo, *hi = k_tissue[i].hi, MT_OK;
    char tail;
    if (sscanf(s, "%lf,%lf%c", lo, hi, &tail) != 2 || !(*lo < *hi) || !isfinite(*lo) || !isfinite(*hi))
        return MT_ERR(MT_ERR_INVALID, "HU range '%s': expected muscle, sat, vat or lo,hi with lo < hi", s);
    return MT_OK;
}

void mt_label_params_default(mt_label_params *p, mt_label_method m)
{
    memset(p, 0, sizeof *p);
    p->method = m;
    p->hu_lo = p->hu_hi = NAN;
    p->level = 40;
    p->width = 400;
    p->bins = 32;
    p->min_ratio = 0.1;
    p->iterations = 5;
    p->margin = 10;
}

static int has_hu(const mt_label_params *p) { return !isnan(p->hu_lo) && !isnan(p->hu_hi); }

static mt_status label_threshold(const float *hu, int h, int w, const mt_label_params *p, uint8_t *mask)
{
    MT_REQUIRE(has_hu(p), "threshold labeling needs an HU range (--hu muscle|sat|vat|lo,hi)");
    mt_box r = p->has_box ? p->box : (mt_box){0, 0, w, h};
    memset(mask, 0, (size_t)h * w);
    for (int y = r.y0; y < r.y1; y++)
        for (int x = r.x0; x < r.x1; x++) {
            double v = hu[(size_t)y * w + x];
            mask[(size_t)y * w + x] = v >= p->hu_lo && v <= p->hu_hi;
        }
    return MT_OK;
}

static mt_status label_backproject(const uint8_t *u8, int h, int w, const mt_label_params *p, uint8_t *mask)
{
    MT_REQUIRE(p->has_box, "back-projection needs a box on part of the target tissue (--box x0,y0,x1,y1)");
    MT_REQUIRE(p->bins >= 2 && p->bins <= 256, "back-projection: --bins %d outside 2..256", p->bins);
    MT_REQUIRE(p->min_ratio >= 0 && p->min_ratio <= 1, "back-projection: --min_ratio %g outside 0..1", p->min_ratio);
    int box[4] = {p->box.x0, p->box.y0, p->box.x1, p->box.y1};
    MT_TRY(mt_cv_backproject(u8, h, w, box, p->bins, mask));
    mt_box r = p->has_region ? p->region : (mt_box){0, 0, w, h};
    double cut = p->min_ratio * 255.0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            int inside = x >= r.x0 && x < r.x1 && y >= r.y0 && y < r.y1;
            mask[i] = inside && mask[i] > 0 && mask[i] >= cut;
        }
    return MT_OK;
}

/* GrabCut on the box grown by `margin` pixels per side (clipped to the slice): the background
 * model learns the box's surroundings, not every tissue of the slice. With an HU range the seed is
 * the box's in-range pixels as probable foreground and everything else as background. */
static mt_status label_grabcut(const float *hu, const uint8_t *u8, int h, int w, const mt_label_params *p,
                               uint8_t *mask)
{
    MT_REQUIRE(p->has_box, "GrabCut needs a box around the object (--box x0,y0,x1,y1)");
    MT_REQUIRE(p->iterations >= 1 && p->iterations <= 100, "GrabCut: --iterations %d outside 1..100", p->iterations);
    MT_REQUIRE(p->margin >= 0, "GrabCut: --margin %d must be >= 0", p->margin);
    const mt_box *b = &p->box;
    int cx0 = b->x0 - p->margin > 0 ? b->x0 - p->margin : 0, cy0 = b->y0 - p->margin > 0 ? b->y0 - p->margin : 0;
    int cx1 = b->x1 + p->margin < w ? b->x1 + p->margin : w, cy1 = b->y1 + p->margin < h ? b->y1 + p->margin : h;
    int cw = cx1 - cx0, ch = cy1 - cy0, seeded = has_hu(p);
    MT_REQUIRE(seeded || cw > b->x1 - b->x0 || ch > b->y1 - b->y0,
               "GrabCut: --box %d,%d,%d,%d leaves no background around the object (give --margin, or --hu to seed it)",
               b->x0, b->y0, b->x1, b->y1);
    size_t n = (size_t)cw * ch;
    uint8_t *buf = mt_malloc(n * 3);
    if (!buf) return mt_last_status();
    uint8_t *crop = buf, *seed = buf + n, *fg = buf + 2 * n;
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++) {
            int gx = x + cx0, gy = y + cy0;
            size_t g = (size_t)gy * w + gx, i = (size_t)y * cw + x;
            double v = hu[g];
            int in_box = gx >= b->x0 && gx < b->x1 && gy >= b->y0 && gy < b->y1;
            crop[i] = u8[g];
            seed[i] = in_box && v >= p->hu_lo && v <= p->hu_hi ? MT_GC_PR_FGD : MT_GC_BGD;
        }
    int box[4] = {b->x0 - cx0, b->y0 - cy0, b->x1 - cx0, b->y1 - cy0};
    mt_status st = mt_cv_grabcut(crop, ch, cw, box, seeded ? seed : NULL, p->iterations, fg);
    if (st == MT_OK) {
        memset(mask, 0, (size_t)h * w);
        for (int y = 0; y < ch; y++) memcpy(mask + (size_t)(y + cy0) * w + cx0, fg + (size_t)y * cw, (size_t)cw);
    }
    free(buf);
    return st;
}

mt_status mt_label_slice(const float *hu, int h, int w, const mt_label_params *p, uint8_t *mask)
{
    MT_REQUIRE(hu && p && mask && h > 0 && w > 0, "mt_label_slice: bad arguments (%dx%d)", w, h);
    if (p->has_box) MT_TRY(mt_box_check(&p->box, h, w, "--box"));
    if (p->has_region) MT_TRY(mt_box_check(&p->region, h, w, "--region"));
    MT_REQUIRE(p->width > 0, "labeling: window width %g must be > 0", p->width);
    if (p->method == MT_LABEL_THRESHOLD) return label_threshold(hu, h, w, p, mask);
    uint8_t *u8 = mt_malloc((size_t)h * w);
    if (!u8) return mt_last_status();
    mt_status st = mt_window_to_u8(hu, (size_t)h * w, p->level, p->width, u8);
    if (st == MT_OK && p->method == MT_LABEL_BACKPROJECT) st = label_backproject(u8, h, w, p, mask);
    else if (st == MT_OK && p->method == MT_LABEL_GRABCUT) st = label_grabcut(hu, u8, h, w, p, mask);
    else if (st == MT_OK) st = MT_ERR(MT_ERR_INVALID, "labeling: unknown method %d", (int)p->method);
    free(u8);
    if (st == MT_OK && has_hu(p))
        for (size_t i = 0; i < (size_t)h * w; i++) mask[i] = mask[i] && hu[i] >= p->hu_lo && hu[i] <= p->hu_hi;
    return st;
}

void mt_label_describe(const mt_label_params *p, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s", mt_label_method_name(p->method));
    if (n < 0) return;
    if (p->has_box && (size_t)n < len)
        n += snprintf(buf + n, len - n, " box=%d,%d,%d,%d", p->box.x0, p->box.y0, p->box.x1, p->box.y1);
    if (p->method != MT_LABEL_THRESHOLD && (size_t)n < len)
        n += snprintf(buf + n, len - n, " window=%g/%g", p->level, p->width);
    if (p->method == MT_LABEL_BACKPROJECT && (size_t)n < len) {
        n += snprintf(buf + n, len - n, " bins=%d min_ratio=%g", p->bins, p->min_ratio);
        if (p->has_region && (size_t)n < len)
            n += snprintf(buf + n, len - n, " region=%d,%d,%d,%d", p->region.x0, p->region.y0, p->region.x1,
                          p->region.y1);
    }
    if (p->method == MT_LABEL_GRABCUT && (size_t)n < len)
        n += snprintf(buf + n, len - n, " iterations=%d margin=%d", p->iterations, p->margin);
    if (has_hu(p) && (size_t)n < len) snprintf(buf + n, len - n, " hu=%g,%g", p->hu_lo, p->hu_hi);
}

double mt_mask_dsc(const uint8_t *a, const uint8_t *b, int h, int w, const mt_box *within)
{
    mt_box r = within ? *within : (mt_box){0, 0, w, h};
    long long inter = 0, sa = 0, sb = 0;
    for (int y = r.y0 > 0 ? r.y0 : 0; y < r.y1 && y < h; y++)
        for (int x = r.x0 > 0 ? r.x0 : 0; x < r.x1 && x < w; x++) {
            size_t i = (size_t)y * w + x;
            int p = a[i] != 0, q = b[i] != 0;
            inter += p && q;
            sa += p;
            sb += q;
        }
    return sa + sb ? 2.0 * (double)inter / (double)(sa + sb) : NAN;
}
