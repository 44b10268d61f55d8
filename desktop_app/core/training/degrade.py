"""Degradations that make (noisy, clean) training pairs from clean patches.

Each works where the batch lies (the trainer moves it to the network's device first, so on a
GPU the blurs cost nothing); the random draws come from the caller's CPU generator and are
moved there, so a seed gives the same samples on any device."""

from __future__ import annotations

import math

import torch

from desktop_app.core.imaging.noise import LEVEL_BLUR  # the blur through which the app reads each pixel's level

GREY_TOLERANCE = 1.5 / 255  # channels this close everywhere: a black-and-white picture


def is_grey(batch: torch.Tensor) -> torch.Tensor:
    """Per sample of an N x C x H x W batch: are all its channels equal (to 8-bit rounding)?"""
    if batch.shape[1] == 1:
        return torch.ones(batch.shape[0], dtype=torch.bool)
    spread = batch.amax(dim=1) - batch.amin(dim=1)
    return spread.flatten(1).amax(dim=1) < GREY_TOLERANCE


# the levels where a photo's detail and the noise are alike in strength, where a network
# that shares its room with strong noise trails BM3D (docs/benchmarks.md)
LOW_SIGMA = 30.0


def gaussian(clean: torch.Tensor, sigma_max: float, grey_fraction: float,
             gen: torch.Generator, clip_fraction: float = 0.0,
             colour_fraction: float = 0.0, level_fraction: float = 0.0, tint: float = 0.7,
             low_fraction: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Additive white Gaussian noise, sigma uniform in [0, sigma_max] (0-255 scale) per sample.
    A fraction of samples become grey images with the same noise in every channel, so one
    network serves colour and greyscale photos; a patch of a black-and-white photo is grey
    already and always gets that noise, as the app gives a grey photo's one channel to all
    three inputs.

    `colour_fraction` of the samples first get a colour augmentation (`vivid`, channel gains
    from `tint` to 1.3), and
    `clip_fraction` of the noisy samples are stored as a file stores them (`as_file`):
    clipped to [0, 1] and quantised. The noise map stays the true sigma of the added noise.
    `level_fraction` of the samples get noise that grows with brightness, as a camera's
    (`by_level`), and then the map is that noise's standard deviation at each pixel, read as the
    app reads it: at the noisy photo's level blurred by LEVEL_BLUR px (`app_level`).
    `low_fraction` of the samples draw their sigma from [0, LOW_SIGMA] instead.
    Returns (noisy, clean, sigma in [0, 1]: N x C, or N x C x H x W with `level_fraction`)."""
    n, c = clean.shape[:2]
    if colour_fraction > 0 and c == 3:
        clean = vivid(clean, torch.rand(n, generator=gen) < colour_fraction, gen, tint)
    grey = ((torch.rand(n, generator=gen) < grey_fraction) | is_grey(clean).cpu()).to(clean.device)
    if grey.any():
        lum = clean[grey].mean(dim=1, keepdim=True).expand(-1, c, -1, -1)
        clean = clean.clone()
        clean[grey] = lum
    sigma = torch.rand(n, generator=gen) * (sigma_max / 255.0)
    if low_fraction > 0:  # drawn after the others, so runs without it keep their samples
        sigma = torch.where(torch.rand(n, generator=gen) < low_fraction, sigma * min(1.0, LOW_SIGMA / sigma_max), sigma)
    sigma = sigma.to(clean.device)
    noise = _randn(clean, gen)
    if grey.any():
        noise[grey] = noise[grey][:, :1].expand(-1, c, -1, -1)
    sd, black = sigma[:, None, None, None], None
    if level_fraction > 0:
        black = by_level(sigma, torch.rand(n, generator=gen) < level_fraction, gen).to(clean.device)
        sd = level_curve(clean, sigma, black)
    noisy = clean + noise * sd
    if clip_fraction > 0:
        noisy = as_file(noisy, torch.rand(n, generator=gen) < clip_fraction, gen)
    if black is None:
        return noisy, clean, sigma[:, None].expand(-1, c).contiguous()
    # the map as the app gives it (`imaging.noise.noise_map`): the curve read at the noisy photo's
    # level blurred by LEVEL_BLUR px, not at the clean one's, whose edges would tell the network
    # where the clean photo's edges are: a help it never has on a photo
    return noisy, clean, level_curve(app_level(noisy), sigma, black)


def by_level(sigma: torch.Tensor, which: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Each sample's noise at black as a share of its noise at white (`level_curve`): 1 (flat)
    except for the samples `which`, whose noise grows with the level as a camera's photon noise
    does (its variance linear in the level), from 5-80 % of `sigma` at black to `sigma` at white."""
    black = torch.ones(sigma.shape[0])
    if which.any():  # drawn only then, as before the map was read as the app reads it
        black = torch.where(which, 0.05 + 0.75 * torch.rand(sigma.shape[0], generator=gen), black)
    return black


def app_level(noisy: torch.Tensor) -> torch.Tensor:
    """The level at which the app reads each pixel's noise: the noisy photo blurred by LEVEL_BLUR
    px (a separable Gaussian, mirrored at the borders), each channel on its own."""
    n, c, h, w = noisy.shape
    blurred, _ = _gaussian_blur(noisy.reshape(n * c, 1, h, w), LEVEL_BLUR, radius=math.ceil(3 * LEVEL_BLUR))
    return blurred.reshape(n, c, h, w)


def level_curve(level: torch.Tensor, sigma: torch.Tensor, black: torch.Tensor) -> torch.Tensor:
    """The noise's standard deviation at each pixel of an N x C x H x W `level`: per sample,
    `sigma` at white and `black` times it at black, its variance linear in between."""
    top, black = sigma[:, None, None, None], black[:, None, None, None]
    return top * torch.sqrt(black ** 2 + (1 - black ** 2) * level.clamp(0, 1))


def as_file(noisy: torch.Tensor, which: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The samples `which` as a file holds them: clipped to [0, 1], then quantised to 8 bits
    (half of them) or 16 bits. A real photo's noise is cut off near black and white, so its
    mean there is not the clean value; a network that never saw that reads it wrongly."""
    if not which.any():
        return noisy
    out = noisy.clone()
    which = which.to(noisy.device)
    eight = torch.rand(int(which.sum()), generator=gen) < 0.5
    levels = torch.where(eight, 255.0, 65535.0)[:, None, None, None].to(noisy.device)
    out[which] = torch.round(noisy[which].clamp(0, 1) * levels) / levels
    return out


def vivid(clean: torch.Tensor, which: torch.Tensor, gen: torch.Generator, tint: float = 0.7) -> torch.Tensor:
    """Colour augmentation for the samples `which` of an N x 3 x H x W batch: a saturation
    boost (1-2.5x about each pixel's grey), a hue turn about the grey axis (any angle) and
    channel gains (`tint`-1.3), clipped to [0, 1]. The training photos hold few saturated,
    high-chroma colours; photos of flowers, fabric or paint (McMaster) are full of them. Low
    gains in some channels make a grey texture a coloured one, its detail stronger in some
    channels than in others: fine colour detail, which JPEG-stored training photos lack."""
    if not which.any():
        return clean
    k = int(which.sum())
    which = which.to(clean.device)
    x = clean[which]
    u = torch.rand(k, 5, generator=gen).to(clean.device)
    angle = (u[:, 0] * 2 - 1) * math.pi
    # rotation about the unit grey axis g (Rodrigues): R = cI + s[g]x + (1 - c) g g^T
    g = torch.full((3,), 1 / math.sqrt(3))
    cross = torch.tensor([[0.0, -g[2], g[1]], [g[2], 0.0, -g[0]], [-g[1], g[0], 0.0]]).to(clean.device)
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    g = g.to(clean.device)
    rot = cos * torch.eye(3, device=clean.device) + sin * cross + (1 - cos) * torch.outer(g, g)
    x = torch.einsum("nij,njhw->nihw", rot, x)
    grey = x.mean(dim=1, keepdim=True)
    sat = (1 + 1.5 * u[:, 1])[:, None, None, None]
    x = grey + sat * (x - grey)
    gains = (tint + (1.3 - tint) * u[:, 2:5])[:, :, None, None]
    out = clean.clone()
    out[which] = (x * gains).clamp(0, 1)
    return out


def _encode_jpeg(batch: torch.Tensor, qualities: list[int | None]) -> torch.Tensor:
    import cv2
    import numpy as np

    if all(q is None for q in qualities):
        return batch
    out = batch.clone()
    pixels = (batch.clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)
    for i, q in enumerate(qualities):
        if q is None:
            continue
        ok, buf = cv2.imencode(".jpg", pixels[i][:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(q)])
        dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255.0
        out[i] = torch.from_numpy(np.ascontiguousarray(dec)).permute(2, 0, 1).to(batch.device)
    return out


def realistic(clean: torch.Tensor, gen: torch.Generator, jpeg_probability: float = 0.6,
              gaussian_probability: float = 0.15) -> tuple[torch.Tensor, torch.Tensor, None]:
    """Camera-like noise for the blind model, per sample:

    - signal-dependent Poisson-Gaussian noise in linear light (variance a * x + b), with
      the gains drawn log-uniformly from clean to high-ISO levels;
    - camera grain: the noise split into brightness and colour parts, each blurred by its own
      random amount (colour much more: demosaicing and in-camera noise reduction leave
      colour noise in blotches; PolyU's measured noise is correlated over 4+ pixels in colour,
      about 1 pixel in brightness), with a random share left white;
    - back through the sRGB-like tone curve, clipped and quantised to 8 bits like a real file;
    - JPEG compression at a random quality for most samples;
    - some samples get plain white Gaussian noise instead, so that case is not forgotten.
    Returns (noisy, clean, None): the model is blind."""
    n, c, h, w = clean.shape
    lin = clean.clamp(0, 1) ** 2.2
    u = torch.rand(n, 4, generator=gen)
    a = (10 ** (-4.5 + 3.0 * u[:, 0])).to(clean.device)  # shot-noise gain
    b = (10 ** (-6.5 + 3.5 * u[:, 1])).to(clean.device)  # read-noise variance
    std = torch.sqrt(a[:, None, None, None] * lin + b[:, None, None, None])
    noise = camera_grain(_randn(clean, gen), gen) if c == 3 else _blur_each(_randn(clean, gen), 1.2 * u[:, 2])
    noisy_lin = (lin + std * noise).clamp(0, 1)
    noisy = noisy_lin ** (1 / 2.2)
    # some samples: plain additive white Gaussian noise in sRGB
    plain = torch.rand(n, generator=gen) < gaussian_probability
    if plain.any():
        sig = (torch.rand(int(plain.sum()), generator=gen) * 50 / 255)[:, None, None, None].to(clean.device)
        plain = plain.to(clean.device)
        noisy[plain] = (clean[plain] + sig * _randn(clean[plain], gen)).clamp(0, 1)
    qualities = [int(q) if r < jpeg_probability else None
                 for q, r in zip((55 + 40 * torch.rand(n, generator=gen)).tolist(), torch.rand(n, generator=gen).tolist())]
    noisy = _encode_jpeg(torch.round(noisy.clamp(0, 1) * 255) / 255, qualities)  # an 8-bit file
    return noisy, clean, None


# brightness and two colour-difference directions, orthonormal: the noise keeps its power
_OPPONENT = torch.tensor([[1.0, 1.0, 1.0], [1.0, -1.0, 0.0], [1.0, 1.0, -2.0]])
_OPPONENT = _OPPONENT / _OPPONENT.norm(dim=1, keepdim=True)


def camera_grain(white: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Unit-variance RGB noise (N x 3 x H x W) with a camera's grain: its brightness part
    blurred by 0.3-1.5 px, its colour part by 1.5-5 px and scaled by 0.5-1.5 (then the whole
    renormalised), and 0-40 % of the power left white."""
    n = white.shape[0]
    u = torch.rand(n, 4, generator=gen)
    opponent = _OPPONENT.to(white.device)
    opp = torch.einsum("ij,njhw->nihw", opponent, white)
    lum = _blur_each(opp[:, :1], 0.3 + 1.2 * u[:, 0])
    chroma = _blur_each(opp[:, 1:], 1.5 + 3.5 * u[:, 1]) * (0.5 + u[:, 2])[:, None, None, None].to(white.device)
    grain = torch.einsum("ji,njhw->nihw", opponent, torch.cat([lum, chroma], dim=1))
    grain = grain / grain.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
    share = 0.4 * u[:, 3][:, None, None, None].to(white.device)
    fresh = _randn(white, gen)
    return torch.sqrt(1 - share) * grain + torch.sqrt(share) * fresh


def _blur_each(noise: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Each sample's noise blurred by its own Gaussian sigma (pixels), variance restored.
    The Gaussian is separable: a row pass and a column pass (2r + 1 taps each, not (2r + 1)^2)."""
    out = noise.clone()
    for i, s in enumerate(sigmas.tolist()):
        if s < 0.2:
            continue
        blurred, k1 = _gaussian_blur(noise[i].unsqueeze(1), s, radius=max(2, math.ceil(3 * s)))
        out[i] = blurred[:, 0] / (k1 ** 2).sum()  # the 2-D kernel's norm is the 1-D one's squared
    return out


def _gaussian_blur(planes: torch.Tensor, sigma: float, radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """P x 1 x H x W planes blurred by a Gaussian of `sigma` px, mirrored at the borders; a row
    pass and a column pass (2r + 1 taps each, not (2r + 1)^2). Returns them and the 1-D kernel."""
    import torch.nn.functional as F

    r = min(radius, planes.shape[-2] - 1, planes.shape[-1] - 1)  # reflect needs r < the side
    x = torch.arange(-r, r + 1, dtype=torch.float32, device=planes.device)
    k1 = torch.exp(-(x ** 2) / (2 * sigma * sigma))
    k1 = k1 / k1.sum()
    padded = F.pad(planes, (r, r, r, r), mode="reflect")
    return F.conv2d(F.conv2d(padded, k1.view(1, 1, 1, -1)), k1.view(1, 1, -1, 1)), k1


def _randn(like: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Standard normal noise shaped as `like`, drawn from `gen` (a CPU generator, so a seed
    gives the same noise wherever training runs), on `like`'s device."""
    return torch.randn(like.shape, generator=gen).to(like.device)
