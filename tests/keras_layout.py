#!/usr/bin/python3
"""Keras-layout weight files of the study networks, written from their PyTorch twins.

keras.applications publishes ImageNet weights as Keras `save_weights` HDF5 files. This
module writes such files for InceptionResNetV2 and EfficientNet-B3 from the PyTorch twins
(experiments/twins/), laid out as Keras writes them, so that medtrain's name maps
(configs/models/*.keras_map.yaml) can be proven on them without TensorFlow. It knows
Keras's names from the Keras source, not from the maps: each network is rebuilt below
call for call as its keras.applications function builds it, on a small stand-in for the
Keras functional API that names layers as Keras does and orders them as Keras's model
does, and each Keras layer takes its values from the twin module it corresponds to.

  InceptionResNetV2: keras/applications/inception_resnet_v2.py as of Keras 2.0.9
      (September 2017; naming, layer order and saving as in 2.0.8), which saved inception_resnet_v2_weights_tf_dim_ordering_tf_kernels
      (_notop).h5: unnamed layers are named <snake_case(class)>_<n> counting from 1 per
      class (conv2d_1 .. conv2d_203, batch_normalization_1 .., activation_1 ..,
      max_pooling2d_1 .., average_pooling2d_1, input_1); conv2d_bn's BatchNormalization
      has scale=False (beta, moving_mean, moving_variance); the residual sum is a Lambda
      named after the block (block35_1); keras_version written as 2.0.8 (the real files'
      attribute is not known here; medtrain does not read it).
  EfficientNet-B3: keras/applications/efficientnet.py as of tf.keras 2.3/2.4 (the files
      efficientnetb3(_notop).h5 have the same hashes in Keras 3 today): explicit names
      except input_1, rescaling and normalization (tf.keras numbers from 0 and leaves the
      first unnumbered); Normalization holds mean, variance [3] and an int64 scalar count;
      keras_version 2.4.0.

The file layout is Keras's save_weights_to_hdf5_group: root attributes layer_names (every
layer of model.layers, weightless ones included, as fixed-length byte strings), backend
and keras_version; one group per layer with attribute weight_names (byte strings, or an
empty float64 array for a layer without weights) and one dataset per weight at
<layer>/<weight name>, e.g. /conv2d_1/conv2d_1/kernel:0. model.layers is ordered as
Keras's Container/Functional does it: layers by decreasing depth (longest path to an
output), ties in the order a depth-first walk from the outputs first reaches them.
Layouts: Conv2D kernel [kh, kw, in, out], DepthwiseConv2D [kh, kw, C, 1], Dense [in, out],
vectors as they are; float32 datasets (the count int64).

Commands (for tests/test_weights_keras_nets.c):

  keras_layout.py make NET OUTDIR [--size S] [--batch B] [--head K] [--seed N]
      NET is irv2 or effnet. Builds the twin with 1000 classes, random weights and random
      BN statistics (affine parameters drawn, running statistics set from a training-mode
      pass over a calibration batch and then perturbed, so that activations stay of order
      one through the whole network and every tensor moves the output), and writes
        OUTDIR/NET_keras.h5        the full file (include_top=True, 1000 classes)
        OUTDIR/NET_keras_notop.h5  the notop file (include_top=False, pooling=None)
        OUTDIR/NET_ref.h5          /x [B, 3, S, S] float32 (Keras's input range: [-1, 1]
                                   for IRv2, [0, 255] for EfficientNet); /y_full: the twin's
                                   evaluation logits [B, 1000] (float64 on the float32
                                   weights); /head_weight [K, F], /head_bias [K]: a new
                                   K-class head (PyTorch layout); /y_head: the logits of
                                   the twin with K classes, the same backbone and that head;
                                   attributes n_full, n_notop (tensors in each file)
      and prints one line of statistics.
  keras_layout.py list NET [--notop]
      prints layer_names and each layer's weight names and shapes (random weights).
"""
import argparse
import math
import os
import re
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "experiments"))


# ------------------------------------------------------------------ a stand-in for Keras --

