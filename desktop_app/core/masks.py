"""The small algebra of masks: how a new selection meets the current mask, grow, shrink
and feather. Pure functions on float32 H x W masks in [0, 1] (1 = selected); the window runs
them in a worker and hands the result to the document as one undo step."""

from __future__ import annotations

import math
from enum import Enum

import cv2
import numpy as np


class CombineMode(str, Enum):
    """How a new selection meets the current mask."""

    REPLACE = "replace"
    ADD = "add"  # union: max
    SUBTRACT = "subtract"  # min(current, 1 - new)
    INTERSECT = "intersect"  # min


def combine(current: np.ndarray, new: np.ndarray, mode: CombineMode | str = CombineMode.REPLACE) -> np.ndarray:
    """The mask after applying `new` to `current` in `mode`."""
    mode = CombineMode(mode)
    if current.shape != new.shape:
        raise ValueError(f"mask shapes differ: {current.shape} and {new.shape}")
    new = new.astype(np.float32, copy=False)
    if mode is CombineMode.REPLACE:
        return new.copy()
    current = current.astype(np.float32, copy=False)
    if mode is CombineMode.ADD:
        return np.maximum(current, new)
    if mode is CombineMode.SUBTRACT:
        return np.minimum(current, 1.0 - new)
    return np.minimum(current, new)


GROW_LEVELS = 8  # a soft edge is grown as this many level sets, so its profile is kept


def grow(mask: np.ndarray, pixels: float) -> np.ndarray:
    """The mask grown outward by `pixels` (Euclidean, so a disc stays a disc); a negative
    value shrinks. A soft edge keeps its profile: each level set moves by `pixels`."""
    if pixels < 0:
        return shrink(mask, -pixels)
    mask = mask.astype(np.float32, copy=False)
    if pixels == 0 or not (mask > 0).any():
        return mask.copy()
    x0, y0, x1, y1 = bbox(mask > 0)
    return _grow_within(mask, float(pixels), (x0, y0, x1, y1))


def shrink(mask: np.ndarray, pixels: float) -> np.ndarray:
    """The mask shrunk inward by `pixels`. The photo's border does not count as unselected,
    so a selection that touches it stays there (as in most editors)."""
    if pixels < 0:
        return grow(mask, -pixels)
    mask = mask.astype(np.float32, copy=False)
    if pixels == 0 or not (mask > 0).any():
        return mask.copy()
    x0, y0, x1, y1 = bbox(mask > 0)
    return 1.0 - _grow_within(1.0 - mask, float(pixels), (x0, y0, x1, y1))


def _grow_within(mask: np.ndarray, pixels: float, box: tuple[int, int, int, int]) -> np.ndarray:
    """Grow `mask` by `pixels`, computing only around `box` (x0, y0, x1, y1): farther away
    nothing can change."""
    height, width = mask.shape
    pad = int(math.ceil(pixels)) + 2
    x0, y0 = max(0, box[0] - pad), max(0, box[1] - pad)
    x1, y1 = min(width, box[2] + pad), min(height, box[3] + pad)
    part = mask[y0:y1, x0:x1]
    grown = np.zeros(part.shape, np.float32)
    previous, cover = None, None
    for k in range(GROW_LEVELS):
        outside = (part <= (k + 0.5) / GROW_LEVELS).astype(np.uint8)
        if previous is None or not np.array_equal(outside, previous):
            previous = outside
            # Distance to the nearest pixel of the level set; its edge is half a pixel beyond
            # that pixel's centre, so a pixel is covered up to one pixel farther.
            cover = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            np.subtract(np.float32(pixels + 1.0), cover, out=cover)
            np.minimum(cover, 1.0, out=cover)
            np.maximum(cover, 0.0, out=cover)
        grown += cover
    grown *= np.float32(1.0 / GROW_LEVELS)
    out = mask.copy()
    out[y0:y1, x0:x1] = np.maximum(part, grown)
    return out


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """The mask's edge softened by a Gaussian of about `radius` pixels (sigma = radius / 2, as
    `Document.feather_mask`)."""
    mask = mask.astype(np.float32, copy=False)
    if radius <= 0:
        return mask.copy()
    sigma = radius / 2.0
    k = int(2 * round(3 * sigma) + 1)
    return cv2.GaussianBlur(mask, (k, k), sigma)




def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the non-zero pixels (the mask must have some)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
