#!/usr/bin/env python
"""Denoising quality and speed: the tables of the "## Denoising" section of docs/benchmarks.md.

    nice -n 10 python benchmarks/denoise.py --out docs/benchmarks.md --figure docs/denoise_real.png

Every method of the app runs through the operation registry exactly as the app runs it:
``run_work(apply_operation(registry.get("denoise", method), image, params=...))`` on a float32
H x W x C image. BM3D (the ``bm3d`` package, optional) is the classic reference. Scores are
skimage's PSNR and SSIM (data range 1) of the result clipped to [0, 1] against the clean image,
averaged over the images. Sections (``--sections``):

cbsd68     CBSD68 with additive white Gaussian noise, the literature's protocol: image i of the
           sorted folder gets ``clean + sigma/255 * rng.standard_normal(clean.shape,
           dtype=np.float32)`` with ``rng = np.random.default_rng(1000 * sigma + i)``, not
           clipped. Seconds per megapixel: wall time of one call / megapixels, median over images
           and noise levels.
clipped    The same CBSD68 images and noise, as a file holds them: the noisy image clipped to
           [0, 1] and written to and read back from a 16-bit PNG; the clean image is the
           reference as before.
set12      The same on the greyscale Set12 (H x W x 1 images), PSNR.
camera     Noise that grows with brightness, as a camera's (0.3 sigma at black to 1.3 sigma at
           white, clipped, 16-bit PNG) on the same photos: BM3D and cnn given the photo's
           level, cnn with sigma auto (a level per pixel) in one pass and best quality.
estimator  Error of the app's noise estimator (``estimate_sigma``, per channel) on CBSD68,
           with the noisy image clipped to [0, 1] (as in an 8-bit photo) and not clipped.
polyu      PolyU real camera noise (noisy / clean pairs): NL-Means and BM3D at the single
           strength that gives the best mean PSNR over the set, the CNN with an estimated
           noise level, and the blind real-noise CNN.
runtime    Each network on the CPU through torch and through the CPU runtime (OpenVINO) in f32
           and, where the CPU has it, bf16, alternated image by image (cnn on clipped CBSD68
           at each σ, cnn-real on PolyU): s/MP of the network alone and the PSNR difference.
big        A 24-megapixel photo: wall time and peak memory of each method, each measured in a
           fresh process running this script.
command    The whole command a user runs, `desktop-app denoise photo.jpg -o out.jpg`, on a
           12-megapixel JPEG: cnn (sigma auto), cnn best quality and NL-Means (σ 25), each a fresh
           process, the three alternated for --command-rounds rounds; median seconds.
timeline   Where that command's time goes: the 12 MP photo through `cnn` (auto), one pass and
           best quality, each step (progress message) timed in a fresh interpreter.
figure     With ``--figure``: centre crops of RNI15 photos (real noise, no clean version)
           denoised by each method, side by side.

The networks are the app's models "cnn" and "cnn-real" (resources/models, or the folder named
by DESKTOP_APP_RESOURCES); a method whose model or package is missing is left out with a note.
"""

from __future__ import annotations

import os
import sys

# benchmarks/select.py would shadow the standard library's `select` (imported by subprocess):
# look in this folder last, so the standard library wins and `_common` is still found.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:
    sys.path.append(sys.path.pop(0))

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from _common import (Throttle, command_line, finish_report, log, markdown_table, picture_section,  # noqa: E402
                     refuse_partial_out, run_fresh_process)
from desktop_app.core.imaging.convert import to_float, to_uint8
from desktop_app.core.imaging.io import load_image, save_image
from desktop_app.core.imaging.noise import estimate_sigma
from desktop_app.core.models.catalog import find as find_model
from desktop_app.core.models.device import pick_device
from desktop_app.core.models.manager import MANAGER
from desktop_app.core.operations import registry
from desktop_app.core.operations.apply import apply_operation
from desktop_app.core.training.data import scene_key
from desktop_app.core.work import run_work

try:
    import bm3d
except ImportError:  # optional: `pip install bm3d` (the "bench" extra)
    bm3d = None

REPO = Path(__file__).resolve().parents[1]
SECTIONS = ("cbsd68", "clipped", "set12", "camera", "estimator", "polyu", "runtime", "big", "command", "timeline",
            "figure")
METHOD_KEYS = ("nlmeans", "bm3d", "cnn", "cnn-real")  # what --skip takes
MODELS = ("cnn", "cnn-real")  # method keys that are app models of the same name
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

# PSNR (dB) on CBSD68, noise not clipped: the table of ../shared/data/README.md.
PUBLISHED_CBSD68 = {
    "CBM3D": {15: 33.52, 25: 30.71, 50: 27.38},
    "FFDNet": {15: 33.87, 25: 31.21, 50: 27.96},
    "DnCNN (colour)": {15: 33.90, 25: 31.24, 50: 27.95},
    "DRUNet": {15: 34.30, 25: 31.69, 50: 28.51},
}
ESTIMATOR_SIGMAS = (5.0, 15.0, 25.0, 50.0)
BIG_SIGMA = 25.0
FIGURE_CROP = 256
# Strengths of NL-Means and BM3D in the figure when the polyu section has not run to pick them.
FALLBACK_REAL_SIGMA = {"nlmeans": 6.0, "bm3d": 6.0}


# --- methods --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    label: str
    key: str  # one of METHOD_KEYS: what --skip and the availability check go by
    run: Callable[[np.ndarray], np.ndarray]  # noisy H x W x C float32 -> result H x W x C


def app_method(label: str, method: str, device: str | None, **params) -> Method:
    """The app's denoise operation `method` (also the method's key), run the way the app runs it."""
    def run(image: np.ndarray) -> np.ndarray:
        op = registry.get("denoise", method)
        return run_work(apply_operation(op, image, params=params, device=device))
    return Method(label, method, run)


def nlmeans(sigma: float, device: str | None, label: str | None = None) -> Method:
    return app_method(label or "NL-Means (tuned, sigma known)", "nlmeans", device, sigma=sigma)


ENSEMBLE_LABEL = ", best quality"


def cnn(sigma: float | str, device: str | None, label: str | None = None, ensemble: bool = False,
        refine: bool = True) -> Method:
    """`refine` False: the network's result alone, without the Wiener step that follows it."""
    if label is None:
        label = f"CNN (sigma {'auto' if sigma == 'auto' else 'known'}{ENSEMBLE_LABEL if ensemble else ''})"
    return app_method(label, "cnn", device, sigma=sigma, ensemble=ensemble, refine=refine)


