/* tests/gradcheck_losses.c: float64 central finite differences for the
 * losses: bce_with_logits (weight, pos_weight, logits up to +-30), bce,
 * l1_loss and mse_loss (with weights/masks; gradients to input and target)
 * and cross_entropy ([N,C] and [N,C,H,W]; class weights, ignore_index, pixel
 * weights), each for reductions NONE, MEAN, SUM and WEIGHTED_MEAN.
 * Loss L = sum(y * r) with r fixed Philox normals (r for a scalar). */
#include <math.h>
#include <string.h>

#include "../core/ops.h"
#include "../core/rng.h"
#include "gradcheck.h"
#include "test.h"

static const char *red_name(int r)
{
    static const char *n[4] = {"none", "mean", "sum", "weighted_mean"};
    return n[r];
}

/* ---- pointwise losses: in = {x, target, weight, pos_weight} */
typedef struct pl_ctx {
    int kind; /* 0 bce_with_logits, 1 bce, 2 l1, 3 mse */
    mt_reduction r;
} pl_ctx;

static mt_tensor *run_pointwise(mt_tensor **in, const void *ctx)
{
    const pl_ctx *c = ctx;
    switch (c->kind) {
    case 0: return mt_bce_with_logits(in[0], in[1], in[2], in[3], c->r);
    case 1: return mt_bce(in[0], in[1], in[2], c->r);
    case 2: return mt_l1_loss(in[0], in[1], in[2], c->r);
    default: return mt_mse_loss(in[0], in[1], in[2], c->r);
    }
}

TEST(gradcheck_losses_pointwise)
{
    static const char *kinds[4] = {"bce_with_logits", "bce", "l1_loss", "mse_loss"};
    int sx[3] = {3, 2, 4}, sw[2] = {1, 4}, sp[2] = {2, 1};
    for (int k = 0; k < 4; k++)
        for (int r = 0; r < 4; r++)
            for (int weighted = 0; weighted < 2; weighted++) {
                mt_tensor *in[4] = {0};
                double lo = k == 1 ? 0.05 : (k == 0 ? -30 : -2), hi = k == 1 ? 0.95 : (k == 0 ? 30 : 2);
                in[0] = gc_randu(3, sx, 200 + k, lo, hi, NULL, 0, 1);
                in[1] = gc_randu(3, sx, 300 + k, k >= 2 ? -2 : 0, k >= 2 ? 2 : 1, NULL, 0, 1);
                if (weighted) in[2] = gc_randu(2, sw, 400 + k, 0.2, 2, NULL, 0, 0);
                if (weighted && k == 0) in[3] = gc_randu(2, sp, 500, 0.5, 3, NULL, 0, 0);
                CHECK(in[0] && in[1], "alloc");
                pl_ctx c = {k, (mt_reduction)r};
                char what[96];
                snprintf(what, sizeof what, "%s reduction %s%s", kinds[k], red_name(r), weighted ? " weighted" : "");
                int ok = gc_check1(T_, what, run_pointwise, &c, in, 4, 55);
                for (int j = 0; j < 4; j++) mt_tensor_release(in[j]);
                if (!ok) return;
            }
}

/* ---- cross entropy: in = {logits, target, class_weight, pixel_weight} */
typedef struct ce_ctx {
    mt_reduction r;
    int ignore_index;
} ce_ctx;

static mt_tensor *run_ce(mt_tensor **in, const void *ctx)
{
    const ce_ctx *c = ctx;
    return mt_cross_entropy(in[0], in[1], in[2], c->ignore_index, in[3], c->r);
}

TEST(gradcheck_losses_cross_entropy)
{
    int sx4[4] = {2, 3, 2, 3}, st4[3] = {2, 2, 3}, sx2[2] = {5, 4}, st2[1] = {5}, sc3[1] = {3}, sc4[1] = {4};
    for (int layout = 0; layout < 2; layout++)
        for (int r = 0; r < 4; r++)
            for (int weighted = 0; weighted < 2; weighted++) {
                int nchw = layout == 1, C = nchw ? 3 : 4;
                mt_tensor *in[4] = {0};
                in[0] = nchw ? gc_randu(4, sx4, 600 + r, -3, 3, NULL, 0, 1)
                             : gc_randu(2, sx2, 610 + r, -3, 3, NULL, 0, 1);
                in[1] = nchw ? mt_tensor_new(MT_I32, mt_cpu(), 3, st4) : mt_tensor_new(MT_I32, mt_cpu(), 1, st2);
                CHECK(in[0] && in[1], "alloc");
                int32_t *t = (int32_t *)mt_data(in[1]);
                for (size_t i = 0; i < mt_numel(in[1]); i++) t[i] = (int32_t)(mt_philox_u32(700, i) % (uint32_t)C);
                t[1] = 255; /* ignored position */
                if (weighted) {
                    in[2] = nchw ? gc_randu(1, sc3, 800, 0.3, 2, NULL, 0, 0)
                                 : gc_randu(1, sc4, 801, 0.3, 2, NULL, 0, 0);
                    in[3] = nchw ? gc_randu(3, st4, 802, 0.5, 3, NULL, 0, 0)
                                 : gc_randu(1, st2, 803, 0.5, 3, NULL, 0, 0);
                }
                ce_ctx c = {(mt_reduction)r, 255};
                char what[96];
                snprintf(what, sizeof what, "cross_entropy %s reduction %s%s", nchw ? "[N,C,H,W]" : "[N,C]",
                         red_name(r), weighted ? " weighted" : "");
                int ok = gc_check1(T_, what, run_ce, &c, in, 4, 55);
                for (int j = 0; j < 4; j++) mt_tensor_release(in[j]);
                if (!ok) return;
            }
}
