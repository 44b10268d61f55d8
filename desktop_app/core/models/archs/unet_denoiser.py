"""A small residual UNet denoiser that works at reduced resolution.

The input is pixel-unshuffled (2x2 pixels become channels) so every layer runs at half the
resolution or less; that is what makes it train and run on a laptop CPU. With a noise map
(non-blind, like FFDNet/DRUNet) the per-channel noise level is an extra input plane; without
it the network is blind and estimates the noise itself (the real-photo model).
Convolutions have no bias, which helps a network generalise across noise levels (Mohan et
al., 2020, "Robust and interpretable blind image denoising via bias-free CNNs").
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from desktop_app.core.models.descriptor import Architecture, TilePolicy
from desktop_app.core.models.table import register


def conv3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, bias=False)


class ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = conv3(ch, ch)
        self.conv2 = conv3(ch, ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x), inplace=True))


class UNetDenoiser(nn.Module):
    """`forward(noisy, sigma)`: noisy N x C x H x W in [0, 1] (H, W multiples of
    `size_multiple`), sigma N x C (noise std on the [0, 1] scale), N x C x H x W (one per
    pixel) or None when blind. Returns the denoised image."""

    def __init__(self, channels: int = 3, widths: tuple[int, ...] = (48, 96, 192),
                 blocks: tuple[int, ...] = (1, 1, 2), noise_map: bool = True, unshuffle: int = 2) -> None:
        super().__init__()
        widths, blocks = tuple(widths), tuple(blocks)
        if len(widths) != len(blocks):
            raise ValueError("widths and blocks need one entry per level")
        self.channels, self.noise_map, self.unshuffle = channels, noise_map, unshuffle
        cin = channels * unshuffle**2 + (channels if noise_map else 0)
        self.head = conv3(cin, widths[0])
        self.down = nn.ModuleList()
        self.enc = nn.ModuleList()
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in range(len(widths) - 1):
            self.enc.append(nn.Sequential(*[ResBlock(widths[i]) for _ in range(blocks[i])]))
            self.down.append(nn.Conv2d(widths[i], widths[i + 1], 2, stride=2, bias=False))
            self.up.append(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2, bias=False))
            self.dec.append(nn.Sequential(*[ResBlock(widths[i]) for _ in range(blocks[i])]))
        self.body = nn.Sequential(*[ResBlock(widths[-1]) for _ in range(blocks[-1])])
        self.tail = conv3(widths[0], channels * unshuffle**2)
        self.size_multiple = unshuffle * 2 ** (len(widths) - 1)

    def forward(self, noisy: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        x = F.pixel_unshuffle(noisy, self.unshuffle) if self.unshuffle > 1 else noisy
        if self.noise_map:
            if sigma is None:
                raise ValueError("this model needs the noise level")
            if sigma.dim() == 4:  # a level per pixel, at the network's own resolution
                plane = F.avg_pool2d(sigma.to(x.dtype), self.unshuffle) if self.unshuffle > 1 else sigma.to(x.dtype)
            else:
                plane = sigma.to(x.dtype)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
            x = torch.cat([x, plane], dim=1)
        x = self.head(x)
        skips = []
        for enc, down in zip(self.enc, self.down):
            x = enc(x)
            skips.append(x)
            x = down(x)
        x = self.body(x)
        for up, dec, skip in zip(reversed(self.up), reversed(self.dec), reversed(skips)):
            x = dec(up(x) + skip)
        residual = self.tail(x)
        if self.unshuffle > 1:
            residual = F.pixel_shuffle(residual, self.unshuffle)
        return noisy - residual


def _size_multiple(hp: dict) -> int:
    return hp.get("unshuffle", 2) * 2 ** (len(hp.get("widths", (48, 96, 192))) - 1)


# 2048-px tiles on the CPU: with 64 px of context each side, a 12 MP photo is 4 tiles of
# 2.2-3.5 MP in place of 12 of 1.1-1.3 MP, 12.9 MP of network input in place of 14.5 (the
# network's cost per pixel is the same at both sizes, measured with OpenVINO).
_TILING = TilePolicy(context=64, cpu_tile=2048, gpu_tile=1536)

GAUSSIAN = register(Architecture(
    id="unet-denoise",
    task="denoise",
    title="UNet denoiser (noise-level map)",
    build=UNetDenoiser,
    takes_noise_map=True,
    size_multiple_of=_size_multiple,
    tiling=_TILING,
    cpu_bf16=True,  # 1.7x faster on a CPU with bf16; 0.005 dB on CBSD68 and PolyU (docs/benchmarks.md)
    default_hparams={"channels": 3, "widths": [32, 64, 128, 256], "blocks": [1, 1, 2, 2], "noise_map": True, "unshuffle": 2},
))

BLIND = register(Architecture(
    id="unet-denoise-blind",
    task="denoise-real",
    title="UNet denoiser (blind, real noise)",
    build=UNetDenoiser,
    takes_noise_map=False,
    size_multiple_of=_size_multiple,
    tiling=_TILING,
    cpu_bf16=True,  # 1.7x faster on a CPU with bf16; 0.005 dB on CBSD68 and PolyU (docs/benchmarks.md)
    default_hparams={"channels": 3, "widths": [32, 64, 128, 256], "blocks": [1, 1, 2, 2], "noise_map": False, "unshuffle": 2},
))
