/* layers/weights.h: pretrained weights from other frameworks into a model's
 * state_dict (layers/model.h), by a declared name map, with partial loading;
 * and a safetensors writer of a model's state_dict.
 *
 * Source formats (detected from the file's first bytes, or forced):
 *  - Keras HDF5 weights as keras.applications publishes them (the
 *    `save_weights` layout): root attribute `layer_names`, one group per
 *    layer with attribute `weight_names` ("block1a_dwconv/depthwise_kernel:0")
 *    and those datasets below the group; also the `model_weights/` group of a
 *    full-model .h5, and attributes split into `layer_names0`, `layer_names1`,
 *    ... (Keras does that above 64 KB). Keras layouts are converted:
 *      Conv2D kernel           [kh, kw, in, out]  -> [out, in, kh, kw]
 *      Conv2DTranspose kernel  [kh, kw, out, in]  -> [in, out, kh, kw]
 *      DepthwiseConv2D         [kh, kw, C, m]     -> [C*m, 1, kh, kw]
 *      Dense kernel            [in, out]          -> [out, in]
 *      vectors (bias, gamma, beta, moving_*)       unchanged
 *    (Conv2D and Conv2DTranspose are the same permutation.) Which conversion
 *    applies follows from the Keras variable name (`kernel`,
 *    `pointwise_kernel`: kernel; `depthwise_kernel`: depthwise; anything
 *    else: none) unless a map rule declares `layout:`.
 *  - safetensors (PyTorch, timm, Hugging Face): 8-byte little-endian header
 *    length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__":
 *    {...}}, then the raw little-endian tensor bytes. F32, F64, F16 and BF16
 *    are converted to mt_real; integer tensors only into counters
 *    (`*.num_batches_tracked`, the Keras Normalization `*.count`); anything
 *    else is refused naming the tensor.
 *    The header is validated completely (length against the file size, JSON,
 *    dtypes, shapes, offsets in range and non-overlapping, shape x dtype size
 *    == byte span) before any tensor byte is read.
 *  - medtrain checkpoints (train/checkpoint.h: /state_dict/<name>), e.g.
 *    written by `medtrain import-weights` or a run's best.h5.
 *
 * Name map (YAML, docs/weights.md): source names are turned into state_dict
 * names by `skip:` patterns, `order:` rules (the k-th source tensor matching
 * a pattern, in the numeric order of its Keras layer suffix, goes to the k-th
 * model tensor matching another pattern, in state_dict order: for
 * auto-numbered layers conv2d_1 .. conv2d_203), `rules:` (POSIX extended
 * regular expressions with \1..\9 in the replacement, first match wins) and,
 * for Keras files, default names "<layer>.<suffix>" with `suffixes:`
 * (kernel -> weight, bias -> bias, gamma -> weight, beta -> bias,
 * moving_mean -> running_mean, moving_variance -> running_var,
 * depthwise_kernel -> weight). Without a map, Keras files get the default
 * names and safetensors / checkpoints their names as stored.
 *
 * Partial loading: a model tensor whose shape differs from its source (a
 * classifier head with another class count) is an error naming the tensor and
 * both shapes, or, with skip_mismatched, left as initialised and reported.
 * Model tensors nothing was loaded into (`missing`, PyTorch's missing_keys;
 * counters `*.num_batches_tracked` and `*.count` are never listed) and source tensors that
 * map to no model tensor (`unexpected`) are reported, not errors. Loading
 * nothing at all is an error (the map is surely wrong).
 *
 * Errors (file:line through core/error.h): MT_ERR_IO (cannot open / read,
 * names the file), MT_ERR_FORMAT (corrupt or hostile file, names the file and
 * the tensor), MT_ERR_INVALID (map errors with map.yaml:line:column, shape
 * mismatches, two sources for one tensor, nothing loaded), MT_ERR_UNSUPPORTED
 * (dtype, Keras 3 `.weights.h5`, PyTorch pickles). The model is modified only
 * after the file, the map, every shape and every tensor read have succeeded.
 */
#ifndef MT_WEIGHTS_H
#define MT_WEIGHTS_H

#include <stdio.h>

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_weights_format {
    MT_WEIGHTS_AUTO = 0,        /* from the file's magic bytes (HDF5, safetensors) and content */
    MT_WEIGHTS_KERAS_H5 = 1,    /* Keras save_weights / full-model .h5 */
    MT_WEIGHTS_SAFETENSORS = 2, /* .safetensors */
    MT_WEIGHTS_CHECKPOINT = 3   /* medtrain checkpoint (/state_dict) */
} mt_weights_format;

