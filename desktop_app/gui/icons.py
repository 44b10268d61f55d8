"""Icons from qtawesome (its fonts ship with the package, nothing is downloaded)."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtGui import QIcon


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    try:
        import qtawesome

        return qtawesome.icon(name, color="#d8d8d8", color_disabled="#6a6a70")
    except Exception:  # noqa: BLE001 - a missing glyph must not stop the app
        return QIcon()
