"""Image files <-> the core convention, keeping bit depth, EXIF and the ICC profile.

Pillow reads headers, metadata and 8-bit pixels. Pillow 13 reads 16-bit RGB(A) PNG and TIFF
as 8-bit, so 16-bit PNG/TIFF pixels are decoded by OpenCV, and written by OpenCV (PNG, with
our own iCCP/eXIf chunks) or tifffile (TIFF). Every failure reaches the caller as one
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

import contextlib
import errno
import io
import os
import secrets
import stat
import struct
import time
import warnings
import zlib
from dataclasses import dataclass, field

import cv2
import numpy as np
import tifffile
from PIL import Image, ImageCms, TiffImagePlugin

from desktop_app.core.imaging import formats, metadata
from desktop_app.core.imaging.convert import split_alpha, to_bits, to_float, to_uint8

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
_PILLOW_FORMATS = ("PNG", "JPEG", "TIFF", "WEBP", "BMP", "AVIF")
_XMP_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP")  # where Exiv2 writes XMP (IPTC: not WebP)
_EXIF_HEADER = b"Exif\x00\x00"
_ORIENTATION = 0x0112
_EXIF_IFD, _GPS_IFD, _INTEROP_IFD = 0x8769, 0x8825, 0xA005
# Tags of a TIFF's first IFD that describe its pixel layout (owned by whichever encoder writes
# the file) or are separate metadata blocks we do not carry (XMP, IPTC, Photoshop): never EXIF.
_NOT_EXIF_TAGS = frozenset({
    254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 292, 293,
    317, 320, 322, 323, 324, 325, 330, 338, 339, 340, 341, 347, 513, 514, 529, 530, 531, 532,
    700, 33723, 34377, 34675, 37724,
})
_READ_REASONS = {
    errno.ENOENT: "no such file",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "is a folder, not a file",
}
_WRITE_REASONS = {
    errno.ENOSPC: "the disk is full",
    getattr(errno, "EDQUOT", errno.ENOSPC): "the disk is full",
    errno.EROFS: "the folder is read-only or not writable",
    errno.EACCES: "the folder is read-only or not writable",
    errno.EPERM: "the folder is read-only or not writable",
    errno.ENOENT: "the folder does not exist",
    errno.ENAMETOOLONG: "the file name is too long",
}

# This module is the app's one way into image files and applies its own pixel limit right after
# reading the header. Pillow's default (a warning at 89 MP, an error at 179 MP) would warn
# about photos under ours, so Pillow is aligned with it and keeps a backstop at twice the limit.
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS


class ImageFileError(Exception):
    """A file that cannot be read or written; str() is one line naming the file, for a dialog."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{os.path.basename(os.path.normpath(self.path))}: {reason}")


@dataclass
class ImageMeta:
    """What a file carried besides pixels; `save_image` writes it back where the format allows.

    `exif` is `b"Exif\\0\\0"` + a TIFF structure (as in a JPEG APP1), Orientation already 1
    because `load_image` applies it. `width` and `height` are those of the loaded pixels.
    """

    format: str = "PNG"
    bit_depth: int = 8
    source_mode: str = "RGB"
    exif: bytes | None = None
    icc_profile: bytes | None = None
    width: int = 0
    height: int = 0
    path: str | None = None
    notes: list[str] = field(default_factory=list)
    xmp: bytes | None = None  # the XMP packet, carried as is (see core.imaging.metadata)
    iptc: list[tuple[str, str]] = field(default_factory=list)  # (key, text) pairs, in order
    camera: dict[str, str] = field(default_factory=dict)  # camera, lens, iso, exposure, ...


