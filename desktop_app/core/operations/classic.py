"""Classic (non-neural) restoration through OpenCV: NL-Means denoising, Telea and
Navier-Stokes inpainting."""

from __future__ import annotations

import cv2
import numpy as np

from desktop_app.core.imaging import tiles as tiling
from desktop_app.core.imaging.convert import to_uint8
from desktop_app.core.operations.base import Operation, OperationInput, Param, ParameterError
from desktop_app.core.work import Progress, Work

# --- NL-Means -------------------------------------------------------------------------------

# Best settings per noise level, measured on CBSD68 by benchmarks/nlmeans_tune.py
# (table in docs/nlmeans.md). Columns: sigma, variant, h / sigma, template, search.
# Between two rows the h factor is interpolated and the nearer row's other settings kept.
# "rgb" beats "colored" and "per-channel" at every level, and template 3 beats 5 and 7.
NLMEANS_TUNED: tuple[tuple[float, str, float, int, int], ...] = (
    (5, "rgb", 1.30, 3, 11),
    (15, "rgb", 1.00, 3, 21),
    (25, "rgb", 0.90, 3, 21),
    (35, "rgb", 0.80, 3, 31),
    (50, "rgb", 0.80, 3, 21),
    (75, "rgb", 0.75, 3, 21),
)
NLMEANS_VARIANTS = ("tuned", "colored", "rgb", "per-channel")
# one tile takes well under a second even on a busy laptop core, so Cancel answers within one
NLMEANS_TILE = 256


def nlmeans_settings(sigma: float) -> tuple[str, float, int, int]:
    """(variant, h, template, search) for a noise level on the 0-255 scale."""
    rows = NLMEANS_TUNED
    if sigma <= rows[0][0]:
        s, v, f, t, w = rows[0]
        return v, f * sigma, t, w
    for lo, hi in zip(rows, rows[1:]):
        if sigma <= hi[0]:
            a = (sigma - lo[0]) / (hi[0] - lo[0])
            factor = lo[2] + a * (hi[2] - lo[2])
            row = lo if a < 0.5 else hi
            return row[1], factor * sigma, row[3], row[4]
    s, v, f, t, w = rows[-1]
    return v, f * sigma, t, w


def _nlmeans_u8(img: np.ndarray, variant: str, h: float, template: int, search: int) -> np.ndarray:
    if img.shape[2] == 1:
        return cv2.fastNlMeansDenoising(img[:, :, 0], None, h, template, search)[:, :, None]
    if variant == "colored":
        # OpenCV works in Lab here; its channel order does not matter for the result's quality
        return cv2.fastNlMeansDenoisingColored(np.ascontiguousarray(img), None, h, h, template, search)
    if variant == "rgb":
        # the grey variant on 3 channels compares patches over all channels jointly
        return cv2.fastNlMeansDenoising(np.ascontiguousarray(img), None, h, template, search)
    if variant == "per-channel":
        return np.stack([cv2.fastNlMeansDenoising(np.ascontiguousarray(img[:, :, c]), None, h, template, search)
                         for c in range(img.shape[2])], axis=2)
    raise ValueError(f"unknown NL-Means variant {variant!r}")


def nlmeans(inp: OperationInput) -> Work[np.ndarray]:
    sigma = float(inp.params["sigma"])
    variant, h, template, search = nlmeans_settings(sigma)
    if inp.params.get("variant", "tuned") != "tuned":
        variant = inp.params["variant"]
    if sigma <= 0:
        return inp.image.copy()
    image = inp.image
    img8 = to_uint8(image)
    out = np.empty_like(image)
    height, width = image.shape[:2]
    context = search // 2 + template // 2 + 1
    n = tiling.count(height, width, NLMEANS_TILE)
    for i, t in enumerate(tiling.tiles(height, width, NLMEANS_TILE, context)):
        oy0, oy1, ox0, ox1 = t.outer
        iy0, iy1, ix0, ix1 = t.inner_in_outer
        src = img8[oy0:oy1, ox0:ox1]
        den = _nlmeans_u8(src, variant, h, template, search)[iy0:iy1, ix0:ix1]
        y0, y1, x0, x1 = t.inner
        # Add the 8-bit correction to the full-precision input: 16-bit images keep their depth.
        delta = (den.astype(np.float32) - src[iy0:iy1, ix0:ix1].astype(np.float32)) / 255.0
        out[y0:y1, x0:x1] = image[y0:y1, x0:x1] + delta
        yield Progress((i + 1) / n, f"tile {i + 1}/{n}")
    return out


NLMEANS = Operation(
    task="denoise",
    method="nlmeans",
    title="NL-Means",
    category="Denoise",
    description="Non-local means denoising (OpenCV), with settings tuned per noise level on CBSD68.",
    run=nlmeans,
    params=(
        Param("sigma", float, 25.0, "Noise level",
              "Standard deviation of the noise on the 0-255 scale: higher removes more noise and more detail.",
              minimum=0.0, maximum=100.0, step=1.0),
        Param("variant", str, "tuned", "Variant",
              "tuned: the best measured variant for this noise level; colored: Lab with separate chroma; "
              "rgb: patches compared over all channels; per-channel: each channel alone.",
              choices=NLMEANS_VARIANTS),
    ),
)

# --- Inpainting -----------------------------------------------------------------------------


def _inpaint(flag: int, title: str):
    def run(inp: OperationInput) -> Work[np.ndarray]:
        radius = int(inp.params["radius"])
        assert inp.mask is not None
        box = tiling.mask_bbox(inp.mask > 0, margin=3 * radius + 8)
        assert box is not None
        y0, y1, x0, x1 = box
        crop = inp.image[y0:y1, x0:x1]
        holes = ((inp.mask[y0:y1, x0:x1] > 0) * 255).astype(np.uint8)
        if holes.all():
            # OpenCV would return the image unchanged: nothing around the hole to fill it from
            raise ParameterError(f"{title}: the mask covers every pixel, so there is nothing around the hole "
                                 "to fill it from; leave part of the photo unselected (a soft mask counts "
                                 "wherever it is above 0)")
        out = inp.image.copy()
        channels = crop.shape[2]
        for c in range(channels):
            # float32 single-channel keeps 16-bit precision; OpenCV's 3-channel path is 8-bit only.
            # Telea's float path assumes the 0-255 range (on 0-1 values it overshoots wildly).
            filled = cv2.inpaint(np.ascontiguousarray(crop[:, :, c] * 255.0), holes, radius, flag)
            out[y0:y1, x0:x1, c] = filled / 255.0
            yield Progress((c + 1) / channels, f"channel {c + 1}/{channels}")
        return out

    return run


_RADIUS = Param("radius", int, 5, "Radius", "Neighbourhood (pixels) each filled pixel is estimated from.",
                minimum=1, maximum=50, step=1)

TELEA = Operation(
    task="inpaint", method="telea", title="Telea", category="Remove objects",
    description="Fast marching inpainting (Telea 2004): good for thin scratches and small spots.",
    run=_inpaint(cv2.INPAINT_TELEA, "Telea"), params=(_RADIUS,), fills_mask=True,
)
NS = Operation(
    task="inpaint", method="ns", title="Navier-Stokes", category="Remove objects",
    description="Fluid-dynamics inpainting (Bertalmio 2001): continues edges into the hole.",
    run=_inpaint(cv2.INPAINT_NS, "Navier-Stokes"), params=(_RADIUS,), fills_mask=True,
)
