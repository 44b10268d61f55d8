"""Object removal in the window: paint a mask, run the neural fill, pick one of its
variations, undo."""

from __future__ import annotations

import re
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.gui.helpers import paint_stroke, run_from_panel, wait_idle


def test_neural_fill_offers_three_variations_to_pick_from_and_undo(qtbot, opened, tiny_inpaint_model):
    window = opened
    doc = window.doc
    window.mask_panel.size.setValue(16)
    paint_stroke(window, [(40, 60), (120, 60)])
    mask, before = doc.mask.copy(), doc.image
    steps = len(doc.history.done)

    run_from_panel(qtbot, window, "inpaint/cnn", seed=5)
    assert not window.dialogs.errors, window.dialogs.error_text
    strip = window.ops_panel.variations
    assert strip.isVisible() and len(strip.buttons) == 3
    assert [b.text() for b in strip.buttons] == ["Seed 5", "Seed 6", "Seed 7"]
    assert strip.buttons[0].toolTip() == "Use seed 5"
    assert strip.buttons[0].isChecked()
    # in view without scrolling: below Run they were once out of sight on a small screen
    def whole(w):
        return w.visibleRegion().boundingRect() == w.rect()

    qtbot.waitUntil(lambda: all(whole(b) for b in strip.buttons), timeout=2000)
    assert whole(window.ops_panel.run_button) and whole(window.ops_panel.status)
    first = doc.image
    inside, outside = mask > 0.99, mask == 0
    assert np.abs(first - before)[inside].mean() > 0.01
    np.testing.assert_array_equal(first[outside], before[outside])
    assert len(doc.history.done) == steps + 1

    qtbot.mouseClick(strip.buttons[2], Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    third = doc.image
    assert strip.buttons[2].isChecked()
    # and it shows: its frame is drawn in the highlight colour, the others' not
    tops = [b.grab().toImage().pixelColor(b.width() // 2, 1).name() for b in strip.buttons]
    assert tops[2] == window.palette().highlight().color().name() and tops[0] != tops[2]
    assert window.ops_panel.status.text().startswith("Neural fill: Seed 7"), "named as its thumbnail names it"
    assert np.abs(third - first)[inside].mean() > 1e-3, "another seed, another fill"
    np.testing.assert_array_equal(third[outside], before[outside])
    assert len(doc.history.done) == steps + 1, "picking a variation replaces the fill, it does not stack"

    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, window)
    np.testing.assert_array_equal(doc.image, before)
    np.testing.assert_array_equal(doc.mask, mask)
    assert not strip.isVisible(), "the thumbnails leave with the fill they belong to"
    assert window.act_overlay.isChecked(), "undoing a fill shows the mask again"

    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    wait_idle(qtbot, window)
    np.testing.assert_allclose(doc.image, third, atol=1e-4)  # the history keeps 16 bits
    assert strip.isVisible() and strip.buttons[2].isChecked(), "the redone fill brings its thumbnails back"
    assert not window.act_overlay.isChecked(), "and shows the fill, not the mask over it"
    qtbot.mouseClick(strip.buttons[0], Qt.MouseButton.LeftButton)  # and they still work
    wait_idle(qtbot, window)
    np.testing.assert_array_equal(doc.image, first)
    assert len(doc.history.done) == steps + 1


def test_variations_are_dropped_once_the_image_changes(qtbot, opened, tiny_inpaint_model, invert_op):
    window = opened
    window.mask_panel.size.setValue(16)
    paint_stroke(window, [(40, 60), (120, 60)])
    run_from_panel(qtbot, window, "inpaint/cnn")
    strip = window.ops_panel.variations
    assert strip.isVisible()
    run_from_panel(qtbot, window, invert_op.key)
    assert not strip.isVisible()
    inverted = window.doc.image
    window.choose_variation(1)
    wait_idle(qtbot, window)
    assert window.doc.image is inverted


def test_box_select_an_object_remove_it_pick_a_variation_and_undo(qtbot, window, tmp_path):
    """The headline job with the shipped network: the panel offers Remove object first, the red
    disc goes and the ground's texture takes its place, the variations differ, Ctrl+Z brings it
    back."""
    from desktop_app.core.imaging.io import save_image
    from tests.conftest import textured_image
    from tests.gui.helpers import open_and_wait
    from tests.gui.test_selection import box_drag

    ground = textured_image(240, 320, seed=4) * 0.3 + 0.35
    img = ground.copy()
    yy, xx = np.mgrid[0:240, 0:320]
    disc = (xx - 170) ** 2 + (yy - 120) ** 2 < 50 ** 2
    img[disc] = [0.9, 0.2, 0.15]
    save_image(tmp_path / "disc.png", img)
    open_and_wait(qtbot, window, tmp_path / "disc.png")
    doc = window.doc
    before = doc.image
    window.set_tool("box")
    box_drag(qtbot, window, 110, 60, 230, 180)
    mask = doc.mask.copy()
    assert (mask > 0.5)[disc].mean() > 0.95
    steps = len(doc.history.done)

    panel = window.ops_panel
    assert panel.operation is not None and panel.operation.key == "inpaint/remove"  # offered first
    expand, auto = panel.form.widgets["expand"], panel.form.autos["expand"]
    assert auto.isChecked() and not expand.isEnabled()
    auto.setChecked(False)  # a number to start from, not 0 (which grows nothing)
    assert expand.isEnabled() and expand.value() == 8
    auto.setChecked(True)
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window, 120)
    assert not window.dialogs.errors, window.dialogs.error_text
    first = doc.image
    redness = first[..., 0] - first[..., 1]
    assert redness[disc].mean() < 0.2, "the red disc is gone"
    assert np.abs(first - ground)[disc].mean() < 0.12, "the ground continues into the hole"
    strip = panel.variations
    assert strip.isVisible() and len(strip.buttons) == 3
    # each says what its seed does, as the Seed setting explains
    assert [b.text() for b in strip.buttons] == ["Seed 0\nphoto inside", "Seed 1\nsharp edges", "Seed 2\nlayout"]
    assert strip.buttons[2].toolTip() == "Use seed 2: the network's layout throughout"
    qtbot.waitUntil(lambda: strip.scroller.horizontalScrollBar().maximum() == 0, timeout=2000)  # all in view
    assert strip.label.text() == "3 variations: click one to use it"
    assert ", and ." in strip.label.toolTip()  # the keys that step through them
    # the strip took height below Run: the settings still show whole, not the list above them
    area = panel.choice_area

    def out_of_sight() -> list[str]:
        fields = {name: panel.form.widgets[name] for name in ("seed", "expand", "working_size")}
        tops = {name: f.mapTo(area.viewport(), f.rect().topLeft()).y() for name, f in fields.items()}
        return [name for name, f in fields.items() if not 0 <= tops[name] <= area.viewport().height() - f.height()]

    qtbot.waitUntil(lambda: not out_of_sight(), timeout=2000)  # the area scrolls once laid out
    assert panel.status.text().startswith("Remove object: done")  # not a bare "Ready" beside them
    assert re.search(r"hole grown by \d+ px \(Expand auto", panel.status.text())  # how far auto reached
    assert len(doc.history.done) == steps + 1

    # the keyboard steps through them round the strip, the eyes on the photo
    QTest.keyClick(window.canvas, Qt.Key.Key_Comma)
    wait_idle(qtbot, window)
    assert strip.buttons[2].isChecked() and np.array_equal(doc.image, window.variations.results[2])
    QTest.keyClick(window.canvas, Qt.Key.Key_Period)
    wait_idle(qtbot, window)
    assert strip.buttons[0].isChecked() and np.array_equal(doc.image, first)
    assert len(doc.history.done) == steps + 1

    qtbot.mouseClick(strip.buttons[1], Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    second = doc.image
    assert strip.buttons[1].isChecked()
    # the ground is a low-contrast texture: its variations differ by about 0.007 on average (on
    # CBSD68 photos by 0.04-0.07), and the same fill twice by 0
    assert np.abs(second - first)[disc].mean() > 0.004, "another variation, another fill"
    assert len(doc.history.done) == steps + 1

    window.act_undo.trigger()  # Edit > Undo (Ctrl+Z); a large step is undone in the worker
    wait_idle(qtbot, window)
    np.testing.assert_array_equal(doc.image, before)
    np.testing.assert_array_equal(doc.mask, mask)
