/* tests/gradcheck_elementwise.c: float64 (mt_real = double) central finite
 * differences for every elementwise, broadcasting, mask, reduction and
 * softmax op: leaky_relu, sigmoid, tanh, silu, abs, clamp, exp, log, sqrt,
 * neg, square, scale, softmax/log_softmax (several dims), add/sub/mul/div with
 * broadcasting and 0-d operands, where, sum/mean/max with axes and keepdim,
 * sum_all/mean_all. Loss L = sum(y * r) with r fixed Philox normals. */
#include <math.h>
#include <string.h>

#include "../core/ops.h"
#include "../core/rng.h"
#include "gradcheck.h"
#include "test.h"

/* ---- unary */
typedef struct unary_case {
    const char *name;
    int kind;
    double lo, hi;
} unary_case;

static mt_tensor *run_unary(mt_tensor **in, const void *ctx)
{
    switch (((const unary_case *)ctx)->kind) {
    case 0: return mt_leaky_relu(in[0], 0.2);
    case 1: return mt_sigmoid(in[0]);
    case 2: return mt_tanh(in[0]);
    case 3: return mt_silu(in[0]);
    case 4: return mt_abs(in[0]);
    case 5: return mt_clamp(in[0], -0.5, 0.7);
    case 6: return mt_exp(in[0]);
    case 7: return mt_log(in[0]);
    case 8: return mt_sqrt(in[0]);
    case 9: return mt_neg(in[0]);
    case 10: return mt_square(in[0]);
    case 11: return mt_scale(in[0], -1.7, 0.3);
    default: return mt_relu(in[0]);
    }
}

TEST(gradcheck_elementwise_unary)
{
    static const unary_case cases[] = {
        {"leaky_relu", 0, -3, 3}, {"sigmoid", 1, -8, 8}, {"tanh", 2, -3, 3}, {"silu", 3, -6, 6},
        {"abs", 4, -2, 2},        {"clamp", 5, -1, 1},   {"exp", 6, -3, 3},  {"log", 7, 0.2, 4},
        {"sqrt", 8, 0.2, 4},      {"neg", 9, -2, 2},     {"square", 10, -2, 2}, {"scale", 11, -2, 2},
        {"relu", 12, -2, 2},
    };
    const double kinks[3] = {0, -0.5, 0.7};
    int shape[3] = {7, 1, 5};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        mt_tensor *x = gc_randu(3, shape, 10 + c, cases[c].lo, cases[c].hi, kinks, 3, 1);
        CHECK_NOTNULL(x);
        int ok = gc_check1(T_, cases[c].name, run_unary, &cases[c], &x, 1, 77);
        mt_tensor_release(x);
        if (!ok) return;
    }
}

/* ---- softmax */
static mt_tensor *run_softmax(mt_tensor **in, const void *ctx)
{
    int dim = *(const int *)ctx;
    return dim >= 100 ? mt_log_softmax(in[0], dim - 200) : mt_softmax(in[0], dim);
}

TEST(gradcheck_elementwise_softmax)
{
    int shape[4] = {2, 3, 2, 2};
    const int dims[6] = {1, -1, 0, 200 + 1, 200 - 1, 200 + 2}; /* >= 100: log_softmax(dim - 200) */
    for (int k = 0; k < 6; k++) {
        mt_tensor *x = gc_randu(4, shape, 40 + k, -3, 3, NULL, 0, 1);
        CHECK_NOTNULL(x);
        int ok = gc_check1(T_, dims[k] >= 100 ? "log_softmax" : "softmax", run_softmax, &dims[k], &x, 1, 77);
        mt_tensor_release(x);
        if (!ok) return;
    }
}

/* ---- binary with broadcasting */
static mt_tensor *run_binary(mt_tensor **in, const void *ctx)
{
    switch (*(const int *)ctx) {
    case 0: return mt_add(in[0], in[1]);
    case 1: return mt_sub(in[0], in[1]);
    case 2: return mt_mul(in[0], in[1]);
    default: return mt_div(in[0], in[1]);
    }
}

