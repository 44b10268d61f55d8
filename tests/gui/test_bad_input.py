"""Bad files and failing disks through the GUI: the user is told what is wrong, the photo on
screen stays, and no file is harmed."""

from __future__ import annotations

import errno
import functools
import os
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.imaging import files
from desktop_app.core.imaging import io as image_io
from desktop_app.core.imaging.io import save_image
from tests.conftest import textured_image
from tests.gui.helpers import open_and_wait, run_from_panel, wait_idle


def zero_bytes(folder: Path) -> Path:
    path = folder / "empty.png"
    path.write_bytes(b"")
    return path


def truncated_jpeg(folder: Path) -> Path:
    path = folder / "cut.jpg"
    save_image(path, textured_image(120, 160, seed=4))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def text_named_png(folder: Path) -> Path:
    path = folder / "notes.png"
    path.write_text("shopping list: eggs, milk\n")
    return path


def a_folder(folder: Path) -> Path:
    path = folder / "holiday.png"
    path.mkdir()
    (path / "inside.txt").write_text("x")
    return path


def missing(folder: Path) -> Path:
    return folder / "gone.png"


BAD_FILES = {
    "zero-byte png": (zero_bytes, "empty"),
    "truncated jpeg": (truncated_jpeg, "truncated or damaged"),
    "text file named .png": (text_named_png, "not an image"),
    "folder": (a_folder, "is a folder"),
    "missing file": (missing, "no such file"),
}


def snapshot(path: Path):
    if path.is_dir():
        return "dir", sorted(p.name for p in path.iterdir())
    return ("file", path.read_bytes()) if path.exists() else ("missing", None)


def assert_refused(qtbot, window, path: Path, reason: str) -> None:
    """Opening `path` shows one error naming the file and the reason, and changes nothing."""
    doc, title = window.doc, window.windowTitle()
    recent = window.settings.recent()
    before = snapshot(path)

    open_and_wait(qtbot, window, path)

    assert len(window.dialogs.errors) == 1, window.dialogs.error_text
    _, message = window.dialogs.errors[0]
    assert path.name in message and reason in message.lower(), message
    assert "Traceback" not in message and "\n" not in message
    assert window.doc is doc, "the photo on screen was not replaced"
    assert window.windowTitle() == title
    assert window.settings.recent() == recent, "a file that did not open is not a recent file"
    assert snapshot(path) == before, "the bad file was left as it was"
    assert window.ops_panel.run_button.isEnabled()


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_refused_and_the_open_photo_stays(qtbot, opened, tmp_path, case):
    make, reason = BAD_FILES[case]
    assert_refused(qtbot, opened, make(tmp_path), reason)
    assert opened.canvas.doc is opened.doc


def test_bad_file_with_nothing_open(qtbot, window, tmp_path):
    assert_refused(qtbot, window, text_named_png(tmp_path), "not an image")
    assert window.doc is None and not window.act_save.isEnabled()


def test_image_over_the_pixel_limit_is_refused(qtbot, opened, tmp_path, monkeypatch):
    # load_image binds its limit as a default argument, so the function itself is replaced
    monkeypatch.setattr(image_io, "load_image", functools.partial(image_io.load_image, max_pixels=10_000))
    path = tmp_path / "huge.png"
    save_image(path, textured_image(120, 160, seed=8))  # 19,200 pixels
    assert_refused(qtbot, opened, path, "over the limit")
    assert "160x120" in opened.dialogs.errors[0][1]


def test_unreadable_file_is_refused(qtbot, opened, tmp_path, monkeypatch):
    path = tmp_path / "locked.png"
    save_image(path, textured_image(120, 160, seed=6))
    real = files._read_bytes

    def read(p):
        if Path(p) == path:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(p))
        return real(p)

    monkeypatch.setattr(files, "_read_bytes", read)
    assert_refused(qtbot, opened, path, "permission denied")


# --- saving where it cannot be written ---------------------------------------------------------


@pytest.mark.parametrize("code, reason", [(errno.ENOSPC, "the disk is full"),
                                          (errno.EROFS, "read-only")], ids=["disk full", "read-only"])
def test_failed_save_keeps_the_existing_file_and_the_edits(qtbot, opened, invert_op, tmp_path, monkeypatch,
                                                           code, reason):
    window = opened
    run_from_panel(qtbot, window, invert_op.key)
    edited = window.doc.image
    dest = tmp_path / "out" / "keep.png"
    dest.parent.mkdir()
    save_image(dest, textured_image(40, 50, seed=9))
    original_bytes = dest.read_bytes()

    def no_room(tmp: str, data: bytes) -> None:
        raise OSError(code, os.strerror(code), tmp)

    monkeypatch.setattr(files, "_write_file", no_room)
    window.dialogs.save_paths.append(str(dest))
    window.save_as()
    wait_idle(qtbot, window)

    assert len(window.dialogs.errors) == 1
    _, message = window.dialogs.errors[0]
    assert "keep.png" in message and reason in message, message
    assert dest.read_bytes() == original_bytes, "the file already there is untouched"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["keep.png"], "no half-written file left"
    assert window.doc.modified and window.isWindowModified(), "still unsaved"
    assert window.doc.image is edited

    monkeypatch.undo()  # room again: the same save now works
    window.dialogs.save_paths.append(str(dest))
    window.save_as()
    wait_idle(qtbot, window)
    assert len(window.dialogs.errors) == 1
    saved, _ = image_io.load_image(dest)
    np.testing.assert_allclose(saved, edited, atol=0.51 / 255)
    assert not window.doc.modified


def test_save_with_an_unknown_extension_is_refused(qtbot, opened, invert_op, tmp_path):
    run_from_panel(qtbot, opened, invert_op.key)
    opened.dialogs.save_paths.append(str(tmp_path / "photo.xyz"))
    assert opened.save_as() is None
    (title, message), = opened.dialogs.errors
    assert "photo.xyz" in message and "unknown file type" in message and ".png" in message
    assert not (tmp_path / "photo.xyz").exists()
