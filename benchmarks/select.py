#!/usr/bin/env python
"""Box select quality and speed: the table of the "## Selection" section of docs/benchmarks.md.

    nice -n 5 python benchmarks/select.py --out docs/benchmarks.md

Test cases are composites with a known answer: case i (seeded by ``--seed + i``) cuts an
object-shaped region out of one photo and pastes it onto another photo at the same place. The
region is a random smooth blob, half of the cases a star-shaped polygon with a smooth random
radius, half thresholded low-pass noise (its largest part, holes filled), drawn anti-aliased.
The box given to each method is the region's bounding box with a 10 % margin on every side,
as a user would drag it. Quality is the IoU of the hard mask (value >= 0.5) with the region.

Methods:

rectangle   the box itself (what a plain rectangle selection gives)
grabcut     ``cv2.grabCut`` with the box, 5 iterations, on the whole image at its own size
box select  ``desktop_app.core.selection.box_select`` with its defaults, as the app runs it

"Edge error" counts the wrong pixels within 8 px of the region's edge per pixel of edge
length: about how far, in pixels, the mask's edge lies from the true one where it found it.

The second table makes the composites of the same seeds ``--upscale`` times larger (photos
upscaled, the region drawn at the large size so that its edge is sharp there; a noise region
is drawn anew at that size, so its shape differs): the graph cut then runs on a
downscaled crop, and the full-resolution edge refinement matters; box select without it
(``BoxSelectSettings(refine=False)``: the working-resolution answer upscaled) is the ablation;
in the first table, box select without adding the thin parts the graph cut leaves out
(``BoxSelectSettings(thin_reach=0)``).
Plain GrabCut is not run there (seconds per case). The last table times box select on one
``--big`` photo (an upscaled composite, 24 megapixels by default), median of 3 runs, with the
composite's own box and with a box over 90 % of the photo (the slowest case).

The regions are object-like: a star-shaped region fills about 3/4 of its bounding box. Their
shape parameters (AMPLITUDE, NOISE_SCALE) set how hard the cases are; wigglier regions, which
fill less of their box, score lower for every method.
"""

from __future__ import annotations

import os
import sys

# This file shares its name with the standard library's `select` module (which `subprocess`
# imports): keep its folder behind the standard library on the path so it cannot shadow it.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE] + [_HERE]

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from _common import (Throttle, command_line, fill_polygon, log, markdown_table, replace_section,  # noqa: E402
                     star_region)
from desktop_app.core.imaging.convert import to_uint8  # noqa: E402
from desktop_app.core.imaging.io import load_image  # noqa: E402
from desktop_app.core.selection import BoxSelectSettings, box_select  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = [REPO.parent / "shared" / "data" / "bench" / "CBSD68",
                REPO.parent / "shared" / "data" / "train" / "CBSD432"]
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
AMPLITUDE = 0.15
NOISE_SCALE = (0.12, 0.2)


# --- test cases ---------------------------------------------------------------------------


def list_photos(folders: list[Path]) -> list[Path]:
    files = sorted(p for folder in folders for p in Path(folder).iterdir()
                   if p.suffix.lower() in IMAGE_EXTENSIONS)
    if len(files) < 2:
        raise SystemExit(f"need at least two photos in {', '.join(map(str, folders))}")
    return files


def _rgb(path: Path) -> np.ndarray:
    pixels, _ = load_image(path)
    pixels = pixels[:, :, :3]
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels


