#!/usr/bin/env python3
"""tests/task_steps.py: the PyTorch side of tests/test_task_steps.c.

Reads a medtrain run's resolved config (RUN/config.yaml: the task, the
networks' graphs, params and init_from checkpoints, the dataset, the input
normalisation, the optimizer, train.steps and batch_size), builds the same
networks in PyTorch (experiments/twins/unet.py, skip_ganomaly.py,
yolov5s.py, and TinyCNN below for tests/data/task_cnn.yaml), loads the same
initial weights, reads the same batches (the train split in index order,
data.shuffle false, no augmentation) and runs the same training steps twice:
in float64 and in float32 (torch.optim.Adam, or torch.optim.SGD for
optimizer.kind sgd). Each task follows the documented formulas of
train/task_*.c:

  segmentation   bce_with_logits / dice / bce_dice (soft Dice over the whole
                 batch, smooth s) / cross_entropy (class 0 = no mask, else
                 1 + first set mask channel)
  classification K logits: cross_entropy; one logit: BCE with logits vs label
  adversarial    (task_adversarial.c) G step: fake = G(X); D(fake), D(X) (both
                 training mode, in that order); L_G = w_adv BCE(1, p_f) +
                 w_con L1(X, fake) + w_lat MSE(f_r, f_f); G's Adam step; D's
                 gradients from L_G dropped. D step: D(X), D(fake.detach());
                 L_D = BCE(1, p_r) + BCE(0, p_f) + w_lat MSE(f_r, f_f); D's step.
  gdc localize   (task_gdc.c) F = C's CAM (ReLU(sum_k w_k A_k), A = task.cam_layer,
                 w = the last row of C's last linear layer, min-max per image,
                 bilinear to the input size, align_corners false), constant;
                 M = 1 - F (mask_polarity background) or F (literal);
                 L_G = L1(M X, M G(X)); Adjust = M X + (1 - M) G(X);
                 L_D = BCE(1, D(G(Adjust))); L_C = BCE(0, C(Adjust));
                 L = w_g L_G + w_d L_D + w_c L_C; D and C frozen, eval mode.
  gdc restore    the same with F = 1 where |G1(X) - X| > task.change_threshold
                 (G1 = task.generator1, frozen, eval mode, in the run's dtype);
                 exits with an error when a pixel's |G1(X) - X| lies within
                 1e-6 of the threshold: float32 and float64 could disagree on
                 F there (torch float32's |G1(X) - X| is within 9e-8 of
                 float64's on the test's data), so the test data must keep
                 clear of it.
  detection      (task_detection.c) YOLOv5 v7.0 ComputeLoss (utils/loss.py,
                 sort_obj_iou) as tests/fixtures/gen_detect.py's reference
                 (validated against YOLOv5; its float32 build_targets `assign`
                 and `ciou` are imported, the loss is yolo_loss below, in the
                 run's dtype): targets from the dataset boxes (medtrain's
                 frame, 0 = centre of the top-left pixel) cx = ((x0 + x1) / 2
                 + 0.5) / W, w = (x1 - x0) / W (float32), gains of train.py:
                 box = task.box_gain * 3 / nl, cls = task.cls_gain * nc / 80 *
                 3 / nl, obj = task.obj_gain * (H / 640)^2 * 3 / nl; loss =
                 (lbox + lobj + lcls) * batch size; terms box, obj, cls.

Writes OUT (HDF5): for p in f64, f32: /<p>/loss [steps] (the logged loss),
/<p>/terms/<name> [steps] (the loss_<name> columns of log.csv) and
/<p>/state/<net>/<tensor> (every state_dict entry after the steps; net =
"model" for the trained network, "D" for the adversarial discriminator), and
/init/<net>/<tensor> (the initial weights, as float64).
Prints the per-step losses.

Usage: task_steps.py RUN_DIR OUT.h5
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "experiments"))
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))


class TinyCNN(nn.Module):
    """tests/data/task_cnn.yaml: conv1 3x3 p1 + ReLU, 2x2 max pool, conv2 3x3 p1 +
    ReLU, global average pool, flatten, linear (fc)."""

    def __init__(self, in_channels=1, c1=4, c2=6, classes=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.fc = nn.Linear(c2, classes)

    def values(self, x):
        v = {}
        v["conv1"] = F.relu(self.conv1(x))
        v["pool1"] = F.max_pool2d(v["conv1"], 2)
        v["conv2"] = F.relu(self.conv2(v["pool1"]))
        v["gap"] = v["conv2"].mean(dim=(2, 3), keepdim=True)
        v["flat"] = v["gap"].flatten(1)
        v["fc"] = self.fc(v["flat"])
        return v

    def forward(self, x):
        return self.values(x)["fc"]


def as_number(v):
    if isinstance(v, str):
        for conv in (int, float):
            try:
                return conv(v)
            except ValueError:
                pass
    return v


def build_net(section, dtype):
    """A network of a config section {graph, params, init_from}, in dtype, with
    the init_from checkpoint's /state_dict loaded strictly."""
    graph = section["graph"]
    with open(graph) as f:
        params = dict(yaml.safe_load(f).get("params") or {})
    params.update(section.get("params") or {})
    params = {k: as_number(v) for k, v in params.items()}
    base = os.path.basename(graph)
    if base == "unet.yaml":
        from twins import unet
        assert params.get("dropout", 0) == 0, "task_steps: the U-Net must run without dropout"
        net = unet.build(**params)
    elif base == "skip_ganomaly_g.yaml":
        from twins import skip_ganomaly
        net = skip_ganomaly.build(kind="g", **params)
    elif base == "skip_ganomaly_d.yaml":
        from twins import skip_ganomaly
        net = skip_ganomaly.build(kind="d", **params)
    elif base == "yolov5s.yaml":
        from twins import yolov5s
        net = yolov5s.build(**params)
    elif base == "task_cnn.yaml":
        net = TinyCNN(params["in_channels"], params["c1"], params["c2"], params["classes"])
    else:
        sys.exit("task_steps.py: no PyTorch twin for graph %s" % graph)
    net.to(dtype)
    with h5py.File(section["init_from"], "r") as f:
        sd = {k: torch.from_numpy(np.array(v[()])) for k, v in f["state_dict"].items()}
    net.load_state_dict(sd, strict=True)
    return net


