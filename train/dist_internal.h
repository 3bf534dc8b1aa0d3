/* train/dist_internal.h: what train/dist_tensors.c needs of train/dist.c's
 * backend state; not part of the library's interface. */
#ifndef MT_TRAIN_DIST_INTERNAL_H
#define MT_TRAIN_DIST_INTERNAL_H

#include "dist.h"

/* 1 when the active backend all-reduces CUDA device memory (NCCL) and d has > 1 rank. */
int mt_dist_device_buffers_(const mt_dist *d);
/* In place sum over ranks of a CUDA buffer, queued on medtrain's stream (NCCL). */
mt_status mt_dist_allreduce_device_(mt_dist *d, float *buf, size_t n);
/* A host buffer of at least n floats owned by d (grown as needed); NULL with an error. */
float *mt_dist_scratch_(mt_dist *d, size_t n);

#endif
