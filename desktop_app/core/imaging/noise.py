"""Estimating the noise level of a photo, per channel, for "auto" denoising.

Chen, Zhu and Heng (ICCV 2015), "An efficient statistical method for image noise level
estimation": the eigenvalues of the covariance of small patches that belong to the noise
subspace are all sigma^2; the estimate is the mean of the smallest eigenvalues, taken over the
largest set whose mean equals its median.

On its own that still reads fine texture as noise (a clean photo gives sigma 5-20), so the
patches are first narrowed to weak-texture ones, as in Liu, Tanaka and Okutomi (2013): a patch
whose gradient energy is above what pure noise of the current estimate would give (its 99th
percentile) contains texture and is left out; the estimate and the selection are iterated.

A file's values are clipped to [0, 1], which takes noise away near black and white. In an
image that lies within [0, 1] each estimate is corrected for that: a pixel of level mu under
noise sigma, clipped at 0, keeps a known share of sigma's variance (the censored normal
distribution), so the sigma is found whose clipped noise, over the kept patches' observed
levels, shows the variance measured (a patch wholly at black counts as noise cut off
entirely: a letterbox changes nothing). Leaving out the patches within 2 sigmas of either end
instead, as before, failed on dark photos, where too few others are left (docs/benchmarks.md).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from desktop_app.core.work import Progress, Work

PATCH = 7
MAX_PATCHES = 60_000
MIN_WEAK = 200  # fewest weak-texture patches an estimate is made from
LEVEL_BINS = 4  # brightness bands "auto" reads the noise in, for noise that grows with brightness
LEVEL_MIN_PATCHES = 2000  # fewest patches per band (fewer: one estimate over all)
LEVEL_BLUR = 2.0  # px: the blur that reads each pixel's level for its noise (`noise_map`)
CLIP_MARGIN = 0.5 / 255  # how far beyond [0, 1] a clipped image's values may lie (rounding)

# The normal distribution clipped at 0, as functions of t = mu / sigma: the clipped values'
# mean over sigma and their variance over sigma^2.
_T = np.linspace(-6.0, 12.0, 3601)
_CDF = 0.5 * (1.0 + np.array([math.erf(t / math.sqrt(2.0)) for t in _T]))
_PDF = np.exp(-_T ** 2 / 2) / math.sqrt(2 * math.pi)
_CLIPPED_MEAN = _T * _CDF + _PDF
_CLIPPED_VAR = (_T ** 2 + 1) * _CDF + _T * _PDF - _CLIPPED_MEAN ** 2
_CLIPPED_GAIN = _CLIPPED_MEAN - np.maximum(_T, 0.0)  # what clipping at 0 adds to the mean (0 at both ends)
_BIAS_ENTRIES = 16384


def within_file_range(values: np.ndarray) -> bool:
    """Whether `values` lie within [0, 1], as a file's do: noise on them was clipped."""
    return bool(values.min() >= -CLIP_MARGIN and values.max() <= 1.0 + CLIP_MARGIN)


