"""Fixtures for driving the real main window on the offscreen platform.

Every window gets its own settings file, and its dialogs are answered by a `Dialogs` script
instead of a person: no modal dialog can ever block a test, and every question and error
the user would have seen is recorded so a test can assert on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from desktop_app.core.imaging.io import save_image
from desktop_app.core.operations import Operation, registry
from desktop_app.core.tasks import Progress
from desktop_app.gui.main_window import MainWindow
from desktop_app.gui.settings import Settings
from tests.conftest import textured_image

BIG_SIZE = (2000, 3000)  # height, width: a 6-megapixel photo
UNSAVED = "Unsaved changes"


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

    def install(self, window: MainWindow) -> None:
        window.show_error = self.show_error
        window.ask = self.ask
        window.ask_int = self.ask_int
        window.ask_save_path = self.ask_save_path
        window.ask_open_path = lambda: self.open_path

    def show_error(self, title: str, message: str) -> None:
        self.errors.append((title, message))

    def ask(self, title: str, text: str, buttons: list[str], default: int = 0) -> int:
        self.questions.append((title, text, list(buttons)))
        label = self.answers.get(title)
        return buttons.index(label) if label is not None else -1

    def ask_int(self, title: str, label: str, value: int, lo: int, hi: int) -> int | None:
        self.int_requests.append((title, label))
        return self.int_answer

    def ask_save_path(self, suggestion: str, filt: str = "") -> str:
        assert self.save_paths, f"unexpected save dialog (suggested {suggestion})"
        return self.save_paths.pop(0)

    def asked(self, title: str) -> int:
        return sum(1 for t, _, _ in self.questions if t == title)

    @property
    def error_text(self) -> str:
        return "\n".join(f"{t}: {m}" for t, m in self.errors)


def settings_at(path: Path) -> Settings:
    """A settings store in one ini file: two windows given the same path share it."""
    return Settings(QSettings(str(path), QSettings.Format.IniFormat))


def _finish_jobs(window: MainWindow) -> None:
    """Before a window is closed at teardown: no question may block, no thread may outlive it."""
    window.dialogs.answers[UNSAVED] = "Discard"
    if window.job is not None:
        window.job.stop(30000)
    QApplication.processEvents()


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    return tmp_path / "settings" / "PhotoRetouch.ini"


@pytest.fixture
def make_window(qtbot, settings_path: Path) -> Callable[..., MainWindow]:
    """Creates shown main windows with scripted dialogs (`window.dialogs`)."""

    def make(settings: Settings | None = None) -> MainWindow:
        window = MainWindow(settings or settings_at(settings_path))
        window.dialogs = Dialogs()
        window.dialogs.install(window)
        qtbot.addWidget(window, before_close_func=_finish_jobs)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


@pytest.fixture
def window(make_window) -> MainWindow:
    return make_window()


@pytest.fixture
def dialogs(window: MainWindow) -> Dialogs:
    return window.dialogs


def wait_idle(qtbot, window: MainWindow, timeout: float = 20.0) -> None:
    """Wait until the running job has finished and its result (or error) has been handled."""
    qtbot.waitUntil(lambda: window.job is None, timeout=int(timeout * 1000))


@pytest.fixture
def opened(qtbot, window: MainWindow, photo_path: Path) -> MainWindow:
    """The main window with the small test photo open."""
    window.open_path(str(photo_path))
    wait_idle(qtbot, window)
    assert window.doc is not None, window.dialogs.error_text
    return window


@pytest.fixture(scope="session")
def big_photo_path(tmp_path_factory) -> Path:
    """A 3000 x 2000 noisy photo, as BMP so that writing and reading it is quick."""
    h, w = BIG_SIZE
    small = textured_image(h // 8, w // 8, seed=3)
    image = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)
    rng = np.random.default_rng(5)
    image = np.clip(image + rng.normal(0, 0.1, image.shape).astype(np.float32), 0, 1)
    path = tmp_path_factory.mktemp("big") / "big.bmp"
    save_image(path, image)
    return path


# --- mouse and keyboard ------------------------------------------------------------------------


def screen_point(canvas, x: float, y: float) -> QPoint:
    """The canvas pixel showing image point (x, y)."""
    return canvas.to_screen(QPointF(x, y)).toPoint()


def send_mouse(widget, kind, pos: QPoint, button=Qt.MouseButton.NoButton,
               buttons=Qt.MouseButton.NoButton, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """A mouse event as the platform delivers it, with the buttons held during a drag."""
    local = QPointF(pos)
    event = QMouseEvent(kind, local, QPointF(widget.mapToGlobal(pos)), button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def drag(widget, points: list[QPoint], button=Qt.MouseButton.LeftButton, steps: int = 8) -> None:
    """Press at the first point, move through the others (in small steps), release at the last."""
    E = QMouseEvent.Type
    send_mouse(widget, E.MouseButtonPress, points[0], button, button)
    for a, b in zip(points, points[1:]):
        for i in range(1, steps + 1):
            p = QPoint(round(a.x() + (b.x() - a.x()) * i / steps), round(a.y() + (b.y() - a.y()) * i / steps))
            send_mouse(widget, E.MouseMove, p, Qt.MouseButton.NoButton, button)
    send_mouse(widget, E.MouseButtonRelease, points[-1], button, Qt.MouseButton.NoButton)


def paint_stroke(window: MainWindow, image_points: list[tuple[float, float]]) -> None:
    """Paint through image points with the current brush, as a user drags the mouse."""
    canvas = window.canvas
    drag(canvas, [screen_point(canvas, x, y) for x, y in image_points])


def key(widget, k, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(widget, k, modifiers)


# --- temporary operations ----------------------------------------------------------------------


def _invert(inp):
    yield Progress(0.5, "inverting")
    return 1.0 - inp.image


INVERT = Operation(task="test", method="invert", title="Invert colours", category="Testing",
                   description="Every pixel becomes its complement (a test operation).", run=_invert)


@pytest.fixture
def temporary_operation() -> Iterator[Callable[[Operation], Operation]]:
    """Registers operations for one test and removes them afterwards."""
    registry.all_operations()  # the built-in ones first, as in the app
    added: list[str] = []

    def add(op: Operation) -> Operation:
        registry.register(op)
        added.append(op.key)
        return op

    yield add
    for k in added:
        registry.unregister(k)


@pytest.fixture
def invert_op(temporary_operation) -> Operation:
    return temporary_operation(INVERT)


def run_from_panel(qtbot, window: MainWindow, key_: str, **params) -> None:
    """Choose the operation in the panel, set its form, press Run and wait for the result."""
    panel = window.ops_panel
    if registry.get(key_) is not None and not _panel_has(panel, key_):
        panel.populate()
    panel.select(key_)
    for name, value in params.items():
        w = panel.form.widgets[name]
        w.setCurrentText(value) if hasattr(w, "setCurrentText") else w.setValue(value)
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)


def _panel_has(panel, key_: str) -> bool:
    try:
        panel.select(key_)
        return True
    except KeyError:
        return False


class GapRecorder:
    """Ticks every 20 ms on the GUI thread and records how late each tick came."""

    def __init__(self, while_: Callable[[], bool] = lambda: True) -> None:
        from PySide6.QtCore import QTimer

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
