"""Conversions between the core's float arrays and QImage (display only: 8 bits)."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtGui import QColor, QImage

from desktop_app.core.imaging.colour import DisplayTransform
from desktop_app.core.imaging.convert import to_uint8


FORMATS = {1: QImage.Format.Format_Grayscale8, 3: QImage.Format.Format_RGB888, 4: QImage.Format.Format_RGBA8888}


def wrap(data: np.ndarray, fmt: QImage.Format) -> QImage:
    """A QImage over the bytes of a C-contiguous uint8 H x W (x C) array, which it keeps alive.
    No copy: Qt's own copies and fills hold Python's lock, for 0.4 s on 24 megapixels, and so
    freeze the window even when they run on a worker thread; numpy and OpenCV let go of it."""
    h, w = data.shape[:2]
    return QImage(data.data, w, h, data.strides[0], fmt)


def array_to_qimage(pixels: np.ndarray) -> QImage:
    """float32 H x W x C (C = 1, 3, 4) -> QImage over new bytes of its own."""
    data = np.ascontiguousarray(to_uint8(pixels))
    return wrap(data, FORMATS[data.shape[2]])


def display_levels(pixels: np.ndarray, icc_profile: bytes | None = None, smallest: int = 64) -> list[QImage]:
    """The canvas's pyramid for `pixels` as the screen shows them: converted from the
    document's ICC profile to the display's, full size, then halves (area averages) down to
    `smallest` pixels on the shorter side. Built on a worker, so that the first paint after a
    big edit neither converts nor scales 24 megapixels on the GUI thread."""
    data = np.ascontiguousarray(to_uint8(pixels))
    transform = DisplayTransform.for_profile(icc_profile)
    if transform is not None and data.shape[2] in (3, 4):
        transform.apply(data)
    levels = [data]
    while min(levels[-1].shape[:2]) > smallest:
        h, w = levels[-1].shape[:2]
        small = cv2.resize(levels[-1], (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
        levels.append(np.ascontiguousarray(small.reshape(small.shape[0], small.shape[1], -1)))
    return [wrap(level, FORMATS[level.shape[2]]) for level in levels]


def detached(image: QImage) -> QImage:
    """A copy of `image` over new bytes, copied by numpy (see `wrap`: QImage.copy holds
    Python's lock for the whole copy)."""
    h, stride = image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=h * stride).reshape(h, stride).copy()
    return QImage(data.data, image.width(), h, stride, image.format())


def update_qimage(target: QImage, pixels: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Write the region `box` of `pixels` into `target` in place."""
    y0, y1, x0, x1 = box
    region = to_uint8(pixels[y0:y1, x0:x1])
    c = region.shape[2]
    view = qimage_view(target, c)
    view[y0:y1, x0:x1] = region


def qimage_view(image: QImage, channels: int) -> np.ndarray:
    """A writable numpy view of an 8-bit QImage's pixels (H x W x channels)."""
    h, w = image.height(), image.width()
    buf = np.frombuffer(image.bits(), np.uint8, count=image.sizeInBytes())
    return buf.reshape(h, image.bytesPerLine())[:, : w * channels].reshape(h, w, channels)


def mask_overlay(mask: np.ndarray, colour: QColor, opacity: float) -> QImage:
    h, w = mask.shape
    image = wrap(np.zeros((h, w, 4), np.uint8), QImage.Format.Format_ARGB32_Premultiplied)
    if mask.max(initial=0.0) > 0:
        paint_overlay(image, mask, colour, opacity, (0, h, 0, w))
    return image


def paint_overlay(image: QImage, mask: np.ndarray, colour: QColor, opacity: float,
                  box: tuple[int, int, int, int]) -> None:
    """Premultiplied ARGB (little-endian byte order B, G, R, A) of the mask tinted by colour."""
    y0, y1, x0, x1 = box
    m = np.ascontiguousarray(mask[y0:y1, x0:x1])
    # premultiplied: each channel is mask * opacity * colour, one saturating OpenCV pass each
    planes = [cv2.convertScaleAbs(m, alpha=opacity * v) for v in (colour.blue(), colour.green(), colour.red(), 255)]
    qimage_view(image, 4)[y0:y1, x0:x1] = cv2.merge(planes)


def for_display(image: QImage, transform, box: tuple[int, int, int, int] | None = None,
                in_place: bool = False) -> QImage:
    """`image` (8-bit, in the document's colour profile) as the display should show it:
    converted by `transform` (core.imaging.colour.DisplayTransform; None: unchanged), all of it
    or the region `box`. Unless `in_place`, a detached copy is converted: the image handed in
    may be held elsewhere (a prepared edit) and must not be converted twice."""
    channels = {QImage.Format.Format_RGB888: 3, QImage.Format.Format_RGBA8888: 4}.get(image.format())
    if transform is None or channels is None:
        return image
    if not in_place:
        image = image.copy()
    view = qimage_view(image, channels)
    if box is not None:
        y0, y1, x0, x1 = box
        view = view[y0:y1, x0:x1]
    transform.apply(view)
    return image
