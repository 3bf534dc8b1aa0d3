#!/usr/bin/env python3
"""experiments/bench/bench_nets.py: the PyTorch side of bench_nets.sh: forward +
backward of a twin (experiments/twins/<module>.py) in float32 on the CPU with
the same steps as bench_nets.c (training mode unless --eval; loss = sum of
every output's sum). Prints ms_per_step (median) and params."""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torch_models import parse_params  # noqa: E402
import importlib  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("twin")
    ap.add_argument("--params", default="")
    ap.add_argument("--size", required=True)
    ap.add_argument("--channels", type=int, required=True)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = importlib.import_module("twins." + a.twin).build(**parse_params(a.params))
    model.train(not a.eval)
    h, w = map(int, a.size.split(","))
    x = torch.rand(a.batch, a.channels, h, w)
    times = []
    for k in range(-a.warmup, a.reps):
        t0 = time.perf_counter()
        ys = model(x)
        ys = (ys,) if isinstance(ys, torch.Tensor) else ys
        sum(y.sum() for y in ys).backward()
        model.zero_grad(set_to_none=False)
        if k >= 0:
            times.append(time.perf_counter() - t0)
    times.sort()
    print("ms_per_step: %.2f" % (1e3 * times[len(times) // 2]))
    print("params: %d" % sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    main()
