/* layers/export.h: exporting a built model for other runtimes.
 *  - ONNX (mt_export_onnx): the evaluation-mode graph as an ONNX ModelProto,
 *    operator set 13 by default (ai.onnx domain; --opset 13..17 accepted: the
 *    operators used keep their opset-13 meaning up to 17), IR version 7 (8 for
 *    opset >= 14). Encoded with protobuf-c from the onnx.proto of Debian's
 *    libonnx-dev (C code generated at build time, Makefile). docs/export.md.
 *  - safetensors: mt_safetensors_save (layers/weights.h) writes the
 *    state_dict; the CLI (cli/export.c) adds the graph name and params.
 */
#ifndef MT_EXPORT_H
#define MT_EXPORT_H

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_ONNX_DEFAULT_OPSET 13
#define MT_ONNX_MAX_OPSET 17

typedef struct mt_export_options {
    int opset;                 /* 0: MT_ONNX_DEFAULT_OPSET; 13 .. MT_ONNX_MAX_OPSET */
    int batch;                 /* N of the graph input (0: 1); with dynamic_batch the size traced */
    int dynamic_batch;         /* input [N, C, H, W] with a symbolic "N" (outputs too) */
    int in_h, in_w;            /* input H, W (0: the graph's input: {size: [h, w]}; an error if it has none) */
    const char *producer_version; /* ModelProto.producer_version (e.g. git describe), may be NULL */
    int n_meta;                /* extra metadata_props (source checkpoint, config hash, ...) */
    const char *const *meta_keys;
    const char *const *meta_values;
} mt_export_options;

/* Writes the model `m` (its current weights, evaluation semantics) as an ONNX
 * file at `path`, atomically (a temporary file in the same directory, fsync,
 * rename; nothing is left at path on error).
 * Graph: input "input" [N, C, H, W] float32 (N fixed, or the symbolic "N");
 * outputs named as the model's `outputs:` with the shapes traced at this
 * input size; initializers named as the state_dict entries they hold
 * ("enc1.weight", "bn1.running_mean"); constants the mapping needs are
 * "<layer>.__<what>". Every value's shape comes from running the graph on
 * meta tensors (mt_model_trace), so "same" and explicit paddings, crops and
 * unpool sizes are resolved for this input size.
 * Layer kinds -> ONNX operators (https://onnx.ai/onnx/operators/, opset 13):
 *   conv2d Conv (+ activation), conv_transpose2d ConvTranspose, batch_norm2d
 *   BatchNormalization (inference form: running statistics; scale: false /
 *   affine: false get constant gamma 1 / beta 0), normalization Sub/Sqrt/Max/Div,
 *   linear Gemm (transB = 1), relu Relu, leaky_relu LeakyRelu, sigmoid
 *   Sigmoid, tanh Tanh, silu x * Sigmoid(x), softmax Softmax(axis), max_pool2d
 *   MaxPool (its `indices` port is the second output, ONNX's flat int64
 *   indices, consumed by MaxUnpool), max_unpool2d MaxUnpool (output_shape =
 *   Shape of the pool's input), avg_pool2d AveragePool, global_avg_pool2d
 *   GlobalAveragePool, upsample Resize (nearest: asymmetric/floor; bilinear:
 *   linear, pytorch_half_pixel or align_corners), concat Concat(axis 1),
 *   add Add, mul Mul, scale Mul/Add by constants, crop Slice, pad Pad
 *   (constant | reflect | edge), flatten Flatten(axis 1), reshape / unflatten
 *   Reshape, permute Transpose, split Split; identity, dropout and drop_path
 *   emit nothing (Identity only where a model output needs its own name).
 * Errors: MT_ERR_INVALID naming the layer and its file:line:column for a
 * layer that cannot be exported, a bad option (opset, input size) or a
 * reshape that fixes the batch under dynamic_batch; MT_ERR_NOMEM; MT_ERR_IO
 * naming the path. The float64 build has no ONNX export. */
mt_status mt_export_onnx(mt_model *m, const char *path, const mt_export_options *opts);

#ifdef __cplusplus
}
#endif
#endif
