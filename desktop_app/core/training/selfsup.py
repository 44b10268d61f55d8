"""Self-supervised denoising from noisy photos alone (Neighbor2Neighbor, Huang et al., CVPR 2021).

Each 2x2 cell of a noisy photo y gives two pixels that are neighbours (side by side or one
above the other, never diagonal), chosen at random per cell: `g1(y)` and `g2(y)` are two
half-resolution images of the same scene whose noise is independent when the camera's noise
is independent from pixel to pixel. The network learns to map one to the other:

    loss = mean |f(g1(y)) - g2(y)|^2
         + gamma * mean |f(g1(y)) - g2(y) - (g1(f(y)) - g2(f(y)))|^2

with f(y) computed without gradients. The second term ties the network's result at half
resolution to its result at full resolution, the one a user sees. gamma: the paper ramps it
from 0 to 2 over training (`gamma` option, default 2), which matters from scratch when f(y)
is still poor; a fine-tune starts from a good denoiser (`--base`), so it gets the full
gamma from the first step.

Validation is the same loss on held-out noisy photos with fixed neighbour choices (lower is
better). When a folder `clean/` with the same file names lies beside the noisy photos, the
PSNR against those references is reported too; it never steers the training.

The method needs noise that is independent between neighbouring pixels. In JPEGs from a
camera (demosaiced, sharpened, compressed) it is not: in PolyU's Nikon D800 photos the noise
of adjacent pixels correlates at about 0.7, so g2(y) carries much of g1(y)'s noise and the
network learns to leave noise in (docs/models.md has the measurement). The `cell` option
(default 2) takes the two pixels from larger cells, `cell // 2` pixels apart, which weakens
that pull at the price of training on images 1/cell the size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from desktop_app.core.metrics import psnr
from desktop_app.core.work import Work
from desktop_app.core.training.base import TrainingCode
from desktop_app.core.training.config import TrainConfig
from desktop_app.core.training.data import ImageSet, iter_image_set, read_rgb


def neighbour_choice(n: int, height: int, width: int, gen: torch.Generator,
                     cell: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """For every `cell` x `cell` block of `n` images of `height` x `width` pixels (multiples
    of `cell`): the position in the block (row * cell + column) of a random first pixel and
    of a second one `cell // 2` pixels to its side or below it (wrapping round the block),
    each N x H/cell x W/cell. With 2x2 cells: two pixels that share an edge, never diagonal,
    each of the 8 such ordered pairs equally likely (Neighbor2Neighbor's sampler)."""
    shape = (n, height // cell, width // cell)
    first = torch.randint(cell * cell, shape, generator=gen)
    across = torch.randint(2, shape, generator=gen).bool()
    row, col = first // cell, first % cell
    half = cell // 2
    second = torch.where(across, row * cell + (col + half) % cell, (row + half) % cell * cell + col)
    return first, second


def subsample(img: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """The low-resolution image of the pixel at `position` (N x H/cell x W/cell, from
    `neighbour_choice`) of each cell, the same position for every channel."""
    n, c, h, w = img.shape
    cell = h // position.shape[1]
    cells = F.pixel_unshuffle(img, cell).view(n, c, cell * cell, h // cell, w // cell)
    index = position.to(img.device)[:, None, None].expand(n, c, 1, h // cell, w // cell)
    return torch.gather(cells, 2, index).squeeze(2)


def neighbour_loss(model: nn.Module, noisy: torch.Tensor, first: torch.Tensor,
                   second: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(reconstruction term, consistency term) of Neighbor2Neighbor; the loss is
    reconstruction + gamma * consistency."""
    with torch.no_grad():
        full = model(noisy, None)
    g1, g2 = subsample(noisy, first), subsample(noisy, second)
    diff = model(g1, None) - g2
    reconstruction = torch.mean(diff ** 2)
    consistency = torch.mean((diff - (subsample(full, first) - subsample(full, second))) ** 2)
    return reconstruction, consistency


def clean_reference(noisy_path: Path, noisy_root: Path) -> Path:
    """Where the clean version of a noisy photo would be: the same relative path in a folder
    `clean/` beside the noisy photos' folder."""
    return noisy_root.parent / "clean" / noisy_path.relative_to(noisy_root)


def noisy_folder(folder: Path) -> Path:
    """A folder holding `noisy/` (and perhaps `clean/`) means its `noisy/` sub-folder."""
    return folder / "noisy" if (folder / "noisy").is_dir() else folder


class SelfSupervisedDenoiseTask(TrainingCode):
    """Fine-tune (or train) the blind real-photo denoiser on the user's noisy photos alone."""

    def __init__(self, config: TrainConfig) -> None:
        super().__init__(config)
        self.gamma = float(self.config.task_options.get("gamma", 2.0))
        self.cell = int(self.config.task_options.get("cell", 2))
        self.gamma_now = self.gamma

    def attach(self, model: nn.Module) -> None:
        multiple = self.cell * self.size_multiple
        if self.config.patch % multiple:
            raise ValueError(f"the patch size must be a multiple of {multiple} (cell {self.cell} x the network's "
                             f"{multiple // self.cell}), not {self.config.patch}")

    def begin_step(self, step: int, lr: float) -> None:
        if not self.config.base:  # from scratch: ramp as the paper does
            self.gamma_now = self.gamma * min(1.0, step / max(1, self.config.steps))

    def read(self) -> Work[ImageSet]:
        """The noisy photos, split as any folder of images but holding back as few as two
        (a user may have only ten); each held-out photo that has a clean reference is kept as
        H x W x 6 (noisy, then clean) for the PSNR."""
        c = self.config
        roots = [noisy_folder(Path(f)) for f in c.data]
        data = yield from iter_image_set(roots, c.val_fraction, min(c.val_min, 2))
        for k, path in enumerate(data.val_paths):
            root = next(r for r in roots if r == path or r in path.parents)
            ref = clean_reference(path, root) if root != path else None
            if ref is not None and ref.is_file():
                clean = read_rgb(ref)
                if clean.shape == data.val[k].shape:
                    data.val[k] = np.concatenate([data.val[k], clean], axis=2)
        return data

    def loss(self, model: nn.Module, batch: torch.Tensor, gen: torch.Generator, device) -> tuple[torch.Tensor, dict]:
        noisy = batch[:, :3].to(device)
        first, second = neighbour_choice(noisy.shape[0], noisy.shape[2], noisy.shape[3], gen, self.cell)
        rec, reg = neighbour_loss(model, noisy, first, second)
        return rec + self.gamma_now * reg, {"reconstruction": rec.item(), "consistency": reg.item()}

    def validation_pairs(self, images: list[np.ndarray]) -> list[tuple]:
        """("self", noisy, clean or None, fixed neighbour choice) per held-out photo."""
        pairs = []
        for i, img in enumerate(images):
            both = self.centre_tensor(img, self.cell * self.size_multiple)  # whole cells the network takes
            noisy, clean = both[:, :3], (both[:, 3:] if both.shape[1] == 6 else None)
            choice = neighbour_choice(1, noisy.shape[2], noisy.shape[3], torch.Generator().manual_seed(1000 + i),
                                      self.cell)
            pairs.append(("self", noisy, clean, choice))
        return pairs

    def evaluate(self, model: nn.Module, pair: tuple, device) -> float:
        _, noisy, _, (first, second) = pair
        rec, reg = neighbour_loss(model, noisy.to(device), first, second)
        return (rec + self.gamma * reg).item()

    def side_metrics(self, model: nn.Module, pairs: list[tuple], device) -> dict[str, float]:
        """PSNR against the clean references (and of the noisy input), when there are some."""
        scored = [(noisy, clean, model(noisy.to(device), None).cpu()) for _, noisy, clean, _ in pairs
                  if clean is not None]
        if not scored:
            return {}
        return {"val_psnr": float(np.mean([psnr(out, clean) for _, clean, out in scored])),
                "val_psnr_noisy": float(np.mean([psnr(noisy, clean) for noisy, clean, _ in scored]))}

    def sample(self, model: nn.Module, pairs: list[tuple], device) -> tuple[np.ndarray, np.ndarray]:
        """The first held-out photo before and after, H x W x 3 in [0, 1], to look at."""
        noisy = pairs[0][1]
        out = model(noisy.to(device), None).clamp(0, 1).cpu()
        return noisy[0].permute(1, 2, 0).numpy(), out[0].permute(1, 2, 0).numpy()

