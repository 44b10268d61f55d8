"""Colour profiles for viewing: a file's embedded ICC profile -> the display's, via LittleCMS
(Pillow's ImageCms). Operations and saving keep working in the file's own space; only what the
canvas shows is converted. Untagged files are taken as sRGB, and so is the display unless the
system reports its profile (Windows does; elsewhere sRGB, which is what most screens are set to).

`DisplayTransform.for_profile(icc)` is None when there is nothing to do (no profile, a grey
profile, or a profile that maps every colour onto itself within one 8-bit step, like an
embedded sRGB), so the common case costs nothing.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import struct

import numpy as np
from PIL import Image, ImageCms

log = logging.getLogger(__name__)

# D50-adapted colorants (ICC PCS) of Adobe RGB (1998), and its gamma 563/256 = 2.19921875.
_ADOBE_RGB_COLORANTS = ((0.60974, 0.31111, 0.01947), (0.20528, 0.62567, 0.06087), (0.14919, 0.06322, 0.74457))
_SRGB_COLORANTS = ((0.4360747, 0.2225045, 0.0139322), (0.3850649, 0.7168786, 0.0971045),
                   (0.1430804, 0.0606169, 0.7141733))
_D50 = (0.9642, 1.0, 0.8249)


class DisplayTransform:
    """Converts 8-bit RGB(A) pixels from one profile to the display's, in place."""

    def __init__(self, transform) -> None:
        self._transform = transform

    @staticmethod
    def for_profile(icc: bytes | None) -> "DisplayTransform | None":
        if not icc or len(icc) < 20 or icc[16:20] != b"RGB ":
            return None
        return _cached(hashlib.sha1(icc).hexdigest(), icc)

    def apply(self, pixels: np.ndarray) -> None:
        """`pixels`: uint8 H x W x 3 or 4 (alpha untouched), converted in place."""
        colour = np.ascontiguousarray(pixels[..., :3])
        image = Image.frombuffer("RGB", (colour.shape[1], colour.shape[0]), colour, "raw", "RGB", 0, 1)
        converted = ImageCms.applyTransform(image, self._transform)
        pixels[..., :3] = np.asarray(converted).reshape(colour.shape)


@functools.lru_cache(maxsize=8)
def _cached(_digest: str, icc: bytes) -> DisplayTransform | None:
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        transform = ImageCms.buildTransform(source, display_profile(), "RGB", "RGB",
                                            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        log.info("colour profile not used for display (%s): shown as sRGB", exc)
        return None
    candidate = DisplayTransform(transform)
    steps = np.linspace(0, 255, 17).round().astype(np.uint8)
    grid = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), axis=-1).reshape(1, -1, 3)
    probe = grid.copy()
    candidate.apply(probe)
    if np.abs(probe.astype(np.int16) - grid).max() <= 1:
        return None  # an sRGB profile (or close enough): skip the conversion
    return candidate


@functools.lru_cache(maxsize=1)
def display_profile() -> ImageCms.ImageCmsProfile:
    try:
        profile = ImageCms.get_display_profile()
    except Exception:  # noqa: BLE001 - not Windows, or no profile set
        profile = None
    return profile or ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def linear_srgb_profile() -> bytes:
    """sRGB's primaries with no tone curve (gamma 1): for RAW developed to linear light."""
    return matrix_profile(_SRGB_COLORANTS, 1.0, "Linear sRGB")


def adobe_rgb_profile() -> bytes:
    """A matrix/TRC ICC v2 profile of Adobe RGB (1998): for wide-gamut RAW development and the
    tests (LittleCMS, through Pillow, only makes sRGB, Lab and XYZ profiles itself)."""
    return matrix_profile(_ADOBE_RGB_COLORANTS, 563 / 256, "Adobe RGB (1998) compatible")


def matrix_profile(colorants, gamma: float, description: str) -> bytes:
    """An ICC v2 display profile from D50-adapted colorants (r, g, b XYZ) and one gamma."""
    def s15(v: float) -> bytes:
        return struct.pack(">i", int(round(v * 65536)))

    def xyz(values) -> bytes:
        return b"XYZ " + bytes(4) + b"".join(s15(v) for v in values)

    text = description.encode("ascii") + b"\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(4) + bytes(4) + bytes(2 + 1 + 67)
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, int(round(gamma * 256))) + bytes(2)
    tags = [(b"desc", desc), (b"cprt", b"text" + bytes(4) + b"No copyright, use freely\0"),
            (b"wtpt", xyz(_D50)), (b"rXYZ", xyz(colorants[0])), (b"gXYZ", xyz(colorants[1])),
            (b"bXYZ", xyz(colorants[2])), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data + bytes(-len(data) % 4)
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + bytes(4) + bytes(4) + bytes(4) + bytes(4)
              + bytes(8) + struct.pack(">I", 0) + b"".join(s15(v) for v in _D50) + b"lcms" + bytes(44))
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body
