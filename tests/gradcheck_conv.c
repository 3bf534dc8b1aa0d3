/* tests/gradcheck_conv.c: central finite differences in float64 (mt_real =
 * double) for conv2d, conv_transpose2d and linear: gradients of x, w and b of
 * loss = sum(y * r) with a fixed random r (Philox), from mt_backward, against
 * (loss(p + h) - loss(p - h)) / 2h for every element. Relative error
 * |num - ana| / max(|num|, |ana|, 1e-3 max|ana|) must be < 1e-6.
 * Shapes exercise stride 2, asymmetric padding, dilation, groups, depthwise,
 * output_padding and rank-3 linear input. */
#include "../core/autograd.h"
#include "../core/device.h"
#include "../core/ops.h"
#include "../core/ops/gemm.h"
#include "../core/rng.h"
#include "gradcheck.h"
#include "test.h"

#include <string.h>

typedef enum { GC_CONV2D, GC_CONVT, GC_LINEAR } gc_kind;

typedef struct gc_case {
    gc_kind kind;
    mt_conv2d_params cp;
    mt_conv_transpose2d_params tp;
} gc_case;

static mt_tensor *apply(const gc_case *c, mt_tensor *x, mt_tensor *w, mt_tensor *b)
{
    if (c->kind == GC_CONV2D) return mt_conv2d(x, w, b, c->cp);
    if (c->kind == GC_CONVT) return mt_conv_transpose2d(x, w, b, c->tp);
    return mt_linear(x, w, b);
}

/* loss = sum(y * r) without recording a graph */
static double loss_of(const gc_case *c, mt_tensor *x, mt_tensor *w, mt_tensor *b, const mt_tensor *r)
{
    int prev = mt_set_grad_enabled(0);
    mt_tensor *y = apply(c, x, w, b);
    mt_set_grad_enabled(prev);
    if (!y) return NAN;
    double s = 0;
    for (size_t i = 0; i < mt_numel(y); i++) s += MT_DATA(y)[i] * MT_DATA(r)[i];
    mt_tensor_release(y);
    return s;
}

/* Compares p->grad with central differences of every element of p. */
static void check_param(mt_test_ctx *T_, const char *what, const gc_case *c, mt_tensor *p, mt_tensor *x, mt_tensor *w,
                        mt_tensor *b, const mt_tensor *r)
{
    CHECK(p->grad, "%s: no gradient computed", what);
    const double h = 1e-5;
    const mt_real *ana = MT_DATA(p->grad);
    double amax = 0;
    for (size_t i = 0; i < mt_numel(p); i++) amax = fmax(amax, fabs(ana[i]));
    for (size_t i = 0; i < mt_numel(p); i++) {
        mt_real *v = MT_DATA(p) + i;
        mt_real keep = *v;
        *v = keep + h;
        double lp = loss_of(c, x, w, b, r);
        *v = keep - h;
        double lm = loss_of(c, x, w, b, r);
        *v = keep;
        double num = (lp - lm) / (2 * h);
        double den = fmax(fmax(fabs(num), fabs(ana[i])), 1e-3 * amax);
        double rel = den > 0 ? fabs(num - ana[i]) / den : 0;
        CHECK(rel < 1e-6, "%s[%zu]: analytic %.12g vs numeric %.12g (relative error %.3g)", what, i, ana[i], num, rel);
    }
}

static void gradcheck(mt_test_ctx *T_, const gc_case *c, int xnd, const int *xs, const int *ws, int with_bias, int bn)
{
    mt_tensor *x = gc_randn(xnd, xs, 11, 1, 0), *w = gc_randn(c->kind == GC_LINEAR ? 2 : 4, ws, 12, 1, 0);
    mt_tensor *b = with_bias ? gc_randn(1, (int[]){bn}, 13, 1, 0) : NULL;
    CHECK_NOTNULL(x);
    CHECK_NOTNULL(w);
    mt_requires_grad(x, 1);
    mt_requires_grad(w, 1);
    if (b) mt_requires_grad(b, 1);
    mt_tensor *y = apply(c, x, w, b);
    CHECK_NOTNULL(y);
    mt_tensor *r = gc_randn(y->ndim, y->shape, 14, 1, 0);
    CHECK_NOTNULL(r);
    CHECK_OK(mt_backward(y, r, 0));
    check_param(T_, "dx", c, x, x, w, b, r);
    if (!T_->failed) check_param(T_, "dw", c, w, x, w, b, r);
    if (!T_->failed && b) check_param(T_, "db", c, b, x, w, b, r);
    mt_tensor_release(y), mt_tensor_release(r), mt_tensor_release(x), mt_tensor_release(w), mt_tensor_release(b);
}

