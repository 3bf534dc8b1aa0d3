/* data/crop.h: square crops centred on a box, resampled to a fixed size (S4: the
 * nasal-bone box of a 512x512 cephalogram -> a 256x256 crop for every later model).
 *
 * Geometry, in medtrain's pixel frame (data/sample.h: origin at the centre of the
 * top-left pixel, so an image of width W spans [-0.5, W - 0.5]):
 *   box (x0, y0, x1, y1) -> centre c = ((x0 + x1)/2, (y0 + y1)/2),
 *   side s = max(x1 - x0, y1 - y0) * (1 + 2 margin); a variant v > 0 moves c by
 *   (u1, u2) * J * s and scales s by 1 + u3 * S (u uniform in [-1, 1), see
 *   mt_crop_variant). The crop window is [c - s/2, c + s/2] in x and y.
 *   Output pixel j (0..size-1) samples the source at x = c.x - s/2 + (j + 0.5) s/size
 *   (torch interpolate's align_corners=False convention: a window equal to the whole
 *   image gives exactly the importer's bilinear resize, data/preprocess.h).
 *   Image: bilinear with indices clamped to the image (as torch), 0 where the sample
 *   point lies outside [-0.5, W - 0.5] x [-0.5, H - 0.5] (outside the film).
 *   Mask: nearest, source index floor(x0_edge + j s/size) (torch mode="nearest"),
 *   0 outside. Points: p' = (p - (c - s/2)) size/s - 0.5 (NaN stays NaN; points
 *   outside the crop keep their transformed coordinates). Boxes: corners
 *   transformed the same way, clipped to the crop [-0.5, size - 0.5], dropped when
 *   empty. meta.spacing[0..1] *= s/size and meta.origin moves to the new pixel (0,0).
 */
#ifndef MT_DATA_CROP_H
#define MT_DATA_CROP_H

#include <stdint.h>

#include "sample.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A square crop window: centre (cx, cy) and side, pixels of the source frame. */
typedef struct mt_crop_window {
    double cx, cy, side;
} mt_crop_window;

/* The plain window of a box (x0, y0, x1, y1, pixels): centre of the box, side =
 * max(w, h) * (1 + 2 margin). Errors: MT_ERR_INVALID for a non-finite or empty box
 * (x1 <= x0 and y1 <= y0) or margin <= -0.5 (a negative margin crops inside the box). */
mt_status mt_crop_window_of_box(const float box[4], double margin, mt_crop_window *out);

/* Variant `variant` of a plain window: variant 0 is the window itself; variant v > 0
 * moves the centre by uniform(-jitter, jitter) * side in x and in y and scales the
 * side by uniform(1 - scale_jitter, 1 + scale_jitter). The three uniforms come from
 * Philox (core/rng.h) keyed by (seed, sample, variant), counters 0, 1, 2 of the
 * derived stream, so a variant does not depend on order or threads.
 * Errors: MT_ERR_INVALID for jitter < 0 or scale_jitter outside [0, 1). */
mt_status mt_crop_variant(const mt_crop_window *plain, uint64_t seed, int sample, int variant, double jitter,
                          double scale_jitter, mt_crop_window *out);

/* Crops src through window w into a new size x size sample *out (image bilinear,
 * mask nearest, points and boxes moved, meta copied with spacing/origin updated;
 * label copied). *out must be initialised (mt_sample_init) and is overwritten.
 * Errors: MT_ERR_INVALID (size < 1, side <= 0, empty source), MT_ERR_NOMEM. */
mt_status mt_sample_crop_square(const mt_sample *src, const mt_crop_window *w, int size, mt_sample *out);

#ifdef __cplusplus
}
#endif
#endif
