#!/usr/bin/env python
"""Measure which OpenCV NL-Means settings denoise best, per noise level.

For each sigma (0-255 scale) Gaussian noise is added in float to the clean images
(``np.random.default_rng(seed + index)``, noise = sigma/255 * N(0, 1), clipped to [0, 1]),
and the result is computed exactly as the app does: ``classic._nlmeans_u8`` on the
uint8-quantised noisy image, then ``noisy + (den - noisy_u8) / 255``, clipped to [0, 1].
Quality is the mean over images of the RGB PSNR (data_range 1) against the clean image.

Coarse-to-fine search, per sigma:

1. h/sigma sweep for every variant at template 7 / search 21 on a subset of the images
   (steps of 0.2 until the peak is bracketed, then 0.1).
2. For the variants within ``--prune-db`` of the best one: template x search grid at that h;
   h tuned again (steps of 0.1) for the ``--candidates`` best pairs; the cheapest of those
   within ``--tolerance-db`` of the best is kept, and its h refined in steps of 0.05.
3. The best setting of every variant is evaluated on all the images (PSNR and SSIM); the
   variant with the highest PSNR wins.
4. Cross-check: the winner and the runner-up evaluated on images of a second data set.
5. Seconds per megapixel of each final setting: one run per image, one process, on a few
   images, ``cv2.setNumThreads`` left at its default.

Example::

    nice -n 10 .venv/bin/python benchmarks/nlmeans_tune.py
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
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from desktop_app.core.imaging.convert import to_uint8  # noqa: E402
from desktop_app.core.operations.classic import _nlmeans_u8  # noqa: E402

VARIANTS = ("colored", "rgb", "per-channel")
EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

# --- worker side ----------------------------------------------------------------------------

_CACHE: dict[str, np.ndarray] = {}
_SEED = 0


def _init(seed: int) -> None:
    global _SEED
    _SEED = seed


def load_rgb(path: str) -> np.ndarray:
    img = _CACHE.get(path)
    if img is None:
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise OSError(f"cannot read {path}")
        img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        _CACHE[path] = img
    return img


def make_noisy(clean: np.ndarray, sigma: float, seed: int, index: int) -> np.ndarray:
    rng = np.random.default_rng(seed + index)
    noisy = clean + (sigma / 255.0) * rng.standard_normal(clean.shape)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def denoise_like_app(noisy: np.ndarray, variant: str, h: float, template: int, search: int
                     ) -> tuple[np.ndarray, float]:
    """The app's NL-Means on one image (no tiling: the images are smaller than a tile)."""
    u8 = to_uint8(noisy)
    t0 = time.perf_counter()
    den = _nlmeans_u8(u8, variant, h, template, search)
    seconds = time.perf_counter() - t0
    out = noisy + (den.astype(np.float32) - u8.astype(np.float32)) / 255.0
    return np.clip(out, 0.0, 1.0), seconds


def evaluate_one(task: tuple) -> tuple[float, float, float, float]:
    """(path, index, sigma, variant, factor, template, search, want_ssim) ->
    (psnr, ssim or nan, seconds, megapixels)."""
    path, index, sigma, variant, factor, template, search, want_ssim = task
    clean = load_rgb(path)
    noisy = make_noisy(clean, sigma, _SEED, index)
    if variant == "noisy":
        out, seconds = noisy, 0.0
    else:
        out, seconds = denoise_like_app(noisy, variant, factor * sigma, template, search)
    psnr = peak_signal_noise_ratio(clean, out, data_range=1.0)
    ssim = (structural_similarity(clean, out, channel_axis=2, data_range=1.0)
            if want_ssim else float("nan"))
    return psnr, ssim, seconds, clean.shape[0] * clean.shape[1] / 1e6


# --- driver side ----------------------------------------------------------------------------


def list_images(folder: str, n: int | None) -> list[str]:
    files = sorted(str(p) for p in Path(folder).iterdir() if p.suffix.lower() in EXTS)
    if not files:
        raise SystemExit(f"no images in {folder}")
    return files[:n] if n else files


