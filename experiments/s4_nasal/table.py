#!/usr/bin/python3
"""experiments/s4_nasal/table.py OUT STRENGTH STRENGTHS SEEDS PEER SETTINGS: the S4 table of
run.sh from the runs' metrics.json (medtrain) and the peer's JSON files, in Markdown."""
import json
import math
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        return None


def test(run, key):
    m = load(os.path.join(run, "metrics.json"))
    v = (m or {}).get("test", {}).get(key)
    return float(v) if v is not None else math.nan


def spread(xs):
    xs = [x for x in xs if not math.isnan(x)]
    if not xs:
        return "n/a"
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return "%.3f +- %.3f" % (mean, sd) if len(xs) > 1 else "%.3f" % mean


def main(out, strength, strengths, seeds, peer, settings):
    strengths, seeds, peer = strengths.split(","), seeds.split(","), peer == "1"
    p = lambda name: load(os.path.join(out, name)) if peer else None
    print("## S4 on the Hamedan cephalograms (synthetic-fracture benchmark)\n")
    print("CPU-sized run: %s.\n" % settings)
    iou_txt = open(os.path.join(out, "annotator_iou.txt")).read().strip()
    print("Nasal-bone box from landmarks (nasion l2 + [-0.15, -0.12, 0.45, 0.48] x |subnasale l15 - nasion|): %s.\n"
          % iou_txt)
    crops = open(os.path.join(out, "crops.txt")).read().strip().splitlines()
    print("Crops: %s\n" % (crops[-1] if crops else "?"))
    print("C's test accuracy by defect strength (seed %s; the benchmark is the one nearest 85-95%%, the paper's 95%%):\n"
          % seeds[0])
    print("| strength | accuracy | AUC |\n|---:|---:|---:|")
    for s in strengths:
        r = os.path.join(out, "classifier_s%s_seed%s" % (s, seeds[0]))
        print("| %s%s | %.3f | %.3f |" % (s, " (benchmark)" if s == strength else "", test(r, "accuracy"), test(r, "auc")))
    det = os.path.join(out, "detector")
    pd = p("peer_detector.json") or {}
    runs = [os.path.join(out, "classifier_s%s_seed%s" % (strength, sd)) for sd in seeds]
    pc = [p("peer_classifier_seed%s.json" % sd) or {} for sd in seeds]
    pg = p("peer_gdc.json") or {}
    n_c = int(test(runs[0], "n_samples")) if not math.isnan(test(runs[0], "n_samples")) else "?"
    print("\n| figure | paper | medtrain | PyTorch peer |\n|---|---:|---:|---:|")
    print("| detector mAP@0.5 (test films) | figures only | %.3f | %s |" %
          (test(det, "map50"), "%.3f" % pd["map50"] if "map50" in pd else "n/a"))
    print("| detector mean IoU of the top box | - | %.3f | %s |" %
          (test(det, "mean_iou"), "%.3f" % pd["mean_iou"] if "mean_iou" in pd else "n/a"))
    print("| C accuracy (n = %s test crops, %d seeds) | 0.95 (SD 0.02) | %s | %s |" %
          (n_c, len(seeds), spread([test(r, "accuracy") for r in runs]), spread([q.get("accuracy", math.nan) for q in pc])))
    print("| C AUC | 0.99 (SD 0.003) | %s | %s |" %
          (spread([test(r, "auc") for r in runs]), spread([q.get("auc", math.nan) for q in pc])))
    loc = [("G-D-C step 1 change map", os.path.join(out, "gdc1"), "change", "step1"),
           ("G-D-C step 2 change map", os.path.join(out, "gdc2"), "change", "step2"),
           ("C's CAM alone", os.path.join(out, "gdc2"), "cam", "cam"),
           ("random map", os.path.join(out, "gdc2"), "random", "random")]
    for name, run, key, pkey in loc:
        q = pg.get(pkey, {})
        print("| %s: pointing game | qualitative | %.3f | %s |" %
              (name, test(run, "pointing_" + key), "%.3f" % q["pointing"] if "pointing" in q else "n/a"))
        print("| %s: IoU at the val threshold | qualitative | %.3f | %s |" %
              (name, test(run, "iou_" + key), "%.3f" % q["iou"] if "iou" in q else "n/a"))
    print("\nmedtrain's localization scores: the test split's fracture crops (%s); the threshold of each map is "
          "chosen on the val split's fracture crops. PyTorch peer: its own detector, C, G-D and G-D-C trained with "
          "the same recipe on the same files (seed %s)." % (
              "n = %d" % test(os.path.join(out, "gdc2"), "n_images") if not math.isnan(
                  test(os.path.join(out, "gdc2"), "n_images")) else "n = ?", seeds[0]))


if __name__ == "__main__":
    main(*sys.argv[1:7])
