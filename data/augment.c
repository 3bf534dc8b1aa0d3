/* data/augment.c: sampling of augmentation transforms and their CPU application
 * (see data/augment.h; the CUDA twin is data/augment.cu and shares the per-pixel code).
 * Sources: Keras ImageDataGenerator (rotation/shift/zoom/flip), MONAI RandAffine /
 * RandGaussianNoise / RandAdjustContrast, TorchIO RandomElasticDeformation (B-spline grid).
 */
#include "augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void mt_augment_params_init(mt_augment_params *p)
{
    memset(p, 0, sizeof *p);
    p->affine_prob = 1.0f;
    p->zoom[0] = p->zoom[1] = 1.0f;
    p->contrast[0] = p->contrast[1] = 1.0f;
    p->elastic_grid = 5;
    p->salt_value = 1.0f;
    p->pepper_value = 0.0f;
}

static int is_prob(float v) { return v >= 0.0f && v <= 1.0f; }

mt_status mt_augment_params_check(const mt_augment_params *p)
{
    MT_REQUIRE(p, "augment: NULL parameters");
    MT_REQUIRE(is_prob(p->affine_prob), "augment: affine_prob %g outside [0,1]", p->affine_prob);
    MT_REQUIRE(is_prob(p->hflip_prob), "augment: hflip_prob %g outside [0,1]", p->hflip_prob);
    MT_REQUIRE(is_prob(p->vflip_prob), "augment: vflip_prob %g outside [0,1]", p->vflip_prob);
    MT_REQUIRE(is_prob(p->elastic_prob), "augment: elastic_prob %g outside [0,1]", p->elastic_prob);
    MT_REQUIRE(is_prob(p->noise_prob), "augment: noise_prob %g outside [0,1]", p->noise_prob);
    MT_REQUIRE(is_prob(p->salt_pepper_prob), "augment: salt_pepper_prob %g outside [0,1]", p->salt_pepper_prob);
    MT_REQUIRE(is_prob(p->salt_pepper_frac), "augment: salt_pepper_frac %g outside [0,1]", p->salt_pepper_frac);
    MT_REQUIRE(p->rotation_deg >= 0 && p->rotation_deg <= 180, "augment: rotation_deg %g outside [0,180]",
               p->rotation_deg);
    MT_REQUIRE(p->translate_frac[0] >= 0 && p->translate_frac[1] >= 0 && p->translate_frac[0] <= 1 &&
                   p->translate_frac[1] <= 1,
               "augment: translate_frac (%g, %g) outside [0,1]", p->translate_frac[0], p->translate_frac[1]);
    MT_REQUIRE(p->zoom[0] > 0 && p->zoom[0] <= p->zoom[1], "augment: zoom range [%g, %g] must be 0 < lo <= hi",
               p->zoom[0], p->zoom[1]);
    MT_REQUIRE(p->contrast[0] >= 0 && p->contrast[0] <= p->contrast[1],
               "augment: contrast range [%g, %g] must be 0 <= lo <= hi", p->contrast[0], p->contrast[1]);
    MT_REQUIRE(p->brightness >= 0, "augment: brightness %g must be >= 0", p->brightness);
    MT_REQUIRE(p->noise_std >= 0, "augment: noise_std %g must be >= 0", p->noise_std);
    MT_REQUIRE(p->elastic_alpha >= 0, "augment: elastic_alpha %g must be >= 0", p->elastic_alpha);
    MT_REQUIRE(p->elastic_prob == 0 || (p->elastic_grid >= 2 && p->elastic_grid <= MT_AUG_MAX_GRID),
               "augment: elastic_grid %d outside [2,%d]", p->elastic_grid, MT_AUG_MAX_GRID);
    return MT_OK;
}

/* 2x2 + translation inverse of an affine map a (x' = a0 x + a1 y + a2, y' = a3 x + a4 y + a5). */
static void affine_inverse(const double *a, double *r)
{
    double det = a[0] * a[4] - a[1] * a[3];
    r[0] = a[4] / det;
    r[1] = -a[1] / det;
    r[3] = -a[3] / det;
    r[4] = a[0] / det;
    r[2] = -(r[0] * a[2] + r[1] * a[5]);
    r[5] = -(r[3] * a[2] + r[4] * a[5]);
}

void mt_augment_draw_identity(int h, int w, mt_augment_draw *d)
{
    memset(d, 0, sizeof *d);
    d->h = h;
    d->w = w;
    d->fwd[0] = d->fwd[4] = d->inv[0] = d->inv[4] = 1.0;
    d->contrast = 1.0f;
    d->zoom = 1.0f;
}

