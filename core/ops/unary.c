/* core/ops/unary.c: elementwise activations and math functions (PyTorch
 * torch.nn.functional / torch equivalents): leaky_relu, sigmoid, tanh, silu,
 * abs, clamp, exp, log, sqrt, neg, square, scale, atan. One descriptor per op; all
 * share the kernels below, which switch on the op kind (stored into the
 * node's attributes by the shape rule, so the kind always matches the
 * descriptor). CUDA twin: unary.cu. relu is in relu.c (the exemplar).
 *
 * Derivatives (match PyTorch autograd, including at the kinks):
 *   leaky_relu: 1 if x > 0 else slope        sigmoid: y (1 - y)
 *   tanh: 1 - y^2                            silu: s (1 + x (1 - s)), s = sigmoid(x)
 *   abs: sign(x) (0 at 0)                    clamp: 1 if min <= x <= max else 0
 *   exp: y      log: 1/x      sqrt: 1/(2y)   neg: -1     square: 2x     scale: a
 *   atan: 1/(1 + x^2) */
#include "unary.h"

#include <math.h>

static mt_unary_kind kind_of(const mt_op *op)
{
    if (op == &mt_op_leaky_relu) return MT_UNARY_LEAKY_RELU;
    if (op == &mt_op_sigmoid) return MT_UNARY_SIGMOID;
    if (op == &mt_op_tanh) return MT_UNARY_TANH;
    if (op == &mt_op_silu) return MT_UNARY_SILU;
    if (op == &mt_op_abs) return MT_UNARY_ABS;
    if (op == &mt_op_clamp) return MT_UNARY_CLAMP;
    if (op == &mt_op_exp) return MT_UNARY_EXP;
    if (op == &mt_op_log) return MT_UNARY_LOG;
    if (op == &mt_op_sqrt) return MT_UNARY_SQRT;
    if (op == &mt_op_neg) return MT_UNARY_NEG;
    if (op == &mt_op_square) return MT_UNARY_SQUARE;
    if (op == &mt_op_atan) return MT_UNARY_ATAN;
    return MT_UNARY_SCALE;
}

static mt_status unary_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    MT_REQUIRE(x->dtype == MT_REAL, "%s: expected %s input, got %s", n->op->name, mt_dtype_name(MT_REAL),
               mt_dtype_name(x->dtype));
    mt_unary_attr *a = MT_ATTR(n, mt_unary_attr);
    a->kind = kind_of(n->op);
    if (a->kind == MT_UNARY_CLAMP)
        MT_REQUIRE(!(a->a > a->b), "clamp: min %g is greater than max %g", a->a, a->b);
    out[0].ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++) out[0].shape[i] = x->shape[i];
    return MT_OK;
}

static inline mt_real sigmoid_r(mt_real x)
{
    /* stable for large |x|: never exponentiates a positive number */
    if (x >= 0) return (mt_real)1 / ((mt_real)1 + exp(-x));
    mt_real e = exp(x);
    return e / ((mt_real)1 + e);
}

static mt_status unary_forward_cpu(mt_node *n)
{
    const mt_unary_attr *a = MT_ATTR(n, mt_unary_attr);
    const mt_real *x = MT_DATA(n->in[0]);
    mt_real *y = MT_DATA(n->out[0]);
    ptrdiff_t count = (ptrdiff_t)mt_numel(n->in[0]);
    const mt_real p = (mt_real)a->a, q = (mt_real)a->b;
    const int k = a->kind;
#pragma omp parallel for schedule(static) if (count > 32768)
    for (ptrdiff_t i = 0; i < count; i++) {
        mt_real v = x[i], r;
        switch (k) {
        case MT_UNARY_LEAKY_RELU: r = v > 0 ? v : v * p; break;
        case MT_UNARY_SIGMOID: r = sigmoid_r(v); break;
        case MT_UNARY_TANH: r = tanh(v); break;
        case MT_UNARY_SILU: r = v * sigmoid_r(v); break;
        case MT_UNARY_ABS: r = fabs(v); break;
        case MT_UNARY_CLAMP: r = v < p ? p : (v > q ? q : v); break;
        case MT_UNARY_EXP: r = exp(v); break;
        case MT_UNARY_LOG: r = log(v); break;
        case MT_UNARY_SQRT: r = sqrt(v); break;
        case MT_UNARY_NEG: r = -v; break;
        case MT_UNARY_SQUARE: r = v * v; break;
        case MT_UNARY_ATAN: r = atan(v); break;
        default: r = p * v + q; break;
        }
        y[i] = r;
    }
    return MT_OK;
}

