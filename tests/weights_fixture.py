#!/usr/bin/python3
"""Fixtures and cross-checks for tests/test_weights.c (layers/weights.h).

  weights_fixture.py make OUTDIR
      writes, from PyTorch models with random weights (seed 0):
        ref.h5                 /x [2, 2, 8, 8], /y: Tiny (classes 3) eval forward (float64 reference
                               on the float32 weights), /x_unet [1, 1, 16, 16], /y_unet: UNetBN
                               (base 4, depth 2) eval forward
        tiny_keras.h5          Tiny as Keras `save_weights` writes it: HWIO kernels, depthwise
                               [kh, kw, C, m], Conv2DTranspose [kh, kw, out, in], Dense [in, out],
                               Keras layer names unlike ours (tests/data/weights_tiny_keras_map.yaml),
                               a weightless input layer and a Normalization layer (int64 count)
        tiny_keras_full.h5     the same under /model_weights of a full-model file, with
                               layer_names split into layer_names0/1 (as Keras does above 64 KB),
                               names as variable-length UTF-8 strings, float64 datasets
        unet_bn_keras.h5       UNetBN with auto-numbered Keras layer names (conv2d_1..conv2d_11,
                               batch_normalization, batch_normalization_1.., conv2d_transpose_1..),
                               layer_names shuffled (tests/data/weights_unet_bn_order_map.yaml)
        tiny.safetensors       Tiny's state_dict in PyTorch names, written by the small writer
                               below (json + struct, not the safetensors package), mixed dtypes:
                               stem.weight F64, proj.weight F16, head.weight BF16,
                               stem_bn.num_batches_tracked I64 (= 7), the rest F32, in reverse
                               order, with __metadata__ (block1_bn.num_batches_tracked left out)
        tiny_partial.safetensors  without head.weight, with an extra 'extra.weight'
      F16 / BF16 tensors are rounded in the model before the reference is computed, so every
      file holds exactly the reference's values.

  weights_fixture.py check-safetensors FILE CHECKPOINT.h5
      reads FILE (written by medtrain's mt_safetensors_save) with numpy + json only and checks
      it against the checkpoint's /state_dict bit for bit: header length and 8-byte alignment,
      dtypes (F32, counters I64), shapes, offsets contiguous, values, __metadata__ == {"format":
      "pt", "note": "round trip"}; then loads it into the PyTorch Tiny (strict). Prints "ok".

Tiny is the twin of tests/data/weights_tiny.yaml; UNetBN comes from experiments/torch_models.py.
"""
import json
import os
import struct
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "experiments"))
from torch_models import UNetBN  # noqa: E402


class Tiny(nn.Module):
    """tests/data/weights_tiny.yaml"""

    def __init__(self, in_channels=2, classes=3):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, 4, (3, 2), padding=(1, 1), bias=False)
        self.stem_bn = nn.BatchNorm2d(4)
        self.block1_dw = nn.Conv2d(4, 8, 3, padding=1, groups=4)
        self.block1_bn = nn.BatchNorm2d(8)
        self.up = nn.ConvTranspose2d(8, 3, (2, 3), stride=2)
        self.proj = nn.Conv2d(3, 5, 1)
        self.head = nn.Linear(5, classes)

    def forward(self, x):
        x = F.relu(self.stem_bn(self.stem(x)))
        x = F.relu(self.block1_bn(self.block1_dw(x)))
        x = F.relu(self.up(x))
        x = self.proj(x)
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


TINY_KERAS_NAMES = {"stem": "conv_stem", "stem_bn": "bn_stem", "block1_dw": "block1_dwconv",
                    "block1_bn": "block1_bn", "up": "up_deconv", "proj": "proj_conv", "head": "predictions"}


