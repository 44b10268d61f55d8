"""Making images with a generator model (GAN or VAE), and measuring how close they are to
real ones, all without Qt and without pretrained networks.

Images follow the core's convention: float32 N x H x W x 3 in [0, 1]. The model contract
is the one in `models/archs/generators.py`: `sample(z, labels)`, `latent_dim`, `size`,
`num_classes` and `classes`.

Seeds: sample i of seed s depends on (s, i) only, so the first 4 of 16 samples are the 4
samples of a run asking for 4, and a sample can be made again from its seed and number.

Tensors become images (and back) only through the model runner's boundary functions
(`models/runner.py`); a shipped or library generator is loaded through the model manager
(`load_generator`). The generators stay on torch on the CPU too: they are small, and a
16-sample batch takes well under a second.
"""

from __future__ import annotations


import numpy as np
import torch
import torch.nn as nn

from desktop_app.core.metrics import SwdResult, laplacian_pyramid, swd  # noqa: F401  (re-exported)
from desktop_app.core.models.catalog import DEFAULT_GENERATOR  # noqa: F401  (re-exported)
from desktop_app.core.models.runner import images_from_tensor, tensor_from_images
from desktop_app.core.work import Progress, Work, run_work

LABEL_STREAM = 1_000_003  # offsets the seed of the class draws from the latent draws


def is_generator(model: nn.Module) -> bool:
    return callable(getattr(model, "sample", None)) and hasattr(model, "latent_dim")


def class_index(model: nn.Module, name: str) -> int:
    """The index of a class of a class-conditional model, by its name (the sub-folder the
    model was trained from); the error lists the known names."""
    classes = list(getattr(model, "classes", []) or [])
    if not getattr(model, "num_classes", 0):
        raise ValueError("this model has no classes (it was trained on a folder without class sub-folders)")
    if name in classes:
        return classes.index(name)
    raise ValueError(f"unknown class {name!r} (known: {', '.join(classes) or 'unnamed'})")


def latents(model: nn.Module, n: int, seed: int, start: int = 0, truncation: float = 1.0) -> torch.Tensor:
    """n x latent_dim standard-normal latents for samples start..start+n-1 of `seed`,
    scaled by `truncation` (< 1: less variety, more typical samples)."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.empty(start + n, model.latent_dim)
    for i in range(start + n):  # one draw per sample: sample i never depends on n
        z[i] = torch.randn(model.latent_dim, generator=gen)
    return z[start:] * truncation


def labels_for(model: nn.Module, n: int, seed: int, class_index: int | None = None,
               start: int = 0) -> torch.Tensor | None:
    """Class indices for the samples: the given class, or for a class-conditional model
    without one, a class drawn per sample from the seed; None for unconditional models."""
    classes = getattr(model, "num_classes", 0)
    if not classes:
        if class_index is not None:
            raise ValueError("this model has no classes (it was trained on a folder without class sub-folders)")
        return None
    if class_index is not None:
        if not 0 <= class_index < classes:
            raise ValueError(f"class index {class_index} out of range (the model has {classes} classes)")
        return torch.full((n,), class_index, dtype=torch.long)
    gen = torch.Generator().manual_seed(seed + LABEL_STREAM)
    return torch.randint(classes, (start + n,), generator=gen)[start:]


def load_generator(model_id: str, device: str | None = None) -> nn.Module:
    """A generator by its model id, through the model manager (kept warm, memory freed when
    another model is asked for)."""
    from desktop_app.core.models.manager import MANAGER

    model = MANAGER.get(model_id, device).module
    if not is_generator(model):
        raise ValueError(f"model {model_id!r} is not a generator")
    return model


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.inference_mode()
def _decode(model: nn.Module, z: torch.Tensor, labels: torch.Tensor | None) -> np.ndarray:
    device = _device_of(model)
    out = model.sample(z.to(device), None if labels is None else labels.to(device))
    return images_from_tensor(out)


def sample_work(model: nn.Module, n: int, seed: int = 0, class_index: int | None = None,
                truncation: float = 1.0, chunk: int = 16) -> Work[np.ndarray]:
    """`n` samples as N x S x S x 3 float32, `chunk` at a time (a progress event and a
    cancel point after each)."""
    if n < 1:
        raise ValueError("ask for at least one sample")
    if not is_generator(model):
        raise ValueError("this model is not a generator")
    model.eval()
    parts = []
    for start in range(0, n, chunk):
        count = min(chunk, n - start)
        z = latents(model, count, seed, start, truncation)
        parts.append(_decode(model, z, labels_for(model, count, seed, class_index, start)))
        yield Progress((start + count) / n, f"{start + count} of {n} samples")
    return np.concatenate(parts)


def sample(model: nn.Module, n: int, seed: int = 0, class_index: int | None = None,
           truncation: float = 1.0) -> np.ndarray:
    """`n` new images, N x S x S x 3 float32 in [0, 1]; the same seed gives the same images."""
    return run_work(sample_work(model, n, seed, class_index, truncation))


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation: in-between Gaussian latents keep a typical length, so the
    in-between images are as sharp as the ends (a straight line passes near the origin)."""
    cos = torch.clamp(torch.dot(a, b) / (a.norm() * b.norm() + 1e-12), -1.0, 1.0)
    angle = torch.arccos(cos)
    if angle < 1e-4:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * angle) * a + torch.sin(t * angle) * b) / torch.sin(angle)


