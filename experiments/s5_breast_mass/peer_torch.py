#!/usr/bin/python3
"""experiments/s5_breast_mass/peer_torch.py: the PyTorch peer of experiments/s5_breast_mass/run.sh.

Trains S5's DeconvNet or valid U-Net (../../../shared/design/papers.md S5) with the recipe of
configs/s5_deconvnet.yaml / configs/s5_unet.yaml (plus run.sh's --set overrides, applied the
same way), on the same HDF5 crop dataset and split, and prints one JSON object: the per-image
test metrics in the paper's form (mean, min, max of sensitivity, specificity, accuracy, DSC)
and the per-image values and areas.

  peer_torch.py --net deconvnet --config configs/s5_deconvnet.yaml --set data.dataset=D.h5 ... --seed S

Recipe as medtrain's trainer runs it: train.steps optimizer steps of train.batch_size crops
drawn epoch by epoch from a seeded permutation of the train split (the last batch of an epoch
may be short), softmax cross-entropy over 2 logits (class 1 where the mass mask is set), SGD
(momentum) or Adam as optimizer.kind says, no augmentation, the last weights evaluated. Twins:
experiments/twins/deconvnet.py (PyTorch default initialisation) and experiments/twins/unet.py
(He-normal weights, zero biases, as configs/models/unet.yaml's init kaiming_normal); weights and
batch order from torch.manual_seed(seed): the same distributions as medtrain, not the same draws.
Metrics per image as core/metrics.h (argmax, zero-denominator metrics are NaN and skipped)."""
import argparse
import json
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [os.path.join(ROOT, "experiments")]

from peer_common import graph_params, load_cfg  # noqa: E402
from twins import deconvnet, unet  # noqa: E402


def build(net, params):
    if net == "deconvnet":
        keep = ("in_channels", "classes", "fc_kernel", "fc_channels", "width")
        return deconvnet.build(**{k: params[k] for k in keep if k in params})
    keep = ("in_channels", "out_channels", "base", "depth", "padding", "dropout", "tile")
    m = unet.build(**{k: params[k] for k in keep if k in params})
    if params.get("init", "kaiming_normal") == "kaiming_normal":  # the paper's He/MSRA init, bias 0
        for mod in m.net.modules():
            if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(mod.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(mod.bias)
    return m


def per_image(pred, gold):
    """pred, gold: bool [N, H, W] -> dict of per-image metric lists (NaN where undefined)."""
    out = {k: [] for k in ("sensitivity", "specificity", "accuracy", "dsc", "gold_area_px", "pred_area_px")}
    div = lambda a, b: a / b if b > 0 else float("nan")
    for p, g in zip(pred, gold):
        tp = float(np.sum(p & g)); fp = float(np.sum(p & ~g)); fn = float(np.sum(~p & g)); tn = float(np.sum(~p & ~g))
        out["sensitivity"].append(div(tp, tp + fn))
        out["specificity"].append(div(tn, tn + fp))
        out["accuracy"].append(div(tp + tn, tp + tn + fp + fn))
        out["dsc"].append(div(2 * tp, 2 * tp + fp + fn))
        out["gold_area_px"].append(tp + fn)
        out["pred_area_px"].append(tp + fp)
    return out


def summary(values):
    v = np.array(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())} if len(v) else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", choices=("deconvnet", "unet"), required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = load_cfg(a.config, a.set)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    with h5py.File(cfg["data"]["dataset"], "r") as f:
        images = torch.from_numpy(np.array(f["images"][()], dtype=np.float32))
        masks = torch.from_numpy(np.array(f["masks"][()], dtype=np.float32))
        split = np.array([s.decode() for s in f["meta/split"][()]])
    size = cfg["data"].get("input_size") or list(images.shape[2:])
    if list(images.shape[2:]) != list(size):
        raise SystemExit("peer: the crops are %s, data.input_size %s: make the crops at the input size"
                         % (list(images.shape[2:]), size))
    train = np.nonzero(split == "train")[0]
    test = np.nonzero(split == "test")[0]
    model = build(a.net, graph_params(cfg["model"]))
    o = cfg["optimizer"]
    if o["kind"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=o["lr"], momentum=o.get("momentum", 0),
                              weight_decay=o.get("weight_decay", 0))
    elif o["kind"] == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=o["lr"], betas=tuple(o.get("betas", (0.9, 0.999))),
                               weight_decay=o.get("weight_decay", 0))
    else:
        raise SystemExit("peer: optimizer.kind %s is not used by S5" % o["kind"])
    steps, bs = int(cfg["train"]["steps"]), int(cfg["train"]["batch_size"])
    step, losses = 0, []
    model.train()
    while step < steps:
        perm = train[torch.randperm(len(train)).numpy()]
        for b0 in range(0, len(perm), bs):
            if step == steps:
                break
            idx = perm[b0:b0 + bs]
            x, t = images[idx], (masks[idx, 0] > 0.5).long()
            loss = F.cross_entropy(model(x), t)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
            step += 1
    model.eval()
    preds = []
    with torch.no_grad():
        for b0 in range(0, len(test), bs):
            preds.append(model(images[test[b0:b0 + bs]]).argmax(1).numpy() == 1)
    m = per_image(np.concatenate(preds), masks[test, 0].numpy() > 0.5)
    res = {"net": a.net, "seed": a.seed, "steps": steps, "batch_size": bs, "optimizer": o["kind"],
           "n_test": int(len(test)), "final_train_loss": float(np.mean(losses[-10:])),
           "summary": {k: summary(m[k]) for k in ("sensitivity", "specificity", "accuracy", "dsc")},
           "per_image": m}
    print(json.dumps(res))


if __name__ == "__main__":
    main()
