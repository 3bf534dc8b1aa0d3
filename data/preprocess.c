/* data/preprocess.c: windowing, scaling, resize, crop, pad (see preprocess.h). */
#include "preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

mt_status mt_hu_window(float *x, size_t n, double level, double width, int scale01)
{
    MT_REQUIRE(x || n == 0, "mt_hu_window: NULL data");
    MT_REQUIRE(width > 0, "mt_hu_window: window width must be > 0 HU (got %g)", width);
    double lo = level - width / 2, hi = level + width / 2;
    for (size_t i = 0; i < n; i++) {
        double v = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
        x[i] = (float)(scale01 ? (v - lo) / width : v);
    }
    return MT_OK;
}

mt_status mt_window_to_u8(const float *x, size_t n, double level, double width, uint8_t *out)
{
    MT_REQUIRE((x && out) || n == 0, "mt_window_to_u8: NULL data");
    MT_REQUIRE(width > 0, "mt_window_to_u8: window width must be > 0 (got %g)", width);
    double lo = level - width / 2;
    for (size_t i = 0; i < n; i++) {
        double v = (x[i] - lo) / width;
        v = v < 0 ? 0 : v > 1 ? 1 : v;
        out[i] = (uint8_t)lrint(v * 255.0);
    }
    return MT_OK;
}

mt_status mt_scale_range(float *x, size_t n, double lo, double hi)
{
    MT_REQUIRE(x || n == 0, "mt_scale_range: NULL data");
    MT_REQUIRE(hi > lo, "mt_scale_range: need hi > lo (got %g, %g)", lo, hi);
    for (size_t i = 0; i < n; i++) {
        double v = (x[i] - lo) / (hi - lo);
        x[i] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
    }
    return MT_OK;
}

/* torch area_pixel_compute_source_index(scale, dst, align_corners=False, cubic=False) */
static float src_index(float scale, int dst)
{
    float s = scale * ((float)dst + 0.5f) - 0.5f;
    return s < 0 ? 0 : s;
}

mt_status mt_resize_bilinear(const float *src, int c, int h, int w, float *dst, int oh, int ow)
{
    MT_REQUIRE(src && dst && c > 0 && h > 0 && w > 0 && oh > 0 && ow > 0, "mt_resize_bilinear: bad arguments");
    float sy = (float)h / (float)oh, sx = (float)w / (float)ow;
    for (int k = 0; k < c; k++) {
        const float *in = src + (size_t)k * h * w;
        float *o = dst + (size_t)k * oh * ow;
        for (int y = 0; y < oh; y++) {
            float fy = src_index(sy, y);
            int y0 = (int)fy, y1 = y0 + (y0 < h - 1);
            float ly = fy - (float)y0;
            for (int x = 0; x < ow; x++) {
                float fx = src_index(sx, x);
                int x0 = (int)fx, x1 = x0 + (x0 < w - 1);
                float lx = fx - (float)x0;
                float top = (1 - lx) * in[(size_t)y0 * w + x0] + lx * in[(size_t)y0 * w + x1];
                float bot = (1 - lx) * in[(size_t)y1 * w + x0] + lx * in[(size_t)y1 * w + x1];
                o[(size_t)y * ow + x] = (1 - ly) * top + ly * bot;
            }
        }
    }
    return MT_OK;
}

/* torch nearest_idx(): identity, exact 2x, else floor(dst * (float)in/out). */
static int nearest_idx(int dst, int in, int out)
{
    if (in == out) return dst;
    if (out == 2 * in) return dst >> 1;
    float scale = (float)in / (float)out;
    int s = (int)floorf((float)dst * scale);
    return s < in - 1 ? s : in - 1;
}

mt_status mt_resize_nearest_u8(const uint8_t *src, int k, int h, int w, uint8_t *dst, int oh, int ow)
{
    MT_REQUIRE(src && dst && k > 0 && h > 0 && w > 0 && oh > 0 && ow > 0, "mt_resize_nearest_u8: bad arguments");
    for (int c = 0; c < k; c++)
        for (int y = 0; y < oh; y++) {
            int sy = nearest_idx(y, h, oh);
            for (int x = 0; x < ow; x++)
                dst[((size_t)c * oh + y) * ow + x] = src[((size_t)c * h + sy) * w + nearest_idx(x, w, ow)];
        }
    return MT_OK;
}