def load_image(
    path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[np.ndarray, ImageMeta]:
    """Pixels (float32 H x W x C in [0, 1], C = 1, 3 or 4), upright, and the file's metadata."""
    data = _read_checked(path)
    kind = formats.sniff(data, path)
    if kind is not None:  # HEIC and camera RAW
        return _load_decoded(path, kind, data, max_pixels)
    # Decoders warn about what they tolerate (Pillow: "Corrupt EXIF data"); a damaged file is
    # refused below with one message, so their warnings would only be noise on stderr.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _load_image(path, data, max_pixels)


def _load_image(path: str | os.PathLike, data: bytes, max_pixels: int) -> tuple[np.ndarray, ImageMeta]:
    try:
        image = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
    except Image.DecompressionBombError as exc:
        limit = _megapixels(max_pixels)
        raise ImageFileError(path, f"the image is over the limit of {limit}") from exc
    except Exception as exc:  # Pillow raises several types for "no plugin recognised this"
        if data[:4] in _TIFF_SIGNATURES:  # Pillow reads no float RGB(A) TIFF; tifffile does
            return _load_float_tiff(path, data, max_pixels)
        raise ImageFileError(path, "not an image file (or an unsupported format)") from exc

    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ImageFileError(
                path, f"{width}x{height} pixels is over the limit of {_megapixels(max_pixels)}")
        # MPO is how Pillow names a JPEG that carries extra pictures (many camera JPEGs).
        fmt = "JPEG" if image.format == "MPO" else image.format
        notes = []
        try:
            if getattr(image, "n_frames", 1) > 1:
                notes.append(f"only the first of {image.n_frames} pages was read")
            # Read before decoding: Pillow turns a TIFF's pixels itself, then drops the tag.
            orientation = image.tag_v2.get(_ORIENTATION, 1) if fmt == "TIFF" else 1
            if fmt in ("PNG", "TIFF") and _bits_per_sample(image, data) == 16:
                pixels = _decode_16bit(data, fmt, {(height, width), (width, height)})
                bit_depth, icc = 16, image.info.get("icc_profile")
                source_mode = image.mode if image.mode.startswith("I") else image.mode + ";16"
            else:
                source_mode = image.mode
                pixels, bit_depth, icc = _decode_with_pillow(image, notes)
                if fmt == "TIFF" and _ORIENTATION not in image.tag_v2:
                    orientation = 1  # already applied by Pillow
            exif, exif_orientation = _exif_of(image, fmt)
            if fmt != "TIFF":
                orientation = exif_orientation
        except MemoryError as exc:
            raise ImageFileError(path, "not enough memory to open this image") from exc
        except Exception as exc:  # decoders raise OSError, ValueError, SyntaxError, cv2.error, ...
            raise ImageFileError(path, "the file is truncated or damaged") from exc

    pixels = _apply_orientation(_finite_float(pixels, notes), orientation)
    meta = ImageMeta(
        format=fmt, bit_depth=bit_depth, source_mode=source_mode, exif=exif,
        icc_profile=_icc_matching(icc, pixels.shape[2]), width=pixels.shape[1],
        height=pixels.shape[0], path=os.fspath(path), notes=notes,
        camera=metadata.camera_summary(exif),
    )
    if fmt != "BMP":
        meta.xmp, meta.iptc = metadata.read_extra(data)
    return pixels, meta


def _load_decoded(path, kind: str, data: bytes, max_pixels: int) -> tuple[np.ndarray, ImageMeta]:
    """A HEIC or camera RAW, decoded by `formats` (libheif, LibRaw)."""
    try:
        decoded = formats.decode(kind, data, max_pixels)
    except formats.FormatError as exc:
        raise ImageFileError(path, str(exc)) from exc
    except MemoryError as exc:
        raise ImageFileError(path, "not enough memory to open this image") from exc
    except Exception as exc:  # libheif / LibRaw errors
        raise ImageFileError(path, "the file is truncated or damaged") from exc
    pixels = to_float(decoded.pixels)
    exif = _upright_exif(decoded.exif) if decoded.exif else None  # decoders apply orientation
    meta = ImageMeta(
        format=decoded.format, bit_depth=decoded.bit_depth, source_mode=decoded.source_mode,
        exif=exif, icc_profile=_icc_matching(decoded.icc, pixels.shape[2]),
        width=pixels.shape[1], height=pixels.shape[0], path=os.fspath(path), notes=decoded.notes,
        xmp=decoded.xmp, camera=metadata.camera_summary(exif),
    )
    return pixels, meta


_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _finite_float(pixels: np.ndarray, notes: list[str]) -> np.ndarray:
    """The core's float32 [0, 1]; a float file's NaN (and infinities) become 0 (and 0 or 1),
    with a note: left in, NaN survives every clip and turns results black."""
    if pixels.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(pixels)))
        if bad:
            pixels = np.nan_to_num(pixels, nan=0.0, posinf=1.0, neginf=0.0)
            notes.append(f"{bad} pixel value(s) were not numbers (NaN or infinite) and were set to 0 or 1")
    return to_float(pixels)


