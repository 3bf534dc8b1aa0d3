#!/usr/bin/python3
"""experiments/s5_breast_mass/table.py OUT SEEDS PEER DC_SIZE UN_SIZE SETTINGS: the S5 table of
run.sh in Markdown: paper vs medtrain (the runs' eval_test_images.csv from `medtrain evaluate`)
vs the PyTorch peer (peer_<net>_seed<S>.json), and the constant-disc baseline (numpy here: a
baseline, not the engine) on the study's centred crops and on the jittered benchmark."""
import csv
import json
import math
import os
import sys

import h5py
import numpy as np

FIGS = ("sensitivity", "specificity", "accuracy", "dsc")
PAPER = {"deconvnet": ((77.63, 0, 99.99), (96.22, 83.66, 99.89), (91.78, 74.86, 97.71), (0.79, 0, 0.94)),
         "unet": ((67.04, 0, 94.81), (97.69, 89.42, 99.90), (90.09, 72.06, 97.43), (0.75, 0, 0.92))}
NAMES = {"deconvnet": "DeconvNet", "unet": "U-Net"}


def medtrain_images(run):
    """per-image values of a run's eval_test_images.csv: {figure: [...]} (NaN where empty)"""
    path = os.path.join(run, "eval_test_images.csv")
    if not os.path.exists(path):
        return None
    out = {k: [] for k in FIGS + ("gold_area_px", "pred_area_px")}
    with open(path) as f:
        for row in csv.DictReader(f):
            for k in out:
                out[k].append(float(row[k]) if row[k] != "" else math.nan)
    return out


def peer_images(path):
    try:
        with open(path) as f:
            return json.load(f)["per_image"]
    except (OSError, ValueError, KeyError):
        return None


def stats(v):
    v = np.asarray(v, dtype=np.float64)
    v = v[np.isfinite(v)]
    return (v.mean(), v.min(), v.max()) if len(v) else (math.nan,) * 3


def scale(fig):
    return 1.0 if fig == "dsc" else 100.0  # the paper: %, DSC as a fraction


def fmt(x, fig):
    return "n/a" if math.isnan(x) else ("%.3f" % x if fig == "dsc" else "%.2f" % x)


def seed_spread(runs, fig):
    """mean +- SD over seeds of the per-seed mean over test images"""
    means = [stats(r[fig])[0] * scale(fig) for r in runs if r]
    means = [m for m in means if not math.isnan(m)]
    if not means:
        return "n/a"
    sd = np.std(means, ddof=1) if len(means) > 1 else 0.0
    return "%s +- %s" % (fmt(float(np.mean(means)), fig), fmt(float(sd), fig))


def pooled_form(runs, fig):
    """mean (min; max) over every test image of every seed"""
    vals = [x for r in runs if r for x in r[fig]]
    if not vals:
        return "n/a"
    m, lo, hi = (x * scale(fig) for x in stats(vals))
    return "%s (%s; %s)" % (fmt(m, fig), fmt(lo, fig), fmt(hi, fig))


def disc_baseline(path, split="test"):
    """per-image figures of the constant disc the study's centred crop gives (the inscribed circle
    of the ROI box: radius = side / (2 * 1.2) with margin 0.1, at the crop centre)"""
    with h5py.File(path, "r") as f:
        masks = np.array(f["masks"][()])[:, 0] > 0.5
        sp = np.array([s.decode() for s in f["meta/split"][()]])
    gold = masks[sp == split]
    s = gold.shape[-1]
    c = (np.arange(s) + 0.5) - s / 2
    disc = (c[None, :] ** 2 + c[:, None] ** 2) <= (s / 2.4) ** 2
    out = {k: [] for k in FIGS}
    for g in gold:
        tp = np.sum(disc & g); fp = np.sum(disc & ~g); fn = np.sum(~disc & g); tn = np.sum(~disc & ~g)
        out["sensitivity"].append(tp / (tp + fn) if tp + fn else math.nan)
        out["specificity"].append(tn / (tn + fp) if tn + fp else math.nan)
        out["accuracy"].append((tp + tn) / g.size)
        out["dsc"].append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan)
    return out, len(gold)


