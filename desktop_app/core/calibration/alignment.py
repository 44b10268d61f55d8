"""Aligning a frame to the burst's first: a Euclidean motion (small shift, small rotation) found
by OpenCV's ECC on downscaled grey copies, started from phase correlation; and the warps that
bring a frame to the reference's geometry or the reference to a frame's."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AlignSettings:
    """How frames are aligned. `max_side`: the downscaled copy's longest side for the coarse
    estimate; `fine_side`: a second, finer level (0: none). A frame is left out when ECC does
    not converge, when its correlation with the reference after alignment is below
    `min_correlation`, or when it moved more than `max_shift` (fraction of the longer side) or
    turned more than `max_rotation` degrees: a tripod burst moves far less."""

    max_side: int = 768
    fine_side: int = 1536
    min_correlation: float = 0.8
    max_shift: float = 0.05
    max_rotation: float = 3.0
    iterations: int = 60



def grey_small(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """A grey float32 copy whose longer side is at most `max_side`, and its scale. The colour
    image is shrunk first (OpenCV, any dtype), so a 24 MP frame costs one pass over it."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    small = image
    if scale < 1.0:
        small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    small = small.astype(np.float32)
    grey = small.mean(axis=2) if small.ndim == 3 else small
    return np.ascontiguousarray(grey, dtype=np.float32), scale


def _pyramid(image: np.ndarray, sides: list[int]) -> list[tuple[np.ndarray, float]]:
    """Grey copies at each side (coarse to fine); the coarser ones made from the finest."""
    finest, scale = grey_small(image, sides[-1])
    out = [(finest, scale)]
    for side in reversed(sides[:-1]):
        small, s = grey_small(finest, side)
        out.insert(0, (small, scale * s))
    return out


class Aligner:
    """Aligns frames to one reference. The reference's downscaled grey copies are made once;
    `align` returns the 2 x 3 Euclidean transform from reference to frame coordinates (full
    resolution) and the correlation after alignment, or raises AlignmentError."""

    def __init__(self, reference: np.ndarray, settings: AlignSettings = AlignSettings()) -> None:
        self.settings = settings
        self.shape = reference.shape[:2]
        longest = max(self.shape)
        self.sides = [settings.max_side]
        if settings.fine_side > settings.max_side and longest > settings.max_side:
            self.sides.append(settings.fine_side)  # no finer level than full resolution
        self.levels = _pyramid(reference, self.sides)

    def align(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        s = self.settings
        if frame.shape[:2] != self.shape:
            raise AlignmentError(f"size {frame.shape[1]}x{frame.shape[0]} differs from the first frame's")
        warp = None  # at full-resolution scale
        cc = 0.0
        for i, ((ref, scale), (cur, _)) in enumerate(zip(self.levels, _pyramid(frame, self.sides))):
            if warp is None:
                # phase correlation first: ECC converges only from close by
                (dx, dy), _ = cv2.phaseCorrelate(ref.astype(np.float64), cur.astype(np.float64))
                w = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
            else:
                w = warp.astype(np.float32)
                w[:, 2] *= scale
            criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT,
                        s.iterations if i == 0 else max(10, s.iterations // 3), 1e-5)
            try:
                cc, w = cv2.findTransformECC(ref, cur, w, cv2.MOTION_EUCLIDEAN, criteria, None, 5)
            except cv2.error as e:
                raise AlignmentError("the frames do not match (alignment did not converge)") from e
            warp = w.astype(np.float64)
            warp[:, 2] /= scale
        assert warp is not None
        angle = math.degrees(math.atan2(warp[1, 0], warp[0, 0]))
        shift = float(np.abs(displacement(warp, self.shape)).max())
        if cc < s.min_correlation:
            raise AlignmentError(f"does not match the first frame (correlation {cc:.2f} after alignment, "
                                 f"below {s.min_correlation:.2f}): moved subject or another scene")
        if shift > s.max_shift * max(self.shape):
            raise AlignmentError(f"moved {shift:.0f} pixels, more than a tripod burst should")
        if abs(angle) > s.max_rotation:
            raise AlignmentError(f"turned {angle:.1f} degrees, more than a tripod burst should")
        return warp, float(cc)


class AlignmentError(Exception):
    """A frame that does not align with the burst's first frame; str() says why."""


def displacement(warp: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """How far each corner of the reference moves under `warp` (4 x 2, pixels)."""
    h, w = shape
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64)
    return corners @ warp[:, :2].T + warp[:, 2] - corners


def warp_to_reference(frame: np.ndarray, warp: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    h, w = frame.shape[:2]
    return cv2.warpAffine(frame, warp, (w, h), dst=out, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def warp_to_frame(reference: np.ndarray, warp: np.ndarray) -> np.ndarray:
    h, w = reference.shape[:2]
    return cv2.warpAffine(reference, warp, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def is_identity(warp: np.ndarray) -> bool:
    return bool(np.allclose(warp, [[1, 0, 0], [0, 1, 0]], atol=1e-6))