def _load_float_tiff(path: str | os.PathLike, data: bytes, max_pixels: int) -> tuple[np.ndarray, ImageMeta]:
    """A 16-, 32- or 64-bit float TIFF (grey, RGB or RGBA), read by tifffile and kept at 16 bits."""
    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            page = tif.pages.first
            if np.dtype(page.dtype).kind != "f" or page.samplesperpixel not in (1, 3, 4):
                raise ValueError(f"not a float TIFF ({page.dtype}, {page.samplesperpixel} samples)")
            width, height = page.imagewidth, page.imagelength
            if width * height > max_pixels:
                raise ImageFileError(
                    path, f"{width}x{height} pixels is over the limit of {_megapixels(max_pixels)}")
            pixels = page.asarray()
            orientation = page.tags[274].value if 274 in page.tags else 1
            icc = page.tags[34675].value if 34675 in page.tags else None
            pages = len(tif.pages)
    except ImageFileError:
        raise
    except MemoryError as exc:
        raise ImageFileError(path, "not enough memory to open this image") from exc
    except Exception as exc:  # tifffile raises many types for files it cannot parse
        raise ImageFileError(path, "not an image file (or an unsupported format)") from exc
    if pixels.ndim == 3 and pixels.shape[2] not in (1, 3, 4) and pixels.shape[0] in (1, 3, 4):
        pixels = np.moveaxis(pixels, 0, 2)  # planar (separate) samples
    notes = [f"{pixels.dtype.itemsize * 8}-bit float pixels converted to 16-bit integers"]
    if pages > 1:
        notes.append(f"only the first of {pages} pages was read")
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    source_mode = {1: "F", 3: "RGB", 4: "RGBA"}[channels] + f";float{pixels.dtype.itemsize * 8}"
    pixels = _apply_orientation(_finite_float(pixels, notes), int(orientation))
    meta = ImageMeta(
        format="TIFF", bit_depth=16, source_mode=source_mode, exif=None,
        icc_profile=_icc_matching(bytes(icc) if icc else None, pixels.shape[2]), width=pixels.shape[1],
        height=pixels.shape[0], path=os.fspath(path), notes=notes,
    )
    return pixels, meta


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
        exif = _upright_exif(meta.exif) if meta.exif else None
        icc = _icc_matching(meta.icc_profile, pixels.shape[2])
    if fmt == "JPEG" and exif is not None and len(exif) > 65533:
        exif = None  # one JPEG segment holds at most 64 KB; better the photo without EXIF than none

    try:
        buffer = to_bits(pixels, bit_depth)
        buffer = buffer[:, :, 0] if buffer.shape[2] == 1 else buffer
        xmp = metadata.upright_xmp(meta.xmp) if meta is not None and fmt != "BMP" else None
        if fmt == "TIFF":
            data = _encode_tiff(buffer, icc, exif)
        elif fmt == "HEIF":
            data = formats.encode_heif(buffer, bit_depth, icc, exif, xmp, jpeg_quality)
        elif bit_depth == 16:
            data = _encode_png16(buffer, icc, exif)
        else:
            data = _encode_with_pillow(fmt, buffer, icc, exif, jpeg_quality,
                                       xmp if fmt == "AVIF" else None)
        if fmt in _XMP_FORMATS and meta is not None and (meta.xmp or meta.iptc):
            data = metadata.embed(data, xmp, meta.iptc)
    except MemoryError as exc:
        raise ImageFileError(path, "not enough memory to save this image") from exc
    except Exception as exc:  # an encoder refusing its input; the chained cause is for the log
        raise ImageFileError(path, f"could not be saved as {fmt}") from exc
    _atomic_write(path, data, replace_read_only=replace_read_only)


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
    _atomic_write(path, _encode_with_pillow("PNG", to_uint8(mask), None, None, 0),
                  replace_read_only=replace_read_only)


