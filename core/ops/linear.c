/* core/ops/linear.c: fully connected layer y = x w^T + b
 * (torch.nn.functional.linear; Keras Dense with kernel = w^T).
 * x [..., IN] (M rows), w [OUT, IN], b [OUT] or NULL -> y [..., OUT].
 * Backward: dx = dy w, dw = dy^T x, db = sum of dy over rows.
 * CPU: OpenBLAS GEMM with all threads; CUDA twin (linear.cu): cuBLAS. */
#include "../device.h"
#include "../ops.h"
#include "gemm.h"
#include "lowp.h"

static mt_status linear_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    char sx[64], sw[64];
    MT_REQUIRE((x->dtype == MT_REAL || x->dtype == MT_BF16 || x->dtype == MT_F16) && w->dtype == x->dtype,
               "linear: expected input and weight of one type, %s, bfloat16 or float16; got %s and %s",
               mt_dtype_name(MT_REAL), mt_dtype_name(x->dtype), mt_dtype_name(w->dtype));
    MT_REQUIRE(x->ndim >= 1 && w->ndim == 2 && x->shape[x->ndim - 1] == w->shape[1],
               "linear: x %s must end in IN and w %s must be [OUT, IN]", mt_shape_str(x, sx, sizeof sx),
               mt_shape_str(w, sw, sizeof sw));
    if (b) {
        MT_REQUIRE((b->dtype == MT_REAL || b->dtype == MT_BF16 || b->dtype == MT_F16) && b->ndim == 1 && b->shape[0] == w->shape[0], "linear: bias must be [%d], got %s",
                   w->shape[0], mt_shape_str(b, sx, sizeof sx));
    }
    out[0].ndim = x->ndim;
    for (int i = 0; i < x->ndim - 1; i++) out[0].shape[i] = x->shape[i];
    out[0].shape[x->ndim - 1] = w->shape[0];
    return MT_OK;
}

static mt_status linear_forward_cpu(mt_node *n)
{
    if (mt_lowp_node_dtype(n) != MT_REAL) return mt_lowp_forward(n, linear_forward_cpu); /* bf16/f16: widened */
    const mt_tensor *xt = n->in[0];
    const int IN = n->in[1]->shape[1], OUT = n->in[1]->shape[0];
    const int M = (int)(mt_numel(xt) / (size_t)(IN ? IN : 1));
    const mt_real *x = MT_DATA(xt), *w = MT_DATA(n->in[1]);
    const mt_real *b = n->in[2] ? MT_DATA(n->in[2]) : NULL;
    mt_real *y = MT_DATA(n->out[0]);
    if (b)
        for (int i = 0; i < M; i++)
            for (int o = 0; o < OUT; o++) y[(size_t)i * OUT + o] = b[o];
    mt_blas_hold(mt_get_num_threads());
    mt_gemm(0, 1, M, OUT, IN, 1, x, IN, w, IN, b ? 1 : 0, y, OUT);
    mt_blas_release();
    return MT_OK;
}

static mt_status linear_backward_cpu(mt_node *n)
{
    if (mt_lowp_node_dtype(n) != MT_REAL) return mt_lowp_backward(n, linear_backward_cpu);
    const int IN = n->in[1]->shape[1], OUT = n->in[1]->shape[0];
    const int M = (int)(mt_numel(n->in[0]) / (size_t)(IN ? IN : 1));
    const mt_real *x = MT_DATA(n->in[0]), *w = MT_DATA(n->in[1]), *dy = MT_DATA(n->gout[0]);
    mt_blas_hold(mt_get_num_threads());
    if (n->gin[0]) mt_gemm(0, 0, M, IN, OUT, 1, dy, OUT, w, IN, 1, MT_DATA(n->gin[0]), IN);
    if (n->gin[1]) mt_gemm(1, 0, OUT, IN, M, 1, dy, OUT, x, IN, 1, MT_DATA(n->gin[1]), IN);
    mt_blas_release();
    if (n->in[2] && n->gin[2]) {
        mt_real *db = MT_DATA(n->gin[2]);
        for (int o = 0; o < OUT; o++) {
            double s = 0;
            for (int i = 0; i < M; i++) s += dy[(size_t)i * OUT + o];
            db[o] += (mt_real)s;
        }
    }
    return MT_OK;
}

#ifdef MT_WITH_CUDA
mt_status linear_forward_cuda(mt_node *n);
mt_status linear_backward_cuda(mt_node *n);
#endif

const mt_op mt_op_linear = {
    "linear", linear_shape,
    {linear_forward_cpu, MT_CUDA_FN(linear_forward_cuda)},
    {linear_backward_cpu, MT_CUDA_FN(linear_backward_cuda)},
    .low_precision = 1,
};

mt_tensor *mt_linear(mt_tensor *x, mt_tensor *w, mt_tensor *b)
{
    mt_tensor *in[3] = {x, w, b};
    return mt_op1(&mt_op_linear, 3, 2, in, NULL, 0);
}
