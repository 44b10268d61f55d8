"""Resumable checkpoints without pickle: model and optimizer tensors in one safetensors
file, counters and RNG states in a JSON file beside it."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from desktop_app.core.training.adam import Adam


def _flatten_optimizer(opt: Adam, prefix: str = "opt") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {"param_groups": sd["param_groups"], "state": {}}
    for pid, st in sd["state"].items():
        scalars["state"][str(pid)] = {}
        for k, v in st.items():
            if torch.is_tensor(v) and v.dim() > 0:
                tensors[f"{prefix}.{pid}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars["state"][str(pid)][k] = float(v) if torch.is_tensor(v) else v
    return tensors, scalars


def _restore_optimizer(opt: Adam, tensors: dict[str, torch.Tensor], scalars: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for pid, st in scalars["state"].items():
        state[int(pid)] = {k: torch.tensor(v) if k == "step" else v for k, v in st.items()}
    for name, t in tensors.items():
        pid, k = name.split(".", 1)
        state.setdefault(int(pid), {})[k] = t
    opt.load_state_dict({"state": state, "param_groups": scalars["param_groups"]})


def save_checkpoint(path: Path, model: torch.nn.Module, opt: Adam,
                    extra: dict[str, torch.nn.Module | Adam], info: dict[str, Any]) -> None:
    """`extra`: further named modules and optimizers of the task (a discriminator and its
    optimizer), stored under "x.<name>." prefixes."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt_tensors, opt_scalars = _flatten_optimizer(opt)
    tensors.update(opt_tensors)
    extra_scalars = {}
    for name, obj in extra.items():
        if isinstance(obj, Adam):
            t, extra_scalars[name] = _flatten_optimizer(obj, f"x.{name}")
            tensors.update(t)
        else:
            tensors.update({f"x.{name}.{k}": v.detach().cpu().contiguous() for k, v in obj.state_dict().items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    save_file(tensors, tmp)
    os.replace(tmp, path)
    meta = dict(info, optimizer=opt_scalars, extra_optimizers=extra_scalars)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(meta, f)
    os.replace(tmp, path.with_suffix(".json"))


def _under(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_checkpoint(path: Path, model: torch.nn.Module, opt: Adam | None,
                    extra: dict[str, torch.nn.Module | Adam] | None = None) -> dict[str, Any]:
    tensors = load_file(str(path))
    info = json.loads(path.with_suffix(".json").read_text())
    model.load_state_dict(_under(tensors, "model."))
    if opt is not None:
        _restore_optimizer(opt, _under(tensors, "opt."), info.pop("optimizer"))
    extra_scalars = info.pop("extra_optimizers", {})
    for name, obj in (extra or {}).items():
        if isinstance(obj, Adam):
            if name in extra_scalars:
                _restore_optimizer(obj, _under(tensors, f"x.{name}."), extra_scalars[name])
        elif any(k.startswith(f"x.{name}.") for k in tensors):
            obj.load_state_dict(_under(tensors, f"x.{name}."))
    return info
