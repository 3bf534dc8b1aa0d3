/* tests/test_gdc_step.c: the composite generator / discriminator / frozen
 * classifier (G-D-C) training step of the S4 study against PyTorch
 * (tests/fixtures/gen_gdc.py writes the weights, the input and torch's
 * losses, gradients and updated weights for 3 iterations):
 *   fake = G(x)
 *   L_G = BCEwithLogits(D(fake), 1) + 40 * L1(fake, x) + BCEwithLogits(C(fake), y)
 *         (C frozen: requires_grad 0, but its loss's gradient flows through it into G)
 *   Adam(2e-4, betas (0.5, 0.999)) step on G
 *   L_D = BCEwithLogits(D(x), 1) + BCEwithLogits(D(fake.detach()), 0), Adam step on D
 * Checks: losses, the gradients each step used, G's and D's weights after
 * each iteration (within 1e-5), C's weights bit-identical and without .grad. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/device.h"
#include "../core/ops.h"
#include "../optim/optim.h"
#include "fixture.h"
#include "test.h"

#define FX "tests/fixtures/gdc.h5"
#define ITERS 3
#define W_CON 40.0

/* parameter names in the fixture, by net: G 0..3, D 4..7, C 8..11 */
static const char *const PNAMES[12] = {
    "G.conv1.weight", "G.conv1.bias", "G.conv2.weight", "G.conv2.bias",
    "D.conv.weight",  "D.conv.bias",  "D.fc.weight",    "D.fc.bias",
    "C.conv.weight",  "C.conv.bias",  "C.fc.weight",    "C.fc.bias",
};

static mt_tensor *load_to(const char *name, mt_device dev)
{
    mt_tensor *h = fx_load(FX, name);
    if (!h || dev.type == MT_CPU) return h;
    mt_tensor *d = mt_tensor_to(h, dev);
    mt_tensor_release(h);
    return d;
}

static mt_conv2d_params conv_p(int stride)
{
    mt_conv2d_params p = mt_conv2d_default();
    p.stride_h = p.stride_w = stride;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    return p;
}

/* G: conv3x3 -> relu -> conv3x3 -> tanh */
static mt_tensor *net_g(mt_tensor **w, mt_tensor *x)
{
    mt_tensor *h1 = mt_conv2d(x, w[0], w[1], conv_p(1));
    mt_tensor *a1 = mt_relu(h1);
    mt_tensor *h2 = mt_conv2d(a1, w[2], w[3], conv_p(1));
    mt_tensor *y = mt_tanh(h2);
    mt_tensor_release(h1);
    mt_tensor_release(a1);
    mt_tensor_release(h2);
    return y;
}

/* D and C: conv3x3 (stride s) -> leaky_relu(slope) (relu for slope 0) -> global avg pool -> linear */
static mt_tensor *net_head(mt_tensor **w, mt_tensor *x, int stride, double slope)
{
    mt_tensor *h = mt_conv2d(x, w[0], w[1], conv_p(stride));
    mt_tensor *a = slope > 0 ? mt_leaky_relu(h, slope) : mt_relu(h);
    mt_tensor *p = mt_global_avg_pool2d(a);
    mt_tensor *f = mt_flatten(p, 1);
    mt_tensor *y = mt_linear(f, w[2], w[3]);
    mt_tensor_release(h);
    mt_tensor_release(a);
    mt_tensor_release(p);
    mt_tensor_release(f);
    return y;
}

/* mean BCE-with-logits of `logits` (released) against target */
static mt_tensor *bce_to(mt_tensor *logits, mt_tensor *target)
{
    mt_tensor *l = mt_bce_with_logits(logits, target, NULL, NULL, MT_REDUCE_MEAN);
    mt_tensor_release(logits);
    return l;
}

/* w_con * mean |fake - x| */
static mt_tensor *l1_scaled(mt_tensor *fake, mt_tensor *x, double w_con)
{
    mt_tensor *l1 = mt_l1_loss(fake, x, NULL, MT_REDUCE_MEAN);
    mt_tensor *s = mt_scale(l1, w_con, 0);
    mt_tensor_release(l1);
    return s;
}

/* a + b, releasing both */
static mt_tensor *add_rel(mt_tensor *a, mt_tensor *b)
{
    mt_tensor *s = mt_add(a, b);
    mt_tensor_release(a);
    mt_tensor_release(b);
    return s;
}

static double scalar_of(const mt_tensor *t)
{
    mt_real v = 0;
    if (t && mt_tensor_to_host(t, &v, sizeof v) != MT_OK) return NAN;
    return (double)v;
}

/* compares tensor t (any device) with fixture dataset `name` */
static int close_to_fixture(const mt_tensor *t, const char *name, double rtol, double atol, char *why, size_t len)
{
    mt_tensor *want = fx_load(FX, name);
    if (!want) {
        snprintf(why, len, "%s", mt_last_error());
        return 0;
    }
    mt_real got[64];
    size_t n = mt_numel(want);
    int ok = n == mt_numel(t) && n <= 64 && mt_tensor_to_host(t, got, n * sizeof(mt_real)) == MT_OK &&
             mt_test_close_f(got, MT_DATA(want), n, rtol, atol, why, len);
    if (n != mt_numel(t) || n > 64) snprintf(why, len, "size %zu vs fixture %zu", mt_numel(t), n);
    mt_tensor_release(want);
    return ok;
}

