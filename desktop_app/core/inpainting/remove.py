"""Object removal: the network's large-scale content with the photo's own texture.

The network (operations.inpaint's neural fill) continues the structure of the surroundings into
the hole about right and its detail wrong: a smooth smudge. Patch synthesis (patchmatch) copies
real texture and misplaces content. The fill of one window here does both, in the spirit of
Wexler et al. 2007 and of Content-Aware Fill:

1. the network fills the window: the coarse content, into which the straight edges and lines
   that cross the hole are drawn where the network hints at them (edges.py: a cable the
   network let fade halfway goes on across);
2. multi-scale PatchMatch with EM voting fills it again from the photo's own patches, started
   from the network's fill where the network saw the window whole (comparing patches also on
   the network's blurred colours copied worse texture: see patchmatch.patch_copy);
3. what is left of a disagreement at large scale is taken from the network: the fill's low
   frequencies (a Gaussian of `low_sigma`: LOW_SIGMA or more where the network is smooth) are
   the network's, so no wrong object, colour or brightness is pasted in, and its fine detail
   is that of the places the copy took each pixel from (`network_lows`);
4. the fill's fine detail is brought to the strength of the photo's around the hole, band by
   band (`match_detail`): copies favour smooth sources, and the network's lows smooth too.

In a smooth photo the copy's content also replaces the network's where the network's colour is
a mixture of the photo's own and the copy's is not (`plausible_share`): unsure, the network
fills a haze of what it sees.

Deep inside a large hole, where the network's fill is only an average of what might be there
(`network_unsure`), the copy's own content replaces it by default: the photo's foliage and stone
instead of a smudge. A seed picks how far the copy's own content is trusted over the network's
(`copy_content`, READINGS): the three variations offered after a run differ where the fill is
uncertain.

The edges are drawn again over the finished fill (its content above EDGE_SIGMA).

fullres then matches the seam's colour and the grain (only where the fill is smoother than the
photo around it) and brings the window back to full size.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from desktop_app.core.imaging.tiles import mask_bbox
from desktop_app.core.inpainting.edges import drawn_edges, put_edges
from desktop_app.core.inpainting.fullres import Copied, FillFn, local_mean
from desktop_app.core.work import Work, subrange

LOW_SIGMA = 2.5  # px at the working scale: from this scale up the network's content is kept...
LOW_SIGMA_MAX = 24.0
NETWORK_DETAIL = 0.3  # ...unless its fill holds less than this share of the photo's detail there
DETAIL_SIGMAS = (1.0, 2.0)  # px at the working scale: the detail bands match_detail evens out
# the most a band is weakened or strengthened; 1.5 at most left large holes' fills too smooth
# (12 PolyU photos' large holes: detail ratio 0.75 -> 0.80, texture 0.85 -> 0.84 with 2)
DETAIL_GAIN = (0.67, 2.0)
DETAIL_VOTE = 3  # px: a copied pixel's detail is the mean of what this square of neighbours' sources propose
DETAIL_RING = 16  # px around the hole whose detail is the reference
DETAIL_REACH = 24.0  # px: a hole pixel's detail is matched to the ring's near it (a Gaussian of this)
# What a seed's fill takes its content from (seed % 3), so that the variations differ where the
# fill is uncertain: the network's layout near the hole's edge and the copy's content deep
# inside (seed 0: the default, the benchmark's; large holes, where the network fills an
# average); the copy's own content where it agrees with the network's (sharper edges, other
# sources); the network's layout everywhere.
READINGS = ("photo", "agreeing", "network")
AGREE_SIGMA = 6.0  # px at the working scale: the scale at which the copy and the network are compared
AGREE_WITHIN = 0.06  # the copy's content is kept where it is this close to the network's, none from twice that
# px at the working scale: the copy's share deep in the hole, 1 - exp(-(depth / this)^2); 24
# cost the 68 CBSD68 photos' small holes structure under Telea's (19.36 dB against 19.40)
PHOTO_DEPTH = 36.0
UNSURE_BAND = (2.5, 8.0)  # px at the working scale: the scales at which the network's fill is read for content...
SURE = 0.5  # ...whose holding this share of the photo's content there keeps the network's layout deep inside too
NETWORK_SHARE = 0.25  # of a window's progress
EDGE_SIGMA = 1.5  # px: from this scale up the edges drawn across the hole (edges.py) replace the fill's content
NETWORK_MIN_SIDE = 192  # the network sees a window at half size when that keeps this short side


def keep_low_frequencies(textured: np.ndarray, coarse: np.ndarray, hole: np.ndarray,
                         sigma: float = LOW_SIGMA) -> np.ndarray:
    """`textured` with its low frequencies (Gaussian of `sigma`) inside the hole replaced by
    those of `coarse`. Outside the hole both are the photo, so the correction fades to zero
    at the hole's edge by itself."""
    if sigma <= 0:
        return textured
    diff = (coarse - textured).astype(np.float32)
    low = cv2.GaussianBlur(diff, (0, 0), sigma, borderType=cv2.BORDER_REFLECT).reshape(diff.shape)
    out = textured.copy()
    out[hole] += low[hole]
    return out


