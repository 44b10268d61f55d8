"""Splitting an image into overlapping tiles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Tile:
    """`outer` is what gets processed (with context), `inner` what gets kept; both are
    (y0, y1, x0, x1) in image coordinates, and inner lies inside outer."""

    inner: tuple[int, int, int, int]
    outer: tuple[int, int, int, int]

    @property
    def inner_in_outer(self) -> tuple[int, int, int, int]:
        y0, y1, x0, x1 = self.inner
        oy, _, ox, _ = self.outer
        return y0 - oy, y1 - oy, x0 - ox, x1 - ox


def _starts(length: int, step: int) -> list[int]:
    return list(range(0, max(length, 1), step))


def tiles(height: int, width: int, tile: int, context: int) -> Iterator[Tile]:
    """Non-overlapping inner tiles of at most `tile` pixels, each with `context` pixels of
    surrounding image (clipped at the borders)."""
    tile = max(1, tile)
    for y0 in _starts(height, tile):
        for x0 in _starts(width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            outer = (max(0, y0 - context), min(height, y1 + context), max(0, x0 - context), min(width, x1 + context))
            yield Tile((y0, y1, x0, x1), outer)


def count(height: int, width: int, tile: int) -> int:
    return len(_starts(height, tile)) * len(_starts(width, tile))


def mask_bbox(mask, margin: int = 0) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) around the mask's non-zero pixels, grown by `margin`, or None."""
    import numpy as np

    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape[:2]
    return (max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin),
            max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin))
