"""Where the app finds its resources and keeps its data, without Qt.

`DESKTOP_APP_DATA_DIR` overrides the data folder (tests use it);
`DESKTOP_APP_RESOURCES` overrides the resources folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from desktop_app import APP_NAME


def resources_dir() -> Path:
    env = os.environ.get("DESKTOP_APP_RESOURCES")
    if env:
        return Path(env)
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def sample_photo() -> Path:
    """The photo File > Open Sample Photo and the self-test open (drawn by packaging/make_assets.py)."""
    return resources_dir() / "samples" / "sample.png"


def app_data_dir() -> Path:
    """The platform's per-user application data folder (created on demand)."""
    env = os.environ.get("DESKTOP_APP_DATA_DIR")
    if env:
        base = Path(env)
    elif sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / APP_NAME
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support" / APP_NAME
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / APP_NAME
    base.mkdir(parents=True, exist_ok=True)
    return base


def cache_dir() -> Path:
    """Training checkpoints and other re-creatable files (outside any repository)."""
    env = os.environ.get("DESKTOP_APP_CACHE_DIR")
    if env:
        base = Path(env)
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / APP_NAME / "cache"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches" / APP_NAME
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "desktop_app"
    base.mkdir(parents=True, exist_ok=True)
    return base
