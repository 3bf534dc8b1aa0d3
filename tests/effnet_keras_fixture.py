#!/usr/bin/python3
"""tests/effnet_keras_fixture.py OUTDIR [PARAMS]: for tests/test_net_effnet.c, writes the
EfficientNet-B3 twin (experiments/twins/efficientnet_b3.py, params 'classes=1,...') with random
weights and statistics (seed 0)
  OUTDIR/effnet_keras.h5  as Keras save_weights writes tf.keras.applications.EfficientNetB3:
                          Keras layer names and order (weightless layers included), HWIO /
                          depthwise [kh, kw, C, 1] / Dense [in, out] layouts, BN gamma, beta,
                          moving_mean, moving_variance, Normalization mean, variance and an int64
                          count (tests/weights_fixture.py's writer)
  OUTDIR/effnet_ref.h5    the same weights as a medtrain checkpoint's /state_dict/<name> in
                          PyTorch names and layouts (float32; num_batches_tracked left out)
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "experiments"))
from weights_fixture import as_np, keras_weights, write_keras  # noqa: E402
from twin_check import parse_params  # noqa: E402
from twins import efficientnet_b3  # noqa: E402


def randomize(model):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var") or name.endswith("variance"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif name.endswith("count"):
                t.fill_(12345)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
    return model


def keras_layers(m):
    """[(keras layer name, [(variable, value)])] in tf.keras.applications' layer order."""
    norm = m.normalization
    layers = [("input_1", []), ("rescaling", []),
              ("normalization", [("mean", as_np(norm.mean)), ("variance", as_np(norm.variance)),
                                 ("count", np.array(int(norm.count.item()), np.int64))]),
              ("stem_conv_pad", []), ("stem_conv", keras_weights(m.stem_conv)), ("stem_bn", keras_weights(m.stem_bn)),
              ("stem_activation", [])]
    for name in m.block_names:
        b = getattr(m, name)

        def add(suffix, module=None):
            layers.append((f"{name}_{suffix}", keras_weights(module) if module is not None else []))
        if b.expand_ratio != 1:
            add("expand_conv", b.expand_conv), add("expand_bn", b.expand_bn), add("expand_activation")
        if b.strides == 2:
            add("dwconv_pad")
        add("dwconv", b.dwconv), add("bn", b.bn), add("activation"), add("se_squeeze"), add("se_reshape")
        add("se_reduce", b.se_reduce), add("se_expand", b.se_expand), add("se_excite")
        add("project_conv", b.project_conv), add("project_bn", b.project_bn)
        if b.id_skip:
            add("drop"), add("add")
    layers += [("top_conv", keras_weights(m.top_conv)), ("top_bn", keras_weights(m.top_bn)), ("top_activation", []),
               ("avg_pool", []), ("top_dropout", []), ("predictions", keras_weights(m.predictions))]
    return layers


def main():
    out = sys.argv[1]
    model = randomize(efficientnet_b3.build(**parse_params(sys.argv[2] if len(sys.argv) > 2 else "classes=1")))
    write_keras(os.path.join(out, "effnet_keras.h5"), keras_layers(model))
    import h5py
    with h5py.File(os.path.join(out, "effnet_ref.h5"), "w") as f:
        g = f.create_group("state_dict")
        for name, t in model.state_dict().items():
            if not name.endswith("num_batches_tracked"):
                g[name] = as_np(t)
    print("ok")


if __name__ == "__main__":
    main()
