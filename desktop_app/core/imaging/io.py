"""Image files <-> the core convention, keeping bit depth, EXIF and the ICC profile.

This module is the way in: `load_image`, `save_image`, masks, and what the app asks of a path
before saving. The work is done beside it: `decoding` (Pillow; OpenCV for 16-bit PNG/TIFF,
which Pillow 13 reads as 8-bit; tifffile for float TIFF), `encoding` (Pillow; OpenCV for 16-bit
PNG, with our own iCCP/eXIf chunks; tifffile for TIFF), `metadata` (EXIF, ICC, XMP, IPTC) and
`files` (reading bytes, the atomic save). Every failure reaches the caller as one
`ImageFileError` whose message names the file and can be shown as is.

Metadata kept: the ICC profile for JPEG, PNG, WebP and TIFF at either depth. EXIF from JPEG,
PNG and WebP is carried byte for byte (only Orientation is set to 1) into JPEG, PNG and WebP.
A TIFF has no EXIF block, so going into or out of TIFF the EXIF is re-serialised by Pillow:
first-IFD tags (Make, Model, DateTime, Artist, Copyright, resolution, ...) and the Exif, GPS
and Interop sub-IFDs are kept; the thumbnail IFD is dropped, and maker notes that point
outside themselves may break. XMP and IPTC are carried through Exiv2 (`metadata`): XMP into
every format but BMP, IPTC into JPEG, PNG and TIFF; Photoshop blocks are not; BMP keeps nothing.
HEIC/HEIF (8 or 10 bits) and camera RAW files are decoded in `formats`; AVIF is Pillow's (8 bits).
A RAW is never written.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image

from desktop_app.core.imaging import formats, metadata
from desktop_app.core.imaging.convert import split_alpha, to_bits, to_uint8
from desktop_app.core.imaging.decoding import decode_file, decode_heif_or_raw
from desktop_app.core.imaging.encoding import (
    encode_png16,
    encode_tiff,
    encode_with_pillow,
)
from desktop_app.core.imaging.files import (
    ImageFileError,
    ReadOnlyFileError,
    atomic_write,
    is_write_protected,
    read_checked,
)
from desktop_app.core.imaging.metadata import ImageMeta

__all__ = [
    "DEFAULT_MAX_PIXELS", "JPEG_QUALITY_RANGE", "MASK_COLOUR_TOLERANCE", "OPENABLE_EXTENSIONS", "OPEN_FILTER",
    "SAVE_FILTER", "SUPPORTED_EXTENSIONS", "ImageFileError", "ImageMeta", "ReadOnlyFileError",
    "check_writable", "is_write_protected", "load_image", "load_mask", "save_image", "save_mask",
]

# What can be saved; RAW files open too (OPENABLE_EXTENSIONS) but are never written.
SUPPORTED_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp",
                        ".heic", ".heif", ".avif")
OPENABLE_EXTENSIONS = SUPPORTED_EXTENSIONS + formats.RAW_EXTENSIONS
OPEN_FILTER = (f"Images ({' '.join('*' + ext for ext in OPENABLE_EXTENSIONS)});;"
               f"Camera RAW ({' '.join('*' + ext for ext in formats.RAW_EXTENSIONS)});;All files (*)")
SAVE_FILTER = ("PNG (*.png);;JPEG (*.jpg *.jpeg);;TIFF (*.tif *.tiff);;WebP (*.webp);;BMP (*.bmp);;"
               "HEIC (*.heic *.heif);;AVIF (*.avif)")
# The largest photo opened: every 100-megapixel camera's (11648 x 8736 is 102 MP). The core
# holds a photo as float32, so memory grows with pixels; projected to this size from 4 and 16 MP
# (benchmarks/memory.py, CLI peak resident memory): a CNN denoise needs about 6.3 GiB,
# NL-Means 4.1 GiB, a wand or box selection 2.4 GiB. At the earlier 250 MP a CNN denoise
# needed 12.6 GiB.
DEFAULT_MAX_PIXELS = 120_000_000
JPEG_QUALITY_RANGE = (1, 100)

_FORMAT_BY_EXTENSION = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
    ".webp": "WEBP", ".bmp": "BMP", ".heic": "HEIF", ".heif": "HEIF", ".avif": "AVIF",
}
_XMP_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP")  # where Exiv2 writes XMP (IPTC: not WebP)

# This module is the app's one way into image files and applies its own pixel limit right after
# reading the header. Pillow's default (a warning at 89 MP, an error at 179 MP) would warn
# about photos under ours, so Pillow is aligned with it and keeps a backstop at twice the limit.
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS


def load_image(
    path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[np.ndarray, ImageMeta]:
    """Pixels (float32 H x W x C in [0, 1], C = 1, 3 or 4), upright, and the file's metadata."""
    data = read_checked(path)
    kind = formats.sniff(data, path)
    if kind is not None:  # HEIC and camera RAW
        return decode_heif_or_raw(path, kind, data, max_pixels)
    # Decoders warn about what they tolerate (Pillow: "Corrupt EXIF data"); a damaged file is
    # refused below with one message, so their warnings would only be noise on stderr.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return decode_file(path, data, max_pixels)


