"""Weights as data: a `.safetensors` file and a `.json` manifest beside it.

The manifest names the architecture and its hyper-parameters, so a model is rebuilt from the
registry and filled with tensors: nothing is unpickled. Its sha256 is checked on load.
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from desktop_app.core.models import registry
from desktop_app.core.models.manifest import (MANIFEST_VERSION, Manifest, ModelFileError,  # noqa: F401
                                              check_hparams, manifest_path, read_manifest, sha256_of,
                                              write_manifest)


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
    # Everything is compared before anything is allocated: the shapes the hyper-parameters
    # imply (from a network on the meta device, which holds no data) with the shapes in the
    # file's header. A crafted manifest of a few bytes could otherwise ask for gigabytes.
    misfit = tensor_mismatch(expected_shapes(arch, manifest), file_shapes(weights, manifest.id))
    if misfit:
        raise ModelFileError(f"{manifest.id}: weights do not fit architecture {arch.id}: {misfit}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch on zero-sized layers: the shapes decide, above
            model = arch.create(**manifest.hparams)
        state = load_file(str(weights))
    except Exception as e:  # the shapes fit, so this is a damaged file or an architecture's own check
        raise ModelFileError(f"{manifest.id}: cannot be loaded ({type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''})") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:  # e.g. a dtype that cannot be copied; the shapes were checked above
        first = str(e).splitlines()[0]
        raise ModelFileError(f"{manifest.id}: weights do not fit architecture {arch.id} ({first})") from None
    model.eval()
    return model, manifest


# The largest network a manifest may describe, in numbers (weights and buffers): 800 MB at
# fp32, over 100 times the largest shipped model.
MAX_PARAMETERS = 200_000_000


class _NoInitOnMeta(TorchFunctionMode):
    """Random initialisation is skipped for tensors on the meta device: it means nothing there,
    and torch's meta fallback for normal_ imports its compiler (about 10 s, once). Function
    modes are per thread, so a network built meanwhile elsewhere is initialised as usual."""

    _RANDOM_FILLS = frozenset({torch.Tensor.normal_, torch.Tensor.uniform_, torch.Tensor.random_,
                               torch.Tensor.bernoulli_, torch.Tensor.exponential_, torch.Tensor.log_normal_,
                               torch.Tensor.cauchy_, torch.Tensor.geometric_})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        target = args[0] if args else kwargs.get("tensor")  # nn.init passes it by name
        if isinstance(target, torch.Tensor) and target.is_meta and (
                func in self._RANDOM_FILLS or getattr(func, "__module__", None) == "torch.nn.init"):
            return target
        return func(*args, **kwargs)


def expected_shapes(arch: "registry.Architecture", manifest: Manifest) -> dict[str, tuple[int, ...]]:
    """The tensor names and shapes that `manifest`'s hyper-parameters give `arch`, found on the
    meta device (no memory is allocated); ModelFileError, naming the model, when the
    hyper-parameters are out of bounds, do not fit, or make a network over MAX_PARAMETERS."""
    check_hparams(manifest)
    try:
        with warnings.catch_warnings(), torch.device("meta"), _NoInitOnMeta():
            warnings.simplefilter("ignore")
            module = arch.create(**manifest.hparams)
    except Exception as e:  # TypeError, ValueError, torch's RuntimeError on negative sizes, ...
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ModelFileError(f"{manifest.id}: hyper-parameters do not fit architecture {arch.id} ({first})") from None
    shapes = {name: tuple(t.shape) for name, t in module.state_dict().items()}
    total = sum(math.prod(shape) for shape in shapes.values())
    if total > MAX_PARAMETERS:
        raise ModelFileError(f"{manifest.id}: its hyper-parameters make a network of {total / 1e6:,.0f} million "
                             f"numbers; at most {MAX_PARAMETERS / 1e6:,.0f} million are accepted")
    return shapes


def file_shapes(weights: Path, model_id: str) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes from a safetensors file's header, without reading the tensors."""
    try:
        with safe_open(str(weights), framework="pt") as f:
            return {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    except Exception as e:  # safetensors raises its own error types for damaged files
        raise ModelFileError(f"{model_id}: {weights.name} is not a valid safetensors file ({e})") from None


def tensor_mismatch(expected: dict[str, Any], found: dict[str, Any], show: int = 3) -> str:
    """What differs between the tensors an architecture needs and those a file holds, in
    words ("" when they fit): missing names, unexpected names, wrong shapes, a few of each.
    Values are tensors or shapes."""

    def shape(value: Any) -> tuple[int, ...]:
        return tuple(value.shape) if hasattr(value, "shape") else tuple(value)

    def few(items: list[str]) -> str:
        return ", ".join(items[:show]) + (f" and {len(items) - show} more" if len(items) > show else "")

    missing = [k for k in expected if k not in found]
    extra = [k for k in found if k not in expected]
    shapes = [f"{k} is {shape(found[k])}, needs {shape(v)}"
              for k, v in expected.items() if k in found and shape(found[k]) != shape(v)]
    parts = []
    if missing:
        parts.append(f"{len(missing)} tensor(s) missing ({few(missing)})")
    if extra:
        parts.append(f"{len(extra)} unexpected tensor(s) ({few(extra)})")
    if shapes:
        parts.append(f"{len(shapes)} tensor(s) of the wrong shape ({few(shapes)})")
    return "; ".join(parts)
