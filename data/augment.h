/* data/augment.h: random data augmentation for 2D medical images and their labels.
 *
 * One transform is *sampled* per (seed, epoch, sample index) into an mt_augment_draw and
 * then applied identically to the image (bilinear), its mask (nearest neighbour), its
 * boxes (4 corners mapped, bounding box taken, clipped) and its landmark points. Every
 * random number comes from Philox streams keyed by mt_rng_derive(seed, epoch, index)
 * (core/rng.h), so results do not depend on the number of threads, on batch
 * composition, or on CPU vs CUDA.
 *
 * Supported (the knobs of Keras ImageDataGenerator / MONAI RandAffine, RandElastic...):
 *   geometric: rotation, translation, isotropic zoom (a similarity transform; zoom {1,1}
 *              gives a rigid one), horizontal / vertical flip, elastic grid warping
 *              (cubic B-spline displacement field on a coarse random control grid,
 *              as TorchIO RandomElasticDeformation);
 *   intensity: brightness (additive), contrast (multiplicative about a centre),
 *              Gaussian noise, salt-and-pepper noise.
 *
 * Coordinates follow data/sample.h: x = column, y = row (down), pixel centres at
 * integers, (0,0) the top-left pixel. Rotation and zoom are about the image centre
 * ((W-1)/2, (H-1)/2). Sampling an output pixel p reads the input at
 *     inv( p + elastic(p) )
 * where inv is the inverse of the affine `fwd` (input -> output). Pixels that fall
 * outside the input get `fill_value` (image) or 0 (mask), as torch grid_sample with
 * padding_mode="zeros", align_corners=True, when fill_value = 0.
 */
#ifndef MT_DATA_AUGMENT_H
#define MT_DATA_AUGMENT_H

#include <stdint.h>

#include "../core/rng.h"
#include "sample.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_AUG_MAX_GRID 8 /* control points per axis of the elastic grid, at most */

/* What to sample. Ranges are symmetric unless given as [lo, hi]. mt_augment_params_init
 * sets the identity (everything off). */
typedef struct mt_augment_params {
    float affine_prob;       /* probability of applying rotation/translation/zoom (default 1) */
    float rotation_deg;      /* angle ~ U[-r, r] degrees, positive = counter-clockwise on screen (Keras rotation_range) */
    float translate_frac[2]; /* shift ~ U[-t, t] * width (x) and * height (y) (Keras width/height_shift_range) */
    float zoom[2];           /* scale ~ U[lo, hi], > 1 enlarges the content (MONAI RandZoom); {1,1} = none */
    float hflip_prob;        /* probability of a left-right flip (Keras horizontal_flip = 0.5) */
    float vflip_prob;        /* probability of an up-down flip */
    float elastic_prob;      /* probability of elastic warping */
    int elastic_grid;        /* control points per axis, 2..MT_AUG_MAX_GRID (default 5) */
    float elastic_alpha;     /* max displacement of a control point, pixels; keep below half the grid spacing */
    float brightness;        /* additive offset ~ U[-b, b], image units */
    float contrast[2];       /* factor ~ U[lo, hi] applied as (v - contrast_center) * f + contrast_center */
    float contrast_center;   /* pivot of the contrast change (0 for z-scored images) */
    float noise_prob;        /* probability of additive Gaussian noise */
    float noise_std;         /* its standard deviation, image units */
    float salt_pepper_prob;  /* probability of salt-and-pepper noise */
    float salt_pepper_frac;  /* fraction of pixels replaced (half salt, half pepper) */
    float salt_value, pepper_value; /* the replacement values (default 1 and 0) */
    float fill_value;        /* image value outside the source (Keras cval; default 0) */
} mt_augment_params;

/* One sampled transform for an image of size h x w. Plain data (no pointers), so an array of
 * draws can be copied to the GPU as is. */
typedef struct mt_augment_draw {
    int h, w;
    double fwd[6];           /* input -> output pixel: x' = f0 x + f1 y + f2, y' = f3 x + f4 y + f5 */
    double inv[6];           /* output -> input (inverse of fwd) */
    int elastic_grid;        /* 0 = no elastic warp */
    float elastic[2][MT_AUG_MAX_GRID * MT_AUG_MAX_GRID]; /* control-point displacements dx, dy (pixels) */
    float brightness, contrast, contrast_center;
    float noise_std;         /* 0 = no Gaussian noise */
    float sp_frac;           /* 0 = no salt-and-pepper */
    float salt, pepper, fill;
    uint64_t noise_seed, sp_seed;
    /* the sampled values, for logs and tests */
    float angle_deg, tx, ty, zoom;
    int hflip, vflip;
} mt_augment_draw;

