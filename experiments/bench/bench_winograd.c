/* experiments/bench/bench_winograd.c: conv2d 3x3 stride 1 pad 1 on the CPU,
 * im2col + GEMM against Winograd F(2x2, 3x3) and F(4x4, 3x3) (core/ops/winograd.h),
 * for each conv shape of the base-64 U-Net at --size (default
 * 128), batch --batch (default 4). Not a test: a benchmark; the variants run
 * alternately in one process (mt_conv_set_impl per call) and each figure is the
 * best of --rounds (default 3) after one warm-up round.
 *
 * Prints per shape and variant: forward ms, backward ms (dx + dw + db, dw always
 * by im2col + GEMM), and GFLOP/s-equivalent (direct-conv FLOPs 2*N*O*C*9*OH*OW
 * per forward, twice that per backward, divided by the time).
 *
 * Usage: bench_winograd [--batch 4] [--size 128] [--rounds 3] [--threads 2]
 *                       [--shape i (only the i-th shape, from 0)] */
#include "../../core/device.h"
#include "../../core/ops.h"
#include "../../core/ops/dnnl.h"
#include "../../core/ops/winograd.h"
#include "../../core/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static mt_tensor *randn(int ndim, const int *shape, uint64_t seed, double scale)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    mt_real *v = malloc(sizeof(mt_real) * n);
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++) v[i] = (mt_real)(scale * mt_philox_normal(seed, i));
    mt_tensor *t = mt_tensor_from_host(mt_cpu(), ndim, shape, v);
    free(v);
    return t;
}

typedef struct variant {
    const char *name;
    mt_conv_impl impl;
    int tile; /* Winograd output tile: 2 (F(2x2, 3x3)) or 4 (F(4x4, 3x3)) */
} variant;

static const variant VARIANTS[] = {{"im2col", MT_CONV_IMPL_IM2COL, 0},
                                   {"wino2", MT_CONV_IMPL_WINOGRAD, 2},
                                   {"wino4", MT_CONV_IMPL_WINOGRAD, 4}};
#define NV 3

/* One forward + backward of conv(C -> O, S x S) with variant v: times in fw, bw. */
static int run_once(const variant *v, mt_tensor *x, mt_tensor *w, mt_tensor *b, mt_tensor *gy, double *fw, double *bw)
{
    mt_conv_set_impl(v->impl); /* MT_CONV_IMPL is read once per process */
    mt_winograd_set_tile(v->tile);
    mt_conv2d_params p = mt_conv2d_default();
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    double t0 = now_s();
    mt_tensor *y = mt_conv2d(x, w, b, p);
    double t1 = now_s();
    if (!y || mt_backward(y, gy, 0) != MT_OK) {
        fprintf(stderr, "bench_winograd: %s\n", mt_last_error());
        mt_tensor_release(y);
        return -1;
    }
    double t2 = now_s();
    mt_tensor_release(y);
    *fw = t1 - t0;
    *bw = t2 - t1;
    return 0;
}

int main(int argc, char **argv)
{
    int batch = 4, size = 128, rounds = 3, threads = 2, only = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size")) size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--shape")) only = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_winograd [--batch 4] [--size 128] [--rounds 3] [--threads 2] [--shape i]\n");
            return 2;
        }
    }
    mt_set_num_threads(threads);
    /* (C, O, size divisor) of the U-Net's 3x3 convs, encoder then decoder */
    static const int SHAPES[][3] = {{1, 64, 1},     {64, 64, 1},     {64, 128, 2},    {128, 128, 2},
                                    {128, 256, 4},  {256, 256, 4},   {256, 512, 8},   {512, 512, 8},
                                    {512, 1024, 16}, {1024, 1024, 16}, {1024, 512, 8}, {512, 256, 4},
                                    {256, 128, 2},  {128, 64, 1}};
    printf("conv 3x3 pad 1, batch %d, %d threads; best of %d rounds; GFLOP/s-equivalent (direct-conv FLOPs)\n", batch,
           threads, rounds);
    printf("%-5s %-5s %-5s | %-10s %9s %9s %8s %8s\n", "C", "O", "HxW", "variant", "fwd ms", "bwd ms", "fwd GF/s",
           "bwd GF/s");
    for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
        if (only >= 0 && (size_t)only != s) continue;
        const int C = SHAPES[s][0], O = SHAPES[s][1], S = size / SHAPES[s][2];
        mt_tensor *x = randn(4, (int[]){batch, C, S, S}, 1, 1.0), *w = randn(4, (int[]){O, C, 3, 3}, 2, 0.1);
        mt_tensor *b = randn(1, (int[]){O}, 3, 0.1), *gy = randn(4, (int[]){batch, O, S, S}, 4, 1.0);
        if (!x || !w || !b || !gy) {
            fprintf(stderr, "bench_winograd: %s\n", mt_last_error());
            return 1;
        }
        mt_requires_grad(x, 1), mt_requires_grad(w, 1), mt_requires_grad(b, 1);
        double best_f[NV], best_b[NV];
        for (int v = 0; v < NV; v++) best_f[v] = best_b[v] = 1e30;
        for (int r = 0; r <= rounds; r++) /* round 0: warm-up */
            for (int v = 0; v < NV; v++) {
                double f, bw;
                if (run_once(&VARIANTS[v], x, w, b, gy, &f, &bw)) return 1;
                if (r && f < best_f[v]) best_f[v] = f;
                if (r && bw < best_b[v]) best_b[v] = bw;
            }
        const double flops = 2.0 * batch * O * C * 9.0 * S * S;
        for (int v = 0; v < NV; v++)
            printf("%-5d %-5d %-5d | %-10s %9.2f %9.2f %8.1f %8.1f\n", C, O, S, VARIANTS[v].name, best_f[v] * 1e3,
                   best_b[v] * 1e3, flops / best_f[v] * 1e-9, 2 * flops / best_b[v] * 1e-9);
        fflush(stdout);
        mt_tensor_release(x), mt_tensor_release(w), mt_tensor_release(b), mt_tensor_release(gy);
    }
    return 0;
}
