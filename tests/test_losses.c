/* tests/test_losses.c: bce_with_logits, bce, l1_loss, mse_loss and
 * cross_entropy against PyTorch (tests/fixtures/gen_losses.py -> losses.h5)
 * for every reduction: forward value and gradients (logits/prediction and,
 * for the pointwise losses, target) within 1e-5 relative. Cases include
 * logits of +-100, p = 0 and 1 (log clamp), weights broadcast from [7,1] and
 * [1,5], pos_weight [C] and [C,1,1], masks, ignore_index, class weights and
 * pixel weight maps. Also: bad targets and shapes fail with clear messages,
 * an empty mask gives 0, and nothing leaks. */
#include <math.h>
#include <string.h>

#include "../core/device.h"
#include "../core/ops.h"
#include "fixture.h"
#include "test.h"

#define FX "tests/fixtures/losses.h5"

static mt_tensor *opt_load(const char *name, const char *what)
{
    char key[128];
    snprintf(key, sizeof key, "%s/%s", name, what);
    return fx_exists(FX, key) ? fx_load(FX, key) : NULL;
}

static int compare(const char *name, const char *what, const mt_tensor *got, const mt_tensor *ref, char *why,
                   size_t len)
{
    char w[512];
    if (!got || !mt_same_shape(got, ref)) {
        char a[64] = "missing", b[64];
        if (got) mt_shape_str(got, a, sizeof a);
        snprintf(why, len, "%s %s: shape %s, PyTorch %s", name, what, a, mt_shape_str(ref, b, sizeof b));
        return 0;
    }
    if (!mt_test_close_f(MT_DATA(got), MT_DATA(ref), mt_numel(ref), 1e-5, 1e-6, w, sizeof w)) {
        snprintf(why, len, "%s %s: %s", name, what, w);
        return 0;
    }
    return 1;
}

/* Runs fixture case `name` (a loss of `kind`); 0 on success, else why is set. */
static int run_loss_case(const char *name, char *why, size_t len)
{
    double red = 0, ign = -100;
    int rc = 1;
    fx_attr(FX, name, "reduction", &red);
    fx_attr(FX, name, "ignore_index", &ign);
    mt_tensor *x = opt_load(name, "x"), *t = opt_load(name, "target");
    mt_tensor *w = opt_load(name, "weight"), *pw = opt_load(name, "pos_weight");
    mt_tensor *cw = opt_load(name, "class_weight"), *pxw = opt_load(name, "pixel_weight");
    mt_tensor *ref = opt_load(name, "out"), *gout = opt_load(name, "gout");
    mt_tensor *gx = opt_load(name, "gx"), *gt = opt_load(name, "gt"), *y = NULL;
    if (!x || !t || !ref || !gout || !gx) {
        snprintf(why, len, "%s: fixture incomplete: %s", name, mt_last_error());
        goto done;
    }
    mt_requires_grad(x, 1);
    mt_requires_grad(t, gt != NULL);
    mt_reduction r = (mt_reduction)(int)red;
    if (!strncmp(name, "bcel_", 5)) y = mt_bce_with_logits(x, t, w, pw, r);
    else if (!strncmp(name, "bce_", 4)) y = mt_bce(x, t, w, r);
    else if (!strncmp(name, "l1_", 3)) y = mt_l1_loss(x, t, w, r);
    else if (!strncmp(name, "mse_", 4)) y = mt_mse_loss(x, t, w, r);
    else y = mt_cross_entropy(x, t, cw, (int)ign, pxw, r);
    if (!y) {
        snprintf(why, len, "%s: %s", name, mt_last_error());
        goto done;
    }
    if (!compare(name, "forward", y, ref, why, len)) goto done;
    if (mt_backward(y, gout, 0) != MT_OK) {
        snprintf(why, len, "%s backward: %s", name, mt_last_error());
        goto done;
    }
    if (!compare(name, "grad input", x->grad, gx, why, len)) goto done;
    if (gt && !compare(name, "grad target", t->grad, gt, why, len)) goto done;
    rc = 0;
done:;
    mt_tensor *all[] = {x, t, w, pw, cw, pxw, ref, gout, gx, gt, y};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mt_tensor_release(all[i]);
    return rc;
}

static int run_cases(const char *const *names, int n, char *why, size_t len)
{
    for (int i = 0; i < n; i++)
        if (run_loss_case(names[i], why, len)) return 1;
    return 0;
}

#define RUN_CASES(names)                                                                            \
    do {                                                                                            \
        char why_[1024];                                                                            \
        CHECK(!run_cases(names, (int)(sizeof names / sizeof names[0]), why_, sizeof why_), "%s", why_); \
    } while (0)

TEST(losses_bce_with_logits_match_torch)
{
    static const char *const names[] = {"bcel_none", "bcel_mean_posw", "bcel_sum_weight", "bcel_wmean_mask_posw",
                                        "bcel_nchw_mean"};
    RUN_CASES(names);
}

TEST(losses_bce_match_torch)
{
    static const char *const names[] = {"bce_none_weight", "bce_mean", "bce_wmean_mask", "bce_sum_weight_bcast"};
    RUN_CASES(names);
}

