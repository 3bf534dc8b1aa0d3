/* tests/test_localize.c: train/localize.h (pointing game, IoU of a thresholded
 * map, tau search) against numpy on crafted arrays. The expected values come from
 *   rng = np.random.default_rng(7); three 6x7 maps (rng.integers(0, 100) + 0.3) / 100
 *   with a 3x3 mask at rng.integers(1, 4) each, the mask's pixels raised by 0.4
 *   (at most 0.993), image 0's first outside pixel set to its maximum (a tie);
 *   hit = mask.ravel()[np.argmax(map)]; iou = ((map > t) & m).sum() / ((map > t) | m).sum()
 *   for t in np.arange(1, 20) / 20 (map as float64); mean over the three images. */
#include <math.h>
#include <string.h>

#include "../train/localize.h"
#include "test.h"

enum { H = 6, W = 7, P = H * W };

static const float k_map[3][P] = {
    {0.993f, 0.623f, 0.683f, 0.893f, 0.573f, 0.773f, 0.833f, 0.223f, 0.053f, 0.303f, 0.283f, 0.873f, 0.913f, 0.003f,
     0.493f, 0.823f, 0.133f, 0.793f, 0.113f, 0.463f, 0.813f, 0.303f, 0.743f, 0.673f, 0.993f, 0.253f, 0.993f, 0.443f,
     0.473f, 0.903f, 0.983f, 0.953f, 0.503f, 0.993f, 0.803f, 0.793f, 0.993f, 0.993f, 0.743f, 0.983f, 0.463f, 0.213f},
    {0.853f, 0.613f, 0.113f, 0.043f, 0.443f, 0.033f, 0.143f, 0.513f, 0.973f, 0.463f, 0.803f, 0.913f, 0.823f, 0.623f,
     0.443f, 0.513f, 0.263f, 0.493f, 0.373f, 0.243f, 0.993f, 0.013f, 0.093f, 0.193f, 0.993f, 0.993f, 0.993f, 0.203f,
     0.723f, 0.363f, 0.483f, 0.403f, 0.993f, 0.993f, 0.663f, 0.153f, 0.533f, 0.263f, 0.993f, 0.993f, 0.583f, 0.503f},
    {0.703f, 0.633f, 0.043f, 0.743f, 0.473f, 0.093f, 0.243f, 0.543f, 0.723f, 0.503f, 0.613f, 0.873f, 0.683f, 0.363f,
     0.643f, 0.993f, 0.503f, 0.453f, 0.663f, 0.383f, 0.593f, 0.323f, 0.623f, 0.553f, 0.783f, 0.813f, 0.403f, 0.373f,
     0.573f, 0.993f, 0.793f, 0.983f, 0.433f, 0.603f, 0.443f, 0.633f, 0.543f, 0.673f, 0.953f, 0.153f, 0.563f, 0.443f},
};
static const uint8_t k_mask[3][P] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};
/* numpy: mean IoU over the three images at tau = 0.05, 0.10, ..., 0.95 */
static const double k_mean_iou[MT_LOC_N_TAU] = {
    0.22326454033771106, 0.22894736842105265, 0.23728070175438595, 0.24410573946177663, 0.25603070175438597,
    0.26718266253869966, 0.27483108108108106, 0.2891281512605042,  0.2993382961124897,  0.31900716308512406,
    0.34547908232118757, 0.32976353928299007, 0.3548474945533769,  0.3728864734299517,  0.3814009661835749,
    0.33888888888888885, 0.3953962703962704,  0.4373015873015873,  0.4403263403263404};

