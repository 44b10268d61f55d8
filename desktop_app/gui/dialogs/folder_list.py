"""A list of folders the user adds (through the window's folder question) and removes: the
training dialog's photos and the calibration dialog's bursts."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QPushButton, QVBoxLayout, QWidget


class FolderList(QWidget):
    """The list, with Add Folder... and Remove beside it. `changed` fires after Add or Remove
    (and `add_folders`), even when the list stayed the same: whoever reads the folders reads
    them again."""

    changed = Signal()

    def __init__(self, ask_folder: Callable[[], str], height: int = 80, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ask_folder = ask_folder
        self.list = QListWidget()
        self.list.setMaximumHeight(height)
        self.add_button = QPushButton("Add Folder...")
        self.remove_button = QPushButton("Remove")
        self.add_button.clicked.connect(self.choose)
        self.remove_button.clicked.connect(self.remove_selected)
        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)

    def choose(self) -> None:
        path = self._ask_folder()
        if path:
            self.add_folders([path])

    def add_folders(self, paths: list[str]) -> None:
        have = set(self.folders())
        self.list.addItems([p for p in dict.fromkeys(paths) if p not in have])
        self.changed.emit()

    def remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))
        self.changed.emit()

    def set_folders(self, paths: list[str]) -> None:
        """The list as given, without `changed` (the caller reads it when it is ready)."""
        self.list.clear()
        self.list.addItems(list(paths))

    def folders(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]
