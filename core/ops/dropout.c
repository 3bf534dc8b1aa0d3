/* core/ops/dropout.c: inverted dropout (torch.nn.functional.dropout;
 * Srivastava et al. 2014). Element i is kept when
 * mt_philox_uniform(seed, offset + i) >= p (core/rng.h, Philox4x32-10), and
 * kept values are scaled by 1 / (1 - p); p = 1 drops everything (zeros).
 * saved[0] = MT_U8 mask (1 = kept). Backward: dx = dy * mask / (1 - p).
 * The CUDA twin evaluates the same Philox counters, so masks match bit for bit. */
#include "../ops.h"
#include "../rng.h"

static mt_status dropout_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    const mt_dropout_params *p = MT_ATTR(n, mt_dropout_params);
    MT_REQUIRE(x->dtype == MT_REAL, "dropout: expected %s input, got %s", mt_dtype_name(MT_REAL),
               mt_dtype_name(x->dtype));
    MT_REQUIRE(p->p >= 0 && p->p <= 1, "dropout: probability p = %g must be in [0, 1]", p->p);
    out[0].ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++) out[0].shape[i] = x->shape[i];
    return MT_OK;
}

static mt_status dropout_forward_cpu(mt_node *n)
{
    const mt_dropout_params *p = MT_ATTR(n, mt_dropout_params);
    const mt_tensor *xt = n->in[0];
    mt_tensor *mk = mt_tensor_new(MT_U8, mt_cpu(), xt->ndim, xt->shape);
    if (!mk) return mt_last_status();
    n->saved[0] = mk;
    const ptrdiff_t count = (ptrdiff_t)mt_numel(xt);
    const mt_real *x = MT_DATA(xt);
    mt_real *y = MT_DATA(n->out[0]);
    uint8_t *m = (uint8_t *)mt_data(mk);
    const double prob = p->p;
    const mt_real scale = prob < 1 ? (mt_real)(1.0 / (1.0 - prob)) : 0;
    const uint64_t seed = p->seed, offset = p->offset;
#pragma omp parallel for schedule(static) if (count > 16384)
    for (ptrdiff_t i = 0; i < count; i++) {
        int keep = (double)mt_philox_uniform(seed, offset + (uint64_t)i) >= prob;
        m[i] = (uint8_t)keep;
        y[i] = keep ? x[i] * scale : 0;
    }
    return MT_OK;
}

static mt_status dropout_backward_cpu(mt_node *n)
{
    const mt_dropout_params *p = MT_ATTR(n, mt_dropout_params);
    const ptrdiff_t count = (ptrdiff_t)mt_numel(n->in[0]);
    const uint8_t *m = (const uint8_t *)mt_data(n->saved[0]);
    const mt_real *dy = MT_DATA(n->gout[0]);
    mt_real *dx = MT_DATA(n->gin[0]);
    const mt_real scale = p->p < 1 ? (mt_real)(1.0 / (1.0 - p->p)) : 0;
#pragma omp parallel for schedule(static) if (count > 32768)
    for (ptrdiff_t i = 0; i < count; i++) dx[i] = m[i] ? dy[i] * scale : 0;
    return MT_OK;
}

#ifdef MT_WITH_CUDA
mt_status dropout_forward_cuda(mt_node *n);
mt_status dropout_backward_cuda(mt_node *n);
#endif

const mt_op mt_op_dropout = {
    "dropout", dropout_shape,
    {dropout_forward_cpu, MT_CUDA_FN(dropout_forward_cuda)},
    {dropout_backward_cpu, MT_CUDA_FN(dropout_backward_cuda)},
};

/* Identity (a new reference to x itself) when training = 0 or p = 0, as
 * F.dropout returns its input unchanged then. */
mt_tensor *mt_dropout(mt_tensor *x, mt_dropout_params p)
{
    if (!x) {
        if (mt_last_status() == MT_OK) MT_ERR(MT_ERR_INVALID, "dropout: input is NULL");
        return NULL;
    }
    if ((!p.training || p.p == 0) && p.p >= 0 && p.p <= 1) return mt_tensor_retain(x);
    mt_tensor *in[1] = {x};
    return mt_op1(&mt_op_dropout, 1, 1, in, &p, sizeof p);
}