static mt_status unary_backward_cpu(mt_node *n)
{
    const mt_unary_attr *a = MT_ATTR(n, mt_unary_attr);
    if (!n->gin[0]) return MT_OK;
    const mt_real *x = MT_DATA(n->in[0]), *y = MT_DATA(n->out[0]), *dy = MT_DATA(n->gout[0]);
    mt_real *dx = MT_DATA(n->gin[0]);
    ptrdiff_t count = (ptrdiff_t)mt_numel(n->in[0]);
    const mt_real p = (mt_real)a->a, q = (mt_real)a->b;
    const int k = a->kind;
#pragma omp parallel for schedule(static) if (count > 32768)
    for (ptrdiff_t i = 0; i < count; i++) {
        mt_real v = x[i], o = y[i], d;
        switch (k) {
        case MT_UNARY_LEAKY_RELU: d = v > 0 ? 1 : p; break;
        case MT_UNARY_SIGMOID: d = o * (1 - o); break;
        case MT_UNARY_TANH: d = 1 - o * o; break;
        case MT_UNARY_SILU: {
            mt_real s = sigmoid_r(v);
            d = s * (1 + v * (1 - s));
            break;
        }
        case MT_UNARY_ABS: d = v > 0 ? 1 : (v < 0 ? -1 : 0); break;
        case MT_UNARY_CLAMP: d = (v >= p && v <= q) ? 1 : 0; break;
        case MT_UNARY_EXP: d = o; break;
        case MT_UNARY_LOG: d = 1 / v; break;
        case MT_UNARY_SQRT: d = 1 / (2 * o); break;
        case MT_UNARY_NEG: d = -1; break;
        case MT_UNARY_SQUARE: d = 2 * v; break;
        case MT_UNARY_ATAN: d = 1 / (1 + v * v); break;
        default: d = p; break;
        }
        dx[i] = dy[i] * d;
    }
    return MT_OK;
}

#ifdef MT_WITH_CUDA
mt_status unary_forward_cuda(mt_node *n);
mt_status unary_backward_cuda(mt_node *n);
#endif

#define UNARY_OP(sym, name)                                                                                   \
    const mt_op sym = {name, unary_shape, {unary_forward_cpu, MT_CUDA_FN(unary_forward_cuda)},             \
                       {unary_backward_cpu, MT_CUDA_FN(unary_backward_cuda)}, 0};
UNARY_OP(mt_op_leaky_relu, "leaky_relu")
UNARY_OP(mt_op_sigmoid, "sigmoid")
UNARY_OP(mt_op_tanh, "tanh")
UNARY_OP(mt_op_silu, "silu")
UNARY_OP(mt_op_abs, "abs")
UNARY_OP(mt_op_clamp, "clamp")
UNARY_OP(mt_op_exp, "exp")
UNARY_OP(mt_op_log, "log")
UNARY_OP(mt_op_sqrt, "sqrt")
UNARY_OP(mt_op_neg, "neg")
UNARY_OP(mt_op_square, "square")
UNARY_OP(mt_op_scale, "scale")
UNARY_OP(mt_op_atan, "atan")

static mt_tensor *unary(const mt_op *op, mt_tensor *x, double a, double b)
{
    mt_unary_attr at = {0, a, b};
    mt_tensor *in[1] = {x};
    return mt_op1(op, 1, 1, in, &at, sizeof at);
}

/* torch.nn.functional.leaky_relu(x, negative_slope): x if x > 0 else slope * x. */
mt_tensor *mt_leaky_relu(mt_tensor *x, double negative_slope) { return unary(&mt_op_leaky_relu, x, negative_slope, 0); }
/* torch.sigmoid: 1 / (1 + exp(-x)), computed without overflow for any x. */
mt_tensor *mt_sigmoid(mt_tensor *x) { return unary(&mt_op_sigmoid, x, 0, 0); }
/* torch.tanh */
mt_tensor *mt_tanh(mt_tensor *x) { return unary(&mt_op_tanh, x, 0, 0); }
/* torch.nn.functional.silu (swish): x * sigmoid(x). */
mt_tensor *mt_silu(mt_tensor *x) { return unary(&mt_op_silu, x, 0, 0); }
/* torch.abs; gradient sign(x), 0 at 0. */
mt_tensor *mt_abs(mt_tensor *x) { return unary(&mt_op_abs, x, 0, 0); }
/* torch.clamp(x, min, max); gradient 1 inside [min, max], 0 outside. MT_ERR_INVALID if min > max. */
mt_tensor *mt_clamp(mt_tensor *x, double min, double max) { return unary(&mt_op_clamp, x, min, max); }
/* torch.exp */
mt_tensor *mt_exp(mt_tensor *x) { return unary(&mt_op_exp, x, 0, 0); }
/* torch.log (natural; -inf at 0, nan below 0 as IEEE). */
mt_tensor *mt_log(mt_tensor *x) { return unary(&mt_op_log, x, 0, 0); }
/* torch.sqrt */
mt_tensor *mt_sqrt(mt_tensor *x) { return unary(&mt_op_sqrt, x, 0, 0); }
/* torch.neg: -x */
mt_tensor *mt_neg(mt_tensor *x) { return unary(&mt_op_neg, x, 0, 0); }
/* torch.square: x * x */
mt_tensor *mt_square(mt_tensor *x) { return unary(&mt_op_square, x, 0, 0); }
/* a * x + b with scalars a, b (torch: x * a + b). */
mt_tensor *mt_scale(mt_tensor *x, double a, double b) { return unary(&mt_op_scale, x, a, b); }
/* torch.atan: arctangent in radians, (-pi/2, pi/2); gradient 1 / (1 + x^2). */
mt_tensor *mt_atan(mt_tensor *x) { return unary(&mt_op_atan, x, 0, 0); }