def star_blob(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """An anti-aliased star-shaped region: a radius that varies smoothly with the angle."""
    return star_region(rng, height, width, AMPLITUDE, radius=rng.uniform(0.14, 0.3) * min(height, width))


def noise_blob(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """An anti-aliased region from low-pass noise under a bump: its largest part, no holes."""
    short = min(height, width)
    noise = rng.standard_normal((height, width)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), rng.uniform(*NOISE_SCALE) * short)
    noise /= noise.std() + 1e-8
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width
    spread = rng.uniform(0.18, 0.3) * short
    field = noise + 3.0 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * spread ** 2))
    level = np.quantile(field, 1.0 - rng.uniform(0.06, 0.2))
    region = (field > level).astype(np.uint8)
    count, comp, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    contours, _ = cv2.findContours((comp == biggest).astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    outline = max(contours, key=cv2.contourArea)[:, 0, :].astype(np.float64)
    # Smooth the pixel staircase of the outline so the region edge is a curve, not steps.
    k = max(3, int(0.01 * short) | 1)
    padded = np.concatenate([outline[-k:], outline, outline[:k]])
    kernel = np.ones(k) / k
    smooth = np.stack([np.convolve(padded[:, i], kernel, mode="same")[k:-k] for i in (0, 1)], axis=1)
    return fill_polygon(smooth + 0.5, height, width)


def make_case(seed: int, photos: list[Path], upscale: float = 1.0):
    """(image, truth, box): a composite, the pasted region (bool) and the user's box."""
    rng = np.random.default_rng(seed)
    i, j = rng.choice(len(photos), size=2, replace=False)
    back, front = _rgb(photos[i]), _rgb(photos[j])
    if front.shape != back.shape:
        front = np.ascontiguousarray(np.rot90(front)) if front.shape[:2] == back.shape[1::-1] else \
            cv2.resize(front, back.shape[1::-1], interpolation=cv2.INTER_AREA)
    if upscale != 1.0:
        size = (round(back.shape[1] * upscale), round(back.shape[0] * upscale))
        back = np.clip(cv2.resize(back, size, interpolation=cv2.INTER_CUBIC), 0, 1)
        front = np.clip(cv2.resize(front, size, interpolation=cv2.INTER_CUBIC), 0, 1)
    height, width = back.shape[:2]
    alpha = (star_blob if seed % 2 == 0 else noise_blob)(rng, height, width)
    image = (front * alpha[:, :, None] + back * (1 - alpha[:, :, None])).astype(np.float32)
    truth = alpha >= 0.5
    return image, truth, box_around(truth, 0.1)


def box_around(truth: np.ndarray, margin: float) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(truth.any(axis=1)), np.flatnonzero(truth.any(axis=0))
    x0, x1, y0, y1 = cols[0], cols[-1] + 1, rows[0], rows[-1] + 1
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    height, width = truth.shape
    x0, y0 = max(0, int(round(x0 - mx))), max(0, int(round(y0 - my)))
    x1, y1 = min(width, int(round(x1 + mx))), min(height, int(round(y1 + my)))
    return x0, y0, x1 - x0, y1 - y0


def iou(mask: np.ndarray, truth: np.ndarray) -> float:
    hard = mask >= 0.5
    return float(np.count_nonzero(hard & truth) / max(1, np.count_nonzero(hard | truth)))


def edge_error(mask: np.ndarray, truth: np.ndarray, reach: int = 8) -> float:
    """Wrong pixels within `reach` px of the true edge per pixel of edge length: about the mean
    distance (px) between the mask's edge and the true one, where the mask found the edge."""
    region = truth.astype(np.uint8)
    edge = region - cv2.erode(region, None)  # the region's own boundary pixels
    near = cv2.dilate(edge, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1)))
    wrong = ((mask >= 0.5) != truth) & (near > 0)
    return float(np.count_nonzero(wrong) / max(1, np.count_nonzero(edge)))


# --- methods ------------------------------------------------------------------------------


def rectangle(image: np.ndarray, box) -> np.ndarray:
    x, y, w, h = box
    mask = np.zeros(image.shape[:2], np.float32)
    mask[y:y + h, x:x + w] = 1.0
    return mask


def plain_grabcut(image: np.ndarray, box) -> np.ndarray:
    labels = np.zeros(image.shape[:2], np.uint8)
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)  # its k-means starts from OpenCV's RNG (box select seeds it the same way)
    cv2.grabCut(np.ascontiguousarray(to_uint8(image)), labels, tuple(int(v) for v in box), bgd, fgd, 5,
                cv2.GC_INIT_WITH_RECT)
    return np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)


HEADER = ["method", "mean IoU", "median IoU", "worst IoU", "edge error (px)", "mean s"]


def run_methods(methods, seeds, photos, upscale, labels, throttle) -> list[list[str]]:
    """One table row per method: its scores over the composites of `seeds`."""
    scores = {name: [] for name in methods}
    errors = {name: [] for name in methods}
    seconds = {name: [] for name in methods}
    for n, seed in enumerate(seeds):
        image, truth, box = make_case(seed, photos, upscale)
        for name, fn in methods.items():
            mask, elapsed = timed(fn, image, box)
            scores[name].append(iou(mask, truth))
            errors[name].append(edge_error(mask, truth))
            seconds[name].append(elapsed)
        if throttle.due(n == len(seeds) - 1):
            log(f"{upscale:g}x case {n + 1}/{len(seeds)}: "
                + ", ".join(f"{k} {np.mean(v):.4f}" for k, v in scores.items()))
    return [[labels[name], f"{np.mean(scores[name]):.4f}", f"{np.median(scores[name]):.4f}",
             f"{np.min(scores[name]):.4f}", f"{np.mean(errors[name]):.2f}", f"{np.mean(seconds[name]):.3f}"]
            for name in methods]


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


