/* data/preprocess.h: intensity and geometry pre-processing of 2D samples.
 *
 * Intensity:
 *   HU window (level L, width W, both HU): clip to [L - W/2, L + W/2]; optionally map
 *   linearly to [0,1] (the "window then scale" of CT pipelines; e.g. soft tissue
 *   L 40 W 400, brain L 40 W 80, lung L -600 W 1500).
 *   12/16-bit -> 8-bit: the same window mapped to 0..255 with rounding.
 *   Range scaling: lo -> 0, hi -> 1 (e.g. 8-bit grey levels: lo 0, hi 255), clipped.
 * Geometry (image, mask, boxes and points move together; spacing is updated):
 *   resize: bilinear for images = torch.nn.functional.interpolate(mode="bilinear",
 *   align_corners=False, antialias=False); nearest for masks = interpolate(mode="nearest")
 *   (source index floor(dst * in/out)). Points/boxes: x' = (x + 0.5) * out/in - 0.5.
 *   crop around an ROI box grown by a margin (10% of its size per side by default).
 *   pad to a multiple of 2^depth (U-Net input), on the bottom/right, so pixel (0,0) and
 *   every label coordinate stay put.
 */
#ifndef MT_DATA_PREPROCESS_H
#define MT_DATA_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "sample.h"

#ifdef __cplusplus
extern "C" {
#endif

/* In place on n values: clip to [level - width/2, level + width/2] (HU); if scale01,
 * then map that interval linearly to [0,1]. Errors: MT_ERR_INVALID if width <= 0. */
mt_status mt_hu_window(float *x, size_t n, double level, double width, int scale01);

/* Window n values (e.g. 12/16-bit CT in HU) to 8-bit: round(255 * (clip(x) - lo) / width),
 * lo = level - width/2. Errors: MT_ERR_INVALID if width <= 0. */
mt_status mt_window_to_u8(const float *x, size_t n, double level, double width, uint8_t *out);

/* In place: x -> clip((x - lo) / (hi - lo), 0, 1). Errors: MT_ERR_INVALID if hi <= lo. */
mt_status mt_scale_range(float *x, size_t n, double lo, double hi);

/* Bilinear resize of c planes [c,h,w] -> [c,oh,ow] (dst allocated by the caller),
 * torch interpolate(mode="bilinear", align_corners=False) semantics. */
mt_status mt_resize_bilinear(const float *src, int c, int h, int w, float *dst, int oh, int ow);

/* Nearest-neighbour resize of uint8 planes [k,h,w] -> [k,oh,ow], torch mode="nearest". */
mt_status mt_resize_nearest_u8(const uint8_t *src, int k, int h, int w, uint8_t *dst, int oh, int ow);

/* Resizes a sample to oh x ow: image bilinear, mask nearest, boxes and points scaled,
 * meta.spacing[0..1] scaled by w/ow, h/oh, meta.origin moved to the centre of the new pixel
 * (0,0): += direction * old spacing * (old/new - 1) / 2 per in-plane axis. Errors: MT_ERR_INVALID, MT_ERR_NOMEM. */
mt_status mt_sample_resize(mt_sample *s, int oh, int ow);

/* Crops the sample to columns x0..x1 and rows y0..y1 (inclusive, clipped to the image);
 * boxes are shifted and clipped (boxes left empty are dropped), points shifted (points
 * falling outside become NaN), meta.origin is moved to the new pixel (0,0). */
mt_status mt_sample_crop(mt_sample *s, int x0, int y0, int x1, int y1);

/* Puts an axial slice in the standard layout from its direction (DICOM Image Orientation
 * (Patient), kept in meta.direction in RAS): columns towards the patient's left, rows towards
 * posterior, i.e. the patient's right on the image left and anterior at the top (as
 * data/recon.h's axial images and a standard CT slice). The in-plane axes are matched to the
 * nearest world axis (x or y), then the image, mask, boxes and points are flipped and/or
 * transposed; meta.direction, origin (the world position of the new pixel (0,0)) and spacing
 * follow. *changed tells whether anything moved. A slice already in that layout is left
 * untouched, and so is a slice that is not axial (an in-plane axis nearest the z axis) unless
 * `strict`. Errors: MT_ERR_FORMAT naming meta.source for a non-axial slice when strict or a
 * degenerate direction; MT_ERR_NOMEM. */
mt_status mt_sample_reorient_axial(mt_sample *s, int strict, int *changed);

/* Bounding box (x0,y0,x1,y1, inclusive pixels) of the nonzero pixels of any channel of
 * a uint8 mask [k,h,w]. Errors: MT_ERR_INVALID when the mask is empty. */
mt_status mt_mask_bbox(const uint8_t *mask, int k, int h, int w, int box[4]);

/* Crops around roi = x0,y0,x1,y1 (pixels) grown by margin * (roi width/height) on each
 * side (margin 0.1 = 10%), clipped to the image. */
mt_status mt_sample_crop_roi(mt_sample *s, const float roi[4], double margin);

/* Pads the bottom and right so h and w become multiples of `multiple` (e.g. 16 for a
 * depth-4 U-Net); image padded with `image_fill` (e.g. -1024 HU, or 0 after scaling),
 * mask with 0. No-op if already a multiple. */
mt_status mt_sample_pad_multiple(mt_sample *s, int multiple, float image_fill);

#ifdef __cplusplus
}
#endif
#endif
