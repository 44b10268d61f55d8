"""Camera and phone formats: RAW through LibRaw (`rawpy`), HEIC/HEIF through libheif
(`pillow-heif`). AVIF is read and written by Pillow itself (`decoding`, `encoding`).

`io.load_image` asks `sniff` whether a file is one of these and, if so, `decode` turns it into
integer pixels plus metadata blocks; `decoding` then applies the same conversions as for every
other format. A RAW is developed, never written: `save_suggestion` names the 16-bit TIFF that
Save proposes beside it.

RAW development (`RawOptions`): the camera's white balance and colour matrix, LibRaw's PPG
demosaic, no sharpening or noise reduction (the denoisers want the sensor's own noise), a
mild auto-exposure that clips at most 0.1 % of the pixels, 16 bits, and the orientation the
camera recorded, in sRGB with its tone curve (or Adobe RGB, or linear sRGB: `set_raw_defaults`),
tagged with that space's ICC profile.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop_app.core.imaging.metadata import save_options

RAW_EXTENSIONS = (
    ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf",
    ".rw2", ".rwl", ".pef", ".srw", ".x3f", ".3fr", ".fff", ".iiq", ".erf", ".kdc", ".dcr",
    ".mef", ".mos", ".mrw", ".raw",
)
HEIF_EXTENSIONS = (".heic", ".heif", ".hif")
# ISO base media brands (ftyp) that libheif decodes with the HEVC decoder pillow-heif ships.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_AVIF_BRANDS = {b"avif", b"avis"}


class FormatError(Exception):
    """A reason, for `decoding` to attach to the file name (for example the pixel limit)."""


RAW_COLOUR_SPACES = ("sRGB", "Adobe RGB", "linear sRGB")


@dataclass(frozen=True)
class RawOptions:
    """How a RAW is developed. `colour_space` is the working space the pixels are in (and whose
    ICC profile they carry): sRGB, Adobe RGB (wider greens), or linear sRGB (no tone curve).
    `auto_bright_clip` is the share of pixels auto-exposure may clip (0 keeps LibRaw's plain
    scaling, which often looks a stop dark)."""

    colour_space: str = "sRGB"
    camera_white_balance: bool = True
    auto_bright_clip: float = 0.001
    half_size: bool = False  # quarter of the pixels, four times faster: for previews


_raw_defaults = RawOptions()


def set_raw_defaults(options: RawOptions) -> None:
    """How `io.load_image` develops RAW files from now on (a preference of the app)."""
    global _raw_defaults
    if options.colour_space not in RAW_COLOUR_SPACES:
        raise ValueError(f"colour space must be one of {', '.join(RAW_COLOUR_SPACES)}")
    _raw_defaults = options


def raw_defaults() -> RawOptions:
    return _raw_defaults


@dataclass
class Decoded:
    pixels: np.ndarray  # uint8 or uint16, H x W or H x W x C, upright
    format: str
    bit_depth: int
    source_mode: str
    exif: bytes | None = None  # "Exif\0\0" + TIFF structure, or None
    icc: bytes | None = None
    xmp: bytes | None = None
    notes: list[str] = field(default_factory=list)


def sniff(data: bytes, path: str | os.PathLike) -> str | None:
    """"HEIF" or "RAW" when this module reads the file, else None (Pillow's turn; AVIF too)."""
    if data[4:8] == b"ftyp":
        brands = _ftyp_brands(data)
        if brands & _AVIF_BRANDS:
            return None
        if brands & _HEIF_BRANDS or (b"mif1" in brands and _ext(path) in HEIF_EXTENSIONS):
            return "HEIF"
        return None  # CR3 is an ISO box file too: the extension decides below
    if _ext(path) in RAW_EXTENSIONS:
        return "RAW"
    return None


def decode(kind: str, data: bytes, max_pixels: int, raw: RawOptions | None = None) -> Decoded:
    if kind == "HEIF":
        return _decode_heif(data, max_pixels)
    if kind == "RAW":
        return _decode_raw(data, max_pixels, raw or _raw_defaults)
    raise ValueError(f"unknown kind {kind!r}")


def encode_heif(buffer: np.ndarray, bit_depth: int, icc: bytes | None, exif: bytes | None,
                xmp: bytes | None, quality: int) -> bytes:
    """HEIC at 8 bits, or 10 bits when `bit_depth` is 16 (HEVC's Main 10 profile)."""
    import pillow_heif

    channels = 1 if buffer.ndim == 2 else buffer.shape[2]
    if channels == 1:  # libheif's monochrome HEVC is not read by every viewer: write grey RGB
        buffer = np.repeat(buffer.reshape(buffer.shape[0], buffer.shape[1], 1), 3, axis=2)
        channels = 3
    mode = ("RGB", "RGBA")[channels == 4] + (";16" if bit_depth == 16 else "")
    height, width = buffer.shape[:2]
    heif = pillow_heif.from_bytes(mode=mode, size=(width, height),
                                  data=np.ascontiguousarray(buffer).tobytes())
    options = {"quality": -1 if quality >= 100 else quality, **save_options(icc, exif, xmp)}
    out = io.BytesIO()
    heif.save(out, **options)
    return out.getvalue()


def is_raw(path: str | os.PathLike) -> bool:
    return _ext(path) in RAW_EXTENSIONS


def save_suggestion(path: str | os.PathLike) -> Path:
    """Where Save proposes to write an edited photo: beside it, as "-edited" with the same
    type; a RAW (never written) as a 16-bit TIFF."""
    path = Path(path)
    suffix = ".tif" if is_raw(path) else (path.suffix or ".png")
    return path.with_name(path.stem + "-edited" + suffix)


# --- HEIF ------------------------------------------------------------------------------------


def _decode_heif(data: bytes, max_pixels: int) -> Decoded:
    import pillow_heif

    # libheif applies the file's rotation and mirror boxes while decoding; the EXIF
    # Orientation of a HEIF is informative only, and `decoding` resets it to 1.
    heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=False)
    width, height = heif.size
    if width * height > max_pixels:
        raise FormatError(f"{width}x{height} pixels is over the limit of {max_pixels / 1e6:g} megapixels")
    notes = []
    if len(heif) > 1:
        notes.append(f"only the primary of {len(heif)} images was read")
    depth = int(heif.info.get("bit_depth", 8))
    pixels = np.asarray(heif)
    if pixels.dtype == np.uint16 and depth < 16:
        # pillow-heif puts 10/12-bit values in the top bits; stretch so that white is 65535
        top = (1 << depth) - 1
        pixels = ((pixels >> (16 - depth)).astype(np.uint32) * 65535 // top).astype(np.uint16)
    mode = heif.mode.replace(";16", "")
    if mode not in ("L", "RGB", "RGBA"):
        raise FormatError(f"unsupported HEIF layout {heif.mode}")
    exif = heif.info.get("exif") or None
    icc = heif.info.get("icc_profile") if heif.info.get("icc_profile_type") in ("prof", "rICC") else None
    return Decoded(pixels, "HEIF", 16 if pixels.dtype == np.uint16 else 8,
                   heif.mode if depth == 8 else f"{mode};{depth}", exif, icc or None,
                   heif.info.get("xmp") or None, notes)


def _ftyp_brands(data: bytes) -> set[bytes]:
    size = int.from_bytes(data[0:4], "big")
    box = data[8:min(max(size, 16), 256)]
    return {box[0:4]} | {box[i:i + 4] for i in range(8, len(box) - 3, 4)}


# --- RAW -------------------------------------------------------------------------------------


def _decode_raw(data: bytes, max_pixels: int, options: RawOptions) -> Decoded:
    import rawpy

    from desktop_app.core.imaging import colour

    space, gamma, icc = {
        "sRGB": (rawpy.ColorSpace.sRGB, (2.4, 12.92), colour.srgb_profile),
        "Adobe RGB": (rawpy.ColorSpace.Adobe, (563 / 256, 0.0), colour.adobe_rgb_profile),
        "linear sRGB": (rawpy.ColorSpace.sRGB, (1.0, 1.0), colour.linear_srgb_profile),
    }[options.colour_space]
    try:
        raw = rawpy.imread(io.BytesIO(data))
    except (rawpy.LibRawFileUnsupportedError, rawpy.LibRawIOError) as exc:
        raise FormatError("not a RAW file LibRaw can read") from exc
    with raw:
        sizes = raw.sizes
        if sizes.width * sizes.height > max_pixels:
            raise FormatError(f"{sizes.width}x{sizes.height} pixels is over the limit of "
                              f"{max_pixels / 1e6:g} megapixels")
        pixels = raw.postprocess(
            use_camera_wb=options.camera_white_balance,
            use_auto_wb=not options.camera_white_balance,
            output_color=space, output_bps=16,
            gamma=gamma,  # the space's own curve, to go with the profile attached below
            no_auto_bright=options.auto_bright_clip <= 0,
            auto_bright_thr=max(options.auto_bright_clip, 1e-6),
            half_size=options.half_size,
            demosaic_algorithm=rawpy.DemosaicAlgorithm.PPG,  # darktable's default; AHD is 2.7x slower
            user_flip=None,  # the camera's orientation
        )
        description = raw.color_desc.decode(errors="replace")
    notes = [f"RAW developed by LibRaw ({description} sensor) to 16-bit {options.colour_space}"]
    from desktop_app.core.imaging import metadata

    return Decoded(pixels, "RAW", 16, "RAW", metadata.exif_from_raw(data), icc(),
                   metadata.xmp_of(data), notes)


def _ext(path: str | os.PathLike) -> str:
    return os.path.splitext(os.fspath(path))[1].lower()


# --- a synthetic DNG -------------------------------------------------------------------------

# XYZ (D65) -> linear sRGB: as a DNG ColorMatrix it makes the "camera" see linear sRGB.
_XYZ_TO_LINEAR_SRGB = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415),
                       (0.0557, -0.2040, 1.0570))


