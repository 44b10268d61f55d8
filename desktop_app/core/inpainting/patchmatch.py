"""Patch-based hole filling ("heal selection"): multi-scale PatchMatch with EM voting.

The optimisation follows Wexler, Shechtman & Irani (2007, "Space-time completion of video"),
the nearest-neighbour search Barnes et al. (2009, "PatchMatch"):

* A pyramid is built down to a short side of 32-64 px. A coarse level counts a pixel as hole
  when any pixel under it is, so the hole grows and, with the patch size fixed, the known
  patches vanish fastest where the hole is made of many thick strokes. The solve starts at the
  coarsest level whose whole known patches still cover most of the known pixels
  (MIN_SOURCE_COVER): a level with a few dozen, all from one corner of the picture, decides a
  structure that the finer levels only refine, and filled a half-covered picture with that
  corner's texture. There the hole starts as a smooth colour diffused in from its border, and
  every patch overlapping the hole gets a random source patch.
* Patches are compared on the colours plus two texture channels (Newson et al. 2014, "Video
  inpainting of complex scenes"): the mean absolute horizontal and vertical derivative over a
  window as wide as the coarsest level's pixels. They carry the full-size texture down the
  pyramid, where plain colours are smoothed out, so a smooth estimate of the hole is not simply
  matched to the smoothest sources (which filled busy regions - glass, foliage - with smooth
  cells).
* At each level, EM iterations alternate a nearest-neighbour field (NNF) search - every patch
  overlapping the hole looks for the most similar patch lying wholly in the known pixels - and
  a vote: each hole pixel becomes the weighted mean of what the overlapping patches' matches
  put there. Weights favour good matches and patches near the hole's border.
* The NNF is scaled up to start the next finer level. The very last vote takes, for each pixel,
  the single best-weighted patch instead of the mean, so the fill keeps the sharpness and the
  colours of the source.

Everything is vectorised in torch over all patches at once, so the same code runs on CUDA.
PatchMatch's propagation is done in parallel, jump-flood style (neighbours 8, 4, 2 and 1 px
away in four directions), followed by a random search with a shrinking radius. Patches are
compared on a PCA projection (a conv2d with the level's leading eigen-patches), so a candidate
costs FEATURE_DIMS numbers instead of channels * patch**2.

This module imports torch: import it where the fill runs, not at start-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from desktop_app.core.tasks import Progress, Work

MIN_COARSE_SIDE = 32   # halve the window while its short side stays at least this
FEATURE_DIMS = 16      # PCA components patches are compared on
PCA_SAMPLES = 4096     # known patches drawn per level to find them
MIN_SOURCES = 16       # a level with fewer whole known patches is skipped
MIN_SOURCE_COVER = 0.85  # nor a coarse level where they cover less of the known pixels
TEXTURE_WEIGHT = 4.0   # scale of the texture channels (mean |derivative|) against the colours
JUMPS = (8, 4, 2, 1)   # propagation distances within one PatchMatch iteration
LOCAL_SEARCH = 32      # random-search radius (px) at the levels after the coarsest
BOUNDARY_GAMMA = 1.3   # a patch's vote weight falls by this factor per pixel deeper in the hole
LOG_FLOOR = 40.0       # each factor of a vote weight stays above exp(-this)
SMOOTHING_STEPS = 20   # relaxation of the coarsest level's initial diffused fill
VOTE_COST = 0.5        # a vote's time, in PatchMatch iterations, for the progress fraction
GUIDE_WEIGHT = 1.0     # scale of the guide channels (a coarse fill's colours) against the colours
GUIDE_SIGMA = 2.0      # blur (px at full size) of the guide and of the photo it is compared with
# Intra-op threads on the CPU. The work is many short gathers over ~1e5 elements, which gain
# little from threads, while OpenMP's spinning threads collapse when other processes load the
# cores: 512 px took 2 s with 1 thread and 34 s with 2 on a 2-core machine running a training.
CPU_THREADS = 1

# unit offsets of the four propagation neighbours: (dy, dx)
_DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1))


@dataclass
class _Level:
    """One pyramid level: the image (the hole holding the current estimate) and its patches."""

    image: torch.Tensor        # (C + 2, H, W): the colours, then the two texture channels
    hole: torch.Tensor         # (H, W) bool
    valid: torch.Tensor        # (H*W,) bool: centres of patches lying wholly in known pixels
    sources: torch.Tensor      # (S,) flat indices of those centres
    ty: torch.Tensor           # (N,) target centres: patches inside the image overlapping the hole
    tx: torch.Tensor
    index: torch.Tensor        # (H, W) target number of each pixel, -1 for non-targets
    log_depth_weight: torch.Tensor  # (N,) -log(BOUNDARY_GAMMA) * depth of the centre in the hole
    box: tuple[int, int, int, int]  # target centres' bounding box: y0, y1, x0, x1 (inclusive)
    radius: int                # patch half-size
    neighbours: dict[int, torch.Tensor]  # jump -> (N, 4) target number that far away, or -1
    guide: torch.Tensor | None = None  # (G, H, W) channels kept as they are, the last G of image

    def keep_guide(self) -> None:
        """Put the fixed guide channels back after a vote or an upscale wrote into them."""
        if self.guide is not None:
            self.image[-self.guide.shape[0]:] = self.guide

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[2]


class _Features:
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
class _Field:
    """The nearest-neighbour field: the source centre of each target patch and its distance."""

    source: torch.Tensor  # (N,) flat index of the source patch's centre
    dist: torch.Tensor    # (N,) squared distance in feature space (inf: not measured yet)


def patch_fill(image: np.ndarray, hole: np.ndarray, seed: int = 0, patch: int = 7,
               device: str = "cpu", guide: np.ndarray | None = None,
               guide_weight: float = GUIDE_WEIGHT, sharp: bool = False,
               levels: int | None = None) -> Work[np.ndarray]:
    """Fill `hole` (bool H x W, True = synthesise) of `image` (float32 H x W x C in [0, 1]) with
    patches copied from the rest of it. Pixels outside the hole come back unchanged. The same
    seed gives the same fill; other seeds give other plausible fills. Raises ValueError when
    the hole leaves no whole patch of known pixels.

    `guide` (H x W x C, only its hole pixels are read) is a coarse estimate of the hole, such
    as the network's fill: the search starts from it, and every patch is also compared on its
    blurred colours (weighted by `guide_weight`) against the blurred photo around a source, so
    the copied texture keeps to the guide's large-scale content (Image Analogies' guidance
    channels; Content-Aware Fill's "structure" term).

    `sharp`: every vote at full size takes the best patch's pixels instead of the weighted mean
    (the mean of a few misaligned textures is smoother than any of them). `levels`: solve only
    the finest this many pyramid levels (with a guide that already holds the layout: a fill
    computed at a smaller scale, brought to full size)."""
    source_image, hole = _checked(image, hole, patch)
    if not hole.any():
        return np.array(image, dtype=np.float32, copy=True)
    dev = torch.device(device)
    guide_t = None
    if guide is not None:
        guide = np.asarray(guide, dtype=np.float32).reshape(source_image.shape)
        blurred = cv2.GaussianBlur(np.where(hole[:, :, None], guide, source_image), (0, 0), GUIDE_SIGMA,
                                   borderType=cv2.BORDER_REFLECT).reshape(source_image.shape)
        guide_t = torch.from_numpy(blurred.transpose(2, 0, 1).copy()).to(dev)
    work = _fill(torch.from_numpy(source_image.transpose(2, 0, 1).copy()).to(dev),
                 torch.from_numpy(hole).to(dev), seed, patch, guide_t, guide_weight, sharp, levels)
    filled = yield from (_with_cpu_threads(work, CPU_THREADS) if dev.type == "cpu" else work)
    out = source_image.copy()
    out[hole] = filled.permute(1, 2, 0).cpu().numpy()[hole]
    return out.reshape(np.shape(image))


def _fill(image: torch.Tensor, hole: torch.Tensor, seed: int, patch: int, guide: torch.Tensor | None = None,
          guide_weight: float = GUIDE_WEIGHT, sharp: bool = False, max_levels: int | None = None) -> Work[torch.Tensor]:
    """The whole coarse-to-fine solve on (C, H, W) tensors; returns the image with the hole filled."""
    yield Progress(0.0, "preparing the patch fill")
    gen = torch.Generator(device=image.device)
    gen.manual_seed(int(seed))
    holes = _usable_holes(_hole_pyramid(hole, patch), patch // 2)
    if not holes:
        raise ValueError(f"the hole leaves no {patch} x {patch} patch of known pixels to copy from")
    if max_levels is not None:
        holes = holes[-max_levels:]
    channels = image.shape[0]
    texture = _texture_channels(image, hole, 2 ** max(len(holes) - 1, 1) + 1)
    images = _image_pyramid(torch.cat([image, TEXTURE_WEIGHT * texture]), holes)
    levels = [_make_level(img, h, patch // 2) for img, h in zip(images, holes)]
    if guide is not None:
        weighted = guide * guide_weight  # already blurred (GUIDE_SIGMA)
        for level in levels:
            g = weighted if level.shape == tuple(hole.shape) else \
                F.interpolate(weighted[None], size=level.shape, mode="area")[0]
            level.image, level.guide = torch.cat([level.image, g]), g

    plans = [_plan(number, len(levels)) for number in range(len(levels))]
    total = sum(level.ty.numel() * plan.cost for level, plan in zip(levels, plans))
    done = 0.0
    previous, field = None, None
    for number, (level, plan) in enumerate(zip(levels, plans)):
        if previous is None:
            if level.guide is None:
                level.image = _diffused_fill(level.image, level.hole)
            else:  # start from the guide's colours; the texture channels by a quick push-pull
                from desktop_app.core.inpainting.fullres import spread

                free = level.image[:-level.guide.shape[0]]
                known = (~level.hole).cpu().numpy()
                values = free.permute(1, 2, 0).cpu().numpy()
                smooth = np.concatenate([spread(np.ascontiguousarray(values[:, :, i:i + 3]), known)  # cv2: <= 4
                                         for i in range(0, values.shape[2], 3)], axis=2)
                level.image[:-level.guide.shape[0]] = torch.from_numpy(smooth).permute(2, 0, 1).to(free.device)
                start = level.guide / max(guide_weight, 1e-6)
                level.image[:channels] = torch.where(level.hole, start, level.image[:channels])
            field = _random_field(level, gen)
        else:
            _upsample_estimate(previous, level)
            level.keep_guide()
            field = _upsample_field(previous, field, level, gen)
        message = f"patch fill, scale {number + 1} of {len(levels)}"
        steps = _solve_level(level, field, plan, gen, last=number == len(levels) - 1, sharp=sharp)
        for step_cost in steps:
            done += level.ty.numel() * step_cost
            yield Progress(min(done / total, 1.0), message)
        previous = level
    return previous.image[:channels]


@dataclass(frozen=True)
class _Plan:
    """How much work one level gets: `searches[i]` PatchMatch iterations before the i-th vote."""

    searches: tuple[int, ...]
    search_radius: float | None  # None: the whole level (the coarsest starts from random matches)

    @property
    def cost(self) -> float:
        return sum(self.searches) + VOTE_COST * len(self.searches)


def _plan(number: int, count: int) -> _Plan:
    """Many EM steps at the cheap coarse levels, where the structure is decided; few at the fine
    ones, which start from the scaled-up matches and only refine them. The first vote at a
    finer level re-votes those matches before any search, to sharpen the smooth upscale."""
    from_finest = count - 1 - number
    em_steps = min(2 + 2 * from_finest, 8)
    if number == 0:
        return _Plan((3,) * em_steps, None)
    return _Plan((0,) + (2,) * (em_steps - 1), LOCAL_SEARCH)


def _solve_level(level: _Level, field: _Field, plan: _Plan, gen: torch.Generator,
                 last: bool, sharp: bool = False) -> Iterator[float]:
    """EM at one level: measure the current matches, improve them, vote. Yields the cost of
    each step done (in PatchMatch iterations), a cancel point each time."""
    basis = _eigen_patches(level, gen)
    features = _Features(_source_features(level, basis))
    radius = max(level.shape) / 2
    if plan.search_radius is not None:
        radius = min(radius, plan.search_radius)
    for step, searches in enumerate(plan.searches):
        features.set_targets(_target_features(level, basis))
        field.dist = features.distances(field.source[:, None])[:, 0]
        for _ in range(searches):
            _patchmatch_iteration(level, field, features, gen, radius)
            yield 1.0
        pick_best = last and (sharp or step == len(plan.searches) - 1)
        _vote(level, field, _vote_weights(level, field), pick_best)
        level.keep_guide()
        yield VOTE_COST


def _with_cpu_threads(work: Work, threads: int) -> Work:
    """Run each step of `work` with torch's intra-op threads capped, restoring the caller's
    setting around every yield (the setting belongs to the calling thread)."""
    outer = torch.get_num_threads()
    try:
        while True:
            torch.set_num_threads(min(threads, outer))
            try:
                event = next(work)
            finally:
                torch.set_num_threads(outer)
            yield event
    except StopIteration as stop:
        return stop.value


def _checked(image: np.ndarray, hole: np.ndarray, patch: int) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[:, :, None]
    hole = np.asarray(hole, dtype=bool)
    if image.ndim != 3 or hole.shape != image.shape[:2]:
        raise ValueError(f"image {image.shape} and hole {hole.shape} must be H x W x C and H x W")
    if patch < 3 or patch % 2 == 0:
        raise ValueError(f"patch must be an odd size of at least 3, not {patch}")
    if min(hole.shape) < patch:
        raise ValueError(f"the window {hole.shape} is smaller than one {patch} px patch")
    return image, hole


# ---------------------------------------------------------------- pyramid and levels


def _hole_pyramid(hole: torch.Tensor, patch: int) -> list[torch.Tensor]:
    """The hole at each level, coarsest first, each level half the size of the next. A coarse
    pixel is in the hole when any pixel under it is, so its known pixels are exact averages of
    known ones."""
    floor = max(MIN_COARSE_SIDE, 3 * patch)
    holes = [hole]
    while min(holes[-1].shape) // 2 >= floor:
        h = holes[-1]
        size = ((h.shape[0] + 1) // 2, (h.shape[1] + 1) // 2)
        coverage = F.interpolate((~h).float()[None, None], size=size, mode="area")[0, 0]
        holes.append(coverage < 1.0 - 1e-4)
    return holes[::-1]


def _usable_holes(holes: list[torch.Tensor], radius: int) -> list[torch.Tensor]:
    """The levels to solve, coarsest first: from the coarsest one whose whole known patches
    (at least MIN_SOURCES of them) still cover MIN_SOURCE_COVER of the known pixels, down to
    full size. Empty when even the full-size level has fewer than MIN_SOURCES."""
    known = ~holes[-1]
    for start, hole in enumerate(holes):
        valid, _ = _valid_centres(hole, radius)
        if int(valid.sum()) < MIN_SOURCES:
            continue
        if start == len(holes) - 1:
            return holes[start:]
        footprint = F.max_pool2d(valid[None, None].float(), 2 * radius + 1, stride=1, padding=radius)
        covered = F.interpolate(footprint, size=tuple(known.shape), mode="nearest")[0, 0] > 0
        if int((covered & known).sum()) >= MIN_SOURCE_COVER * int(known.sum()):
            return holes[start:]
    return []


def _image_pyramid(image: torch.Tensor, holes: list[torch.Tensor]) -> list[torch.Tensor]:
    """`image` at the sizes of `holes` (coarsest first, the last one full size), each level the
    area average of the known pixels under it; zero in the hole."""
    images = [image]
    for h in holes[-2::-1]:
        fine_known = (~holes[len(holes) - len(images)]).to(image.dtype)
        small = F.interpolate((images[-1] * fine_known)[None], size=tuple(h.shape), mode="area")[0]
        images.append(small * (~h))
    return images[::-1]


def _texture_channels(image: torch.Tensor, hole: torch.Tensor, window: int) -> torch.Tensor:
    """(2, H, W): the mean absolute vertical and horizontal derivative of the grey image over a
    window x window box (odd), taken over pairs of known pixels only; zero where the box holds
    none. Averaged down the pyramid, they tell a coarse level how busy the full-size pixels
    under each of its pixels are."""
    grey = image.mean(0)
    known = ~hole
    features = []
    for dim, pad in ((0, (0, 0, 0, 1)), (1, (0, 1))):
        n = grey.shape[dim] - 1
        both = (known.narrow(dim, 1, n) & known.narrow(dim, 0, n)).to(grey.dtype)
        step = (grey.narrow(dim, 1, n) - grey.narrow(dim, 0, n)).abs() * both
        total = F.avg_pool2d(F.pad(step, pad)[None, None], window, stride=1, padding=window // 2)
        count = F.avg_pool2d(F.pad(both, pad)[None, None], window, stride=1, padding=window // 2)
        features.append((total / count.clamp(min=1e-12))[0, 0])
    return torch.stack(features)


def _valid_centres(hole: torch.Tensor, radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(H, W) bool: centres of patches lying wholly in known pixels; and the centres of patches
    inside the image that overlap the hole."""
    height, width = hole.shape
    size = 2 * radius + 1
    near_hole = F.max_pool2d(hole[None, None].float(), size, stride=1, padding=radius)[0, 0] > 0
    inside = torch.zeros_like(hole)
    inside[radius:height - radius, radius:width - radius] = True
    return ~near_hole & inside, near_hole & inside


