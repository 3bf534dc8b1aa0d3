/* data/crop.c: square box-centred crops resampled to a fixed size (crop.h). */
#include "crop.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"

mt_status mt_crop_window_of_box(const float box[4], double margin, mt_crop_window *out)
{
    MT_REQUIRE(box && out, "mt_crop_window_of_box: NULL argument");
    MT_REQUIRE(margin > -0.5 && isfinite(margin), "crop: margin %g must be > -0.5 (negative: tighter than the box)", margin);
    for (int k = 0; k < 4; k++)
        MT_REQUIRE(isfinite(box[k]), "crop: box (%g, %g, %g, %g) is not finite", box[0], box[1], box[2], box[3]);
    double w = (double)box[2] - box[0], h = (double)box[3] - box[1];
    double side = (w > h ? w : h) * (1 + 2 * margin);
    MT_REQUIRE(side > 0, "crop: box (%g, %g, %g, %g) is empty", box[0], box[1], box[2], box[3]);
    out->cx = 0.5 * ((double)box[0] + box[2]);
    out->cy = 0.5 * ((double)box[1] + box[3]);
    out->side = side;
    return MT_OK;
}

mt_status mt_crop_variant(const mt_crop_window *plain, uint64_t seed, int sample, int variant, double jitter,
                          double scale_jitter, mt_crop_window *out)
{
    MT_REQUIRE(plain && out && sample >= 0 && variant >= 0, "mt_crop_variant: bad arguments");
    MT_REQUIRE(jitter >= 0 && isfinite(jitter), "crop: jitter %g must be >= 0", jitter);
    MT_REQUIRE(scale_jitter >= 0 && scale_jitter < 1, "crop: scale_jitter %g must be in [0, 1)", scale_jitter);
    *out = *plain;
    if (variant == 0) return MT_OK;
    uint64_t key = mt_rng_derive(seed, (uint64_t)sample, (uint64_t)variant);
    double u[3];
    for (int k = 0; k < 3; k++) u[k] = 2 * mt_philox_uniform_d(key, (uint64_t)k) - 1; /* [-1, 1) */
    out->cx = plain->cx + u[0] * jitter * plain->side;
    out->cy = plain->cy + u[1] * jitter * plain->side;
    out->side = plain->side * (1 + u[2] * scale_jitter);
    return MT_OK;
}

/* bilinear sample of one plane at (x, y) (pixel-centre frame), clamped indices, 0 outside the image */
static float sample_bilinear(const float *p, int h, int w, double x, double y)
{
    if (!(x >= -0.5 && x <= w - 0.5 && y >= -0.5 && y <= h - 0.5)) return 0.0f;
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    int ix = (int)floor(x), iy = (int)floor(y);
    if (ix > w - 1) ix = w - 1;
    if (iy > h - 1) iy = h - 1;
    int ix1 = ix + 1 < w ? ix + 1 : w - 1, iy1 = iy + 1 < h ? iy + 1 : h - 1;
    double lx = x - ix, ly = y - iy;
    if (lx > 1) lx = 1;
    if (ly > 1) ly = 1;
    double top = (1 - lx) * p[(size_t)iy * w + ix] + lx * p[(size_t)iy * w + ix1];
    double bot = (1 - lx) * p[(size_t)iy1 * w + ix] + lx * p[(size_t)iy1 * w + ix1];
    return (float)((1 - ly) * top + ly * bot);
}

/* source x of output column j (pixel-centre frame) */
static double src_coord(double c, double side, int size, int j)
{
    return c - side / 2 + (j + 0.5) * side / size;
}

static void crop_image(const mt_sample *src, const mt_crop_window *w, int size, float *dst)
{
    for (int ch = 0; ch < src->c; ch++) {
        const float *p = src->image + (size_t)ch * src->h * src->w;
        float *q = dst + (size_t)ch * size * size;
        for (int i = 0; i < size; i++) {
            double y = src_coord(w->cy, w->side, size, i);
            for (int j = 0; j < size; j++)
                q[(size_t)i * size + j] = sample_bilinear(p, src->h, src->w, src_coord(w->cx, w->side, size, j), y);
        }
    }
}

