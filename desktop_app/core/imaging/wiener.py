"""A denoiser's result as the guide of a Wiener filter on the noisy photo.

BM3D's second step (Dabov, Foi, Katkovnik and Egiazarian, 2007) without its grouping: the
photo is cut into overlapping 8 x 8 blocks, in opponent colours (brightness every 4 px, colour
on half of those blocks, in a quincunx: colour's detail is coarser, and it costs at most 0.01
dB for a third of the work); in each block's DCT every
coefficient of the noisy photo is kept in the share P^2 / (P^2 + K sigma^2), P being the
guide's coefficient (the "pilot"), and the blocks are put back with BM3D's weights (the
inverse of the gains' energy, times a Kaiser window). A network's result is a better pilot
than BM3D's own first step, and the filter gives back detail and colour the network smoothed
away, read from the photo itself; the result is then mixed with the network's (the two err
differently).

A file's values are clipped to [0, 1], which moves the noisy mean near black and white; the
noisy photo is first corrected by the mean that clipping adds to the guide (`clipping_bias`),
otherwise the filter would bring the clipped bias back.

The mix's share is chosen per photo by Monte-Carlo SURE where the noise is low enough for
enough unclipped pixels (`sure_shares`), from a table above that.

`cnn` on held-out photos with clipped noise, sigma 5 / 15 / 25 / 50: McMaster +1.7 / +0.55 /
+0.3 / +0.14 dB, Kodak +0.37 / +0.14 / +0.12 / +0.08, CBSD68 +0.42 / +0.14 / +0.12 / +0.07;
about 1.5 s for 12 MP on 2 cores (docs/benchmarks.md, "The Wiener step after `cnn`").
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from desktop_app.core.imaging.noise import clipping_bias, within_file_range
from desktop_app.core.work import Progress, Work, subrange

BLOCK = 8
STEP = 4  # px between blocks: 3 px gains 0.03-0.09 dB more for 2.25 times the work
K = 0.5  # the noise power in the gains, times sigma^2 (0.3-0.7 within 0.02 dB)
KAISER_BETA = 2.0  # the aggregation window, as BM3D's (+0.04 dB at sigma 15 over none)
ROWS = 128  # output rows per strip: a strip's arrays stay in the cache
MAX_WORKERS = 8  # strips filtered at once (each holds about 16 bytes x 12 per pixel of its width)
# The share of the filter's result in the mix, by noise level (0-255 scale): the best on
# McMaster, Kodak and CBSD68 together (docs/benchmarks.md); eight passes leave the network's
# result closer to the truth, and their best share is lower.
SHARE_SIGMAS = (5.0, 10.0, 15.0, 25.0, 35.0, 50.0, 75.0)
SHARES = (0.8, 0.65, 0.5, 0.45, 0.4, 0.3, 0.2)
ENSEMBLE_SHARE = 0.6
MIN_SIGMA = 0.5  # noise levels (0-255) below which the step leaves the network's result as it is
SURE_MAX_SIGMA = 30.0  # up to this noise level the shares are chosen per photo (above, too few unclipped pixels)
SURE_MARGIN = 2.0  # pixels this many sigmas from black and white count in the choice (3: 0.01-0.05 dB worse)
SURE_CROP = 384  # px: the centre crop they are chosen on (256 chose as well on 500 px photos)
SURE_STEP = 0.1  # the perturbation, times sigma (0.02-0.1 alike)

_N = np.arange(BLOCK)
_DCT = np.sqrt(2.0 / BLOCK) * np.cos(np.pi * (2 * _N[None, :] + 1) * _N[:, None] / (2 * BLOCK))
_DCT[0] /= np.sqrt(2.0)
_DCT2 = np.kron(_DCT, _DCT).astype(np.float32)  # orthonormal 2-D DCT of a block flattened by rows
_DCT2_T = np.ascontiguousarray(_DCT2.T)
_OFFSETS = [(dy, dx) for dy in range(0, BLOCK, STEP) for dx in range(0, BLOCK, STEP)]  # the grids of blocks
_QUINCUNX = [(dy, dx) for dy, dx in _OFFSETS if (dy + dx) % (2 * STEP) == 0]
_KAISER = np.kaiser(BLOCK, KAISER_BETA).astype(np.float32)
_WINDOW = np.outer(_KAISER, _KAISER)
_INVERSE = _DCT2 * _WINDOW.reshape(1, -1)  # back to pixels with the window folded in
# BM3D's opponent colour transform (rows: mean, red-blue, green against the others)
_OPPONENT = np.array([[1 / 3, 1 / 3, 1 / 3], [1 / 2, 0, -1 / 2], [1 / 4, -1 / 2, 1 / 4]], np.float32)


def share(sigma: float, ensemble: bool = False) -> float:
    """The filter's share in the mix at noise level `sigma` (0-255 scale), from the table."""
    value = float(np.interp(sigma, SHARE_SIGMAS, SHARES))
    return value * ENSEMBLE_SHARE if ensemble else value


Denoiser = Callable[[np.ndarray], Work[np.ndarray]]