def _make_level(image: torch.Tensor, hole: torch.Tensor, radius: int) -> _Level:
    height, width = hole.shape
    valid, targets = _valid_centres(hole, radius)
    valid = valid.flatten()
    ty, tx = torch.nonzero(targets, as_tuple=True)
    index = torch.full((height, width), -1, dtype=torch.long, device=hole.device)
    index[ty, tx] = torch.arange(ty.numel(), device=hole.device)
    depth = cv2.distanceTransform(hole.cpu().numpy().astype(np.uint8), cv2.DIST_L2, 3)
    depth = torch.from_numpy(depth).to(hole.device)[ty, tx]
    return _Level(image=image, hole=hole, valid=valid, sources=torch.nonzero(valid)[:, 0],
                  ty=ty, tx=tx, index=index,
                  log_depth_weight=(-math.log(BOUNDARY_GAMMA) * depth).clamp(min=-LOG_FLOOR),
                  box=(int(ty.min()), int(ty.max()), int(tx.min()), int(tx.max())), radius=radius,
                  neighbours={jump: _neighbours(index, ty, tx, jump) for jump in JUMPS})


def _neighbours(index: torch.Tensor, ty: torch.Tensor, tx: torch.Tensor, jump: int) -> torch.Tensor:
    """(N, 4): the target `jump` px away from each target in each of _DIRECTIONS, or -1."""
    height, width = index.shape
    found = []
    for dy, dx in _DIRECTIONS:
        ny, nx = ty + jump * dy, tx + jump * dx
        inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
        found.append(torch.where(inside, index[ny.clamp(0, height - 1), nx.clamp(0, width - 1)], -1))
    return torch.stack(found, 1)


