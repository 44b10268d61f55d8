"""The main window as a user drives it: open, paint a mask, run, undo, save, look."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QMouseEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton

from desktop_app.core.imaging.io import load_image
from tests.gui.helpers import drag, open_and_wait, paint_stroke, run_from_panel, screen_point, send_mouse, wait_idle

Y = 60  # the row the test strokes run along (the photo is 160 x 120)


def history_rows(window) -> list[str]:
    lst = window.history_panel.list
    return [lst.item(i).text() for i in range(lst.count())]


def set_brush(window, size: int, hardness: float) -> None:
    """Through the mask panel's controls, as the user sets them."""
    window.mask_panel.size.setValue(size)
    window.mask_panel.hardness.setValue(int(round(hardness * 100)))


def panel_button(window, text: str) -> QPushButton:
    (button,) = [b for b in window.mask_panel.findChildren(QPushButton) if b.text() == text]
    return button


# --- the whole path a user takes ---------------------------------------------------------------


def shown_colour(window, x: int, y: int) -> np.ndarray:
    """The RGB (0-255) the canvas shows at image pixel (x, y)."""
    p = screen_point(window.canvas, x + 0.5, y + 0.5)
    c = window.canvas.grab().toImage().pixelColor(p)
    return np.array([c.red(), c.green(), c.blue()], float)


def test_a_fill_hides_the_mask_over_it_and_painting_shows_the_mask_again(qtbot, opened):
    window = opened
    set_brush(window, 12, 1.0)
    paint_stroke(window, [(40, Y), (120, Y)])
    image_colour = lambda: window.doc.image[Y, 80, :3] * 255  # noqa: E731
    assert np.abs(shown_colour(window, 80, Y) - image_colour()).max() > 30, "the red overlay covers the stroke"

    run_from_panel(qtbot, window, "inpaint/telea")
    assert not window.act_overlay.isChecked()
    assert window.doc.mask[Y, 80] > 0.99, "the mask is kept for another try"
    assert np.abs(shown_colour(window, 80, Y) - image_colour()).max() < 12, "the fill itself is shown"
    assert "mask hidden" in window.statusBar().currentMessage()

    paint_stroke(window, [(40, Y + 20), (60, Y + 20)])
    assert window.act_overlay.isChecked()
    assert np.abs(shown_colour(window, 80, Y) - image_colour()).max() > 30


def test_open_paint_inpaint_undo_redo_save_reopen(qtbot, opened, tmp_path):
    window = opened
    doc = window.doc
    assert doc.image.shape == (120, 160, 3)
    assert "photo.png" in window.windowTitle()
    set_brush(window, 12, 1.0)

    paint_stroke(window, [(40, Y), (120, Y)])

    mask = doc.mask.copy()
    assert mask[Y, 40:121].min() > 0.99, "the stroke's centre line is selected"
    assert mask[Y - 3:Y + 4, 50:110].min() > 0.99
    assert mask[:40].max() == 0 and mask[80:].max() == 0 and mask[:, :25].max() == 0
    assert history_rows(window) == ["Opened", "Paint mask"]
    assert window.windowTitle().startswith("photo.png") and window.isWindowModified()

    before = doc.image
    run_from_panel(qtbot, window, "inpaint/telea")
    assert not window.dialogs.errors, window.dialogs.error_text
    after = doc.image
    inside, outside = mask > 0.99, mask == 0
    assert np.abs(after - before)[inside].mean() > 0.01, "the masked pixels were filled"
    np.testing.assert_array_equal(after[outside], before[outside])
    assert history_rows(window)[-1] == "Telea"

    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, window)  # an image step is undone in the worker
    np.testing.assert_array_equal(doc.image, before)
    np.testing.assert_array_equal(doc.mask, mask)  # undo took back the inpainting only
    assert window.act_redo.isEnabled()
    assert history_rows(window)[-1] == "Telea", "the undone step stays listed, to redo"
    QTest.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, window)
    # the history keeps 16 bits per channel: redo brings the float result back to that precision
    np.testing.assert_allclose(doc.image, after, atol=0.51 / 65535)

    out = tmp_path / "out" / "edited.png"
    out.parent.mkdir()
    window.dialogs.save_paths.append(str(out))
    window.save_as()
    wait_idle(qtbot, window)
    assert not window.dialogs.errors, window.dialogs.error_text
    assert out.is_file()
    assert window.windowTitle().startswith("edited.png") and not window.isWindowModified(), "saved: no unsaved-changes star"

    saved, _ = load_image(out)
    np.testing.assert_allclose(saved, after, atol=0.5 / 255 + 1e-6)
    open_and_wait(qtbot, window, out)
    assert window.dialogs.questions == [], "nothing unsaved, so nothing to ask"
    assert window.doc is not doc and window.doc.path.name == "edited.png"
    np.testing.assert_allclose(window.doc.image, after, atol=0.5 / 255 + 1e-6)


