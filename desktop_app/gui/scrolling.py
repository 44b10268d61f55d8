"""Scroll areas that keep a panel or a dialog within the screen."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtWidgets import QScrollArea, QWidget


class _VerticalScrolling(QScrollArea):
    """Scrolls up and down only, and is never narrower than what it holds: a form rebuilt
    for another operation (the CNN denoiser's "Noise level [25] [x] auto") widens the dock
    instead of being cut off at its right edge."""

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        hint = super().minimumSizeHint()
        if self.widget() is not None:
            width = (self.widget().minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
                     + 2 * self.frameWidth())
            hint.setWidth(max(hint.width(), width))
        return hint

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if obj is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # what it holds changed: the dock reads the minimum again
        return super().eventFilter(obj, event)


def scrolling(widget: QWidget) -> QScrollArea:
    """A panel in a scroll area, so a dock never forces the window taller than the screen."""
    area = _VerticalScrolling()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


def fit_to_screen(dialog: QWidget, content: QWidget) -> None:
    """Size `dialog`, whose `content` scrolls, to show all of it where the screen is tall
    enough, and to the screen's available height (less a margin) where it is not."""
    screen = dialog.screen().availableGeometry() if dialog.screen() else None
    want = content.sizeHint()
    height = want.height() + 24 if screen is None else min(want.height() + 24, screen.height() - 60)
    dialog.resize(max(dialog.width(), want.width() + 40), height)
