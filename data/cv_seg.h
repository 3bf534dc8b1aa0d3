/* data/cv_seg.h: the two OpenCV algorithms of the semi-automatic labeling (data/semiauto.h),
 * behind a C API. data/cv_seg.cpp is a thin C++ wrapper (like data/dicom.cpp): every OpenCV
 * call runs inside try/catch and a cv::Exception becomes MT_ERR_UNSUPPORTED with OpenCV's
 * message; nothing C++ crosses into C. Only the core and imgproc modules are used.
 *
 * Images are 8-bit grey [h][w] row-major (a CT slice windowed to 0..255, data/preprocess.h
 * mt_window_to_u8); boxes are pixel rectangles x0 <= x < x1, y0 <= y < y1 (cv::Rect(x0, y0,
 * x1 - x0, y1 - y0)), already checked to lie inside the image by the caller.
 */
#ifndef MT_DATA_CV_SEG_H
#define MT_DATA_CV_SEG_H

#include <stdint.h>

#include "../core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Histogram back-projection: the histogram of the box's pixels (`bins` uniform bins over
 * 0..255, cv::calcHist), scaled to 0..255 (cv::normalize NORM_MINMAX), looked up for every
 * pixel of the image (cv::calcBackProject):
 *   out[i] = rint(255 * (hist[bin(img[i])] - min(hist)) / (max(hist) - min(hist))),
 *   bin(v) = floor(v * bins / 256), bins 2..256 (all 0 when every bin holds the same count).
 * Errors: MT_ERR_INVALID (bad arguments), MT_ERR_UNSUPPORTED (an OpenCV exception).
 * Source: OpenCV tutorial "Back Projection" (calcHist, normalize NORM_MINMAX, calcBackProject). */
mt_status mt_cv_backproject(const uint8_t *img, int h, int w, const int box[4], int bins, uint8_t *out);

/* Values of a GrabCut seed map (OpenCV's GC_BGD, GC_FGD, GC_PR_BGD, GC_PR_FGD). */
enum { MT_GC_BGD = 0, MT_GC_FGD = 1, MT_GC_PR_BGD = 2, MT_GC_PR_FGD = 3 };

/* GrabCut (cv::grabCut, `iterations` rounds) on the grey image replicated to 3 channels.
 * seed == NULL: initialised from the box (GC_INIT_WITH_RECT: outside definite background,
 * inside probable foreground); else from seed[h*w] (MT_GC_* values, GC_INIT_WITH_MASK; box
 * unused but still checked). out[i] = 1 where the result is GC_FGD or GC_PR_FGD, else 0.
 * OpenCV's RNG (GMM initialisation) is reset to its default state first, so a result is
 * reproducible.
 * Errors: MT_ERR_INVALID, MT_ERR_UNSUPPORTED (an OpenCV exception, e.g. a seed without any
 * background or foreground sample), MT_ERR_NOMEM.
 * Source: Rother et al., "GrabCut", SIGGRAPH 2004; OpenCV's grabCut. */
mt_status mt_cv_grabcut(const uint8_t *img, int h, int w, const int box[4], const uint8_t *seed, int iterations,
                        uint8_t *out);

#ifdef __cplusplus
}
#endif
#endif
