"""Phone and camera files: HEIC/HEIF and AVIF in and out, RAW in (a DNG the tests write), and
XMP / IPTC kept across every format that carries them."""

from __future__ import annotations

import io

import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageCms

from desktop_app.core.imaging import formats, metadata
from desktop_app.core.imaging.formats import RawOptions, synthetic_dng
from desktop_app.core.imaging.io import (
    OPEN_FILTER,
    SAVE_FILTER,
    ImageFileError,
    ImageMeta,
    load_image,
    save_image,
)
from tests.conftest import REPO

ORIENTATION = 0x0112
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
       b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
       b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
       b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmp:Rating="4" tiff:Orientation="6">'
       b'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">Gulls at dawn</rdf:li></rdf:Alt>'
       b'</dc:description><dc:subject><rdf:Bag><rdf:li>beach</rdf:li><rdf:li>birds</rdf:li>'
       b'</rdf:Bag></dc:subject><dc:rights><rdf:Alt><rdf:li xml:lang="x-default">(c) A. Photographer'
       b'</rdf:li></rdf:Alt></dc:rights></rdf:Description></rdf:RDF></x:xmpmeta>')
IPTC = [("Iptc.Application2.Caption", "Gulls at dawn"), ("Iptc.Application2.Keywords", "beach"),
        ("Iptc.Application2.Keywords", "birds"), ("Iptc.Application2.Copyright", "(c) A. Photographer")]


def gradient(height: int = 48, width: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = x / (width - 1), y / (height - 1)
    return np.stack([u, v, 0.25 + 0.5 * u], axis=2).astype(np.float32)


def camera_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[ORIENTATION] = "Canon", "Canon EOS R5", orientation
    exif.get_ifd(0x8769)[0x8827] = 400  # ISO
    return exif.tobytes()


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def orientation_of(meta: ImageMeta) -> int:
    exif = Image.Exif()
    exif.load(meta.exif)
    return exif.get(ORIENTATION, 1)


# --- HEIC / AVIF -----------------------------------------------------------------------------


@pytest.mark.parametrize("ext, bit_depth, loaded_depth, tolerance", [
    (".heic", 8, 8, 0.02), (".heic", 16, 16, 0.02), (".heif", 8, 8, 0.02), (".avif", 8, 8, 0.02),
])
def test_phone_formats_round_trip_pixels_exif_icc_and_xmp(tmp_path, ext, bit_depth, loaded_depth, tolerance):
    image, icc = gradient(), srgb_icc()
    meta = ImageMeta(exif=camera_exif(orientation=6), icc_profile=icc, xmp=XMP)
    path = tmp_path / f"phone{ext}"
    save_image(path, image, meta, bit_depth=bit_depth)
    pixels, loaded = load_image(path)
    assert pixels.shape == image.shape  # pixels were upright: no orientation applied twice
    assert np.abs(pixels - image).mean() < tolerance
    assert loaded.bit_depth == loaded_depth
    assert loaded.icc_profile == icc
    assert loaded.camera["camera"] == "Canon EOS R5" and loaded.camera["iso"] == "400"
    assert orientation_of(loaded) == 1
    assert b"Gulls at dawn" in loaded.xmp


def test_ten_bit_heic_keeps_more_than_eight_bits(tmp_path):
    ramp = np.repeat(np.linspace(0.3, 0.302, 256, dtype=np.float32)[None, :, None], 64, axis=0)
    image = np.repeat(ramp, 3, axis=2)  # 0.002 over the row: 0.5 steps at 8 bits, 2 at 10
    save_image(tmp_path / "ten.heic", image, ImageMeta(bit_depth=16), jpeg_quality=100)
    pixels, meta = load_image(tmp_path / "ten.heic")
    assert meta.bit_depth == 16 and meta.source_mode == "RGB;10"
    levels = np.unique(np.rint(pixels[32, :, 1] * 1023))
    assert len(levels) >= 2  # 8 bits would hold one level (76/255 = 0.298 .. 77/255 = 0.302)
    assert np.abs(pixels - image).max() < 0.01


def test_heic_from_a_phone_is_turned_upright(tmp_path):
    # A phone stores the turn as a HEIF transform (libheif writes one from EXIF orientation 6).
    image = np.zeros((32, 48, 3), np.uint8)
    image[:16, :24] = 255  # top-left white
    heif = pillow_heif.from_bytes(mode="RGB", size=(48, 32), data=image.tobytes())
    heif.save(tmp_path / "turned.heic", quality=95, exif=camera_exif(orientation=6))
    pixels, meta = load_image(tmp_path / "turned.heic")
    assert pixels.shape == (48, 32, 3)  # turned a quarter clockwise: top-left went top-right
    assert pixels[:24, 16:].mean() > 0.9 and pixels[:24, :16].mean() < 0.1
    assert orientation_of(meta) == 1


def test_heic_with_alpha_and_grey(tmp_path):
    rgba = np.concatenate([gradient(), np.full((48, 64, 1), 0.5, np.float32)], axis=2)
    save_image(tmp_path / "a.heic", rgba, ImageMeta())
    pixels, _ = load_image(tmp_path / "a.heic")
    assert pixels.shape == (48, 64, 4) and abs(pixels[..., 3].mean() - 0.5) < 0.02
    save_image(tmp_path / "g.heic", gradient()[..., :1], ImageMeta())
    pixels, _ = load_image(tmp_path / "g.heic")
    assert np.abs(pixels[..., 0] - gradient()[..., 0]).mean() < 0.02


def test_damaged_heic_is_one_clear_error(tmp_path):
    save_image(tmp_path / "ok.heic", gradient(), ImageMeta())
    data = (tmp_path / "ok.heic").read_bytes()
    (tmp_path / "cut.heic").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageFileError, match="cut.heic: "):
        load_image(tmp_path / "cut.heic")


