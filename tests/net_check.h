/* tests/net_check.h: checks a model graph against an independent PyTorch twin
 * (experiments/twins/<module>.py) on a random batch: every output, every
 * parameter gradient and, in training mode, every updated buffer.
 *
 * What one case does (net_check):
 *  1. builds the graph with its args (seed 7) and saves its state_dict
 *     (train/checkpoint.h) for the twin to load with strict=True;
 *  2. draws x ~ U(x_lo, x_hi) [batch, C, h, w] (sample k's spread about the
 *     centre shrunk by 1 - 0.6 k / (batch - 1), so the samples differ in
 *     more than noise) and, after the forward pass,
 *     w_i ~ U(-1, 1) shaped like each output y_i;
 *  3. runs medtrain (float32) forward in the case's mode and backward of
 *     loss = sum_i sum(y_i * w_i);
 *  4. runs tests/twin_check.py: the twin in float64, same weights, input,
 *     mode and loss;
 *  5. compares y_i, d loss / d p for every parameter p, and the buffers after
 *     a training forward (batch-norm running statistics), each within `tol`
 *     relative to the reference tensor's largest magnitude.
 * Precision: run_tests (float32) runs evaluation cases; run_gradcheck (the
 * float64 build of the same code) runs training cases. In training mode batch
 * norm over the 2 values of a 1x1 map (DeconvNet fc6/fc7, G's innermost
 * levels) is a near sign function: float32 rounding alone moves outputs and
 * gradients by 10-20% there, in PyTorch's own float32 run as in medtrain's,
 * so only float64 can show the semantics are equal to 1e-4. Gradients that
 * are zero in exact arithmetic (a conv bias right before training-mode batch
 * norm) are compared against the largest gradient of the model instead of
 * their own ~1e-12 magnitude; likewise buffers that are zero in exact
 * arithmetic (EfficientNet's expand_bn running means: its input is a sum of
 * fresh BN outputs, beta 0, whose batch means vanish) against the model's
 * largest buffer value (running variances ~1), instead of their ~1e-18.
 * In the float32 binary, gradients are held to
 * max(tol, 1e-2): a weight gradient sums ~10^5 products with cancellation,
 * and float32 accumulation lands far from float64 (PyTorch's own float32 run
 * of the S5 U-Net differs from its float64 run by up to 7e-3, medtrain's by
 * 1.2e-3); outputs stay at tol, and the float64 binary holds every gradient
 * to tol.
 * Random layers (dropout, drop-path) must be off in training cases (their
 * masks come from medtrain's counter streams, not torch's generator).
 * Skips with "skipped: ..." when /usr/bin/python3 or torch is missing.
 */
#ifndef MT_TEST_NET_CHECK_H
#define MT_TEST_NET_CHECK_H

#include "../layers/model.h"
#include "test.h"

typedef struct net_case {
    const char *graph;        /* repo-relative graph file, e.g. "configs/models/deconvnet.yaml" */
    int n_args;
    mt_model_arg args[8];     /* model params (also passed to the twin's build()) */
    const char *twin;         /* module name under experiments/twins/ */
    int batch, h, w;          /* input size; C comes from the graph */
    double x_lo, x_hi;        /* input range */
    int train;                /* 1: training mode (batch statistics), 0: evaluation */
    double tol;               /* relative tolerance (the 1e-4) */
} net_case;

/* What a case measured (all relative to each reference tensor's largest magnitude). */
typedef struct net_stats {
    double max_rel;    /* largest medtrain-vs-float64-twin difference */
    char worst[300];   /* the tensor where it occurred */
    int n_compared;    /* outputs + gradients + buffers compared */
} net_stats;

/* Cases of a network: in the float32 binary the evaluation case, in the float64
 * binary the training case (see above). */
#ifdef MT_REAL_DOUBLE
#define NET_MODE 1
#define NET_MODE_NAME "train"
#else
#define NET_MODE 0
#define NET_MODE_NAME "eval"
#endif

/* Runs one case; failures are recorded in T_ with the tensor's name and the
 * worst element. *st (may be NULL) receives the measurements. */
void net_check(mt_test_ctx *T_, const net_case *c, net_stats *st);
/* Prints a case's measurements on one indented line (after a pass). */
void net_report(const char *label, const net_stats *st);

#endif