def bland_altman(r):
    d = np.asarray(r["gold_area_px"]) - np.asarray(r["pred_area_px"])
    md, sd = d.mean(), (d.std(ddof=1) if len(d) > 1 else 0.0)
    return "%.0f px (limits %.0f, %.0f)" % (md, md - 1.96 * sd, md + 1.96 * sd)


def main(out, seeds, peer, dc_size, un_size, settings):
    seeds, peer = seeds.split(","), peer == "1"
    with h5py.File(os.path.join(out, "films.h5"), "r") as f:
        sp = np.array([s.decode() for s in f["meta/split"][()]])
        pid = np.array([s.decode() for s in f["meta/patient_id"][()]])
    n = {k: (int(np.sum(sp == k)), len(set(pid[sp == k]))) for k in ("train", "val", "test")}
    print("## S5 on the mini-MIAS mass films (jittered-crop benchmark)\n")
    print("CPU-sized run: %s.\n" % settings)
    print("Split by woman (films mdb(2k-1), mdb(2k) together): train %d films (%d women), val %d (%d), "
          "test %d (%d); seeds %s. Figures per test image (sensitivity, specificity, accuracy in %%, DSC "
          "as a fraction); medtrain: `medtrain evaluate` of the last weights.\n"
          % (n["train"][0], n["train"][1], n["val"][0], n["val"][1], n["test"][0], n["test"][1], ", ".join(seeds)))
    runs, peers = {}, {}
    for net in ("deconvnet", "unet"):
        runs[net] = [medtrain_images(os.path.join(out, "%s_seed%s" % (net, s))) for s in seeds]
        peers[net] = [peer_images(os.path.join(out, "peer_%s_seed%s.json" % (net, s))) if peer else None
                      for s in seeds]
    print("Mean over test images, then mean +- SD over the %d seeds:\n" % len(seeds))
    print("| net | figure | paper | medtrain | PyTorch peer |\n|---|---|---:|---:|---:|")
    for net in ("deconvnet", "unet"):
        for i, fig in enumerate(FIGS):
            print("| %s | %s | %s | %s | %s |" % (NAMES[net], fig, fmt(PAPER[net][i][0], fig),
                                                  seed_spread(runs[net], fig), seed_spread(peers[net], fig)))
    print("\nThe paper's form, mean (min; max) over test images (pooled over the seeds):\n")
    print("| net | figure | paper | medtrain | PyTorch peer |\n|---|---|---:|---:|---:|")
    for net in ("deconvnet", "unet"):
        for i, fig in enumerate(FIGS):
            p = PAPER[net][i]
            print("| %s | %s | %s (%s; %s) | %s | %s |" % (NAMES[net], fig, fmt(p[0], fig), fmt(p[1], fig),
                                                           fmt(p[2], fig), pooled_form(runs[net], fig),
                                                           pooled_form(peers[net], fig)))
    print("\nConstant-disc baseline (the centred disc of the study's crop, the same for every image), "
          "mean (min; max) over test images:\n")
    print("| crops | n | sensitivity | specificity | accuracy | DSC |\n|---|---:|---:|---:|---:|---:|")
    for name, tag, size in (("study's centred crop", "centred", dc_size), ("jittered benchmark", "jitter", dc_size)):
        b, nb = disc_baseline(os.path.join(out, "%s_%s.h5" % (tag, size)))
        print("| %s (%s px) | %d | %s |" % (name, size, nb, " | ".join(pooled_form([b], fig) for fig in FIGS)))
    print("\nBland-Altman of the mask area (gold - predicted, seed %s, pixels of the crop): %s.\n" % (
        seeds[0], "; ".join("%s %s" % (NAMES[net], bland_altman(runs[net][0])) for net in ("deconvnet", "unet")
                            if runs[net][0])))


if __name__ == "__main__":
    main(*sys.argv[1:7])