TEST(localize_pointing_iou_tau_vs_numpy)
{
    /* pointing: image 0's first maximum (pixel 0, a tie with mask pixels) is outside, image 1's
     * first 0.993 is pixel 20 (outside), image 2's is pixel 15 (inside) */
    CHECK(mt_loc_argmax(k_map[0], P) == 0 && mt_loc_argmax(k_map[1], P) == 20 && mt_loc_argmax(k_map[2], P) == 15,
          "argmax %zu %zu %zu (numpy: 0 20 15)", mt_loc_argmax(k_map[0], P), mt_loc_argmax(k_map[1], P),
          mt_loc_argmax(k_map[2], P));
    CHECK(!mt_loc_pointing_hit(k_map[0], k_mask[0], P) && !mt_loc_pointing_hit(k_map[1], k_mask[1], P) &&
              mt_loc_pointing_hit(k_map[2], k_mask[2], P),
          "pointing hits differ from numpy (0, 0, 1)");
    CHECK(fabs(mt_loc_iou(k_map[0], k_mask[0], P, 0.5) - 1.0 / 3) < 1e-12, "IoU image 0 at 0.5: %g (numpy 1/3)",
          mt_loc_iou(k_map[0], k_mask[0], P, 0.5));
    /* the one-pass grid equals the direct IoU at each tau; the accumulated means equal numpy's */
    mt_loc_acc acc;
    memset(&acc, 0, sizeof acc);
    for (int i = 0; i < 3; i++) {
        double grid[MT_LOC_N_TAU];
        mt_loc_iou_grid(k_map[i], k_mask[i], P, grid);
        for (int j = 0; j < MT_LOC_N_TAU; j++)
            CHECK(fabs(grid[j] - mt_loc_iou(k_map[i], k_mask[i], P, mt_loc_tau(j))) < 1e-15, "image %d tau %g", i,
                  mt_loc_tau(j));
        mt_loc_acc_add(&acc, k_map[i], k_mask[i], P);
    }
    static const uint8_t empty[P] = {0};
    mt_loc_acc_add(&acc, k_map[0], empty, P); /* no defect: not scored */
    CHECK(acc.n == 3 && acc.hits == 1, "scored %ld images, %ld hits (3, 1)", acc.n, acc.hits);
    CHECK(fabs(mt_loc_acc_pointing(&acc) - 1.0 / 3) < 1e-15, "pointing %g", mt_loc_acc_pointing(&acc));
    for (int j = 0; j < MT_LOC_N_TAU; j++)
        CHECK(fabs(mt_loc_acc_iou(&acc, j) - k_mean_iou[j]) < 1e-12, "mean IoU at %g: %.17g, numpy %.17g",
              mt_loc_tau(j), mt_loc_acc_iou(&acc, j), k_mean_iou[j]);
    int best = mt_loc_acc_best_tau(&acc);
    CHECK(best == 18 && fabs(mt_loc_tau(best) - 0.95) < 1e-12, "best tau index %d (numpy argmax: 18, tau 0.95)", best);
    /* a map that is 0.6 on the mask and 0.22 elsewhere: every tau in [0.25, 0.55] gives IoU 1; the first wins */
    float step[P];
    for (int p = 0; p < P; p++) step[p] = k_mask[2][p] ? 0.6f : 0.22f;
    mt_loc_acc one;
    memset(&one, 0, sizeof one);
    mt_loc_acc_add(&one, step, k_mask[2], P);
    best = mt_loc_acc_best_tau(&one);
    CHECK(best == 4 && mt_loc_acc_iou(&one, best) == 1.0 && mt_loc_acc_iou(&one, 0) == 9.0 / P,
          "step map: best index %d (4 = tau 0.25), IoU %g, IoU at 0.05 %g (9/42)", best, mt_loc_acc_iou(&one, best),
          mt_loc_acc_iou(&one, 0));
    memset(&one, 0, sizeof one);
    CHECK(mt_loc_acc_best_tau(&one) == -1 && isnan(mt_loc_acc_pointing(&one)) && isnan(mt_loc_acc_iou(&one, 0)),
          "no image with a defect: no tau, NaN scores");
}

TEST(localize_minmax_per_image)
{
    float v[4] = {2, 5, 3.5f, 5}, c[3] = {7, 7, 7};
    mt_loc_minmax(v, 4);
    mt_loc_minmax(c, 3);
    CHECK(v[0] == 0 && v[1] == 1 && v[2] == 0.5f && v[3] == 1, "minmax %g %g %g %g (numpy 0 1 0.5 1)", v[0], v[1],
          v[2], v[3]);
    CHECK(c[0] == 0 && c[1] == 0 && c[2] == 0, "a constant map becomes 0");
}
