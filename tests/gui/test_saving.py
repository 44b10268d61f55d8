"""Saving as the user meets it: the original is not replaced unasked, JPEG quality is asked
once, unsaved edits are not lost on closing, settings outlive the window."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from desktop_app.core.imaging.convert import to_uint8
from desktop_app.core.imaging.io import load_image
from desktop_app.core.paths import sample_photo
from tests.gui.helpers import OVERWRITE, UNSAVED, open_and_wait, run_from_panel, wait_idle


def ctrl_s(qtbot, window) -> None:
    QTest.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, window)


def assert_file_shows(path, pixels) -> None:
    saved, _ = load_image(path)
    np.testing.assert_allclose(saved, pixels, atol=0.51 / 255)


def test_ctrl_s_asks_before_overwriting_the_opened_photo(qtbot, opened, invert_op, photo_path):
    window, dialogs = opened, opened.dialogs
    original = photo_path.read_bytes()
    run_from_panel(qtbot, window, invert_op.key)

    dialogs.answers[OVERWRITE] = "Cancel"
    ctrl_s(qtbot, window)
    assert dialogs.asked(OVERWRITE) == 1
    assert "photo.png" in dialogs.questions[-1][1]
    assert photo_path.read_bytes() == original
    assert window.doc.modified

    dialogs.answers[OVERWRITE] = "Overwrite"
    ctrl_s(qtbot, window)
    assert dialogs.asked(OVERWRITE) == 2
    assert photo_path.read_bytes() != original
    assert_file_shows(photo_path, window.doc.image)
    assert not window.doc.modified and window.windowTitle().startswith("photo.png") and not window.isWindowModified()

    run_from_panel(qtbot, window, invert_op.key)  # edit again: this file may now be replaced
    ctrl_s(qtbot, window)
    assert dialogs.asked(OVERWRITE) == 2, "asked once per file"
    assert_file_shows(photo_path, window.doc.image)
    assert dialogs.errors == []


def test_save_a_copy_keeps_the_original(qtbot, opened, invert_op, photo_path, tmp_path):
    window, dialogs = opened, opened.dialogs
    original = photo_path.read_bytes()
    run_from_panel(qtbot, window, invert_op.key)
    copy = tmp_path / "copy.png"
    dialogs.answers[OVERWRITE] = "Save a Copy..."
    dialogs.save_paths.append(str(copy))
    ctrl_s(qtbot, window)
    assert photo_path.read_bytes() == original
    assert_file_shows(copy, window.doc.image)
    assert window.doc.path == copy and not window.doc.modified
    assert window.windowTitle().startswith("copy.png")


def test_jpeg_quality_is_asked_once_and_remembered(qtbot, opened, invert_op, tmp_path, make_window):
    window, dialogs = opened, opened.dialogs
    run_from_panel(qtbot, window, invert_op.key)
    dialogs.int_answer = 55
    for name in ("a.jpg", "b.jpeg"):
        dialogs.save_paths.append(str(tmp_path / name))
        window.save_as()
        wait_idle(qtbot, window)
    assert dialogs.errors == []
    assert len(dialogs.int_requests) == 1, "the second JPEG used the remembered quality"

    # the file really has the chosen quality: the same quantisation tables as Pillow's at 55
    reference = io.BytesIO()
    Image.fromarray(to_uint8(window.doc.image)).save(reference, "JPEG", quality=55)
    for name in ("a.jpg", "b.jpeg"):
        with Image.open(tmp_path / name) as saved, Image.open(reference) as expected:
            assert saved.quantization == expected.quantization
        pixels, _ = load_image(tmp_path / name)
        assert np.abs(pixels - window.doc.image).mean() < 0.05

    later = make_window()  # a later session with the same settings
    open_and_wait(qtbot, later, tmp_path / "a.jpg")
    later.dialogs.save_paths.append(str(tmp_path / "c.jpg"))
    later.save_as()
    wait_idle(qtbot, later)
    assert later.dialogs.int_requests == [] and (tmp_path / "c.jpg").is_file()


def test_closing_with_unsaved_changes_asks_first(qtbot, opened, invert_op, photo_path):
    window, dialogs = opened, opened.dialogs
    original = photo_path.read_bytes()
    run_from_panel(qtbot, window, invert_op.key)

    dialogs.answers[UNSAVED] = "Cancel"
    assert not window.close()
    assert window.isVisible() and window.doc.modified
    assert dialogs.asked(UNSAVED) == 1 and "photo.png" in dialogs.questions[-1][1]

    dialogs.answers[UNSAVED] = "Discard"
    assert window.close()
    assert not window.isVisible()
    assert photo_path.read_bytes() == original


def test_closing_and_choosing_save_saves_then_closes(qtbot, opened, invert_op, photo_path):
    window, dialogs = opened, opened.dialogs
    run_from_panel(qtbot, window, invert_op.key)
    edited = window.doc.image
    dialogs.answers[UNSAVED] = "Save"
    dialogs.answers[OVERWRITE] = "Overwrite"
    assert window.close(), dialogs.error_text
    assert not window.isVisible()
    assert_file_shows(photo_path, edited)
    assert dialogs.asked(UNSAVED) == 1


def test_closing_and_choosing_save_but_cancelling_the_file_dialog_stays_open(qtbot, opened, invert_op,
                                                                            photo_path):
    window, dialogs = opened, opened.dialogs
    original = photo_path.read_bytes()
    run_from_panel(qtbot, window, invert_op.key)
    dialogs.answers[UNSAVED] = "Save"
    dialogs.answers[OVERWRITE] = "Save a Copy..."
    dialogs.save_paths.append("")  # the user closes the file dialog
    assert not window.close()
    assert window.isVisible() and window.doc.modified
    assert photo_path.read_bytes() == original


def test_brush_size_and_recent_files_survive_a_restart(qtbot, make_window, photo_path):
    first = make_window()
    open_and_wait(qtbot, first, photo_path)
    first.mask_panel.size.setValue(64)
    first.mask_panel.hardness.setValue(30)
    assert first.close()

    second = make_window()
    assert second.canvas.brush.size == 64 and second.mask_panel.size.value() == 64
    assert second.canvas.brush.hardness == 0.3 and second.mask_panel.hardness.value() == 30
    recent = [a.text() for a in second.recent_menu.actions()]
    assert recent == [str(photo_path.resolve())]
    assert second.recent_menu.isEnabled()

    second.recent_menu.actions()[0].trigger()  # File > Open Recent > photo.png
    wait_idle(qtbot, second)
    assert second.doc is not None and second.doc.path.resolve() == photo_path.resolve()


def test_the_sample_photo_opens_untitled_and_saving_asks_where(qtbot, window, tmp_path):
    shipped = sample_photo().read_bytes()
    window.act_open_sample.trigger()
    wait_idle(qtbot, window)
    assert window.doc is not None and window.doc.path is None and window.doc.width == 640
    target = tmp_path / "my-sample.png"
    window.dialogs.save_paths.append(str(target))
    ctrl_s(qtbot, window)
    assert target.is_file() and window.doc.path == target
    assert sample_photo().read_bytes() == shipped
