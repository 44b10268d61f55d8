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
  the one source pixel that the most weight proposes instead of the mean (coherent patches
  agree), so the fill keeps the sharpness and the colours of the source and is copied in whole
  runs, not a mosaic of single pixels.

Everything is vectorised in torch over all patches at once, so the same code runs on CUDA.
PatchMatch's propagation is done in parallel, jump-flood style (neighbours 8, 4, 2 and 1 px
away in four directions), followed by a random search with a shrinking radius. Patches are
compared on a PCA projection (a conv2d with the level's leading eigen-patches), so a candidate
costs FEATURE_DIMS numbers instead of channels * patch**2.

This module imports torch: import it where the fill runs, not at start-up.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from desktop_app.core.inpainting.fullres import Copied
from desktop_app.core.inpainting.patch_field import (
    Features,
    Field,
    eigen_patches,
    patchmatch_iteration,
    random_field,
    source_features,
    target_features,
    upsample_field,
)
from desktop_app.core.inpainting.patch_pyramid import (
    Level,
    diffused_fill,
    hole_pyramid,
    image_pyramid,
    make_level,
    texture_channels,
    upsample_estimate,
    usable_holes,
)
from desktop_app.core.inpainting.patch_voting import vote, vote_weights
from desktop_app.core.work import Progress, Work

TEXTURE_WEIGHT = 4.0   # scale of the texture channels (mean |derivative|) against the colours
LOCAL_SEARCH = 32      # random-search radius (px) at the levels after the coarsest
VOTE_COST = 0.5        # a vote's time, in PatchMatch iterations, for the progress fraction
GUIDE_SIGMA = 2.0      # blur (px at full size) of the guide before it starts the solve


def patch_fill(image: np.ndarray, hole: np.ndarray, seed: int = 0, patch: int = 7,
               device: str = "cpu", guide: np.ndarray | None = None, sharp: bool = False,
               threads: int | None = None) -> Work[np.ndarray]:
    """The image of patch_copy's fill (the same arguments)."""
    copied = yield from patch_copy(image, hole, seed, patch, device, guide, sharp, threads)
    return copied.image


def patch_copy(image: np.ndarray, hole: np.ndarray, seed: int = 0, patch: int = 7,
               device: str = "cpu", guide: np.ndarray | None = None, sharp: bool = False,
               threads: int | None = None) -> Work[Copied]:
    """Fill `hole` (bool H x W, True = synthesise) of `image` (float32 H x W x C in [0, 1]) with
    patches copied from the rest of it. Pixels outside the hole come back unchanged. The same
    seed gives the same fill; other seeds give other plausible fills. Raises ValueError when
    the hole leaves no whole patch of known pixels.

    `guide` (H x W x C, only its hole pixels are read) is a coarse estimate of the hole, such
    as the network's fill: the solve starts from it, blurred by GUIDE_SIGMA. It does not steer
    the search: comparing every patch also on the guide's blurred colours (Image Analogies'
    guidance channels, Content-Aware Fill's "structure" term) made the network's smooth fill
    pull in smooth sources, and removing that took 12 PolyU photos' texture distance from
    2.74 / 2.10 / 1.73 to 1.35 / 1.71 / 1.57 (docs/benchmarks.md, "Where Remove object's
    texture and detail go").

    `sharp`: every vote at full size takes the agreed source's pixels instead of the weighted mean
    (the mean of a few misaligned textures is smoother than any of them). `threads`: torch's
    intra-op threads on the CPU (default cpu_threads(); a caller filling many windows decides
    once, before its own load counts).

    Returns the filled image with, for every hole pixel, the known pixel it was copied from
    (the last vote takes each pixel from one patch), which lets fullres bring a fill made at a
    smaller scale back with the full-size detail of what it copied."""
    source_image, hole = _checked(image, hole, patch)
    if not hole.any():
        return Copied(np.array(image, dtype=np.float32, copy=True), np.full(hole.shape + (2,), -1, np.int32))
    dev = torch.device(device)
    guide_t = None
    if guide is not None:
        guide = np.asarray(guide, dtype=np.float32).reshape(source_image.shape)
        blurred = cv2.GaussianBlur(np.where(hole[:, :, None], guide, source_image), (0, 0), GUIDE_SIGMA,
                                   borderType=cv2.BORDER_REFLECT).reshape(source_image.shape)
        guide_t = torch.from_numpy(blurred.transpose(2, 0, 1).copy()).to(dev)
    work = _fill(torch.from_numpy(source_image.transpose(2, 0, 1).copy()).to(dev),
                 torch.from_numpy(hole).to(dev), seed, patch, guide_t, sharp)
    if dev.type == "cpu":
        work = _with_cpu_threads(work, cpu_threads() if threads is None else threads)
    last = yield from work
    out = source_image.copy()
    out[hole] = last.image[:source_image.shape[2]].permute(1, 2, 0).cpu().numpy()[hole]
    source = np.full(hole.shape + (2,), -1, np.int32)
    flat = last.copied_from.cpu().numpy()
    taken = flat >= 0
    hy, hx = last.hole_y.cpu().numpy()[taken], last.hole_x.cpu().numpy()[taken]
    source[hy, hx, 0], source[hy, hx, 1] = np.divmod(flat[taken], hole.shape[1])
    return Copied(out.reshape(np.shape(image)), source)


def _fill(image: torch.Tensor, hole: torch.Tensor, seed: int, patch: int, guide: torch.Tensor | None = None,
          sharp: bool = False) -> Work[Level]:
    """The whole coarse-to-fine solve on (C, H, W) tensors; returns the full-size level, its
    hole filled."""
    yield Progress(0.0, "preparing the patch fill")
    gen = torch.Generator(device=image.device)
    gen.manual_seed(int(seed))
    holes = usable_holes(hole_pyramid(hole, patch), patch // 2)
    if not holes:
        raise ValueError(f"the hole leaves no {patch} x {patch} patch of known pixels to copy from")
    channels = image.shape[0]
    texture = texture_channels(image, hole, 2 ** max(len(holes) - 1, 1) + 1)
    images = image_pyramid(torch.cat([image, TEXTURE_WEIGHT * texture]), holes)
    levels = [make_level(img, h, patch // 2) for img, h in zip(images, holes)]
    start = None  # the coarsest level's first estimate of the hole: the guide's colours
    if guide is not None:  # already blurred (GUIDE_SIGMA)
        start = guide if levels[0].shape == tuple(hole.shape) else \
            F.interpolate(guide[None], size=levels[0].shape, mode="area")[0]

    plans = [_plan(number, len(levels)) for number in range(len(levels))]
    total = sum(level.ty.numel() * plan.cost for level, plan in zip(levels, plans))
    done = 0.0
    previous, field = None, None
    for number, (level, plan) in enumerate(zip(levels, plans)):
        if previous is None:
            if start is None:
                level.image = diffused_fill(level.image, level.hole)
            else:  # start from the guide's colours; the texture channels by a quick push-pull
                from desktop_app.core.inpainting.fullres import spread

                known = (~level.hole).cpu().numpy()
                values = level.image.permute(1, 2, 0).cpu().numpy()
                smooth = np.concatenate([spread(np.ascontiguousarray(values[:, :, i:i + 3]), known)  # cv2: <= 4
                                         for i in range(0, values.shape[2], 3)], axis=2)
                level.image[:] = torch.from_numpy(smooth).permute(2, 0, 1).to(level.image.device)
                level.image[:channels] = torch.where(level.hole, start, level.image[:channels])
            field = random_field(level, gen)
        else:
            upsample_estimate(previous, level)
            field = upsample_field(previous, field, level, gen)
        message = f"patch fill, scale {number + 1} of {len(levels)}"
        steps = _solve_level(level, field, plan, gen, last=number == len(levels) - 1, sharp=sharp)
        for step_cost in steps:
            done += level.ty.numel() * step_cost
            yield Progress(min(done / total, 1.0), message)
        previous = level
    return previous


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


def _solve_level(level: Level, field: Field, plan: _Plan, gen: torch.Generator,
                 last: bool, sharp: bool = False) -> Iterator[float]:
    """EM at one level: measure the current matches, improve them, vote. Yields the cost of
    each step done (in PatchMatch iterations), a cancel point each time."""
    basis = eigen_patches(level, gen)
    features = Features(source_features(level, basis))
    radius = max(level.shape) / 2
    if plan.search_radius is not None:
        radius = min(radius, plan.search_radius)
    for step, searches in enumerate(plan.searches):
        features.set_targets(target_features(level, basis))
        field.dist = features.distances(field.source[:, None])[:, 0]
        for _ in range(searches):
            patchmatch_iteration(level, field, features, gen, radius)
            yield 1.0
        pick_best = last and (sharp or step == len(plan.searches) - 1)
        vote(level, field, vote_weights(level, field), pick_best)
        yield VOTE_COST


def cpu_threads() -> int:
    """Intra-op threads for a fill on the CPU: one per core that other work leaves idle now, at
    least one. Threads make a 512-px window 1.5x faster on an idle 2-core machine, but OpenMP's
    spinning threads collapse when other processes load the cores: the same window took 2 s
    with 1 thread and 34 s with 2 beside a training run. A core counts as busy from 0.75 on."""
    busy = busy_cores()
    if busy is None:
        return 1
    return max(1, min(torch.get_num_threads(), (os.cpu_count() or 1) - int(busy + 0.25)))


def busy_cores(interval: float = 0.1) -> float | None:
    """How many cores other work keeps busy: /proc/stat over `interval` seconds while this
    thread sleeps (Linux); else the 1-minute load average (macOS; it also counts this process's
    own recent work); else None (Windows)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle, iowait
        return sum(fields[:8]) - idle, sum(fields[:8])

    try:
        busy0, total0 = sample()
        time.sleep(interval)
        busy1, total1 = sample()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return None
    total = total1 - total0
    return (os.cpu_count() or 1) * (busy1 - busy0) / total if total > 0 else 0.0


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

