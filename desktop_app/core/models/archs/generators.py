"""Two small image generators: a DCGAN-style GAN generator and a convolutional VAE.

Both share one decoder: a latent vector (plus a learnt class embedding when the model is
class-conditional) becomes a 4 x 4 feature map through a linear layer, and each level
doubles the resolution with a 4 x 4 transposed convolution (or, with `upsample="nearest"`,
nearest-neighbour doubling and a 3 x 3 convolution) and batch norm (Radford et al., 2016;
class-conditional batch norm when there are classes), channels halving from
`max_width` down to `width` at full resolution; a 3 x 3 convolution makes the RGB image. Sizes are 4 * 2**k pixels (64 and 128 for real use; 16 or 32 for tests).

Every generator offers the same sampling contract: `sample(z, labels) -> N x 3 x S x S` in
[0, 1], z of shape N x `latent_dim` (standard normal), labels N class indices or None for an
unconditional model. The VAE also encodes: `encode(x, labels) -> (mu, logvar)` and
`decode(z, labels)`. The discriminator and the EMA copy used to train the GAN are training
machinery and live in `training/generative.py`.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from desktop_app.core.models.descriptor import Architecture, TilePolicy
from desktop_app.core.models.table import register


def level_widths(size: int, width: int, max_width: int) -> list[int]:
    """Channels per resolution, from the 4 x 4 map to full resolution: `width` at full
    resolution, doubling towards the 4 x 4 map up to `max_width`."""
    levels = round(math.log2(size / 4))
    if size < 8 or 4 * 2**levels != size:
        raise ValueError(f"size must be 4 x a power of two (16, 32, 64, 128, ...), not {size}")
    return [min(max_width, width * 2 ** (levels - i)) for i in range(levels + 1)]


class ClassCondition(nn.Module):
    """Appends a learnt class embedding to a feature vector (nothing when unconditional)."""

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.dim = dim if num_classes > 0 else 0
        self.embed = nn.Embedding(num_classes, dim) if num_classes > 0 else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.embed is None:
            return x
        if labels is None:
            raise ValueError("this model is class-conditional: give a class index per sample")
        return torch.cat([x, self.embed(labels.to(x.device))], dim=1)


class ClassBatchNorm(nn.Module):
    """Batch norm with a class-dependent scale and shift (conditional batch norm, de Vries et
    al. 2017, as in the class-conditional GANs of Miyato et al. and Brock et al.): every
    layer of the decoder, not only its input, learns what the class changes. Unconditional
    models have one "class", which makes it a plain batch norm."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.scale = nn.Embedding(max(num_classes, 1), channels)
        self.shift = nn.Embedding(max(num_classes, 1), channels)
        nn.init.zeros_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if labels is None:
            labels = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        x = self.norm(x)
        return x * (1 + self.scale(labels)[:, :, None, None]) + self.shift(labels)[:, :, None, None]


UPSAMPLING = ("transposed", "nearest")


class UpBlock(nn.Module):
    """Twice the resolution, then (class) batch norm and ReLU. "transposed": a 4 x 4
    transposed convolution (DCGAN); "nearest": nearest-neighbour doubling and a 3 x 3
    convolution, which cannot make the checkerboard pattern of uneven kernel overlap
    (Odena et al., 2016, "Deconvolution and checkerboard artifacts")."""

    def __init__(self, cin: int, cout: int, num_classes: int, upsample: str = "transposed") -> None:
        super().__init__()
        if upsample not in UPSAMPLING:
            raise ValueError(f"upsample must be one of {', '.join(UPSAMPLING)}, not {upsample!r}")
        self.nearest = upsample == "nearest"
        self.conv = (nn.Conv2d(cin, cout, 3, padding=1, bias=False) if self.nearest
                     else nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False))
        self.norm = ClassBatchNorm(cout, num_classes)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.nearest:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return F.relu(self.norm(self.conv(x), labels))