# --- the brush ---------------------------------------------------------------------------------


@pytest.mark.parametrize("hardness, soft_share", [(0.0, (0.6, 1.0)), (1.0, (0.0, 0.12))],
                         ids=["soft", "hard"])
def test_brush_hardness_sets_how_soft_the_mask_edge_is(opened, hardness, soft_share):
    set_brush(opened, 30, hardness)
    paint_stroke(opened, [(40, Y), (120, Y)])
    across = opened.doc.mask[:, 80]  # a column through the stroke: its profile
    painted = across[across > 0.02]
    soft = painted[painted < 0.98]
    assert 25 <= painted.size <= 34, "about a brush diameter (30 px) is painted"
    lo, hi = soft_share
    assert lo <= soft.size / painted.size <= hi, f"profile across the stroke: {np.round(painted, 2)}"
    assert across[Y] > 0.98


def test_bracket_keys_change_the_brush_size(opened):
    canvas, panel = opened.canvas, opened.mask_panel
    start = canvas.brush.size
    QTest.keyClick(canvas, Qt.Key.Key_BracketRight)
    bigger = canvas.brush.size
    assert bigger > start
    assert panel.size.value() == round(bigger), "the panel shows the new size"
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush.size < start
    assert panel.size.value() == round(canvas.brush.size)


def test_eraser_removes_mask(opened):
    set_brush(opened, 16, 1.0)
    paint_stroke(opened, [(30, Y), (130, Y)])
    QTest.keyClick(opened.canvas, Qt.Key.Key_X)
    assert opened.mask_panel.erase.isChecked(), "X switched the panel to Erase"
    set_brush(opened, 24, 1.0)
    paint_stroke(opened, [(70, Y), (90, Y)])

    mask = opened.doc.mask
    assert mask[Y - 8:Y + 9, 65:96].max() == 0, "erased where the eraser went"
    assert mask[Y, 30:50].min() > 0.99 and mask[Y, 110:130].min() > 0.99, "kept elsewhere"
    assert history_rows(opened) == ["Opened", "Paint mask", "Erase mask"]


def test_clear_invert_feather_are_one_undo_step_each(qtbot, opened):
    set_brush(opened, 20, 1.0)
    paint_stroke(opened, [(40, Y), (120, Y)])
    painted = opened.doc.mask.copy()

    panel_button(opened, "Invert").click()
    wait_idle(qtbot, opened)  # mask commands run in the worker
    np.testing.assert_allclose(opened.doc.mask, 1 - painted)
    panel_button(opened, "Feather").click()
    wait_idle(qtbot, opened)
    feathered = opened.doc.mask
    edge = feathered[Y - 10:Y - 4, 80]
    assert ((edge > 0.05) & (edge < 0.95)).any(), "the edge became soft"
    panel_button(opened, "Clear").click()
    wait_idle(qtbot, opened)
    assert opened.doc.mask.max() == 0
    assert history_rows(opened) == ["Opened", "Paint mask", "Invert mask", "Feather mask 8px", "Clear mask"]
    assert opened.history_panel.list.currentRow() == 4

    for expected_rows in (4, 3, 2):
        opened.act_undo.trigger()
        assert opened.history_panel.list.currentRow() == expected_rows - 1
    np.testing.assert_allclose(opened.doc.mask, painted, atol=1e-4)  # masks are kept as uint16 in the history


def test_clicking_a_history_row_goes_back_to_it(qtbot, opened):
    set_brush(opened, 20, 1.0)
    paint_stroke(opened, [(40, Y), (120, Y)])
    painted = opened.doc.mask.copy()
    panel_button(opened, "Invert").click()
    wait_idle(qtbot, opened)
    opened.history_panel.list.setCurrentRow(1)
    np.testing.assert_allclose(opened.doc.mask, painted, atol=1e-4)  # masks are kept as uint16 in the history
    opened.history_panel.list.setCurrentRow(0)
    assert opened.doc.mask.max() == 0
    opened.history_panel.list.setCurrentRow(2)
    np.testing.assert_allclose(opened.doc.mask, 1 - painted, atol=1e-4)


# --- zoom and pan ------------------------------------------------------------------------------


def wheel(widget, pos: QPoint, clicks: float) -> None:
    event = QWheelEvent(QPointF(pos), QPointF(widget.mapToGlobal(pos)), QPoint(0, 0), QPoint(0, int(120 * clicks)),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)
    QApplication.sendEvent(widget, event)


