#!/usr/bin/python3
"""tests/bodycomp_check.py: recomputes `medtrain quantify`'s CSV with nibabel / pydicom / numpy
and compares every number to 1e-6 relative (tests/test_quantify.c runs it).

  bodycomp_check.py CSV IMAGE --mask NAME=FILE[@IDS] ... [--slices A:B] [--muscle NAME]
                    [--sex M|F] [--height M] [--weight KG] [--reference CSV]

IMAGE: a NIfTI volume (reoriented to L,P,S with nibabel's orientation tools) or a DICOM series
folder (pydicom; slices sorted along the normal, HU = pixel * slope + intercept). Masks are NIfTI
volumes; for a DICOM image each pixel's mask value is looked up through the mask's affine from
the pixel's patient position (ImagePositionPatient + the row / column steps), so the check is
independent of medtrain's reorientation. Statistics per slice are permutation-invariant, so only
the slice order and the voxel correspondence matter. Height/weight/sex: the values medtrain must
have used (DICOM tags first, then these). T-scores: the paper's table (typed in again here) or
mean / std(ddof=1) of a cohort CSV. Exit 0 when everything agrees, 1 with the differences.
"""
import argparse
import csv
import glob
import math
import os
import sys

import nibabel as nib
import numpy as np
import pydicom

PAPER = {  # S3 table: mean, SD of SMA, SMA/Ht^2, SMA/Wt, SMA/BMI
    "M": ([186.54, 61.64, 2.24, 6.80], [32.98, 11.40, 0.27, 0.88]),
    "F": ([116.20, 44.67, 1.93, 5.02], [24.66, 8.95, 0.17, 0.47]),
}
INDEX = ["sma", "sma_ht2", "sma_wt", "sma_bmi"]


def parse_mask(arg):
    name, path = arg.split("=", 1)
    ids = None
    if "@" in path:
        path, s = path.rsplit("@", 1)
        ids = [int(v) for v in s.split(",")]
    return name, path, ids


def binarize(a, ids):
    return (a != 0) if ids is None else np.isin(a, ids)


def nifti_slices(image, masks):
    """[(hu, {name: mask}, (sx, sy))] per axial slice, z from inferior to superior."""
    img = nib.load(image)
    want = nib.orientations.axcodes2ornt(("L", "P", "S"))
    tr = nib.orientations.ornt_transform(nib.orientations.io_orientation(img.affine), want)
    hu = nib.orientations.apply_orientation(np.asarray(img.dataobj, dtype=np.float64), tr)
    zooms = img.header.get_zooms()
    perm = [int(tr[i, 0]) for i in range(3)]  # new axis of old axis i
    sp = [0.0] * 3
    for i in range(3):
        sp[perm[i]] = float(zooms[i])
    mk = {}
    for name, path, ids in masks:
        m = nib.load(path)
        assert np.allclose(m.affine, img.affine, atol=1e-3), f"{path}: affine differs from {image}"
        mk[name] = nib.orientations.apply_orientation(binarize(np.asarray(m.dataobj), ids), tr)
    return [(hu[:, :, z], {n: v[:, :, z] for n, v in mk.items()}, (sp[0], sp[1])) for z in range(hu.shape[2])], None


def dicom_slices(folder, masks):
    ds = [pydicom.dcmread(f) for f in sorted(glob.glob(os.path.join(folder, "*"))) if not os.path.basename(f).startswith(".")]
    row = np.array(ds[0].ImageOrientationPatient[:3], float)
    col = np.array(ds[0].ImageOrientationPatient[3:], float)
    normal = np.cross(row, col)
    ds.sort(key=lambda d: float(np.dot(np.array(d.ImagePositionPatient, float), normal)))
    loaded = [(parse_name, nib.load(path), ids) for parse_name, path, ids in masks]
    out = []
    for d in ds:
        hu = d.pixel_array.astype(np.float64) * float(d.RescaleSlope) + float(d.RescaleIntercept)
        dr, dc = (float(v) for v in d.PixelSpacing)  # row spacing, column spacing
        r, c = np.mgrid[0:hu.shape[0], 0:hu.shape[1]]
        ipp = np.array(d.ImagePositionPatient, float)
        lps = ipp[None, None, :] + c[..., None] * dc * row + r[..., None] * dr * col
        ras = lps * np.array([-1.0, -1.0, 1.0])
        mk = {}
        for name, m, ids in loaded:
            vox = np.rint(np.einsum("ij,hwj->hwi", np.linalg.inv(m.affine)[:3, :3], ras) + np.linalg.inv(m.affine)[:3, 3]).astype(int)
            data = np.asarray(m.dataobj)
            ok = np.all((vox >= 0) & (vox < np.array(data.shape)), axis=-1)
            vals = np.zeros(hu.shape, data.dtype)
            v = vox[ok]
            vals[ok] = data[v[:, 0], v[:, 1], v[:, 2]]
            mk[name] = binarize(vals, ids)
        out.append((hu, mk, (dc, dr)))
    meta = {"height": float(ds[0].get("PatientSize") or 0) or None, "weight": float(ds[0].get("PatientWeight") or 0) or None,
            "sex": str(ds[0].get("PatientSex") or "") or None}
    return out, meta


