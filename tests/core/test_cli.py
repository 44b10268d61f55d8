"""The command line, run as a user would: a subprocess, exit codes, files written."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.imaging.io import load_image, save_image, save_mask
from tests.conftest import SHARED_DATA, textured_image


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "desktop_app", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def real_photo(tmp_path: Path) -> Path:
    """A real photo when the shared data is present, else a synthetic one."""
    candidates = sorted((SHARED_DATA / "bench" / "CBSD68").glob("*.png"))
    if candidates:
        return candidates[5]
    path = tmp_path / "synthetic.png"
    save_image(path, textured_image(200, 300))
    return path


@pytest.mark.parametrize("command", ["denoise", "inpaint", "select", "generate", "train", "batch", "calibrate"])
def test_every_subcommand_prints_its_help(command):
    r = cli(command, "--help")
    assert r.returncode == 0 and "usage:" in r.stdout, r.stderr


def test_ops_lists_every_operation_and_its_parameters():
    r = cli("ops")
    assert r.returncode == 0
    for text in ("denoise --method nlmeans", "inpaint --method telea", "inpaint --method ns", "--sigma", "--radius"):
        assert text in r.stdout


def test_denoise_a_photo(tmp_path):
    src = real_photo(tmp_path)
    image, _ = load_image(src)
    rng = np.random.default_rng(0)
    noisy_path = tmp_path / "noisy.png"
    save_image(noisy_path, np.clip(image + rng.normal(0, 25 / 255, image.shape), 0, 1))
    out = tmp_path / "out.png"
    r = cli("denoise", noisy_path, "-o", out, "--method", "nlmeans", "--sigma", "25")
    assert r.returncode == 0, r.stderr
    result, _ = load_image(out)
    noisy, _ = load_image(noisy_path)
    assert np.mean((result - image) ** 2) < 0.5 * np.mean((noisy - image) ** 2)


def test_sixteen_bit_png_in_gives_sixteen_bit_out(tmp_path):
    img = textured_image(64, 80)
    src = tmp_path / "in16.png"
    save_image(src, img, bit_depth=16)
    out = tmp_path / "out16.png"
    r = cli("denoise", src, "-o", out, "--method", "nlmeans", "--sigma", "5")
    assert r.returncode == 0, r.stderr
    result, meta = load_image(out)
    assert meta.bit_depth == 16
    values = np.round(result * 65535).astype(np.int64)
    assert np.any(values % 257 != 0)  # not 8-bit values stretched to 16 bits


def test_inpaint_with_a_mask_file(tmp_path):
    src = real_photo(tmp_path)
    image, _ = load_image(src)
    mask = np.zeros(image.shape[:2], np.float32)
    mask[100:140, 150:200] = 1.0
    save_mask(tmp_path / "mask.png", mask)
    out = tmp_path / "filled.jpg"
    r = cli("inpaint", src, "--mask", tmp_path / "mask.png", "-o", out, "--method", "telea")
    assert r.returncode == 0, r.stderr
    result, meta = load_image(out)
    assert meta.format == "JPEG" and result.shape == image.shape


@pytest.mark.parametrize("args, message", [
    (["denoise", "missing.png", "-o", "x.png", "--method", "nlmeans"], "no such file"),
    (["denoise", "{photo}", "-o", "x.png", "--method", "bogus"], "unknown method"),
    (["denoise", "{photo}", "-o", "x.png", "--method", "nlmeans", "--sigma", "500"], "above the maximum"),
    (["denoise", "{photo}", "-o", "x.png", "--method", "nlmeans", "--radius", "3"], "unrecognized arguments: --radius"),
    (["denoise", "{photo}", "-o", "x.xyz", "--method", "nlmeans"], "x.xyz"),
    (["inpaint", "{photo}", "--mask", "{blank}", "-o", "x.png", "--method", "telea"], "paint a mask"),
    (["denoise", "{photo}", "-o", "{photo}", "--method", "nlmeans"], "refusing to overwrite"),
])
def test_errors_are_one_line_and_non_zero(tmp_path, photo_path, args, message):
    save_mask(tmp_path / "blank.png", np.zeros((120, 160), np.float32))
    before = photo_path.read_bytes()
    args = [a.format(photo=photo_path, blank=tmp_path / "blank.png") for a in args]
    r = cli(*args, cwd=tmp_path)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert photo_path.read_bytes() == before


def test_inpaint_cnn_with_seeds_on_a_sixteen_bit_photo(tmp_path, tiny_inpaint_model):
    image = textured_image(96, 128)
    src = tmp_path / "in16.png"
    save_image(src, image, bit_depth=16)
    mask = np.zeros(image.shape[:2], np.float32)
    mask[30:60, 40:90] = 1.0
    save_mask(tmp_path / "mask.png", mask)
    outs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        outs[name] = tmp_path / f"{name}.png"
        r = cli("inpaint", src, "--mask", tmp_path / "mask.png", "-o", outs[name], "--method", "cnn",
                "--seed", seed, "--device", "cpu")
        assert r.returncode == 0, r.stderr
    a, meta = load_image(outs["a"])
    b, _ = load_image(outs["b"])
    c, _ = load_image(outs["c"])
    source, _ = load_image(src)
    assert meta.bit_depth == 16
    np.testing.assert_array_equal(a, b)  # the same seed repeats
    assert np.abs(a - c)[mask > 0].mean() > 1e-3  # another seed, another fill
    np.testing.assert_array_equal(a[mask == 0], source[mask == 0])


def test_inpaint_variations_writes_one_file_per_seed(tmp_path, tiny_inpaint_model):
    image = textured_image(96, 128)
    src = tmp_path / "in.png"
    save_image(src, image)
    mask = np.zeros(image.shape[:2], np.float32)
    mask[30:60, 40:90] = 1.0
    save_mask(tmp_path / "mask.png", mask)
    r = cli("inpaint", src, "--mask", tmp_path / "mask.png", "-o", tmp_path / "fill.png", "--method", "cnn",
            "--seed", 3, "--variations", 3, "--device", "cpu", "-q")
    assert r.returncode == 0, r.stderr
    fills = [load_image(tmp_path / f"fill-{k}.png")[0] for k in (1, 2, 3)]
    assert not (tmp_path / "fill.png").exists()
    single = tmp_path / "seed4.png"
    assert cli("inpaint", src, "--mask", tmp_path / "mask.png", "-o", single, "--method", "cnn", "--seed", 4,
               "--device", "cpu", "-q").returncode == 0
    np.testing.assert_array_equal(fills[1], load_image(single)[0])  # the second is seed 4
    assert np.abs(fills[0] - fills[2])[mask > 0].mean() > 1e-3
    bad = cli("inpaint", src, "--mask", tmp_path / "mask.png", "-o", tmp_path / "t.png", "--method", "telea",
              "--variations", 2)
    assert bad.returncode != 0 and "no seed" in bad.stderr and not (tmp_path / "t-1.png").exists()



def test_the_default_removal_says_how_far_it_grew_the_hole(tmp_path, tiny_inpaint_model):
    image = textured_image(96, 128)
    save_image(tmp_path / "in.png", image)
    mask = np.zeros(image.shape[:2], np.float32)
    mask[30:60, 40:90] = 1.0
    save_mask(tmp_path / "mask.png", mask)
    r = cli("inpaint", tmp_path / "in.png", "--mask", tmp_path / "mask.png", "-o", tmp_path / "out.png",
            "--expand", 6, "--device", "cpu", "-q")  # no --method: Remove object
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == ["desktop-app: Remove object: hole grown by 6 px"]
    r = cli("inpaint", tmp_path / "in.png", "--mask", tmp_path / "mask.png", "-o", tmp_path / "v.png",
            "--expand", 6, "--seed", 4, "--variations", 2, "--device", "cpu", "-q")
    assert r.returncode == 0, r.stderr
    # each file says what its seed does, as the Seed setting explains
    assert f"wrote {tmp_path / 'v-1.png'} (seed 4: sharp edges)" in r.stderr.splitlines()
    assert f"wrote {tmp_path / 'v-2.png'} (seed 5: layout)" in r.stderr.splitlines()
    filled = load_image(tmp_path / "out.png")[0]
    assert np.abs(filled - image)[27, 40:90].mean() > 0.01  # 3 px above the painted hole: grown over

# -- train ------------------------------------------------------------------------------------

TINY_TRAIN = ("--hparam", "widths=[8,16]", "--hparam", "blocks=[1,1]", "--threads", "1", "--batch", "2",
              "--patch", "32")


@pytest.fixture
def photos(tmp_path):
    from tests.conftest import photo_folder

    return photo_folder(tmp_path)


@pytest.mark.parametrize("args, code, words", [
    (("--steps", "0"), 2, "--steps: must be 1 or more"),
    (("--val-fraction", "2"), 2, "--val-fraction"),
    (("--batch", "0"), 2, "--batch: must be 1 or more"),
    (("--patch", "50"), 1, "multiple of 16"),
    (("--name", "../../evil"), 1, "not a usable name"),
])
def test_train_refuses_nonsense_with_one_line(tmp_path, photos, args, code, words):
    base = ["train", "--data", photos, "--steps", "2"]
    if "--name" not in args:
        base += ["--name", "fine"]
    r = cli(*base, *args)
    assert r.returncode == code, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.stderr
    assert not (tmp_path / "evil").exists() and not (tmp_path / "cache").parent.joinpath("evil").exists()


def test_a_model_trained_without_out_is_a_method_at_once(tmp_path, photos, photo_path):
    r = cli("train", "--data", photos, "--name", "my-tiny", "--steps", "4", "--val-every", "2", *TINY_TRAIN)
    assert r.returncode == 0, r.stderr
    assert "use it with --method my-tiny" in r.stderr.splitlines()[-1]
    out = tmp_path / "out.png"
    r = cli("denoise", photo_path, "-o", out, "--method", "my-tiny", "-q")
    assert r.returncode == 0, r.stderr
    assert out.is_file()
    again = cli("train", "--data", photos, "--name", "my-tiny", "--steps", "4", *TINY_TRAIN)
    assert again.returncode == 1 and "already has a model named 'my-tiny'" in again.stderr and "--replace" in again.stderr


def test_a_run_that_never_beats_its_start_says_so_and_writes_nothing(tmp_path, photos):
    from desktop_app.core.models.catalog import library_dir

    # a learning rate so high that every step makes the network worse
    r = cli("train", "--data", photos, "--name", "worse", "--steps", "2", "--val-every", "1", "--lr", "10",
            *TINY_TRAIN, "--out", tmp_path / "worse.safetensors")
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("desktop-app: error: no step beat the start")
    assert not (tmp_path / "worse.safetensors").exists() and not list(library_dir().glob("worse*"))
