"""Keeping a trained model: into the user's library, where the operations and the Generate
panel find it. The training dialog's Keep and `desktop-app train` without `--out` both come
here, so a model kept either way is used the same way (`--method NAME` at once)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from desktop_app.core.models.catalog import all_models, library_dir
from desktop_app.core.models.library import check_name
from desktop_app.core.models.manifest import ModelFileError

if TYPE_CHECKING:
    from desktop_app.core.models.manifest import Manifest
    from desktop_app.core.training.trainer import Trainer


def name_refusal(name: str, replace: bool = False) -> str | None:
    """Why `name` cannot be the kept model's name (None when it can): not a usable name, a
    shipped model's, a built-in operation's, or (unless `replace`) one of the user's models."""
    try:
        check_name(name)
    except ModelFileError as e:
        return str(e)
    taken = {e.manifest.id: e for e in all_models()}
    if name in taken and taken[name].shipped:
        return f"{name!r} is the name of a shipped model; choose another name"
    from desktop_app.core.operations import registry

    if any(op.method == name and op.extra.get("library_model") != name for op in registry.all_operations()):
        return f"{name!r} is the name of a built-in method; choose another name"
    if name in taken and not replace:
        return f"your library already has a model named {name!r}"
    return None


def library_path(name: str) -> Path:
    return library_dir() / f"{name}.safetensors"


def keep(trainer: "Trainer", name: str, title: str | None = None, description: str = "") -> "Manifest":
    """Export the run's best weights into the library as `name` (replacing a model of the
    user's of that name) and list it where it is used; the start's score goes with it.

    Pairs made by `desktop-app calibrate` (or Models > Calibrate to My Camera) give the
    model their camera and ISO range (the manifest's `training`) and, unless a title is
    given, the title "Denoise for <camera>": a calibrated model is for that camera at
    those ISOs (docs/models.md), and says so where it is chosen."""
    from desktop_app.core.calibration import read_calibration
    from desktop_app.core.models.manager import MANAGER
    from desktop_app.core.operations.library import sync_library_operations

    check_name(name)
    trainer.config.name = name
    start = trainer.start_metrics.get(trainer.metric)
    calibrated = read_calibration(trainer.config.data)
    camera, iso = calibrated.get("camera"), calibrated.get("iso")
    if camera:
        title = title or f"Denoise for {camera}"
        at = f" at ISO {iso[0]}-{iso[1]}" if iso else ""
        description = f"{description} Calibrated to the {camera}: meant for its photos{at}.".strip()
    MANAGER.release()  # a model of this name may be loaded from the file being replaced
    manifest = trainer.export(library_path(name), title=title or name, description=description,
                              extra_metrics={"start_" + trainer.metric: round(start, 3)} if start is not None else None,
                              training=calibrated)
    sync_library_operations()
    return manifest
