#!/usr/bin/env python3
"""experiments/s3_body_composition/table.py: the S3 report of run.sh from its outputs under OUT:
per-class DSC / IoU of the full-label model, the Table 3 IoU bins next to the paper's counts,
v1 vs v2 of the pseudo-label loop, the labeling machine time per slice next to the paper's
Table 2 (a person's time), and the quantification of one test slice (predicted vs reference).

usage: table.py OUT --k K [--settings TEXT]"""
import argparse
import csv
import json
import re
import statistics as st

PAPER_BINS = {"muscle": [26, 15, 8, 1], "sat": [39, 6, 2, 3], "vat": [14, 8, 13, 15], "merged": [23, 20, 5, 2]}
PAPER_TIME = [("ImageJ (manual)", "1284 +- 71"), ("their desktop tool", "204 +- 20"), ("their web tool", "32.9 +- 16")]
CLASSES = ["muscle", "sat", "vat"]


def mean_sd(v):
    return (st.mean(v), st.stdev(v) if len(v) > 1 else 0.0)


def fmt(v):
    m, s = mean_sd(v)
    return f"{m:.4f} +- {s:.4f}"


def per_image(ev):
    """per class (and merged) the per-image DSC and IoU lists of an eval_test.json"""
    iou = ev["per_image_iou_post"]
    n = len(iou["muscle"])
    k = len(CLASSES)
    dsc = {c: [ev["per_image_dsc_post"][i * k + j] for i in range(n)] for j, c in enumerate(CLASSES)}
    dsc["merged"] = [2 * x / (1 + x) for x in iou["merged"]]  # one confusion: DSC = 2 IoU / (1 + IoU)
    return dsc, iou, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--k", type=int, required=True)
    ap.add_argument("--settings", default="")
    a = ap.parse_args()
    runs = {r: json.load(open(f"{a.out}/{r}/eval_test.json")) for r in ("full", "v1", "v2")}
    full = runs["full"]
    dsc, iou, n = per_image(full)
    print(f"\nS3 body composition on the stand-in (settings: {a.settings})")
    print(f"test split: {n} slices of one patient (the split is by slice); reference = TotalSegmentator's")
    print("model-made masks; VAT = torso_fat (visceral + inter/intramuscular fat inside the torso)\n")
    print(f"## Per-class DSC and IoU, full-label model (15 training slices), mean +- SD over the {n} test slices")
    print("| class | DSC | IoU |")
    print("|---|---|---|")
    for c in CLASSES + ["merged"]:
        name = "merged (M+SAT+VAT as one foreground)" if c == "merged" else c
        print(f"| {name} | {fmt(dsc[c])} | {fmt(iou[c])} |")

    print(f"\n## IoU bins (paper's Table 3 form): label maps per bin, paper (of 50) | medtrain (of {n})")
    print("paper's 'all' column next to medtrain's merged label (M+SAT+VAT as one foreground)")
    bins = full["iou_bins_post"]
    names = full["iou_bin_names"]
    print("| IoU | M paper | M | SAT paper | SAT | VAT paper | VAT | all paper | merged |")
    print("|---|---|---|---|---|---|---|---|---|")
    for b, bn in enumerate(names):
        cells = []
        for c in CLASSES + ["merged"]:
            cells += [str(PAPER_BINS[c][b]), str(bins[c][b])]
        print(f"| {bn} | " + " | ".join(cells) + " |")
    share_p = sum(PAPER_BINS[c][0] for c in PAPER_BINS) / 200
    share_m = sum(bins[c][0] for c in bins) / (4 * n)
    print(f"label maps with IoU >= 0.90 (no edit needed): paper {share_p:.0%}, medtrain {share_m:.0%}")

    pl = open(f"{a.out}/pseudo_label.txt").read()
    m = re.search(r"mean DSC ([0-9.]+)", pl)
    print(f"\n## Pseudo-label loop: test DSC (mean over the {n} test slices)")
    print(f"v1: the first {a.k} training slices; v2: those {a.k} + {15 - a.k} pseudo-labelled by v1; full: all 15 true")
    print("| model | training labels | DSC mean (3 classes) | muscle | sat | vat | merged |")
    print("|---|---|---|---|---|---|---|")
    what = {"v1": f"{a.k} true", "v2": f"{a.k} true + {15 - a.k} pseudo", "full": "15 true"}
    for r in ("v1", "v2", "full"):
        ev = runs[r]
        d, _, _ = per_image(ev)
        print(f"| {r} | {what[r]} | {ev['post']['dsc']['mean']:.4f} | " +
              " | ".join(f"{st.mean(d[c]):.4f}" for c in CLASSES + ["merged"]) + " |")
    if m:
        print(f"v1's pseudo labels against the true masks they replace: mean DSC {float(m.group(1)):.4f}")

    print("\n## Labeling time per slice: MACHINE time of each method on this computer, not a person's")
    print("(one `medtrain` process per slice: start-up, reading the NIfTI volume and the method; a person's")
    print("time to draw the box and correct the mask is not included). Paper's Table 2: a person's time")
    print("| method | machine s / slice | muscle DSC (whole slice) | slices |")
    print("|---|---|---|---|")
    test_dsc_muscle = dsc["muscle"]
    for line in open(f"{a.out}/labeling_times.txt"):
        method, cnt, t0, t1 = line.split()
        cnt = int(cnt)
        per = (float(t1) - float(t0)) / cnt
        if method == "model":
            d = st.mean(test_dsc_muscle[:cnt])
            label = "model inference (`medtrain predict`, full-label U-Net)"
        else:
            vals = []
            for z in sorted_test_z(a.out, method)[:cnt]:
                txt = open(f"{a.out}/label/{method}_z{z}.txt").read()
                mm = re.search(r"DSC against [^:]*: ([0-9.]+) \(whole slice\)", txt)
                if mm:
                    vals.append(float(mm.group(1)))
            d = st.mean(vals) if vals else float("nan")
            label = {"threshold": "HU threshold (box, -29..150 HU)", "backproject": "histogram back-projection",
                     "grabcut": "GrabCut (HU-seeded, 1 round)"}[method]
        print(f"| {label} | {per:.3f} | {d:.4f} | {cnt} |")
    for name, t in PAPER_TIME:
        print(f"| paper: {name}, a person labelling M, SAT, VAT | {t} (person) | n/a | paper |")

    print("\n## Quantification of the first test slice (medtrain quantify; height 1.75 m, weight 79 kg, male)")
    rows = {}
    for src in ("pred", "ref"):
        with open(f"{a.out}/quant_{src}/quantify.csv") as f:
            rows[src] = next(csv.DictReader(f))
    print(f"slice {rows['pred']['slice']}: predicted class map vs the reference masks")
    print("| figure | predicted | reference |")
    print("|---|---|---|")
    for col in ["M_area_cm2", "M_hu_mean", "SAT_area_cm2", "SAT_hu_mean", "VAT_area_cm2", "VAT_hu_mean",
                "sma_ht2", "t_sma", "t_sma_ht2", "class_sma"]:
        print(f"| {col} | {num(rows['pred'][col])} | {num(rows['ref'][col])} |")
    print(f"overlay: {a.out}/quant_pred/*_quant.png")


def num(text):
    """a CSV cell with 2 decimals when it is a number; empty (no pixels) as n/a"""
    try:
        return f"{float(text):.2f}"
    except ValueError:
        return text or "n/a"


def sorted_test_z(out, method):
    import glob
    zs = [int(re.search(r"_z(\d+)\.txt$", p).group(1)) for p in glob.glob(f"{out}/label/{method}_z*.txt")]
    return sorted(zs)


if __name__ == "__main__":
    main()