# --- the tables ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", action="append", type=Path, default=None,
                        help="folder of photos to cut and paste (repeatable; default CBSD68 and CBSD432)")
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0, help="case i uses seed SEED + i")
    parser.add_argument("--upscale", type=float, default=4.0, help="size factor of the second table (0: skip)")
    parser.add_argument("--big", default="6000x4000", help="WxH of the timed big photo ('' to skip)")
    parser.add_argument("--out", default=None, help="markdown file whose '## Selection' section is replaced")
    args = parser.parse_args()
    photos = list_photos(args.data or DEFAULT_DATA)
    seeds = range(args.seed, args.seed + args.cases)
    throttle = Throttle(10.0)

    labels = {"rectangle": "rectangle (the box itself)", "grabcut": "plain GrabCut, own size",
              "box select": "box select (ours)", "unrefined": "box select without the edge refinement",
              "no thin parts": "box select without adding thin parts"}
    no_thin = BoxSelectSettings(thin_reach=0)
    at_own_size = {"rectangle": rectangle, "grabcut": plain_grabcut, "box select": box_select,
                   "no thin parts": lambda image, box: box_select(image, box, settings=no_thin)}
    rows = run_methods(at_own_size, seeds, photos, 1.0, labels, throttle)
    size = make_case(seeds[0], photos)[0].shape[1::-1]
    parts = [f"### Box select on {len(seeds)} composites ({size[0]}x{size[1]}, seeds {seeds[0]}-{seeds[-1]})", "",
             markdown_table(HEADER, rows)]
    if args.upscale:
        unrefined = BoxSelectSettings(refine=False)
        upscaled = {"rectangle": rectangle, "box select": box_select,
                    "unrefined": lambda image, box: box_select(image, box, settings=unrefined)}
        rows = run_methods(upscaled, seeds, photos, args.upscale, labels, throttle)
        up_size = make_case(seeds[0], photos, args.upscale)[0].shape[1::-1]
        parts += ["", f"### Composites of the same seeds {args.upscale:g}x larger ({up_size[0]}x{up_size[1]}, "
                  "region drawn at that size)", "", markdown_table(HEADER, rows)]

    if args.big:
        big_w, big_h = (int(v) for v in args.big.lower().split("x"))
        image, truth, box = make_case(args.seed, photos)
        image = np.clip(cv2.resize(image, (big_w, big_h), interpolation=cv2.INTER_CUBIC), 0, 1)
        truth = cv2.resize(truth.astype(np.float32), (big_w, big_h), interpolation=cv2.INTER_LINEAR) >= 0.5
        box = box_around(truth, 0.1)
        # The composite's own box, then a box over nine tenths of the photo: the slowest case,
        # as the crop and the object's outline are the largest.
        wide = (big_w // 20, big_h // 20, big_w * 9 // 10, big_h * 9 // 10)
        rows = []
        for title, the_box in ((f"composite {args.seed} upscaled, its box ({box[2]}x{box[3]})", box),
                               (f"a box over 90 % of the photo ({wide[2]}x{wide[3]})", wide)):
            times = []
            for _ in range(3):
                mask, elapsed = timed(box_select, image, the_box)
                times.append(elapsed)
            rows.append([title, f"{iou(mask, truth):.4f}" if the_box == box else "-",
                         f"{statistics.median(times):.2f}", ", ".join(f"{t:.2f}" for t in times)])
            log(f"{big_w}x{big_h}, {title}: {statistics.median(times):.2f} s")
            del mask
        parts += ["", f"### A {big_w * big_h / 1e6:.3g}-megapixel photo ({big_w}x{big_h}), box select", "",
                  markdown_table(["box", "IoU", "median s (3 runs)", "runs (s)"], rows)]

    threads = cv2.getNumThreads()
    header = (f"Made by `{command_line('benchmarks/select.py')}` on {os.cpu_count()} CPU cores "
              f"(OpenCV {cv2.__version__}, {threads} threads). Composites: a random smooth region of "
              "one photo pasted onto another (CBSD68 and CBSD432 unless `--data` says otherwise); box = "
              "the region's bounding box + 10 % margin; IoU of the mask at 0.5 against the region. "
              "Seconds are wall time of one call.")
    body = "\n\n".join([header, "\n".join(parts)])
    print("## Selection\n\n" + body)
    if args.out:
        replace_section(args.out, "## Selection", body)
        log(f"table written to the '## Selection' section of {args.out}")


if __name__ == "__main__":
    main()
