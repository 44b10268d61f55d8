"""A denoiser's result as the guide of a Wiener filter on the noisy photo.

BM3D's second step (Dabov, Foi, Katkovnik and Egiazarian, 2007) without its grouping: the
photo is cut into overlapping 8 x 8 blocks, in opponent colours (brightness every 3 px, colour
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
enough unclipped pixels (`sure_shares`), from a table above that; with it, per channel, the
weight of the noise in the gains (K times one of WEIGHTS): photos full of fine colour detail
keep more of it, photos with smooth colour get it smoothed harder (sigma 15, one pass, the
shipped `cnn`: McMaster +0.07 dB, Kodak and CBSD68 within 0.01).

A camera's noise grows with the light: given the noise by brightness (`noise.noise_bands`, what
"auto" reads), each block's gains take the noise at its own level (+0.03 to +0.14 dB on such
noise; docs/benchmarks.md, "Read per brightness band").

In the best-quality mode the filter groups blocks as BM3D does: each block is filtered
together with the GROUP blocks nearest it in the guide's brightness within RADIUS px, in a 3-D
transform (the blocks' DCTs, then a Haar transform across them), and every block of every group
is put back. Detail that repeats nearby (texture, edges, lettering) is then read from several
noisy copies at once. 16 blocks within +-8 px after the network's 4 diagonal views
(models.tiled.DIAGONAL_VIEWS) beat 8 blocks within +-5 px after all 8 views: +0.05 / +0.035 dB
on McMaster / Kodak at sigma 15, for 0.87 times the 12 MP command's time (the filter about 1.6 s
per megapixel on 2 cores, its groups filtered CHUNK at a time; docs/benchmarks.md, "Grouping
after eight passes", "Four views, larger groups" and "The grouped Wiener step in cache-sized
pieces").

`cnn` on held-out photos with clipped noise, sigma 5 / 15 / 25 / 50: McMaster +1.7 / +0.55 /
+0.3 / +0.14 dB, Kodak +0.37 / +0.14 / +0.12 / +0.08, CBSD68 +0.42 / +0.14 / +0.12 / +0.07;
about 2.8 s for 12 MP on 2 cores with blocks every 3 px (docs/benchmarks.md, "The Wiener step
after `cnn`", "Blocks every 3 px").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext

import numpy as np

from desktop_app.core.imaging.noise import OPPONENT, clipping_bias, within_file_range
from desktop_app.core.work import Progress, Work, subrange

BLOCK = 8
# px between blocks: 3 against 4 (2.25 times the block transforms; the 12 MP command 10.5 -> 11.3 s)
# gave +0.04-0.07 dB at sigma 5, +0.03-0.05 at 15, +0.02-0.035 at 25, +0.015-0.02 at 50 on
# McMaster, Kodak and CBSD68 (2 px: +0.08 / +0.045 at 15 on McMaster / Kodak for 4 times the work)
STEP = 3
# px between the groups' first blocks in the best-quality mode (its time is the mode's bar); BLOCK / 2,
# which the matching needs: it sums squared differences over GROUP_STEP-px cells, 2 x 2 per block
GROUP_STEP = BLOCK // 2
K = 0.5  # the noise power in the gains, times sigma^2 (0.3-0.7 within 0.02 dB)
KAISER_BETA = 2.0  # the aggregation window, as BM3D's (+0.04 dB at sigma 15 over none)
ROWS = 128  # output rows per strip: a strip's arrays stay in the cache
MAX_WORKERS = 8  # strips filtered at once (each holds about 16 bytes x 12 per pixel of its width)
# The share of the filter's result in the mix, by noise level (0-255 scale): the best on
# McMaster, Kodak and CBSD68 together (docs/benchmarks.md); the best-quality mode is followed by
# the grouped filter, whose result is closer to the truth, and its best share is higher.
SHARE_SIGMAS = (5.0, 10.0, 15.0, 25.0, 35.0, 50.0, 75.0)
SHARES = (0.8, 0.65, 0.5, 0.45, 0.4, 0.3, 0.2)
ENSEMBLE_SHARE = 1.2
MIN_SIGMA = 0.5  # noise levels (0-255) below which the step leaves the network's result as it is
SURE_MAX_SIGMA = 30.0  # up to this noise level the shares are chosen per photo (above, too few unclipped pixels)
SURE_MARGIN = 2.0  # pixels this many sigmas from black and white count in the choice (3: 0.01-0.05 dB worse)
# px: the centre crop they are chosen on; 512 against 384 +0.005 dB at sigma 15 on McMaster and
# Kodak (more of the photo read), about 0.5 s more on 12 MP (docs/benchmarks.md)
SURE_CROP = 512
SURE_STEP = 0.1  # the perturbation, times sigma (0.02-0.1 alike)
# The choice's work (two network passes and eight filterings of the crop) in filterings of as
# many pixels of the photo, for the progress bar: on 12 MP (bf16) 0.58 s against the step's
# 2.84 s (blocks every 3 px; 0.41 against 1.46 s every 4 px), grouped 3.1 s against 19.7 s (the
# bar gave it 0.025 of the step, and on a 3.5 MP photo said "a few seconds left" with 8 s to go)
SURE_WORK, SURE_WORK_GROUPED = 17.0, 13.0
# The noise power in the gains is chosen with the shares, per channel, from K (or GROUP_K)
# times these: photos full of fine colour detail (flowers, fabric) keep more of it with a
# lower weight in the colour channels, photos with smooth colour lose a little that way
WEIGHTS = (0.25, 0.5, 1.0, 2.0)
# Grouping (the best-quality mode): each block is filtered with the GROUP blocks most like it in
# the guide's brightness within RADIUS px, as BM3D does.
GROUP = 16  # blocks per group, a power of 2 (after 4 views, 8 within +-8 px: -0.04 dB at sigma 15)
RADIUS = 8  # the search window, +-RADIUS px (7: -0.01 dB at sigma 15; matching is a sixth of the time)
GROUP_K = 1.0  # the noise power in the gains, times sigma^2, when grouped
GROUP_COLS = 512  # output columns per tile of a strip: a tile's groups stay small
# groups filtered at once: their arrays (16 blocks' 64 coefficients each, about 2 MB) stay in the
# cache (the grouped filter in one thread, 1 MP: 4.07 -> 2.56 s with torch's put in one thread too)
CHUNK = 512
_MARGIN = BLOCK + 2 * RADIUS  # rows and columns a grouped tile reads beyond its own

_N = np.arange(BLOCK)
_DCT = np.sqrt(2.0 / BLOCK) * np.cos(np.pi * (2 * _N[None, :] + 1) * _N[:, None] / (2 * BLOCK))
_DCT[0] /= np.sqrt(2.0)
_DCT2 = np.kron(_DCT, _DCT).astype(np.float32)  # orthonormal 2-D DCT of a block flattened by rows
_DCT2_T = np.ascontiguousarray(_DCT2.T)
_OFFSETS = [(dy, dx) for dy in range(0, BLOCK, STEP) for dx in range(0, BLOCK, STEP)]  # the grids of blocks


def _haar(n: int) -> np.ndarray:
    """The orthonormal Haar transform of length `n` (a power of 2), rows the basis."""
    if n == 1:
        return np.ones((1, 1), np.float32)
    coarse = _haar(n // 2)
    rows = np.vstack([np.kron(coarse, [1.0, 1.0]), np.kron(np.eye(n // 2), [1.0, -1.0])])
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


_HAAR = _haar(GROUP)
_HAAR_T = np.ascontiguousarray(_HAAR.T)
_SEARCH = np.array([(dy, dx) for dy in range(-RADIUS, RADIUS + 1) for dx in range(-RADIUS, RADIUS + 1)])
_ITSELF = len(_SEARCH) // 2  # the offset (0, 0)
_QUINCUNX = [(dy, dx) for dy, dx in _OFFSETS if (dy + dx) % (2 * STEP) == 0]
_KAISER = np.kaiser(BLOCK, KAISER_BETA).astype(np.float32)
_WINDOW = np.outer(_KAISER, _KAISER)
_INVERSE = _DCT2 * _WINDOW.reshape(1, -1)  # back to pixels with the window folded in


def share(sigma: float, ensemble: bool = False) -> float:
    """The filter's share in the mix at noise level `sigma` (0-255 scale), from the table."""
    value = float(np.interp(sigma, SHARE_SIGMAS, SHARES))
    return min(1.0, value * ENSEMBLE_SHARE) if ensemble else value


