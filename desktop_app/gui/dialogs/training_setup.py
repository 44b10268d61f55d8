"""The training dialog's set-up form: task, start point, photos (read in a worker and
previewed), budget and the advanced settings. Every task, title, default and the
self-supervised variant comes from the core's training registry
(core/training/registry.py), the same descriptors the command line reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QListWidget, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from desktop_app.core.models.catalog import models_for
from desktop_app.core.models.device import DEVICE_CHOICES
from desktop_app.core.work import Progress
from desktop_app.core.training import registry
from desktop_app.core.training.config import TrainConfig
from desktop_app.core.training.runs import SavedRun
from desktop_app.gui.dialogs.folder_list import FolderList
from desktop_app.gui.qimage import array_to_qimage
from desktop_app.gui.theme import wrapped
from desktop_app.gui.workers import WorkerThread

SCRATCH = ""  # the start-point combo's data for "a new network"
THUMBS = 6
SELF_SUPERVISED_TIP = ("Learn from noisy photos alone, no clean versions (Neighbor2Neighbor): e.g. ten photos of "
                       "one camera. A folder clean/ beside them, when there is one, is only used to report PSNR. It "
                       "needs noise that is independent from pixel to pixel: on camera JPEGs, whose noise is "
                       "grainy, it has measured worse than the starting model, so compare before keeping.")


def preview_work(config: TrainConfig):
    """Read the folders as the trainer will (the task's own reading): counts, skipped files,
    a few thumbnails. Each file read is a cancel point."""
    from PIL import Image

    yield Progress(None, "reading the images")
    data = yield from registry.get(config.task).create(config).read()
    thumbs = []
    for img in (data.train + data.val)[:THUMBS]:
        im = Image.fromarray(np.ascontiguousarray(img[..., :3]))  # RGB of (noisy, clean) pairs
        im.thumbnail((72, 72))
        thumbs.append(np.asarray(im, dtype=np.float32) / 255.0)
    return {"train": len(data.train), "val": len(data.val), "thumbs": thumbs,
            "same": data.train_paths == data.val_paths,  # one image: trained and validated on
            "skipped": [(str(p), why) for p, why in data.skipped]}


def _spin(kind, low, high, step=None, decimals=None):
    box = kind()
    if decimals is not None:
        box.setDecimals(decimals)
    box.setRange(low, high)
    if step is not None:
        box.setSingleStep(step)
    return box


class TrainingSetup(QWidget):
    """What to train, from where, on what, for how long. `changed` fires whenever what
    the dialog's buttons depend on may have changed (the preview arrived, the task changed)."""

    changed = Signal()

    def __init__(self, window, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window_ = window
        self.preview: dict[str, Any] | None = None
        self.preview_job: WorkerThread | None = None  # the preview whose result is wanted
        self._previews: set[WorkerThread] = set()  # that one and cancelled ones still ending
        self.make_config = lambda folders: self.config(folders)  # the dialog adds the name and overrides
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._build_what())
        layout.addWidget(self._build_data())
        layout.addLayout(self._build_budget())
        layout.addWidget(self._build_advanced())
        self.task.currentIndexChanged.connect(self._task_changed)
        self.self_supervised.toggled.connect(self._variant_changed)
        self.start.currentIndexChanged.connect(self.apply_defaults)
        self.device.currentIndexChanged.connect(self.apply_defaults)
        self.photos.changed.connect(self.refresh_preview)
        self._list_start_points()
        self.apply_defaults()

    # -- the widgets ----------------------------------------------------------------------
    def _build_what(self) -> QFormLayout:
        self.task = QComboBox()
        for spec in registry.listed_tasks():
            self.task.addItem(spec.title, spec.id)
        self.self_supervised = QCheckBox("Self-supervised (noisy photos only)")
        self.self_supervised.setToolTip(wrapped(SELF_SUPERVISED_TIP))
        self.start = QComboBox()
        self.start.setToolTip("The model to fine-tune, or a new network trained from scratch")
        self.photos = FolderList(lambda: self.window_.ask_folder_path())
        self.add_folder, self.remove_folder = self.photos.add_button, self.photos.remove_button
        # runs an earlier session left unfinished
        self.saved_runs = QComboBox()
        self.saved_runs.setToolTip("A run stopped by closing the window, a crash or Cancel: it continues from its "
                                   "last checkpoint with its own photos and settings")
        self.resume_button = QPushButton("Resume")
        resume = QHBoxLayout()
        resume.addWidget(self.saved_runs, 1)
        resume.addWidget(self.resume_button)
        self.resume_label = QLabel("Unfinished run")
        self.start_note = QLabel()  # what the start point's settings change, when they do
        self.start_note.setWordWrap(True)
        self.start_note.setEnabled(False)  # the grey of a hint
        form = QFormLayout()
        form.addRow(self.resume_label, resume)
        form.addRow("Task", self.task)
        form.addRow("", self.self_supervised)
        form.addRow("Start from", self.start)
        form.addRow("", self.start_note)
        form.addRow("Photos", self.photos)
        return form

    def _build_data(self) -> QGroupBox:
        self.data_summary = QLabel("Add one or more folders of photos.")
        self.data_summary.setWordWrap(True)
        thumbs = QHBoxLayout()
        self.thumb_labels = [QLabel() for _ in range(THUMBS)]
        for lbl in self.thumb_labels:
            lbl.setFixedSize(74, 74)
            thumbs.addWidget(lbl)
        thumbs.addStretch(1)
        self.skipped = QListWidget()
        self.skipped.setMaximumHeight(60)
        self.skipped.setVisible(False)
        box = QGroupBox("Data")
        layout = QVBoxLayout(box)
        layout.addWidget(self.data_summary)
        layout.addLayout(thumbs)
        layout.addWidget(self.skipped)
        return box

    def _build_budget(self) -> QFormLayout:
        self.budget_kind = QComboBox()
        self.budget_kind.addItem("minutes", "minutes")
        self.budget_kind.addItem("steps", "steps")
        self.budget = _spin(QSpinBox, 1, 1_000_000)
        self.budget.setValue(10)
        row = QHBoxLayout()
        row.addWidget(self.budget)
        row.addWidget(self.budget_kind)
        row.addStretch(1)
        form = QFormLayout()
        form.addRow("Budget", row)
        return form

    def _build_advanced(self) -> QGroupBox:
        self.lr = _spin(QDoubleSpinBox, 1e-6, 1e-2, 1e-5, decimals=6)
        self.batch = _spin(QSpinBox, 1, 256)
        self.patch = _spin(QSpinBox, 16, 512, 16)
        self.val_every = _spin(QSpinBox, 1, 100_000)
        self.device = QComboBox()
        for name in DEVICE_CHOICES:
            self.device.addItem("Automatic" if name == "auto" else name.upper(), name)
        self.device.setCurrentIndex(max(0, self.device.findData(self.window_.settings.get("device", str))))
        box = QGroupBox("Advanced")
        form = QFormLayout(box)
        form.addRow("Learning rate", self.lr)
        form.addRow("Batch (patches per step)", self.batch)
        form.addRow("Patch size (pixels)", self.patch)
        form.addRow("Validate every (steps)", self.val_every)
        form.addRow("Device", self.device)
        return box

    # -- the task and its defaults ---------------------------------------------------------
    @property
    def listed(self) -> registry.TrainingTask:
        """The task chosen in the list (what the model does; the start points)."""
        return registry.get(self.task.currentData())

    @property
    def spec(self) -> registry.TrainingTask:
        """How it is trained: the chosen task, or its self-supervised variant when ticked."""
        listed = self.listed
        if self.self_supervised.isChecked() and listed.self_supervised:
            return registry.get(listed.self_supervised)
        return listed

    @property
    def base(self) -> str | None:
        return self.start.currentData() or None

    def device_kind(self) -> str:
        from desktop_app.core.models.device import pick_device

        try:
            return pick_device(self.device.currentData()).type
        except (ValueError, RuntimeError):
            return "cpu"

    def apply_defaults(self) -> None:
        """The task's settings for this start point (a fine-tune is gentler than a new
        network) and device, as the command line takes them."""
        if self.start.count() == 0:
            return
        s = self.spec.settings(self.base is not None, self.device_kind())
        self.patch.setValue(s.patch)
        self.batch.setValue(s.batch)
        self.lr.setValue(s.lr)
        self.val_every.setValue(s.val_every)
        self.start_note.setText(s.note)
        self.start_note.setVisible(bool(s.note))
        self.changed.emit()

    def _task_changed(self) -> None:
        self._list_start_points()
        self.apply_defaults()
        if self.self_supervised.isChecked():
            self.refresh_preview()  # the self-supervised task reads only noisy/ of noisy/ + clean/
        self.changed.emit()

    def _variant_changed(self) -> None:
        self.apply_defaults()
        self.refresh_preview()

    def _list_start_points(self) -> None:
        self.start.blockSignals(True)
        self.start.clear()
        for entry in models_for(self.listed.model_task):
            m = entry.manifest
            self.start.addItem(f"{m.title or m.id} ({'shipped' if entry.shipped else 'your library'})", m.id)
        self.start.addItem("New network (from scratch)", SCRATCH)
        self.start.blockSignals(False)

    def config(self, folders: list[str] | None = None, name: str = "my-model") -> TrainConfig:
        """The run's settings as the form shows them."""
        steps, minutes = (self.budget.value(), None) if self.budget_kind.currentData() == "steps" \
            else (None, float(self.budget.value()))
        spec = self.spec
        config = registry.config_for(
            spec, name=name, data=folders if folders is not None else self.folder_list(), base=self.base,
            steps=steps, minutes=minutes, device=self.device.currentData(), device_kind=self.device_kind(),
            schedule_minutes=minutes,  # the learning rate comes down within the budget
            batch=self.batch.value(), patch=self.patch.value(), lr=self.lr.value(), val_every=self.val_every.value())
        if spec.model_task == "generate":
            config.hparams = {"size": self.patch.value()}  # a generator makes pictures of the crop size
        return config

    def show_run(self, c: TrainConfig) -> bool:
        """Fill the form with a saved run's set-up; False when the dialog does not train its task."""
        variant = registry.variant_of(c.task)
        listed = variant.id if variant is not None else c.task
        if self.task.findData(listed) < 0:
            return False
        self.task.setCurrentIndex(self.task.findData(listed))
        self.self_supervised.setChecked(variant is not None)
        self.start.setCurrentIndex(max(0, self.start.findData(c.base or SCRATCH)))
        self.photos.set_folders(c.data)
        self.batch.setValue(c.batch)
        self.patch.setValue(c.patch)
        self.lr.setValue(c.lr)
        self.val_every.setValue(c.val_every)
        kind = "minutes" if c.minutes is not None else "steps"
        self.budget_kind.setCurrentIndex(self.budget_kind.findData(kind))
        self.budget.setValue(max(1, round(c.minutes)) if c.minutes is not None else c.steps)
        return True

    def list_saved_runs(self, runs: list[SavedRun]) -> None:
        self.saved_runs.clear()
        for run in runs:
            self.saved_runs.addItem(run.describe(), run)
        for w in (self.saved_runs, self.resume_button, self.resume_label):
            w.setVisible(bool(runs))

    def set_locked(self, locked: bool) -> None:
        """While a run exists (running or stopped), its set-up stays as it was started."""
        for w in (self.task, self.start, self.add_folder, self.remove_folder, self.saved_runs, self.resume_button):
            w.setEnabled(not locked)
        self.self_supervised.setEnabled(not locked and self.listed.self_supervised is not None)

    # -- photos ---------------------------------------------------------------------------
    def add_folders(self, paths: list[str]) -> None:
        self.photos.add_folders(paths)  # the preview is read again

    def folder_list(self) -> list[str]:
        return self.photos.folders()

    def refresh_preview(self) -> None:
        self.cancel_preview()
        self.preview = None
        self.skipped.clear()
        self.skipped.setVisible(False)
        for lbl in self.thumb_labels:
            lbl.clear()
        folders = self.folder_list()
        if not folders:
            self.data_summary.setText("Add one or more folders of photos.")
            self.changed.emit()
            return
        self.data_summary.setText("Reading the images...")
        c = self.make_config(folders)
        job = WorkerThread(lambda: preview_work(c), "training data preview", self)
        # a stale preview (the folders changed while it read) is dropped
        job.succeeded.connect(lambda info: job is self.preview_job and self._show_preview(info))
        job.failed.connect(lambda msg, tb: job is self.preview_job
                           and self.data_summary.setText(f"Cannot use these folders: {msg}"))
        job.finished.connect(lambda: self._preview_ended(job))
        self.preview_job = job
        self._previews.add(job)
        job.start()
        self.changed.emit()

    def cancel_preview(self) -> None:
        """Stop reading for the preview without waiting: the reading ends at its next file, in
        the background, and whatever it returns is ignored."""
        if self.preview_job is not None:
            self.preview_job.cancel()
            self.preview_job = None

    def _preview_ended(self, job: WorkerThread) -> None:
        if job is self.preview_job:
            self.preview_job = None
        if job.release():  # its thread has ended: it has emitted its last signal
            self._previews.discard(job)
        self.changed.emit()

    @property
    def reading(self) -> bool:
        """Whether a preview is being read (not counting cancelled ones still ending)."""
        return self.preview_job is not None

    def stop_previews(self, timeout_ms: int = 10000) -> None:
        """Before the dialog goes: cancel every preview and wait for its thread (a file at most)."""
        self.cancel_preview()
        for job in list(self._previews):
            job.stop(timeout_ms)

    def _show_preview(self, info: dict[str, Any]) -> None:
        self.preview = info
        if info.get("same"):
            text = (f"{info['train']} image{'s' if info['train'] != 1 else ''}: too few to hold any back, so the "
                    "run is validated on the images it trains on.")
        else:
            total = info["train"] + info["val"]
            text = f"{total} images: {info['train']} for training, {info['val']} held back for validation."
        if info["skipped"]:
            text += f" {len(info['skipped'])} skipped (listed below)."
        self.data_summary.setText(text)
        for lbl, thumb in zip(self.thumb_labels, info["thumbs"]):
            lbl.setPixmap(QPixmap.fromImage(array_to_qimage(thumb)))
        for path, why in info["skipped"]:
            self.skipped.addItem(f"{Path(path).name}: {why}")
        self.skipped.setVisible(bool(info["skipped"]))
        self.changed.emit()