def state_of(net):
    return {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}


class Data:
    """The train split in index order, batches as medtrain's loader without
    shuffle (drop_last as configured), normalised as train/session.c."""

    def __init__(self, cfg):
        d = cfg["data"]
        with h5py.File(d["dataset"], "r") as f:
            self.images = np.array(f["images"][()], dtype=np.float32)
            self.masks = np.array(f["masks"][()]) if "masks" in f else None
            self.labels = np.array(f["labels"][()]) if "labels" in f else None
            self.boxes = np.array(f["boxes"][()], dtype=np.float32) if "boxes" in f else None
            split = [s.decode() if isinstance(s, bytes) else str(s) for s in f["meta/split"][()]]
        size = d.get("input_size") or [0, 0]
        if any(int(s) for s in size) and [int(s) for s in size] != list(self.images.shape[2:]):
            sys.exit("task_steps.py: data.input_size must be the dataset's size (no resizing here)")
        self.idx = [i for i, s in enumerate(split) if s == d.get("train_split", "train")]
        self.bs = int(cfg["train"]["batch_size"])
        self.drop_last = bool(d.get("drop_last", False))
        if d.get("shuffle", True) or (d.get("augment") or {}).get("enabled", False):
            sys.exit("task_steps.py: needs data.shuffle false and no augmentation")
        self.d = d

    def batches(self, steps):
        out = []
        while len(out) < steps:
            for b0 in range(0, len(self.idx), self.bs):
                ids = self.idx[b0:b0 + self.bs]
                if self.drop_last and len(ids) < self.bs:
                    break
                out.append(ids)
                if len(out) == steps:
                    break
        return out

    def normalize(self, raw, dtype):
        d = self.d
        x = torch.from_numpy(raw).to(dtype)
        kind = d.get("normalize", "none")
        if kind == "window":
            lo, hi = float(d["window"][0]), float(d["window"][1])
            x = (x.clamp(lo, hi) - lo) / (hi - lo)
        elif kind == "zscore":
            x = (x - float(d["mean"])) / float(d["std"])
        elif kind != "none":
            sys.exit("task_steps.py: data.normalize %s not supported here" % kind)
        x = x * float(d.get("output_scale", 1))
        if int(d.get("channels", 0) or 0) == 3 and x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        return x

    def batch_boxes(self, ids):
        """The boxes of the batch's samples, [n, 6] float32 (row in the batch,
        x0, y0, x1, y1, class), rows in batch order, each sample's in file order."""
        rows = [[r] + list(b[1:]) for r, i in enumerate(ids) for b in self.boxes if int(b[0]) == i]
        return np.array(rows, dtype=np.float32).reshape(-1, 6)

    def batch(self, ids, dtype):
        x = self.normalize(self.images[ids], dtype)
        m = torch.from_numpy(self.masks[ids].astype(np.float64)).to(dtype) if self.masks is not None else None
        y = torch.from_numpy(self.labels[ids].astype(np.int64)) if self.labels is not None else None
        return x, m, y


