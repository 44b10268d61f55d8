"""Random hole masks for training and benchmarking inpainting: free-form brush strokes of
many widths, boxes, and object-shaped blobs, drawn until a target coverage is reached."""

from __future__ import annotations

import math

import cv2
import numpy as np

KINDS = ("strokes", "box", "blob")


def _stroke(mask: np.ndarray, rng: np.random.Generator) -> None:
    h, w = mask.shape
    side = min(h, w)
    width = int(max(2, side * rng.uniform(0.015, 0.12)))
    x, y = rng.uniform(0, w), rng.uniform(0, h)
    angle = rng.uniform(0, 2 * math.pi)
    for _ in range(rng.integers(3, 10)):
        angle += rng.normal(0, 0.8)
        length = side * rng.uniform(0.05, 0.3)
        nx = float(np.clip(x + length * math.cos(angle), 0, w - 1))
        ny = float(np.clip(y + length * math.sin(angle), 0, h - 1))
        cv2.line(mask, (int(x), int(y)), (int(nx), int(ny)), 1.0, width, cv2.LINE_AA)
        cv2.circle(mask, (int(nx), int(ny)), width // 2, 1.0, -1, cv2.LINE_AA)
        x, y = nx, ny


def _box(mask: np.ndarray, rng: np.random.Generator) -> None:
    h, w = mask.shape
    bh, bw = int(h * rng.uniform(0.1, 0.5)), int(w * rng.uniform(0.1, 0.5))
    y, x = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
    mask[y:y + bh, x:x + bw] = 1.0


def _blob(mask: np.ndarray, rng: np.random.Generator) -> None:
    """A star-shaped polygon with a smooth random radius: roughly the outline of an object."""
    h, w = mask.shape
    side = min(h, w)
    cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
    radius = side * rng.uniform(0.08, 0.3)
    k = np.arange(1, 5)
    amp, phase = rng.uniform(0, 0.25, 4) / k, rng.uniform(0, 2 * math.pi, 4)
    t = np.linspace(0, 2 * math.pi, 64, endpoint=False)
    r = radius * (1 + (amp[:, None] * np.sin(k[:, None] * t[None] + phase[:, None])).sum(0))
    stretch = rng.uniform(0.6, 1.6)
    pts = np.stack([cx + r * np.cos(t) * stretch, cy + r * np.sin(t) / stretch], axis=1)
    cv2.fillPoly(mask, [pts.astype(np.int32)], 1.0, cv2.LINE_AA)


_DRAW = {"strokes": _stroke, "box": _box, "blob": _blob}


def random_mask(h: int, w: int, rng: np.random.Generator, coverage: tuple[float, float] = (0.05, 0.5),
                kinds: tuple[str, ...] = KINDS) -> np.ndarray:
    """A float32 H x W mask (1 = hole) whose covered fraction lies in `coverage`: shapes of
    one randomly chosen kind (sometimes two) are added until a target drawn uniformly from
    the range is reached; a shape that overshoots the range is undone."""
    lo, hi = coverage
    target = rng.uniform(lo, hi)
    chosen = [kinds[rng.integers(len(kinds))]]
    if rng.random() < 0.3:
        chosen.append(kinds[rng.integers(len(kinds))])
    mask = np.zeros((h, w), np.float32)
    for _ in range(200):
        before = mask.copy()
        _DRAW[chosen[rng.integers(len(chosen))]](mask, rng)
        np.clip(mask, 0, 1, out=mask)
        cover = float((mask > 0.5).mean())
        if cover > hi:
            mask = before
            continue
        if cover >= target:
            break
    if float((mask > 0.5).mean()) < lo:
        # small shapes never got there: finish with a box of the missing area
        missing = lo - float((mask > 0.5).mean()) + 0.01
        bh = min(h, max(2, int(math.sqrt(missing) * h)))
        bw = min(w, max(2, int(math.ceil(missing * h * w / bh))))
        y, x = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
        mask[y:y + bh, x:x + bw] = 1.0
    return (mask > 0.5).astype(np.float32)


def mask_batch(n: int, size: int, rng: np.random.Generator, coverage: tuple[float, float] = (0.05, 0.5)) -> np.ndarray:
    return np.stack([random_mask(size, size, rng, coverage) for _ in range(n)])[:, None]
