"""One worker contract for all long work: a work generator runs in a QThread and reports
started / progress / succeeded / failed / cancelled / finished on the GUI thread.

Cancel is honoured at each yield of the generator. Exceptions are caught here and reach one
place (`failed`), which the main window shows in a dialog and logs.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from desktop_app.core.work import CancelToken, Cancelled, Progress, Work

log = logging.getLogger(__name__)


class Worker(QObject):
    started = Signal()
    progress = Signal(object)  # Progress
    succeeded = Signal(object)  # the work's return value
    failed = Signal(str, str)  # one-line message, traceback
    cancelled = Signal()
    finished = Signal()

    def __init__(self, make_work: Callable[[], Work[Any]], title: str = "") -> None:
        super().__init__()
        self._make_work = make_work
        self.title = title
        self.token = CancelToken()

    def cancel(self) -> None:
        self.token.cancel()

    @Slot()
    def run(self) -> None:
        self.started.emit()
        try:
            work = self._make_work()
            while True:
                if self.token.cancelled:
                    work.close()
                    raise Cancelled()
                try:
                    event = next(work)
                except StopIteration as stop:
                    result = stop.value
                    break
                if isinstance(event, Progress):
                    self.progress.emit(event)
            if self.token.cancelled:
                raise Cancelled()
            self.succeeded.emit(result)
        except Cancelled:
            self.cancelled.emit()
        except Exception as e:  # noqa: BLE001 - every error goes to the one sink
            message = str(e).splitlines()[0] if str(e) else type(e).__name__
            log.exception("%s failed", self.title or "work")
            self.failed.emit(message, traceback.format_exc())
        finally:
            self._make_work = None  # its closure holds the photo: let it go with the work
            self.finished.emit()


class WorkerThread(QObject):
    """Owns a Worker and its QThread; `start()` runs it, `stop()` cancels and waits.

    It lives on the GUI thread and re-emits the worker's signals, so whatever is connected
    to *these* signals (lambdas and closures included) runs on the GUI thread."""

    started = Signal()
    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, make_work: Callable[[], Work[Any]], title: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.thread = QThread()
        self.thread.setObjectName(f"worker: {title}")
        self.worker = Worker(make_work, title)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.finished.connect(self.thread.quit)
        for name in ("started", "progress", "succeeded", "failed", "cancelled", "finished"):
            getattr(self.worker, name).connect(getattr(self, name))

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self.worker.cancel()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def release(self, timeout_ms: int = 2000) -> bool:
        """Once its `finished` has been handled: wait for the thread to end, and delete this
        (a child of a window or dialog, it would otherwise live as long as its parent, with
        what its signals' closures hold) when the thread has ended, or as soon as it does (a
        QThread destroyed while it runs aborts the app). Whether the thread has ended."""
        ended = self.thread.wait(timeout_ms)
        if ended:
            self.deleteLater()
        else:
            self.thread.finished.connect(self.deleteLater)
        return ended

    def stop(self, timeout_ms: int = 10000) -> bool:
        self.worker.cancel()
        self.thread.quit()
        return self.thread.wait(timeout_ms)
