"""Persistent settings (QSettings) with typed accessors and defaults in one place."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QSettings

from desktop_app import APP_NAME, ORG_NAME

DEFAULTS: dict[str, Any] = {
    "brush/size": 40.0,  # before a photo is open
    "brush/fraction": 0.04,  # the brush's diameter on a photo: this much of its shorter side
    "brush/hardness": 0.8,
    "overlay/colour": "#ff283c",
    "overlay/opacity": 0.5,
    "autosave/seconds": 30,
    "recent": [],
    "last_dir": "",
    "device": "auto",
    "history/mib": 1024,
    "wand/tolerance": 32,
    "operations/last": "",  # JSON: the operation shown and each one's settings, as last set
    "batch/last": "",  # JSON: the last batch's operation, settings and output (not its photos)
}
MAX_RECENT = 10


class Settings:
    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.q = qsettings or QSettings(ORG_NAME, APP_NAME)

    def get(self, key: str, kind: type | None = None) -> Any:
        default = DEFAULTS.get(key)
        value = self.q.value(key, default)
        if value is None:
            return None
        kind = kind or (type(default) if default is not None else None)
        try:
            if kind is list:
                if isinstance(value, str):
                    return [value] if value else []
                return list(value)
            if kind is bool and isinstance(value, str):
                return value.lower() in ("1", "true")
            return kind(value) if kind else value
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value: Any) -> None:
        self.q.setValue(key, value)

    def get_json(self, key: str) -> Any:
        """A value stored as JSON text; None when there is none or it does not read."""
        text = self.get(key, str)
        try:
            return json.loads(text) if text else None
        except ValueError:
            return None

    def set_json(self, key: str, value: Any) -> None:
        self.set(key, json.dumps(value))

    def recent(self) -> list[str]:
        return [p for p in self.get("recent", list) if p]

    def add_recent(self, path: str) -> None:
        items = [path] + [p for p in self.recent() if p != path]
        self.set("recent", items[:MAX_RECENT])

    def sync(self) -> None:
        self.q.sync()
