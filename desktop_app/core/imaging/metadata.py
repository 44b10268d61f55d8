"""What a photo carries besides its pixels (`ImageMeta`), and how each block survives a load
and a save.

EXIF is handled on its bytes: Orientation is reset to 1 in place (`reset_orientation`), because
loaded pixels are turned upright; a TIFF's first IFD is split into EXIF and pixel layout on
loading (`exif_of`) and merged back on saving (`tiff_with_exif`). An ICC profile is kept only
where its colour space fits the pixels (`icc_matching`).

XMP and IPTC (captions, keywords, ratings, copyright) go through Exiv2, as does the EXIF of RAW
files. Exiv2 is what darktable, digiKam and GIMP use for these blocks. It works here on bytes in
memory: a file is encoded as usual (`encoding`), then `embed` adds the blocks it came with.
Exiv2 writes XMP into JPEG, PNG, TIFF and WebP and IPTC into JPEG, PNG and TIFF; HEIF and AVIF
get their XMP from their encoders, and no IPTC (Exiv2 reads those containers only).

IPTC is held as a list of (key, text) pairs, e.g. ("Iptc.Application2.Keywords", "beach"),
repeated keys in order, so it survives a JSON round trip (crash recovery) unchanged.
"""

from __future__ import annotations

import io
import logging
import re
import struct
from dataclasses import dataclass, field
from typing import Iterable

from PIL import Image, TiffImagePlugin

log = logging.getLogger(__name__)

EXIF_HEADER = b"Exif\x00\x00"
ORIENTATION = 0x0112
_EXIF_IFD, _GPS_IFD, _INTEROP_IFD = 0x8769, 0x8825, 0xA005
# Tags of a TIFF's first IFD that describe its pixel layout (owned by whichever encoder writes
# the file) or are separate metadata blocks we do not carry (XMP, IPTC, Photoshop): never EXIF.
_NOT_EXIF_TAGS = frozenset({
    254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 292, 293,
    317, 320, 322, 323, 324, 325, 330, 338, 339, 340, 341, 347, 513, 514, 529, 530, 531, 532,
    700, 33723, 34377, 34675, 37724,
})


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
    xmp: bytes | None = None  # the XMP packet, carried as is (see `embed`)
    iptc: list[tuple[str, str]] = field(default_factory=list)  # (key, text) pairs, in order
    camera: dict[str, str] = field(default_factory=dict)  # camera, lens, iso, exposure, ...


# --- EXIF ------------------------------------------------------------------------------------


def exif_of(image: Image.Image, fmt: str) -> tuple[bytes | None, int]:
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
        if ORIENTATION in exif:
            exif[ORIENTATION] = 1
        raw = exif.tobytes() if len(exif) else None
    else:
        raw = image.info.get("exif") or None
        if raw is not None:
            raw = bytearray(raw if raw.startswith(EXIF_HEADER) else EXIF_HEADER + raw)
            orientation = reset_orientation(raw, len(EXIF_HEADER))
            raw = bytes(raw)
    return raw, orientation


def save_options(icc: bytes | None, exif: bytes | None, xmp: bytes | None) -> dict:
    """The metadata a save embeds, under the option names Pillow and pillow-heif share; what
    is missing is left out."""
    return {key: value for key, value in (("icc_profile", icc), ("exif", exif), ("xmp", xmp)) if value}


def reset_orientation(buffer: bytearray | np.ndarray, start: int) -> int:
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
            if tag == ORIENTATION and kind == 3:  # SHORT, stored in the entry itself
                value_at = entry + (12 if big else 8)
                (old,) = struct.unpack_from(order + "H", buffer, value_at)
                struct.pack_into(order + "H", buffer, value_at, 1)
                return old
    except (KeyError, struct.error):
        pass
    return 1


def upright_exif(exif: bytes) -> bytes:
    # Saved pixels are upright, so a stale Orientation would make viewers turn them again.
    raw = bytearray(exif if exif.startswith(EXIF_HEADER) else EXIF_HEADER + exif)
    reset_orientation(raw, len(EXIF_HEADER))
    return bytes(raw)


def tiff_with_exif(tiff: bytes, exif: bytes) -> bytes:
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


# --- ICC profile -----------------------------------------------------------------------------


def icc_matching(icc: bytes | None, channels: int) -> bytes | None:
    # Header bytes 16-19 name the profile's colour space; a mismatch makes viewers misrender.
    if not icc or len(icc) < 20:
        return None
    wanted = b"GRAY" if channels == 1 else b"RGB "
    return icc if icc[16:20] == wanted else None


# --- XMP and IPTC, through Exiv2 ---------------------------------------------------------------

IptcPairs = list[tuple[str, str]]
# Of a RAW's first IFD only these describe the photo; the rest is the sensor layout, and
# maker-note and sub-image groups point into the RAW file itself.
_RAW_IMAGE_TAGS = {"Make", "Model", "DateTime", "Artist", "Copyright", "ImageDescription", "Software"}
_RAW_GROUPS = {"Photo", "GPSInfo", "Iop"}
_DROPPED_PHOTO_TAGS = {"MakerNote", "InteroperabilityTag"}
_quiet = False
# tiff:Orientation as an attribute (tiff:Orientation="6") or an element (<tiff:Orientation>6<)
_UPRIGHT = re.compile(r'(tiff:Orientation\s*=\s*["\']|<tiff:Orientation>)\s*\d')


