#!/usr/bin/python3
"""experiments/peer_common.py: what the PyTorch peers of the study experiments share
(experiments/s2_ct_recon, s4_nasal, ...): the experiment YAML with --set overrides, a medtrain
HDF5 dataset in memory, data/augment.h's transforms with torch's random numbers (the same
distributions, not the same draws), train/session.c's input normalisation and resizing, the
torch.optim optimizer a config names, and the model graph's params.
"""
import math
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bspline_matrix(n, g):
    """[n, g] weights of mt_aug_elastic_at (data/augment.h) along one axis: pixel i sits at grid
    coordinate u = i (g - 1) / (n - 1); the 4 cubic B-spline taps at floor(u) - 1 .. floor(u) + 2,
    clamped to the grid."""
    m = torch.zeros((n, g), dtype=torch.float64)
    for i in range(n):
        u = i * (g - 1) / (n - 1) if n > 1 else 0.0
        f = math.floor(u)
        t = u - f
        wts = [(1 - t) ** 3 / 6, (3 * t ** 3 - 6 * t ** 2 + 4) / 6, (-3 * t ** 3 + 3 * t ** 2 + 3 * t + 1) / 6, t ** 3 / 6]
        for k in range(4):
            m[i, min(max(f - 1 + k, 0), g - 1)] += wts[k]
    return m


def load_cfg(path, overrides=()):
    with open(path) as f:
        cfg = yaml.safe_load(f)
    for o in overrides:  # "a.b=value", as medtrain's --set
        key, val = o.split("=", 1)
        node = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = yaml.safe_load(val)
    return cfg


class Dataset:
    """A medtrain dataset in memory: images [N, C, H, W] float32, labels, masks, boxes, splits."""

    def __init__(self, path, labels_keep=None):
        with h5py.File(path, "r") as f:
            self.images = np.array(f["images"][()], dtype=np.float32)
            self.labels = np.array(f["labels"][()]) if "labels" in f else None
            self.masks = np.array(f["masks"][()], dtype=np.float32) if "masks" in f else None
            self.boxes = np.array(f["boxes"][()], dtype=np.float32) if "boxes" in f else np.zeros((0, 6), np.float32)
            self.split = np.array([s.decode() if isinstance(s, bytes) else str(s) for s in f["meta/split"][()]])
        self.keep = labels_keep

    def indices(self, split):
        idx = np.nonzero(self.split == split)[0]
        if self.keep:
            idx = np.array([i for i in idx if int(self.labels[i]) in self.keep], dtype=np.int64)
        return idx

    def boxes_of(self, i):
        return self.boxes[self.boxes[:, 0] == i, 1:]  # x0, y0, x1, y1, class


def augment(x, boxes, a, gen):
    """One sample x [C, H, W] in [0, 1] (window [0, 1]) and its boxes [n, 5] under data/augment.h's
    transform with parameters a (the config's data.augment); returns the new x and boxes."""
    c, h, w = x.shape
    if not a or not a.get("enabled", False):
        return x, boxes
    u = lambda lo, hi: lo + (hi - lo) * torch.rand((), generator=gen).item()
    ang = math.radians(u(-1, 1) * float(a.get("rotation_deg", 0)))
    t = float(a.get("translate_frac", 0))
    tx, ty = u(-t, t) * w, u(-t, t) * h
    z0, z1 = (float(v) for v in a.get("zoom", [1, 1]))
    zoom = u(z0, z1)
    fx = -1.0 if u(0, 1) < float(a.get("flip_h", 0)) else 1.0
    fy = -1.0 if u(0, 1) < float(a.get("flip_v", 0)) else 1.0
    cx, cy = 0.5 * (w - 1), 0.5 * (h - 1)
    cs, sn = math.cos(ang), math.sin(ang)
    m = np.array([[cs * zoom * fx, sn * zoom * fy], [-sn * zoom * fx, cs * zoom * fy]])  # input -> output
    off = np.array([cx + tx, cy + ty]) - m @ np.array([cx, cy])
    mi = np.linalg.inv(m)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    alpha = float(a.get("elastic_alpha", 0))
    if alpha > 0:  # output pixel p reads inv(p + elastic(p)), the field a cubic B-spline of a g x g grid
        g = int(a.get("elastic_grid", 5))
        e = (2 * torch.rand((2, g, g), generator=gen, dtype=torch.float64) - 1) * alpha
        wy, wx = bspline_matrix(h, g), bspline_matrix(w, g)
        xx = xx + wy @ e[0] @ wx.T
        yy = yy + wy @ e[1] @ wx.T
    sx = mi[0, 0] * (xx - off[0]) + mi[0, 1] * (yy - off[1])
    sy = mi[1, 0] * (xx - off[0]) + mi[1, 1] * (yy - off[1])
    grid = torch.stack([2 * sx / (w - 1) - 1, 2 * sy / (h - 1) - 1], -1)[None].float()
    x = F.grid_sample(x[None], grid, mode="bilinear", padding_mode="zeros", align_corners=True)[0]
    if len(boxes):
        out = []
        for b in boxes:
            pts = np.array([[b[0], b[1]], [b[2], b[1]], [b[0], b[3]], [b[2], b[3]]]) @ m.T + off
            x0, y0 = np.clip(pts.min(0), 0, [w - 1, h - 1])
            x1, y1 = np.clip(pts.max(0), 0, [w - 1, h - 1])
            if x1 > x0 and y1 > y0:
                out.append([x0, y0, x1, y1, b[4]])
        boxes = np.array(out, np.float32).reshape(-1, 5)
    br = float(a.get("brightness", 0))
    if br:
        x = x + u(-br, br)
    ct = float(a.get("contrast", 0))
    if ct:
        x = (x - 0.5) * u(1 - ct, 1 + ct) + 0.5
    ns = float(a.get("noise_std", 0))
    if ns:
        x = x + ns * torch.randn(x.shape, generator=gen)
    sp = float(a.get("salt_pepper", 0))
    if sp:
        r = torch.rand(x.shape[1:], generator=gen)
        x = torch.where((r < sp / 2)[None], torch.ones_like(x), x)
        x = torch.where(((r >= sp / 2) & (r < sp))[None], torch.zeros_like(x), x)
    return x, boxes


