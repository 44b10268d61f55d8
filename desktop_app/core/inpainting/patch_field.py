"""The nearest-neighbour field of a patch fill (Barnes et al. 2009, "PatchMatch"): for every
target patch, the most similar patch lying wholly in the known pixels, improved by parallel
propagation from neighbours JUMPS px away and a random search with a shrinking radius. Patches
are compared on a PCA projection of the level's patches (FEATURE_DIMS numbers a candidate)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from desktop_app.core.inpainting.patch_pyramid import DIRECTIONS, Level

FEATURE_DIMS = 16      # PCA components patches are compared on
SUBSPACE_EXTRA = 8     # extra vectors and steps of the subspace iteration that finds them
SUBSPACE_STEPS = 4
PCA_SAMPLES = 1024     # known patches drawn per level to find them (at most as many as there are)


class Features:
    """PCA projections of the patches: one row per pixel for the sources (the flat image), one
    per target on the current estimate of the hole. A squared distance is |s|^2 + |t|^2 - 2 s.t,
    so a candidate costs one row gather and a dot product."""

    def __init__(self, sources: torch.Tensor) -> None:
        self.sources, self.source_sq = sources, sources.square().sum(1)
        self.targets = self.target_sq = sources[:0]  # set before each search, see set_targets

    def set_targets(self, targets: torch.Tensor) -> None:
        """The targets' projections on the current estimate (they change with every vote)."""
        self.targets, self.target_sq = targets, targets.square().sum(1)

    def distances(self, candidates: torch.Tensor) -> torch.Tensor:
        """(N, M) squared distances from each target to M candidate sources (flat indices)."""
        flat = candidates.reshape(-1)
        rows = self.sources.index_select(0, flat).view(*candidates.shape, -1)
        dot = torch.bmm(rows, self.targets[:, :, None])[..., 0]
        norms = self.source_sq.index_select(0, flat).view(candidates.shape)
        return (norms + self.target_sq[:, None] - 2 * dot).clamp_(min=0)


@dataclass
class Field:
    """The nearest-neighbour field: the source centre of each target patch and its distance."""

    source: torch.Tensor  # (N,) flat index of the source patch's centre
    dist: torch.Tensor    # (N,) squared distance in feature space (inf: not measured yet)


# ---------------------------------------------------------------- nearest-neighbour field
#
# Sources are flat pixel indices (y * W + x). A step that leaves the image sideways wraps onto
# another row: that is just another candidate. One that leaves it at the top or bottom is
# clamped onto the border rows, where no whole patch is centred, so it is rejected.


def _random_sources(level: Level, count: int, gen: torch.Generator) -> torch.Tensor:
    pick = torch.randint(level.sources.numel(), (count,), generator=gen, device=level.sources.device)
    return level.sources.index_select(0, pick)


def random_field(level: Level, gen: torch.Generator) -> Field:
    source = _random_sources(level, level.ty.numel(), gen)
    return Field(source, torch.full(source.shape, math.inf, device=source.device))


