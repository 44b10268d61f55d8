"""Models > Calibrate to My Camera...: bursts of a still scene averaged into (frame, reference)
pairs, then on to the training dialog with them.

The work is the core's (core/calibration/session.py, over `find_bursts` and `calibrate`) in a
worker: every frame is a progress event and a cancel point, and a calibration cancelled
half-way writes nothing. Train opens the training dialog with the pairs task, `cnn-real` to
start from and the pairs folder, as `desktop-app train --task denoise-pairs` takes them: there
is one trainer UI, and keeping its model records the camera (core/training/keep.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QListWidget, QProgressBar,
                               QPushButton, QVBoxLayout)

from desktop_app.core.calibration import scene_noise, scene_summary
from desktop_app.core.calibration.session import CROP, Calibration, calibration_work, model_name, new_folder
from desktop_app.core.work import Progress
from desktop_app.gui.dialogs.folder_list import FolderList
from desktop_app.gui.qimage import array_to_qimage
from desktop_app.gui.workers import WorkerThread

PAIRS_TASK, BASE = "denoise-pairs", "cnn-real"
INTRO = ("Shoot a burst of each scene: 4-64 frames of something still, from a tripod, at the ISO you want "
         "cleaned. Add a folder per scene, or one folder of shots (grouped by capture time). The frames are "
         "aligned and averaged into a clean reference; the pairs teach the denoiser your camera's noise.")


class CalibrationDialog(QDialog):
    """Pick bursts, calibrate (progress, Cancel), see the reference and the noise removed,
    then Train. Modeless: the window stays usable; closing the dialog only hides it."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.setWindowTitle("Calibrate to My Camera")
        self.setModal(False)
        self.window_ = window
        self.job: WorkerThread | None = None
        self.out: Path | None = None  # where the running calibration will write
        self.result: Calibration | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self._build_bursts())
        layout.addWidget(self._build_result(), 1)
        self.train_button = QPushButton("Train...")
        self.train_button.setToolTip(f"Fine-tune {BASE} on these pairs in the training dialog")
        self.train_button.clicked.connect(self.train)
        close = QPushButton("Close")
        close.clicked.connect(self.hide)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.train_button)
        row.addWidget(close)
        layout.addLayout(row)
        self.resize(800, 660)
        window.installEventFilter(self)  # the window closing stops the calibration
        self._update()

    def _build_bursts(self) -> QGroupBox:
        self.bursts = FolderList(lambda: self.window_.ask_folder_path(), height=60)
        self.bursts.changed.connect(self._update)
        self.add_button, self.remove_button = self.bursts.add_button, self.bursts.remove_button
        self.calibrate_button, self.cancel_button = QPushButton("Calibrate"), QPushButton("Cancel")
        self.calibrate_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.bar = QProgressBar()
        self.status = QLabel("Add the folders of your bursts.")
        self.status.setWordWrap(True)
        run = QHBoxLayout()
        for w in (self.calibrate_button, self.cancel_button):
            run.addWidget(w)
        run.addWidget(self.bar, 1)
        box = QGroupBox("Bursts")
        lay = QVBoxLayout(box)
        lay.addWidget(self.bursts)
        lay.addLayout(run)
        lay.addWidget(self.status)
        return box

    def _build_result(self) -> QGroupBox:
        """The scenes (one line each), the chosen one's frame beside its reference at 100 %,
        and beside them what was left out: side by side, so the dialog fits a 768-px screen."""
        self.scenes = QListWidget()
        self.scenes.setMaximumHeight(64)
        self.scenes.currentRowChanged.connect(self._show_scene)
        self.frame_label, self.reference_label = QLabel(), QLabel()
        self.frame_caption, self.reference_caption = QLabel("One frame"), QLabel("Reference")
        pictures = QGridLayout()
        for col, (pic, caption) in enumerate(((self.frame_label, self.frame_caption),
                                              (self.reference_label, self.reference_caption))):
            pic.setFixedSize(CROP + 2, CROP + 2)
            pic.setAlignment(Qt.AlignmentFlag.AlignCenter)
            caption.setFixedWidth(CROP + 2)
            caption.setWordWrap(True)
            pictures.addWidget(pic, 0, col)
            pictures.addWidget(caption, 1, col, Qt.AlignmentFlag.AlignTop)
        self.left_out = QListWidget()
        self.left_out.setWordWrap(True)
        self.left_out_label = QLabel("Left out")
        left_out = QVBoxLayout()
        left_out.addWidget(self.left_out_label)
        left_out.addWidget(self.left_out, 1)
        middle = QHBoxLayout()
        middle.addLayout(pictures)
        middle.addLayout(left_out, 1)
        self.pairs_label = QLabel()
        self.pairs_label.setWordWrap(True)
        self.pairs_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box = QGroupBox("Result")
        lay = QVBoxLayout(box)
        lay.addWidget(self.scenes)
        lay.addLayout(middle, 1)
        lay.addWidget(self.pairs_label)
        return box

    def folder_list(self) -> list[str]:
        return self.bursts.folders()

    # -- the calibration ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None

    def start(self) -> WorkerThread | None:
        if self.running or not self.folder_list():
            return None
        self._show(None)
        folders, out = self.folder_list(), new_folder()
        job = WorkerThread(lambda: calibration_work(folders, out), "calibration", self)
        job.progress.connect(self._on_progress)
        job.succeeded.connect(self._show)
        job.cancelled.connect(self._cancelled)
        job.failed.connect(self._failed)
        job.finished.connect(lambda: self._finished(job))
        self.job, self.out = job, out
        self.status.setText("Starting...")
        job.start()
        self._update()
        return job

    def cancel(self) -> None:
        if self.running:
            self.job.cancel()
            self.status.setText("Cancelling...")

    def stop(self, timeout_ms: int = 30000) -> None:
        """Cancel and wait (a frame at most): the window is closing."""
        if self.job is not None:
            self.job.stop(timeout_ms)

    def _on_progress(self, p: Progress) -> None:
        self.bar.setRange(0, 0 if p.fraction is None else 100)
        if p.fraction is not None:
            self.bar.setValue(round(p.fraction * 100))
        self.status.setText(p.message)

    def _cancelled(self) -> None:
        if self.out is not None:  # Cancel came as the last frame ended: its folder goes too
            shutil.rmtree(self.out, ignore_errors=True)
        self.status.setText("Cancelled: nothing was written.")

    def _failed(self, message: str, tb: str) -> None:
        self.status.setText(f"Calibration failed: {message}")
        self.window_.show_error("Calibrate to My Camera", message)

    def _finished(self, job: WorkerThread) -> None:
        job.release()
        if self.job is job:
            self.job = None
        self.bar.setRange(0, 100)
        self._update()

    # -- the result ---------------------------------------------------------------------------
    def _show(self, result: Calibration | None) -> None:
        self.result = result
        self.scenes.clear()
        self.left_out.clear()
        for lbl in (self.frame_label, self.reference_label):
            lbl.clear()
        self.pairs_label.clear()
        if result is not None:
            m = result.manifest
            for s in m["scenes"]:
                self.scenes.addItem(f"{s['name']}: {scene_summary(s)}")
            frames = [f"{s['name']} / {frame}: {why}" for s in m["scenes"] for frame, why in s["left_out"]]
            self.left_out.addItems([f"{Path(what).name}: {why}" for what, why in result.passed_over] + frames
                                   + [f"{name}: no pairs: {why}" for name, why in m["left_out"].items()])
            iso = m.get("iso")
            about = f"camera {m.get('camera') or 'unknown'}" + (f", ISO {iso[0]}-{iso[1]}" if iso else "")
            self.pairs_label.setText(f"Pairs written to {result.folder} ({about}); Train fine-tunes {BASE} on them."
                                     if result.folder else "No burst gave pairs: see what was left out.")
            self.status.setText(f"Done: {len(m['scenes'])} scene(s) calibrated.")
            if m["scenes"]:
                self.scenes.setCurrentRow(0)
        self.left_out.setVisible(self.left_out.count() > 0)
        self.left_out_label.setVisible(self.left_out.count() > 0)
        self._update()

    def _show_scene(self, row: int) -> None:
        if self.result is None or row < 0:
            return
        scene = self.result.manifest["scenes"][row]
        for lbl, crop in zip((self.frame_label, self.reference_label), self.result.crops[scene["name"]]):
            lbl.setPixmap(QPixmap.fromImage(array_to_qimage(crop)))
        before, after = scene_noise(scene)
        self.frame_caption.setText(f"{scene['frames'][0]} at 100 %: noise {before:.2f} of 255")
        self.reference_caption.setText(f"Reference, the mean of {len(scene['frames'])} frames: noise {after:.2f}")

    def _update(self) -> None:
        running = self.running
        self.calibrate_button.setEnabled(not running and bool(self.folder_list()))
        self.cancel_button.setEnabled(running)
        for w in (self.add_button, self.remove_button):
            w.setEnabled(not running)
        self.train_button.setEnabled(not running and self.result is not None and self.result.folder is not None)

    # -- on to training ---------------------------------------------------------------------
    def train(self):
        """The training dialog, set to fine-tune BASE on the pairs (unless it holds a run)."""
        if self.result is None or self.result.folder is None:
            return None
        training = self.window_.open_training_dialog()
        if training.running or training.busy or training.trainer is not None:
            self.window_.show_error("Train on the pairs", "The training dialog holds a run of its own: keep or "
                                    "discard it there, then press Train here again.")
            return training
        s = training.setup
        s.task.setCurrentIndex(s.task.findData(PAIRS_TASK))
        s.self_supervised.setChecked(False)
        s.start.setCurrentIndex(max(0, s.start.findData(BASE)))
        s.photos.set_folders([str(self.result.folder)])
        s.refresh_preview()
        training.name.setText(model_name(self.result.manifest.get("camera")))
        return training

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if obj is self.window_ and event.type() == QEvent.Type.Close:
            self.stop()
        return super().eventFilter(obj, event)


def open_calibration_dialog(window) -> CalibrationDialog:
    """Models > Calibrate to My Camera: one dialog per window, kept (with its result) while it lives."""
    dialog = getattr(window, "calibration_dialog", None)
    if dialog is None:
        dialog = window.calibration_dialog = CalibrationDialog(window)
    dialog.show()
    dialog.raise_()
    return dialog
