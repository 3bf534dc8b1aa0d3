/* data/dataset.h: medtrain's HDF5 dataset (layout in docs/dataset.md):
 *   /images  float32 [N, C, H, W]   one sample per chunk, gzip
 *   /masks   uint8   [N, K, H, W]   (if K > 0)
 *   /labels  int32   [N]            (-1 = none)
 *   /boxes   float32 [B, 6]         sample index, x0, y0, x1, y1, class
 *   /points  float32 [N, P, 2]      (if P > 0; NaN = missing)
 *   /meta/<field> per-sample metadata (source, patient_id, sex, age_years, height_m, weight_kg,
 *                 spacing [N,3], slice_position, origin [N,3], direction [N,9], split)
 *   root attributes: format_version, channel/mask/class/point names, creation command (description),
 *                 pre-processing (preprocess), split_by ("patient" or "sample").
 * Writer in data/dataset.c, reader in data/dataset_read.c.
 * Written to "<path>.tmp-XXXXXX" and renamed on success, so a failed import
 * never leaves a half-written dataset.
 */
#ifndef MT_DATASET_H
#define MT_DATASET_H

#include "sample.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_DATASET_FORMAT_VERSION 1

/* Fixed per-dataset geometry; every added sample must match it. */
typedef struct mt_dataset_spec {
    int c, h, w;            /* image shape */
    int k;                  /* mask channels (0 = none) */
    int n_points;           /* landmarks per sample (0 = none) */
    const char *description;/* free text kept as an attribute (e.g. the import command) */
    const char *preprocess; /* free text: pre-processing applied (window, resize, ...) */
} mt_dataset_spec;

typedef struct mt_dataset_writer mt_dataset_writer;

/* Opens a writer whose output will appear at `path` only after a successful close. */
mt_status mt_dataset_writer_open(const char *path, const mt_dataset_spec *spec, mt_dataset_writer **out);
/* Appends a sample (copied). Errors name the sample's source file and the mismatch. A sample
 * without a mask in a dataset with masks is stored with an all-zero mask; one without points
 * gets NaN (missing) points. */
mt_status mt_dataset_writer_add(mt_dataset_writer *w, const mt_sample *s);
/* commit = 1: assign splits by patient (fractions val/test, seed; a patient never
 * appears in two splits; samples without patient id are grouped by source file, and are
 * their own patient when that is empty too),
 * flush and rename to the final path. commit = 0: discard the temporary file. */
mt_status mt_dataset_writer_close(mt_dataset_writer *w, int commit, double val_frac, double test_frac,
                                  uint64_t seed);

/* Split by sample instead of by patient (on = 1), for single-patient data such as one CT
 * volume cut into slices. Call before close. Off by default. (Additive, helper F.) */
mt_status mt_dataset_writer_set_split_by_sample(mt_dataset_writer *w, int on);
/* Names stored as a root attribute (array of strings): which = "channel_names",
 * "mask_names", "class_names" or "point_names" (the landmarks of /points, in order). Copied; call before close. */
mt_status mt_dataset_writer_set_names(mt_dataset_writer *w, const char *which, const char *const *names, int n);
/* Puts sample i (0-based, already added) into split "train", "val" or "test" for good: close
 * keeps it there and splits only the other samples by the fractions (e.g. the official test
 * file of MNIST-like data). Errors: MT_ERR_INVALID for i out of range or another split name. */
mt_status mt_dataset_writer_set_split(mt_dataset_writer *w, int i, const char *split);
/* Number of samples added so far. */
int mt_dataset_writer_count(const mt_dataset_writer *w);

/* Data problems a writer can see before close (import reports them):
 *   n_duplicates: samples whose stored image is identical to an earlier sample's (equal
 *     64-bit FNV-1a hash of the pixels); close keeps each with its original in one split and
 *     writes /meta/duplicate_of (index of the first identical sample, -1 = none);
 *   n_mixed_label_patients: patient ids whose samples carry more than one /labels value
 *     (e.g. a patient with both contrast-enhanced and non-enhanced series; split by patient
 *     keeps them in one split). */
