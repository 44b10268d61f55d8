"""Scroll areas that keep a panel or a dialog within the screen."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea, QWidget


def scrolling(widget: QWidget) -> QScrollArea:
    """A panel in a scroll area, so a dock never forces the window taller than the screen."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setMinimumWidth(widget.minimumSizeHint().width() + 16)
    return area


def fit_to_screen(dialog: QWidget, content: QWidget) -> None:
    """Size `dialog`, whose `content` scrolls, to show all of it where the screen is tall
    enough, and to the screen's available height (less a margin) where it is not."""
    screen = dialog.screen().availableGeometry() if dialog.screen() else None
    want = content.sizeHint()
    height = want.height() + 24 if screen is None else min(want.height() + 24, screen.height() - 60)
    dialog.resize(max(dialog.width(), want.width() + 40), height)