def refine(noisy: np.ndarray, denoised: np.ndarray, sigma: np.ndarray, ensemble: bool = False,
           denoiser: Denoiser | None = None) -> Work[np.ndarray]:
    """`denoised` mixed with the Wiener filter of `noisy` it guides; `sigma`: the noise's
    standard deviation per channel, 0-1 scale. Given the `denoiser` that made `denoised`, the
    shares are chosen for this photo where the noise is low (`sure_shares`); otherwise, and
    where that cannot be read, from the table. Work: yields progress."""
    c = noisy.shape[2]
    sigma = np.broadcast_to(np.asarray(sigma, np.float32), (c,))
    if float(sigma.max()) * 255.0 < MIN_SIGMA:  # no noise to filter ("auto" reads 0 on some smooth JPEGs)
        return denoised
    shares = np.full(c, share(float(sigma.mean()) * 255.0, ensemble), np.float32)
    clipped = within_file_range(noisy)
    start = 0.0
    if denoiser is not None and round(float(sigma.mean()) * 255.0, 3) <= SURE_MAX_SIGMA:
        start = min(0.5, 2.0 * SURE_CROP ** 2 / (noisy.shape[0] * noisy.shape[1]))  # two crops' work against one photo's
        shares = yield from subrange(sure_shares(noisy, sigma, denoiser, clipped, shares), 0.0, start)
    return (yield from subrange(wiener(noisy, denoised, sigma, clipped, shares), start, 1.0))


