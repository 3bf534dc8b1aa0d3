#!/usr/bin/python3
"""tests/reorient_check.py DATASET.h5 DICOM...: the standard axial layout of each DICOM slice
computed independently of medtrain (pydicom + numpy): every pixel's patient position (LPS)
from ImagePositionPatient / ImageOrientationPatient / PixelSpacing; output rows ordered by
posterior position (y ascending), columns by the patient's left (x ascending). Compares with
the dataset's /images (imported with `--reorient 1`, no window or resize, in the same order),
in HU; prints the largest difference and exits 1 above 1e-3."""
import sys

import h5py
import numpy as np
import pydicom


def standard(path):
    d = pydicom.dcmread(path)
    hu = d.pixel_array.astype(np.float64) * float(getattr(d, "RescaleSlope", 1)) + float(getattr(d, "RescaleIntercept", 0))
    rc, cc = np.array(d.ImageOrientationPatient[:3], float), np.array(d.ImageOrientationPatient[3:], float)
    ipp = np.array(d.ImagePositionPatient, float)
    dr, dc = (float(v) for v in d.PixelSpacing)  # row spacing, column spacing
    rows, cols = hu.shape
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    pos = ipp + c[..., None] * dc * rc + r[..., None] * dr * cc  # LPS mm
    xs = np.unique(np.round(pos[..., 0], 3))
    ys = np.unique(np.round(pos[..., 1], 3))
    out = np.full((len(ys), len(xs)), np.nan)
    out[np.searchsorted(ys, np.round(pos[..., 1], 3)), np.searchsorted(xs, np.round(pos[..., 0], 3))] = hu
    return out


def main(ds, files):
    with h5py.File(ds, "r") as f:
        imgs = f["images"][()]
    worst = 0.0
    for i, p in enumerate(files):
        want = standard(p)
        got = imgs[i, 0]
        if want.shape != got.shape or np.isnan(want).any():
            print("%s: shape %s, expected %s" % (p, got.shape, want.shape))
            return 1
        worst = max(worst, float(np.abs(got - want).max()))
    print("max |medtrain - numpy| = %.3g HU over %d slices" % (worst, len(files)))
    return 0 if worst <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
