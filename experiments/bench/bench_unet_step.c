/* experiments/bench/bench_unet_step.c: images/s of one training step
 * (forward + backward + Adam) of the padded U-Net (design/models.md §1.3,
 * base 64: 31,030,593 parameters, 1 -> 1 channel, sigmoid/BCE head) on the
 * CPU in float32, built directly from ops:
 *   conv2d 3x3 pad 1 + relu (x2) per level, max_pool2d 2x2, conv_transpose2d
 *   2x2/2 + relu, concat [up, skip], 1x1 score conv, bce_with_logits (mean).
 * Dropout is off. Not a test: a benchmark; its PyTorch peer is
 * bench_unet_step.py and `make bench` runs both.
 *
 * Usage: bench_unet_step [--batch 4] [--size 128] [--steps 5] [--warmup 2]
 *                        [--threads 2] [--base 64] [--precision fp32|bf16|fp16]
 *                        [--infer 0|1]
 * --precision bf16 / fp16 runs forward + loss under autocast (mt_set_autocast:
 * convs in bf16/fp16 with float32 accumulation, emulated on a CPU without
 * bf16 arithmetic; train.precision in a config).
 * Prints the parameter count, wall and CPU seconds per step, "images/s: X"
 * (wall clock) and "cpu_images/s: X" (images per CPU-second x threads: the
 * rate on an idle machine, useful when other jobs share the cores), and
 * "peak_rss_mib: X" (the process's peak resident memory, getrusage ru_maxrss),
 * "peak_in_use_mib: X" (the caching allocator's high-water mark of tensor
 * memory handed out, mt_alloc_peak_in_use) and "cached_mib: X" (free blocks it
 * holds at the end), "timed_backend_allocs: N" (segments it took from malloc in
 * the timed steps, 0 once the step's layout is cached).
 * --infer 1 times the forward pass alone with gradients off (inference
 * latency, "latency_ms: X" per batch) instead of the training step. */
#include "../../core/alloc.h"
#include "../../core/device.h"
#include "../../core/ops.h"
#include "../../core/rng.h"
#include "../../optim/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAXP 64

