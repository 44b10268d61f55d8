"""Calibration from bursts: alignment, the running mean, frames left out, the pairs written."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from desktop_app.core import calibration
from desktop_app.core.work import run_work
from desktop_app.core.training.data import load_pairs, scene_key

SIZE = (160, 224)  # h, w


def scene(seed: int, size=(320, 400)) -> np.ndarray:
    """Smooth random structure at several scales, float32 RGB in [0.1, 0.9]."""
    rng = np.random.default_rng(seed)
    out = np.zeros((*size, 3), np.float32)
    for sigma, weight in ((12, 1.0), (4, 0.6), (1.5, 0.3)):
        noise = rng.standard_normal((*size, 3)).astype(np.float32)
        blurred = cv2.GaussianBlur(noise, (0, 0), sigma)
        out += weight * blurred / blurred.std()
    out = (out - out.min()) / (out.max() - out.min())
    return 0.1 + 0.8 * out


def euclidean(angle_deg: float, dx: float, dy: float, centre=(0.0, 0.0)) -> np.ndarray:
    """2 x 3 transform: rotate by `angle_deg` about `centre`, then shift by (dx, dy)."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    cx, cy = centre
    return np.array([[c, -s, cx - c * cx + s * cy + dx], [s, c, cy - s * cx - c * cy + dy]])


