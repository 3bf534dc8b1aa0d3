/* data/cv_seg.cpp: thin C wrapper over OpenCV's calcBackProject and grabCut (cv_seg.h). */
#include "cv_seg.h"

#include <cstring>
#include <exception>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace {

bool args_ok(const uint8_t *img, int h, int w, const int box[4], const uint8_t *out)
{
    return img && out && box && h > 0 && w > 0 && box[0] >= 0 && box[1] >= 0 && box[2] <= w && box[3] <= h &&
           box[2] > box[0] && box[3] > box[1];
}

} // namespace

extern "C" mt_status mt_cv_backproject(const uint8_t *img, int h, int w, const int box[4], int bins, uint8_t *out)
{
    if (!args_ok(img, h, w, box, out) || bins < 2 || bins > 256)
        return MT_ERR(MT_ERR_INVALID, "mt_cv_backproject: bad image, box or bins (%d)", bins);
    try {
        cv::Mat src(h, w, CV_8UC1, const_cast<uint8_t *>(img));
        cv::Mat roi = src(cv::Rect(box[0], box[1], box[2] - box[0], box[3] - box[1]));
        int channels[] = {0}, sizes[] = {bins};
        float range[] = {0.0f, 256.0f};
        const float *ranges[] = {range};
        cv::Mat hist;
        cv::calcHist(&roi, 1, channels, cv::Mat(), hist, 1, sizes, ranges, true, false);
        cv::normalize(hist, hist, 0, 255, cv::NORM_MINMAX, -1, cv::Mat());
        cv::Mat dst(h, w, CV_8UC1, out);
        cv::calcBackProject(&src, 1, channels, hist, dst, ranges, 1.0, true);
        if (dst.data != out) return MT_ERR(MT_ERR_UNSUPPORTED, "mt_cv_backproject: OpenCV reallocated the output");
    } catch (const cv::Exception &e) {
        return MT_ERR(MT_ERR_UNSUPPORTED, "OpenCV calcBackProject: %s", e.what());
    } catch (const std::bad_alloc &) {
        return MT_ERR(MT_ERR_NOMEM, "OpenCV calcBackProject: out of memory (%dx%d image)", w, h);
    } catch (const std::exception &e) {
        return MT_ERR(MT_ERR_UNSUPPORTED, "OpenCV calcBackProject: %s", e.what());
    }
    return MT_OK;
}

extern "C" mt_status mt_cv_grabcut(const uint8_t *img, int h, int w, const int box[4], const uint8_t *seed,
                                   int iterations, uint8_t *out)
{
    if (!args_ok(img, h, w, box, out) || iterations < 1)
        return MT_ERR(MT_ERR_INVALID, "mt_cv_grabcut: bad image, box or iterations (%d)", iterations);
    try {
        cv::Mat grey(h, w, CV_8UC1, const_cast<uint8_t *>(img)), bgr, mask, bgd, fgd;
        cv::cvtColor(grey, bgr, cv::COLOR_GRAY2BGR);
        cv::theRNG().state = 0xffffffff; /* OpenCV's default seed: the same GMM start every call */
        cv::Rect rect(box[0], box[1], box[2] - box[0], box[3] - box[1]);
        if (seed) cv::Mat(h, w, CV_8UC1, const_cast<uint8_t *>(seed)).copyTo(mask);
        cv::grabCut(bgr, mask, rect, bgd, fgd, iterations, seed ? cv::GC_INIT_WITH_MASK : cv::GC_INIT_WITH_RECT);
        for (int y = 0; y < h; y++) {
            const uint8_t *m = mask.ptr<uint8_t>(y);
            for (int x = 0; x < w; x++) out[(size_t)y * w + x] = m[x] == cv::GC_FGD || m[x] == cv::GC_PR_FGD;
        }
    } catch (const cv::Exception &e) {
        return MT_ERR(MT_ERR_UNSUPPORTED, "OpenCV grabCut: %s", e.what());
    } catch (const std::bad_alloc &) {
        return MT_ERR(MT_ERR_NOMEM, "OpenCV grabCut: out of memory (%dx%d image)", w, h);
    } catch (const std::exception &e) {
        return MT_ERR(MT_ERR_UNSUPPORTED, "OpenCV grabCut: %s", e.what());
    }
    return MT_OK;
}
