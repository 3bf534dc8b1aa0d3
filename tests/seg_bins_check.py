#!/usr/bin/env python3
"""tests/seg_bins_check.py: numpy's merged-label confusion and S3 IoU-bin counts for
tests/test_s3_seg.c (core/metrics.h mt_confusion_merged, mt_iou_bin_counts).

usage: seg_bins_check.py PRED.f32 TARGET.f32 N K PLANE THRESHOLD IOU.f64
prints one line per image "tp fp fn tn" of (pred > thr).any(1) vs (target > 0.5).any(1),
then the four bin counts of IOU: >= 0.90, [0.80, 0.90), [0.70, 0.80), < 0.70 or NaN."""
import sys

import numpy as np

pred_path, target_path, n, k, plane, thr, iou_path = sys.argv[1:8]
n, k, plane, thr = int(n), int(k), int(plane), float(thr)
pred = np.fromfile(pred_path, dtype="<f4").reshape(n, k, plane)
target = np.fromfile(target_path, dtype="<f4").reshape(n, k, plane)
p = (pred > np.float32(thr)).any(axis=1)
t = (target > 0.5).any(axis=1)
for i in range(n):
    tp = int((p[i] & t[i]).sum()); fp = int((p[i] & ~t[i]).sum())
    fn = int((~p[i] & t[i]).sum()); tn = int((~p[i] & ~t[i]).sum())
    print(tp, fp, fn, tn)
iou = np.fromfile(iou_path, dtype="<f8")
bins = [int((iou >= 0.90).sum()), int(((iou >= 0.80) & (iou < 0.90)).sum()),
        int(((iou >= 0.70) & (iou < 0.80)).sum())]
bins.append(len(iou) - sum(bins))  # < 0.70 and NaN
print(*bins)
