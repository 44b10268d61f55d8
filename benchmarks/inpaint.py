#!/usr/bin/env python
"""Inpainting quality and speed: the tables of the "## Inpainting" section of docs/benchmarks.md.

    nice -n 10 python benchmarks/inpaint.py --out docs/benchmarks.md --grid docs/inpaint_grid.jpg

Test cases: every image of CBSD68 (``--data``; the first ``--images N`` for a quick run) with
one hole per size band, three bands of hole area (share of the image's pixels):

    small   2-10 %     medium   10-30 %     large   30-50 %

The mask of image i (its position in the sorted folder) in band b is
``random_mask(h, w, np.random.default_rng(MASK_SEED + 1000 * b + i), coverage=(lo, hi))`` from
desktop_app.core.training.masks (strokes, boxes or object-like blobs; 1 = hole), so a short run
sees the same masks as the full one. ``--masks objects``: one object-like region per case instead
(a star-shaped outline of the band's area, the shape of benchmarks/select.py's composites), a
family of holes the network never trained on. Every method gets the image with the hole painted
mid grey (the hole's true pixels are never passed in) and the mask.

Methods (``--only`` / ``--skip`` take these keys):

remove    the app's inpaint/remove operation (Remove object, the default), seed 0
telea     the app's inpaint/telea operation      ns     the app's inpaint/ns operation
patch     the app's inpaint/patch operation      cnn    the app's inpaint/cnn operation, seed 0
cnn-grain-off  the same with grain off: the network's fill without the noise that matches the
          photo's grain (random, so it costs PSNR and SSIM on noisy photos; the others add none)
gmic-matchpatch, gmic-pde   G'MIC's ``inpaint_matchpatch`` (patch-based) and ``inpaint_pde``
          (diffusion), by its command line (``apt-get install gmic``), left out when it is missing
resynth   GIMP Resynthesizer's heal selection (GIMP 2.10.34, Debian 12; Resynthesizer built from
          bootchk/resynthesizer master 3751adbdd52a, the GIMP 2 branch, its engine plug-in
          ``plug-in-resynthesizer`` in ~/.config/GIMP/2.10/plug-ins/), run by ``gimp -i -d -f -b``
          in a fresh GIMP per image; left out when gimp or the plug-in is missing. On GIMP 2.10
          heal selection is a Python-Fu script (PluginScripts/plugin-heal-selection.py), and
          Debian's GIMP 2.10 has no Python-Fu, so the Script-Fu here (``RESYNTH_SCRIPT``) takes
          the script's steps with its defaults (sampling radius 50 px, sample from all around,
          random filling order): the hole (loaded as a layer's alpha) is the selection; a
          duplicate of the image with the selection grown by 50 px minus the hole, cropped to that
          ring's bounds, is the corpus; then ``plug-in-resynthesizer`` with vtile 0, htile 0,
          use-context 1 (random order), no in/out maps, map-weight 0.0, autism 0.117,
          neighbourhood 16, trys 500. The engine seeds its own generator (fixed) and runs its
          built-in 8 threads. Its seconds include GIMP's start-up (``gimp -i -d -f`` alone:
          13-19 s on the 2 loaded cores where it was first run).
shiftmap  OpenCV's ``cv2.xphoto.inpaint(..., INPAINT_SHIFTMAP)`` on the 8-bit image
fsr-fast  OpenCV's ``cv2.xphoto.inpaint(..., INPAINT_FSR_FAST)``, left out when one image takes
          longer than ``--fsr-limit`` seconds

The app's operations run through the registry exactly as the app runs them:
``run_work(apply_operation(registry.get("inpaint", method), image, mask=mask, params=...))``
(an operation with a "seed" parameter gets seed 0, the others their defaults); one that is not
registered, or fails on a small test image, is left out with a note. The OpenCV baselines are
blended into the image through the mask as the app blends its operations' results. (In
cv2.xphoto.inpaint the mask marks the *known* pixels with non-zero values, the opposite of
cv2.inpaint: checked by experiment, a mask of the hole leaves the hole untouched.)

Scores, on the result clipped to [0, 1] against the original, inside the hole only. First what a
person judges: texture distance (sliced Wasserstein distance between 7x7 patches of the Laplacian
of the result and of the original), detail ratio (mean Sobel magnitude, result over original) and
structure PSNR (both downscaled 4x); then the full-resolution
PSNR from the mean squared error over the hole's pixels (all channels); SSIM as the mean over
the hole's pixels of the SSIM map of ``structural_similarity(original, result, channel_axis=2,
data_range=1.0, full=True)`` (7x7 windows, so the SSIM of a pixel near the hole's edge also
sees known pixels around it). Both are averaged over the images of a band. Seconds: wall time
of one call per image, mean over the images of a band, after a first call on a small image
(which loads a model, compiles kernels, ...).

``--held-out DIR`` measures the same on another folder of photos that no network trained on
(masks and scores as above).

Also: a 24-megapixel photo (``--big``, a CBSD68 image upscaled with cubic interpolation plus
mild noise) with a 2 % hole, filled by cnn, patch and telea, each in a fresh process running
this script: wall time and the peak memory the operation adds; and with ``--grid`` a picture
of four cases (input with the hole in magenta | each method | original) and beside it
(``NAME_crops.jpg``) the middle of each hole at 1:1, enlarged 2x.
"""

from __future__ import annotations

import os
import sys

# benchmarks/select.py would shadow the standard library's `select` (imported by subprocess):
# look in this folder last, so the standard library wins and `_common` is still found.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:
    sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from skimage.metrics import structural_similarity  # noqa: E402

from _common import (Throttle, command_line, finish_report, log, markdown_table, picture_section,  # noqa: E402
                     refuse_partial_out, run_fresh_process, star_region, write_jpeg_under)
from desktop_app.core import metrics  # noqa: E402
from desktop_app.core.imaging.convert import blend, to_float, to_uint8  # noqa: E402
from desktop_app.core.imaging.io import load_image  # noqa: E402
from desktop_app.core.models.device import pick_device  # noqa: E402
from desktop_app.core.operations import registry  # noqa: E402
from desktop_app.core.operations.apply import apply_operation  # noqa: E402
from desktop_app.core.work import run_work  # noqa: E402
from desktop_app.core.training.masks import random_mask  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

