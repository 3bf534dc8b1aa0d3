/* experiments/bench/bench_nets.c: forward + backward time of one model graph
 * at a given input size on the CPU (float32), for experiments/bench/bench_nets.sh,
 * which runs it next to the PyTorch twin (bench_nets.py) and prints ratios.
 * Not a test: nothing asserts a time.
 *
 *   bench_nets GRAPH --size H,W [--batch N] [--set k=v ...] [--reps R] [--warmup W] [--threads T] [--eval]
 *
 * One repetition: forward in training mode (evaluation with --eval), loss =
 * sum_i sum(y_i) over the outputs, backward (parameter gradients). Prints
 * "ms_per_step: X" (median over the repetitions) and "params: N". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../core/autograd.h"
#include "../../core/device.h"
#include "../../core/ops.h"
#include "../../layers/init.h"
#include "../../layers/model.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: bench_nets GRAPH --size H,W [--batch N] [--set k=v ...] [--reps R] [--warmup W] [--threads T] [--eval]\n");
        return argc < 2 ? 2 : 0;
    }
    const char *graph = argv[1];
    int h = 0, w = 0, batch = 2, reps = 5, warmup = 1, threads = 2, train = 1, n_args = 0;
    mt_model_arg args[16];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--size") && i + 1 < argc) sscanf(argv[++i], "%d,%d", &h, &w);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--eval")) train = 0;
        else if (!strcmp(argv[i], "--set") && i + 1 < argc && n_args < 16) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "bench_nets: --set expects key=value\n");
                return 2;
            }
            *eq = '\0';
            args[n_args].key = kv;
            args[n_args++].value = eq + 1;
        } else {
            fprintf(stderr, "bench_nets: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (reps < 1 || reps > 1000) reps = 5;
    mt_set_num_threads(threads);
    mt_model *m = NULL;
    if (mt_model_load_yaml(graph, n_args, args, mt_cpu(), 1, &m) != MT_OK) {
        fprintf(stderr, "bench_nets: %s\n", mt_last_error());
        return 1;
    }
    if (h <= 0) mt_model_nominal_size(m, &h, &w);
    int xs[4] = {batch, mt_model_in_channels(m), h, w}, no = mt_model_output_count(m);
    mt_tensor *x = mt_tensor_new(MT_REAL, mt_cpu(), 4, xs);
    mt_rng r = {5, 0};
    if (!x || mt_init_uniform(x, 0, 1, &r) != MT_OK || no > 8) {
        fprintf(stderr, "bench_nets: %s\n", mt_last_error());
        return 1;
    }
    double *t = calloc((size_t)reps, sizeof *t);
    mt_rng drop = {7, 0};
    for (int k = -warmup; k < reps; k++) {
        double t0 = now();
        mt_tensor *ys[8] = {0}, *loss = NULL;
        if (mt_model_run(m, x, train, &drop, ys) != MT_OK) {
            fprintf(stderr, "bench_nets: %s\n", mt_last_error());
            return 1;
        }
        for (int i = 0; i < no; i++) {
            mt_tensor *s = mt_sum_all(ys[i]), *acc = loss ? mt_add(loss, s) : mt_tensor_retain(s);
            mt_tensor_release(s);
            mt_tensor_release(loss);
            loss = acc;
        }
        if (!loss || mt_backward(loss, NULL, 0) != MT_OK) {
            fprintf(stderr, "bench_nets: %s\n", mt_last_error());
            return 1;
        }
        mt_tensor_release(loss);
        for (int i = 0; i < no; i++) mt_tensor_release(ys[i]);
        int np;
        mt_tensor **ps = mt_model_params(m, &np);
        for (int i = 0; i < np; i++) mt_zero_grad(ps[i]);
        if (k >= 0) t[k] = now() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp);
    printf("ms_per_step: %.2f\nparams: %zu\n", 1e3 * t[reps / 2], mt_model_param_count(m));
    free(t);
    mt_tensor_release(x);
    mt_model_free(m);
    return 0;
}
