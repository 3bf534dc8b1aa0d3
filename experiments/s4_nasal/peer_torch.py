#!/usr/bin/python3
"""experiments/s4_nasal/peer_torch.py: the PyTorch peer of experiments/s4_nasal/run.sh.

Trains the S4 models (../../../shared/design/papers.md S4) with the same recipe as the
medtrain configs (configs/s4_*.yaml), on the same HDF5 datasets and splits, and prints one
JSON object of test figures:

  peer_torch.py detector   --data films.h5 --config configs/s4_detector.yaml [--epochs E] --seed S
      YOLOv5s (experiments/twins/yolov5s.py), YOLOv5's ComputeLoss and val.py's NMS / mAP
      (tests/fixtures/gen_detect.py, tests/task_steps.py, the numerics medtrain's tests use):
      {"map50", "map50_95", "mean_iou"} on the test split, best epoch by val mAP@0.5.
  peer_torch.py classifier --data bench.h5 --config configs/s4_classifier.yaml ... --seed S
      EfficientNet-B3 (experiments/twins/efficientnet_b3.py, Keras initialisers), one logit,
      BCE, Adadelta: {"accuracy", "auc"} on the test split, best epoch by val loss.
  peer_torch.py gdc        --data bench.h5 --gd configs/s4_gd.yaml --step1 configs/s4_gdc1.yaml
                           --step2 configs/s4_gdc2.yaml --classifier C.pt ... --seed S
      Skip-GANomaly G-D (adversarial), then G-D-C step 1 (C's CAM) and step 2 (|G1(X) - X| >
      0.06) on fracture crops, and the localization scores of step 1, step 2, C's CAM and a
      random map (pointing game, IoU at the best val threshold), as train/task_gdc.c defines
      them.

Augmentation follows data/augment.h (a similarity transform about the image centre, flips,
zeros outside; brightness, contrast about the window centre, salt-and-pepper) with torch's own
random numbers: the same distributions, not the same draws. Initial weights: the twins'
(PyTorch defaults + YOLOv5's bias priors; N(0, 0.02) for Skip-GANomaly; Keras's EfficientNet
initialisers here), drawn from torch.manual_seed(seed).
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [os.path.join(ROOT, "experiments"), os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "fixtures")]

from peer_common import (Dataset, augment, auc_of, batches, fit, graph_params, load_cfg,  # noqa: E402
                         make_optimizer, normalize)
from twins import efficientnet_b3, skip_ganomaly, yolov5s  # noqa: E402

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))


# -------------------------------------------------------------- detector ---

def run_detector(args):
    from gen_detect import ap_per_class, detect, match
    from task_steps import yolo_loss, yolo_targets
    cfg = load_cfg(args.config, args.set)
    ds = Dataset(args.data)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    net = yolov5s.build(**graph_params(cfg["model"]))
    opt = make_optimizer(net.parameters(), cfg["optimizer"])
    t = cfg.get("task", {})
    bs, epochs = int(cfg["train"]["batch_size"]), int(args.epochs or cfg["train"]["epochs"])
    tr, va, te = ds.indices("train"), ds.indices("val"), ds.indices("test")

    def batch(ids, aug):
        xs, rows = [], []
        for r, i in enumerate(ids):
            x, b = augment(torch.from_numpy(ds.images[i]), ds.boxes_of(i), cfg["data"].get("augment") if aug else None,
                           gen)
            xs.append(x)
            rows += [[r] + list(q) for q in b]
        return fit(cfg, normalize(cfg, torch.stack(xs)), np.array(rows, np.float32).reshape(-1, 6))

    def evaluate(ids):
        net.eval()
        stats, ious = [], []
        iouv = torch.linspace(0.5, 0.95, 10)
        with torch.no_grad():
            for b0 in range(0, len(ids), bs):
                sub = ids[b0:b0 + bs]
                x, boxes = batch(sub, False)
                det = detect(net(x), 1, float(t.get("conf_threshold", 0.001)), float(t.get("nms_iou", 0.6)))
                for r in range(len(sub)):
                    d = det[det[:, 0] == r][:, 1:].astype(np.float32)
                    lab = boxes[boxes[:, 0] == r]
                    lab = np.concatenate([lab[:, 5:6], lab[:, 1:5]], 1)
                    stats.append((match(d, lab, iouv), d[:, 4], d[:, 5], lab[:, 0]))
                    if len(lab):
                        top = d[np.argmax(d[:, 4])] if len(d) else None
                        ious.append(0.0 if top is None else max(box_iou(top[:4], q[1:]) for q in lab))
        tp, conf, pcls, tcls = (np.concatenate([s[k] for s in stats], 0) for k in range(4))
        if not len(tp):
            return 0.0, 0.0, float(np.mean(ious)) if ious else 0.0
        _, _, ap, _ = ap_per_class(tp, conf, pcls, tcls)
        return float(ap[:, 0].mean()), float(ap.mean()), float(np.mean(ious))

    best, state = -1.0, None
    for epoch in range(epochs):
        net.train()
        for ids in batches(tr, bs, gen):
            x, boxes = batch(ids, True)
            h, w = x.shape[2:]
            preds = net(x)
            nl, nc = len(preds), preds[0].shape[-1] - 5
            hyp = {"box": float(t.get("box_gain", 0.05)) * 3 / nl, "cls": float(t.get("cls_gain", 0.5)) * nc / 80 * 3 / nl,
                   "obj": float(t.get("obj_gain", 1.0)) * (h / 640) ** 2 * 3 / nl, "anchor_t": float(t.get("anchor_t", 4))}
            loss, _ = yolo_loss(preds, yolo_targets(boxes, h, w), nc, hyp, torch.float32)
            opt.zero_grad()
            loss.backward()
            opt.step()
        m50, _, _ = evaluate(va)
        if m50 > best:
            best, state = m50, {k: v.clone() for k, v in net.state_dict().items()}
        print("peer detector epoch %d/%d: val map50 %.4f" % (epoch + 1, epochs, m50), file=sys.stderr)
    net.load_state_dict(state)
    m50, m, miou = evaluate(te)
    return {"map50": m50, "map50_95": m, "mean_iou": miou, "n_test": int(len(te)), "epochs": epochs}


def box_iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter + 1e-9)


# ------------------------------------------------------------ classifier ---

def keras_effnet_init(net):
    """Keras EfficientNet: conv kernels VarianceScaling(2.0, fan_out, truncated normal), the dense
    head VarianceScaling(1/3, fan_out, uniform), biases 0 (configs/models/efficientnet_b3.yaml)."""
    for mod in net.modules():
        if isinstance(mod, nn.Conv2d):
            fan_out = mod.out_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            std = math.sqrt(2.0 / fan_out) / 0.87962566103423978
            nn.init.trunc_normal_(mod.weight, 0.0, std, -2 * std, 2 * std)
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
        elif isinstance(mod, nn.Linear):
            lim = math.sqrt(3.0 * (1.0 / 3.0) / mod.out_features)
            nn.init.uniform_(mod.weight, -lim, lim)
            nn.init.zeros_(mod.bias)
    return net


def train_classifier(cfg, ds, seed, epochs):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = keras_effnet_init(efficientnet_b3.build(**graph_params(cfg["model"])))
    opt = make_optimizer(net.parameters(), cfg["optimizer"])
    bs = int(cfg["train"]["batch_size"])
    tr, va = ds.indices("train"), ds.indices("val")

    def batch(ids, aug):
        xs = [augment(torch.from_numpy(ds.images[i]), [], cfg["data"].get("augment") if aug else None, gen)[0]
              for i in ids]
        return normalize(cfg, torch.stack(xs)), torch.from_numpy(ds.labels[ids].astype(np.float32)).view(-1, 1)

    def predict(ids):
        net.eval()
        out = []
        with torch.no_grad():
            for b0 in range(0, len(ids), bs):
                x, _ = batch(ids[b0:b0 + bs], False)
                out.append(net(x).view(-1))
        return torch.cat(out)

    best, state = float("inf"), None
    for epoch in range(epochs):
        net.train()
        for ids in batches(tr, bs, gen):
            x, y = batch(ids, True)
            loss = F.binary_cross_entropy_with_logits(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        logits = predict(va)
        vl = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(ds.labels[va].astype(np.float32))).item()
        if vl < best:
            best, state = vl, {k: v.clone() for k, v in net.state_dict().items()}
        print("peer classifier epoch %d/%d: val loss %.4f" % (epoch + 1, epochs, vl), file=sys.stderr)
    net.load_state_dict(state)
    return net, predict


def run_classifier(args):
    cfg = load_cfg(args.config, args.set)
    ds = Dataset(args.data)
    net, predict = train_classifier(cfg, ds, args.seed, int(args.epochs or cfg["train"]["epochs"]))
    te = ds.indices("test")
    p = torch.sigmoid(predict(te)).numpy()
    y = ds.labels[te]
    if args.save:
        torch.save(net.state_dict(), args.save)
    return {"accuracy": float(((p > 0.5) == (y == 1)).mean()), "auc": auc_of(y, p), "n_test": int(len(te))}


# ------------------------------------------------------------------ G-D-C ---

def bce_const(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(target)))


def cam_of(c, layer, x):
    """train/task_gdc.c cam_map: ReLU(sum_k w_k A_k) of C's last conv activation (top_bn after its
    swish), w = the fracture row of the head, min-max per image, bilinear to the input size."""
    acts = {}
    hook = getattr(c, layer).register_forward_hook(lambda m, i, o: acts.__setitem__("a", F.silu(o)))
    with torch.no_grad():
        c(x)
    hook.remove()
    cam = F.relu(torch.einsum("k,nkhw->nhw", c.predictions.weight[-1], acts["a"]))
    lo = cam.flatten(1).min(1)[0].view(-1, 1, 1)
    hi = cam.flatten(1).max(1)[0].view(-1, 1, 1)
    cam = torch.where(hi > lo, (cam - lo) / (hi - lo), torch.zeros_like(cam))
    return F.interpolate(cam[:, None], size=x.shape[2:], mode="bilinear", align_corners=False)


def c_input(section, x):
    x = x * float(section.get("input_scale", 1))
    return x.repeat(1, 3, 1, 1) if int(section.get("input_channels", 0)) == 3 and x.shape[1] == 1 else x


def train_gd(cfg, ds, seed, epochs):
    t = cfg["task"]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    g = skip_ganomaly.build(kind="g", **graph_params(cfg["model"]))
    d = skip_ganomaly.build(kind="d", **graph_params(t["discriminator"]))
    opt_g = make_optimizer(g.parameters(), cfg["optimizer"])
    d_lr = float(t.get("d_lr", 0))
    opt_d = make_optimizer(d.parameters(), cfg["optimizer"], lr=d_lr if d_lr > 0 else None)
    w_adv, w_con, w_lat = float(t.get("w_adv", 1)), float(t.get("w_con", 40)), float(t.get("w_lat", 1))
    bs = int(cfg["train"]["batch_size"])
    for epoch in range(epochs):
        g.train()
        d.train()
        for ids in batches(ds.indices("train"), bs, gen):
            x = normalize(cfg, torch.stack([augment(torch.from_numpy(ds.images[i]), [], cfg["data"].get("augment"),
                                                    gen)[0] for i in ids]))
            fake = g(x)
            p_f, f_f = d(fake)
            _, f_r = d(x)
            l_g = w_adv * bce_const(p_f, 1.0) + w_con * F.l1_loss(fake, x) + w_lat * F.mse_loss(f_r, f_f)
            opt_g.zero_grad()
            l_g.backward()
            opt_g.step()
            p_r, f_r = d(x)
            p_f, f_f = d(fake.detach())
            l_d = bce_const(p_r, 1.0) + bce_const(p_f, 0.0) + w_lat * F.mse_loss(f_r, f_f)
            opt_d.zero_grad()
            l_d.backward()
            opt_d.step()
        print("peer G-D epoch %d/%d: L_G %.4f L_D %.4f" % (epoch + 1, epochs, l_g.item(), l_d.item()), file=sys.stderr)
    return g, d


def train_gdc(cfg, ds, seed, epochs, d, c, g1=None):
    t = cfg["task"]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    g = skip_ganomaly.build(kind="g", **graph_params(cfg["model"]))
    for net in (d, c) + ((g1,) if g1 is not None else ()):
        net.eval()
        net.requires_grad_(False)
    opt = make_optimizer(g.parameters(), cfg["optimizer"])
    w_g, w_d, w_c = float(t.get("w_g", 80)), float(t.get("w_d", 1)), float(t.get("w_c", 4))
    literal = t.get("mask_polarity", "background") == "literal"
    thr = float(t.get("change_threshold", 0.06))
    bs = int(cfg["train"]["batch_size"])
    for epoch in range(epochs):
        g.train()
        for ids in batches(ds.indices("train"), bs, gen):
            x = normalize(cfg, torch.stack([augment(torch.from_numpy(ds.images[i]), [], cfg["data"].get("augment"),
                                                    gen)[0] for i in ids]))
            with torch.no_grad():
                f = ((g1(x) - x).abs() > thr).float() if g1 is not None else cam_of(
                    c, t["cam_layer"], c_input(t["classifier"], x))
            m = f if literal else 1 - f
            gx = g(x)
            l_g = F.l1_loss(m * x, m * gx)
            adj = m * x + (1 - m) * gx
            l_d = bce_const(d(g(adj))[0], 1.0)
            l_c = bce_const(c(c_input(t["classifier"], adj)), 0.0)
            loss = w_g * l_g + w_d * l_d + w_c * l_c
            opt.zero_grad()
            loss.backward()
            opt.step()
        print("peer G-D-C %s epoch %d/%d: L %.4f" % ("restore" if g1 is not None else "localize", epoch + 1, epochs,
                                                     loss.item()), file=sys.stderr)
    return g


def localization(maps_val, masks_val, maps, masks):
    """Pointing game and IoU at the val-chosen threshold (train/task_gdc.c's definitions): maps
    min-max normalised per image; images without a defect are skipped."""
    def norm(m):
        lo, hi = m.min(), m.max()
        return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)

    def ious(ms, ks, tau):
        out = []
        for m, k in zip(ms, ks):
            p, k = norm(m) > tau, k > 0.5
            u = (p | k).sum()
            out.append((p & k).sum() / u if u else 0.0)
        return float(np.mean(out))

    taus = [round(0.05 * i, 2) for i in range(1, 20)]
    tau = max(taus, key=lambda x: ious(maps_val, masks_val, x))
    hits = [float(k.reshape(-1)[np.argmax(m.reshape(-1))] > 0.5) for m, k in zip(maps, masks)]
    return {"pointing": float(np.mean(hits)), "iou": ious(maps, masks, tau), "tau": tau}


def run_gdc(args):
    gd_cfg, c1_cfg, c2_cfg = load_cfg(args.gd, args.set), load_cfg(args.step1, args.set), load_cfg(args.step2, args.set)
    c_cfg = load_cfg(args.config, args.c_set)
    all_ds = Dataset(args.data)
    frac = Dataset(args.data, labels_keep=[1])
    if args.c_state:  # the peer classifier run of the same seed (its --save)
        c = efficientnet_b3.build(**graph_params(c_cfg["model"]))
        c.load_state_dict(torch.load(args.c_state))
    else:
        c, _ = train_classifier(c_cfg, all_ds, args.seed, int(args.c_epochs or c_cfg["train"]["epochs"]))
    g, d = train_gd(gd_cfg, all_ds, args.seed, int(args.gd_epochs or gd_cfg["train"]["epochs"]))
    g1 = train_gdc(c1_cfg, frac, args.seed, int(args.gdc1_epochs or c1_cfg["train"]["epochs"]), d, c)
    g2 = train_gdc(c2_cfg, frac, args.seed, int(args.gdc2_epochs or c2_cfg["train"]["epochs"]), d, c, g1.eval())
    t1 = c1_cfg["task"]
    out = {}
    maps = {}
    for split in ("val", "test"):
        ids = frac.indices(split)
        x = normalize(c1_cfg, torch.from_numpy(frac.images[ids]))
        with torch.no_grad():
            g1.eval()
            g2.eval()
            maps[split] = {"step1": (g1(x) - x).abs().mean(1).numpy(), "step2": (g2(x) - x).abs().mean(1).numpy(),
                           "cam": cam_of(c, t1["cam_layer"], c_input(t1["classifier"], x))[:, 0].numpy()}
        rs = np.random.default_rng(args.seed + (split == "test"))
        maps[split]["random"] = rs.uniform(size=maps[split]["step1"].shape)
        maps[split]["mask"] = frac.masks[ids][:, 0]
    for k in ("step1", "step2", "cam", "random"):
        out[k] = localization(maps["val"][k], maps["val"]["mask"], maps["test"][k], maps["test"]["mask"])
    out["n_test"] = int(len(frac.indices("test")))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stage", choices=["detector", "classifier", "gdc"])
    ap.add_argument("--data", required=True)
    ap.add_argument("--config", help="detector / classifier config (gdc: the classifier's)")
    ap.add_argument("--gd"), ap.add_argument("--step1"), ap.add_argument("--step2")
    ap.add_argument("--set", action="append", default=[], help="key.path=value, as medtrain's --set")
    ap.add_argument("--c_set", action="append", default=[], help="gdc: --set for the classifier's config only")
    ap.add_argument("--epochs", type=int, default=0)
    ap.add_argument("--c_epochs", type=int, default=0)
    ap.add_argument("--gd_epochs", type=int, default=0)
    ap.add_argument("--gdc1_epochs", type=int, default=0)
    ap.add_argument("--gdc2_epochs", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", help="classifier: write its state_dict here")
    ap.add_argument("--c_state", help="gdc: C's state_dict from a classifier run (--save) instead of training C")
    args = ap.parse_args()
    res = {"detector": run_detector, "classifier": run_classifier, "gdc": run_gdc}[args.stage](args)
    res.update(stage=args.stage, seed=args.seed, engine="pytorch %s" % torch.__version__)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