APP_METHODS = ("remove", "telea", "ns", "patch", "cnn", "cnn-grain-off")  # the app's operations (the last: cnn, grain off), table order
GMIC_METHODS = ("gmic-matchpatch", "gmic-pde")  # G'MIC's inpainting commands, run by its command line
RESYNTH_METHODS = ("resynth",)  # GIMP Resynthesizer's heal selection, run by gimp -i
OPENCV_METHODS = ("shiftmap", "fsr-fast")
METHOD_KEYS = APP_METHODS + GMIC_METHODS + RESYNTH_METHODS + OPENCV_METHODS  # what --only and --skip take
BIG_METHODS = ("remove", "telea", "patch", "cnn")
# G'MIC command per method key: `gmic photo.png mask.png COMMAND[0] [1]` (mask: non-zero = hole)
GMIC_COMMANDS = {"gmic-matchpatch": ("G'MIC inpaint_matchpatch", "inpaint_matchpatch"),
                 "gmic-pde": ("G'MIC inpaint_pde (diffusion)", "inpaint_pde")}
RESYNTH_LABEL = "GIMP Resynthesizer, heal selection"
# Heal selection's defaults: context sampling width (px), sample from (0: all around), filling
# order (0: random, which is plug-in-resynthesizer's use-context 1).
RESYNTH_SAMPLING_RADIUS, RESYNTH_DIRECTION, RESYNTH_ORDER = 50, 0, 0
# Script-Fu (GIMP 2.10) of heal selection's steps: {src} the photo, {hole} an RGBA PNG whose alpha
# is the hole, {out} the result. plug-in-resynthesizer's arguments after the drawable: vtile, htile,
# use-context, corpus, inmask, outmask, map-weight, autism, neighbourhood, trys (heal selection's).
RESYNTH_SCRIPT = """
(let* ((img (car (gimp-file-load RUN-NONINTERACTIVE {src} {src})))
       (drw (car (gimp-image-get-active-drawable img)))
       (hole (car (gimp-file-load-layer RUN-NONINTERACTIVE img {hole}))))
  (gimp-image-insert-layer img hole 0 -1)
  (gimp-image-select-item img CHANNEL-OP-REPLACE hole)
  (gimp-image-remove-layer img hole)
  (let* ((corpus-img (car (gimp-image-duplicate img)))
         (corpus (car (gimp-image-get-active-drawable corpus-img)))
         (target (car (gimp-selection-save corpus-img))))
    (gimp-selection-grow corpus-img {radius})
    (gimp-image-select-item corpus-img CHANNEL-OP-SUBTRACT target)
    (let* ((b (gimp-selection-bounds corpus-img))
           (x1 (cadr b)) (y1 (caddr b)) (x2 (cadddr b)) (y2 (car (cddddr b))))
      (gimp-image-crop corpus-img (- x2 x1) (- y2 y1) x1 y1))
    (plug-in-resynthesizer RUN-NONINTERACTIVE img drw 0 0 1 corpus -1 -1 0.0 0.117 16 500)
    (gimp-image-delete corpus-img))
  (gimp-file-save RUN-NONINTERACTIVE img drw {out} {out})
  (gimp-image-delete img))
"""
# The app's shipped inpainting model (resources/models/inpaint.*), for the "Models:" line.
INPAINT_MODEL_ID = "inpaint"

# (name, coverage range): the hole's share of the image's pixels.
BANDS = (("small", (0.02, 0.10)), ("medium", (0.10, 0.30)), ("large", (0.30, 0.50)))
MASK_SEED = 20240  # mask of image i in band b: default_rng(MASK_SEED + 1000 * b + i)
OBJECT_SEED = 31337  # --masks objects: the region of image i in band b from default_rng(OBJECT_SEED + 1000 * b + i)
OBJECT_AMPLITUDE = 0.15  # how much an object region's radius varies with the angle (as benchmarks/select.py's)
HOLE_GREY = 0.5  # what the hole's pixels are set to in every method's input

BIG_SEED = 7
BIG_COVERAGE = (0.019, 0.021)
BIG_KINDS = ("strokes", "blob")
BIG_MASK_DRAW = 1500  # the big photo's mask is drawn at this width and upscaled (sharp edge kept)
BIG_NOISE = 2.0  # σ on the 0-255 scale of the noise added to the upscaled photo

GRID_BANDS = (2, 1, 0, 2)  # the band of each row of the picture
GRID_BYTES = 1_500_000  # the picture is scaled down until its JPEG fits
GRID_QUALITY = 88
HOLE_COLOUR = (1.0, 0.0, 1.0)  # magenta: the hole in the picture's input column


# --- methods --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    label: str
    key: str  # one of METHOD_KEYS
    run: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (image H x W x 3, mask H x W) -> result
    limit_s: float | None = None  # left out when the first image takes longer than this


