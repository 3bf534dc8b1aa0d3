/* core/ops/slice.cu: CUDA part of slice.c. mt_slice itself uses the pitched
 * row copy in concat.cu; crop2d copies the (h x w) window of every plane with
 * one 3-D pitched cudaMemcpy3DAsync. */
#include <string.h>

#include "../cuda_common.h"
#include "../ops.h"

extern "C" mt_status crop2d_cuda(mt_node *n, int backward, int top, int left)
{
    mt_cuda_ctx *c = mt_cuda_node_ctx(n);
    if (!c) return mt_last_status();
    const mt_tensor *full = n->in[0];
    const mt_tensor *small = backward ? n->gout[0] : n->out[0];
    size_t es = mt_dtype_size(full->dtype);
    size_t planes = (size_t)full->shape[0] * full->shape[1];
    size_t H = (size_t)full->shape[2], W = (size_t)full->shape[3];
    size_t h = (size_t)small->shape[2], w = (size_t)small->shape[3];
    if (planes == 0 || h == 0 || w == 0) return MT_OK;
    void *big = backward ? mt_data(n->gin[0]) : mt_data(full);
    void *sm = backward ? mt_data(n->gout[0]) : mt_data(n->out[0]);
    cudaMemcpy3DParms p;
    memset(&p, 0, sizeof p);
    cudaPitchedPtr bigp = make_cudaPitchedPtr(big, W * es, W * es, H);
    cudaPitchedPtr smp = make_cudaPitchedPtr(sm, w * es, w * es, h);
    cudaPos corner = make_cudaPos((size_t)left * es, (size_t)top, 0);
    if (!backward) {
        p.srcPtr = bigp, p.srcPos = corner, p.dstPtr = smp;
    } else {
        p.srcPtr = smp, p.dstPtr = bigp, p.dstPos = corner;
    }
    p.extent = make_cudaExtent(w * es, h, planes);
    p.kind = cudaMemcpyDeviceToDevice;
    MT_CUDA_CHECK(cudaMemcpy3DAsync(&p, c->stream));
    return MT_OK;
}