# --- RAW -------------------------------------------------------------------------------------


def scene() -> np.ndarray:
    """Linear light: 18 % grey with a red block top-left and a white block bottom-right."""
    image = np.full((40, 60, 3), 0.18, np.float32)
    image[:20, :30] = (0.5, 0.05, 0.05)
    image[30:, 45:] = (0.9, 0.9, 0.9)
    return image


RAW_EXIF = {"Exif.Photo.ISOSpeedRatings": "3200", "Exif.Photo.ExposureTime": "1/250",
            "Exif.Photo.FNumber": "28/10", "Exif.Photo.LensModel": "RF 50mm F1.8 STM",
            "Exif.Photo.FocalLength": "50/1"}


def test_raw_opens_developed_upright_with_camera_white_balance(tmp_path):
    path = tmp_path / "IMG_0001.dng"
    path.write_bytes(synthetic_dng(scene(), orientation=6, exif=RAW_EXIF))
    pixels, meta = load_image(path)
    assert pixels.shape == (60, 40, 3)  # orientation 6: a quarter turn clockwise
    assert meta.format == "RAW" and meta.bit_depth == 16
    grey, red = pixels[45, 10], pixels[10, 30]  # red block is now top-right
    assert np.ptp(grey) < 0.01  # the as-shot white balance makes grey grey
    assert red[0] > 2 * red[1] and abs(red[1] - red[2]) < 0.02
    assert meta.icc_profile is not None and b"sRGB" in ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(meta.icc_profile))).encode()
    assert meta.camera == {"camera": "PhotoRetouch Synthetic", "lens": "RF 50mm F1.8 STM",
                           "iso": "3200", "exposure": "1/250 s", "aperture": "f/2.8",
                           "focal_length": "50 mm"}
    assert orientation_of(meta) == 1


