"""PyTorch twin of configs/models/inception_resnet_v2.yaml: InceptionResNetV2
exactly as tf.keras.applications.InceptionResNetV2 (keras-team/keras
keras/src/applications/inception_resnet_v2.py, shared/design/models.md
section 4), written from that description with plain torch.nn modules and
Keras semantics reproduced by hand:
  * conv2d_bn: Conv2D without bias, BatchNormalization(scale=False) = beta
    only (no gamma), eps 1e-3, Keras momentum 0.99, then ReLU; the BN is
    written out (batch mean / biased variance for normalising, the running
    variance updated with the unbiased one as TF's fused kernel and PyTorch
    do, or the biased one as Keras 3 with bn_unbiased_var=false);
  * TF "same" padding computed by the TF rule and applied with F.pad;
  * AveragePooling2D(3, 1, 'same'): the sum over the window divided by the
    number of in-image pixels (padding excluded from the divisor);
  * Inception-ResNet blocks: branches concatenated, 1x1 conv with bias back
    to the input width, x + scale * r, ReLU (the last block8: scale 1, no
    ReLU);
  * head: global average pool + Dense; forward returns the logits (Keras's
    softmax belongs to the loss).
state_dict names equal medtrain's: "stem.conv1.conv.weight",
"block35_3.branch2_2.bn.bias", "block35_3.conv.weight|bias", "conv_7b.bn.*",
"predictions.weight|bias"; BN buffers running_mean, running_var,
num_batches_tracked.

build(**params): in_channels (3), classes (1000), bn_momentum (0.01, PyTorch
convention), bn_eps (1e-3), bn_unbiased_var (true); size and init are
accepted and ignored (the net takes any input >= 75; weights are loaded).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _flag(v):
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "on")
    return bool(v)


def tf_same_pad(x, kh, kw, sh, sw):
    """Pads x [N, C, H, W] as TensorFlow's padding='SAME' would (extra pixel bottom/right)."""
    h, w = x.shape[2], x.shape[3]
    oh, ow = math.ceil(h / sh), math.ceil(w / sw)
    ph = max((oh - 1) * sh + kh - h, 0)
    pw = max((ow - 1) * sw + kw - w, 0)
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class KerasBatchNorm(nn.Module):
    """BatchNormalization(scale=False): y = (x - mean) / sqrt(var + eps) + beta."""

    def __init__(self, channels, eps, momentum, unbiased_running_var):
        super().__init__()
        self.eps = eps
        self.momentum = momentum  # PyTorch convention: running = (1 - m) running + m batch
        self.unbiased = unbiased_running_var
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if self.training:
            mean = x.mean(dim=(0, 2, 3))
            var = ((x - mean[None, :, None, None]) ** 2).mean(dim=(0, 2, 3))
            n = x.numel() // x.shape[1]
            with torch.no_grad():
                v = var * n / (n - 1) if self.unbiased else var
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean.detach())
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * v.detach())
                self.num_batches_tracked += 1
        else:
            mean, var = self.running_mean, self.running_var
        inv = 1.0 / torch.sqrt(var + self.eps)
        return (x - mean[None, :, None, None]) * inv[None, :, None, None] + self.bias[None, :, None, None]


class ConvBN(nn.Module):
    """Keras conv2d_bn(x, filters, kernel_size, strides, padding): Conv2D(use_bias=False) -> BN -> ReLU."""

    def __init__(self, cin, cout, kernel, stride=1, padding="same", bn=None):
        super().__init__()
        self.k = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
        self.stride = stride
        self.same = padding == "same"
        self.conv = nn.Conv2d(cin, cout, self.k, stride=stride, bias=False)
        self.bn = KerasBatchNorm(cout, **bn)

    def forward(self, x):
        if self.same:
            x = tf_same_pad(x, self.k[0], self.k[1], self.stride, self.stride)
        return F.relu(self.bn(self.conv(x)))


