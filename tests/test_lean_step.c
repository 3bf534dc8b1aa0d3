/* tests/test_lean_step.c: after its warm-up a training step allocates no memory
 * from a backend and reads nothing back to the host but the loss at log steps
 * (issue 13's lean step): the caching allocator (core/alloc.h) serves every
 * tensor of the forward and backward passes, the optimizer update, the loader's
 * batches and validation from blocks freed by earlier steps, and the trainer
 * sums the loss on the device (train/loss_acc.h). Counted with
 * mt_alloc_backend_count around whole epochs of a small U-Net run (data
 * augmentation on, Adam, gradient clipping, validation), after a first epoch,
 * and with mt_d2h_count around each step (the trainer's step hook). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../train/trainer.h"
#include "test.h"

#define LOG_EVERY 3
#define MAX_STEPS 64

/* per-step counts taken by the trainer's step hook */
typedef struct step_counts {
    mt_device_type type;
    long n;
    unsigned long long d2h_begin, alloc_begin;
    unsigned long long d2h[MAX_STEPS], alloc[MAX_STEPS];
    long step[MAX_STEPS]; /* 1-based step number */
} step_counts;

static void count_hook(mt_trainer *t, int end, void *user)
{
    step_counts *c = user;
    if (!end) {
        c->d2h_begin = mt_d2h_count(c->type);
        c->alloc_begin = mt_alloc_backend_count(c->type);
        return;
    }
    if (c->n >= MAX_STEPS) return;
    c->d2h[c->n] = mt_d2h_count(c->type) - c->d2h_begin;
    c->alloc[c->n] = mt_alloc_backend_count(c->type) - c->alloc_begin;
    c->step[c->n++] = t->step;
}

/* "" when the steps after the warm-up allocated nothing on device type `type` and read
 * back only at log steps (the loss and the two loss terms of bce_dice), else why (static text). */
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
            "train:\n  epochs: 1\n  batch_size: 4\n  seed: 3\n  log_every: %d\n",
            graph, ds, LOG_EVERY);
    if (fclose(f) != 0) return "cannot write the config";
    snprintf(run, sizeof run, "%s/%s_run", tmp, name);
    mt_train_options o = {.config = cfg, .out_dir = run, .device = device, .quiet = 1};
    mt_trainer *t = NULL;
    mt_alloc_empty_cache(); /* segments cached by earlier tests would serve the warm-up */
    unsigned long long start = mt_alloc_backend_count(type), before = 0, after = 0;
    long steps = 0;
    static step_counts counts;
    memset(&counts, 0, sizeof counts);
    counts.type = type;
    mt_status st = mt_trainer_open(&o, &t);
    if (st == MT_OK) st = mt_trainer_fit(t); /* warm-up: the first epoch (its last, shorter batch and validation too) */
    if (st == MT_OK) {
        before = mt_alloc_backend_count(type);
        long steps_before = t->step;
        t->s.exp.train.epochs = 3; /* two more epochs of the same shapes */
        t->step_hook = count_hook;
        t->step_hook_user = &counts;
        st = mt_trainer_fit(t);
        after = mt_alloc_backend_count(type);
        steps = t->step - steps_before;
    }
    if (st != MT_OK) snprintf(why, sizeof why, "training failed: %.400s", mt_last_error());
    else if (steps < 6) snprintf(why, sizeof why, "only %ld steps after the warm-up", steps);
    else if (before == start) snprintf(why, sizeof why, "the warm-up allocated nothing: the counter counts nothing");
    else if (after != before)
        snprintf(why, sizeof why, "%llu backend allocations in %ld steps after the warm-up (want 0)", after - before, steps);
    else if (counts.n != steps) snprintf(why, sizeof why, "the step hook saw %ld of %ld steps", counts.n, steps);
    else {
        why[0] = 0;
        int logged = 0;
        for (long i = 0; i < counts.n && !why[0]; i++) {
            int log_step = counts.step[i] % LOG_EVERY == 0;
            unsigned long long want = log_step ? 3 : 0; /* the loss sum + last loss, and the bce and dice terms */
            logged += log_step;
            if (counts.alloc[i] != 0)
                snprintf(why, sizeof why, "step %ld allocated %llu blocks from the backend", counts.step[i], counts.alloc[i]);
            else if (counts.d2h[i] != want)
                snprintf(why, sizeof why, "step %ld (%s) made %llu device-to-host copies, expected %llu", counts.step[i],
                         log_step ? "a log step" : "not a log step", counts.d2h[i], want);
        }
        if (!why[0] && logged < 2) snprintf(why, sizeof why, "only %d log steps among %ld", logged, counts.n);
    }
    mt_trainer_close(t, 0);
    return why;
}

