/* data/augment.cu: CUDA twin of data/augment.c for a batch already on the GPU. One thread
 * per output pixel of one sample: it computes the source position once (affine + elastic,
 * the same mt_aug_* helpers as the CPU) and resamples every image channel (bilinear, then
 * the intensity changes keyed by the same Philox counters) and every mask channel (nearest,
 * written as float 0/1 for BCE). Runs on medtrain's stream of the device. */
#include <stdint.h>

#include "../core/cuda_common.h"
#include "../core/device.h"
#include "augment.h"

__global__ void mt_augment_batch_kernel(const mt_augment_draw *draws, int n, int c, int h, int w,
                                        const float *img_in, float *img_out, int k, const uint8_t *mask_in,
                                        float *mask_out)
{
    size_t plane = (size_t)h * w;
    size_t total = (size_t)n * plane;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total; t += (size_t)gridDim.x * blockDim.x) {
        int b = (int)(t / plane);
        size_t pix = t - (size_t)b * plane;
        int y = (int)(pix / (size_t)w), x = (int)(pix - (size_t)y * w);
        const mt_augment_draw *d = &draws[b];
        float sx, sy;
        mt_aug_source(d, (float)x, (float)y, &sx, &sy);
        const float *ib = img_in + (size_t)b * c * plane;
        float *ob = img_out + (size_t)b * c * plane;
        for (int ch = 0; ch < c; ch++) {
            size_t o = (size_t)ch * plane + pix;
            float v = mt_aug_bilinear(ib + (size_t)ch * plane, h, w, sx, sy, d->fill);
            ob[o] = mt_aug_intensity(d, v, o);
        }
        if (k > 0) {
            int src = mt_aug_nearest(h, w, sx, sy);
            const uint8_t *mb = mask_in + (size_t)b * k * plane;
            float *mo = mask_out + (size_t)b * k * plane;
            for (int ch = 0; ch < k; ch++)
                mo[(size_t)ch * plane + pix] = (src >= 0 && mb[(size_t)ch * plane + src]) ? 1.0f : 0.0f;
        }
    }
}

extern "C" mt_status mt_augment_batch_cuda(int device, const mt_augment_draw *draws, int n, int c, int h, int w,
                                           const float *images_in, float *images_out, int k,
                                           const uint8_t *masks_in, float *masks_out)
{
    MT_REQUIRE(draws && n > 0 && c > 0 && h > 0 && w > 0 && images_in && images_out,
               "mt_augment_batch_cuda: bad arguments (n %d, shape [%d,%d,%d])", n, c, h, w);
    MT_REQUIRE(k == 0 || (masks_in && masks_out), "mt_augment_batch_cuda: k = %d but no mask buffers", k);
    for (int i = 0; i < n; i++)
        MT_REQUIRE(draws[i].h == h && draws[i].w == w, "mt_augment_batch_cuda: draw %d is %dx%d, batch is %dx%d", i,
                   draws[i].h, draws[i].w, h, w);
    mt_cuda_ctx *ctx = mt_cuda_get(device);
    if (!ctx) return mt_last_status() ? mt_last_status() : MT_ERR_CUDA;
    MT_CUDA_CHECK(cudaSetDevice(device));
    size_t bytes = sizeof(mt_augment_draw) * (size_t)n;
    void *dd = NULL;
    mt_device dev = mt_cuda(device);
    MT_TRY(mt_alloc(dev, bytes, &dd));
    /* pageable source: cudaMemcpyAsync returns once the host buffer has been read */
    cudaError_t e = cudaMemcpyAsync(dd, draws, bytes, cudaMemcpyHostToDevice, ctx->stream);
    if (e != cudaSuccess) {
        mt_free(dev, dd, bytes);
        return mt_cuda_status(e, "cudaMemcpyAsync(draws)", __FILE__, __LINE__);
    }
    size_t total = (size_t)n * h * w;
    mt_augment_batch_kernel<<<mt_cuda_blocks(total), MT_CUDA_THREADS, 0, ctx->stream>>>(
        (const mt_augment_draw *)dd, n, c, h, w, images_in, images_out, k, masks_in, masks_out);
    e = cudaGetLastError();
    /* the caching allocator hands the block out again only for work queued later on the same stream */
    mt_free(dev, dd, bytes);
    if (e != cudaSuccess) return mt_cuda_status(e, "mt_augment_batch_kernel launch", __FILE__, __LINE__);
    return MT_OK;
}
