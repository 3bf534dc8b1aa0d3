/* tests/test_backend_ops.c: CPU vs CUDA consistency of every op in
 * core/ops.h (the idea of ggml's test-backend-ops). Each case builds its
 * inputs from Philox random numbers on the CPU, runs the op on the CPU and
 * on cuda:0 (same inputs copied over, TF32 off), back-propagates the same
 * random output gradients, and requires forward outputs and all input
 * gradients to agree within 1e-4 (relative, atol 1e-4 for values near 0).
 * One test per op (backend_<op>) so a machine without a GPU shows one
 * "skipped: no GPU" per op. */
#include <string.h>

#include "../core/device.h"
#include "../core/ops.h"
#include "../core/rng.h"
#include "test.h"

#ifdef MT_WITH_CUDA
void mt_cuda_set_tf32(int allow); /* core/cuda_common.h (not includable without the CUDA headers) */
#endif

#define BO_MAX_IN 5
#define BO_MAX_OUT 4

/* How an input is filled. */
typedef enum bo_fill {
    BO_NORMAL = 0, /* N(0, 1) */
    BO_POSITIVE,   /* uniform [0.2, 3) (log, sqrt, div denominators, weights) */
    BO_PROB,       /* uniform [0.05, 0.95) */
    BO_MASK,       /* 0 or 1 */
    BO_CLASS       /* MT_I32 class ids in [0, arg) */
} bo_fill;

typedef struct bo_input {
    int ndim;
    int shape[MT_MAX_DIMS];
    bo_fill fill;
    int arg;  /* BO_CLASS: number of classes */
    int grad; /* requires_grad */
} bo_input;

/* Runs the op; writes outputs into out[] and returns how many (0 on error). */
typedef int (*bo_run)(mt_tensor **in, mt_tensor **out);

typedef struct bo_case {
    const char *name;
    int n_in;
    bo_input in[BO_MAX_IN];
    bo_run run;
    int bitwise; /* 1: two runs on the device must agree bit for bit (deterministic kernels) */
} bo_case;

static mt_tensor *bo_make(const bo_input *s, uint64_t seed)
{
    if (s->ndim < 0) return NULL; /* optional input left out */
    mt_tensor *t = mt_tensor_new(s->fill == BO_CLASS ? MT_I32 : MT_REAL, mt_cpu(), s->ndim, s->shape);
    if (!t) return NULL;
    size_t n = mt_numel(t);
    for (size_t i = 0; i < n; i++) {
        double u = mt_philox_uniform_d(seed, i);
        switch (s->fill) {
        case BO_NORMAL: MT_DATA(t)[i] = (mt_real)mt_philox_normal(seed, i); break;
        case BO_POSITIVE: MT_DATA(t)[i] = (mt_real)(0.2 + 2.8 * u); break;
        case BO_PROB: MT_DATA(t)[i] = (mt_real)(0.05 + 0.9 * u); break;
        case BO_MASK: MT_DATA(t)[i] = u < 0.5 ? 0 : 1; break;
        case BO_CLASS: ((int32_t *)mt_data(t))[i] = (int32_t)(u * s->arg); break;
        }
    }
    mt_requires_grad(t, s->grad);
    return t;
}

/* Runs on one device: inputs cpu_in copied to dev; returns outputs and input
 * grads as CPU tensors. */