/* Identity parameters (no augmentation); set the fields you want afterwards. */
void mt_augment_params_init(mt_augment_params *p);
/* MT_ERR_INVALID (naming the field) when a probability is outside [0,1], a range reversed, a
 * zoom <= 0, elastic_grid outside 2..MT_AUG_MAX_GRID, or a negative std/alpha. */
mt_status mt_augment_params_check(const mt_augment_params *p);
/* The identity transform for h x w. */
void mt_augment_draw_identity(int h, int w, mt_augment_draw *d);
/* A fixed geometric transform (no randomness): rotation angle_deg (counter-clockwise on
 * screen) and zoom about the centre, then translation (tx, ty) pixels; flips first.
 * fwd = T(c + t) R(angle) S(zoom) F(hflip, vflip) T(-c). For test-time augmentation and tests. */
void mt_augment_draw_affine(int h, int w, float angle_deg, float zoom, float tx, float ty, int hflip, int vflip,
                            mt_augment_draw *d);
/* Samples the transform of sample `index` in `epoch` from the stream
 * mt_rng_derive(seed, epoch, index). Same inputs -> same draw, on any thread. */
mt_status mt_augment_draw_sample(const mt_augment_params *p, int h, int w, uint64_t seed, uint64_t epoch,
                                 uint64_t index, mt_augment_draw *d);
/* The inverse geometric transform (fwd and inv swapped; intensity changes dropped).
 * MT_ERR_UNSUPPORTED for a draw with elastic warping (no closed-form inverse). */
mt_status mt_augment_draw_invert(const mt_augment_draw *d, mt_augment_draw *out);

/* Maps an input point to the output (affine, then the elastic warp inverted by fixed-point
 * iteration). NaN stays NaN. */
void mt_augment_map_point(const mt_augment_draw *d, float x, float y, float *ox, float *oy);
/* Image [C,H,W] (H, W of the draw) -> out [C,H,W]: bilinear resampling then intensity changes.
 * in and out must not overlap. */
void mt_augment_image(const mt_augment_draw *d, int c, const float *in, float *out);
/* Mask [K,H,W] uint8 -> out [K,H,W]: nearest-neighbour resampling, 0 outside. */
void mt_augment_mask(const mt_augment_draw *d, int k, const uint8_t *in, uint8_t *out);
/* Boxes [n,5] (x0,y0,x1,y1,class) -> out [n,5]: the 4 corners mapped, their bounding box clipped
 * to [0,W-1]x[0,H-1]; boxes left with zero area are dropped. Returns the number kept (<= n).
 * in == out is allowed. */
int mt_augment_boxes(const mt_augment_draw *d, int n, const float *in, float *out);
/* Points [n,2] -> out [n,2]; a point mapped outside [-0.5, W-0.5) x [-0.5, H-0.5) becomes NaN
 * (missing). in == out is allowed. */
void mt_augment_points(const mt_augment_draw *d, int n, const float *in, float *out);
/* Applies d to a whole sample in place (image, mask, boxes, points). MT_ERR_INVALID if the
 * sample's size differs from the draw's; MT_ERR_NOMEM. */
mt_status mt_augment_apply(const mt_augment_draw *d, mt_sample *s);

#ifdef MT_WITH_CUDA
/* CUDA twin for a batch already on GPU `device` (data/augment.cu), on medtrain's stream:
 * images_in/out [n,C,H,W] float, masks_in [n,K,H,W] uint8 -> masks_out [n,K,H,W] float 0/1
 * (masks may be NULL when k = 0). draws: n host draws. Same result as the CPU functions
 * within float rounding. in/out must not overlap. */
mt_status mt_augment_batch_cuda(int device, const mt_augment_draw *draws, int n, int c, int h, int w,
                                const float *images_in, float *images_out, int k, const uint8_t *masks_in,
                                float *masks_out);
#endif

/* ---- per-pixel helpers shared by augment.c and augment.cu (same code on CPU and GPU) ---- */

/* floor(v) for |v| < 2^31 without a libm call (x86-64 without SSE4.1 has no floor instruction). */
MT_HD float mt_aug_floor(float v)
{
    float t = (float)(int)v;
    return t > v ? t - 1.0f : t;
}

/* Uniform cubic B-spline weights for parameter t in [0,1). */
MT_HD void mt_aug_bspline(float t, float *wt)
{
    float t2 = t * t, t3 = t2 * t, u = 1.0f - t;
    wt[0] = u * u * u * (1.0f / 6.0f);
    wt[1] = (3.0f * t3 - 6.0f * t2 + 4.0f) * (1.0f / 6.0f);
    wt[2] = (-3.0f * t3 + 3.0f * t2 + 3.0f * t + 1.0f) * (1.0f / 6.0f);
    wt[3] = t3 * (1.0f / 6.0f);
}

