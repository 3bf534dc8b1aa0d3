/* layers/model.h: a network built from a YAML model graph
 * (configs/models/<name>.yaml): named layers, references to earlier outputs
 * (skips, residuals, concatenation), repeated blocks and parameters such as
 * base width, depth and padding mode.
 *
 * All parameters live in one allocation, with a table of named views into it
 * (llm.c style); buffers (batch-norm running statistics) likewise. Names and
 * layouts follow a PyTorch state_dict of the same network:
 * "<layer name>.weight|bias|running_mean|running_var|num_batches_tracked",
 * conv [out, in/groups, kh, kw], transposed conv [in, out/groups, kh, kw],
 * linear [out, in].
 */
#ifndef MT_MODEL_H
#define MT_MODEL_H

#include <stdint.h>

#include "../core/rng.h"
#include "../core/tensor.h"
#include "../core/yaml_tree.h" /* mt_model_arg */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_model mt_model;

/* Builds a model from a YAML graph file on `dev` and initialises its weights
 * (each layer's `init:`, default PyTorch's). Errors name file:line:column. */
mt_status mt_model_load_yaml(const char *path, int n_args, const mt_model_arg *args, mt_device dev,
                             uint64_t seed, mt_model **out);
void mt_model_free(mt_model *m);

/* Forward pass: x [N, C, H, W] -> the graph's first output (logits).
 * training selects batch-norm batch statistics and active dropout/drop-path,
 * whose masks come from the model's own stream (mt_model_get_rng), advanced
 * here: the one call that writes the model besides batch-norm statistics.
 * Returns NULL on error (message names the layer and file:line:column). */
mt_tensor *mt_model_forward(mt_model *m, mt_tensor *x, int training);

/* Forward pass with every output: outputs[i] (new references) for
 * i < mt_model_output_count(m), in the order of the graph's `outputs:`.
 * rng: the random stream of this pass (dropout, drop-path; advanced), may be
 * NULL when training = 0. Writes nothing in the model in evaluation mode (two
 * threads may run one model at once); in training, batch-norm running
 * statistics are updated as in PyTorch. x may be a meta tensor
 * (mt_tensor_new_meta): the outputs are then meta tensors with the shapes the
 * ops' shape rules give. Errors name the layer and file:line:column. */
mt_status mt_model_run(mt_model *m, mt_tensor *x, int training, mt_rng *rng, mt_tensor **outputs);
/* mt_model_run with the model's own dropout stream (as mt_model_forward, which
 * keeps only the first output): every output, outputs[i] new references. */
mt_status mt_model_forward_all(mt_model *m, mt_tensor *x, int training, mt_tensor **outputs);
/* Forward pass returning named values instead of the outputs: values[i] (new
 * references) = the value names[i] (a layer, "layer.port" or an output), e.g.
 * a classifier's last conv activation for a class-activation map. Keeps every
 * intermediate value until the end (more memory than mt_model_run). Same
 * training / rng rules as mt_model_run. Errors: an unknown name (listing none). */
mt_status mt_model_run_values(mt_model *m, mt_tensor *x, int training, mt_rng *rng, int n, const char *const *names,
                              mt_tensor **values);
/* Number of model outputs (`outputs: [p3, p4, p5]`; 1 for `output: score`) and the i-th one's name. */
int mt_model_output_count(const mt_model *m);
const char *mt_model_output_name(const mt_model *m, int i);

/* Shape of a value for an input of shape in_shape (rank in_ndim, usually
 * [N, C, H, W]): value NULL = output 0; else an output name, a layer name,
 * "layer.port" (e.g. "pool1.indices") or a block instance. Found by running
 * the graph on meta tensors (the ops' shape rules; nothing is allocated, so
 * a full-size network is fine anywhere). Errors name the first layer that
 * fails (e.g. an empty output for a valid U-Net input that is too small). */
mt_status mt_model_shape(mt_model *m, const char *value, int in_ndim, const int *in_shape, int *ndim,
                         int shape[MT_MAX_DIMS]);

/* Trainable parameters (requires_grad) in state_dict order. */
mt_tensor **mt_model_params(mt_model *m, int *n);
/* Number of trainable scalars (PyTorch sum(p.numel() for p in parameters())). */
size_t mt_model_param_count(const mt_model *m);
/* Number of buffer scalars that Keras counts as non-trainable weights:
 * batch-norm running mean and variance, normalisation mean/variance/count
 * (not PyTorch's num_batches_tracked). Keras model.summary()'s "Total
 * params" = mt_model_param_count + mt_model_keras_buffer_count. */
size_t mt_model_keras_buffer_count(const mt_model *m);

/* The state_dict: every named tensor (parameters then buffers, in order). */
int mt_model_state_count(const mt_model *m);
const char *mt_model_state_name(const mt_model *m, int i);
mt_tensor *mt_model_state_tensor(mt_model *m, int i);
int mt_model_state_is_param(const mt_model *m, int i);

/* Freezes (requires_grad = 0) or unfreezes all parameters: gradients still
 * flow through to the input. */
void mt_model_set_trainable(mt_model *m, int trainable);
/* Dropout random stream (seed, offset), advanced by every training forward. */
void mt_model_get_rng(const mt_model *m, uint64_t *seed, uint64_t *offset);
void mt_model_set_rng(mt_model *m, uint64_t seed, uint64_t offset);
/* Multi-line summary: one row per layer with output shape and parameter count. */
mt_status mt_model_summary(const mt_model *m, int in_c, int in_h, int in_w, char **text_out);

/* 4-D conveniences over mt_model_shape: the first output's shape (or the
 * named layer's output 0) for an input [n, c, h, w]; *ndim <= 4 (an error
 * for a higher-rank value: use mt_model_shape). */
mt_status mt_model_output_shape(const mt_model *m, int n, int c, int h, int w, int *ndim, int shape[4]);
/* Same, for the output of the named layer. */
mt_status mt_model_layer_output_shape(const mt_model *m, const char *layer, int n, int c, int h, int w, int *ndim,
                                      int shape[4]);
/* Device the model lives on, the number of input channels it takes, its
 * nominal input size (`input: {size: [h, w]}`; 0, 0 if the graph gives none)
 * and its name. */
mt_device mt_model_device(const mt_model *m);
int mt_model_in_channels(const mt_model *m);
void mt_model_nominal_size(const mt_model *m, int *h, int *w);
const char *mt_model_name(const mt_model *m);

#ifdef __cplusplus
}
#endif
#endif
