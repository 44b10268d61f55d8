"""The app's Wiener step (`imaging.wiener`, the plain filter) in torch, differentiable in its
guide: a denoiser can then be trained for what the app shows, its result after that step,
rather than for its own result alone.

The same blocks (8 x 8 on the grids 0, 3, 6 px from the padded corner, BLOCK px mirrored each
side), gains, window and weights, the same clipping correction and opponent colours, the mix with
the guide in the table's share for the noise level (`wiener.share`; the app chooses it per photo).
Two simplifications, both on the side of the training samples: colour is filtered on every
block (the app: half of them, -0.01 dB), and the noise power in the gains is each block's mean
of the sample's own noise map (the app: read at the guide's level from the noise it measured).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from desktop_app.core.imaging import noise as N
from desktop_app.core.imaging import wiener as W

_GRIDS = [(dy, dx) for dy in range(0, W.BLOCK, W.STEP) for dx in range(0, W.BLOCK, W.STEP)]


def _clip_gain(t: torch.Tensor) -> torch.Tensor:
    """What clipping at 0 adds to the mean of a unit normal of mean t (noise.py's _CLIPPED_GAIN)."""
    return t * torch.special.ndtr(t) + torch.exp(-0.5 * t * t) / np.sqrt(2 * np.pi) - t.clamp(min=0)


def clipping_bias(level: torch.Tensor, sd: torch.Tensor) -> torch.Tensor:
    """`noise.clipping_bias` for noise of standard deviation `sd` (broadcast against `level`)."""
    sd = sd.clamp(min=1e-6)
    return sd * (_clip_gain(level / sd) - _clip_gain((level - 1) / sd)) + level.clamp(0, 1) - level


def refine(noisy: torch.Tensor, guide: torch.Tensor, sd: torch.Tensor, clipped: torch.Tensor) -> torch.Tensor:
    """The app's result after the Wiener step, for a batch: `noisy`, `guide` N x 3 x H x W;
    `sd` the noise's standard deviation N x 3 (one per channel) or N x 3 x H x W (per pixel),
    0-1 scale; `clipped` per sample (the noisy values lie in [0, 1]). Samples whose noise is under
    the step's MIN_SIGMA keep the guide."""
    n, c, h, w = noisy.shape
    if sd.dim() == 2:
        sd = sd[:, :, None, None]
    sd = sd.expand(n, c, h, w) if sd.shape[2:] != (h, w) else sd
    seen = noisy - clipping_bias(guide, sd) * clipped.to(noisy.dtype)[:, None, None, None]
    t = torch.from_numpy(N.OPPONENT).to(noisy)
    back = torch.linalg.inv(t)
    power = torch.einsum("kc,nchw->nkhw", (W.K * t * t), sd * sd).clamp(min=torch.finfo(torch.float32).tiny)
    m = W.BLOCK
    planes = [F.pad(torch.einsum("kc,nchw->nkhw", t, x), (m, m, m, m), mode="reflect") for x in (seen, guide)]
    planes.append(F.pad(power, (m, m, m, m), mode="reflect"))
    hp, wp = h + 2 * m, w + 2 * m
    dct = torch.from_numpy(W._DCT2).to(noisy)
    inverse = torch.from_numpy(W._INVERSE).to(noisy)
    window = torch.from_numpy(W._WINDOW.reshape(-1, 1)).to(noisy)
    num = noisy.new_zeros(n * c, 1, hp, wp)
    den = noisy.new_zeros(n * c, 1, hp, wp)
    for dy, dx in _GRIDS:
        bh, bw = (hp - dy) // m, (wp - dx) // m
        area = (slice(None), slice(None), slice(dy, dy + bh * m), slice(dx, dx + bw * m))
        seen_b, guide_b, power_b = (F.unfold(p[area].reshape(n * c, 1, bh * m, bw * m), m, stride=m)
                                    for p in planes)  # (n c) x 64 x blocks
        pilot = dct @ guide_b
        pilot = pilot * pilot
        gains = pilot / (pilot + power_b.mean(dim=1, keepdim=True))
        coefs = gains * (dct @ seen_b)
        weight = 1.0 / (gains * gains).sum(dim=1, keepdim=True).clamp(min=1e-6)
        estimate = (inverse.T @ coefs) * weight
        num[area] += F.fold(estimate, (bh * m, bw * m), m, stride=m)
        den[area] += F.fold(window * weight, (bh * m, bw * m), m, stride=m)
    filtered = (num / den)[:, :, m:m + h, m:m + w].reshape(n, c, h, w)
    level = sd.mean(dim=(1, 2, 3)) * 255.0
    share = torch.from_numpy(np.interp(level.detach().cpu().numpy(), W.SHARE_SIGMAS, W.SHARES)).to(noisy)
    guide_o = torch.einsum("kc,nchw->nkhw", t, guide)
    mixed = guide_o + share[:, None, None, None] * (filtered - guide_o)
    out = torch.einsum("kc,nchw->nkhw", back, mixed)
    quiet = sd.mean(dim=(2, 3)).amax(dim=1) * 255.0 < W.MIN_SIGMA  # as the app: its loudest channel
    return torch.where(quiet[:, None, None, None], guide, out)