def cnn_real(device: str | None, ensemble: bool = False) -> Method:
    return app_method("CNN real (blind" + (ENSEMBLE_LABEL if ensemble else "") + ")", "cnn-real", device,
                      ensemble=ensemble)


def bm3d_method(sigma: float, label: str | None = None) -> Method:
    """CBM3D on colour images, BM3D on greyscale ones; sigma on the 0-255 scale."""
    def run(image: np.ndarray) -> np.ndarray:
        if image.shape[2] == 1:
            return bm3d.bm3d(image[:, :, 0], sigma_psd=sigma / 255.0)[:, :, None]
        return bm3d.bm3d_rgb(image, sigma_psd=sigma / 255.0)
    return Method(label or "BM3D (bm3d package, sigma known)", "bm3d", run)


class Availability:
    """Why a method cannot run (None when it can), checked once per method key."""

    def __init__(self, skip: set[str], device: str | None) -> None:
        self.skip, self.device = skip, device
        self.reasons: dict[str, str | None] = {}

    def reason(self, key: str) -> str | None:
        if key not in self.reasons:
            self.reasons[key] = self._check(key)
            if self.reasons[key]:
                log(f"{key}: {self.reasons[key]}")
        return self.reasons[key]

    def _check(self, key: str) -> str | None:
        if key in self.skip:
            return "skipped (--skip)"
        if key == "bm3d":
            return None if bm3d is not None else "the bm3d package is not installed (pip install bm3d)"
        try:
            registry.get("denoise", key)
        except registry.UnknownOperation as error:
            return str(error)
        if key in MODELS:
            try:
                runner = MANAGER.runner(key, self.device)
                # the CPU runtime converts (first time per weights file) or reads its graph here, untimed
                sigma = [0.1] * 3 if runner.arch.takes_noise_map else None
                run_work(runner.run_tiled(np.zeros((64, 64, 3), np.float32), vector=sigma))
            except Exception as error:  # noqa: BLE001 - any load failure means "no such row"
                return f"model {key!r} cannot be loaded: {error}"
        return None


def left_out(label: str, key: str, avail: Availability) -> str | None:
    """The note saying why a method is not measured, or None when it can run."""
    why = key and avail.reason(key)
    return f"Not measured: {label}: {why}." if why else None


# --- data -----------------------------------------------------------------------------------


def image_files(folder: Path, limit: int | None) -> list[tuple[int, Path]]:
    """(index in the sorted folder, path) of the first `limit` images; the index seeds the noise,
    so a short run sees the same noisy images as the full one."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise SystemExit(f"no images in {folder}")
    return list(enumerate(files))[:limit]


def load(path: Path) -> np.ndarray:
    return load_image(path)[0]


def add_noise(clean: np.ndarray, sigma: float, seed: int, clip: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noisy = clean + np.float32(sigma / 255.0) * rng.standard_normal(clean.shape, dtype=np.float32)
    return np.clip(noisy, 0.0, 1.0) if clip else noisy


def as_16bit_png(image: np.ndarray) -> np.ndarray:
    """`image` clipped to [0, 1], written to a 16-bit PNG by the app and read back."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "noisy.png"
        save_image(path, np.clip(image, 0.0, 1.0), bit_depth=16)
        return load(path)


def noise_seed(sigma: float, index: int) -> int:
    return int(round(1000 * sigma)) + index


