"""Where models are found: the shipped ones in `resources/models/` and the user's library
in the application data folder. Each is a `.json` manifest beside its `.safetensors`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.models.manifest import Manifest, ModelFileError, read_manifest
from desktop_app.core.paths import app_data_dir, resources_dir


DEFAULT_GENERATOR = "texture-gan"  # the shipped generator used when none is named


@dataclass(frozen=True)
class ModelEntry:
    manifest: Manifest
    path: Path  # the manifest file
    shipped: bool


def shipped_dir() -> Path:
    return resources_dir() / "models"


def library_dir() -> Path:
    d = app_data_dir() / "models"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _scan(folder: Path, shipped: bool) -> list[ModelEntry]:
    entries = []
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                entries.append(ModelEntry(read_manifest(path), path, shipped))
            except ModelFileError:
                continue  # a broken file in the library must not hide the others
    return entries


def all_models() -> list[ModelEntry]:
    return _scan(shipped_dir(), True) + _scan(library_dir(), False)


def models_for(task: str) -> list[ModelEntry]:
    return [e for e in all_models() if e.manifest.task == task]


def find(model_id: str) -> ModelEntry:
    for entry in all_models():
        if entry.manifest.id == model_id:
            return entry
    known = ", ".join(e.manifest.id for e in all_models()) or "none"
    raise ModelFileError(f"no model named {model_id!r} (installed: {known})")