def avg_pool_3x3_same_exclude_pad(x):
    """AveragePooling2D(3, strides=1, padding='same'): window sum / number of real pixels."""
    s = F.avg_pool2d(F.pad(x, (1, 1, 1, 1)), 3, stride=1, count_include_pad=True) * 9.0
    ones = torch.ones(1, 1, x.shape[2], x.shape[3], dtype=x.dtype, device=x.device)
    cnt = F.avg_pool2d(F.pad(ones, (1, 1, 1, 1)), 3, stride=1, count_include_pad=True) * 9.0
    return s / cnt


class Stem(nn.Module):
    def __init__(self, cin, bn):
        super().__init__()
        self.conv1 = ConvBN(cin, 32, 3, stride=2, padding="valid", bn=bn)
        self.conv2 = ConvBN(32, 32, 3, padding="valid", bn=bn)
        self.conv3 = ConvBN(32, 64, 3, bn=bn)
        self.conv4 = ConvBN(64, 80, 1, padding="valid", bn=bn)
        self.conv5 = ConvBN(80, 192, 3, padding="valid", bn=bn)

    def forward(self, x):
        x = self.conv3(self.conv2(self.conv1(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.conv5(self.conv4(x))
        return F.max_pool2d(x, 3, stride=2)


class Mixed5b(nn.Module):  # Inception-A, 192 -> 320
    def __init__(self, bn):
        super().__init__()
        self.branch0 = ConvBN(192, 96, 1, bn=bn)
        self.branch1_1 = ConvBN(192, 48, 1, bn=bn)
        self.branch1_2 = ConvBN(48, 64, 5, bn=bn)
        self.branch2_1 = ConvBN(192, 64, 1, bn=bn)
        self.branch2_2 = ConvBN(64, 96, 3, bn=bn)
        self.branch2_3 = ConvBN(96, 96, 3, bn=bn)
        self.branch3 = ConvBN(192, 64, 1, bn=bn)

    def forward(self, x):
        b0 = self.branch0(x)
        b1 = self.branch1_2(self.branch1_1(x))
        b2 = self.branch2_3(self.branch2_2(self.branch2_1(x)))
        b3 = self.branch3(avg_pool_3x3_same_exclude_pad(x))
        return torch.cat([b0, b1, b2, b3], dim=1)


class Mixed6a(nn.Module):  # Reduction-A, 320x35x35 -> 1088x17x17
    def __init__(self, bn):
        super().__init__()
        self.branch0 = ConvBN(320, 384, 3, stride=2, padding="valid", bn=bn)
        self.branch1_1 = ConvBN(320, 256, 1, bn=bn)
        self.branch1_2 = ConvBN(256, 256, 3, bn=bn)
        self.branch1_3 = ConvBN(256, 384, 3, stride=2, padding="valid", bn=bn)

    def forward(self, x):
        b0 = self.branch0(x)
        b1 = self.branch1_3(self.branch1_2(self.branch1_1(x)))
        return torch.cat([b0, b1, F.max_pool2d(x, 3, stride=2)], dim=1)


class Mixed7a(nn.Module):  # Reduction-B, 1088x17x17 -> 2080x8x8
    def __init__(self, bn):
        super().__init__()
        self.branch0_1 = ConvBN(1088, 256, 1, bn=bn)
        self.branch0_2 = ConvBN(256, 384, 3, stride=2, padding="valid", bn=bn)
        self.branch1_1 = ConvBN(1088, 256, 1, bn=bn)
        self.branch1_2 = ConvBN(256, 288, 3, stride=2, padding="valid", bn=bn)
        self.branch2_1 = ConvBN(1088, 256, 1, bn=bn)
        self.branch2_2 = ConvBN(256, 288, 3, bn=bn)
        self.branch2_3 = ConvBN(288, 320, 3, stride=2, padding="valid", bn=bn)

    def forward(self, x):
        b0 = self.branch0_2(self.branch0_1(x))
        b1 = self.branch1_2(self.branch1_1(x))
        b2 = self.branch2_3(self.branch2_2(self.branch2_1(x)))
        return torch.cat([b0, b1, b2, F.max_pool2d(x, 3, stride=2)], dim=1)


class InceptionResNetBlock(nn.Module):
    """Keras inception_resnet_block(x, scale, block_type, block_idx, activation)."""

    # per block type: branches as lists of (filters, kernel); the first conv of each reads x
    BRANCHES = {
        "block35": [[(32, 1)], [(32, 1), (32, 3)], [(32, 1), (48, 3), (64, 3)]],
        "block17": [[(192, 1)], [(128, 1), (160, (1, 7)), (192, (7, 1))]],
        "block8": [[(192, 1)], [(192, 1), (224, (1, 3)), (256, (3, 1))]],
    }

    def __init__(self, block_type, channels, scale, relu, bn):
        super().__init__()
        self.scale = scale
        self.relu = relu
        self.branches = []
        width = 0
        for b, convs in enumerate(self.BRANCHES[block_type]):
            names, cin = [], channels
            for j, (filters, k) in enumerate(convs):
                name = f"branch{b}" if len(convs) == 1 else f"branch{b}_{j + 1}"
                self.add_module(name, ConvBN(cin, filters, k, bn=bn))
                names.append(name)
                cin = filters
            self.branches.append(names)
            width += cin
        self.conv = nn.Conv2d(width, channels, 1, bias=True)  # Keras <block>_<idx>_conv

    def forward(self, x):
        outs = []
        for names in self.branches:
            y = x
            for n in names:
                y = getattr(self, n)(y)
            outs.append(y)
        r = self.conv(torch.cat(outs, dim=1))
        y = x + self.scale * r
        return F.relu(y) if self.relu else y


class InceptionResNetV2(nn.Module):
    def __init__(self, in_channels=3, classes=1000, bn_momentum=0.01, bn_eps=1e-3, bn_unbiased_var=True):
        super().__init__()
        bn = dict(eps=float(bn_eps), momentum=float(bn_momentum), unbiased_running_var=_flag(bn_unbiased_var))
        self.stem = Stem(in_channels, bn)
        self.mixed_5b = Mixed5b(bn)
        self.blocks = []
        for i in range(1, 11):
            self._block(f"block35_{i}", InceptionResNetBlock("block35", 320, 0.17, True, bn))
        self.mixed_6a = Mixed6a(bn)
        for i in range(1, 21):
            self._block(f"block17_{i}", InceptionResNetBlock("block17", 1088, 0.1, True, bn))
        self.mixed_7a = Mixed7a(bn)
        for i in range(1, 10):
            self._block(f"block8_{i}", InceptionResNetBlock("block8", 2080, 0.2, True, bn))
        self._block("block8_10", InceptionResNetBlock("block8", 2080, 1.0, False, bn))
        self.conv_7b = ConvBN(2080, 1536, 1, bn=bn)
        self.predictions = nn.Linear(1536, classes)

    def _block(self, name, module):
        self.add_module(name, module)
        self.blocks.append(name)

    def forward(self, x):
        x = self.mixed_5b(self.stem(x))
        for name in self.blocks[:10]:
            x = getattr(self, name)(x)
        x = self.mixed_6a(x)
        for name in self.blocks[10:30]:
            x = getattr(self, name)(x)
        x = self.mixed_7a(x)
        for name in self.blocks[30:]:
            x = getattr(self, name)(x)
        x = self.conv_7b(x)
        return self.predictions(x.mean(dim=(2, 3)))


def build(in_channels=3, classes=1000, size=299, bn_momentum=0.01, bn_eps=1e-3, bn_unbiased_var=True,
          init=None, **unused):
    if unused:
        raise TypeError(f"inception_resnet_v2 twin: unknown params {sorted(unused)}")
    return InceptionResNetV2(int(in_channels), int(classes), bn_momentum, bn_eps, bn_unbiased_var)


if __name__ == "__main__":
    m = build(classes=1000)
    n_par = sum(p.numel() for p in m.parameters())
    n_stat = sum(b.numel() for k, b in m.named_buffers() if k.endswith(("running_mean", "running_var")))
    print(f"parameters {n_par}  BN statistics {n_stat}  Keras total {n_par + n_stat}")