def frame_of(world: np.ndarray, warp: np.ndarray, sigma: float, rng) -> np.ndarray:
    """The frame a camera moved by `warp` (reference -> frame coordinates) sees of the
    reference view (the world's centre crop), with noise of `sigma` (0-255 scale)."""
    h, w = SIZE
    oy, ox = (world.shape[0] - h) // 2, (world.shape[1] - w) // 2
    # frame(x) = reference(warp^-1 x) and reference(u) = world(u + offset)
    inv = cv2.invertAffineTransform(warp)
    to_world = inv.copy()
    to_world[:, 2] += (ox, oy)
    clean = cv2.warpAffine(world, to_world, (w, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
    return clean + rng.standard_normal(clean.shape).astype(np.float32) * (sigma / 255.0)


def reference_of(world: np.ndarray) -> np.ndarray:
    h, w = SIZE
    oy, ox = (world.shape[0] - h) // 2, (world.shape[1] - w) // 2
    return world[oy:oy + h, ox:ox + w]


def write_burst(folder: Path, frames: list[np.ndarray], exif_model: str | None = None, iso: int = 1600,
                start_second: int = 0, ext: str = ".png") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, f in enumerate(frames):
        p = folder / f"IMG_{start_second + i:04d}{ext}"
        image = Image.fromarray(np.clip(np.rint(f * 255), 0, 255).astype(np.uint8))
        exif = Image.Exif()
        if exif_model:
            exif[0x010F] = "Testmaker"
            exif[0x0110] = f"Testmaker {exif_model}"
            ifd = exif.get_ifd(0x8769)
            ifd[0x9003] = f"2026:05:01 10:{(start_second + i) // 60:02d}:{(start_second + i) % 60:02d}"
            ifd[0x8827] = iso
        image.save(p, exif=exif.tobytes(), **({"quality": 98} if ext == ".jpg" else {}))
        paths.append(p)
    return paths


def test_alignment_recovers_a_known_shift_and_small_rotation():
    world = scene(1)
    rng = np.random.default_rng(0)
    reference = frame_of(world, euclidean(0, 0, 0), 8, rng)
    aligner = calibration.Aligner(reference)
    for angle, dx, dy in ((0.0, 3.4, -2.1), (0.6, -5.2, 1.7), (-0.8, 0.4, 6.3)):
        truth = euclidean(angle, dx, dy, centre=(40.0, 30.0))
        warp, cc = aligner.align(frame_of(world, truth, 8, rng))
        error = np.abs(calibration.displacement(warp, SIZE) - calibration.displacement(truth, SIZE)).max()
        assert error < 0.15, (angle, dx, dy, warp, error)
        assert math.degrees(math.atan2(warp[1, 0], warp[0, 0])) == pytest.approx(angle, abs=0.05)
        assert cc > 0.9


def test_mean_of_n_frames_reduces_noise_by_about_sqrt_n(tmp_path):
    world = scene(2)
    rng = np.random.default_rng(1)
    n, sigma = 16, 10.0
    # whole-pixel shifts: interpolating a frame would smooth its noise and blur the comparison
    warps = [euclidean(0, 0, 0)] + [euclidean(0, *rng.integers(-4, 5, 2)) for _ in range(n - 1)]
    frames = [frame_of(world, w, sigma, rng) for w in warps]
    # saved as 16-bit TIFF so that 8-bit rounding does not add its own noise floor
    folder = tmp_path / "burst"
    folder.mkdir()
    from desktop_app.core.imaging.io import ImageMeta, save_image

    for i, f in enumerate(frames):
        save_image(folder / f"f{i:02d}.tif", np.clip(f, 0, 1), ImageMeta(format="TIFF", bit_depth=16))
    bursts, _ = calibration.find_bursts([folder])
    mean, result = run_work(calibration.average_burst(bursts[0]))
    assert result.frames == [f"f{i:02d}.tif" for i in range(n)] and not result.left_out
    truth = reference_of(world)
    m = 12  # the border, where warped frames repeat their edge
    residual = (mean - truth)[m:-m, m:-m] * 255
    single = (frames[0] - truth)[m:-m, m:-m] * 255
    ratio = single.std() / residual.std()
    assert 3.6 < ratio < 4.4, ratio  # sqrt(16) = 4
    # the estimator's before / after agrees in order of magnitude
    assert result.noise_reduction > 2.5


def test_a_frame_that_does_not_align_is_listed_and_left_out(tmp_path):
    world, other = scene(3), scene(4)
    rng = np.random.default_rng(2)
    frames = [frame_of(world, euclidean(0, rng.uniform(-2, 2), rng.uniform(-2, 2)), 6, rng) for _ in range(5)]
    frames.insert(3, frame_of(other, euclidean(0, 0, 0), 6, rng))  # another scene in the middle
    paths = write_burst(tmp_path / "burst", frames)
    bursts, _ = calibration.find_bursts([tmp_path / "burst"])
    mean, result = run_work(calibration.average_burst(bursts[0]))
    assert [name for name, _ in result.left_out] == [paths[3].name]
    assert paths[3].name not in result.frames and len(result.frames) == 5
    assert "correlation" in result.left_out[0][1] or "do not match" in result.left_out[0][1]
    assert np.abs(mean - reference_of(world))[8:-8, 8:-8].mean() < 4 / 255


def test_one_folder_is_grouped_into_bursts_by_capture_time(tmp_path):
    rng = np.random.default_rng(3)
    a = [frame_of(scene(5), euclidean(0, 0, 0), 4, rng) for _ in range(4)]
    b = [frame_of(scene(6), euclidean(0, 0, 0), 4, rng) for _ in range(5)]
    write_burst(tmp_path / "shots", a, exif_model="X1", start_second=0, ext=".jpg")
    write_burst(tmp_path / "shots", b, exif_model="X1", start_second=600, ext=".jpg")  # ten minutes later
    write_burst(tmp_path / "shots", a[:2], exif_model="X1", start_second=1800, ext=".jpg")  # too few
    bursts, skipped = calibration.find_bursts([tmp_path / "shots"])
    assert [len(x.frames) for x in bursts] == [4, 5]
    assert len(skipped) == 1 and "at least 4" in skipped[0][1]
    info = calibration.frame_info(bursts[0].frames[0])
    assert info.camera == "Testmaker X1" and info.iso == 1600


def test_cli_calibrate_writes_pairs_the_trainer_reads(tmp_path):
    from desktop_app.cli import main

    rng = np.random.default_rng(4)
    for k, iso in ((0, 800), (1, 1600)):
        world = scene(10 + k)
        frames = [frame_of(world, euclidean(rng.uniform(-0.3, 0.3), *rng.uniform(-3, 3, 2)), 8, rng)
                  for _ in range(4)]
        write_burst(tmp_path / "bursts" / f"scene{k}", frames, exif_model="Z9", iso=iso, ext=".jpg")
    out = tmp_path / "pairs"
    assert main(["calibrate", str(tmp_path / "bursts"), "-o", str(out), "--tile", "64", "--tiles", "2", "-q"]) == 0
    noisy = sorted(p.name for p in (out / "noisy").iterdir())
    assert noisy == sorted(p.name for p in (out / "clean").iterdir())
    assert len(noisy) == 2 * 4 * 2
    assert {scene_key(Path(n)) for n in noisy} == {"scene0", "scene1"}
    for name in noisy[:3]:
        a, b = (np.asarray(Image.open(out / d / name)) for d in ("noisy", "clean"))
        assert a.shape == b.shape == (64, 64, 3)
        assert 2 < np.abs(a.astype(float) - b).mean() < 12  # the noise, not a misplaced tile
    manifest = json.loads((out / "calibration.json").read_text())
    assert manifest["camera"] == "Testmaker Z9" and manifest["iso"] == [800, 1600]
    assert [s["name"] for s in manifest["scenes"]] == ["scene0", "scene1"]
    # two bursts: one scene to learn from, the other to validate on; one burst alone splits its tiles
    pairs = load_pairs([out], val_fraction=0.5)
    assert len(pairs.train) == len(pairs.val) == 8
    assert {scene_key(p) for p in pairs.train_paths} | {scene_key(p) for p in pairs.val_paths} == {"scene0", "scene1"}
    for name in [n for n in noisy if n.startswith("scene1")]:
        for d in ("noisy", "clean"):
            (out / d / name).unlink()
    alone = load_pairs([out], val_fraction=0.25)
    assert alone.train and alone.val and len(alone.train) + len(alone.val) == 8


def test_calibration_is_cancellable_between_frames(tmp_path):
    from desktop_app.core.work import Cancelled, CancelToken

    rng = np.random.default_rng(5)
    world = scene(7)
    write_burst(tmp_path / "b", [frame_of(world, euclidean(0, 0, 0), 5, rng) for _ in range(6)])
    bursts, _ = calibration.find_bursts([tmp_path / "b"])
    token = CancelToken()
    seen = []

    def progress(p):
        seen.append(p)
        if len(seen) == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        run_work(calibration.calibrate(bursts, tmp_path / "out"), progress, token)
    assert not (tmp_path / "out" / "calibration.json").exists()