typedef struct unet {
    mt_tensor *p[MAXP]; /* weights and biases in layer order */
    int n;
} unet;

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* He-normal weight (std sqrt(2 / fan_in), the paper's init) and zero bias. */
static int add_layer(unet *u, int out_c, int in_c, int k, int transposed, uint64_t seed)
{
    int ws[4] = {transposed ? in_c : out_c, transposed ? out_c : in_c, k, k}, bs[1] = {out_c};
    size_t nw = (size_t)out_c * in_c * k * k;
    mt_real *v = malloc(sizeof(mt_real) * nw);
    if (!v) return -1;
    double std = sqrt(2.0 / (double)(in_c * k * k));
    for (size_t i = 0; i < nw; i++) v[i] = (mt_real)(std * mt_philox_normal(seed, i));
    mt_tensor *w = mt_tensor_from_host(mt_cpu(), 4, ws, v);
    free(v);
    mt_tensor *b = mt_tensor_zeros(MT_REAL, mt_cpu(), 1, bs);
    if (!w || !b) return -1;
    mt_requires_grad(w, 1);
    mt_requires_grad(b, 1);
    u->p[u->n++] = w;
    u->p[u->n++] = b;
    return 0;
}

static int build(unet *u, int base)
{
    u->n = 0;
    uint64_t seed = 1;
    int c = 1;
    for (int l = 0; l < 5; l++) { /* encoder: 2 convs per level */
        int o = base << l;
        if (add_layer(u, o, c, 3, 0, seed++) || add_layer(u, o, o, 3, 0, seed++)) return -1;
        c = o;
    }
    for (int l = 3; l >= 0; l--) { /* decoder: up-conv, 2 convs */
        int o = base << l;
        if (add_layer(u, o, c, 2, 1, seed++) || add_layer(u, o, 2 * o, 3, 0, seed++) ||
            add_layer(u, o, o, 3, 0, seed++))
            return -1;
        c = o;
    }
    return add_layer(u, 1, c, 1, 0, seed++);
}

static mt_tensor *conv_relu(mt_tensor *x, unet *u, int *i)
{
    mt_conv2d_params p = mt_conv2d_default();
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    mt_tensor *y = mt_conv2d(x, u->p[*i], u->p[*i + 1], p);
    *i += 2;
    mt_tensor *r = mt_relu(y);
    mt_tensor_release(y);
    return r;
}

/* Forward pass; returns logits [N, 1, S, S]. */
static mt_tensor *forward(unet *u, mt_tensor *x)
{
    mt_tensor *skip[4];
    int i = 0;
    mt_tensor *h = mt_tensor_retain(x);
    for (int l = 0; l < 5; l++) {
        mt_tensor *a = conv_relu(h, u, &i);
        mt_tensor_release(h);
        h = conv_relu(a, u, &i);
        mt_tensor_release(a);
        if (l < 4) {
            skip[l] = h;
            h = mt_max_pool2d(skip[l], mt_pool2d_default(2), NULL);
        }
    }
    for (int l = 3; l >= 0; l--) {
        mt_conv_transpose2d_params tp = mt_conv_transpose2d_default();
        tp.stride_h = tp.stride_w = 2;
        mt_tensor *up = mt_conv_transpose2d(h, u->p[i], u->p[i + 1], tp);
        i += 2;
        mt_tensor_release(h);
        mt_tensor *upr = mt_relu(up);
        mt_tensor_release(up);
        mt_tensor *cat_in[2] = {upr, skip[l]};
        mt_tensor *cat = mt_concat(2, cat_in, 1);
        mt_tensor_release(upr);
        mt_tensor_release(skip[l]);
        mt_tensor *a = conv_relu(cat, u, &i);
        mt_tensor_release(cat);
        h = conv_relu(a, u, &i);
        mt_tensor_release(a);
    }
    mt_tensor *logits = mt_conv2d(h, u->p[i], u->p[i + 1], mt_conv2d_default());
    mt_tensor_release(h);
    return logits;
}

int main(int argc, char **argv)
{
    int batch = 4, size = 128, steps = 5, warmup = 2, threads = 2, base = 64, infer = 0;
    mt_dtype precision = MT_F32;
    for (int a = 1; a + 1 < argc; a += 2) {
        int v = atoi(argv[a + 1]);
        if (!strcmp(argv[a], "--precision")) {
            precision = !strcmp(argv[a + 1], "bf16") ? MT_BF16 : !strcmp(argv[a + 1], "fp16") ? MT_F16 : MT_F32;
            if (precision == MT_F32 && strcmp(argv[a + 1], "fp32")) {
                fprintf(stderr, "--precision: fp32, bf16 or fp16, not %s\n", argv[a + 1]);
                return 2;
            }
        } else if (!strcmp(argv[a], "--batch")) batch = v;
        else if (!strcmp(argv[a], "--size")) size = v;
        else if (!strcmp(argv[a], "--steps")) steps = v;
        else if (!strcmp(argv[a], "--warmup")) warmup = v;
        else if (!strcmp(argv[a], "--threads")) threads = v;
        else if (!strcmp(argv[a], "--base")) base = v;
        else if (!strcmp(argv[a], "--infer")) infer = v;
        else {
            fprintf(stderr, "unknown option %s\n", argv[a]);
            return 2;
        }
    }
    if (size % 16 || batch < 1 || steps < 1 || base < 1) {
        fprintf(stderr, "size must be a multiple of 16; batch, steps, base >= 1\n");
        return 2;
    }
    mt_set_num_threads(threads);
    unet u;
    if (build(&u, base)) {
        fprintf(stderr, "building the U-Net failed: %s\n", mt_last_error());
        return 1;
    }
    size_t nparam = 0;
    for (int i = 0; i < u.n; i++) nparam += mt_numel(u.p[i]);

    int xs[4] = {batch, 1, size, size};
    size_t nx = (size_t)batch * size * size;
    mt_real *xv = malloc(sizeof(mt_real) * nx), *tv = malloc(sizeof(mt_real) * nx);
    if (!xv || !tv) return 1;
    for (size_t i = 0; i < nx; i++) {
        xv[i] = (mt_real)mt_philox_normal(99, i);
        tv[i] = mt_philox_uniform(100, i) < 0.3f ? 1 : 0;
    }
    mt_tensor *x = mt_tensor_from_host(mt_cpu(), 4, xs, xv), *t = mt_tensor_from_host(mt_cpu(), 4, xs, tv);
    free(xv);
    free(tv);
    mt_optim *opt = mt_optim_new(MT_OPTIM_ADAM);
    mt_optim_hparams h = mt_optim_defaults(MT_OPTIM_ADAM);
    h.lr = 1e-4;
    if (!x || !t || !opt || mt_optim_add_group(opt, u.p, u.n, &h) < 0) {
        fprintf(stderr, "setup failed: %s\n", mt_last_error());
        return 1;
    }
    double t0 = 0, c0 = 0, loss_v = 0;
    unsigned long long seg0 = 0;
    if (infer) mt_set_grad_enabled(0);
    for (int s = 0; s < warmup + steps; s++) {
        if (s == warmup) {
            seg0 = mt_alloc_backend_count(MT_CPU);
            t0 = clock_s(CLOCK_MONOTONIC);
            c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        }
        const mt_dtype ac = mt_set_autocast(precision); /* forward + loss, as the trainer */
        mt_tensor *logits = forward(&u, x);
        if (infer) { /* inference: the forward pass alone */
            if (!logits) {
                fprintf(stderr, "forward %d failed: %s\n", s, mt_last_error());
                return 1;
            }
            mt_set_autocast(ac);
            loss_v = (double)MT_DATA(logits)[0];
            mt_tensor_release(logits);
            continue;
        }
        mt_tensor *loss = mt_bce_with_logits(logits, t, NULL, NULL, MT_REDUCE_MEAN);
        mt_set_autocast(ac);
        if (!loss || mt_backward(loss, NULL, 0) != MT_OK || mt_optim_step(opt) != MT_OK ||
            mt_optim_zero_grad(opt) != MT_OK) {
            fprintf(stderr, "step %d failed: %s\n", s, mt_last_error());
            return 1;
        }
        loss_v = (double)MT_DATA(loss)[0];
        mt_tensor_release(loss);
        mt_tensor_release(logits);
    }
    double dt = (clock_s(CLOCK_MONOTONIC) - t0) / steps;
    double cpu = (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / steps;
    printf("medtrain U-Net (base %d, %zu params) %dx%d batch %d, %d threads, %s %s: %.3f s/step (%.3f CPU-s/step), "
           "%s %.4f\n", base, nparam, size, size, batch, threads, infer ? "inference" : "training step",
           precision == MT_F32 ? "fp32" : mt_dtype_name(precision), dt, cpu, infer ? "first logit" : "loss", loss_v);
    printf("images/s: %.3f\n", batch / dt);
    printf("cpu_images/s: %.3f\n", batch / cpu * threads);
    if (infer) printf("latency_ms: %.2f\n", dt * 1e3);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) printf("peak_rss_mib: %.1f\n", ru.ru_maxrss / 1024.0);
    printf("peak_in_use_mib: %.1f\n", mt_alloc_peak_in_use(MT_CPU) / 1048576.0);
    printf("cached_mib: %.1f\n", mt_alloc_cached(MT_CPU) / 1048576.0);
    printf("timed_backend_allocs: %llu\n", mt_alloc_backend_count(MT_CPU) - seg0);
    mt_optim_free(opt);
    for (int i = 0; i < u.n; i++) mt_tensor_release(u.p[i]);
    mt_tensor_release(x);
    mt_tensor_release(t);
    return 0;
}
