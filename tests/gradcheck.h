/* tests/gradcheck.h: the finite-difference gradient-check harness shared by
 * the float64 tests/gradcheck_*.c files (mt_real = double, CPU only).
 * Loss L = sum_k sum(y_k * r_k) with r_k = Philox normals of stream
 * (r_seed + k); the analytic dL/dx from mt_backward is compared with central
 * differences (L(x + h) - L(x - h)) / 2h, h = 1e-6, and must satisfy
 * |num - ana| <= 1e-7 + 1e-6 |num| (torch.autograd.gradcheck style). */
#ifndef MT_TESTS_GRADCHECK_H
#define MT_TESTS_GRADCHECK_H

#include <stdint.h>

#include "../core/ops.h"
#include "test.h"

#define GC_MAX 8

/* Runs the op on in[] and writes its outputs (1..GC_MAX) into out[]; returns the count (0 on error). */
typedef int (*gc_fn)(mt_tensor **in, mt_tensor **out, const void *ctx);
/* Single-output form: returns the op's output (NULL on error). */
typedef mt_tensor *(*gc_fn1)(mt_tensor **in, const void *ctx);

/* sum_k sum(y_k * r_k), r_k[i] = mt_philox_normal(r_seed + k, i). */
double gc_loss(mt_tensor **y, int ny, uint64_t r_seed);

/* CPU tensor of Philox normals (stream `seed`) times `scale` plus `shift`; requires_grad untouched. */
mt_tensor *gc_randn(int ndim, const int *shape, uint64_t seed, double scale, double shift);

/* CPU tensor of uniforms in [lo, hi) (stream `seed`); values within 1e-3 of
 * any of kinks[0..n_kinks) are moved 2e-3 away from it (finite differences
 * must not straddle a kink); requires_grad set to `grad`. */
mt_tensor *gc_randu(int ndim, const int *shape, uint64_t seed, double lo, double hi, const double *kinks, int n_kinks,
                    int grad);

/* Checks the gradient of every in[j] with requires_grad (NULL entries skipped)
 * against central differences of the loss above; records a failure in T_ and
 * returns 0 on the first mismatch (or failed forward/backward), 1 otherwise. */
int gc_check(mt_test_ctx *T_, const char *what, gc_fn fn, const void *ctx, mt_tensor **in, int n_in,
             uint64_t r_seed);
/* gc_check for a single-output op. */
int gc_check1(mt_test_ctx *T_, const char *what, gc_fn1 fn, const void *ctx, mt_tensor **in, int n_in,
              uint64_t r_seed);

#endif