def _exiv2():
    global _quiet
    import exiv2

    if not _quiet:  # Exiv2 logs warnings about odd files to stderr by itself
        exiv2.LogMsg.setLevel(exiv2.LogMsg.Level.mute)
        _quiet = True
    return exiv2


def _open(data: bytes):
    exiv2 = _exiv2()
    image = exiv2.ImageFactory.open(data)
    image.readMetadata()
    return image


def read_extra(data: bytes) -> tuple[bytes | None, IptcPairs]:
    """The XMP packet (bytes) and IPTC pairs of an encoded file; (None, []) when it has none
    or Exiv2 does not know the format."""
    try:
        image = _open(data)
        packet = image.xmpPacket() or None
        iptc = [(d.key(), d.toString()) for d in image.iptcData()]
    except Exception as exc:  # noqa: BLE001 - metadata is a bonus; the pixels still load
        log.debug("no XMP/IPTC read: %s", exc)
        return None, []
    return (packet.encode() if packet else None), iptc


def xmp_of(data: bytes) -> bytes | None:
    return read_extra(data)[0]


def upright_xmp(xmp: bytes | None) -> bytes | None:
    """The packet with tiff:Orientation set to 1: saved pixels are upright, and encoders
    (libheif, libavif) would otherwise turn a HEIC or AVIF by a stale XMP orientation."""
    if not xmp:
        return None
    return _UPRIGHT.sub(lambda m: m.group(1) + "1", xmp.decode("utf-8", errors="replace")).encode()


def embed(data: bytes, xmp: bytes | None, iptc: Iterable[tuple[str, str]] | None) -> bytes:
    """`data` (an encoded JPEG, PNG, TIFF or WebP) with the XMP packet (as given: see
    `upright_xmp`) and the IPTC pairs added. Blocks Exiv2 refuses are left out (logged):
    better the photo without them than no photo."""
    iptc = list(iptc or [])
    if not xmp and not iptc:
        return data
    try:
        exiv2 = _exiv2()
        image = _open(data)
        if xmp:
            image.setXmpPacket(xmp.decode("utf-8", errors="replace"))
            image.writeXmpFromPacket(True)  # the packet as it is, not re-serialised
        if iptc:
            iptc_data = exiv2.IptcData()
            for key, value in iptc:
                iptc_data.add(exiv2.IptcKey(key), exiv2.StringValue(value))
            image.setIptcData(iptc_data)
        image.writeMetadata()
        return bytes(image.io().data())
    except Exception as exc:  # noqa: BLE001
        log.warning("XMP/IPTC left out of the saved file: %s", exc)
        return data


def exif_from_raw(data: bytes) -> bytes | None:
    """The EXIF that describes a RAW photo (camera, lens, exposure, date, GPS), as a JPEG's
    APP1 block ("Exif\\0\\0" + TIFF), with the orientation the developed pixels already have."""
    try:
        exiv2 = _exiv2()
        source = _open(data)
        kept = exiv2.ExifData()
        for datum in source.exifData():
            group, name = datum.groupName(), datum.tagName()
            if (group == "Image" and name in _RAW_IMAGE_TAGS) or (
                    group in _RAW_GROUPS and name not in _DROPPED_PHOTO_TAGS):
                kept.add(datum)
        if not kept.count():
            return None
        # Let Exiv2 serialise the tags into an empty JPEG, then take its APP1 block.
        blank = io.BytesIO()
        Image.new("RGB", (8, 8)).save(blank, "JPEG")
        target = exiv2.ImageFactory.open(blank.getvalue())
        target.setExifData(kept)
        target.writeMetadata()
        with Image.open(io.BytesIO(bytes(target.io().data()))) as jpeg:
            exif = jpeg.info.get("exif")
    except Exception as exc:  # noqa: BLE001 - a RAW without readable EXIF still develops
        log.debug("no EXIF read from the RAW: %s", exc)
        return None
    return exif or None


def camera_summary(exif: bytes | None) -> dict[str, str]:
    """Camera, lens, ISO, exposure, aperture and focal length, as a user reads them."""
    if not exif:
        return {}

    tags = Image.Exif()
    try:
        tags.load(exif)
        sub = tags.get_ifd(0x8769)
    except Exception:  # noqa: BLE001 - damaged EXIF: no summary
        return {}
    out = {}
    make, model = str(tags.get(271, "")).strip(" \0"), str(tags.get(272, "")).strip(" \0")
    if model:
        out["camera"] = model if make and model.startswith(make.split()[0]) else f"{make} {model}".strip()
    if sub.get(42036):
        out["lens"] = str(sub[42036]).strip(" \0")
    if sub.get(34855):
        iso = sub[34855]
        out["iso"] = str(iso[0] if isinstance(iso, tuple) else iso)
    if sub.get(33434):
        t = float(sub[33434])
        out["exposure"] = f"1/{round(1 / t)} s" if 0 < t < 0.5 else f"{t:g} s"
    if sub.get(33437):
        out["aperture"] = f"f/{float(sub[33437]):.1f}"
    if sub.get(37386):
        out["focal_length"] = f"{float(sub[37386]):g} mm"
    return out
