/* train/crop_dataset.h: `medtrain crop`: a dataset of square box-centred crops of
 * another (S4: every film's nasal-bone region at 256x256 for the later models;
 * boxes from the landmarks for training, from the YOLOv5s detector at test time).
 * The geometry is data/crop.h; the detector is train/detector.h.
 */
#ifndef MT_TRAIN_CROP_DATASET_H
#define MT_TRAIN_CROP_DATASET_H

#include <stdint.h>

#include "../core/device.h"
#include "../core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_crop_options {
    const char *input, *output;   /* datasets (docs/dataset.md) */
    int size;                     /* output side in pixels (256) */
    double margin;                /* side = max(box w, h) * (1 + 2 margin); 0 */
    int variants;                 /* crops per sample (1 = the plain crop only) */
    double jitter, scale_jitter;  /* variants 1..: centre +- jitter * side, side * (1 +- scale_jitter) */
    uint64_t seed;                /* variant stream key (with sample index and variant) */
    int jitter_all;               /* 1: crop 0 is jittered too (crop v takes draw v + 1): no plain crop (S5) */
    const char *variant_splits;   /* NULL: every split gets `variants` crops; else a comma list ("train"):
                                   * those splits get `variants`, the others 1 */
    const char *detector;         /* NULL, or a detection run directory / checkpoint */
    const char *detector_splits;  /* comma list of splits whose boxes come from the detector ("test") */
    mt_device dev;                /* where the detector runs */
    int batch_size;               /* detector batch (0: 4) */
    const char *description;      /* creation command, kept as the `description` attribute (may be NULL) */
    void (*progress)(void *user, long done, long total); /* may be NULL */
    void *progress_user;
} mt_crop_options;

typedef struct mt_crop_result {
    int n_samples;        /* source samples */
    int n_written;        /* crops written (n_samples * variants without variant_splits) */
    int n_detector;       /* samples whose box came from the detector */
    int n_fallback;       /* of those, without a detection: the train-split mean box */
    char *fallback_sources; /* comma list of those samples' sources (malloc'd, may be NULL) */
} mt_crop_result;

/* Writes o->output: for every sample of o->input and every variant v in
 * [0, variants) (1 for splits outside o->variant_splits when set), the crop of
 * data/crop.h centred on the sample's box (variant v, or v + 1 with jitter_all; its first
 * /boxes row; for samples of the detector splits, the detector's top box, or
 * the mean of the train split's first boxes when it finds none), with labels,
 * cropped masks, moved points, names (channel, mask, class, point), meta
 * (patient id, spacing, ...) and the source sample's split fixed
 * (mt_dataset_writer_set_split), source "<source>#crop<v>", /boxes = the box the
 * crop is centred on, moved into the crop. The `preprocess` attribute records the
 * options, the detector path and the fallback count. Written atomically.
 * Errors: MT_ERR_INVALID (options; a sample with no box outside the detector
 * splits, naming its source; a split name), dataset, detector and write errors. */
mt_status mt_crop_dataset(const mt_crop_options *o, mt_crop_result *r);
void mt_crop_result_free(mt_crop_result *r);

#ifdef __cplusplus
}
#endif
#endif