class ConvDecoder(nn.Module):
    """Latent (+ class) -> image in [0, 1], N x 3 x size x size."""

    def __init__(self, size: int, latent_dim: int, widths: list[int], num_classes: int,
                 upsample: str = "transposed") -> None:
        super().__init__()
        self.condition = ClassCondition(num_classes, latent_dim)
        self.project = nn.Linear(latent_dim + self.condition.dim, 16 * widths[0])
        self.top = ClassBatchNorm(widths[0], num_classes)
        self.width0 = widths[0]
        self.up = nn.ModuleList(UpBlock(a, b, num_classes, upsample) for a, b in zip(widths, widths[1:]))
        self.to_rgb = nn.Conv2d(widths[-1], 3, 3, padding=1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.project(self.condition(z, labels)).view(-1, self.width0, 4, 4)
        x = F.relu(self.top(x, labels))
        for block in self.up:
            x = block(x, labels)
        return torch.sigmoid(self.to_rgb(x))


class GanGenerator(nn.Module):
    """`forward(z, labels)` = `sample(z, labels)`."""

    def __init__(self, size: int = 64, latent_dim: int = 128, width: int = 16, max_width: int = 256,
                 num_classes: int = 0, classes: list[str] | None = None, upsample: str = "transposed") -> None:
        super().__init__()
        self.size, self.latent_dim = size, latent_dim
        self.num_classes, self.classes = _classes(num_classes, classes)
        self.decoder = ConvDecoder(size, latent_dim, level_widths(size, width, max_width), num_classes, upsample)

    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z, labels)

    forward = sample


class ConvEncoder(nn.Module):
    """Image (+ class) -> (mu, logvar) of a diagonal Gaussian over the latent."""

    def __init__(self, size: int, latent_dim: int, widths: list[int], num_classes: int) -> None:
        super().__init__()
        down = list(reversed(widths))  # full resolution first
        self.head = nn.Conv2d(3, down[0], 3, padding=1)
        self.down = nn.Sequential(*[
            nn.Sequential(nn.Conv2d(a, b, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True))
            for a, b in zip(down, down[1:])])
        self.condition = ClassCondition(num_classes, latent_dim)
        self.to_latent = nn.Linear(16 * down[-1] + self.condition.dim, 2 * latent_dim)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.down(F.leaky_relu(self.head(x * 2 - 1), 0.2)).flatten(1)
        mu, logvar = self.to_latent(self.condition(h, labels)).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 6)  # keeps exp(logvar) finite in early, wild steps


class ConvVAE(nn.Module):
    """`encode(x, labels) -> (mu, logvar)`, `decode(z, labels) -> image`; `forward(x, labels)`
    reconstructs through the posterior mean (deterministic, for inspection); the training
    task draws the reparameterised latent itself, with its own random generator."""

    def __init__(self, size: int = 64, latent_dim: int = 128, width: int = 16, max_width: int = 256,
                 num_classes: int = 0, classes: list[str] | None = None, upsample: str = "transposed") -> None:
        super().__init__()
        self.size, self.latent_dim = size, latent_dim
        self.num_classes, self.classes = _classes(num_classes, classes)
        widths = level_widths(size, width, max_width)
        self.encoder = ConvEncoder(size, latent_dim, widths, num_classes)
        self.decoder = ConvDecoder(size, latent_dim, widths, num_classes, upsample)

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(x, labels)

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z, labels)

    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z, labels)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, labels)[0], labels)


def _classes(num_classes: int, classes: list[str] | None) -> tuple[int, list[str]]:
    classes = list(classes or [])
    if classes and len(classes) != num_classes:
        raise ValueError(f"{len(classes)} class names for {num_classes} classes")
    return num_classes, classes


# "transposed" stays the default so that manifests written before "upsample" existed load
_DEFAULTS = {"size": 64, "latent_dim": 128, "width": 16, "max_width": 256, "num_classes": 0, "classes": [],
             "upsample": "transposed"}
# a generator makes whole images: nothing to tile
_WHOLE = TilePolicy(context=0, cpu_tile=128, gpu_tile=128)

GAN = register(Architecture(
    id="gan",
    task="generate",
    title="DCGAN generator",
    build=GanGenerator,
    in_channels=0,
    tiling=_WHOLE,
    default_hparams=dict(_DEFAULTS),
))

VAE = register(Architecture(
    id="vae",
    task="generate",
    title="Convolutional VAE",
    build=ConvVAE,
    tiling=_WHOLE,
    default_hparams=dict(_DEFAULTS),
))