def synthetic_dng(scene: np.ndarray, *, orientation: int = 1, neutral=(0.5, 1.0, 0.8),
                  exif: dict[str, str] | None = None, noise: float = 0.0, seed: int = 0) -> bytes:
    """A small valid DNG (12-bit RGGB Bayer) of `scene` (H x W x 3 linear sRGB in [0, 1]), for
    the tests, the self-test and the benchmark: no camera file can be shipped or downloaded.

    The sensor sees white as `neutral` (the as-shot white balance), so a developed grey is grey
    only when the camera's white balance is applied. `exif` adds Exiv2 keys and values
    (e.g. {"Exif.Photo.ISOSpeedRatings": "800"}); `noise` adds Gaussian noise (sensor units / 4095).
    """
    import tifffile

    height, width = scene.shape[:2]
    camera = np.asarray(scene, np.float32) * np.float32(neutral)
    mosaic = np.empty((height, width), np.float32)
    mosaic[0::2, 0::2] = camera[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = camera[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = camera[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = camera[1::2, 1::2, 2]
    black, white = 256, 4095
    values = black + mosaic * (white - black)
    if noise:
        values += np.random.default_rng(seed).normal(0.0, noise * white, values.shape)
    sensor = np.clip(np.rint(values), 0, white).astype(np.uint16)

    def rationals(numbers, scale=10000):
        return [v for n in numbers for v in (int(round(n * scale)), scale)]

    tags = [
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: R G / G B
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50708, "s", 0, "PhotoRetouch Synthetic", True),  # UniqueCameraModel
        (50721, "2i", 9, rationals([v for row in _XYZ_TO_LINEAR_SRGB for v in row]), True),
        (50728, "2I", 3, rationals(neutral), True),  # AsShotNeutral
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
        (50714, "H", 1, black, True),  # BlackLevel
        (50717, "H", 1, white, True),  # WhiteLevel
        (274, "H", 1, orientation, True),
        (271, "s", 0, "PhotoRetouch", True),
        (272, "s", 0, "Synthetic", True),
    ]
    out = io.BytesIO()
    tifffile.imwrite(out, sensor, photometric=32803, extratags=tags, metadata=None,
                     software=False)
    data = out.getvalue()
    if exif:
        from desktop_app.core.imaging.metadata import _open

        image = _open(data)
        exif_data = image.exifData()
        for key, value in exif.items():
            exif_data[key] = value
        image.writeMetadata()
        data = bytes(image.io().data())
    return data