# --- reading -------------------------------------------------------------------------------


def _read_bytes(path: str | os.PathLike) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _read_checked(path: str | os.PathLike) -> bytes:
    # Checked before opening: Windows reports a folder as "permission denied".
    if os.path.isdir(path):
        raise ImageFileError(path, "is a folder, not a file")
    try:
        data = _read_bytes(path)
    except (OSError, ValueError) as exc:  # ValueError: a name the OS cannot take (NUL byte)
        raise ImageFileError(path, _reason(exc, _READ_REASONS, "read")) from exc
    if not data:
        raise ImageFileError(path, "the file is empty")
    return data


def _reason(exc: Exception, reasons: dict[int, str], action: str) -> str:
    detail = getattr(exc, "strerror", None) or exc
    return reasons.get(getattr(exc, "errno", None)) or f"could not {action} the file ({detail})"


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:g} megapixels"


def _bits_per_sample(image: Image.Image, data: bytes) -> int:
    if image.format == "PNG":
        return data[24]  # IHDR is always first: 8-byte signature, length, type, width, height
    bits = image.tag_v2.get(258, 8)
    return max(bits) if isinstance(bits, tuple) else bits


def _decode_16bit(data: bytes, fmt: str, sizes: set[tuple[int, int]]) -> np.ndarray:
    buffer = bytearray(data)
    if fmt == "TIFF":
        # OpenCV 5 applies a TIFF's orientation even with IMREAD_UNCHANGED (PNG it leaves alone);
        # reset it in our copy so that orientation is applied once, by us, for every format.
        _reset_orientation(buffer, 0)
    pixels = cv2.imdecode(np.frombuffer(buffer, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.shape[:2] not in sizes:  # Pillow may give a TIFF's turned size
        raise ValueError("OpenCV could not decode the pixels")
    if pixels.ndim == 3:  # OpenCV is BGR(A)
        pixels = pixels[:, :, [2, 1, 0, 3][: pixels.shape[2]]]
    return pixels


def _decode_with_pillow(image: Image.Image, notes: list[str]):
    """uint8/uint16 pixels in a mode the core knows, their bit depth, the ICC profile for them."""
    mode, icc = image.mode, image.info.get("icc_profile")
    if mode == "CMYK":
        image, icc = _cmyk_to_rgb(image, icc, notes)
    elif mode in ("P", "PA"):
        image = image.convert("RGBA" if mode == "PA" or image.has_transparency_data else "RGB")
        notes.append(f"palette converted to {image.mode}")
    elif mode == "1":
        image = image.convert("L")
        notes.append("black-and-white (1-bit) converted to greyscale")
    elif mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16), 16, icc
    elif mode in ("I", "F"):
        notes.append("32-bit greyscale converted to 16-bit")
        values = np.asarray(image)
        return (np.clip(values, 0, 65535).astype(np.uint16) if mode == "I" else values), 16, icc
    elif mode not in ("L", "RGB", "RGBA"):  # LA, RGBa, RGBX, YCbCr, LAB, ...: not core modes
        image = image.convert("RGBA" if "A" in mode or "a" in mode else "RGB")
    return np.asarray(image), 8, icc


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None, notes: list[str]):
    if icc:
        # A CMYK profile describes the file's inks; once converted, the pixels are sRGB.
        try:
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            rgb = ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
            notes.append("CMYK converted to RGB (with its colour profile)")
            return rgb, srgb.tobytes()
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    notes.append("CMYK converted to RGB")
    return image.convert("RGB"), None


