/* core/ops/permute.cu: CUDA twin of permute.c: one thread per output element
 * decodes its index and reads the permuted input position. */
#include <string.h>

#include "../cuda_common.h"
#include "../ops.h"

typedef struct perm_geom {
    int nd;
    long long dshape[MT_MAX_DIMS];  /* output shape */
    long long pstride[MT_MAX_DIMS]; /* input stride of output axis k */
} perm_geom;

template <typename T>
__global__ static void permute_kernel(const T *src, T *dst, size_t total, perm_geom g)
{
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < total; j += (size_t)gridDim.x * blockDim.x) {
        size_t rem = j, off = 0;
        for (int k = g.nd - 1; k >= 0; k--) {
            off += (rem % (size_t)g.dshape[k]) * (size_t)g.pstride[k];
            rem /= (size_t)g.dshape[k];
        }
        dst[j] = src[off];
    }
}

extern "C" mt_status permute_cuda(const mt_node *n, const void *src, void *dst, int ndim, const int *src_shape,
                                  const int *perm, size_t elem_size)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    perm_geom g;
    memset(&g, 0, sizeof g);
    g.nd = ndim;
    long long sstride[MT_MAX_DIMS], s = 1;
    size_t total = 1;
    for (int k = ndim - 1; k >= 0; k--) {
        sstride[k] = s;
        s *= src_shape[k];
    }
    for (int k = 0; k < ndim; k++) {
        g.dshape[k] = src_shape[perm[k]];
        g.pstride[k] = sstride[perm[k]];
        total *= (size_t)g.dshape[k];
    }
    if (total == 0) return MT_OK;
    unsigned blocks = mt_cuda_blocks(total);
    switch (elem_size) {
    case 1:
        permute_kernel<uint8_t><<<blocks, MT_CUDA_THREADS, 0, c->stream>>>((const uint8_t *)src, (uint8_t *)dst, total, g);
        break;
    case 2:
        permute_kernel<uint16_t><<<blocks, MT_CUDA_THREADS, 0, c->stream>>>((const uint16_t *)src, (uint16_t *)dst, total, g);
        break;
    case 4:
        permute_kernel<uint32_t><<<blocks, MT_CUDA_THREADS, 0, c->stream>>>((const uint32_t *)src, (uint32_t *)dst, total, g);
        break;
    case 8:
        permute_kernel<uint64_t><<<blocks, MT_CUDA_THREADS, 0, c->stream>>>((const uint64_t *)src, (uint64_t *)dst, total, g);
        break;
    default:
        return MT_ERR(MT_ERR_UNSUPPORTED, "permute: element size %zu not supported on CUDA", elem_size);
    }
    MT_CUDA_LAUNCH_CHECK();
    return MT_OK;
}
