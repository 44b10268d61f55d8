"""A long session on a big photo: once the undo history is full, more operations do not grow
the process's memory (each finished job used to keep the photo its work function saw)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from desktop_app.gui.workers import WorkerThread
from tests.gui.helpers import UNSAVED, open_and_wait, run_from_panel

STATM = Path("/proc/self/statm")


def resident_mib() -> float:
    return int(STATM.read_text().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(not STATM.exists(), reason="reads the resident memory from Linux's /proc")
def test_operations_after_the_history_is_full_keep_memory_level(qtbot, window, big_photo_path, invert_op):
    window.settings.set("history/mib", 200)  # about 5 steps of this 6 MP photo
    open_and_wait(qtbot, window, big_photo_path)
    photo_mib = window.doc.image.nbytes / 2**20
    for _ in range(6):  # the history fills
        run_from_panel(qtbot, window, invert_op.key)
    qtbot.wait(50)  # finished jobs are deleted by the event loop
    gc.collect()
    before = resident_mib()
    for _ in range(6):
        run_from_panel(qtbot, window, invert_op.key)
    qtbot.wait(50)
    gc.collect()
    grown = resident_mib() - before

    assert len(window.doc.history.titles()) <= 6
    # the leak grew it by more than a photo per job (6 jobs: about 550 MiB here)
    assert grown < 1.5 * photo_mib, f"memory grew by {grown:.0f} MiB over 6 operations ({photo_mib:.0f} MiB a photo)"
    assert window.runner.findChildren(WorkerThread) == []  # finished jobs are deleted


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_after_a_job_the_collector_walks_only_new_objects_and_a_new_photo_frees_old_cycles(
        qtbot, window, photo_path, big_photo_path, invert_op):
    import weakref

    from desktop_app.gui import collector

    old = _Cycle()  # cyclic garbage-to-be of the first photo's time, frozen with the rest
    gone = weakref.ref(old)
    open_and_wait(qtbot, window, photo_path)  # a job: the runner settles once it is shown
    qtbot.wait(50)
    assert gc.get_freeze_count() > collector.FREEZE_ABOVE
    run_from_panel(qtbot, window, invert_op.key)
    qtbot.wait(50)
    assert len(gc.get_objects()) < collector.FREEZE_ABOVE  # what a full collection would walk now
    window.dialogs.answers[UNSAVED] = "Discard"
    del old
    gc.collect()
    assert gone() is not None, "frozen: out of the collector's reach until a new photo"
    open_and_wait(qtbot, window, big_photo_path)
    gc.collect()
    assert gone() is None, "a new photo lets the collector free the old photo's cycles"
