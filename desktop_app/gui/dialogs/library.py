"""Models > Manage Library...: the shipped models and the user's own, with rename, delete,
export to one file and import of one (models/library.py does the work and the checking).

Shipped models can only be exported. After every change the Operations panel and the
Generate panel list what the library now holds.

Import and export run in a worker (checking a model loads torch the first time, copying one
takes a while), with the buttons disabled until they end; the window stays live meanwhile.
Closing the dialog does not stop them: the dialog is only hidden, and what they change is
still shown in the panels when they end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtWidgets import (QAbstractItemView, QApplication, QDialog, QHBoxLayout, QLabel, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from desktop_app.core.models import library
from desktop_app.core.models.catalog import ModelEntry, all_models
from desktop_app.core.models.manifest import ModelFileError
from desktop_app.core.work import Progress, Work
from desktop_app.gui.workers import WorkerThread

COLUMNS = ("Name", "Task", "Architecture", "Where", "Validation")
NAME_TAKEN = "Model name taken"
DELETE = "Delete the model?"


def outcome_work(doing: str, action: Callable[[], Any]) -> Work[Any]:
    """`action` as worker work whose refusals come back as its result, whole: a NameTaken is a
    question for the user (asked on the GUI thread), and a ModelFileError or OSError is shown
    with its full text (the worker's `failed` keeps only the first line of a message)."""
    yield Progress(None, doing)
    try:
        return action()
    except (ModelFileError, OSError) as e:  # NameTaken is a ModelFileError
        return e


def metrics_summary(metrics: dict) -> str:
    """The manifest's validation score in plain words, e.g. "PSNR 29.63 dB at step 23000" or
    "SWD 69.8 (lower is closer to the photos) at step 4500"."""
    from desktop_app.core.training.registry import describe_metrics

    text = describe_metrics(metrics)
    return text[len("validation "):] if text.startswith("validation ") else text  # the column says it


def metrics_details(metrics: dict) -> str:
    """The score of each part too (noise levels, hole sizes), for the tooltip."""
    from desktop_app.core.training.registry import describe_metrics

    return describe_metrics(metrics, parts=True)


class LibraryDialog(QDialog):
    def __init__(self, window, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.setWindowTitle("Model Library")
        self.window_ = window  # the main window: its dialog hooks and panels
        self.entries: list[ModelEntry] = []
        self.job: WorkerThread | None = None  # the import or export running, if any
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.rename_button = QPushButton("Rename...")
        self.delete_button = QPushButton("Delete")
        self.export_button = QPushButton("Export...")
        self.import_button = QPushButton("Import...")
        self.import_button.setToolTip("Add a model file (.zip exported from a library, or a .json manifest "
                                      "with its .safetensors beside it); it is checked before it is added")
        close = QPushButton("Close")
        buttons = QHBoxLayout()
        for b in (self.rename_button, self.delete_button, self.export_button, self.import_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        self.status = QLabel("Shipped models can be exported; your own can also be renamed and deleted.")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.resize(720, 360)

        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.rename_button.clicked.connect(self.rename)
        self.delete_button.clicked.connect(self.delete)
        self.export_button.clicked.connect(self.export)
        self.import_button.clicked.connect(self.import_)
        close.clicked.connect(self.close)
        QApplication.instance().aboutToQuit.connect(self.wait_for_job)
        self.refresh()

    # -- the list ---------------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        self.entries = all_models()
        self.table.setRowCount(len(self.entries))
        for row, e in enumerate(self.entries):
            m = e.manifest
            cells = (m.id, m.task, m.architecture, "shipped" if e.shipped else "your library",
                     metrics_summary(m.metrics))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(metrics_details(m.metrics) if col == len(cells) - 1 and m.metrics
                                else m.description or m.title)
                self.table.setItem(row, col, item)
            if m.id == select:
                self.table.selectRow(row)
        self.table.resizeColumnsToContents()
        self._fit_columns()
        self._update_buttons()

    def _fit_columns(self) -> None:
        """Wide enough that no cell and no header is cut (up to the screen's width)."""
        header = self.table.horizontalHeader()
        needed = sum(max(self.table.sizeHintForColumn(c), header.sectionSizeHint(c)) for c in range(len(COLUMNS)))
        spare = self.width() - self.table.viewport().width()  # frame, margins, scroll bar
        want = needed + spare + 24
        if self.screen() is not None:
            want = min(want, self.screen().availableGeometry().width())
        if self.width() < want:
            self.resize(want, self.height())

    def names(self) -> list[str]:
        return [e.manifest.id for e in self.entries]

    @property
    def selected(self) -> ModelEntry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows else None

    @property
    def busy(self) -> bool:
        return self.job is not None

    def _update_buttons(self) -> None:
        entry = self.selected
        own = entry is not None and not entry.shipped
        idle = not self.busy
        self.rename_button.setEnabled(idle and own)
        self.delete_button.setEnabled(idle and own)
        self.export_button.setEnabled(idle and entry is not None)
        self.import_button.setEnabled(idle)

    def _changed(self, select: str | None, message: str) -> None:
        """The library changed: every list of models in the window follows."""
        from desktop_app.core.operations.library import sync_library_operations

        sync_library_operations()
        self.window_.ops_panel.populate()
        self.window_.generate_panel.refresh_models()
        self.refresh(select)
        self.status.setText(message)

    def _failed(self, title: str, error: Exception) -> None:
        self.window_.show_error(title, str(error))

    # -- the buttons ------------------------------------------------------------------------
    def rename(self) -> None:
        entry = self.selected
        if entry is None or entry.shipped:
            return
        old = entry.manifest.id
        new = self.window_.ask_text("Rename the model", "New name (letters, digits, '-', '_' or '.'):", old)
        if not new or new.strip() == old:
            return
        try:
            library.rename(old, new.strip())
        except ModelFileError as e:
            return self._failed("Rename the model", e)
        self._changed(new.strip(), f"Renamed {old!r} to {new.strip()!r}.")

    def delete(self) -> None:
        entry = self.selected
        if entry is None or entry.shipped:
            return
        name = entry.manifest.id
        if self.window_.ask(DELETE, f"Delete {name!r} from your library? Its weights file is removed; "
                            "export it first to keep a copy.", ["Delete", "Cancel"], 1) != 0:
            return
        try:
            library.delete(name)
        except (ModelFileError, OSError) as e:
            return self._failed("Delete the model", e)
        self._changed(None, f"Deleted {name!r}.")

    def export(self) -> None:
        entry = self.selected
        if entry is None or self.busy:
            return
        name = entry.manifest.id
        start = Path(self.window_.settings.get("last_dir", str) or Path.home())
        path = self.window_.ask_save_path(str(start / f"{name}.zip"), library.EXPORT_FILTER)
        if not path:
            return
        self._start("Export the model", f"Exporting {name!r} to {path}...",
                    lambda: library.export(name, path), lambda result: self._exported(name, path, result))

    def _exported(self, name: str, path: str, result: Path | Exception) -> None:
        if isinstance(result, Exception):
            self.status.setText(f"{name!r} was not exported.")
            return self._failed("Export the model", result)
        self.status.setText(f"Exported {name!r} to {path}.")

    def import_(self) -> None:
        if self.busy:
            return
        path = self.window_.ask_open_path(library.IMPORT_FILTER, "Import a model")
        if path:
            self._import(path, lambda: library.import_model(path))

    def _import(self, path: str, action: Callable[[], ModelEntry]) -> None:
        self._start("Import a model", f"Importing {Path(path).name}...", action,
                    lambda result: self._imported(path, result))

    def _imported(self, path: str, result: ModelEntry | Exception) -> None:
        if isinstance(result, library.NameTaken):
            return self._ask_name_taken(path, result)
        if isinstance(result, Exception):
            self.status.setText(f"{Path(path).name} was not imported.")
            return self._failed("Import a model", result)
        self._changed(result.manifest.id, f"Imported {Path(path).name} as {result.manifest.id!r}.")

    def _ask_name_taken(self, path: str, taken: library.NameTaken) -> None:
        """Replace the model of that name, keep both (the new one renamed) or cancel."""
        other = library.free_name(taken.name)
        choices = ([] if taken.shipped else ["Replace"]) + [f"Keep Both (as {other})", "Cancel"]
        where = "a shipped model" if taken.shipped else "a model in your library"
        text = (f"There is already {where} named {taken.name!r}. "
                + ("Keep both" if taken.shipped else "Replace it, or keep both")
                + f" (the new one named {other!r})?")
        answer = self.window_.ask(NAME_TAKEN, text, choices, len(choices) - 1)
        if answer < 0 or choices[answer] == "Cancel":
            self.status.setText(f"{Path(path).name} was not imported.")
            return
        if choices[answer] == "Replace":
            self._import(path, lambda: library.import_model(path, replacing=True))
        else:
            self._import(path, lambda: library.import_model(path, name=other))

    # -- the worker -------------------------------------------------------------------------
    def _start(self, title: str, doing: str, action: Callable[[], Any], on_outcome: Callable[[Any], None]) -> None:
        """Run `action` in a worker; `on_outcome` gets its result or the error it raised."""
        job = WorkerThread(lambda: outcome_work(doing, action), title, self)
        job.succeeded.connect(on_outcome)
        job.failed.connect(lambda message, tb: self._crashed(title, message))
        job.finished.connect(lambda: self._job_finished(job))
        self.job = job
        self.status.setText(doing)
        job.start()
        self._update_buttons()

    def _crashed(self, title: str, message: str) -> None:
        """An error other than a refused file (a bug): the worker has logged its traceback."""
        self.status.setText(f"{title} failed.")
        self.window_.show_error(title, message)

    def _job_finished(self, job: WorkerThread) -> None:
        job.release()
        if self.job is job:  # not when a name-taken answer has started the next import
            self.job = None
        self._update_buttons()

    def wait_for_job(self, timeout_ms: int = 30000) -> None:
        """Before the application quits: a thread must not outlive it. The import or export
        cannot be cancelled half-way, so it is left to end."""
        if self.job is not None:
            self.job.thread.wait(timeout_ms)