def randomize(model):
    """Random BN affine and running statistics (so that they matter), in place."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.3)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    return model


def keras_weights(m):
    """[(keras variable, numpy array in Keras layout)] of one torch module."""
    if isinstance(m, nn.BatchNorm2d):
        return [("gamma", m.weight), ("beta", m.bias), ("moving_mean", m.running_mean),
                ("moving_variance", m.running_var)]
    out = []
    if isinstance(m, nn.Conv2d) and m.groups > 1:
        assert m.groups == m.in_channels
        c, mult = m.in_channels, m.out_channels // m.in_channels
        kh, kw = m.kernel_size
        w = m.weight.detach().reshape(c, mult, kh, kw).permute(2, 3, 0, 1)  # [kh, kw, C, m]
        out.append(("depthwise_kernel", w))
    elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        # Conv2D [out, in, kh, kw] -> [kh, kw, in, out]; ConvTranspose [in, out, kh, kw] -> [kh, kw, out, in]
        out.append(("kernel", m.weight.detach().permute(2, 3, 1, 0)))
    elif isinstance(m, nn.Linear):
        out.append(("kernel", m.weight.detach().t()))  # [in, out]
    if getattr(m, "bias", None) is not None:
        out.append(("bias", m.bias))
    return out


def as_np(t):
    return t.detach().contiguous().numpy().astype(np.float32)


def write_keras(path, layers, base="/", chunk_names=False, vlen=False):
    """layers: [(keras layer name, [(variable, tensor or ndarray)])] in model order. vlen: names as
    variable-length strings (h5py's str) and float64 data, instead of Keras's fixed-length bytes
    and float32."""
    def strings(names):
        return list(names) if vlen else np.array([n.encode() for n in names])
    with h5py.File(path, "w") as f:
        root = f
        if base != "/":
            f.attrs["model_config"] = b'{"class_name": "Functional"}'
            root = f.create_group(base.strip("/"))
        names = strings(n for n, _ in layers)
        if chunk_names:
            half = len(names) // 2
            root.attrs["layer_names0"] = names[:half]
            root.attrs["layer_names1"] = names[half:]
        else:
            root.attrs["layer_names"] = names
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.2.4"
        for lname, weights in layers:
            g = root.create_group(lname)
            wnames = [f"{lname}/{var}:0" for var, _ in weights]
            # Keras writes np.asarray([]) (float64, empty) for a layer without weights
            g.attrs["weight_names"] = strings(wnames) if wnames else np.asarray([])
            for wn, (_, val) in zip(wnames, weights):
                val = val if isinstance(val, np.ndarray) else as_np(val)
                g.create_dataset(wn, data=val.astype(np.float64) if vlen and val.dtype == np.float32 else val)


def tiny_keras_layers(model):
    layers = [("input_1", []),
              ("normalization", [("mean", np.zeros(2, np.float32)), ("variance", np.ones(2, np.float32)),
                                 ("count", np.array(10, np.int64))])]
    for name, m in model.named_children():
        layers.append((TINY_KERAS_NAMES[name], keras_weights(m)))
    return layers


def unet_keras_layers(model, rng):
    counters = {"conv2d": 0, "batch_normalization": -1, "conv2d_transpose": 0}  # Keras 2 / TF2 numbering styles
    layers = []
    for _, m in model.named_children():
        kind = ("conv2d_transpose" if isinstance(m, nn.ConvTranspose2d) else
                "batch_normalization" if isinstance(m, nn.BatchNorm2d) else "conv2d")
        counters[kind] += 1
        k = counters[kind]
        layers.append((kind if k == 0 else f"{kind}_{k}", keras_weights(m)))
    order = rng.permutation(len(layers))  # file order must not matter, only the numbers
    return [layers[i] for i in order]


def st_bytes(t, dtype):
    t = t.detach().contiguous()
    if dtype == "BF16":
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    np_type = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8"}[dtype]
    return t.numpy().astype(np_type).tobytes()


def write_safetensors(path, tensors, metadata=None):
    """tensors: [(name, torch tensor, dtype)] in file order."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t, dtype in tensors:
        b = st_bytes(t, dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def reference(model, x):
    ref = Tiny() if isinstance(model, Tiny) else UNetBN(in_channels=1, out_channels=1, base=4, depth=2)
    ref.load_state_dict(model.state_dict())
    ref.double().eval()
    with torch.no_grad():
        return ref(x.double()).numpy()


def make(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    tiny = randomize(Tiny()).eval()
    dtypes = {"stem.weight": "F64", "proj.weight": "F16", "head.weight": "BF16",
              "stem_bn.num_batches_tracked": "I64"}
    with torch.no_grad():  # the file's F16 / BF16 values are the model's values
        tiny.proj.weight.copy_(tiny.proj.weight.half().float())
        tiny.head.weight.copy_(tiny.head.weight.bfloat16().float())
        tiny.stem_bn.num_batches_tracked.fill_(7)
    x = torch.randn(2, 2, 8, 8)
    unet = randomize(UNetBN(in_channels=1, out_channels=1, base=4, depth=2)).eval()
    x_unet = torch.randn(1, 1, 16, 16)
    with h5py.File(os.path.join(out, "ref.h5"), "w") as f:
        f["x"] = x.numpy()
        f["y"] = reference(tiny, x)
        f["x_unet"] = x_unet.numpy()
        f["y_unet"] = reference(unet, x_unet)
    write_keras(os.path.join(out, "tiny_keras.h5"), tiny_keras_layers(tiny))
    write_keras(os.path.join(out, "tiny_keras_full.h5"), tiny_keras_layers(tiny), base="/model_weights",
                chunk_names=True, vlen=True)
    write_keras(os.path.join(out, "unet_bn_keras.h5"), unet_keras_layers(unet, np.random.default_rng(3)))
    sd = tiny.state_dict()
    items = [(k, v, dtypes.get(k, "F32")) for k, v in sd.items() if k != "block1_bn.num_batches_tracked"]
    write_safetensors(os.path.join(out, "tiny.safetensors"), items[::-1], {"format": "pt", "source": "fixture"})
    partial = [it for it in items if it[0] != "head.weight"] + [("extra.weight", torch.ones(2, 2), "F32")]
    write_safetensors(os.path.join(out, "tiny_partial.safetensors"), partial)


def check_safetensors(path, ckpt):
    with open(path, "rb") as f:
        data = f.read()
    (hlen,) = struct.unpack("<Q", data[:8])
    assert (8 + hlen) % 8 == 0, f"data section not 8-byte aligned (header length {hlen})"
    header = json.loads(data[8:8 + hlen].decode())
    body = data[8 + hlen:]
    meta = header.pop("__metadata__", None)
    assert meta == {"format": "pt", "note": "round trip"}, f"metadata {meta}"
    with h5py.File(ckpt, "r") as f:
        sd = {k: np.array(v[()]) for k, v in f["state_dict"].items()}
    assert set(header) == set(sd), f"names differ: {sorted(set(header) ^ set(sd))}"
    end = 0
    for name in sorted(header, key=lambda n: header[n]["data_offsets"][0]):
        e = header[name]
        b, en = e["data_offsets"]
        assert b == end, f"{name}: offsets not contiguous ({b} after {end})"
        end = en
        counter = name.endswith("num_batches_tracked")
        assert e["dtype"] == ("I64" if counter else "F32"), f"{name}: dtype {e['dtype']}"
        arr = np.frombuffer(body[b:en], dtype="<i8" if counter else "<f4").reshape(e["shape"])
        want = sd[name]
        assert list(arr.shape) == list(want.shape), f"{name}: shape {arr.shape} vs {want.shape}"
        if counter:
            assert int(arr) == int(want), f"{name}: {int(arr)} vs {int(want)}"
        else:
            assert arr.tobytes() == want.astype("<f4").tobytes(), f"{name}: values differ"
    assert end == len(body), f"{len(body) - end} bytes after the last tensor"
    model = Tiny()
    model.load_state_dict({k: torch.from_numpy(np.frombuffer(
        body[header[k]["data_offsets"][0]:header[k]["data_offsets"][1]],
        dtype="<i8" if k.endswith("num_batches_tracked") else "<f4").reshape(header[k]["shape"]).copy())
        for k in header}, strict=True)
    print("ok")


def main():
    torch.set_num_threads(1)
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "check-safetensors":
        check_safetensors(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