def _exif_of(image: Image.Image, fmt: str) -> tuple[bytes | None, int]:
    """The EXIF to keep (Orientation reset to 1) and the orientation to apply to the pixels.

    A TIFF's orientation is a tag of the file itself, which `load_image` reads (returns 1 here).
    """
    orientation = 1
    if fmt == "TIFF":
        # A TIFF has no EXIF block: its first IFD mixes EXIF tags with the pixel layout.
        exif = image.getexif()
        for tag in [tag for tag in exif if tag in _NOT_EXIF_TAGS]:
            del exif[tag]
        if exif.get(296) == 1:  # ResolutionUnit "none": a placeholder (tifffile writes 1/1), no DPI
            for tag in (282, 283, 296):
                exif.pop(tag, None)
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        raw = exif.tobytes() if len(exif) else None
    else:
        raw = image.info.get("exif") or None
        if raw is not None:
            raw = bytearray(raw if raw.startswith(_EXIF_HEADER) else _EXIF_HEADER + raw)
            orientation = _reset_orientation(raw, len(_EXIF_HEADER))
            raw = bytes(raw)
    return raw, orientation


def _reset_orientation(buffer: bytearray, start: int) -> int:
    """Set Orientation to 1 in the TIFF structure at buffer[start:], in place; return its old value.

    Done on the bytes, not through Pillow, so every other tag (maker notes, thumbnail) stays
    byte-identical. Returns 1 when there is no Orientation tag or the structure is not TIFF.
    """
    try:
        order = {b"II": "<", b"MM": ">"}[bytes(buffer[start:start + 2])]
        (magic,) = struct.unpack_from(order + "H", buffer, start + 2)
        big = magic == 43  # BigTIFF: 8-byte counts and offsets
        if magic not in (42, 43):
            return 1
        (ifd,) = struct.unpack_from(order + ("Q" if big else "I"), buffer, start + 4 + 4 * big)
        ifd += start
        (count,) = struct.unpack_from(order + ("Q" if big else "H"), buffer, ifd)
        for index in range(count):
            entry = ifd + (8 if big else 2) + index * (20 if big else 12)
            tag, kind = struct.unpack_from(order + "HH", buffer, entry)
            if tag == _ORIENTATION and kind == 3:  # SHORT, stored in the entry itself
                value_at = entry + (12 if big else 8)
                (old,) = struct.unpack_from(order + "H", buffer, value_at)
                struct.pack_into(order + "H", buffer, value_at, 1)
                return old
    except (KeyError, struct.error):
        pass
    return 1