def spread(items: list, n: int) -> list[tuple[int, object]]:
    """n items spread evenly over the list, with their index in it (the noise seed offset)."""
    if n >= len(items):
        return list(enumerate(items))
    idx = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [(int(i), items[i]) for i in idx]


class Evaluator:
    def __init__(self, pool: ProcessPoolExecutor):
        self.pool = pool
        self.cache: dict[tuple, float] = {}
        self.evals = 0

    def mean(self, images: list[tuple[int, str]], sigma: float, variant: str, factor: float,
             template: int, search: int, want_ssim: bool = False) -> dict[str, float]:
        tasks = [(p, i, sigma, variant, factor, template, search, want_ssim) for i, p in images]
        res = list(self.pool.map(evaluate_one, tasks))
        self.evals += len(tasks)
        arr = np.array(res, dtype=np.float64)
        return {"psnr": float(arr[:, 0].mean()), "ssim": float(arr[:, 1].mean()),
                "seconds": float(arr[:, 2].sum()), "mp": float(arr[:, 3].sum())}

    def psnr(self, images, sigma, variant, factor, template, search) -> float:
        factor = round(factor, 3)
        key = (tuple(i for i, _ in images), sigma, variant, factor, template, search)
        if key not in self.cache:
            self.cache[key] = self.mean(images, sigma, variant, factor, template, search)["psnr"]
        return self.cache[key]


def climb(score, start: float, step: float, lo: float = 0.1, hi: float = 4.0) -> float:
    """Hill-climb a unimodal score over h/sigma on a grid of the given step."""
    best = round(start, 3)
    while True:
        moved = False
        for cand in (round(best + step, 3), round(best - step, 3)):
            if lo <= cand <= hi and score(cand) > score(best):
                best, moved = cand, True
                break
        if not moved:
            return best


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def search_sigma(ev: Evaluator, subset, sigma: float, starts: dict[str, float],
                 templates: list[int], searches: list[int], prune_db: float,
                 tolerance_db: float, candidates: int) -> dict[str, tuple[float, int, int, float]]:
    """Best (factor, template, search, subset psnr) per variant at one sigma."""
    best: dict[str, tuple[float, int, int, float]] = {}
    # 1. h sweep at template 7 / search 21
    for v in VARIANTS:
        def score(f, v=v):
            return ev.psnr(subset, sigma, v, f, 7, 21)
        f = climb(score, starts.get(v, 1.0), 0.2)
        f = climb(score, f, 0.1)
        best[v] = (f, 7, 21, score(f))
        log(f"sigma {sigma:g} {v:11s} stage 1: h/sigma {f:.2f} -> {best[v][3]:.3f} dB (subset)")
    top = max(p[3] for p in best.values())
    # 2. template x search, then h again, for the variants still in the running
    for v in VARIANTS:
        f, _, _, p = best[v]
        if p < top - prune_db:
            log(f"sigma {sigma:g} {v:11s} stage 2 skipped ({top - p:.2f} dB behind)")
            continue
        grid = {(t, s): ev.psnr(subset, sigma, v, f, t, s) for t in templates for s in searches}
        row = "  ".join(f"t{t}/s{s}: {q:.3f}" for (t, s), q in grid.items())
        log(f"sigma {sigma:g} {v:11s} stage 2 at h/sigma {f:.2f}: {row}")
        # the best h depends on the template, so re-tune h for the leading pairs
        tuned = {}
        for t, s in sorted(grid, key=lambda k: -grid[k])[:candidates]:
            def score(f2, v=v, t=t, s=s):
                return ev.psnr(subset, sigma, v, f2, t, s)
            f2 = climb(score, f, 0.1)
            tuned[(t, s)] = (f2, score(f2))
        g_best = max(q for _, q in tuned.values())
        # cheapest pair within tolerance; cost ~ search^2, then template
        t, s = min((k for k, (_, q) in tuned.items() if q >= g_best - tolerance_db),
                   key=lambda k: (k[1], k[0]))

        def score(f2, v=v, t=t, s=s):
            return ev.psnr(subset, sigma, v, f2, t, s)
        f = climb(score, tuned[(t, s)][0], 0.05)
        best[v] = (f, t, s, score(f))
        row = "  ".join(f"t{t}/s{s}@{f2:.1f}: {q:.3f}" for (t, s), (f2, q) in tuned.items())
        log(f"sigma {sigma:g} {v:11s} stage 2 re-tuned: {row}")
        log(f"sigma {sigma:g} {v:11s} stage 2: h/sigma {f:.2f} t{t} s{s} -> {best[v][3]:.3f} dB")
    return best


