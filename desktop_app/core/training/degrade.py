"""Degradations that make (noisy, clean) training pairs from clean patches."""

from __future__ import annotations

import torch


def gaussian(clean: torch.Tensor, sigma_max: float, grey_fraction: float,
             gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Additive white Gaussian noise, sigma uniform in [0, sigma_max] (0-255 scale) per sample.
    A fraction of samples become grey images with the same noise in every channel, so one
    network serves colour and greyscale photos. Returns (noisy, clean, sigma N x C in [0, 1])."""
    n, c = clean.shape[:2]
    grey = torch.rand(n, generator=gen) < grey_fraction
    if grey.any():
        lum = clean[grey].mean(dim=1, keepdim=True).expand(-1, c, -1, -1)
        clean = clean.clone()
        clean[grey] = lum
    sigma = torch.rand(n, generator=gen) * (sigma_max / 255.0)
    noise = torch.randn(clean.shape, generator=gen)
    if grey.any():
        noise[grey] = noise[grey][:, :1].expand(-1, c, -1, -1)
    noisy = clean + noise * sigma[:, None, None, None]
    return noisy, clean, sigma[:, None].expand(-1, c).contiguous()
