"""File bytes -> the core's pixels (float32 H x W x C in [0, 1], upright) and their `ImageMeta`.

Pillow reads headers, metadata and 8-bit pixels. Pillow 13 reads 16-bit RGB(A) PNG and TIFF as
8-bit, so their pixels are decoded by OpenCV; float TIFFs, which Pillow does not read, by
tifffile; HEIC/HEIF and camera RAW files by `formats`. `io.load_image` chooses between them.
"""

from __future__ import annotations

import io
import os

import cv2
import numpy as np
import tifffile
from PIL import Image, ImageCms

from desktop_app.core.imaging import formats, metadata
from desktop_app.core.imaging.convert import to_float
from desktop_app.core.imaging.files import ImageFileError
from desktop_app.core.imaging.metadata import ImageMeta

_PILLOW_FORMATS = ("PNG", "JPEG", "TIFF", "WEBP", "BMP", "AVIF")
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def decode_file(path: str | os.PathLike, data: bytes, max_pixels: int) -> tuple[np.ndarray, ImageMeta]:
    """A PNG, JPEG, TIFF, WebP, BMP or AVIF: through Pillow, OpenCV (16 bits) or tifffile (float)."""
    try:
        image = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
    except Image.DecompressionBombError as exc:
        limit = _megapixels(max_pixels)
        raise ImageFileError(path, f"the image is over the limit of {limit}") from exc
    except Exception as exc:  # Pillow raises several types for "no plugin recognised this"
        if data[:4] in _TIFF_SIGNATURES:  # Pillow reads no float RGB(A) TIFF; tifffile does
            return _decode_float_tiff(path, data, max_pixels)
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
            orientation = image.tag_v2.get(metadata.ORIENTATION, 1) if fmt == "TIFF" else 1
            if fmt in ("PNG", "TIFF") and _bits_per_sample(image, data) == 16:
                pixels = _decode_16bit(data, fmt, {(height, width), (width, height)})
                bit_depth, icc = 16, image.info.get("icc_profile")
                source_mode = image.mode if image.mode.startswith("I") else image.mode + ";16"
            else:
                source_mode = image.mode
                pixels, bit_depth, icc = _decode_with_pillow(image, notes)
                if fmt == "TIFF" and metadata.ORIENTATION not in image.tag_v2:
                    orientation = 1  # already applied by Pillow
            exif, exif_orientation = metadata.exif_of(image, fmt)
            if fmt != "TIFF":
                orientation = exif_orientation
        except MemoryError as exc:
            raise ImageFileError(path, "not enough memory to open this image") from exc
        except Exception as exc:  # decoders raise OSError, ValueError, SyntaxError, cv2.error, ...
            raise ImageFileError(path, "the file is truncated or damaged") from exc

    pixels = _apply_orientation(_finite_float(pixels, notes), orientation)
    meta = ImageMeta(
        format=fmt, bit_depth=bit_depth, source_mode=source_mode, exif=exif,
        icc_profile=metadata.icc_matching(icc, pixels.shape[2]), width=pixels.shape[1],
        height=pixels.shape[0], path=os.fspath(path), notes=notes,
        camera=metadata.camera_summary(exif),
    )
    if fmt != "BMP":
        meta.xmp, meta.iptc = metadata.read_extra(data)
    return pixels, meta


def decode_heif_or_raw(path, kind: str, data: bytes, max_pixels: int) -> tuple[np.ndarray, ImageMeta]:
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
    exif = metadata.upright_exif(decoded.exif) if decoded.exif else None  # decoders apply orientation
    meta = ImageMeta(
        format=decoded.format, bit_depth=decoded.bit_depth, source_mode=decoded.source_mode,
        exif=exif, icc_profile=metadata.icc_matching(decoded.icc, pixels.shape[2]),
        width=pixels.shape[1], height=pixels.shape[0], path=os.fspath(path), notes=decoded.notes,
        xmp=decoded.xmp, camera=metadata.camera_summary(exif),
    )
    return pixels, meta


def _finite_float(pixels: np.ndarray, notes: list[str]) -> np.ndarray:
    """The core's float32 [0, 1]; a float file's NaN (and infinities) become 0 (and 0 or 1),
    with a note: left in, NaN survives every clip and turns results black."""
    if pixels.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(pixels)))
        if bad:
            pixels = np.nan_to_num(pixels, nan=0.0, posinf=1.0, neginf=0.0)
            notes.append(f"{bad} pixel value(s) were not numbers (NaN or infinite) and were set to 0 or 1")
    return to_float(pixels)


def _decode_float_tiff(path: str | os.PathLike, data: bytes, max_pixels: int) -> tuple[np.ndarray, ImageMeta]:
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
        icc_profile=metadata.icc_matching(bytes(icc) if icc else None, pixels.shape[2]),
        width=pixels.shape[1], height=pixels.shape[0], path=os.fspath(path), notes=notes,
    )
    return pixels, meta


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:g} megapixels"


def _bits_per_sample(image: Image.Image, data: bytes) -> int:
    if image.format == "PNG":
        return data[24]  # IHDR is always first: 8-byte signature, length, type, width, height
    bits = image.tag_v2.get(258, 8)
    return max(bits) if isinstance(bits, tuple) else bits


def _decode_16bit(data: bytes, fmt: str, sizes: set[tuple[int, int]]) -> np.ndarray:
    buffer = np.frombuffer(data, np.uint8)
    if fmt == "TIFF":
        # OpenCV 5 applies a TIFF's orientation even with IMREAD_UNCHANGED (PNG it leaves alone);
        # reset it in our copy so that orientation is applied once, by us, for every format.
        # numpy copies without Python's lock (bytearray holds it: 0.2 s on a 120 MB file,
        # during which the window could not answer)
        buffer = buffer.copy()
        metadata.reset_orientation(buffer, 0)
    pixels = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
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


def _apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Pixels as a viewer shows them for EXIF orientations 1-8 (same as Pillow's exif_transpose)."""
    if orientation not in range(2, 9):  # 1, or a value no viewer would act on
        return pixels
    if orientation >= 5:
        pixels = pixels.swapaxes(0, 1)
    flips = [(False, False), (False, True), (True, True), (True, False)]  # (rows, columns)
    flip_rows, flip_cols = flips[(orientation - 1) % 4]
    return np.ascontiguousarray(pixels[::-1 if flip_rows else 1, ::-1 if flip_cols else 1])