def clipping_bias(level: np.ndarray, sigma: float | np.ndarray | tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """What clipping to [0, 1], as a file holds it, adds to the mean of `level` under Gaussian
    noise of `sigma` (one for all, one per channel of the last axis, or the noise by brightness
    per channel as `noise_bands` reads it: the noise at each level's own brightness, a camera's
    quieter near black): lifts it near black, lowers it near white (elementwise, float32). The
    censored normal's part is read off a table of levels from -0.25 to 1.25 (the nearest of its
    16384 entries: within 5e-5; 0 beyond, where it is below 1e-5 sigma for sigma up to 0.05)."""
    level = np.asarray(level, np.float32)
    lo, hi = -0.25, 1.25
    grid = np.linspace(lo, hi, _BIAS_ENTRIES, dtype=np.float32)[None]
    if isinstance(sigma, tuple):  # bands: each channel's level along the table's grid
        levels, sds = sigma
        rows = [min(k, levels.shape[0] - 1) for k in range(level.shape[-1])]
        sigma = np.stack([np.interp(grid[0], levels[r], sds[r]) for r in rows]).astype(np.float32)
    sigmas = np.maximum(np.asarray(sigma, np.float32).reshape(-1, 1) if np.ndim(sigma) < 2 else sigma, 1e-6)
    table = sigmas * (_clip_gain(grid / sigmas) - _clip_gain((grid - 1) / sigmas))
    table[:, [0, -1]] = 0.0  # beyond the table's range
    x = (level - np.float32(lo)) * np.float32((_BIAS_ENTRIES - 1) / (hi - lo))
    x += 0.5
    np.clip(x, 0.0, _BIAS_ENTRIES - 0.5, out=x)
    i = x.astype(np.int32)
    if sigmas.shape[0] > 1:  # each channel its own table
        i += np.arange(sigmas.shape[0], dtype=np.int32) * _BIAS_ENTRIES
    bias = table.ravel()[i]
    bias += np.clip(level, 0.0, 1.0)
    bias -= level
    return bias


def _clip_gain(t: np.ndarray) -> np.ndarray:
    """_CLIPPED_GAIN at `t`, linearly interpolated on its even grid (np.interp's search is
    ten times slower on a photo)."""
    step = np.float32(_T[1] - _T[0])
    x = np.clip((t - np.float32(_T[0])) / step, 0.0, len(_T) - 1.001)
    i = x.astype(np.int32)
    x -= i
    table = _CLIPPED_GAIN.astype(np.float32)
    return table[i] * (1.0 - x) + table[i + 1] * x


def _patches(channel: np.ndarray, rng: np.random.Generator, exclude: np.ndarray | None = None) -> np.ndarray:
    windows = sliding_window_view(channel, (PATCH, PATCH))[::2, ::2]
    rows, cols = windows.shape[:2]
    index = np.arange(rows * cols)
    if exclude is not None:  # leave out every patch that touches an excluded pixel
        touched = sliding_window_view(exclude, (PATCH, PATCH))[::2, ::2].any(axis=(2, 3))
        index = index[~touched.reshape(-1)]
    if index.shape[0] > MAX_PATCHES:
        index = index[rng.choice(index.shape[0], MAX_PATCHES, replace=False)]
    # gather only the chosen windows: copying all of them first took seconds on a 1024-px crop
    return windows[index // cols, index % cols].reshape(-1, PATCH * PATCH).astype(np.float64)


def _gradient_energy(patches: np.ndarray) -> np.ndarray:
    p = patches.reshape(-1, PATCH, PATCH)
    return (np.diff(p, axis=1) ** 2).sum(axis=(1, 2)) + (np.diff(p, axis=2) ** 2).sum(axis=(1, 2))


def _noise_energy_quantile(q: float = 0.99) -> float:
    """The q-quantile of the gradient energy of a patch of unit-variance white noise."""
    noise = np.random.default_rng(12345).standard_normal((20000, PATCH * PATCH))
    return float(np.quantile(_gradient_energy(noise), q))


_Q99 = _noise_energy_quantile()


def _sigma_of_channel(channel: np.ndarray, rng: np.random.Generator, exclude: np.ndarray | None = None) -> float:
    patches = _patches(channel, rng, exclude)
    return 0.0 if patches.shape[0] < PATCH * PATCH else _sigma_of_patches(patches, within_file_range(channel))


def _bands_of_channel(channel: np.ndarray, rng: np.random.Generator, exclude: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The mean levels of LEVEL_BINS bands of patches sorted by level and the noise's standard
    deviation in each (0-1 scale); one band where there are too few patches."""
    patches = _patches(channel, rng, exclude)
    if patches.shape[0] < PATCH * PATCH:  # too few patches for a covariance
        return np.array([0.5]), np.array([0.0])
    clipped = within_file_range(channel)
    means = patches.mean(axis=1)
    if patches.shape[0] < LEVEL_BINS * LEVEL_MIN_PATCHES:
        return np.array([means.mean()]), np.array([_sigma_of_patches(patches, clipped)])
    parts = np.array_split(np.argsort(means, kind="stable"), LEVEL_BINS)
    return (np.array([means[part].mean() for part in parts]),
            np.array([_sigma_of_patches(patches[part], clipped) for part in parts]))


def _sigma_of_patches(patches: np.ndarray, clipped: bool) -> float:
    # A file holds [0, 1]: noise is cut off at black and white, so patches near either end show
    # less noise than there is; each estimate is corrected by the patches' levels (their means)
    # for what the clipping took (`_unclipped`). An image with values beyond [0, 1] was never
    # clipped: its estimates stand as they are.
    levels = None
    if clipped:
        means = patches.mean(axis=1)
        levels = np.minimum(means, 1.0 - means)  # how far from the nearer end

    def estimate(chosen: np.ndarray) -> float:
        seen = _chen(patches[chosen])
        return seen if levels is None else _unclipped(seen, levels[chosen])

    sigma = estimate(np.ones(patches.shape[0], bool))
    energy = _gradient_energy(patches)
    for _ in range(6):
        keep = energy < _Q99 * sigma * sigma
        if np.count_nonzero(keep) < MIN_WEAK:  # too little flat area to judge: keep what we have
            break
        new = estimate(keep)
        if abs(new - sigma) < 1e-4:
            break
        sigma = new
    return sigma


def _unclipped(seen: float, levels: np.ndarray) -> float:
    """The sigma whose noise, clipped at the nearer end, shows the standard deviation `seen`
    over patches at these observed distances from black or white (0-1 scale). Far from the ends
    it is `seen` itself."""
    if seen <= 0:
        return seen
    counts, edges = np.histogram(np.clip(levels, 0.0, 0.5), bins=256, range=(0.0, 0.5))
    lows, weights = edges[:-1], counts / max(1, counts.sum())  # a bin at its low edge: black stays black

    def shown(sigma: float) -> float:
        t = np.interp(lows / sigma, _CLIPPED_MEAN, _T)  # the true level behind each observed one
        return sigma * math.sqrt(float(weights @ np.interp(t, _T, _CLIPPED_VAR)))

    low, high = seen, seen
    while shown(high) < seen and high < 20 * seen:
        high *= 1.5
    for _ in range(30):
        mid = (low + high) / 2
        low, high = (mid, high) if shown(mid) < seen else (low, mid)
    return (low + high) / 2


def _covariance(patches: np.ndarray, rows: int = 96) -> np.ndarray:
    """patches.T @ patches / n, summed over blocks of `rows` patches: blocks this small stay
    under OpenBLAS's threading threshold. One multi-threaded product of the whole tall, thin
    matrix fought other work for the cores: 2.2 s against 0.026 s on a busy 2-core machine."""
    cov = np.zeros((patches.shape[1], patches.shape[1]))
    for i in range(0, patches.shape[0], rows):
        block = patches[i:i + rows]
        cov += block.T @ block
    return cov / patches.shape[0]


def _chen(patches: np.ndarray) -> float:
    patches = patches - patches.mean(axis=0)
    eig = np.linalg.eigvalsh(_covariance(patches))[::-1]  # descending
    eig = np.maximum(eig, 0.0)
    for i in range(len(eig)):
        tail = eig[i:]
        tau = tail.mean()
        # a skewed tail (signal left in it) has its mean above its median; stop at the first
        # tail whose mean is not above its median: what is left is noise
        if np.sum(tail > tau) >= np.sum(tail < tau):
            return float(np.sqrt(tau))
    return float(np.sqrt(eig[-1]))


def estimate_sigma(image: np.ndarray, max_side: int = 1024, seed: int = 0, exclude: np.ndarray | None = None,
                   centre: tuple[int, int] | None = None, by_level: bool = False) -> np.ndarray:
    """Noise standard deviation per channel on the 0-255 scale (image float in [0, 1]).
    Large photos are estimated on a crop of at most `max_side` pixels around `centre` (y, x;
    the image's centre by default); noise is a property of the sensor, not of the scene, so
    a crop is enough. Patches touching a pixel where `exclude` (bool H x W) is True are left
    out (a hole, a painted area). Returns zeros when too little is left to judge. `by_level`:
    read in brightness bands, their root mean square (`overall_level(noise_bands(...))`)."""
    if by_level:
        return overall_level(noise_bands(image, max_side, seed, exclude, centre))
    crop, skip = _crop(image, max_side, exclude, centre)
    if min(crop.shape[:2]) < PATCH:
        return np.zeros(crop.shape[2])
    rng = np.random.default_rng(seed)
    return np.array([_sigma_of_channel(crop[:, :, c], rng, skip) * 255.0 for c in range(crop.shape[2])])


# BM3D's opponent colours (brightness, red-blue, green against the others) and what white noise
# of one level in every channel puts in each of them
OPPONENT = np.array([[1 / 3, 1 / 3, 1 / 3], [1 / 2, 0, -1 / 2], [1 / 4, -1 / 2, 1 / 4]], np.float32)
OPPONENT_GAIN = np.sqrt((OPPONENT ** 2).sum(axis=1))


def colour_share(image: np.ndarray, max_side: int = 512) -> float:
    """How much pixel-fine colour noise a colour photo holds for its brightness noise: about 1
    where each channel got its own noise (a sensor's, or noise added to a file), near 0 where
    a JPEG's half-resolution colour (4:2:0, what cameras and phones write) or a camera's
    processing spread the colour noise over several pixels (σ 25 noise saved at quality 92:
    0.02-0.05; most of RNI15's real photos 0.03-0.3). 1 where no noise is read, and for a
    black-and-white photo stored in colour (its channels alike: no colour noise to read)."""
    crop, _ = _crop(image, max_side, None, None)  # the estimator's own crop: the rest is not read
    if np.ptp(crop, axis=2).max() < 2 / 255:
        return 1.0
    opponent = crop.astype(np.float32) @ OPPONENT.T + np.array([0.0, 0.5, 0.5], np.float32)
    levels = estimate_sigma(opponent, max_side) / OPPONENT_GAIN
    return 1.0 if levels[0] <= 0 else float(levels[1:].mean() / levels[0])


def overall_level(bands: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """One noise level per channel (0-255 scale) from the noise by brightness: the bands' root
    mean square, the level a constant noise map serves best. Noise that grows with brightness
    (a camera's: photon noise) read over all weak-texture patches at once reads the quiet,
    dark ones' level, far under it."""
    return np.sqrt(np.mean(np.square(bands[1]), axis=1)) * 255.0


def noise_bands(image: np.ndarray, max_side: int = 1024, seed: int = 0, exclude: np.ndarray | None = None,
                centre: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The noise by brightness, per channel: the mean levels (0-1) of LEVEL_BINS bands of
    patches and the noise's standard deviation in each (0-1 scale), each C x LEVEL_BINS (one
    band where a channel has too few patches, repeated). Read as `estimate_sigma` reads, on the
    same crop, without the patches touching `exclude`."""
    crop, skip = _crop(image, max_side, exclude, centre)
    c = crop.shape[2]
    if min(crop.shape[:2]) < PATCH:
        return np.full((c, 1), 0.5), np.zeros((c, 1))
    rng = np.random.default_rng(seed)
    bands = [_bands_of_channel(crop[:, :, i], rng, skip) for i in range(c)]
    size = max(b[0].size for b in bands)
    return (np.stack([np.resize(b[0], size) for b in bands]), np.stack([np.resize(b[1], size) for b in bands]))


def noise_map(image: np.ndarray, bands: tuple[np.ndarray, np.ndarray], blur: float = LEVEL_BLUR) -> np.ndarray:
    """The noise's standard deviation at each pixel (H x W x C, 0-1 scale) from the noise by
    brightness (`noise_bands`, held flat beyond its ends), read at the pixel's level in each
    channel: the noisy image itself blurred by `blur` px, which leaves its level and little of
    its noise. Read at half the resolution and enlarged (the denoisers take their input at half
    the resolution anyway; on 12 MP 0.3 s instead of 0.9). One band row serves every channel,
    as for a grey photo run in colour."""
    import cv2  # here, not at start-up

    levels, sigmas = bands
    h, w, c = image.shape
    half = (max(1, w // 2), max(1, h // 2))
    small = cv2.resize(np.ascontiguousarray(image, np.float32), half, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), blur / 2).reshape(half[1], half[0], c)
    for k in range(c):
        row = min(k, levels.shape[0] - 1)
        small[..., k] = np.interp(small[..., k], levels[row], sigmas[row])
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, c)


def _crop(image: np.ndarray, max_side: int, exclude: np.ndarray | None, centre: tuple[int, int] | None
          ) -> tuple[np.ndarray, np.ndarray | None]:
    h, w = image.shape[:2]
    cy, cx = centre if centre is not None else (h // 2, w // 2)
    y0 = min(max(0, cy - max_side // 2), max(0, h - max_side))
    x0 = min(max(0, cx - max_side // 2), max(0, w - max_side))
    crop = image[y0:y0 + max_side, x0:x0 + max_side]
    return crop, None if exclude is None else exclude[y0:y0 + max_side, x0:x0 + max_side]


TEXTURE_RADIUS = 5  # px: the window over which what a denoiser took away is weighed
TEXTURE_QUIET = 25  # percentile of the windows' residual power taken for the noise's power
TEXTURE_FACTOR = 10.0  # taken away more than this many times the noise's power: texture, put back


def keep_texture(noisy: np.ndarray, denoised: np.ndarray, radius: int = TEXTURE_RADIUS,
                 factor: float = TEXTURE_FACTOR) -> np.ndarray:
    """`denoised` with back what it took from `noisy` beyond noise. A blind network judges the
    noise level itself, and takes fine regular texture (a chair's mesh, a fabric's weave) for
    noise: it wipes it flat. Where the residual (`noisy` - `denoised`) has, over a window of
    2 `radius` + 1 px, a mean power above `factor` times the noise's, that share of it,
    1 - `factor` noise / power, is put back (Lee's local gain on the residual): texture with
    its noise, as the photo had it. Where the residual is noise the gain is 0 and nothing
    changes. The noise's power, per channel, is the TEXTURE_QUIET percentile of the windows'
    (the median of the residual read a photo half covered by a mesh as all noise).

    On the 29 PolyU pairs `cnn-real` never trained on, 39.53 -> 39.91 dB (the wiped mesh of
    the Nikon D800's classroom_5 33.20 -> 37.24, a Canon's fabric 36.85 -> 38.61), no photo
    worse by more than 0.03 dB; on 12 CBSD68 photos with Gaussian noise (15-50) within 0.01 dB
    (docs/benchmarks.md, "Texture the blind network wiped")."""
    import cv2

    residual = np.asarray(noisy, np.float32) - denoised
    h, w = residual.shape[:2]
    # in place: each fresh photo-sized array costs its page faults (24 MP: 0.2-0.7 s here)
    power = np.multiply(residual, residual)
    cv2.blur(power, (2 * radius + 1, 2 * radius + 1), dst=power)
    step = max(1, int(np.sqrt(h * w / 2.5e5)))  # the percentile from a quarter of a million windows
    noise = np.percentile(power[::step, ::step].reshape(-1, power.shape[2]), TEXTURE_QUIET, axis=0)
    np.maximum(power, 1e-12, out=power)
    np.divide(factor * noise, power, out=power)
    np.subtract(1.0, power, out=power)  # the gain: the share of the residual beyond the noise
    np.clip(power, 0.0, 1.0, out=power)
    residual *= power
    residual += denoised
    return residual


SIMILAR_TEMPLATE = 7  # px: the patches compared
SIMILAR_SEARCH = 15  # px: the window searched for similar patches (21: +0.01 dB, twice the time)
SIMILAR_H = 0.0114  # the weights' scale (mean absolute difference of two patches, 0-1 range) ...
SIMILAR_H_PER_NOISE = 0.175  # ... or this times the residual's quiet noise level where that is more ...
SIMILAR_H_MAX = 0.046  # ... up to this (Gaussian sigma 50: the network's own error needs more)
SIMILAR_ROWS = 512  # rows per strip: progress and cancel between strips


def average_similar(noisy: np.ndarray, denoised: np.ndarray) -> Work[np.ndarray]:
    """`denoised` with each pixel averaged over the pixels nearby whose surrounding patch looks
    alike (non-local means, Buades, Coll and Morel 2005, on the denoiser's result rather than on
    the noisy photo). A blind network leaves low blotches of its own where it misjudged the
    noise; averaging its result over similar patches removes them, and the weights, read off
    the clean-looking result rather than the noise, keep edges. The scale of the weights is
    fixed for camera noise, more where the residual (`noisy` - `denoised`) shows strong noise.

    On the 29 PolyU pairs `cnn-real` never trained on, after `keep_texture`: 39.91 -> 40.16 dB
    (docs/benchmarks.md, "Averaging the network's result over similar patches"). OpenCV's
    implementation, on 16-bit values (L1 distances). Work: yields progress per strip."""
    import cv2

    h = noisy.shape[0]
    noise = _quiet_level(noisy, denoised)
    scale = float(np.clip(SIMILAR_H_PER_NOISE * noise, SIMILAR_H, SIMILAR_H_MAX)) * 65535
    margin = SIMILAR_TEMPLATE // 2 + SIMILAR_SEARCH // 2
    out = np.empty(denoised.shape, np.float32)
    for y in range(0, h, SIMILAR_ROWS):
        yield Progress(y / h, "averaging similar patches")
        y0, y1 = max(0, y - margin), min(h, y + SIMILAR_ROWS + margin)
        strip = np.round(np.clip(denoised[y0:y1], 0.0, 1.0) * 65535).astype(np.uint16)
        done = cv2.fastNlMeansDenoising(strip, [scale], None, SIMILAR_TEMPLATE, SIMILAR_SEARCH, cv2.NORM_L1)
        done = done.reshape(strip.shape)
        out[y:y + SIMILAR_ROWS] = done[y - y0:y - y0 + SIMILAR_ROWS] / np.float32(65535)
    return out


def _quiet_level(noisy: np.ndarray, denoised: np.ndarray, max_side: int = 1024) -> float:
    """The noise level (standard deviation, 0-1 range) in what a denoiser took away, read where
    it took least: the TEXTURE_QUIET percentile of the residual's power over windows of
    2 TEXTURE_RADIUS + 1 px, on a centre crop of at most `max_side` px, averaged over channels."""
    import cv2

    h, w = noisy.shape[:2]
    y0, x0 = max(0, (h - max_side) // 2), max(0, (w - max_side) // 2)
    crop = np.s_[y0:y0 + max_side, x0:x0 + max_side]
    residual = np.asarray(noisy[crop], np.float32) - denoised[crop]
    side = 2 * TEXTURE_RADIUS + 1
    power = cv2.blur(residual * residual, (side, side)).reshape(-1, residual.shape[2])
    return float(np.sqrt(np.percentile(power, TEXTURE_QUIET, axis=0).mean()))
