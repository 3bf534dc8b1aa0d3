#!/usr/bin/python3
"""experiments/s2_ct_recon/table.py OUT --seeds 0,1,2 --recons axial:mip,... --size N --epochs E:
the S2 report of run.sh as Markdown: the data problems of the TCGA import, the contrast table
(paper vs medtrain vs the PyTorch peer, mean +- SD over seeds, n stated), the summed confusion
matrices, and the body-part table (whose number measures nothing here: every split is the
training split)."""
import argparse
import json
import os

import h5py
import numpy as np

# papers.md S2: body part, external-set accuracy per reconstruction (test set: 100% for all nine)
PAPER_BODYPART = {"axial:aip": 94.86, "axial:mip": 98.21, "axial:mid": 96.2, "sagittal:aip": 97.09,
                  "sagittal:mip": 99.33, "sagittal:mid": 97.32, "coronal:aip": 93.75, "coronal:mip": 98.66,
                  "coronal:mid": 96.2}


def load(path):
    with open(path) as f:
        return json.load(f)


def ms(vals):
    v = np.array(vals, float) * 100
    return "%.1f +- %.1f" % (v.mean(), v.std(ddof=1)) if len(v) > 1 else "%.1f" % v.mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--recons", default="axial:mip")
    ap.add_argument("--size", default="139")
    ap.add_argument("--epochs", default="12")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    print("# S2 stand-in results (experiments/s2_ct_recon/run.sh)\n")

    print("## Contrast data (tcga_ct_contrast_slices)\n")
    with open(os.path.join(a.out, "tcga_import.txt")) as f:
        for line in f:
            print("- " + line.strip())
    ds = os.path.join(a.out, "tcga_contrast_%s.h5" % a.size)
    with h5py.File(ds, "r") as f:
        split = np.array([s.decode() for s in f["meta/split"][()]])
        lab = f["labels"][()]
        pid = np.array([s.decode() for s in f["meta/patient_id"][()]])
        dup = f["meta/duplicate_of"][()] if "meta/duplicate_of" in f else np.full(len(lab), -1)
    for sp in ("train", "val", "test"):
        m = split == sp
        print("- %s: %d slices (NE %d / CE %d) from %d patients" % (sp, m.sum(), (lab[m] == 0).sum(),
                                                                   (lab[m] == 1).sum(), len(set(pid[m]))))
    straddle = sum(1 for i, j in enumerate(dup) if j >= 0 and split[i] != split[j])
    print("- duplicate pairs across splits: %d (of %d duplicates)" % (straddle, (dup >= 0).sum()))
    print("- patients in more than one split: %d" % sum(1 for p in set(pid) if len(set(split[pid == p])) > 1))

    print("\n## Contrast (CE vs NE), test split, %s px, up to %s epochs, early stopping patience 5\n"
          % (a.size, a.epochs))
    rows = {"medtrain": [], "PyTorch peer": []}
    conf = {"medtrain": None, "PyTorch peer": None}
    for s in seeds:
        p = os.path.join(a.out, "contrast_mt_s%d" % s, "eval_test.json")
        if os.path.exists(p):
            e = load(p)
            rows["medtrain"].append((e["accuracy"], e["precision"], e["recall"], e["n_samples"], s, e.get("auc", np.nan)))
            c = np.array(e["confusion_matrix"])
            conf["medtrain"] = c if conf["medtrain"] is None else conf["medtrain"] + c
        p = os.path.join(a.out, "contrast_peer_s%d.json" % s)
        if os.path.exists(p):
            e = load(p)
            rows["PyTorch peer"].append((e["accuracy"], e["precision"], e["recall"], e["n_test"], s, e.get("auc", np.nan)))
            c = np.array(e["confusion"])
            conf["PyTorch peer"] = c if conf["PyTorch peer"] is None else conf["PyTorch peer"] + c
    print("| engine | accuracy % | macro precision % | macro recall % | ROC AUC % | n test | seeds |")
    print("|---|---:|---:|---:|---:|---:|---|")
    print("| paper (Tables 3-4, per body part; ImageNet start, 299 px) | 94-100 (mid-plane models, test) | - | - | - | "
          "179 scans | - |")
    for k, r in rows.items():
        if r:
            print("| %s (from scratch) | %s | %s | %s | %s | %d | %s |" % (
                k, ms([x[0] for x in r]), ms([x[1] for x in r]), ms([x[2] for x in r]), ms([x[5] for x in r]),
                r[0][3], ",".join(str(x[4]) for x in r)))
    for k, c in conf.items():
        if c is not None:
            print("\n%s confusion matrix summed over seeds (rows = true NE, CE; columns = predicted): %s"
                  % (k, c.tolist()))
    print("\nPer seed (accuracy %): " + "; ".join(
        "%s %s" % (k, ", ".join("s%d %.0f" % (x[4], 100 * x[0]) for x in r)) for k, r in rows.items() if r))
    print("\nWith %d test slices one slice is %.0f%% accuracy: differences under about 10%% are noise "
          "(papers.md S2)." % (len(split[split == "test"]), 100.0 / max(1, (split == "test").sum())))

    print("\n## Body part: the pipeline end to end (its accuracy measures nothing)\n")
    print("Three volumes (head = brain; an upper-abdomen slab at T11-T12 and an abdomen-pelvis CT = abdomen; bodypart.csv), one "
          "sample per volume and reconstruction; no volume is left for validation or test, so every split is "
          "the training split and the figure is training accuracy on 3 images.\n")
    print("| reconstruction | paper, external accuracy % | medtrain, training accuracy on 3 volumes % |")
    print("|---|---:|---:|")
    for pk in a.recons.split(","):
        plane, kind = pk.split(":")
        p = os.path.join(a.out, "bodypart_%s_%s" % (plane, kind), "eval_train.json")
        acc = "%.0f" % (100 * load(p)["accuracy"]) if os.path.exists(p) else "-"
        print("| %s %s | %.2f | %s (measures nothing) |" % (plane, kind, PAPER_BODYPART[pk], acc))


if __name__ == "__main__":
    main()
