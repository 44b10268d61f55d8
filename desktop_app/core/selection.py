"""Smart selection: a box or a click becomes a soft mask, and the small algebra around masks.

Box select is graph-cut segmentation (OpenCV's GrabCut) of the box with some context around it,
at a working resolution (long side 640) so that a 24-megapixel photo answers in about a
second. A large crop is cut coarse to fine: GrabCut's iterations on a 320-pixel grid, then a
band around that answer on the working grid, because the max-flow's time grows fast with the
undecided area. The answer is then refined at full resolution in a narrow band around its
boundary only: a guided filter (He, Sun, Tang 2010) with the photo as guide moves the edge onto
the photo's own edge, and the edge gets a soft fall-off of about 1-2 pixels. Brush strokes
("keep" and "remove" hints) become definite foreground and background seeds, and the previous
result seeds the next run, so painting over a mistake updates the selection.

The magic wand takes the pixels whose colour is within a tolerance of the clicked pixel's,
connected to it (flood fill) or anywhere in the photo. Colour distance is the largest
difference over the channels, on a 0-255 scale (as OpenCV's flood fill measures it).

`grow`, `shrink`, `feather` and `combine` (in `core.masks`, importable from here too) are small
pure functions on masks; the GUI hands their result to the document, one undo step each.

Masks follow the core convention: float32 H x W in [0, 1], 1 = selected. The long functions
are generators (`box_select_work`, `magic_wand_work`) that yield `Progress` and return the
mask; every yield is a cancel point. `box_select` and `magic_wand` run them to the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from desktop_app.core.imaging.convert import split_alpha, to_uint8
from desktop_app.core.masks import CombineMode, bbox as _bbox, combine, feather, grow, shrink  # noqa: F401 (the API)
from desktop_app.core.work import Progress, Work, run_work

Rect = tuple[int, int, int, int]  # x, y, width, height in image pixels

# GrabCut's labels
_BGD, _FGD, _PR_BGD, _PR_FGD = cv2.GC_BGD, cv2.GC_FGD, cv2.GC_PR_BGD, cv2.GC_PR_FGD


@dataclass(frozen=True)
class BoxSelectSettings:
    """How box select trades speed for accuracy. The defaults are measured with
    benchmarks/select.py (docs/benchmarks.md, "Selection")."""

    working_size: int = 640  # long side (px) of the crop that the graph cut sees
    context: float = 0.25  # margin around the box, as a fraction of its longer side
    # Band inside the box that starts as "probably background": it keeps the background a
    # loose box holds out of the first colour model of the object.
    inner_margin: float = 0.1
    iterations: int = 5  # GrabCut iterations (each re-fits the colour models)
    coarse_size: int = 320  # long side of the coarse grid of a coarse-to-fine cut (0: off)
    band_iterations: int = 2  # iterations on the working grid's band after the coarse cut
    band_reach: float = 6.0  # half width of that band, in coarse pixels
    refine: bool = True  # guided-filter edge refinement at full resolution
    guided_radius: float = 2.0  # in working-resolution pixels: how far the edge may move
    guided_eps: float = 1e-3  # guided filter regulariser (colour variance, [0, 1] scale)
    edge_softness: float = 0.7  # sigma (px) of the final soft edge; 0 for a hard mask
    min_island: float = 0.02  # drop separate specks smaller than this fraction of the object
    # thin parts the cut leaves out (propeller blades, antennas, stems) are added within this
    # reach of the selection, as a fraction of the box's longer side (0: off)
    thin_reach: float = 0.1
    seed: int = 0  # GrabCut's k-means starts from OpenCV's RNG: seeded, the same input gives the same mask


# --- box select ---------------------------------------------------------------------------


def box_select_work(image: np.ndarray, box: Rect, *, keep: np.ndarray | None = None,
                    remove: np.ndarray | None = None, previous: np.ndarray | None = None,
                    settings: BoxSelectSettings = BoxSelectSettings()) -> Work[np.ndarray]:
    """Select the object inside `box` (x, y, w, h) of `image`; returns an H x W soft mask.

    `keep` and `remove` (H x W; values >= 0.5 count) are brush hints: definite foreground and
    background. `previous` (H x W) is the last result for the same box: it seeds the colour
    models instead of "the box minus its border", so that a new hint corrects it rather than
    starting over. Keep strokes outside the box widen the region searched. A box reaching
    past the image is cut at its edge; one entirely outside is a `ValueError`.
    """
    height, width = image.shape[:2]
    keep = _hint(keep, (height, width), "keep")
    remove = _hint(remove, (height, width), "remove")
    previous = _hint(previous, (height, width), "previous")
    x0, y0, x1, y1 = _clip_box(box, width, height)
    if keep is not None and (keep >= 0.5).any():
        # Keep strokes past the box say the object reaches farther: the box moves out past
        # them by a margin, as the user would have drawn it.
        kx0, ky0, kx1, ky1 = _bbox(keep >= 0.5)
        pad_x = int(round(0.1 * (max(x1, kx1) - min(x0, kx0))))
        pad_y = int(round(0.1 * (max(y1, ky1) - min(y0, ky0))))
        x0 = max(0, kx0 - pad_x) if kx0 < x0 else x0
        y0 = max(0, ky0 - pad_y) if ky0 < y0 else y0
        x1 = min(width, kx1 + pad_x) if kx1 > x1 else x1
        y1 = min(height, ky1 + pad_y) if ky1 > y1 else y1
    margin = max(8, int(math.ceil(settings.context * max(x1 - x0, y1 - y0))))
    cx0, cy0 = max(0, x0 - margin), max(0, y0 - margin)
    cx1, cy1 = min(width, x1 + margin), min(height, y1 + margin)
    crop_w, crop_h = cx1 - cx0, cy1 - cy0
    scale = min(1.0, settings.working_size / max(crop_w, crop_h))
    small_w, small_h = max(1, round(crop_w * scale)), max(1, round(crop_h * scale))
    # The guided filter's coefficients live on a grid twice as fine as the graph cut's: fine
    # enough for a filter a few working pixels wide, far smaller than the photo.
    guide_scale = min(1.0, 2.0 * scale)
    guide_w, guide_h = max(1, round(crop_w * guide_scale)), max(1, round(crop_h * guide_scale))
    yield Progress(0.0, "Preparing")

    colour = split_alpha(image)[0][cy0:cy1, cx0:cx1]
    guide = _resize(colour, guide_w, guide_h, cv2.INTER_AREA)
    small = _to_rgb8(_resize(guide, small_w, small_h, cv2.INTER_AREA))
    crop = (cx0, cy0, cx1, cy1)
    box_in_crop = (x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0)

    def seeds(w: int, h: int) -> np.ndarray:
        return _seed_labels((w, h), crop, box_in_crop, keep, remove, previous, settings.inner_margin)

    labels = seeds(small_w, small_h)
    sure = labels == _FGD  # under keep strokes
    if not np.isin(labels, (_FGD, _PR_FGD)).any():  # remove strokes cover it all
        return np.zeros((height, width), np.float32)
    if np.count_nonzero(np.isin(labels, (_FGD, _PR_FGD))) < 16:
        raise ValueError("the box is too small to select anything in it")
    hinted = keep is not None or remove is not None or previous is not None  # a small answer may be meant
    steps = max(1, settings.iterations)
    coarse_w, coarse_h = round(small_w * settings.coarse_size / max(small_w, small_h)), \
        round(small_h * settings.coarse_size / max(small_w, small_h))
    if settings.coarse_size and max(small_w, small_h) > 1.25 * settings.coarse_size:
        # Coarse to fine (a banded graph cut): the colour models and the shape are settled on
        # a small grid, then the working grid decides only a band around that answer. The
        # max-flow's time grows fast with the undecided area, which a large box makes large.
        coarse = _to_rgb8(cv2.resize(small, (coarse_w, coarse_h), interpolation=cv2.INTER_AREA))
        fg = yield from _graph_cut(coarse, seeds(coarse_w, coarse_h), steps, hinted, settings.seed, 0.05, 0.5)
        if not fg.any():
            fg = np.zeros((small_h, small_w), bool)
        else:
            up = cv2.resize(fg.astype(np.uint8), (small_w, small_h), interpolation=cv2.INTER_LINEAR) > 0
            reach = int(math.ceil(settings.band_reach * small_w / coarse_w)) + 1
            kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * reach + 1, 2 * reach + 1))
            band = cv2.dilate(up.astype(np.uint8), kernel) > cv2.erode(up.astype(np.uint8), kernel)
            free = np.isin(labels, (_PR_FGD, _PR_BGD))
            labels[free] = np.where(band[free], np.where(up[free], _PR_FGD, _PR_BGD),
                                    np.where(up[free], _FGD, _BGD))
            fg = yield from _graph_cut(small, labels, settings.band_iterations, True, settings.seed, 0.5, 0.65)
    else:
        fg = yield from _graph_cut(small, labels, steps, hinted, settings.seed, 0.05, 0.65)
    fg = _tidy(fg, sure, settings.min_island)
    if settings.thin_reach > 0:
        box_small = _box_on_grid(box_in_crop, (crop_w, crop_h), (small_w, small_h))
        reach = settings.thin_reach * max(box_small[2] - box_small[0], box_small[3] - box_small[1])
        fg = _thin_parts(small, fg, box_small, reach)
    yield Progress(0.65, "Refining the edge")

    mask = np.zeros((height, width), np.float32)
    out = mask[cy0:cy1, cx0:cx1]
    yield from _refine_into(out, colour, guide, fg.astype(np.float32), settings)
    if keep is not None:
        out[keep[cy0:cy1, cx0:cx1] >= 0.5] = 1.0
    if remove is not None:
        out[remove[cy0:cy1, cx0:cx1] >= 0.5] = 0.0
    yield Progress(1.0, "Done")
    return mask


def _seed_labels(size: tuple[int, int], crop: tuple[int, int, int, int], box: tuple[int, int, int, int],
                 keep: np.ndarray | None, remove: np.ndarray | None, previous: np.ndarray | None,
                 inner_margin: float) -> np.ndarray:
    """GrabCut's starting labels on a `size` (w, h) grid over the `crop` (x0, y0, x1, y1 of the
    image): background outside the `box` (x0, y0, x1, y1 within the crop), "probably" inside
    it, definite under the hint strokes."""
    w, h = size
    cx0, cy0, cx1, cy1 = crop

    def to_grid(full: np.ndarray | None) -> np.ndarray | None:
        return None if full is None else _resize(full[cy0:cy1, cx0:cx1], w, h, cv2.INTER_AREA)

    labels = np.full((h, w), _BGD, np.uint8)
    bx0, by0, bx1, by1 = _box_on_grid(box, (cx1 - cx0, cy1 - cy0), size)
    labels[by0:by1, bx0:bx1] = _PR_BGD
    prev = to_grid(previous)
    if prev is None:
        mx, my = int(round(inner_margin * (bx1 - bx0))), int(round(inner_margin * (by1 - by0)))
        labels[by0 + my:max(by0 + my + 1, by1 - my), bx0 + mx:max(bx0 + mx + 1, bx1 - mx)] = _PR_FGD
    else:
        inside = labels[by0:by1, bx0:bx1]
        inside[prev[by0:by1, bx0:bx1] >= 0.5] = _PR_FGD
    # A stroke a few pixels wide at full size is a fraction of a grid cell; a low threshold
    # keeps it as a seed (a hint is meant to be sure, so its fringe may count).
    for hint, label in ((keep, _FGD), (remove, _BGD)):
        on_grid = to_grid(hint)
        if on_grid is not None:
            labels[on_grid >= 0.3] = label
    if np.count_nonzero(np.isin(labels, (_BGD, _PR_BGD))) < 16:
        # The box is the whole photo: its frame is the only hint of what the background is.
        frame = np.ones_like(labels, bool)
        frame[1:-1, 1:-1] = False
        labels[frame & (labels == _PR_FGD)] = _PR_BGD
    return labels


def _box_on_grid(box: tuple[int, int, int, int], crop_size: tuple[int, int],
                 grid_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The `box` (x0, y0, x1, y1 in a crop of `crop_size` (w, h)) on a `grid_size` (w, h) grid
    over that crop: the cells it touches, at least one, so that a thin box still has an inside."""
    sx, sy = grid_size[0] / crop_size[0], grid_size[1] / crop_size[1]
    x0, y0 = int(math.floor(box[0] * sx)), int(math.floor(box[1] * sy))
    return x0, y0, max(x0 + 1, int(math.ceil(box[2] * sx))), max(y0 + 1, int(math.ceil(box[3] * sy)))


