/* data/loader.h: the training data loader (torch.utils.data.DataLoader equivalent).
 *
 * Worker threads (pthreads) read samples from an mt_dataset, augment them (data/augment.h)
 * and assemble batches into a bounded ring of `prefetch` slots; the training thread takes
 * them in order with mt_loader_next. A batch is a pure function of (seed, epoch, batch
 * index): the epoch's permutation is a Philox Fisher-Yates shuffle keyed by (seed, epoch)
 * and each sample's augmentation is keyed by (seed, epoch, dataset index), so the result
 * is identical for any number of workers and an exact resume is a seek to the
 * checkpoint's (epoch, batch) position. For data-parallel training each process
 * takes its slice of every batch (shard_index / shard_count).
 *
 * On a CUDA device the workers fill pinned host staging buffers (cudaHostAlloc) that are
 * copied with cudaMemcpyAsync on medtrain's stream (data/loader_cuda.cu); optionally the
 * image/mask augmentation runs on the GPU (augment_on_device) while boxes and points are
 * transformed on the CPU with the very same draws.
 */
#ifndef MT_DATA_LOADER_H
#define MT_DATA_LOADER_H

#include "../core/tensor.h"
#include "augment.h"
#include "dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_loader_config {
    int batch_size;          /* samples per batch (> 0) */
    int shuffle;             /* 1: a new permutation every epoch (PyTorch shuffle=True) */
    int drop_last;           /* 1: drop the last incomplete batch (PyTorch drop_last) */
    int num_workers;         /* worker threads, >= 1 (default 2) */
    int prefetch;            /* batches prepared ahead (ring size); 0 = 2 * num_workers */
    uint64_t seed;           /* seed of shuffling and augmentation */
    const mt_augment_params *augment; /* NULL = no augmentation; copied at create */
    int augment_on_device;   /* 1: augment images/masks on the GPU (CUDA device only) */
    mt_device device;        /* where batches are delivered (default cpu) */
    const int *indices;      /* dataset indices to iterate (e.g. a split); NULL = all; copied */
    int n_indices;
    /* Data-parallel sharding (train/dist.h): with shard_count > 1 every batch b of
     * the epoch order is cut into shard_count contiguous slices and only slice
     * shard_index is delivered: rows [m * r / S, m * (r + 1) / S) of the m samples of
     * the whole batch, for r = shard_index, S = shard_count (equal slices when S
     * divides m). So S loaders with the same seed deliver together exactly the
     * batches of one unsharded loader, with the same augmentation (keyed by sample
     * index). Batch counts and positions are those of the whole batches. Every
     * slice must get a sample: batch_size and the last batch's size >= S.
     * 0 or 1 = whole batches. */
    int shard_index, shard_count;
    /* CUDA: 1 = host-to-device copies of the batches on a separate copy stream, ordered
     * after the work already queued on the compute stream (whose freed blocks they may
     * reuse) and before the work queued after the batch is delivered (events), so they
     * overlap the end of the previous step (train.copy_stream; unverified on a GPU). */
    int copy_stream;
} mt_loader_config;

/* One batch. Tensors are owned by the batch (release with mt_batch_free). */
typedef struct mt_batch {
    int n;                   /* samples in the batch; 0 marks the end of an epoch */
    int epoch, index;        /* position of this batch */
    mt_tensor *images;       /* [n,C,H,W] MT_REAL on the device */
    mt_tensor *masks;        /* [n,K,H,W] MT_REAL 0/1 (for BCE), NULL when the dataset has no masks */
    mt_tensor *labels;       /* [n] MT_I32, -1 = none */
    mt_tensor *points;       /* [n,P,2] MT_REAL pixels (NaN = missing), NULL when P = 0 */
    int *sample_ids;         /* [n] dataset indices, host */
    int n_boxes;
    float *boxes;            /* [n_boxes,6] host: row in batch, x0, y0, x1, y1, class (pixels) */
} mt_batch;

typedef struct mt_loader mt_loader;

/* Defaults: batch_size 1, no shuffle, keep last, 2 workers, prefetch 4, seed 0, cpu. */
void mt_loader_config_init(mt_loader_config *c);
/* Starts the workers at position (epoch 0, batch 0). The dataset must outlive the loader.
 * MT_ERR_INVALID for bad config (index out of range, no batch with drop_last, GPU augmentation
 * on a CPU device); MT_ERR_UNSUPPORTED for a CUDA device in a build without CUDA. */
mt_status mt_loader_create(mt_dataset *d, const mt_loader_config *cfg, mt_loader **out);
/* The next batch in order (waits for it). At the end of an epoch it returns one batch with
 * n = 0 (no tensors) and moves to (epoch + 1, 0). A worker's error (e.g. an unreadable
 * sample) is returned here with its message; the position does not advance. */
mt_status mt_loader_next(mt_loader *l, mt_batch *b);
/* Position of the next batch to be delivered (save it in checkpoints). */
void mt_loader_position(const mt_loader *l, int *epoch, int *batch);
/* Moves to (epoch, batch), discarding prepared batches; the following batches equal those an
 * uninterrupted run delivers there. 0 <= batch <= batches per epoch. */
mt_status mt_loader_seek(mt_loader *l, int epoch, int batch);
int mt_loader_batches_per_epoch(const mt_loader *l);
int mt_loader_num_samples(const mt_loader *l);
/* Stops the workers (finishing at most their current batch), frees everything. NULL is a no-op. */
void mt_loader_destroy(mt_loader *l);
/* Releases a batch's tensors and buffers and zeroes it. */
void mt_batch_free(mt_batch *b);

/* Index list of an epoch's order: out[i] = indices[perm(i)] (identity without shuffle). */
void mt_loader_epoch_order(uint64_t seed, int epoch, int shuffle, const int *indices, int n, int *out);

#ifdef MT_WITH_CUDA
/* CUDA staging helpers used by the loader (data/loader_cuda.cu). */
mt_status mt_loader_cuda_host_alloc(size_t bytes, void **ptr);      /* cudaHostAlloc (pinned) */
void mt_loader_cuda_host_free(void *ptr);
mt_status mt_loader_cuda_event_create(int device, void **ev);
void mt_loader_cuda_event_destroy(void *ev);
/* Copy stream (copy = 1) only: before a batch's uploads, the copy stream waits for the
 * work queued so far on the compute stream. A no-op with copy = 0. */
mt_status mt_loader_cuda_begin(int device, int copy);
/* cudaMemcpyAsync host -> device on medtrain's stream of `device` (copy = 0) or on its
 * copy stream (copy = 1). */
mt_status mt_loader_cuda_upload(int device, int copy, void *dst, const void *src, size_t bytes);
/* Records ev on the stream of the uploads (after the uploads of a slot); with copy = 1 the
 * compute stream then waits for it. mt_loader_cuda_wait: waits until ev has passed. */
mt_status mt_loader_cuda_record(int device, int copy, void *ev);
mt_status mt_loader_cuda_wait(void *ev);
#endif

#ifdef __cplusplus
}
#endif
#endif
