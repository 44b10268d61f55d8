"""Test set-up shared by tests/core and tests/gui.

Qt runs on the offscreen platform here (never on a user's machine), and every test gets its
own settings, application data and cache folders so nothing touches the user's.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_session_home = Path(tempfile.mkdtemp(prefix="desktop-app-tests-"))
atexit.register(shutil.rmtree, _session_home, ignore_errors=True)  # each run's settings, models and cache
os.environ["XDG_CONFIG_HOME"] = str(_session_home / "config")  # QSettings on Linux
os.environ.setdefault("DESKTOP_APP_DATA_DIR", str(_session_home / "data"))
os.environ.setdefault("DESKTOP_APP_CACHE_DIR", str(_session_home / "cache"))

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKTOP_APP_DATA_DIR", str(tmp_path / "appdata"))
    monkeypatch.setenv("DESKTOP_APP_CACHE_DIR", str(tmp_path / "cache"))


def textured_image(h: int = 96, w: int = 128, seed: int = 0, channels: int = 3) -> np.ndarray:
    """A smooth-plus-texture float32 test picture (not flat, so edits are visible)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([0.5 + 0.4 * np.sin(xx / 9 + c) * np.cos(yy / 7 - c) for c in range(channels)], axis=2)
    base += rng.normal(0, 0.03, base.shape).astype(np.float32)
    return np.clip(base, 0, 1).astype(np.float32)


def photo_folder(root: Path) -> Path:
    """A folder of 12 small PNGs (half in a sub-folder) and one unreadable file: training
    data for the trainer and the training dialog."""
    from PIL import Image

    d = root / "photos"
    (d / "sub").mkdir(parents=True)
    for i in range(12):
        img = (textured_image(80, 96, seed=i) * 255).astype(np.uint8)
        Image.fromarray(img).save(d / ("sub" if i % 2 else "") / f"img{i:02d}.png")
    (d / "broken.jpg").write_bytes(b"not a jpeg")
    return d


@pytest.fixture
def photo_path(tmp_path: Path) -> Path:
    """A small RGB PNG written by the project's own writer."""
    from desktop_app.core.imaging.io import save_image

    path = tmp_path / "photo.png"
    save_image(path, textured_image(120, 160))
    return path


@pytest.fixture
def tiny_inpaint_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A random tiny network installed as the 'inpaint' model, the shipped one hidden: for
    tests of the plumbing around the network, which do not need it trained."""
    import torch

    from desktop_app.core.models import registry
    from desktop_app.core.models.catalog import library_dir
    from desktop_app.core.models.manager import MANAGER
    from desktop_app.core.models.weights import Manifest, save_model

    monkeypatch.setenv("DESKTOP_APP_RESOURCES", str(tmp_path / "no-resources"))
    hp = {"widths": [8, 16], "middle": 1, "unshuffle": 2}
    torch.manual_seed(0)
    model = registry.get("inpaint-fourier").create(**hp).eval()
    save_model(model, library_dir() / "inpaint.safetensors",
               Manifest(id="inpaint", title="Tiny inpaint", architecture="inpaint-fourier", task="inpaint",
                        hparams=hp))
    MANAGER.release()
    yield
    MANAGER.release()
