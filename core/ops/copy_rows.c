/* core/ops/copy_rows.c: pitched row copies for concat, split and slice (copy_rows.h). */
#include "copy_rows.h"

#include <string.h>

#include "../ops.h"

void mt_outer_inner(const mt_tensor *t, int dim, size_t *outer, size_t *inner_bytes)
{
    size_t o = 1, in = mt_dtype_size(t->dtype);
    for (int d = 0; d < dim; d++) o *= (size_t)t->shape[d];
    for (int d = dim + 1; d < t->ndim; d++) in *= (size_t)t->shape[d];
    *outer = o;
    *inner_bytes = in;
}

#ifdef MT_WITH_CUDA
/* core/ops/concat.cu: cudaMemcpy2DAsync of `rows` rows of `width` bytes on the node's stream. */
mt_status mt_cuda_copy_rows(const mt_node *n, void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                            size_t rows);
#endif

mt_status mt_copy_rows(const mt_node *n, char *dst, size_t dpitch, const char *src, size_t spitch, size_t width,
                       size_t rows)
{
    if (rows == 0 || width == 0) return MT_OK;
#ifdef MT_WITH_CUDA
    if (n->in[0]->storage->device.type == MT_CUDA)
        return mt_cuda_copy_rows(n, dst, dpitch, src, spitch, width, rows);
#endif
#pragma omp parallel for schedule(static) if (rows * width > (1u << 20))
    for (ptrdiff_t r = 0; r < (ptrdiff_t)rows; r++) memcpy(dst + (size_t)r * dpitch, src + (size_t)r * spitch, width);
    return MT_OK;
}
