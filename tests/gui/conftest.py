"""Fixtures that drive the real main window on the offscreen platform.

Every window gets its own settings file (the session-wide XDG_CONFIG_HOME would otherwise
carry settings from one test to the next) and its dialogs answered by a `Dialogs` script, so
no modal dialog can block a test and every question and error the user would have seen is
recorded for the test to check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.core.imaging.io import save_image
from desktop_app.gui.main_window import MainWindow
from desktop_app.gui.settings import Settings
from tests.conftest import textured_image
from tests.gui.helpers import INVERT, UNSAVED, Dialogs, open_and_wait, register_for_test, settings_at

BIG_SIZE = (2000, 3000)  # height, width: a 6-megapixel photo


def _finish_jobs(window: MainWindow) -> None:
    """Before a window is closed at teardown: no question may block, no thread may outlive it."""
    window.dialogs.answers[UNSAVED] = "Discard"
    if window.job is not None:
        window.job.stop(30000)
    if window.training_dialog is not None:
        window.training_dialog.stop_all()
    if window.library_dialog is not None:
        window.library_dialog.wait_for_job()
    if window.batch_dialog is not None:
        window.batch_dialog.stop()
    QApplication.processEvents()


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    return tmp_path / "settings" / "PhotoRetouch.ini"


@pytest.fixture
def make_window(qtbot, settings_path: Path) -> Callable[..., MainWindow]:
    """Makes shown main windows whose dialogs are scripted (`window.dialogs`)."""

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


@pytest.fixture
def opened(qtbot, window: MainWindow, photo_path: Path) -> MainWindow:
    """The main window with the small test photo (160 x 120) open."""
    open_and_wait(qtbot, window, photo_path)
    assert window.doc is not None, window.dialogs.error_text
    return window


@pytest.fixture
def invert_op(request):
    """A quick test operation that changes every pixel (registered for one test)."""
    return register_for_test(INVERT, request)


@pytest.fixture(scope="session")
def big_photo_path(tmp_path_factory) -> Path:
    """A noisy 3000 x 2000 photo, as BMP so that writing and reading it is quick."""
    h, w = BIG_SIZE
    small = textured_image(h // 8, w // 8, seed=3)
    image = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)
    rng = np.random.default_rng(5)
    image = np.clip(image + rng.normal(0, 0.1, image.shape).astype(np.float32), 0, 1)
    path = tmp_path_factory.mktemp("big") / "big.bmp"
    save_image(path, image)
    return path