static void run_gdc(mt_test_ctx *T_, mt_device dev, double wtol)
{
    mt_tensor *w[12], *x = load_to("x", dev), *y = load_to("y", dev);
    CHECK(x && y, "fixture: %s", mt_last_error());
    char name[96], why[512];
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof name, "init/%s", PNAMES[i]);
        CHECK_NOTNULL(w[i] = load_to(name, dev));
        mt_requires_grad(w[i], i < 8); /* C frozen */
    }
    mt_tensor *ones = mt_tensor_like(y, 0), *zeros = mt_tensor_like(y, 1);
    CHECK(ones && zeros, "alloc");
    CHECK_OK(mt_tensor_fill(ones, 1.0));
    mt_optim_hparams h = mt_optim_defaults(MT_OPTIM_ADAM);
    h.lr = 2e-4;
    h.beta1 = 0.5;
    h.beta2 = 0.999;
    mt_optim *opt_g = mt_optim_new(MT_OPTIM_ADAM), *opt_d = mt_optim_new(MT_OPTIM_ADAM);
    CHECK(opt_g && opt_d, "alloc");
    CHECK(mt_optim_add_group(opt_g, w, 4, &h) == 0, "G group: %s", mt_last_error());
    CHECK(mt_optim_add_group(opt_d, w + 4, 4, &h) == 0, "D group: %s", mt_last_error());

    for (int k = 0; k < ITERS; k++) {
        /* generator step */
        mt_tensor *fake = net_g(w, x);
        mt_tensor *adv = bce_to(net_head(w + 4, fake, 2, 0.2), ones);
        mt_tensor *con = l1_scaled(fake, x, W_CON);
        mt_tensor *cls = bce_to(net_head(w + 8, fake, 1, 0), y);
        mt_tensor *loss_g = add_rel(add_rel(adv, con), cls);
        CHECK_NOTNULL(loss_g);
        CHECK_OK(mt_optim_zero_grad(opt_g));
        CHECK_OK(mt_backward(loss_g, NULL, 0));
        CHECK_OK(mt_optim_step(opt_g));
        /* discriminator step on the same fake, detached */
        mt_tensor *fake_det = mt_tensor_alias(fake);
        mt_tensor *loss_d = add_rel(bce_to(net_head(w + 4, x, 2, 0.2), ones), bce_to(net_head(w + 4, fake_det, 2, 0.2), zeros));
        CHECK_NOTNULL(loss_d);
        CHECK(!fake_det->requires_grad, "detached fake must not require grad");
        CHECK_OK(mt_optim_zero_grad(opt_d));
        CHECK_OK(mt_backward(loss_d, NULL, 0));
        CHECK_OK(mt_optim_step(opt_d));

        double want_g, want_d;
        mt_tensor *lg = fx_load(FX, (snprintf(name, sizeof name, "iter%d/loss_g", k), name));
        mt_tensor *ld = fx_load(FX, (snprintf(name, sizeof name, "iter%d/loss_d", k), name));
        CHECK(lg && ld, "fixture: %s", mt_last_error());
        want_g = MT_DATA(lg)[0];
        want_d = MT_DATA(ld)[0];
        mt_tensor_release(lg);
        mt_tensor_release(ld);
        CHECK(fabs(scalar_of(loss_g) - want_g) <= 1e-5 * fabs(want_g), "iter %d: L_G %.9g, torch %.9g", k,
              scalar_of(loss_g), want_g);
        CHECK(fabs(scalar_of(loss_d) - want_d) <= 1e-5 * fabs(want_d), "iter %d: L_D %.9g, torch %.9g", k,
              scalar_of(loss_d), want_d);
        for (int i = 0; i < 8; i++) {
            CHECK(w[i]->grad != NULL, "iter %d: %s has no gradient", k, PNAMES[i]);
            snprintf(name, sizeof name, "iter%d/grad/%s", k, PNAMES[i]);
            CHECK(close_to_fixture(w[i]->grad, name, 1e-4, 1e-6, why, sizeof why), "iter %d: grad %s: %s", k,
                  PNAMES[i], why);
            snprintf(name, sizeof name, "iter%d/%s", k, PNAMES[i]);
            CHECK(close_to_fixture(w[i], name, 0, wtol, why, sizeof why), "iter %d: updated %s: %s", k, PNAMES[i],
                  why);
        }
        mt_tensor_release(fake);
        mt_tensor_release(fake_det);
        mt_tensor_release(loss_g);
        mt_tensor_release(loss_d);
    }
    /* C: frozen, untouched, no gradient */
    for (int i = 8; i < 12; i++) {
        CHECK(w[i]->grad == NULL, "frozen %s has a gradient", PNAMES[i]);
        snprintf(name, sizeof name, "init/%s", PNAMES[i]);
        CHECK(close_to_fixture(w[i], name, 0, 0, why, sizeof why), "frozen %s changed: %s", PNAMES[i], why);
    }
    mt_optim_free(opt_g);
    mt_optim_free(opt_d);
    for (int i = 0; i < 12; i++) mt_tensor_release(w[i]);
    mt_tensor_release(x);
    mt_tensor_release(y);
    mt_tensor_release(ones);
    mt_tensor_release(zeros);
}

TEST(gdc_step_matches_torch)
{
    run_gdc(T_, mt_cpu(), 1e-5);
}

TEST(gdc_step_cuda_matches_torch)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    run_gdc(T_, mt_cuda(0), 1e-5);
}
