"""One model manager: loads a model on the chosen device, keeps it (and its runner, with the
CPU runtime's compiled graph) warm for the next run, and frees memory when another model or
device is asked for. Every load of a model by name goes through here."""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass

import torch
import torch.nn as nn

from desktop_app.core.models import registry
from desktop_app.core.models.catalog import find
from desktop_app.core.models.descriptor import Architecture
from desktop_app.core.models.device import pick_device
from desktop_app.core.models.runner import ModelRunner
from desktop_app.core.models.weights import Manifest, load_model


@dataclass
class LoadedModel:
    module: nn.Module
    manifest: Manifest
    arch: Architecture
    device: torch.device


class ModelManager:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: LoadedModel | None = None
        self._runner: ModelRunner | None = None
        self.device_preference: str = "auto"

    def get(self, model_id: str, device: str | None = None) -> LoadedModel:
        target = pick_device(device or self.device_preference)
        with self._lock:
            cur = self._current
            if cur is not None and cur.manifest.id == model_id and cur.device == target:
                return cur
            self._release()
            entry = find(model_id)
            module, manifest = load_model(entry.path)
            arch = registry.get(manifest.architecture)
            module = module.to(target)
            if target.type == "cuda":
                module = module.to(memory_format=torch.channels_last)
            self._current = LoadedModel(module, manifest, arch, target)
            return self._current

    def runner(self, model_id: str, device: str | None = None) -> ModelRunner:
        """The runner of `model_id` on `device` (see models/runner.py): images in, images out."""
        loaded = self.get(model_id, device)
        with self._lock:
            if self._runner is None or self._runner.loaded is not loaded:
                self._runner = ModelRunner(loaded)
            return self._runner

    def _release(self) -> None:
        if self._current is None:
            return
        device = self._current.device
        self._current = None
        self._runner = None
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()

    def release(self) -> None:
        with self._lock:
            self._release()


MANAGER = ModelManager()