def _diffused_fill(image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """The hole filled by growing the known colours inwards ring by ring, then relaxed smooth."""
    have = (~hole).to(image.dtype)[None, None]
    value = (image * have[0])[None]
    while bool((have == 0).any()):
        num = F.avg_pool2d(value * have, 3, stride=1, padding=1, count_include_pad=False)
        den = F.avg_pool2d(have, 3, stride=1, padding=1, count_include_pad=False)
        grow = (den > 0) & (have == 0)
        value = torch.where(grow, num / den.clamp(min=1e-12), value)
        have = torch.where(grow, torch.ones_like(have), have)
    for _ in range(SMOOTHING_STEPS):
        smooth = F.avg_pool2d(value, 3, stride=1, padding=1, count_include_pad=False)
        value = torch.where(hole, smooth, value)
    return value[0]


def _upsample_estimate(coarse: _Level, fine: _Level) -> None:
    """Start the finer level's hole from the coarse result, scaled up smoothly."""
    up = F.interpolate(coarse.image[None], size=fine.shape, mode="bilinear", align_corners=False)[0]
    fine.image = torch.where(fine.hole, up, fine.image)


# ---------------------------------------------------------------- nearest-neighbour field
#
# Sources are flat pixel indices (y * W + x). A step that leaves the image sideways wraps onto
# another row: that is just another candidate. One that leaves it at the top or bottom is
# clamped onto the border rows, where no whole patch is centred, so it is rejected.


def _random_sources(level: _Level, count: int, gen: torch.Generator) -> torch.Tensor:
    pick = torch.randint(level.sources.numel(), (count,), generator=gen, device=level.sources.device)
    return level.sources.index_select(0, pick)


def _random_field(level: _Level, gen: torch.Generator) -> _Field:
    source = _random_sources(level, level.ty.numel(), gen)
    return _Field(source, torch.full(source.shape, math.inf, device=source.device))


def _upsample_field(coarse: _Level, field: _Field, fine: _Level, gen: torch.Generator) -> _Field:
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
    fallback = _random_field(fine, gen)
    return _Field(torch.where(ok, source, fallback.source), fallback.dist)


def _patchmatch_iteration(level: _Level, field: _Field, features: _Features, gen: torch.Generator,
                          max_radius: float) -> None:
    """Parallel propagation from the neighbours JUMPS px away, then a random search around the
    current match with a halving radius, plus one uniformly random source per patch."""
    width = level.shape[1]
    for jump, neighbours in level.neighbours.items():
        has = neighbours >= 0
        shifts = torch.tensor([jump * (dy * width + dx) for dy, dx in _DIRECTIONS], device=has.device)
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


def _improve(field: _Field, candidates: torch.Tensor, features: _Features, level: _Level) -> None:
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
    ys = (cy[:, None, None] + d[None, :, None]).expand(-1, patch, patch)
    xs = (cx[:, None, None] + d[None, None, :]).expand(-1, patch, patch)
    return image[:, ys, xs].permute(1, 0, 2, 3).reshape(cy.numel(), -1)


def _eigen_patches(level: _Level, gen: torch.Generator) -> torch.Tensor:
    """The leading principal components of the level's known patches, as conv2d weights
    (dims, C, patch, patch)."""
    channels, patch = level.image.shape[0], 2 * level.radius + 1
    dims = min(FEATURE_DIMS, channels * patch * patch)
    pick = _random_sources(level, PCA_SAMPLES, gen)
    width = level.shape[1]
    samples = _patches_at(level.image, pick // width, pick % width, patch).double()
    samples -= samples.mean(0)
    _, vectors = torch.linalg.eigh(samples.T @ samples)  # eigenvalues ascending
    return vectors[:, -dims:].T.float().reshape(dims, channels, patch, patch).contiguous()


def _source_features(level: _Level, basis: torch.Tensor) -> torch.Tensor:
    """(H*W, dims) projection of the patch centred at each pixel (zero near the border)."""
    radius = basis.shape[-1] // 2
    features = F.pad(F.conv2d(level.image[None], basis)[0], (radius,) * 4)
    return features.flatten(1).T.contiguous()


def _target_features(level: _Level, basis: torch.Tensor) -> torch.Tensor:
    """(N, dims) projection of each target patch, on the current estimate of the hole."""
    radius = basis.shape[-1] // 2
    y0, y1, x0, x1 = level.box
    crop = level.image[None, :, y0 - radius:y1 + radius + 1, x0 - radius:x1 + radius + 1]
    features = F.conv2d(crop, basis)[0]
    return features[:, level.ty - y0, level.tx - x0].T.contiguous()


# ---------------------------------------------------------------- voting


def _vote_weights(level: _Level, field: _Field) -> torch.Tensor:
    """Wexler's weights: exp(-d / 2 sigma^2), sigma^2 the 75th percentile of the distances, times
    the patch's closeness to the hole border. Both factors are kept above exp(-LOG_FLOOR), clear
    of float32 underflow, so a pixel that only poor matches cover still gets their mean."""
    finite = torch.isfinite(field.dist)
    spread = torch.quantile(field.dist[finite], 0.75) if bool(finite.any()) else field.dist.new_tensor(1.0)
    similarity = (-field.dist / (2 * spread).clamp(min=1e-8)).clamp(min=-LOG_FLOOR)
    return torch.exp(similarity + level.log_depth_weight)


def _vote(level: _Level, field: _Field, weight: torch.Tensor, pick_best: bool) -> None:
    """Re-estimate the hole: every target patch puts its source's pixels at its own place; each
    hole pixel takes the weighted mean of what lands on it (or, with pick_best, the one value of
    highest weight). Done densely over the targets' box, one patch offset at a time."""
    channels, width = level.image.shape[0], level.shape[1]
    y0, y1, x0, x1 = level.box
    bh, bw = y1 - y0 + 1, x1 - x0 + 1
    dev = weight.device
    # every box centre reads from its own place unless it is a target (weight 0 then)
    rows = torch.arange(y0, y1 + 1, device=dev)[:, None] * width
    source = (rows + torch.arange(x0, x1 + 1, device=dev)[None, :]).flatten()
    patch_weight = torch.zeros(bh * bw, device=dev, dtype=weight.dtype)
    local = (level.ty - y0) * bw + (level.tx - x0)
    source[local] = field.source
    patch_weight[local] = weight
    patch_weight = patch_weight.view(bh, bw)
    pixels = level.image.reshape(channels, -1)

    r = level.radius
    total = torch.zeros(bh + 2 * r, bw + 2 * r, device=dev, dtype=weight.dtype)
    accum = torch.zeros(channels, bh + 2 * r, bw + 2 * r, device=dev, dtype=level.image.dtype)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            values = pixels.index_select(1, source + (dy * width + dx)).view(channels, bh, bw)
            ys, xs = slice(r + dy, r + dy + bh), slice(r + dx, r + dx + bw)
            if pick_best:
                better = patch_weight > total[ys, xs]
                total[ys, xs] = torch.where(better, patch_weight, total[ys, xs])
                accum[:, ys, xs] = torch.where(better, values, accum[:, ys, xs])
            else:
                accum[:, ys, xs] += values * patch_weight
                total[ys, xs] += patch_weight

    region = (slice(None), slice(y0 - r, y1 + r + 1), slice(x0 - r, x1 + r + 1))
    estimate = accum if pick_best else accum / total.clamp(min=1e-30)
    update = level.hole[region[1:]] & (total > 0)
    level.image[region] = torch.where(update, estimate, level.image[region])
