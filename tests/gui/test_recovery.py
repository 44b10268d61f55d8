"""Crash recovery: edits of a session that was killed come back at the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np

from tests.conftest import REPO
from tests.gui.helpers import RECOVER

CRASHING_SESSION = textwrap.dedent("""
    import json, os, signal, sys, time
    from pathlib import Path

    import numpy as np
    from PySide6.QtWidgets import QApplication

    from desktop_app.core.operations import registry
    from desktop_app.gui.main_window import MainWindow

    photo, out = Path(sys.argv[1]), Path(sys.argv[2])
    app = QApplication([])
    window = MainWindow()
    window.show()

    def wait(condition, timeout=60.0):
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                sys.exit("timed out")
            app.processEvents()
            time.sleep(0.01)

    window.open_path(str(photo))
    wait(lambda: window.job is None)
    doc = window.doc
    edits = []
    doc.subscribe(lambda what, box: edits.append(time.time()) if what == "history" else None)
    mask = np.zeros(doc.mask.shape, np.float32)
    mask[40:70, 50:110] = 1.0
    mask[75:80, 20:140] = 0.5
    doc.set_mask(mask, "Mask")
    window.run_operation(registry.get("inpaint/telea"), {"radius": 5}, False)
    wait(lambda: window.job is None)
    assert doc.history.titles() == ["Mask", "Telea"], doc.history.titles()
    np.save(out / "image.npy", doc.image)
    np.save(out / "mask.npy", doc.mask)

    root = Path(os.environ["DESKTOP_APP_DATA_DIR"]) / "recovery"
    def autosaved_after_the_last_edit():
        for state in root.glob(f"{os.getpid()}-*/state.json"):
            if "." not in state.parent.name and json.loads(state.read_text())["saved_at"] >= edits[-1]:
                return True
        return False

    wait(autosaved_after_the_last_edit)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_edits_of_a_killed_session_are_recovered(qtbot, make_window, photo_path, tmp_path):
    original = photo_path.read_bytes()
    script = tmp_path / "crashing_session.py"
    script.write_text(CRASHING_SESSION)
    expected = tmp_path / "expected"
    expected.mkdir()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "child-config"),
               DESKTOP_APP_AUTOSAVE_SECONDS="0.3")  # DESKTOP_APP_DATA_DIR: this test's, shared
    proc = subprocess.run([sys.executable, str(script), str(photo_path), str(expected)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]

    window = make_window()
    window.dialogs.answers[RECOVER] = "Recover"
    doc = window.offer_recovery()

    (title, text, buttons), = window.dialogs.questions
    assert "photo.png" in text and buttons[0] == "Recover"
    assert doc is not None and window.doc is doc and window.canvas.doc is doc
    np.testing.assert_allclose(doc.image, np.load(expected / "image.npy"), atol=0.51 / 65535)
    np.testing.assert_allclose(doc.mask, np.load(expected / "mask.npy"), atol=0.51 / 65535)
    assert doc.modified and window.isWindowModified()
    assert doc.path == photo_path
    # the crashed window had hidden the mask to show Telea's fill: the fill shows, not the mask over it
    assert not window.act_overlay.isChecked() and not window.canvas.overlay_visible
    assert photo_path.read_bytes() == original, "recovery does not touch the photo's file"
    # the edits are one step over the photo as on disk: Undo shows it, unmodified
    assert doc.history.titles() == ["Recovered edits"] and window.act_undo.isEnabled()
    from desktop_app.core.imaging.io import load_image
    worker = window.undo()
    if worker is not None:
        qtbot.waitUntil(lambda: window.job is None, timeout=10000)
    np.testing.assert_array_equal(doc.image, load_image(photo_path)[0])
    assert not doc.modified and not window.isWindowModified()

    again = make_window()  # the crashed session's files were taken over: nothing more to offer
    assert again.offer_recovery() is None and again.dialogs.questions == []