def _graph_cut(pixels: np.ndarray, labels: np.ndarray, iterations: int, hinted: bool, seed: int,
               start: float, stop: float) -> Work[np.ndarray]:
    """GrabCut on 8-bit RGB `pixels` from `labels` (changed in place); returns the selected
    pixels. One progress event (a cancel point) per iteration, fractions from start to stop."""
    start_labels = labels.copy()
    # GrabCut can collapse to nothing when the object's colours also fill the context; an
    # earlier iteration is then the better answer (unless hints asked for little).
    least = 0.01 * np.count_nonzero(labels != _BGD)
    fg, fallback = yield from _cut(pixels, labels, iterations, seed, start, stop, least)
    if np.count_nonzero(fg) < least and not hinted:
        if fallback is not None:
            return fallback
        # Collapsed from the first iteration: on a textured photo (an otter on leaf litter, a
        # stone among pebbles) every pixel's neighbours differ so much that any outline costs
        # more than the colours earn. Again with the texture smoothed and the edges kept, and
        # the middle of the box as sure object: the smoothing alone took only the otter's
        # belly and still nothing of the stone.
        labels[:] = start_labels
        seeded = _seed_middle(labels)
        fg, _ = yield from _cut(cv2.bilateralFilter(pixels, 9, 40, 5), labels, iterations, seed, start, stop, least)
        if np.count_nonzero(fg) < MIDDLE_GROWN * seeded:
            # barely more than the seed: nothing there to select (a box over plain ground
            # grows it by a fifth to two fifths; a stone or an otter by 9 to 16 times)
            fg = np.zeros_like(fg)
    return fg