typedef struct mt_dataset_write_stats {
    int n_duplicates;
    int n_mixed_label_patients;
} mt_dataset_write_stats;
/* Fills *out from the samples added so far. Errors: MT_ERR_NOMEM. */
mt_status mt_dataset_writer_stats(const mt_dataset_writer *w, mt_dataset_write_stats *out);

typedef struct mt_dataset mt_dataset;
/* Opens a dataset for reading (thread-safe reads through one handle + lock). */
mt_status mt_dataset_open(const char *path, mt_dataset **out);
void mt_dataset_close(mt_dataset *d);
int mt_dataset_size(const mt_dataset *d);
void mt_dataset_geometry(const mt_dataset *d, mt_dataset_spec *spec);
/* Reads sample i (image, mask, label, boxes, points, meta) into a fresh mt_sample. */
mt_status mt_dataset_read(mt_dataset *d, int i, mt_sample *s);
/* Indices of the samples in a split ("train", "val", "test"); caller frees *idx. */
mt_status mt_dataset_split_indices(mt_dataset *d, const char *split, int **idx, int *n);
/* The file the dataset was opened from. */
const char *mt_dataset_path(const mt_dataset *d);
/* The /meta fields of sample i (source, patient_id, sex, ..., split) without its pixels. */
mt_status mt_dataset_read_meta(mt_dataset *d, int i, mt_meta *m);
/* /meta/duplicate_of into dup_of[0..n-1]: the index of the sample whose pixels sample i
 * repeats, -1 for none (all -1 when the dataset has no duplicates). MT_ERR_FORMAT for a
 * wrong length or an index out of range. */
mt_status mt_dataset_duplicate_of(mt_dataset *d, int *dup_of);
/* The split group of sample i into buf: "p:<patient id>", else "f:<source file>" (a file
 * is one patient), else (or with by_sample) "s:<index>". The one rule the import's split
 * and the K folds group by. */
void mt_dataset_group_key(const char *patient_id, const char *source, int i, int by_sample, char *buf, size_t len);
/* K-fold cross-validation by patient: fold_of[i] in 0..k-1 for every sample. The split
 * groups are those of the import's split (patient id, else source file, else the sample;
 * every sample its own group in a dataset imported with split_by "sample"), groups of
 * identical images (/meta/duplicate_of) merged. The groups, sorted by key, are shuffled
 * with Philox(seed) and dealt in that order each to the fold with the fewest samples so
 * far (ties: the lowest fold), so folds differ by at most the largest group's size.
 * Source: sklearn.model_selection.GroupKFold (balanced greedy), with a seeded shuffle.
 * Errors: MT_ERR_INVALID when there are fewer groups than k (naming both). */
mt_status mt_dataset_kfold(mt_dataset *d, int k, uint64_t seed, int *fold_of);
/* Number of rows of /boxes (all samples; 0 when the dataset has none), from memory. */
int mt_dataset_box_count(const mt_dataset *d);
/* Label of sample i (-1 = none) from the in-memory copy of /labels; no file access. */
int mt_dataset_label(const mt_dataset *d, int i);
/* Root attribute string array (see mt_dataset_writer_set_names); *names is NULL and *n 0 when
 * absent. Caller frees with mt_dataset_free_names. */
mt_status mt_dataset_names(mt_dataset *d, const char *which, char ***names, int *n);
void mt_dataset_free_names(char **names, int n);
/* Root string attribute `name` ("description", "preprocess", "split_by"): *value is a malloc'ed
 * copy, NULL when the attribute is absent. Errors: MT_ERR_IO (unreadable attribute), MT_ERR_NOMEM. */
mt_status mt_dataset_attr_string(mt_dataset *d, const char *name, char **value);

#ifdef __cplusplus
}
#endif
#endif
