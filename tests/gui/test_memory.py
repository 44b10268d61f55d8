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

