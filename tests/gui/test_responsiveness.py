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


def test_while_a_job_runs_esc_cancels_it_and_run_open_and_save_wait(qtbot, big):
    from PySide6.QtGui import QKeySequence

    window = big
    start_nlmeans(qtbot, window)
    # the menus as the user finds them as soon as the job started (they were set while the job's
    # thread was not yet running: Cancel greyed out, Run, Open and Save enabled)
    assert window.act_cancel.isEnabled() and window.act_cancel.shortcut() == QKeySequence(Qt.Key.Key_Escape)
    assert not any(a.isEnabled() for a in (window.act_run, window.act_open, window.act_save, window.act_save_as))
    window.act_cancel.trigger()  # what Esc does
    wait_idle(qtbot, window, timeout=10)
    assert "cancelled" in window.statusBar().currentMessage()
    assert window.act_run.isEnabled() and not window.act_cancel.isEnabled()


def test_cancelling_the_close_while_a_job_runs_keeps_the_job(qtbot, big, invert_op):
    window = big
    run_from_panel(qtbot, window, invert_op.key)  # an unsaved change
    start_nlmeans(qtbot, window)
    job = window.job
    window.dialogs.answers["Unsaved changes"] = "Cancel"
    assert not window.close()
    assert window.isVisible() and window.job is job and job.thread.isRunning(), "the job goes on"
    window.dialogs.answers["Unsaved changes"] = "Discard"
    assert window.close() and not job.thread.isRunning()


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


def test_before_and_after_of_an_edited_24mp_photo_shows_the_original_without_blocking(qtbot, huge, invert_op):
    window = huge
    canvas = window.canvas
    canvas.overlay_visible = False
    qtbot.wait(50)
    as_opened = canvas.grab().toImage()
    run_from_panel(qtbot, window, invert_op.key, timeout=60)
    qtbot.wait(100)
    assert canvas.grab().toImage() != as_opened  # the edit is seen

    recorder = GapRecorder()
    recorder.start()
    canvas.setFocus()
    qtbot.keyPress(canvas, Qt.Key.Key_Backslash)  # held: the whole view shows the original
    qtbot.wait(150)
    before = canvas.grab().toImage()
    qtbot.keyRelease(canvas, Qt.Key.Key_Backslash)
    window.act_split.trigger()  # the split view: before on the left
    qtbot.wait(150)
    recorder.stop()
    window.act_split.trigger()

    assert before == as_opened
    assert recorder.worst < MAX_GAP, f"GUI thread blocked for {recorder.worst * 1000:.0f} ms showing the original"


# --- the training dialog: reading a folder of many photos, keeping a model ---------------------

from desktop_app.gui.dialogs.training import SCRATCH
from tests.gui.helpers import panel_keys

PHOTOS = 60


@pytest.fixture
def many_photos(tmp_path):
    """60 noisy 1600 x 1200 PNGs (one file's bytes under 60 names: writing noise is slow,
    reading it is what is measured), several seconds of reading on a 2-core machine."""
    from PIL import Image

    folder = tmp_path / "many"
    folder.mkdir()
    rng = np.random.default_rng(7)
    Image.fromarray((rng.random((1200, 1600, 3)) * 255).astype(np.uint8)).save(folder / "p00.png", compress_level=1)
    data = (folder / "p00.png").read_bytes()
    for i in range(1, PHOTOS):
        (folder / f"p{i:02d}.png").write_bytes(data)
    return folder


def training_dialog(window):
    dialog = window.open_training_dialog()
    dialog.task.setCurrentIndex(dialog.task.findData("denoise"))
    dialog.start.setCurrentIndex(dialog.start.findData(SCRATCH))
    return dialog


def add_folder(qtbot, dialog, window, folder) -> None:
    window.dialogs.folder_paths = [str(folder)]
    qtbot.mouseClick(dialog.add_folder, Qt.MouseButton.LeftButton)


def test_training_preview_of_many_photos_keeps_the_gui_answering(qtbot, window, many_photos):
    dialog = training_dialog(window)
    recorder = GapRecorder(while_=lambda: dialog.preview is None)
    recorder.start()
    t0 = time.perf_counter()
    add_folder(qtbot, dialog, window, many_photos)
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=60000)
    took = time.perf_counter() - t0
    recorder.stop()

    assert dialog.preview["train"] + dialog.preview["val"] == PHOTOS
    assert took > 0.5 and len(recorder.gaps) > 10, f"the reading must take long enough to prove anything ({took:.2f} s)"
    assert recorder.worst < MAX_GAP, f"GUI thread blocked for {recorder.worst * 1000:.0f} ms in {took:.1f} s of reading"


