"""Long work on a 6-megapixel photo: the window keeps answering, Cancel and closing are quick."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.gui.helpers import GapRecorder, open_and_wait, run_from_panel, start_from_panel, wait_idle

MAX_GAP = 0.25  # seconds the GUI thread may be busy without answering
NLMEANS = "denoise/nlmeans"


@pytest.fixture
def big(qtbot, window, big_photo_path):
    open_and_wait(qtbot, window, big_photo_path)
    assert window.doc is not None, window.dialogs.error_text
    assert (window.doc.height, window.doc.width) == (2000, 3000)
    qtbot.wait(50)  # the first paint
    return window


def start_nlmeans(qtbot, window, tiles_done: int = 1) -> list[float]:
    """Start NL-Means from the panel; return once `tiles_done` tiles are done, with the times
    (perf_counter) at which the window heard of each finished tile."""
    done: list[float] = []
    start_from_panel(qtbot, window, NLMEANS, sigma=25.0)
    assert window.busy, window.dialogs.error_text
    window.job.progress.connect(lambda p: done.append(time.perf_counter()) if p.fraction else None)
    qtbot.waitUntil(lambda: len(done) >= tiles_done, timeout=20000)
    return done


def test_gui_answers_while_nlmeans_runs_on_a_6mp_photo(qtbot, big):
    window = big
    recorder = GapRecorder(while_=lambda: window.busy)
    recorder.start()
    t0 = time.perf_counter()
    start_from_panel(qtbot, window, NLMEANS, sigma=25.0)
    assert window.busy, window.dialogs.error_text
    qtbot.waitUntil(lambda: window.job is None or time.perf_counter() - t0 > 3.0, timeout=10000)
    ran = time.perf_counter() - t0
    status = window.ops_panel.status.text()
    recorder.stop()
    window.cancel_job()
    wait_idle(qtbot, window)

    assert ran > 1.0, "the operation must run long enough to prove anything"
    assert len(recorder.gaps) > 20
    assert "tile" in status, f"progress is shown while it runs: {status!r}"
    assert recorder.worst < MAX_GAP, f"GUI thread blocked for {recorder.worst * 1000:.0f} ms"


def test_cancel_ends_the_job_within_a_second_and_changes_nothing(qtbot, big):
    window = big
    doc, image, steps = window.doc, window.doc.image, list(window.doc.history.done)
    # cancel just as a tile has started: the worst moment, as the work stops between tiles
    first, second = start_nlmeans(qtbot, window, tiles_done=2)[:2]
    tile = second - first
    t0 = time.perf_counter()
    qtbot.mouseClick(window.ops_panel.cancel_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window, timeout=10)
    took = time.perf_counter() - t0

    assert window.doc is doc and doc.image is image, "the image is unchanged"
    assert doc.history.done == steps and not doc.modified
    assert window.dialogs.errors == []
    assert "cancelled" in window.statusBar().currentMessage()
    assert window.ops_panel.run_button.isEnabled() and not window.ops_panel.cancel_button.isEnabled()
    assert took < 1.0, f"cancel took {took:.2f} s (one NL-Means tile takes {tile:.2f} s here)"


def test_closing_while_nlmeans_runs_closes_promptly(qtbot, big):
    window = big
    start_nlmeans(qtbot, window)
    job = window.job
    t0 = time.perf_counter()
    closed = window.close()
    took = time.perf_counter() - t0

    assert closed and not window.isVisible()
    assert not job.thread.isRunning()
    assert took < 1.5, f"closing took {took:.2f} s"
    assert window.dialogs.questions == [], "nothing was edited, so nothing to ask"


def test_applying_a_result_to_a_6mp_photo_keeps_the_gui_answering(qtbot, big, invert_op):
    window = big
    recorder = GapRecorder()
    recorder.start()
    start_from_panel(qtbot, window, invert_op.key)
    wait_idle(qtbot, window)
    qtbot.wait(100)  # the repaint of the new pixels
    recorder.stop()
    assert window.doc.history.titles() == ["Invert colours"]
    assert recorder.worst < MAX_GAP, f"GUI thread blocked for {recorder.worst * 1000:.0f} ms"


# --- mask commands and undo on a 24-megapixel photo --------------------------------------------

@pytest.fixture
def huge(qtbot, window):
    """A 6000 x 4000 photo (24 MP) with a mask over a third of it, set straight into the window."""
    from desktop_app.core.document import Document

    h, w = 4000, 6000
    rng = np.random.default_rng(1)
    image = np.repeat(np.repeat(rng.random((h // 16, w // 16, 3), dtype=np.float32), 16, 0), 16, 1)
    doc = Document(np.ascontiguousarray(image))
    window.set_document(doc, None, name="a 24 MP test photo")
    mask = np.zeros((h, w), np.float32)
    mask[1000:3000, 1500:4500] = 1.0
    doc.set_mask(mask, "Big mask")
    qtbot.wait(50)
    return window


@pytest.mark.parametrize("command", ["feather", "grow", "undo"])
def test_mask_commands_and_undo_on_24mp_keep_the_gui_answering(qtbot, huge, invert_op, command):
    window = huge
    doc = window.doc
    if command == "undo":
        run_from_panel(qtbot, window, invert_op.key, timeout=60)
        inverted = doc.image
    recorder = GapRecorder()
    recorder.start()
    t0 = time.perf_counter()
    job = {"feather": lambda: window.edits.feather_mask(20), "grow": lambda: window.grow_mask(+1),
           "undo": window.undo}[command]()
    assert job is not None and window.busy, "the work runs in the worker"
    wait_idle(qtbot, window, timeout=60)
    qtbot.wait(100)  # the repaint
    took = time.perf_counter() - t0
    recorder.stop()

    assert window.dialogs.errors == []
    if command == "undo":
        assert doc.image is not inverted and doc.history.titles()[-1] == "Invert colours"
        assert window.act_redo.isEnabled()
    else:
        assert doc.history.titles()[-1].startswith(("Feather", "Grow"))
        assert 0 < doc.mask[999, 1600] < 1 if command == "feather" else doc.mask[999, 1600] == 1
    assert took > 0.1, "the command must take long enough to prove anything"
    assert recorder.worst < MAX_GAP, f"GUI thread blocked for {recorder.worst * 1000:.0f} ms by {command}"
