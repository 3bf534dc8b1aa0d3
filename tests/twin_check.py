#!/usr/bin/env python3
"""tests/twin_check.py: the PyTorch side of tests/net_check.c.

Builds experiments/twins/<twin>.py's model with the graph's params, loads
medtrain's state_dict (strict; float32 or float64 as written), runs it in float64 in training or evaluation
mode on /x of --io, takes loss = sum_i sum(y_i * w_i) with /w0, /w1, ... of
--io, backpropagates, and writes to --out: y0, y1, ... (outputs),
grad/<name> (every parameter's gradient) and, with --train, buffers/<name>
(running statistics after the forward pass).
"""
import argparse
import importlib
import os
import sys

import h5py
import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "experiments"))
from torch_models import parse_params  # noqa: E402  ('a=1,b=x' -> {'a': 1, 'b': 'x'})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--twin", required=True, help="module under experiments/twins")
    ap.add_argument("--params", default="")
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--io", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--train", action="store_true")
    a = ap.parse_args()
    # one thread: on the shared 2-core test machine (medtrain's OpenMP threads and other builders' runs
    # competing) two torch threads made EfficientNet-B3's float64 pass 6x slower (73 s vs 10 s)
    torch.set_num_threads(int(os.environ.get("MT_TWIN_THREADS", "1")))
    mod = importlib.import_module("twins." + a.twin)
    model = mod.build(**parse_params(a.params))
    with h5py.File(a.checkpoint, "r") as f:
        sd = {k: torch.from_numpy(np.array(v[()])) for k, v in f["state_dict"].items()}
    ours, theirs = set(sd), set(model.state_dict())
    if ours != theirs:
        sys.exit("state_dict names differ:\n  only in medtrain: %s\n  only in the twin: %s"
                 % (sorted(ours - theirs)[:20], sorted(theirs - ours)[:20]))
    with h5py.File(a.io, "r") as f:
        x = torch.from_numpy(np.array(f["x"][()], dtype=np.float64))
        ws = []
        while "w%d" % len(ws) in f:
            ws.append(torch.from_numpy(np.array(f["w%d" % len(ws)][()], dtype=np.float64)))
    dtype = torch.float64
    model.to(dtype)  # before loading: medtrain's float64 build writes float64 weights, kept exactly
    model.load_state_dict(sd, strict=True)
    model.train(a.train)
    ys = model(x.to(dtype))
    if isinstance(ys, torch.Tensor):
        ys = (ys,)
    if len(ys) != len(ws):
        sys.exit("the twin returned %d outputs, medtrain %d" % (len(ys), len(ws)))
    loss = sum((y * w).sum() for y, w in zip(ys, ws))
    loss.backward()
    with h5py.File(a.out, "w") as f:
        for i, y in enumerate(ys):
            f["y%d" % i] = y.detach().numpy()
        g = f.create_group("grad")
        for name, p in model.named_parameters():
            if p.grad is not None:
                g[name] = p.grad.numpy()
        if a.train:
            b = f.create_group("buffers")
            for name, t in model.named_buffers():
                b[name] = t.detach().numpy().astype(np.float64)


if __name__ == "__main__":
    main()
