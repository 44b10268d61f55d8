"""The training dialog's run monitor: the loss and validation curves, a held-out photo before
and after (tasks that send one), the status line and Start / Pause / Cancel. It only draws
what the trainer's progress events say; the dialog owns the run."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop_app.core.work import Progress
from desktop_app.gui.qimage import array_to_qimage


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


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600} h {seconds // 60 % 60:02d} min"


class RunMonitor(QWidget):
    """Curves, sample, status and the run buttons. `watch(trainer)` titles the validation
    curve with the run's metric (in plain words) and draws the history a resumed run has."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = CurvePlot("training loss", "#d9822b")
        self.metric_plot = CurvePlot("validation score", "#2b83d9")  # titled by the run's metric
        self.metric = None  # the run's Metric descriptor, once a trainer is watched
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.metric_plot)
        self.sample_labels = (QLabel(), QLabel())
        for lbl, tip in zip(self.sample_labels, ("Validation photo, noisy", "Validation photo, denoised")):
            lbl.setFixedSize(128, 128)
            lbl.setToolTip(tip)
            lbl.setVisible(False)
            plots.addWidget(lbl)
        self.status = QLabel("")
        self.status.setObjectName("training_status")
        self.status.setWordWrap(True)
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.cancel_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(plots)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

    def clear(self) -> None:
        self.loss_plot.clear()
        self.metric_plot.clear()

    def add_score(self, step: int, value: float) -> None:
        """A validation score, drawn as the metric shows it (an SWD positive, lower closer)."""
        self.metric_plot.add(step, value * (self.metric.shown_as if self.metric else 1.0))

    def watch(self, trainer) -> None:
        self.metric = trainer.spec.metric
        title = "validation " + self.metric.title
        if self.metric.explanation != "higher is better":
            title += f" ({self.metric.explanation})"
        self.metric_plot.title = title
        if not self.metric_plot.points:
            for h in trainer.history:
                if trainer.metric in h:
                    self.add_score(h["step"], h[trainer.metric])
        self.metric_plot.update()

    def show_progress(self, p: Progress, trainer) -> None:
        d = p.data
        if d.get("paused"):
            self.status.setText("Paused at step " + str(trainer.step if trainer else 0))
        elif d.get("validation"):
            metric = trainer.metric if trainer else "val_psnr"
            if metric in d:
                self.add_score(d["step"], d[metric])
            if "sample" in d:
                self.show_sample(*d["sample"])
        elif "loss" in d:
            self.loss_plot.add(d["step"], d["loss"])
            # bf16 steps are worth saying: they explain the pace, and --precision f32 turns them off
            arithmetic = " in bf16" if getattr(trainer, "amp_dtype", None) is not None else ""
            self.status.setText(f"step {d['step']}  -  {d['steps_per_s']:.1f} steps/s{arithmetic}  -  "
                                f"{duration(d['seconds_left'])} left")
        elif p.message:
            self.status.setText(p.message)

    def show_sample(self, before: np.ndarray, after: np.ndarray) -> None:
        for lbl, img in zip(self.sample_labels, (before, after)):
            pix = QPixmap.fromImage(array_to_qimage(np.ascontiguousarray(img, dtype=np.float32)))
            lbl.setPixmap(pix.scaled(lbl.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation))
            lbl.setVisible(True)

    def set_buttons(self, running: bool, paused: bool, can_start: bool, resumable: bool) -> None:
        self.start_button.setEnabled(can_start)
        self.start_button.setText("Continue" if resumable else "Start")
        self.pause_button.setEnabled(running)
        self.pause_button.setText("Resume" if running and paused else "Pause")
        self.cancel_button.setEnabled(running)