def test_wheel_zooms_about_the_point_under_the_cursor(opened):
    canvas = opened.canvas
    pos = screen_point(canvas, 50, 40)
    under = canvas.to_image(QPointF(pos))
    zoom = canvas.zoom
    wheel(canvas, pos, 2)
    assert canvas.zoom == pytest.approx(zoom * 1.25 ** 2)
    after = canvas.to_image(QPointF(pos))
    assert (after.x(), after.y()) == pytest.approx((under.x(), under.y()), abs=1e-6)
    wheel(canvas, pos, -3)
    assert canvas.zoom == pytest.approx(zoom / 1.25)
    after = canvas.to_image(QPointF(pos))
    assert (after.x(), after.y()) == pytest.approx((under.x(), under.y()), abs=1e-6)
    assert opened.zoom_label.text() == f"{canvas.zoom * 100:.0f}%"


def test_fit_and_actual_size_shortcuts(opened):
    canvas, doc = opened.canvas, opened.doc
    QTest.keyClick(opened, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert canvas.zoom == 1.0
    assert opened.zoom_label.text() == "100%"
    QTest.keyClick(opened, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    shown_w, shown_h = doc.width * canvas.zoom, doc.height * canvas.zoom
    assert shown_w <= canvas.width() and shown_h <= canvas.height()
    assert max(shown_w / canvas.width(), shown_h / canvas.height()) > 0.9, "fills the view"
    top_left = canvas.to_screen(QPointF(0, 0))
    assert top_left.x() >= 0 and top_left.y() >= 0
    assert opened.zoom_label.text() == f"{canvas.zoom * 100:.0f}%" and canvas.zoom > 4


def test_middle_button_drag_pans_and_does_not_paint(opened):
    canvas = opened.canvas
    start = QPointF(canvas.offset)
    a = screen_point(canvas, 80, 60)
    drag(canvas, [a, a + QPoint(70, -40)], button=Qt.MouseButton.MiddleButton)
    assert canvas.offset - start == QPointF(70, -40)
    assert opened.doc.mask.max() == 0
    assert opened.doc.history.done == []


def test_status_bar_shows_the_pixel_under_the_cursor(opened):
    canvas = opened.canvas
    send_mouse(canvas, QMouseEvent.Type.MouseMove, screen_point(canvas, 30.5, 40.5))
    text = opened.pos_label.text()
    assert text.startswith("x 30  y 40")
    r, g, b = (round(v * 255) for v in opened.doc.image[40, 30])
    assert f"({r}, {g}, {b})" in text
    send_mouse(canvas, QMouseEvent.Type.MouseMove, QPoint(2, 2))  # off the photo
    assert opened.pos_label.text() == ""
    # zoomed about the centre (Ctrl+=): another pixel under the still cursor, and the readout says so
    send_mouse(canvas, QMouseEvent.Type.MouseMove, screen_point(canvas, 30.5, 40.5))
    canvas.zoom_in()
    p = canvas.to_image(canvas._mouse)
    assert opened.pos_label.text().startswith(f"x {int(p.x())}  y {int(p.y())}") and int(p.x()) != 30


# --- compare, drop -----------------------------------------------------------------------------


def test_split_view_shows_the_original_left_and_the_edit_right(qtbot, opened, invert_op):
    window, canvas = opened, opened.canvas
    QTest.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.act_split.isChecked() and canvas.split == 0.5
    run_from_panel(qtbot, window, invert_op.key)
    assert not window.dialogs.errors, window.dialogs.error_text

    def shown(x: int, y: int) -> tuple[int, int, int]:
        c = canvas.grab().toImage().pixelColor(screen_point(canvas, x + 0.5, y + 0.5))
        return c.red(), c.green(), c.blue()

    def expected(pixels, x, y):
        return tuple(int(round(v * 255)) for v in pixels[y, x])

    left, right = (40, 60), (120, 60)
    assert screen_point(canvas, *left).x() < canvas.width() / 2 < screen_point(canvas, *right).x()
    original, edited = window.doc.original, window.doc.image
    assert shown(*left) == pytest.approx(expected(original, *left), abs=2)
    assert shown(*right) == pytest.approx(expected(edited, *right), abs=2)
    assert shown(*left) != pytest.approx(expected(edited, *left), abs=20)

    window.act_split.trigger()
    assert canvas.split is None
    assert shown(*left) == pytest.approx(expected(edited, *left), abs=2), "the whole view shows the edit"


def drop_files(window, urls: list[QUrl]) -> tuple[bool, bool]:
    mime = QMimeData()
    mime.setUrls(urls)
    pos = QPointF(300, 300)
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    return enter.isAccepted(), drop.isAccepted()


def test_dropping_a_file_opens_it(qtbot, window, photo_path):
    accepted = drop_files(window, [QUrl.fromLocalFile(str(photo_path))])
    assert accepted == (True, True)
    wait_idle(qtbot, window)
    assert window.doc is not None and window.doc.path == photo_path
    assert "photo.png" in window.windowTitle()


def test_dropping_a_web_link_is_refused(qtbot, window):
    accepted = drop_files(window, [QUrl("https://example.com/photo.png")])
    assert accepted == (False, False)
    assert window.job is None and window.doc is None