static int bo_run_on(const bo_case *c, mt_tensor **cpu_in, mt_device dev, mt_tensor **out_host, int *n_out,
                     mt_tensor **grad_host, char *why, size_t len)
{
    mt_tensor *in[BO_MAX_IN] = {0}, *out[BO_MAX_OUT] = {0};
    int ok = 0, ny = 0;
    for (int j = 0; j < c->n_in; j++) {
        if (!cpu_in[j]) continue;
        in[j] = mt_tensor_to(cpu_in[j], dev);
        if (!in[j]) goto done;
        mt_requires_grad(in[j], cpu_in[j]->requires_grad);
    }
    ny = c->run(in, out);
    if (ny < 1) goto done;
    for (int k = 0; k < ny; k++) {
        if (!(out_host[k] = mt_tensor_to(out[k], mt_cpu()))) goto done;
        if (!out[k]->requires_grad) continue;
        /* dL/dy_k: Philox normals, identical on both devices */
        mt_tensor *r = mt_tensor_new(MT_REAL, mt_cpu(), out[k]->ndim, out[k]->shape);
        if (!r) goto done;
        for (size_t i = 0; i < mt_numel(r); i++) MT_DATA(r)[i] = (mt_real)mt_philox_normal(4242 + (uint64_t)k, i);
        mt_tensor *rd = mt_tensor_to(r, dev);
        mt_tensor_release(r);
        mt_status s = rd ? mt_backward(out[k], rd, k < ny - 1) : mt_last_status();
        mt_tensor_release(rd);
        if (s != MT_OK) goto done;
    }
    for (int j = 0; j < c->n_in; j++)
        if (in[j] && in[j]->requires_grad && in[j]->grad && !(grad_host[j] = mt_tensor_to(in[j]->grad, mt_cpu())))
            goto done;
    ok = 1;
done:
    if (!ok) {
        char d[16];
        snprintf(why, len, "%s on %s: %s", c->name, mt_device_str(dev, d, sizeof d), mt_last_error());
    }
    *n_out = ny;
    for (int k = 0; k < BO_MAX_OUT; k++) mt_tensor_release(out[k]);
    for (int j = 0; j < BO_MAX_IN; j++) mt_tensor_release(in[j]);
    return ok;
}

static int bo_same(const char *what, const mt_tensor *a, const mt_tensor *b, char *why, size_t len)
{
    char w[512];
    if (!a || !b || !mt_same_shape(a, b) || a->dtype != b->dtype) {
        snprintf(why, len, "%s: missing or differently shaped on the two devices", what);
        return 0;
    }
    if (a->dtype == MT_I32) {
        if (memcmp(mt_data(a), mt_data(b), mt_nbytes(a)) == 0) return 1;
        snprintf(why, len, "%s: int32 outputs differ", what);
        return 0;
    }
    if (!mt_test_close_f(MT_DATA(a), MT_DATA(b), mt_numel(a), 1e-4, 1e-4, w, sizeof w)) {
        snprintf(why, len, "%s (cuda vs cpu): %s", what, w);
        return 0;
    }
    return 1;
}

/* The whole comparison of one case between the CPU and `dev`; 1 = agree. */
static int bo_compare(const bo_case *c, mt_device dev, char *why, size_t len)
{
    mt_tensor *cpu_in[BO_MAX_IN] = {0}, *y[3][BO_MAX_OUT] = {{0}}, *g[3][BO_MAX_IN] = {{0}};
    int ny[3] = {0, 0, 0}, ok = 1;
    for (int j = 0; j < c->n_in && ok; j++) {
        cpu_in[j] = bo_make(&c->in[j], 1000 + (uint64_t)j);
        if (!cpu_in[j] && c->in[j].ndim >= 0) {
            snprintf(why, len, "%s: inputs: %s", c->name, mt_last_error());
            ok = 0;
        }
    }
    if (ok) ok = bo_run_on(c, cpu_in, mt_cpu(), y[0], &ny[0], g[0], why, len);
    if (ok) ok = bo_run_on(c, cpu_in, dev, y[1], &ny[1], g[1], why, len);
    if (ok && c->bitwise) ok = bo_run_on(c, cpu_in, dev, y[2], &ny[2], g[2], why, len);
    char what[96];
    for (int k = 0; ok && k < ny[0]; k++) {
        snprintf(what, sizeof what, "%s output %d", c->name, k);
        if (ny[1] != ny[0]) {
            snprintf(why, len, "%s: %d outputs on the CPU, %d on the device", c->name, ny[0], ny[1]);
            ok = 0;
            break;
        }
        ok = bo_same(what, y[1][k], y[0][k], why, len);
    }
    for (int j = 0; ok && j < c->n_in; j++) {
        if (!g[0][j] && !g[1][j]) continue;
        snprintf(what, sizeof what, "%s grad of input %d", c->name, j);
        ok = bo_same(what, g[1][j], g[0][j], why, len);
    }
    /* determinism: a second run on the device gives the very same bits */
    for (int k = 0; ok && c->bitwise && k < ny[1]; k++)
        if (!y[2][k] || memcmp(mt_data(y[1][k]), mt_data(y[2][k]), mt_nbytes(y[1][k])) != 0) {
            snprintf(why, len, "%s output %d differs between two runs on the same device", c->name, k);
            ok = 0;
        }
    for (int j = 0; ok && c->bitwise && j < c->n_in; j++)
        if (g[1][j] && (!g[2][j] || memcmp(mt_data(g[1][j]), mt_data(g[2][j]), mt_nbytes(g[1][j])) != 0)) {
            snprintf(why, len, "%s grad of input %d differs between two runs on the same device", c->name, j);
            ok = 0;
        }
    for (int d = 0; d < 3; d++) {
        for (int k = 0; k < BO_MAX_OUT; k++) mt_tensor_release(y[d][k]);
        for (int j = 0; j < BO_MAX_IN; j++) mt_tensor_release(g[d][j]);
    }
    for (int j = 0; j < BO_MAX_IN; j++) mt_tensor_release(cpu_in[j]);
    return ok;
}

