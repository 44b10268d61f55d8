"""The restoration tasks' training code (denoisers, inpainting): what each does with a batch
of clean patches, how it degrades them, what loss it optimises, and how it measures
validation PSNR. The trainer owns everything else
(data, schedule, checkpoints, export). The generators' tasks (GAN, VAE) are in
`generative.py`, self-supervised denoising from noisy photos alone in `selfsup.py`; each
task's descriptor (title, defaults, metric) is in `registry.py`."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from desktop_app.core.metrics import psnr, ssim_map
from desktop_app.core.work import Progress, Work
from desktop_app.core.imaging.noise import CLIP_MARGIN
from desktop_app.core.training import degrade, wiener_step
from desktop_app.core.training.adam import Adam
from desktop_app.core.training.base import TrainingCode
from desktop_app.core.training.config import TrainConfig
from desktop_app.core.training.data import ImageSet, find_images, iter_pairs, random_patches, read_rgb
from desktop_app.core.training.masks import mask_batch, random_mask


class DenoiseTask(TrainingCode):
    """The Gaussian denoiser: white noise of a random level, the level as an input map."""

    def __init__(self, config: TrainConfig) -> None:
        super().__init__(config)
        opts = self.config.task_options
        # most samples as files hold them (clipped, quantised), some in vivid colours
        self.clip_fraction = float(opts.get("clip", 0.8))
        self.colour_fraction = float(opts.get("colour", 0.3))
        # samples whose noise grows with brightness, the map per pixel (what "auto" now gives)
        self.level_fraction = float(opts.get("level", 0.0))
        # 0: plain L1, whose gradient weighs every pixel alike, so the loud samples' large
        # errors set the pace; 1: each sample's L1 divided by its noise level, which is the
        # gradient of the mean log error, i.e. of the mean PSNR over all levels
        self.balance = float(opts.get("balance", 0.0))
        # samples cut at twice the size and halved: a JPEG stores colour at half resolution,
        # so the training photos hold almost no fine colour detail (its energy against the
        # brightness's 0.008 in CBSD432, 0.021 in Kodak, 0.21 in McMaster; halved, 0.025)
        self.half_fraction = float(opts.get("half", 0.0))
        self.tint = float(opts.get("tint", 0.7))  # the vivid colours' lowest channel gain
        # samples whose level is drawn from the low range only (degrade.LOW_SIGMA)
        self.low_fraction = float(opts.get("low", 0.0))
        # 1: each sample's loss the log of its mean squared error: the mean PSNR over the batch
        # itself (what the benchmarks score; L1 is the robust start, this the last polish)
        self.psnr = float(opts.get("psnr", 0.0))
        # the share of the loss on the app's result after its Wiener step (`wiener_step`), the
        # rest on the network's own: the network learns to guide that step
        self.refine = float(opts.get("refine", 0.0))
        if self.psnr not in (0.0, 1.0):
            raise ValueError(f"psnr is 0 (L1) or 1 (the samples' mean PSNR), not {self.psnr}")
        # a moving average of the weights, validated and exported: at batch 16 a fine-tune's
        # weights wander (McMaster's sigma 15 moved by 0.1 dB between checkpoints 1600 steps apart)
        self.ema_decay = float(opts.get("ema", 0.0))
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema is the moving average's decay per step, from 0 (none) to below 1, "
                             f"not {self.ema_decay}")
        for key, value in (("clip", self.clip_fraction), ("colour", self.colour_fraction),
                           ("balance", self.balance), ("level", self.level_fraction),
                           ("half", self.half_fraction), ("tint", self.tint), ("low", self.low_fraction),
                           ("refine", self.refine)):
            if not 0 <= value <= 1:
                raise ValueError(f"{key} is a fraction from 0 to 1, not {value}")

    def batch(self, data: ImageSet, count: int, size: int, rng: np.random.Generator) -> torch.Tensor:
        halved = int(rng.binomial(count, self.half_fraction)) if self.half_fraction > 0 else 0
        patches = random_patches(data.train, count - halved, size, rng)
        if halved:
            patches = np.concatenate([patches, random_patches(data.train, halved, size, rng, (0.5, 0.5))])
        return torch.from_numpy(patches)

    def degrade(self, clean: torch.Tensor, gen: torch.Generator):
        return degrade.gaussian(clean, self.config.sigma_max, self.config.grey_fraction, gen,
                                self.clip_fraction, self.colour_fraction, self.level_fraction, self.tint,
                                self.low_fraction)

    def loss(self, model: nn.Module, clean: torch.Tensor, gen: torch.Generator, device) -> tuple[torch.Tensor, dict]:
        # degraded where the network runs: on a GPU the noise's blurs cost nothing there
        noisy, target, sigma = self.degrade(clean.to(device), gen)
        sigma = sigma if sigma is not None and getattr(model, "noise_map", False) else None
        out = model(noisy, sigma)
        per_sample = self.sample_errors(out, target)
        if self.refine and sigma is not None:
            refined = self.sample_errors(self.refined(noisy, out, sigma), target)
            per_sample = (1 - self.refine) * per_sample + self.refine * refined
        if self.psnr:  # the mean PSNR sets its own balance between levels
            return torch.mean(per_sample), {}
        return torch.mean(per_sample * self.sample_weights(noisy, target)), {}

    def sample_errors(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Each sample's loss: its L1, or with `psnr` minus its PSNR less a constant (10 log10
        of its mean squared error)."""
        if self.psnr:
            return 10.0 * torch.log10((out - target).square().flatten(1).mean(dim=1) + 1e-10)
        return torch.abs(out - target).flatten(1).mean(dim=1)

    @staticmethod
    def refined(noisy: torch.Tensor, out: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """The app's result after its Wiener step; black-and-white samples (one noise in all
        channels, which the app filters as one channel) keep the network's."""
        if noisy.shape[1] != 3:
            return out
        colour = ~degrade.is_grey(noisy).to(noisy.device)
        if not colour.any():
            return out
        noisy, guide = noisy[colour], out[colour]
        sigma = sigma[colour] if sigma.shape[0] == colour.shape[0] else sigma
        clipped = (noisy.flatten(1).amin(dim=1) >= -CLIP_MARGIN) & (noisy.flatten(1).amax(dim=1) <= 1 + CLIP_MARGIN)
        result = out.clone()
        result[colour] = wiener_step.refine(noisy, guide, sigma, clipped)
        return result

    def sample_weights(self, noisy: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """Per-sample loss weights: 1 for plain L1; with `balance` b, (25 / (s + 5)) ** b for a
        sample whose added noise has standard deviation s (0-255 scale), so a sample at 25
        weighs as before, one at 5 2.5x as much, one at 75 a third."""
        if self.balance == 0:
            return torch.ones(noisy.shape[0], device=noisy.device)
        level = (noisy - clean).flatten(1).std(dim=1) * 255.0
        return (25.0 / (level + 5.0)) ** self.balance

    def validation_pairs(self, images: list[np.ndarray]) -> list[tuple]:
        pairs = []
        for i, img in enumerate(images):
            clean = self.centre_tensor(img)
            for s in self.config.val_sigmas:
                g = torch.Generator().manual_seed(1000 * i + int(s))
                noise = torch.randn(clean.shape, generator=g)
                if degrade.is_grey(clean)[0]:  # a black-and-white photo: one noise for all channels
                    noise = noise[:, :1].expand_as(clean)
                noisy = clean + noise * (s / 255.0)
                sigma = torch.full((1, 3), s / 255.0)
                pairs.append((f"s{int(s)}", noisy, clean, sigma))
                if self.clip_fraction > 0:  # the same noise as an 8-bit file holds it
                    pairs.append((f"c{int(s)}", torch.round(noisy.clamp(0, 1) * 255) / 255, clean, sigma))
                if self.level_fraction > 0:  # growing with brightness, 0.3 to 1.3 s, in a 16-bit file
                    top, black = torch.tensor([1.3 * s / 255.0]), torch.tensor([0.3 / 1.3])
                    sd = degrade.level_curve(clean, top, black)
                    level = torch.round((clean + noise * sd).clamp(0, 1) * 65535) / 65535
                    # the map as the app reads it: at the noisy photo's blurred level
                    pairs.append((f"l{int(s)}", level, clean, degrade.level_curve(degrade.app_level(level), top, black)))
        return pairs

    def evaluate(self, model: nn.Module, pair: tuple, device) -> float:
        _, noisy, clean, sigma = pair
        noise_map = sigma.to(device) if sigma is not None and getattr(model, "noise_map", False) else None
        noisy = noisy.to(device)
        out = model(noisy, noise_map)
        if self.refine and noise_map is not None:  # what it is trained for: the result after the step
            out = self.refined(noisy, out, noise_map)
        return psnr(out.cpu(), clean)


class RealDenoiseTask(DenoiseTask):
    """The blind real-photo denoiser: camera-like noise, no noise-level input."""

    def degrade(self, clean: torch.Tensor, gen: torch.Generator):
        return degrade.realistic(clean, gen)

    def validation_pairs(self, images: list[np.ndarray]) -> list[tuple]:
        pairs = []
        for i, img in enumerate(images):
            clean = self.centre_tensor(img)
            for k in range(2):
                g = torch.Generator().manual_seed(1000 * i + k)
                noisy, _, _ = degrade.realistic(clean, g, jpeg_probability=0.5, gaussian_probability=0.0)
                pairs.append((f"real{k}", noisy, clean, None))
        return pairs


NLMEANS_STRENGTHS = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0)  # real camera noise at ISO 800-6400 (PolyU: best 4-8)


class PairedRealDenoiseTask(RealDenoiseTask):
    """Fine-tuning the blind model on real camera noise: folders of (noisy, clean) pairs
    (`noisy/` and `clean/`, same names). A share of each batch (`real`, three quarters by
    default) is real pairs; the rest gets synthetic camera noise on the clean crops, so the
    model keeps its general skill, and a share of those (`colour`, as for the Gaussian
    denoiser, but all by default) is first given vivid colours (`degrade.vivid`): a
    calibration's few scenes hold few saturated colours, and a model that saw none for ten
    minutes washed a red toy out (docs/models.md).
    `balance` weighs the samples as for the Gaussian denoiser.
    With `transfer` (a folder of clean photos) a share of the real samples (`transfer_share`,
    half by default) carries a real pair's noise (its noisy minus its clean, from a random crop)
    onto a crop of one of those photos instead: the camera's own noise on far more kinds of
    texture than a few scenes hold.
    With `ema` (a decay per step, e.g. 0.999) a moving average of the weights is validated and
    kept instead of the weights of one step: on a few pairs the validation swings by 0.1 dB
    from one step to the next.
    Validation: the held-back real pairs (`training.data.held_back_pairs`); the manifest lists
    the files trained on."""

    def __init__(self, config: TrainConfig) -> None:
        super().__init__(config)
        opts = self.config.task_options
        self.real_fraction = float(opts.get("real", 0.75))
        if not 0 < self.real_fraction <= 1:
            raise ValueError(f"real is the share of each batch taken from the pairs, above 0 and at most 1, "
                             f"not {self.real_fraction}")
        if "colour" not in opts:
            self.colour_fraction = 1.0
        self.transfer_folder = opts.get("transfer")
        self.transfer_share = float(opts.get("transfer_share", 0.5))
        if not 0 <= self.transfer_share <= 1:
            raise ValueError(f"transfer_share is a fraction from 0 to 1, not {self.transfer_share}")
        self.transfer_images: list[np.ndarray] = []

    def read(self) -> Work[ImageSet]:
        data = yield from iter_pairs(self.config.data, self.config.val_fraction)
        if self.transfer_folder:
            self.transfer_images = yield from self.read_transfer()
        return data

    def read_transfer(self) -> Work[list[np.ndarray]]:
        """The photos of the `transfer` folder (damaged ones left out)."""
        images = []
        for path in find_images([self.transfer_folder]):
            yield Progress(None, f"reading {path.name}")
            try:
                images.append(read_rgb(path))
            except Exception:  # noqa: BLE001 - a damaged photo is left out, as in the other sets
                continue
        if not images:
            raise FileNotFoundError(f"{self.transfer_folder}: no photos to carry the noise onto")
        return images

    def batch(self, data: ImageSet, count: int, size: int, rng: np.random.Generator) -> torch.Tensor:
        """Random crops of the pairs (noisy, clean: 6 channels); with `transfer`, the first
        `transfer_share` of the real samples hold a pair's noise on a clean photo's crop,
        clipped and rounded to 8 bits as a file would be."""
        batch = torch.from_numpy(random_patches(data.train, count, size, rng))
        moved = round(round(count * self.real_fraction) * self.transfer_share) if self.transfer_images else 0
        if moved:
            clean = torch.from_numpy(random_patches(self.transfer_images, moved, size, rng))
            noise = batch[:moved, :3] - batch[:moved, 3:]
            noisy = torch.round((clean + noise).clamp(0, 1) * 255) / 255
            batch[:moved] = torch.cat([noisy, clean], dim=1)
        return batch

    def loss(self, model: nn.Module, batch: torch.Tensor, gen: torch.Generator, device) -> tuple[torch.Tensor, dict]:
        batch = batch.to(device)
        noisy, clean = batch[:, :3], batch[:, 3:]
        real = max(1, round(batch.shape[0] * self.real_fraction))
        vivid = torch.rand(batch.shape[0] - real, generator=gen) < self.colour_fraction
        clean = torch.cat([clean[:real], degrade.vivid(clean[real:], vivid, gen)])
        synthetic, _, _ = degrade.realistic(clean[real:], gen)
        noisy = torch.cat([noisy[:real], synthetic])
        out = model(noisy, None)
        per_sample = torch.abs(out - clean).flatten(1).mean(dim=1)
        return torch.mean(per_sample * self.sample_weights(noisy, clean)), {}

    def validation_pairs(self, images: list[np.ndarray]) -> list[tuple]:
        pairs = []
        for img in images:
            both = self.centre_tensor(img)
            pairs.append(("real", both[:, :3], both[:, 3:], None))
        return pairs

    def baselines(self, pairs: list[tuple]) -> dict[str, float]:
        """NL-Means at its best single strength on these photos (picked with their clean
        references, a help no user has): what a calibration must beat to be worth it."""
        from desktop_app.core.operations import apply_operation, registry
        from desktop_app.core.work import run_work

        op = registry.get("denoise", "nlmeans")

        def score(sigma: float) -> float:
            results = []
            for _, noisy, clean, _ in pairs:
                out = run_work(apply_operation(op, noisy[0].permute(1, 2, 0).numpy(), params={"sigma": sigma}))
                results.append(psnr(torch.from_numpy(out).permute(2, 0, 1)[None], clean))
            return float(np.mean(results))

        scores = {sigma: score(sigma) for sigma in NLMEANS_STRENGTHS}
        sigma = max(scores, key=scores.get)
        return {f"NL-Means at its best strength (sigma {sigma:g})": scores[sigma]}


class PatchDiscriminator(nn.Module):
    """A small spectrally normalised PatchGAN: one real/fake score per ~30-pixel patch."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        sn = nn.utils.spectral_norm
        layers: list[nn.Module] = []
        cin = 4  # image + mask, so it can judge the fill against where the hole was
        for i, cout in enumerate((width, 2 * width, 4 * width)):
            layers += [sn(nn.Conv2d(cin, cout, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            cin = cout
        layers.append(sn(nn.Conv2d(cin, 1, 3, padding=1)))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image * 2 - 1, mask], dim=1))


class InpaintTask(TrainingCode):
    """Holes of 5-50 % of the patch (strokes, boxes, blobs). The loss: L1 (hole weighted 6x
    the rest), plus, when `ssim_weight` > 0, 1 - SSIM over the hole's pixels (it rewards
    continuing edges and contrast over a flat average), plus, when `adv_weight` > 0, a hinge
    loss from a patch discriminator that only judges the hole (sharper textures), and a
    mode-seeking term (Mao et al., 2019) on pairs of samples of the same crop with different
    noise, so that seeds give different fills.

    `adv_scale` (default 1): the discriminator judges the crop and its mask reduced this many
    times (area), so its ~30-pixel patches see the layout of the fill rather than its grain.
    Remove object keeps only the network's content above a few pixels; a discriminator at that
    scale punishes the flat average an L1 loss settles on where the hole is too wide to guess.

    `zoom` (lo, hi; default 1, 1): each crop is cut `zoom` times smaller and enlarged to the
    patch size, zoom drawn uniformly from lo to hi. The training photos are small (481 x 321)
    and dense with detail per pixel; enlarged, they look like the smoother pixels of a
    camera's full-size photo, which is what the app fills.

    `pairs` (default true): the batch holds each crop twice, with the same mask and different
    noise, which the mode-seeking term compares; off (for stages without that term), every
    crop of the batch is a different one."""

    def __init__(self, config: TrainConfig) -> None:
        super().__init__(config)
        hp = self.config.task_options
        self.adv_weight = float(hp.get("adv_weight", 0.02))
        self.ms_weight = float(hp.get("ms_weight", 0.003))
        self.ssim_weight = float(hp.get("ssim_weight", 0.0))
        self.adv_scale = int(hp.get("adv_scale", 1))
        if self.adv_scale < 1:
            raise ValueError(f"adv_scale must be a whole number from 1 up, not {hp.get('adv_scale')!r}")
        self.coverage = tuple(hp.get("coverage", (0.05, 0.5)))
        self.pairs = bool(hp.get("pairs", True))
        if self.ms_weight > 0 and not self.pairs:
            raise ValueError("the mode-seeking term (ms_weight) compares pairs: it needs pairs on")
        zoom = hp.get("zoom", (1.0, 1.0))
        self.zoom = (float(zoom), float(zoom)) if isinstance(zoom, (int, float)) else tuple(map(float, zoom))
        if not 1 <= self.zoom[0] <= self.zoom[1]:
            raise ValueError(f"zoom must be two numbers from 1 up, the first not above the second, not {zoom!r}")
        if self.adv_weight > 0:
            torch.manual_seed(self.config.seed + 1)
            disc = PatchDiscriminator()
            self.modules = {"disc": disc, "disc_opt": Adam(disc.parameters(), lr=self.config.lr, betas=(0.5, 0.99))}
        self._rng = np.random.default_rng(self.config.seed + 17)

    def batch(self, data: ImageSet, count: int, size: int, rng: np.random.Generator) -> torch.Tensor:
        return torch.from_numpy(random_patches(data.train, count, size, rng, self.zoom))

    def loss(self, model: nn.Module, clean: torch.Tensor, gen: torch.Generator, device) -> tuple[torch.Tensor, dict]:
        if self.pairs:  # each crop twice, with the same mask and different noise
            half = max(1, clean.shape[0] // 2)
            clean = torch.cat([clean[:half], clean[:half]]).to(device)
            mask = torch.from_numpy(mask_batch(half, clean.shape[-1], self._rng, self.coverage))
            mask = torch.cat([mask, mask]).to(device)
        else:
            clean = clean.to(device)
            mask = torch.from_numpy(mask_batch(clean.shape[0], clean.shape[-1], self._rng, self.coverage)).to(device)
        noise = torch.randn(mask.shape, generator=gen).to(device)
        out = model(clean, mask, noise)
        l1 = torch.abs(out - clean)
        rec = (6 * (l1 * mask).mean() + (l1 * (1 - mask)).mean())
        logs = {"l1_hole": ((l1 * mask).sum() / (3 * mask.sum() + 1e-8)).item()}
        total = rec
        if self.ssim_weight > 0:
            r = 3  # the map is 3 pixels smaller on every side (7 x 7 windows)
            inner = mask[:, :, r:-r, r:-r]
            ssim = (ssim_map(out, clean) * inner).sum() / (3 * inner.sum() + 1e-8)
            total = total + self.ssim_weight * (1 - ssim)
            logs["ssim_hole"] = ssim.item()
        if self.ms_weight > 0:
            diff = (torch.abs(out[:half] - out[half:]) * mask[:half]).sum() / (3 * mask[:half].sum() + 1e-8)
            zdiff = (torch.abs(noise[:half] - noise[half:]) * mask[:half]).sum() / (mask[:half].sum() + 1e-8)
            ratio = diff / (zdiff + 1e-8)
            # 1/(ratio) as in MSGAN, softened so it stops pushing once fills differ visibly
            total = total + self.ms_weight * 0.05 / (ratio + 0.01)
            logs["variation"] = diff.item()
        if self.adv_weight > 0:
            disc, dopt = self.modules["disc"], self.modules["disc_opt"]
            k = self.adv_scale
            judged = (lambda x: F.avg_pool2d(x, k)) if k > 1 else (lambda x: x)
            real, fake, mask_k = judged(clean), judged(out), judged(mask)
            # discriminator step: real crops vs. detached fills, judged inside the hole
            disc.requires_grad_(True)
            d_real = disc(real, mask_k)
            d_fake = disc(fake.detach(), mask_k)
            small = F.interpolate(mask_k, size=d_fake.shape[-2:], mode="area")
            d_loss = (F.relu(1 - d_real) * small).mean() + (F.relu(1 + d_fake) * small).mean()
            dopt.zero_grad(set_to_none=True)
            d_loss.backward()
            dopt.step()
            disc.requires_grad_(False)
            g_adv = -(disc(fake, mask_k) * small).sum() / (small.sum() + 1e-8)
            total = total + self.adv_weight * g_adv
            logs["d_loss"] = d_loss.item()
        return total, logs

    def validation_pairs(self, images: list[np.ndarray]) -> list[tuple]:
        pairs = []
        lo, hi = self.coverage
        bands = [(lo, (lo + hi) / 3), ((lo + hi) / 3, hi)]
        for i, img in enumerate(images):
            clean = self.centre_tensor(img)
            h, w = clean.shape[-2:]
            for b, band in enumerate(bands):
                m = random_mask(h, w, np.random.default_rng(1000 * i + b), band)
                pairs.append((f"hole{b}", clean, clean, torch.from_numpy(m)[None, None]))
        return pairs

    def evaluate(self, model: nn.Module, pair: tuple, device) -> float:
        _, _, clean, mask = pair
        out = model(clean.to(device), mask.to(device), None).cpu()
        return psnr(out, clean, mask)


