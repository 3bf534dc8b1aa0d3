#!/usr/bin/python3
"""Fashion-MNIST peer in PyTorch: the recipe of experiments/fashion_mnist/fmnist.yaml.

Reads the medtrain dataset made by `medtrain import --source idx` (layout docs/dataset.md:
/images float32 [N,1,28,28] already scaled to [0,1], /labels int32 [N], /meta/split), so
both engines train, select and test on exactly the same samples. The network is
configs/models/fmnist_cnn.yaml, as experiments/twins/fmnist_cnn.py (whose forward and
gradients tests/test_net_fmnist.c checks against medtrain's), same layer names (conv1, conv2, fc1, fc2):
conv3x3(1->32, pad 1)-ReLU-maxpool2, conv3x3(32->64, pad 1)-ReLU-maxpool2, flatten 3136,
linear 3136->128-ReLU, linear 128->10 logits; 421,642 parameters. Initialisation: torch's
layer defaults, which medtrain's default `init: pytorch` reproduces (layers/init.c
mt_init_torch_default: kaiming_uniform(a=sqrt 5), bias U(+-1/sqrt(fan_in))).
Loss: nn.CrossEntropyLoss (mean over the batch). Optimizer: Adam lr 1e-3, betas
(0.9, 0.999), eps 1e-8. Batch 64, 5 epochs, last incomplete batch kept (medtrain
data.drop_last false).

Seed policy: torch.manual_seed(seed) before building the model (initial weights); the
training split is reshuffled every epoch by a torch.Generator seeded once with `seed`
(epoch e uses the generator's e-th permutation). The shuffling order and initial weights
differ from medtrain's Philox streams: the two runs are two samples of one recipe.

Model selection as medtrain's default checkpoint (checkpoint.monitor val_loss, mode min):
the test metrics are those of the epoch with the lowest validation loss ("test"); the
last epoch's are reported too ("test_last_epoch").
Test metrics: accuracy, macro precision and recall (sklearn average='macro',
zero_division=0) on argmax predictions, ROC AUC one-vs-rest macro on softmax
probabilities (sklearn roc_auc_score(multi_class='ovr')).

usage: /usr/bin/python3 experiments/fashion_mnist/peer_torch.py DATASET.h5
           [--json OUT.json] [--epochs 5] [--batch 64] [--lr 1e-3] [--seed 1] [--threads 2] [--log_every N]
"""
import argparse
import copy
import json
import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import precision_score, recall_score, roc_auc_score

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from twins.fmnist_cnn import FmnistCNN  # noqa: E402  (checked against medtrain: tests/test_net_fmnist.c)


def load_split(path):
    """images [N,1,H,W] float32, labels [N] int64, split names [N] (str)."""
    with h5py.File(path, "r") as f:
        x = f["images"][()]
        y = f["labels"][()].astype(np.int64)
        split = np.array([s.decode() if isinstance(s, bytes) else s for s in f["meta/split"][()]])
    return x, y, split


@torch.no_grad()
def predict(model, x, batch=1000):
    model.eval()
    out = [model(x[i:i + batch]) for i in range(0, len(x), batch)]
    return torch.cat(out)


def metrics(logits, y):
    """loss, accuracy, macro precision / recall (zero_division=0), OvR macro AUC."""
    loss = F.cross_entropy(logits, y).item()
    prob = torch.softmax(logits, 1).numpy().astype(np.float64)
    yt, yp = y.numpy(), logits.argmax(1).numpy()
    return {
        "loss": loss,
        "accuracy": float((yp == yt).mean()),
        "precision": float(precision_score(yt, yp, average="macro", zero_division=0)),
        "recall": float(recall_score(yt, yp, average="macro", zero_division=0)),
        "auc": float(roc_auc_score(yt, prob, multi_class="ovr", average="macro")),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("--json", default="")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log_every", type=int, default=0, help="print the running loss every N steps (0: per epoch)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0, c0 = time.time(), time.process_time()

    x, y, split = load_split(a.dataset)
    parts = {k: (torch.from_numpy(x[split == k]), torch.from_numpy(y[split == k])) for k in ("train", "val", "test")}
    xtr, ytr = parts["train"]
    print(f"dataset {a.dataset}: train {len(ytr)}, val {len(parts['val'][1])}, test {len(parts['test'][1])}",
          flush=True)

    torch.manual_seed(a.seed)
    model = FmnistCNN()
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    gen = torch.Generator().manual_seed(a.seed)
    history, best, best_state = [], None, None
    t_train = time.time()
    for epoch in range(1, a.epochs + 1):
        model.train()
        perm = torch.randperm(len(ytr), generator=gen)
        tot, seen = 0.0, 0
        te = time.time()
        for i in range(0, len(perm), a.batch):
            idx = perm[i:i + a.batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * len(idx)
            seen += len(idx)
            if a.log_every and (i // a.batch + 1) % a.log_every == 0:
                print(f"  epoch {epoch} step {i // a.batch + 1}/{(len(perm) + a.batch - 1) // a.batch} "
                      f"loss {tot / seen:.4f} ({time.time() - te:.0f} s)", flush=True)
        val = metrics(predict(model, parts["val"][0]), parts["val"][1])
        rec = {"epoch": epoch, "train_loss": tot / seen, "val_loss": val["loss"], "val_accuracy": val["accuracy"],
               "seconds": time.time() - te}
        history.append(rec)
        print(f"epoch {epoch}/{a.epochs} train_loss {rec['train_loss']:.4f} val_loss {val['loss']:.4f} "
              f"val_acc {val['accuracy']:.4f} ({rec['seconds']:.1f} s)", flush=True)
        if best is None or val["loss"] < best["val_loss"]:
            best, best_state = rec, copy.deepcopy(model.state_dict())
    train_s = time.time() - t_train

    test_last = metrics(predict(model, parts["test"][0]), parts["test"][1])
    model.load_state_dict(best_state)
    test = metrics(predict(model, parts["test"][0]), parts["test"][1])
    print(f"test (epoch {best['epoch']}, lowest val_loss): accuracy {test['accuracy']:.4f} "
          f"precision {test['precision']:.4f} recall {test['recall']:.4f} auc {test['auc']:.4f} loss {test['loss']:.4f}")
    print(f"test (last epoch): accuracy {test_last['accuracy']:.4f} precision {test_last['precision']:.4f} "
          f"recall {test_last['recall']:.4f} auc {test_last['auc']:.4f}")
    cpu_s = time.process_time() - c0
    print(f"parameters {n_params}; training {train_s:.1f} s; total {time.time() - t0:.1f} s wall, {cpu_s:.1f} s CPU "
          f"({a.threads} threads, torch {torch.__version__}, load average {os.getloadavg()[0]:.1f})")
    if a.json:
        out = {"engine": "pytorch", "torch": torch.__version__, "threads": a.threads, "dataset": a.dataset,
               "epochs": a.epochs, "batch_size": a.batch, "lr": a.lr, "seed": a.seed, "parameters": n_params,
               "best_epoch": best["epoch"], "test": test, "test_last_epoch": test_last, "history": history,
               "train_seconds": train_s, "total_seconds": time.time() - t0, "cpu_seconds": cpu_s,
               "load_average_1min_at_end": os.getloadavg()[0]}
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
