"""Object removal: the network's large-scale content with the photo's own texture.

The network (operations.inpaint's neural fill) continues the structure of the surroundings into
the hole about right and its detail wrong: a smooth smudge. Patch synthesis (patchmatch) copies
real texture and misplaces content. The fill of one window here does both, in the spirit of
Wexler et al. 2007 and of Content-Aware Fill:

1. the network fills the window: the coarse content;
2. multi-scale PatchMatch with EM voting fills it again from the photo's own patches, started
   from the network's fill and held to it: every patch is compared also on its blurred colours
   against the network's blurred fill (patchmatch's guide channels), so the texture copied into
   a place is texture that lies, in the photo, under colours like the ones the network put there;
3. what is left of a disagreement at large scale is taken from the network: the fill's low
   frequencies (a Gaussian of LOW_SIGMA) are replaced by the network's, so no wrong object,
   colour or brightness is pasted in, while the fine detail stays the copied one.

fullres then matches the seam's colour and the grain (only where the fill is smoother than the
photo around it) and brings the window back to full size.
"""

from __future__ import annotations

import cv2
import numpy as np

from desktop_app.core.inpainting.fullres import FillFn
from desktop_app.core.work import Work, subrange

LOW_SIGMA = 3.0  # px at the working scale: below this scale the network's content is kept
REFINE_LEVELS = 2  # pyramid levels of the full-size pass over a fill made at a smaller scale
NETWORK_SHARE = 0.25  # of a window's progress


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


def guided_fill(network: FillFn, seed: int, patch: int = 7, device: str = "cpu",
                low_sigma: float = LOW_SIGMA, guide_weight: float | None = None) -> FillFn:
    """The fill function over windows (see fullres.FillFn): network, then guided patch synthesis."""
    from desktop_app.core.inpainting import patchmatch

    weight = patchmatch.GUIDE_WEIGHT if guide_weight is None else guide_weight

    def fill(window: np.ndarray, hole: np.ndarray) -> Work[np.ndarray]:
        coarse = yield from subrange(network(window, hole), 0.0, NETWORK_SHARE)
        try:
            textured = yield from subrange(
                patchmatch.patch_fill(window, hole, seed=seed, patch=patch, device=device, guide=coarse,
                                      guide_weight=weight, sharp=True), NETWORK_SHARE, 1.0)
        except ValueError:  # no whole known patch to copy from (a window almost all hole)
            return coarse
        return keep_low_frequencies(textured, coarse, hole, low_sigma)

    return fill


def full_size_detail(seed: int, patch: int = 7, device: str = "cpu", low_sigma: float = LOW_SIGMA):
    """fullres.RefineFn: a fill made at a smaller scale and enlarged is re-synthesised at full
    size from the photo's full-size patches, guided by the enlarged fill (the finest
    REFINE_LEVELS levels only: the layout is decided), its low frequencies kept."""
    from desktop_app.core.inpainting import patchmatch

    def refine(image: np.ndarray, hole: np.ndarray, enlarged: np.ndarray) -> Work[np.ndarray]:
        window = np.where(hole[:, :, None], enlarged, image).astype(np.float32)
        try:
            detailed = yield from patchmatch.patch_fill(window, hole, seed=seed + 1, patch=patch, device=device,
                                                        guide=enlarged, sharp=True, levels=REFINE_LEVELS)
        except ValueError:
            return enlarged
        return keep_low_frequencies(detailed, enlarged, hole, low_sigma)

    return refine


EXPAND_SHARE = 0.004  # the default Expand: this share of the photo's long side, in pixels
EXPAND_MIN = 2


def default_expand(shape: tuple[int, ...]) -> int:
    """Pixels the hole grows by when Expand is "auto": an object's halo, anti-aliased edge and
    soft shadow scale with the photo (2 px on a 481-px photo, 24 on a 6000-px one)."""
    return max(EXPAND_MIN, round(EXPAND_SHARE * max(shape[:2])))


def grow_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """The soft mask grown outward by `pixels` (a grey dilation with a disc): every value only
    rises, so the known area never grows, and the soft edge keeps its width, moved outward."""
    if pixels <= 0 or not np.any(mask > 0):
        return mask
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    ys, xs = np.nonzero(mask > 0)  # only the hole's neighbourhood is dilated (a big photo)
    y0, y1 = max(0, ys.min() - pixels), min(mask.shape[0], ys.max() + pixels + 1)
    x0, x1 = max(0, xs.min() - pixels), min(mask.shape[1], xs.max() + pixels + 1)
    out = np.array(mask, dtype=np.float32, copy=True)
    out[y0:y1, x0:x1] = cv2.dilate(out[y0:y1, x0:x1], disc, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return np.maximum(out, mask)