def to_snake_case(name):
    """keras.engine.topology._to_snake_case (Keras 2.0.8; tf.keras's generic_utils is the same)."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    insecure = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
    return insecure if insecure[0] != "_" else "private" + insecure


class KLayer:
    """One Keras layer called once: its name, class, inbound layers (call order) and weights."""

    def __init__(self, name, cls, inbound, weights):
        self.name, self.cls, self.inbound = name, cls, list(inbound)
        self.weights = [(f"{name}/{var}:0", value) for var, value in weights]


class KGraph:
    """Keras's layer naming. style 'keras2': <snake>_<uid>, uids from 1 per class (Keras 2.0.x
    Layer.__init__ with K.get_uid(class name)); 'tf2': backend.unique_object_name(snake,
    zero_based=True): the first is <snake>, then <snake>_1, ... Input layers are input_<uid>
    from 1 in both."""

    def __init__(self, style):
        assert style in ("keras2", "tf2")
        self.style = style
        self.uids = {}
        self.names = set()

    def _uid(self, key):
        self.uids[key] = self.uids.get(key, 0) + 1
        return self.uids[key]

    def layer(self, cls, inbound, weights=(), name=None):
        if name is None:
            if cls == "InputLayer":
                name = f"input_{self._uid('input')}"
            elif self.style == "keras2":
                name = f"{to_snake_case(cls)}_{self._uid(cls)}"
            else:
                n = self._uid(to_snake_case(cls)) - 1
                name = to_snake_case(cls) if n == 0 else f"{to_snake_case(cls)}_{n}"
        if name in self.names:
            raise ValueError(f"duplicate Keras layer name {name}")
        self.names.add(name)
        return KLayer(name, cls, inbound if isinstance(inbound, (list, tuple)) else [inbound], weights)


def keras_model_layers(output):
    """model.layers of a functional model with one output whose layers are each called once:
    Keras 2.0.8 Container.__init__ (tf.keras's _map_graph_network is the same algorithm):
    a depth-first walk from the output numbers the layers as first reached (layer_indices)
    and lists them finished-first (nodes_in_decreasing_depth); walking that list backwards,
    a layer's depth is the largest of its consumers' depths + 1; layers are sorted by
    decreasing depth, ties by layer_indices."""
    indices, finished, in_progress, post = {}, set(), set(), []

    def build(layer):
        if layer in in_progress:
            raise RuntimeError(f"cycle at {layer.name}")
        if layer in finished:
            return
        if layer not in indices:
            indices[layer] = len(indices)
        in_progress.add(layer)
        for inbound in layer.inbound:
            build(inbound)
        finished.add(layer)
        in_progress.remove(layer)
        post.append(layer)

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    build(output)
    depth = {}
    for layer in reversed(post):
        d = depth.setdefault(layer, 0)
        for inbound in layer.inbound:
            depth[inbound] = max(d + 1, depth.get(inbound, 0))
    return sorted(post, key=lambda layer: (-depth[layer], indices[layer]))


def save_weights(path, layers, keras_version):
    """Keras's save_weights_to_hdf5_group (Keras 2.0.8 / tf.keras 2.x) on a new file."""
    def names_attr(names):  # save_attributes_to_hdf5_group: np.asarray of the byte strings
        return np.asarray([n.encode("utf8") for n in names])

    with h5py.File(path, "w") as f:
        names = names_attr(layer.name for layer in layers)
        assert names.nbytes <= 64512, "layer_names would be chunked (not needed here)"
        f.attrs["layer_names"] = names
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = keras_version.encode("utf8")
        for layer in sorted(layers, key=lambda layer: layer.name):  # tf.keras creates the groups sorted
            g = f.create_group(layer.name)
            g.attrs["weight_names"] = names_attr(n for n, _ in layer.weights) if layer.weights else np.asarray([])
            for wname, value in layer.weights:
                d = g.create_dataset(wname, value.shape, dtype=value.dtype)
                if value.shape:
                    d[:] = value
                else:
                    d[()] = value


# ------------------------------------------------------ twin tensors in Keras layouts --

def f32(t):
    return t.detach().cpu().contiguous().numpy().astype(np.float32)


def conv_kernel(conv, filters, kernel, stride):
    """Conv2D kernel [kh, kw, in, out] of a torch Conv2d, after checking its hyperparameters."""
    kernel = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
    if conv.out_channels != filters or tuple(conv.kernel_size) != kernel or conv.stride != (stride, stride) \
            or conv.groups != 1:
        raise ValueError(f"twin conv {conv} is not Conv2D({filters}, {kernel}, strides={stride})")
    return f32(conv.weight.permute(2, 3, 1, 0))


def depthwise_kernel(conv, kernel, stride):
    """DepthwiseConv2D depthwise_kernel [kh, kw, C, 1] of a torch Conv2d with groups = C."""
    c = conv.in_channels
    if conv.groups != c or conv.out_channels != c or conv.kernel_size != (kernel, kernel) \
            or conv.stride != (stride, stride):
        raise ValueError(f"twin conv {conv} is not DepthwiseConv2D({kernel}, strides={stride}) on {c} channels")
    return f32(conv.weight.permute(2, 3, 0, 1))  # [C, 1, kh, kw] -> [kh, kw, C, 1]


def dense_kernel(linear, units):
    if linear.out_features != units:
        raise ValueError(f"twin head {linear} is not Dense({units})")
    return f32(linear.weight.t())  # [out, in] -> [in, out]


# ------------------------------------------------------------------ InceptionResNetV2 --

def irv2_keras(twin, include_top=True, classes=1000):
    """keras.applications.InceptionResNetV2 (Keras 2.0.9) on the stand-in; values from the twin
    (experiments/twins/inception_resnet_v2.py). Returns model.layers."""
    K = KGraph("keras2")

    def conv2d_bn(x, filters, kernel_size, strides=1, padding="same", activation="relu", use_bias=False,
                  name=None, src=None):
        conv = src if use_bias else src.conv
        if not use_bias and (src.stride != strides or src.same != (padding == "same")):
            raise ValueError(f"twin ConvBN {src} has other strides / padding than conv2d_bn({filters})")
        w = [("kernel", conv_kernel(conv, filters, kernel_size, strides))]
        if use_bias:
            w.append(("bias", f32(conv.bias)))
        x = K.layer("Conv2D", x, w, name=name)
        if not use_bias:
            bn = src.bn
            x = K.layer("BatchNormalization", x, [("beta", f32(bn.bias)), ("moving_mean", f32(bn.running_mean)),
                                                  ("moving_variance", f32(bn.running_var))],
                        name=None if name is None else name + "_bn")
        if activation is not None:
            x = K.layer("Activation", x, name=None if name is None else name + "_ac")
        return x

    def inception_resnet_block(x, scale, block_type, block_idx, activation="relu"):
        t = getattr(twin, f"{block_type}_{block_idx}")
        if block_type == "block35":
            branch_0 = conv2d_bn(x, 32, 1, src=t.branch0)
            branch_1 = conv2d_bn(x, 32, 1, src=t.branch1_1)
            branch_1 = conv2d_bn(branch_1, 32, 3, src=t.branch1_2)
            branch_2 = conv2d_bn(x, 32, 1, src=t.branch2_1)
            branch_2 = conv2d_bn(branch_2, 48, 3, src=t.branch2_2)
            branch_2 = conv2d_bn(branch_2, 64, 3, src=t.branch2_3)
            branches = [branch_0, branch_1, branch_2]
            channels = 320
        elif block_type == "block17":
            branch_0 = conv2d_bn(x, 192, 1, src=t.branch0)
            branch_1 = conv2d_bn(x, 128, 1, src=t.branch1_1)
            branch_1 = conv2d_bn(branch_1, 160, [1, 7], src=t.branch1_2)
            branch_1 = conv2d_bn(branch_1, 192, [7, 1], src=t.branch1_3)
            branches = [branch_0, branch_1]
            channels = 1088
        else:
            branch_0 = conv2d_bn(x, 192, 1, src=t.branch0)
            branch_1 = conv2d_bn(x, 192, 1, src=t.branch1_1)
            branch_1 = conv2d_bn(branch_1, 224, [1, 3], src=t.branch1_2)
            branch_1 = conv2d_bn(branch_1, 256, [3, 1], src=t.branch1_3)
            branches = [branch_0, branch_1]
            channels = 2080
        if abs(t.scale - scale) > 1e-12 or t.relu != (activation is not None):
            raise ValueError(f"twin {block_type}_{block_idx}: scale {t.scale} / relu {t.relu}")
        block_name = f"{block_type}_{block_idx}"
        mixed = K.layer("Concatenate", branches, name=block_name + "_mixed")
        up = conv2d_bn(mixed, channels, 1, activation=None, use_bias=True, name=block_name + "_conv", src=t.conv)
        x = K.layer("Lambda", [x, up], name=block_name)  # inputs[0] + inputs[1] * scale
        if activation is not None:
            x = K.layer("Activation", x, name=block_name + "_ac")
        return x

    img_input = K.layer("InputLayer", [])
    s = twin.stem
    x = conv2d_bn(img_input, 32, 3, strides=2, padding="valid", src=s.conv1)
    x = conv2d_bn(x, 32, 3, padding="valid", src=s.conv2)
    x = conv2d_bn(x, 64, 3, src=s.conv3)
    x = K.layer("MaxPooling2D", x)
    x = conv2d_bn(x, 80, 1, padding="valid", src=s.conv4)
    x = conv2d_bn(x, 192, 3, padding="valid", src=s.conv5)
    x = K.layer("MaxPooling2D", x)

    m = twin.mixed_5b
    branch_0 = conv2d_bn(x, 96, 1, src=m.branch0)
    branch_1 = conv2d_bn(x, 48, 1, src=m.branch1_1)
    branch_1 = conv2d_bn(branch_1, 64, 5, src=m.branch1_2)
    branch_2 = conv2d_bn(x, 64, 1, src=m.branch2_1)
    branch_2 = conv2d_bn(branch_2, 96, 3, src=m.branch2_2)
    branch_2 = conv2d_bn(branch_2, 96, 3, src=m.branch2_3)
    branch_pool = K.layer("AveragePooling2D", x)
    branch_pool = conv2d_bn(branch_pool, 64, 1, src=m.branch3)
    x = K.layer("Concatenate", [branch_0, branch_1, branch_2, branch_pool], name="mixed_5b")

    for block_idx in range(1, 11):
        x = inception_resnet_block(x, scale=0.17, block_type="block35", block_idx=block_idx)

    m = twin.mixed_6a
    branch_0 = conv2d_bn(x, 384, 3, strides=2, padding="valid", src=m.branch0)
    branch_1 = conv2d_bn(x, 256, 1, src=m.branch1_1)
    branch_1 = conv2d_bn(branch_1, 256, 3, src=m.branch1_2)
    branch_1 = conv2d_bn(branch_1, 384, 3, strides=2, padding="valid", src=m.branch1_3)
    branch_pool = K.layer("MaxPooling2D", x)
    x = K.layer("Concatenate", [branch_0, branch_1, branch_pool], name="mixed_6a")

    for block_idx in range(1, 21):
        x = inception_resnet_block(x, scale=0.1, block_type="block17", block_idx=block_idx)

    m = twin.mixed_7a
    branch_0 = conv2d_bn(x, 256, 1, src=m.branch0_1)
    branch_0 = conv2d_bn(branch_0, 384, 3, strides=2, padding="valid", src=m.branch0_2)
    branch_1 = conv2d_bn(x, 256, 1, src=m.branch1_1)
    branch_1 = conv2d_bn(branch_1, 288, 3, strides=2, padding="valid", src=m.branch1_2)
    branch_2 = conv2d_bn(x, 256, 1, src=m.branch2_1)
    branch_2 = conv2d_bn(branch_2, 288, 3, src=m.branch2_2)
    branch_2 = conv2d_bn(branch_2, 320, 3, strides=2, padding="valid", src=m.branch2_3)
    branch_pool = K.layer("MaxPooling2D", x)
    x = K.layer("Concatenate", [branch_0, branch_1, branch_2, branch_pool], name="mixed_7a")

    for block_idx in range(1, 10):
        x = inception_resnet_block(x, scale=0.2, block_type="block8", block_idx=block_idx)
    x = inception_resnet_block(x, scale=1.0, activation=None, block_type="block8", block_idx=10)

    x = conv2d_bn(x, 1536, 1, name="conv_7b", src=twin.conv_7b)

    if include_top:
        x = K.layer("GlobalAveragePooling2D", x, name="avg_pool")
        x = K.layer("Dense", x, [("kernel", dense_kernel(twin.predictions, classes)),
                                 ("bias", f32(twin.predictions.bias))], name="predictions")
    return keras_model_layers(x)


# ---------------------------------------------------------------------- EfficientNet --

EFFNET_BLOCKS_ARGS = [  # keras efficientnet DEFAULT_BLOCKS_ARGS (id_skip True, se_ratio 0.25 throughout)
    dict(kernel_size=3, repeats=1, filters_in=32, filters_out=16, expand_ratio=1, strides=1),
    dict(kernel_size=3, repeats=2, filters_in=16, filters_out=24, expand_ratio=6, strides=2),
    dict(kernel_size=5, repeats=2, filters_in=24, filters_out=40, expand_ratio=6, strides=2),
    dict(kernel_size=3, repeats=3, filters_in=40, filters_out=80, expand_ratio=6, strides=2),
    dict(kernel_size=5, repeats=3, filters_in=80, filters_out=112, expand_ratio=6, strides=1),
    dict(kernel_size=5, repeats=4, filters_in=112, filters_out=192, expand_ratio=6, strides=2),
    dict(kernel_size=3, repeats=1, filters_in=192, filters_out=320, expand_ratio=6, strides=1),
]


def effnet_keras(twin, include_top=True, classes=1000, width_coefficient=1.2, depth_coefficient=1.4,
                 dropout_rate=0.3, drop_connect_rate=0.2, depth_divisor=8):
    """keras.applications.EfficientNetB3 (tf.keras 2.3/2.4: EfficientNet(1.2, 1.4, 300, 0.3)) on the
    stand-in; values from the twin (experiments/twins/efficientnet_b3.py). Returns model.layers."""
    K = KGraph("tf2")

    def round_filters(filters, divisor=depth_divisor):
        filters *= width_coefficient
        new_filters = max(divisor, int(filters + divisor / 2) // divisor * divisor)
        if new_filters < 0.9 * filters:
            new_filters += divisor
        return int(new_filters)

    def round_repeats(repeats):
        return int(math.ceil(depth_coefficient * repeats))

    def bn_weights(bn):
        if bn.num_features is None or not bn.affine:
            raise ValueError(f"twin BN {bn} is not BatchNormalization()")
        return [("gamma", f32(bn.weight)), ("beta", f32(bn.bias)), ("moving_mean", f32(bn.running_mean)),
                ("moving_variance", f32(bn.running_var))]

    def block(inputs, drop_rate, name, src, filters_in, filters_out, kernel_size, strides, expand_ratio,
              se_ratio=0.25, id_skip=True):
        filters = filters_in * expand_ratio
        if expand_ratio != 1:
            x = K.layer("Conv2D", inputs, [("kernel", conv_kernel(src.expand_conv, filters, 1, 1))],
                        name=name + "expand_conv")
            x = K.layer("BatchNormalization", x, bn_weights(src.expand_bn), name=name + "expand_bn")
            x = K.layer("Activation", x, name=name + "expand_activation")
        else:
            x = inputs
        if strides == 2:
            x = K.layer("ZeroPadding2D", x, name=name + "dwconv_pad")
        x = K.layer("DepthwiseConv2D", x, [("depthwise_kernel", depthwise_kernel(src.dwconv, kernel_size, strides))],
                    name=name + "dwconv")
        x = K.layer("BatchNormalization", x, bn_weights(src.bn), name=name + "bn")
        x = K.layer("Activation", x, name=name + "activation")
        if 0 < se_ratio <= 1:
            filters_se = max(1, int(filters_in * se_ratio))
            se = K.layer("GlobalAveragePooling2D", x, name=name + "se_squeeze")
            se = K.layer("Reshape", se, name=name + "se_reshape")
            se = K.layer("Conv2D", se, [("kernel", conv_kernel(src.se_reduce, filters_se, 1, 1)),
                                        ("bias", f32(src.se_reduce.bias))], name=name + "se_reduce")
            se = K.layer("Conv2D", se, [("kernel", conv_kernel(src.se_expand, filters, 1, 1)),
                                        ("bias", f32(src.se_expand.bias))], name=name + "se_expand")
            x = K.layer("Multiply", [x, se], name=name + "se_excite")
        x = K.layer("Conv2D", x, [("kernel", conv_kernel(src.project_conv, filters_out, 1, 1))],
                    name=name + "project_conv")
        x = K.layer("BatchNormalization", x, bn_weights(src.project_bn), name=name + "project_bn")
        if id_skip and strides == 1 and filters_in == filters_out:
            if drop_rate > 0:
                x = K.layer("Dropout", x, name=name + "drop")
            x = K.layer("Add", [x, inputs], name=name + "add")
        return x

    img_input = K.layer("InputLayer", [])
    x = K.layer("Rescaling", img_input)
    norm = twin.normalization
    x = K.layer("Normalization", x, [("mean", f32(norm.mean)), ("variance", f32(norm.variance)),
                                     ("count", np.array(int(round(float(norm.count))), dtype=np.int64))])
    x = K.layer("ZeroPadding2D", x, name="stem_conv_pad")
    x = K.layer("Conv2D", x, [("kernel", conv_kernel(twin.stem_conv, round_filters(32), 3, 2))], name="stem_conv")
    x = K.layer("BatchNormalization", x, bn_weights(twin.stem_bn), name="stem_bn")
    x = K.layer("Activation", x, name="stem_activation")

    b = 0
    blocks = float(sum(round_repeats(args["repeats"]) for args in EFFNET_BLOCKS_ARGS))
    for i, args in enumerate(EFFNET_BLOCKS_ARGS):
        args = dict(args)
        args["filters_in"] = round_filters(args["filters_in"])
        args["filters_out"] = round_filters(args["filters_out"])
        for j in range(round_repeats(args.pop("repeats"))):
            if j > 0:
                args["strides"] = 1
                args["filters_in"] = args["filters_out"]
            name = f"block{i + 1}{chr(j + 97)}_"
            x = block(x, drop_connect_rate * b / blocks, name=name, src=getattr(twin, name[:-1]), **args)
            b += 1

    x = K.layer("Conv2D", x, [("kernel", conv_kernel(twin.top_conv, round_filters(1280), 1, 1))], name="top_conv")
    x = K.layer("BatchNormalization", x, bn_weights(twin.top_bn), name="top_bn")
    x = K.layer("Activation", x, name="top_activation")
    if include_top:
        x = K.layer("GlobalAveragePooling2D", x, name="avg_pool")
        if dropout_rate > 0:
            x = K.layer("Dropout", x, name="top_dropout")
        x = K.layer("Dense", x, [("kernel", dense_kernel(twin.predictions, classes)),
                                 ("bias", f32(twin.predictions.bias))], name="predictions")
    return keras_model_layers(x)


# --------------------------------------------------------------------- the fixtures --

NETS = {
    # twin module, Keras builder, keras_version, input range, head features
    "irv2": ("inception_resnet_v2", irv2_keras, "2.0.8", (-1.0, 1.0), 1536),
    "effnet": ("efficientnet_b3", effnet_keras, "2.4.0", (0.0, 255.0), 1536),
}


def batch_norms(model):
    """(module, has gamma) of every batch norm of a twin, in module order."""
    out = []
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            out.append(mod)
        elif type(mod).__name__ == "KerasBatchNorm":
            out.append(mod)
    return out


def randomize(net, model, calib_size, gen):
    """Random weights and BN statistics of order one (in place; the model ends in eval mode).
    Conv / dense weights keep the twin's PyTorch initialisation (drawn from torch's seeded
    generator); BN gamma ~ U(0.8, 1.2), beta ~ N(0, 0.2), conv biases ~ N(0, 0.1); then
    every BN's running statistics are set from a training-mode pass over a calibration
    batch (BN layers alone in training mode: no dropout or drop-connect) and perturbed:
    mean + 0.2 sd N(0, 1), variance x U(0.7, 1.4). EfficientNet's Normalization gets
    mean ~ U(0.4, 0.5), variance ~ U(0.04, 0.07), count 1281167."""
    lo, hi = NETS[net][3]
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.Conv2d) and mod.bias is not None:
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.1)
        bns = batch_norms(model)
        for bn in bns:
            if getattr(bn, "weight", None) is not None:
                bn.weight.copy_(0.8 + 0.4 * torch.rand(bn.weight.shape, generator=gen))
            bn.bias.copy_(torch.randn(bn.bias.shape, generator=gen) * 0.2)
        if net == "effnet":
            norm = model.normalization
            norm.mean.copy_(0.4 + 0.1 * torch.rand(norm.mean.shape, generator=gen))
            norm.variance.copy_(0.04 + 0.03 * torch.rand(norm.variance.shape, generator=gen))
            norm.count.fill_(1281167)
        model.eval()
        saved = [bn.momentum for bn in bns]
        for bn in bns:
            bn.momentum = 1.0  # running statistics := this batch's
            bn.train()
        xc = lo + (hi - lo) * torch.rand(2, 3, calib_size, calib_size, generator=gen)
        model(xc)
        for bn, mom in zip(bns, saved):
            bn.momentum = mom
            bn.eval()
            bn.running_mean.add_(0.2 * bn.running_var.sqrt() * torch.randn(bn.running_mean.shape, generator=gen))
            bn.running_var.mul_(0.7 + 0.7 * torch.rand(bn.running_var.shape, generator=gen))
            bn.num_batches_tracked.zero_()
    return model


