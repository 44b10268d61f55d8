"""A small inpainting network that sees the whole crop at once.

Image, mask and a noise plane are pixel-unshuffled (2x2 pixels become channels), a UNet
brings them down to 1/16 of the resolution, and there residual blocks alternate with
Fourier blocks (a 1x1 convolution applied to the 2-D spectrum, as in LaMa's fast Fourier
convolutions, Suvorov et al. 2022): every output pixel depends on the whole crop, which is
what filling a large hole needs. The noise plane inside the hole is what makes different
seeds give different fills.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from desktop_app.core.models.descriptor import Architecture, TilePolicy
from desktop_app.core.models.table import register


def conv3(cin: int, cout: int, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation)


class ResBlock(nn.Module):
    def __init__(self, ch: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = conv3(ch, ch, dilation)
        self.conv2 = conv3(ch, ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.leaky_relu(self.conv1(x), 0.2))


class FourierBlock(nn.Module):
    """Residual block whose middle layer mixes channels of the real 2-D FFT: a global
    receptive field at the cost of two FFTs."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        half = ch // 2
        self.reduce = nn.Conv2d(ch, half, 1)
        self.spectral = nn.Conv2d(2 * half, 2 * half, 1)
        self.expand = nn.Conv2d(half, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.leaky_relu(self.reduce(x), 0.2)
        h, w = y.shape[-2:]
        f = torch.fft.rfft2(y.float(), norm="ortho")
        f = torch.cat([f.real, f.imag], dim=1).to(y.dtype)
        f = F.leaky_relu(self.spectral(f), 0.2).float()
        re, im = f.chunk(2, dim=1)
        y = torch.fft.irfft2(torch.complex(re, im), s=(h, w), norm="ortho").to(x.dtype)
        return x + self.expand(y)


class InpaintNet(nn.Module):
    """`forward(image, mask, noise)`: image N x 3 x H x W in [0, 1] (its hole content is
    ignored), mask N x 1 x H x W (1 = fill), noise N x 1 x H x W standard normal or None
    (zeros). H, W multiples of `size_multiple`. Returns the full image with the hole filled."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 192), middle: int = 4, unshuffle: int = 2) -> None:
        super().__init__()
        widths = tuple(widths)
        self.unshuffle = unshuffle
        cin = 5 * unshuffle**2
        self.head = conv3(cin, widths[0])
        self.enc = nn.ModuleList(ResBlock(w) for w in widths[:-1])
        self.down = nn.ModuleList(nn.Conv2d(a, b, 4, stride=2, padding=1) for a, b in zip(widths, widths[1:]))
        blocks: list[nn.Module] = []
        for i in range(middle):
            blocks.append(ResBlock(widths[-1], dilation=2 if i % 2 else 1))
            blocks.append(FourierBlock(widths[-1]))
        self.middle = nn.Sequential(*blocks)
        self.up = nn.ModuleList(nn.Conv2d(b, a * 4, 3, padding=1) for a, b in zip(widths, widths[1:]))
        self.dec = nn.ModuleList(ResBlock(w) for w in widths[:-1])
        self.fuse = nn.ModuleList(nn.Conv2d(2 * w, w, 1) for w in widths[:-1])
        self.tail = conv3(widths[0], 3 * unshuffle**2)
        self.size_multiple = unshuffle * 2 ** (len(widths) - 1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        known = (image - 0.5) * (1 - mask)
        z = torch.zeros_like(mask) if noise is None else noise * mask
        x = torch.cat([known, mask - 0.5, z], dim=1)
        x = F.pixel_unshuffle(x, self.unshuffle)
        x = F.leaky_relu(self.head(x), 0.2)
        skips = []
        for enc, down in zip(self.enc, self.down):
            x = enc(x)
            skips.append(x)
            x = F.leaky_relu(down(x), 0.2)
        x = self.middle(x)
        for up, fuse, dec, skip in zip(reversed(self.up), reversed(self.fuse), reversed(self.dec), reversed(skips)):
            x = F.leaky_relu(F.pixel_shuffle(up(x), 2), 0.2)
            x = dec(fuse(torch.cat([x, skip], dim=1)))
        out = F.pixel_shuffle(self.tail(x), self.unshuffle) + 0.5
        return image * (1 - mask) + out * mask


def _size_multiple(hp: dict) -> int:
    return hp.get("unshuffle", 2) * 2 ** (len(hp.get("widths", (32, 64, 128, 192))) - 1)


INPAINT = register(Architecture(
    id="inpaint-fourier",
    task="inpaint",
    title="Fourier UNet inpainting",
    build=InpaintNet,
    in_channels=5,
    size_multiple_of=_size_multiple,
    precisions=("fp32", "bf16"),  # its FFTs run in fp32 anyway; fp16 was never tried
    # bf16 on a CPU that has it: 1.7x faster (a 768-px window 0.87 -> 0.52 s); on 5 CBSD68 photos'
    # holes, Remove object's and Neural fill's scores moved by at most 0.05 (docs/benchmarks.md)
    cpu_bf16=True,
    # the whole working crop is one tile: the network needs all of it to fill the hole
    tiling=TilePolicy(context=0, cpu_tile=1024, gpu_tile=1024),
    default_hparams={"widths": [32, 64, 128, 192], "middle": 4, "unshuffle": 2},
))
