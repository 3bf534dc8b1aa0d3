/* tests/test_amp_train.c: mixed-precision training (train.precision):
 *  - the dynamic loss scaler (optim/grad_scaler.h): unscaling, backoff on an inf
 *    gradient, growth after growth_interval good steps (torch GradScaler rules);
 *  - in the trainer (fp16): a step with an inf gradient is skipped (weights
 *    unchanged) and halves the scale; good steps grow it; the scale and its
 *    counter are in last.h5 and a resumed run starts from them;
 *  - a short U-Net run (6 Adam steps) in bf16 and in fp16 stays within 1.5% of
 *    the same run's loss in fp32 at every step, and differs from it (the
 *    autocast really ran);
 *  - bf16 steps after the warm-up allocate nothing from the backend. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "../core/alloc.h"
#include "../optim/grad_scaler.h"
#include "../train/trainer.h"
#include "test.h"

TEST(amp_grad_scaler_backoff_and_growth)
{
    mt_grad_scaler gs;
    mt_grad_scaler_init(&gs);
    CHECK(gs.scale == 65536.0 && gs.growth_factor == 2.0 && gs.backoff_factor == 0.5 && gs.growth_interval == 2000 &&
              gs.growth_tracker == 0,
          "torch defaults");
    gs.growth_interval = 3;
    int shape[1] = {3};
    const mt_real pv[3] = {0, 0, 0}, g_ok[3] = {65536.f, -32768.f, 3.f}, g_inf[3] = {1.f, INFINITY, 2.f};
    mt_tensor *p = mt_tensor_from_host(mt_cpu(), 1, shape, pv);
    CHECK_NOTNULL(p);
    p->grad = mt_tensor_from_host(mt_cpu(), 1, shape, g_ok);
    CHECK_NOTNULL(p->grad);
    int found = -1;
    CHECK_OK(mt_grad_scaler_unscale(&gs, &p, 1, &found));
    const mt_real *g = MT_DATA(p->grad);
    CHECK(found == 0 && g[0] == 1.f && g[1] == -0.5f && g[2] == (mt_real)(3.0 / 65536), "unscaled %g %g %g found %d",
          (double)g[0], (double)g[1], (double)g[2], found);
    mt_grad_scaler_update(&gs, found);
    CHECK(gs.scale == 65536.0 && gs.growth_tracker == 1, "after a good step: %g, %ld", gs.scale, gs.growth_tracker);
    CHECK_OK(mt_tensor_from_host_into(p->grad, g_inf, sizeof g_inf));
    CHECK_OK(mt_grad_scaler_unscale(&gs, &p, 1, &found));
    CHECK(found == 1, "inf gradient not found");
    mt_grad_scaler_update(&gs, found);
    CHECK(gs.scale == 32768.0 && gs.growth_tracker == 0, "backoff: %g, %ld", gs.scale, gs.growth_tracker);
    const mt_real g_nan[3] = {NAN, 0, 0};
    CHECK_OK(mt_tensor_from_host_into(p->grad, g_nan, sizeof g_nan));
    CHECK_OK(mt_grad_scaler_unscale(&gs, &p, 1, &found));
    CHECK(found == 1, "NaN gradient not found");
    mt_grad_scaler_update(&gs, found);
    CHECK(gs.scale == 16384.0, "second backoff: %g", gs.scale);
    for (int i = 0; i < 3; i++) {
        CHECK_OK(mt_tensor_from_host_into(p->grad, g_ok, sizeof g_ok));
        CHECK_OK(mt_grad_scaler_unscale(&gs, &p, 1, &found));
        CHECK(found == 0, "finite gradient flagged at step %d", i);
        mt_grad_scaler_update(&gs, found);
        CHECK(gs.scale == (i < 2 ? 16384.0 : 32768.0), "growth after 3 good steps: step %d scale %g", i, gs.scale);
    }
    CHECK(gs.growth_tracker == 0, "tracker %ld after growth", gs.growth_tracker);
    mt_tensor_release(p);
}

/* A small U-Net run on discs: config with train.precision `prec`, `epochs` epochs. */
static const char *write_config(const char *name, const char *prec, int epochs, char *cfg, size_t len)
{
    static char why[256];
    const char *tmp = mt_test_tmpdir();
    char ds[PATH_MAX], graph[PATH_MAX], rel[PATH_MAX];
    snprintf(ds, sizeof ds, "%s/amp_discs.h5", tmp);
    FILE *probe = fopen(ds, "rb");
    if (probe) fclose(probe);
    else if (!mt_test_disc_dataset(ds, 16, 32, 57, NULL, 0.25, 0.0)) return "dataset not written";
    if (!realpath(mt_test_path("configs/models/unet.yaml", rel, sizeof rel), graph)) return "no unet.yaml";
    snprintf(cfg, len, "%s/%s.yaml", tmp, name);
    FILE *f = fopen(cfg, "w");
    if (!f) return "cannot write the config";
    fprintf(f,
            "model:\n  graph: %s\n  params: {base: 8, depth: 2, in_channels: 1, out_channels: 1}\n"
            "data:\n  dataset: %s\n  normalize: window\n  window: [-200, 200]\n  shuffle: false\n"
            "loss:\n  kind: bce_dice\n"
            "optimizer:\n  kind: adam\n  lr: 0.003\n  clip_grad_norm: 1.0\n"
            "train:\n  epochs: %d\n  batch_size: 4\n  seed: 5\n  log_every: 1\n  precision: %s\n",
            graph, ds, epochs, prec);
    if (fclose(f) != 0) return "cannot write the config";
    why[0] = 0;
    return why;
}