def test_a_real_camera_dng_opens_in_the_colours_of_its_own_preview():
    """A phone's DNG (tests/data/raw, Skia's sample): developed as the camera saw it, its
    colours (a*b*, brightness left out: tone curves differ) within a few delta E of the JPEG
    preview the camera embedded. Measured 6.7; a lost white balance gives 20 and more."""
    import cv2
    import rawpy

    path = REPO / "tests" / "data" / "raw" / "lg-h815.dng"
    pixels, meta = load_image(path)
    assert pixels.shape == (338, 600, 3) and meta.format == "RAW" and meta.bit_depth == 16
    assert meta.camera.get("camera") == "LG-H815"
    with rawpy.imread(str(path)) as raw:
        preview = cv2.imdecode(np.frombuffer(raw.extract_thumb().data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    small = cv2.resize(pixels.astype(np.float32), preview.shape[1::-1], interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(np.clip(small, 0, 1), cv2.COLOR_RGB2Lab)
    want = cv2.cvtColor(preview.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    assert np.sqrt(((lab[..., 1:] - want[..., 1:]) ** 2).sum(axis=2)).mean() < 10


def test_raw_tone_curve_is_srgb_without_auto_exposure():
    decoded = formats.decode("RAW", synthetic_dng(scene()), 10**9, RawOptions(auto_bright_clip=0))
    grey = decoded.pixels[35, 5] / 65535
    expected = 1.055 * 0.18 ** (1 / 2.4) - 0.055  # 18 % grey in sRGB: 0.46
    assert np.abs(grey - expected).max() < 0.03


def test_raw_is_never_written_and_save_proposes_a_tiff(tmp_path):
    assert formats.save_suggestion(tmp_path / "IMG_0001.CR2") == tmp_path / "IMG_0001-edited.tif"
    assert formats.save_suggestion(tmp_path / "a.heic") == tmp_path / "a-edited.heic"
    with pytest.raises(ImageFileError, match="unknown file type"):
        save_image(tmp_path / "out.dng", gradient())
    pixels, meta = load_image(_write(tmp_path / "x.nef", synthetic_dng(scene())))
    save_image(tmp_path / "x-edited.tif", pixels, meta)
    again, saved = load_image(tmp_path / "x-edited.tif")
    assert saved.bit_depth == 16 and np.abs(again - pixels).max() < 1e-4
    assert saved.camera["camera"] == "PhotoRetouch Synthetic"


def test_raw_over_the_pixel_limit_and_damaged_raw(tmp_path):
    path = _write(tmp_path / "big.dng", synthetic_dng(scene()))
    with pytest.raises(ImageFileError, match="over the limit"):
        load_image(path, max_pixels=1000)
    with pytest.raises(ImageFileError, match="bad.cr2: "):
        load_image(_write(tmp_path / "bad.cr2", b"not a raw file at all" * 50))


def test_filters_offer_raw_for_opening_only():
    assert "*.cr2" in OPEN_FILTER and "*.dng" in OPEN_FILTER and "*.heic" in OPEN_FILTER
    assert "*.cr2" not in SAVE_FILTER and "*.heic" in SAVE_FILTER and "*.avif" in SAVE_FILTER


# --- XMP / IPTC ------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".jpg", ".png", ".tif", ".webp", ".heic", ".avif"])
def test_xmp_round_trip(tmp_path, ext):
    save_image(tmp_path / f"a{ext}", gradient(), ImageMeta(xmp=XMP, iptc=IPTC))
    _, first = load_image(tmp_path / f"a{ext}")
    # through a second save (the first file's metadata, as the app does on Save)
    save_image(tmp_path / f"b{ext}", gradient(), first)
    _, meta = load_image(tmp_path / f"b{ext}")
    values = _xmp_values(meta.xmp)
    assert values["Xmp.dc.description"] == 'lang="x-default" Gulls at dawn'
    assert values["Xmp.dc.subject"] == "beach, birds"
    assert values["Xmp.xmp.Rating"] == "4"
    assert values["Xmp.dc.rights"] == 'lang="x-default" (c) A. Photographer'
    if ext in (".jpg", ".png", ".tif"):
        assert meta.iptc == IPTC
        assert values["Xmp.tiff.Orientation"] == "1"  # pixels are saved upright


def test_iptc_survives_crash_recovery_json(tmp_path):
    from desktop_app.core.document.recovery import _meta_from_json, _meta_to_json
    import json

    meta = _meta_from_json(json.loads(json.dumps(_meta_to_json(ImageMeta(xmp=XMP, iptc=IPTC)))))
    save_image(tmp_path / "r.jpg", gradient(), meta)
    assert load_image(tmp_path / "r.jpg")[1].iptc == IPTC


def _xmp_values(packet: bytes) -> dict[str, str]:
    image = metadata._open(_jpeg_with_xmp(packet))
    return {d.key(): d.toString() for d in image.xmpData()}


def _jpeg_with_xmp(packet: bytes) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "JPEG", xmp=packet)
    return out.getvalue()


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


# --- colour-managed display ------------------------------------------------------------------

ADOBE_TO_XYZ = np.array([[0.5767309, 0.1855540, 0.1881852], [0.2973769, 0.6273491, 0.0752741],
                         [0.0270343, 0.0706872, 0.9911085]])
SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])


def srgb_to_adobe_by_formula(srgb: np.ndarray) -> np.ndarray:
    """The published matrices and curves, independent of LittleCMS: the reference."""
    lin = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    adobe_lin = lin @ (np.linalg.inv(ADOBE_TO_XYZ) @ SRGB_TO_XYZ).T
    return np.clip(adobe_lin, 0, 1) ** (1 / 2.19921875)


def test_display_conversion_of_adobe_rgb_matches_the_reference():
    from desktop_app.core.imaging.colour import DisplayTransform, adobe_rgb_profile, srgb_profile

    rng = np.random.default_rng(3)
    srgb = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    adobe = np.rint(srgb_to_adobe_by_formula(srgb / 255.0) * 255).astype(np.uint8)
    shown = np.concatenate([adobe, np.full((32, 32, 1), 77, np.uint8)], axis=2)  # with alpha
    DisplayTransform.for_profile(adobe_rgb_profile()).apply(shown)
    difference = np.abs(shown[..., :3].astype(int) - srgb)
    # 8-bit rounding twice; near black, Adobe RGB's pure gamma holds fewer steps than sRGB's toe
    assert difference.mean() < 0.6 and difference[(srgb >= 48).all(axis=2)].max() <= 3
    assert (shown[..., 3] == 77).all()
    assert np.abs(adobe.astype(int) - srgb).mean() > 5  # shown unconverted, it would look off
    # nothing to do for untagged, sRGB-tagged or grey pictures
    assert DisplayTransform.for_profile(None) is None
    assert DisplayTransform.for_profile(srgb_profile()) is None
    assert DisplayTransform.for_profile(ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()) is None


@pytest.mark.parametrize("space", ["Adobe RGB", "linear sRGB"])
def test_raw_in_a_wide_or_linear_space_means_the_same_colours(space):
    from desktop_app.core.imaging.colour import DisplayTransform

    data = synthetic_dng(scene())
    reference = formats.decode("RAW", data, 10**9, RawOptions(auto_bright_clip=0))
    other = formats.decode("RAW", data, 10**9, RawOptions(colour_space=space, auto_bright_clip=0))
    assert b"sRGB" not in other.icc[:200] and other.notes[0].endswith(space)
    shown = (other.pixels // 257).astype(np.uint8)  # as the canvas gets it: 8 bits, then converted
    DisplayTransform.for_profile(other.icc).apply(shown)
    expected = reference.pixels / 257
    for y, x in ((35, 5), (10, 10), (35, 50)):  # grey, red, white patches
        assert np.abs(shown[y, x] - expected[y, x]).max() < 4, (y, x, shown[y, x], expected[y, x])


def test_raw_defaults_are_a_preference():
    before = formats.raw_defaults()
    try:
        formats.set_raw_defaults(RawOptions(colour_space="Adobe RGB"))
        assert formats.decode("RAW", synthetic_dng(scene()), 10**9).notes[0].endswith("Adobe RGB")
        with pytest.raises(ValueError):
            formats.set_raw_defaults(RawOptions(colour_space="CMYK"))
    finally:
        formats.set_raw_defaults(before)
