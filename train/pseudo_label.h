/* train/pseudo_label.h: S3's pseudo-label loop (papers.md S3): model v1, trained on
 * the first k slices of the training split (data.train_limit: k), labels the other
 * training slices; the result is a new dataset whose masks for those slices are v1's
 * predictions, flagged per sample in /meta/pseudo_label (docs/dataset.md), on which
 * model v2 trains (true labels for the k, pseudo labels for the rest).
 * `medtrain pseudo-label` is the command; experiments/s3_body_composition/run.sh the loop.
 */
#ifndef MT_TRAIN_PSEUDO_LABEL_H
#define MT_TRAIN_PSEUDO_LABEL_H

#include <limits.h>

#include "../core/device.h"
#include "../core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_pseudo_label_report {
    int n_labelled;        /* training samples kept with their reference masks (the first k) */
    int n_pseudo;          /* training samples whose masks are now v1's predictions */
    int n_other;           /* samples of the other splits, copied unchanged */
    double dsc_replaced;   /* mean DSC over the pseudo-labelled samples and mask channels of
                              the predictions against the masks they replace (a stand-in has
                              them; the quality of the pseudo labels); NaN when none */
    char weights[PATH_MAX + 16]; /* the checkpoint that predicted */
} mt_pseudo_label_report;

/* Copies `dataset` to `out` (written atomically, data/dataset.h) with the masks of
 * the training split's samples after the first `labelled` ones (in dataset order,
 * the same rule as data.train_limit) replaced by the predictions of the
 * segmentation run `run` (run directory or checkpoint; mt_segmentation_masks:
 * post-processing included, at the run's input size, back to the dataset's size by
 * nearest neighbour), those samples flagged pseudo_label = 1. Every sample keeps
 * its split, image, metadata and names; the description records the run and k.
 * Errors: MT_ERR_INVALID (labelled < 1, labelled >= the training split's size so
 * nothing is left to label, out equal to dataset, a run that is not segmentation,
 * a dataset without masks), MT_ERR_IO (run files), dataset and model errors. */
mt_status mt_pseudo_label_dataset(const char *run, const char *dataset, const char *out, int labelled, mt_device dev,
                                  mt_pseudo_label_report *report);

#ifdef __cplusplus
}
#endif
#endif
