/* experiments/bench/bench_conv_impl.c: forward + backward time of single conv2d /
 * conv_transpose2d shapes under the three CPU implementations (im2col + OpenBLAS,
 * oneDNN with its blocked layouts, oneDNN plain nchw), alternated in one process:
 * the figures behind MT_CONV_IMPL=auto (core/ops/conv_dnnl.c, docs/performance.md).
 * Not a test. Usage: build/bench_conv_impl [rounds (5)] [threads (2)]. Prints, per
 * shape, the median milliseconds of fwd+bwd of each implementation. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../../core/autograd.h"
#include "../../core/ops.h"
#include "../../core/ops/dnnl.h"

typedef struct shape {
    const char *name;
    int transposed, N, C, H, O, K, stride, groups;
} shape;

static const shape SHAPES[] = {
    {"U-Net 64->64 3x3 128x128 b4", 0, 4, 64, 128, 64, 3, 1, 1},
    {"U-Net 128->128 3x3 64x64 b4", 0, 4, 128, 64, 128, 3, 1, 1},
    {"U-Net 512->512 3x3 16x16 b4", 0, 4, 512, 16, 512, 3, 1, 1},
    {"U-Net 1->64 3x3 128x128 b4", 0, 4, 1, 128, 64, 3, 1, 1},
    {"thin 16->16 3x3 128x128 b4", 0, 4, 16, 128, 16, 3, 1, 1},
    {"thin 32->32 3x3 64x64 b4", 0, 4, 32, 64, 32, 3, 1, 1},
    {"1x1 64->256 32x32 b4", 0, 4, 64, 32, 256, 1, 1, 1},
    {"stride2 64->128 3x3 64x64 b4", 0, 4, 64, 64, 128, 3, 2, 1},
    {"depthwise 96 3x3 64x64 b4", 0, 4, 96, 64, 96, 3, 1, 96},
    {"depthwise 144 5x5 s2 64x64 b4", 0, 4, 144, 64, 144, 5, 2, 144},
    {"grouped g8 64->64 3x3 64x64 b4", 0, 4, 64, 64, 64, 3, 1, 8},
    {"convT 128->64 2x2 s2 64x64 b4", 1, 4, 128, 64, 64, 2, 2, 1},
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static mt_tensor *filled(int n, const int *s, float v)
{
    mt_tensor *t = mt_tensor_new(MT_REAL, mt_cpu(), n, s);
    if (t)
        for (size_t i = 0; i < mt_numel(t); i++) MT_DATA(t)[i] = v * (float)((i * 7919) % 13 - 6);
    return t;
}

/* one fwd+bwd in seconds, or -1 on error */
static double step(const shape *s)
{
    int pad = s->K / 2;
    int xs[4] = {s->N, s->C, s->H, s->H};
    int ws[4] = {s->transposed ? s->C : s->O, s->transposed ? s->O / s->groups : s->C / s->groups, s->K, s->K};
    int bs[1] = {s->O};
    mt_tensor *x = filled(4, xs, 0.01f), *w = filled(4, ws, 0.01f), *b = filled(1, bs, 0.01f);
    mt_requires_grad(x, 1), mt_requires_grad(w, 1), mt_requires_grad(b, 1);
    double t0 = now();
    mt_tensor *y;
    if (s->transposed) {
        mt_conv_transpose2d_params p = mt_conv_transpose2d_default();
        p.stride_h = p.stride_w = s->stride, p.groups = s->groups;
        y = mt_conv_transpose2d(x, w, b, p);
    } else {
        mt_conv2d_params p = mt_conv2d_default();
        p.stride_h = p.stride_w = s->stride, p.groups = s->groups;
        p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = pad;
        y = mt_conv2d(x, w, b, p);
    }
    mt_tensor *gy = y ? filled(y->ndim, y->shape, 0.001f) : NULL;
    int ok = gy && mt_backward(y, gy, 0) == MT_OK;
    double t = now() - t0;
    mt_tensor_release(gy), mt_tensor_release(y), mt_tensor_release(x), mt_tensor_release(w), mt_tensor_release(b);
    if (!ok) fprintf(stderr, "%s: %s\n", s->name, mt_last_error());
    return ok ? t : -1;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5, threads = argc > 2 ? atoi(argv[2]) : 2;
    if (rounds < 1 || rounds > 50) rounds = 5;
    mt_set_num_threads(threads);
    printf("%-34s %10s %10s %10s   (median ms of fwd+bwd, %d rounds, %d threads)\n", "shape", "im2col", "dnnl-blk",
           "dnnl-nchw", rounds, threads);
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++) {
        double t[3][50];
        for (int v = 0; v < 3; v++) { /* warm-up: primitives built, allocator filled */
            mt_conv_set_impl(v == 0 ? MT_CONV_IMPL_IM2COL : MT_CONV_IMPL_DNNL);
            mt_dnnl_set_plain_layout(v == 2);
            if (step(&SHAPES[i]) < 0) return 1;
        }
        for (int r = 0; r < rounds; r++)
            for (int v = 0; v < 3; v++) {
                mt_conv_set_impl(v == 0 ? MT_CONV_IMPL_IM2COL : MT_CONV_IMPL_DNNL);
                mt_dnnl_set_plain_layout(v == 2);
                t[v][r] = step(&SHAPES[i]);
            }
        printf("%-34s", SHAPES[i].name);
        for (int v = 0; v < 3; v++) {
            qsort(t[v], rounds, sizeof(double), cmp);
            printf(" %10.2f", 1e3 * t[v][rounds / 2]);
        }
        printf("\n");
        fflush(stdout);
    }
    return 0;
}
