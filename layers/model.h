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

#include "../core/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_model mt_model;

/* Values that override the graph file's `params:` (e.g. base: 16, in_channels: 1). */
typedef struct mt_model_arg {
    const char *key;
    const char *value;
} mt_model_arg;

/* Builds a model from a YAML graph file on `dev` and initialises its weights
 * (each layer's `init:`, default PyTorch's). Errors name file:line:column. */
mt_status mt_model_load_yaml(const char *path, int n_args, const mt_model_arg *args, mt_device dev,
                             uint64_t seed, mt_model **out);
void mt_model_free(mt_model *m);

/* Forward pass: x [N, C, H, W] -> the graph's output (logits). training
 * selects batch-norm batch statistics and active dropout. Returns NULL on error. */
mt_tensor *mt_model_forward(mt_model *m, mt_tensor *x, int training);

/* Trainable parameters (requires_grad) in state_dict order. */
mt_tensor **mt_model_params(mt_model *m, int *n);
/* Number of trainable scalars (PyTorch sum(p.numel() for p in parameters())). */
size_t mt_model_param_count(const mt_model *m);

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

/* Output shape for an input [n, c, h, w], computed symbolically (no tensors
 * are allocated; works for full-size U-Nets on any machine): *ndim = 4 for
 * [N, C, H, W] or 2 for [N, F]. Errors name the first layer whose output
 * would be empty (e.g. a valid U-Net input that is too small). */
mt_status mt_model_output_shape(const mt_model *m, int n, int c, int h, int w, int *ndim, int shape[4]);
/* Same, for the output of the named layer. */
mt_status mt_model_layer_output_shape(const mt_model *m, const char *layer, int n, int c, int h, int w, int *ndim,
                                      int shape[4]);
/* Device the model lives on, and the number of input channels it takes. */
mt_device mt_model_device(const mt_model *m);
int mt_model_in_channels(const mt_model *m);

#ifdef __cplusplus
}
#endif
#endif
