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


@dataclass(frozen=True)
class Architecture:
    id: str
    task: str  # "denoise", "denoise-real", "inpaint", "generate"
    title: str
    build: Callable[..., nn.Module]  # build(**hparams) -> module
    in_channels: int = 3
    out_channels: int = 3
    takes_noise_map: bool = False
    precisions: tuple[str, ...] = ("fp32", "fp16", "bf16")
    size_multiple: int = 1
    tiling: TilePolicy = field(default_factory=TilePolicy)
    default_hparams: dict[str, Any] = field(default_factory=dict)

    def create(self, **hparams: Any) -> nn.Module:
        return self.build(**{**self.default_hparams, **hparams})
