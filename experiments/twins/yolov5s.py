"""YOLOv5s (ultralytics/yolov5 v6.0+ layout, as at tag v7.0 and HEAD), written
from ../shared/design/models.md section 6 and YOLOv5's own module definitions
(models/common.py Conv, Bottleneck, C3, SPPF; models/yolo.py parse_model,
Detect): YOLOv5's modules re-written in plain torch.

Differences from ultralytics' classes, all cosmetic:
  * names: model.<i> is l<i>, C3's m.<j> is m<j>, Detect's m.<k> is p3/p4/p5
    (p3.conv.weight is model.24.m.0.weight), equal to medtrain's
    configs/models/yolov5s.yaml;
  * forward returns the three raw head tensors [N, na, H, W, 5 + nc] (what
    Detect returns in training) in both modes; decoding (models.md 6.5) is
    left to the caller.
BatchNorm2d eps 1e-3, momentum 0.03 (YOLOv5's initialize_weights); conv
weights keep PyTorch's default init and the Detect biases get
_initialize_biases' priors.

build(in_channels=3, nc=80, img_size=640, prior_size=640, depth_multiple=0.33,
width_multiple=0.50, anchors=...): params as the graph's (img_size is only
the nominal input size)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ANCHORS = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]

# models/yolov5s.yaml (v6.0): [from, number, module, args]
BACKBONE = [
    [-1, 1, "Conv", [64, 6, 2, 2]],  # 0-P1/2
    [-1, 1, "Conv", [128, 3, 2]],  # 1-P2/4
    [-1, 3, "C3", [128]],
    [-1, 1, "Conv", [256, 3, 2]],  # 3-P3/8
    [-1, 6, "C3", [256]],
    [-1, 1, "Conv", [512, 3, 2]],  # 5-P4/16
    [-1, 9, "C3", [512]],
    [-1, 1, "Conv", [1024, 3, 2]],  # 7-P5/32
    [-1, 3, "C3", [1024]],
    [-1, 1, "SPPF", [1024, 5]],  # 9
]
HEAD = [
    [-1, 1, "Conv", [512, 1, 1]],
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [[-1, 6], 1, "Concat", [1]],  # cat backbone P4
    [-1, 3, "C3", [512, False]],  # 13
    [-1, 1, "Conv", [256, 1, 1]],
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [[-1, 4], 1, "Concat", [1]],  # cat backbone P3
    [-1, 3, "C3", [256, False]],  # 17 (P3/8-small)
    [-1, 1, "Conv", [256, 3, 2]],
    [[-1, 14], 1, "Concat", [1]],  # cat head P4
    [-1, 3, "C3", [512, False]],  # 20 (P4/16-medium)
    [-1, 1, "Conv", [512, 3, 2]],
    [[-1, 10], 1, "Concat", [1]],  # cat head P5
    [-1, 3, "C3", [1024, False]],  # 23 (P5/32-large)
    [[17, 20, 23], 1, "Detect", ["nc", "anchors"]],  # Detect(P3, P4, P5)
]


def autopad(k, p=None):
    return k // 2 if p is None else p


def make_divisible(x, divisor):
    return math.ceil(x / divisor) * divisor


class Conv(nn.Module):
    """Conv2d (no bias) + BatchNorm2d + SiLU."""

    def __init__(self, c1, c2, k=1, s=1, p=None):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, autopad(k, p), bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)

    def forward(self, x):
        return F.silu(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_, c2, 3, 1)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    """CSP bottleneck with 3 convolutions; bottlenecks registered as m0, m1, ..."""

    def __init__(self, c1, c2, n=1, shortcut=True, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.cv3 = Conv(2 * c_, c2, 1)
        self.n = n
        for j in range(n):
            self.add_module("m%d" % j, Bottleneck(c_, c_, shortcut, e=1.0))

    def forward(self, x):
        y = self.cv1(x)
        for j in range(self.n):
            y = getattr(self, "m%d" % j)(y)
        return self.cv3(torch.cat((y, self.cv2(x)), 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * 4, c2, 1, 1)
        self.k = k

    def forward(self, x):
        x = self.cv1(x)
        y1 = F.max_pool2d(x, self.k, 1, self.k // 2)
        y2 = F.max_pool2d(y1, self.k, 1, self.k // 2)
        y3 = F.max_pool2d(y2, self.k, 1, self.k // 2)
        return self.cv2(torch.cat((x, y1, y2, y3), 1))


class DetectLevel(nn.Module):
    """One of Detect's per-level 1x1 convs, with the training-mode view/permute."""

    def __init__(self, c1, na, no):
        super().__init__()
        self.conv = nn.Conv2d(c1, na * no, 1)
        self.na, self.no = na, no

    def forward(self, x):
        bs, _, ny, nx = x.shape
        return self.conv(x).view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()


class YOLOv5(nn.Module):
    def __init__(self, ch=3, nc=80, anchors=ANCHORS, gd=0.33, gw=0.50, prior_size=640):
        super().__init__()
        na = len(anchors[0]) // 2
        no = nc + 5
        chs, self.froms, self.kinds = [ch], [], []
        for i, (f, n, m, args) in enumerate(BACKBONE + HEAD):
            n = max(round(n * gd), 1) if n > 1 else n
            c1 = chs[-1] if f == -1 else None
            if m in ("Conv", "C3", "SPPF"):
                c2 = make_divisible(args[0] * gw, 8)
                if m == "Conv":
                    mod = Conv(c1, c2, *args[1:])
                elif m == "C3":
                    mod = C3(c1, c2, n, *args[1:])
                else:
                    mod = SPPF(c1, c2, *args[1:])
            elif m == "Upsample":
                mod, c2 = nn.Upsample(scale_factor=args[1], mode=args[2]), c1
            elif m == "Concat":
                mod, c2 = None, sum(chs[j + 1] if j != -1 else chs[-1] for j in f)
            else:  # Detect
                self.detect_from = f
                strides = (8, 16, 32)
                for k, j in enumerate(f):
                    lvl = DetectLevel(chs[j + 1], na, no)
                    b = lvl.conv.bias.data.view(na, -1)  # _initialize_biases
                    b[:, 4] += math.log(8 / (prior_size / strides[k]) ** 2)
                    b[:, 5:5 + nc] += math.log(0.6 / (nc - 0.99999))
                    self.add_module("p%d" % (k + 3), lvl)
                break
            if mod is not None:
                self.add_module("l%d" % i, mod)
            self.froms.append(f)
            self.kinds.append(m)
            chs.append(c2)

    def forward(self, x):
        ys = []
        for i, (f, m) in enumerate(zip(self.froms, self.kinds)):
            if m == "Concat":
                x = torch.cat([x if j == -1 else ys[j] for j in f], 1)
            else:
                x = getattr(self, "l%d" % i)(x)
            ys.append(x)
        return tuple(getattr(self, "p%d" % (k + 3))(ys[j]) for k, j in enumerate(self.detect_from))


def build(in_channels=3, nc=80, img_size=640, prior_size=640, depth_multiple=0.33, width_multiple=0.50,
          anchors=None, **unused):
    if unused:
        raise TypeError("yolov5s twin: unknown params %s" % sorted(unused))
    return YOLOv5(int(in_channels), int(nc), anchors or ANCHORS, depth_multiple, width_multiple, prior_size)


if __name__ == "__main__":
    for kw in ({}, {"nc": 1}, {"in_channels": 1, "nc": 1}):
        m = build(**kw)
        print(kw, sum(p.numel() for p in m.parameters()))
