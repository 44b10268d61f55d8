"""The history panel: every edit by name; clicking one goes back (or forward) to it."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from desktop_app.core.document import Document


class HistoryPanel(QWidget):
    positionRequested = Signal(int)  # number of steps that should be done

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName("history")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        self._updating = False
        self.list.currentRowChanged.connect(self._on_row)

    def refresh(self, doc: Document | None) -> None:
        self._updating = True
        self.list.clear()
        if doc is not None:
            h = doc.history
            first = "Opened" if not h.dropped else f"Opened (+{h.dropped} older steps forgotten)"
            self.list.addItem(QListWidgetItem(first))
            for i, title in enumerate(h.titles()):
                item = QListWidgetItem(title)
                if i >= len(h.done):
                    item.setForeground(self.palette().mid())
                self.list.addItem(item)
            self.list.setCurrentRow(len(h.done))
        self._updating = False

    def _on_row(self, row: int) -> None:
        if not self._updating and row >= 0:
            self.positionRequested.emit(row)