/* Trains; train losses of the logged steps into loss[0..*n-1]. "" or why. */
static const char *train_losses(const char *prec, double *loss, int max, int *n, double *scale, long *skipped)
{
    static char why[512];
    char cfg[PATH_MAX], run[PATH_MAX], name[64];
    snprintf(name, sizeof name, "amp_%s", prec);
    const char *w = write_config(name, prec, 2, cfg, sizeof cfg);
    if (w[0]) return w;
    snprintf(run, sizeof run, "%s/%s_run", mt_test_tmpdir(), name);
    mt_train_options o = {.config = cfg, .out_dir = run, .device = "cpu", .quiet = 1};
    mt_trainer *t = NULL;
    mt_status st = mt_trainer_open(&o, &t);
    if (st == MT_OK) st = mt_trainer_fit(t);
    if (st == MT_OK && scale) *scale = t->scaler.scale;
    if (st == MT_OK && skipped) *skipped = t->skipped_steps;
    const long tracker_end = st == MT_OK ? t->scaler.growth_tracker : -1;
    mt_trainer_close(t, st != MT_OK);
    if (st != MT_OK) {
        snprintf(why, sizeof why, "%s run failed: %.400s", prec, mt_last_error());
        return why;
    }
    char path[PATH_MAX + 16], line[1024];
    snprintf(path, sizeof path, "%s/log.csv", run);
    FILE *f = fopen(path, "r");
    if (!f) return "no log.csv";
    *n = 0;
    while (fgets(line, sizeof line, f) && *n < max) {
        long step;
        int epoch;
        char kind[16];
        double l;
        if (sscanf(line, "%ld,%d,%15[^,],%lf", &step, &epoch, kind, &l) == 4 && !strcmp(kind, "train")) loss[(*n)++] = l;
    }
    fclose(f);
    if (scale) { /* the scale and its tracker are in last.h5 */
        double stored = 0;
        snprintf(path, sizeof path, "%s/last.h5", run);
        hid_t h = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t a = h >= 0 ? H5Aopen(h, "grad_scaler_scale", H5P_DEFAULT) : -1;
        herr_t e = a >= 0 ? H5Aread(a, H5T_NATIVE_DOUBLE, &stored) : -1;
        if (a >= 0) H5Aclose(a);
        if (h >= 0) H5Fclose(h);
        if (e < 0 || stored != *scale) {
            snprintf(why, sizeof why, "last.h5 grad_scaler_scale %g (read %s), trainer %g", stored,
                     e < 0 ? "failed" : "ok", *scale);
            return why;
        }
        /* resuming restores it (the fresh trainer would start at 65536) */
        mt_train_options ro = {.resume = run, .device = "cpu", .quiet = 1};
        mt_trainer *r = NULL;
        st = mt_trainer_open(&ro, &r);
        double resumed = st == MT_OK ? r->scaler.scale : -1;
        long tracker = st == MT_OK ? r->scaler.growth_tracker : -1;
        mt_trainer_close(r, 0);
        if (st != MT_OK || resumed != *scale || tracker != tracker_end || tracker < 1) {
            snprintf(why, sizeof why, "resumed scale %g tracker %ld, want %g and %ld (%.300s)", resumed, tracker,
                     *scale, tracker_end, st != MT_OK ? mt_last_error() : "");
            return why;
        }
    }
    why[0] = 0;
    return why;
}

TEST(amp_bf16_fp16_training_close_to_fp32)
{
    double l32[64], lb[64], lh[64], scale = 0;
    long skipped = -1;
    int n32 = 0, nb = 0, nh = 0;
    const char *why = train_losses("fp32", l32, 64, &n32, NULL, NULL);
    CHECK(!why[0], "%s", why);
    why = train_losses("bf16", lb, 64, &nb, NULL, NULL);
    CHECK(!why[0], "%s", why);
    why = train_losses("fp16", lh, 64, &nh, &scale, &skipped);
    CHECK(!why[0], "%s", why);
    CHECK(n32 == 6 && nb == n32 && nh == n32, "logged steps: fp32 %d, bf16 %d, fp16 %d (want 6)", n32, nb, nh);
    CHECK(l32[n32 - 1] < 0.95 * l32[0], "fp32 did not learn: %g -> %g", l32[0], l32[n32 - 1]);
    /* Adam amplifies the rounding differences a little each step: on this run both stay
     * within 0.5% of fp32 for 6 steps (1-2% by step 9); the margin is 1.5% */
    int differs = 0;
    for (int i = 0; i < n32; i++) {
        differs |= lb[i] != l32[i];
        CHECK(fabs(lb[i] - l32[i]) <= 0.015 * fabs(l32[i]) && fabs(lh[i] - l32[i]) <= 0.015 * fabs(l32[i]),
              "step %d: bf16 loss %g, fp16 %g vs fp32 %g (> 1.5%%)", i + 1, lb[i], lh[i], l32[i]);
    }
    CHECK(skipped >= 0 && skipped <= 2, "fp16 skipped %ld of 6 steps", skipped);
    CHECK(differs, "bf16 losses are identical to fp32: autocast did not run");
    CHECK(scale > 0 && scale <= 65536.0 && frexp(scale, &(int){0}) == 0.5, "fp16 loss scale %g", scale);
}

