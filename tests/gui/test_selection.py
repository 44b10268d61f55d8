"""Smart selection from the canvas: box, hints, magic wand, grow/shrink, combine modes."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop_app.core.imaging.io import save_image
from tests.conftest import textured_image
from tests.gui.helpers import drag, open_and_wait, screen_point, send_mouse, wait_idle


@pytest.fixture
def disc_photo(tmp_path):
    """A saturated disc on a textured grey background, 240 x 320."""
    img = textured_image(240, 320, seed=4) * 0.3 + 0.35
    yy, xx = np.mgrid[0:240, 0:320]
    disc = (xx - 170) ** 2 + (yy - 120) ** 2 < 60 ** 2
    img[disc] = [0.9, 0.2, 0.15]
    path = tmp_path / "disc.png"
    save_image(path, img)
    return path, disc


def box_drag(qtbot, window, x0, y0, x1, y1, modifiers=Qt.KeyboardModifier.NoModifier):
    canvas = window.canvas
    a, b = screen_point(canvas, x0, y0), screen_point(canvas, x1, y1)
    if modifiers == Qt.KeyboardModifier.NoModifier:
        drag(canvas, [a, b])
    else:
        from PySide6.QtGui import QMouseEvent
        send_mouse(canvas, QMouseEvent.Type.MouseButtonPress, a, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton, modifiers)
        send_mouse(canvas, QMouseEvent.Type.MouseMove, b, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton, modifiers)
        send_mouse(canvas, QMouseEvent.Type.MouseButtonRelease, b, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton, modifiers)
    wait_idle(qtbot, window)


def iou(mask, truth):
    m = mask > 0.5
    return (m & truth).sum() / (m | truth).sum()


def test_box_drag_selects_the_object_and_undo_removes_it(qtbot, window, disc_photo):
    path, disc = disc_photo
    open_and_wait(qtbot, window, path)
    window.tool_actions["box"].trigger()
    assert window.canvas.tool == "box"
    box_drag(qtbot, window, 100, 50, 240, 190)
    assert iou(window.doc.mask, disc) > 0.9
    assert window.history_panel.list.item(window.history_panel.list.count() - 1).text() == "Box select"
    window.act_undo.trigger()
    assert window.doc.mask.max() == 0


def test_hints_refine_a_bad_box(qtbot, window, disc_photo):
    path, disc = disc_photo
    open_and_wait(qtbot, window, path)
    window.set_tool("box")
    box_drag(qtbot, window, 100, 50, 200, 190)  # cuts off the right part of the disc
    before = iou(window.doc.mask, disc)
    window.set_tool("keep")
    window.canvas.brush.size = 12
    drag(window.canvas, [screen_point(window.canvas, 215, 120), screen_point(window.canvas, 222, 100)])
    wait_idle(qtbot, window)
    after = iou(window.doc.mask, disc)
    assert after > before + 0.05 and after > 0.85
    assert window.doc.history.titles()[-1] == "Refine selection"
    window.act_undo.trigger()  # one step: back to the box's result
    assert abs(iou(window.doc.mask, disc) - before) < 1e-6


def click(canvas, x, y, modifiers=Qt.KeyboardModifier.NoModifier):
    from PySide6.QtGui import QMouseEvent

    p = screen_point(canvas, x, y)
    send_mouse(canvas, QMouseEvent.Type.MouseButtonPress, p, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton, modifiers)
    send_mouse(canvas, QMouseEvent.Type.MouseButtonRelease, p, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton, modifiers)


def test_wand_shift_adds_and_alt_box_subtracts(qtbot, window, tmp_path):
    img = textured_image(240, 360, seed=5) * 0.3 + 0.35
    yy, xx = np.mgrid[0:240, 0:360]
    a = (xx - 90) ** 2 + (yy - 120) ** 2 < 45 ** 2
    b = (xx - 260) ** 2 + (yy - 120) ** 2 < 40 ** 2
    img[a] = [0.9, 0.2, 0.15]
    img[b] = [0.15, 0.3, 0.9]
    save_image(tmp_path / "two.png", img)
    open_and_wait(qtbot, window, tmp_path / "two.png")
    window.set_tool("wand")
    click(window.canvas, 90, 120)
    wait_idle(qtbot, window)
    assert iou(window.doc.mask, a) > 0.95  # stops at the disc's edge
    click(window.canvas, 260, 120, Qt.KeyboardModifier.ShiftModifier)
    wait_idle(qtbot, window)
    assert iou(window.doc.mask, a | b) > 0.95
    window.set_tool("box")
    box_drag(qtbot, window, 200, 60, 320, 180, Qt.KeyboardModifier.AltModifier)
    assert iou(window.doc.mask, a) > 0.95
    assert window.doc.history.titles() == ["Magic wand", "Magic wand", "Box select"]


def test_grow_and_shrink_from_the_panel(qtbot, window, disc_photo):
    path, disc = disc_photo
    open_and_wait(qtbot, window, path)
    window.doc.set_mask(disc.astype(np.float32), "disc")
    area = (window.doc.mask > 0.5).sum()
    window.mask_panel.grow_px.setValue(5)
    window.grow_mask(+1)
    wait_idle(qtbot, window)
    grown = (window.doc.mask > 0.5).sum()
    assert abs(grown - np.pi * 65 ** 2) < 0.05 * np.pi * 65 ** 2 and grown > area
    window.grow_mask(-1)
    wait_idle(qtbot, window)
    window.grow_mask(-1)
    wait_idle(qtbot, window)
    assert (window.doc.mask > 0.5).sum() < area
    assert window.doc.history.titles()[-3:] == ["Grow mask 5px", "Shrink mask 5px", "Shrink mask 5px"]


def test_a_box_over_no_object_says_so_and_points_to_the_brush(qtbot, window, tmp_path):
    flat = textured_image(240, 320, seed=5) * 0.1 + 0.45  # background only: nothing to pick out
    save_image(tmp_path / "flat.png", flat)
    open_and_wait(qtbot, window, tmp_path / "flat.png")
    window.set_tool("box")
    box_drag(qtbot, window, 100, 60, 220, 180)
    assert window.doc.mask.max() <= 0.5  # box select found no object in a plain background
    message = window.statusBar().currentMessage()
    assert "found nothing" in message and "brush" in message