def optimizer(params, cfg, lr=None):
    """torch.optim.Adam or SGD of the config's optimizer section (lr: D's own)."""
    o = cfg["optimizer"]
    kind = o.get("kind", "adam")
    if float(o.get("clip_grad_norm", 0)) > 0:
        sys.exit("task_steps.py: optimizer.clip_grad_norm must be 0")
    lr = float(lr if lr is not None else o["lr"])
    wd = float(o.get("weight_decay", 0))
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=float(o.get("momentum", 0)),
                               dampening=float(o.get("dampening", 0)), weight_decay=wd,
                               nesterov=bool(o.get("nesterov", False)))
    if kind != "adam":
        sys.exit("task_steps.py: optimizer.kind adam or sgd only")
    eps = float(o.get("eps", 0)) or 1e-8
    return torch.optim.Adam(params, lr=lr, betas=tuple(float(b) for b in o["betas"]), eps=eps, weight_decay=wd,
                            amsgrad=bool(o.get("amsgrad", False)))


def bce_const(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(target)))


def soft_dice(logits, target, smooth):
    p = torch.sigmoid(logits)
    return 1 - (2 * (p * target).sum() + smooth) / (p.sum() + target.sum() + smooth)


def class_ids(masks):
    """0 where no mask is set, else 1 + the first set channel (train/task_segmentation.c)."""
    n, k, h, w = masks.shape
    ids = torch.zeros(n, h, w, dtype=torch.long)
    for j in range(k - 1, -1, -1):
        ids = torch.where(masks[:, j] > 0.5, torch.full_like(ids, j + 1), ids)
    return ids


def seg_loss(cfg, logits, masks):
    lc = cfg["loss"]
    kind = lc["kind"]
    pw = float(lc.get("pos_weight", 1))
    pos_weight = torch.tensor([pw], dtype=logits.dtype) if pw != 1 else None
    if kind == "cross_entropy":
        cw = lc.get("class_weights") or []
        w = torch.tensor([float(c) for c in cw], dtype=logits.dtype) if cw else None
        return F.cross_entropy(logits, class_ids(masks), weight=w), {}
    if kind == "dice":
        return soft_dice(logits, masks, float(lc["dice_smooth"])), {}
    bce = F.binary_cross_entropy_with_logits(logits, masks, pos_weight=pos_weight)
    if kind == "bce_with_logits":
        return bce, {}
    if kind != "bce_dice":
        sys.exit("task_steps.py: loss.kind %s not supported here" % kind)
    dice = soft_dice(logits, masks, float(lc["dice_smooth"]))
    total = float(lc["bce_weight"]) * bce + float(lc["dice_weight"]) * dice
    return total, {"bce": bce, "dice": dice}


def cls_loss(cfg, logits, labels):
    lc = cfg["loss"]
    if logits.shape[1] == 1:
        pw = float(lc.get("pos_weight", 1))
        pos_weight = torch.tensor([pw], dtype=logits.dtype) if pw != 1 else None
        t = labels.to(logits.dtype).view(-1, 1)
        return F.binary_cross_entropy_with_logits(logits, t, pos_weight=pos_weight), {}
    cw = lc.get("class_weights") or []
    w = torch.tensor([float(c) for c in cw], dtype=logits.dtype) if cw else None
    return F.cross_entropy(logits, labels, weight=w), {}