/* fp16 in the trainer: an inf gradient skips the update and halves the scale */
TEST(amp_fp16_trainer_skips_inf_step)
{
    char cfg[PATH_MAX], run[PATH_MAX];
    const char *w = write_config("amp_skip", "fp16", 1, cfg, sizeof cfg);
    CHECK(!w[0], "%s", w);
    snprintf(run, sizeof run, "%s/amp_skip_run", mt_test_tmpdir());
    mt_train_options o = {.config = cfg, .out_dir = run, .device = "cpu", .quiet = 1};
    mt_trainer *t = NULL;
    mt_status st = mt_trainer_open(&o, &t);
    CHECK(st == MT_OK, "open: %s", mt_last_error());
    int n = 0;
    mt_tensor **p = mt_model_params(t->s.model, &n);
    CHECK(p && n > 1, "no parameters");
    mt_tensor *w0 = mt_tensor_to(p[0], mt_cpu());
    CHECK_NOTNULL(w0);
    for (int i = 0; i < n; i++) { /* gradients: scale * 1e-3, one inf */
        if (!p[i]->grad) CHECK(p[i]->grad = mt_tensor_zeros(MT_REAL, mt_cpu(), p[i]->ndim, p[i]->shape), "grad");
        CHECK_OK(mt_tensor_fill(p[i]->grad, 65.536));
    }
    MT_DATA(p[1]->grad)[0] = INFINITY;
    CHECK_OK(mt_trainer_update(t, 0));
    CHECK(t->skipped_steps == 1 && t->scaler.scale == 32768.0, "skipped %ld, scale %g", t->skipped_steps,
          t->scaler.scale);
    CHECK(memcmp(mt_data(w0), mt_data(p[0]), mt_nbytes(w0)) == 0, "weights changed by a skipped step");
    t->scaler.growth_interval = 2;
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < n; i++) {
            if (!p[i]->grad) CHECK(p[i]->grad = mt_tensor_zeros(MT_REAL, mt_cpu(), p[i]->ndim, p[i]->shape), "grad");
            CHECK_OK(mt_tensor_fill(p[i]->grad, 32.768));
        }
        CHECK_OK(mt_trainer_update(t, 0));
    }
    CHECK(t->skipped_steps == 1 && t->scaler.scale == 65536.0, "after 2 good steps: skipped %ld, scale %g",
          t->skipped_steps, t->scaler.scale);
    CHECK(memcmp(mt_data(w0), mt_data(p[0]), mt_nbytes(w0)) != 0, "good steps did not update the weights");
    mt_tensor_release(w0);
    mt_trainer_close(t, 0);
}

/* bf16 autocast allocates nothing from the backend after the warm-up epoch: the casts
 * and the kernels' widened scratch come from the caching allocator (as tests/test_lean_step.c
 * for fp32) */
TEST(amp_bf16_step_no_backend_allocation_after_warmup)
{
    char cfg[PATH_MAX], run[PATH_MAX];
    const char *w = write_config("amp_lean", "bf16", 1, cfg, sizeof cfg);
    CHECK(!w[0], "%s", w);
    snprintf(run, sizeof run, "%s/amp_lean_run", mt_test_tmpdir());
    mt_train_options o = {.config = cfg, .out_dir = run, .device = "cpu", .quiet = 1};
    mt_trainer *t = NULL;
    mt_status st = mt_trainer_open(&o, &t);
    if (st == MT_OK) st = mt_trainer_fit(t); /* warm-up epoch */
    unsigned long long before = mt_alloc_backend_count(MT_CPU), after = before;
    long steps = 0;
    if (st == MT_OK) {
        long s0 = t->step;
        t->s.exp.train.epochs = 3;
        st = mt_trainer_fit(t);
        after = mt_alloc_backend_count(MT_CPU);
        steps = t->step - s0;
    }
    mt_trainer_close(t, 0);
    CHECK(st == MT_OK, "training failed: %s", mt_last_error());
    CHECK(steps == 6, "%ld steps after the warm-up", steps);
    CHECK(after == before, "%llu backend allocations in %ld bf16 steps after the warm-up (want 0)", after - before,
          steps);
}
