"""The Generate panel: new pictures from a generator model (shipped, or trained by the user),
shown as a grid; an interpolation strip between two of them; and the two ways to use one:
as a new document, or pasted into the masked region of the photo.

Sample i of seed s is always the same picture (the core draws it from (s, i) alone), so a
grid can be made again and its samples interpolated later. Torch comes in with the model
list when the panel first comes into view, and the models load in the worker: the window
starts without it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QHBoxLayout,
                               QLabel, QListView, QListWidget, QListWidgetItem, QProgressBar, QPushButton, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from desktop_app.core.work import Progress
from desktop_app.gui.icons import icon
from desktop_app.gui.qimage import array_to_qimage
from desktop_app.gui.theme import rest_progress

THUMB = 64  # grid and strip icons, pixels
STRIP_FRAMES = 8
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class SampleRun:
    """What made the grid: enough to make any of its samples again."""

    model_id: str
    seed: int
    class_index: int | None  # None: drawn per sample (or an unconditional model)
    truncation: float


def thumbnail(picture: np.ndarray, side: int = THUMB) -> QImage:
    """A square icon of a sample; small samples are enlarged without blurring them."""
    h = picture.shape[0]
    interpolation = cv2.INTER_AREA if h > side else cv2.INTER_NEAREST if 2 * h <= side else cv2.INTER_CUBIC
    return array_to_qimage(np.clip(cv2.resize(picture, (side, side), interpolation=interpolation), 0, 1))


def _load_generator(model_id: str, device: str):
    from desktop_app.core.models.manager import MANAGER

    return MANAGER.get(model_id, device).module


def _icon_list(name: str, wrap: bool) -> QListWidget:
    view = QListWidget()
    view.setObjectName(name)
    view.setViewMode(QListView.ViewMode.IconMode)
    view.setMovement(QListView.Movement.Static)
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setIconSize(QSize(THUMB, THUMB))
    view.setGridSize(QSize(THUMB + 6, THUMB + 6))
    view.setUniformItemSizes(True)
    view.setWrapping(wrap)
    view.setFlow(QListView.Flow.LeftToRight)
    return view


class GeneratePanel(QWidget):
    openRequested = Signal(object, str)  # picture (H x W x 3 float32), what it is
    pasteRequested = Signal(object, str)

    def __init__(self, start_job: Callable, device: Callable[[], str] = lambda: "auto",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._start_job, self._device = start_job, device
        self._manifests: dict = {}
        self._job = None
        self.run: SampleRun | None = None
        self.samples = np.zeros((0, 1, 1, 3), np.float32)
        self.frames = np.zeros((0, 1, 1, 3), np.float32)

        self.model_box = QComboBox()
        self.model_box.setObjectName("generator")
        self.class_box = QComboBox()
        self.class_box.setObjectName("generator_class")
        self.class_box.setToolTip("The kind of picture: the sub-folder the model was trained from")
        self.seed = QSpinBox()
        self.seed.setObjectName("generator_seed")
        self.seed.setRange(0, MAX_SEED)
        self.seed.setToolTip("The same seed and settings give the same pictures")
        dice = QToolButton()
        dice.setIcon(icon("fa5s.dice"))
        dice.setToolTip("A random seed")
        dice.clicked.connect(lambda: self.seed.setValue(random.randint(0, MAX_SEED)))
        seed_row = QHBoxLayout()
        seed_row.setContentsMargins(0, 0, 0, 0)
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(dice)
        self.count = QSpinBox()
        self.count.setObjectName("generator_count")
        self.count.setRange(1, 64)
        self.count.setValue(16)
        self.count.setToolTip("How many pictures; the first ones are the same whatever the count")
        self.truncation = QDoubleSpinBox()
        self.truncation.setObjectName("generator_truncation")
        self.truncation.setRange(0.1, 2.0)
        self.truncation.setSingleStep(0.1)
        self.truncation.setValue(1.0)
        self.truncation.setToolTip("Below 1: more typical, less varied pictures; above 1: wilder ones")
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setStyleSheet("color: palette(mid);")

        self.form = QFormLayout()
        self.form.addRow("Generator", self.model_box)
        self.form.addRow("", self.info)
        self.form.addRow("Class", self.class_box)
        self.form.addRow("Seed", seed_row)
        self.form.addRow("Count", self.count)
        self.form.addRow("Truncation", self.truncation)

        self.generate_button = QPushButton(icon("fa5s.magic"), "Generate")
        self.generate_button.setObjectName("generate")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setIcon(icon("fa5s.stop"))
        self.cancel_button.setToolTip("Cancel (Esc)")
        self.cancel_button.clicked.connect(self.cancel)
        busy_row = QHBoxLayout()
        busy_row.setContentsMargins(0, 0, 0, 0)
        busy_row.addWidget(self.progress, 1)
        busy_row.addWidget(self.cancel_button)
        self.busy_box = QWidget()
        self.busy_box.setLayout(busy_row)
        self.busy_box.hide()

        self.grid = _icon_list("generated", wrap=True)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        # one row at least: the grid scrolls, the buttons under it stay in view (the panel is not
        # in a scroll area of its own: in a first-start dock they were below its edge)
        self.grid.setMinimumHeight(THUMB + 6 + 8)
        self.hint = QLabel("Pick a picture to use it; Ctrl+click a second one to interpolate.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: palette(mid);")
        self.strip = _icon_list("interpolation", wrap=False)
        self.strip.setFixedHeight(THUMB + 6 + self.strip.horizontalScrollBar().sizeHint().height() + 4)
        self.strip.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.strip.hide()

        self.interpolate_button = QPushButton(icon("fa5s.exchange-alt"), "Interpolate")
        self.interpolate_button.setObjectName("interpolate")
        self.interpolate_button.setToolTip(f"{STRIP_FRAMES} steps from one chosen picture to the other "
                                           "(a class-conditional model keeps the first one's class)")
        self.open_button = QPushButton(icon("fa5s.file-image"), "Open as new")
        self.open_button.setObjectName("generated_open")
        self.open_button.setToolTip("Open the chosen picture as a new, unsaved document")
        self.paste_button = QPushButton(icon("fa5s.paste"), "Paste into mask")
        self.paste_button.setObjectName("generated_paste")
        self.paste_button.setToolTip("Stretch the chosen picture over the masked region of the photo, "
                                     "blended with the soft mask edge (one undo step)")
        use = QGridLayout()
        use.setContentsMargins(0, 0, 0, 0)
        use.addWidget(self.interpolate_button, 0, 0, 1, 2)
        use.addWidget(self.open_button, 1, 0)
        use.addWidget(self.paste_button, 1, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.generate_button)
        layout.addWidget(self.busy_box)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.strip)
        layout.addWidget(self.hint)
        layout.addLayout(use)

        self.model_box.currentIndexChanged.connect(self._on_model)
        self.generate_button.clicked.connect(self.generate)
        self.interpolate_button.clicked.connect(self.interpolate)
        self.open_button.clicked.connect(lambda: self._emit_chosen(self.openRequested))
        self.paste_button.clicked.connect(lambda: self._emit_chosen(self.pasteRequested))
        self.grid.itemSelectionChanged.connect(lambda: self._selection_moved(self.grid, self.strip))
        self.strip.itemSelectionChanged.connect(lambda: self._selection_moved(self.strip, self.grid))
        self._on_model()

    # -- the model list ----------------------------------------------------------------------
    def refresh_models(self) -> None:
        """List the installed generators again (a newly trained one appears), keeping the
        choice. The main window calls it whenever the panel's tab comes into view."""
        from desktop_app.core.models.catalog import DEFAULT_GENERATOR, models_for  # no torch: reads JSON only

        wanted = self.model_box.currentData() or DEFAULT_GENERATOR
        entries = models_for("generate")
        self._manifests = {e.manifest.id: e.manifest for e in entries}
        self.model_box.blockSignals(True)
        self.model_box.clear()
        for e in entries:
            m = e.manifest
            self.model_box.addItem(m.title if e.shipped else f"{m.title} (yours)", m.id)
            self.model_box.setItemData(self.model_box.count() - 1, m.description or m.title,
                                       Qt.ItemDataRole.ToolTipRole)
        if not entries:
            self.model_box.addItem("No generator installed", None)
        self.model_box.setCurrentIndex(max(0, self.model_box.findData(wanted)))
        self.model_box.blockSignals(False)
        self._on_model()

    def _on_model(self) -> None:
        manifest = self._manifests.get(self.model_box.currentData())
        hp = manifest.hparams if manifest is not None else {}
        classes = int(hp.get("num_classes", 0) or 0)
        names = list(hp.get("classes") or []) or [f"class {i}" for i in range(classes)]
        previous = self.class_box.currentText()
        self.class_box.clear()
        self.class_box.addItem("Any (drawn per picture)", None)
        for i, name in enumerate(names):
            self.class_box.addItem(name, i)
        self.class_box.setCurrentIndex(max(0, self.class_box.findText(previous)))  # kept when listed again
        self.form.setRowVisible(self.class_box, classes > 0)
        if manifest is None:
            self.info.setText("None installed yet: train one with\ndesktop-app train --task generate-gan")
        else:
            kind = {"gan": "GAN", "vae": "VAE"}.get(manifest.architecture, manifest.architecture)
            size = hp.get("size", 64)
            self.info.setText(f"{kind}, {size} x {size} px" + (f", {classes} classes" if classes else ""))
        self._update_buttons()

    # -- work --------------------------------------------------------------------------------
    def generate(self):
        model_id = self.model_box.currentData()
        if model_id is None:
            return None
        run = SampleRun(model_id, self.seed.value(), self.class_box.currentData() if self.class_box.count() > 1
                        else None, round(self.truncation.value(), 2))
        count, device = self.count.value(), self._device()

        def work():
            from desktop_app.core.generation import sample_work

            yield Progress(None, "Loading the generator")
            model = _load_generator(run.model_id, device)
            images = yield from sample_work(model, count, run.seed, run.class_index, run.truncation, chunk=8)
            yield Progress(None, "Making thumbnails")
            return images, [thumbnail(im) for im in images]

        def done(result) -> None:
            images, thumbs = result
            self.run, self.samples = run, images
            self._fill(self.grid, thumbs, lambda i: f"Picture {i + 1} of seed {run.seed}")
            self.frames = self.frames[:0]
            self.strip.clear()
            self.strip.hide()
            self._update_buttons()

        return self._start(f"Generate {count}", work, done)

    def interpolate(self):
        rows = self._grid_rows()
        if self.run is None or len(rows) != 2:
            return None
        run, (a, b) = self.run, rows
        device = self._device()

        def work():
            from desktop_app.core.generation import interpolate

            yield Progress(None, "Loading the generator")
            model = _load_generator(run.model_id, device)
            yield Progress(None, f"Interpolating from picture {a + 1} to {b + 1}")
            frames = interpolate(model, run.seed, run.seed, STRIP_FRAMES, run.class_index, run.truncation,
                                 index_a=a, index_b=b)
            return frames, [thumbnail(f) for f in frames]

        def done(result) -> None:
            self.frames, thumbs = result
            self._fill(self.strip, thumbs, lambda i: f"Step {i + 1} of {STRIP_FRAMES}: picture {a + 1} to {b + 1}")
            self.strip.show()
            self._update_buttons()

        return self._start("Interpolate", work, done)

    def _start(self, title: str, work, done):
        job = self._start_job(title, work, done, on_end=self._ended)
        if job is not None:
            self._job = job
            job.progress.connect(self._show_progress)
            self.progress.setRange(0, 0)
            self.busy_box.show()
            self._update_buttons()
        return job

    def _show_progress(self, p: Progress) -> None:
        if p.fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(p.fraction * 1000))
        self.progress.setToolTip(p.message)

    def _ended(self) -> None:
        self._job = None
        rest_progress(self.progress)
        self.busy_box.hide()
        self._update_buttons()

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    # -- the grid, the strip, and the chosen picture -------------------------------------------
    @staticmethod
    def _fill(view: QListWidget, thumbs: list[QImage], tip: Callable[[int], str]) -> None:
        view.clear()
        for i, thumb in enumerate(thumbs):
            item = QListWidgetItem(QIcon(QPixmap.fromImage(thumb)), "")
            item.setToolTip(tip(i))
            view.addItem(item)

    def _grid_rows(self) -> list[int]:
        return sorted(self.grid.row(item) for item in self.grid.selectedItems())

    def _selection_moved(self, here: QListWidget, other: QListWidget) -> None:
        """One picture is chosen at a time: choosing in the strip unselects the grid and back."""
        if here.selectedItems():
            other.blockSignals(True)
            other.clearSelection()
            other.blockSignals(False)
        self._update_buttons()

    def chosen(self) -> tuple[np.ndarray, str] | None:
        """The picture the buttons act on, and what it is."""
        frames = self.strip.selectedItems()
        if frames:
            i = self.strip.row(frames[0])
            return self.frames[i], f"interpolation step {i + 1}"
        rows = self._grid_rows()
        if not rows or self.run is None:
            return None
        current = self.grid.currentRow()
        i = current if current in rows else rows[0]
        return self.samples[i], f"picture {i + 1} of seed {self.run.seed}"

    def _emit_chosen(self, signal) -> None:
        picked = self.chosen()
        if picked is not None:
            signal.emit(np.array(picked[0], np.float32), picked[1])

    def _update_buttons(self) -> None:
        idle = self._job is None
        self.generate_button.setEnabled(idle and self.model_box.currentData() is not None)
        self.interpolate_button.setEnabled(idle and self.run is not None and len(self._grid_rows()) == 2)
        usable = self.chosen() is not None
        self.open_button.setEnabled(usable)
        self.paste_button.setEnabled(idle and usable)
