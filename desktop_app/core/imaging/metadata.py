"""XMP and IPTC (captions, keywords, ratings, copyright) through Exiv2, and the EXIF of RAW files.

Exiv2 is what darktable, digiKam and GIMP use for these blocks. It works here on bytes in
memory: `io` encodes a file as usual, then `embed` adds the blocks the photo came with.
Exiv2 writes XMP into JPEG, PNG, TIFF and WebP and IPTC into JPEG, PNG and TIFF; HEIF and AVIF
get their XMP from their encoders (`io`), and no IPTC (Exiv2 reads those containers only).

IPTC is held as a list of (key, text) pairs, e.g. ("Iptc.Application2.Keywords", "beach"),
repeated keys in order, so it survives a JSON round trip (crash recovery) unchanged.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Iterable

log = logging.getLogger(__name__)

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
        from PIL import Image

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
    from PIL import Image

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
