"""The main window's one job runner: at most one job at a time, its busy state as a signal,
its progress wherever the user looks (the Operations panel and the status bar), and one
path for every result that changes the document.

That path: the work computes the result *and* prepares the edit on the worker thread (the
changed region for undo, the display image, the mask overlay), then the runner checks on the
GUI thread that the document has not changed since and commits it, which only swaps arrays.
Operations, variations, pasted pictures, mask commands and large undo steps all go through it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from desktop_app.core.document import Document
from desktop_app.core.document.document import PendingImage, PendingMask, PendingSwap, StaleEdit
from desktop_app.core.document.history import Step
from desktop_app.core.work import Progress, Work
from desktop_app.gui.qimage import display_levels, mask_overlay
from desktop_app.gui.workers import WorkerThread

log = logging.getLogger(__name__)


@dataclass
class PreparedEdit:
    """An edit made ready on a worker thread, with what the canvas needs to show it."""

    doc: Document
    pending: PendingImage | PendingMask | PendingSwap
    display: list[QImage] | None = None  # the new image's pyramid for the screen
    overlay: QImage | None = None  # the new mask's overlay
    extra: Any = None  # whatever else the caller wants back (variations, thumbnails)

    def commit(self, canvas) -> Step | None:
        p = self.pending
        image = p.new if isinstance(p, PendingImage) else p.image if isinstance(p, PendingSwap) else None
        mask = p.new if isinstance(p, PendingMask) else p.mask if isinstance(p, PendingSwap) else None
        if self.display is not None and image is not None:
            canvas.prepare_display(image, self.display)
        if self.overlay is not None and mask is not None:
            canvas.prepare_overlay(mask, self.overlay)
        if isinstance(p, PendingImage):
            return self.doc.commit_image(p)
        if isinstance(p, PendingMask):
            return self.doc.commit_mask(p)
        self.doc.commit_swap(p)
        return p.step


OverlayStyle = tuple[Any, float]  # (QColor, opacity)


def icc_of(doc: Document) -> bytes | None:
    return getattr(doc.meta, "icc_profile", None)


def image_edit(doc: Document, new: np.ndarray, title: str, *, replace_last: bool = False,
               extra: Any = None) -> PreparedEdit:
    """On the worker: `new` as the document's next image (or in place of its last step)."""
    pending = doc.prepare_amend(new, title) if replace_last else doc.prepare_image(new, title)
    return PreparedEdit(doc, pending, display=display_levels(new, icc_of(doc)), extra=extra)


def mask_edit(doc: Document, new: np.ndarray, title: str, style: OverlayStyle,
              revision: int | None = None) -> PreparedEdit:
    """On the worker: `new` as the document's next mask (computed from the document as it
    was at `revision`)."""
    pending = doc.prepare_mask(new, title, revision)
    overlay = mask_overlay(pending.new, *style) if pending.step is not None else None
    return PreparedEdit(doc, pending, overlay=overlay)


def history_edit(doc: Document, undo: bool, style: OverlayStyle) -> PreparedEdit | None:
    """On the worker: the document's undo (or redo), or None when there is none."""
    pending = doc.prepare_undo() if undo else doc.prepare_redo()
    if pending is None:
        return None
    display = display_levels(pending.image, icc_of(doc)) if pending.image is not None else None
    overlay = mask_overlay(pending.mask, *style) if pending.mask is not None else None
    return PreparedEdit(doc, pending, display, overlay)


class JobRunner(QObject):
    """Runs one job at a time for a window that has `doc`, `canvas`, `ops_panel`,
    `statusBar()` and `show_error()`."""

    busyChanged = Signal(bool)
    progress = Signal(object)  # the running job's Progress

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.job: WorkerThread | None = None
        self.outcome = "Ready"  # how the last job ended, in a few words (a result may say more)

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.is_running()

    def start(self, title: str, make_work: Callable[[], Work[Any]], on_result: Callable[[Any], None],
              on_end: Callable[[], None] | None = None) -> WorkerThread | None:
        if self.busy:
            self.window.statusBar().showMessage("Busy: wait for the running operation or cancel it", 4000)
            return None
        job = WorkerThread(make_work, title, self)
        job.progress.connect(self.progress)
        self.outcome = f"{title}: done"
        job.succeeded.connect(on_result)  # after the line above: a result may say more
        job.failed.connect(lambda msg, tb: self._ended(f"{title} failed"))
        job.failed.connect(lambda msg, tb: self.window.show_error(f"{title} failed", msg))
        job.cancelled.connect(lambda: self._ended(f"{title}: cancelled, nothing changed"))
        job.cancelled.connect(lambda: self.window.statusBar().showMessage(f"{title}: cancelled, nothing changed", 5000))
        job.finished.connect(lambda: self._finished(job, on_end))
        self.job = job
        self.progress.emit(Progress(None, title))
        job.start()
        self.busyChanged.emit(True)  # after start: `busy` asks whether the job's thread runs
        return job

    def _ended(self, outcome: str) -> None:
        self.outcome = outcome

    def _finished(self, job: WorkerThread, on_end) -> None:
        job.release()  # kept, each held the photo its work saw: 90 MB a job on 6 MP
        if self.job is job:
            self.job = None
        if on_end:
            on_end()
        self.busyChanged.emit(self.busy)

    def cancel(self) -> None:
        if self.busy:
            self.job.cancel()
            self.progress.emit(Progress(None, "Cancelling..."))

    def stop(self, timeout_ms: int = 10000) -> None:
        if self.busy:
            self.job.stop(timeout_ms)

    def edit(self, title: str, make_edit: Callable[[], Work[PreparedEdit | None]],
             on_committed: Callable[[PreparedEdit, Step | None], None] | None = None,
             stale: str = "The image changed while this ran; its result was not applied.") -> WorkerThread | None:
        """Run `make_edit` (a work generator returning a PreparedEdit, or None for nothing to
        do) and commit its edit, unless the document changed meanwhile: then `stale` is shown
        and nothing changes."""

        def done(prepared: PreparedEdit | None) -> None:
            if prepared is None:
                self.outcome = f"{title}: nothing to change"
                return
            if self.window.doc is not prepared.doc:
                self.outcome = f"{title}: another photo is open now; nothing changed"
                self.window.statusBar().showMessage(self.outcome, 5000)
                return
            try:
                step = prepared.commit(self.window.canvas)
            except StaleEdit:
                self.outcome = f"{title}: not applied, the image changed meanwhile"
                self.window.show_error(title, stale)
                return
            if on_committed is not None:
                on_committed(prepared, step)

        return self.start(title, make_edit, done)