def app_method(method: str, device: str | None, key: str | None = None, **settings) -> Method:
    """The app's inpaint operation `method`, run the way the app runs it (seed 0 if it has one,
    and any other parameter `settings`)."""
    op = registry.get("inpaint", method)
    params = {**({"seed": 0} if any(p.name == "seed" for p in op.params) else {}), **settings}

    def run(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return run_work(apply_operation(registry.get("inpaint", method), image, mask=mask,
                                        params=params, device=device))

    shown = "".join(f", {k} {'off' if v is False else v}" for k, v in params.items())
    return Method(f"{op.title} (app: {method}{shown})", key or method, run)


def xphoto_method(key: str, label: str, algorithm: int, limit_s: float | None = None) -> Method:
    """cv2.xphoto.inpaint on the 8-bit BGR image, blended into the image through the mask."""
    def run(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        src = cv2.cvtColor(to_uint8(image), cv2.COLOR_RGB2BGR)
        known = np.where(mask > 0, 0, 255).astype(np.uint8)  # xphoto: non-zero = valid pixel
        dst = np.zeros_like(src)
        cv2.xphoto.inpaint(src, known, dst, algorithm)
        return blend(image, to_float(cv2.cvtColor(dst, cv2.COLOR_BGR2RGB)), mask)
    return Method(label, key, run, limit_s)


def gmic_method(key: str) -> Method:
    """G'MIC's command line on the 8-bit image and the mask (one OpenMP thread), its result
    blended into the image through the mask."""
    import shutil
    import subprocess
    import tempfile

    label, command = GMIC_COMMANDS[key]
    exe = shutil.which("gmic")
    if exe is None:
        raise FileNotFoundError("gmic is not installed (apt-get install gmic)")

    def run(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with tempfile.TemporaryDirectory() as tmp:
            src, hole, out = (os.path.join(tmp, n) for n in ("in.png", "mask.png", "out.png"))
            cv2.imwrite(src, cv2.cvtColor(to_uint8(image), cv2.COLOR_RGB2BGR))
            cv2.imwrite(hole, np.where(mask > 0, 255, 0).astype(np.uint8))
            env = dict(os.environ, OMP_NUM_THREADS="1")
            subprocess.run([exe, "-v", "-1", src, hole, f"{command}[0]", "[1]", "rm[1]", "o", out], check=True,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
            result = cv2.imread(out, cv2.IMREAD_COLOR)
        return blend(image, to_float(cv2.cvtColor(result, cv2.COLOR_BGR2RGB)), mask)

    return Method(label, key, run)


def resynth_plugin() -> Path | None:
    """The Resynthesizer engine plug-in where GIMP 2.10 looks for plug-ins (the user's folder,
    GIMP2_DIRECTORY's, the system's), or None."""
    folders = [Path.home() / ".config" / "GIMP" / "2.10" / "plug-ins", Path("/usr/lib/gimp/2.0/plug-ins"),
               Path("/usr/local/lib/gimp/2.0/plug-ins")]
    if os.environ.get("GIMP2_DIRECTORY"):
        folders.insert(0, Path(os.environ["GIMP2_DIRECTORY"]) / "plug-ins")
    for folder in folders:
        for candidate in (folder / "resynthesizer", folder / "resynthesizer" / "resynthesizer"):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    return None


def resynth_method(key: str) -> Method:
    """GIMP Resynthesizer's heal selection (RESYNTH_SCRIPT) on the 8-bit image, in a fresh
    `gimp -i` per image, its result blended into the image through the mask."""
    import shutil
    import subprocess
    import tempfile

    exe = shutil.which("gimp")
    if exe is None:
        raise FileNotFoundError("gimp is not installed (apt-get install gimp)")
    if resynth_plugin() is None:
        raise FileNotFoundError("the Resynthesizer plug-in is not installed (build bootchk/resynthesizer "
                                "master and copy src/resynthesizer/resynthesizer to ~/.config/GIMP/2.10/plug-ins/)")

    def scheme(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def run(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with tempfile.TemporaryDirectory() as tmp:
            src, hole, out = (os.path.join(tmp, n) for n in ("in.png", "hole.png", "out.png"))
            cv2.imwrite(src, cv2.cvtColor(to_uint8(image), cv2.COLOR_RGB2BGR))
            alpha = np.zeros(mask.shape + (4,), np.uint8)
            alpha[..., 3] = np.where(mask > 0, 255, 0)
            cv2.imwrite(hole, alpha)
            script = RESYNTH_SCRIPT.format(src=scheme(src), hole=scheme(hole), out=scheme(out),
                                           radius=RESYNTH_SAMPLING_RADIUS)
            done = subprocess.run([exe, "-i", "-d", "-f", "-b", script, "-b", "(gimp-quit 0)"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, errors="replace", timeout=600, check=False)
            result = cv2.imread(out, cv2.IMREAD_COLOR) if os.path.exists(out) else None
            if result is None or "execution error" in done.stdout:
                raise RuntimeError(f"gimp gave no result (exit {done.returncode}): {done.stdout[-800:]}")
        return blend(image, to_float(cv2.cvtColor(result, cv2.COLOR_BGR2RGB)), mask)

    return Method(RESYNTH_LABEL, key, run)


def build_method(key: str, args: argparse.Namespace) -> Method:
    if key in GMIC_COMMANDS:
        return gmic_method(key)
    if key == "resynth":
        return resynth_method(key)
    if key == "shiftmap":
        return xphoto_method(key, "OpenCV xphoto shift-map", cv2.xphoto.INPAINT_SHIFTMAP)
    if key == "fsr-fast":
        return xphoto_method(key, "OpenCV xphoto FSR fast", cv2.xphoto.INPAINT_FSR_FAST, args.fsr_limit)
    if key == "cnn-grain-off":  # the network's fill alone, without the grain added to match the photo
        return app_method("cnn", args.device, key, grain=False)
    return app_method(key, args.device)


def warm_up_case(size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A small textured image with a hole in the middle: every method's first call."""
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.random((size, size, 3), dtype=np.float32), (0, 0), 2.0)
    mask = np.zeros((size, size), np.float32)
    mask[size // 3:2 * size // 3, size // 3:2 * size // 3] = 1.0
    return holed(image, mask), mask


class Availability:
    """The methods that can run, and why the others are left out (one note each)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.methods: dict[str, Method] = {}
        self.reasons: dict[str, str] = {}

    def method(self, key: str) -> Method | None:
        """The method of `key` when it can run (checked once: built and run on a small image)."""
        if key in self.methods:
            return self.methods[key]
        if key in self.reasons:
            return None
        args = self.args
        if key in args.skip:
            return self.drop(key, key, "skipped (--skip)")
        if args.only and key not in args.only:
            return self.drop(key, key, "not in --only")
        try:
            method = build_method(key, args)
        except registry.UnknownOperation as error:
            return self.drop(key, key, f"not registered ({error})")
        except FileNotFoundError as error:
            return self.drop(key, key, str(error))
        try:
            start = time.perf_counter()
            method.run(*warm_up_case())
            log(f"{method.label}: first call on a small image {time.perf_counter() - start:.1f} s")
        except Exception as error:  # noqa: BLE001 - a missing model, an unfinished method, ...
            return self.drop(key, method.label, f"fails on a small test image: {type(error).__name__}: {error}")
        self.methods[key] = method
        return method

    def drop(self, key: str, label: str, why: str) -> None:
        """Leave `key` out with a note (also after it ran, as FSR fast past its time limit)."""
        self.methods.pop(key, None)
        self.reasons[key] = f"Not measured: {label}: {why}."
        log(self.reasons[key])
        return None

    def notes(self, keys: tuple[str, ...]) -> list[str]:
        """The notes of the left-out methods among `keys`, except those the user left out."""
        return [self.reasons[k] for k in keys
                if k in self.reasons and k not in self.args.skip and (not self.args.only or k in self.args.only)]


# --- data -----------------------------------------------------------------------------------


def image_files(folder: Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise SystemExit(f"no images in {folder}")
    return files[:limit]


def load_rgb(path: Path) -> np.ndarray:
    pixels = load_image(path)[0][:, :, :3]
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels


def case_mask(shape: tuple[int, ...], index: int, band: int, kind: str = "mixed") -> np.ndarray:
    """The hole of image `index` in `band`: the training's mask generator (strokes, boxes and
    blobs; "mixed"), or one object-like region of the band's area (a star-shaped outline, the
    shape of benchmarks/select.py's composites; "objects"), cut off where it meets the border."""
    lo, hi = BANDS[band][1]
    if kind == "objects":
        rng = np.random.default_rng(OBJECT_SEED + 1000 * band + index)
        area = rng.uniform(lo, hi) * shape[0] * shape[1]
        return (star_region(rng, shape[0], shape[1], OBJECT_AMPLITUDE, area=area) >= 0.5).astype(np.float32)
    return random_mask(shape[0], shape[1], np.random.default_rng(MASK_SEED + 1000 * band + index),
                       coverage=(lo, hi))


def holed(image: np.ndarray, mask: np.ndarray, colour=(HOLE_GREY,) * 3) -> np.ndarray:
    """The image with the hole's pixels replaced by `colour`: what the methods are given."""
    out = image.copy()
    out[mask > 0.5] = np.asarray(colour, np.float32)
    return out


def band_label(band: int) -> str:
    lo, hi = BANDS[band][1]
    return f"{lo * 100:g}-{hi * 100:g} %"


# --- measuring ------------------------------------------------------------------------------


def hole_scores(clean: np.ndarray, result: np.ndarray, hole: np.ndarray) -> tuple[float, float]:
    """(PSNR, SSIM) inside the hole (a bool H x W): PSNR from the MSE over the hole's pixels,
    SSIM as the mean of skimage's SSIM map over them."""
    psnr = metrics.psnr(result[hole], clean[hole], clip=False)
    _, ssim_map = structural_similarity(clean, result, channel_axis=2, data_range=1.0, full=True)
    return psnr, float(ssim_map[hole].mean())


SWD_PATCH = 7  # texture distance: side of the patches of the Laplacian compared
SWD_SAMPLES = 4096  # patches drawn per image (centres inside the hole; all of them if fewer)
SWD_DIRECTIONS = 128  # random projections of the sliced Wasserstein distance
STRUCTURE_SCALE = 4  # structure PSNR: both images area-downscaled by this factor first


def _grey255(image: np.ndarray) -> np.ndarray:
    return (image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)) * 255.0


def texture_distance(clean: np.ndarray, result: np.ndarray, hole: np.ndarray, seed: int = 0) -> float:
    """Sliced Wasserstein distance between the 7x7 patches of the Laplacian (grey, 0-255 scale)
    of the result and of the original, centred on the same random hole pixels: 0 when the fill
    has the original's texture statistics (not necessarily its pixels). A smooth fill is far
    (its Laplacian is near zero), and so is a fill with pasted edges where there were none."""
    r = SWD_PATCH // 2
    ys, xs = np.nonzero(hole[r:-r, r:-r])
    if ys.size == 0:
        return float("nan")
    rng = np.random.default_rng(seed)
    pick = rng.choice(ys.size, min(SWD_SAMPLES, ys.size), replace=False)
    ys, xs = ys[pick] + r, xs[pick] + r
    d = np.arange(-r, r + 1)
    yy, xx = ys[:, None, None] + d[None, :, None], xs[:, None, None] + d[None, None, :]

    def patches(image: np.ndarray) -> np.ndarray:
        lap = cv2.Laplacian(_grey255(image), cv2.CV_32F, ksize=1)
        return lap[yy, xx].reshape(ys.size, -1)

    a, b = patches(result), patches(clean)
    directions = rng.standard_normal((a.shape[1], SWD_DIRECTIONS)).astype(np.float32)
    directions /= np.linalg.norm(directions, axis=0, keepdims=True)
    pa, pb = np.sort(a @ directions, axis=0), np.sort(b @ directions, axis=0)
    return float(np.mean(np.abs(pa - pb)))


def _sobel(image: np.ndarray) -> np.ndarray:
    grey = _grey255(image)
    return np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3))


def detail_ratio(clean: np.ndarray, result: np.ndarray, hole: np.ndarray) -> float:
    """Mean Sobel gradient magnitude inside the hole, result over original (1 = as detailed)."""
    return float(_sobel(result)[hole].mean() / max(_sobel(clean)[hole].mean(), 1e-6))


def structure_psnr(clean: np.ndarray, result: np.ndarray, hole: np.ndarray) -> float:
    """PSNR inside the hole after both images are area-downscaled STRUCTURE_SCALE times: the
    large-scale content (what is where), blind to the texture's exact pixels."""
    h, w = hole.shape
    size = (max(1, w // STRUCTURE_SCALE), max(1, h // STRUCTURE_SCALE))
    small_hole = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
    if not small_hole.any():
        small_hole = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    a = cv2.resize(result, size, interpolation=cv2.INTER_AREA)
    b = cv2.resize(clean, size, interpolation=cv2.INTER_AREA)
    return metrics.psnr(a[small_hole], b[small_hole], clip=False)


@dataclass
class Tally:
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    texture: list[float] = field(default_factory=list)
    detail: list[float] = field(default_factory=list)
    structure: list[float] = field(default_factory=list)


def grid_cases(files: list[Path]) -> list[tuple[int, int]]:
    """(image index, band) of the picture's rows: landscape images spread over the selection
    (any image when there are too few), bands GRID_BANDS."""
    sizes = [image_size(p) for p in files]
    landscape = [i for i, (w, h) in enumerate(sizes) if w > h]
    pool = landscape if len(landscape) >= len(GRID_BANDS) else list(range(len(files)))
    picks = [pool[int(round(x))] for x in np.linspace(0, len(pool) - 1, len(GRID_BANDS))]
    return list(zip(picks, GRID_BANDS))


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file's header."""
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def measure(args: argparse.Namespace, avail: Availability, data: Path, count: int | None, grid: bool):
    """Every method on every case of the images of `data`: per (method, band) tallies, the
    hole coverages per band, and the results of the picture's cases."""
    files = image_files(data, count)
    methods = [m for m in (avail.method(k) for k in METHOD_KEYS) if m is not None]
    tallies = {(m.key, b): Tally() for m in methods for b in range(len(BANDS))}
    coverage: dict[int, list[float]] = {b: [] for b in range(len(BANDS))}
    wanted = set(grid_cases(files)) if grid else set()
    pictures: dict[tuple[int, int], dict[str, np.ndarray]] = {}
    total = len(files) * len(BANDS)
    throttle = Throttle()
    start = time.perf_counter()
    k = 0
    for index, path in enumerate(files):
        clean = load_rgb(path)
        for band in range(len(BANDS)):
            k += 1
            mask = case_mask(clean.shape, index, band, args.masks)
            hole = mask > 0.5
            coverage[band].append(float(hole.mean()))
            given = holed(clean, mask)
            if (index, band) in wanted:
                pictures[(index, band)] = {"input": holed(clean, mask, HOLE_COLOUR), "original": clean,
                                           "coverage": float(hole.mean()), "hole": hole}
            for method in list(methods):
                t0 = time.perf_counter()
                result = method.run(given.copy(), mask)
                seconds = time.perf_counter() - t0
                if k == 1 and method.limit_s is not None and seconds > method.limit_s:
                    avail.drop(method.key, method.label, f"{seconds:.0f} s on one image (limit "
                               f"{method.limit_s:g} s per image, --fsr-limit)")
                    methods.remove(method)
                    for b in range(len(BANDS)):
                        tallies.pop((method.key, b), None)
                    continue
                result = np.clip(result, 0.0, 1.0).astype(np.float32)
                psnr, ssim = hole_scores(clean, result, hole)
                tally = tallies[(method.key, band)]
                tally.psnr.append(psnr)
                tally.ssim.append(ssim)
                tally.seconds.append(seconds)
                tally.texture.append(texture_distance(clean, result, hole))
                tally.detail.append(detail_ratio(clean, result, hole))
                tally.structure.append(structure_psnr(clean, result, hole))
                if (index, band) in pictures:
                    pictures[(index, band)][method.key] = result
            if throttle.due(k == total):
                log(f"case {k}/{total} ({path.stem}, {BANDS[band][0]}), {time.perf_counter() - start:.0f} s: "
                    + ", ".join(f"{m.key} {np.mean(tallies[(m.key, band)].psnr):.2f} dB "
                                f"{np.mean(tallies[(m.key, band)].seconds):.2f} s" for m in methods))
    return files, methods, tallies, coverage, pictures


def section_scores(args: argparse.Namespace, avail: Availability, data: Path, count: int | None,
                   grid: bool = False, title: str = "", explain: bool = True) -> tuple[str, list, dict]:
    files, methods, tallies, coverage, pictures = measure(args, avail, data, count, grid)
    look = ["method"]
    for name in ("texture distance", "detail ratio", "structure PSNR (4x)"):
        look += [f"{name} {BANDS[b][0]}" if b == 0 else BANDS[b][0] for b in range(len(BANDS))]
    look_rows = []
    for m in methods:
        t = [tallies[(m.key, b)] for b in range(len(BANDS))]
        look_rows.append([m.label] + [f"{np.nanmean(x.texture):.2f}" for x in t] + [f"{np.mean(x.detail):.2f}" for x in t]
                         + [f"{np.mean(x.structure):.2f}" for x in t])
    header = ["method"]
    for b in range(len(BANDS)):
        header += [f"{band_label(b)} PSNR", "SSIM", "s"]
    rows = []
    for m in methods:
        row = [m.label]
        for b in range(len(BANDS)):
            t = tallies[(m.key, b)]
            row += [f"{np.mean(t.psnr):.2f}", f"{np.mean(t.ssim):.4f}", f"{np.mean(t.seconds):.2f}"]
        rows.append(row)
    covered = ", ".join(f"{BANDS[b][0]} {band_label(b)}: {100 * np.mean(coverage[b]):.1f} % "
                        f"({100 * min(coverage[b]):.1f}-{100 * max(coverage[b]):.1f})" for b in range(len(BANDS)))
    sizes = sorted({image_size(p) for p in files}, reverse=True)
    lines = [
        f"### {data.parent.name}/{data.name}{title}, one hole per image in each of three size bands "
        f"({len(files)} images)", "",
        markdown_table(look_rows and look, look_rows), "",
        "What a person judges: texture distance (lower is closer to the original's texture), detail ratio "
        "(1 = as detailed as the original), structure PSNR in dB after both are downscaled 4x (the "
        "large-scale content), mean over the images of a band. Then the full-resolution scores:", "",
        markdown_table(header, rows), "",
        "PSNR (dB) and SSIM inside the hole, mean over the images of a band; s: seconds per image "
        f"({' or '.join(f'{w}x{h}' for w, h in sizes)}), mean over the band. Hole area, mean (min-max) share of the "
        f"image: {covered}.",
    ]
    lines += [] if not explain else [
        "",
        (f"Masks (`--masks objects`): image i of the sorted folder, band b: one object-like region, a "
         f"star-shaped outline (radius varying by {OBJECT_AMPLITUDE:g} with the angle, harmonics 1-5, a random "
         f"aspect) of an area drawn in the band, placed where it fits (`case_mask`, default_rng({OBJECT_SEED} + "
         "1000 * b + i)); cut off where it meets the border. " if args.masks == "objects" else
         "Masks: image i of the sorted folder, band b: `random_mask(h, w, np.random.default_rng("
         f"{MASK_SEED} + 1000 * b + i), coverage=(lo, hi))` (desktop_app.core.training.masks: strokes, "
         "boxes or blobs). ") + "Every method gets the image with the hole painted mid grey. PSNR inside the "
        "hole: 10 log10(1 / MSE), the MSE over the hole's pixels (all three channels) of the result "
        "clipped to [0, 1] against the original. SSIM inside the hole: the SSIM map of "
        "`structural_similarity(original, result, channel_axis=2, data_range=1.0, full=True)` (7x7 "
        "windows, so near the hole's edge it also sees known pixels) averaged over the hole's pixels. "
        "Texture distance: the sliced Wasserstein distance (128 random directions, mean absolute "
        "difference of the sorted projections) between the 7x7 patches of the Laplacian (grey, 0-255 "
        "scale) of the result and of the original, centred on the same 4096 random hole pixels. Detail "
        "ratio: the mean Sobel gradient magnitude inside the hole, result over original. Structure PSNR: "
        "both images area-downscaled 4x, PSNR over the pixels at least half in the hole. "
        "The app's methods run as the app runs them (`apply_operation` with the registry's operation, "
        "defaults, seed 0 where there is a seed); the OpenCV xphoto baselines run on the 8-bit image "
        "(their mask marks the known pixels) and are blended in through the mask; G'MIC's commands run on the 8-bit image by its command line (`gmic photo.png mask.png inpaint_matchpatch[0] [1]`, defaults, one OpenMP thread), blended in the same way; GIMP Resynthesizer's heal selection runs in a fresh `gimp -i` per image (Script-Fu taking heal selection's steps with its defaults: sampling radius 50, all around, random order; GIMP 2.10, Resynthesizer master 3751adb; its seconds include GIMP's start-up), blended in the same way. Seconds: wall time "
        "of one call after a first call on a small image (model loading, compilation).",
    ]
    notes = avail.notes(METHOD_KEYS)
    return "\n".join(lines + ([""] + notes if notes else [])), methods, pictures


# --- the big photo --------------------------------------------------------------------------


def big_case(data: Path, width: int, height: int,
             coverage: tuple[float, float] = BIG_COVERAGE) -> tuple[np.ndarray, np.ndarray]:
    """A landscape CBSD68 image upscaled to width x height with mild noise, and a mask covering
    `coverage` of it (2 %) drawn at BIG_MASK_DRAW px wide and upscaled; the hole is painted grey
    as in the tables."""
    files = image_files(data, None)
    path = next((p for p in files if image_size(p)[0] > image_size(p)[1]), files[0])
    image = cv2.resize(load_rgb(path), (width, height), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(BIG_SEED)
    for y in range(0, height, 256):  # in bands: a photo-sized noise array would inflate the baseline
        band = image[y:y + 256]
        band += np.float32(BIG_NOISE / 255.0) * rng.standard_normal(band.shape, dtype=np.float32)
    np.clip(image, 0.0, 1.0, out=image)
    small_w = min(width, BIG_MASK_DRAW)
    small_h = max(1, round(height * small_w / width))
    small = big_mask(small_h, small_w, coverage)
    mask = (cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR) > 0.5).astype(np.float32)
    image[mask > 0.5] = HOLE_GREY
    return image, mask


def big_mask(height: int, width: int, coverage: tuple[float, float] = BIG_COVERAGE) -> np.ndarray:
    """Strokes and blobs covering `coverage` of the picture: the mask of the first seed from
    BIG_SEED on that reaches the range (random_mask finishes a mask that falls short with a box
    that overshoots such a narrow range)."""
    lo, hi = coverage
    for seed in range(BIG_SEED, BIG_SEED + 100):
        mask = random_mask(height, width, np.random.default_rng(seed), coverage=coverage, kinds=BIG_KINDS)
        if lo <= mask.mean() <= hi:
            return mask
    return mask


def _status_kib(field_name: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Linux: set the process's peak resident memory (VmHWM) back to its current size."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _ru_maxrss_kib() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB elsewhere


def big_child(args: argparse.Namespace) -> int:
    """In a fresh process: build the big case, run one method (or none, for the baseline), print
    the time, the process's resident memory and the peak the method added as one JSON line."""
    width, height = args.big
    image, mask = big_case(args.data, width, height)
    out = {"coverage": float(mask.mean()), "seconds": None, "cpu_seconds": None, "added_gib": None, "how": None}
    if args.big_child != "none":
        method = build_method(args.big_child, args)
        method.run(*warm_up_case())  # as in the app, a model is loaded before the user's run
        if _reset_peak() and _status_kib("VmRSS") is not None:
            before, how = _status_kib("VmRSS"), "VmHWM"
        else:
            before, how = _ru_maxrss_kib(), "ru_maxrss"
        t0, c0 = time.perf_counter(), time.process_time()
        method.run(image, mask)
        out["seconds"] = time.perf_counter() - t0
        out["cpu_seconds"] = time.process_time() - c0  # the process's CPU time: what a loaded machine hides
        after = _status_kib("VmHWM") if how == "VmHWM" else _ru_maxrss_kib()
        if before is not None and after is not None:
            out["added_gib"] = (after - before) / 2**20
        out["how"] = how
    peak = max(v for v in (_ru_maxrss_kib(), _status_kib("VmHWM"), 0) if v is not None)
    out["process_peak_gib"] = peak / 2**20 if peak else None
    print(json.dumps(out))
    return 0


def section_big(args: argparse.Namespace, avail: Availability) -> str:
    width, height = args.big
    mp = width * height / 1e6
    keys = [k for k in BIG_METHODS if avail.method(k) is not None]
    rows, notes, coverage, how = [], [], None, None
    for key in ["none"] + keys:
        label = "photo and mask only (baseline)" if key == "none" else avail.methods[key].label
        cmd = [sys.executable, str(Path(__file__).resolve()), "--big-child", key, "--data", str(args.data),
               "--big", f"{width}x{height}"] + (["--device", args.device] if args.device else []) + \
              (["--threads", str(args.threads)] if args.threads else [])
        result = run_fresh_process(cmd, f"{width}x{height} {label}", notes)
        if result is None:
            continue
        coverage, how = result["coverage"], result["how"] or how
        secs, added, peak = result["seconds"], result["added_gib"], result["process_peak_gib"]
        cpu = result.get("cpu_seconds")
        rows.append([label, "—" if secs is None else f"{secs:.1f}", "—" if cpu is None else f"{cpu:.1f}",
                     "—" if added is None else f"{added:.2f}",
                     "n/a" if peak is None else f"{peak:.2f}"])
    peak_note = ("the process's peak resident memory (Linux VmHWM, reset just before the call) minus its "
                 "resident memory then" if how != "ru_maxrss" else
                 "the rise of the process's peak resident memory (getrusage) during the call, a lower bound")
    lines = [
        f"### A {mp:.3g}-megapixel photo ({width}x{height}), a {100 * (coverage or 0):.1f} % hole", "",
        markdown_table(["method", "seconds", "CPU seconds", "memory added (GiB)", "process peak (GiB)"], rows), "",
        f"A CBSD68 image upscaled to {width}x{height} (cubic) with σ {BIG_NOISE:g}/255 noise; the mask "
        f"is `random_mask` of strokes and blobs with coverage {BIG_COVERAGE[0]:g}-{BIG_COVERAGE[1]:g}, "
        f"drawn {BIG_MASK_DRAW} px wide (the first seed from {BIG_SEED} on that lands in that range) and "
        "upscaled. Each row runs in a fresh process: seconds of the operation "
        "alone, after a first call on a small image, which loads the model (wall clock; CPU seconds: the "
        "process's own CPU time over the same call, all its threads, which other work on the machine does "
        f"not inflate); memory added: {peak_note}; "
        "process peak: the whole process (Python, torch, the photo, mask and result included).",
    ]
    notes += avail.notes(BIG_METHODS)
    return "\n".join(lines + ([""] + notes if notes else []))


# --- the picture ----------------------------------------------------------------------------


def fit_tile(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """8-bit RGB, scaled to fit width x height and centred on white."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    if scale != 1.0:
        image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    tile = np.full((height, width, 3), 255, np.uint8)
    h, w = image.shape[:2]
    y0, x0 = (height - h) // 2, (width - w) // 2
    tile[y0:y0 + h, x0:x0 + w] = to_uint8(image)
    return tile


def put_label(tile: np.ndarray, text: str) -> None:
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1
    (w, h), base = cv2.getTextSize(text, font, scale, thickness)
    cv2.rectangle(tile, (0, 0), (w + 8, h + base + 8), (0, 0, 0), -1)
    cv2.putText(tile, text, (4, h + 4), font, scale, (255, 255, 255), thickness, cv2.LINE_AA)


def write_grid(path: Path, files: list[Path], methods: list[Method], pictures: dict) -> str:
    cases = [c for c in grid_cases(files) if c in pictures]
    columns = [("input", "input (hole in magenta)")] + [(m.key, m.label) for m in methods] + \
              [("original", "original")]
    tile_w = max(pictures[c]["original"].shape[1] for c in cases)
    tile_h = max(pictures[c]["original"].shape[0] for c in cases)
    gap, head = 4, 40
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1
    grid = np.full((head + len(cases) * (tile_h + gap), len(columns) * (tile_w + gap) - gap, 3), 255, np.uint8)
    for c, (_, title) in enumerate(columns):
        # a long title goes on two lines, split at its first " ("
        parts = title.split(" (", 1)
        parts = [parts[0], "(" + parts[1]] if len(parts) == 2 else parts
        for line_no, text in enumerate(parts):
            cv2.putText(grid, text, (c * (tile_w + gap) + 4, 16 + 17 * line_no), font, scale, (0, 0, 0),
                        thickness, cv2.LINE_AA)
    for r, case in enumerate(cases):
        index, band = case
        y = head + r * (tile_h + gap)
        for c, (key, _) in enumerate(columns):
            tile = fit_tile(pictures[case][key], tile_w, tile_h)
            if key == "input":
                put_label(tile, f"{files[index].stem}, {BANDS[band][0]}: "
                                f"{100 * pictures[case]['coverage']:.0f} % hole")
            grid[y:y + tile_h, c * (tile_w + gap):c * (tile_w + gap) + tile_w] = tile
    write_jpeg_under(path, grid, GRID_BYTES, GRID_QUALITY)
    write_crops(crops_path(path), files, methods, pictures, cases)
    return "Rows: " + "; ".join(f"{files[i].stem} with a {BANDS[b][0]} hole" for i, b in cases) + \
        ". Columns: input (hole in magenta; the methods got it grey) | " + \
        " | ".join(m.label for m in methods) + " | original."


CROP = 128  # side of the 1:1 crops (pixels of the image), around the hole's deepest point
CROP_ZOOM = 2  # each crop pixel drawn as a 2 x 2 block, so texture and seams can be seen


def crops_path(grid: Path) -> Path:
    return grid.with_name(grid.stem + "_crops" + grid.suffix)


def crop_box(hole: np.ndarray) -> tuple[int, int]:
    """Top-left corner of a CROP x CROP window centred on the hole pixel farthest from the known
    ones, moved inside the image: the middle of the fill, where smudges and tiles show."""
    depth = cv2.distanceTransform(np.pad(hole.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    h, w = hole.shape
    return (int(np.clip(y - CROP // 2, 0, max(0, h - CROP))), int(np.clip(x - CROP // 2, 0, max(0, w - CROP))))


def write_crops(path: Path, files: list[Path], methods: list[Method], pictures: dict, cases: list) -> None:
    """The same cases as the grid, cropped to CROP px around the middle of the hole, enlarged
    CROP_ZOOM x with nearest-neighbour (every pixel as the method left it)."""
    columns = [("input", "input")] + [(m.key, m.label.split(" (")[0]) for m in methods] + [("original", "original")]
    side, gap, head = CROP * CROP_ZOOM, 4, 24
    grid = np.full((head + len(cases) * (side + gap), len(columns) * (side + gap) - gap, 3), 255, np.uint8)
    for c, (_, title) in enumerate(columns):
        cv2.putText(grid, title[:28], (c * (side + gap) + 2, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
    for r, case in enumerate(cases):
        y0, x0 = crop_box(pictures[case]["hole"])
        for c, (key, _) in enumerate(columns):
            crop = to_uint8(pictures[case][key][y0:y0 + CROP, x0:x0 + CROP])
            crop = cv2.resize(crop, (crop.shape[1] * CROP_ZOOM, crop.shape[0] * CROP_ZOOM),
                              interpolation=cv2.INTER_NEAREST)
            y, x = head + r * (side + gap), c * (side + gap)
            grid[y:y + crop.shape[0], x:x + crop.shape[1]] = crop
    write_jpeg_under(path, grid, GRID_BYTES, 92)


# --- driver ---------------------------------------------------------------------------------


def machine_line(device: str | None) -> str:
    load_avg = f"; load average {os.getloadavg()[0]:.1f} at the start" if hasattr(os, "getloadavg") else ""
    return (f"Machine: {os.cpu_count()} CPU cores, torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads, OpenCV {cv2.__version__} with {cv2.getNumThreads()} "
            f"threads, networks on {pick_device(device)}{load_avg}. Timings are wall clock of one "
            "call, in a process that may share its cores with other work.")


def models_line(avail: Availability) -> str:
    if "cnn" not in avail.methods:
        return ""
    try:
        from desktop_app.core.models.catalog import find as find_model

        entry = find_model(INPAINT_MODEL_ID)
        m = entry.manifest
        try:
            where = entry.path.relative_to(REPO).as_posix()
        except ValueError:
            where = str(entry.path)
        return f"Model: {INPAINT_MODEL_ID} = {where} ({m.architecture}, sha256 {m.sha256[:12]})."
    except Exception:  # noqa: BLE001 - only a description; the measurement does not need it
        return ""


def parse_keys(text: str) -> list[str]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    unknown = set(keys) - set(METHOD_KEYS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown method(s) {', '.join(sorted(unknown))}; "
                                         f"choose from {','.join(METHOD_KEYS)}")
    return keys


def parse_size(text: str) -> tuple[int, int] | None:
    if text.strip() in ("", "0", "none"):
        return None
    w, h = text.lower().split("x")
    return int(w), int(h)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "bench" / "CBSD68",
                    help="folder of test images (default: ../shared/data/bench/CBSD68 from the repository root)")
    ap.add_argument("--images", type=int, default=None, help="use only the first N images")
    ap.add_argument("--masks", choices=("mixed", "objects"), default="mixed",
                    help="the holes: the training's mask generator (default), or one object-like region each")
    ap.add_argument("--held-out", type=Path, action="append", default=[],
                    help="another folder of photos no network trained on, measured the same way (repeatable)")
    ap.add_argument("--held-out-images", type=int, default=None, help="use only the first N of each --held-out")
    ap.add_argument("--only", type=parse_keys, default=[],
                    help=f"comma-separated methods to run (default all): {','.join(METHOD_KEYS)}")
    ap.add_argument("--skip", type=parse_keys, default=[], help="comma-separated methods to leave out (same keys)")
    ap.add_argument("--fsr-limit", type=float, default=30.0,
                    help="leave FSR fast out when one image takes longer than this many seconds (default 30)")
    ap.add_argument("--big", type=parse_size, default=(6000, 4000),
                    help="WxH of the timed big photo (default 6000x4000; '' to skip)")
    ap.add_argument("--device", default=None, help="device for the networks (default: the app's choice)")
    ap.add_argument("--grid", type=Path, default=None, help="JPEG file for the picture of four cases")
    ap.add_argument("--out", type=Path, default=None,
                    help="markdown file whose '## Inpainting' section is replaced by the tables")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch and OpenCV threads (default: their own choice); 1 on a shared machine")
    ap.add_argument("--big-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    refuse_partial_out(ap, args.out, "## Inpainting", only=bool(args.only), big=not args.big,
                       masks=args.masks != "mixed")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    if args.big_child:
        return big_child(args)
    start = time.perf_counter()
    avail = Availability(args)
    for key in METHOD_KEYS:  # check them all first, so the notes and the model line are known
        avail.method(key)
    header = "\n".join(line for line in [
        "Made with:", "", "```", command_line("benchmarks/inpaint.py"), "```", "",
        machine_line(args.device), "", models_line(avail),
    ]).rstrip("\n")
    print("## Inpainting\n\n" + header + "\n", flush=True)
    log(f"section {args.data.name}")
    text, methods, pictures = section_scores(args, avail, args.data, args.images, grid=bool(args.grid))
    print(text + "\n", flush=True)
    parts = [text]
    for folder in args.held_out:
        log(f"section {folder.name}")
        text, _, _ = section_scores(args, avail, folder, args.held_out_images, title=" (never seen in training)",
                                    explain=False)
        print(text + "\n", flush=True)
        parts.append(text)
    if args.big:
        log("section big")
        text = section_big(args, avail)
        print(text + "\n", flush=True)
        parts.append(text)
    if args.grid:
        if not pictures:
            log("picture: no cases to show")
        else:
            caption = write_grid(args.grid, image_files(args.data, args.images), methods, pictures)
            text = picture_section("### Examples", caption, args.grid, args.out, "Inpainting examples")
            text += "\n\n" + picture_section(
                "### The middle of each hole at 1:1", f"The same cases, {CROP} x {CROP} px around the hole's "
                f"deepest point, each pixel drawn {CROP_ZOOM} x {CROP_ZOOM}, in the same column order.",
                crops_path(args.grid), args.out, "Inpainting crops")
            print(text + "\n", flush=True)
            parts.append(text)
    finish_report(args.out, "## Inpainting", header, parts,
                  f"The whole run took {(time.perf_counter() - start) / 60:.0f} min.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