def _apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Pixels as a viewer shows them for EXIF orientations 1-8 (same as Pillow's exif_transpose)."""
    if orientation not in range(2, 9):  # 1, or a value no viewer would act on
        return pixels
    if orientation >= 5:
        pixels = pixels.swapaxes(0, 1)
    flips = [(False, False), (False, True), (True, True), (True, False)]  # (rows, columns)
    flip_rows, flip_cols = flips[(orientation - 1) % 4]
    return np.ascontiguousarray(pixels[::-1 if flip_rows else 1, ::-1 if flip_cols else 1])


# --- writing -------------------------------------------------------------------------------


def _checked_pixels(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
        raise ValueError(f"pixels must be H x W x C with C = 1, 3 or 4, not {pixels.shape}")
    return pixels


def _upright_exif(exif: bytes) -> bytes:
    # Saved pixels are upright, so a stale Orientation would make viewers turn them again.
    raw = bytearray(exif if exif.startswith(_EXIF_HEADER) else _EXIF_HEADER + exif)
    _reset_orientation(raw, len(_EXIF_HEADER))
    return bytes(raw)


def _icc_matching(icc: bytes | None, channels: int) -> bytes | None:
    # Header bytes 16-19 name the profile's colour space; a mismatch makes viewers misrender.
    if not icc or len(icc) < 20:
        return None
    wanted = b"GRAY" if channels == 1 else b"RGB "
    return icc if icc[16:20] == wanted else None


def _encode_with_pillow(fmt: str, buffer: np.ndarray, icc, exif, quality: int, xmp=None) -> bytes:
    options = {"JPEG": {"quality": quality}, "WEBP": {"quality": quality},
               "AVIF": {"quality": quality}}.get(fmt, {})
    if xmp:
        options["xmp"] = xmp
    if icc:
        options["icc_profile"] = icc
    if exif:
        options["exif"] = exif
    out = io.BytesIO()
    Image.fromarray(buffer).save(out, fmt, **options)
    return out.getvalue()


def _encode_png16(buffer: np.ndarray, icc, exif) -> bytes:
    if buffer.ndim == 3:  # OpenCV wants BGR(A)
        buffer = buffer[:, :, [2, 1, 0, 3][: buffer.shape[2]]]
    ok, encoded = cv2.imencode(".png", buffer, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise ValueError("OpenCV could not encode the pixels")
    png = encoded.tobytes()
    chunks = b""
    if icc:  # profile name, NUL, compression method 0 (zlib), compressed profile
        chunks += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc))
    if exif:
        chunks += _png_chunk(b"eXIf", exif[len(_EXIF_HEADER):])
    return png[:33] + chunks + png[33:]  # right after IHDR (8-byte signature + 25-byte chunk)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _encode_tiff(buffer: np.ndarray, icc, exif) -> bytes:
    channels = 1 if buffer.ndim == 2 else buffer.shape[2]
    out = io.BytesIO()
    tifffile.imwrite(
        out, buffer, photometric="minisblack" if channels == 1 else "rgb",
        extrasamples=["unassalpha"] if channels == 4 else None,  # straight alpha
        # Deflate at level 1 with the horizontal predictor, in 64-row strips compressed in
        # parallel: a 24 MP 16-bit photo saved in 12.7 s instead of 17.1 s (level 6, one strip
        # at a time) and 15 % smaller; zlib itself is the rest of the time
        compression="zlib", compressionargs={"level": 1}, predictor=True, rowsperstrip=64,
        maxworkers=os.cpu_count() or 1,
        iccprofile=icc, metadata=None, software=False, byteorder="<", bigtiff=False,
    )
    if not exif:
        return out.getvalue()
    try:
        return _tiff_with_exif(out.getvalue(), exif)
    except (ValueError, TypeError, KeyError, struct.error):
        return out.getvalue()  # EXIF Pillow cannot re-serialise: better the photo without it


def _tiff_with_exif(tiff: bytes, exif: bytes) -> bytes:
    """tifffile cannot write EXIF, so give its first IFD the EXIF tags.

    Pillow serialises the EXIF tags, with the Exif, GPS and Interop IFDs as real sub-IFDs, into
    a block appended to the file. A new first IFD then takes tifffile's entries (layout, ICC)
    and Pillow's entries as they are: both hold absolute offsets to data that does not move.
    tifffile's old IFD stays behind unused (a few hundred bytes).
    """
    source = Image.Exif()
    source.load(exif)
    tags = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    for tag, value in source.items():
        if tag in _NOT_EXIF_TAGS:
            continue
        if tag in (_EXIF_IFD, _GPS_IFD):
            value = dict(source.get_ifd(tag))
            if _INTEROP_IFD in value:
                value[_INTEROP_IFD] = source.get_ifd(_INTEROP_IFD)
        tags[tag] = value
    if not len(tags):
        return tiff

    def entries(data: bytes, ifd: int) -> dict[int, bytes]:
        (count,) = struct.unpack_from("<H", data, ifd)
        raw = (data[ifd + 2 + 12 * i: ifd + 14 + 12 * i] for i in range(count))
        return {struct.unpack_from("<H", entry)[0]: entry for entry in raw}

    block_at = len(tiff) + len(tiff) % 2  # IFDs and their data start on word boundaries
    block = tags.tobytes(block_at)
    merged = entries(tiff, struct.unpack_from("<I", tiff, 4)[0]) | entries(block, 0)  # EXIF wins
    ifd_at = block_at + len(block) + len(block) % 2
    ifd = struct.pack("<H", len(merged)) + b"".join(merged[t] for t in sorted(merged)) + bytes(4)
    out = bytearray(tiff.ljust(block_at, b"\x00") + block.ljust(ifd_at - block_at, b"\x00") + ifd)
    struct.pack_into("<I", out, 4, ifd_at)
    return bytes(out)


# A save writes `.photoretouch-<pid>-<random>.tmp` beside the file, then renames it. The name
# does not contain the file's own (which may already be 255 bytes, the most a name can have);
# the pid lets a later save tell a temporary left by a killed process from one being written.
_TEMPORARY_PREFIX = ".photoretouch-"
_TEMPORARY_SUFFIX = ".tmp"
STALE_TEMPORARY_S = 24 * 3600  # older than this it is stale whatever the pid says


class ReadOnlyFileError(ImageFileError):
    """The destination exists and is write-protected: replace it only when the user says so."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(path, "the file is write-protected (read-only)")


def is_write_protected(path: str | os.PathLike) -> bool:
    """True when `path` exists and its permissions say read-only (checked on the mode, not
    with os.access, which says yes to the administrator whatever the mode)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(mode) and not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


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


def _remove_stale_temporaries(folder: str) -> None:
    """Remove temporaries that earlier saves into `folder` left behind when killed."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(_TEMPORARY_PREFIX) and n.endswith(_TEMPORARY_SUFFIX)]
    except OSError:
        return
    for name in names:
        pid_text = name[len(_TEMPORARY_PREFIX):].split("-", 1)[0]
        temporary = os.path.join(folder, name)
        with contextlib.suppress(OSError, ValueError):
            old = os.stat(temporary).st_mtime < time.time() - STALE_TEMPORARY_S
            if old or (pid_text.isdigit() and not _process_alive(int(pid_text))):
                os.remove(temporary)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be saving
    if os.name == "nt":
        return True  # os.kill would end the process there; age alone decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def _atomic_write(path: str | os.PathLike, data: bytes, *, replace_read_only: bool = False) -> None:
    """Replace `path` with `data` only once all of it is on disk; on failure `path` is untouched.
    A write-protected `path` is refused (ReadOnlyFileError) unless `replace_read_only`."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ImageFileError(path, "is a folder, not a file")
    if not replace_read_only and is_write_protected(path):
        raise ReadOnlyFileError(path)
    folder = os.path.dirname(os.path.abspath(path))
    _remove_stale_temporaries(folder)
    temporary = os.path.join(
        folder, f"{_TEMPORARY_PREFIX}{os.getpid()}-{secrets.token_hex(4)}{_TEMPORARY_SUFFIX}")
    try:
        _write_file(temporary, data)
        with contextlib.suppress(OSError):  # overwriting keeps the file's permissions
            os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
        if os.name == "nt" and replace_read_only and is_write_protected(path):
            os.chmod(path, stat.S_IREAD | stat.S_IWRITE)  # Windows cannot replace a read-only file
        os.replace(temporary, path)
    except (OSError, ValueError) as exc:
        with contextlib.suppress(OSError, ValueError):
            os.remove(temporary)
        raise ImageFileError(path, _reason(exc, _WRITE_REASONS, "write")) from exc


def _write_file(tmp_path: str, data: bytes) -> None:
    with open(tmp_path, "xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