def _cut(pixels: np.ndarray, labels: np.ndarray, iterations: int, seed: int, start: float, stop: float,
         least: float) -> Work[tuple[np.ndarray, np.ndarray | None]]:
    """GrabCut's iterations from `labels`: the last answer, and the last with at least `least` pixels."""
    cv2.setRNGSeed(seed)
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    cv2.grabCut(pixels, labels, None, bgd_model, fgd_model, 0, cv2.GC_INIT_WITH_MASK)
    fallback, fg = None, None
    for i in range(iterations):
        yield Progress(start + (stop - start) * i / iterations, f"Graph cut {i + 1}/{iterations}")
        cv2.grabCut(pixels, labels, None, bgd_model, fgd_model, 1, cv2.GC_EVAL)
        fg = np.isin(labels, (_FGD, _PR_FGD))
        if np.count_nonzero(fg) >= least:
            fallback = fg
    return fg, fallback


MIDDLE_GROWN = 3  # a cut seeded from the box's middle must take this many times the seed


def _seed_middle(labels: np.ndarray, share: float = 0.25) -> int:
    """The middle `share` (of each side) of the "probably object" region becomes sure object;
    returns how many cells it made sure."""
    ys, xs = np.nonzero(labels == _PR_FGD)
    if len(ys) == 0:
        return 0
    cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
    hh = max(1, int(share * (ys.max() - ys.min() + 1) / 2))
    hw = max(1, int(share * (xs.max() - xs.min() + 1) / 2))
    middle = labels[cy - hh:cy + hh + 1, cx - hw:cx + hw + 1]
    sure = middle == _PR_FGD
    middle[sure] = _FGD
    return int(np.count_nonzero(sure))


