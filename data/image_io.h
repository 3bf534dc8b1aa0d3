/* data/image_io.h: 2D image files: PNG (libpng), TIFF (libtiff), JPEG (libjpeg),
 * PGM P5/P2 (read by hand, Netpbm spec). Writing: PNG only (masks, previews; pictures
 * such as overlays: train/plot.h).
 *
 * Values are the stored grey levels, not rescaled: 0..255 for 8-bit, 0..65535 for
 * 16-bit (PGM maxval > 255 is big-endian 16-bit, as the Netpbm spec says).
 * Channels: grey -> C=1; grey+alpha -> C=1 (alpha dropped); RGB/RGBA -> C=3 (alpha
 * dropped); palette PNG -> C=1 holding the palette INDEX (so palette label maps such
 * as the COVID-SemiSeg GT_multiclass PNGs read as class ids 0,1,2).
 * Equivalent: numpy.asarray(PIL.Image.open(path)) for these modes.
 */
#ifndef MT_DATA_IMAGE_IO_H
#define MT_DATA_IMAGE_IO_H

#include <stdint.h>

#include "sample.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads `path` (format from its magic bytes, not its extension) into out->image
 * float [C,H,W]; out->meta.source = path, spacing unknown (0). Previous buffers of
 * `out` are freed. Errors: MT_ERR_IO (missing, unreadable, truncated),
 * MT_ERR_FORMAT (unknown format or corrupt stream), MT_ERR_UNSUPPORTED
 * (e.g. 1-bit or float TIFF), MT_ERR_NOMEM; the message names the file. */
mt_status mt_image_read(const char *path, mt_sample *out);

/* Writes an 8-bit PNG: `pixels` row-major [H,W,C] interleaved, C = 1 (grey) or 3 (RGB).
 * Errors: MT_ERR_IO naming the path. */
mt_status mt_image_write_png(const char *path, const uint8_t *pixels, int w, int h, int c);


#ifdef __cplusplus
}
#endif
#endif