/* "keras-h5", "safetensors", "checkpoint" ("auto" for MT_WEIGHTS_AUTO). */
const char *mt_weights_format_name(mt_weights_format f);

typedef struct mt_weights_options {
    mt_weights_format format; /* MT_WEIGHTS_AUTO: detect */
    const char *map_path;     /* name map YAML (docs/weights.md), or NULL for the default names */
    int skip_mismatched;      /* 1: tensors whose shapes differ are skipped and reported (strict: false) */
    const char *checkpoint_net; /* medtrain checkpoint of several networks (train/checkpoint.h): NULL or ""
                                 * = network 0 (/state_dict), "D" = /nets/D/state_dict (e.g. the
                                 * discriminator of a G-D run) */
} mt_weights_options;

/* One tensor of a report. `source` is the name in the file (NULL for a
 * missing model tensor), `target` the state_dict name it maps to (NULL when
 * skipped by the map; for an unexpected tensor the name it mapped to, which
 * the model does not have). Shapes: the source as stored (src_ndim = -1 when
 * there is none) and the model tensor (dst_ndim = -1 when there is none). */
typedef struct mt_weights_item {
    char *source;
    char *target;
    int src_ndim, dst_ndim;
    long long src_shape[8];
    int dst_shape[8];
} mt_weights_item;

typedef struct mt_weights_report {
    mt_weights_format format;    /* the format that was read */
    int n_source;                /* tensors in the file */
    int n_loaded, n_mismatched, n_missing, n_unexpected, n_skipped;
    mt_weights_item *loaded;     /* copied into the model (in state_dict order) */
    mt_weights_item *mismatched; /* same name, other shape: left as initialised (skip_mismatched) */
    mt_weights_item *missing;    /* model tensors nothing was loaded into (state_dict order) */
    mt_weights_item *unexpected; /* source tensors mapped to no model tensor (file order) */
    mt_weights_item *skipped;    /* source tensors dropped by the map's `skip:` (file order) */
} mt_weights_report;

/* Loads the tensors of `path` into the model's state_dict, as described at
 * the top of this file. `opt` may be NULL (auto format, default names,
 * strict shapes). `rep` may be NULL; otherwise it is always initialised and
 * must be released with mt_weights_report_free (it is empty after an error).
 * The model is left unchanged on any error of the file, the map or a shape
 * (only a failing device copy at the very end could leave it partly loaded).
 * Works for models on any device (values go through mt_tensor_from_host_into). */
mt_status mt_weights_load(mt_model *m, const char *path, const mt_weights_options *opt, mt_weights_report *rep);

void mt_weights_report_free(mt_weights_report *rep);

/* Human-readable report: a summary line ("loaded 12 of 14 model tensors from
 * keras-h5 x.h5; 2 skipped (shape), 0 missing, 3 unexpected, 1 dropped by the
 * map") followed by one line per mismatched, missing, unexpected and dropped
 * tensor with its shapes; at most `max_lines` per list (<= 0: all), then
 * "... and N more". Loaded tensors are listed only when `verbose`. `path` is
 * the file name to print. Writes to `f`. */
void mt_weights_report_print(FILE *f, const mt_weights_report *rep, const char *path, int max_lines, int verbose);

/* Writes the model's state_dict as a safetensors file: names as
 * mt_model_state_name, shapes as the state tensors (PyTorch layouts),
 * little-endian F32 (F64 in the float64 build), counters
 * (*.num_batches_tracked) as I64 like PyTorch; tensors in state_dict order,
 * header padded with spaces to 8 bytes. `n_meta` key/value strings go into
 * "__metadata__" (may be 0; e.g. {"format": "pt"}). Written to
 * "<path>.tmp-XXXXXX" next to it, fsync'ed and renamed over <path>: a failure
 * never leaves a partial file. Errors: MT_ERR_IO naming the path,
 * MT_ERR_INVALID for NULL strings or a metadata key given twice. */
mt_status mt_safetensors_save(const char *path, mt_model *m, int n_meta, const char *const *meta_keys,
                              const char *const *meta_values);

#ifdef __cplusplus
}
#endif
#endif
