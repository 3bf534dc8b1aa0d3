/* core/ops/concat.cu: the pitched row copy behind concat, split and slice on
 * CUDA (one cudaMemcpy2DAsync on the medtrain stream per input/output). */
#include "../cuda_common.h"
#include "../ops.h"

extern "C" mt_status mt_cuda_copy_rows(const mt_node *n, void *dst, size_t dpitch, const void *src, size_t spitch,
                                       size_t width, size_t rows)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    if (rows == 0 || width == 0) return MT_OK;
    MT_CUDA_CHECK(cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, rows, cudaMemcpyDeviceToDevice, c->stream));
    return MT_OK;
}
