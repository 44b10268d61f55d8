"""Image files on faults and odd input (issue 21): float TIFFs and NaN, write-protected files,
tiny images, stale temporaries, long names, decoder warnings, colour masks."""

import os
import stat
import subprocess
import sys
import warnings

import numpy as np
import pytest
import tifffile

from desktop_app.core.imaging.io import (ImageFileError, ReadOnlyFileError, check_writable, load_image, load_mask,
                                         save_image, save_mask)
from tests.conftest import textured_image


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("channels", [3, 4])
def test_float_colour_tiffs_are_read(tmp_path, dtype, channels):
    image = textured_image(20, 24, channels=channels)
    tifffile.imwrite(tmp_path / "f.tif", image.astype(dtype), photometric="rgb",
                     extrasamples=["unassalpha"] if channels == 4 else None)
    pixels, meta = load_image(tmp_path / "f.tif")  # before: "not an image file"
    assert pixels.shape == image.shape and pixels.dtype == np.float32
    assert meta.bit_depth == 16 and meta.format == "TIFF"
    np.testing.assert_allclose(pixels, image, atol=2e-3)


@pytest.mark.parametrize("channels", [1, 3])
def test_nan_and_infinity_in_a_float_tiff_are_cleaned_with_a_note(tmp_path, channels):
    image = textured_image(20, 24, channels=channels)
    image[2, 3] = np.nan
    image[4, 5] = np.inf
    image[6, 7] = -np.inf
    tifffile.imwrite(tmp_path / "f.tif", image[:, :, 0] if channels == 1 else image,
                     photometric="minisblack" if channels == 1 else "rgb")
    pixels, meta = load_image(tmp_path / "f.tif")
    assert np.isfinite(pixels).all()  # before: NaN went on and turned results black
    assert (pixels[2, 3] == 0).all() and (pixels[4, 5] == 1).all() and (pixels[6, 7] == 0).all()
    assert any("not numbers" in note for note in meta.notes)


@pytest.mark.skipif(os.name == "nt", reason="not run on Windows yet (read-only attribute)")
def test_a_write_protected_file_is_not_replaced_unless_asked(tmp_path):
    dest = tmp_path / "photo.jpg"
    save_image(dest, textured_image(20, 24))
    dest.chmod(0o444)
    before = dest.read_bytes()
    with pytest.raises(ReadOnlyFileError) as error:
        save_image(dest, textured_image(20, 24, seed=3))
    assert "write-protected" in str(error.value) and "photo.jpg" in str(error.value)
    assert dest.read_bytes() == before
    with pytest.raises(ReadOnlyFileError):
        check_writable(dest)
    with pytest.raises(ReadOnlyFileError):
        save_mask(_protected(tmp_path), np.ones((4, 4)))
    save_image(dest, textured_image(20, 24, seed=3), replace_read_only=True)
    assert dest.read_bytes() != before
    assert stat.S_IMODE(dest.stat().st_mode) == 0o444  # still protected, as it was
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _protected(folder):
    path = folder / "protected.png"
    save_mask(path, np.zeros((4, 4)))
    path.chmod(0o444)
    return path


@pytest.mark.parametrize("name, message", [("out.xyz", "unknown file type"), ("no/out.png", "does not exist"),
                                           ("x" * 252 + ".png", "too long")])
def test_check_writable_says_why_before_any_work(tmp_path, name, message):
    with pytest.raises(ImageFileError) as error:
        check_writable(tmp_path / name)
    assert message in str(error.value)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp", ".bmp"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 1, 1), (1, 1, 3), (1, 3, 1)])
def test_a_one_pixel_image_can_be_saved(tmp_path, suffix, shape):
    path = tmp_path / f"tiny{suffix}"
    save_image(path, np.full(shape, 0.5, np.float32))  # before: "cannot reshape array of size 4"
    pixels, _ = load_image(path)
    assert pixels.shape[:2] == shape[:2]
    assert abs(float(pixels[0, 0, 0]) - 0.5) < 0.02


