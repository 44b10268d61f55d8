"""A dark theme: photos are judged against neutral dark grey, as in other photo editors."""

from __future__ import annotations

import html

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QProgressBar


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    p = QPalette()
    base, window, text = QColor(37, 37, 40), QColor(50, 50, 54), QColor(222, 222, 222)
    for role, colour in ((QPalette.ColorRole.Window, window), (QPalette.ColorRole.WindowText, text),
                         (QPalette.ColorRole.Base, base), (QPalette.ColorRole.AlternateBase, window),
                         (QPalette.ColorRole.ToolTipBase, QColor(60, 60, 64)), (QPalette.ColorRole.ToolTipText, text),
                         (QPalette.ColorRole.Text, text), (QPalette.ColorRole.Button, window),
                         (QPalette.ColorRole.ButtonText, text), (QPalette.ColorRole.Highlight, QColor(58, 110, 165)),
                         (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
                         (QPalette.ColorRole.Link, QColor(90, 160, 230)), (QPalette.ColorRole.Mid, QColor(120, 120, 126))):
        p.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(115, 115, 120))
    app.setPalette(p)


def wrapped(text: str) -> str:
    """`text` as a tooltip Qt wraps into lines: it breaks plain text only once it is wider than
    the screen, so a long help ran 1000 px across the photo in one line."""
    return f"<p>{html.escape(text)}</p>" if text else text


def rest_progress(bar: QProgressBar) -> None:
    """Set `bar` to 0 of 0-1000 and at rest. Fusion keeps animating a bar that was ever
    indeterminate, at value 0 as much as part way, until it is painted full: left so after a
    job, the Operations panel's bar repainted 60 times a second while the app sat idle (5 % of
    a core)."""
    bar.setRange(0, 1000)
    if bar.isVisible():
        bar.setValue(1000)
        bar.repaint()  # painted full: Fusion stops its animation
    bar.setValue(0)