/* fwd = T(c + t) * R(angle) * S(zoom) * F(flips) * T(-c), c the image centre. */
static void compose_affine(mt_augment_draw *d)
{
    double cx = 0.5 * (d->w - 1), cy = 0.5 * (d->h - 1);
    double th = d->angle_deg * (3.14159265358979323846 / 180.0);
    double c = cos(th), s = sin(th), z = d->zoom;
    double fx = d->hflip ? -1.0 : 1.0, fy = d->vflip ? -1.0 : 1.0;
    /* counter-clockwise on screen with y down: x' = c x + s y, y' = -s x + c y */
    double m0 = c * z * fx, m1 = s * z * fy, m3 = -s * z * fx, m4 = c * z * fy;
    d->fwd[0] = m0, d->fwd[1] = m1, d->fwd[3] = m3, d->fwd[4] = m4;
    d->fwd[2] = cx + d->tx - (m0 * cx + m1 * cy);
    d->fwd[5] = cy + d->ty - (m3 * cx + m4 * cy);
    affine_inverse(d->fwd, d->inv);
}

void mt_augment_draw_affine(int h, int w, float angle_deg, float zoom, float tx, float ty, int hflip, int vflip,
                            mt_augment_draw *d)
{
    mt_augment_draw_identity(h, w, d);
    d->angle_deg = angle_deg, d->zoom = zoom, d->tx = tx, d->ty = ty;
    d->hflip = hflip != 0, d->vflip = vflip != 0;
    compose_affine(d);
}

/* Counters of the parameter draws within a sample's stream. */
enum { C_AFFINE = 0, C_ANGLE, C_TX, C_TY, C_ZOOM, C_HFLIP, C_VFLIP, C_ELASTIC, C_BRIGHT, C_CONTRAST, C_NOISE, C_SP,
       C_GRID = 16 };

mt_status mt_augment_draw_sample(const mt_augment_params *p, int h, int w, uint64_t seed, uint64_t epoch,
                                 uint64_t index, mt_augment_draw *d)
{
    MT_TRY(mt_augment_params_check(p));
    MT_REQUIRE(h > 0 && w > 0, "augment: image size %dx%d must be positive", h, w);
    mt_augment_draw_identity(h, w, d);
    uint64_t s = mt_rng_derive(seed, epoch, index);
#define U(counter) mt_philox_uniform_d(s, (counter))
#define SYM(counter, r) ((2.0 * U(counter) - 1.0) * (r))
    if (U(C_AFFINE) < p->affine_prob) {
        d->angle_deg = (float)SYM(C_ANGLE, p->rotation_deg);
        d->tx = (float)(SYM(C_TX, p->translate_frac[0]) * w);
        d->ty = (float)(SYM(C_TY, p->translate_frac[1]) * h);
        d->zoom = (float)(p->zoom[0] + U(C_ZOOM) * (p->zoom[1] - p->zoom[0]));
    }
    d->hflip = U(C_HFLIP) < p->hflip_prob;
    d->vflip = U(C_VFLIP) < p->vflip_prob;
    compose_affine(d);
    if (p->elastic_prob > 0 && p->elastic_alpha > 0 && U(C_ELASTIC) < p->elastic_prob) {
        int g = p->elastic_grid;
        d->elastic_grid = g;
        for (int i = 0; i < g * g; i++) {
            d->elastic[0][i] = (float)SYM(C_GRID + 2 * (uint64_t)i, p->elastic_alpha);
            d->elastic[1][i] = (float)SYM(C_GRID + 2 * (uint64_t)i + 1, p->elastic_alpha);
        }
    }
    d->brightness = (float)SYM(C_BRIGHT, p->brightness);
    d->contrast = (float)(p->contrast[0] + U(C_CONTRAST) * (p->contrast[1] - p->contrast[0]));
    d->contrast_center = p->contrast_center;
    if (p->noise_std > 0 && U(C_NOISE) < p->noise_prob) d->noise_std = p->noise_std;
    if (p->salt_pepper_frac > 0 && U(C_SP) < p->salt_pepper_prob) d->sp_frac = p->salt_pepper_frac;
#undef U
#undef SYM
    d->salt = p->salt_value;
    d->pepper = p->pepper_value;
    d->fill = p->fill_value;
    d->noise_seed = mt_rng_derive(s, 1, 0);
    d->sp_seed = mt_rng_derive(s, 2, 0);
    return MT_OK;
}

mt_status mt_augment_draw_invert(const mt_augment_draw *d, mt_augment_draw *out)
{
    if (d->elastic_grid)
        return MT_ERR(MT_ERR_UNSUPPORTED, "augment: an elastic warp has no closed-form inverse");
    mt_augment_draw r;
    mt_augment_draw_identity(d->h, d->w, &r);
    memcpy(r.fwd, d->inv, sizeof r.fwd);
    memcpy(r.inv, d->fwd, sizeof r.inv);
    r.fill = d->fill;
    *out = r;
    return MT_OK;
}