def save_image(
    path: str | os.PathLike,
    pixels: np.ndarray,
    meta: ImageMeta | None = None,
    *,
    bit_depth: int | None = None,
    jpeg_quality: int = 92,
    replace_read_only: bool = False,
) -> None:
    """Write pixels in the format named by the extension, atomically.

    16 bits are kept for PNG and TIFF, and HEIC keeps 10 of them; JPEG, WebP, AVIF and BMP are
    8-bit. JPEG and BMP drop alpha; WebP and HEIC have no greyscale, so grey is written as RGB.
    EXIF and the ICC profile are written for JPEG, PNG, WebP, TIFF, HEIC and AVIF, XMP for all
    of those and IPTC for JPEG, PNG and TIFF (an ICC profile for another colour space than the pixels is left
    out; EXIF over JPEG's 64 KB limit is left out). `jpeg_quality` (1-100) also sets the WebP
    quality. A write-protected file is refused (ReadOnlyFileError) unless `replace_read_only`.
    """
    fmt = _FORMAT_BY_EXTENSION.get(os.path.splitext(os.fspath(path))[1].lower())
    if fmt is None:
        raise ImageFileError(path, "unknown file type; use " + ", ".join(SUPPORTED_EXTENSIONS))
    if bit_depth is None:
        bit_depth = meta.bit_depth if meta is not None else 8
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, not {bit_depth}")
    if not (isinstance(jpeg_quality, int) and JPEG_QUALITY_RANGE[0] <= jpeg_quality <= JPEG_QUALITY_RANGE[1]):
        raise ValueError(f"the JPEG/WebP quality must be a whole number from {JPEG_QUALITY_RANGE[0]} "
                         f"to {JPEG_QUALITY_RANGE[1]}, not {jpeg_quality!r}")
    pixels = _checked_pixels(pixels)
    if fmt not in ("PNG", "TIFF", "HEIF"):  # HEIF: 16 is written as 10 bits
        bit_depth = 8
    if fmt in ("JPEG", "BMP"):
        pixels, _ = split_alpha(pixels)
    if fmt == "WEBP" and pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)

    limit = {"JPEG": 65535, "WEBP": 16383}.get(fmt)
    if limit is not None and max(pixels.shape[:2]) > limit:
        raise ImageFileError(
            path, f"the image is too large for {fmt} (at most {limit}x{limit} pixels)")
    exif = icc = None
    if meta is not None and fmt != "BMP":
        exif = metadata.upright_exif(meta.exif) if meta.exif else None
        icc = metadata.icc_matching(meta.icc_profile, pixels.shape[2])
    if fmt == "JPEG" and exif is not None and len(exif) > 65533:
        exif = None  # one JPEG segment holds at most 64 KB; better the photo without EXIF than none

    try:
        buffer = to_bits(pixels, bit_depth)
        buffer = buffer[:, :, 0] if buffer.shape[2] == 1 else buffer
        xmp = metadata.upright_xmp(meta.xmp) if meta is not None and fmt != "BMP" else None
        if fmt == "TIFF":
            data = encode_tiff(buffer, icc, exif)
        elif fmt == "HEIF":
            data = formats.encode_heif(buffer, bit_depth, icc, exif, xmp, jpeg_quality)
        elif bit_depth == 16:
            data = encode_png16(buffer, icc, exif)
        else:
            data = encode_with_pillow(fmt, buffer, icc, exif, jpeg_quality,
                                      xmp if fmt == "AVIF" else None)
        if fmt in _XMP_FORMATS and meta is not None and (meta.xmp or meta.iptc):
            data = metadata.embed(data, xmp, meta.iptc)
    except MemoryError as exc:
        raise ImageFileError(path, "not enough memory to save this image") from exc
    except Exception as exc:  # an encoder refusing its input; the chained cause is for the log
        raise ImageFileError(path, f"could not be saved as {fmt}") from exc
    atomic_write(path, data, replace_read_only=replace_read_only)