def _to_rgb8(pixels: np.ndarray) -> np.ndarray:
    """Float H x W x C (C = 1 or 3) or uint8 -> contiguous uint8 H x W x 3, as GrabCut takes."""
    pixels = pixels if pixels.ndim == 3 else pixels[:, :, None]
    if pixels.dtype != np.uint8:
        pixels = to_uint8(pixels)
    return np.ascontiguousarray(np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels)


def box_select(image: np.ndarray, box: Rect, **kwargs) -> np.ndarray:
    """`box_select_work` run to its result (no progress, no cancel)."""
    return run_work(box_select_work(image, box, **kwargs))


def _refine_into(out: np.ndarray, colour: np.ndarray, guide: np.ndarray, fg_small: np.ndarray,
                 settings: BoxSelectSettings) -> Work[None]:
    """Write the working-resolution selection `fg_small` into `out` (the crop at full size),
    its edge refined and softened.

    Only a band a few working pixels wide around the boundary can change. The guided filter's
    linear coefficients are computed on the `guide` grid (the crop at twice the working
    resolution) and evaluated at the band's pixels alone, so the time follows the object's
    outline, not the photo's size.
    """
    crop_h, crop_w = out.shape
    small_h, small_w = fg_small.shape
    sigma = settings.edge_softness
    if (small_w, small_h) == (crop_w, crop_h):  # the graph cut already ran at full size
        out[...] = cv2.GaussianBlur(fg_small, (0, 0), sigma) if sigma > 0 else fg_small
        return
    out[...] = cv2.resize(fg_small, (crop_w, crop_h), interpolation=cv2.INTER_LINEAR) >= 0.5
    # The working-resolution edge may be off by a working pixel or so either way: the band
    # where the edge may move reaches `guided_radius` working pixels out on both sides.
    reach = max(1, int(round(settings.guided_radius)))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * reach + 1, 2 * reach + 1))
    band_small = cv2.dilate(fg_small, kernel) - cv2.erode(fg_small, kernel)
    band_full = cv2.resize(band_small.astype(np.uint8), (crop_w, crop_h), interpolation=cv2.INTER_NEAREST)
    band = cv2.findNonZero(band_full)
    if band is None:  # nothing selected, or everything
        return
    band = band.reshape(-1, 2)  # x, y of each pixel
    if settings.refine:
        yield Progress(0.7, "Refining the edge")
        guide_h, guide_w = guide.shape[:2]
        p = cv2.resize(fg_small, (guide_w, guide_h), interpolation=cv2.INTER_LINEAR)
        radius = max(1, int(round(settings.guided_radius * guide_w / small_w)))
        a, b = _guided_coefficients(guide, p, radius, settings.guided_eps)
        yield Progress(0.85, "Refining the edge")
        xs, ys = band[:, 0], band[:, 1]
        fx, fy = (xs + 0.5) * (guide_w / crop_w) - 0.5, (ys + 0.5) * (guide_h / crop_h) - 0.5
        a_at, b_at = _sample(a, fx, fy), _sample(b, fx, fy)
        pixels = colour[ys, xs].reshape(len(xs), -1)
        q = np.einsum("nc,nc->n", a_at.reshape(len(xs), -1), pixels) + b_at.reshape(-1)
        out[ys, xs] = q >= 0.5
    if sigma > 0:
        yield Progress(0.92, "Softening the edge")
        _soften_edge(out, band, sigma)