def test_a_training_preview_stops_at_once_when_the_folders_change_or_the_dialog_closes(qtbot, window, many_photos,
                                                                                       tmp_path):
    from PIL import Image

    other = tmp_path / "other"
    other.mkdir()
    for i in range(2):
        Image.fromarray(np.full((64, 64, 3), 40 * i, np.uint8)).save(other / f"o{i}.png")
    dialog = training_dialog(window)
    add_folder(qtbot, dialog, window, many_photos)
    first = dialog.setup.preview_job
    qtbot.wait(300)  # a few photos into the reading
    assert first.is_running()

    # another folder while the first is read: the reading starts over, the old one is not waited for
    t0 = time.perf_counter()
    add_folder(qtbot, dialog, window, other)
    took_to_change = time.perf_counter() - t0
    second = dialog.setup.preview_job
    assert second is not first
    t0 = time.perf_counter()
    qtbot.waitUntil(lambda: not first.thread.isRunning(), timeout=5000)
    took_to_end = time.perf_counter() - t0
    qtbot.wait(300)
    assert second.is_running()

    # closing while it reads
    t0 = time.perf_counter()
    dialog.reject()
    took_to_close = time.perf_counter() - t0
    assert not second.thread.isRunning()
    qtbot.wait(50)  # the ended reads' signals: their results are ignored
    assert dialog.preview is None and window.dialogs.errors == []

    assert took_to_change < MAX_GAP, f"changing the folders blocked the GUI for {took_to_change:.2f} s"
    assert took_to_end < 1.0, f"the cancelled reading went on for {took_to_end:.2f} s"
    assert took_to_close < 1.0, f"closing took {took_to_close:.2f} s"

    # shown again: the photos are read again, as the read was stopped half-way
    window.open_training_dialog()
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=60000)
    assert dialog.preview["train"] + dialog.preview["val"] == PHOTOS + 2


def test_keep_runs_in_a_worker_and_the_model_appears_in_the_operations_panel(qtbot, window, tmp_path, monkeypatch):
    from desktop_app.core.operations.library import sync_library_operations
    from desktop_app.core.training.trainer import Trainer
    from tests.conftest import photo_folder

    dialog = training_dialog(window)
    dialog.config_overrides = {"hparams": {"widths": [8, 16], "blocks": [1, 1]}, "threads": 1, "val_crop": 64,
                               "val_min": 2, "warmup": 0}
    add_folder(qtbot, dialog, window, photo_folder(tmp_path))
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=20000)
    dialog.budget_kind.setCurrentIndex(dialog.budget_kind.findData("steps"))
    dialog.budget.setValue(4)
    for box, value in ((dialog.batch, 2), (dialog.patch, 32), (dialog.val_every, 2)):
        box.setValue(value)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.trainer is not None and not dialog.running, timeout=60000)
    assert dialog.keep_button.isEnabled(), dialog.status.text()

    real_export = Trainer.export

    def slow_export(self, *args, **kw):  # a large model written to a slow disk
        time.sleep(1.0)
        return real_export(self, *args, **kw)

    monkeypatch.setattr(Trainer, "export", slow_export)
    dialog.name.setText("kept-in-a-worker")
    recorder = GapRecorder(while_=lambda: dialog.busy)
    recorder.start()
    t0 = time.perf_counter()
    qtbot.mouseClick(dialog.keep_button, Qt.MouseButton.LeftButton)
    clicked = time.perf_counter() - t0
    assert dialog.busy and not dialog.keep_button.isEnabled() and not dialog.discard_button.isEnabled()
    assert not dialog.start_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30000)
    recorder.stop()
    try:
        assert window.dialogs.errors == []
        assert "denoise/kept-in-a-worker" in panel_keys(window.ops_panel)
        assert "Kept as 'kept-in-a-worker'" in dialog.status.text()
        assert clicked < MAX_GAP, f"Keep blocked the GUI for {clicked:.2f} s"
        assert len(recorder.gaps) > 10 and recorder.worst < MAX_GAP, \
            f"GUI thread blocked for {recorder.worst * 1000:.0f} ms while keeping"
    finally:
        sync_library_operations()  # the next test's library is empty: its operations go


def test_cancel_stops_a_training_run_while_it_reads_many_photos(qtbot, window, many_photos):
    dialog = training_dialog(window)
    add_folder(qtbot, dialog, window, many_photos)
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=60000)
    dialog.budget_kind.setCurrentIndex(dialog.budget_kind.findData("steps"))
    dialog.budget.setValue(4)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "reading" in dialog.status.text(), timeout=30000)  # file by file
    qtbot.wait(200)  # a few photos into the reading
    t0 = time.perf_counter()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=30000)
    took = time.perf_counter() - t0

    assert "cancelled at step 0" in dialog.status.text(), dialog.status.text()
    assert window.dialogs.errors == []
    assert took < 1.0, f"Cancel took {took:.2f} s while the photos were read"
