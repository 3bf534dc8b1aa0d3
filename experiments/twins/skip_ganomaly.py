"""Skip-GANomaly (Akcay et al., IJCNN 2019) generator and discriminator,
written from ../shared/design/models.md sections 5.2-5.4 and the reference
samet-akcay/skip-ganomaly lib/models/networks.py (UnetGenerator /
UnetSkipConnectionBlock, BasicDiscriminator, init_weights).

Generator: the pix2pix U-Net. Level k (1 = outermost) turns its input x into
concat[x, up_k(sub(down_k(x)))] (innermost: up_k(down_k(x))); the outermost
returns up_1(...) without the concat. down_1 = conv; down_k = LeakyReLU(0.2),
conv, BN (innermost: no BN); up_k = ReLU, convT, BN; up_1 = ReLU, convT with
bias, tanh. 4x4 stride-2 pad-1 kernels, no biases elsewhere. The reference's
LeakyReLU is in place (it overwrites the skip); here it is not, which gives
the same outputs and gradients because every concat feeds a ReLU
(models.md 5.2). Written recursively as the reference, with the modules
stored flat under medtrain's names (down<k>.conv, down<k>.bn, up<k>.convt,
up<k>.bn, up1.convt).

Discriminator: BasicDiscriminator's features (f1 conv + LeakyReLU, pyramid
conv-BN-LeakyReLU levels while the map is larger than 4x4, f7 = 4x4 valid conv
to nz) and classifier (3x3 pad-1 conv to 1). forward returns (logit [N],
features [N, nz, 1, 1]): the reference returns (sigmoid(logit), features).

Both init as init_weights 'normal': conv/convT weights N(0, 0.02), BN gamma
N(1, 0.02), beta 0, the up1 bias 0.

build(kind='g' | 'd', **graph params); experiments/twins/skip_ganomaly_g.py
and skip_ganomaly_d.py bind the kind for tests/net_check.c."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Down(nn.Module):
    def __init__(self, cin, cout, act, norm):
        super().__init__()
        self.act = act
        self.conv = nn.Conv2d(cin, cout, 4, 2, 1, bias=False)
        if norm:
            self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        if self.act:
            x = F.leaky_relu(x, 0.2)
        x = self.conv(x)
        return self.bn(x) if hasattr(self, "bn") else x


class Up(nn.Module):
    def __init__(self, cin, cout, outermost):
        super().__init__()
        self.outermost = outermost
        self.convt = nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=outermost)
        if not outermost:
            self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        x = self.convt(F.relu(x))
        return torch.tanh(x) if self.outermost else self.bn(x)


class UnetGenerator(nn.Module):
    def __init__(self, input_nc=1, output_nc=1, num_downs=8, ngf=64):
        super().__init__()
        self.num_downs = num_downs
        width = lambda k: ngf * min(2 ** (k - 1), 8)  # channels of level k's down output
        for k in range(1, num_downs + 1):
            cin = input_nc if k == 1 else width(k - 1)
            self.add_module("down%d" % k, Down(cin, width(k), act=k > 1, norm=1 < k < num_downs))
        for k in range(num_downs, 0, -1):
            cin = width(k) if k == num_downs else 2 * width(k)
            cout = output_nc if k == 1 else width(k - 1)
            self.add_module("up%d" % k, Up(cin, cout, outermost=k == 1))

    def block(self, k, x):
        """UnetSkipConnectionBlock of level k on its input x."""
        h = getattr(self, "down%d" % k)(x)
        if k < self.num_downs:
            h = self.block(k + 1, h)
        h = getattr(self, "up%d" % k)(h)
        return h if k == 1 else torch.cat([x, h], 1)

    def forward(self, x):
        return self.block(1, x)


class BasicDiscriminator(nn.Module):
    def __init__(self, isize=256, nz=100, nc=1, ndf=64):
        super().__init__()
        self.f1 = nn.Conv2d(nc, ndf, 4, 2, 1, bias=False)
        csize, cndf, k = isize / 2, ndf, 1
        self.levels = []
        while csize > 4:
            k += 1
            lvl = nn.Module()
            lvl.conv = nn.Conv2d(cndf, cndf * 2, 4, 2, 1, bias=False)
            lvl.bn = nn.BatchNorm2d(cndf * 2)
            self.add_module("f%d" % k, lvl)
            self.levels.append("f%d" % k)
            cndf, csize = cndf * 2, csize / 2
        self.f7 = nn.Conv2d(cndf, nz, 4, 1, 0, bias=False)
        self.cls = nn.Conv2d(nz, 1, 3, 1, 1, bias=False)

    def forward(self, x):
        x = F.leaky_relu(self.f1(x), 0.2)
        for name in self.levels:
            lvl = getattr(self, name)
            x = F.leaky_relu(lvl.bn(lvl.conv(x)), 0.2)
        features = self.f7(x)
        logit = self.cls(features).view(-1, 1).squeeze(1)
        return logit, features


def init_weights(m, std=0.02):
    """init_weights(net, 'normal', gain=0.02) of the reference."""
    for mod in m.modules():
        if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(mod.weight, 0.0, std)
            if mod.bias is not None:
                nn.init.constant_(mod.bias, 0.0)
        elif isinstance(mod, nn.BatchNorm2d):
            nn.init.normal_(mod.weight, 1.0, std)
            nn.init.constant_(mod.bias, 0.0)
    return m


def build(kind="g", in_channels=1, out_channels=1, ngf=64, num_downs=8, ndf=64, nz=100, img_size=256, init="normal",
          init_std=0.02):
    if kind == "g":
        net = UnetGenerator(int(in_channels), int(out_channels), int(num_downs), int(ngf))
    elif kind == "d":
        net = BasicDiscriminator(int(img_size), int(nz), int(in_channels), int(ndf))
    else:
        raise ValueError("kind must be 'g' or 'd', got %r" % (kind,))
    return init_weights(net, float(init_std)) if init == "normal" else net


if __name__ == "__main__":
    for kind in "gd":
        net = build(kind)
        print(kind, sum(p.numel() for p in net.parameters()),
              sum(b.numel() for n, b in net.named_buffers() if not n.endswith("num_batches_tracked")))
