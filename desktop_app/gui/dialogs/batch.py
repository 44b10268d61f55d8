"""File > Batch...: one operation over many photos (core/batch.py does the work).

Pick photos or folders (or drop them on the dialog), an operation that needs no painted mask
and its parameters (the same form as the Operations panel, built from the registry), an output
folder, format, bit depth and a name pattern (the last batch's come back, not its photos);
Start runs the batch in a worker, with a bar for the photo in hand and one for the whole batch
(with about how long it has left). Cancel stops between steps; Start again continues where it stopped
(the output folder's journal says which photos are done). Bad photos are listed with their
reasons as they happen, and the batch goes on. The dialog is modeless and the window stays
usable meanwhile; closing the dialog only hides it.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDialog, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                               QLabel, QLineEdit, QListWidget, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from desktop_app.core.batch import DEFAULT_PATTERN, BatchReport, BatchSpec, batch_operations, run_batch
from desktop_app.core.imaging.io import OPEN_FILTER
from desktop_app.core.work import Pace, Progress
from desktop_app.gui.panels.operations import ParamForm, fitting_values
from desktop_app.gui.workers import WorkerThread

FORMATS = (("Same as each photo (RAW: TIFF)", None), ("PNG", ".png"), ("JPEG", ".jpg"), ("TIFF", ".tif"),
           ("WebP", ".webp"), ("HEIC", ".heic"), ("AVIF", ".avif"))
BIT_DEPTHS = (("Same as each photo", None), ("8 bits", 8), ("16 bits (PNG, TIFF; HEIC 10)", 16))


class BatchDialog(QDialog):
    def __init__(self, window, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.setWindowTitle("Batch")
        self.setModal(False)
        self.window_ = window
        self.job: WorkerThread | None = None
        self.report: BatchReport | None = None
        self.pace = Pace()  # the whole batch's: how long it has left
        self.operations = {op.key: op for op in batch_operations()}

        # photos
        self.inputs = QListWidget()
        self.inputs.setObjectName("batch_inputs")
        self.inputs.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        add_files, add_folder, remove = (QPushButton("Add Photos..."), QPushButton("Add Folder..."),
                                         QPushButton("Remove"))
        add_files.clicked.connect(self._pick_files)
        add_folder.clicked.connect(self._pick_folder)
        remove.clicked.connect(self._remove_selected)
        self.recursive = QCheckBox("Include sub-folders")
        self.recursive.setChecked(True)
        row = QHBoxLayout()
        for w in (add_files, add_folder, remove):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.recursive)
        photos = QGroupBox("Photos")
        lay = QVBoxLayout(photos)
        lay.addWidget(self.inputs)
        lay.addLayout(row)

        # operation
        self.operation = QComboBox()
        self.operation.setObjectName("batch_operation")
        for key, op in self.operations.items():
            self.operation.addItem(f"{op.title} ({op.task})", key)
        self.params = ParamForm()
        self.operation.currentIndexChanged.connect(self._on_operation)
        operation = QGroupBox("Operation")
        lay = QVBoxLayout(operation)
        lay.addWidget(self.operation)
        lay.addWidget(self.params)

        # output
        self.output = QLineEdit()
        self.output.setPlaceholderText("folder for the results")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._pick_output)
        out_row = QHBoxLayout()
        out_row.addWidget(self.output, 1)
        out_row.addWidget(browse)
        self.format = QComboBox()
        for title, value in FORMATS:
            self.format.addItem(title, value)
        self.bit_depth = QComboBox()
        for title, value in BIT_DEPTHS:
            self.bit_depth.addItem(title, value)
        self.pattern = QLineEdit(DEFAULT_PATTERN)
        self.pattern.setToolTip("{stem}: the photo's name, {task}, {method}, {index}: its number")
        self.mask = QLineEdit()
        self.mask.setPlaceholderText("optional: a mask PNG, applied to photos of its size")
        mask_browse = QPushButton("Browse...")
        mask_browse.clicked.connect(self._pick_mask)
        mask_row = QHBoxLayout()
        mask_row.addWidget(self.mask, 1)
        mask_row.addWidget(mask_browse)
        output = QGroupBox("Output")
        form = QFormLayout(output)
        form.addRow("Folder", out_row)
        form.addRow("Format", self.format)
        form.addRow("Bit depth", self.bit_depth)
        form.addRow("Name", self.pattern)
        form.addRow("Mask", mask_row)

        # progress and results
        self.file_label = QLabel("")
        self.file_bar = QProgressBar()
        self.file_bar.setObjectName("batch_file_progress")
        self.overall_bar = QProgressBar()
        self.overall_bar.setObjectName("batch_overall_progress")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.failures = QListWidget()
        self.failures.setObjectName("batch_failures")
        self.failures.setVisible(False)
        self.start_button, self.cancel_button, close = (QPushButton("Start"), QPushButton("Cancel"),
                                                        QPushButton("Close"))
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.start_button, self.cancel_button, close):
            buttons.addWidget(b)

        layout = QVBoxLayout(self)
        for w in (photos, operation, output):
            layout.addWidget(w)
        layout.addWidget(self.file_label)
        layout.addWidget(self.file_bar)
        self.overall_label = QLabel("All photos")
        layout.addWidget(self.overall_label)
        layout.addWidget(self.overall_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.failures)
        layout.addLayout(buttons)
        self._on_operation()
        last = window.settings.get_json("batch/last")
        if isinstance(last, dict):  # the last batch's operation, settings and output
            self.restore(last)
        self.setAcceptDrops(True)  # photos and folders dragged from a file manager join the list
        self.resize(560, 720)
        app = QApplication.instance()
        if app is not None:  # quitting with a batch running: stop it between steps, not mid-thread
            app.aboutToQuit.connect(self.stop)

    # -- choices ------------------------------------------------------------------------------
    def add_inputs(self, paths) -> None:
        present = {self.inputs.item(i).text() for i in range(self.inputs.count())}
        for path in paths:
            if str(path) not in present:
                self.inputs.addItem(str(path))

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_inputs(paths)

    def input_paths(self) -> list[Path]:
        return [Path(self.inputs.item(i).text()) for i in range(self.inputs.count())]

    def select_operation(self, key: str) -> None:
        self.operation.setCurrentIndex(self.operation.findData(key))

    def spec(self) -> BatchSpec:
        """The batch the dialog describes; ValueError names what is missing."""
        if not self.inputs.count():
            raise ValueError("add photos or a folder first")
        if not self.output.text().strip():
            raise ValueError("choose a folder for the results")
        mask = self.mask.text().strip()
        return BatchSpec(inputs=tuple(self.input_paths()), output_dir=Path(self.output.text().strip()),
                         operation=self.operation.currentData(), params=self.params.values(),
                         format=self.format.currentData(), bit_depth=self.bit_depth.currentData(),
                         name_pattern=self.pattern.text().strip() or DEFAULT_PATTERN,
                         recursive=self.recursive.isChecked(), mask=Path(mask) if mask else None)

    def remembered(self) -> dict:
        """Everything but the photos, for the next batch."""
        return {"operation": self.operation.currentData(), "params": self.params.values(),
                "output": self.output.text().strip(), "format": self.format.currentData(),
                "bit_depth": self.bit_depth.currentData(), "pattern": self.pattern.text().strip(),
                "recursive": self.recursive.isChecked()}

    def restore(self, state: dict) -> None:
        """Show a `remembered` batch; what no longer fits (an operation since removed, a setting
        it no longer takes) stays as the dialog starts."""
        if state.get("operation") in self.operations:
            self.select_operation(state["operation"])
            op = self.operations[state["operation"]]
            if isinstance(state.get("params"), dict):
                self.params.set_params(op.params, fitting_values(op.params, state["params"]))
        for box, key in ((self.format, "format"), (self.bit_depth, "bit_depth")):
            index = box.findData(state.get(key))
            if key in state and index >= 0:
                box.setCurrentIndex(index)
        for line, key in ((self.output, "output"), (self.pattern, "pattern")):
            if isinstance(state.get(key), str) and state[key]:
                line.setText(state[key])
        if isinstance(state.get("recursive"), bool):
            self.recursive.setChecked(state["recursive"])

    def _on_operation(self, *_args) -> None:
        op = self.operations.get(self.operation.currentData())
        self.params.set_params(op.params if op else ())

    def _pick_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Photos to process", "", OPEN_FILTER)
        self.add_inputs(paths)

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder of photos")
        if path:
            self.add_inputs([path])

    def _pick_output(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for the results")
        if path:
            self.output.setText(path)

    def _pick_mask(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Mask (white = where the operation applies)", "",
                                              "Masks (*.png);;All files (*)")
        if path:
            self.mask.setText(path)

    def _remove_selected(self) -> None:
        for item in self.inputs.selectedItems():
            self.inputs.takeItem(self.inputs.row(item))

    # -- running ------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.job is not None and self.job.is_running()

    def start(self) -> WorkerThread | None:
        if self.is_running():
            return self.job
        try:
            spec = self.spec()
        except ValueError as exc:
            self.status.setText(f"Cannot start: {exc}")
            return None
        self.window_.settings.set_json("batch/last", self.remembered())
        self.report = None
        self.failures.clear()
        self.failures.setVisible(False)
        self.file_bar.setValue(0)
        self.overall_bar.setValue(0)
        self.pace = Pace()
        self.overall_label.setText("All photos")
        self.status.setText("Starting...")
        job = WorkerThread(lambda: run_batch(spec), "Batch", parent=self)
        job.progress.connect(self._on_progress)
        job.succeeded.connect(self._on_done)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        job.finished.connect(lambda: self._set_running(False))
        self.job = job
        self._set_running(True)
        job.start()
        return job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status.setText("Cancelling after the current step...")

    def stop(self, timeout_ms: int = 30000) -> bool:
        """Cancel and wait for the worker (the app closing, a test's teardown)."""
        return self.job.stop(timeout_ms) if self.job is not None else True

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _on_progress(self, p: Progress) -> None:
        data = p.data
        if p.fraction is not None:
            self.overall_bar.setValue(round(p.fraction * 100))
            now = time.perf_counter()
            self.pace.update(p.fraction, now)
            left = self.pace.text(now)
            self.overall_label.setText("All photos" + (f": {left}" if left else ""))
        if "index" not in data:
            return
        name = Path(data["source"]).name
        self.file_label.setText(f"Photo {data['index'] + 1} of {data['count']}: {name}")
        self.file_bar.setValue(round(data.get("file_fraction", 0.0) * 100))
        if data.get("event") == "failed":
            outcome = data["outcome"]
            self.failures.addItem(f"{outcome.source}: {outcome.reason}")
            self.failures.setVisible(True)

    def _on_done(self, report: BatchReport) -> None:
        self.report = report
        self.overall_label.setText("All photos")
        self.overall_bar.setValue(100)
        text = f"Finished: {report.summary()}."
        if report.failed:
            text += " The photos that failed are listed below with the reason."
        if report.notes:
            text += " " + " ".join(report.notes[:3]) + (" ..." if len(report.notes) > 3 else "")
        self.status.setText(text)

    def _on_failed(self, message: str, _trace: str) -> None:
        self.status.setText(f"The batch could not run: {message}")

    def _on_cancelled(self) -> None:
        self.status.setText("Cancelled. Start again to continue: finished photos are not done again.")

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        event.ignore()
        self.hide()  # a running batch goes on; File > Batch... shows it again
