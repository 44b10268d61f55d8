"""Starting the GUI."""

from __future__ import annotations

import logging
import logging.handlers
import sys

from desktop_app import APP_NAME, ORG_NAME, __version__
from desktop_app.core.paths import app_data_dir


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
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from desktop_app.gui.main_window import MainWindow

    setup_logging()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName(ORG_NAME)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    from desktop_app.gui.theme import apply_dark_theme

    apply_dark_theme(app)
    window = MainWindow()
    if args.device:
        window.settings.set("device", args.device)
        window.apply_settings()
    window.show()
    if window.offer_recovery() is None and args.image:
        window.open_path(args.image)
    return app.exec()
