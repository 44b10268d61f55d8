"""Every question and message box the main window shows, in one place: the tests and the
self-test replace these methods on a window to answer for the user."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from desktop_app.core.imaging.io import OPEN_FILTER, SAVE_FILTER

log = logging.getLogger(__name__)


class Prompts:
    """Mixed into the main window (it needs `self.settings`)."""

    def show_error(self, title: str, message: str) -> None:
        log.warning("%s: %s", title, message)
        QMessageBox.warning(self, title, message)

    def ask(self, title: str, text: str, buttons: list[str], default: int = 0) -> int:
        """Ask a question; returns the index of the chosen button (or -1 when dismissed)."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=self)
        made = [box.addButton(b, QMessageBox.ButtonRole.AcceptRole if i == default else QMessageBox.ButtonRole.ActionRole)
                for i, b in enumerate(buttons)]
        box.setDefaultButton(made[default])
        box.exec()
        clicked = box.clickedButton()
        return made.index(clicked) if clicked in made else -1

    def ask_int(self, title: str, label: str, value: int, lo: int, hi: int) -> int | None:
        v, ok = QInputDialog.getInt(self, title, label, value, lo, hi)
        return v if ok else None

    def ask_open_path(self, filt: str = OPEN_FILTER, title: str = "Open photo") -> str:
        path, _ = QFileDialog.getOpenFileName(self, title, self.settings.get("last_dir", str), filt)
        return path

    def ask_text(self, title: str, label: str, value: str = "") -> str | None:
        text, ok = QInputDialog.getText(self, title, label, text=value)
        return text if ok else None

    def ask_folder_path(self) -> str:
        return QFileDialog.getExistingDirectory(self, "Folder of photos", self.settings.get("last_dir", str))

    def ask_save_path(self, suggestion: str, filt: str = SAVE_FILTER) -> str:
        # the suggested file's type chosen in the list, so that its folder's files of that type show
        path, chosen = QFileDialog.getSaveFileName(self, "Save as", suggestion, filt, filter_listing(filt, suggestion))
        if path and not Path(path).suffix:
            ext = chosen.split("*")[1].split()[0].rstrip(")") if "*" in chosen else ".png"
            path += ext
        return path


def filter_listing(filters: str, path: str) -> str:
    """The entry of a file dialog's `filters` ("PNG (*.png);;TIFF (*.tif *.tiff)") that lists
    `path`'s extension, or "" (the dialog's first)."""
    ext = Path(path).suffix.lower()
    return next((entry for entry in filters.split(";;")
                 if ext and f"*{ext}" in entry.rpartition("(")[2].rstrip(")").split()), "")
