"""Typed descriptors of model architectures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch.nn as nn


@dataclass(frozen=True)
class TilePolicy:
    """How an image larger than a tile is cut: `context` pixels of overlap around each tile
    (at least the network's receptive radius for seamless results), and the tile size tried
    first on each kind of device (halved on out-of-memory)."""

    context: int = 32
    cpu_tile: int = 512
    gpu_tile: int = 1024


def _one(hparams: dict[str, Any]) -> int:
    return 1


@dataclass(frozen=True)
class Architecture:
    id: str
    task: str  # "denoise", "denoise-real", "inpaint", "generate"
    title: str
    build: Callable[..., nn.Module]  # build(**hparams) -> module
    in_channels: int = 3
    out_channels: int = 3
    takes_noise_map: bool = False
    precisions: tuple[str, ...] = ("fp32", "fp16", "bf16")  # what a GPU may compute in
    # bf16 on a CPU that has it (OpenVINO, models/runtime.py): only where measured to cost < 0.02 dB
    cpu_bf16: bool = False
    # the side multiple the network needs, from its hyper-parameters (a loaded network also
    # reports its own as `size_multiple`; models/runner.py asks the network)
    size_multiple_of: Callable[[dict[str, Any]], int] = _one
    tiling: TilePolicy = field(default_factory=TilePolicy)
    default_hparams: dict[str, Any] = field(default_factory=dict)

    def create(self, **hparams: Any) -> nn.Module:
        return self.build(**{**self.default_hparams, **hparams})

    @property
    def size_multiple(self) -> int:
        """The multiple for the default hyper-parameters, for code that has no network yet."""
        return self.size_multiple_of(dict(self.default_hparams))