/* Each case also registers itself in a table for the CPU self-check below. */
#define BO_MAX_CASES 96
static const bo_case *g_cases[BO_MAX_CASES];
static int g_n_cases;

#define BO_TEST(tname, ...) BO_CASE(tname, 0, __VA_ARGS__)
/* ops of this area (elementwise, reductions, losses) promise run-to-run determinism */
#define BO_TEST_DET(tname, ...) BO_CASE(tname, 1, __VA_ARGS__)
#define BO_CASE(tname, det, ...)                                                             \
    static const bo_case bo_case_##tname = {#tname, __VA_ARGS__, det};                       \
    __attribute__((constructor)) static void bo_reg_##tname(void)                            \
    {                                                                                        \
        if (g_n_cases < BO_MAX_CASES) g_cases[g_n_cases++] = &bo_case_##tname;               \
    }                                                                                        \
    TEST(backend_##tname)                                                                    \
    {                                                                                        \
        if (!mt_device_available(mt_cuda(0))) SKIP("skipped: no GPU");                       \
        BO_TF32_OFF();                                                                       \
        char why_[1024];                                                                     \
        CHECK(bo_compare(&bo_case_##tname, mt_cuda(0), why_, sizeof why_), "%s", why_);     \
    }

#ifdef MT_WITH_CUDA
#define BO_TF32_OFF() mt_cuda_set_tf32(0)
#else
#define BO_TF32_OFF() ((void)0)
#endif

/* input spec shorthands: N(fill, arg, grad, dims...) = N-d input; NONE_IN = optional input left out */
#define S0(fill, arg, grad) {0, {0}, fill, arg, grad}
#define S1(fill, arg, grad, a) {1, {a}, fill, arg, grad}
#define S2(fill, arg, grad, a, b) {2, {a, b}, fill, arg, grad}
#define S3(fill, arg, grad, a, b, c) {3, {a, b, c}, fill, arg, grad}
#define S4(fill, arg, grad, a, b, c, d) {4, {a, b, c, d}, fill, arg, grad}
#define NONE_IN {-1, {0}, BO_NORMAL, 0, 0}

/* ------------------------------------------------------------ run functions */
#define R1(fname, expr)                                                                      \
    static int fname(mt_tensor **in, mt_tensor **out)                                        \
    {                                                                                        \
        out[0] = (expr);                                                                     \
        return out[0] ? 1 : 0;                                                               \
    }

R1(r_relu, mt_relu(in[0]))
R1(r_leaky_relu, mt_leaky_relu(in[0], 0.1))
R1(r_sigmoid, mt_sigmoid(in[0]))
R1(r_tanh, mt_tanh(in[0]))
R1(r_silu, mt_silu(in[0]))
R1(r_abs, mt_abs(in[0]))
R1(r_clamp, mt_clamp(in[0], -0.5, 0.8))
R1(r_exp, mt_exp(in[0]))
R1(r_log, mt_log(in[0]))
R1(r_sqrt, mt_sqrt(in[0]))
R1(r_neg, mt_neg(in[0]))
R1(r_square, mt_square(in[0]))
R1(r_scale, mt_scale(in[0], 1.5, -0.25))
R1(r_atan, mt_atan(in[0]))
R1(r_index_select, mt_index_select(in[0], in[1]))
R1(r_softmax, mt_softmax(in[0], 1))
R1(r_log_softmax, mt_log_softmax(in[0], -1))
R1(r_add, mt_add(in[0], in[1]))
R1(r_sub, mt_sub(in[0], in[1]))
R1(r_mul, mt_mul(in[0], in[1]))
R1(r_div, mt_div(in[0], in[1]))
R1(r_greater, mt_greater(in[0], 0.06))
R1(r_where, mt_where(in[0], in[1], in[2]))
static const int ax_1_3[2] = {1, 3}, ax_m1[1] = {-1};
R1(r_sum, mt_sum(in[0], 2, ax_1_3, 1))
R1(r_mean, mt_mean(in[0], 1, ax_m1, 0))
R1(r_max, mt_max(in[0], 2, ax_1_3, 0))
R1(r_sum_all, mt_sum_all(in[0]))
R1(r_mean_all, mt_mean_all(in[0]))
R1(r_bce_with_logits, mt_bce_with_logits(in[0], in[1], in[2], in[3], MT_REDUCE_WEIGHTED_MEAN))
R1(r_bce, mt_bce(in[0], in[1], in[2], MT_REDUCE_MEAN))
R1(r_l1_loss, mt_l1_loss(in[0], in[1], in[2], MT_REDUCE_NONE))
R1(r_mse_loss, mt_mse_loss(in[0], in[1], in[2], MT_REDUCE_SUM))
R1(r_cross_entropy, mt_cross_entropy(in[0], in[1], in[2], 0, in[3], MT_REDUCE_MEAN))

static int r_conv2d(mt_tensor **in, mt_tensor **out)
{
    mt_conv2d_params p = mt_conv2d_default();
    p.stride_h = p.stride_w = 2;
    mt_same_padding(9, 3, 2, 1, &p.pad_top, &p.pad_bottom);
    mt_same_padding(8, 3, 2, 1, &p.pad_left, &p.pad_right);
    out[0] = mt_conv2d(in[0], in[1], in[2], p);
    return out[0] ? 1 : 0;
}
static int r_conv2d_grouped(mt_tensor **in, mt_tensor **out)
{
    mt_conv2d_params p = mt_conv2d_default();
    p.groups = 2;
    p.dil_h = p.dil_w = 2;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 2;
    out[0] = mt_conv2d(in[0], in[1], in[2], p);
    return out[0] ? 1 : 0;
}
static int r_conv_transpose2d(mt_tensor **in, mt_tensor **out)
{
    mt_conv_transpose2d_params p = mt_conv_transpose2d_default();
    p.stride_h = p.stride_w = 2;
    out[0] = mt_conv_transpose2d(in[0], in[1], in[2], p);
    return out[0] ? 1 : 0;
}
R1(r_linear, mt_linear(in[0], in[1], in[2]))
static int r_max_pool2d(mt_tensor **in, mt_tensor **out)
{
    mt_pool2d_params p = mt_pool2d_default(3);
    p.stride_h = p.stride_w = 2;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    p.ceil_mode = 1;
    out[0] = mt_max_pool2d(in[0], p, &out[1]);
    return out[0] ? 2 : 0;
}
static int r_max_unpool2d(mt_tensor **in, mt_tensor **out)
{
    mt_tensor *idx = NULL;
    int prev = mt_set_grad_enabled(0);
    mt_tensor *pooled = mt_max_pool2d(in[0], mt_pool2d_default(2), &idx);
    mt_set_grad_enabled(prev);
    mt_tensor_release(pooled);
    out[0] = mt_max_unpool2d(in[1], idx, 8, 6);
    mt_tensor_release(idx);
    return out[0] ? 1 : 0;
}
static int r_avg_pool2d(mt_tensor **in, mt_tensor **out)
{
    mt_pool2d_params p = mt_pool2d_default(3);
    p.stride_h = p.stride_w = 2;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    p.count_include_pad = 0;
    p.ceil_mode = 1;
    out[0] = mt_avg_pool2d(in[0], p);
    return out[0] ? 1 : 0;
}
R1(r_global_avg_pool2d, mt_global_avg_pool2d(in[0]))
static int r_batch_norm2d(mt_tensor **in, mt_tensor **out)
{
    /* running buffers updated in place: compared as extra outputs */
    out[0] = mt_batch_norm2d(in[0], in[1], in[2], in[3], in[4], mt_batch_norm_default());
    if (!out[0]) return 0;
    out[1] = mt_tensor_alias(in[3]);
    out[2] = mt_tensor_alias(in[4]);
    return 3;
}
static int r_batch_norm2d_eval(mt_tensor **in, mt_tensor **out)
{
    mt_batch_norm_params p = mt_batch_norm_default();
    p.training = 0;
    out[0] = mt_batch_norm2d(in[0], in[1], in[2], in[3], in[4], p);
    return out[0] ? 1 : 0;
}
static int r_dropout(mt_tensor **in, mt_tensor **out)
{
    mt_dropout_params p = {0.3, 1, 1234, 77};
    out[0] = mt_dropout(in[0], p);
    return out[0] ? 1 : 0;
}
R1(r_upsample_nearest, mt_upsample2d(in[0], 9, 7, MT_UPSAMPLE_NEAREST, 0))
R1(r_upsample_bilinear, mt_upsample2d(in[0], 10, 9, MT_UPSAMPLE_BILINEAR, 0))
R1(r_upsample_bilinear_ac, mt_upsample2d(in[0], 10, 9, MT_UPSAMPLE_BILINEAR, 1))
R1(r_pad2d_reflect, mt_pad2d(in[0], 2, 1, 1, 2, MT_PAD_REFLECT, 0))
R1(r_pad2d_constant, mt_pad2d(in[0], 1, 0, 2, 1, MT_PAD_CONSTANT, 0.5))
R1(r_pad2d_replicate, mt_pad2d(in[0], 0, 3, 3, 0, MT_PAD_REPLICATE, 0))
R1(r_concat, mt_concat(3, in, 1))
static int r_split(mt_tensor **in, mt_tensor **out)
{
    const int sizes[3] = {1, 3, 2};
    return mt_split(in[0], 1, 3, sizes, out) == MT_OK ? 3 : 0;
}
R1(r_slice, mt_slice(in[0], -2, 1, 4))
R1(r_crop2d, mt_crop2d(in[0], 1, 2, 3, 3))
/* view ops followed by a square so the gradient depends on the values */
static int r_reshape(mt_tensor **in, mt_tensor **out)
{
    const int to[3] = {3, -1, 4};
    mt_tensor *v = mt_reshape(in[0], 3, to);
    out[0] = mt_square(v);
    mt_tensor_release(v);
    return out[0] ? 1 : 0;
}
static int r_flatten(mt_tensor **in, mt_tensor **out)
{
    mt_tensor *v = mt_flatten(in[0], 1);
    out[0] = mt_square(v);
    mt_tensor_release(v);
    return out[0] ? 1 : 0;
}
static const int perm[4] = {0, 2, 3, 1};
R1(r_permute, mt_permute(in[0], 4, perm))

/* --------------------------------------------------------------- the cases */
#define F4 S4(BO_NORMAL, 0, 1, 2, 3, 5, 4)
BO_TEST_DET(relu, 1, {F4}, r_relu)
BO_TEST_DET(leaky_relu, 1, {F4}, r_leaky_relu)
BO_TEST_DET(sigmoid, 1, {F4}, r_sigmoid)
BO_TEST_DET(tanh, 1, {F4}, r_tanh)
BO_TEST_DET(silu, 1, {F4}, r_silu)
BO_TEST_DET(abs, 1, {F4}, r_abs)
BO_TEST_DET(clamp, 1, {F4}, r_clamp)
BO_TEST_DET(exp, 1, {F4}, r_exp)
BO_TEST_DET(log, 1, {S3(BO_POSITIVE, 0, 1, 7, 1, 5)}, r_log)
BO_TEST_DET(sqrt, 1, {S3(BO_POSITIVE, 0, 1, 7, 1, 5)}, r_sqrt)
BO_TEST_DET(neg, 1, {F4}, r_neg)
BO_TEST_DET(square, 1, {F4}, r_square)
BO_TEST_DET(scale, 1, {F4}, r_scale)
BO_TEST_DET(atan, 1, {F4}, r_atan)
BO_TEST_DET(index_select, 2, {S3(BO_NORMAL, 0, 1, 6, 3, 4), S1(BO_CLASS, 6, 0, 9)}, r_index_select)
BO_TEST_DET(softmax, 1, {S4(BO_NORMAL, 0, 1, 2, 5, 6, 7)}, r_softmax)
BO_TEST_DET(log_softmax, 1, {S2(BO_NORMAL, 0, 1, 3, 1000)}, r_log_softmax)
BO_TEST_DET(add, 2, {S3(BO_NORMAL, 0, 1, 7, 1, 5), S2(BO_NORMAL, 0, 1, 3, 1)}, r_add)
BO_TEST_DET(sub, 2, {S0(BO_NORMAL, 0, 1), S4(BO_NORMAL, 0, 1, 2, 3, 5, 4)}, r_sub)
BO_TEST_DET(mul, 2, {S4(BO_NORMAL, 0, 1, 8, 16, 32, 32), S3(BO_NORMAL, 0, 1, 16, 1, 1)}, r_mul)
BO_TEST_DET(div, 2, {S3(BO_NORMAL, 0, 1, 7, 1, 5), S2(BO_POSITIVE, 0, 1, 3, 1)}, r_div)
BO_TEST_DET(greater, 1, {F4}, r_greater)
BO_TEST_DET(where, 3, {S3(BO_MASK, 0, 0, 7, 1, 5), S2(BO_NORMAL, 0, 1, 3, 1), S3(BO_NORMAL, 0, 1, 7, 3, 5)},
        r_where)
BO_TEST_DET(sum, 1, {S4(BO_NORMAL, 0, 1, 4, 33, 5, 70)}, r_sum)
BO_TEST_DET(mean, 1, {S3(BO_NORMAL, 0, 1, 3, 4, 20000)}, r_mean)
BO_TEST_DET(max, 1, {S4(BO_NORMAL, 0, 1, 4, 33, 5, 70)}, r_max)
BO_TEST_DET(sum_all, 1, {S4(BO_NORMAL, 0, 1, 4, 16, 64, 64)}, r_sum_all)
BO_TEST_DET(mean_all, 1, {S2(BO_NORMAL, 0, 1, 7, 3)}, r_mean_all)
BO_TEST_DET(bce_with_logits, 4,
        {S4(BO_NORMAL, 0, 1, 2, 3, 16, 16), S4(BO_PROB, 0, 1, 2, 3, 16, 16), S4(BO_MASK, 0, 0, 2, 1, 16, 16),
         S3(BO_POSITIVE, 0, 0, 3, 1, 1)},
        r_bce_with_logits)
BO_TEST_DET(bce, 3, {S2(BO_PROB, 0, 1, 64, 300), S2(BO_MASK, 0, 1, 64, 300), NONE_IN}, r_bce)
BO_TEST_DET(l1_loss, 3, {F4, F4, S2(BO_POSITIVE, 0, 0, 5, 4)}, r_l1_loss)
BO_TEST_DET(mse_loss, 3, {F4, F4, S1(BO_POSITIVE, 0, 0, 4)}, r_mse_loss)
BO_TEST_DET(cross_entropy, 4,
        {S4(BO_NORMAL, 0, 1, 2, 4, 32, 32), S3(BO_CLASS, 4, 0, 2, 32, 32), S1(BO_POSITIVE, 0, 0, 4),
         S3(BO_POSITIVE, 0, 0, 2, 32, 32)},
        r_cross_entropy)
BO_TEST(conv2d, 3, {S4(BO_NORMAL, 0, 1, 2, 3, 9, 8), S4(BO_NORMAL, 0, 1, 4, 3, 3, 3), S1(BO_NORMAL, 0, 1, 4)},
        r_conv2d)
BO_TEST(conv2d_grouped, 3,
        {S4(BO_NORMAL, 0, 1, 1, 4, 7, 7), S4(BO_NORMAL, 0, 1, 6, 2, 3, 3), NONE_IN}, r_conv2d_grouped)
BO_TEST(conv_transpose2d, 3,
        {S4(BO_NORMAL, 0, 1, 2, 4, 5, 6), S4(BO_NORMAL, 0, 1, 4, 3, 2, 2), S1(BO_NORMAL, 0, 1, 3)},
        r_conv_transpose2d)
BO_TEST(linear, 3, {S2(BO_NORMAL, 0, 1, 7, 20), S2(BO_NORMAL, 0, 1, 5, 20), S1(BO_NORMAL, 0, 1, 5)}, r_linear)
BO_TEST(max_pool2d, 1, {S4(BO_NORMAL, 0, 1, 2, 3, 9, 10)}, r_max_pool2d)
BO_TEST(max_unpool2d, 2, {S4(BO_NORMAL, 0, 0, 2, 3, 8, 6), S4(BO_NORMAL, 0, 1, 2, 3, 4, 3)}, r_max_unpool2d)
BO_TEST(avg_pool2d, 1, {S4(BO_NORMAL, 0, 1, 2, 3, 9, 10)}, r_avg_pool2d)
BO_TEST(global_avg_pool2d, 1, {S4(BO_NORMAL, 0, 1, 2, 3, 9, 10)}, r_global_avg_pool2d)
BO_TEST(batch_norm2d, 5,
        {S4(BO_NORMAL, 0, 1, 4, 3, 6, 5), S1(BO_POSITIVE, 0, 1, 3), S1(BO_NORMAL, 0, 1, 3),
         S1(BO_NORMAL, 0, 0, 3), S1(BO_POSITIVE, 0, 0, 3)},
        r_batch_norm2d)
BO_TEST(batch_norm2d_eval, 5,
        {S4(BO_NORMAL, 0, 1, 4, 3, 6, 5), S1(BO_POSITIVE, 0, 1, 3), S1(BO_NORMAL, 0, 1, 3),
         S1(BO_NORMAL, 0, 0, 3), S1(BO_POSITIVE, 0, 0, 3)},
        r_batch_norm2d_eval)
BO_TEST(dropout, 1, {S4(BO_NORMAL, 0, 1, 2, 3, 17, 19)}, r_dropout)
BO_TEST(upsample2d_nearest, 1, {S4(BO_NORMAL, 0, 1, 2, 3, 4, 5)}, r_upsample_nearest)
BO_TEST(upsample2d_bilinear, 1, {S4(BO_NORMAL, 0, 1, 2, 3, 4, 5)}, r_upsample_bilinear)
BO_TEST(upsample2d_bilinear_align_corners, 1, {S4(BO_NORMAL, 0, 1, 2, 3, 4, 5)}, r_upsample_bilinear_ac)
BO_TEST(pad2d_reflect, 1, {S4(BO_NORMAL, 0, 1, 2, 3, 4, 5)}, r_pad2d_reflect)
BO_TEST(pad2d_constant, 1, {S4(BO_NORMAL, 0, 1, 2, 3, 4, 5)}, r_pad2d_constant)
BO_TEST(pad2d_replicate, 1, {S4(BO_NORMAL, 0, 1, 2, 3, 4, 5)}, r_pad2d_replicate)
BO_TEST(concat, 3,
        {S4(BO_NORMAL, 0, 1, 2, 1, 4, 5), S4(BO_NORMAL, 0, 1, 2, 3, 4, 5), S4(BO_NORMAL, 0, 1, 2, 2, 4, 5)},
        r_concat)
BO_TEST(split, 1, {S4(BO_NORMAL, 0, 1, 2, 6, 4, 5)}, r_split)
BO_TEST(slice, 1, {S4(BO_NORMAL, 0, 1, 2, 3, 6, 5)}, r_slice)
BO_TEST(crop2d, 1, {S4(BO_NORMAL, 0, 1, 2, 3, 6, 7)}, r_crop2d)
BO_TEST(reshape, 1, {S4(BO_NORMAL, 0, 1, 2, 3, 4, 2)}, r_reshape)
BO_TEST(flatten, 1, {S4(BO_NORMAL, 0, 1, 2, 3, 4, 2)}, r_flatten)
BO_TEST(permute, 1, {S4(BO_NORMAL, 0, 1, 2, 3, 4, 5)}, r_permute)

/* Runs every case CPU against CPU: each case must build its inputs, run
 * forward and backward, and give identical results twice (so a broken case
 * is caught on machines without a GPU, and the CPU kernels are
 * deterministic), and must not leak. */
TEST(backend_cases_run_on_cpu)
{
    CHECK(g_n_cases >= 50, "only %d backend cases registered", g_n_cases);
    size_t before = mt_alloc_in_use(MT_CPU);
    for (int i = 0; i < g_n_cases; i++) {
        char why[1024];
        CHECK(bo_compare(g_cases[i], mt_cpu(), why, sizeof why), "%s", why);
    }
    CHECK(mt_alloc_in_use(MT_CPU) == before, "backend cases leaked %zu bytes", mt_alloc_in_use(MT_CPU) - before);
}