def gaussian_pairs(files: list[tuple[int, Path]], sigma: float, clip: bool = False, file: bool = False
                   ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(clean, noisy) per image; `file`: the noisy image as a 16-bit PNG holds it."""
    for index, path in files:
        clean = load(path)
        noisy = add_noise(clean, sigma, noise_seed(sigma, index), clip)
        yield clean, as_16bit_png(noisy) if file else noisy


def trained_on(model_id: str) -> set[str]:
    """File names a model was trained on, from its manifest (for models fine-tuned on part
    of a benchmark set): those are left out of that set's table."""
    from desktop_app.core.models.catalog import find

    try:
        return set(find(model_id).manifest.training.get("train_files", []))
    except Exception:  # noqa: BLE001 - no such model: nothing to leave out
        return set()


def real_pairs(folder: Path, limit: int | None, exclude: set[str] = frozenset()) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for _, noisy_path in image_files(folder / "noisy", limit):
        if noisy_path.name in exclude:
            continue
        clean_path = folder / "clean" / noisy_path.name
        if not clean_path.exists():
            raise SystemExit(f"{noisy_path.name} has no clean version in {clean_path.parent}")
        yield load(clean_path), load(noisy_path)


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Scores:
    psnr: float
    ssim: float
    seconds_per_mp: list[float]  # one per image

    @property
    def s_per_mp(self) -> float:
        return statistics.median(self.seconds_per_mp)


def evaluate(method: Method, pairs: Iterable[tuple[np.ndarray, np.ndarray]], what: str,
             count: int) -> Scores:
    """Mean PSNR / SSIM of `method` over (clean, noisy) pairs, and its speed on each image."""
    psnr, ssim, speed = [], [], []
    throttle = Throttle()
    start = time.perf_counter()
    for k, (clean, noisy) in enumerate(pairs, 1):
        t0 = time.perf_counter()
        result = method.run(noisy)
        seconds = time.perf_counter() - t0
        result = np.clip(result, 0.0, 1.0).astype(np.float32)
        psnr.append(peak_signal_noise_ratio(clean, result, data_range=1.0))
        ssim.append(structural_similarity(clean, result, channel_axis=2, data_range=1.0))
        speed.append(seconds / (clean.shape[0] * clean.shape[1] / 1e6))
        if throttle.due(k == count):
            log(f"{what} {method.label}: {k}/{count} images, {time.perf_counter() - start:.0f} s")
    return Scores(float(np.mean(psnr)), float(np.mean(ssim)), speed)


def noisy_input() -> Method:
    return Method("noisy input", "", lambda image: image)


def best_strength(make: Callable[[float], Method], grid: list[float], pairs: Callable[[], Iterable],
                  what: str, count: int) -> tuple[float, dict[float, Scores]]:
    """The grid value whose method gives the best mean PSNR over all the pairs. The mean PSNR
    rises then falls with the strength, so the search climbs from the middle of the grid
    towards a better neighbour and stops at the peak (BM3D is too slow to try every value)."""
    tried: dict[float, Scores] = {}

    def score(i: int) -> float:
        if grid[i] not in tried:
            tried[grid[i]] = evaluate(make(grid[i]), pairs(), what, count)
            log(f"{what} {make(grid[i]).label}: mean PSNR {tried[grid[i]].psnr:.3f} dB")
        return tried[grid[i]].psnr

    i = len(grid) // 2
    score(i)  # a grid of one value has no neighbour to compare with
    while True:
        # the first better neighbour gives the direction; the other one need not be run
        better = next((j for j in (i - 1, i + 1) if 0 <= j < len(grid) and score(j) > score(i)), None)
        if better is None:
            return grid[i], tried
        i = better


def fmt_psnr(x: float) -> str:
    return f"{x:.2f}"


def fmt_ssim(x: float) -> str:
    return f"{x:.4f}"


def fmt_speed(x: float) -> str:
    return f"{x:.3g}"


def fmt_sigma(x: float) -> str:
    return f"{x:g}"


# --- sections -------------------------------------------------------------------------------


@dataclass
class Context:
    args: argparse.Namespace
    avail: Availability
    # strengths of NL-Means and BM3D found best on PolyU, for the figure
    real_sigma: dict[str, float]


def section_cbsd68(ctx: Context) -> str:
    return cbsd68_table(ctx, file=False)


def section_clipped(ctx: Context) -> str:
    return cbsd68_table(ctx, file=True)


def cbsd68_table(ctx: Context, file: bool) -> str:
    """The CBSD68 table (or the `--photos` folder's): noise as in the papers (`file` False) or as
    a 16-bit PNG holds it."""
    args = ctx.args
    name = args.photos.name if args.photos else "CBSD68"
    files = image_files(args.photos or args.data / "bench" / "CBSD68", args.images)
    n, sigmas, dev = len(files), args.sigmas, args.device
    builders: list[Callable[[float], Method]] = [
        lambda s: noisy_input(),
        lambda s: nlmeans(s, dev),
        lambda s: bm3d_method(s),
        lambda s: cnn(s, dev, "CNN (sigma known, the network alone)", refine=False),
        lambda s: cnn(s, dev),
        lambda s: cnn(s, dev, ensemble=True),
        lambda s: cnn("auto", dev),
        lambda s: cnn_real(dev),
    ]
    header = ["method"] + [f"σ{fmt_sigma(s)} {m}" for s in sigmas for m in ("PSNR", "SSIM")] + ["s/MP"]
    rows, notes = [], []
    for build in builders:
        first = build(sigmas[0])
        note = left_out(first.label, first.key, ctx.avail)
        if note:
            notes.append(note)
            continue
        row = [first.label]
        speed: list[float] = []
        for sigma in sigmas:
            scores = evaluate(build(sigma), gaussian_pairs(files, sigma, clip=file, file=file),
                              f"{name}{' clipped' if file else ''} σ{fmt_sigma(sigma)}", n)
            row += [fmt_psnr(scores.psnr), fmt_ssim(scores.ssim)]
            speed += scores.seconds_per_mp
        row.append(fmt_speed(statistics.median(speed)) if first.key else "—")
        rows.append(row)
    published = [f"{name} " + " / ".join(fmt_psnr(v[s]) for s in sigmas if s in v)
                 for name, v in PUBLISHED_CBSD68.items()]
    shown = [fmt_sigma(s) for s in sigmas if s in (15, 25, 50)]
    if file:
        return "\n".join([
            f"### {name}, noise clipped and stored as a 16-bit PNG, as in files ({n} images)", "",
            markdown_table(header, rows), "",
            "The images and noise of the table above, clipped to [0, 1] and written to and read back "
            "from a 16-bit PNG by the app, as a photo file holds them: noise is cut off in dark and "
            "bright areas. Every method gets that image; scores against the clean image.",
        ] + ([""] + notes if notes else []))
    lines = [
        f"### {name}, additive white Gaussian noise ({n} images)", "",
        markdown_table(header, rows), "",
        f"Published PSNR on CBSD68 at σ {' / '.join(shown)} (same protocol, from the data README): "
        + "; ".join(published) + "." if shown and not args.photos else "",
        "",
        "Noise added in floating point and not clipped, as in the literature; every method gets that "
        "array. NL-Means quantises a clipped 8-bit copy for its patch search and adds the 8-bit "
        "correction to the unclipped input; the app clips every result to [0, 1]. Scores on the "
        "result clipped to [0, 1]; s/MP: median over images and noise levels.",
    ]
    return "\n".join(lines + ([""] + notes if notes else []))


def section_set12(ctx: Context) -> str:
    args = ctx.args
    files = image_files(args.data / "bench" / "Set12", args.images)
    n, sigmas, dev = len(files), args.sigmas, args.device
    builders: list[Callable[[float], Method]] = [
        lambda s: noisy_input(),
        lambda s: nlmeans(s, dev),
        lambda s: bm3d_method(s),
        lambda s: cnn(s, dev),
        lambda s: cnn(s, dev, ensemble=True),
    ]
    rows, notes = [], []
    for build in builders:
        first = build(sigmas[0])
        note = left_out(first.label, first.key, ctx.avail)
        if note:
            notes.append(note)
            continue
        row = [first.label]
        for sigma in sigmas:
            scores = evaluate(build(sigma), gaussian_pairs(files, sigma), f"Set12 σ{fmt_sigma(sigma)}", n)
            row.append(fmt_psnr(scores.psnr))
        rows.append(row)
    lines = [
        f"### Set12, greyscale, additive white Gaussian noise ({n} images)", "",
        markdown_table(["method"] + [f"σ{fmt_sigma(s)} PSNR" for s in sigmas], rows), "",
        "Same protocol as CBSD68, on single-channel images. The colour CNN sees the grey channel "
        "repeated three times and returns the mean of its three output channels.",
    ]
    return "\n".join(lines + ([""] + notes if notes else []))


def section_estimator(ctx: Context) -> str:
    """The estimator's error on CBSD68 (clipped to [0, 1], and not), and on every 4th
    of PolyU's clean references (photos the project never trained a Gaussian denoiser on, many of
    them dark) clipped and stored in a 16-bit PNG, as the clipped table's files are."""
    args = ctx.args
    files = image_files(args.data / "bench" / "CBSD68", args.images)
    polyu = args.data / "bench" / "PolyU" / "clean"
    photos = image_files(polyu, None)[::4] if polyu.is_dir() else []
    cases = [("CBSD68, clipped", files, True, False), ("CBSD68, not clipped", files, False, False)]
    if photos:
        cases.append((f"PolyU {len(photos)}, clipped, 16-bit PNG", photos, True, True))
    cases.append(("CBSD68, noise growing with brightness, clipped", files, True, "level"))
    rows = []
    start = time.perf_counter()
    for sigma in ESTIMATOR_SIGMAS:
        row = [fmt_sigma(sigma)]
        for _, chosen, clip, file in cases:
            pairs = ((truth, noisy) for _, noisy, truth in level_noise_cases(chosen, sigma)) if file == "level" else (
                (np.full(3, sigma), noisy) for _, noisy in gaussian_pairs(chosen, sigma, clip, file))
            errors = [estimate_sigma(noisy, by_level=True) - truth for truth, noisy in pairs]  # as "auto" reads
            error = np.concatenate(errors)  # one per channel of every image
            row += [f"{error.mean():+.2f}", f"{np.abs(error).mean():.2f}", f"{error[np.abs(error).argmax()]:+.1f}"]
        rows.append(row)
        log(f"estimator σ{fmt_sigma(sigma)}: {time.perf_counter() - start:.0f} s")
    header = ["true σ"] + [f"{name}: {what}" for name, *_ in cases
                           for what in ("mean error", "mean abs. error", "worst")]
    return "\n".join([
        f"### Noise estimator (estimate_sigma), CBSD68 ({len(files)} images) and PolyU ({len(photos)} photos)", "",
        markdown_table(header, rows), "",
        "Error of the per-channel estimate (read per brightness band, as the denoisers' \"auto\" "
        "does) against the true σ, on the 0-255 scale (estimate minus truth, over every channel of "
        "every image; worst: the largest in size). Clipped: the noisy image clipped to [0, 1], which "
        "removes noise in dark and bright areas; PolyU's photos are every 4th clean reference of the "
        "set, several of them dark (chair_11: 36 % of its values at 0 at σ 50). Noise growing with "
        "brightness: standard deviation from 0.3 σ at black to 1.3 σ at white (its variance linear "
        "in the level, as a camera's photon noise), stored in a 16-bit PNG; the truth is the root "
        "mean square of each channel's standard deviation over the photo.",
    ])


def level_noise_cases(files: list[tuple[int, Path]], sigma: float
                      ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(clean photo, noisy photo, true level per channel) with noise whose variance grows
    linearly with the clean level, from (0.3 sigma)^2 at black to (1.3 sigma)^2 at white,
    clipped, in a 16-bit PNG; the true level is the root mean square of the standard deviation
    over each channel."""
    lo, hi = 0.3 * sigma / 255.0, 1.3 * sigma / 255.0
    for index, path in files:
        clean = load(path)
        sd = np.sqrt(lo * lo + (hi * hi - lo * lo) * clean).astype(np.float32)
        noise = np.random.default_rng(noise_seed(sigma, index)).standard_normal(clean.shape, dtype=np.float32)
        yield clean, as_16bit_png(clean + sd * noise), np.sqrt((sd ** 2).mean(axis=(0, 1))) * 255.0


def section_camera(ctx: Context) -> str:
    """`cnn` on noise that grows with brightness, as a camera's, beside BM3D and the network
    given one level per channel (the photo's root mean square, known)."""
    args = ctx.args
    name = args.photos.name if args.photos else "CBSD68"
    files = image_files(args.photos or args.data / "bench" / "CBSD68", args.images)
    n, dev = len(files), args.device
    known: list[tuple[str, str, Callable[[float], Method]]] = [
        ("noisy input", "", lambda s: noisy_input()),
        ("BM3D (σ the photo's root mean square, known)", "bm3d", lambda s: bm3d_method(s)),
        ("CNN (σ the photo's root mean square, known)", "cnn", lambda s: cnn(s, dev)),
    ]
    read = [cnn("auto", dev, "CNN (σ auto: the noise per pixel, read by brightness)"),
            cnn("auto", dev, "CNN (σ auto, best quality)", ensemble=True)]
    rows, notes = [], []
    scores: dict[str, list[Scores]] = {}
    for sigma in args.sigmas:
        cases = list(level_noise_cases(files, sigma))
        for label, key, make in known:  # one level per photo: each photo its own method
            if key and left_out(label, key, ctx.avail):
                continue
            each = [evaluate(make(float(truth.mean())), [(clean, noisy)], f"{name} level {label}", 1)
                    for clean, noisy, truth in cases]
            scores.setdefault(label, []).append(Scores(float(np.mean([e.psnr for e in each])),
                                                       float(np.mean([e.ssim for e in each])),
                                                       [v for e in each for v in e.seconds_per_mp]))
        for method in read:
            if not left_out(method.label, method.key, ctx.avail):
                scores.setdefault(method.label, []).append(
                    evaluate(method, ((clean, noisy) for clean, noisy, _ in cases), f"{name} level", n))
    for label, per_sigma in scores.items():
        rows.append([label] + [v for sc in per_sigma for v in (fmt_psnr(sc.psnr), fmt_ssim(sc.ssim))])
    notes = [note for label, key, _ in known if key and (note := left_out(label, key, ctx.avail))]
    notes += [note for m in read if (note := left_out(m.label, m.key, ctx.avail))]
    header = ["method"] + [f"{fmt_sigma(s)} {m}" for s in args.sigmas for m in ("PSNR", "SSIM")]
    return "\n".join([
        f"### {name}, noise that grows with brightness, as a camera's ({n} images)", "",
        markdown_table(header, rows), "",
        "Noise whose standard deviation runs from 0.3 S at black to 1.3 S at white (its variance "
        "linear in the level, as a camera's photon noise; S the column), clipped to [0, 1] and "
        "stored in a 16-bit PNG. \"Known\": the method given the photo's root mean square level "
        "per channel, averaged over the channels (one value; BM3D takes one). \"auto\" reads the "
        "noise in 4 brightness bands and gives the network the level at each pixel's brightness "
        "and the Wiener step the level at each block's.",
    ] + ([""] + notes if notes else []))


def section_polyu(ctx: Context) -> str:
    args = ctx.args
    folder = args.data / "bench" / "PolyU"
    exclude = trained_on("cnn-real")
    files = image_files(folder / "noisy", args.images)
    n = sum(1 for _, p in files if p.name not in exclude)
    dev, grid = args.device, args.polyu_grid

    def pairs() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return real_pairs(folder, args.images, exclude)

    header = ["method", "PSNR", "SSIM", "s/MP"]
    noisy = evaluate(noisy_input(), pairs(), "PolyU", n)
    rows = [["noisy input", fmt_psnr(noisy.psnr), fmt_ssim(noisy.ssim), "—"]]
    notes, searched = [], []
    tuned = {
        "nlmeans": ("NL-Means", "σ", lambda s: nlmeans(s, dev, f"NL-Means, σ {fmt_sigma(s)}")),
        "bm3d": ("BM3D", "σ_psd ×255", lambda s: bm3d_method(s, f"BM3D, σ_psd {fmt_sigma(s)}/255")),
    }
    for key, (name, unit, make) in tuned.items():
        note = left_out(name, key, ctx.avail)
        if note:
            notes.append(note)
            continue
        best, tried = best_strength(make, grid, pairs, "PolyU", n)
        ctx.real_sigma[key] = best
        s = tried[best]
        rows.append([make(best).label + " (best single strength for the set)",
                     fmt_psnr(s.psnr), fmt_ssim(s.ssim), fmt_speed(s.s_per_mp)])
        searched.append(f"{name} {unit} tried: " + ", ".join(f"{fmt_sigma(v)} → {tried[v].psnr:.2f} dB"
                                                      for v in sorted(tried)))
    for method in (cnn("auto", dev), cnn_real(dev), cnn_real(dev, ensemble=True)):
        note = left_out(method.label, method.key, ctx.avail)
        if note:
            notes.append(note)
            continue
        s = evaluate(method, pairs(), "PolyU", n)
        rows.append([method.label, fmt_psnr(s.psnr), fmt_ssim(s.ssim), fmt_speed(s.s_per_mp)])
    lines = [
        f"### PolyU, real camera noise ({n} pairs)", "",
        markdown_table(header, rows), "",
    ] + ([f"`cnn-real` was fine-tuned on {len(exclude)} PolyU pairs of {len({scene_key(Path(f)) for f in exclude})} "
          "scenes (the files are listed in its manifest): every method here is measured on the other pairs only, "
          "scenes the model never saw.",
          ""] if exclude else []) + [
        "NL-Means and BM3D need a noise level: each is given the best single strength for the set, "
        f"the value of the grid {', '.join(fmt_sigma(g) for g in grid)} with the best mean PSNR over "
        "all the pairs. It is chosen with the clean images, a help no user has; the CNNs are given "
        "nothing. The grid is climbed from its middle to the peak:",
        "",
    ] + [f"- {s}" for s in searched]
    return "\n".join(lines + ([""] + notes if notes else []))




def runtime_pairs(ctx: Context, model_id: str) -> list[tuple[str, float | None, Callable[[], Iterable]]]:
    """(what, σ, pairs) the runtime section measures a network on: cnn on CBSD68 with clipped
    noise stored in a 16-bit file at each σ, cnn-real on the PolyU pairs it was not trained on."""
    args = ctx.args
    if model_id == "cnn-real":
        exclude = trained_on("cnn-real")
        return [("PolyU", None, lambda: real_pairs(args.data / "bench" / "PolyU", args.images, exclude))]
    files = image_files(args.data / "bench" / "CBSD68", args.images)
    return [(f"CBSD68 σ {fmt_sigma(s)}", s, lambda s=s: gaussian_pairs(files, s, clip=True, file=True))
            for s in args.sigmas]


def section_runtime(ctx: Context) -> str:
    """torch against the CPU runtime in f32 and, where the CPU has it, in bf16: the network
    alone, the runners alternated image by image."""
    from desktop_app.core.models import runtime
    from desktop_app.core.models.runner import ModelRunner

    bf16 = runtime.installed() and runtime.supports_bf16()
    kinds = ["torch", "f32"] + (["bf16"] if bf16 else [])
    header = (["network", "images", "torch s/MP", f"{RUNTIME_NAME} f32 s/MP"]
              + ([f"{RUNTIME_NAME} bf16 s/MP"] if bf16 else [])
              + ["torch PSNR", "f32 − torch (largest)"] + (["bf16 − torch (largest)"] if bf16 else []))
    rows, notes = [], []
    for model_id in MODELS:
        note = left_out(model_id, model_id, ctx.avail)
        if note:
            notes.append(note)
            continue
        fast = MANAGER.runner(model_id, "cpu")
        if fast.backend == "torch":
            notes.append(f"Not measured: {model_id} on {RUNTIME_NAME}: the runtime is not available "
                         f"({'not installed' if not runtime.installed() else 'it failed: see the log'}).")
            continue
        runners = {"torch": ModelRunner(fast.loaded, use_runtime=False),
                   "f32": ModelRunner(fast.loaded, cpu_bf16=False)}
        if bf16:
            runners["bf16"] = ModelRunner(fast.loaded, cpu_bf16=True)
        for what, level, pairs in runtime_pairs(ctx, model_id):
            sigma = [level / 255.0] * 3 if fast.arch.takes_noise_map and level is not None else None
            for runner in runners.values():  # converted or read once, not timed
                run_work(runner.run_tiled(np.zeros((64, 64, 3), np.float32), vector=sigma))
            speed = {k: [] for k in kinds}
            psnr = {k: [] for k in kinds}
            for k, (clean, noisy) in enumerate(pairs()):
                order = kinds[k % len(kinds):] + kinds[:k % len(kinds)]  # who goes first rotates
                for name in order:
                    t0 = time.perf_counter()
                    out = run_work(runners[name].run_tiled(noisy, vector=sigma))
                    speed[name].append((time.perf_counter() - t0) / (clean.shape[0] * clean.shape[1] / 1e6))
                    psnr[name].append(peak_signal_noise_ratio(clean, np.clip(out, 0.0, 1.0), data_range=1.0))
            base = np.array(psnr["torch"])

            def gap(name: str) -> str:
                d = np.array(psnr[name]) - base
                return f"{d.mean():+.4f} ({np.abs(d).max():.4f}) dB"

            rows.append([model_id, f"{what} ({len(base)})"] + [fmt_speed(statistics.median(speed[k])) for k in kinds]
                        + [fmt_psnr(float(base.mean()))] + [gap(k) for k in kinds[1:]])
            log(f"runtime {model_id} {what}: " + ", ".join(
                f"{k} {statistics.median(speed[k]):.2f} s/MP" for k in kinds))
    version = runtime.version() if runtime.installed() else "not installed"
    lines = [
        f"### CPU runtime: torch against {RUNTIME_NAME}", "",
        markdown_table(header, rows), "",
        f"{RUNTIME_NAME} {version}"
        + ("; this CPU computes bf16 natively" if bf16 else "; this CPU has no bf16, so only f32 is measured")
        + ". Each network alone (the runner's tiled pass, no noise estimation): cnn on CBSD68 with "
        "noise clipped to [0, 1] and stored in a 16-bit PNG, cnn-real on the PolyU pairs it was not "
        "trained on; the runners alternated image by image, which goes first rotating. s/MP: median "
        "over images; PSNR differences: mean over images, the largest in brackets. The app computes "
        "in bf16 where the CPU has it and the architecture allows it (`cpu_bf16`, for a cost under "
        "0.01 dB), else f32.",
    ]
    return "\n".join(lines + ([""] + notes if notes else []))


RUNTIME_NAME = "OpenVINO"


def big_photo(data: Path, width: int, height: int) -> np.ndarray:
    """A landscape CBSD68 image resized to width x height, with σ 25 noise, clipped as in a photo."""
    files = [p for _, p in image_files(data / "bench" / "CBSD68", None)]
    small = next((im for im in map(load, files) if im.shape[1] > im.shape[0]), None)
    if small is None:
        small = load(files[0])
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(noise_seed(BIG_SIGMA, 0))
    for y in range(0, height, 256):  # in bands: a photo-sized noise array would inflate the baseline
        band = image[y:y + 256]
        band += np.float32(BIG_SIGMA / 255.0) * rng.standard_normal(band.shape, dtype=np.float32)
    return np.clip(image, 0.0, 1.0, out=image)


def big_methods(device: str | None) -> list[Method]:
    return [nlmeans(BIG_SIGMA, device, f"NL-Means (σ {fmt_sigma(BIG_SIGMA)})"),
            cnn("auto", device), cnn_real(device)]


def peak_rss_gib() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20  # bytes on macOS, KiB elsewhere


def big_child(args: argparse.Namespace) -> int:
    """In a fresh process: build the big photo, run one method (or none, for the baseline), and
    print the wall time and the process's peak memory as one JSON line."""
    image = big_photo(args.data, *args.big_size)
    seconds = None
    if args.big_child != "none":
        method = next(m for m in big_methods(args.device) if m.key == args.big_child)
        if method.key in MODELS:
            MANAGER.get(method.key, args.device)  # as in the app, the model is loaded before the run
        t0 = time.perf_counter()
        method.run(image)
        seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak_gib": peak_rss_gib()}))
    return 0


def section_big(ctx: Context) -> str:
    args = ctx.args
    width, height = args.big_size
    mp = width * height / 1e6
    methods, notes = [], []
    for method in big_methods(args.device):
        note = left_out(method.label, method.key, ctx.avail)
        if note:
            notes.append(note)
        else:
            methods.append(method)
    rows = []
    for key, label in [("none", "photo only (baseline)")] + [(m.key, m.label) for m in methods]:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--big-child", key, "--data", str(args.data),
               "--big-size", f"{width}x{height}"] + (["--device", args.device] if args.device else [])
        result = run_fresh_process(cmd, f"{width}x{height} {label}", notes)
        if result is None:
            continue
        secs, peak = result["seconds"], result["peak_gib"]
        rows.append([label, "—" if secs is None else f"{secs:.1f}",
                     "—" if secs is None else fmt_speed(secs / mp),
                     "n/a" if peak is None else f"{peak:.2f}"])
    header = ["method", "seconds", "s/MP", "peak memory (GiB)"]
    lines = [
        f"### A {mp:.3g}-megapixel photo ({width}x{height})", "",
        markdown_table(header, rows), "",
        f"A CBSD68 image resized to {width}x{height} with σ {fmt_sigma(BIG_SIGMA)} noise, clipped. Each "
        "row runs in a fresh process: seconds of the operation alone (model loaded before), peak "
        "resident memory of the whole process (Python, torch, the photo and the result included; "
        "the baseline row is the process without any denoising).",
    ]
    return "\n".join(lines + ([""] + notes if notes else []))


COMMANDS = {  # label -> (method key, the command's options)
    "CNN (sigma auto)": ("cnn", ["--method", "cnn", "--sigma", "auto"]),
    "CNN (sigma auto, best quality)": ("cnn", ["--method", "cnn", "--sigma", "auto", "--ensemble", "true"]),
    "NL-Means (σ 25)": ("nlmeans", ["--method", "nlmeans", "--sigma", "25"]),
}


def section_command(ctx: Context) -> str:
    """The whole `desktop-app denoise` command on a big JPEG, methods alternated round by round."""
    import subprocess
    import tempfile

    args = ctx.args
    width, height = args.command_size
    mp = width * height / 1e6
    methods = {label: opts for label, (key, opts) in COMMANDS.items() if not ctx.avail.reason(key)}
    notes = [f"Not measured: {label}." for label in COMMANDS if label not in methods]
    seconds: dict[str, list[float]] = {label: [] for label in methods}
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo.jpg"
        save_image(photo, big_photo(args.data, width, height), jpeg_quality=95)
        labels = list(methods)
        for r in range(args.command_rounds):
            for label in labels[r % len(labels):] + labels[:r % len(labels)]:  # each goes first in turn
                cmd = [sys.executable, "-m", "desktop_app", "denoise", str(photo), "-o", str(Path(tmp) / "out.jpg"),
                       "--overwrite", "--quiet"] + methods[label] + (["--device", args.device] if args.device else [])
                t0 = time.perf_counter()
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"{label}: {done.stderr.strip()}")
                seconds[label].append(time.perf_counter() - t0)
                log(f"command {label}: round {r + 1}, {seconds[label][-1]:.1f} s")
    base = statistics.median(seconds[next(k for k in COMMANDS if "NL-Means" in k)]) if any(
        "NL-Means" in k for k in seconds) else None
    rows = []
    for label, values in seconds.items():
        med = statistics.median(values)
        rows.append([label, f"{med:.1f}", fmt_speed(med / mp), f"{med / base:.2f}" if base else "—",
                     " / ".join(f"{v:.1f}" for v in values)])
    lines = [
        f"### The whole command on a {mp:.3g}-megapixel JPEG ({width}x{height})", "",
        markdown_table(["command", "seconds (median)", "s/MP", "× NL-Means", "each round"], rows), "",
        f"`desktop-app denoise photo.jpg -o out.jpg --method ...`, each run a fresh process (start-up, "
        f"decoding, noise estimation, the network, encoding), the {len(seconds)} commands alternated for "
        f"{args.command_rounds} rounds, each going first in turn. The photo: a CBSD68 image enlarged "
        f"to {width}x{height} with σ {fmt_sigma(BIG_SIGMA)} noise, clipped, a quality-95 JPEG. The CPU "
        "runtime's converted graph is in the cache already (converting is a one-off per weights file).",
    ]
    return "\n".join(lines + ([""] + notes if notes else []))


# Run in a fresh interpreter by the timeline section: the command's steps as the CLI takes
# them, the start of each (a progress message) printed with the seconds since the script began.
TIMELINE_DRIVER = """
import json, sys, time
t0 = time.perf_counter()
def mark(what): print(json.dumps([time.perf_counter() - t0, what]), flush=True)
mark("start-up and imports")
from desktop_app.core.imaging.io import load_image, save_image
from desktop_app.core.operations import registry
from desktop_app.core.operations.apply import apply_operation
mark("decoding the photo")
image, meta = load_image(sys.argv[1])
work = apply_operation(registry.get("denoise", sys.argv[3]), image, params=json.loads(sys.argv[4]))
try:
    while True:
        mark(getattr(next(work), "message", None) or "working")
except StopIteration as done:
    result = done.value
mark("encoding and saving")
save_image(sys.argv[2], result, meta)
mark("end")
"""


def timeline_stage(message: str) -> str:
    """A progress message as the stage it belongs to: every tile and view is the network."""
    if message.startswith(("tile ", "1 tile")) or message.endswith(" tiles"):
        return "the network (tiles)"
    return "the noise map per pixel" if message.startswith("noise level read") else message


def section_timeline(ctx: Context) -> str:
    """Where the whole command's time goes: the 12 MP photo through `cnn` (auto), one pass and
    best quality, each step's seconds from the progress messages of a fresh interpreter."""
    import subprocess
    import tempfile

    args = ctx.args
    if ctx.avail.reason("cnn"):
        return "### Where the command's time goes\n\nNot measured: " + ctx.avail.reason("cnn")
    width, height = args.command_size
    runs = {"one pass": {"sigma": "auto"}, "best quality": {"sigma": "auto", "ensemble": True}}
    stages: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo.jpg"
        save_image(photo, big_photo(args.data, width, height), jpeg_quality=95)
        for label, params in runs.items():
            done = subprocess.run([sys.executable, "-c", TIMELINE_DRIVER, str(photo), str(Path(tmp) / "out.jpg"),
                                   "cnn", json.dumps(params)], capture_output=True, text=True, cwd=REPO)
            if done.returncode:
                raise SystemExit(f"timeline {label}: {done.stderr.strip()[-500:]}")
            marks = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("[")]
            seconds: dict[str, float] = {}
            for (t, message), (t_next, _) in zip(marks, marks[1:]):  # a step lasts until the next starts
                seconds[timeline_stage(message)] = seconds.get(timeline_stage(message), 0.0) + t_next - t
            seconds["total"] = marks[-1][0]
            stages[label] = seconds
            log(f"timeline {label}: {seconds['total']:.1f} s")
    names = list(dict.fromkeys(name for per in stages.values() for name in per if name != "total")) + ["total"]
    rows = [[name] + [f"{stages[label].get(name, 0.0):.2f}" for label in runs] for name in names]
    return "\n".join([
        f"### Where the command's time goes ({width}x{height} JPEG, `cnn`, σ auto)", "",
        markdown_table(["step (the progress message that opens it)"] + [f"{label} (s)" for label in runs], rows), "",
        "One fresh interpreter per column, the steps the CLI takes (reading, the operation, writing), each "
        "progress message timed; the network's tiles and views are one row, and the step named after the "
        "operation is its import of torch and the model manager. The photo: the command "
        "section's. The CPU runtime's converted graph is read from the cache (converted on a first run).",
    ])


