"""What a training task's code provides, with the default of every hook, so the trainer calls
each hook without asking whether the task has it.

A task must say how it scores a model (`validation_pairs`, `evaluate`) and what it optimises
(`loss`); the hooks below do the usual thing unless the task overrides them. Its descriptor
(registry.py) says what the trainer, the command line and the dialog need to know about it.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from desktop_app.core.training.config import TrainConfig
from desktop_app.core.work import Work
from desktop_app.core.training.data import ImageSet, center_crop, iter_image_set, random_patches


class TrainingCode:
    """One run's task: built from the run's config; `modules` holds extra networks and
    optimisers to checkpoint (a discriminator, a moving average)."""

    adam_betas: tuple[float, float] = (0.9, 0.99)
    # above 0: a moving average of the weights with this decay is what is validated and
    # exported (Polyak averaging): it smooths a noisy run's last steps (a task option `ema`)
    ema_decay: float = 0.0

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.modules: dict[str, Any] = {}
        self.step = 0
        # the side every network input must be a multiple of; the trainer sets it from the
        # network it built, before it asks for validation pairs
        self.size_multiple = 1

    # -- what a task must say -------------------------------------------------------------
    def loss(self, model: nn.Module, batch: Any, gen: torch.Generator, device) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError

    def validation_pairs(self, images: list[np.ndarray]) -> list[tuple]:
        """(part name, ...) tuples; the score of a part is the mean of `evaluate` over its pairs."""
        raise NotImplementedError

    def evaluate(self, model: nn.Module, pair: tuple, device) -> float:
        raise NotImplementedError

    # -- hooks, with their defaults -------------------------------------------------------
    def read(self) -> Work[ImageSet]:
        """The run's images, split into training and validation: work that yields a Progress
        per file read, so whoever reads (the trainer, the dialog's preview) can stop it there."""
        c = self.config
        return (yield from iter_image_set(c.data, c.val_fraction, c.val_min))

    def attach(self, model: nn.Module) -> None:
        """Once the network is built: check that it suits the task, make copies of it (the
        moving average, when there is one)."""
        if self.ema_decay > 0:
            average = copy.deepcopy(model)
            average.requires_grad_(False)
            self.modules["ema"] = average

    def to(self, device) -> None:
        for module in self.modules.values():
            if isinstance(module, nn.Module):
                module.to(device)

    def batch(self, data: ImageSet, count: int, size: int, rng: np.random.Generator) -> Any:
        """One step's input: random augmented patches of the training images."""
        return torch.from_numpy(random_patches(data.train, count, size, rng))

    def begin_step(self, step: int, lr: float) -> None:
        """Before each optimiser step (e.g. set a second optimiser's learning rate)."""
        self.step = step

    def after_step(self, model: nn.Module) -> None:
        """After each optimiser step: the moving average of the weights follows."""
        if "ema" in self.modules:
            # a short memory at first, so the average is not stuck at the start
            decay = min(self.ema_decay, (1 + self.step) / (10 + self.step))
            update_average(self.modules["ema"], model, decay)

    def inference_model(self, model: nn.Module) -> nn.Module:
        """The network to validate and export: the moving average when there is one."""
        return self.modules.get("ema", model)

    def side_metrics(self, model: nn.Module, pairs: list[tuple], device) -> dict[str, float]:
        """More validation numbers, reported but never used to pick the best."""
        return {}

    def baselines(self, pairs: list[tuple]) -> dict[str, float]:
        """Scores of what a user has without training (another method, by the run's metric) on
        the validation pairs, computed once before the first step for the report: label ->
        score. None by default."""
        return {}

    def sample(self, model: nn.Module, pairs: list[tuple], device) -> tuple[np.ndarray, np.ndarray] | None:
        """A held-out image before and after (H x W x 3 in [0, 1]) for a dialog to show, or None."""
        return None

    # -- helpers --------------------------------------------------------------------------
    def centre_tensor(self, img: np.ndarray, multiple: int | None = None) -> torch.Tensor:
        """The validation crop of a uint8 H x W x C image as a 1 x C x h x w tensor in [0, 1]:
        the centre `val_crop` square (or the whole image, if smaller), each side cut down to
        a multiple of `multiple` (default: the network's)."""
        m = multiple or self.size_multiple
        crop = center_crop(img, self.config.val_crop)
        h, w = crop.shape[0] // m * m, crop.shape[1] // m * m
        if h == 0 or w == 0:
            raise ValueError(f"a validation image of {img.shape[1]}x{img.shape[0]} pixels is smaller than the "
                             f"network's {m}-pixel step")
        y, x = (crop.shape[0] - h) // 2, (crop.shape[1] - w) // 2
        return torch.from_numpy(crop[y:y + h, x:x + w].transpose(2, 0, 1) / 255.0).float()[None]


@torch.no_grad()
def update_average(average: nn.Module, model: nn.Module, decay: float) -> None:
    """average <- decay * average + (1 - decay) * model, for parameters; buffers (batch-norm
    statistics) are copied."""
    for a, m in zip(average.parameters(), model.parameters()):
        a.lerp_(m, 1 - decay)
    for a, m in zip(average.buffers(), model.buffers()):
        a.copy_(m)
