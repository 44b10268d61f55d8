"""Weights as data: a `.safetensors` file and a `.json` manifest beside it.

The manifest names the architecture and its hyper-parameters, so a model is rebuilt from the
registry and filled with tensors: nothing is unpickled. Its sha256 is checked on load.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from desktop_app.core.models import registry
from desktop_app.core.models.manifest import (MANIFEST_VERSION, Manifest, ModelFileError,  # noqa: F401
                                              manifest_path, read_manifest, sha256_of, write_manifest)


# Models handed to users (shipped, kept in the library, exported) store their weights in fp16:
# half the download, and the outputs differ from fp32 storage by far less than a visible
# amount (docs/models.md). They are loaded into fp32 modules and computed as before.
# Training checkpoints keep fp32.
STORE_DTYPE = torch.float16


def save_model(model: nn.Module, weights_path: str | Path, manifest: Manifest,
               dtype: torch.dtype = torch.float32) -> Manifest:
    """Write `<name>.safetensors` (floating tensors as `dtype`) and `<name>.json`, each atomically."""
    weights_path = Path(weights_path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
             for k, v in model.state_dict().items()}
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
    try:
        model = arch.create(**manifest.hparams)
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{manifest.id}: hyper-parameters do not fit architecture {arch.id} ({e})") from None
    try:
        state = load_file(str(weights))
    except Exception as e:  # safetensors raises its own error types for damaged files
        raise ModelFileError(f"{manifest.id}: {weights.name} is not a valid safetensors file ({e})") from None
    misfit = tensor_mismatch(model.state_dict(), state)
    if misfit:
        raise ModelFileError(f"{manifest.id}: weights do not fit architecture {arch.id}: {misfit}")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:  # e.g. a dtype that cannot be copied; the shapes were checked above
        first = str(e).splitlines()[0]
        raise ModelFileError(f"{manifest.id}: weights do not fit architecture {arch.id} ({first})") from None
    model.eval()
    return model, manifest


def tensor_mismatch(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor], show: int = 3) -> str:
    """What differs between the tensors an architecture needs and those a file holds, in
    words ("" when they fit): missing names, unexpected names, wrong shapes, a few of each."""

    def few(items: list[str]) -> str:
        return ", ".join(items[:show]) + (f" and {len(items) - show} more" if len(items) > show else "")

    missing = [k for k in expected if k not in found]
    extra = [k for k in found if k not in expected]
    shapes = [f"{k} is {tuple(found[k].shape)}, needs {tuple(v.shape)}"
              for k, v in expected.items() if k in found and found[k].shape != v.shape]
    parts = []
    if missing:
        parts.append(f"{len(missing)} tensor(s) missing ({few(missing)})")
    if extra:
        parts.append(f"{len(extra)} unexpected tensor(s) ({few(extra)})")
    if shapes:
        parts.append(f"{len(shapes)} tensor(s) of the wrong shape ({few(shapes)})")
    return "; ".join(parts)