def network_lows(window: np.ndarray, copied: Copied, coarse: np.ndarray, hole: np.ndarray,
                 sigma: float = LOW_SIGMA) -> np.ndarray:
    """The fill with its content above `sigma` (a Gaussian) from the network's fill `coarse`
    and its detail below it from the photo: the detail (the photo minus its blur over the known
    pixels) of the places the copy took the pixel and its neighbours from (`voted_detail`).
    Pixels the copy has no source for keep their own detail (keep_low_frequencies).

    Taking the copy's own detail instead (the copy minus its blur) kept the steps between
    neighbouring pixels copied from different places: where a shadow or an object's edge
    ended inside the hole, a jagged line, and inside 12 PolyU holes a pixel-level contrast
    1.2-1.4 times the photo's (docs/benchmarks.md, "The fill's detail from the places it was
    copied from")."""
    taken = hole & (copied.source[:, :, 0] >= 0)
    if not taken.any():
        return keep_low_frequencies(copied.image, coarse, hole, sigma)
    out = keep_low_frequencies(copied.image, coarse, hole, sigma) if (hole & ~taken).any() else copied.image.copy()
    photo = window.astype(np.float32)
    detail = photo - local_mean(photo, ~hole, sigma)
    low = cv2.GaussianBlur(coarse.astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT).reshape(photo.shape)
    out[taken] = low[taken] + voted_detail(detail, hole, copied.source, taken)
    return out


def copy_content(filled: np.ndarray, copied: Copied, coarse: np.ndarray, hole: np.ndarray,
                 sigma: float, reading: str) -> np.ndarray:
    """`filled` (`network_lows`: the network's content above `sigma`) with the copy's own content
    above `sigma` put back where `reading` (one of READINGS) trusts it: by depth into the hole
    ("photo": the network's layout near the edge, the photo's patches deep inside), where the
    copy is within AGREE_WITHIN of the network at AGREE_SIGMA ("agreeing": an edge the copy
    found stays sharp, a wrong object it pasted does not), or nowhere ("network"); in every
    reading also where a smooth photo's network fill is a mixture of its colours
    (`plausible_share`).

    "photo" is the default: deep in a large hole the network fills an average (a grey-green
    smudge where a bird stood on a rocky slope) and the copy commits to the photo's own
    foliage and stone, there only where the network's fill is such an average
    (`network_unsure`). It costs a little structure (68 CBSD68 photos' small holes 19.61 ->
    19.59 dB, Telea 19.40) and gains a little texture (docs/benchmarks.md, "The photo's own
    patches deep inside, by default"). "agreeing" took the small holes' structure to 19.18 dB,
    under Telea's: a variation, not the default."""
    image = copied.image.astype(np.float32)
    coarse = coarse.astype(np.float32)
    share = np.zeros(hole.shape + (1,), np.float32)  # "network": none of the copy's, but below
    if reading == "agreeing":
        def blur(x: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(x, (0, 0), AGREE_SIGMA, borderType=cv2.BORDER_REFLECT).reshape(x.shape)

        apart = np.abs(blur(image) - blur(coarse)).max(axis=2, keepdims=True)
        share = np.clip(2.0 - apart / AGREE_WITHIN, 0.0, 1.0)
    elif reading == "photo":
        depth = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 5)
        share = ((1.0 - np.exp(-(depth / PHOTO_DEPTH) ** 2)) * network_unsure(coarse, image, hole))[:, :, None]
    elif reading != "network":
        raise ValueError(f"unknown reading {reading!r}: one of {', '.join(READINGS)}")
    plausible = plausible_share(image, coarse, hole)
    if plausible is not None:
        share = np.maximum(share, plausible)
    if not share.any():
        return filled
    taken = hole & (copied.source[:, :, 0] >= 0)
    lows = cv2.GaussianBlur(image - coarse, (0, 0), sigma, borderType=cv2.BORDER_REFLECT).reshape(image.shape)
    out = filled.copy()
    out[taken] += (share * lows)[taken]
    return out