def test_a_one_pixel_mask_and_sixteen_bit_image_can_be_saved(tmp_path):
    save_mask(tmp_path / "m.png", np.ones((1, 1), np.float32))
    assert load_mask(tmp_path / "m.png", (1, 1)).tolist() == [[1.0]]
    save_image(tmp_path / "g16.png", np.full((1, 1, 1), 0.25, np.float32), bit_depth=16)
    assert abs(float(load_image(tmp_path / "g16.png")[0][0, 0, 0]) - 0.25) < 1e-4


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.skipif(os.name == "nt", reason="Windows: only a day-old temporary is stale (no process check)")
def test_a_save_removes_temporaries_left_by_a_killed_save(tmp_path):
    dead = tmp_path / f".photoretouch-{_dead_pid()}-0123abcd.tmp"
    dead.write_bytes(bytes(1000))
    live = tmp_path / f".photoretouch-{os.getppid()}-89abcdef.tmp"  # a process still saving
    live.write_bytes(bytes(1000))
    save_image(tmp_path / "out.png", textured_image(8, 8))
    assert not dead.exists()
    assert live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "out.png"])


@pytest.mark.skipif(os.name == "nt", reason="Windows: only a day-old temporary is stale (no process check)")
def test_a_killed_save_leaves_a_temporary_the_next_save_removes(tmp_path):
    code = ("import sys, os, numpy as np\n"
            "from desktop_app.core.imaging import files, io\n"
            "files._write_file = lambda tmp, data: (open(tmp, 'wb').write(data[:100]), os._exit(9))\n"
            f"io.save_image({str(tmp_path / 'a.png')!r}, np.zeros((50, 50, 3), np.float32))\n")
    r = subprocess.run([sys.executable, "-c", code], timeout=120)
    assert r.returncode == 9
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # as kill -9 leaves it
    save_image(tmp_path / "b.png", textured_image(8, 8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.png"]


@pytest.mark.parametrize("length", [242, 250, 255])
def test_file_names_up_to_the_limit_can_be_saved(tmp_path, length):
    name = "n" * (length - 4) + ".png"
    save_image(tmp_path / name, textured_image(8, 8))  # before: the temporary's name was too long
    assert load_image(tmp_path / name)[0].shape == (8, 8, 3)


def test_a_damaged_file_gives_no_decoder_warning(tmp_path):
    path = tmp_path / "tiny.tif"
    path.write_bytes(b"II*\x00\x08\x00\x00\x00\x01\x00" + bytes(10))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageFileError):
            load_image(path)
    assert not caught, [str(w.message) for w in caught]


def test_a_colour_picture_is_not_a_mask(tmp_path):
    save_image(tmp_path / "photo.png", textured_image(20, 24))
    with pytest.raises(ImageFileError) as error:
        load_mask(tmp_path / "photo.png", (20, 24))
    assert "colour image, not a mask" in str(error.value)


def test_a_grey_mask_stored_as_rgb_jpeg_is_read_as_its_luminance(tmp_path):
    grey = np.zeros((20, 24, 3), np.float32)
    grey[5:15, 6:18] = 1.0
    save_image(tmp_path / "mask.jpg", grey)
    mask = load_mask(tmp_path / "mask.jpg", (20, 24))
    assert mask[8:12, 9:15].min() > 0.9 and mask[:3].max() < 0.1


def _png_header_only(path, width: int, height: int) -> None:
    """A PNG that claims width x height pixels and holds none (a few hundred bytes): what a
    656 KB 225-megapixel file looks like until it is decoded."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))


def test_the_pixel_limit_fits_a_hundred_megapixel_camera_and_no_more(tmp_path):
    from desktop_app.core.imaging.io import DEFAULT_MAX_PIXELS

    assert 11648 * 8736 <= DEFAULT_MAX_PIXELS <= 120_000_000  # memory: benchmarks/memory.py, README
    _png_header_only(tmp_path / "huge.png", 12_000, 10_100)  # 121 MP
    with pytest.raises(ImageFileError) as error:
        load_image(tmp_path / "huge.png")  # before: accepted up to 250 MP, then 12.8 GB for a CNN denoise
    assert "over the limit of 120 megapixels" in str(error.value)
    _png_header_only(tmp_path / "bomb.png", 20_000, 12_000)  # 240 MP: Pillow's own backstop
    with pytest.raises(ImageFileError) as error:
        load_image(tmp_path / "bomb.png")
    assert "over the limit of 120 megapixels" in str(error.value)


def test_to_uint8_converts_in_bands_with_the_same_values():
    from desktop_app.core.imaging.convert import to_uint8

    rng = np.random.default_rng(0)
    for shape in [(700, 33, 3), (257, 1, 1), (1025, 1), (513, 3, 1)]:
        x = rng.uniform(-0.5, 1.5, shape).astype(np.float32)
        x.flat[0] = np.nan
        expected = np.clip(np.rint(np.nan_to_num(x) * 255), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(to_uint8(x), expected)