TEST(losses_l1_mse_match_torch)
{
    static const char *const names[] = {"l1_none",  "l1_mean_weight", "l1_sum",  "l1_wmean_mask",
                                        "mse_none_weight", "mse_mean", "mse_sum", "mse_wmean_mask"};
    RUN_CASES(names);
}

TEST(losses_cross_entropy_match_torch)
{
    static const char *const names[] = {"ce_2d_mean_cw_ignore", "ce_2d_none",          "ce_2d_mean_plain",
                                        "ce_nchw_sum_pw",       "ce_nchw_mean_cw_pw",  "ce_nchw_wmean_cw_pw",
                                        "ce_nchw_mean_ignore",  "ce_extreme_mean",     "ce_batch1_none"};
    RUN_CASES(names);
}

TEST(losses_bce_with_logits_finite_at_extremes)
{
    /* the naive log(sigmoid(x)) overflows to inf at |x| = 100 in float32 */
    int s[1] = {4};
    mt_real xv[4] = {100, -100, 88, -88}, tv[4] = {0, 1, 0, 1};
    mt_tensor *x = mt_tensor_from_host(mt_cpu(), 1, s, xv), *t = mt_tensor_from_host(mt_cpu(), 1, s, tv);
    mt_tensor *y = mt_bce_with_logits(x, t, NULL, NULL, MT_REDUCE_NONE);
    CHECK_NOTNULL(y);
    for (int i = 0; i < 4; i++)
        CHECK(isfinite(MT_DATA(y)[i]) && fabs(MT_DATA(y)[i] - fabs(xv[i])) < 1e-3, "loss[%d] = %g, expected %g", i,
              (double)MT_DATA(y)[i], fabs(xv[i]));
    mt_tensor_release(y);
    mt_tensor_release(x);
    mt_tensor_release(t);
}

TEST(losses_empty_mask_weighted_mean_is_zero)
{
    int s[2] = {2, 3};
    mt_real xv[6] = {1, 2, 3, 4, 5, 6}, tv[6] = {0};
    mt_tensor *x = mt_tensor_from_host(mt_cpu(), 2, s, xv), *t = mt_tensor_from_host(mt_cpu(), 2, s, tv);
    mt_tensor *m = mt_tensor_zeros(MT_REAL, mt_cpu(), 2, s);
    CHECK(x && t && m, "alloc");
    mt_requires_grad(x, 1);
    mt_tensor *y = mt_mse_loss(x, t, m, MT_REDUCE_WEIGHTED_MEAN);
    CHECK_NOTNULL(y);
    CHECK(MT_DATA(y)[0] == 0, "empty mask: loss %g, expected 0", (double)MT_DATA(y)[0]);
    CHECK_OK(mt_backward(y, NULL, 0));
    for (int i = 0; i < 6; i++) CHECK(MT_DATA(x->grad)[i] == 0, "empty mask: grad[%d] = %g", i, (double)MT_DATA(x->grad)[i]);
    mt_tensor_release(y);
    mt_tensor_release(m);
    mt_tensor_release(x);
    mt_tensor_release(t);
}

TEST(losses_errors_are_actionable)
{
    int sx[2] = {2, 3}, st[1] = {2}, sbad[2] = {2, 2};
    mt_tensor *x = mt_tensor_zeros(MT_REAL, mt_cpu(), 2, sx);
    mt_tensor *t = mt_tensor_zeros(MT_I32, mt_cpu(), 1, st);
    mt_tensor *bad = mt_tensor_zeros(MT_REAL, mt_cpu(), 2, sbad);
    CHECK(x && t && bad, "alloc");
    ((int32_t *)mt_data(t))[1] = 3; /* class 3 of 3 */
    mt_error_clear();
    CHECK(mt_cross_entropy(x, t, NULL, -100, NULL, MT_REDUCE_MEAN) == NULL, "target 3 with C = 3 must fail");
    CHECK(mt_last_status() == MT_ERR_INVALID && strstr(mt_last_error(), "target 3"), "message: %s", mt_last_error());
    mt_error_clear();
    CHECK(mt_mse_loss(x, bad, NULL, MT_REDUCE_MEAN) == NULL && strstr(mt_last_error(), "target shape"),
          "shape mismatch message: %s", mt_last_error());
    mt_error_clear();
    CHECK(mt_l1_loss(x, x, bad, MT_REDUCE_SUM) == NULL && strstr(mt_last_error(), "weight"),
          "weight [2,2] cannot broadcast to [2,3]: %s", mt_last_error());
    mt_error_clear();
    CHECK(mt_cross_entropy(x, x, NULL, -100, NULL, MT_REDUCE_MEAN) == NULL && strstr(mt_last_error(), "int32"),
          "float target must be rejected: %s", mt_last_error());
    mt_error_clear();
    mt_tensor_release(x);
    mt_tensor_release(t);
    mt_tensor_release(bad);
}

TEST(losses_no_leaks)
{
    size_t before = mt_alloc_in_use(MT_CPU);
    char why[1024];
    CHECK(!run_loss_case("ce_nchw_wmean_cw_pw", why, sizeof why), "%s", why);
    CHECK(!run_loss_case("bcel_wmean_mask_posw", why, sizeof why), "%s", why);
    CHECK(mt_alloc_in_use(MT_CPU) == before, "%zu bytes leaked", mt_alloc_in_use(MT_CPU) - before);
}
