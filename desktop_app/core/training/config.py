"""Typed training configuration, saved as JSON beside the checkpoints."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


PRECISIONS = ("auto", "bf16", "f32")  # training/precision.py


@dataclass
class TrainConfig:
    task: str = "denoise"  # a training task id (training/registry.py): "denoise", "inpaint", "generate-gan", ...
    name: str = "cnn"  # model id of the result
    data: list[str] = field(default_factory=list)
    arch: str = "unet-denoise"
    hparams: dict[str, Any] = field(default_factory=dict)
    task_options: dict[str, Any] = field(default_factory=dict)  # e.g. inpaint: adv_weight; gan: resize, ema
    base: str | None = None  # model id to fine-tune from (None: from scratch)
    steps: int = 100_000  # length of the learning-rate schedule and the stopping point
    minutes: float | None = None  # wall-clock budget of this invocation
    # a budget in time: the learning rate's cosine runs over this much training time (all
    # invocations together) or over `steps`, whichever ends first, so a 10-minute fine-tune
    # ends at a low learning rate instead of being cut off at its peak
    schedule_minutes: float | None = None
    batch: int = 16
    patch: int = 96
    lr: float = 3e-4
    lr_min: float = 2e-6
    warmup: int = 500
    sigma_max: float = 75.0
    grey_fraction: float = 0.2
    val_fraction: float = 0.05
    val_min: int = 4
    val_crop: int = 256
    val_sigmas: tuple[float, ...] = (15.0, 25.0, 50.0)
    val_every: int = 1000
    checkpoint_minutes: float = 5.0
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    # "auto": bf16 where the task allows it and the device computes it natively; "bf16"; "f32"
    precision: str = "auto"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        data = json.loads(text)
        data["val_sigmas"] = tuple(data.get("val_sigmas", (15.0, 25.0, 50.0)))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def save(self, path: Path) -> None:
        path.write_text(self.to_json())