def interpolate(model: nn.Module, seed_a: int, seed_b: int, steps: int = 8,
                class_index: int | None = None, truncation: float = 1.0,
                index_a: int = 0, index_b: int = 0) -> np.ndarray:
    """`steps` images morphing from sample `index_a` of `seed_a` to sample `index_b` of
    `seed_b` (the ends are exactly those samples), N x S x S x 3. A class-conditional model
    keeps the class of the first end unless one is given."""
    if steps < 2:
        raise ValueError("an interpolation needs at least 2 steps")
    za = latents(model, 1, seed_a, index_a, truncation)[0]
    zb = latents(model, 1, seed_b, index_b, truncation)[0]
    z = torch.stack([slerp(za, zb, i / (steps - 1)) for i in range(steps)])
    label = labels_for(model, 1, seed_a, class_index, start=index_a)
    labels = None if label is None else label.expand(steps)
    model.eval()
    return _decode(model, z, labels)


@torch.inference_mode()
def reconstruct(model: nn.Module, images: np.ndarray, class_index: int | None = None) -> np.ndarray:
    """A VAE's encode-then-decode of N x S x S x 3 images (S = the model's size)."""
    if not callable(getattr(model, "encode", None)):
        raise ValueError("only a VAE can encode images; this generator cannot")
    if images.ndim != 4 or images.shape[1:3] != (model.size, model.size):
        raise ValueError(f"images must be N x {model.size} x {model.size} x 3 for this model")
    model.eval()
    device = _device_of(model)
    x = tensor_from_images(images, device)
    labels = labels_for(model, len(images), 0, class_index)
    labels = None if labels is None else labels.to(device)
    mu, _ = model.encode(x, labels)
    return images_from_tensor(model.decode(mu, labels))


def parameters_of(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def describe(model: nn.Module) -> str:
    kind = "VAE" if callable(getattr(model, "encode", None)) else "GAN"
    classes = f", classes {', '.join(model.classes)}" if getattr(model, "classes", None) else ""
    return f"{kind} {model.size} px, latent {model.latent_dim}, {parameters_of(model) / 1e6:.1f} M parameters{classes}"


__all__ = ["DEFAULT_GENERATOR", "SwdResult", "class_index", "describe", "interpolate",
           "is_generator", "laplacian_pyramid", "latents", "reconstruct", "sample", "sample_work", "swd"]
