/* core/ops/binary.c: add, sub, mul, div with NumPy/PyTorch broadcasting
 * (torch.add/sub/mul/div). The output has the broadcast shape of a and b;
 * each input's gradient is the elementwise gradient summed over the
 * dimensions along which that input was broadcast (deterministic order).
 *   add: da = dy, db = dy           sub: da = dy, db = -dy
 *   mul: da = dy b, db = dy a       div: da = dy / b, db = -dy a / b^2
 * CUDA twin: binary.cu. */
#include "ew_common.h"

static mt_binary_kind binary_kind_of(const mt_op *op)
{
    if (op == &mt_op_add) return MT_BIN_ADD;
    if (op == &mt_op_sub) return MT_BIN_SUB;
    if (op == &mt_op_mul) return MT_BIN_MUL;
    return MT_BIN_DIV;
}

static mt_status binary_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *a = n->in[0], *b = n->in[1];
    MT_REQUIRE(a->dtype == MT_REAL && b->dtype == MT_REAL, "%s: expected %s inputs, got %s and %s", n->op->name,
               mt_dtype_name(MT_REAL), mt_dtype_name(a->dtype), mt_dtype_name(b->dtype));
    MT_ATTR(n, mt_binary_attr)->kind = binary_kind_of(n->op);
    return mt_broadcast_shape(n->op->name, a->ndim, a->shape, b->ndim, b->shape, &out[0].ndim, out[0].shape);
}

static inline mt_real binary_apply(int k, mt_real a, mt_real b)
{
    switch (k) {
    case MT_BIN_ADD: return a + b;
    case MT_BIN_SUB: return a - b;
    case MT_BIN_MUL: return a * b;
    default: return a / b;
    }
}

static mt_status binary_forward_cpu(mt_node *n)
{
    const int k = MT_ATTR(n, mt_binary_attr)->kind;
    const mt_tensor *out = n->out[0];
    const mt_real *a = MT_DATA(n->in[0]), *b = MT_DATA(n->in[1]);
    mt_real *y = MT_DATA(out);
    ptrdiff_t count = (ptrdiff_t)mt_numel(out);
    if (mt_same_shape(n->in[0], out) && mt_same_shape(n->in[1], out)) {
#pragma omp parallel for schedule(static) if (count > 32768)
        for (ptrdiff_t i = 0; i < count; i++) y[i] = binary_apply(k, a[i], b[i]);
        return MT_OK;
    }
    const mt_imap ma = mt_imap_broadcast(n->in[0], out->ndim, out->shape);
    const mt_imap mb = mt_imap_broadcast(n->in[1], out->ndim, out->shape);
#pragma omp parallel for schedule(static) if (count > 32768)
    for (ptrdiff_t i = 0; i < count; i++) y[i] = binary_apply(k, a[mt_imap_offset(&ma, i)], b[mt_imap_offset(&mb, i)]);
    return MT_OK;
}

/* d out / d in[j] at element i of the output, times dy */
static inline mt_real binary_grad(int k, int j, mt_real a, mt_real b, mt_real dy)
{
    switch (k) {
    case MT_BIN_ADD: return dy;
    case MT_BIN_SUB: return j == 0 ? dy : -dy;
    case MT_BIN_MUL: return j == 0 ? dy * b : dy * a;
    default: return j == 0 ? dy / b : -dy * a / (b * b);
    }
}

static mt_status binary_backward_cpu(mt_node *n)
{
    const int k = MT_ATTR(n, mt_binary_attr)->kind;
    const mt_tensor *out = n->out[0];
    const mt_real *a = MT_DATA(n->in[0]), *b = MT_DATA(n->in[1]), *dy = MT_DATA(n->gout[0]);
    ptrdiff_t count = (ptrdiff_t)mt_numel(out);
    const mt_imap ma = mt_imap_broadcast(n->in[0], out->ndim, out->shape);
    const mt_imap mb = mt_imap_broadcast(n->in[1], out->ndim, out->shape);
    const int same = mt_same_shape(n->in[0], out) && mt_same_shape(n->in[1], out);
    for (int j = 0; j < 2; j++) {
        mt_tensor *g = n->gin[j];
        if (!g) continue;
        mt_tensor *full;
        mt_real *dst = mt_bgrad_begin(out, g, &full);
        if (!dst) return mt_last_status();
#pragma omp parallel for schedule(static) if (count > 32768)
        for (ptrdiff_t i = 0; i < count; i++) {
            ptrdiff_t ia = same ? i : (ptrdiff_t)mt_imap_offset(&ma, i), ib = same ? i : (ptrdiff_t)mt_imap_offset(&mb, i);
            dst[i] = binary_grad(k, j, a[ia], b[ib], dy[i]);
        }
        mt_bgrad_end_cpu(out, g, full);
    }
    return MT_OK;
}

#ifdef MT_WITH_CUDA
mt_status binary_forward_cuda(mt_node *n);
mt_status binary_backward_cuda(mt_node *n);
#endif

#define BINARY_OP(sym, name)                                                                                  \
    const mt_op sym = {name, binary_shape, {binary_forward_cpu, MT_CUDA_FN(binary_forward_cuda)},          \
                       {binary_backward_cpu, MT_CUDA_FN(binary_backward_cuda)}, 0};
BINARY_OP(mt_op_add, "add")
BINARY_OP(mt_op_sub, "sub")
BINARY_OP(mt_op_mul, "mul")
BINARY_OP(mt_op_div, "div")

static mt_tensor *binary(const mt_op *op, mt_tensor *a, mt_tensor *b)
{
    mt_binary_attr at = {0};
    mt_tensor *in[2] = {a, b};
    return mt_op1(op, 2, 2, in, &at, sizeof at);
}

/* torch.add(a, b): a + b, broadcast shape; MT_ERR_INVALID if the shapes do not broadcast. */
mt_tensor *mt_add(mt_tensor *a, mt_tensor *b) { return binary(&mt_op_add, a, b); }
/* torch.sub(a, b): a - b, broadcast shape. */
mt_tensor *mt_sub(mt_tensor *a, mt_tensor *b) { return binary(&mt_op_sub, a, b); }
/* torch.mul(a, b): a * b, broadcast shape. */
mt_tensor *mt_mul(mt_tensor *a, mt_tensor *b) { return binary(&mt_op_mul, a, b); }
/* torch.div(a, b): a / b (true division, IEEE inf/nan at b = 0), broadcast shape. */
mt_tensor *mt_div(mt_tensor *a, mt_tensor *b) { return binary(&mt_op_div, a, b); }
