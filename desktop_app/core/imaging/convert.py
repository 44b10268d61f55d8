"""Conversions between the core's float convention and integer buffers."""

from __future__ import annotations

import cv2
import numpy as np


def to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 / uint16 / float array -> float32 in [0, 1], always 3-D (H x W x C)."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.dtype == np.uint8:
        return np.divide(pixels, 255.0, dtype=np.float32)
    if pixels.dtype == np.uint16:
        return np.divide(pixels, 65535.0, dtype=np.float32)
    return np.clip(pixels.astype(np.float32, copy=False), 0.0, 1.0)


# OpenCV's bindings read an array of fewer than 4 values as a Scalar, so a 1x1 grey image
# came back as 4 values ("cannot reshape array of size 4"); numpy handles such tiny arrays.
_OPENCV_MIN_SIZE = 4


def _flat(pixels: np.ndarray) -> np.ndarray:
    """A 2-D view (channels side by side) so OpenCV treats every value alike."""
    return pixels.reshape(pixels.shape[0], -1) if pixels.ndim == 3 else pixels


# to_uint8 converts this many rows at a time, so its float temporary stays a few MB instead of
# the photo's size again (2.7 GB at 225 megapixels).
_BAND_ROWS = 256


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint8, rounded and saturated. OpenCV does this ~40x faster than numpy
    on a 24-megapixel photo, which is what keeps the display and saving quick."""
    flat = np.ascontiguousarray(_flat(pixels), dtype=np.float32)
    out = np.empty(flat.shape, np.uint8)
    for y in range(0, flat.shape[0], _BAND_ROWS):
        band = flat[y:y + _BAND_ROWS]
        if band.size < _OPENCV_MIN_SIZE:
            out[y:y + _BAND_ROWS] = np.clip(np.rint(np.nan_to_num(band) * 255.0), 0, 255).astype(np.uint8)
        else:  # max: abs() must not mirror negatives
            out[y:y + _BAND_ROWS] = cv2.convertScaleAbs(cv2.max(band, 0.0), alpha=255.0)
    return out.reshape(pixels.shape)


def to_uint16(pixels: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint16, rounded and saturated, in one OpenCV pass."""
    flat = np.ascontiguousarray(_flat(pixels), dtype=np.float32)
    if flat.size < _OPENCV_MIN_SIZE:
        return np.clip(np.rint(np.nan_to_num(flat) * 65535.0), 0, 65535).astype(np.uint16).reshape(pixels.shape)
    return cv2.multiply(flat, 65535.0, dtype=cv2.CV_16U).reshape(pixels.shape)


def to_bits(pixels: np.ndarray, bit_depth: int) -> np.ndarray:
    return to_uint16(pixels) if bit_depth == 16 else to_uint8(pixels)


def split_alpha(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Colour channels and alpha (or None). Operations work on colour and keep alpha."""
    if pixels.shape[2] in (2, 4):
        return pixels[:, :, :-1], pixels[:, :, -1:]
    return pixels, None


def join_alpha(colour: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    if alpha is None:
        return colour
    return np.concatenate([colour, alpha], axis=2)


def as_rgb(pixels: np.ndarray) -> np.ndarray:
    """Colour channels as 3-channel RGB (greyscale replicated), alpha dropped."""
    colour, _ = split_alpha(pixels)
    if colour.shape[2] == 1:
        return np.repeat(colour, 3, axis=2)
    return colour


def blend(original: np.ndarray, result: np.ndarray, mask: np.ndarray | None,
          out: np.ndarray | None = None) -> np.ndarray:
    """original where mask is 0, result where 1, soft in between. Only the mask's non-zero
    pixels are computed (a small selection on a big photo). `out` (float32, the shape of
    `original`; may be `result` itself) receives the blend instead of a new array: a new
    24 MP array costs its page faults, up to 0.7 s on a virtual machine."""
    if mask is None:
        return result
    from desktop_app.core.imaging.tiles import mask_bbox

    values = None
    box = mask_bbox(mask > 0)
    if box is not None:
        y0, y1, x0, x1 = box
        ys, xs = np.nonzero(mask[y0:y1, x0:x1])  # a selection's pixels, not its whole box
        ys += y0
        xs += x0
        m = mask[ys, xs, None].astype(np.float32, copy=False)
        values = original[ys, xs] * (1.0 - m) + result[ys, xs] * m  # read before `out` is written
    if out is None:
        out = np.array(original, dtype=np.float32, copy=True)
    else:
        np.copyto(out, original)
    if values is not None:
        out[ys, xs] = values
    return out


def paste_in_mask(image: np.ndarray, mask: np.ndarray, picture: np.ndarray) -> np.ndarray:
    """A new image: `picture` (any size, RGB) stretched over the bounding box of the mask
    and blended in with the soft mask; pixels outside the mask are untouched and alpha is
    kept. Greyscale images get the picture's luminance."""
    from desktop_app.core.imaging.tiles import mask_bbox

    box = mask_bbox(mask > 0)
    if box is None:
        raise ValueError("the mask is empty: paint where the picture should go")
    y0, y1, x0, x1 = box
    h, w = y1 - y0, x1 - x0
    shrink = h < picture.shape[0] or w < picture.shape[1]
    fitted = cv2.resize(np.ascontiguousarray(as_rgb(picture), np.float32), (w, h),
                        interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC).reshape(h, w, 3)
    colour, _ = split_alpha(image)
    if colour.shape[2] == 1:
        fitted = cv2.cvtColor(fitted, cv2.COLOR_RGB2GRAY).reshape(h, w, 1)
    out = image.copy()
    region = blend(colour[y0:y1, x0:x1], np.clip(fitted, 0.0, 1.0), mask[y0:y1, x0:x1])
    out[y0:y1, x0:x1, :colour.shape[2]] = region
    return out