def sure_shares(noisy: np.ndarray, sigma: np.ndarray, denoiser: Denoiser, clipped: bool,
                fallback: np.ndarray) -> Work[np.ndarray]:
    """The share of each (opponent) channel that minimises Stein's unbiased estimate of the
    mix's error (Monte-Carlo SURE, Ramani, Blu and Unser 2008) on a centre crop: the crop is
    denoised and filtered twice, once with a small known perturbation added, which reads how
    much the result follows its input. Clipped pixels break the estimate's Gaussian premise, so
    only those at least SURE_MARGIN sigma from black and white in every channel count;
    `fallback` where fewer than a tenth of the crop's are. At sigma 5-20 on McMaster, Kodak and
    CBSD68 it comes within 0.02 dB of the best shares chosen with the clean photo, at 25 within
    0.03 (docs/benchmarks.md)."""
    h, w, c = noisy.shape
    y0, x0 = max(0, (h - SURE_CROP) // 2), max(0, (w - SURE_CROP) // 2)
    crop = np.ascontiguousarray(noisy[y0:y0 + SURE_CROP, x0:x0 + SURE_CROP], np.float32)
    transform, back = _colour_transform(c)
    eps = np.float32(SURE_STEP * float(sigma.mean()))
    signs = np.random.default_rng(0).choice(np.float32([-1.0, 1.0]), size=crop.shape)  # in opponent colours
    nudged = crop + eps * np.tensordot(signs, back, axes=([2], [1]))
    results = []
    for i, image in enumerate((crop, nudged)):
        guide = yield from _quietly(denoiser(image), i / 2)
        filtered = yield from _quietly(wiener(image, guide, sigma, clipped), (i + 0.8) / 2)
        results.append((guide @ transform.T, filtered @ transform.T))
    (guide, filtered), (guide2, filtered2) = results
    margin, levels = SURE_MARGIN * sigma, guide @ back.T
    kept = ((levels > margin) & (levels < 1.0 - margin)).all(axis=2)
    if kept.mean() < 0.1:
        return fallback
    seen = crop @ transform.T
    noise_var = (transform ** 2) @ (sigma.astype(np.float32) ** 2)
    shares = np.empty(c, np.float32)
    for k in range(c):
        gap = (filtered - guide)[..., k][kept]
        error = (guide - seen)[..., k][kept]
        sign = signs[..., k][kept]
        div_guide = float(sign @ (guide2 - guide)[..., k][kept]) / eps
        div_filtered = float(sign @ (filtered2 - filtered)[..., k][kept]) / eps
        best = -(float(error @ gap) + noise_var[k] * (div_filtered - div_guide)) / max(float(gap @ gap), 1e-12)
        shares[k] = np.clip(best, 0.0, 1.0)
    return shares


def wiener(noisy: np.ndarray, pilot: np.ndarray, sigma: np.ndarray, clipped: bool | None = None,
           shares: np.ndarray | None = None) -> Work[np.ndarray]:
    """The empirical Wiener filter of `noisy` guided by `pilot` (both h x w x c, float);
    `clipped`: `noisy` was clipped to [0, 1] (None: it was if its values lie there); `shares`
    (one per channel of the filter's colours): the filter's result mixed with `pilot` in these
    shares (None: the filter's result alone)."""
    h, w, c = noisy.shape
    transform, back = _colour_transform(c)
    gains_noise = np.maximum(K * (transform ** 2) @ (sigma.astype(np.float32) ** 2),
                             np.finfo(np.float32).tiny).astype(np.float32)  # no 0 / 0 at sigma 0
    if clipped is None:
        clipped = within_file_range(noisy)
    out = np.empty((h, w, c), np.float32)
    mirrored = np.pad(np.arange(h), BLOCK, mode="reflect")  # row indices, BLOCK mirrored each end

    def strip(y0: int) -> None:
        y1 = min(h, y0 + ROWS)
        rows = mirrored[y0:y1 + 2 * BLOCK]
        guide = np.asarray(pilot[rows], np.float32)
        seen = np.asarray(noisy[rows], np.float32)
        if clipped:
            seen -= clipping_bias(guide, sigma)
        guide, seen = _planar(guide, transform), _planar(seen, transform)
        # brightness with blocks every STEP px, colour on half of those (a quincunx): colour's
        # detail is coarser (-0.01 dB at most, a third less work)
        num, den = np.empty_like(seen), np.empty_like(seen)
        for group, offsets in ((np.s_[:1], _OFFSETS), (np.s_[1:], _QUINCUNX)):
            num[group], den[group] = _filter_strip(seen[group], guide[group], gains_noise[group], offsets)
        inner = np.s_[:, BLOCK:BLOCK + y1 - y0, BLOCK:BLOCK + w]
        done = num[inner] / den[inner]
        if shares is not None:  # mixed with the guide
            done -= guide[inner]
            done *= shares.reshape(-1, 1, 1)
            done += guide[inner]
        out[y0:y1] = np.tensordot(done, back, axes=([0], [1]))

    # Strips in threads, each with one BLAS thread: numpy's arithmetic lets go of the GIL, and
    # BLAS's own threads and these would otherwise contend (12 MP on 2 cores: 3.4 -> 2.2 s).
    from threadpoolctl import threadpool_limits  # here, not at start-up

    starts = list(range(0, h, ROWS))
    workers = max(1, min(MAX_WORKERS, os.cpu_count() or 1))
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        for i in range(0, len(starts), workers):
            yield Progress(i / len(starts), "recovering detail")
            list(pool.map(strip, starts[i:i + workers]))
    return out


def _quietly(work: Work[np.ndarray], fraction: float) -> Work[np.ndarray]:
    """`work` with its events said as one step of choosing the shares, at `fraction`."""
    try:
        while True:
            next(work)
            yield Progress(fraction, "choosing how much detail to recover")
    except StopIteration as stop:
        return stop.value


def _colour_transform(channels: int) -> tuple[np.ndarray, np.ndarray]:
    """The colour transform the filter works in, and its inverse."""
    transform = _OPPONENT if channels == 3 else np.eye(channels, dtype=np.float32)
    return transform, np.linalg.inv(transform).astype(np.float32)


def _planar(strip: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """A strip as (channel, rows, cols) in the colour `transform`, BLOCK px mirrored each side."""
    import cv2

    coloured = cv2.transform(strip, transform) if strip.shape[2] == 3 else strip
    padded = cv2.copyMakeBorder(coloured, 0, 0, BLOCK, BLOCK, cv2.BORDER_REFLECT_101)  # numpy's "reflect"
    return np.ascontiguousarray(padded.reshape(strip.shape[0], -1, strip.shape[2]).transpose(2, 0, 1))


def _filter_strip(noisy: np.ndarray, pilot: np.ndarray, gains_noise: np.ndarray,
                  offsets: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Sums of the weighted block estimates and of their weights over a planar strip, for the
    grids of blocks at `offsets`: each grid is a plain reshape, its DCT one matrix product."""
    num = np.zeros_like(noisy)
    den = np.zeros_like(noisy)
    c = noisy.shape[0]
    if c == 0:
        return num, den
    for dy, dx in offsets:
        bh, bw = (noisy.shape[1] - dy) // BLOCK, (noisy.shape[2] - dx) // BLOCK
        area = np.s_[:, dy:dy + bh * BLOCK, dx:dx + bw * BLOCK]

        def blocks(a: np.ndarray) -> np.ndarray:
            return a[area].reshape(c, bh, BLOCK, bw, BLOCK).transpose(0, 1, 3, 2, 4).reshape(-1, BLOCK * BLOCK)

        gains = blocks(pilot) @ _DCT2_T
        np.multiply(gains, gains, out=gains)
        scratch = gains + np.repeat(gains_noise, bh * bw)[:, None]
        np.divide(gains, scratch, out=gains)  # P^2 / (P^2 + K sigma^2)
        coefs = blocks(noisy) @ _DCT2_T
        coefs *= gains
        np.multiply(gains, gains, out=scratch)
        weight = scratch.sum(1, keepdims=True)
        np.maximum(weight, 1e-6, out=weight)
        np.reciprocal(weight, out=weight)
        coefs *= weight
        estimate = coefs @ _INVERSE
        num[area].reshape(c, bh, BLOCK, bw, BLOCK)[...] += (
            estimate.reshape(c, bh, bw, BLOCK, BLOCK).transpose(0, 1, 3, 2, 4))
        den[area].reshape(c, bh, BLOCK, bw, BLOCK)[...] += (
            weight.reshape(c, bh, 1, bw, 1) * _WINDOW.reshape(1, 1, BLOCK, 1, BLOCK))
    return num, den
