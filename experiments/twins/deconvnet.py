"""DeconvNet (Noh, Hong, Han, ICCV 2015) for 150x150 inputs, written from
../shared/design/models.md section 2.3: VGG16 encoder of 3x3 pad-1 convs with
bias, each followed by BatchNorm2d and ReLU; 2x2/2 max pools in Caffe ceil mode
returning their switches; fc6 (5x5 valid conv to 4096), fc7 (1x1), fc6-deconv
(5x5 transposed conv to 512), then unpooling with each pool's switches to the
pre-pool size and 3x3 pad-1 transposed convs ("deconvolutions") with BN and
ReLU, and a 1x1 score conv. State names follow medtrain's
configs/models/deconvnet.yaml ("conv1_1.conv.weight", "conv1_1.bn.running_mean",
"fc6_deconv.conv.weight", "seg_score.bias", ...)."""
import torch.nn as nn
import torch.nn.functional as F


class ConvBNReLU(nn.Module):
    def __init__(self, cin, cout, k, pad, transposed=False):
        super().__init__()
        conv = nn.ConvTranspose2d if transposed else nn.Conv2d
        self.conv = conv(cin, cout, k, padding=pad)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


ENCODER = [(1, [64, 64]), (2, [128, 128]), (3, [256] * 3), (4, [512] * 3), (5, [512] * 3)]
DECODER = [(5, [512, 512, 512]), (4, [512, 512, 256]), (3, [256, 256, 128]), (2, [128, 64]), (1, [64, 64])]


class DeconvNet(nn.Module):
    def __init__(self, in_channels=1, classes=2, fc_kernel=5, fc_channels=4096, width=1.0):
        super().__init__()
        w = lambda ch: max(1, round(ch * width))  # the YAML's width multiplier (ties to even, as medtrain)
        self.encoder = [(level, [w(o) for o in outs]) for level, outs in ENCODER]
        self.decoder = [(level, [w(o) for o in outs]) for level, outs in DECODER]
        c = in_channels
        for level, outs in self.encoder:
            for j, o in enumerate(outs, 1):
                self.add_module("conv%d_%d" % (level, j), ConvBNReLU(c, o, 3, 1))
                c = o
        self.fc6 = ConvBNReLU(c, fc_channels, fc_kernel, 0)
        self.fc7 = ConvBNReLU(fc_channels, fc_channels, 1, 0)
        top = self.encoder[-1][1][-1]
        self.fc6_deconv = ConvBNReLU(fc_channels, top, fc_kernel, 0, transposed=True)
        c = top
        for level, outs in self.decoder:
            for j, o in enumerate(outs, 1):
                self.add_module("deconv%d_%d" % (level, j), ConvBNReLU(c, o, 3, 1, transposed=True))
                c = o
        self.seg_score = nn.Conv2d(c, classes, 1)

    def forward(self, x):
        switches = {}
        for level, outs in self.encoder:
            for j in range(1, len(outs) + 1):
                x = getattr(self, "conv%d_%d" % (level, j))(x)
            size = x.shape[-2:]
            x, idx = F.max_pool2d(x, 2, 2, ceil_mode=True, return_indices=True)
            switches[level] = (idx, size)
        x = self.fc6_deconv(self.fc7(self.fc6(x)))
        for level, outs in self.decoder:
            idx, size = switches[level]
            x = F.max_unpool2d(x, idx, 2, 2, output_size=size)
            for j in range(1, len(outs) + 1):
                x = getattr(self, "deconv%d_%d" % (level, j))(x)
        return self.seg_score(x)


def build(**params):
    return DeconvNet(**params)