static void crop_mask(const mt_sample *src, const mt_crop_window *w, int size, uint8_t *dst)
{
    const double sc = w->side / size, ex = w->cx - w->side / 2 + 0.5, ey = w->cy - w->side / 2 + 0.5;
    for (int k = 0; k < src->k; k++) {
        const uint8_t *p = src->mask + (size_t)k * src->h * src->w;
        uint8_t *q = dst + (size_t)k * size * size;
        for (int i = 0; i < size; i++) {
            double fy = floor(ey + i * sc);
            for (int j = 0; j < size; j++) {
                double fx = floor(ex + j * sc);
                int in = fx >= 0 && fx < src->w && fy >= 0 && fy < src->h;
                q[(size_t)i * size + j] = in ? p[(size_t)fy * src->w + (size_t)fx] : 0;
            }
        }
    }
}

/* boxes: corners moved, clipped to the crop, empty ones dropped */
static int crop_boxes(const mt_sample *src, const mt_crop_window *w, int size, float *dst)
{
    const double k = size / w->side, ox = w->cx - w->side / 2, oy = w->cy - w->side / 2, hi = size - 0.5;
    int n = 0;
    for (int b = 0; b < src->n_boxes; b++) {
        const float *s = src->boxes + 5 * b;
        double v[4] = {((double)s[0] - ox) * k - 0.5, ((double)s[1] - oy) * k - 0.5, ((double)s[2] - ox) * k - 0.5,
                       ((double)s[3] - oy) * k - 0.5};
        for (int i = 0; i < 4; i++) v[i] = v[i] < -0.5 ? -0.5 : v[i] > hi ? hi : v[i];
        if (!(v[2] > v[0] && v[3] > v[1])) continue;
        float *o = dst + 5 * n++;
        for (int i = 0; i < 4; i++) o[i] = (float)v[i];
        o[4] = s[4];
    }
    return n;
}

mt_status mt_sample_crop_square(const mt_sample *src, const mt_crop_window *w, int size, mt_sample *out)
{
    MT_REQUIRE(src && w && out, "mt_sample_crop_square: NULL argument");
    MT_REQUIRE(size >= 1, "crop: size %d must be >= 1", size);
    MT_REQUIRE(w->side > 0 && isfinite(w->side) && isfinite(w->cx) && isfinite(w->cy),
               "%s: crop window (centre %g, %g, side %g) is empty or not finite", src->meta.source, w->cx, w->cy, w->side);
    MT_REQUIRE(src->image && src->c > 0 && src->h > 0 && src->w > 0, "%s: crop: empty image", src->meta.source);
    mt_sample_init(out);
    const size_t plane = (size_t)size * size;
    out->image = mt_malloc(sizeof(float) * (size_t)src->c * plane);
    out->mask = src->k > 0 && src->mask ? mt_malloc((size_t)src->k * plane) : NULL;
    out->boxes = src->n_boxes > 0 ? mt_malloc(sizeof(float) * 5 * (size_t)src->n_boxes) : NULL;
    out->points = src->n_points > 0 ? mt_malloc(sizeof(float) * 2 * (size_t)src->n_points) : NULL;
    if (!out->image || (src->k > 0 && src->mask && !out->mask) || (src->n_boxes > 0 && !out->boxes) ||
        (src->n_points > 0 && !out->points)) {
        mt_sample_free(out);
        return mt_last_status();
    }
    out->c = src->c, out->h = size, out->w = size;
    out->k = out->mask ? src->k : 0;
    out->label = src->label;
    out->meta = src->meta;
    crop_image(src, w, size, out->image);
    if (out->mask) crop_mask(src, w, size, out->mask);
    out->n_boxes = src->n_boxes > 0 ? crop_boxes(src, w, size, out->boxes) : 0;
    const double k = size / w->side, ox = w->cx - w->side / 2, oy = w->cy - w->side / 2;
    out->n_points = src->n_points;
    for (int i = 0; i < src->n_points; i++) {
        const float *p = src->points + 2 * i;
        out->points[2 * i] = isnan(p[0]) ? NAN : (float)(((double)p[0] - ox) * k - 0.5);
        out->points[2 * i + 1] = isnan(p[1]) ? NAN : (float)(((double)p[1] - oy) * k - 0.5);
    }
    /* new pixel (0,0) sits at source (x, y); spacing grows by side/size */
    const double x = src_coord(w->cx, w->side, size, 0), y = src_coord(w->cy, w->side, size, 0);
    mt_meta *m = &out->meta;
    for (int r = 0; r < 3; r++)
        m->origin[r] = src->meta.origin[r] + m->direction[3 * r] * src->meta.spacing[0] * x +
                       m->direction[3 * r + 1] * src->meta.spacing[1] * y;
    m->spacing[0] = src->meta.spacing[0] / k;
    m->spacing[1] = src->meta.spacing[1] / k;
    return MT_OK;
}
