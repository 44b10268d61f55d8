"""The pairs folder: each kept frame's own pixels (`noisy/`) beside the mean warped into its
geometry (`clean/`), cut into tiles, and `calibrate`, the whole job that averages each burst,
writes its pairs and records them in `calibration.json`."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from desktop_app.core.calibration.alignment import (
    AlignSettings,
    displacement,
    is_identity,
    warp_to_frame,
)
from desktop_app.core.calibration.averaging import (
    BurstResult,
    average_burst,
    load_frame,
)
from desktop_app.core.calibration.bursts import MIN_FRAMES, Burst
from desktop_app.core.imaging.convert import to_uint8
from desktop_app.core.work import Progress, Work

MANIFEST = "calibration.json"


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
        clean = to_uint8(mean if is_identity(warp) else warp_to_frame(mean, warp))
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
    from desktop_app.core.work import subrange

    return (yield from subrange(work, start, stop))


def scene_noise(scene: dict) -> tuple[float, float]:
    """A scene's noise (sigma, 0-255 scale, the mean over the channels) in its first frame and
    in the mean of its frames."""
    before, after = (sum(scene[k]) / len(scene[k]) for k in ("sigma_before", "sigma_after"))
    return before, after


def scene_summary(scene: dict) -> str:
    """One scene of the manifest in words: frames averaged, the noise before and after (the
    mean over the channels, 0-255 scale), the pairs written."""
    before, after = scene_noise(scene)
    return (f"{len(scene['frames'])} frames averaged in {scene['seconds_align']:.1f} s, noise {before:.2f} -> "
            f"{after:.2f} (of 255, x{scene['noise_reduction']:.1f} less), {len(scene['pairs'])} pairs")


def read_calibration(folders) -> dict:
    """The camera and ISO range of the pairs folders among `folders` that `calibrate` wrote:
    {"camera": "Make Model", "iso": [low, high]}, either left out when unknown; {} when none
    of them holds a calibration.json."""
    found = []
    for folder in folders:
        try:
            m = json.loads((Path(folder) / MANIFEST).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(m, dict):
            found.append({"camera": m.get("camera") if isinstance(m.get("camera"), str) else None,
                          "iso": [i for i in (m.get("iso") or []) if isinstance(i, int)]})
    out = {"camera": _one_camera(found), "iso": _iso_range(found)}
    return {k: v for k, v in out.items() if v}


def calibration_mismatch(calibrated: dict, camera: dict[str, str]) -> str | None:
    """Why a model calibrated as `calibrated` ({"camera", "iso"}, a manifest's `training`) must
    not denoise a photo whose EXIF summary is `camera` (ImageMeta.camera), or None. A
    calibration learns how strong one camera's noise is at the ISOs of its bursts, and wipes
    out detail at a lower ISO (docs/models.md, "Does calibrating help?"). What the photo does
    not say (no EXIF) is not held against it."""
    want, have = calibrated.get("camera"), camera.get("camera")
    if want and have and have.strip().lower() not in {c.strip().lower() for c in want.split(" / ")}:
        return f"calibrated to the {want}; this photo is from a {have}. Use a model for that camera, or cnn-real."
    iso_range, iso = calibrated.get("iso"), camera.get("iso", "")
    if iso_range and iso.isdigit() and not iso_range[0] <= int(iso) <= iso_range[1]:
        at = f"ISO {iso_range[0]}" if iso_range[0] == iso_range[1] else f"ISO {iso_range[0]}-{iso_range[1]}"
        return (f"calibrated at {at}; this photo is ISO {iso}, where its noise is of another strength. "
                f"Calibrate with a burst at ISO {iso} too, or use cnn-real.")
    return None


def _one_camera(scenes) -> str | None:
    cameras = sorted({s["camera"] for s in scenes if s.get("camera")})
    return " / ".join(cameras) if cameras else None


def _iso_range(scenes) -> list[int] | None:
    isos = [i for s in scenes for i in s.get("iso", [])]
    return [min(isos), max(isos)] if isos else None
