"""The brush engine: strokes become soft mask values.

A stroke segment is stamped as a capsule: every pixel gets a value from its distance to the
segment, so a fast drag leaves no gaps between dabs. `hardness` sets how much of the radius is
fully selected; the rest falls off smoothly to zero, giving soft mask edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]  # y0, y1, x0, x1


@dataclass
class BrushSettings:
    size: float = 40.0  # diameter in image pixels
    hardness: float = 0.8  # 0 = all falloff, 1 = hard edge (anti-aliased)
    erase: bool = False
    opacity: float = 1.0

    MIN_SIZE = 1.0
    MAX_SIZE = 2000.0

    def clamped(self) -> "BrushSettings":
        return BrushSettings(float(np.clip(self.size, self.MIN_SIZE, self.MAX_SIZE)),
                             float(np.clip(self.hardness, 0.0, 1.0)), self.erase,
                             float(np.clip(self.opacity, 0.0, 1.0)))


def profile(distance: np.ndarray, radius: float, hardness: float) -> np.ndarray:
    """Mask value at `distance` from the stroke's centre line."""
    inner = radius * hardness
    soft = max(radius - inner, 0.5)
    t = np.clip((radius - distance) / soft, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)  # smoothstep


def segment_box(p0: tuple[float, float], p1: tuple[float, float], radius: float, shape: tuple[int, int]) -> Box | None:
    (x0, y0), (x1, y1) = p0, p1
    h, w = shape
    bx0 = max(0, int(np.floor(min(x0, x1) - radius - 1)))
    bx1 = min(w, int(np.ceil(max(x0, x1) + radius + 2)))
    by0 = max(0, int(np.floor(min(y0, y1) - radius - 1)))
    by1 = min(h, int(np.ceil(max(y0, y1) + radius + 2)))
    if bx0 >= bx1 or by0 >= by1:
        return None
    return by0, by1, bx0, bx1


def stamp_segment(mask: np.ndarray, p0: tuple[float, float], p1: tuple[float, float],
                  brush: BrushSettings) -> Box | None:
    """Paint (or erase) the segment p0 -> p1 (x, y in image pixels, pixel centres at +0.5)
    into `mask` in place; returns the changed box."""
    b = brush.clamped()
    radius = b.size / 2.0
    box = segment_box(p0, p1, radius, mask.shape)
    if box is None:
        return None
    y0, y1, x0, x1 = box
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
    ax, ay = p0
    dx, dy = p1[0] - ax, p1[1] - ay
    length2 = dx * dx + dy * dy
    if length2 > 1e-9:
        t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / length2, 0.0, 1.0)
        px, py = ax + t * dx, ay + t * dy
    else:
        px, py = ax, ay
    dist = np.sqrt((xs - px) ** 2 + (ys - py) ** 2)
    value = profile(dist, radius, b.hardness) * b.opacity
    region = mask[y0:y1, x0:x1]
    if b.erase:
        np.minimum(region, 1.0 - value, out=region)
    else:
        np.maximum(region, value, out=region)
    return box
