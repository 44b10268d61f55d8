"""Models > Train / Fine-tune...: teach a denoiser on the user's own photos.

The dialog only observes the core's `Trainer` (training/trainer.py): the run is a work
generator in a worker thread, every step a progress event drawn as curves, every yield a
point where Pause holds it and Cancel stops it (the trainer checkpoints either way, so a
cancelled run can be resumed). Keep exports the best weights into the user's library,
where the Operations panel lists them as a denoise method. "Self-supervised" fine-tunes the
real-photo denoiser on noisy photos alone (training/selfsup.py): its validation is a loss
(lower is better) and a held-out photo is shown before and after at each validation.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout,
                               QLabel, QLineEdit, QListWidget, QPushButton, QSpinBox, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from desktop_app.core.models.catalog import library_dir, models_for
from desktop_app.core.models.device import DEVICE_CHOICES
from desktop_app.core.models.library import NAME_RE
from desktop_app.core.paths import app_data_dir
from desktop_app.core.tasks import Progress, pausable
from desktop_app.core.training.runs import SavedRun, mark_done, read_run, unfinished_runs
from desktop_app.gui.qimage import array_to_qimage
from desktop_app.gui.workers import WorkerThread

# training task -> (label, the architecture a from-scratch run builds)
TASKS = {"denoise": ("Denoise (Gaussian noise, level as input)", "unet-denoise"),
         "denoise-real": ("Denoise real photos (blind)", "unet-denoise-blind"),
         "inpaint": ("Remove objects (inpainting)", "inpaint-fourier"),
         "generate-gan": ("Generate pictures: GAN", "gan"),
         "generate-vae": ("Generate pictures: VAE", "vae")}
# task -> (patch, batch, learning rate, validate every, default name): what suits it on a CPU
# (a fine-tune's learning rate decays over its budget: benchmarks/finetune.py on indoor scenes
# measured 1e-4 at +0.06 dB and 3e-4 at -0.17 dB for ten minutes on the shipped Gaussian denoiser,
# which is trained to the end of its schedule and is easily knocked off its optimum)
TASK_DEFAULTS = {"denoise": (96, 8, 1e-4, 200, "my-denoiser"),
                 "denoise-real": (96, 8, 1e-4, 200, "my-denoiser"),
                 # self-supervised: a gentle fine-tune, validated often (training/selfsup.py)
                 "denoise-self": (128, 8, 3e-5, 100, "my-camera"),
                 "inpaint": (128, 8, 1e-4, 200, "my-inpainter"),
                 "generate-gan": (64, 32, 2e-4, 500, "my-generator"),
                 "generate-vae": (64, 32, 5e-4, 500, "my-generator")}
SELF_SUPERVISED = {"denoise-real": "denoise-self"}  # task -> its variant that needs no clean photos
SCRATCH = ""  # the start-point combo's data for "a new network"
THUMBS = 6


def preview_work(config):
    """Read the folders as the trainer will (the task's own reading when it has one):
    counts, skipped files, a few thumbnails."""
    from PIL import Image

    from desktop_app.core.training import registry

    yield Progress(None, "reading the images")
    data = registry.get(config.task).create(config).load()
    thumbs = []
    for img in (data.train + data.val)[:THUMBS]:
        im = Image.fromarray(np.ascontiguousarray(img[..., :3]))  # RGB of (noisy, clean) pairs
        im.thumbnail((72, 72))
        thumbs.append(np.asarray(im, dtype=np.float32) / 255.0)
    return {"train": len(data.train), "val": len(data.val), "thumbs": thumbs,
            "skipped": [(str(p), why) for p, why in data.skipped]}


class CurvePlot(QWidget):
    """A polyline of (x, y) points scaled to the widget, with its title and last value."""

    def __init__(self, title: str, colour: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.colour = QColor(colour)
        self.points: list[tuple[float, float]] = []
        self.setMinimumSize(260, 120)

    def add(self, x: float, y: float) -> None:
        if np.isfinite(y):
            self.points.append((float(x), float(y)))
            self.update()

    def clear(self) -> None:
        self.points.clear()
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        p.setPen(self.palette().text().color())
        last = f": {self.points[-1][1]:.4g}" if self.points else ""
        p.drawText(6, 14, self.title + last)
        if len(self.points) < 2:
            return
        xs, ys = np.array(self.points).T
        x0, x1 = xs.min(), max(xs.max(), xs.min() + 1e-9)
        y0, y1 = ys.min(), max(ys.max(), ys.min() + 1e-9)
        left, top, w, h = 6, 20, self.width() - 12, self.height() - 26
        poly = QPolygonF([QPointF(left + (x - x0) / (x1 - x0) * w, top + h - (y - y0) / (y1 - y0) * h)
                          for x, y in self.points])
        p.setPen(QPen(self.colour, 1.5))
        p.drawPolyline(poly)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600} h {seconds // 60 % 60:02d} min"


class TrainingDialog(QDialog):
    """Choose data and a start point, watch the run, keep or discard the result.

    `config_overrides` is merged into the run's TrainConfig last (tests use it for a tiny
    network and short validation); nothing in the dialog sets it."""

    def __init__(self, window, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.setWindowTitle("Train / Fine-tune a model")
        self.window_ = window  # the main window: its dialog hooks, settings and panels
        self.config_overrides: dict[str, Any] = {}
        self.preview_job: WorkerThread | None = None
        self.job: WorkerThread | None = None
        self.trainer = None
        self.run_dir: Path | None = None
        self._shown_trainer = None  # the trainer whose metric the curve and report show
        self.start_metrics: dict[str, float] | None = None
        self.preview: dict[str, Any] | None = None
        self._running = threading.Event()
        self._running.set()

        # -- what to train on ----------------------------------------------------------------
        self.task = QComboBox()
        for key, (label, _) in TASKS.items():
            self.task.addItem(label, key)
        self.self_supervised = QCheckBox("Self-supervised (noisy photos only)")
        self.self_supervised.setToolTip("Learn from noisy photos alone, no clean versions (Neighbor2Neighbor): "
                                        "e.g. ten photos of one camera. A folder clean/ beside them, when there "
                                        "is one, is only used to report PSNR. It needs noise that is independent "
                                        "from pixel to pixel: on camera JPEGs, whose noise is grainy, it has "
                                        "measured worse than the starting model, so compare before keeping.")
        self.start = QComboBox()
        self.start.setToolTip("The model to fine-tune, or a new network trained from scratch")
        self.folders = QListWidget()
        self.folders.setMaximumHeight(80)
        self.add_folder = QPushButton("Add Folder...")
        self.remove_folder = QPushButton("Remove")
        fbuttons = QVBoxLayout()
        fbuttons.addWidget(self.add_folder)
        fbuttons.addWidget(self.remove_folder)
        fbuttons.addStretch(1)
        frow = QHBoxLayout()
        frow.addWidget(self.folders, 1)
        frow.addLayout(fbuttons)
        # -- runs an earlier session left unfinished ---------------------------------------
        self.saved_runs = QComboBox()
        self.saved_runs.setToolTip("A run stopped by closing the window, a crash or Cancel: it continues from its "
                                   "last checkpoint with its own photos and settings")
        self.resume_button = QPushButton("Resume")
        resume_row = QHBoxLayout()
        resume_row.addWidget(self.saved_runs, 1)
        resume_row.addWidget(self.resume_button)
        self.resume_label = QLabel("Unfinished run")
        setup = QFormLayout()
        setup.addRow(self.resume_label, resume_row)
        setup.addRow("Task", self.task)
        setup.addRow("", self.self_supervised)
        setup.addRow("Start from", self.start)
        setup.addRow("Photos", frow)

        # -- data preview ---------------------------------------------------------------------
        self.data_summary = QLabel("Add one or more folders of photos.")
        self.data_summary.setWordWrap(True)
        self.thumb_row = QHBoxLayout()
        self.thumb_labels = [QLabel() for _ in range(THUMBS)]
        for lbl in self.thumb_labels:
            lbl.setFixedSize(74, 74)
            self.thumb_row.addWidget(lbl)
        self.thumb_row.addStretch(1)
        self.skipped = QListWidget()
        self.skipped.setMaximumHeight(60)
        self.skipped.setVisible(False)
        data_box = QGroupBox("Data")
        dl = QVBoxLayout(data_box)
        dl.addWidget(self.data_summary)
        dl.addLayout(self.thumb_row)
        dl.addWidget(self.skipped)

        # -- budget and advanced --------------------------------------------------------------
        self.budget_kind = QComboBox()
        self.budget_kind.addItem("minutes", "minutes")
        self.budget_kind.addItem("steps", "steps")
        self.budget = QSpinBox()
        self.budget.setRange(1, 1_000_000)
        self.budget.setValue(10)
        brow = QHBoxLayout()
        brow.addWidget(self.budget)
        brow.addWidget(self.budget_kind)
        brow.addStretch(1)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 1e-2)
        self.lr.setSingleStep(1e-5)
        self.batch = QSpinBox()
        self.batch.setRange(1, 256)
        self.patch = QSpinBox()
        self.patch.setRange(32, 512)
        self.patch.setSingleStep(16)
        self.val_every = QSpinBox()
        self.val_every.setRange(1, 100_000)
        self.device = QComboBox()
        for name in DEVICE_CHOICES:
            self.device.addItem("Automatic" if name == "auto" else name.upper(), name)
        self.device.setCurrentIndex(max(0, self.device.findData(window.settings.get("device", str))))
        advanced = QGroupBox("Advanced")
        al = QFormLayout(advanced)
        al.addRow("Learning rate", self.lr)
        al.addRow("Batch (patches per step)", self.batch)
        al.addRow("Patch size (pixels)", self.patch)
        al.addRow("Validate every (steps)", self.val_every)
        al.addRow("Device", self.device)
        budget = QFormLayout()
        budget.addRow("Budget", brow)

        # -- the run --------------------------------------------------------------------------
        self.loss_plot = CurvePlot("training loss", "#d9822b")
        self.metric_plot = CurvePlot("validation score", "#2b83d9")  # titled by the run's metric
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.metric_plot)
        # a held-out photo before and after, at each validation (tasks that send one)
        self.sample_labels = (QLabel(), QLabel())
        for lbl, tip in zip(self.sample_labels, ("Validation photo, noisy", "Validation photo, denoised")):
            lbl.setFixedSize(128, 128)
            lbl.setToolTip(tip)
            lbl.setVisible(False)
            plots.addWidget(lbl)
        self.status = QLabel("")
        self.status.setObjectName("training_status")
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        run_buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.cancel_button):
            run_buttons.addWidget(b)
        run_buttons.addStretch(1)

        # -- the result -----------------------------------------------------------------------
        self.report = QTableWidget(0, 3)
        self.report.setHorizontalHeaderLabels(["Model", "Validation score", "Step"])  # titled by the run's metric
        self.report.setMaximumHeight(100)
        self.report.horizontalHeader().setStretchLastSection(True)
        self.name = QLineEdit("my-denoiser")
        self.name.setToolTip("The model's name in your library (letters, digits, - _ .)")
        self.keep_button = QPushButton("Keep")
        self.discard_button = QPushButton("Discard")
        result_box = QGroupBox("Result")
        rl = QVBoxLayout(result_box)
        rl.addWidget(self.report)
        rrow = QHBoxLayout()
        rrow.addWidget(QLabel("Name"))
        rrow.addWidget(self.name, 1)
        rrow.addWidget(self.keep_button)
        rrow.addWidget(self.discard_button)
        rl.addLayout(rrow)
        self.result_box = result_box

        layout = QVBoxLayout(self)
        layout.addLayout(setup)
        layout.addWidget(data_box)
        layout.addLayout(budget)
        layout.addWidget(advanced)
        layout.addLayout(plots)
        layout.addWidget(self.status)
        layout.addLayout(run_buttons)
        layout.addWidget(result_box)

        self.task.currentIndexChanged.connect(self._list_start_points)
        self.task.currentIndexChanged.connect(self._task_defaults)
        self.task.currentIndexChanged.connect(self._update_buttons)
        # the self-supervised task reads only noisy/ of a folder holding noisy/ and clean/
        self.self_supervised.toggled.connect(self.refresh_preview)
        self.self_supervised.toggled.connect(self._task_defaults)
        self.task.currentIndexChanged.connect(lambda: self.self_supervised.isChecked() and self.refresh_preview())
        self.add_folder.clicked.connect(self.choose_folder)
        self.remove_folder.clicked.connect(self._remove_folder)
        self.start_button.clicked.connect(self.start_training)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button.clicked.connect(self.cancel)
        self.keep_button.clicked.connect(self.keep)
        self.discard_button.clicked.connect(self.discard)
        self.resume_button.clicked.connect(self.resume_saved)
        self._set_defaults()
        self._list_saved_runs()
        self._list_start_points()
        self._update_buttons()

    def _set_defaults(self) -> None:
        self._task_defaults()

    def _task_defaults(self) -> None:
        """Patch, batch, learning rate and validation interval for the chosen task (a
        fine-tune is gentler than training from scratch), and a name if none was typed."""
        patch, batch, lr, val_every, name = TASK_DEFAULTS.get(self.task_key, TASK_DEFAULTS["denoise"])
        self.patch.setValue(patch)
        self.batch.setValue(batch)
        self.lr.setValue(lr)
        self.val_every.setValue(val_every)
        if self.name.text().strip() in {d[4] for d in TASK_DEFAULTS.values()} | {""}:
            self.name.setText(name)

    # -- runs left from earlier --------------------------------------------------------------
    @staticmethod
    def runs_root() -> Path:
        return app_data_dir() / "training"

    def _list_saved_runs(self) -> None:
        runs = [r for r in unfinished_runs(self.runs_root()) if r.folder != self.run_dir]
        self.saved_runs.clear()
        for run in runs:
            self.saved_runs.addItem(run.describe(), run)
        for w in (self.saved_runs, self.resume_button, self.resume_label):
            w.setVisible(bool(runs))

    def resume_saved(self) -> None:
        """Show the chosen run's set-up and continue it from its checkpoint."""
        run: SavedRun | None = self.saved_runs.currentData()
        if run is None or self.running or self.trainer is not None:
            return
        c = run.config
        model_task = next((k for k, v in SELF_SUPERVISED.items() if v == c.task), c.task)
        if self.task.findData(model_task) < 0:
            self.window_.show_error("Resume the run", f"The dialog does not train {c.task!r} models; continue "
                                    f"this run from the command line with --resume --name {c.name}.")
            return
        self.task.setCurrentIndex(self.task.findData(model_task))
        self.self_supervised.setChecked(model_task != c.task)
        self.start.setCurrentIndex(max(0, self.start.findData(c.base or SCRATCH)))
        self.folders.clear()
        self.folders.addItems(list(c.data))
        self.name.setText(c.name)
        self.batch.setValue(c.batch)
        self.patch.setValue(c.patch)
        self.lr.setValue(c.lr)
        self.val_every.setValue(c.val_every)
        if c.minutes is not None:
            self.budget_kind.setCurrentIndex(self.budget_kind.findData("minutes"))
            self.budget.setValue(max(1, round(c.minutes)))
        else:
            self.budget_kind.setCurrentIndex(self.budget_kind.findData("steps"))
            self.budget.setValue(c.steps)
        self.loss_plot.clear()
        self.metric_plot.clear()  # refilled from the checkpoint's history when the run starts
        self.run_dir = run.folder
        self.start_metrics = None
        self.refresh_preview()
        self.start_training()

    # -- set-up ---------------------------------------------------------------------------
    @property
    def model_task(self) -> str:
        """What the model does (the start points and the architecture)."""
        return self.task.currentData()

    @property
    def task_key(self) -> str:
        """How it is trained: the task, or its self-supervised variant when ticked."""
        key = self.model_task
        return SELF_SUPERVISED[key] if self.self_supervised.isChecked() and key in SELF_SUPERVISED else key

    def _list_start_points(self) -> None:
        self.start.clear()
        for entry in models_for(self.model_task):
            m = entry.manifest
            where = "shipped" if entry.shipped else "your library"
            self.start.addItem(f"{m.title or m.id} ({where})", m.id)
        self.start.addItem("New network (from scratch)", SCRATCH)

    def choose_folder(self) -> None:
        path = self.window_.ask_folder_path()
        if path:
            self.add_folders([path])

    def add_folders(self, paths: list[str]) -> None:
        have = {self.folders.item(i).text() for i in range(self.folders.count())}
        for p in paths:
            if p not in have:
                self.folders.addItem(p)
        self.refresh_preview()

    def _remove_folder(self) -> None:
        for item in self.folders.selectedItems():
            self.folders.takeItem(self.folders.row(item))
        self.refresh_preview()

    def folder_list(self) -> list[str]:
        return [self.folders.item(i).text() for i in range(self.folders.count())]

    def refresh_preview(self) -> None:
        self.preview = None
        self.skipped.clear()
        self.skipped.setVisible(False)
        for lbl in self.thumb_labels:
            lbl.clear()
        folders = self.folder_list()
        if not folders:
            self.data_summary.setText("Add one or more folders of photos.")
            self._update_buttons()
            return
        if self.preview_job is not None:
            self.preview_job.stop()
        self.data_summary.setText("Reading the images...")
        c = self.build_config(folders)
        job = WorkerThread(lambda: preview_work(c), "training data preview", self)
        # a stale preview (the folders changed while it read) is dropped
        job.succeeded.connect(lambda info: job is self.preview_job and self._show_preview(info))
        job.failed.connect(lambda msg, tb: job is self.preview_job
                           and self.data_summary.setText(f"Cannot use these folders: {msg}"))
        job.finished.connect(self._update_buttons)
        self.preview_job = job
        job.start()
        self._update_buttons()

    def _show_preview(self, info: dict[str, Any]) -> None:
        self.preview = info
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
        self._update_buttons()

    def build_config(self, folders: list[str] | None = None):
        from desktop_app.core.training.config import TrainConfig

        base = self.start.currentData() or None
        steps, minutes = (self.budget.value(), None) if self.budget_kind.currentData() == "steps" \
            else (TrainConfig.steps, float(self.budget.value()))
        config = TrainConfig(task=self.task_key, name=self.name.text().strip() or "my-denoiser",
                             data=folders if folders is not None else self.folder_list(),
                             arch=TASKS[self.model_task][1], base=base, steps=steps, minutes=minutes,
                             schedule_minutes=minutes,  # the learning rate comes down within the budget
                             batch=self.batch.value(), patch=self.patch.value(), lr=self.lr.value(),
                             warmup=0 if base else min(500, steps // 10), val_every=self.val_every.value(),
                             val_crop=min(256, self.patch.value() * 2), device=self.device.currentData())
        if self.model_task.startswith("generate"):
            config.hparams = {"size": self.patch.value()}  # a generator makes pictures of the crop size
        for key, value in self.config_overrides.items():
            setattr(config, key, value)
        return config

    # -- the run --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """From Start until the run's end has been handled here (not merely its thread ended)."""
        return self.job is not None

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def start_training(self) -> None:
        """Start a new run, or resume the cancelled one from its last checkpoint."""
        if self.running or not self.folder_list():
            return
        # a cancelled run of this session or one restored from an earlier one: its checkpoint
        saved = read_run(self.run_dir) if self.run_dir is not None else None
        resuming = saved is not None
        config = self.build_config()
        if resuming:
            # the run's own network, options and photos; batch, patch, learning rate,
            # validation, budget and device as the dialog now says
            steps = config.steps if config.minutes is None else saved.config.steps
            if config.minutes is None and saved.step >= steps:
                steps = saved.step + self.budget.value()  # a finished run: that many more
            config = replace(saved.config, steps=steps, minutes=config.minutes, device=config.device,
                             batch=config.batch, patch=config.patch, lr=config.lr, val_every=config.val_every,
                             val_crop=config.val_crop)
        else:
            self.run_dir = app_data_dir() / "training" / time.strftime("run-%Y%m%d-%H%M%S")
            while self.run_dir.exists():
                self.run_dir = self.run_dir.with_name(self.run_dir.name + "-1")
            self.loss_plot.clear()
            self.metric_plot.clear()
            self.start_metrics = None
        run_dir = self.run_dir
        self._running.set()
        self.report.setRowCount(0)

        def work():
            from desktop_app.core.training.trainer import Trainer

            yield Progress(None, "building the model")
            trainer = Trainer(config, run_dir, command="training dialog")
            if resuming:
                trainer.resume()
            self.trainer = trainer  # read on the GUI thread only after the first event
            return (yield from pausable(trainer.run(), self._running))

        job = WorkerThread(work, "training", self)
        job.progress.connect(self._on_progress)
        job.succeeded.connect(lambda r: self._ended("finished"))
        job.cancelled.connect(lambda: self._ended("cancelled"))
        job.failed.connect(self._failed)
        job.finished.connect(lambda: self._job_finished(job))
        self.job = job
        self.status.setText("Resuming..." if resuming else "Starting...")
        job.start()
        self._update_buttons()

    def _show_trainer(self) -> None:
        """Once the worker has built the trainer: title the curve with its metric and, for a
        run restored from an earlier session, draw the validation curve so far."""
        t = self.trainer
        self._shown_trainer = t
        self.metric_plot.title = "validation " + t.spec.metric.title
        if not self.metric_plot.points:
            for h in t.history:
                if t.metric in h:
                    self.metric_plot.add(h["step"], h[t.metric])
        self.metric_plot.update()

    def _on_progress(self, p: Progress) -> None:
        d = p.data
        if self.trainer is not None and self.trainer is not self._shown_trainer:
            self._show_trainer()
        if d.get("paused"):
            self.status.setText("Paused at step " + str(self.trainer.step if self.trainer else 0))
            return
        if d.get("validation"):
            metric = self.trainer.metric if self.trainer else "val_psnr"
            if metric in d:
                self.metric_plot.add(d["step"], d[metric])
            if "sample" in d:
                self._show_sample(*d["sample"])
            return
        if "loss" in d:
            if self.start_metrics is None and self.trainer is not None:
                self.start_metrics = dict(getattr(self.trainer, "start_metrics", {}) or {})
                if self.start_metrics:
                    self.metric_plot.add(0, self.start_metrics[self.trainer.metric])
            self.loss_plot.add(d["step"], d["loss"])
            self.status.setText(f"step {d['step']}  -  {d['steps_per_s']:.1f} steps/s  -  "
                                f"{_duration(d['seconds_left'])} left")
        elif p.message:
            self.status.setText(p.message)

    def _show_sample(self, before: np.ndarray, after: np.ndarray) -> None:
        for lbl, img in zip(self.sample_labels, (before, after)):
            pix = QPixmap.fromImage(array_to_qimage(np.ascontiguousarray(img, dtype=np.float32)))
            lbl.setPixmap(pix.scaled(lbl.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation))
            lbl.setVisible(True)

    def _job_finished(self, job: WorkerThread) -> None:
        job.thread.wait(2000)
        if self.job is job:
            self.job = None
        self._update_buttons()

    def toggle_pause(self) -> None:
        if not self.running:
            return
        if self.paused:
            self._running.set()
            self.status.setText("Resuming...")
        else:
            self._running.clear()
            self.status.setText("Pausing...")
        self._update_buttons()

    def cancel(self) -> None:
        """Stop the run between steps; its checkpoint stays and Continue resumes it."""
        if self.running:
            self._running.set()  # a paused run must get to its next yield to see the cancel
            self.job.cancel()
            self.status.setText("Cancelling...")

    def _failed(self, message: str, tb: str) -> None:
        self.status.setText(f"Training failed: {message}")
        self.window_.show_error("Training failed", message)

    def _ended(self, how: str) -> None:
        t = self.trainer
        if t is None:
            return
        step = t.step
        self.status.setText(f"Training {how} at step {step}." + (" Continue resumes it." if how == "cancelled" else ""))
        self._show_report()

    def _show_report(self) -> None:
        t = self.trainer
        metric = t.metric
        rows = []
        if self.start_metrics and metric in self.start_metrics:
            label = "Starting model" if t.config.base else "Untrained network"
            rows.append((label, self.start_metrics, 0))
        if t.best and metric in t.best and t.best.get("step", 0) > 0:
            rows.append(("Trained (best)", t.best, t.best["step"]))
        title = "validation " + t.spec.metric.title
        self.report.setHorizontalHeaderLabels(["Model", title[0].upper() + title[1:], "Step"])
        self.report.setRowCount(len(rows))
        for r, (label, metrics, step) in enumerate(rows):
            score = t.score_text(metrics)
            if metric != "val_psnr" and "val_psnr" in metrics:  # clean references were found
                score += f", PSNR {metrics['val_psnr']:.2f} dB"
            for c, text in enumerate((label, score, str(step))):
                self.report.setItem(r, c, QTableWidgetItem(text))
        self._update_buttons()

    def report_rows(self) -> list[list[str]]:
        return [[self.report.item(r, c).text() for c in range(self.report.columnCount())]
                for r in range(self.report.rowCount())]

    @property
    def can_keep(self) -> bool:
        t = self.trainer
        return (not self.running and t is not None and t.best_path.exists()
                and t.best.get("step", 0) > 0)

    # -- the result -----------------------------------------------------------------------
    def keep(self) -> Path | None:
        """Export the best weights into the library under the chosen name."""
        if not self.can_keep:
            return None
        name = self.name.text().strip()
        if not NAME_RE.match(name):
            self.window_.show_error("Keep the model", f"{name!r} is not a usable name: use letters, digits, "
                                    "'-', '_' or '.', starting with a letter or digit.")
            return None
        from desktop_app.core.models.catalog import all_models

        taken = {e.manifest.id: e for e in all_models()}
        if name in taken:
            if taken[name].shipped:
                self.window_.show_error("Keep the model", f"{name!r} is the name of a shipped model; choose another.")
                return None
            if self.window_.ask("Replace the model?", f"Your library already has a model named {name!r}. "
                                "Replace it?", ["Replace", "Cancel"], 1) != 0:
                return None
        from desktop_app.core.models.manager import MANAGER
        from desktop_app.core.operations.library import sync_library_operations

        t = self.trainer
        t.config.name = name
        path = library_dir() / f"{name}.safetensors"
        start = self.start_metrics.get(t.metric) if self.start_metrics else None
        MANAGER.release()  # a model of this name may be loaded from the file being replaced
        t.export(path, title=name, description=f"Trained in the training dialog on {', '.join(t.config.data)}.",
                 extra_metrics={"start_" + t.metric: round(start, 3)} if start is not None else None)
        sync_library_operations()
        self.window_.ops_panel.populate()
        generate_panel = getattr(self.window_, "generate_panel", None)
        if generate_panel is not None:
            generate_panel.refresh_models()
        mark_done(self.run_dir)  # kept: no longer offered as an unfinished run
        where = "the Generate panel lists it" if self.model_task.startswith("generate") \
            else "the Operations panel lists it under 'Your models'"
        self.status.setText(f"Kept as {name!r}: {where}.")
        self._update_buttons()
        return path

    def discard(self) -> None:
        """Forget the run: its checkpoints are deleted and the dialog starts afresh."""
        if self.running:
            return
        import shutil

        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        self.trainer, self.run_dir, self.start_metrics = None, None, None
        self.report.setRowCount(0)
        self.loss_plot.clear()
        self.metric_plot.clear()
        self.status.setText("Discarded.")
        self._list_saved_runs()
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.running
        has_data = bool(self.folder_list()) and self.preview is not None
        resumable = self.trainer is not None and not running
        self.start_button.setEnabled(not running and has_data)
        self.start_button.setText("Continue" if resumable else "Start")
        self.pause_button.setEnabled(running)
        self.pause_button.setText("Resume" if running and self.paused else "Pause")
        self.cancel_button.setEnabled(running)
        for w in (self.task, self.start, self.add_folder, self.remove_folder):
            w.setEnabled(not running and self.trainer is None)
        self.self_supervised.setEnabled(not running and self.trainer is None and self.model_task in SELF_SUPERVISED)
        for w in (self.saved_runs, self.resume_button):
            w.setEnabled(not running and self.trainer is None)
        self.keep_button.setEnabled(self.can_keep)
        self.discard_button.setEnabled(not running and self.trainer is not None)

    # -- closing --------------------------------------------------------------------------
    def stop_all(self, timeout_ms: int = 30000) -> None:
        """Cancel whatever runs (the trainer writes its checkpoint) and wait for it."""
        self._running.set()
        for job in (self.preview_job, self.job):
            if job is not None and job.is_running():
                job.stop(timeout_ms)
        self.job = None

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.stop_all()
        super().closeEvent(event)

    def reject(self) -> None:
        self.stop_all()
        super().reject()