def label_tile(tile: np.ndarray, text: str) -> np.ndarray:
    """The tile as 8-bit RGB (OpenCV draws text on 8-bit images only) with `text` in its corner."""
    tile = to_uint8(tile)
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1
    (w, h), base = cv2.getTextSize(text, font, scale, thickness)
    cv2.rectangle(tile, (0, 0), (w + 8, h + base + 8), (0, 0, 0), -1)
    cv2.putText(tile, text, (4, h + 4), font, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return tile


def centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    y0, x0 = max(0, (h - size) // 2), max(0, (w - size) // 2)
    crop = image[y0:y0 + size, x0:x0 + size]
    crop = np.repeat(crop, 3, axis=2) if crop.shape[2] == 1 else crop
    return np.pad(crop, ((0, size - crop.shape[0]), (0, size - crop.shape[1]), (0, 0)))


def section_figure(ctx: Context) -> str:
    args = ctx.args
    if not args.figure:
        return ""
    dev = args.device
    sigma = {k: ctx.real_sigma.get(k, FALLBACK_REAL_SIGMA[k]) for k in ("nlmeans", "bm3d")}
    methods = [
        noisy_input(),
        nlmeans(sigma["nlmeans"], dev, f"NL-Means s{fmt_sigma(sigma['nlmeans'])}"),
        bm3d_method(sigma["bm3d"], f"BM3D s{fmt_sigma(sigma['bm3d'])}"),
        cnn("auto", dev, "CNN auto"),
        cnn_real(dev),
    ]
    folder = args.data / "bench" / "RNI15"
    paths = []
    for name in args.figure_images:
        found = sorted(folder.glob(name + ".*"))
        if not found:
            raise SystemExit(f"no image named {name} in {folder}")
        paths.append(found[0])
    gap = 4
    size = FIGURE_CROP
    grid = np.full((len(paths) * (size + gap) - gap, len(methods) * (size + gap) - gap, 3), 255, np.uint8)
    for r, path in enumerate(paths):
        noisy = load(path)
        for c, method in enumerate(methods):
            why = method.key and ctx.avail.reason(method.key)
            if why:
                tile = label_tile(np.full((size, size, 3), 0.5, np.float32), f"{method.label}: n/a")
            else:
                log(f"figure {path.stem}: {method.label}")
                text = f"{path.stem}: noisy" if c == 0 else method.label
                tile = label_tile(centre_crop(np.clip(method.run(noisy), 0.0, 1.0), size), text)
            grid[r * (size + gap):r * (size + gap) + size, c * (size + gap):c * (size + gap) + size] = tile
    save_image(args.figure, to_float(grid))
    log(f"figure written to {args.figure}")
    def origin(key: str) -> str:
        return "best on PolyU" if key in ctx.real_sigma else "fixed: the polyu section did not pick it"

    caption = (
        f"{FIGURE_CROP}x{FIGURE_CROP} centre crops of {', '.join(p.stem for p in paths)}: noisy | "
        + " | ".join(m.label + (" (n/a)" if ctx.avail.reason(m.key) else "") for m in methods[1:])
        + f". NL-Means σ {fmt_sigma(sigma['nlmeans'])} ({origin('nlmeans')}), BM3D σ_psd "
        f"{fmt_sigma(sigma['bm3d'])}/255 ({origin('bm3d')}); the CNNs set nothing. Each method ran "
        "on the whole photo.")
    return picture_section("### Real noise, RNI15 (no clean version)", caption, args.figure, args.out,
                           "Denoising real noise: RNI15 crops")


SECTION_FUNCTIONS = {
    "camera": section_camera,
    "cbsd68": section_cbsd68,
    "clipped": section_clipped,
    "runtime": section_runtime,
    "command": section_command,
    "timeline": section_timeline,
    "set12": section_set12,
    "estimator": section_estimator,
    "polyu": section_polyu,
    "big": section_big,
    "figure": section_figure,
}


# --- driver ---------------------------------------------------------------------------------


def runtime_note(device: str | None) -> str:
    from desktop_app.core.models import runtime

    if pick_device(device).type != "cpu":
        return ""
    if runtime.installed() and runtime.enabled():
        precision = "bf16 where the architecture allows it" if runtime.supports_bf16() else "f32"
        return f" through {RUNTIME_NAME} {runtime.version()} ({precision})"
    return " through torch (no CPU runtime)"


def machine_line(device: str | None) -> str:
    load_avg = f"; load average {os.getloadavg()[0]:.1f} at the start" if hasattr(os, "getloadavg") else ""
    return (f"Machine: {os.cpu_count()} CPU cores, torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads, OpenCV {cv2.__version__} with {cv2.getNumThreads()} "
            f"threads, networks on {pick_device(device)}{runtime_note(device)}{load_avg}. Timings are wall clock of one "
            "call, in a process that may share its cores with other work.")


def models_line(avail: Availability) -> str:
    parts = []
    for model_id in MODELS:
        if avail.reason(model_id):
            continue
        entry = find_model(model_id)
        m = entry.manifest
        try:
            where = entry.path.relative_to(REPO).as_posix()
        except ValueError:
            where = str(entry.path)
        parts.append(f"{model_id} = {where} ({m.architecture}, sha256 {m.sha256[:12]})")
    return "Models: " + ("; ".join(parts) if parts else "none") + "."


def parse_list(text: str, kind=float) -> list:
    return [kind(x) for x in text.split(",") if x.strip()]


def parse_size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data",
                    help="the shared data folder, with bench/CBSD68, Set12, PolyU, RNI15 "
                         "(default: ../shared/data from the repository root)")
    ap.add_argument("--images", type=int, default=None, help="use only the first N images of each set")
    ap.add_argument("--photos", type=Path, default=None,
                    help="a folder of clean photos the cbsd68 and clipped sections use instead of CBSD68 "
                         "(Kodak, McMaster: photos the project never trained on)")
    ap.add_argument("--sigmas", type=parse_list, default=[15.0, 25.0, 50.0],
                    help="Gaussian noise levels on the 0-255 scale for CBSD68 and Set12 (default 15,25,50)")
    ap.add_argument("--sections", type=lambda s: parse_list(s, str), default=list(SECTIONS),
                    help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)}; "
                         "figure needs --figure)")
    ap.add_argument("--skip", type=lambda s: parse_list(s, str), default=[],
                    help=f"methods to leave out: {','.join(METHOD_KEYS)}")
    ap.add_argument("--polyu-grid", type=parse_list, default=[2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 15.0],
                    help="noise levels (0-255) tried for NL-Means and BM3D on PolyU")
    ap.add_argument("--big-size", type=parse_size, default=(6000, 4000), help="WxH of the big photo")
    ap.add_argument("--command-size", type=parse_size, default=(4000, 3000),
                    help="WxH of the JPEG the whole command is timed on (default 12 MP)")
    ap.add_argument("--command-rounds", type=int, default=3, help="rounds of the command section")
    ap.add_argument("--figure-images", type=lambda s: parse_list(s, str), default=["Dog", "Flowers", "Movie"],
                    help="RNI15 photos (names without extension) in the figure")
    ap.add_argument("--device", default=None, help="device for the networks (default: the app's choice)")
    ap.add_argument("--out", type=Path, default=None,
                    help="markdown file whose '## Denoising' section is replaced by the tables")
    ap.add_argument("--figure", type=Path, default=None, help="PNG file for the comparison picture")
    ap.add_argument("--big-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {','.join(SECTIONS)}")
    unknown = set(args.skip) - set(METHOD_KEYS)
    if unknown:
        ap.error(f"unknown method(s) {', '.join(sorted(unknown))} in --skip; "
                 f"choose from {','.join(METHOD_KEYS)}")
    refuse_partial_out(ap, args.out, "## Denoising", skip=bool(args.skip))
    if args.photos and args.out:
        ap.error("--photos makes the tables of another set: leave out --out and copy them by hand")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.big_child:
        return big_child(args)
    start = time.perf_counter()
    avail = Availability(set(args.skip), args.device)
    ctx = Context(args, avail, {})
    header = "\n".join([
        "Made with:", "", "```", command_line("benchmarks/denoise.py"), "```", "",
        machine_line(args.device), "", models_line(avail),
    ])
    print("## Denoising\n\n" + header + "\n", flush=True)
    parts = []
    for name in SECTIONS:  # in this order: the figure uses what polyu found
        if name not in args.sections:
            continue
        if name == "figure" and not args.figure:
            log("figure: skipped (no --figure file given)")
            continue
        log(f"section {name}")
        text = SECTION_FUNCTIONS[name](ctx)
        print(text + "\n", flush=True)
        parts.append(text)
    finish_report(args.out, "## Denoising", header, parts,
                  f"The whole run took {(time.perf_counter() - start) / 60:.0f} min.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
