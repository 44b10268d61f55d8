"""Smart selection: a box or a click becomes a soft mask, and the small algebra around masks.

Box select is graph-cut segmentation (OpenCV's GrabCut) of the box with some context around it,
run at a working resolution so that a 24-megapixel photo answers in about a second, then
refined at full resolution in a narrow band around the boundary only: the upsampled result is
edge-aware filtered (a guided filter, the photo as guide) so that the edge snaps to the
photo's own edge, and given a soft edge of about 1-2 pixels. Brush strokes ("keep" and
"remove" hints) become definite foreground and background seeds, and the previous result
seeds the next run, so painting over a mistake updates the selection.

The magic wand takes the pixels whose colour is within a tolerance of the clicked pixel's,
connected to it (flood fill) or anywhere in the photo. Colour distance is the largest
difference over the channels, on a 0-255 scale.

`grow`, `shrink`, `feather` and `combine` are small pure functions on masks; the GUI hands
their result to `Document.set_mask`, one undo step each.

Masks follow the core convention: float32 H x W in [0, 1], 1 = selected. The long functions
are generators (`box_select_work`, `magic_wand_work`) that yield `Progress` and return the
mask; every yield is a cancel point. `box_select` and `magic_wand` run them to the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np

from desktop_app.core.imaging.convert import split_alpha, to_uint8
from desktop_app.core.tasks import Progress, Work, run_work

Rect = tuple[int, int, int, int]  # x, y, width, height in image pixels

# GrabCut labels
_BGD, _FGD, _PR_BGD, _PR_FGD = cv2.GC_BGD, cv2.GC_FGD, cv2.GC_PR_BGD, cv2.GC_PR_FGD


@dataclass(frozen=True)
class BoxSelectSettings:
    """How box select trades speed for accuracy; the defaults are the measured ones
    (benchmarks/select.py)."""

    working_size: int = 640  # long side (px) of the crop that the graph cut sees
    context: float = 0.25  # margin around the box, as a fraction of its longer side
    iterations: int = 5  # GrabCut iterations (each re-fits the colour models)
    refine: str = "guided"  # full-resolution edge refinement: "guided" or "none"
    guided_eps: float = 1e-3  # guided filter regulariser (colour variance, [0, 1] scale)
    edge_softness: float = 0.7  # sigma (px) of the final soft edge; 0 for a hard mask
    min_island: float = 0.02  # drop selected specks smaller than this fraction of the object
    min_hole: float = 0.0  # fill holes smaller than this fraction of the object
    inner_margin: float = 0.1
    colour_space: str = "rgb"
    seed: int = 0


# --- box select ---------------------------------------------------------------------------


def box_select_work(image: np.ndarray, box: Rect, *, keep: np.ndarray | None = None,
                    remove: np.ndarray | None = None, previous: np.ndarray | None = None,
                    settings: BoxSelectSettings = BoxSelectSettings()) -> Work[np.ndarray]:
    """Select the object inside `box` (x, y, w, h) of `image`; returns an H x W soft mask.

    `keep` and `remove` (H x W, values >= 0.5 count) are brush hints: definite foreground and
    background. `previous` (H x W) is the last result for the same box: it seeds the
    colour models instead of "everything in the box", so a new hint corrects it rather than
    starting over. Keep strokes outside the box widen the region searched.
    """
    height, width = image.shape[:2]
    keep = _hint(keep, (height, width), "keep")
    remove = _hint(remove, (height, width), "remove")
    previous = _hint(previous, (height, width), "previous")
    x0, y0, x1, y1 = _clip_box(box, width, height)
    if keep is not None and (keep >= 0.5).any():
        kx0, ky0, kx1, ky1 = _bbox(keep >= 0.5)
        x0, y0, x1, y1 = min(x0, kx0), min(y0, ky0), max(x1, kx1), max(y1, ky1)
    margin = max(8, int(math.ceil(settings.context * max(x1 - x0, y1 - y0))))
    cx0, cy0 = max(0, x0 - margin), max(0, y0 - margin)
    cx1, cy1 = min(width, x1 + margin), min(height, y1 + margin)
    crop_w, crop_h = cx1 - cx0, cy1 - cy0
    scale = min(1.0, settings.working_size / max(crop_w, crop_h))
    small_w, small_h = max(1, round(crop_w * scale)), max(1, round(crop_h * scale))
    yield Progress(0.0, "Preparing")

    colour = split_alpha(image)[0][cy0:cy1, cx0:cx1]
    small = _resize(colour, small_w, small_h, cv2.INTER_AREA)
    small = to_uint8(small if small.ndim == 3 else small[:, :, None])
    if small.shape[2] == 1:
        small = np.repeat(small, 3, axis=2)
    small = np.ascontiguousarray(small)

    def to_small(full: np.ndarray | None) -> np.ndarray | None:
        if full is None:
            return None
        return _resize(full[cy0:cy1, cx0:cx1], small_w, small_h, cv2.INTER_AREA)

    labels = np.full((small_h, small_w), _BGD, np.uint8)
    # The box in working coordinates, at least one pixel, so a thin box still has an inside.
    bx0, by0 = int(math.floor((x0 - cx0) * scale)), int(math.floor((y0 - cy0) * scale))
    bx1 = max(bx0 + 1, int(math.ceil((x1 - cx0) * scale)))
    by1 = max(by0 + 1, int(math.ceil((y1 - cy0) * scale)))
    prev_small = to_small(previous)
    if prev_small is None:
        labels[by0:by1, bx0:bx1] = _PR_BGD
        mx = int(round(settings.inner_margin * (bx1 - bx0)))
        my = int(round(settings.inner_margin * (by1 - by0)))
        labels[by0 + my:max(by0 + my + 1, by1 - my), bx0 + mx:max(bx0 + mx + 1, bx1 - mx)] = _PR_FGD
    else:
        inside = prev_small[by0:by1, bx0:bx1] >= 0.5
        labels[by0:by1, bx0:bx1] = np.where(inside, _PR_FGD, _PR_BGD)
    # Strokes a few pixels wide at full size shrink to a fraction of a pixel; a low threshold
    # keeps them as seeds (brush hints are meant to be sure, so their fringe may count).
    keep_small, remove_small = to_small(keep), to_small(remove)
    if keep_small is not None:
        labels[keep_small >= 0.3] = _FGD
    if remove_small is not None:
        labels[remove_small >= 0.3] = _BGD
    if not np.isin(labels, (_FGD, _PR_FGD)).any():
        return np.zeros((height, width), np.float32)
    if np.count_nonzero(np.isin(labels, (_BGD, _PR_BGD))) < 16:
        # The box is the whole photo: the frame is the only hint of what the background is.
        frame = np.ones_like(labels, bool)
        frame[1:-1, 1:-1] = False
        labels[frame & (labels == _PR_FGD)] = _PR_BGD
    if np.count_nonzero(np.isin(labels, (_FGD, _PR_FGD))) < 16:
        raise ValueError("the box is too small to select anything in it")

    if settings.colour_space == "lab":
        small = cv2.cvtColor(small, cv2.COLOR_RGB2Lab)
    elif settings.colour_space == "yuv":
        small = cv2.cvtColor(small, cv2.COLOR_RGB2YCrCb)
    cv2.setRNGSeed(settings.seed)  # GrabCut's k-means starts from OpenCV's RNG: same input, same answer
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    cv2.grabCut(small, labels, None, bgd_model, fgd_model, 0, cv2.GC_INIT_WITH_MASK)
    steps = max(1, settings.iterations)
    for i in range(steps):
        yield Progress(0.05 + 0.65 * i / steps, f"Graph cut {i + 1}/{steps}")
        cv2.grabCut(small, labels, None, bgd_model, fgd_model, 1, cv2.GC_EVAL)
    fg = np.isin(labels, (_FGD, _PR_FGD))
    fg = _tidy(fg, labels == _FGD, settings.min_island, settings.min_hole)
    yield Progress(0.7, "Refining the edge")

    refined = yield from _refine(colour, fg.astype(np.float32), scale, settings)
    yield Progress(0.97, "Finishing")
    if keep is not None:
        refined[keep[cy0:cy1, cx0:cx1] >= 0.5] = 1.0
    if remove is not None:
        refined[remove[cy0:cy1, cx0:cx1] >= 0.5] = 0.0
    mask = np.zeros((height, width), np.float32)
    mask[cy0:cy1, cx0:cx1] = refined
    yield Progress(1.0, "Done")
    return mask


def box_select(image: np.ndarray, box: Rect, **kwargs) -> np.ndarray:
    """`box_select_work` run to its result (no progress, no cancel)."""
    return run_work(box_select_work(image, box, **kwargs))


def _refine(colour: np.ndarray, fg_small: np.ndarray, scale: float,
            settings: BoxSelectSettings) -> Work[np.ndarray]:
    """The working-resolution selection at the crop's full size, its edge refined.

    Only a band around the boundary can change, so the work is done on the tiles that the
    band crosses: the time follows the object's outline, not the photo's size.
    """
    crop_h, crop_w = colour.shape[:2]
    sigma = settings.edge_softness
    if scale >= 1.0:
        return cv2.GaussianBlur(fg_small, (0, 0), sigma) if sigma > 0 else fg_small.copy()
    up = _resize(fg_small, crop_w, crop_h, cv2.INTER_LINEAR)  # exactly 0 or 1 off the band
    up = np.clip(up, 0.0, 1.0, out=up)
    guided = settings.refine == "guided"
    if not guided and sigma <= 0:
        return up
    # The low-resolution edge can be off by about one working pixel either way.
    reach = 1.0 / scale
    radius = max(2, int(round(reach)))
    tile = 256
    halo = radius * 2 + 4 + int(3 * sigma)
    # Tiles the band crosses: boundary pixels at working size, mapped to the tile grid.
    ring = cv2.dilate(fg_small, None) != cv2.erode(fg_small, None)
    ys, xs = np.nonzero(ring)
    grid_w, grid_h = -(-crop_w // tile), -(-crop_h // tile)
    hit = np.zeros((grid_h, grid_w), bool)
    for dy in (-1.0, 0.0, 1.0):
        for dx in (-1.0, 0.0, 1.0):
            ty = np.clip(((ys + 0.5 + dy) / scale) // tile, 0, grid_h - 1).astype(int)
            tx = np.clip(((xs + 0.5 + dx) / scale) // tile, 0, grid_w - 1).astype(int)
            hit[ty, tx] = True
    tiles = list(zip(*np.nonzero(hit)))
    out = up.copy()
    for n, (ty, tx) in enumerate(tiles):
        if n % 16 == 0:
            yield Progress(0.7 + 0.27 * n / max(1, len(tiles)), "Refining the edge")
        y0, x0 = ty * tile, tx * tile
        y1, x1 = min(crop_h, y0 + tile), min(crop_w, x0 + tile)
        hy0, hx0 = max(0, y0 - halo), max(0, x0 - halo)
        hy1, hx1 = min(crop_h, y1 + halo), min(crop_w, x1 + halo)
        prior = up[hy0:hy1, hx0:hx1]
        band = (prior > 0.0) & (prior < 1.0)
        if guided and band.any():
            guide = colour[hy0:hy1, hx0:hx1]
            q = cv2.ximgproc.guidedFilter(np.ascontiguousarray(guide), prior, radius, settings.guided_eps)
            # Only the band may change: farther out the working-size answer stands.
            near = cv2.dilate(band.astype(np.uint8), cv2.getStructuringElement(
                cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))).astype(bool)
            hard = np.where(near, q >= 0.5, prior >= 0.5).astype(np.float32)
        else:
            hard = (prior >= 0.5).astype(np.float32)
        if sigma > 0:
            hard = cv2.GaussianBlur(hard, (0, 0), sigma)
        iy0, ix0 = y0 - hy0, x0 - hx0
        out[y0:y1, x0:x1] = hard[iy0:iy0 + (y1 - y0), ix0:ix0 + (x1 - x0)]
    return out


def _tidy(fg: np.ndarray, sure: np.ndarray, min_island: float, min_hole: float) -> np.ndarray:
    """Drop selected specks and fill small holes (fractions of the largest selected part);
    parts holding a keep stroke always stay."""
    if min_island <= 0 and min_hole <= 0:
        return fg
    count, comp, stats, _ = cv2.connectedComponentsWithStats(fg.astype(np.uint8), connectivity=8)
    if count <= 1:
        return fg
    areas = stats[1:, cv2.CC_STAT_AREA]
    largest = int(areas.max())
    if min_island > 0:
        keep = np.zeros(count, bool)
        keep[1:] = areas >= min_island * largest
        keep[np.unique(comp[sure])] = True
        keep[0] = False
        fg = keep[comp]
    if min_hole > 0:
        holes = ~fg
        count, comp, stats, _ = cv2.connectedComponentsWithStats(holes.astype(np.uint8), connectivity=4)
        border = np.unique(np.concatenate([comp[0], comp[-1], comp[:, 0], comp[:, -1]]))
        small = np.zeros(count, bool)
        small[1:] = stats[1:, cv2.CC_STAT_AREA] < min_hole * largest
        small[border] = False
        fg = fg | small[comp]
    return fg


# --- magic wand ---------------------------------------------------------------------------


def magic_wand_work(image: np.ndarray, point: tuple[float, float], tolerance: float = 32.0, *,
                    contiguous: bool = True, edge_softness: float = 0.6) -> Work[np.ndarray]:
    """Pixels whose colour is within `tolerance` (0-255, largest channel difference) of the
    colour at `point` (x, y): connected to it (8-neighbours) when `contiguous`, else
    anywhere. Returns an H x W mask whose edge is softened by `edge_softness` (px)."""
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
    seed = pixels[y, x]
    tol = int(round(tolerance))
    yield Progress(0.3, "Filling" if contiguous else "Matching colours")
    if contiguous:
        fill = np.zeros((height + 2, width + 2), np.uint8)
        channels = 1 if pixels.ndim == 2 else pixels.shape[2]
        diff = (tol,) * channels
        flags = 8 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (255 << 8)
        cv2.floodFill(pixels, fill, (x, y), 0, diff, diff, flags)
        hard = fill[1:-1, 1:-1]
    else:
        lo = np.clip(np.int32(seed) - tol, 0, 255)
        hi = np.clip(np.int32(seed) + tol, 0, 255)
        hard = cv2.inRange(pixels, lo.astype(np.float64), hi.astype(np.float64))
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


# --- mask algebra -------------------------------------------------------------------------


class CombineMode(str, Enum):
    """How a new selection meets the current mask."""

    REPLACE = "replace"
    ADD = "add"  # union: max
    SUBTRACT = "subtract"  # min(current, 1 - new)
    INTERSECT = "intersect"  # min


def combine(current: np.ndarray, new: np.ndarray, mode: CombineMode | str = CombineMode.REPLACE) -> np.ndarray:
    """The mask after applying `new` to `current` in `mode`."""
    mode = CombineMode(mode)
    if current.shape != new.shape:
        raise ValueError(f"mask shapes differ: {current.shape} and {new.shape}")
    new = new.astype(np.float32, copy=False)
    if mode is CombineMode.REPLACE:
        return new.copy()
    current = current.astype(np.float32, copy=False)
    if mode is CombineMode.ADD:
        return np.maximum(current, new)
    if mode is CombineMode.SUBTRACT:
        return np.minimum(current, 1.0 - new)
    return np.minimum(current, new)


GROW_LEVELS = 8  # a soft edge is grown as this many level sets, so its profile is kept


def grow(mask: np.ndarray, pixels: float) -> np.ndarray:
    """The mask grown outward by `pixels` (Euclidean, so a disc stays a disc); a negative
    value shrinks. A soft edge keeps its profile: each level set moves by `pixels`."""
    if pixels < 0:
        return shrink(mask, -pixels)
    mask = mask.astype(np.float32, copy=False)
    if pixels == 0 or not (mask > 0).any():
        return mask.copy()
    x0, y0, x1, y1 = _bbox(mask > 0)
    return _grow_within(mask, float(pixels), (x0, y0, x1, y1))


def shrink(mask: np.ndarray, pixels: float) -> np.ndarray:
    """The mask shrunk inward by `pixels`. The photo's border does not count as unselected,
    so a selection that touches it stays there (as in most editors)."""
    if pixels < 0:
        return grow(mask, -pixels)
    mask = mask.astype(np.float32, copy=False)
    if pixels == 0 or not (mask > 0).any():
        return mask.copy()
    x0, y0, x1, y1 = _bbox(mask > 0)
    return 1.0 - _grow_within(1.0 - mask, float(pixels), (x0, y0, x1, y1))


def _grow_within(mask: np.ndarray, pixels: float, box: tuple[int, int, int, int]) -> np.ndarray:
    """Grow `mask` by `pixels`, computing only around `box` (x0, y0, x1, y1): farther away
    nothing can change."""
    height, width = mask.shape
    pad = int(math.ceil(pixels)) + 2
    x0, y0 = max(0, box[0] - pad), max(0, box[1] - pad)
    x1, y1 = min(width, box[2] + pad), min(height, box[3] + pad)
    part = mask[y0:y1, x0:x1]
    grown = np.zeros(part.shape, np.float32)
    previous, cover = None, None
    for k in range(GROW_LEVELS):
        outside = (part <= (k + 0.5) / GROW_LEVELS).astype(np.uint8)
        if previous is None or not np.array_equal(outside, previous):
            previous = outside
            if outside.all():
                cover = np.zeros(part.shape, np.float32)
            else:
                # Distance to the nearest pixel of the level set; its edge is half a pixel
                # beyond that pixel's centre, so a pixel is covered up to one pixel farther.
                dist = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
                cover = np.clip(pixels + 1.0 - dist, 0.0, 1.0)
        grown += cover
    grown *= np.float32(1.0 / GROW_LEVELS)
    out = mask.copy()
    out[y0:y1, x0:x1] = np.maximum(part, grown)
    return out


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """The mask's edge softened by a Gaussian of about `radius` pixels (sigma = radius / 2, as
    `Document.feather_mask`)."""
    mask = mask.astype(np.float32, copy=False)
    if radius <= 0:
        return mask.copy()
    sigma = radius / 2.0
    k = int(2 * round(3 * sigma) + 1)
    return cv2.GaussianBlur(mask, (k, k), sigma)


# --- helpers ------------------------------------------------------------------------------


def parse_rect(text: str) -> Rect:
    """'X,Y,W,H' -> (x, y, w, h) integers."""
    parts = text.replace(" ", "").split(",")
    if len(parts) != 4:
        raise ValueError(f"a box is X,Y,W,H (four integers), not {text!r}")
    try:
        x, y, w, h = (int(round(float(p))) for p in parts)
    except ValueError:
        raise ValueError(f"a box is X,Y,W,H (four integers), not {text!r}") from None
    return x, y, w, h


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


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the non-zero pixels (the mask must have some)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _hint(mask: np.ndarray | None, shape: tuple[int, int], name: str) -> np.ndarray | None:
    if mask is None:
        return None
    mask = np.asarray(mask, np.float32)
    if mask.shape != shape:
        raise ValueError(f"the {name} mask is {mask.shape[1::-1]} but the image is {shape[::-1]}")
    return mask


def _resize(pixels: np.ndarray, width: int, height: int, interpolation: int) -> np.ndarray:
    """cv2.resize that keeps a trailing channel axis of 1 and skips same-size copies."""
    if pixels.shape[1] == width and pixels.shape[0] == height:
        return pixels.astype(np.float32, copy=True)
    src = pixels[:, :, 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels
    out = cv2.resize(src, (width, height), interpolation=interpolation)
    return out[:, :, None] if pixels.ndim == 3 and out.ndim == 2 else out
