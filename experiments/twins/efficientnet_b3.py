"""PyTorch twin of configs/models/efficientnet_b3.yaml: EfficientNet-B3 with the
semantics of tf.keras.applications.EfficientNetB3 (weights=None), written
from the Keras source as described in shared/design/models.md section 3
(keras/src/applications/efficientnet.py: DEFAULT_BLOCKS_ARGS, round_filters,
round_repeats, block(); imagenet_utils.correct_pad), not from the YAML.

Keras semantics reproduced in PyTorch (channels-first):
  * stem: Rescaling(1/255), Normalization ((x - mean) / max(sqrt(var), 1e-7),
    not adapted: mean 0, variance 1, count 0), ZeroPadding2D(correct_pad)
    then a valid 3x3/2 conv;
  * stride-2 depthwise convs: ZeroPadding2D(correct_pad(x, k)) as an explicit
    F.pad, computed from the actual input size as Keras does from its static
    shape; stride-1 convs "same" = symmetric k // 2 (odd kernels);
  * BatchNormalization eps 1e-3, momentum 0.99 (torch 0.01), the moving
    variance updated with the unbiased batch variance (Keras 2 / TF fused BN,
    which torch's BatchNorm2d also does);
  * swish = x * sigmoid(x); squeeze-excite conv biases; drop-connect as
    Dropout(rate, noise_shape=(N, 1, 1, 1)) before the residual add, only
    in blocks with an identity skip; Dropout before the dense head.
state_dict names are medtrain's: Keras layer names, with "blockNx_" as the
module "blockNx": stem_conv.weight, block2a.dwconv.weight,
block2a.se_reduce.bias, top_bn.running_var, normalization.mean,
predictions.weight, ...

build(**params) takes the graph's params (in_channels, classes, size, width,
depth, divisor, drop_connect_rate, dropout, bn_momentum, bn_eps, ...; the
others, e.g. conv_init, are accepted and ignored: the harness loads medtrain's
weights). forward(x) returns the logits [N, classes].
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# keras DEFAULT_BLOCKS_ARGS (EfficientNet-B0)
DEFAULT_BLOCKS_ARGS = [
    dict(kernel_size=3, repeats=1, filters_in=32, filters_out=16, expand_ratio=1, strides=1, se_ratio=0.25),
    dict(kernel_size=3, repeats=2, filters_in=16, filters_out=24, expand_ratio=6, strides=2, se_ratio=0.25),
    dict(kernel_size=5, repeats=2, filters_in=24, filters_out=40, expand_ratio=6, strides=2, se_ratio=0.25),
    dict(kernel_size=3, repeats=3, filters_in=40, filters_out=80, expand_ratio=6, strides=2, se_ratio=0.25),
    dict(kernel_size=5, repeats=3, filters_in=80, filters_out=112, expand_ratio=6, strides=1, se_ratio=0.25),
    dict(kernel_size=5, repeats=4, filters_in=112, filters_out=192, expand_ratio=6, strides=2, se_ratio=0.25),
    dict(kernel_size=3, repeats=1, filters_in=192, filters_out=320, expand_ratio=6, strides=1, se_ratio=0.25),
]


def round_filters(filters, width_coefficient, divisor=8):
    """keras efficientnet round_filters."""
    filters *= width_coefficient
    new_dim = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    if new_dim < 0.9 * filters:  # make sure that round down does not go down by more than 10%
        new_dim += divisor
    return int(new_dim)


def round_repeats(repeats, depth_coefficient):
    """keras efficientnet round_repeats."""
    return int(math.ceil(depth_coefficient * repeats))


def correct_pad(h, w, kernel_size):
    """keras imagenet_utils.correct_pad for an input of h x w, as F.pad's (left, right, top, bottom)."""
    adjust = (1 - h % 2, 1 - w % 2)
    correct = (kernel_size // 2, kernel_size // 2)
    return (correct[1] - adjust[1], correct[1], correct[0] - adjust[0], correct[0])


def swish(x):
    return x * torch.sigmoid(x)


def drop_connect(x, rate, training):
    """Dropout(rate, noise_shape=(None, 1, 1, 1)): keep each sample with 1 - rate, scaled by 1 / (1 - rate)."""
    if not training or rate == 0:
        return x
    keep = 1.0 - rate
    mask = torch.bernoulli(torch.full((x.shape[0], 1, 1, 1), keep, dtype=x.dtype, device=x.device))
    return x * mask / keep


class Normalization(nn.Module):
    """keras.layers.Normalization(axis=channels) before adapt(): mean 0, variance 1, count 0."""

    def __init__(self, channels):
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("variance", torch.ones(channels))
        self.register_buffer("count", torch.zeros(()))

    def forward(self, x):
        shape = (1, -1, 1, 1)
        return (x - self.mean.view(shape)) / torch.clamp(torch.sqrt(self.variance.view(shape)), min=1e-7)


class Block(nn.Module):
    """keras efficientnet block(): expand, depthwise, squeeze-excite, project, drop-connect + add."""

    def __init__(self, filters_in, filters_out, kernel_size, strides, expand_ratio, se_ratio, drop_rate, bn):
        super().__init__()
        self.kernel_size, self.strides, self.expand_ratio, self.drop_rate = kernel_size, strides, expand_ratio, drop_rate
        filters = filters_in * expand_ratio
        if expand_ratio != 1:
            self.expand_conv = nn.Conv2d(filters_in, filters, 1, bias=False)
            self.expand_bn = bn(filters)
        # stride 1: padding "same" (odd kernel: k // 2 each side); stride 2: explicit correct_pad, then valid
        self.dwconv = nn.Conv2d(filters, filters, kernel_size, stride=strides, groups=filters, bias=False,
                                padding=kernel_size // 2 if strides == 1 else 0)
        self.bn = bn(filters)
        filters_se = max(1, int(filters_in * se_ratio))
        self.se_reduce = nn.Conv2d(filters, filters_se, 1)
        self.se_expand = nn.Conv2d(filters_se, filters, 1)
        self.project_conv = nn.Conv2d(filters, filters_out, 1, bias=False)
        self.project_bn = bn(filters_out)
        self.id_skip = strides == 1 and filters_in == filters_out

    def forward(self, inputs):
        x = inputs
        if self.expand_ratio != 1:
            x = swish(self.expand_bn(self.expand_conv(x)))
        if self.strides == 2:
            x = F.pad(x, correct_pad(x.shape[2], x.shape[3], self.kernel_size))
        x = swish(self.bn(self.dwconv(x)))
        se = x.mean(dim=(2, 3), keepdim=True)  # se_squeeze + se_reshape
        se = swish(self.se_reduce(se))
        se = torch.sigmoid(self.se_expand(se))
        x = x * se  # se_excite
        x = self.project_bn(self.project_conv(x))
        if self.id_skip:
            x = drop_connect(x, self.drop_rate, self.training)
            x = x + inputs
        return x


class EfficientNet(nn.Module):
    def __init__(self, width_coefficient=1.2, depth_coefficient=1.4, dropout_rate=0.3, drop_connect_rate=0.2,
                 depth_divisor=8, in_channels=3, classes=1000, bn_momentum=0.01, bn_eps=1e-3):
        super().__init__()

        def bn(c):
            return nn.BatchNorm2d(c, eps=bn_eps, momentum=bn_momentum)

        def rf(f):
            return round_filters(f, width_coefficient, depth_divisor)

        self.normalization = Normalization(in_channels)
        self.stem_conv = nn.Conv2d(in_channels, rf(32), 3, stride=2, bias=False)
        self.stem_bn = bn(rf(32))
        self.block_names = []
        b = 0
        blocks = float(sum(round_repeats(a["repeats"], depth_coefficient) for a in DEFAULT_BLOCKS_ARGS))
        for i, args in enumerate(DEFAULT_BLOCKS_ARGS):
            args = dict(args)
            args["filters_in"] = rf(args["filters_in"])
            args["filters_out"] = rf(args["filters_out"])
            for j in range(round_repeats(args.pop("repeats"), depth_coefficient)):
                if j > 0:
                    args["strides"] = 1
                    args["filters_in"] = args["filters_out"]
                name = f"block{i + 1}{chr(j + 97)}"
                setattr(self, name, Block(drop_rate=drop_connect_rate * b / blocks, bn=bn, **args))
                self.block_names.append(name)
                b += 1
        self.top_conv = nn.Conv2d(rf(320), rf(1280), 1, bias=False)
        self.top_bn = bn(rf(1280))
        self.top_dropout = nn.Dropout(dropout_rate)
        self.predictions = nn.Linear(rf(1280), classes)

    def forward(self, x):
        x = x * (1.0 / 255.0)  # rescaling
        x = self.normalization(x)
        x = F.pad(x, correct_pad(x.shape[2], x.shape[3], 3))  # stem_conv_pad
        x = swish(self.stem_bn(self.stem_conv(x)))
        for name in self.block_names:
            x = getattr(self, name)(x)
        x = swish(self.top_bn(self.top_conv(x)))
        x = x.mean(dim=(2, 3))  # avg_pool
        x = self.top_dropout(x)
        return self.predictions(x)


def build(in_channels=3, classes=1000, width=1.2, depth=1.4, divisor=8, drop_connect_rate=0.2, dropout=0.3,
          bn_momentum=0.01, bn_eps=1e-3, **ignored):
    return EfficientNet(width_coefficient=float(width), depth_coefficient=float(depth), dropout_rate=float(dropout),
                        drop_connect_rate=float(drop_connect_rate), depth_divisor=int(divisor),
                        in_channels=int(in_channels), classes=int(classes), bn_momentum=float(bn_momentum),
                        bn_eps=float(bn_eps))


if __name__ == "__main__":
    # parameter counts (models.md 3.4): trainable, Keras non-trainable, Keras total
    for classes in (1000, 1):
        m = build(classes=classes)
        n = sum(p.numel() for p in m.parameters())
        stats = sum(t.numel() for k, t in m.state_dict().items() if not k.endswith("num_batches_tracked")) - n
        print(f"classes {classes}: {n:,} trainable + {stats:,} = {n + stats:,}")
