"""Object removal in the window: paint a mask, run the neural fill, pick one of its
variations, undo."""

from __future__ import annotations

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
    assert strip.buttons[0].isChecked()
    first = doc.image
    inside, outside = mask > 0.99, mask == 0
    assert np.abs(first - before)[inside].mean() > 0.01
    np.testing.assert_array_equal(first[outside], before[outside])
    assert len(doc.history.done) == steps + 1

    qtbot.mouseClick(strip.buttons[2], Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    third = doc.image
    assert strip.buttons[2].isChecked()
    assert np.abs(third - first)[inside].mean() > 1e-3, "another seed, another fill"
    np.testing.assert_array_equal(third[outside], before[outside])
    assert len(doc.history.done) == steps + 1, "picking a variation replaces the fill, it does not stack"

    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(doc.image, before)
    np.testing.assert_array_equal(doc.mask, mask)


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
