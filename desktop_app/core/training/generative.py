"""Training tasks for the generators (`models/archs/generators.py`): a GAN and a VAE,
optionally class-conditional, on random crops of a folder of images.

Data: the images of the folder (recursively), or, when it has sub-folders holding images,
one class per sub-folder ("bark/", "moss/", ...); the class names go into the model's
hyper-parameters, so a manifest maps `--class bark` to an index. Task options
(`TrainConfig.task_options`):

- `resize` (1.0): scale every image by this first, so a 64-pixel crop of a downscaled
  photo holds a recognisable texture rather than a patch of one colour;
- `crop` ("random"): "random" crops of `patch` pixels, or "whole" (each image's centre
  square resized to `patch`, for folders of objects rather than textures);
- `turn` (True for random crops): random 90-degree turns besides the mirror flip;
- `conditional` (True): use the class sub-folders when there are some;
- `val_samples` (256): generated and real crops per class compared by SWD at validation.

GAN options: `loss` ("hinge" or "ns", non-saturating), `ema` (0.999; 0 switches the
moving average off), `d_lr` (2.0: the discriminator's learning rate relative to the
generator's, the two-time-scale rule of Heusel et al. 2017), `d_width` (16: discriminator
channels at full resolution), `aux` (0.2: weight of the class guess, with classes),
`betas` ([0.0, 0.99]: Adam's, for both networks), `augment` ("": none; a comma-separated
choice of "color", "translation", "cutout": differentiable augmentation of every image the
discriminator sees, real and generated alike, Zhao et al. 2020, which keeps a discriminator
trained on few images from memorising them). VAE options: `kl_weight` (0.01, see
`VaeTask`), `kl_warmup` (1000 steps).

Validation generates `val_samples` images per class from fixed seeds and measures their
sliced Wasserstein distance to crops of the held-back images (`metrics.swd`); the trainer
keeps the checkpoint with the best "val_neg_swd" (higher is better, so the negated SWD).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from desktop_app.core import generation, metrics
from desktop_app.core.models.archs.generators import level_widths
from desktop_app.core.training.adam import Adam
from desktop_app.core.training.base import TrainingCode
from desktop_app.core.training.config import TrainConfig
from desktop_app.core.work import Work
from desktop_app.core.training.data import ImageSet, class_folders, iter_labelled_image_set, random_crop

VAL_SEED = 12345


class Discriminator(nn.Module):
    """The generator's mirror with spectral normalisation on every layer (Miyato et al.,
    2018), which keeps its gradients bounded, and the spread of the batch as an extra feature
    (`minibatch_spread`). With classes, the score adds the inner product of a class
    embedding with the features (the projection discriminator, Miyato & Koyama 2018), and a
    small head guesses the class (the auxiliary classifier of Odena et al. 2017): the guess
    gives the generator a direct push towards the right class, without which a tiny
    conditional GAN can swap two classes for hundreds of steps."""

    def __init__(self, size: int, width: int = 16, max_width: int = 256, num_classes: int = 0) -> None:
        super().__init__()
        sn = nn.utils.spectral_norm
        widths = list(reversed(level_widths(size, width, max_width)))  # full resolution first
        self.head = sn(nn.Conv2d(3, widths[0], 3, padding=1))
        self.down = nn.Sequential(*[
            nn.Sequential(sn(nn.Conv2d(a, b, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True))
            for a, b in zip(widths, widths[1:])])
        features = 16 * (widths[-1] + 1)
        self.score = sn(nn.Linear(features, 1))
        self.embed = sn(nn.Embedding(num_classes, features)) if num_classes > 0 else None
        self.classifier = sn(nn.Linear(features, num_classes)) if num_classes > 0 else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return minibatch_spread(self.down(F.leaky_relu(self.head(x * 2 - 1), 0.2))).flatten(1)

    def judge(self, h: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Realness scores (N) from features."""
        out = self.score(h)[:, 0]
        if self.embed is not None:
            out = out + (self.embed(labels) * h).sum(dim=1)
        return out

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.judge(self.features(x), labels)