def run_single(cfg, data, dtype, loss_fn):
    model = build_net(cfg["model"], dtype)
    opt = optimizer(model.parameters(), cfg)
    losses, terms = [], {}
    for ids in data.batches(int(cfg["train"]["steps"])):
        x, m, y = data.batch(ids, dtype)
        model.train()
        opt.zero_grad()
        out = model(x)
        loss, t = loss_fn(cfg, out, m if cfg["task"]["kind"] == "segmentation" else y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        for k, v in t.items():
            terms.setdefault(k, []).append(v.item())
    return losses, terms, {"model": state_of(model)}


def run_adversarial(cfg, data, dtype):
    t = cfg["task"]
    w_adv, w_con, w_lat = float(t["w_adv"]), float(t["w_con"]), float(t["w_lat"])
    g = build_net(cfg["model"], dtype)
    d = build_net(t["discriminator"], dtype)
    opt_g = optimizer(g.parameters(), cfg)
    d_lr = float(t.get("d_lr", 0))
    opt_d = optimizer(d.parameters(), cfg, lr=d_lr if d_lr > 0 else None)
    losses, terms = [], {k: [] for k in ("adv", "con", "lat", "d")}
    for ids in data.batches(int(cfg["train"]["steps"])):
        x, _, _ = data.batch(ids, dtype)
        g.train()
        d.train()
        # 1. generator
        opt_g.zero_grad()
        opt_d.zero_grad()
        fake = g(x)
        p_f, f_f = d(fake)
        p_r, f_r = d(x)
        adv = bce_const(p_f, 1.0)
        con = F.l1_loss(fake, x)
        lat = F.mse_loss(f_r, f_f)
        l_g = w_adv * adv + w_con * con + w_lat * lat
        l_g.backward()
        opt_g.step()
        opt_d.zero_grad()  # L_G's gradients on D are not D's
        # 2. discriminator
        p_r, f_r = d(x)
        p_f, f_f = d(fake.detach())
        l_d = bce_const(p_r, 1.0) + bce_const(p_f, 0.0) + w_lat * F.mse_loss(f_r, f_f)
        l_d.backward()
        opt_d.step()
        losses.append(l_g.item())
        for k, v in (("adv", adv), ("con", con), ("lat", lat), ("d", l_d)):
            terms[k].append(v.item())
    return losses, terms, {"model": state_of(g), "D": state_of(d)}


def net_input(section, x):
    """mt_session_model_input: x * input_scale, grey replicated to input_channels 3."""
    scale = float(section.get("input_scale", 1))
    if scale != 1:
        x = x * scale
    if int(section.get("input_channels", 0)) == 3 and x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return x


def cam_map(c, cam_layer, x, section=None):
    """F from C's class-activation map (task_gdc.c cam_map), no gradient."""
    with torch.no_grad():
        a = c.values(net_input(section or {}, x))[cam_layer]
        w = c.fc.weight[-1]
        cam = F.relu(torch.einsum("k,nkhw->nhw", w, a))
        lo = cam.flatten(1).min(1)[0].view(-1, 1, 1)
        hi = cam.flatten(1).max(1)[0].view(-1, 1, 1)
        cam = torch.where(hi > lo, (cam - lo) / (hi - lo), torch.zeros_like(cam))
        return F.interpolate(cam.unsqueeze(1), size=x.shape[2:], mode="bilinear", align_corners=False)


def run_gdc(cfg, data, dtype):
    t = cfg["task"]
    restore = t.get("gdc_step", "localize") == "restore"
    w_g, w_d, w_c = float(t["w_g"]), float(t["w_d"]), float(t["w_c"])
    literal = t.get("mask_polarity", "background") == "literal"
    g = build_net(cfg["model"], dtype)
    d = build_net(t["discriminator"], dtype)
    c = build_net(t["classifier"], dtype)
    g1 = build_net(t["generator1"], dtype) if restore else None
    for frozen in (d, c) + ((g1,) if g1 is not None else ()):
        frozen.eval()
        frozen.requires_grad_(False)
    opt = optimizer(g.parameters(), cfg)
    losses, terms = [], {k: [] for k in ("g", "d", "c")}
    for ids in data.batches(int(cfg["train"]["steps"])):
        x, _, _ = data.batch(ids, dtype)
        g.train()
        opt.zero_grad()
        if restore:
            f = run_restore_map(g1, x, float(t["change_threshold"]))
        else:
            f = cam_map(c, t["cam_layer"], x, t["classifier"])
        m = f if literal else 1 - f
        mx = m * x
        gx = g(x)
        l_g = F.l1_loss(mx, m * gx)
        adj = mx + (1 - m) * gx
        l_d = bce_const(d(g(adj))[0], 1.0)
        l_c = bce_const(c(net_input(t["classifier"], adj)), 0.0)
        loss = w_g * l_g + w_d * l_d + w_c * l_c
        loss.backward()
        opt.step()
        losses.append(loss.item())
        for k, v in (("g", l_g), ("d", l_d), ("c", l_c)):
            terms[k].append(v.item())
    return losses, terms, {"model": state_of(g)}


def run_restore_map(g1, x, thr):
    """F = |G1(X) - X| > thr (G1 frozen, eval mode), with the 1e-6 margin check."""
    with torch.no_grad():
        d = (g1(x) - x).abs()
    margin = (d - thr).abs().min().item()
    if margin < 1e-6:
        sys.exit("task_steps.py: |G1(X) - X| is %.3g from task.change_threshold %g: F is ambiguous in float32; "
                 "choose another threshold" % (margin, thr))
    return (d > thr).to(x.dtype)


def yolo_targets(boxes, h, w):
    """mt_batch boxes (row, x0, y0, x1, y1, class; medtrain's pixel frame) ->
    YOLO targets (row, class, cx, cy, w, h normalised, 0 = image edge), float32."""
    b = boxes.astype(np.float64)
    t = np.stack([b[:, 0], b[:, 5], ((b[:, 1] + b[:, 3]) / 2 + 0.5) / w, ((b[:, 2] + b[:, 4]) / 2 + 0.5) / h,
                  (b[:, 3] - b[:, 1]) / w, (b[:, 4] - b[:, 2]) / h], 1)
    return t.astype(np.float32)


def yolo_loss(preds, targets, nc, hyp, dtype):
    """tests/fixtures/gen_detect.py yolo_loss (ComputeLoss.__call__) in dtype:
    build_targets in float32 (`assign`), CIoU, BCE objectness with the highest
    IoU winning a shared cell, class BCE; hyp gr 1, label smoothing 0 and
    pos_weight 1 (mt_yolo_hyp_default: task_detection.c does not change them).
    Returns (loss, {"box": lbox, "obj": lobj, "cls": lcls}) after the gains."""
    from gen_detect import assign, ciou
    shapes = [(p.shape[2], p.shape[3]) for p in preds]
    asg = assign(targets, shapes, hyp["anchor_t"])
    bce = F.binary_cross_entropy_with_logits
    lbox, lobj, lcls = (torch.zeros((), dtype=dtype) for _ in range(3))
    balance = [4.0, 1.0, 0.4]
    for lvl, p in enumerate(preds):
        rows = asg[lvl]
        tobj = torch.zeros(p.shape[:4], dtype=dtype)
        if rows:
            b, a, gj, gi = (torch.tensor([r[k] for r in rows]) for k in range(4))
            tcls = [r[4] for r in rows]
            tb = torch.tensor([r[5:9] for r in rows], dtype=dtype)
            an = torch.tensor([r[9:11] for r in rows], dtype=dtype)
            ps = p[b, a, gj, gi]
            pxy = ps[:, 0:2].sigmoid() * 2 - 0.5
            pwh = (ps[:, 2:4].sigmoid() * 2) ** 2 * an
            iou = ciou(pxy[:, 0], pxy[:, 1], pwh[:, 0], pwh[:, 1], tb[:, 0], tb[:, 1], tb[:, 2], tb[:, 3])
            lbox = lbox + (1.0 - iou).mean()
            iou = iou.detach().clamp(0)
            order = torch.argsort(iou)  # ascending: the highest IoU is written last and wins
            b, a, gj, gi, iou = b[order], a[order], gj[order], gi[order], iou[order]
            tobj[b, a, gj, gi] = iou  # gr = 1
            if nc > 1:
                t = torch.zeros((len(rows), nc), dtype=dtype)  # label_smoothing 0
                t[range(len(rows)), tcls] = 1.0
                lcls = lcls + bce(ps[:, 5:], t)
        lobj = lobj + bce(p[..., 4], tobj) * balance[lvl]
    lbox, lobj, lcls = lbox * hyp["box"], lobj * hyp["obj"], lcls * hyp["cls"]
    return (lbox + lobj + lcls) * preds[0].shape[0], {"box": lbox, "obj": lobj, "cls": lcls}


def run_detection(cfg, data, dtype):
    t = cfg["task"]
    model = build_net(cfg["model"], dtype)
    opt = optimizer(model.parameters(), cfg)
    losses, terms = [], {k: [] for k in ("box", "obj", "cls")}
    for ids in data.batches(int(cfg["train"]["steps"])):
        x, _, _ = data.batch(ids, dtype)
        h, w = x.shape[2:]
        model.train()
        opt.zero_grad()
        preds = model(x)
        nl, nc = len(preds), preds[0].shape[-1] - 5
        hyp = {"box": float(t["box_gain"]) * 3 / nl, "cls": float(t["cls_gain"]) * nc / 80 * 3 / nl,
               "obj": float(t["obj_gain"]) * (h / 640) ** 2 * 3 / nl, "anchor_t": float(t["anchor_t"])}
        loss, tm = yolo_loss(preds, yolo_targets(data.batch_boxes(ids), h, w), nc, hyp, dtype)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        for k, v in tm.items():
            terms[k].append(v.item())
    return losses, terms, {"model": state_of(model)}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    run_dir, out = sys.argv[1], sys.argv[2]
    torch.set_num_threads(int(os.environ.get("MT_TWIN_THREADS", "1")))
    with open(os.path.join(run_dir, "config.yaml")) as f:
        cfg = yaml.safe_load(f)
    data = Data(cfg)
    kind = cfg["task"]["kind"]
    results = {}
    for name, dtype in (("f64", torch.float64), ("f32", torch.float32)):
        if kind == "segmentation":
            results[name] = run_single(cfg, data, dtype, seg_loss)
        elif kind == "classification":
            results[name] = run_single(cfg, data, dtype, cls_loss)
        elif kind == "adversarial":
            results[name] = run_adversarial(cfg, data, dtype)
        elif kind == "gdc":
            results[name] = run_gdc(cfg, data, dtype)
        elif kind == "detection":
            results[name] = run_detection(cfg, data, dtype)
        else:
            sys.exit("task_steps.py: task.kind %s not supported" % kind)
    inits = {"model": cfg["model"]["init_from"]}
    if kind == "adversarial":
        inits["D"] = cfg["task"]["discriminator"]["init_from"]
    with h5py.File(out, "w") as f:
        for net, path in inits.items():
            with h5py.File(path, "r") as ck:
                for k, v in ck["state_dict"].items():
                    a = np.array(v[()])
                    f["init/%s/%s" % (net, k)] = a.astype(np.float64) if a.dtype.kind == "f" else a
        for name, (losses, terms, states) in results.items():
            grp = f.create_group(name)
            grp["loss"] = np.array(losses, dtype=np.float64)
            for k, v in terms.items():
                grp["terms/" + k] = np.array(v, dtype=np.float64)
            for net, sd in states.items():
                for k, v in sd.items():
                    grp["state/%s/%s" % (net, k)] = v.astype(np.float64) if v.dtype.kind == "f" else v
    for name, (losses, terms, _) in results.items():
        print("%s loss %s" % (name, " ".join("%.10g" % v for v in losses)))
        for k, v in terms.items():
            print("%s loss_%s %s" % (name, k, " ".join("%.10g" % x for x in v)))


if __name__ == "__main__":
    main()