mt_status mt_sample_resize(mt_sample *s, int oh, int ow)
{
    MT_REQUIRE(s && s->image && oh > 0 && ow > 0, "mt_sample_resize: bad arguments");
    if (oh == s->h && ow == s->w) return MT_OK;
    float *img = mt_malloc(sizeof(float) * (size_t)s->c * oh * ow);
    uint8_t *mask = NULL;
    if (!img) return MT_ERR_NOMEM;
    if (s->mask && s->k > 0) {
        mask = mt_malloc((size_t)s->k * oh * ow);
        if (!mask) {
            free(img);
            return MT_ERR_NOMEM;
        }
        mt_resize_nearest_u8(s->mask, s->k, s->h, s->w, mask, oh, ow);
    }
    mt_resize_bilinear(s->image, s->c, s->h, s->w, img, oh, ow);
    double fx = (double)ow / s->w, fy = (double)oh / s->h;
    for (int i = 0; i < s->n_boxes; i++) {
        float *b = s->boxes + 5 * i;
        b[0] = (float)((b[0] + 0.5) * fx - 0.5), b[2] = (float)((b[2] + 0.5) * fx - 0.5);
        b[1] = (float)((b[1] + 0.5) * fy - 0.5), b[3] = (float)((b[3] + 0.5) * fy - 0.5);
    }
    for (int i = 0; i < s->n_points; i++) {
        float *p = s->points + 2 * i;
        if (!isnan(p[0])) p[0] = (float)((p[0] + 0.5) * fx - 0.5), p[1] = (float)((p[1] + 0.5) * fy - 0.5);
    }
    /* torch align_corners=False: the centre of new pixel (0,0) lies at old pixel coordinate
     * 0.5 * (old/new) - 0.5 in each axis, so the origin (world position of pixel (0,0)) moves
     * by direction * old spacing * (old/new - 1) / 2; then the spacing scales by old/new. */
    double sx = 1.0 / fx, sy = 1.0 / fy;
    for (int a = 0; a < 3; a++)
        s->meta.origin[a] += s->meta.direction[a * 3 + 0] * s->meta.spacing[0] * (sx - 1.0) * 0.5 +
                             s->meta.direction[a * 3 + 1] * s->meta.spacing[1] * (sy - 1.0) * 0.5;
    s->meta.spacing[0] *= sx;
    s->meta.spacing[1] *= sy;
    free(s->image);
    free(s->mask);
    s->image = img;
    s->mask = mask;
    s->h = oh;
    s->w = ow;
    return MT_OK;
}

mt_status mt_sample_crop(mt_sample *s, int x0, int y0, int x1, int y1)
{
    MT_REQUIRE(s && s->image, "mt_sample_crop: empty sample");
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 >= s->w ? s->w - 1 : x1, y1 = y1 >= s->h ? s->h - 1 : y1;
    MT_REQUIRE(x1 >= x0 && y1 >= y0, "mt_sample_crop: empty crop (%d,%d)-(%d,%d) of a %dx%d image", x0, y0, x1, y1,
               s->w, s->h);
    int nw = x1 - x0 + 1, nh = y1 - y0 + 1;
    float *img = mt_malloc(sizeof(float) * (size_t)s->c * nh * nw);
    uint8_t *mask = s->mask && s->k ? mt_malloc((size_t)s->k * nh * nw) : NULL;
    if (!img || (s->mask && s->k && !mask)) {
        free(img);
        free(mask);
        return MT_ERR_NOMEM;
    }
    for (int c = 0; c < s->c; c++)
        for (int y = 0; y < nh; y++)
            memcpy(img + ((size_t)c * nh + y) * nw, s->image + ((size_t)c * s->h + y + y0) * s->w + x0,
                   sizeof(float) * (size_t)nw);
    for (int c = 0; mask && c < s->k; c++)
        for (int y = 0; y < nh; y++)
            memcpy(mask + ((size_t)c * nh + y) * nw, s->mask + ((size_t)c * s->h + y + y0) * s->w + x0, (size_t)nw);
    int kept = 0;
    for (int i = 0; i < s->n_boxes; i++) {
        float b[5];
        memcpy(b, s->boxes + 5 * i, sizeof b);
        b[0] = fmaxf(b[0] - x0, 0), b[1] = fmaxf(b[1] - y0, 0);
        b[2] = fminf(b[2] - x0, (float)(nw - 1)), b[3] = fminf(b[3] - y0, (float)(nh - 1));
        if (b[2] >= b[0] && b[3] >= b[1]) memcpy(s->boxes + 5 * kept++, b, sizeof b);
    }
    s->n_boxes = kept;
    for (int i = 0; i < s->n_points; i++) {
        float *p = s->points + 2 * i;
        if (isnan(p[0])) continue;
        p[0] -= (float)x0, p[1] -= (float)y0;
        if (p[0] < -0.5f || p[1] < -0.5f || p[0] > nw - 0.5f || p[1] > nh - 0.5f) p[0] = p[1] = NAN;
    }
    for (int a = 0; a < 3; a++) /* world position of the new pixel (0,0) */
        s->meta.origin[a] += s->meta.direction[a * 3 + 0] * s->meta.spacing[0] * x0 +
                             s->meta.direction[a * 3 + 1] * s->meta.spacing[1] * y0;
    free(s->image);
    free(s->mask);
    s->image = img;
    s->mask = mask;
    s->w = nw;
    s->h = nh;
    return MT_OK;
}