Denoiser = Callable[[np.ndarray], Work[np.ndarray]]
Bands = tuple[np.ndarray, np.ndarray]  # per channel: levels (0-1) and the noise's standard deviation there


def refine(noisy: np.ndarray, denoised: np.ndarray, sigma: np.ndarray, ensemble: bool = False,
           denoiser: Denoiser | None = None, bands: Bands | None = None) -> Work[np.ndarray]:
    """`denoised` mixed with the Wiener filter of `noisy` it guides; `sigma`: the noise's
    standard deviation per channel, 0-1 scale; `bands`: the noise by brightness
    (`noise.noise_bands`), which the filter's gains then follow block by block (`sigma` stays
    what the shares and the clipping correction go by). Given the `denoiser` that made
    `denoised`, the shares are chosen for this photo where the noise is low (`sure_shares`);
    otherwise, and where that cannot be read, from the table. Work: yields progress."""
    c = noisy.shape[2]
    sigma = np.broadcast_to(np.asarray(sigma, np.float32), (c,))
    if float(sigma.max()) * 255.0 < MIN_SIGMA:  # no noise to filter ("auto" reads 0 on some smooth JPEGs)
        return denoised
    shares = np.full(c, share(float(sigma.mean()) * 255.0, ensemble), np.float32)
    weights = None
    clipped = within_file_range(noisy)
    start = 0.0
    if denoiser is not None and round(float(sigma.mean()) * 255.0, 3) <= SURE_MAX_SIGMA:
        h, w = noisy.shape[:2]
        crops = min(h, SURE_CROP) * min(w, SURE_CROP) * (SURE_WORK_GROUPED if ensemble else SURE_WORK)
        start = crops / (crops + h * w)  # the choice's share of the bar
        shares, weights = yield from subrange(sure_shares(noisy, sigma, denoiser, clipped, shares, ensemble, bands),
                                              0.0, start)
    return (yield from subrange(wiener(noisy, denoised, sigma, clipped, shares, ensemble, bands, weights),
                                start, 1.0))


