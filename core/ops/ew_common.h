/* core/ops/ew_common.h: internal helpers shared by the elementwise, reduction,
 * softmax and loss ops (unary.c, binary.c, where.c, reduce.c, softmax.c,
 * loss_*.c and their CUDA twins). Not part of the public API.
 *
 * An index map (mt_imap) turns the row-major linear index of an element of a
 * shape into a storage offset of another tensor (NumPy broadcasting: stride 0
 * along broadcast dimensions). A reduction plan (mt_rplan) splits a tensor's
 * dimensions into kept ones (one output element per combination) and reduced
 * ones (summed over): offset(o, r) = kept.offset(o) + red.offset(r).
 * Both are plain structs so CUDA kernels take them by value.
 */
#ifndef MT_EW_COMMON_H
#define MT_EW_COMMON_H

#include "../ops.h"

#ifdef __CUDACC__
#define MT_EW_HD __host__ __device__ __forceinline__
#else
#define MT_EW_HD static inline
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_imap {
    int ndim;
    int shape[MT_MAX_DIMS];
    long long stride[MT_MAX_DIMS]; /* elements; 0 along broadcast dims */
} mt_imap;

typedef struct mt_rplan {
    mt_imap kept;     /* one output element per index of this shape */
    mt_imap red;      /* summed over */
    long long nout;   /* numel of kept (1 if no kept dims) */
    long long nred;   /* numel of red (1 if no reduced dims) */
} mt_rplan;

/* Kind of a binary elementwise op (binary.c / binary.cu). */
typedef enum mt_binary_kind { MT_BIN_ADD = 0, MT_BIN_SUB, MT_BIN_MUL, MT_BIN_DIV } mt_binary_kind;
typedef struct mt_binary_attr {
    int kind;
} mt_binary_attr;

/* Attributes of sum / mean / max (reduce.c / reduce.cu). `mask` (bit d set =
 * dim d reduced) is filled in by the shape rule from axes[]. */
typedef enum mt_reduce_kind { MT_RED_SUM = 0, MT_RED_MEAN, MT_RED_MAX } mt_reduce_kind;
typedef struct mt_reduce_attr {
    int kind;
    int n_axes;
    int axes[MT_MAX_DIMS];
    int keepdim;
    unsigned mask;
} mt_reduce_attr;

/* Index map over the input shape of a reduction that reads the (keepdim-shaped)
 * output: contiguous strides over kept dims, 0 over reduced ones. */
mt_imap mt_imap_reduced(int nd, const int *shape, unsigned mask);

/* Attributes of softmax / log_softmax (dim normalised by the shape rule),
 * greater (threshold) and cross_entropy (softmax.c, where.c, loss_cross_entropy.c). */
typedef struct mt_softmax_attr {
    int dim;
} mt_softmax_attr;
typedef struct mt_greater_attr {
    double v;
} mt_greater_attr;
typedef struct mt_ce_attr {
    int ignore_index;
    int reduction;
} mt_ce_attr;

/* Storage offset (elements) of linear index i of m's shape (0 <= i < numel, so
 * the outermost dimension needs no modulo). */
MT_EW_HD long long mt_imap_offset(const mt_imap *m, long long i)
{
    long long off = 0;
    for (int d = m->ndim - 1; d > 0; d--) {
        long long s = m->shape[d];
        off += (i % s) * m->stride[d];
        i /= s;
    }
    return m->ndim > 0 ? off + i * m->stride[0] : off;
}

/* Offset of element (output o, reduced index r) of a reduction plan. */
MT_EW_HD long long mt_rplan_offset(const mt_rplan *p, long long o, long long r)
{
    return mt_imap_offset(&p->kept, o) + mt_imap_offset(&p->red, r);
}

/* Simplifies m without changing its linear-index -> offset mapping: drops
 * size-1 dims and merges neighbours (outer stride == inner stride * inner
 * size), so fewer divisions are needed per element. The builders below
 * return coalesced maps. */
void mt_imap_coalesce(mt_imap *m);

/* NumPy broadcast of shapes a and b into out (ndim_out = max). MT_ERR_INVALID
 * naming `op` and both shapes when a dimension pair is neither equal nor 1. */
mt_status mt_broadcast_shape(const char *op, int na, const int *sa, int nb, const int *sb, int *nout, int *sout);

/* Index map reading tensor t (contiguous, ndim <= nd) as if broadcast to shape
 * [nd] `shape` (right-aligned; stride 0 where t's size is 1 or missing). */
mt_imap mt_imap_broadcast(const mt_tensor *t, int nd, const int *shape);

/* 1 if t's shape is exactly `shape`. */
int mt_shape_is(const mt_tensor *t, int nd, const int *shape);

/* Plan summing a contiguous tensor of shape `full` down to `target` (which
 * broadcasts to `full`): kept = dims where target matches full, reduced = the
 * broadcast dims. Output order is target's row-major order. */
mt_rplan mt_rplan_unbroadcast(int nd_full, const int *full, int nd_target, const int *target);

/* Plan reducing a contiguous tensor of shape [nd] over the dims whose bit is
 * set in axis_mask (bit d = dim d). */
mt_rplan mt_rplan_axes(int nd, const int *shape, unsigned axis_mask);

/* CPU: out[o] = scale * sum_r in[offset(o, r)] (+ out[o] when accumulate).
 * Summation in double, in a fixed order independent of the thread count. */
void mt_cpu_reduce_sum(const mt_rplan *p, const mt_real *in, mt_real *out, double scale, int accumulate);

/* Gradient of a broadcast input `in` of an elementwise op with output `out`:
 * mt_bgrad_begin returns where to write the per-output-element partials:
 * g's own data when `in` has out's shape (*full = NULL), else a new scratch
 * tensor of out's shape on out's device (*full). NULL on allocation failure.
 * mt_bgrad_end_cpu / mt_bgrad_end_cuda then sum *full over the broadcast
 * dims into g (deterministically) and release it; no-ops when full is NULL. */
mt_real *mt_bgrad_begin(const mt_tensor *out, mt_tensor *g, mt_tensor **full);
void mt_bgrad_end_cpu(const mt_tensor *out, mt_tensor *g, mt_tensor *full);

/* CPU: sum of n values in double, fixed chunking (deterministic for any thread count). */
double mt_cpu_sum(const mt_real *x, size_t n);

/* Normalises a possibly negative dim against ndim; MT_ERR_INVALID naming `op` if out of range. */
mt_status mt_norm_dim(const char *op, int dim, int ndim, int *out);

#ifdef __CUDACC__
/* CUDA (core/ops/ew_common.cu): out[o] = scale * sum_r in[offset(o, r)] (+out[o]
 * when accumulate) with a deterministic two-pass block reduction (no float
 * atomics): pass 1 reduces fixed chunks of r per output into partials, pass 2
 * reduces the partials in order. Runs on c->stream. */
mt_status mt_cuda_reduce_sum(struct mt_cuda_ctx *c, const mt_rplan *p, const float *in, float *out, float scale,
                             int accumulate);
/* CUDA twin of mt_bgrad_end_cpu; `launch` is the status of the kernel that
 * filled the partials (full is released whatever the outcome). */
mt_status mt_bgrad_end_cuda(struct mt_cuda_ctx *c, const mt_tensor *out, mt_tensor *g, mt_tensor *full,
                            mt_status launch);
#endif

#ifdef __cplusplus
}
#endif
#endif
