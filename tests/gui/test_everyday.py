"""The rough edges a new user hit in an afternoon with the app: where the keyboard focus is,
whether the window fits a laptop screen, what the mask overlay shows, the brush's size on a
new photo, progress wherever one looks, and documents that were never edited."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget

from desktop_app.core.imaging.io import save_image
from desktop_app.core.operations import registry
from desktop_app.gui.file_actions import READ_ONLY
from tests.conftest import textured_image
from tests.gui.helpers import UNSAVED, open_and_wait, paint_stroke, run_from_panel, wait_idle


def test_tool_keys_work_right_after_run_without_clicking_the_canvas(qtbot, opened, invert_op):
    window = opened
    window.mask_panel.size.setFocus()  # the user typed a brush size, then pressed Run
    qtbot.waitUntil(lambda: window.mask_panel.size.hasFocus())
    run_from_panel(qtbot, window, invert_op.key)
    assert window.canvas.hasFocus(), f"focus is on {window.focusWidget()}"
    QTest.keyClick(window.focusWidget(), Qt.Key.Key_M)
    assert window.canvas.tool == "box" and window.tool_actions["box"].isChecked()
    size = window.canvas.brush.size
    QTest.keyClick(window.focusWidget(), Qt.Key.Key_B)
    QTest.keyClick(window.focusWidget(), Qt.Key.Key_BracketRight)
    assert window.canvas.tool == "brush" and window.canvas.brush.size > size


def test_panel_buttons_give_the_focus_back_to_the_canvas(qtbot, opened):
    window = opened
    paint_stroke(window, [(40, 60), (120, 60)])
    window.mask_panel.grow_px.setFocus()
    next(b for b in window.mask_panel.findChildren(type(window.ops_panel.run_button)) if b.text() == "Grow").click()
    wait_idle(qtbot, window)
    assert window.canvas.hasFocus()


def test_the_window_fits_a_1366x768_screen_with_every_panel_open(qtbot, opened, tiny_inpaint_model):
    window = opened
    for dock in window.docks.values():
        dock.show()
    window.resize(1366, 740)  # a 768-pixel screen less a title bar
    paint_stroke(window, [(40, 60), (120, 60)])
    run_from_panel(qtbot, window, "inpaint/cnn")  # the variations strip appears
    assert window.ops_panel.variations.isVisible()
    qtbot.wait(50)
    assert window.minimumSizeHint().height() <= 740 and window.minimumSize().height() <= 740
    assert window.height() <= 740, f"the window grew to {window.height()} px"
    history = window.docks["history"]
    assert history.isVisible() and history.geometry().bottom() <= window.height(), "History is on screen"


def test_a_first_start_gives_the_operations_the_height_and_the_history_little(qtbot, window):
    docks = {name: window.docks[name].height() for name in ("operations", "mask", "history")}
    assert docks["operations"] > docks["mask"] > docks["history"], docks
    assert docks["operations"] >= 3 * docks["history"], docks


def test_choosing_an_operation_brings_its_settings_into_view(qtbot, window):
    """On a first-start window of a 768-px screen the denoiser's form lay below the fold."""
    window.resize(1280, 740)
    window.show()
    qtbot.waitExposed(window)
    panel = window.ops_panel
    panel.select("denoise/cnn-real")
    qtbot.wait(50)
    area = panel.choice_area
    assert area.verticalScrollBar().maximum() > 0, "the case needs a form taller than the dock"

    def shown(widget) -> bool:
        top = widget.mapTo(area.viewport(), widget.rect().topLeft()).y()
        return top >= 0 and top + widget.height() <= area.viewport().height()

    assert shown(panel.form.widgets["average_similar"]) and shown(panel.form.widgets["ensemble"])
    row = panel.tree.visualItemRect(panel.tree.currentItem())
    top = panel.tree.viewport().mapTo(area.viewport(), row.topLeft()).y()
    assert 0 <= top and top + row.height() <= area.viewport().height(), "the chosen row stays in view"


def test_the_list_stays_still_under_the_pointer_and_the_settings_come_when_it_leaves(qtbot, window):
    window.resize(1280, 740)
    window.show()
    qtbot.waitExposed(window)
    panel = window.ops_panel
    area = panel.choice_area
    on_list = [True]
    panel._pointer_on_list = lambda: on_list[0]  # where the pointer is (offscreen, none)
    start = area.verticalScrollBar().value()
    panel.select("denoise/cnn-real")  # a click on its row: the form is taller than the dock
    qtbot.wait(400)
    assert area.verticalScrollBar().maximum() > 0, "the case needs a form taller than the dock"
    assert area.verticalScrollBar().value() == start, "the rows stay where the next click lands"
    on_list[0] = False  # the pointer leaves, towards the form
    qtbot.waitUntil(lambda: area.verticalScrollBar().value() > start, timeout=2000)
    widget = panel.form.widgets["ensemble"]
    top = widget.mapTo(area.viewport(), widget.rect().topLeft()).y()
    assert 0 <= top and top + widget.height() <= area.viewport().height()