def _guided_coefficients(guide: np.ndarray, p: np.ndarray, radius: int, eps: float):
    """The guided filter's local linear model q = a . I + b, averaged (He et al. 2010, alg. 1):
    `a` H x W x C and `b` H x W, for a guide with C = 1 or 3 channels."""
    k = (2 * radius + 1, 2 * radius + 1)

    def mean(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REFLECT)

    guide = guide if guide.ndim == 3 else guide[:, :, None]
    mean_p = mean(p)
    if guide.shape[2] == 1:
        g = guide[:, :, 0]
        mean_i = mean(g)
        a = (mean(g * p) - mean_i * mean_p) / (mean(g * g) - mean_i * mean_i + eps)
        b = mean_p - a * mean_i
        return mean(a)[:, :, None], mean(b)
    r, g, bl = guide[:, :, 0], guide[:, :, 1], guide[:, :, 2]
    mr, mg, mb = mean(r), mean(g), mean(bl)
    cr = mean(r * p) - mr * mean_p
    cg = mean(g * p) - mg * mean_p
    cb = mean(bl * p) - mb * mean_p
    vrr = mean(r * r) - mr * mr + eps
    vrg = mean(r * g) - mr * mg
    vrb = mean(r * bl) - mr * mb
    vgg = mean(g * g) - mg * mg + eps
    vgb = mean(g * bl) - mg * mb
    vbb = mean(bl * bl) - mb * mb + eps
    # The inverse of the 3 x 3 covariance, by cofactors (symmetric).
    irr, irg, irb = vgg * vbb - vgb * vgb, vgb * vrb - vrg * vbb, vrg * vgb - vgg * vrb
    igg, igb, ibb = vrr * vbb - vrb * vrb, vrb * vrg - vrr * vgb, vrr * vgg - vrg * vrg
    det = irr * vrr + irg * vrg + irb * vrb
    ar = (irr * cr + irg * cg + irb * cb) / det
    ag = (irg * cr + igg * cg + igb * cb) / det
    ab = (irb * cr + igb * cg + ibb * cb) / det
    b = mean_p - ar * mr - ag * mg - ab * mb
    return mean(np.dstack([ar, ag, ab])), mean(b)