mt_status mt_mask_bbox(const uint8_t *mask, int k, int h, int w, int box[4])
{
    MT_REQUIRE(mask && box && k > 0 && h > 0 && w > 0, "mt_mask_bbox: bad arguments");
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int c = 0; c < k; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (mask[((size_t)c * h + y) * w + x]) {
                    x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                    y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
                }
    MT_REQUIRE(x1 >= 0, "mt_mask_bbox: mask is empty (no ROI to crop around)");
    box[0] = x0, box[1] = y0, box[2] = x1, box[3] = y1;
    return MT_OK;
}

mt_status mt_sample_crop_roi(mt_sample *s, const float roi[4], double margin)
{
    MT_REQUIRE(s && roi && margin >= 0, "mt_sample_crop_roi: bad arguments");
    double mx = (roi[2] - roi[0] + 1) * margin, my = (roi[3] - roi[1] + 1) * margin;
    return mt_sample_crop(s, (int)floor(roi[0] - mx), (int)floor(roi[1] - my), (int)ceil(roi[2] + mx),
                          (int)ceil(roi[3] + my));
}

mt_status mt_sample_pad_multiple(mt_sample *s, int multiple, float image_fill)
{
    MT_REQUIRE(s && s->image && multiple > 0, "mt_sample_pad_multiple: bad arguments");
    int nh = (s->h + multiple - 1) / multiple * multiple, nw = (s->w + multiple - 1) / multiple * multiple;
    if (nh == s->h && nw == s->w) return MT_OK;
    float *img = mt_malloc(sizeof(float) * (size_t)s->c * nh * nw);
    uint8_t *mask = s->mask && s->k ? mt_calloc((size_t)s->k * nh * nw, 1) : NULL;
    if (!img || (s->mask && s->k && !mask)) {
        free(img);
        free(mask);
        return MT_ERR_NOMEM;
    }
    for (size_t i = 0; i < (size_t)s->c * nh * nw; i++) img[i] = image_fill;
    for (int c = 0; c < s->c; c++)
        for (int y = 0; y < s->h; y++)
            memcpy(img + ((size_t)c * nh + y) * nw, s->image + ((size_t)c * s->h + y) * s->w,
                   sizeof(float) * (size_t)s->w);
    for (int c = 0; mask && c < s->k; c++)
        for (int y = 0; y < s->h; y++)
            memcpy(mask + ((size_t)c * nh + y) * nw, s->mask + ((size_t)c * s->h + y) * s->w, (size_t)s->w);
    free(s->image);
    free(s->mask);
    s->image = img;
    s->mask = mask;
    s->h = nh;
    s->w = nw;
    return MT_OK;
}

