"""Autosave and crash recovery: unsaved edits are written in the background every few
seconds, and offered back at the next start if the app did not close normally."""

from __future__ import annotations

import logging
import os
import threading
import time

from PySide6.QtCore import Qt, QTimer

from desktop_app import APP_NAME
from desktop_app.core.document import Document
from desktop_app.core.document.recovery import RecoveredSession, RecoveryStore, Snapshot
from desktop_app.core.paths import app_data_dir

log = logging.getLogger(__name__)


class Autosave:
    def __init__(self, window) -> None:
        self.w = window
        self.store = RecoveryStore(app_data_dir() / "recovery")
        self.saved_state: tuple[int, int, bool] | None = None
        self.mask_version = 0
        self._thread: threading.Thread | None = None
        self.timer = QTimer(window)
        self.timer.timeout.connect(self.tick)

    def apply_settings(self) -> None:
        seconds = float(os.environ.get("DESKTOP_APP_AUTOSAVE_SECONDS", self.w.settings.get("autosave/seconds", int)))
        self.timer.setInterval(int(max(0.2, seconds) * 1000))
        if not self.timer.isActive():
            self.timer.start()

    def state(self) -> tuple[int, int, bool]:
        doc = self.w.doc
        return (doc.history.top_id if doc else 0, self.mask_version, self.w.act_overlay.isChecked())

    def document_changed(self, what: str) -> None:
        if what == "mask":
            self.mask_version += 1

    def new_document(self) -> None:
        self.store.discard_own()
        self.saved_state = self.state()

    def tick(self) -> None:
        doc = self.w.doc
        if doc is None or not doc.modified or self.state() == self.saved_state:
            return
        if self._thread is not None and self._thread.is_alive():
            return
        with doc.lock:
            mask = doc.mask.copy()
        snap = Snapshot(doc.image, mask, doc.meta, str(doc.path) if doc.path else None,
                        doc.path.name if doc.path else "untitled", time.time(), self.w.act_overlay.isChecked())
        self.saved_state = self.state()

        def write() -> None:
            try:
                self.store.write(snap)
            except Exception:  # noqa: BLE001 - autosave must never disturb the user
                log.exception("autosave failed")

        self._thread = threading.Thread(target=write, name="autosave", daemon=True)
        self._thread.start()

    def offer_recovery(self) -> Document | None:
        """At start-up: offer the edits a crashed session left behind."""
        sessions = self.store.leftovers()
        if not sessions:
            return None
        s = sessions[0]
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.saved_at))
        choice = self.w.ask("Recover unsaved edits?",
                            f"{APP_NAME} did not close normally. Unsaved edits of {s.title} from {when} "
                            "were kept.\n\nRecover them?", ["Recover", "Discard", "Later"])
        if choice == 0:
            return self.recover(s)
        if choice == 1:
            for other in sessions:
                RecoveryStore.discard(other)
        return None

    def recover(self, session: RecoveredSession) -> Document:
        # reads the kept pixels and the file they were made on (a large RAW: seconds)
        self.w.setCursor(Qt.CursorShape.WaitCursor)
        self.w.statusBar().showMessage(f"Recovering the edits of {session.title}...")
        self.w.statusBar().repaint()  # shown now: the load below holds this thread
        try:
            doc = RecoveryStore.load(session)
        finally:
            self.w.unsetCursor()
        self.w.set_document(doc, None, name=f"the recovered edits of {session.title}")
        self.w.set_overlay_visible(session.mask_shown)  # hidden after a fill: the fill shows, not the mask
        RecoveryStore.discard(session)
        self.saved_state = None  # write our own copy at the next tick
        self.tick()
        return doc

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join(10)
        self.store.discard_own()
