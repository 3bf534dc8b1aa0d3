#!/usr/bin/python3
"""tests/label_check.py: checks `medtrain label` masks against numpy (tests/test_label.c runs it).

  label_check.py threshold   MASK.png IMAGE.nii.gz SLICE x0,y0,x1,y1 LO,HI
  label_check.py backproject MASK.png IMAGE.nii.gz SLICE x0,y0,x1,y1 LEVEL,WIDTH BINS MIN_RATIO [rx0,ry0,rx1,ry1]
  label_check.py dataset     DATA.h5 MASK.png IMAGE.nii.gz SLICE TEXT

The slice is cut with nibabel: the volume reoriented to L,P,S and shown as a radiologist views it
(display[row, col] = lps[col, row, z]), the layout `medtrain import` / `predict` / `label` use.
threshold: box pixels with LO <= HU <= HI. backproject: the slice windowed to 8 bits
(rint(255 * clip((HU - LEVEL + WIDTH/2) / WIDTH, 0, 1))), the box's histogram over BINS bins
(bin = v * BINS // 256) scaled min..max -> 0..255 (OpenCV NORM_MINMAX) and looked up per pixel,
kept where >= MIN_RATIO * 255 and > 0 inside the region. dataset: the HDF5 dataset holds the
slice in HU as /images[0, 0], the PNG's mask as /masks[0, 0], and TEXT in its description.
Exit 0 when they agree, 1 otherwise (printing the number of differing pixels).
"""
import sys

import h5py
import nibabel as nib
import numpy as np
from PIL import Image


def display_slice(path, z):
    img = nib.load(path)
    want = nib.orientations.axcodes2ornt(("L", "P", "S"))
    tr = nib.orientations.ornt_transform(nib.orientations.io_orientation(img.affine), want)
    lps = nib.orientations.apply_orientation(np.asarray(img.dataobj, dtype=np.float64), tr)
    return lps[:, :, z].T


def box(s):
    x0, y0, x1, y1 = (int(v) for v in s.split(","))
    return slice(y0, y1), slice(x0, x1)


def compare(name, got, want):
    diff = int(np.count_nonzero(got != want))
    print(f"label_check {name}: {int(want.sum())} pixels expected, {int(got.sum())} in the mask, {diff} differ")
    return 0 if diff == 0 else 1


def main(argv):
    kind = argv[1]
    if kind == "dataset":
        h5, png, image, z, text = argv[2], argv[3], argv[4], int(argv[5]), argv[6]
        with h5py.File(h5, "r") as f:
            desc = f.attrs["description"]
            desc = desc.decode() if isinstance(desc, bytes) else str(desc)
            images, masks = f["images"][()], f["masks"][()]
        hu = display_slice(image, z)
        ok = text in desc and images.shape == (1, 1) + hu.shape and np.array_equal(images[0, 0], hu.astype(np.float32))
        print(f"label_check dataset: description '{desc}', images {images.shape}, masks {masks.shape}")
        mask = np.asarray(Image.open(png)) > 0
        return (0 if ok else 1) | compare("dataset mask", masks[0, 0] > 0, mask)
    got = np.asarray(Image.open(argv[2])) > 0
    hu = display_slice(argv[3], int(argv[4]))
    b = box(argv[5])
    want = np.zeros(hu.shape, bool)
    if kind == "threshold":
        lo, hi = (float(v) for v in argv[6].split(","))
        want[b] = (hu[b] >= lo) & (hu[b] <= hi)
        return compare(kind, got, want)
    level, width = (float(v) for v in argv[6].split(","))
    bins, ratio = int(argv[7]), float(argv[8])
    u8 = np.rint(np.clip((hu - (level - width / 2)) / width, 0, 1) * 255).astype(np.int64)
    hist = np.bincount((u8[b] * bins // 256).ravel(), minlength=bins).astype(np.float32)
    scale = np.float32(255.0) / (hist.max() - hist.min())
    norm = (hist - hist.min()) * scale
    bp = np.clip(np.rint(norm[u8 * bins // 256]), 0, 255)
    region = np.zeros(hu.shape, bool)
    region[box(argv[9]) if len(argv) > 9 else (slice(None), slice(None))] = True
    want = region & (bp > 0) & (bp >= ratio * 255)
    return compare(kind, got, want)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
