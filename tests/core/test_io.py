"""Image files in and out: pixels, bit depth, metadata, and every way a file can be bad."""

from __future__ import annotations

import errno
import io
import os
import struct
import zlib

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps

from desktop_app.core.imaging import files
from desktop_app.core.imaging.convert import to_uint8, to_uint16
from desktop_app.core.imaging.io import (
    OPEN_FILTER,
    SAVE_FILTER,
    SUPPORTED_EXTENSIONS,
    ImageFileError,
    ImageMeta,
    load_image,
    load_mask,
    save_image,
    save_mask,
)

MAKE, MODEL, DATETIME_ORIGINAL, GPS_LATITUDE = 0x010F, 0x0110, 0x9003, 0x0002
EXIF_IFD, GPS_IFD, ORIENTATION = 0x8769, 0x8825, 0x0112


# --- synthetic inputs ------------------------------------------------------------------------


def gradient(height: int = 24, width: int = 32, channels: int = 3) -> np.ndarray:
    """Smooth float image (lossy codecs stay close) with distinct channels."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = x / (width - 1), y / (height - 1)
    planes = [u, v, (u + v) / 2, 0.25 + 0.5 * u]
    return np.stack(planes[:channels], axis=2).astype(np.float32)


def noise16(height: int = 12, width: int = 16, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(16)
    return rng.integers(0, 65536, (height, width, channels), dtype=np.uint16)


def quadrants() -> np.ndarray:
    """6 x 4 RGB: red top-left, green top-right, blue bottom-left, white bottom-right."""
    image = np.zeros((6, 4, 3), np.uint8)
    image[:3, :2] = (255, 0, 0)
    image[:3, 2:] = (0, 255, 0)
    image[3:, :2] = (0, 0, 255)
    image[3:, 2:] = (255, 255, 255)
    return image


@pytest.fixture(scope="module")
def icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[MAKE] = "Acme"
    exif[MODEL] = "Pocket 3000"
    exif[ORIENTATION] = orientation
    exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = "2024:05:06 07:08:09"
    exif.get_ifd(GPS_IFD)[GPS_LATITUDE] = (48.0, 51.0, 24.0)
    return exif.tobytes()


def parsed(exif: bytes | None) -> Image.Exif:
    assert exif is not None, "EXIF was lost"
    result = Image.Exif()
    result.load(exif)
    return result


def assert_camera_exif(exif: bytes | None) -> None:
    tags = parsed(exif)
    assert tags[MAKE] == "Acme"
    assert tags[MODEL] == "Pocket 3000"
    assert tags.get(ORIENTATION, 1) == 1
    assert tags.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] == "2024:05:06 07:08:09"
    assert tuple(float(v) for v in tags.get_ifd(GPS_IFD)[GPS_LATITUDE]) == (48.0, 51.0, 24.0)


def png_with_exif(png: bytes, exif: bytes) -> bytes:
    body = exif[len(b"Exif\x00\x00"):]
    crc = zlib.crc32(b"eXIf" + body)
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body + struct.pack(">I", crc)
    return png[:33] + chunk + png[33:]


def files_in(folder) -> list[str]:
    return sorted(os.listdir(folder))


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ext, channels",
    [(ext, channels) for ext in (".png", ".tif", ".tiff") for channels in (1, 3, 4)]
    + [(".bmp", 1), (".bmp", 3)],
)
def test_lossless_8bit_round_trip_is_exact(tmp_path, ext, channels):
    pixels = gradient(channels=channels)
    save_image(tmp_path / f"out{ext}", pixels)
    loaded, meta = load_image(tmp_path / f"out{ext}")
    assert loaded.dtype == np.float32 and loaded.shape == pixels.shape
    assert np.array_equal(to_uint8(loaded), to_uint8(pixels))
    assert meta.bit_depth == 8 and (meta.width, meta.height) == (32, 24)
    assert meta.exif is None and meta.icc_profile is None and meta.notes == []


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".webp"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_lossy_round_trip_is_close(tmp_path, ext, channels):
    pixels = gradient(channels=channels)
    save_image(tmp_path / f"out{ext}", pixels, jpeg_quality=95)
    loaded, meta = load_image(tmp_path / f"out{ext}")
    expected = pixels
    if ext != ".webp" and channels == 4:
        expected = pixels[:, :, :3]  # JPEG has no alpha
    if ext == ".webp" and channels == 1:
        expected = np.repeat(pixels, 3, axis=2)  # WebP has no greyscale
    assert loaded.shape == expected.shape
    assert np.abs(loaded - expected).mean() < 0.01
    assert meta.bit_depth == 8


@pytest.mark.parametrize("ext", [".png", ".tif"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_png_and_tiff_keep_all_16_bits(tmp_path, ext, channels):
    values = noise16(channels=channels)
    assert np.any(values % 257 != 0)  # values an 8-bit round trip could not reproduce
    save_image(tmp_path / f"deep{ext}", values.astype(np.float32) / 65535.0, bit_depth=16)
    loaded, meta = load_image(tmp_path / f"deep{ext}")
    assert meta.bit_depth == 16
    assert loaded.shape == values.shape
    assert np.array_equal(to_uint16(loaded), values)
    # Saving again with the loaded meta keeps 16 bits without being asked.
    save_image(tmp_path / f"again{ext}", loaded, meta)
    again, again_meta = load_image(tmp_path / f"again{ext}")
    assert again_meta.bit_depth == 16 and np.array_equal(to_uint16(again), values)


@pytest.mark.parametrize("ext", [".jpg", ".webp", ".bmp"])
def test_16bit_meta_saved_to_8bit_only_format_writes_8_bits(tmp_path, ext):
    save_image(tmp_path / f"out{ext}", gradient(), ImageMeta(bit_depth=16))
    _, meta = load_image(tmp_path / f"out{ext}")
    assert meta.bit_depth == 8


def test_alpha_is_dropped_for_jpeg_and_bmp(tmp_path):
    pixels = gradient(channels=4)
    for name in ("out.jpg", "out.bmp"):
        save_image(tmp_path / name, pixels)
        loaded, _ = load_image(tmp_path / name)
        assert loaded.shape == (24, 32, 3)
        assert np.abs(loaded - pixels[:, :, :3]).mean() < 0.01  # colours kept, only alpha gone


def test_16bit_grey_png_written_by_pillow_is_read_exactly(tmp_path):
    values = (np.arange(12 * 16, dtype=np.uint16).reshape(12, 16) * 301 + 7)
    Image.fromarray(values).save(tmp_path / "grey16.png")  # mode I;16
    loaded, meta = load_image(tmp_path / "grey16.png")
    assert loaded.shape == (12, 16, 1) and meta.bit_depth == 16
    assert np.array_equal(to_uint16(loaded)[:, :, 0], values)


# --- source modes ----------------------------------------------------------------------------


def test_palette_with_transparency_becomes_rgba(tmp_path):
    image = Image.new("P", (4, 2))
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putdata([0, 1, 0, 1, 1, 0, 1, 0])
    image.save(tmp_path / "pal.png", transparency=1)
    loaded, meta = load_image(tmp_path / "pal.png")
    assert loaded.shape == (2, 4, 4) and meta.source_mode == "P"
    assert to_uint8(loaded)[0, 0].tolist() == [255, 0, 0, 255]
    assert to_uint8(loaded)[0, 1, 3] == 0  # the transparent entry


def test_palette_without_transparency_becomes_rgb(tmp_path):
    image = Image.new("P", (4, 2))
    image.putpalette([10, 200, 30] + [0] * 765)
    image.save(tmp_path / "pal.png")
    loaded, _ = load_image(tmp_path / "pal.png")
    assert loaded.shape == (2, 4, 3)
    assert to_uint8(loaded)[1, 3].tolist() == [10, 200, 30]


@pytest.mark.parametrize("name", ["cmyk.jpg", "cmyk.tif"])
def test_cmyk_becomes_rgb_with_a_note(tmp_path, name):
    Image.new("CMYK", (8, 6), (255, 0, 0, 0)).save(tmp_path / name)  # pure cyan ink
    loaded, meta = load_image(tmp_path / name)
    assert loaded.shape == (6, 8, 3) and meta.source_mode == "CMYK"
    assert np.allclose(loaded[3, 4], [0.0, 1.0, 1.0], atol=0.02)
    assert any("CMYK converted to RGB" in note for note in meta.notes)
    assert meta.icc_profile is None  # a CMYK profile would be wrong for RGB pixels


def test_bilevel_becomes_grey(tmp_path):
    image = Image.new("1", (4, 4), 0)
    image.putpixel((1, 2), 1)
    image.save(tmp_path / "bw.png")
    loaded, meta = load_image(tmp_path / "bw.png")
    assert loaded.shape == (4, 4, 1) and meta.source_mode == "1"
    assert loaded[2, 1, 0] == 1.0 and loaded.sum() == 1.0


def test_grey_with_alpha_becomes_rgba(tmp_path):
    Image.new("LA", (3, 2), (100, 50)).save(tmp_path / "la.png")
    loaded, _ = load_image(tmp_path / "la.png")
    assert loaded.shape == (2, 3, 4)
    assert to_uint8(loaded)[0, 0].tolist() == [100, 100, 100, 50]


# --- orientation -----------------------------------------------------------------------------


def write_with_orientation(path, values: np.ndarray, orientation: int) -> None:
    """An RGB file whose pixels are stored as `values`, tagged with an EXIF orientation."""
    if path.suffix == ".tif":
        tag = (274, "H", 1, orientation, True)
        tifffile.imwrite(path, values, photometric="rgb", extratags=[tag])
    elif values.dtype == np.uint16:
        ok, encoded = cv2.imencode(".png", values[:, :, ::-1])
        path.write_bytes(png_with_exif(encoded.tobytes(), camera_exif(orientation)))
    else:
        Image.fromarray(values).save(path, exif=camera_exif(orientation))


@pytest.mark.parametrize("name", ["o.png", "o.tif"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_is_applied_once_like_a_viewer_does(tmp_path, name, dtype, orientation):
    stored = quadrants()
    with Image.fromarray(stored) as image:
        image.getexif()[ORIENTATION] = orientation
        expected = np.asarray(ImageOps.exif_transpose(image))  # what a viewer shows
    if dtype == np.uint16:  # 16-bit values that 8 bits cannot hold, mapped the same way
        stored, expected = (a.astype(np.uint16) * 256 + 7 for a in (stored, expected))
    write_with_orientation(tmp_path / name, stored, orientation)
    loaded, meta = load_image(tmp_path / name)
    assert meta.bit_depth == (16 if dtype == np.uint16 else 8)
    got = to_uint16(loaded) if dtype == np.uint16 else to_uint8(loaded)
    assert np.array_equal(got, expected)
    assert (meta.width, meta.height) == (expected.shape[1], expected.shape[0])
    if meta.exif is not None:
        assert parsed(meta.exif).get(ORIENTATION, 1) == 1


def test_jpeg_with_orientation_6_is_turned_upright(tmp_path):
    Image.fromarray(quadrants()).save(tmp_path / "phone.jpg", exif=camera_exif(6), quality=100)
    loaded, meta = load_image(tmp_path / "phone.jpg")
    assert loaded.shape == (4, 6, 3)  # 6 rows x 4 columns turned 90 degrees clockwise
    assert (meta.width, meta.height) == (6, 4)
    rgb = to_uint8(loaded).astype(int)
    assert np.abs(rgb[0, 0] - (0, 0, 255)).max() < 40  # blue (was bottom-left) now top-left
    assert np.abs(rgb[0, -1] - (255, 0, 0)).max() < 40  # red (was top-left) now top-right
    assert parsed(meta.exif)[ORIENTATION] == 1
    assert_camera_exif(meta.exif)
    # Saving does not turn it a second time.
    save_image(tmp_path / "again.jpg", loaded, meta)
    again, _ = load_image(tmp_path / "again.jpg")
    assert again.shape == (4, 6, 3)


# --- metadata through load -> save -> load ---------------------------------------------------


@pytest.mark.parametrize(
    "ext, bit_depth",
    [(".jpg", 8), (".png", 8), (".png", 16), (".tif", 8), (".tif", 16), (".webp", 8)],
)
def test_exif_and_icc_survive_load_save_load(tmp_path, icc, ext, bit_depth):
    first = tmp_path / f"first{ext}"
    meta = ImageMeta(exif=camera_exif(), icc_profile=icc)
    save_image(first, gradient(), meta, bit_depth=bit_depth)
    pixels, meta = load_image(first)
    assert meta.bit_depth == bit_depth
    assert_camera_exif(meta.exif)
    assert meta.icc_profile == icc
    save_image(tmp_path / f"second{ext}", pixels, meta)
    _, again = load_image(tmp_path / f"second{ext}")
    assert_camera_exif(again.exif)
    assert again.icc_profile == icc


def test_exif_survives_a_trip_through_every_metadata_format(tmp_path, icc):
    pixels, meta = gradient(), ImageMeta(exif=camera_exif(), icc_profile=icc)
    chain = [("a.jpg", 8), ("b.tif", 16), ("c.png", 16), ("d.webp", 8), ("e.tif", 8), ("f.jpg", 8)]
    for name, depth in chain:
        save_image(tmp_path / name, pixels, meta, bit_depth=depth)
        pixels, meta = load_image(tmp_path / name)
        assert_camera_exif(meta.exif)
        assert meta.icc_profile == icc, name


def test_jpeg_exif_is_kept_byte_for_byte(tmp_path):
    exif = camera_exif()
    Image.fromarray(quadrants()).save(tmp_path / "in.jpg", exif=exif)
    pixels, meta = load_image(tmp_path / "in.jpg")
    save_image(tmp_path / "out.jpg", pixels, meta)
    with Image.open(tmp_path / "out.jpg") as image:
        assert image.info["exif"] == exif


def test_saved_16bit_tiff_exif_is_standard(tmp_path, icc):
    """Another reader (tifffile) finds the EXIF sub-IFD and the ICC profile."""
    meta = ImageMeta(exif=camera_exif(), icc_profile=icc)
    save_image(tmp_path / "x.tif", gradient(), meta, bit_depth=16)
    with tifffile.TiffFile(tmp_path / "x.tif") as tif:
        tags = tif.pages[0].tags
        assert tags["Make"].value == "Acme"
        assert tags["ExifTag"].value["DateTimeOriginal"] == "2024:05:06 07:08:09"
        assert tags["InterColorProfile"].value == icc
        assert tif.pages[0].bitspersample == 16


def test_bmp_has_no_metadata_but_saves(tmp_path, icc):
    save_image(tmp_path / "x.bmp", gradient(), ImageMeta(exif=camera_exif(), icc_profile=icc))
    _, meta = load_image(tmp_path / "x.bmp")
    assert meta.format == "BMP" and meta.exif is None


def test_icc_for_another_colour_space_is_not_written(tmp_path, icc):
    save_image(tmp_path / "grey.png", gradient(channels=1), ImageMeta(icc_profile=icc))
    _, meta = load_image(tmp_path / "grey.png")
    assert meta.icc_profile is None


# --- bad files -------------------------------------------------------------------------------


def assert_user_message(error: pytest.ExceptionInfo, name: str, *fragments: str) -> None:
    message = str(error.value)
    assert message.startswith(f"{name}: ") and "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_empty_file(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"")
    with pytest.raises(ImageFileError) as error:
        load_image(tmp_path / "x.jpg")
    assert_user_message(error, "x.jpg", "the file is empty")


def test_truncated_jpeg(tmp_path):
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "JPEG")
    (tmp_path / "x.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageFileError) as error:
        load_image(tmp_path / "x.jpg")
    assert_user_message(error, "x.jpg", "truncated or damaged")


def test_truncated_16bit_png(tmp_path):
    save_image(tmp_path / "deep.png", noise16(64, 64).astype(np.float32) / 65535, bit_depth=16)
    data = (tmp_path / "deep.png").read_bytes()
    (tmp_path / "deep.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError) as error:
        load_image(tmp_path / "deep.png")
    assert_user_message(error, "deep.png", "truncated or damaged")


def test_text_file_named_png(tmp_path):
    (tmp_path / "photo.png").write_text("these are my holiday notes, not a picture\n")
    with pytest.raises(ImageFileError) as error:
        load_image(tmp_path / "photo.png")
    assert_user_message(error, "photo.png", "not an image file")


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_image_over_the_pixel_limit_is_refused_before_decoding(tmp_path, monkeypatch, bit_depth):
    save_image(tmp_path / "big.png", gradient(30, 40), bit_depth=bit_depth)
    decoded = []
    monkeypatch.setattr(cv2, "imdecode", lambda *args: decoded.append(args))
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self))
    with pytest.raises(ImageFileError) as error:
        load_image(tmp_path / "big.png", max_pixels=1000)
    assert_user_message(error, "big.png", "40x30 pixels is over the limit of 0.001 megapixels")
    assert decoded == []


def test_pillow_decompression_bomb_error_becomes_image_file_error(tmp_path, monkeypatch):
    save_image(tmp_path / "big.png", gradient(30, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow refuses at twice this
    with pytest.raises(ImageFileError) as error:
        load_image(tmp_path / "big.png", max_pixels=10**9)
    assert_user_message(error, "big.png", "over the limit")


def test_folder(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(ImageFileError) as error:
        load_image(tmp_path / "folder")
    assert_user_message(error, "folder", "is a folder, not a file")


def test_missing_file(tmp_path):
    with pytest.raises(ImageFileError) as error:
        load_image(tmp_path / "x.png")
    assert_user_message(error, "x.png", "no such file")


def test_permission_denied(tmp_path, monkeypatch):
    save_image(tmp_path / "x.png", gradient())

    def denied(path):
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))

    monkeypatch.setattr(files, "_read_bytes", denied)
    with pytest.raises(ImageFileError) as error:
        load_image(tmp_path / "x.png")
    assert_user_message(error, "x.png", "permission denied")


@pytest.mark.parametrize(
    "code, reason",
    [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "the folder is read-only or not writable"),
     (errno.EACCES, "the folder is read-only or not writable")],
)
def test_failed_save_leaves_the_existing_file_untouched(tmp_path, monkeypatch, code, reason):
    target = tmp_path / "out.png"
    save_image(target, gradient())
    before = target.read_bytes()

    def fails_halfway(tmp_path_, data):
        with open(tmp_path_, "wb") as file:  # a partial temporary file, as a real failure leaves
            file.write(data[: len(data) // 2])
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(files, "_write_file", fails_halfway)
    with pytest.raises(ImageFileError) as error:
        save_image(target, 1.0 - gradient())
    assert_user_message(error, "out.png", reason)
    assert target.read_bytes() == before
    assert files_in(tmp_path) == ["out.png"]


def test_successful_save_leaves_no_temporary_files_and_keeps_permissions(tmp_path):
    target = tmp_path / "out.tif"
    save_image(target, gradient())
    os.chmod(target, 0o640)
    save_image(target, 1.0 - gradient(), bit_depth=16)
    assert files_in(tmp_path) == ["out.tif"]
    assert os.stat(target).st_mode & 0o777 == 0o640
    loaded, _ = load_image(target)
    assert np.allclose(loaded, 1.0 - gradient(), atol=1 / 65535)


def test_save_with_unknown_extension(tmp_path):
    with pytest.raises(ImageFileError) as error:
        save_image(tmp_path / "out.gif", gradient())
    assert_user_message(error, "out.gif", "unknown file type")
    assert files_in(tmp_path) == []


def test_save_onto_a_folder(tmp_path):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(ImageFileError) as error:
        save_image(tmp_path / "out.png", gradient())
    assert_user_message(error, "out.png", "is a folder, not a file")


def test_save_into_a_missing_folder(tmp_path):
    with pytest.raises(ImageFileError) as error:
        save_image(tmp_path / "nowhere" / "out.png", gradient())
    assert_user_message(error, "out.png", "the folder does not exist")


# --- masks -----------------------------------------------------------------------------------


def test_mask_round_trip(tmp_path):
    mask = np.zeros((6, 8), np.float32)
    mask[1:4, 2:6] = 1.0
    mask[5, 7] = 0.5
    save_mask(tmp_path / "mask.png", mask)
    with Image.open(tmp_path / "mask.png") as image:
        assert image.mode == "L" and image.size == (8, 6)
    loaded = load_mask(tmp_path / "mask.png", (6, 8))
    assert loaded.dtype == np.float32 and loaded.shape == (6, 8)
    assert np.abs(loaded - mask).max() <= 0.5 / 255 + 1e-6


def test_mask_of_another_size_is_refused(tmp_path):
    save_mask(tmp_path / "mask.png", np.ones((6, 8), np.float32))
    with pytest.raises(ImageFileError) as error:
        load_mask(tmp_path / "mask.png", (30, 40))
    assert_user_message(error, "mask.png", "8x6", "40x30")


def test_colour_and_transparent_masks_become_grey(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 255, 255, 255)  # selected
    rgba[0, 1] = (255, 255, 255, 0)  # white but transparent: not selected
    Image.fromarray(rgba).save(tmp_path / "m.png")
    assert load_mask(tmp_path / "m.png", (2, 2)).tolist() == [[1.0, 0.0], [0.0, 0.0]]


# --- dialog filters --------------------------------------------------------------------------


def test_filters_name_every_supported_extension():
    for ext in SUPPORTED_EXTENSIONS:
        assert f"*{ext}" in OPEN_FILTER and f"*{ext}" in SAVE_FILTER
