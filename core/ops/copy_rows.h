/* core/ops/copy_rows.h: the pitched row copy shared by concat, split and
 * slice (any dtype, CPU or CUDA). Viewing a contiguous tensor as
 * [outer, shape[dim] * inner] rows, each of these ops copies a column band of
 * every row: torch.cat / torch.split / torch.narrow along `dim`. */
#ifndef MT_OPS_COPY_ROWS_H
#define MT_OPS_COPY_ROWS_H

#include <stddef.h>

#include "../op.h"

/* outer = prod shape[0..dim), inner_bytes = dtype size * prod shape(dim..ndim). */
void mt_outer_inner(const mt_tensor *t, int dim, size_t *outer, size_t *inner_bytes);

/* Copies `rows` rows of `width` bytes from src (row pitch spitch bytes) to dst
 * (pitch dpitch) on the device of n->in[0]: memcpy per row on the CPU (OpenMP
 * over rows above 1 MiB), cudaMemcpy2DAsync on the node's stream on CUDA
 * (concat.cu). Nothing to do when rows or width is 0. Errors: CUDA failures. */
mt_status mt_copy_rows(const mt_node *n, char *dst, size_t dpitch, const char *src, size_t spitch, size_t width,
                       size_t rows);

#endif