def fmt(x: float, nd: int = 2) -> str:
    return f"{x:.{nd}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="/work/shared/data/bench/CBSD68",
                    help="folder of clean colour images (default: CBSD68)")
    ap.add_argument("--sigmas", default="5,15,25,35,50,75",
                    help="noise levels on the 0-255 scale, comma-separated")
    ap.add_argument("--images", type=int, default=None,
                    help="use only the first N images of --data (default: all)")
    ap.add_argument("--seed", type=int, default=0, help="noise seed; image i uses seed + i")
    ap.add_argument("--search-images", type=int, default=12,
                    help="images (spread over --data) used by the coarse-to-fine search")
    ap.add_argument("--templates", default="3,5,7", help="template windows tried in stage 2")
    ap.add_argument("--searches", default="7,11,21,31", help="search windows tried in stage 2")
    ap.add_argument("--candidates", type=int, default=2,
                    help="template/search pairs of stage 2 whose h is tuned again")
    ap.add_argument("--prune-db", type=float, default=0.5,
                    help="stage 2 only for variants within this many dB of the best one")
    ap.add_argument("--tolerance-db", type=float, default=0.02,
                    help="keep the cheapest template/search within this many dB of the best")
    ap.add_argument("--cross-data", default="/work/shared/data/train/CBSD432",
                    help="second data set for the cross-check ('' to skip)")
    ap.add_argument("--cross-images", type=int, default=40)
    ap.add_argument("--time-images", type=int, default=8,
                    help="images timed (one run each) for the s/MP figures")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="worker processes for the quality runs (timing is single-process)")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    sigmas = [float(s) for s in args.sigmas.split(",")]
    templates = [int(t) for t in args.templates.split(",")]
    searches = [int(s) for s in args.searches.split(",")]
    files = list_images(args.data, args.images)
    allimgs = list(enumerate(files))
    subset = spread(files, args.search_images)
    log(f"{len(files)} images, search subset {len(subset)}, sigmas {sigmas}, "
        f"{os.cpu_count()} cores, cv2 {cv2.__version__} threads {cv2.getNumThreads()}")

    results: dict[float, dict[str, dict]] = {}
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=_init, initargs=(args.seed,)) as pool:
        ev = Evaluator(pool)
        starts: dict[str, float] = {}
        for sigma in sigmas:
            best = search_sigma(ev, subset, sigma, starts, templates, searches,
                                args.prune_db, args.tolerance_db, args.candidates)
            starts = {v: b[0] for v, b in best.items()}
            # 3. every variant's best setting on all the images
            res = {"noisy": ev.mean(allimgs, sigma, "noisy", 0, 0, 0, want_ssim=True)}
            for v, (f, t, s, _) in best.items():
                m = ev.mean(allimgs, sigma, v, f, t, s, want_ssim=True)
                res[v] = {"factor": f, "template": t, "search": s, **m}
                log(f"sigma {sigma:g} {v:11s} all {len(allimgs)}: {m['psnr']:.3f} dB "
                    f"SSIM {m['ssim']:.4f}")
            results[sigma] = res
            log(f"sigma {sigma:g} done, {ev.evals} evaluations, "
                f"{time.perf_counter() - t_start:.0f} s so far")

        # 4. cross-check on a second data set: the winner and the runner-up
        cross: dict[float, dict[str, dict]] = {}
        cross_n = 0
        if args.cross_data and args.cross_images > 0:
            cfiles = list_images(args.cross_data, args.cross_images)
            cross_n = len(cfiles)
            cimgs = list(enumerate(cfiles))
            for sigma in sigmas:
                ranked = sorted(VARIANTS, key=lambda v: -results[sigma][v]["psnr"])
                cross[sigma] = {"noisy": ev.mean(cimgs, sigma, "noisy", 0, 0, 0, want_ssim=True)}
                for v in ranked[:2]:
                    r = results[sigma][v]
                    cross[sigma][v] = ev.mean(cimgs, sigma, v, r["factor"], r["template"],
                                              r["search"], want_ssim=True)
                log(f"cross-check sigma {sigma:g} done")

    # 5. timing, one process, one run per image
    timed = [load_rgb(p) for p in files[:args.time_images]]
    mp = sum(im.shape[0] * im.shape[1] for im in timed) / 1e6
    for sigma in sigmas:
        for v in VARIANTS:
            r = results[sigma][v]
            secs = 0.0
            for i, im in enumerate(timed):
                noisy = make_noisy(im, sigma, args.seed, i)
                secs += denoise_like_app(noisy, v, r["factor"] * sigma, r["template"], r["search"])[1]
            r["s_per_mp"] = secs / mp
    total = time.perf_counter() - t_start

    # --- report ---
    n = len(files)
    name = Path(args.data).name
    print(f"\n### Best setting per noise level ({name}, {n} images)\n")
    print(f"| sigma | best variant | h/sigma | template | search | PSNR (all {n}) | "
          f"SSIM (all {n}) | s/MP | noisy PSNR | " + " | ".join(f"{v} PSNR" for v in VARIANTS) + " |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(VARIANTS))
    for sigma in sigmas:
        res = results[sigma]
        w = max(VARIANTS, key=lambda v: res[v]["psnr"])
        r = res[w]
        others = " | ".join((f"**{fmt(res[v]['psnr'])}**" if v == w else fmt(res[v]["psnr"]))
                            for v in VARIANTS)
        print(f"| {sigma:g} | {w} | {r['factor']:.2f} | {r['template']} | {r['search']} | "
              f"{fmt(r['psnr'])} | {fmt(r['ssim'], 4)} | {fmt(r['s_per_mp'])} | "
              f"{fmt(res['noisy']['psnr'])} | {others} |")

    print(f"\n### Best setting of every variant ({name}, {n} images)\n")
    print("| sigma | variant | h/sigma | template | search | PSNR | SSIM | s/MP |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for sigma in sigmas:
        for v in sorted(VARIANTS, key=lambda v: -results[sigma][v]["psnr"]):
            r = results[sigma][v]
            print(f"| {sigma:g} | {v} | {r['factor']:.2f} | {r['template']} | {r['search']} | "
                  f"{fmt(r['psnr'])} | {fmt(r['ssim'], 4)} | {fmt(r['s_per_mp'])} |")

    if cross:
        cname = Path(args.cross_data).name
        print(f"\n### Cross-check: the same settings on {cname} (first {cross_n} images)\n")
        print("| sigma | variant (winner on " + name + ") | PSNR | SSIM | runner-up | PSNR | SSIM | "
              "noisy PSNR |")
        print("|---:|---|---:|---:|---|---:|---:|---:|")
        for sigma in sigmas:
            c = cross[sigma]
            w, ru = [v for v in c if v != "noisy"]
            print(f"| {sigma:g} | {w} | {fmt(c[w]['psnr'])} | {fmt(c[w]['ssim'], 4)} | {ru} | "
                  f"{fmt(c[ru]['psnr'])} | {fmt(c[ru]['ssim'], 4)} | {fmt(c['noisy']['psnr'])} |")

    print("\nNLMEANS_TUNED rows (sigma, variant, h/sigma, template, search):")
    for sigma in sigmas:
        res = results[sigma]
        w = max(VARIANTS, key=lambda v: res[v]["psnr"])
        r = res[w]
        print(f"    ({sigma:g}, \"{w}\", {r['factor']:.2f}, {r['template']}, {r['search']}),")
    print(f"\n{ev.evals} NL-Means evaluations; {os.cpu_count()} cores, {args.jobs} worker "
          f"processes; cv2 {cv2.__version__} with {cv2.getNumThreads()} threads; s/MP from one "
          f"run on each of {len(timed)} images in one process; total {total:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
