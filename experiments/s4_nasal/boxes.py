#!/usr/bin/python3
"""experiments/s4_nasal/boxes.py A.h5 B.h5 OUT.png: the nasal-bone boxes of two annotators
(the same films imported with each one's landmarks, `medtrain import --box_points l2,l15`):
per-film IoU (pixel-centre inclusive bounds, docs/dataset.md) printed as mean / min / max,
and a contact sheet of every film's nasal region with both boxes (red: A, cyan: B) and the
landmarks l2, l15, l18 of A (yellow dots)."""
import sys

import h5py
import numpy as np
from PIL import Image, ImageDraw


def iou(p, q):
    ix = max(0.0, min(p[2], q[2]) - max(p[0], q[0]) + 1)
    iy = max(0.0, min(p[3], q[3]) - max(p[1], q[1]) + 1)
    area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)
    return ix * iy / (area(p) + area(q) - ix * iy)


def main(a_path, b_path, png):
    with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
        ba, bb = a["boxes"][()], b["boxes"][()]
        imgs, pts = a["images"][()], a["points"][()]
        src = [s.decode() for s in a["meta/source"][()]]
    assert len(ba) == len(bb) == len(imgs), "one box per film in both files"
    u = np.array([iou(ba[i, 1:5], bb[i, 1:5]) for i in range(len(ba))])
    print("annotator box IoU over %d films: mean %.3f, min %.3f (%s), max %.3f" %
          (len(u), u.mean(), u.min(), src[int(u.argmin())].split("/")[-1], u.max()))
    tiles = []
    for i in range(len(imgs)):
        x0, y0, x1, y1 = ba[i, 1:5]
        cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, 1.6 * max(x1 - x0, y1 - y0)
        ox, oy = int(cx - side / 2), int(cy - side / 2)
        im = Image.fromarray((np.clip(imgs[i, 0], 0, 1) * 255).astype(np.uint8)).convert("RGB")
        d = ImageDraw.Draw(im)
        d.rectangle([x0, y0, x1, y1], outline=(255, 60, 60))
        d.rectangle(list(bb[i, 1:5]), outline=(60, 220, 255))
        for x, y in pts[i]:
            if np.isfinite(x):
                d.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=(255, 230, 0))
        tile = im.crop((ox, oy, ox + int(side), oy + int(side))).resize((128, 128), Image.BILINEAR)
        ImageDraw.Draw(tile).text((3, 2), "%s IoU %.2f" % (src[i].split("/")[-1][:3], u[i]), fill=(255, 255, 255))
        tiles.append(tile)
    cols = 6
    sheet = Image.new("RGB", (cols * 130, ((len(tiles) + cols - 1) // cols) * 130), (0, 0, 0))
    for k, t in enumerate(tiles):
        sheet.paste(t, ((k % cols) * 130, (k // cols) * 130))
    sheet.save(png)


if __name__ == "__main__":
    main(*sys.argv[1:4])
