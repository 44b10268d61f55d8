"""The pyramid of a patch fill: the hole and the image at each scale, coarsest first, and the
levels the solve works on (target patches, their neighbours for propagation, their depth in
the hole); the coarsest level's first estimate, diffused in from the border, and the scaled-up
estimate that starts each finer one. See patchmatch for the whole method."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

MIN_COARSE_SIDE = 32   # halve the window while its short side stays at least this
MIN_SOURCES = 16       # a level with fewer whole known patches is skipped
MIN_SOURCE_COVER = 0.85  # nor a coarse level where they cover less of the known pixels
JUMPS = (8, 4, 2, 1)   # propagation distances within one PatchMatch iteration
BOUNDARY_GAMMA = 1.3   # a patch's vote weight falls by this factor per pixel deeper in the hole
LOG_FLOOR = 40.0       # each factor of a vote weight stays above exp(-this)
SMOOTHING_STEPS = 20   # relaxation of the coarsest level's initial diffused fill

# unit offsets of the four propagation neighbours: (dy, dx)
DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1))


@dataclass
class Level:
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
    hole_y: torch.Tensor       # (Nh,) the hole's pixels, the ones a vote writes
    hole_x: torch.Tensor
    copied_from: torch.Tensor | None = None  # (Nh,) after a sharp vote: the flat pixel each hole pixel took
    _covering: tuple[torch.Tensor, torch.Tensor] | None = None  # see covering()

    def covering(self) -> tuple[torch.Tensor, torch.Tensor]:
        """For each patch offset d (row-major over the patch) and each hole pixel p: the target
        centred at p - d, or -1 (P x Nh, int32); and each offset as a flat shift (P,). Made once
        per level, for its votes."""
        if self._covering is None:
            height, width = self.shape
            span = torch.arange(-self.radius, self.radius + 1, device=self.hole_y.device)
            dy, dx = (v.reshape(-1, 1) for v in torch.meshgrid(span, span, indexing="ij"))
            qy, qx = self.hole_y[None] - dy, self.hole_x[None] - dx
            inside = (qy >= 0) & (qy < height) & (qx >= 0) & (qx < width)
            centre = (qy * width + qx).clamp_(0, height * width - 1)
            table = torch.where(inside, self.index.view(-1).index_select(0, centre.view(-1)).view(centre.shape), -1)
            self._covering = (table.to(torch.int32), (dy * width + dx)[:, 0])
        return self._covering

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[2]


def hole_pyramid(hole: torch.Tensor, patch: int) -> list[torch.Tensor]:
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


def usable_holes(holes: list[torch.Tensor], radius: int) -> list[torch.Tensor]:
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


def image_pyramid(image: torch.Tensor, holes: list[torch.Tensor]) -> list[torch.Tensor]:
    """`image` at the sizes of `holes` (coarsest first, the last one full size), each level the
    area average of the known pixels under it; zero in the hole."""
    images = [image]
    for h in holes[-2::-1]:
        fine_known = (~holes[len(holes) - len(images)]).to(image.dtype)
        small = F.interpolate((images[-1] * fine_known)[None], size=tuple(h.shape), mode="area")[0]
        images.append(small * (~h))
    return images[::-1]


def texture_channels(image: torch.Tensor, hole: torch.Tensor, window: int) -> torch.Tensor:
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
        total, count = _box_mean(F.pad(step, pad), window), _box_mean(F.pad(both, pad), window)
        features.append(total / count.clamp(min=1e-12))
    return torch.stack(features)


def _box_mean(plane: torch.Tensor, window: int) -> torch.Tensor:
    """(H, W) mean over a window x window box (odd), zero padded: from a summed-area table."""
    r = window // 2
    table = F.pad(plane.double(), (r + 1, r, r + 1, r)).cumsum(0).cumsum(1)
    box = table[window:, window:] - table[:-window, window:] - table[window:, :-window] + table[:-window, :-window]
    return (box / window**2).to(plane.dtype)


def _valid_centres(hole: torch.Tensor, radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(H, W) bool: centres of patches lying wholly in known pixels; and the centres of patches
    inside the image that overlap the hole."""
    height, width = hole.shape
    size = 2 * radius + 1
    near_hole = F.max_pool2d(hole[None, None].float(), size, stride=1, padding=radius)[0, 0] > 0
    inside = torch.zeros_like(hole)
    inside[radius:height - radius, radius:width - radius] = True
    return ~near_hole & inside, near_hole & inside


def make_level(image: torch.Tensor, hole: torch.Tensor, radius: int) -> Level:
    height, width = hole.shape
    valid, targets = _valid_centres(hole, radius)
    valid = valid.flatten()
    ty, tx = torch.nonzero(targets, as_tuple=True)
    hole_y, hole_x = torch.nonzero(hole, as_tuple=True)
    index = torch.full((height, width), -1, dtype=torch.long, device=hole.device)
    index[ty, tx] = torch.arange(ty.numel(), device=hole.device)
    depth = cv2.distanceTransform(hole.cpu().numpy().astype(np.uint8), cv2.DIST_L2, 3)
    depth = torch.from_numpy(depth).to(hole.device)[ty, tx]
    return Level(image=image, hole=hole, valid=valid, sources=torch.nonzero(valid)[:, 0],
                  ty=ty, tx=tx, index=index,
                  log_depth_weight=(-math.log(BOUNDARY_GAMMA) * depth).clamp(min=-LOG_FLOOR),
                  box=(int(ty.min()), int(ty.max()), int(tx.min()), int(tx.max())), radius=radius,
                  neighbours={jump: _neighbours(index, ty, tx, jump) for jump in JUMPS},
                  hole_y=hole_y, hole_x=hole_x)


def _neighbours(index: torch.Tensor, ty: torch.Tensor, tx: torch.Tensor, jump: int) -> torch.Tensor:
    """(N, 4): the target `jump` px away from each target in each of DIRECTIONS, or -1."""
    height, width = index.shape
    found = []
    for dy, dx in DIRECTIONS:
        ny, nx = ty + jump * dy, tx + jump * dx
        inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
        found.append(torch.where(inside, index[ny.clamp(0, height - 1), nx.clamp(0, width - 1)], -1))
    return torch.stack(found, 1)


def diffused_fill(image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
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


def upsample_estimate(coarse: Level, fine: Level) -> None:
    """Start the finer level's hole from the coarse result, scaled up smoothly."""
    up = F.interpolate(coarse.image[None], size=fine.shape, mode="bilinear", align_corners=False)[0]
    fine.image = torch.where(fine.hole, up, fine.image)
