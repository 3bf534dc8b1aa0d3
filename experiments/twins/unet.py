"""U-Net twin for configs/models/unet.yaml / unet_s5.yaml: the UNet of
experiments/torch_models.py (Ronneberger et al. 2015, models.md 1.2-1.3) plus
the overlap-tile rule of models.md 1.4 (`tile` > 0: reflect-pad the image by
tile px per side, run the valid net, centre-crop its output to the image)."""
import torch.nn as nn
import torch.nn.functional as F

from torch_models import UNet, center_crop


class TiledUNet(nn.Module):
    def __init__(self, tile=0, init=None, **params):
        super().__init__()
        self.tile = tile
        self.net = UNet(**params)

    def forward(self, x):
        if not self.tile:
            return self.net(x)
        h, w = x.shape[2:]
        y = self.net(F.pad(x, (self.tile,) * 4, mode="reflect"))
        return center_crop(y, h, w)

    # state_dict names are the UNet's own ("enc1a.weight", ...), as medtrain's
    def state_dict(self, *a, **k):
        return self.net.state_dict(*a, **k)

    def load_state_dict(self, sd, strict=True):
        return self.net.load_state_dict(sd, strict=strict)

    def named_parameters(self, *a, **k):
        return self.net.named_parameters(*a, **k)

    def named_buffers(self, *a, **k):
        return self.net.named_buffers(*a, **k)


def build(**params):
    return TiledUNet(**params)