def normalize(cfg, x):
    """train/session.c mt_session_normalize for the S4 configs: window [lo, hi] -> [0, 1],
    x output_scale, grey -> 3 channels when data.channels is 3."""
    d = cfg["data"]
    if d.get("normalize", "none") == "window":
        lo, hi = (float(v) for v in d["window"])
        x = (x.clamp(lo, hi) - lo) / (hi - lo)
    x = x * float(d.get("output_scale", 1))
    if int(d.get("channels", 0) or 0) == 3 and x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return x


def fit(cfg, x, rows):
    """train/session.c mt_session_fit_batch: data.input_size resizes the batch (bilinear,
    align_corners False) and moves the boxes by pixel centres, x' = (x + 0.5) s - 0.5."""
    size = [int(v) for v in cfg["data"].get("input_size", [0, 0])]
    if not any(size) or list(x.shape[2:]) == size:
        return x, rows
    sy, sx = size[0] / x.shape[2], size[1] / x.shape[3]
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    rows = rows.copy()
    rows[:, [1, 3]] = (rows[:, [1, 3]] + 0.5) * sx - 0.5
    rows[:, [2, 4]] = (rows[:, [2, 4]] + 0.5) * sy - 0.5
    return x, rows


def batches(idx, bs, gen, shuffle=True):
    order = idx[torch.randperm(len(idx), generator=gen).numpy()] if shuffle else idx
    return [order[i:i + bs] for i in range(0, len(order), bs)]


def make_optimizer(params, o, lr=None):
    kind, lr = o.get("kind", "adam"), float(lr if lr is not None else o["lr"])
    if kind == "adam":
        betas = tuple(float(b) for b in o.get("betas", [0.9, 0.999]))
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=float(o.get("eps", 0)) or 1e-8)
    if kind == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, rho=float(o.get("rho", 0.9)), eps=float(o.get("eps", 0)) or 1e-6)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=float(o.get("momentum", 0)))
    sys.exit("peer_torch.py: optimizer %s not supported" % kind)


def graph_params(section):
    """The model graph's params (following its `base:` chain) overridden by the section's
    `params` (a config's `model`, `task.classifier`, ...); graph paths relative to configs/."""
    graph = section["graph"]
    path = graph if os.path.isabs(graph) or os.path.exists(graph) else os.path.join(ROOT, "configs", graph)
    chain = []
    while path:
        with open(path) as f:
            y = yaml.safe_load(f)
        chain.append(y.get("params") or {})
        path = os.path.join(os.path.dirname(path), y["base"]) if "base" in y else None
    p = {}
    for c in reversed(chain):
        p.update(c)
    p.update(section.get("params") or {})
    return p


def auc_of(y, p):
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y, p)) if len(set(y.tolist())) == 2 else float("nan")


