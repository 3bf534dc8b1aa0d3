/* train/checkpoint.h: HDF5 training checkpoints (last.h5 / best.h5).
 *
 * File layout (format_version 2; readable with h5py, see
 * experiments/torch_models.py load_checkpoint for a PyTorch loader):
 *   /state_dict/<name>   the model's state_dict with PyTorch names and layouts
 *                        ("enc1a.weight" [64, 1, 3, 3], ...), float32 (float64
 *                        in the float64 build); num_batches_tracked as int64
 *   /optimizer/<name>    optimizer state (optim/optim.h names, "state.0.exp_avg")
 *                        attribute steps (int64)
 *   /scheduler           attribute state (8 doubles, mt_sched_get_state), when saved
 *   /config              the resolved experiment YAML text (string), when given
 *   root attributes      format_version, step, epoch, data_epoch, data_batch,
 *                        seed, rng_seed, rng_offset (the model's dropout stream),
 *                        best_metric, bad_epochs, trainer_es_best,
 *                        trainer_best_epoch, trainer_stopped_early
 *   /nets/<name>/...     further networks of a multi-network run (G-D, G-D-C):
 *                        state_dict, optimizer, scheduler as above, attributes
 *                        rng_seed, rng_offset
 * Every /state_dict and /optimizer dataset carries an attribute crc32 (uint32):
 * zlib's CRC32 of the dataset's values in their file representation (the
 * little-endian float32/float64/int64 bytes). Load recomputes and compares it
 * and refuses a mismatch naming the file and the tensor; it also refuses any
 * non-finite value in a loaded tensor.
 * Format versions: 1 = no crc32 attributes (before checksums; still loaded,
 * unverified apart from the finiteness check); 2 = crc32 on every tensor,
 * required. A newer version than this build's is refused.
 * Assembled in memory (HDF5 core driver), written to "<path>.tmp-XXXXXX" in the
 * same directory, fsync'ed, then renamed
 * over <path> (atomic on POSIX): a crash or failed write never leaves a
 * partial checkpoint at <path>, and the temporary file is removed on error.
 */
#ifndef MT_CHECKPOINT_H
#define MT_CHECKPOINT_H

#include <stdint.h>

#include "../optim/optim.h"
#include "../layers/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_CHECKPOINT_FORMAT_VERSION 2

/* Scalars stored with a checkpoint (the training loop's position). */
typedef struct mt_checkpoint_info {
    long step;               /* optimizer steps done */
    int epoch;               /* epochs completed */
    int data_epoch;          /* loader position: epoch of the next batch */
    long data_batch;         /* loader position: index of the next batch within data_epoch */
    uint64_t seed;           /* the experiment's train.seed */
    uint64_t rng_seed;       /* model dropout stream (mt_model_get_rng); filled by save */
    uint64_t rng_offset;
    double best_metric;      /* best monitored value so far (early stopping / best.h5) */
    int bad_epochs;          /* epochs since the last improvement */
    double es_best;          /* early stopping: best monitored value (NaN = none yet) */
    int best_epoch;          /* epoch (1-based) whose weights are in best.h5, 0 = none */
    int stopped_early;       /* 1 when early stopping ended the run */
    double train_seconds;    /* training wall time so far, summed over resumes (0 in older checkpoints) */
    double loss_scale;       /* fp16 dynamic loss scale (attribute grad_scaler_scale); 0 = none */
    long loss_scale_tracker; /* its good steps since the last change (grad_scaler_growth_tracker) */
    char *config_yaml;       /* save: text to store or NULL; load: malloc'ed copy or NULL (caller frees) */
} mt_checkpoint_info;

/* Writes model state (and optimizer/scheduler state when not NULL) with the
 * scalars of `info` (may be NULL) to `path`, atomically. The model's dropout
 * stream is taken from the model. Errors: MT_ERR_IO naming the path and the
 * failing HDF5 call (nothing is left at path or in the temp file). */
mt_status mt_checkpoint_save(const char *path, mt_model *m, mt_optim *o, const mt_sched *s,
                             const mt_checkpoint_info *info);

/* One network of a multi-network checkpoint (training with several models:
 * G and D, or G with frozen D, C, G1). optim / sched may be NULL. */
typedef struct mt_checkpoint_net {
    const char *name;        /* group name under /nets (unused for network 0, stored at the root) */
    mt_model *model;
    mt_optim *optim;
    mt_sched *sched;
} mt_checkpoint_net;

/* mt_checkpoint_save for several networks in one file, atomically: network 0
 * at the root (so every single-network reader, export and import-weights use
 * it), network i > 0 under /nets/<name>/{state_dict, optimizer, scheduler} with
 * attributes rng_seed, rng_offset (its dropout stream). */
mt_status mt_checkpoint_save_nets(const char *path, int n_nets, const mt_checkpoint_net *nets,
                                  const mt_checkpoint_info *info);
/* Restores what mt_checkpoint_save_nets wrote: every network's state_dict is
 * checked against its model before anything is modified; a missing /nets/<name>
 * is an error naming it. */
mt_status mt_checkpoint_load_nets(const char *path, int n_nets, const mt_checkpoint_net *nets, mt_checkpoint_info *info);

/* Restores a checkpoint into an already built model of the same graph (and
 * optimizer/scheduler when not NULL) and fills *info (may be NULL); sets the
 * model's dropout stream. Every model state entry must be present with the
 * same shape and the file may not hold entries the model lacks; errors name
 * the entry ("state_dict entry 'enc1a.weight' has shape [32, 1, 3, 3] in
 * last.h5 but the model expects [64, 1, 3, 3]"). Nothing is modified unless
 * all entries match. */
mt_status mt_checkpoint_load(const char *path, mt_model *m, mt_optim *o, mt_sched *s, mt_checkpoint_info *info);

/* Reads only the stored config text (for `train --resume`, before building
 * the model). *yaml_out is malloc'ed, or NULL if the checkpoint has none. */
mt_status mt_checkpoint_read_config(const char *path, char **yaml_out);

#ifdef __cplusplus
}
#endif
#endif
