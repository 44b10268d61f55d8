"""Weights as data: a `.safetensors` file and a `.json` manifest beside it.

The manifest names the architecture and its hyper-parameters, so a model is rebuilt from the
registry and filled with tensors: nothing is unpickled. Its sha256 is checked on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from desktop_app.core.models import registry

MANIFEST_VERSION = 1


class ModelFileError(Exception):
    """A weights file or manifest that cannot be used; the message says why."""


@dataclass
class Manifest:
    id: str  # unique name, e.g. "cnn" or "my-camera"
    title: str
    architecture: str
    task: str
    hparams: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    training: dict[str, Any] = field(default_factory=dict)  # data, command, steps, time, base
    metrics: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    weights: str = ""  # file name of the safetensors beside the manifest
    version: int = MANIFEST_VERSION

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "manifest") -> "Manifest":
        missing = [k for k in ("id", "architecture", "task") if k not in data]
        if missing:
            raise ModelFileError(f"{where}: missing field(s) {', '.join(missing)}")
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("title", data["id"])
        return cls(**values)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest_path(weights_path: Path) -> Path:
    return weights_path.with_suffix(".json")


def save_model(model: nn.Module, weights_path: str | Path, manifest: Manifest) -> Manifest:
    """Write `<name>.safetensors` and `<name>.json` (each atomically)."""
    weights_path = Path(weights_path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=weights_path.parent, suffix=".tmp")
    os.close(fd)
    try:
        save_file(state, tmp, metadata={"architecture": manifest.architecture})
        os.chmod(tmp, 0o644)  # mkstemp makes it private; model files are meant to be shared
        os.replace(tmp, weights_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    manifest.sha256 = sha256_of(weights_path)
    manifest.weights = weights_path.name
    write_manifest(manifest, manifest_path(weights_path))
    return manifest


def write_manifest(manifest: Manifest, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(manifest), f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def read_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path.name}: cannot read the manifest ({e})") from None
    if not isinstance(data, dict):
        raise ModelFileError(f"{path.name}: the manifest is not a JSON object")
    return Manifest.from_dict(data, path.name)


def load_model(manifest_file: str | Path, *, verify: bool = True) -> tuple[nn.Module, Manifest]:
    """Rebuild the architecture named by the manifest and load its tensors (no pickle)."""
    manifest_file = Path(manifest_file)
    manifest = read_manifest(manifest_file)
    weights = manifest_file.with_name(manifest.weights or manifest_file.with_suffix(".safetensors").name)
    if not weights.is_file():
        raise ModelFileError(f"{manifest.id}: weights file {weights.name} is missing")
    if verify and manifest.sha256 and sha256_of(weights) != manifest.sha256:
        raise ModelFileError(f"{manifest.id}: {weights.name} does not match the checksum in its manifest")
    try:
        arch = registry.get(manifest.architecture)
    except registry.UnknownArchitecture as e:
        raise ModelFileError(f"{manifest.id}: {e}") from None
    model = arch.create(**manifest.hparams)
    try:
        state = load_file(str(weights))
    except Exception as e:  # safetensors raises its own error types for damaged files
        raise ModelFileError(f"{manifest.id}: {weights.name} is not a valid safetensors file ({e})") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise ModelFileError(f"{manifest.id}: weights do not fit architecture {arch.id} ({first})") from None
    model.eval()
    return model, manifest
