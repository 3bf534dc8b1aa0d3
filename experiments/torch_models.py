#!/usr/bin/python3
"""PyTorch twins of medtrain's model graphs, with IDENTICAL state_dict names
and layouts (layers/model.h: "<layer name>.weight", conv [out, in, kh, kw],
ConvTranspose [in, out, kh, kw], BN weight/bias/running_mean/running_var/
num_batches_tracked), written by hand from shared/design/models.md §1 (not
generated from the YAML, so the cross-check in tests/test_checkpoint.c
compares two independent implementations).

  UNet   -- configs/models/unet.yaml    (paper U-Net, padding same|valid)
  UNetBN -- configs/models/unet_bn.yaml (milesial layout: conv-BN-ReLU x2)

Used by tests/test_checkpoint.c (forward on a medtrain checkpoint) and by the
S1 PyTorch peer script (experiments/s1_muscle/peer_pytorch.py).

Command line (the checkpoint cross-check):
  torch_models.py forward --model unet --params base=4,depth=2 \
      --checkpoint ck.h5 --input x.h5 --output y.h5 [--train]
reads /x from x.h5, loads ck.h5's /state_dict with load_state_dict(strict=True),
runs the forward pass in eval mode (or train mode) and writes /y (float64),
and, after a train-mode pass, the updated BN buffers under /state_dict/.
  torch_models.py batch JOBS.txt
runs one `forward` per line of JOBS.txt (its arguments after "forward"), so
several checks pay for one `import torch`.
"""
import argparse
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def center_crop(x, h, w):
    """Centre crop of H, W (top = (H - h) // 2), as layers/crop.c."""
    top = (x.shape[2] - h) // 2
    left = (x.shape[3] - w) // 2
    return x[:, :, top:top + h, left:left + w]


class UNet(nn.Module):
    """Ronneberger et al. 2015 (models.md §1.2/1.3): 3x3 convs + ReLU, 2x2/2 max
    pool, ConvTranspose 2x2/2 + ReLU, concat [up, skip] (skip centre-cropped when
    padding='valid'), dropout after the last two encoder levels, 1x1 score."""

    def __init__(self, in_channels=1, out_channels=1, base=64, depth=4, padding="same", dropout=0.5):
        super().__init__()
        assert padding in ("same", "valid")
        self.depth = depth
        self.dropout = dropout
        p = 1 if padding == "same" else 0
        for i in range(1, depth + 2):
            c_in = in_channels if i == 1 else base * 2 ** (i - 2)
            c = base * 2 ** (i - 1)
            setattr(self, f"enc{i}a", nn.Conv2d(c_in, c, 3, padding=p))
            setattr(self, f"enc{i}b", nn.Conv2d(c, c, 3, padding=p))
        for i in range(depth, 0, -1):
            c = base * 2 ** (i - 1)
            setattr(self, f"up{i}", nn.ConvTranspose2d(2 * c, c, 2, stride=2))
            setattr(self, f"dec{i}a", nn.Conv2d(2 * c, c, 3, padding=p))
            setattr(self, f"dec{i}b", nn.Conv2d(c, c, 3, padding=p))
        self.score = nn.Conv2d(base, out_channels, 1)

    def forward(self, x):
        skips = {}
        for i in range(1, self.depth + 2):
            x = F.relu(getattr(self, f"enc{i}a")(x))
            x = F.relu(getattr(self, f"enc{i}b")(x))
            if i >= self.depth:  # end of the contracting path
                x = F.dropout(x, self.dropout, self.training)
            if i <= self.depth:
                skips[i] = x
                x = F.max_pool2d(x, 2)
        for i in range(self.depth, 0, -1):
            x = F.relu(getattr(self, f"up{i}")(x))
            s = center_crop(skips[i], x.shape[2], x.shape[3])
            x = torch.cat([x, s], dim=1)
            x = F.relu(getattr(self, f"dec{i}a")(x))
            x = F.relu(getattr(self, f"dec{i}b")(x))
        return self.score(x)


