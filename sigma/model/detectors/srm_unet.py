"""A compact IML detector of the noise-residual family (SRM filters as in RGB-N, ManTra-Net, MVSS-Net),
trained from scratch: fixed high-pass residuals beside the colour image, a four-level conv encoder,
a U-Net decoder. It sees re-rendering and inpainting traces rather than objects: a second,
different architecture beside the ImageNet-pretrained ``mobilenet_unet``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sigma.model.blocks import ConvNormAct
from sigma.model.detectors.base import Detector

# The three SRM kernels of RGB-N (Zhou et al. 2018), each normalised by its own scale.
SRM_KERNELS = (
    [[0, 0, 0, 0, 0], [0, -1, 2, -1, 0], [0, 2, -4, 2, 0], [0, -1, 2, -1, 0], [0, 0, 0, 0, 0]],
    [[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]],
    [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -2, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
)
SRM_SCALES = (4.0, 12.0, 2.0)


class SrmFilters(nn.Module):
    """``(B, 3, H, W) -> (B, 9, H, W)``: each SRM kernel on each colour channel (fixed, not trained)."""

    weight: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        kernels = torch.tensor(SRM_KERNELS, dtype=torch.float32) / torch.tensor(SRM_SCALES)[:, None, None]
        self.register_buffer("weight", kernels.repeat_interleave(3, 0)[:, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x.repeat_interleave(3, 1), self.weight, padding=2, groups=9)


class SrmUNet(Detector):
    """Colour + SRM residuals (12 channels) -> a stride-2 stem -> encoder of ``widths`` (strides 2, 4, 8,
    16) -> U-Net decoder -> logits upsampled to the input."""

    def __init__(self, input_size: int = 128, widths: tuple[int, ...] = (16, 32, 48, 64), pretrained: bool = True):
        super().__init__(input_size)
        del pretrained  # trained from scratch: nothing to load
        self.srm = SrmFilters()
        self.stem = nn.Conv2d(12, widths[0], 4, stride=2, padding=1)  # residual traces survive a learned stride
        channels = (widths[0], *widths)
        self.down = nn.ModuleList(
            nn.Sequential(ConvNormAct(cin, cout), ConvNormAct(cout, cout))
            for cin, cout in zip(channels[:-1], widths, strict=True)
        )
        self.up = nn.ModuleList(ConvNormAct(hi + lo, lo) for hi, lo in zip(widths[:0:-1], widths[-2::-1], strict=True))
        self.head = nn.Conv2d(widths[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        x = self.stem(torch.cat([x, self.srm(x)], 1))
        skips = []
        for i, block in enumerate(self.down):
            x = block(F.max_pool2d(x, 2) if i else x)
            skips.append(x)
        for block, skip in zip(self.up, skips[-2::-1], strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], 1))
        return F.interpolate(self.head(x), size=size, mode="bilinear", align_corners=False)
