#!/usr/bin/python3
"""S1 peer in PyTorch: the same recipe as a medtrain run, on the same slices and split.

Reads the run's resolved config (RUN/config.yaml written by `medtrain train`) and its
HDF5 dataset (layout docs/dataset.md: /images float32 [N,1,H,W] in HU, /masks uint8
[N,1,H,W], /meta/split), builds the same padded U-Net (experiments/torch_models.py
when present, else the local copy below with identical layer names), initialises it
with the same scheme (He/Kaiming normal std sqrt(2/fan_in) on conv and transposed-conv
weights, zero biases: design/models.md 1.4), and trains with BCEWithLogitsLoss + Adam
for the same epochs / batch size / lr, selecting the epoch with the best validation
DSC (post-processed, as medtrain's checkpoint.monitor val_dsc). Prints test DSC / IoU /
accuracy (mean +- SD over images) before and after the HU-window post-processing.

Differences from medtrain that remain (by construction): torch's RNG (shuffling order,
initial weights, dropout masks) differs from medtrain's Philox streams, so the two runs
are two samples of the same recipe, not bit-identical twins.

usage: /usr/bin/python3 experiments/s1_muscle/peer_pytorch.py RUN_DIR [--json OUT.json]
"""
import argparse
import json
import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml


class UNet(nn.Module):
    """Canonical padded U-Net (design/models.md 1.2/1.3): conv3x3 (pad 1) + ReLU twice per level,
    max-pool 2x2, ConvTranspose 2x2/2 + ReLU, concat [up, skip], dropout 0.5 after enc4b and
    enc5b, 1x1 score conv. Layer names follow medtrain's configs/models/unet.yaml."""

    def __init__(self, base=64, in_channels=1, out_channels=1, depth=4, dropout=0.5):
        super().__init__()
        self.depth = depth
        self.drop = dropout
        ch = [base * 2 ** i for i in range(depth + 1)]
        c = in_channels
        for i, x in enumerate(ch):
            setattr(self, f"enc{i + 1}a", nn.Conv2d(c, x, 3, padding=1))
            setattr(self, f"enc{i + 1}b", nn.Conv2d(x, x, 3, padding=1))
            c = x
        for i in reversed(range(depth)):
            x = ch[i]
            setattr(self, f"up{i + 1}", nn.ConvTranspose2d(c, x, 2, stride=2))
            setattr(self, f"dec{i + 1}a", nn.Conv2d(2 * x, x, 3, padding=1))
            setattr(self, f"dec{i + 1}b", nn.Conv2d(x, x, 3, padding=1))
            c = x
        self.score = nn.Conv2d(c, out_channels, 1)

    def forward(self, x):
        skips = []
        for i in range(self.depth + 1):
            x = F.relu(getattr(self, f"enc{i + 1}a")(x))
            x = F.relu(getattr(self, f"enc{i + 1}b")(x))
            if i >= self.depth - 1:
                x = F.dropout(x, self.drop, self.training)
            if i < self.depth:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        for i in reversed(range(self.depth)):
            x = F.relu(getattr(self, f"up{i + 1}")(x))
            x = torch.cat([x, skips[i]], 1)
            x = F.relu(getattr(self, f"dec{i + 1}a")(x))
            x = F.relu(getattr(self, f"dec{i + 1}b")(x))
        return self.score(x)