TEST(gradcheck_conv2d_stride2_asym_pad_dilation_groups)
{
    gc_case c = {.kind = GC_CONV2D};
    c.cp = mt_conv2d_default();
    c.cp.stride_h = 2, c.cp.stride_w = 1;
    c.cp.pad_top = 0, c.cp.pad_bottom = 1, c.cp.pad_left = 2, c.cp.pad_right = 1;
    c.cp.dil_w = 2;
    c.cp.groups = 2;
    gradcheck(T_, &c, 4, (int[]){2, 4, 7, 6}, (int[]){4, 2, 3, 3}, 1, 4);
}

TEST(gradcheck_conv2d_depthwise_nobias)
{
    gc_case c = {.kind = GC_CONV2D};
    c.cp = mt_conv2d_default();
    c.cp.stride_h = c.cp.stride_w = 2;
    mt_same_padding(8, 3, 2, 1, &c.cp.pad_top, &c.cp.pad_bottom);
    mt_same_padding(7, 3, 2, 1, &c.cp.pad_left, &c.cp.pad_right);
    c.cp.groups = 3;
    gradcheck(T_, &c, 4, (int[]){3, 3, 8, 7}, (int[]){3, 1, 3, 3}, 0, 3);
}

TEST(gradcheck_conv2d_pointwise)
{
    gc_case c = {.kind = GC_CONV2D};
    c.cp = mt_conv2d_default();
    gradcheck(T_, &c, 4, (int[]){2, 3, 4, 5}, (int[]){4, 3, 1, 1}, 1, 4);
}

TEST(gradcheck_conv_transpose2d_stride2_outpad_asym)
{
    gc_case c = {.kind = GC_CONVT};
    c.tp = mt_conv_transpose2d_default();
    c.tp.stride_h = c.tp.stride_w = 2;
    c.tp.pad_top = 1, c.tp.pad_bottom = 0, c.tp.pad_left = 1, c.tp.pad_right = 2;
    c.tp.out_pad_h = 1;
    gradcheck(T_, &c, 4, (int[]){2, 3, 4, 5}, (int[]){3, 2, 3, 3}, 1, 2);
}

TEST(gradcheck_conv_transpose2d_groups_dilation)
{
    gc_case c = {.kind = GC_CONVT};
    c.tp = mt_conv_transpose2d_default();
    c.tp.dil_h = c.tp.dil_w = 2;
    c.tp.pad_top = c.tp.pad_bottom = c.tp.pad_left = c.tp.pad_right = 1;
    c.tp.groups = 2;
    gradcheck(T_, &c, 4, (int[]){2, 4, 4, 3}, (int[]){4, 3, 3, 3}, 1, 6);
}

TEST(gradcheck_conv_transpose2d_unet_up)
{
    gc_case c = {.kind = GC_CONVT};
    c.tp = mt_conv_transpose2d_default();
    c.tp.stride_h = c.tp.stride_w = 2;
    gradcheck(T_, &c, 4, (int[]){1, 4, 3, 3}, (int[]){4, 2, 2, 2}, 1, 2);
}

TEST(gradcheck_linear_rank3)
{
    gc_case c = {.kind = GC_LINEAR};
    gradcheck(T_, &c, 3, (int[]){2, 3, 5}, (int[]){4, 5}, 1, 4);
}

/* The same conv2d / conv_transpose2d checks with 256-byte column blocks, so the
 * multi-block im2col / col2im and per-block dw paths are differentiated too. */
TEST(gradcheck_conv_row_blocked)
{
    mt_conv_set_block_bytes(256);
    gc_case c = {.kind = GC_CONV2D};
    c.cp = mt_conv2d_default();
    c.cp.stride_h = 2;
    c.cp.pad_top = 0, c.cp.pad_bottom = 1, c.cp.pad_left = 1, c.cp.pad_right = 1;
    gradcheck(T_, &c, 4, (int[]){2, 2, 9, 6}, (int[]){3, 2, 3, 3}, 1, 3);
    gc_case t = {.kind = GC_CONVT};
    t.tp = mt_conv_transpose2d_default();
    t.tp.stride_h = t.tp.stride_w = 2;
    t.tp.pad_top = t.tp.pad_bottom = t.tp.pad_left = t.tp.pad_right = 1;
    t.tp.out_pad_w = 1;
    if (!T_->failed) gradcheck(T_, &t, 4, (int[]){2, 2, 5, 4}, (int[]){2, 3, 3, 3}, 1, 3);
    mt_conv_set_block_bytes(0);
}