def stats(hu, m, sx, sy):
    a = hu[m]
    n = a.size
    return {
        "area_px": n,
        "area_cm2": n * sx * sy / 100.0,
        "hu_mean": a.mean() if n else math.nan,
        "hu_sd": a.std(ddof=1) if n > 1 else math.nan,
        "hu_min": a.min() if n else math.nan,
        "hu_max": a.max() if n else math.nan,
    }


def indices(sma, h, w):
    return [sma, sma / h**2 if h else math.nan, sma / w if w else math.nan, sma / (w / h**2) if h and w else math.nan]


def cohort(path):
    rows = list(csv.DictReader(open(path)))
    ref = {}
    for sex in ("M", "F"):
        vals = [indices(float(r["sma_cm2"]), float(r["height_m"]) if r.get("height_m") else None,
                        float(r["weight_kg"]) if r.get("weight_kg") else None) for r in rows if r["sex"].upper()[0] == sex]
        arr = np.array(vals, float)
        ref[sex] = (list(np.nanmean(arr, axis=0)), [np.std(arr[~np.isnan(arr[:, i]), i], ddof=1) for i in range(4)])
    return ref


def tclass(t):
    if math.isnan(t):
        return ""
    return "class_II" if t <= -2 + 1e-9 else "class_I" if t <= -1 + 1e-9 else "normal"


def close(a, b, rtol=1e-6):
    if isinstance(a, float) and math.isnan(a):
        return b == ""
    if b == "":
        return False
    return abs(a - float(b)) <= rtol * abs(a) + 1e-9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("image")
    ap.add_argument("--mask", action="append", required=True)
    ap.add_argument("--slices")
    ap.add_argument("--muscle", default="M")
    ap.add_argument("--sex")
    ap.add_argument("--height", type=float)
    ap.add_argument("--weight", type=float)
    ap.add_argument("--reference")
    a = ap.parse_args()
    masks = [parse_mask(m) for m in a.mask]
    if os.path.isdir(a.image):
        slices, meta = dicom_slices(a.image, masks)
    else:
        slices, meta = nifti_slices(a.image, masks)
    meta = meta or {}
    h = meta.get("height") or a.height
    w = meta.get("weight") or a.weight
    sex = meta.get("sex") if meta.get("sex") in ("M", "F") else a.sex
    ref = cohort(a.reference) if a.reference else PAPER
    rows = list(csv.DictReader(open(a.csv)))
    z0, z1 = (int(v) for v in a.slices.split(":")) if a.slices else (0, len(slices) - 1)
    bad, checked, worst = [], 0, 0.0
    if [int(r["slice"]) for r in rows] != list(range(z0, z1 + 1)):
        bad.append(f"slices {[r['slice'] for r in rows]} != {z0}..{z1}")
    for r in rows:
        hu, mk, (sx, sy) = slices[int(r["slice"])]
        expect = {"pixel_spacing_x_mm": sx, "pixel_spacing_y_mm": sy, "height_m": h, "weight_kg": w}
        for name, _, _ in masks:
            for k, v in stats(hu, mk[name], sx, sy).items():
                expect[f"{name}_{k}"] = float(v)
        sma = expect[f"{a.muscle}_area_cm2"]
        idx = indices(sma, h, w)
        mean, sd = ref[sex]
        for i, n in enumerate(INDEX):
            t = (idx[i] - mean[i]) / sd[i]
            expect[n if i else "sma_cm2"] = idx[i]
            expect["t_" + n] = t
            if r["class_" + n] != tclass(t):
                bad.append(f"slice {r['slice']} class_{n}: {r['class_' + n]} != {tclass(t)}")
        for k, v in expect.items():
            checked += 1
            if v is None:
                continue
            if not close(float(v), r[k]):
                bad.append(f"slice {r['slice']} {k}: medtrain {r[k]} numpy {v!r}")
            elif r[k] != "" and v != 0:
                worst = max(worst, abs(float(r[k]) - v) / abs(v))
    if r.get("sex") != sex:
        bad.append(f"sex {r.get('sex')} != {sex}")
    print(f"bodycomp_check: {len(rows)} rows, {checked} values, max relative difference {worst:.2e}")
    if bad:
        print("\n".join(bad[:20]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
