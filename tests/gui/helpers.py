"""What the GUI tests do as a user: answer dialogs, drag the mouse, press keys, wait."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QPoint, QPointF, QSettings, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from desktop_app.core.operations import Operation, registry
from desktop_app.core.work import Progress
from desktop_app.gui.main_window import MainWindow
from desktop_app.gui.settings import Settings

UNSAVED = "Unsaved changes"
OVERWRITE = "Overwrite the original?"
RECOVER = "Recover unsaved edits?"


@dataclass
class Dialogs:
    """Stands in for the user at every dialog of one window.

    `answers` maps a question's title to the label of the button to press; a question with
    no answer is dismissed (-1), as when the user closes the box.
    """

    answers: dict[str, str] = field(default_factory=dict)
    questions: list[tuple[str, str, list[str]]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    int_requests: list[tuple[str, str]] = field(default_factory=list)
    int_answer: int | None = 92
    save_paths: list[str] = field(default_factory=list)  # answered in order; "" = cancelled
    open_path: str = ""
    texts: list[str | None] = field(default_factory=list)  # answered in order; None = cancelled
    folder_paths: list[str] = field(default_factory=list)  # answered in order; "" = cancelled

    def install(self, window: MainWindow) -> None:
        window.show_error = self.show_error
        window.ask = self.ask
        window.ask_int = self.ask_int
        window.ask_save_path = self.ask_save_path
        window.ask_open_path = lambda *filter_and_title: self.open_path
        window.ask_text = self.ask_text
        window.ask_folder_path = self.ask_folder_path

    def show_error(self, title: str, message: str) -> None:
        self.errors.append((title, message))

    def ask(self, title: str, text: str, buttons: list[str], default: int = 0) -> int:
        self.questions.append((title, text, list(buttons)))
        label = self.answers.get(title)
        return buttons.index(label) if label is not None else -1

    def ask_int(self, title: str, label: str, value: int, lo: int, hi: int) -> int | None:
        self.int_requests.append((title, label))
        return self.int_answer

    def ask_text(self, title: str, label: str, value: str = "") -> str | None:
        assert self.texts, f"unexpected text question {title!r}"
        return self.texts.pop(0)

    def ask_save_path(self, suggestion: str, filt: str = "") -> str:
        assert self.save_paths, f"unexpected save dialog (suggested {suggestion})"
        return self.save_paths.pop(0)

    def ask_folder_path(self) -> str:
        assert self.folder_paths, "unexpected folder dialog"
        return self.folder_paths.pop(0)

    def asked(self, title: str) -> int:
        return sum(1 for t, _, _ in self.questions if t == title)

    @property
    def error_text(self) -> str:
        return "\n".join(f"{t}: {m}" for t, m in self.errors)


def settings_at(path: Path) -> Settings:
    """A settings store in one ini file: windows given the same path share it."""
    return Settings(QSettings(str(path), QSettings.Format.IniFormat))


def wait_idle(qtbot, window: MainWindow, timeout: float = 20.0) -> None:
    """Wait until the running job has ended and its result (or error) has been handled."""
    qtbot.waitUntil(lambda: window.job is None, timeout=int(timeout * 1000))


def open_and_wait(qtbot, window: MainWindow, path) -> None:
    window.open_path(str(path))
    wait_idle(qtbot, window)


# --- mouse and keyboard ------------------------------------------------------------------------


def screen_point(canvas, x: float, y: float) -> QPoint:
    """The canvas pixel that shows image point (x, y)."""
    return canvas.to_screen(QPointF(x, y)).toPoint()


def send_mouse(widget, kind, pos: QPoint, button=Qt.MouseButton.NoButton,
               buttons=Qt.MouseButton.NoButton, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """A mouse event as the platform delivers it, including the buttons held during a drag
    (QTest.mouseMove does not carry them)."""
    event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def drag(widget, points: list[QPoint], button=Qt.MouseButton.LeftButton, steps: int = 8) -> None:
    """Press at the first point, move through the others in small steps, release at the last."""
    E = QMouseEvent.Type
    send_mouse(widget, E.MouseButtonPress, points[0], button, button)
    for a, b in zip(points, points[1:]):
        for i in range(1, steps + 1):
            p = QPoint(round(a.x() + (b.x() - a.x()) * i / steps), round(a.y() + (b.y() - a.y()) * i / steps))
            send_mouse(widget, E.MouseMove, p, Qt.MouseButton.NoButton, button)
    send_mouse(widget, E.MouseButtonRelease, points[-1], button, Qt.MouseButton.NoButton)


def paint_stroke(window: MainWindow, image_points: list[tuple[float, float]]) -> None:
    """Drag the brush through points given in image pixels."""
    canvas = window.canvas
    drag(canvas, [screen_point(canvas, x, y) for x, y in image_points])


# --- operations --------------------------------------------------------------------------------


def _invert(inp):
    yield Progress(0.5, "inverting")
    return 1.0 - inp.image


INVERT = Operation(task="test", method="invert", title="Invert colours", category="Testing",
                   description="Every pixel becomes its complement (a test operation).", run=_invert)


def panel_keys(panel) -> set[str]:
    keys = set()
    for i in range(panel.tree.topLevelItemCount()):
        parent = panel.tree.topLevelItem(i)
        for j in range(parent.childCount()):
            keys.add(parent.child(j).data(0, 256))
    return keys


def start_from_panel(qtbot, window: MainWindow, key: str, **params) -> None:
    """Choose the operation in the panel, fill in its form and press Run."""
    panel = window.ops_panel
    if key not in panel_keys(panel):
        panel.populate()  # registered after the window was made
    panel.select(key)
    for name, value in params.items():
        w = panel.form.widgets[name]
        if hasattr(w, "setCurrentText"):
            w.setCurrentText(str(value))
        else:
            w.setValue(value)
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)


def run_from_panel(qtbot, window: MainWindow, key: str, timeout: float = 20.0, **params) -> None:
    start_from_panel(qtbot, window, key, **params)
    wait_idle(qtbot, window, timeout)


def register_for_test(op: Operation, request) -> Operation:
    registry.all_operations()  # the built-in ones first, as in the app
    registry.register(op)
    request.addfinalizer(lambda: registry.unregister(op.key))
    return op


class GapRecorder:
    """Ticks every 20 ms on the GUI thread and records how late each tick came, counting only
    the gaps that end while `while_()` is true."""

    def __init__(self, while_: Callable[[], bool] = lambda: True) -> None:
        self.gaps: list[float] = []
        self.while_ = while_
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(20)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.while_():
            self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    @property
    def worst(self) -> float:
        return max(self.gaps, default=0.0)