def n_tensors(layers):
    return sum(len(layer.weights) for layer in layers)


def make(net, out, size, batch, head, seed, calib_size):
    twin_name, builder, version, (lo, hi), features = NETS[net]
    twin_mod = __import__("twins." + twin_name, fromlist=["build"])
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    full = randomize(net, twin_mod.build(classes=1000), calib_size or size, gen)
    os.makedirs(out, exist_ok=True)
    layers_full = builder(full, include_top=True)
    layers_notop = builder(full, include_top=False)
    save_weights(os.path.join(out, f"{net}_keras.h5"), layers_full, version)
    save_weights(os.path.join(out, f"{net}_keras_notop.h5"), layers_notop, version)

    # the study's model: the same backbone and a new `head`-class Dense head (PyTorch's
    # nn.Linear initialisation, bias ~ N(0, 0.1)); its logits are that head applied to the
    # pooled features of the one float64 forward pass below (the twin's head is nn.Linear)
    new_head = nn.Linear(features, head)
    with torch.no_grad():
        new_head.bias.copy_(torch.randn(head, generator=gen) * 0.1)
    x = lo + (hi - lo) * torch.rand(batch, 3, size, size, generator=gen)
    feats = {}
    with torch.no_grad():
        full64 = full.double()
        h = full64.predictions.register_forward_hook(lambda mod, inp, outp: feats.update(f=inp[0]))  # returns None
        y_full = full64(x.double())
        h.remove()
        f = feats["f"]
        y_head = new_head.double()(f)
    with h5py.File(os.path.join(out, f"{net}_ref.h5"), "w") as ref:
        ref["x"] = x.numpy().astype(np.float32)
        ref["y_full"] = y_full.numpy()
        ref["y_head"] = y_head.numpy()
        ref["head_weight"] = new_head.weight.detach().numpy().astype(np.float32)
        ref["head_bias"] = new_head.bias.detach().numpy().astype(np.float32)
        ref.attrs["n_full"] = n_tensors(layers_full)
        ref.attrs["n_notop"] = n_tensors(layers_notop)
        ref.attrs["n_layers_full"] = len(layers_full)
        ref.attrs["n_layers_notop"] = len(layers_notop)
    assert f.shape == (batch, features) and y_full.shape == (batch, 1000), (f.shape, y_full.shape)
    print(f"{net}: {len(layers_full)} layers / {n_tensors(layers_full)} tensors (notop {len(layers_notop)} / "
          f"{n_tensors(layers_notop)}); pooled features rms {f.pow(2).mean().sqrt():.3g}, sd {f.std():.3g}; "
          f"logits rms {y_full.pow(2).mean().sqrt():.3g}, sd {y_full.std():.3g} (head bias rms "
          f"{full64.predictions.bias.pow(2).mean().sqrt():.3g}); new head logits rms "
          f"{y_head.pow(2).mean().sqrt():.3g}")


def list_layers(net, notop):
    twin_name, builder, _, _, _ = NETS[net]
    twin_mod = __import__("twins." + twin_name, fromlist=["build"])
    model = twin_mod.build(classes=1000).eval()
    for layer in builder(model, include_top=not notop):
        ws = ", ".join(f"{n} {list(v.shape)}" for n, v in layer.weights)
        print(f"{layer.name} ({layer.cls})" + (f": {ws}" if ws else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make")
    mk.add_argument("net", choices=sorted(NETS))
    mk.add_argument("out")
    mk.add_argument("--size", type=int, default=299)
    mk.add_argument("--batch", type=int, default=1)
    mk.add_argument("--head", type=int, default=5)
    mk.add_argument("--seed", type=int, default=0)
    mk.add_argument("--calib-size", type=int, default=0, help="input size of the BN calibration pass (0: --size)")
    ls = sub.add_parser("list")
    ls.add_argument("net", choices=sorted(NETS))
    ls.add_argument("--notop", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if a.cmd == "make":
        make(a.net, a.out, a.size, a.batch, a.head, a.seed, a.calib_size)
    else:
        list_layers(a.net, a.notop)


if __name__ == "__main__":
    main()