def upsample_field(coarse: Level, field: Field, fine: Level, gen: torch.Generator) -> Field:
    """Each fine target takes its coarse parent's displacement, scaled; where that leads to no
    whole known patch, a random source instead."""
    (ch, cw), (fh, fw) = coarse.shape, fine.shape
    ry, rx = ch / fh, cw / fw
    cy = ((fine.ty.float() + 0.5) * ry).long().clamp(coarse.box[0], coarse.box[1])
    cx = ((fine.tx.float() + 0.5) * rx).long().clamp(coarse.box[2], coarse.box[3])
    parent = coarse.index[cy, cx]
    has = parent >= 0
    parent_source = field.source[parent.clamp(min=0)]
    sy = fine.ty + ((parent_source // cw - cy).float() / ry).round().long()
    sx = fine.tx + ((parent_source % cw - cx).float() / rx).round().long()
    inside = (sy >= 0) & (sy < fh) & (sx >= 0) & (sx < fw)
    source = sy.clamp(0, fh - 1) * fw + sx.clamp(0, fw - 1)
    ok = has & inside & fine.valid[source]
    fallback = random_field(fine, gen)
    return Field(torch.where(ok, source, fallback.source), fallback.dist)


def patchmatch_iteration(level: Level, field: Field, features: Features, gen: torch.Generator,
                          max_radius: float) -> None:
    """Parallel propagation from the neighbours JUMPS px away, then a random search around the
    current match with a halving radius, plus one uniformly random source per patch."""
    width = level.shape[1]
    for jump, neighbours in level.neighbours.items():
        has = neighbours >= 0
        shifts = torch.tensor([jump * (dy * width + dx) for dy, dx in DIRECTIONS], device=has.device)
        # the neighbour's source, shifted back, keeps the two patches' offset coherent
        their_source = field.source.index_select(0, neighbours.clamp(min=0).view(-1)).view(neighbours.shape)
        candidates = torch.where(has, their_source - shifts, -1)
        _improve(field, candidates, features, level)

    dev, count = field.source.device, level.ty.numel()
    halvings = max(int(math.log2(max_radius)) + 1, 1)
    radii = max_radius * 0.5 ** torch.arange(halvings, device=dev)[:, None]  # down to about 1 px
    jitter = ((torch.rand((count, halvings, 2), generator=gen, device=dev) * 2 - 1) * radii).round().long()
    local = field.source[:, None] + jitter[..., 0] * width + jitter[..., 1]
    _improve(field, torch.cat([local, _random_sources(level, count, gen)[:, None]], 1), features, level)


def _improve(field: Field, candidates: torch.Tensor, features: Features, level: Level) -> None:
    """Replace each target's match by the best of its candidates (N x M) where that is closer."""
    candidates = candidates.clamp(0, level.valid.numel() - 1)
    usable = level.valid.index_select(0, candidates.view(-1)).view(candidates.shape)
    dist = features.distances(candidates).masked_fill_(~usable, math.inf)
    best, pick = dist.min(1)
    better = best < field.dist
    field.source = torch.where(better, candidates.gather(1, pick[:, None])[:, 0], field.source)
    field.dist = torch.where(better, best, field.dist)


# ---------------------------------------------------------------- patch features


def _patches_at(image: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor, patch: int) -> torch.Tensor:
    """(M, C * patch * patch) patches centred at (cy, cx), in conv2d weight order."""
    d = torch.arange(patch, device=image.device) - patch // 2
    width = image.shape[2]
    offsets = (d[:, None] * width + d[None, :]).flatten()
    flat = ((cy * width + cx)[:, None] + offsets[None, :]).flatten()  # index_select: a fast gather
    taken = image.reshape(image.shape[0], -1).index_select(1, flat).view(image.shape[0], cy.numel(), -1)
    return taken.permute(1, 0, 2).reshape(cy.numel(), -1)


def eigen_patches(level: Level, gen: torch.Generator) -> torch.Tensor:
    """The leading principal components of the level's known patches, as conv2d weights
    (dims, C, patch, patch)."""
    channels, patch = level.image.shape[0], 2 * level.radius + 1
    dims = min(FEATURE_DIMS, channels * patch * patch)
    pick = _random_sources(level, min(PCA_SAMPLES, level.sources.numel()), gen)
    width = level.shape[1]
    samples = _patches_at(level.image, pick // width, pick % width, patch)
    # One intra-op thread on the CPU: these small products and the QR round differently with
    # more, the basis moves in its last bits, and the fill with it (12 % of a hole's pixels
    # between 1 and 2 threads); the thread count follows the machine's load, so the same seed
    # gave another fill on a busy machine. They cost little next to the solve.
    outer = torch.get_num_threads()
    if samples.device.type == "cpu":
        torch.set_num_threads(1)
    try:
        samples -= samples.mean(0)
        scatter = samples.T @ samples
        # the leading eigenvectors by subspace iteration: a full eigendecomposition of the
        # (channels * patch**2)-square matrix cost as much as the rest of a small level's solve
        basis = torch.randn(scatter.shape[0], dims + SUBSPACE_EXTRA, generator=gen, device=scatter.device)
        for _ in range(SUBSPACE_STEPS):
            basis, _ = torch.linalg.qr(scatter @ basis)
        _, vectors = torch.linalg.eigh((basis.T @ scatter @ basis).double())  # eigenvalues ascending
        leading = basis @ vectors[:, -dims:].float()
    finally:
        torch.set_num_threads(outer)
    return leading.T.reshape(dims, channels, patch, patch).contiguous()


def source_features(level: Level, basis: torch.Tensor) -> torch.Tensor:
    """(H*W, dims) projection of the patch centred at each pixel (zero near the border)."""
    radius = basis.shape[-1] // 2
    features = F.pad(F.conv2d(level.image[None], basis)[0], (radius,) * 4)
    return features.flatten(1).T.contiguous()


def target_features(level: Level, basis: torch.Tensor) -> torch.Tensor:
    """(N, dims) projection of each target patch, on the current estimate of the hole."""
    radius = basis.shape[-1] // 2
    y0, y1, x0, x1 = level.box
    crop = level.image[None, :, y0 - radius:y1 + radius + 1, x0 - radius:x1 + radius + 1]
    features = F.conv2d(crop, basis)[0]
    return features[:, level.ty - y0, level.tx - x0].T.contiguous()