def build_model(params):
    base = int(params.get("base", 64))
    cin = int(params.get("in_channels", 1))
    cout = int(params.get("out_channels", 1))
    depth = int(params.get("depth", 4))
    m = UNet(base, cin, cout, depth)
    for mod in m.modules():  # paper init: N(0, 2/fan_in) (Caffe msra), bias 0
        if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(mod.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(mod.bias)
    return m


def normalize(x, cfg):
    d = cfg["data"]
    kind = d.get("normalize", "none")
    if kind == "window":
        lo, hi = d["window"]
        return (x.clamp(lo, hi) - lo) / (hi - lo)
    if kind == "zscore":
        return (x - d.get("mean", 0.0)) / d.get("std", 1.0)
    if kind == "none":
        return x
    raise SystemExit(f"peer_pytorch: data.normalize {kind} not supported here")


def per_image_metrics(prob, target, thr, gate=None, window=None):
    """Per-image DSC, IoU, accuracy with medtrain's conventions (0/0 := 1)."""
    pred = prob > thr
    if gate is not None:
        pred &= (gate >= window[0]) & (gate <= window[1])
    y = target > 0.5
    dims = (1, 2, 3)
    tp = (pred & y).sum(dims).double()
    fp = (pred & ~y).sum(dims).double()
    fn = (~pred & y).sum(dims).double()
    tn = (~pred & ~y).sum(dims).double()

    def ratio(a, b):
        return torch.where(b > 0, a / b.clamp(min=1e-300), torch.ones_like(a))

    return {"dsc": ratio(2 * tp, 2 * tp + fp + fn), "iou": ratio(tp, tp + fp + fn),
            "accuracy": ratio(tp + tn, tp + fp + fn + tn)}


def evaluate(model, images, masks, cfg, bs):
    model.eval()
    thr = cfg["metrics"].get("threshold", 0.5)
    win = cfg.get("postprocess", {}).get("hu_window") or None
    raw, post, losses = [], [], []
    with torch.no_grad():
        for i in range(0, len(images), bs):
            x, y = images[i:i + bs], masks[i:i + bs]
            logits = model(normalize(x, cfg))
            losses.append(F.binary_cross_entropy_with_logits(logits, y).item() * len(x))
            p = torch.sigmoid(logits)
            raw.append(per_image_metrics(p, y, thr))
            post.append(per_image_metrics(p, y, thr, x[:, :1], win) if win else raw[-1])
    cat = lambda lst: {k: torch.cat([d[k] for d in lst]).numpy() for k in lst[0]}
    return cat(raw), cat(post), sum(losses) / len(images)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="medtrain run directory (its config.yaml is used)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    cfg = yaml.safe_load(open(os.path.join(args.run, "config.yaml")))
    torch.set_num_threads(args.threads)
    seed = int(cfg["train"].get("seed", 0))
    torch.manual_seed(seed)
    np.random.seed(seed)

    with h5py.File(cfg["data"]["dataset"], "r") as f:
        images = torch.from_numpy(f["images"][...].astype(np.float32))
        masks = torch.from_numpy((f["masks"][...] > 0).astype(np.float32))
        split = np.array([s.decode() if isinstance(s, bytes) else str(s) for s in f["meta/split"][...]])
    d = cfg["data"]
    idx = {k: np.nonzero(split == d[k + "_split"])[0] for k in ("train", "val", "test")}
    print(f"peer_pytorch: {len(idx['train'])} train / {len(idx['val'])} val / {len(idx['test'])} test slices, "
          f"image {tuple(images.shape[1:])}")
    if d.get("augment", {}).get("enabled", False):
        print("peer_pytorch: note: augmentation is ON in the config but not applied here (run with it off)")

    model = build_model(cfg["model"].get("params", {}))
    nparams = sum(p.numel() for p in model.parameters())
    o = cfg["optimizer"]
    if o.get("kind", "adam") != "adam":
        raise SystemExit("peer_pytorch: only optimizer.kind adam is mirrored")
    eps = o.get("eps", 0) or 1e-8
    opt = torch.optim.Adam(model.parameters(), lr=o["lr"], betas=tuple(o.get("betas", (0.9, 0.999))), eps=eps,
                           weight_decay=o.get("weight_decay", 0))
    t = cfg["train"]
    bs, epochs = int(t["batch_size"]), int(t["epochs"])
    tr_x, tr_y = images[idx["train"]], masks[idx["train"]]
    best, best_state, best_epoch = -1.0, None, 0
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(tr_x)) if d.get("shuffle", True) else torch.arange(len(tr_x))
        tot = 0.0
        for i in range(0, len(perm), bs):
            b = perm[i:i + bs]
            logits = model(normalize(tr_x[b], cfg))
            loss = F.binary_cross_entropy_with_logits(logits, tr_y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * len(b)
        _, vpost, vloss = evaluate(model, images[idx["val"]], masks[idx["val"]], cfg, bs)
        vdsc = float(vpost["dsc"].mean())
        if vdsc > best:
            best, best_epoch = vdsc, epoch + 1
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        print(f"epoch {epoch + 1}/{epochs}: train loss {tot / len(tr_x):.5f}, val loss {vloss:.5f}, "
              f"val DSC {vdsc:.4f}", flush=True)
    model.load_state_dict(best_state)
    raw, post, tloss = evaluate(model, images[idx["test"]], masks[idx["test"]], cfg, bs)
    sd = lambda a: float(np.std(a, ddof=1)) if len(a) > 1 else 0.0
    res = {"params": nparams, "best_epoch": best_epoch, "best_val_dsc": best, "train_seconds": time.time() - t0,
           "test_loss": tloss, "n_test": int(len(idx["test"]))}
    for name, m in (("raw", raw), ("post", post)):
        res[name] = {k: {"mean": float(v.mean()), "sd": sd(v)} for k, v in m.items()}
    print(f"peer_pytorch: {nparams} parameters, best epoch {best_epoch}")
    for name in ("raw", "post"):
        r = res[name]
        print(f"peer_pytorch test ({name:4s}): DSC {r['dsc']['mean']:.4f} +- {r['dsc']['sd']:.4f}  "
              f"IoU {r['iou']['mean']:.4f} +- {r['iou']['sd']:.4f}  "
              f"accuracy {r['accuracy']['mean']:.4f} +- {r['accuracy']['sd']:.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
