"""Image quality measures shared by training, the benchmarks and the self-test: PSNR, the
SSIM map, and the multi-scale sliced Wasserstein distance between sets of images.

PSNR and SSIM take images in [0, 1] (data range 1), either torch tensors N x C x H x W or
numpy arrays H x W x C; SWD takes stacks of images (N x H x W x 3 arrays or N x 3 x H x W
tensors). No Qt, no models: anything in the core may import this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


def psnr(result, reference, weight=None, clip: bool = True) -> float:
    """Peak signal-to-noise ratio in dB (peak 1) of `result` against `reference`: tensors
    or numpy arrays of one shape. `clip`: `result` clipped to [0, 1] first, as a saved file
    would hold it. `weight` (broadcast to the images): a mask of the pixels that count,
    e.g. a hole, soft values weighting the squared errors."""
    if isinstance(result, torch.Tensor):
        err = ((result.clamp(0, 1) if clip else result) - reference) ** 2
        if weight is None:
            mse = torch.mean(err).item()
        else:
            mse = (torch.sum(err * weight) / (torch.sum(weight.expand_as(err)) + 1e-8)).item()
    else:
        a = np.asarray(result, dtype=np.float64)
        err = ((np.clip(a, 0, 1) if clip else a) - np.asarray(reference, dtype=np.float64)) ** 2
        if weight is None:
            mse = float(np.mean(err))
        else:
            w = np.broadcast_to(np.asarray(weight, dtype=np.float64), err.shape)
            mse = float(np.sum(err * w) / (np.sum(w) + 1e-8))
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def ssim_map(a: torch.Tensor, b: torch.Tensor, win: int = 7) -> torch.Tensor:
    """The SSIM map of two N x C x H x W images in [0, 1], per channel, as scikit-image's
    `structural_similarity` computes it by default (uniform win x win windows, sample
    covariance, K1 0.01, K2 0.03); (win - 1) / 2 pixels smaller on every side."""
    c1, c2 = 0.01**2, 0.03**2
    mean = lambda x: F.avg_pool2d(x, win, stride=1)  # noqa: E731
    mu_a, mu_b = mean(a), mean(b)
    unbias = win * win / (win * win - 1)
    var_a = (mean(a * a) - mu_a**2) * unbias
    var_b = (mean(b * b) - mu_b**2) * unbias
    cov = (mean(a * b) - mu_a * mu_b) * unbias
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


def ssim(a: np.ndarray, b: np.ndarray, win: int = 7) -> float:
    """Mean SSIM of two H x W x C (or H x W) images in [0, 1], over the pixels whose whole
    window lies inside the image (scikit-image's default mean, within float rounding)."""
    def as_tensor(x):
        x = np.asarray(x, dtype=np.float64)
        x = x[..., None] if x.ndim == 2 else x
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]

    return float(ssim_map(as_tensor(a), as_tensor(b), win).mean())


# -- sliced Wasserstein distance (Karras et al., 2018, "Progressive growing of GANs") ------


@dataclass(frozen=True)
class SwdResult:
    """SWD x 1000 per Laplacian-pyramid level, finest first (the paper's convention), with
    the resolution of each level; `mean` is their average."""

    levels: tuple[float, ...]
    resolutions: tuple[int, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.levels))


_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16


