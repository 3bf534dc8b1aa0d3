/* train/dist_cuda.cu: medtrain's CUDA stream of a device, for the NCCL plugin
 * (train/dist.c hands it over: the plugin queues its all-reduce on it, so it is
 * ordered after the backward kernels and before the optimizer's). */
#include "../core/cuda_common.h"

extern "C" void *mt_dist_cuda_stream(int device)
{
    mt_cuda_ctx *c = mt_cuda_get(device);
    return c ? (void *)c->stream : NULL;
}