def test_the_mask_panel_gets_its_height_back_when_the_window_grows_again(qtbot, window):
    window.resize(1280, 760)
    window.show()
    qtbot.waitExposed(window)
    dock = window.docks["mask"]
    qtbot.wait(50)
    before = dock.height()
    window.resize(520, 680)  # made small: every dock gives up height
    qtbot.wait(100)
    assert dock.height() < before
    window.resize(1280, 760)
    # Qt handed the height back to the Operations dock; Clear and Invert stayed out of view
    qtbot.waitUntil(lambda: dock.height() >= before, timeout=2000)


def test_grow_and_undo_of_a_fill_show_the_mask(qtbot, opened, tiny_inpaint_model):
    window = opened
    paint_stroke(window, [(40, 60), (120, 60)])
    run_from_panel(qtbot, window, "inpaint/cnn")
    assert not window.act_overlay.isChecked(), "hidden after the fill, to show it"
    window.grow_mask(+1)
    wait_idle(qtbot, window)
    assert window.act_overlay.isChecked(), "a mask edit shows the mask"
    window.set_overlay_visible(False)
    window.undo()  # the grow
    assert window.act_overlay.isChecked()
    window.set_overlay_visible(False)
    window.undo()  # the fill
    wait_idle(qtbot, window)
    assert window.act_overlay.isChecked(), "undoing a fill shows the mask again"
    assert not window.ops_panel.variations.isVisible(), "its thumbnails went with it"
    before = window.doc.image
    QTest.keyClick(window.canvas, Qt.Key.Key_Period)  # nothing to step through: said, nothing changes
    assert window.statusBar().currentMessage().startswith("No variations to step through")
    assert window.job is None and window.doc.image is before


def test_the_brush_keeps_its_size_relative_to_each_photo(qtbot, window, tmp_path):
    small, big = tmp_path / "small.png", tmp_path / "big.png"
    save_image(small, textured_image(120, 160))
    save_image(big, textured_image(1200, 1600))
    open_and_wait(qtbot, window, small)
    window.mask_panel.size.setValue(30)  # a quarter of the shorter side
    open_and_wait(qtbot, window, big)
    assert window.canvas.brush.size == 300 and window.mask_panel.size.value() == 300
    assert "photo" in window.mask_panel.size.toolTip()


def test_opening_shows_progress_in_the_status_bar_with_the_generate_tab_in_front(qtbot, window, photo_path):
    window.show_generate_panel()
    messages = []
    window.runner.progress.connect(lambda p: messages.append(window.job_label.text()))
    window.open_path(str(photo_path))
    assert window.job_progress.isVisible()
    wait_idle(qtbot, window)
    assert any("Opening photo.png" in m for m in messages)
    assert not window.job_progress.isVisible()


def test_the_untouched_sample_photo_closes_without_a_question(qtbot, window):
    window.act_open_sample.trigger()
    wait_idle(qtbot, window)
    assert window.doc is not None and not window.doc.modified
    assert "None" not in window.statusBar().currentMessage()
    assert "sample photo" in window.statusBar().currentMessage()
    assert window.close()
    assert [q for q in window.dialogs.questions if q[0] == UNSAVED] == []


def test_a_write_protected_file_is_replaced_only_when_the_user_says_so(qtbot, opened, invert_op, tmp_path):
    window = opened
    run_from_panel(qtbot, window, invert_op.key)
    target = tmp_path / "protected.png"
    save_image(target, textured_image(8, 8))
    os.chmod(target, 0o444)
    before = target.read_bytes()
    window.dialogs.save_paths.append(str(target))
    assert window.save_as() is None
    assert target.read_bytes() == before
    assert window.dialogs.questions[-1][0] == READ_ONLY

    window.dialogs.answers[READ_ONLY] = "Replace"
    window.dialogs.save_paths.append(str(target))
    window.save_as()
    wait_idle(qtbot, window)
    assert target.read_bytes() != before and not window.doc.modified
    assert Path(window.doc.path) == target


def test_save_as_lists_the_suggested_files_type(window, monkeypatch):
    from desktop_app.gui import prompts

    asked = []

    def dialog(parent, caption, folder, filters, selected=""):
        asked.append(selected)
        return "", ""

    monkeypatch.setattr(prompts.QFileDialog, "getSaveFileName", dialog)
    for suggestion in ("/photos/IMG_0001-edited.tif", "/photos/a.JPEG", "/photos/b.png", "/photos/c"):
        type(window).ask_save_path(window, suggestion)  # the real dialog's call, not the tests' stand-in
    assert asked == ["TIFF (*.tif *.tiff)", "JPEG (*.jpg *.jpeg)", "PNG (*.png)", ""]


