"""Model manifests: the JSON beside each `.safetensors` file that names its architecture,
hyper-parameters, training and metrics. Reading one needs no torch, so the model lists of the
panels load at once."""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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
        for name, value in values.items():
            kind = _FIELD_TYPES[name]
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ModelFileError(f"{where}: field {name!r} should be {_KIND_NAMES[kind]}, "
                                     f"not {type(value).__name__}")
        return cls(**values)


# Hyper-parameters are numbers, names and short lists of them. Bounds that no real network
# comes near keep a crafted manifest from making the loader build something huge: the
# network's size itself is bounded in weights.py, from its shapes, before anything is built.
HPARAM_MAX_INT = 1 << 16
HPARAM_MAX_ITEMS = 256
HPARAM_MAX_TEXT = 256


def check_hparams(manifest: Manifest) -> None:
    """Raise ModelFileError naming the model and the field unless every hyper-parameter is a
    bounded number, a short text, or a short list of those."""

    def check(name: str, value: Any, depth: int) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, int):
            if abs(value) > HPARAM_MAX_INT:
                raise ModelFileError(f"{manifest.id}: hyper-parameter {name} = {value} is out of range "
                                     f"(at most {HPARAM_MAX_INT} in size)")
        elif isinstance(value, float):
            if not math.isfinite(value) or abs(value) > HPARAM_MAX_INT:
                raise ModelFileError(f"{manifest.id}: hyper-parameter {name} = {value} is out of range")
        elif isinstance(value, str):
            if len(value) > HPARAM_MAX_TEXT:
                raise ModelFileError(f"{manifest.id}: hyper-parameter {name} is a text of {len(value)} "
                                     f"characters (at most {HPARAM_MAX_TEXT})")
        elif isinstance(value, list) and depth < 2:
            if len(value) > HPARAM_MAX_ITEMS:
                raise ModelFileError(f"{manifest.id}: hyper-parameter {name} has {len(value)} entries "
                                     f"(at most {HPARAM_MAX_ITEMS})")
            for i, item in enumerate(value):
                check(f"{name}[{i}]", item, depth + 1)
        else:
            raise ModelFileError(f"{manifest.id}: hyper-parameter {name} should be a number, a text or a "
                                 f"list of them, not {type(value).__name__}")

    for key, value in manifest.hparams.items():
        check(key, value, 0)


_FIELD_TYPES = {"id": str, "title": str, "architecture": str, "task": str, "hparams": dict, "description": str,
                "training": dict, "metrics": dict, "sha256": str, "weights": str, "version": int}
_KIND_NAMES = {str: "text", dict: "an object", int: "a whole number"}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest_path(weights_path: Path) -> Path:
    return weights_path.with_suffix(".json")


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
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ModelFileError(f"{path.name}: not a manifest (binary data, not JSON text)") from None
    except (OSError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path.name}: cannot read the manifest ({e})") from None
    if not isinstance(data, dict):
        raise ModelFileError(f"{path.name}: the manifest is not a JSON object")
    return Manifest.from_dict(data, path.name)