def sure_shares(noisy: np.ndarray, sigma: np.ndarray, denoiser: Denoiser, clipped: bool,
                fallback: np.ndarray, grouped: bool = False, bands: Bands | None = None
                ) -> Work[tuple[np.ndarray, np.ndarray | None]]:
    """The share of each (opponent) channel, and the weight of the noise in its gains (one of
    WEIGHTS), that minimise Stein's unbiased estimate of the mix's error (Monte-Carlo SURE,
    Ramani, Blu and Unser 2008) on a centre crop: the crop is denoised twice and filtered with
    each weight twice, once with a small known perturbation added, which reads how much the
    result follows its input. Clipped pixels break the estimate's Gaussian premise, so
    only those at least SURE_MARGIN sigma from black and white in every channel count;
    `fallback` and no weights (None: 1) where fewer than a tenth of the crop's are. At sigma
    5-20 on McMaster, Kodak and CBSD68 it comes within 0.02 dB of the best shares chosen with the clean photo, at 25 within
    0.03 (docs/benchmarks.md). With `bands` the crop is filtered as the photo will be, and each
    pixel's term of the estimate weighs by the noise's variance at its level."""
    h, w, c = noisy.shape
    y0, x0 = max(0, (h - SURE_CROP) // 2), max(0, (w - SURE_CROP) // 2)
    crop = np.ascontiguousarray(noisy[y0:y0 + SURE_CROP, x0:x0 + SURE_CROP], np.float32)
    transform, back = _colour_transform(c)
    eps = np.float32(SURE_STEP * float(sigma.mean()))
    signs = np.random.default_rng(0).choice(np.float32([-1.0, 1.0]), size=crop.shape)  # in opponent colours
    nudged = crop + eps * np.tensordot(signs, back, axes=([2], [1]))
    guides = []
    for i, image in enumerate((crop, nudged)):
        guides.append((yield from _quietly(denoiser(image), i / 4)))
    guide, guide2 = (g @ transform.T for g in guides)
    margin, levels = SURE_MARGIN * sigma, guide @ back.T
    kept = ((levels > margin) & (levels < 1.0 - margin)).all(axis=2)
    if kept.mean() < 0.1:  # before the filterings: they would be read by nothing
        return fallback, None
    results = []  # per weight: the filtered crop and the filtered nudged crop, in the filter's colours
    for j, weight in enumerate(WEIGHTS):
        pair = []
        for image, pilot in zip((crop, nudged), guides):
            done = yield from _quietly(wiener(image, pilot, sigma, clipped, grouped=grouped, bands=bands,
                                              weights=np.full(c, weight, np.float32)), 0.5 + j / (2 * len(WEIGHTS)))
            pair.append(done @ transform.T)
        results.append(pair)
    seen = crop @ transform.T
    if bands is None:
        noise_var = np.broadcast_to((transform ** 2) @ (sigma.astype(np.float32) ** 2), guide.shape)
    else:  # the noise's variance at each pixel's level, in the filter's colours
        noise_var = _noise_power(levels, bands, transform, 1.0)
    shares, weights = np.empty(c, np.float32), np.empty(c, np.float32)
    for k in range(c):
        error = (guide - seen)[..., k][kept]
        weighted = signs[..., k][kept] * noise_var[..., k][kept]  # each pixel's divergence weighs by its noise's variance
        div_guide = float(weighted @ (guide2 - guide)[..., k][kept]) / eps
        least = np.inf
        for weight, (filtered, filtered2) in zip(WEIGHTS, results):
            gap = (filtered - guide)[..., k][kept]
            # the estimate of the mix's error, less the guide's own, is 2 s b + s^2 a for share s
            b = float(error @ gap) + float(weighted @ (filtered2 - filtered)[..., k][kept]) / eps - div_guide
            a = max(float(gap @ gap), 1e-12)
            best = float(np.clip(-b / a, 0.0, 1.0))
            risk = 2 * best * b + best * best * a
            if risk < least:
                least, shares[k], weights[k] = risk, best, weight
    return shares, weights


def wiener(noisy: np.ndarray, pilot: np.ndarray, sigma: np.ndarray, clipped: bool | None = None,
           shares: np.ndarray | None = None, grouped: bool = False, bands: Bands | None = None,
           weights: np.ndarray | None = None) -> Work[np.ndarray]:
    """The empirical Wiener filter of `noisy` guided by `pilot` (both h x w x c, float);
    `clipped`: `noisy` was clipped to [0, 1] (None: it was if its values lie there); `shares`
    (one per channel of the filter's colours): the filter's result mixed with `pilot` in these
    shares (None: the filter's result alone); `grouped`: each block filtered together with the
    blocks most like it (BM3D's grouping), better and about 7 times the time; `bands`: the
    noise's standard deviation by level per channel, read at the guide's level pixel by pixel
    and averaged per block for its gains (None: `sigma` everywhere); `weights` (one per channel
    of the filter's colours): the noise's power in the gains times these (None: 1)."""
    h, w, c = noisy.shape
    transform, back = _colour_transform(c)
    k = (GROUP_K if grouped else K) * (np.ones(c, np.float32) if weights is None else np.asarray(weights, np.float32))
    gains_noise = np.maximum((k[:, None] * transform ** 2) @ (sigma.astype(np.float32) ** 2),
                             np.finfo(np.float32).tiny).astype(np.float32)  # no 0 / 0 at sigma 0
    if clipped is None:
        clipped = within_file_range(noisy)
    out = np.empty((h, w, c), np.float32)
    margin = _MARGIN if grouped else BLOCK
    mirrored = np.pad(np.arange(h), margin, mode="reflect")  # row indices, mirrored each end

    def strip(y0: int) -> None:
        y1 = min(h, y0 + ROWS)
        rows = mirrored[y0:y1 + 2 * margin]
        guide = np.asarray(pilot[rows], np.float32)
        seen = np.asarray(noisy[rows], np.float32)
        if clipped:
            seen -= clipping_bias(guide, sigma if bands is None else bands)
        noise = None if bands is None else _block_means(_planar(_noise_power(guide, bands, transform, k), None, margin))
        guide, seen = _planar(guide, transform, margin), _planar(seen, transform, margin)
        inner = np.s_[:, margin:margin + y1 - y0, margin:margin + w]
        if grouped:
            done = _grouped_strip(seen, guide, gains_noise, y0, y1, h, w, noise)
        else:
            # brightness with blocks every STEP px, colour on half of those (a quincunx): colour's
            # detail is coarser (-0.01 dB at most, a third less work)
            num, den = np.empty_like(seen), np.empty_like(seen)
            for group, offsets in ((np.s_[:1], _OFFSETS), (np.s_[1:], _QUINCUNX)):
                num[group], den[group] = _filter_strip(seen[group], guide[group], gains_noise[group], offsets,
                                                       None if noise is None else noise[group])
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
    with (threadpool_limits(1, user_api="blas"), _one_torch_thread() if grouped else nullcontext(),
          ThreadPoolExecutor(workers) as pool):
        for i in range(0, len(starts), workers):
            yield Progress(i / len(starts), "recovering detail")
            list(pool.map(strip, starts[i:i + workers]))
    return out


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """torch in one thread while the strips' threads put blocks back with it: its own threads and
    these contend (the grouped filter's put took twice the time)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
    transform = OPPONENT if channels == 3 else np.eye(channels, dtype=np.float32)
    return transform, np.linalg.inv(transform).astype(np.float32)


def _noise_power(guide: np.ndarray, bands: Bands, transform: np.ndarray, k: float | np.ndarray) -> np.ndarray:
    """k (one value, or one per channel of the filter's colours) times the noise's variance
    per pixel in the filter's colours, from the noise's standard
    deviation at the guide's level in each channel (`bands`, held flat beyond its ends)."""
    levels, sigmas = bands
    power = np.empty_like(guide)
    for ch in range(guide.shape[2]):
        power[..., ch] = np.interp(guide[..., ch], levels[ch], np.square(sigmas[ch]))
    mix = (np.reshape(k, (-1, 1)) * transform ** 2).astype(np.float32)
    return np.maximum(power @ mix.T, np.finfo(np.float32).tiny)


def _block_means(planes: np.ndarray) -> np.ndarray:
    """Planar (channel, rows, cols) values averaged over the BLOCK x BLOCK block whose corner is
    at each pixel (where a block fits): the filters read a block's noise at its corner (its 64
    values gathered and averaged were about a twentieth of the grouped filter's time)."""
    import cv2

    out = np.empty_like(planes)
    for ch, plane in enumerate(planes):
        out[ch] = cv2.boxFilter(plane, -1, (BLOCK, BLOCK), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
    return out


def _planar(strip: np.ndarray, transform: np.ndarray | None, margin: int) -> np.ndarray:
    """A strip as (channel, rows, cols) in the colour `transform` (None: as it is), `margin` px
    mirrored each side."""
    import cv2

    coloured = cv2.transform(strip, transform) if strip.shape[2] == 3 and transform is not None else strip
    padded = cv2.copyMakeBorder(coloured, 0, 0, margin, margin, cv2.BORDER_REFLECT_101)  # numpy's "reflect"
    return np.ascontiguousarray(padded.reshape(strip.shape[0], -1, strip.shape[2]).transpose(2, 0, 1))


def _filter_strip(noisy: np.ndarray, pilot: np.ndarray, gains_noise: np.ndarray,
                  offsets: list[tuple[int, int]], noise: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sums of the weighted block estimates and of their weights over a planar strip, for the
    grids of blocks at `offsets`: each grid is a plain reshape, its DCT one matrix product;
    `noise`: the noise's power in the gains averaged over the block at each corner (`_block_means`;
    None: `gains_noise` everywhere)."""
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
        if noise is None:
            scratch = gains + np.repeat(gains_noise, bh * bw)[:, None]
        else:  # the noise's power averaged over each block, read at its corner
            scratch = gains + noise[:, dy:dy + bh * BLOCK:BLOCK, dx:dx + bw * BLOCK:BLOCK].reshape(-1, 1)
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


def _grid(lo: int, hi: int, size: int) -> np.ndarray:
    """The groups' first blocks' corners (multiples of GROUP_STEP, the blocks overlapping
    [0, size)) in [lo, hi]."""
    return np.arange(max(-GROUP_STEP, -(-lo // GROUP_STEP) * GROUP_STEP), min(size - 1, hi) + 1, GROUP_STEP)


def _grouped_strip(seen: np.ndarray, guide: np.ndarray, gains_noise: np.ndarray,
                   y0: int, y1: int, h: int, w: int, noise: np.ndarray | None = None) -> np.ndarray:
    """Rows y0-y1 of the grouped filter's result, (c, rows, w); `seen` and `guide` are planar,
    rows y0 - _MARGIN to y1 + _MARGIN, _MARGIN columns mirrored each side. Every block that
    can reach the rows is filtered (blocks reach RADIUS + BLOCK - 1 px beyond their group's
    first), so strips and tiles put together give the whole photo's result."""
    reach = BLOCK + RADIUS - 1
    rows = _grid(y0 - reach, y1 + RADIUS - 1, h)
    done = np.empty((seen.shape[0], y1 - y0, w), np.float32)
    for x0 in range(0, w, GROUP_COLS):
        x1 = min(w, x0 + GROUP_COLS)
        cols = _grid(x0 - reach, x1 + RADIUS - 1, w)
        area = np.s_[:, :, x0:x1 + 2 * _MARGIN]
        num, den = _group_tile(np.ascontiguousarray(seen[area]), np.ascontiguousarray(guide[area]),
                               gains_noise, rows - (y0 - _MARGIN), cols - (x0 - _MARGIN),
                               (rows[0] + cols[0]) // GROUP_STEP % 2,
                               None if noise is None else np.ascontiguousarray(noise[area]))
        inner = np.s_[:, _MARGIN:_MARGIN + y1 - y0, _MARGIN:_MARGIN + x1 - x0]
        done[:, :, x0:x1] = num[inner] / den[inner]
    return done


def _group_tile(seen: np.ndarray, guide: np.ndarray, gains_noise: np.ndarray,
                rows: np.ndarray, cols: np.ndarray, parity: int, noise: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Sums of the weighted block estimates and of their weights over a planar tile, for
    groups whose first block's corners are `rows` x `cols` (multiples of GROUP_STEP apart): each
    group is the blocks nearest it in the guide's brightness (sum of squared differences)
    within RADIUS px, its 3-D transform the blocks' DCTs then a Haar transform across them."""
    import cv2
    import torch  # its accumulating put takes float32 and a view of every block of a plane

    c, th, tw = seen.shape
    ny, nx = rows.size, cols.size
    brightness = guide[0]
    top, left = int(rows[0]), int(cols[0])
    hh, ww = GROUP_STEP * (ny + 1), GROUP_STEP * (nx + 1)
    first = brightness[top:top + hh, left:left + ww]
    distance = np.empty((len(_SEARCH), ny, nx), np.float32)
    for i, (dy, dx) in enumerate(_SEARCH):  # squared differences summed per GROUP_STEP-px cell, then per block
        d = first - brightness[top + dy:top + dy + hh, left + dx:left + dx + ww]
        np.multiply(d, d, out=d)
        cells = cv2.resize(d, (nx + 1, ny + 1), interpolation=cv2.INTER_AREA)
        cells = cells[:-1] + cells[1:]
        distance[i] = cells[:, :-1] + cells[:, 1:]
    distance[_ITSELF] = -1.0  # a block is always in its own group
    nearest = np.argpartition(distance.reshape(len(_SEARCH), -1), GROUP - 1, axis=0)[:GROUP]
    gy = np.repeat(rows, nx)[None, :] + _SEARCH[nearest, 0]  # (GROUP, ny * nx) corners
    gx = np.tile(cols, ny)[None, :] + _SEARCH[nearest, 1]
    # every block of the tile is a view (no copy): a group's blocks are gathered, and put back, by
    # their corners alone (indices of each block's 64 pixels took a third of the step)
    colour = np.flatnonzero(((np.arange(ny)[:, None] + np.arange(nx) + parity) % 2 == 0).ravel())
    num = torch.zeros((c, th, tw))
    den = np.empty((c, th, tw), np.float32)
    for ch in range(c):
        if ch < 2:  # the brightness: every group; colour on half of them, in a quincunx of the grid (its
            # parity global: tiles agree): -0.01 dB, a fifth less time
            chosen_y, chosen_x = (gy, gx) if ch == 0 else (gy[:, colour], gx[:, colour])
        placing = num[ch].unfold(0, BLOCK, 1).unfold(1, BLOCK, 1)  # every block of the sums, a view
        placed = np.zeros(th * tw)
        for start in range(0, chosen_y.shape[1], CHUNK):
            ys, xs = chosen_y[:, start:start + CHUNK].reshape(-1), chosen_x[:, start:start + CHUNK].reshape(-1)
            estimate, weight = _filter_groups(seen[ch], guide[ch], ys, xs, gains_noise[ch],
                                              None if noise is None else noise[ch])
            placing.index_put_((torch.from_numpy(ys), torch.from_numpy(xs)),
                               torch.from_numpy(estimate.reshape(-1, BLOCK, BLOCK)), accumulate=True)
            placed += np.bincount(ys * tw + xs, np.tile(weight, GROUP), th * tw)
        den[ch] = cv2.filter2D(placed.reshape(th, tw).astype(np.float32), -1, _WINDOW, anchor=(BLOCK - 1, BLOCK - 1),
                               borderType=cv2.BORDER_CONSTANT)  # the window's sum over the blocks
    return num.numpy(), den


def _filter_groups(seen: np.ndarray, guide: np.ndarray, ys: np.ndarray, xs: np.ndarray, gains_noise: float,
                   noise: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The weighted estimates of the groups' blocks of one plane, (GROUP, groups, 64) pixels with the
    window folded in, and each group's weight; the blocks' corners `ys`, `xs`, GROUP rows of
    groups flattened (member by member); `noise`: as `_filter_strip`'s."""
    groups = ys.size // GROUP
    spectrum = _HAAR @ (_blocks(guide, ys, xs) @ _DCT2_T).reshape(GROUP, -1)
    np.multiply(spectrum, spectrum, out=spectrum)
    if noise is None:
        gains = np.divide(spectrum, spectrum + gains_noise, out=spectrum)  # P^2 / (P^2 + K sigma^2)
    else:  # the noise's power averaged over each group's blocks
        power = noise[ys, xs].reshape(GROUP, groups).mean(axis=0)
        gains = (spectrum.reshape(GROUP, groups, -1) / (spectrum.reshape(GROUP, groups, -1) + power[:, None])
                 ).reshape(GROUP, -1)
    coefs = _HAAR @ (_blocks(seen, ys, xs) @ _DCT2_T).reshape(GROUP, -1)
    coefs *= gains
    np.multiply(gains, gains, out=gains)
    weight = 1.0 / np.maximum(gains.reshape(GROUP, groups, -1).sum(axis=(0, 2)), 1e-6)  # per group
    estimate = ((_HAAR_T @ coefs).reshape(-1, BLOCK * BLOCK) @ _INVERSE).reshape(GROUP, groups, -1)
    estimate *= weight[:, None]
    return estimate, weight


def _blocks(plane: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The BLOCK x BLOCK blocks of `plane` whose corners are (`ys`, `xs`), one per row."""
    every = np.lib.stride_tricks.sliding_window_view(plane, (BLOCK, BLOCK))
    return every[ys, xs].reshape(-1, BLOCK * BLOCK)