def _checked_pixels(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
        raise ValueError(f"pixels must be H x W x C with C = 1, 3 or 4, not {pixels.shape}")
    return pixels


def check_writable(path: str | os.PathLike, *, replace_read_only: bool = False,
                   extensions: tuple[str, ...] = SUPPORTED_EXTENSIONS) -> None:
    """Raise ImageFileError now, before any work, when `path` cannot be saved to: an unknown
    extension, a folder, a folder that does not exist or is not writable, a name too long, or
    (unless `replace_read_only`) a write-protected file (ReadOnlyFileError)."""
    name = os.path.basename(os.fspath(path))
    if os.path.splitext(name)[1].lower() not in extensions:
        raise ImageFileError(path, "unknown file type; use " + ", ".join(extensions))
    if os.path.isdir(path):
        raise ImageFileError(path, "is a folder, not a file")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ImageFileError(path, "the folder does not exist")
    if not os.access(folder, os.W_OK):
        raise ImageFileError(path, "the folder is read-only or not writable")
    if len(os.fsencode(name)) > 255:
        raise ImageFileError(path, "the file name is too long")
    if not replace_read_only and is_write_protected(path):
        raise ReadOnlyFileError(path)


def load_mask(path: str | os.PathLike, shape: tuple[int, int]) -> np.ndarray:
    """A float32 H x W mask in [0, 1] (white = selected) that must match `shape` (H, W).

    A mask file is greyscale: grey, or RGB(A) whose channels are equal (give or take JPEG noise),
    read as its luminance; alpha multiplies it (transparent = not selected). A colour picture
    is refused with ImageFileError: the window and the CLI both read masks here."""
    pixels, _ = load_image(path)
    if pixels.shape[:2] != tuple(shape):
        height, width = shape
        raise ImageFileError(
            path, f"the mask is {pixels.shape[1]}x{pixels.shape[0]} pixels "
                  f"but the image is {width}x{height}")
    colour, alpha = split_alpha(pixels)
    if colour.shape[2] == 3 and _is_colourful(colour):
        # most likely the photo given in place of its mask: refused rather than guessed at
        raise ImageFileError(path, "a colour image, not a mask; a mask is greyscale "
                                   "(white = selected, black = not)")
    grey = colour[:, :, 0] if colour.shape[2] == 1 else colour @ np.float32([0.299, 0.587, 0.114])
    if alpha is not None:
        grey = grey * alpha[:, :, 0]  # transparent means unselected, whatever colour it hides
    return np.clip(grey, 0.0, 1.0).astype(np.float32)


MASK_COLOUR_TOLERANCE = 12 / 255  # JPEG noise on a grey picture stored as RGB stays below this


def _is_colourful(colour: np.ndarray) -> bool:
    """True when the channels differ (beyond compression noise) anywhere: a grey mask stored
    as RGB has R = G = B. Computed in bands of rows to keep memory small on big masks."""
    for y in range(0, colour.shape[0], 1024):
        band = colour[y:y + 1024]
        if np.any(band.max(axis=2) - band.min(axis=2) > MASK_COLOUR_TOLERANCE):
            return True
    return False


def save_mask(path: str | os.PathLike, mask: np.ndarray, *, replace_read_only: bool = False) -> None:
    """Write a mask as an 8-bit greyscale PNG, atomically (a write-protected file only with
    `replace_read_only`)."""
    if os.path.splitext(os.fspath(path))[1].lower() != ".png":
        raise ImageFileError(path, "masks are saved as PNG; use a .png file name")
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if mask.ndim != 2:
        raise ValueError(f"a mask is H x W, not {mask.shape}")
    atomic_write(path, encode_with_pillow("PNG", to_uint8(mask), None, None, 0),
                 replace_read_only=replace_read_only)
