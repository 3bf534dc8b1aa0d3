#!/usr/bin/python3
"""experiments/s2_ct_recon/peer_torch.py: the PyTorch peer of experiments/s2_ct_recon/run.sh.

    peer_torch.py --data tcga.h5 --config configs/s2_contrast.yaml [--set key=value ...] --seed S

trains the S2 classifier with the recipe of the medtrain config (../../../shared/design/papers.md
S2): InceptionResNetV2 (experiments/twins/inception_resnet_v2.py, Keras semantics, Keras
glorot-uniform kernels and zero biases as configs/models/inception_resnet_v2.yaml's init), a
`task.classes`-way softmax head, cross-entropy, the config's optimizer and batch size, the
config's augmentation (data/augment.h's transforms with torch's random numbers: the same
distributions, not the same draws), grey replicated to 3 channels, early stopping on the
validation loss with the config's patience, the best epoch's weights (by validation loss, as
best.h5). Prints one JSON object: accuracy, macro precision and recall, ROC AUC, the confusion matrix
(rows = true class) on the test split, n_test, epochs run and the best epoch.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [os.path.join(ROOT, "experiments")]

from peer_common import (Dataset, augment, auc_of, batches, graph_params, load_cfg, make_optimizer,  # noqa: E402
                         normalize)
from twins import inception_resnet_v2  # noqa: E402

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))


def keras_glorot_init(net):
    """Keras defaults: glorot_uniform kernels (fan_in = cin k k, fan_out = cout k k), biases 0."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net


def macro(conf):
    """accuracy, macro precision and recall of a confusion matrix (rows = true, columns = predicted);
    a class never predicted has precision 0, as sklearn's zero_division=0."""
    k = conf.shape[0]
    tp = np.diag(conf).astype(float)
    prec = [tp[c] / conf[:, c].sum() if conf[:, c].sum() else 0.0 for c in range(k)]
    rec = [tp[c] / conf[c, :].sum() if conf[c, :].sum() else 0.0 for c in range(k)]
    return float(tp.sum() / conf.sum()), float(np.mean(prec)), float(np.mean(rec))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cfg = load_cfg(args.config, args.set)
    ds = Dataset(args.data)
    seed = args.seed
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    p = graph_params(cfg["model"])
    p.pop("init", None)
    net = keras_glorot_init(inception_resnet_v2.build(**p))
    k = int(p["classes"])
    opt = make_optimizer(net.parameters(), cfg["optimizer"])
    bs = int(cfg["train"]["batch_size"])
    epochs = int(cfg["train"]["epochs"])
    es = cfg.get("early_stopping") or {}
    patience = int(es.get("patience", 10)) if es.get("enabled", False) else epochs
    tr, va, te = ds.indices("train"), ds.indices("val"), ds.indices("test")
    aug = cfg["data"].get("augment")

    def batch(ids, train):
        xs = [augment(torch.from_numpy(ds.images[i]), [], aug if train else None, gen)[0] for i in ids]
        return normalize(cfg, torch.stack(xs)), torch.from_numpy(ds.labels[ids].astype(np.int64))

    def logits_of(ids):
        net.eval()
        with torch.no_grad():
            return torch.cat([net(batch(ids[b:b + bs], False)[0]) for b in range(0, len(ids), bs)])

    best, best_epoch, state, stale, ran = float("inf"), 0, None, 0, 0
    for epoch in range(1, epochs + 1):
        net.train()
        for ids in batches(tr, bs, gen):
            x, y = batch(ids, True)
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        vl = F.cross_entropy(logits_of(va), torch.from_numpy(ds.labels[va].astype(np.int64))).item()
        ran = epoch
        print("peer epoch %d/%d: val loss %.4f" % (epoch, epochs, vl), file=sys.stderr)
        if vl < best:
            best, best_epoch, stale = vl, epoch, 0
            state = {n: v.clone() for n, v in net.state_dict().items()}
        else:
            stale += 1
            if stale >= patience:
                break
    net.load_state_dict(state)
    logits = logits_of(te)
    pred = logits.argmax(1).numpy()
    y = ds.labels[te].astype(int)
    conf = np.zeros((k, k), np.int64)
    for t, q in zip(y, pred):
        conf[t, q] += 1
    acc, prec, rec = macro(conf)
    prob = torch.softmax(logits, 1).numpy()
    auc = auc_of(y, prob[:, 1]) if k == 2 else float("nan")  # medtrain's auc: class 1 vs rest for 2 classes
    print(json.dumps({"accuracy": acc, "precision": prec, "recall": rec, "auc": auc, "confusion": conf.tolist(),
                      "n_test": int(len(te)), "epochs": ran, "best_epoch": best_epoch, "seed": seed}))


if __name__ == "__main__":
    main()
