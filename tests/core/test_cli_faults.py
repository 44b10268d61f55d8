"""The command line on bad input and faults (issue 21): each case is one line on stderr, a
non-zero exit, and files left exactly as they were."""

import io
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

import desktop_app
from desktop_app.core.imaging.io import load_image, save_image, save_mask
from tests.conftest import textured_image


def cli(*args, env=None, timeout=120, cwd=None):
    return subprocess.run([sys.executable, "-m", "desktop_app", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=cwd)


def one_line(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    save_image(path, textured_image(60, 80))
    return path


# --- the entry point ---------------------------------------------------------------------------


def test_an_unknown_subcommand_is_a_usage_error_not_the_window(tmp_path):
    r = cli("frobnicate", cwd=tmp_path, timeout=60)  # before: the window opened and waited forever
    assert r.returncode == 2
    assert "frobnicate" in one_line(r)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="DISPLAY / WAYLAND_DISPLAY are Linux's")
def test_without_a_display_the_window_says_so_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = cli(env=env, cwd=tmp_path, timeout=60)  # before: Qt aborted (134) after a dozen lines
    assert r.returncode == 1
    assert "no display" in one_line(r)


def test_display_problem_is_only_for_a_missing_display(monkeypatch):
    import desktop_app.__main__ as entry
    from desktop_app.__main__ import display_problem

    monkeypatch.setattr(entry, "_library_loads", lambda name: True)  # whatever this machine has
    assert display_problem({}, "linux") is not None
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({}, "win32") is None and display_problem({}, "darwin") is None


def test_a_missing_xcb_cursor_library_is_one_clear_line(monkeypatch):
    import desktop_app.__main__ as entry

    monkeypatch.setattr(entry, "_library_loads", lambda name: False)
    problem = entry.display_problem({"DISPLAY": ":0"}, "linux")  # before: Qt aborted with code 134
    assert problem is not None and "libxcb-cursor0" in problem and "apt-get install" in problem
    assert entry.display_problem({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux") is None
    monkeypatch.setattr(entry, "_library_loads", lambda name: True)
    assert entry.display_problem({"DISPLAY": ":0"}, "linux") is None
    # a fresh Debian has libxcb-cursor0 and lacks these two: Qt's own message then blamed the first
    monkeypatch.setattr(entry, "_library_loads", lambda name: name not in ("libxcb-icccm.so.4", "libxcb-keysyms.so.1"))
    problem = entry.display_problem({"DISPLAY": ":0"}, "linux")
    assert problem.endswith("sudo apt-get install libxcb-icccm4 libxcb-keysyms1)") and "cursor" not in problem


def test_ctrl_c_while_starting_is_one_line(monkeypatch, capsys):
    import desktop_app.cli
    from desktop_app.__main__ import main

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(desktop_app.cli, "build_parser", interrupted)
    try:
        code = main(["ops"])
    except KeyboardInterrupt:
        pytest.fail("the interrupt escaped main(): Python prints its traceback")
    assert code == 130
    assert capsys.readouterr().err.strip() == "desktop-app: interrupted"


@pytest.mark.skipif(os.name == "nt", reason="no SIGINT to send on Windows")
def test_ctrl_c_in_the_first_second_of_a_real_process_prints_no_traceback(tmp_path, photo):
    for delay in (0.2, 0.5, 0.9):
        process = subprocess.Popen([sys.executable, "-m", "desktop_app", "denoise", photo, "-o", tmp_path / "o.png",
                                    "--method", "nlmeans"], stderr=subprocess.PIPE, text=True)
        try:
            process.wait(delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        # Python's own start-up (site, runpy: before the app's first line) may still print a
        # traceback of frozen frames; none passes through the app's code
        if "Traceback" in err:
            frames = re.findall(r'File "([^"]+)"', err)
            package = str(Path(desktop_app.__file__).parent)  # not site-packages' editable-install finder
            assert not [f for f in frames if f.startswith(package) and not f.endswith("__main__.py")], err
        else:
            assert len(err.strip().splitlines()) <= 1, err


# --- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize("args, flag", [
    (["denoise", "{photo}", "-o", "{out}.jpg", "--method", "nlmeans", "--quality", "500"], "--quality"),
    (["denoise", "{photo}", "-o", "{out}.jpg", "--method", "nlmeans", "--quality", "0"], "--quality"),
    (["select", "{photo}", "--box", "5,5,40,40", "-o", "{out}.png", "--feather", "-5"], "--feather"),
    (["select", "{photo}", "--box", "5,5,40,40", "-o", "{out}.png", "--grow", "nan"], "--grow"),
    (["select", "{photo}", "--wand", "5,5", "--tolerance", "nan", "-o", "{out}.png"], "--tolerance"),
    (["select", "{photo}", "--box", "inf,0,10,10", "-o", "{out}.png"], "--box"),
    (["generate", "-n", "2", "--truncation", "nan", "-o", "{out}"], "--truncation"),
    (["generate", "-n", "2", "--truncation", "-1", "-o", "{out}"], "--truncation"),
    (["generate", "-n", "0", "-o", "{out}"], "--count"),
])
def test_nonsense_arguments_are_usage_errors(tmp_path, photo, args, flag):
    out = tmp_path / "out"
    r = cli(*[a.format(photo=photo, out=out) for a in args])
    assert r.returncode == 2
    assert flag in one_line(r)
    assert not any(p.name.startswith("out") for p in tmp_path.iterdir())


def test_a_colour_picture_as_mask_is_refused(tmp_path, photo):
    out = tmp_path / "out.png"
    r = cli("inpaint", photo, "--mask", photo, "-o", out, "--method", "telea")
    assert r.returncode == 1
    assert "colour image, not a mask" in one_line(r)
    assert not out.exists()


def test_a_grey_mask_saved_as_rgb_is_read_as_its_luminance(tmp_path, photo):
    grey = np.zeros((60, 80, 3), np.float32)
    grey[20:40, 30:50] = 1.0
    save_image(tmp_path / "mask.jpg", grey)  # a mask from another editor: RGB, R = G = B, JPEG noise
    out = tmp_path / "out.png"
    r = cli("inpaint", photo, "--mask", tmp_path / "mask.jpg", "-o", out, "--method", "telea")
    assert r.returncode == 0, r.stderr
    before, after = load_image(photo)[0], load_image(out)[0]
    changed = np.abs(after - before).max(axis=2) > 1e-3
    assert changed[20:40, 30:50].mean() > 0.5 and not changed[:10].any()


# --- the destination -------------------------------------------------------------------------


def test_a_write_protected_destination_is_refused_without_overwrite(tmp_path, photo):
    dest = tmp_path / "dest.png"
    save_image(dest, textured_image(60, 80, seed=5))
    dest.chmod(0o444)
    before = dest.read_bytes()
    r = cli("denoise", photo, "-o", dest, "--method", "nlmeans")
    assert r.returncode == 1
    assert "write-protected" in one_line(r) and "--overwrite" in one_line(r)
    assert dest.read_bytes() == before and stat.S_IMODE(dest.stat().st_mode) == 0o444

    r = cli("denoise", photo, "-o", dest, "--method", "nlmeans", "--overwrite")
    assert r.returncode == 0, r.stderr
    assert dest.read_bytes() != before


def test_a_write_protected_mask_is_refused_by_select(tmp_path, photo):
    dest = tmp_path / "mask.png"
    save_mask(dest, np.zeros((60, 80), np.float32))
    dest.chmod(0o444)
    before = dest.read_bytes()
    r = cli("select", photo, "--box", "10,10,40,30", "-o", dest)
    assert r.returncode == 1 and "write-protected" in one_line(r)
    assert dest.read_bytes() == before


@pytest.mark.parametrize("output, message", [("out.xyz", "unknown file type"),
                                             ("missing/out.png", "the folder does not exist")])
def test_the_destination_is_checked_before_the_photo_is_read(tmp_path, output, message):
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    # the output's fault is reported, not the input's: it was checked first, before any work
    r = cli("denoise", damaged, "-o", tmp_path / output, "--method", "nlmeans")
    assert r.returncode == 1
    assert message in one_line(r)


def test_desktop_app_device_is_honoured_by_denoise(tmp_path, photo):
    env = dict(os.environ, DESKTOP_APP_DEVICE="tpu")
    out = tmp_path / "out.png"
    r = cli("denoise", photo, "-o", out, "--method", "cnn", env=env)  # before: ignored, ran on auto
    assert r.returncode == 1
    assert "DESKTOP_APP_DEVICE" in one_line(r) and "tpu" in one_line(r)
    assert not out.exists()


def test_the_generate_class_example_names_the_generators_with_classes(tmp_path):
    r = cli("generate", "-n", "1", "--class", "bark", "-o", tmp_path / "g")
    assert r.returncode == 1
    assert "generators with classes: none installed" in one_line(r)
    assert not (tmp_path / "g").exists()


# --- reading ---------------------------------------------------------------------------------


def test_nan_in_a_float_tiff_is_cleaned_with_a_note(tmp_path):
    image = textured_image(40, 48).astype(np.float32)
    image[5:8, 5:8] = np.nan
    image[10, 10] = np.inf
    src = tmp_path / "float.tif"
    tifffile.imwrite(src, image, photometric="rgb")
    out = tmp_path / "out.png"
    r = cli("denoise", src, "-o", out, "--method", "cnn", "--sigma", "auto", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert "not numbers" in r.stderr
    result, meta = load_image(out)
    assert meta.bit_depth == 16 and np.isfinite(result).all()
    assert abs(result.mean() - np.nanmean(np.where(np.isinf(image), 1, image))) < 0.05  # not black


def test_a_tiny_damaged_tiff_gives_one_line_and_no_warning(tmp_path):
    src = tmp_path / "tiny.tif"
    src.write_bytes(b"II*\x00\x08\x00\x00\x00\x01\x00" + bytes(10))  # 20 bytes
    r = cli("denoise", src, "-o", tmp_path / "o.png", "--method", "nlmeans")
    assert r.returncode == 1
    assert "tiny.tif" in one_line(r)


# --- progress --------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_lines_when_stderr_is_not_a_terminal():
    from desktop_app.cli import ProgressBar
    from desktop_app.core.work import Progress

    stream, clock = io.StringIO(), _Clock()
    bar = ProgressBar("denoise cnn", stream=stream, clock=clock)
    for step in range(1, 181):  # a 3-minute run, an event a second
        clock.now += 1.0
        bar(Progress(step / 180, f"tile {step}/180"))
    bar.close()
    lines = stream.getvalue().splitlines()
    assert 30 <= len(lines) <= 40  # every 5 s
    assert "\r" not in stream.getvalue()
    assert lines[0].startswith("denoise cnn: 3%") and "left" not in lines[0]  # 5 s in: too early to tell
    assert "tile 90/180" in lines[17] and "about 90 s left" in lines[17]
    assert "tile 170/180" in lines[33] and "about 10 s left" in lines[33]
    assert "tile 175/180" in lines[34] and "a few seconds left" in lines[34]


def test_no_progress_lines_when_quiet():
    from desktop_app.cli import ProgressBar
    from desktop_app.core.work import Progress

    stream, clock = io.StringIO(), _Clock()
    bar = ProgressBar("x", enabled=False, stream=stream, clock=clock)
    for step in range(60):
        clock.now += 1.0
        bar(Progress(step / 60, ""))
    assert stream.getvalue() == ""


@pytest.mark.parametrize("method", ["telea", "ns"])
@pytest.mark.parametrize("value", [1.0, 0.5])  # all white, or soft (1-254) everywhere
def test_telea_and_ns_refuse_a_mask_over_every_pixel(tmp_path, photo, method, value):
    save_mask(tmp_path / "all.png", np.full((60, 80), value, np.float32))
    out = tmp_path / "out.png"
    r = cli("inpaint", photo, "--mask", tmp_path / "all.png", "-o", out, "--method", method)
    assert r.returncode == 1  # before: exit 0 and the photo unchanged
    assert "covers every pixel" in one_line(r)
    assert not out.exists()


def test_operations_refuse_a_mask_over_every_pixel_in_the_core_too():
    from desktop_app.core.operations import apply_operation, registry
    from desktop_app.core.operations.base import ParameterError
    from desktop_app.core.work import run_work

    image = textured_image(30, 40)
    for method in ("telea", "ns"):
        op = registry.get("inpaint", method)
        with pytest.raises(ParameterError, match="covers every pixel"):
            run_work(apply_operation(op, image, np.full((30, 40), 0.01, np.float32), {}))


def test_a_library_warning_is_one_line_without_its_source(monkeypatch, capsys):
    import warnings

    import desktop_app.cli as cli_module
    from desktop_app.cli import images

    def noisy(args):
        warnings.warn("something odd happened\nsecond line of detail", UserWarning)
        return 0

    monkeypatch.setattr(images, "cmd_ops", noisy)  # where the ops parser finds its handler
    assert cli_module.main(["ops"]) == 0
    assert capsys.readouterr().err == "desktop-app: warning: something odd happened\n"  # before: 2+ lines
