"""An operation that fails, or cannot run, is reported once and leaves the photo as it was."""

from __future__ import annotations

import numpy as np

from desktop_app.core.operations import Operation
from desktop_app.core.work import Progress
from tests.gui.helpers import paint_stroke, register_for_test, run_from_panel


def _explode(inp):
    yield Progress(0.3, "warming up")
    raise RuntimeError("boom")


BOOM = Operation(task="test", method="boom", title="Exploding filter", category="Testing",
                 description="Fails half-way (a test operation).", run=_explode)


def test_failing_operation_shows_its_error_and_the_next_one_still_works(qtbot, opened, request):
    register_for_test(BOOM, request)
    window, dialogs = opened, opened.dialogs
    window.mask_panel.size.setValue(12)
    paint_stroke(window, [(40, 60), (120, 60)])
    doc, image, steps = window.doc, window.doc.image, list(window.doc.history.done)

    run_from_panel(qtbot, window, BOOM.key)

    assert len(dialogs.errors) == 1
    title, message = dialogs.errors[0]
    assert "Exploding filter" in title and "boom" in message
    assert doc.image is image and doc.history.done == steps, "nothing changed"
    assert window.ops_panel.run_button.isEnabled() and window.act_undo.isEnabled()

    run_from_panel(qtbot, window, "inpaint/telea")
    assert len(dialogs.errors) == 1, dialogs.error_text
    assert doc.history.titles()[-1] == "Telea"
    inside = doc.mask > 0.99
    assert np.abs(doc.image - image)[inside].mean() > 0.01


def test_inpainting_without_a_mask_says_to_paint_one(qtbot, opened):
    window, dialogs = opened, opened.dialogs
    image = window.doc.image
    run_from_panel(qtbot, window, "inpaint/telea")
    assert len(dialogs.errors) == 1
    title, message = dialogs.errors[0]
    assert "Telea" in title and "paint a mask" in message
    assert window.doc.image is image and window.doc.history.done == []
    assert not window.doc.modified