def network_unsure(coarse: np.ndarray, photo: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """H x W, 0-1: how far the network's fill `coarse` is an average of what might be there: 1
    where it holds none of the content the photo has around the hole (differences of Gaussians
    at UNSURE_BAND, their magnitude averaged over the larger scale), 0 where it holds SURE of it
    or more. Deep in a hole the copy's content replaces only such an average: where the network
    drew something (an edge it continued, a shape it knew) its layout is usually right, and
    taking the copy's there cost 68 CBSD68 photos' small holes 0.07 dB of structure (19.59 ->
    19.52)."""
    def content(x: np.ndarray) -> np.ndarray:
        grey = x.astype(np.float32).mean(axis=2)
        fine, broad = (cv2.GaussianBlur(grey, (0, 0), s, borderType=cv2.BORDER_REFLECT) for s in UNSURE_BAND)
        return np.abs(fine - broad)

    ring = _around(hole, PALETTE_RING)
    reference = float(content(photo)[ring].mean()) if ring.any() else 0.0
    if reference <= 1e-6:  # a flat photo: nothing the network could have missed
        return np.ones(hole.shape, np.float32)
    held = cv2.GaussianBlur(content(coarse), (0, 0), UNSURE_BAND[1], borderType=cv2.BORDER_REFLECT)
    return np.clip(1.0 - held / (SURE * reference), 0.0, 1.0).astype(np.float32)


PALETTE_RING = 32  # px around the hole whose colours (at AGREE_SIGMA) are the photo's palette
PALETTE_SIZE = 12
IMPLAUSIBLE = (0.02, 0.05)  # how much further from the palette the network's colour is than the copy's: none .. all
SMOOTH_RING = 0.02  # the ring's mean |Laplacian| (0-1) under which a photo counts as smooth
PALETTE_SCALE = 4  # the colours are compared at this fraction of the working size


def plausible_share(image: np.ndarray, coarse: np.ndarray, hole: np.ndarray) -> np.ndarray | None:
    """H x W x 1, how far the fill (whatever the reading) takes the copy's content (`image`)
    over the network's (`coarse`) in a smooth photo, or None where it keeps the network's: where
    the network's colour at AGREE_SIGMA lies further than the copy's from every colour the photo
    has around the hole (its palette: k-means of the ring's local means). Unsure, the network
    fills a mixture of the colours it sees: on the sample photo a green haze rising from the
    grass into the blue hills where the house was, which the copy continued as a clean line.

    Only in smooth photos (the ring's mean |Laplacian| under SMOOTH_RING; the 12 PolyU photos
    0.004-0.033, CBSD68 0.035-0.18): on busy ones the copy's layout is a mosaic, often wrong,
    and taking it cost CBSD68's small holes 0.35 dB of structure, under Telea's
    (docs/benchmarks.md, "A haze where the house was")."""
    known = ~hole
    ring = _around(hole, PALETTE_RING)
    if ring.sum() < PALETTE_SIZE:
        return None
    inner = cv2.erode(known.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0  # its Laplacian sees no hole
    laplacian = np.abs(cv2.Laplacian(image.mean(axis=2), cv2.CV_32F))
    if not (ring & inner).any() or float(laplacian[ring & inner].mean()) > SMOOTH_RING:
        return None
    # the rest at a quarter of the size: the colours compared are means over 6 px, and the
    # share is smooth (a 24 MP removal's 15 windows took 2.4 s at full size)
    h, w = hole.shape
    f = PALETTE_SCALE if min(h, w) >= 16 * PALETTE_SCALE else 1

    def reduced(x: np.ndarray) -> np.ndarray:
        return cv2.resize(x, (w // f, h // f), interpolation=cv2.INTER_AREA).reshape(h // f, w // f, -1)

    image, coarse = reduced(image), reduced(coarse)
    small_hole = reduced(hole.astype(np.float32))[:, :, 0] > 0
    sigma = AGREE_SIGMA / f
    means = local_mean(image, ~small_hole, sigma)
    # the palette of the ring's flat half: across an edge the local means are blends of the
    # two sides, the very mixtures the network's haze is made of
    slope = sum(np.abs(cv2.Sobel(means, cv2.CV_32F, dx, dy)).sum(axis=2) for dx, dy in ((1, 0), (0, 1)))
    small_ring = _around(small_hole, max(1, PALETTE_RING // f))
    colours = means[small_ring & (slope <= np.median(slope[small_ring]))]
    if len(colours) < PALETTE_SIZE:
        return None
    if len(colours) > 4096:
        colours = colours[np.random.default_rng(0).choice(len(colours), 4096, replace=False)]
    cv2.setRNGSeed(0)
    _, _, palette = cv2.kmeans(np.ascontiguousarray(colours, np.float32), PALETTE_SIZE, None,
                               (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_MAX_ITER, 20, 1e-4), 2,
                               cv2.KMEANS_PP_CENTERS)

    def off_palette(x: np.ndarray) -> np.ndarray:
        low = cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT).reshape(x.shape)
        return np.sqrt(((low[:, :, None, :] - palette[None, None]) ** 2).sum(-1)).min(-1)

    lo, hi = IMPLAUSIBLE
    share = np.clip((off_palette(coarse) - off_palette(image) - lo) / (hi - lo), 0.0, 1.0)
    # widened and softened: a share that follows the haze's edge drew light arcs where it changed
    reach = max(1, 6 // f)
    share = cv2.dilate(share, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1)))
    share = cv2.GaussianBlur(share, (0, 0), 2 * sigma)
    return cv2.resize(share, (w, h), interpolation=cv2.INTER_LINEAR)[:, :, None]


def voted_detail(detail: np.ndarray, hole: np.ndarray, source: np.ndarray, taken: np.ndarray,
                 size: int = DETAIL_VOTE) -> np.ndarray:
    """For each `taken` pixel (in np.nonzero order), the mean over its `size` x `size`
    neighbours (copied or known) of the `detail` their source puts at this pixel: the source
    shifted back by the neighbour's offset, when that lands on a known pixel. Where a run of
    pixels was copied from one place all proposals agree and it is that place's detail; where
    two places meet, their textures are blended over a few pixels instead of meeting at a hard
    edge (Wexler et al.'s vote, on the detail only)."""
    h, w = hole.shape
    ys, xs = np.nonzero(taken)
    src_y = np.where(taken, source[:, :, 0], np.arange(h)[:, None])  # a known pixel is its own source
    src_x = np.where(taken, source[:, :, 1], np.arange(w)[None, :])
    proposes = taken | ~hole
    total = np.zeros((ys.size, detail.shape[2]), np.float32)
    count = np.zeros(ys.size, np.float32)
    r = size // 2
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            ny, nx = ys + dy, xs + dx
            ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
            ny, nx = np.clip(ny, 0, h - 1), np.clip(nx, 0, w - 1)
            py, px = src_y[ny, nx] - dy, src_x[ny, nx] - dx
            ok &= proposes[ny, nx] & (py >= 0) & (py < h) & (px >= 0) & (px < w)
            py, px = np.clip(py, 0, h - 1), np.clip(px, 0, w - 1)
            ok &= ~hole[py, px]
            total[ok] += detail[py[ok], px[ok]]
            count[ok] += 1
    own = detail[source[ys, xs, 0], source[ys, xs, 1]]
    return np.where(count[:, None] > 0, total / np.maximum(count, 1)[:, None], own)


def _around(hole: np.ndarray, ring: int = DETAIL_RING) -> np.ndarray:
    """The known pixels within `ring` px (a square) of the hole."""
    return (cv2.dilate(hole.astype(np.uint8), np.ones((2 * ring + 1, 2 * ring + 1), np.uint8)) > 0) & ~hole


def _band(image: np.ndarray, where: np.ndarray, sigma: float) -> float:
    """Mean magnitude of `image`'s detail between the scales `sigma` and 2 `sigma` at `where`,
    measured on the image reduced by a power of two that leaves `sigma` at least 1.5 px (at full
    size the blurs of a 768-px window took a second of a 24 MP removal)."""
    factor = 1
    while sigma / (2 * factor) >= 1.5:
        factor *= 2
    if factor > 1:
        size = (max(1, where.shape[1] // factor), max(1, where.shape[0] // factor))
        small = cv2.resize(where.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5
        if small.sum() >= 20:
            image, where, sigma = cv2.resize(image, size, interpolation=cv2.INTER_AREA), small, sigma / factor
    fine = cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    coarse = cv2.GaussianBlur(image, (0, 0), 2 * sigma, borderType=cv2.BORDER_REFLECT)
    return float(np.abs((fine - coarse).reshape(image.shape)[where]).mean())


def low_sigma(coarse: np.ndarray, photo: np.ndarray, hole: np.ndarray, start: float = LOW_SIGMA) -> float:
    """The scale from which on the network's content replaces the copy's: `start`, raised by
    half at a time (up to LOW_SIGMA_MAX) while the network's fill holds less than
    NETWORK_DETAIL of the detail the photo has around the hole at that scale.

    On a soft photo (a camera's full-size file, an enlarged picture) the leaves and stones are
    many pixels wide, and the network, which sees a large window at half size, is smooth up to
    several pixels: replacing those scales with its content made foliage a smooth smudge (the
    hole's gradient 0.57 of the ring's, the photo's 0.96; 0.80 with the raised scale). Only
    for windows the network sees at half size: on the 68 CBSD68 photos, where it sees them
    whole, raising the scale cost the small holes 0.06 dB of structure, under Telea's."""
    ring = _around(hole)
    inside = cv2.erode(hole.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    sigma = start
    if ring.sum() < 50 or inside.sum() < 50:
        return sigma
    image, net = photo.astype(np.float32), coarse.astype(np.float32)
    while sigma * 1.5 <= LOW_SIGMA_MAX and _band(net, inside, sigma) < NETWORK_DETAIL * _band(image, ring, sigma):
        sigma *= 1.5
    return sigma


def match_detail(filled: np.ndarray, hole: np.ndarray, sigmas: tuple[float, ...] = DETAIL_SIGMAS,
                 ring: int = DETAIL_RING) -> np.ndarray:
    """`filled` with the detail inside the hole at the strength of the detail around it: each
    band (differences of Gaussians at `sigmas`) is scaled by its mean magnitude in a ring of
    `ring` px around the hole over that inside (within DETAIL_GAIN), both means taken near each
    hole pixel (a Gaussian of DETAIL_REACH), the gain fading in over the hole's edge. Pixels
    outside the hole do not change.

    One gain for the whole window matched a hole over a smooth table to the dotted pot beside
    it: the fill came out at 2.4 times the photo's pixel-level contrast (PolyU plant_13). Near
    each pixel, 12 PolyU photos' texture distance went 0.52 / 0.91 / 0.93 -> 0.47 / 0.85 / 0.87
    and 68 CBSD68 photos' 4.85 / 5.08 / 4.65 -> 4.53 / 4.76 / 4.58 (docs/benchmarks.md,
    "Detail matched near each pixel").

    A patch copy favours smooth sources (they match more easily), and the network's lows
    smooth what they replace; a photo's detail is about even across a small hole. Measured
    (docs/benchmarks.md, "Matching the fill's detail"): 5 CBSD68 photos' detail ratio 0.71 /
    0.74 / 0.66 -> 0.79 / 0.93 / 0.77, 12 PolyU photos' texture distance in the medium and
    large bands 1.34 / 1.27 -> 1.19 / 1.17, where the fill had more fine detail than the photo."""
    around = _around(hole, ring)
    inside = cv2.erode(hole.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if inside.sum() < 50:
        inside = hole
    if around.sum() < 50 or inside.sum() < 50:
        return filled
    image = filled.astype(np.float32)
    levels = [image] + [cv2.GaussianBlur(image, (0, 0), s, borderType=cv2.BORDER_REFLECT).reshape(image.shape)
                        for s in sigmas]
    out = levels[-1].copy()
    for fine, coarse in zip(levels, levels[1:]):
        band = fine - coarse
        magnitude = np.abs(band).reshape(hole.shape + (-1,)).mean(axis=2)
        ring_near, reached = _nearby_mean(magnitude, around)
        ring_mean = np.where(reached, ring_near, magnitude[around].mean())  # beyond its reach: the whole ring's
        gain = np.clip(ring_mean / np.maximum(_nearby_mean(magnitude, inside)[0], 1e-6), *DETAIL_GAIN)
        fade = cv2.GaussianBlur(np.where(hole, gain, 1.0).astype(np.float32), (0, 0), 1.5)
        out += band * fade.reshape(hole.shape + (1,) * (band.ndim - 2))
    result = filled.copy()
    result[hole] = out[hole]
    return result


def _nearby_mean(values: np.ndarray, where: np.ndarray, sigma: float = DETAIL_REACH) -> tuple[np.ndarray, np.ndarray]:
    """The Gaussian-weighted mean of `values` (H x W) over the pixels in `where`, everywhere,
    and where any of those pixels is within the Gaussian's reach (3 sigma). Computed at a
    quarter of the size (a smooth field; a 24-px Gaussian at full size cost more than the rest
    of detail matching)."""
    h, w = where.shape
    factor = 4 if min(h, w) >= 64 else 1
    size = (max(1, w // factor), max(1, h // factor))
    weight = cv2.resize(where.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    total = cv2.resize(values.astype(np.float32) * where, size, interpolation=cv2.INTER_AREA)
    num = cv2.GaussianBlur(total, (0, 0), sigma / factor, borderType=cv2.BORDER_REFLECT)
    den = cv2.GaussianBlur(weight, (0, 0), sigma / factor, borderType=cv2.BORDER_REFLECT)
    mean = cv2.resize(num / np.maximum(den, 1e-6), (w, h), interpolation=cv2.INTER_LINEAR)
    return mean, cv2.resize(den, (w, h), interpolation=cv2.INTER_LINEAR) > 1e-3


def coarse_content(network: FillFn, window: np.ndarray, hole: np.ndarray) -> Work[np.ndarray]:
    """The network's fill of the window, at half its size when the window is large: only its
    content above LOW_SIGMA is kept, and a quarter of the pixels cost a quarter of the time.
    (On PolyU's 512-px photos it cost 0.2 dB of structure PSNR in the small-hole band, also
    when only thick holes were filled at half size, and nothing in the others.)"""
    h, w = hole.shape
    if min(h, w) < 2 * NETWORK_MIN_SIDE:
        return (yield from network(window, hole))
    size = (w // 2, h // 2)
    small = cv2.resize(window, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
    small_hole = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    filled = yield from network(small, small_hole)
    up = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC).reshape(window.shape)
    return np.where(hole[:, :, None], up, window)


def guided_fill(network: FillFn, seed: int, patch: int = 7, device: str = "cpu",
                low_sigma_start: float = LOW_SIGMA, threads: int | None = None) -> FillFn:
    """The fill function over windows (see fullres.FillFn): network, then guided patch synthesis."""
    from desktop_app.core.inpainting import patchmatch

    def fill(window: np.ndarray, hole: np.ndarray) -> Work[np.ndarray]:
        coarse = yield from subrange(coarse_content(network, window, hole), 0.0, NETWORK_SHARE)
        # the edges and lines that cross the hole, drawn across it where the network hints at
        # them: into the network's fill, which the copy starts from, and again at the end
        drawn = drawn_edges(window, hole, coarse)
        coarse = put_edges(coarse, drawn, hole)
        half_size = min(hole.shape) >= 2 * NETWORK_MIN_SIDE  # the network saw it at half size (coarse_content)
        try:
            # a fill the network made at half size is too smooth to start the search from: the
            # copy then took smooth sources (12 PolyU photos' texture distance, medium and large
            # holes, 0.94 / 0.97 -> 0.91 / 0.93; docs/benchmarks.md, "Where the search starts")
            textured = yield from subrange(
                patchmatch.patch_copy(window, hole, seed=seed, patch=patch, device=device,
                                      guide=None if half_size else coarse, sharp=True, threads=threads),
                NETWORK_SHARE, 1.0)
        except ValueError:  # no whole known patch to copy from (a window almost all hole)
            return coarse
        sigma = low_sigma(coarse, textured.image, hole, low_sigma_start) if half_size else low_sigma_start
        filled = network_lows(window, textured, coarse, hole, sigma)
        filled = copy_content(filled, textured, coarse, hole, sigma, READINGS[seed % len(READINGS)])
        return Copied(put_edges(match_detail(filled, hole), drawn, hole, EDGE_SIGMA), textured.source)

    return fill


EXPAND_SHARE = 0.004  # the least automatic Expand: this share of the photo's long side, in pixels
EXPAND_MIN = 2
OUTLINE_LOOK = 12  # px at the scale where the least Expand is 2-4 px: how far out an outline's edge is looked for
OUTLINE_RATIO = 2.0  # an edge follows the outline where the change across it is this many times the one further out
# px (at that scale) between the outline and an edge that still belongs to the object: a door's
# white frame left outside a box selection of the door, a shutter's shadow on the wall
OUTLINE_GAP = 3
DISC_RECTANGLES = 4  # the grown hole's disc: a 16-sided polygon between 0.98 and 1 times its radius


def default_expand(shape: tuple[int, ...]) -> int:
    """The least the hole grows by when Expand is "auto": an object's anti-aliased edge and
    halo scale with the photo (2 px on a 481-px photo, 24 on a 6000-px one)."""
    return max(EXPAND_MIN, round(EXPAND_SHARE * max(shape[:2])))


def auto_expand(image: np.ndarray, mask: np.ndarray) -> int:
    """Pixels the hole grows by when Expand is "auto": past the edge that follows the hole's
    outline, when there is one, plus twice default_expand; default_expand alone otherwise.

    A selection that hugs an object (box select, the magic wand) leaves the object's soft edge,
    its dark rim and its halo outside it, and a fill that continues the surroundings continues
    that rim all around the hole: a ghost outline (a toy's nose, 2 px: a thin dark oval). The
    rim shows as a change across the outline, measured outward from each ring of known pixels
    at a distance from the hole, at least OUTLINE_RATIO times the change in the rings further
    out, starting within OUTLINE_GAP px of the outline (an object's frame or shadow a few px
    wide lies between); a hole drawn across a photo has none (1 of CBSD68's 204 holes and 3 of
    PolyU's 153 in the benchmark grew further; docs/benchmarks.md, "Selections that hug the
    object", "An edge a few pixels out"). The pixels under the mask are never read."""
    least = default_expand(mask.shape)
    look = max(OUTLINE_LOOK, 3 * least)  # px at full size
    factor = look / OUTLINE_LOOK
    box = mask_bbox(mask > 0, 2 * look + 4)
    if box is None:
        return least
    y0, y1, x0, x1 = box
    hole = mask[y0:y1, x0:x1] > 0
    crop = np.asarray(image[y0:y1, x0:x1, :3], dtype=np.float32)  # a view: no fresh big array
    if factor > 1:  # at a scale where the look is OUTLINE_LOOK px
        size = (max(1, round((x1 - x0) / factor)), max(1, round((y1 - y0) / factor)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
        hole = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    profile = _outline_profile(crop, hole, 2 * OUTLINE_LOOK)
    further = max(float(np.median(profile[OUTLINE_LOOK:])), 0.5 / 255)
    above = profile[:OUTLINE_LOOK] >= OUTLINE_RATIO * further
    start = int(np.argmax(above))  # the first ring across the edge
    if not above[start] or start > OUTLINE_GAP:
        return least
    below = np.flatnonzero(~above[start:])
    edge = start + (int(below[0]) if below.size else OUTLINE_LOOK - start)  # px (at this scale) the edge reaches out
    # past the measured reach the rim's tail still shades the photo: another `least` for it
    return least + round(edge * factor) + least


def _outline_profile(image: np.ndarray, hole: np.ndarray, rings: int) -> np.ndarray:
    """The mean change of `image` over 1.5 px along the outward normal, in each ring of known
    pixels k + 1 px from the hole (k < `rings`): only where the step moved at least 1 px away
    from the hole (not at a corner, where the normal is unsure), so no pixel under the mask is
    read."""
    distance = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 5)
    ny = cv2.Sobel(distance, cv2.CV_32F, 0, 1, ksize=3)
    nx = cv2.Sobel(distance, cv2.CV_32F, 1, 0, ksize=3)
    norm = np.maximum(np.hypot(nx, ny), 1e-6)
    h, w = hole.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs += 1.5 * nx / norm
    ys += 1.5 * ny / norm
    ahead = cv2.remap(image, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT).reshape(image.shape)
    away = cv2.remap(distance, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT) >= distance + 1
    change = np.abs(ahead - image).max(axis=2)
    ring = np.floor(distance).astype(np.int64)
    counted = (ring >= 1) & (ring <= rings) & away
    count = np.bincount(ring[counted], minlength=rings + 1)
    total = np.bincount(ring[counted], weights=change[counted], minlength=rings + 1)
    return total[1:] / np.maximum(count[1:], 1)


def grow_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """The soft mask grown outward by `pixels` (a grey dilation with a disc): every value only
    rises, so the known area never grows, and the soft edge keeps its width, moved outward."""
    box = mask_bbox(mask > 0, pixels) if pixels > 0 else None  # only the hole's neighbourhood (a big photo)
    if box is None:
        return mask
    y0, y1, x0, x1 = box
    out = np.array(mask, dtype=np.float32, copy=True)
    crop = np.ascontiguousarray(mask[y0:y1, x0:x1], dtype=np.float32)
    grown = out[y0:y1, x0:x1]  # the disc holds its centre: no value falls
    if not np.any((crop > 0) & (crop < 1)):
        # a hard mask (a selection's, the benchmark's): the same dilation on bytes, a quarter of
        # the time (the 24 MP case's grow_mask: 0.32 -> 0.18 s), the same values
        crop = crop.astype(np.uint8)
    rect_max = np.empty_like(crop)  # one buffer for every dilation (fresh big arrays cost page faults)
    for k in range(DISC_RECTANGLES):  # the disc as a union of rectangles: each a fast separable dilation
        angle = (k + 0.5) * math.pi / (2 * DISC_RECTANGLES)
        half_h, half_w = round(pixels * math.sin(angle)), round(pixels * math.cos(angle))
        rect = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * half_w + 1, 2 * half_h + 1))
        cv2.dilate(crop, rect, dst=rect_max, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        np.maximum(grown, rect_max, out=grown)
    return out