/* Elastic displacement at output pixel (x, y): B-spline of the control grid spanning the image. */
MT_HD void mt_aug_elastic_at(const mt_augment_draw *d, float x, float y, float *dx, float *dy)
{
    int g = d->elastic_grid;
    float ux = d->w > 1 ? x * (float)(g - 1) / (float)(d->w - 1) : 0.0f;
    float uy = d->h > 1 ? y * (float)(g - 1) / (float)(d->h - 1) : 0.0f;
    ux = ux < -1.0f ? -1.0f : (ux > (float)g ? (float)g : ux); /* far-away points: keep (int) defined */
    uy = uy < -1.0f ? -1.0f : (uy > (float)g ? (float)g : uy);
    float fx = mt_aug_floor(ux), fy = mt_aug_floor(uy);
    int ix = (int)fx, iy = (int)fy;
    float wx[4], wy[4];
    mt_aug_bspline(ux - fx, wx);
    mt_aug_bspline(uy - fy, wy);
    float sx = 0.0f, sy = 0.0f;
    for (int j = 0; j < 4; j++) {
        int r = iy - 1 + j;
        r = r < 0 ? 0 : (r > g - 1 ? g - 1 : r);
        for (int i = 0; i < 4; i++) {
            int q = ix - 1 + i;
            q = q < 0 ? 0 : (q > g - 1 ? g - 1 : q);
            float wgt = wy[j] * wx[i];
            sx += wgt * d->elastic[0][r * g + q];
            sy += wgt * d->elastic[1][r * g + q];
        }
    }
    *dx = sx;
    *dy = sy;
}

/* Input position sampled by output pixel (x, y). */
MT_HD void mt_aug_source(const mt_augment_draw *d, float x, float y, float *sx, float *sy)
{
    if (d->elastic_grid) {
        float ex, ey;
        mt_aug_elastic_at(d, x, y, &ex, &ey);
        x += ex;
        y += ey;
    }
    *sx = (float)d->inv[0] * x + (float)d->inv[1] * y + (float)d->inv[2];
    *sy = (float)d->inv[3] * x + (float)d->inv[4] * y + (float)d->inv[5];
}

/* Bilinear value of plane [h,w] at (sx, sy); taps outside the plane read `fill`. */
MT_HD float mt_aug_bilinear(const float *p, int h, int w, float sx, float sy, float fill)
{
    if (!(sx > -1.0f && sy > -1.0f && sx < (float)w && sy < (float)h)) return fill; /* also NaN */
    float fx = mt_aug_floor(sx), fy = mt_aug_floor(sy);
    int x0 = (int)fx, y0 = (int)fy;
    float ax = sx - fx, ay = sy - fy;
    float v00 = (x0 >= 0 && y0 >= 0) ? p[y0 * w + x0] : fill;
    float v01 = (x0 + 1 < w && y0 >= 0) ? p[y0 * w + x0 + 1] : fill;
    float v10 = (x0 >= 0 && y0 + 1 < h) ? p[(y0 + 1) * w + x0] : fill;
    float v11 = (x0 + 1 < w && y0 + 1 < h) ? p[(y0 + 1) * w + x0 + 1] : fill;
    float top = v00 + ax * (v01 - v00), bot = v10 + ax * (v11 - v10);
    return top + ay * (bot - top);
}

/* Index y*w + x of the nearest pixel to (sx, sy), or -1 outside. */
MT_HD int mt_aug_nearest(int h, int w, float sx, float sy)
{
    if (!(sx >= -0.5f && sy >= -0.5f && sx < (float)w && sy < (float)h)) return -1; /* also NaN */
    int x = (int)mt_aug_floor(sx + 0.5f), y = (int)mt_aug_floor(sy + 0.5f);
    return (x < 0 || y < 0 || x >= w || y >= h) ? -1 : y * w + x;
}

/* Intensity changes of element `idx` (= channel*H*W + y*W + x) with resampled value v. */
MT_HD float mt_aug_intensity(const mt_augment_draw *d, float v, uint64_t idx)
{
    if (d->contrast != 1.0f) v = (v - d->contrast_center) * d->contrast + d->contrast_center;
    if (d->brightness != 0.0f) v += d->brightness;
    if (d->noise_std > 0.0f) v += d->noise_std * (float)mt_philox_normal(d->noise_seed, idx);
    if (d->sp_frac > 0.0f) {
        float u = mt_philox_uniform(d->sp_seed, idx);
        if (u < 0.5f * d->sp_frac) v = d->pepper;
        else if (u < d->sp_frac) v = d->salt;
    }
    return v;
}

#ifdef __cplusplus
}
#endif
#endif
