/* tests/test_metrics.c: core/metrics against hand-derived values and
 * independent formulas (Mann-Whitney U for AUC, two-pass SD). */
#include <stdlib.h>
#include <string.h>

#include "../core/device.h"
#include "../core/metrics.h"
#include "../core/rng.h"
#include "test.h"

/* A 4x4 case, derived by hand:
 *   target      prediction (score > 0.5)
 *   1 1 0 0     1 0 0 0
 *   1 1 0 0     1 1 1 0
 *   0 0 0 0     0 0 0 0
 *   0 0 0 0     0 0 0 1
 * TP = 3 (0,0)(1,0)(1,1); FN = 1 (0,1); FP = 2 (1,2)(3,3); TN = 10.
 * accuracy 13/16, precision 3/5, recall 3/4, specificity 10/12, IoU 3/6, DSC 6/9. */
static const mt_real k_target[16] = {1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
static const mt_real k_scores[16] = {0.9, 0.2, 0.1, 0.0, 0.7, 0.51, 0.6, 0.3, 0.1, 0.4, 0.2, 0.0, 0.1, 0.2, 0.3, 0.99};

TEST(metrics_confusion_4x4_by_hand)
{
    int shape[4] = {1, 1, 4, 4};
    mt_tensor *s = mt_tensor_from_host(mt_cpu(), 4, shape, k_scores);
    mt_tensor *t = mt_tensor_from_host(mt_cpu(), 4, shape, k_target);
    CHECK_NOTNULL(s);
    CHECK_NOTNULL(t);
    mt_confusion c;
    CHECK_OK(mt_confusion_per_image(s, t, 0.5, NULL, 0, 0, &c));
    CHECK(c.tp == 3 && c.fp == 2 && c.fn == 1 && c.tn == 10, "tp %lld fp %lld fn %lld tn %lld", (long long)c.tp,
          (long long)c.fp, (long long)c.fn, (long long)c.tn);
    mt_seg_metrics m = mt_seg_metrics_from_confusion(c);
    double got[6] = {m.accuracy, m.precision, m.recall, m.specificity, m.iou, m.dsc};
    double want[6] = {13.0 / 16, 3.0 / 5, 3.0 / 4, 10.0 / 12, 3.0 / 6, 6.0 / 9};
    CHECK_CLOSE_D(got, want, 6, 0, 1e-12);
    mt_tensor_release(s);
    mt_tensor_release(t);
}

/* Gate (S1 post-processing): pixels outside [-29, 150] HU are not predicted. */
TEST(metrics_hu_gate_removes_pixels_outside_window)
{
    int shape[4] = {1, 1, 4, 4};
    mt_real hu[16];
    for (int i = 0; i < 16; i++) hu[i] = 40; /* muscle */
    hu[6] = -100;                            /* fat: removes FP at (1,2) */
    hu[15] = 400;                            /* bone: removes FP at (3,3) */
    hu[4] = 151;                             /* just above: removes TP at (1,0) -> FN */
    hu[0] = -29;                             /* inclusive bound: (0,0) stays TP */
    mt_tensor *s = mt_tensor_from_host(mt_cpu(), 4, shape, k_scores);
    mt_tensor *t = mt_tensor_from_host(mt_cpu(), 4, shape, k_target);
    mt_tensor *g = mt_tensor_from_host(mt_cpu(), 4, shape, hu);
    CHECK_NOTNULL(g);
    mt_confusion c;
    CHECK_OK(mt_confusion_per_image(s, t, 0.5, g, -29, 150, &c));
    CHECK(c.tp == 2 && c.fp == 0 && c.fn == 2 && c.tn == 12, "tp %lld fp %lld fn %lld tn %lld", (long long)c.tp,
          (long long)c.fp, (long long)c.fn, (long long)c.tn);
    mt_tensor *b = mt_binarize_gated(s, 0.5, g, -29, 150);
    CHECK_NOTNULL(b);
    mt_real want[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK_CLOSE_F((const float *)MT_DATA(b), (const float *)want, 16, 0, 0);
    mt_tensor_release(b);
    mt_tensor_release(s);
    mt_tensor_release(t);
    mt_tensor_release(g);
}

/* Per-image metrics, then mean and sample SD across 3 images of 2 channels. */
TEST(metrics_mean_sd_over_images)
{
    enum { N = 3, K = 2, HW = 64 };
    int shape[4] = {N, K, 8, 8};
    mt_real *sc = malloc(sizeof(mt_real) * N * K * HW), *tg = malloc(sizeof(mt_real) * N * K * HW);
    CHECK(sc && tg, "oom");
    for (int i = 0; i < N * K * HW; i++) {
        sc[i] = mt_philox_uniform(7, (uint64_t)i);
        tg[i] = mt_philox_uniform(8, (uint64_t)i) > 0.6f;
    }
    mt_tensor *s = mt_tensor_from_host(mt_cpu(), 4, shape, sc);
    mt_tensor *t = mt_tensor_from_host(mt_cpu(), 4, shape, tg);
    mt_confusion c[N * K];
    CHECK_OK(mt_confusion_per_image(s, t, 0.3, NULL, 0, 0, c));
    mt_seg_metrics per[N * K];
    double dsc[N * K];
    for (int i = 0; i < N * K; i++) {
        /* Independent count for every (image, channel). */
        int64_t tp = 0, fp = 0, fn = 0, tn = 0;
        for (int j = 0; j < HW; j++) {
            int p = sc[i * HW + j] > 0.3f, y = tg[i * HW + j] > 0.5f;
            tp += p && y, fp += p && !y, fn += !p && y, tn += !p && !y;
        }
        CHECK(c[i].tp == tp && c[i].fp == fp && c[i].fn == fn && c[i].tn == tn, "counts differ at %d", i);
        per[i] = mt_seg_metrics_from_confusion(c[i]);
        dsc[i] = 2.0 * tp / (2.0 * tp + fp + fn);
    }
    mt_seg_metrics mean, sd;
    mt_seg_metrics_mean_sd(per, N * K, &mean, &sd);
    double m = 0, ss = 0;
    for (int i = 0; i < N * K; i++) m += dsc[i];
    m /= N * K;
    for (int i = 0; i < N * K; i++) ss += (dsc[i] - m) * (dsc[i] - m);
    double want[2] = {m, sqrt(ss / (N * K - 1))}, got[2] = {mean.dsc, sd.dsc};
    CHECK_CLOSE_D(got, want, 2, 1e-12, 1e-12);
    /* numpy: np.std([1, 2, 3, 4], ddof=1) = 1.2909944487358056 */
    double x[4] = {1, 2, 3, 4}, mx, sx;
    mt_mean_sd(x, 4, &mx, &sx);
    CHECK(fabs(mx - 2.5) < 1e-15 && fabs(sx - 1.2909944487358056) < 1e-12, "mean %g sd %.17g", mx, sx);
    CHECK(mt_seg_metric_index("dice") == 5 && mt_seg_metric_index("sensitivity") == 2 &&
              mt_seg_metric_index("lerning") == -1,
          "metric names");
    mt_tensor_release(s);
    mt_tensor_release(t);
    free(sc);
    free(tg);
}

TEST(metrics_empty_prediction_and_target_is_perfect)
{
    mt_seg_metrics m = mt_seg_metrics_from_confusion((mt_confusion){0, 0, 0, 100});
    CHECK(m.dsc == 1 && m.iou == 1 && m.accuracy == 1 && m.precision == 1 && m.recall == 1, "empty case");
    m = mt_seg_metrics_from_confusion((mt_confusion){0, 5, 0, 95});
    CHECK(m.dsc == 0 && m.iou == 0 && m.precision == 0 && m.recall == 1, "false positives on empty target");
}

/* sklearn docs example: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75. */
TEST(metrics_auc_sklearn_example_and_ties)
{
    float s[4] = {0.1f, 0.4f, 0.35f, 0.8f}, y[4] = {0, 0, 1, 1};
    double auc;
    CHECK_OK(mt_roc_auc(s, y, 4, &auc));
    CHECK(fabs(auc - 0.75) < 1e-12, "auc %.17g", auc);
    /* All scores tied: one ROC point (1,1), the diagonal: 0.5. */
    float st[4] = {0.5f, 0.5f, 0.5f, 0.5f}, yt[4] = {0, 1, 0, 1};
    CHECK_OK(mt_roc_auc(st, yt, 4, &auc));
    CHECK(fabs(auc - 0.5) < 1e-12, "auc %.17g", auc);
    float y1[4] = {1, 1, 1, 1};
    CHECK(mt_roc_auc(s, y1, 4, &auc) == MT_ERR_INVALID, "one class must fail");
    CHECK(strstr(mt_last_error(), "only one class") != NULL, "message: %s", mt_last_error());
    mt_error_clear();
}

/* AUC equals the Mann-Whitney statistic P(s+ > s-) + 0.5 P(s+ = s-), brute force
 * over all pairs, with many ties (scores quantised to 1/16). */
TEST(metrics_auc_equals_mann_whitney)
{
    enum { N = 300 };
    float s[N], y[N];
    for (int i = 0; i < N; i++) {
        y[i] = mt_philox_uniform(3, (uint64_t)i) < 0.3f;
        s[i] = floorf((mt_philox_uniform(4, (uint64_t)i) + 0.3f * y[i]) * 16) / 16;
    }
    double u = 0, np = 0, nn = 0;
    for (int i = 0; i < N; i++) {
        if (y[i] > 0.5f) np++;
        else nn++;
        for (int j = 0; j < N; j++)
            if (y[i] > 0.5f && y[j] < 0.5f) u += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
    }
    double auc;
    CHECK_OK(mt_roc_auc(s, y, N, &auc));
    CHECK(fabs(auc - u / (np * nn)) < 1e-12, "auc %.17g vs Mann-Whitney %.17g", auc, u / (np * nn));
}

TEST(metrics_confusion_matrix_multiclass)
{
    /* sklearn docs: confusion_matrix([2,0,2,2,0,1], [0,0,2,2,0,2]) = [[2,0,0],[0,0,1],[1,0,2]] */
    int32_t yt[6] = {2, 0, 2, 2, 0, 1}, yp[6] = {0, 0, 2, 2, 0, 2};
    int64_t cm[9];
    CHECK_OK(mt_confusion_matrix(yt, yp, 6, 3, cm));
    int64_t want[9] = {2, 0, 0, 0, 0, 1, 1, 0, 2};
    CHECK(memcmp(cm, want, sizeof cm) == 0, "confusion matrix differs");
    yp[1] = 3;
    CHECK(mt_confusion_matrix(yt, yp, 6, 3, cm) == MT_ERR_INVALID, "out-of-range class must fail");
    mt_error_clear();
}

/* The CUDA kernel gives the same integer counts as the CPU one. */
TEST(metrics_cuda_matches_cpu)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    enum { N = 2, K = 1, H = 37, W = 41 };
    int shape[4] = {N, K, H, W}, gshape[4] = {N, 1, H, W};
    static mt_real sc[N * K * H * W], tg[N * K * H * W], hu[N * H * W];
    for (int i = 0; i < N * K * H * W; i++) {
        sc[i] = mt_philox_uniform(11, (uint64_t)i);
        tg[i] = mt_philox_uniform(12, (uint64_t)i) > 0.5f;
        hu[i] = (mt_real)(mt_philox_uniform(13, (uint64_t)i) * 400 - 200);
    }
    mt_tensor *s = mt_tensor_from_host(mt_cpu(), 4, shape, sc), *t = mt_tensor_from_host(mt_cpu(), 4, shape, tg);
    mt_tensor *g = mt_tensor_from_host(mt_cpu(), 4, gshape, hu);
    mt_tensor *sg = mt_tensor_to(s, mt_cuda(0)), *tgc = mt_tensor_to(t, mt_cuda(0)), *gg = mt_tensor_to(g, mt_cuda(0));
    CHECK_NOTNULL(sg);
    mt_confusion a[N], b[N];
    CHECK_OK(mt_confusion_per_image(s, t, 0.4, g, -29, 150, a));
    CHECK_OK(mt_confusion_per_image(sg, tgc, 0.4, gg, -29, 150, b));
    CHECK(memcmp(a, b, sizeof a) == 0, "CUDA counts differ from CPU");
    mt_tensor *bc = mt_binarize_gated(s, 0.4, g, -29, 150), *bg = mt_binarize_gated(sg, 0.4, gg, -29, 150);
    CHECK_NOTNULL(bg);
    mt_tensor *bh = mt_tensor_to(bg, mt_cpu());
    CHECK_NOTNULL(bh);
    CHECK_CLOSE_F((const float *)MT_DATA(bh), (const float *)MT_DATA(bc), mt_numel(bc), 0, 0);
    mt_tensor *all[] = {s, t, g, sg, tgc, gg, bc, bg, bh};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) mt_tensor_release(all[i]);
}
