/* core/ops/permute.c: torch.permute(x, perm), materialised contiguously:
 * y.shape[i] = x.shape[perm[i]], y[j_0..j_{n-1}] = x[i] with i[perm[k]] = j_k.
 * Any dtype of 1, 2, 4 or 8 bytes. Backward: dx = permute(dy, inverse(perm)). */
#include <string.h>

#include "../ops.h"

typedef struct permute_attr {
    int ndim;
    int perm[MT_MAX_DIMS];
} permute_attr;

static mt_status permute_shape(mt_node *n, mt_shape *out)
{
    const mt_tensor *x = n->in[0];
    const permute_attr *a = MT_ATTR(n, permute_attr);
    MT_REQUIRE(a->ndim == x->ndim, "permute: %d axes given for a %d-D tensor", a->ndim, x->ndim);
    int seen[MT_MAX_DIMS] = {0};
    for (int i = 0; i < a->ndim; i++) {
        int p = a->perm[i];
        MT_REQUIRE(p >= 0 && p < x->ndim && !seen[p], "permute: axes must be a permutation of 0..%d (axis %d = %d)",
                   x->ndim - 1, i, p);
        seen[p] = 1;
        out[0].shape[i] = x->shape[p];
    }
    size_t es = mt_dtype_size(x->dtype);
    MT_REQUIRE(es == 1 || es == 2 || es == 4 || es == 8, "permute: unsupported element size %zu", es);
    out[0].ndim = x->ndim;
    out[0].dtype = x->dtype;
    return MT_OK;
}

/* dst (shape dst_shape) = src permuted: dst index j reads src at sum_k j_k * src_stride[perm[k]]. */
static void permute_cpu(const char *src, char *dst, int nd, const int *src_shape, const int *perm, size_t es)
{
    size_t sstride[MT_MAX_DIMS], dshape[MT_MAX_DIMS], pstride[MT_MAX_DIMS];
    size_t s = 1, total = 1;
    for (int k = nd - 1; k >= 0; k--) {
        sstride[k] = s;
        s *= (size_t)src_shape[k];
    }
    for (int k = 0; k < nd; k++) {
        dshape[k] = (size_t)src_shape[perm[k]];
        pstride[k] = sstride[perm[k]];
        total *= dshape[k];
    }
#pragma omp parallel for schedule(static) if (total > 65536)
    for (ptrdiff_t j = 0; j < (ptrdiff_t)total; j++) {
        size_t rem = (size_t)j, off = 0;
        for (int k = nd - 1; k >= 0; k--) {
            off += (rem % dshape[k]) * pstride[k];
            rem /= dshape[k];
        }
        memcpy(dst + (size_t)j * es, src + off * es, es);
    }
}

static mt_status permute_forward_cpu(mt_node *n)
{
    const permute_attr *a = MT_ATTR(n, permute_attr);
    const mt_tensor *x = n->in[0];
    permute_cpu(mt_data(x), mt_data(n->out[0]), x->ndim, x->shape, a->perm, mt_dtype_size(x->dtype));
    return MT_OK;
}

static void inverse_perm(const permute_attr *a, int *inv)
{
    for (int i = 0; i < a->ndim; i++) inv[a->perm[i]] = i;
}

static mt_status permute_backward_cpu(mt_node *n)
{
    const permute_attr *a = MT_ATTR(n, permute_attr);
    const mt_tensor *gy = n->gout[0];
    int inv[MT_MAX_DIMS];
    inverse_perm(a, inv);
    permute_cpu(mt_data(gy), mt_data(n->gin[0]), gy->ndim, gy->shape, inv, mt_dtype_size(gy->dtype));
    return MT_OK;
}

#ifdef MT_WITH_CUDA
/* core/ops/permute.cu: dst = src permuted by perm (src_shape is src's shape). */
mt_status permute_cuda(const mt_node *n, const void *src, void *dst, int ndim, const int *src_shape, const int *perm,
                       size_t elem_size);
static mt_status permute_forward_cuda(mt_node *n)
{
    const permute_attr *a = MT_ATTR(n, permute_attr);
    const mt_tensor *x = n->in[0];
    return permute_cuda(n, mt_data(x), mt_data(n->out[0]), x->ndim, x->shape, a->perm, mt_dtype_size(x->dtype));
}
static mt_status permute_backward_cuda(mt_node *n)
{
    const permute_attr *a = MT_ATTR(n, permute_attr);
    const mt_tensor *gy = n->gout[0];
    int inv[MT_MAX_DIMS];
    inverse_perm(a, inv);
    return permute_cuda(n, mt_data(gy), mt_data(n->gin[0]), gy->ndim, gy->shape, inv, mt_dtype_size(gy->dtype));
}
#endif

const mt_op mt_op_permute = {
    "permute", permute_shape,
    {permute_forward_cpu, MT_CUDA_FN(permute_forward_cuda)},
    {permute_backward_cpu, MT_CUDA_FN(permute_backward_cuda)},
};

/* Negative axes count from the end. */
mt_tensor *mt_permute(mt_tensor *x, int ndim, const int *perm)
{
    permute_attr a;
    memset(&a, 0, sizeof a);
    if (ndim < 0 || ndim > MT_MAX_DIMS || (ndim > 0 && !perm)) {
        MT_ERR(MT_ERR_INVALID, "permute: %d axes outside 0..%d (or no axes given)", ndim, MT_MAX_DIMS);
        return NULL;
    }
    a.ndim = ndim;
    for (int i = 0; i < ndim; i++) a.perm[i] = perm[i] < 0 ? perm[i] + ndim : perm[i];
    mt_tensor *in[1] = {x};
    return mt_op1(&mt_op_permute, 1, 1, in, &a, sizeof a);
}
