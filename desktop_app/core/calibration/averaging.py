"""Averaging a burst: each frame aligned to the first and accumulated into a running mean, the
frames that do not align left out and listed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from desktop_app.core.calibration.alignment import (
    Aligner,
    AlignmentError,
    AlignSettings,
    is_identity,
    warp_to_reference,
)
from desktop_app.core.calibration.bursts import Burst, frame_info
from desktop_app.core.imaging.convert import to_uint8
from desktop_app.core.imaging.io import load_image
from desktop_app.core.imaging.noise import estimate_sigma
from desktop_app.core.work import Progress, Work


@dataclass
class BurstResult:
    name: str
    frames: list[str]  # kept, in order; the first is the reference geometry
    left_out: list[tuple[str, str]]  # (frame, why)
    transforms: dict[str, list[list[float]]]  # frame -> 2 x 3 affine, reference -> frame coordinates
    sigma_before: list[float]  # noise of the first frame, per channel, 0-255 scale
    sigma_after: list[float]  # noise of the mean
    # frame -> correlation of its downscaled grey copy with the reference's after alignment
    correlations: dict[str, float] = field(default_factory=dict)
    pairs: list[str] = field(default_factory=list)  # file names written
    camera: str | None = None
    iso: list[int] = field(default_factory=list)
    seconds_align: float = 0.0  # aligning and averaging (the part that grows with frame size)

    @property
    def noise_reduction(self) -> float:
        before, after = float(np.mean(self.sigma_before)), float(np.mean(self.sigma_after))
        return before / after if after > 0 else float("inf")



def load_frame(path: Path) -> np.ndarray:
    """A frame as integer RGB (uint8, or uint16 for 16-bit files), upright. OpenCV decodes
    JPEG, PNG and TIFF about three times faster than the app's loader and keeps integers
    (a 24 MP frame is 72 MB, not 288); what it cannot read (RAW, when the loader learns it)
    goes through `load_image`."""
    data = np.fromfile(str(path), np.uint8)  # not cv2.imread: it fails on non-ASCII paths on Windows
    pixels = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH) if data.size else None
    if pixels is not None and pixels.dtype in (np.uint8, np.uint16):
        return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    image, meta = load_image(path)
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    image = np.ascontiguousarray(image[:, :, :3])
    return to_uint8(image) if meta.bit_depth <= 8 else np.rint(image * 65535.0).astype(np.uint16)


def _peak(frame: np.ndarray) -> float:
    return 65535.0 if frame.dtype == np.uint16 else 255.0


def _sigma(image: np.ndarray, peak: float) -> np.ndarray:
    """estimate_sigma on the centre 1024 px only (what it looks at anyway), in [0, 1]."""
    h, w = image.shape[:2]
    y, x = max(0, h // 2 - 512), max(0, w // 2 - 512)
    return estimate_sigma(image[y:y + 1024, x:x + 1024].astype(np.float32) / peak)


def average_burst(burst: Burst, settings: AlignSettings = AlignSettings()
                  ) -> Work[tuple[np.ndarray, BurstResult]]:
    """Align the frames of `burst` to its first and average them: yields a Progress per frame,
    returns (the mean, float32 H x W x 3 in [0, 1] in the first frame's geometry; what
    happened).

    Memory: the running mean (float32), one integer frame and its warped copy, whatever the
    number of frames: mean += (frame - mean) / k (OpenCV's accumulateWeighted), so it is a mean
    at every step. Frames are warped as integers: rounding adds 0.29 of a level of noise to
    each, 0.07 after 16 are averaged."""
    import time

    start = time.perf_counter()
    first = load_frame(burst.frames[0])
    peak = _peak(first)
    info = frame_info(burst.frames[0])
    aligner = Aligner(first, settings)
    mean = first.astype(np.float32)
    kept = [burst.frames[0].name]
    transforms = {burst.frames[0].name: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]}
    correlations = {burst.frames[0].name: 1.0}
    left_out: list[tuple[str, str]] = []
    sigma_before = _sigma(first, peak)
    del first
    isos = {info.iso} if info.iso else set()
    n = len(burst.frames)
    buffer: np.ndarray | None = None
    yield Progress(1 / n, f"{burst.name}: frame 1 of {n} (reference)", {"burst": burst.name, "frame": 1})
    for k, path in enumerate(burst.frames[1:], start=2):
        try:
            frame = load_frame(path)
            if _peak(frame) != peak:
                raise AlignmentError("bit depth differs from the first frame's")
            warp, correlation = aligner.align(frame)
        except AlignmentError as e:
            left_out.append((path.name, str(e)))
        except Exception as e:  # noqa: BLE001 - an unreadable frame is left out, not fatal
            left_out.append((path.name, str(e).splitlines()[0] if str(e) else type(e).__name__))
        else:
            if is_identity(warp):
                aligned = frame
            else:  # one buffer for every warped frame: no 72 MB allocation per frame
                if buffer is None or buffer.shape != frame.shape or buffer.dtype != frame.dtype:
                    buffer = np.empty_like(frame)
                aligned = warp_to_reference(frame, warp, buffer)
            del frame
            kept.append(path.name)
            transforms[path.name] = warp.tolist()
            correlations[path.name] = round(correlation, 4)
            cv2.accumulateWeighted(aligned, mean, 1.0 / len(kept))
            del aligned
            iso = frame_info(path).iso
            if iso:
                isos.add(iso)
        yield Progress(k / n, f"{burst.name}: frame {k} of {n}" + (f" left out: {left_out[-1][1]}"
                                                                  if left_out and left_out[-1][0] == path.name else ""),
                       {"burst": burst.name, "frame": k})
    mean *= 1.0 / peak
    result = BurstResult(burst.name, kept, left_out, transforms, sigma_before.round(3).tolist(),
                         _sigma(mean, 1.0).round(3).tolist(), correlations=correlations, camera=info.camera,
                         iso=sorted(isos), seconds_align=time.perf_counter() - start)
    return mean, result