def minibatch_spread(h: torch.Tensor, group: int = 4) -> torch.Tensor:
    """Appends one feature map: how much the features vary across a group of samples
    (Karras et al., 2018). A generator that makes the same image whatever its latent gives
    itself away by a spread of zero, so the discriminator can punish the collapse."""
    n, c, height, width = h.shape
    g = min(group, n)
    if n % g:
        g = 1
    spread = h.view(g, n // g, c, height, width).std(dim=0, unbiased=False).mean(dim=(1, 2, 3))  # n/g values
    plane = spread.repeat(g)[:, None, None, None].expand(n, 1, height, width)
    return torch.cat([h, plane], dim=1)


AUGMENTS = ("color", "translation", "cutout")


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], gen: torch.Generator) -> torch.Tensor:
    """Random, differentiable changes of a batch in [0, 1] (N x C x S x S), a draw per image:
    brightness, saturation and contrast ("color"), a shift by up to 1/8 of the size with
    zeros coming in ("translation"), a square of half the size blanked ("cutout")."""
    n, _, h, w = x.shape

    def u(*shape):
        return torch.rand(*shape, generator=gen).to(x.device)

    if "color" in policy:
        x = x + (u(n, 1, 1, 1) - 0.5) * 0.5
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (u(n, 1, 1, 1) * 2) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * (u(n, 1, 1, 1) + 0.5) + mean
    if "translation" in policy:
        sy, sx = h // 8, w // 8
        dy = (u(n) * (2 * sy + 1)).long() - sy
        dx = (u(n) * (2 * sx + 1)).long() - sx
        padded = F.pad(x, (sx, sx, sy, sy))
        rows = (torch.arange(h, device=x.device)[None] + sy + dy.to(x.device)[:, None])  # N x H
        cols = (torch.arange(w, device=x.device)[None] + sx + dx.to(x.device)[:, None])  # N x W
        x = padded[torch.arange(n, device=x.device)[:, None, None, None],
                   torch.arange(x.shape[1], device=x.device)[None, :, None, None],
                   rows[:, None, :, None], cols[:, None, None, :]]
    if "cutout" in policy:
        ch, cw = h // 2, w // 2
        cy = (u(n) * (h + 1 - ch % 2)).long().to(x.device)
        cx = (u(n) * (w + 1 - cw % 2)).long().to(x.device)
        ys = torch.arange(h, device=x.device)[None, :, None]
        xs = torch.arange(w, device=x.device)[None, None, :]
        inside = ((ys - cy[:, None, None]).abs() <= ch // 2) & ((xs - cx[:, None, None]).abs() <= cw // 2)
        x = x * (~inside)[:, None].to(x.dtype)
    return x


@torch.no_grad()
def refresh_batch_statistics(generator: nn.Module, batches: int = 4, batch: int = 32, seed: int = 0) -> None:
    """Re-estimate the batch-norm statistics of a generator from its own samples ("standing
    statistics", Brock et al. 2019): the averaged weights make activations of their own,
    which the statistics copied from the trained generator do not quite match."""
    norms = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    device = next(generator.parameters()).device
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batches below
    generator.train()
    for i in range(batches):
        z = generation.latents(generator, batch, seed, i * batch).to(device)
        labels = generation.labels_for(generator, batch, seed, None, i * batch)
        generator.sample(z, None if labels is None else labels.to(device))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    generator.eval()


def _scaled(img: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return img
    h, w = img.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(img).resize(size, Image.Resampling.LANCZOS))


def _whole(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return np.asarray(Image.fromarray(img[y:y + s, x:x + s]).resize((size, size), Image.Resampling.LANCZOS))


def blurred_crops(images: list[np.ndarray], n: int, size: int, seed: int = 0, blur: float = 2.0) -> np.ndarray:
    """A trivial 'generator' for reference: random crops of real uint8 images (H x W x 3),
    Gaussian-blurred with sigma `blur` pixels. N x size x size x 3 float32."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), np.float32)
    for k in range(n):
        crop = random_crop(images[rng.integers(len(images))], size, rng, turn=False).astype(np.float32) / 255.0
        out[k] = cv2.GaussianBlur(crop, (0, 0), blur, borderType=cv2.BORDER_REFLECT)
    return out


class GenerativeTask(TrainingCode):
    """What the GAN and VAE tasks share: labelled data, crops, validation by SWD."""

    default_arch = "gan"  # named in the message when the network is not a generator

    def __init__(self, config: TrainConfig) -> None:
        super().__init__(config)
        c, opts = self.config, self.config.task_options
        self.resize = float(opts.get("resize", 1.0))
        self.crop = str(opts.get("crop", "random"))
        if self.crop not in ("random", "whole"):
            raise ValueError(f"crop must be 'random' or 'whole', not {self.crop!r}")
        self.turn = bool(opts.get("turn", self.crop == "random"))
        self.val_samples = int(opts.get("val_samples", 256))
        # the model is built after the task: say here what size and classes it must have
        hp = c.hparams
        if hp.setdefault("size", c.patch) != c.patch:
            raise ValueError(f"the crop size (patch {c.patch}) must equal the model size ({hp['size']})")
        if c.patch < 16 or c.patch & (c.patch - 1):
            raise ValueError(f"a generator makes images of 16, 32, 64, 128... pixels; the crop size (patch) "
                             f"cannot be {c.patch}")
        if c.base is None and opts.get("conditional", True) and c.data:
            classes = class_folders(c.data)
            if classes:
                hp.update(num_classes=len(classes), classes=classes)
        self._rng = np.random.default_rng(c.seed + 23)

    def attach(self, model: nn.Module) -> None:
        if not generation.is_generator(model):
            raise ValueError(f"task {self.config.task} trains a generator; architecture "
                             f"{self.config.arch!r} is not one (use --arch {self.default_arch})")
        super().attach(model)

    # -- data ---------------------------------------------------------------------------
    def read(self) -> Work[ImageSet]:
        c = self.config
        classes = list(c.hparams.get("classes") or [])
        if c.hparams.get("num_classes", 0) and not classes:
            raise ValueError("a class-conditional model needs its class names in hparams['classes']")
        data = yield from iter_labelled_image_set(c.data, classes, c.val_fraction, c.val_min)
        prepare = (lambda img: _whole(img, c.patch)) if self.crop == "whole" else (lambda img: _scaled(img, self.resize))
        data.train = [prepare(img) for img in data.train]
        data.val = [prepare(img) for img in data.val]
        self.data = data
        return data

    def _crops(self, images: list[np.ndarray], labels: list[int], count: int, size: int,
               rng: np.random.Generator, classes: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Class-balanced random crops: a class, then an image of it, then a crop."""
        by_class = [[i for i, lab in enumerate(labels) if lab == k] for k in range(max(classes, 1))]
        by_class = [idx for idx in by_class if idx]
        batch = np.empty((count, 3, size, size), np.float32)
        picked = np.empty(count, np.int64)
        for n in range(count):
            idx = by_class[rng.integers(len(by_class))] if classes else range(len(images))
            i = idx[rng.integers(len(idx))]
            batch[n] = random_crop(images[i], size, rng, self.turn).transpose(2, 0, 1) / 255.0
            picked[n] = labels[i]
        return torch.from_numpy(batch), (torch.from_numpy(picked) if classes else None)

    def batch(self, data: ImageSet, count: int, size: int, rng: np.random.Generator):
        return self._crops(data.train, data.train_labels, count, size, rng, len(data.classes))

    # -- validation ---------------------------------------------------------------------
    def validation_pairs(self, images: list[np.ndarray]) -> list[tuple]:
        """One entry per class: (name, real crops of the held-back images, class index)."""
        data, size = self.data, self.config.patch
        names = data.classes or ["all"]
        pairs = []
        for k, name in enumerate(names):
            idx = [i for i, lab in enumerate(data.val_labels) if lab == k] if data.classes else list(range(len(images)))
            if not idx:
                continue
            rng = np.random.default_rng(VAL_SEED + k)
            crops, _ = self._crops([images[i] for i in idx], [0] * len(idx), self.val_samples, size, rng, 0)
            pairs.append((name, crops, k if data.classes else None))
        return pairs

    def evaluate(self, model: nn.Module, pair: tuple, device) -> float:
        _, real, index = pair
        fake = generation.sample(model, len(real), seed=VAL_SEED, class_index=index)
        # both sets normalised by the real crops' statistics, so colour and contrast count too
        return -metrics.swd(real, fake, descriptors_per_image=64, directions=256, normalise="real").mean


class GanTask(GenerativeTask):
    """A DCGAN-style generator against a spectrally normalised discriminator, with the hinge
    loss (or the non-saturating one), two time scales, and an exponential moving average of
    the generator's weights, which is what gets validated and exported: averaging smooths
    out the oscillation of adversarial training (Yazici et al., 2019)."""

    default_arch = "gan"
    adam_betas = (0.0, 0.99)  # no momentum: the adversary keeps moving the target

    def __init__(self, config: TrainConfig) -> None:
        super().__init__(config)
        opts, c = self.config.task_options, self.config
        self.loss_kind = str(opts.get("loss", "hinge"))
        if self.loss_kind not in ("hinge", "ns"):
            raise ValueError(f"loss must be 'hinge' or 'ns', not {self.loss_kind!r}")
        self.ema_decay = float(opts.get("ema", 0.999))
        self.d_lr = float(opts.get("d_lr", 2.0))
        self.adam_betas = tuple(opts.get("betas", self.adam_betas))
        self.aux = float(opts.get("aux", 0.2))  # weight of the class guess, with classes
        self.augment = tuple(a.strip() for a in str(opts.get("augment", "")).split(",") if a.strip())
        unknown = set(self.augment) - set(AUGMENTS)
        if unknown:
            raise ValueError(f"augment takes {', '.join(AUGMENTS)}, not {', '.join(sorted(unknown))}")
        torch.manual_seed(c.seed + 1)
        disc = Discriminator(c.patch, int(opts.get("d_width", 16)), int(c.hparams.get("max_width", 256)),
                             int(c.hparams.get("num_classes", 0)))
        self.modules = {"disc": disc,
                        "disc_opt": Adam(disc.parameters(), lr=c.lr * self.d_lr, betas=self.adam_betas)}

    def begin_step(self, step: int, lr: float) -> None:
        super().begin_step(step, lr)
        for g in self.modules["disc_opt"].param_groups:
            g["lr"] = lr * self.d_lr

    def inference_model(self, model: nn.Module) -> nn.Module:
        """The network to validate and export: the moving average when there is one, with its
        own batch statistics."""
        average = super().inference_model(model)
        if average is not model:
            refresh_batch_statistics(average, seed=VAL_SEED)
        return average

    def _d_losses(self, real_score: torch.Tensor, fake_score: torch.Tensor) -> torch.Tensor:
        if self.loss_kind == "hinge":
            return F.relu(1 - real_score).mean() + F.relu(1 + fake_score).mean()
        return F.softplus(-real_score).mean() + F.softplus(fake_score).mean()

    def _g_loss(self, fake_score: torch.Tensor) -> torch.Tensor:
        return -fake_score.mean() if self.loss_kind == "hinge" else F.softplus(-fake_score).mean()

    def _class_loss(self, disc: Discriminator, h: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if labels is None or self.aux == 0:
            return h.new_zeros(())
        return self.aux * F.cross_entropy(disc.classifier(h), labels)

    def loss(self, model: nn.Module, batch, gen: torch.Generator, device) -> tuple[torch.Tensor, dict]:
        real, labels = batch
        real = real.to(device)
        labels = None if labels is None else labels.to(device)
        disc, dopt = self.modules["disc"], self.modules["disc_opt"]
        z = torch.randn(real.shape[0], model.latent_dim, generator=gen).to(device)
        fake = model(z, labels)
        if self.augment:
            real = diff_augment(real, self.augment, gen)
        seen_fake = diff_augment(fake, self.augment, gen) if self.augment else fake
        # the discriminator's step, on the same fakes the generator then learns from
        disc.requires_grad_(True)
        h_real = disc.features(real)
        real_score, fake_score = disc.judge(h_real, labels), disc(seen_fake.detach(), labels)
        d_loss = self._d_losses(real_score, fake_score) + self._class_loss(disc, h_real, labels)
        dopt.zero_grad(set_to_none=True)
        d_loss.backward()
        dopt.step()
        disc.requires_grad_(False)
        h_fake = disc.features(seen_fake)
        g_loss = self._g_loss(disc.judge(h_fake, labels)) + self._class_loss(disc, h_fake, labels)
        return g_loss, {"d_loss": d_loss.item(), "d_real": real_score.mean().item(),
                        "d_fake": fake_score.mean().item()}


class VaeTask(GenerativeTask):
    """A VAE trained on mean squared error plus `beta` times the KL divergence from the
    standard normal prior, both per pixel. beta = 2 sigma^2 for a decoder whose pixels have
    Gaussian noise sigma: `kl_weight` 0.01 allows sigma ~ 0.07 (sharper reconstructions,
    samples further from the prior), 0.05 ~ 0.16 (blurrier, better samples). beta rises
    linearly from 0 over the first `kl_warmup` steps, so the encoder learns to encode before
    the prior pulls its codes together (Bowman et al., 2016)."""

    default_arch = "vae"

    def __init__(self, config: TrainConfig) -> None:
        super().__init__(config)
        opts = self.config.task_options
        self.kl_weight = float(opts.get("kl_weight", 0.01))
        self.kl_warmup = int(opts.get("kl_warmup", 1000))

    def attach(self, model: nn.Module) -> None:
        super().attach(model)
        if not callable(getattr(model, "encode", None)):
            raise ValueError(f"task {self.config.task} trains a VAE; architecture {self.config.arch!r} "
                             "cannot encode (use --arch vae)")

    @property
    def beta(self) -> float:
        return self.kl_weight * min(1.0, self.step / max(1, self.kl_warmup))

    def loss(self, model: nn.Module, batch, gen: torch.Generator, device) -> tuple[torch.Tensor, dict]:
        real, labels = batch
        real = real.to(device)
        labels = None if labels is None else labels.to(device)
        mu, logvar = model.encode(real, labels)
        eps = torch.randn(mu.shape, generator=gen).to(device)
        recon = model.decode(mu + torch.exp(0.5 * logvar) * eps, labels)
        rec = F.mse_loss(recon, real)
        kl = (-0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=1)).mean() / real[0].numel()
        return rec + self.beta * kl, {"rec": rec.item(), "kl": kl.item(), "beta": self.beta}
