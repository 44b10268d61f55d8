"""One calibration as the app runs it: folders of bursts in, a new pairs folder in the app's
data folder out (`calibrations/`, where a training run that reads the pairs finds them again
when it is resumed), with a crop of a frame and of its reference per scene to show.

The pairs are written into a hidden folder beside the final one, renamed at the end, so a
calibration cancelled or failed half-way leaves nothing behind (`calibrate` itself adds scenes
to the folder it is given, for the command line's one-scene-at-a-time use).
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from desktop_app.core.calibration.bursts import find_bursts
from desktop_app.core.calibration.pairs import calibrate
from desktop_app.core.paths import app_data_dir
from desktop_app.core.work import Progress, Work

CROP = 192  # the side of the crops shown at 100 %: a shrunk thumbnail would hide the noise


@dataclass
class Calibration:
    """A finished calibration: its pairs folder (None when no burst gave pairs), the core's
    manifest, what `find_bursts` passed over, and per scene a crop of its first frame and the
    same crop of its reference."""

    folder: Path | None
    manifest: dict
    passed_over: list[tuple[str, str]]
    crops: dict[str, tuple[np.ndarray, np.ndarray]]


def calibrations_root() -> Path:
    return app_data_dir() / "calibrations"


def new_folder() -> Path:
    out = calibrations_root() / time.strftime("calibration-%Y%m%d-%H%M%S")
    while out.exists():
        out = out.with_name(out.name + "-1")
    return out


def calibration_work(folders: list[str], out: Path) -> Work[Calibration]:
    """Find the bursts in `folders`, average them and write their pairs into `out`, which
    exists only once all is done."""
    yield Progress(None, "finding the bursts")
    bursts, passed_over = find_bursts(folders)
    if not bursts:
        why = "; ".join(f"{Path(what).name}: {reason}" for what, reason in passed_over)
        raise ValueError("no bursts found (a burst is a folder of 4-64 frames of one still scene)"
                         + (f": {why}" if why else ""))
    staging = out.with_name(f".{out.name}.part")
    try:
        manifest = yield from calibrate(bursts, staging)
        crops = {s["name"]: _crops(staging, s["pairs"][0]) for s in manifest["scenes"]}
        if manifest["scenes"]:
            staging.rename(out)
    finally:  # cancelled (the generator closed), failed, or renamed: nothing stays here
        shutil.rmtree(staging, ignore_errors=True)
    return Calibration(out if manifest["scenes"] else None, manifest, passed_over, crops)


def _crops(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The centre CROP x CROP of a pair: the frame's own pixels and the reference there."""
    out = []
    for side in ("noisy", "clean"):
        with Image.open(folder / side / name) as im:
            w, h = im.size
            x, y = max(0, (w - CROP) // 2), max(0, (h - CROP) // 2)
            out.append(np.asarray(im.convert("RGB").crop((x, y, x + min(w, CROP), y + min(h, CROP))),
                                  np.float32) / 255.0)
    return out[0], out[1]


def model_name(camera: str | None) -> str:
    """A free library name after the camera ("Canon EOS R6" -> "canon-eos-r6")."""
    from desktop_app.core.models.library import free_name

    slug = re.sub(r"[^a-z0-9]+", "-", (camera or "").lower()).strip("-")[:50]
    return free_name(slug or "my-camera")
