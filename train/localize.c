/* train/localize.c: pointing game, IoU of a thresholded map and the tau search
 * (localize.h). */
#include "localize.h"

#include <math.h>
#include <string.h>

double mt_loc_tau(int j) { return (j + 1) / 20.0; }

void mt_loc_minmax(float *map, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t p = 0; p < n; p++) {
        lo = map[p] < lo ? map[p] : lo;
        hi = map[p] > hi ? map[p] : hi;
    }
    for (size_t p = 0; p < n; p++) map[p] = hi > lo ? (float)((map[p] - lo) / (hi - lo)) : 0.0f;
}

size_t mt_loc_argmax(const float *map, size_t n)
{
    size_t best = 0;
    for (size_t p = 1; p < n; p++)
        if (map[p] > map[best] || (isnan(map[best]) && !isnan(map[p]))) best = p;
    return best;
}

int mt_loc_pointing_hit(const float *map, const uint8_t *mask, size_t n)
{
    return n > 0 && mask[mt_loc_argmax(map, n)] != 0;
}

double mt_loc_iou(const float *map, const uint8_t *mask, size_t n, double tau)
{
    size_t inter = 0, uni = 0;
    for (size_t p = 0; p < n; p++) {
        int a = (double)map[p] > tau, b = mask[p] != 0;
        inter += (size_t)(a && b);
        uni += (size_t)(a || b);
    }
    return uni ? (double)inter / (double)uni : 1.0;
}

void mt_loc_iou_grid(const float *map, const uint8_t *mask, size_t n, double iou[MT_LOC_N_TAU])
{
    /* per grid tau: predicted pixels (map > tau) and those inside the mask; a pixel with
     * value v counts for every j with tau_j < v */
    size_t pred[MT_LOC_N_TAU] = {0}, inter[MT_LOC_N_TAU] = {0}, area = 0;
    for (size_t p = 0; p < n; p++) {
        double v = map[p];
        int in = mask[p] != 0;
        area += (size_t)in;
        for (int j = 0; j < MT_LOC_N_TAU && v > mt_loc_tau(j); j++) {
            pred[j]++;
            inter[j] += (size_t)in;
        }
    }
    for (int j = 0; j < MT_LOC_N_TAU; j++) {
        size_t uni = pred[j] + area - inter[j];
        iou[j] = uni ? (double)inter[j] / (double)uni : 1.0;
    }
}

void mt_loc_acc_add(mt_loc_acc *a, const float *map, const uint8_t *mask, size_t n)
{
    size_t area = 0;
    for (size_t p = 0; p < n; p++) area += mask[p] != 0;
    if (area == 0) return;
    double iou[MT_LOC_N_TAU];
    mt_loc_iou_grid(map, mask, n, iou);
    a->n++;
    a->hits += mt_loc_pointing_hit(map, mask, n);
    for (int j = 0; j < MT_LOC_N_TAU; j++) a->iou_sum[j] += iou[j];
}

int mt_loc_acc_best_tau(const mt_loc_acc *a)
{
    if (a->n == 0) return -1;
    int best = 0;
    for (int j = 1; j < MT_LOC_N_TAU; j++)
        if (a->iou_sum[j] > a->iou_sum[best]) best = j;
    return best;
}

double mt_loc_acc_pointing(const mt_loc_acc *a) { return a->n ? (double)a->hits / (double)a->n : NAN; }

double mt_loc_acc_iou(const mt_loc_acc *a, int j)
{
    return a->n && j >= 0 && j < MT_LOC_N_TAU ? a->iou_sum[j] / (double)a->n : NAN;
}