TEST(lean_step_no_allocation_and_reads_only_at_log_steps_cpu)
{
    const char *why = lean_run("cpu", MT_CPU, "lean_cpu");
    CHECK(!why[0], "%s", why);
}

TEST(lean_step_no_allocation_and_reads_only_at_log_steps_cuda)
{
    if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");
    const char *why = lean_run("cuda", MT_CUDA, "lean_cuda");
    CHECK(!why[0], "%s", why);
}

TEST(lean_step_d2h_counter_and_device_loss_sum)
{
    int one = 1, two = 2;
    mt_real a = 0.25f, b = 1.5f, nan_v = NAN, back[2];
    mt_tensor *la = mt_tensor_from_host(mt_cpu(), 1, &one, &a), *lb = mt_tensor_from_host(mt_cpu(), 1, &one, &b);
    mt_tensor *pair = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, &two), *copy = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, &two);
    CHECK(la && lb && pair && copy, "tensors: %s", mt_last_error());
    /* reads to the host count, tensor-to-tensor copies on one device do not */
    unsigned long long c0 = mt_d2h_count(MT_CPU);
    CHECK_OK(mt_tensor_copy(copy, pair));
    CHECK(mt_d2h_count(MT_CPU) == c0, "a CPU tensor copy counted as a device-to-host read");
    CHECK_OK(mt_tensor_to_host(pair, back, sizeof back));
    CHECK(mt_d2h_count(MT_CPU) == c0 + 1, "mt_tensor_to_host counted %llu reads", mt_d2h_count(MT_CPU) - c0);
    /* the loss sum: adds read nothing back, one read returns sum, last and count, then starts over */
    mt_loss_acc acc = {0};
    c0 = mt_d2h_count(MT_CPU);
    CHECK_OK(mt_loss_acc_add(&acc, la, 7));
    CHECK_OK(mt_loss_acc_add(&acc, lb, 8));
    CHECK(mt_d2h_count(MT_CPU) == c0, "adding a loss read it back");
    double sum = 0, last = 0;
    long n = 0;
    CHECK_OK(mt_loss_acc_read(&acc, &sum, &last, &n));
    CHECK(mt_d2h_count(MT_CPU) == c0 + 1, "a read made %llu copies", mt_d2h_count(MT_CPU) - c0);
    CHECK(sum == 1.75 && last == 1.5 && n == 2, "sum %g last %g n %ld, expected 1.75 1.5 2", sum, last, n);
    CHECK_OK(mt_loss_acc_read(&acc, &sum, &last, &n));
    CHECK(n == 0 && sum == 0 && isnan(last), "an empty read gave sum %g last %g n %ld", sum, last, n);
    /* a NaN loss poisons the sum, so a read at the next log step sees it */
    CHECK_OK(mt_tensor_from_host_into(la, &nan_v, sizeof nan_v));
    CHECK_OK(mt_loss_acc_add(&acc, lb, 9));
    CHECK_OK(mt_loss_acc_add(&acc, la, 10));
    CHECK_OK(mt_loss_acc_add(&acc, lb, 11));
    CHECK_OK(mt_loss_acc_read(&acc, &sum, &last, &n));
    CHECK(isnan(sum) && last == 1.5 && n == 3 && acc.first_step == 9, "after a NaN: sum %g last %g n %ld first %ld", sum,
          last, n, acc.first_step);
    mt_loss_acc_free(&acc);
    mt_tensor_release(la);
    mt_tensor_release(lb);
    mt_tensor_release(pair);
    mt_tensor_release(copy);
}