def _sample(grid: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear samples of `grid` (H x W [x C]) at float positions, edges replicated."""
    n = len(xs)
    width = 4096  # remap's output must stay under 32767 pixels a side
    rows = -(-n // width)
    mx = np.zeros(rows * width, np.float32)
    my = np.zeros(rows * width, np.float32)
    mx[:n], my[:n] = xs, ys
    got = cv2.remap(grid, mx.reshape(rows, width), my.reshape(rows, width), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return got.reshape(rows * width, -1)[:n]


def _soften_edge(out: np.ndarray, band: np.ndarray, sigma: float) -> None:
    """Blur the hard mask `out` in place with a Gaussian of `sigma`, only on the tiles within
    reach of the band's pixels (`band`: N x 2, x and y)."""
    crop_h, crop_w = out.shape
    tile = 256
    halo = int(math.ceil(3 * sigma)) + 1
    grid_h, grid_w = -(-crop_h // tile), -(-crop_w // tile)
    hit = np.zeros((grid_h, grid_w), bool)
    xs, ys = band[:, 0], band[:, 1]
    for dy in (-halo, halo):
        for dx in (-halo, halo):
            hit[np.clip((ys + dy) // tile, 0, grid_h - 1), np.clip((xs + dx) // tile, 0, grid_w - 1)] = True
    # All tiles are blurred before any is written, so that none reads a halo already blurred.
    done = []
    for ty, tx in zip(*np.nonzero(hit)):
        y0, x0 = ty * tile, tx * tile
        y1, x1 = min(crop_h, y0 + tile), min(crop_w, x0 + tile)
        hy0, hx0 = max(0, y0 - halo), max(0, x0 - halo)
        hy1, hx1 = min(crop_h, y1 + halo), min(crop_w, x1 + halo)
        soft = cv2.GaussianBlur(out[hy0:hy1, hx0:hx1], (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
        done.append((y0, y1, x0, x1, soft[y0 - hy0:y1 - hy0, x0 - hx0:x1 - hx0]))
    for y0, y1, x0, x1, soft in done:
        out[y0:y1, x0:x1] = soft


def _thin_parts(pixels: np.ndarray, fg: np.ndarray, box: tuple[int, int, int, int], reach: float) -> np.ndarray:
    """`fg` with the thin parts a graph cut leaves out: its smoothness term charges for every
    pixel of outline, so a propeller blade, an antenna or a stem a pixel or two wide costs more
    than its colour earns, and a removal left them behind as dark specks. A pixel inside the
    `box` (x0, y0, x1, y1 on the grid of the 8-bit `pixels`) joins where it stands out from the
    background around it (the photo with the selection filled in and median-filtered, which
    wipes thin things) twice as much as the background outside the box ever stands out from
    itself (its 99.5th percentile) and lies within `reach` pixels of the selection; such pixels
    join as parts that start at the selection and reach out of it, a few pixels wide, or as a
    tip of a few pixels just beyond the edge that stands out more (docs/benchmarks.md, "Thin
    parts the cut leaves out")."""
    if not fg.any():
        return fg
    h, w = fg.shape
    x0, y0, x1, y1 = box
    outside = np.ones((h, w), bool)
    outside[y0:y1, x0:x1] = False
    if np.count_nonzero(outside) < 256:  # no background to learn what it looks like
        return fg
    selected = fg.astype(np.uint8)
    rim = cv2.dilate(selected, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11)))
    background = cv2.medianBlur(cv2.inpaint(pixels, rim, 3, cv2.INPAINT_TELEA), 7)
    stands_out = np.abs(pixels.astype(np.int16) - background.astype(np.int16)).max(axis=2)
    level = max(2.0 * float(np.percentile(stands_out[outside], 99.5)), 16.0)  # 8-bit steps
    distance = cv2.distanceTransform(1 - selected, cv2.DIST_L2, 3)
    thin = (stands_out > level) & (distance <= reach) & ~outside & ~fg
    if not thin.any():
        return fg
    # parts that reach out of the selection, a few pixels wide: the outline's own fringe
    # (anti-aliased pixels a pixel or two out, or a strip along an edge the cut placed a
    # little inside) stays out, or every edge would turn ragged. The parts are judged beyond
    # that fringe, then joined to the selection through it.
    fringe = thin & (distance < 2.0)
    core = thin & ~fringe
    count, parts = cv2.connectedComponents(core.astype(np.uint8), connectivity=8)
    if count <= 1:
        return fg
    labels, far = parts[core], distance[core]
    closest = np.full(count, np.inf)
    farthest = np.zeros(count)
    np.minimum.at(closest, labels, far)
    np.maximum.at(farthest, labels, far)
    area = np.bincount(labels, minlength=count)
    strength = np.bincount(labels, weights=stands_out[core].astype(np.float64), minlength=count) / np.maximum(area, 1)
    kept = (closest <= 3.0) & (farthest >= closest + 2.0) & (area <= 4.0 * farthest)
    # the tip of a blade or a stem, a few pixels just beyond the fringe that the cut rounded
    # off (the plane's propellers left four specks): too short to reach out by the rule above,
    # it stands out half as much again as the level
    kept |= (closest <= 4.0) & (area <= 8) & (strength >= 1.5 * level)
    kept[0] = False
    out = kept[parts]
    touching = cv2.dilate(out.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return fg | out | (fringe & touching)


def _tidy(fg: np.ndarray, sure: np.ndarray, min_island: float) -> np.ndarray:
    """Drop separate selected specks smaller than `min_island` of the largest part; parts
    holding a keep stroke always stay."""
    if min_island <= 0:
        return fg
    count, comp, stats, _ = cv2.connectedComponentsWithStats(fg.astype(np.uint8), connectivity=8)
    if count <= 2:
        return fg
    areas = stats[:, cv2.CC_STAT_AREA]
    keep = areas >= min_island * areas[1:].max()
    keep[np.unique(comp[sure])] = True
    keep[0] = False
    return keep[comp]


# --- magic wand ---------------------------------------------------------------------------


def magic_wand_work(image: np.ndarray, point: tuple[float, float], tolerance: float = 32.0, *,
                    contiguous: bool = True, edge_softness: float = 0.6) -> Work[np.ndarray]:
    """Pixels whose colour is within `tolerance` (0-255, largest channel difference) of the
    colour at `point` (x, y): connected to it (4-neighbours, so that it does not leak through
    a diagonal gap) when `contiguous`, else anywhere. Returns an H x W mask whose edge is
    softened by `edge_softness` (px)."""
    height, width = image.shape[:2]
    x, y = int(math.floor(point[0])), int(math.floor(point[1]))
    if not (0 <= x < width and 0 <= y < height):
        raise ValueError(f"the point {point[0]:g},{point[1]:g} is outside the {width}x{height} image")
    if not 0 <= tolerance <= 255:
        raise ValueError(f"the tolerance must be within 0..255, not {tolerance:g}")
    yield Progress(0.0, "Reading colours")
    colour = split_alpha(image)[0]
    pixels = to_uint8(colour)
    pixels = pixels[:, :, 0] if pixels.shape[2] == 1 else np.ascontiguousarray(pixels)
    seed = np.atleast_1d(pixels[y, x]).astype(np.int32)
    tol = int(round(tolerance))
    yield Progress(0.3, "Filling" if contiguous else "Matching colours")
    if contiguous:
        fill = np.zeros((height + 2, width + 2), np.uint8)
        diff = (tol,) * len(seed)
        flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (255 << 8)
        cv2.floodFill(pixels, fill, (x, y), 0, diff, diff, flags)
        hard = fill[1:-1, 1:-1]
    else:
        lo = tuple(float(v) for v in np.clip(seed - tol, 0, 255))
        hi = tuple(float(v) for v in np.clip(seed + tol, 0, 255))
        hard = cv2.inRange(pixels, lo, hi)
    yield Progress(0.8, "Softening the edge")
    mask = _soften(hard, edge_softness)
    yield Progress(1.0, "Done")
    return mask


def magic_wand(image: np.ndarray, point: tuple[float, float], tolerance: float = 32.0, **kwargs) -> np.ndarray:
    """`magic_wand_work` run to its result."""
    return run_work(magic_wand_work(image, point, tolerance, **kwargs))


def _soften(hard: np.ndarray, sigma: float) -> np.ndarray:
    """A 0/255 mask as float [0, 1] with a Gaussian edge, blurred only around what is set."""
    mask = np.zeros(hard.shape, np.float32)
    if not hard.any():
        return mask
    x0, y0, x1, y1 = _bbox(hard)
    pad = int(math.ceil(3 * sigma)) + 1
    x0, y0 = max(0, x0 - pad), max(0, y0 - pad)
    x1, y1 = min(hard.shape[1], x1 + pad), min(hard.shape[0], y1 + pad)
    part = hard[y0:y1, x0:x1].astype(np.float32) * np.float32(1 / 255)
    mask[y0:y1, x0:x1] = cv2.GaussianBlur(part, (0, 0), sigma) if sigma > 0 else part
    return mask


# --- helpers ------------------------------------------------------------------------------


def _clip_box(box: Rect, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the box within the image; a box reaching past the edge is cut
    there (a drag may overshoot), one entirely outside is an error."""
    x, y, w, h = (int(v) for v in box)
    if w <= 0 or h <= 0:
        raise ValueError(f"the box {x},{y},{w},{h} is empty (width and height must be positive)")
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if x0 >= x1 or y0 >= y1:
        raise ValueError(f"the box {x},{y},{w},{h} is outside the {width}x{height} image")
    return x0, y0, x1, y1




def _hint(mask: np.ndarray | None, shape: tuple[int, int], name: str) -> np.ndarray | None:
    if mask is None:
        return None
    mask = np.asarray(mask, np.float32)
    if mask.shape != shape:
        size = "x".join(map(str, mask.shape[1::-1])) if mask.ndim == 2 else f"of shape {mask.shape}"
        raise ValueError(f"the {name} mask is {size} but the image is {shape[1]}x{shape[0]}")
    return mask


def _resize(pixels: np.ndarray, width: int, height: int, interpolation: int) -> np.ndarray:
    """cv2.resize that keeps a trailing channel axis of 1 and skips same-size copies."""
    if pixels.shape[1] == width and pixels.shape[0] == height:
        return pixels.astype(np.float32, copy=True)
    src = pixels[:, :, 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels
    out = cv2.resize(src, (width, height), interpolation=interpolation)
    return out[:, :, None] if pixels.ndim == 3 and out.ndim == 2 else out