def test_saving_a_raw_proposes_a_16_bit_tiff_beside_it_and_never_writes_the_raw(qtbot, window, tmp_path):
    from desktop_app.core.imaging.formats import synthetic_dng

    raw = tmp_path / "IMG_0001.dng"
    raw.write_bytes(synthetic_dng(np.full((48, 64, 3), 0.3, np.float32)))
    shipped = raw.read_bytes()
    open_and_wait(qtbot, window, raw)
    assert window.doc is not None, window.dialogs.error_text
    suggested = []
    window.ask_save_path = lambda suggestion, filt="": suggested.append(suggestion) or ""
    window.save()  # Save, not Save As: a RAW is never the destination
    assert suggested == [str(tmp_path / "IMG_0001-edited.tif")]
    assert raw.read_bytes() == shipped


def test_a_long_run_says_about_how_long_it_has_left(qtbot, window, monkeypatch):
    """The panel's status reads "tile 3/10  4.0 s, about 10 s left" once the bar's pace is known,
    and starts the guess again when a job's bar goes back (a second stage)."""
    from desktop_app.core.work import Progress
    from desktop_app.gui.panels import operations as panel_module

    clock = [100.0]
    monkeypatch.setattr(panel_module.time, "perf_counter", lambda: clock[0])
    panel = window.ops_panel
    panel.set_running(True, "Starting")
    panel.show_progress(Progress(None, "loading the network"))
    clock[0] += 3.0  # loading: no pace yet
    panel.show_progress(Progress(0.0, "tile 1/10"))
    assert "left" not in panel.status.text()
    clock[0] += 4.0
    panel.show_progress(Progress(0.2, "tile 3/10"))
    assert panel.status.text() == "tile 3/10  7.0 s, about 15 s left"
    assert panel.time_left_text() == "about 15 s left"  # the status bar says it too
    clock[0] += 6.0  # counted down between the bar's moves
    assert panel.time_left_text() == "about 10 s left"
    clock[0] -= 6.0
    clock[0] += 1.0
    panel.show_progress(Progress(0.1, "second stage"))  # the bar went back: the pace is read again
    assert panel.status.text() == "second stage  8.0 s"
    panel.set_running(False, "done")
    assert panel.status.text() == "done"


def test_every_operations_settings_fit_the_docks_width(qtbot, window):
    """The dock's width was set by the first form shown (Remove object); the CNN denoiser's
    "Noise level [25] [x] auto" row is wider, and its "auto", its Strength field and the Device
    list were cut off at the dock's right edge (seen in a screenshot of a first start)."""
    window.resize(1280, 740)
    window.show()
    qtbot.waitExposed(window)
    panel = window.ops_panel
    area = panel.choice_area
    for category in registry.by_category().values():
        for op in category:
            panel.select(op.key)
            qtbot.wait(20)
            for w in [panel.device_box, *panel.form.findChildren(QWidget)]:
                if w.isVisible():
                    right = w.mapTo(area.viewport(), QPoint(w.width(), 0)).x()
                    assert right <= area.viewport().width(), (op.key, w.metaObject().className(), right)


def test_run_and_the_outcome_stay_in_view_whatever_the_form(qtbot, window):
    """On a first start the Operations dock is about 340 px tall: the list, the description and
    a form of four settings pushed Run below its edge. The list and the form scroll; Run, the
    progress and the outcome stay in view."""
    panel = window.ops_panel
    for key in ("denoise/cnn-real", "inpaint/remove", "denoise/nlmeans"):
        panel.select(key)
        qtbot.wait(20)
        for w in (panel.run_button, panel.cancel_button, panel.progress, panel.status):
            assert w.visibleRegion().boundingRect() == w.rect(), (key, w.objectName())


def test_the_generate_buttons_stay_in_view_under_the_grid(qtbot, window):
    window.docks["generate"].raise_()
    qtbot.waitUntil(lambda: window.generate_panel.isVisible(), timeout=2000)
    panel = window.generate_panel
    qtbot.wait(20)
    for w in (panel.generate_button, panel.interpolate_button, panel.open_button, panel.paste_button):
        assert w.visibleRegion().boundingRect() == w.rect(), w.objectName()  # the grid scrolls, not the panel


def test_the_window_sits_still_after_a_job(qtbot, window, photo_path):
    """Fusion kept animating a progress bar that had been indeterminate (opening a photo),
    60 repaints a second with the app idle: 5 % of a core, a laptop's fan."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication, QProgressBar

    window.open_path(str(photo_path))
    wait_idle(qtbot, window)
    qtbot.wait(100)

    class Paints(QObject):
        count = 0

        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint and isinstance(watched, QProgressBar):
                Paints.count += 1
            return False

    paints = Paints()
    QApplication.instance().installEventFilter(paints)
    try:
        qtbot.wait(600)
    finally:
        QApplication.instance().removeEventFilter(paints)
    assert Paints.count <= 2, Paints.count
