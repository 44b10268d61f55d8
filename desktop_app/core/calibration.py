"""Calibrating to a camera from bursts: (noisy frame, clean reference) pairs for the
`denoise-pairs` training task.

A burst is 4-64 frames of a still scene shot from a tripod at one ISO. Averaging N aligned
frames divides the noise by about sqrt(N) and keeps the scene, which is how the PolyU data set
made its clean references. Here each frame is aligned to the burst's first frame (small shifts
and a small rotation: OpenCV's ECC with a Euclidean motion model on downscaled grey copies,
started from phase correlation), accumulated into a running mean (memory does not grow with
the number of frames), and frames that do not align are listed and left out.

The pairs keep each frame's own pixels untouched: the *reference* is warped into the frame's
geometry, not the frame into the reference's. Interpolating a noisy frame would smooth its
noise, and the network must learn the camera's noise as the camera writes it. Pairs are cut
into tiles (512 px by default) so that a trainer can hold many of them in memory, and named
`<scene>_<NNNN>.png` in `noisy/` and `clean/`: the name without its trailing number is the
scene, which is what `training.data.load_pairs` splits by. `calibration.json` beside them
records the camera, the ISO range, each burst's frames (kept and left out, with why) and how
much noise the averaging removed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from desktop_app.core.imaging.convert import to_uint8
from desktop_app.core.imaging.io import SUPPORTED_EXTENSIONS, load_image
from desktop_app.core.imaging.noise import estimate_sigma
from desktop_app.core.tasks import Progress, Work

MIN_FRAMES, MAX_FRAMES = 4, 64
MANIFEST = "calibration.json"
# files the image loader may learn to read (RAW through rawpy); listed so that a folder of
# RAW files is found once the loader reads them, and reported as unreadable before that
RAW_EXTENSIONS = (".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf", ".pef", ".srw")
FRAME_EXTENSIONS = frozenset(SUPPORTED_EXTENSIONS) | frozenset(RAW_EXTENSIONS)

_EXIF_IFD = 0x8769
_MODEL, _MAKE, _DATETIME = 0x0110, 0x010F, 0x0132
_DATETIME_ORIGINAL, _SUBSEC_ORIGINAL, _ISO = 0x9003, 0x9291, 0x8827


@dataclass(frozen=True)
class FrameInfo:
    """What the header of a frame says, read without decoding its pixels."""

    path: Path
    size: tuple[int, int] | None  # (width, height), None when the header cannot be read
    time: float | None  # capture time in seconds (EXIF DateTimeOriginal + sub-seconds)
    camera: str | None  # "Make Model"
    iso: int | None


@dataclass(frozen=True)
class Burst:
    """The frames of one still scene; `name` becomes the scene part of the pair file names."""

    name: str
    frames: tuple[Path, ...]


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


# --------------------------------------------------------------------------- finding bursts

def frame_info(path: Path) -> FrameInfo:
    try:
        with Image.open(path) as im:
            size = im.size
            exif = im.getexif()
    except Exception:  # noqa: BLE001 - a RAW file or a damaged one: no header to go by
        return FrameInfo(path, None, None, None, None)
    sub = exif.get_ifd(_EXIF_IFD)
    when = _exif_time(sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME), sub.get(_SUBSEC_ORIGINAL))
    make, model = (str(exif.get(t) or "").strip("\x00 ") for t in (_MAKE, _MODEL))
    camera = model if make and model.lower().startswith(make.split()[0].lower()) else f"{make} {model}".strip()
    iso = sub.get(_ISO)
    if isinstance(iso, (tuple, list)):
        iso = iso[0] if iso else None
    return FrameInfo(path, size, when, camera or None, int(iso) if iso else None)


def _exif_time(text, subsec) -> float | None:
    if not text:
        return None
    try:
        t = datetime.strptime(str(text).strip("\x00 "), "%Y:%m:%d %H:%M:%S").timestamp()
    except ValueError:
        return None
    if subsec:
        digits = re.sub(r"\D", "", str(subsec))
        if digits:
            t += int(digits) / 10 ** len(digits)
    return t


def _frames_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FRAME_EXTENSIONS)


def find_bursts(folders: list[str | Path], gap_seconds: float = 30.0
                ) -> tuple[list[Burst], list[tuple[str, str]]]:
    """Bursts in `folders`, and what was passed over (folder or file, why).

    A folder whose sub-folders hold frames is a folder of bursts, one per sub-folder (scene).
    A folder of frames is one burst when its frames are one size and have no capture times;
    otherwise its frames are grouped by size and capture time: a new burst starts where the
    size changes or more than `gap_seconds` pass between two frames. A group of fewer than
    MIN_FRAMES frames is passed over; one of more than MAX_FRAMES keeps its first MAX_FRAMES."""
    bursts: list[Burst] = []
    skipped: list[tuple[str, str]] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder")
        subs = sorted(p for p in folder.iterdir() if p.is_dir() and _frames_in(p))
        if subs:
            for sub in subs:
                _add(bursts, skipped, sub.name, _frames_in(sub))
            continue
        frames = _frames_in(folder)
        if not frames:
            skipped.append((str(folder), "no image files"))
            continue
        groups = group_by_capture(frames, gap_seconds)
        for i, group in enumerate(groups):
            name = folder.name if len(groups) == 1 else f"{folder.name}-{i + 1}"
            _add(bursts, skipped, name, group)
    names: dict[str, int] = {}
    unique = []
    for b in bursts:  # two folders of the same name (a/scene, b/scene) stay two scenes
        n = names[b.name] = names.get(b.name, 0) + 1
        unique.append(b if n == 1 else Burst(f"{b.name}-{n}", b.frames))
    return unique, skipped


def group_by_capture(frames: list[Path], gap_seconds: float = 30.0) -> list[list[Path]]:
    infos = [frame_info(p) for p in frames]
    by_size: dict[tuple[int, int] | None, list[FrameInfo]] = {}
    for info in infos:
        by_size.setdefault(info.size, []).append(info)
    groups: list[list[Path]] = []
    for members in by_size.values():
        if all(m.time is None for m in members):
            groups.append([m.path for m in members])
            continue
        members.sort(key=lambda m: (m.time is None, m.time or 0.0, m.path.name))
        current = [members[0]]
        for m in members[1:]:
            if m.time is None or current[-1].time is None or m.time - current[-1].time > gap_seconds:
                groups.append([c.path for c in current])
                current = []
            current.append(m)
        groups.append([c.path for c in current])
    return groups


def _add(bursts: list[Burst], skipped: list[tuple[str, str]], name: str, frames: list[Path]) -> None:
    name = _safe_name(name)
    if len(frames) < MIN_FRAMES:
        skipped.append((name, f"{len(frames)} frame(s): a burst needs at least {MIN_FRAMES}"))
        return
    if len(frames) > MAX_FRAMES:
        skipped.append((name, f"{len(frames)} frames: only the first {MAX_FRAMES} are used"))
        frames = frames[:MAX_FRAMES]
    bursts.append(Burst(name, tuple(frames)))


def _safe_name(name: str) -> str:
    """A file-name stem for the scene, not ending in `_<digits>` (the pairs' own numbering
    comes after it, and the scene is the name without that last number)."""
    name = re.sub(r"[^A-Za-z0-9.+-]+", "-", name).strip("-.") or "scene"
    return name


# --------------------------------------------------------------------------- alignment

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


def _warp_to_reference(frame: np.ndarray, warp: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    h, w = frame.shape[:2]
    return cv2.warpAffine(frame, warp, (w, h), dst=out, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def _warp_to_frame(reference: np.ndarray, warp: np.ndarray) -> np.ndarray:
    h, w = reference.shape[:2]
    return cv2.warpAffine(reference, warp, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def _is_identity(warp: np.ndarray) -> bool:
    return bool(np.allclose(warp, [[1, 0, 0], [0, 1, 0]], atol=1e-6))


# --------------------------------------------------------------------------- averaging

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
            if _is_identity(warp):
                aligned = frame
            else:  # one buffer for every warped frame: no 72 MB allocation per frame
                if buffer is None or buffer.shape != frame.shape or buffer.dtype != frame.dtype:
                    buffer = np.empty_like(frame)
                aligned = _warp_to_reference(frame, warp, buffer)
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


# --------------------------------------------------------------------------- writing pairs

def _margin(transforms: dict[str, list[list[float]]], shape: tuple[int, int]) -> int:
    """Border left out of the pairs: where some frame saw outside the reference. A multiple
    of 16 so that a tile keeps the camera's JPEG 8 x 8 grid (and the network's 16-px
    phase) where it was."""
    worst = max((float(np.abs(displacement(np.array(w), shape)).max()) for w in transforms.values()), default=0.0)
    return int(math.ceil((worst + 2) / 16.0) * 16) if worst > 0 else 0


def tile_boxes(shape: tuple[int, int], tile: int | None, count: int, margin: int, index: int
               ) -> list[tuple[int, int, int, int]]:
    """(y, x, h, w) boxes of the pairs of the `index`-th frame: the whole frame inside the
    margin when `tile` is None, else up to `count` tiles on a grid over the frame, a
    different subset for each frame so that the burst covers the scene."""
    h, w = shape[0] - 2 * margin, shape[1] - 2 * margin
    if tile is None or (h <= tile and w <= tile):
        return [(margin, margin, h, w)]
    tile = min(tile, h, w)
    ys = np.linspace(margin, margin + h - tile, max(1, round(h / tile))).round().astype(int) // 16 * 16
    xs = np.linspace(margin, margin + w - tile, max(1, round(w / tile))).round().astype(int) // 16 * 16
    grid = [(int(y), int(x), tile, tile) for y in ys for x in xs]
    if len(grid) <= count:
        return grid
    step = len(grid) / count
    offset = (index * 0.618034 % 1.0) * step  # a golden-ratio walk: frames take different tiles
    return [grid[int(offset + i * step) % len(grid)] for i in range(count)]


def write_pairs(burst: Burst, mean: np.ndarray, result: BurstResult, out_dir: Path, tile: int | None = 512,
                tiles_per_frame: int = 8) -> Work[list[str]]:
    """For each kept frame, its untouched pixels (`noisy/`) and the mean warped into its
    geometry (`clean/`), as 8-bit PNG pairs of the same name; returns the names."""
    noisy_dir, clean_dir = out_dir / "noisy", out_dir / "clean"
    noisy_dir.mkdir(parents=True, exist_ok=True)
    clean_dir.mkdir(parents=True, exist_ok=True)
    for old in list(noisy_dir.glob(f"{burst.name}_*.png")) + list(clean_dir.glob(f"{burst.name}_*.png")):
        if re.fullmatch(re.escape(burst.name) + r"_\d+", old.stem):  # a previous calibration of this scene
            old.unlink()
    margin = _margin(result.transforms, mean.shape[:2])
    names: list[str] = []
    by_name = {p.name: p for p in burst.frames}
    for index, frame_name in enumerate(result.frames):
        frame = load_frame(by_name[frame_name])
        if frame.dtype == np.uint16:  # the trainer reads 8-bit pairs
            frame = to_uint8(frame.astype(np.float32) / 65535.0)
        warp = np.array(result.transforms[frame_name], np.float64)
        clean = to_uint8(mean if _is_identity(warp) else _warp_to_frame(mean, warp))
        for (y, x, h, w) in tile_boxes(mean.shape[:2], tile, tiles_per_frame, margin, index):
            name = f"{burst.name}_{len(names):04d}.png"
            _save_png(noisy_dir / name, frame[y:y + h, x:x + w])
            _save_png(clean_dir / name, clean[y:y + h, x:x + w])
            names.append(name)
        del frame, clean
        yield Progress((index + 1) / len(result.frames), f"{burst.name}: pairs of frame {index + 1} "
                       f"of {len(result.frames)}", {"burst": burst.name})
    return names


def _save_png(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise OSError(f"{path}: could not be written")


# --------------------------------------------------------------------------- the whole job

def calibrate(bursts: list[Burst], out_dir: str | Path, settings: AlignSettings = AlignSettings(),
              tile: int | None = 512, tiles_per_frame: int = 8) -> Work[dict]:
    """Average each burst and write its pairs into `out_dir` (`noisy/`, `clean/`,
    `calibration.json`); returns the manifest. A burst of which fewer than MIN_FRAMES frames
    align is listed under `left_out` and writes nothing. Bursts already in the manifest of
    `out_dir` are kept unless calibrated again, so scenes can be added one at a time."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    scenes: dict[str, dict] = {s["name"]: s for s in manifest.get("scenes", [])}
    left_out: dict[str, str] = dict(manifest.get("left_out", {}))
    total = max(1, len(bursts))
    for i, burst in enumerate(bursts):
        span = (i / total, (i + 0.8) / total)
        mean, result = yield from _scaled(average_burst(burst, settings), *span)
        if len(result.frames) < MIN_FRAMES:
            left_out[burst.name] = (f"only {len(result.frames)} of {len(burst.frames)} frames aligned: "
                                    f"a reference needs at least {MIN_FRAMES}")
            scenes.pop(burst.name, None)
            continue
        left_out.pop(burst.name, None)
        result.pairs = yield from _scaled(write_pairs(burst, mean, result, out_dir, tile, tiles_per_frame),
                                          span[1], (i + 1) / total)
        del mean
        entry = asdict(result)
        entry["noise_reduction"] = round(result.noise_reduction, 2)
        entry["seconds_align"] = round(result.seconds_align, 2)
        scenes[burst.name] = entry
    manifest = {
        "version": 1,
        "camera": _one_camera(scenes.values()),
        "iso": _iso_range(scenes.values()),
        "tile": tile,
        "scenes": list(scenes.values()),
        "left_out": left_out,
    }
    tmp = manifest_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(manifest_path)
    return manifest


def _scaled(work: Work, start: float, stop: float) -> Work:
    from desktop_app.core.tasks import subrange

    return (yield from subrange(work, start, stop))


def _one_camera(scenes) -> str | None:
    cameras = sorted({s["camera"] for s in scenes if s.get("camera")})
    return " / ".join(cameras) if cameras else None


def _iso_range(scenes) -> list[int] | None:
    isos = [i for s in scenes for i in s.get("iso", [])]
    return [min(isos), max(isos)] if isos else None