void mt_augment_map_point(const mt_augment_draw *d, float x, float y, float *ox, float *oy)
{
    double px = d->fwd[0] * x + d->fwd[1] * y + d->fwd[2];
    double py = d->fwd[3] * x + d->fwd[4] * y + d->fwd[5];
    if (d->elastic_grid && !isnan(px) && !isnan(py)) {
        /* solve q + e(q) = p for q: q <- p - e(q), a contraction while |grad e| < 1 */
        float qx = (float)px, qy = (float)py;
        for (int it = 0; it < 30; it++) {
            float ex, ey;
            mt_aug_elastic_at(d, qx, qy, &ex, &ey);
            qx = (float)px - ex;
            qy = (float)py - ey;
        }
        px = qx, py = qy;
    }
    *ox = (float)px;
    *oy = (float)py;
}

void mt_augment_image(const mt_augment_draw *dp, int c, const float *in, float *out)
{
    const mt_augment_draw dl = *dp, *d = &dl; /* a local copy: stores to out cannot alias it */
    int h = d->h, w = d->w;
    size_t plane = (size_t)h * w;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float sx, sy;
            mt_aug_source(d, (float)x, (float)y, &sx, &sy);
            for (int ch = 0; ch < c; ch++) {
                size_t o = (size_t)ch * plane + (size_t)y * w + x;
                float v = mt_aug_bilinear(in + (size_t)ch * plane, h, w, sx, sy, d->fill);
                out[o] = mt_aug_intensity(d, v, o);
            }
        }
}

void mt_augment_mask(const mt_augment_draw *dp, int k, const uint8_t *in, uint8_t *out)
{
    const mt_augment_draw dl = *dp, *d = &dl; /* a local copy: stores to out cannot alias it */
    int h = d->h, w = d->w;
    size_t plane = (size_t)h * w;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float sx, sy;
            mt_aug_source(d, (float)x, (float)y, &sx, &sy);
            int src = mt_aug_nearest(h, w, sx, sy);
            for (int ch = 0; ch < k; ch++)
                out[(size_t)ch * plane + (size_t)y * w + x] = src < 0 ? 0 : in[(size_t)ch * plane + (size_t)src];
        }
}

int mt_augment_boxes(const mt_augment_draw *d, int n, const float *in, float *out)
{
    int kept = 0;
    float xmax = (float)(d->w - 1), ymax = (float)(d->h - 1);
    for (int b = 0; b < n; b++) {
        const float *r = in + 5 * (size_t)b;
        float cx[4] = {r[0], r[2], r[0], r[2]}, cy[4] = {r[1], r[1], r[3], r[3]};
        float cls = r[4];
        float x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
        for (int i = 0; i < 4; i++) {
            float ox, oy;
            mt_augment_map_point(d, cx[i], cy[i], &ox, &oy);
            x0 = fminf(x0, ox), x1 = fmaxf(x1, ox);
            y0 = fminf(y0, oy), y1 = fmaxf(y1, oy);
        }
        x0 = fmaxf(x0, 0.0f), y0 = fmaxf(y0, 0.0f);
        x1 = fminf(x1, xmax), y1 = fminf(y1, ymax);
        if (!(x1 > x0 && y1 > y0)) continue;
        float *o = out + 5 * (size_t)kept++;
        o[0] = x0, o[1] = y0, o[2] = x1, o[3] = y1, o[4] = cls;
    }
    return kept;
}

void mt_augment_points(const mt_augment_draw *d, int n, const float *in, float *out)
{
    for (int i = 0; i < n; i++) {
        float ox, oy;
        mt_augment_map_point(d, in[2 * i], in[2 * i + 1], &ox, &oy);
        if (!(ox >= -0.5f && ox < d->w - 0.5f && oy >= -0.5f && oy < d->h - 0.5f)) ox = oy = NAN;
        out[2 * i] = ox;
        out[2 * i + 1] = oy;
    }
}

mt_status mt_augment_apply(const mt_augment_draw *d, mt_sample *s)
{
    MT_REQUIRE(d && s && s->image, "mt_augment_apply: NULL argument or sample without image");
    MT_REQUIRE(s->h == d->h && s->w == d->w, "augment: sample is %dx%d but the transform was drawn for %dx%d", s->h,
               s->w, d->h, d->w);
    size_t plane = (size_t)s->h * s->w;
    float *img = mt_malloc(sizeof(float) * plane * (size_t)s->c);
    uint8_t *mask = s->mask && s->k > 0 ? mt_malloc(plane * (size_t)s->k) : NULL;
    if (!img || (s->mask && s->k > 0 && !mask)) {
        free(img);
        free(mask);
        return MT_ERR_NOMEM;
    }
    mt_augment_image(d, s->c, s->image, img);
    free(s->image);
    s->image = img;
    if (mask) {
        mt_augment_mask(d, s->k, s->mask, mask);
        free(s->mask);
        s->mask = mask;
    }
    if (s->n_boxes > 0) s->n_boxes = mt_augment_boxes(d, s->n_boxes, s->boxes, s->boxes);
    if (s->n_points > 0) mt_augment_points(d, s->n_points, s->points, s->points);
    return MT_OK;
}