def _blur(x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """The 5-tap binomial filter of the paper's pyramid, separably, mirrored at the edges."""
    n, c, h, w = x.shape
    k = _BINOMIAL.to(x) * gain**0.5
    flat = F.pad(x.reshape(n * c, 1, h, w), (2, 2, 2, 2), mode="reflect")
    flat = F.conv2d(F.conv2d(flat, k.view(1, 1, 5, 1)), k.view(1, 1, 1, 5))
    return flat.reshape(n, c, h, w)


def _pyramid_down(x: torch.Tensor) -> torch.Tensor:
    return _blur(x)[:, :, ::2, ::2]


def _pyramid_up(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    up = torch.zeros(x.shape[0], x.shape[1], *shape, dtype=x.dtype)
    up[:, :, ::2, ::2] = x
    return _blur(up, gain=4.0)  # each kept pixel stands for four


def laplacian_pyramid(images: torch.Tensor, min_resolution: int = 16) -> list[torch.Tensor]:
    """Band-pass levels of N x C x H x W images, finest first, down to the first level
    whose shorter side is at most `min_resolution`, which stays low-pass."""
    levels = []
    g = images
    while min(g.shape[-2:]) > min_resolution:
        down = _pyramid_down(g)
        levels.append(g - _pyramid_up(down, tuple(g.shape[-2:])))
        g = down
    levels.append(g)
    return levels


def _descriptors(level: torch.Tensor, per_image: int, patch: int, gen: torch.Generator) -> torch.Tensor:
    """`per_image` random `patch` x `patch` neighbourhoods of each image: M x C x patch x patch."""
    n, c, h, w = level.shape
    ys = torch.randint(h - patch + 1, (n, per_image), generator=gen)
    xs = torch.randint(w - patch + 1, (n, per_image), generator=gen)
    offsets = torch.arange(patch)
    rows = (ys[..., None] + offsets)[..., :, None]  # n x k x patch x 1
    cols = (xs[..., None] + offsets)[..., None, :]  # n x k x 1 x patch
    img = torch.arange(n)[:, None, None, None]
    picked = level.permute(0, 2, 3, 1)[img, rows, cols]  # n x k x patch x patch x C
    return picked.reshape(n * per_image, patch, patch, c).permute(0, 3, 1, 2)


def _normalised(desc: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    mean = ref.mean(dim=(0, 2, 3), keepdim=True)
    std = ref.std(dim=(0, 2, 3), keepdim=True) + 1e-8
    return ((desc - mean) / std).flatten(1)


def _quantiles(sorted_rows: np.ndarray, count: int) -> np.ndarray:
    """`count` evenly spaced quantiles of each sorted row of a D x M array."""
    m = sorted_rows.shape[1]
    if m == count:
        return sorted_rows
    idx = np.clip(np.round((np.arange(count) + 0.5) * m / count - 0.5), 0, m - 1).astype(np.int64)
    return sorted_rows[:, idx]


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, directions: int, gen: torch.Generator,
                       per_batch: int = 128) -> float:
    """Mean over random unit directions of the 1-D Wasserstein-1 distance between the
    projections of point sets a (M x D) and b (K x D); unequal sizes are compared by
    quantiles."""
    count = min(a.shape[0], b.shape[0])
    dists = []
    for start in range(0, directions, per_batch):
        dirs = torch.randn(a.shape[1], min(per_batch, directions - start), generator=gen)
        dirs /= dirs.norm(dim=0, keepdim=True)
        # numpy sorts rows several times faster than torch.sort on the CPU
        pa = _quantiles(np.sort((dirs.T @ a.T).numpy(), axis=1), count)
        pb = _quantiles(np.sort((dirs.T @ b.T).numpy(), axis=1), count)
        dists.append(float(np.mean(np.abs(pa - pb))))
    return float(np.mean(dists))


def _as_tensor(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        return images.detach().float().cpu()  # already N x C x H x W
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError("expected a stack of images, N x H x W x C")
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


@torch.inference_mode()
def swd(real: np.ndarray, fake: np.ndarray, *, descriptors_per_image: int = 128, patch: int = 7,
        directions: int = 512, min_resolution: int = 16, seed: int = 0, normalise: str = "each") -> SwdResult:
    """Multi-scale sliced Wasserstein distance between two sets of images of one size
    (N x H x W x 3 float arrays, or N x 3 x H x W tensors), as in Karras et al. 2018: per
    Laplacian-pyramid level, `descriptors_per_image` random 7 x 7 neighbourhoods (all
    channels) per image, each channel normalised to zero mean and unit variance, and the
    sliced Wasserstein distance over `directions` random directions. Lower is closer;
    x 1000 as in the paper. The neighbourhoods and directions come from `seed`, so a set
    compared with itself gives 0.

    `normalise`: "each" normalises each set with its own statistics (the paper; blind to a
    global colour cast or contrast change), "real" normalises both with the real set's
    statistics (sees those too)."""
    if normalise not in ("each", "real"):
        raise ValueError("normalise must be 'each' or 'real'")
    a, b = _as_tensor(real), _as_tensor(fake)
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"both sets need images of one size; got {tuple(a.shape[2:])} and {tuple(b.shape[2:])}")
    if min(a.shape[-2:]) < patch:
        raise ValueError(f"images must be at least {patch} pixels")
    levels, resolutions = [], []
    for i, (la, lb) in enumerate(zip(laplacian_pyramid(a, min_resolution), laplacian_pyramid(b, min_resolution))):
        da = _descriptors(la, descriptors_per_image, patch, torch.Generator().manual_seed(seed * 1009 + i))
        db = _descriptors(lb, descriptors_per_image, patch, torch.Generator().manual_seed(seed * 1009 + i))
        na = _normalised(da, da)
        nb = _normalised(db, db if normalise == "each" else da)
        gen = torch.Generator().manual_seed(seed * 7919 + i)
        levels.append(1e3 * sliced_wasserstein(na, nb, directions, gen))
        resolutions.append(int(min(la.shape[-2:])))
    return SwdResult(tuple(levels), tuple(resolutions))


__all__ = ["SwdResult", "laplacian_pyramid", "psnr", "sliced_wasserstein", "ssim", "ssim_map", "swd"]
