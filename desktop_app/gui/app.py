"""Starting the GUI."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import time

from desktop_app import APP_NAME, ORG_NAME, __version__
from desktop_app.core.paths import app_data_dir, resources_dir

DESKTOP_FILE = "photoretouch"  # the .desktop file's name, which Wayland and docks match windows by
# `packaging/startup_time.py` sets this: the app appends the wall-clock time at which the
# window had been shown and its first events handled.
STARTUP_REPORT_ENV = "DESKTOP_APP_STARTUP_REPORT"


def setup_logging() -> None:
    folder = app_data_dir() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(folder / "app.log", maxBytes=2_000_000, backupCount=3)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def run_app(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="desktop-app", description="Photo retouching with local models. "
                                     "Subcommands (ops, denoise, inpaint, train) run without a window.")
    parser.add_argument("image", nargs="?", help="photo to open")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda or mps")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="open the bundled sample offscreen, run the main operations on it, exit 0 if all pass")
    args = parser.parse_args(argv)
    if args.self_test:
        from desktop_app.gui.self_test import run_self_test

        return run_self_test()

    from PySide6.QtWidgets import QApplication

    from desktop_app.gui.main_window import MainWindow

    setup_logging()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName(ORG_NAME)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(DESKTOP_FILE)
    app.setWindowIcon(app_icon())
    from desktop_app.gui.theme import apply_dark_theme

    apply_dark_theme(app)
    window = MainWindow()
    if args.device:
        window.settings.set("device", args.device)
        window.apply_settings()
    window.show()
    report = os.environ.get(STARTUP_REPORT_ENV)
    if report:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, lambda: _append_line(report, f"{time.time():.4f}"))
    if window.offer_recovery() is None and args.image:
        window.open_path(args.image)
    return app.exec()


def app_icon():
    from PySide6.QtGui import QIcon

    icon = QIcon()
    for path in sorted((resources_dir() / "icons").glob("photoretouch-*.png")):
        icon.addFile(str(path))
    return icon


def _append_line(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