TEST(gradcheck_elementwise_binary_broadcast)
{
    const int sa[3][3] = {{7, 1, 5}, {2, 3, 1}, {0, 0, 0}}, na[3] = {3, 3, 0};
    const int sb[3][2] = {{3, 1}, {4, 0}, {2, 2}}, nb[3] = {2, 0, 2};
    /* pairs: [7,1,5] with [3,1]; [2,3,1] with 0-d; 0-d with [2,2] */
    for (int op = 0; op < 4; op++)
        for (int p = 0; p < 3; p++) {
            mt_tensor *in[2];
            in[0] = gc_randu(na[p], sa[p], 60 + op * 3 + p, -2, 2, NULL, 0, 1);
            in[1] = gc_randu(nb[p], sb[p], 80 + op * 3 + p, 0.5, 2, NULL, 0, 1); /* away from 0 for div */
            CHECK(in[0] && in[1], "alloc");
            static const char *names[4] = {"add", "sub", "mul", "div"};
            int ok = gc_check1(T_, names[op], run_binary, &op, in, 2, 77);
            mt_tensor_release(in[0]);
            mt_tensor_release(in[1]);
            if (!ok) return;
        }
}

/* ---- where */
static mt_tensor *run_where(mt_tensor **in, const void *ctx) { return mt_where(in[0], in[1], in[2]); }

TEST(gradcheck_elementwise_where)
{
    int sc[3] = {7, 1, 5}, sa[2] = {3, 1}, sb[3] = {7, 3, 5};
    mt_tensor *in[3];
    mt_tensor *u = gc_randu(3, sc, 90, -1, 1, NULL, 0, 1);
    in[0] = mt_greater(u, 0.0); /* condition: no gradient */
    mt_tensor_release(u);
    in[1] = gc_randu(2, sa, 91, -2, 2, NULL, 0, 1);
    in[2] = gc_randu(3, sb, 92, -2, 2, NULL, 0, 1);
    CHECK(in[0] && in[1] && in[2], "alloc: %s", mt_last_error());
    int ok = gc_check1(T_, "where", run_where, NULL, in, 3, 77);
    for (int j = 0; j < 3; j++) mt_tensor_release(in[j]);
    CHECK(ok, "where gradcheck failed");
}

/* ---- reductions */
typedef struct red_case {
    const char *name;
    int kind; /* 0 sum, 1 mean, 2 max, 3 sum_all, 4 mean_all */
    int n_axes, axes[3], keepdim;
} red_case;

static mt_tensor *run_reduce(mt_tensor **in, const void *ctx)
{
    const red_case *c = ctx;
    switch (c->kind) {
    case 0: return mt_sum(in[0], c->n_axes, c->axes, c->keepdim);
    case 1: return mt_mean(in[0], c->n_axes, c->axes, c->keepdim);
    case 2: return mt_max(in[0], c->n_axes, c->axes, c->keepdim);
    case 3: return mt_sum_all(in[0]);
    default: return mt_mean_all(in[0]);
    }
}

TEST(gradcheck_elementwise_reductions)
{
    static const red_case cases[] = {
        {"sum dim 1", 0, 1, {1}, 0},        {"sum dims 0,2 keepdim", 0, 2, {0, 2}, 1},
        {"mean dim -1", 1, 1, {-1}, 0},     {"mean dims 2,3 keepdim", 1, 2, {2, 3}, 1},
        {"max dim 1", 2, 1, {1}, 0},        {"max dims -1,0 keepdim", 2, 2, {-1, 0}, 1},
        {"max all", 2, 0, {0}, 0},          {"sum_all", 3, 0, {0}, 0},
        {"mean_all", 4, 0, {0}, 0},
    };
    int shape[4] = {3, 4, 2, 3};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        /* distinct values spaced >> h so the maximum is unique and stable */
        mt_tensor *x = mt_tensor_new(MT_REAL, mt_cpu(), 4, shape);
        CHECK_NOTNULL(x);
        size_t n = mt_numel(x);
        for (size_t i = 0; i < n; i++) MT_DATA(x)[i] = (double)((i * 37) % n) * 0.1 - 3.0;
        mt_requires_grad(x, 1);
        int ok = gc_check1(T_, cases[c].name, run_reduce, &cases[c], &x, 1, 77);
        mt_tensor_release(x);
        if (!ok) return;
    }
}