class UNetBN(nn.Module):
    """milesial/Pytorch-UNet layout (models.md §1.3): (conv3x3 no bias, BN,
    ReLU) x 2 per level, ConvTranspose 2x2/2 with bias and no activation,
    concat [skip, up], 1x1 score with bias."""

    def __init__(self, in_channels=1, out_channels=1, base=64, depth=4, momentum=0.1):
        super().__init__()
        self.depth = depth
        for i in range(1, depth + 2):
            c_in = in_channels if i == 1 else base * 2 ** (i - 2)
            c = base * 2 ** (i - 1)
            setattr(self, f"enc{i}a", nn.Conv2d(c_in, c, 3, padding=1, bias=False))
            setattr(self, f"enc{i}a_bn", nn.BatchNorm2d(c, momentum=momentum))
            setattr(self, f"enc{i}b", nn.Conv2d(c, c, 3, padding=1, bias=False))
            setattr(self, f"enc{i}b_bn", nn.BatchNorm2d(c, momentum=momentum))
        for i in range(depth, 0, -1):
            c = base * 2 ** (i - 1)
            setattr(self, f"up{i}", nn.ConvTranspose2d(2 * c, c, 2, stride=2))
            setattr(self, f"dec{i}a", nn.Conv2d(2 * c, c, 3, padding=1, bias=False))
            setattr(self, f"dec{i}a_bn", nn.BatchNorm2d(c, momentum=momentum))
            setattr(self, f"dec{i}b", nn.Conv2d(c, c, 3, padding=1, bias=False))
            setattr(self, f"dec{i}b_bn", nn.BatchNorm2d(c, momentum=momentum))
        self.score = nn.Conv2d(base, out_channels, 1)

    def block(self, x, prefix):
        x = F.relu(getattr(self, prefix + "a_bn")(getattr(self, prefix + "a")(x)))
        return F.relu(getattr(self, prefix + "b_bn")(getattr(self, prefix + "b")(x)))

    def forward(self, x):
        skips = {}
        for i in range(1, self.depth + 2):
            if i > 1:
                x = F.max_pool2d(x, 2)
            x = self.block(x, f"enc{i}")
            skips[i] = x
        for i in range(self.depth, 0, -1):
            up = getattr(self, f"up{i}")(x)
            x = self.block(torch.cat([skips[i], up], dim=1), f"dec{i}")
        return self.score(x)


MODELS = {"unet": UNet, "unet_bn": UNetBN}


def init_like_medtrain(model, scheme="kaiming_normal"):
    """Applies a medtrain `init:` scheme (layers/layer.h) to every Conv2d /
    ConvTranspose2d / Linear: 'pytorch' keeps torch's defaults; 'kaiming_normal'
    (unet.yaml's default, the paper's He std sqrt(2/fan_in)) and
    'kaiming_uniform' use nonlinearity relu, fan_in (torch computes a
    ConvTranspose fan_in from weight dim 1, as medtrain does); 'xavier_uniform' /
    'xavier_normal' gain 1. Biases are set to 0 for every non-pytorch scheme.
    Values differ from medtrain's (different random generator); distributions match."""
    if scheme == "pytorch":
        return model
    fns = {
        "kaiming_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
        "kaiming_uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
        "xavier_uniform": nn.init.xavier_uniform_,
        "xavier_normal": nn.init.xavier_normal_,
    }
    if scheme not in fns:
        raise ValueError(f"init scheme '{scheme}' not supported here; use one of {sorted(fns)} or pytorch")
    for mod in model.modules():
        if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            fns[scheme](mod.weight)
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
    return model


def parse_params(text):
    """'base=4,depth=2,padding=valid' -> dict with ints/floats converted."""
    out = {}
    for item in filter(None, (text or "").split(",")):
        k, v = item.split("=", 1)
        for conv in (int, float):
            try:
                v = conv(v)
                break
            except ValueError:
                pass
        out[k.strip()] = v
    return out


def build(name, params):
    if name not in MODELS:
        sys.exit(f"unknown model '{name}'; known: {', '.join(MODELS)}")
    return MODELS[name](**params)


def load_checkpoint(model, path):
    """Loads a medtrain HDF5 checkpoint's /state_dict into `model` (strict)."""
    with h5py.File(path, "r") as f:
        sd = {k: torch.from_numpy(np.array(v[()])) for k, v in f["state_dict"].items()}
    model.load_state_dict(sd, strict=True)
    return model


def run_forward(a):
    model = build(a.model, parse_params(a.params))
    load_checkpoint(model, a.checkpoint)
    model.double()  # float64 reference; the checkpoint's float32 values are exact in float64
    model.train(a.train)
    with h5py.File(a.input, "r") as f:
        x = torch.from_numpy(np.array(f["x"][()], dtype=np.float64))
    with torch.no_grad():
        y = model(x)
    with h5py.File(a.output, "w") as f:
        f["y"] = y.numpy()
        if a.train:
            g = f.create_group("state_dict")
            for k, v in model.state_dict().items():
                g[k] = v.numpy().astype(np.float64)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    bt = sub.add_parser("batch", help="run one forward per line of a file")
    bt.add_argument("jobs")
    fw = sub.add_parser("forward", help="forward pass of a checkpoint on an input")
    fw.add_argument("--model", required=True, choices=sorted(MODELS))
    fw.add_argument("--params", default="", help="comma separated name=value, as model.params")
    fw.add_argument("--checkpoint", required=True)
    fw.add_argument("--input", required=True, help="HDF5 file with dataset /x [N, C, H, W]")
    fw.add_argument("--output", required=True, help="HDF5 file to write /y into")
    fw.add_argument("--train", action="store_true", help="train-mode forward (BN batch statistics)")
    cnt = sub.add_parser("count", help="print the number of trainable parameters")
    cnt.add_argument("--model", required=True, choices=sorted(MODELS))
    cnt.add_argument("--params", default="")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.cmd == "count":
        print(sum(p.numel() for p in build(a.model, parse_params(a.params)).parameters()))
    elif a.cmd == "forward":
        run_forward(a)
    else:
        with open(a.jobs) as f:
            for line in f:
                if line.strip():
                    run_forward(ap.parse_args(["forward"] + line.split()))


if __name__ == "__main__":
    main()
