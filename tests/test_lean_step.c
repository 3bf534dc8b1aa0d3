/* tests/test_lean_step.c: after its warm-up a training step allocates no memory
 * from a backend (issue 13's lean step): the caching allocator (core/alloc.h)
 * serves every tensor of the forward and backward passes, the optimizer update,
 * the loader's batches and validation from blocks freed by earlier steps. Counted
 * with mt_alloc_backend_count around whole epochs of a small U-Net run (data
 * augmentation on, Adam, gradient clipping, validation), after a first epoch. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../train/trainer.h"
#include "test.h"

/* "" when a step after the warm-up allocated nothing on device type `type`, else why (static text). */
static const char *lean_run(const char *device, mt_device_type type, const char *name)
{
    static char why[512];
    const char *tmp = mt_test_tmpdir();
    char ds[PATH_MAX], cfg[PATH_MAX], run[PATH_MAX], graph[PATH_MAX], rel[PATH_MAX];
    snprintf(ds, sizeof ds, "%s/%s.h5", tmp, name);
    if (!mt_test_disc_dataset(ds, 18, 32, 41, NULL, 0.2, 0.2)) return "dataset not written";
    if (!realpath(mt_test_path("configs/models/unet.yaml", rel, sizeof rel), graph)) return "no unet.yaml";
    snprintf(cfg, sizeof cfg, "%s/%s.yaml", tmp, name);
    FILE *f = fopen(cfg, "w");
    if (!f) return "cannot write the config";
    fprintf(f,
            "model:\n  graph: %s\n  params: {base: 4, depth: 2, in_channels: 1, out_channels: 1, dropout: 0.2}\n"
            "data:\n  dataset: %s\n  normalize: window\n  window: [-200, 200]\n  num_workers: 2\n"
            "  augment: {enabled: true, flip_h: 0.5, rotation_deg: 10, noise_std: 0.01}\n"
            "loss:\n  kind: bce_dice\n"
            "optimizer:\n  kind: adam\n  lr: 0.01\n  clip_grad_norm: 1.0\n"
            "train:\n  epochs: 1\n  batch_size: 4\n  seed: 3\n  log_every: 1\n",
            graph, ds);
    if (fclose(f) != 0) return "cannot write the config";
    snprintf(run, sizeof run, "%s/%s_run", tmp, name);
    mt_train_options o = {.config = cfg, .out_dir = run, .device = device, .quiet = 1};
    mt_trainer *t = NULL;
    unsigned long long start = mt_alloc_backend_count(type), before = 0, after = 0;
    long steps = 0;
    mt_status st = mt_trainer_open(&o, &t);
    if (st == MT_OK) st = mt_trainer_fit(t); /* warm-up: the first epoch (its last, shorter batch and validation too) */
    if (st == MT_OK) {
        before = mt_alloc_backend_count(type);
        long steps_before = t->step;
        t->s.exp.train.epochs = 3; /* two more epochs of the same shapes */
        st = mt_trainer_fit(t);
        after = mt_alloc_backend_count(type);
        steps = t->step - steps_before;
    }
    if (st != MT_OK) snprintf(why, sizeof why, "training failed: %.400s", mt_last_error());
    else if (steps < 6) snprintf(why, sizeof why, "only %ld steps after the warm-up", steps);
    else if (before == start) snprintf(why, sizeof why, "the warm-up allocated nothing: the counter counts nothing");
    else if (after != before)
        snprintf(why, sizeof why, "%llu backend allocations in %ld steps after the warm-up (want 0)", after - before, steps);
    else why[0] = 0;
    mt_trainer_close(t, 0);
    return why;
}

TEST(lean_step_no_backend_allocation_after_warmup_cpu)
{
    const char *why = lean_run("cpu", MT_CPU, "lean_cpu");
    CHECK(!why[0], "%s", why);
}

TEST(lean_step_no_backend_allocation_after_warmup_cuda)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    const char *why = lean_run("cuda", MT_CUDA, "lean_cuda");
    CHECK(!why[0], "%s", why);
}