mt_status mt_sample_reorient_axial(mt_sample *s, int strict, int *changed)
{
    MT_REQUIRE(s && s->image && s->h > 0 && s->w > 0, "mt_sample_reorient_axial: empty sample");
    *changed = 0;
    const double *d = s->meta.direction; /* row-major 3x3, column a = direction of index axis a (RAS) */
    int world[2], flip[2];
    for (int a = 0; a < 2; a++) {
        int best = 0;
        for (int r = 1; r < 3; r++)
            if (fabs(d[r * 3 + a]) > fabs(d[best * 3 + a])) best = r;
        if (best == 2 && !strict) return MT_OK; /* coronal / sagittal: kept as stored */
        if (best == 2 || !(fabs(d[best * 3 + a]) > 0))
            return MT_ERR(MT_ERR_FORMAT,
                          "%s: reorient: not an axial slice (image %s axis runs along %s): only axial slices "
                          "are reoriented",
                          s->meta.source, a ? "row" : "column", best == 2 ? "the patient's z axis" : "no axis");
        world[a] = best;
        flip[a] = d[best * 3 + a] > 0; /* wanted: RAS -1 (towards L for x, P for y) */
    }
    MT_REQUIRE(world[0] != world[1], "%s: reorient: both image axes run along world axis %d", s->meta.source, world[0]);
    int transpose = world[0] == 1;
    if (!transpose && !flip[0] && !flip[1]) return MT_OK;
    int h = s->h, w = s->w, nh = transpose ? w : h, nw = transpose ? h : w;
    float *img = mt_malloc(sizeof(float) * (size_t)s->c * h * w);
    uint8_t *mask = s->mask && s->k ? mt_malloc((size_t)s->k * h * w) : NULL;
    if (!img || (s->mask && s->k && !mask)) {
        free(img);
        free(mask);
        return MT_ERR_NOMEM;
    }
    /* input pixel (x, y) -> o[world axis]: x' = o[0] (world x), y' = o[1] (world y) */
#define MAP(x, y, ox, oy)                                                              \
    do {                                                                               \
        double o_[2], i_[2] = {(x), (y)}, n_[2] = {w, h};                              \
        for (int a_ = 0; a_ < 2; a_++)                                                 \
            o_[world[a_]] = flip[a_] ? n_[a_] - 1 - i_[a_] : i_[a_];                   \
        (ox) = o_[0], (oy) = o_[1];                                                    \
    } while (0)
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double ox, oy;
            MAP(x, y, ox, oy);
            size_t to = (size_t)oy * nw + (size_t)ox, from = (size_t)y * w + x, plane = (size_t)h * w;
            for (int c = 0; c < s->c; c++) img[c * plane + to] = s->image[c * plane + from];
            for (int c = 0; mask && c < s->k; c++) mask[c * plane + to] = s->mask[c * plane + from];
        }
    for (int i = 0; i < s->n_points; i++) {
        float *p = s->points + 2 * i;
        if (isnan(p[0]) || isnan(p[1])) continue;
        double ox, oy;
        MAP(p[0], p[1], ox, oy);
        p[0] = (float)ox, p[1] = (float)oy;
    }
    for (int i = 0; i < s->n_boxes; i++) {
        float *b = s->boxes + 5 * i;
        double ax, ay, bx, by;
        MAP(b[0], b[1], ax, ay);
        MAP(b[2], b[3], bx, by);
        b[0] = (float)fmin(ax, bx), b[1] = (float)fmin(ay, by), b[2] = (float)fmax(ax, bx), b[3] = (float)fmax(ay, by);
    }
#undef MAP
    mt_meta old = s->meta;
    int n[2] = {w, h};
    for (int r = 0; r < 3; r++) { /* the world position of the old pixel that lands on (0, 0) */
        double p = old.origin[r];
        for (int a = 0; a < 2; a++)
            if (flip[a]) p += old.direction[r * 3 + a] * old.spacing[a] * (n[a] - 1);
        s->meta.origin[r] = p;
    }
    for (int a = 0; a < 2; a++) {
        int b = world[a];
        s->meta.spacing[b] = old.spacing[a];
        for (int r = 0; r < 3; r++) s->meta.direction[r * 3 + b] = (flip[a] ? -1.0 : 1.0) * old.direction[r * 3 + a];
    }
    free(s->image);
    s->image = img;
    if (mask) {
        free(s->mask);
        s->mask = mask;
    }
    s->h = nh, s->w = nw;
    *changed = 1;
    return MT_OK;
}
