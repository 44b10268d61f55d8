"""The trainer lifecycle: build or load the model, feed patches, optimise, validate, keep the
best, checkpoint, resume, export. `Trainer.run()` is a work generator, so the CLI shows a
progress bar, the training dialog draws curves, and either can cancel between steps.

What the trainer knows of a task comes from two places: its descriptor (training/registry.py:
default network and settings, the metric it is judged by and whether lower is better) and its
code (training/base.py: loss, validation and hooks, each with a default), so nothing here
names a task or asks what a task has.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from desktop_app.core.models import registry
from desktop_app.core.models.catalog import find
from desktop_app.core.models.device import pick_device
from desktop_app.core.models.weights import STORE_DTYPE, Manifest, load_model, save_model
from desktop_app.core.work import Progress, Work, run_work, subrange
from desktop_app.core.training.adam import Adam
from desktop_app.core.training.checkpoint import load_checkpoint, save_checkpoint
from desktop_app.core.training.config import TrainConfig
from desktop_app.core.training.data import ImageSet
from desktop_app.core.training.precision import Autocast, training_dtype
from desktop_app.core.training.widen import widen
from desktop_app.core.training import registry as training_tasks
# the shipped tasks' code, which the registry names as "module:Class": imported here too so
# that a frozen build (PyInstaller follows static imports only) bundles it
from desktop_app.core.training import generative, restoration, selfsup  # noqa: F401, E402


class Trainer:
    def __init__(self, config: TrainConfig, run_dir: Path, command: str | None = None) -> None:
        self.spec = training_tasks.get(config.task)  # the task's descriptor
        check_config(config)
        self.config = config
        self.run_dir = Path(run_dir)
        self.command = command or " ".join(sys.argv)
        self.task = self.spec.create(config)
        self.device = pick_device(config.device)
        self.base_manifest: Manifest | None = None
        self.model = self._build_model()
        # the starting weights, for a fine-tune that keeps only a share of its change to them
        self.start_state = ({k: v.detach().clone() for k, v in self.model.state_dict().items()}
                            if config.base and self.spec.kept_change < 1 else None)
        self.task.size_multiple = network_multiple(self.model, config.arch)
        if config.patch % self.task.size_multiple:
            raise ValueError(f"the patch size must be a multiple of {self.task.size_multiple} for this network "
                             f"({config.arch}), not {config.patch}")
        self.task.attach(self.model)
        self.task.to(self.device)
        self.opt = Adam(self.model.parameters(), lr=config.lr, betas=self.task.adam_betas)
        # what the steps' forward passes run in (None: float32); validation is always float32
        self.amp_dtype = training_dtype(config.precision, self.device, self.spec.bf16)
        self.metric = self.spec.metric.name  # the key of the score kept best: "val_psnr"
        self.start_metrics: dict[str, Any] = {}  # the validation before the first step
        self.baselines: dict[str, float] = {}  # other methods' scores there (TrainingCode.baselines)
        self.step = 0
        self.seconds = 0.0  # training time over all invocations
        self.best: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.data: ImageSet | None = None

    # -- set-up ---------------------------------------------------------------------------
    def _build_model(self) -> nn.Module:
        c = self.config
        if c.base:
            model, self.base_manifest = load_model(find(c.base).path)
            c.arch, hparams = self.base_manifest.architecture, dict(self.base_manifest.hparams)
            widths, base_widths = c.hparams.get("widths"), list(hparams.get("widths", []))
            if widths is not None and list(widths) != base_widths:  # the one change a fine-tune may make
                if len(widths) != len(base_widths):
                    raise ValueError(f"widths: {c.base} has {len(base_widths)} levels; a fine-tune may widen them, "
                                     "not add or remove any")
                hparams["widths"] = list(widths)
                torch.manual_seed(c.seed)
                wider = registry.get(c.arch).create(**hparams)
                widen(wider, model)
                model = wider
            c.hparams = hparams
        else:
            arch = registry.get(c.arch)
            c.hparams = {**arch.default_hparams, **c.hparams}
            torch.manual_seed(c.seed)
            model = arch.create(**c.hparams)
        return model.to(self.device)

    @property
    def last_path(self) -> Path:
        return self.run_dir / "last.safetensors"

    @property
    def best_path(self) -> Path:
        return self.run_dir / "best.safetensors"

    def resume(self) -> bool:
        if not self.last_path.exists():
            return False
        info = load_checkpoint(self.last_path, self.model, self.opt, self.task.modules)
        self.step, self.seconds = info["step"], info["seconds"]
        self.best, self.history = info["best"], info.get("history", [])
        self.start_metrics = info.get("start", {})
        self.baselines = info.get("baselines", {})
        self._rng_state = info.get("rng")
        return True

    def lr_at(self, step: int, seconds: float = 0.0) -> float:
        """The learning rate at `step`, after `seconds` of training: a linear warm-up, then a
        cosine down to lr_min over the steps (or the time budget, when there is one)."""
        c = self.config
        if step < c.warmup:
            return c.lr * (step + 1) / c.warmup
        t = min(1.0, (step - c.warmup) / max(1, c.steps - c.warmup))
        if c.schedule_minutes:
            t = max(t, min(1.0, seconds / (c.schedule_minutes * 60)))
        return c.lr_min + 0.5 * (c.lr - c.lr_min) * (1 + math.cos(math.pi * t))

    def budget_seconds(self) -> float | None:
        """How long this invocation may train: `minutes`, and no longer than what is left of a
        schedule in time (`schedule_minutes` counts the run's training time over every
        invocation, so a resumed run ends where its learning rate does)."""
        c = self.config
        budget = None if c.minutes is None else c.minutes * 60
        if c.schedule_minutes:
            left = max(0.0, c.schedule_minutes * 60 - self.seconds)
            budget = left if budget is None else min(budget, left)
        return budget

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> Work[dict[str, Any]]:
        c = self.config
        if c.threads:
            torch.set_num_threads(c.threads)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        c.save(self.run_dir / "config.json")
        yield Progress(None, "loading images")
        here = self.step / c.steps  # reading and the first validation: messages, the bar stays
        self.data = yield from subrange(self.task.read(), here, here)
        if not self.data.train or not self.data.val:
            raise ValueError("no images to " + ("train on" if not self.data.train else "validate on"))
        pairs = self.task.validation_pairs(self.data.val)
        if not pairs:
            raise ValueError("no validation images: nothing would tell a better model from a worse one")
        rng = np.random.default_rng(c.seed + self.step)
        gen = torch.Generator().manual_seed(c.seed * 7919 + self.step)
        if self.step == 0 and "step" not in self.best:
            self.best = {**(yield from subrange(self.validation(pairs), here, here)), "step": 0}
            self.start_metrics = dict(self.best)
            yield Progress(here, "scoring the methods a user has without training")
            self.baselines = self.task.baselines(pairs)
            # the starting weights are the best so far: a run whose steps never beat them
            # (too short, or a fine-tune that only got worse) still exports a model
            self._save_best()
        budget = self.budget_seconds()
        start = time.perf_counter()
        last_ckpt = start
        t0, s0 = time.perf_counter(), self.step
        self.model.train()
        # a checkpoint however the loop ends: finished, out of time, cancelled or Ctrl-C
        validated = self.step
        forward = self.model if self.amp_dtype is None else Autocast(self.model, self.device.type, self.amp_dtype)
        try:
            while self.step < c.steps:
                if budget is not None and time.perf_counter() - start > budget:
                    break
                lr = self.lr_at(self.step, self.seconds + time.perf_counter() - last_ckpt)
                for g in self.opt.param_groups:
                    g["lr"] = lr
                self.task.begin_step(self.step, lr)
                clean = self.task.batch(self.data, c.batch, c.patch, rng)
                loss, logs = self.task.loss(forward, clean, gen, self.device)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                self.task.after_step(self.model)
                self.step += 1
                now = time.perf_counter()
                # every step is a progress event and a cancel point
                rate = (self.step - s0) / max(now - t0, 1e-6)
                left = (c.steps - self.step) / max(rate, 1e-6)
                if budget is not None:
                    left = min(left, budget - (now - start))
                yield Progress(self.step / c.steps, f"step {self.step}: loss {loss.item():.4f}",
                               {"step": self.step, "loss": loss.item(), **logs, "lr": lr,
                                "steps_per_s": rate, "seconds_left": left})
                if self.step % c.val_every == 0 or self.step == c.steps:
                    yield from self._validation(pairs)
                    validated = self.step
                if now - last_ckpt > c.checkpoint_minutes * 60:
                    self.seconds += now - last_ckpt
                    last_ckpt = now
                    self.checkpoint()
            if self.step > validated:  # out of time between validations: judge the last steps too
                yield from self._validation(pairs)
        finally:
            self.seconds += time.perf_counter() - last_ckpt
            self.checkpoint()
        return {"step": self.step, "best": self.best, "seconds": self.seconds}

    def _validation(self, pairs) -> Work[None]:
        c = self.config
        metrics = yield from subrange(self.validation(pairs), self.step / c.steps, self.step / c.steps)
        self.history.append({"step": self.step, **metrics})
        yield Progress(self.step / c.steps, f"validation: {self.score_text(metrics)}",
                       {"step": self.step, **metrics, "validation": True, **self._sample(pairs)})
        if self.is_better(metrics[self.metric], self._bar()):
            self.best = {**metrics, "step": self.step}
            self._save_best()

    def is_better(self, score: float, than: float) -> bool:
        return self.spec.metric.is_better(score, than)

    @property
    def start_margin(self) -> float:
        """How much a step of a fine-tune must beat the starting weights by to be kept: the
        task's margin for the trained weights, in proportion for a network that keeps only a
        share of their change (its scores move that much less)."""
        return self.spec.keep_margin * self.spec.kept_change if self.config.base else 0.0

    def _bar(self) -> float:
        """The score a validation must beat to become the best."""
        best = self.best[self.metric]
        margin = self.start_margin if self.best.get("step", 0) == 0 else 0.0
        return best - margin if self.spec.metric.lower_is_better else best + margin

    def start_bar_text(self) -> str:
        """" by 0.05 dB" where a fine-tune must beat its start by a margin, else ""."""
        return f" by {self.spec.metric.text(self.start_margin)}" if self.start_margin else ""

    def score_text(self, metrics: dict[str, Any]) -> str:
        """The run's score in `metrics` as plain words: "29.63 dB"."""
        return self.spec.metric.text(metrics[self.metric])

    @property
    def improved(self) -> bool:
        """Whether a step beat the start (the best is not the starting weights)."""
        return self.best.get("step", 0) > 0

    def inference_model(self) -> nn.Module:
        """The network that is validated and exported (the task may keep a better copy; a
        fine-tune whose task keeps a share of its change: that share of the way from the
        starting weights)."""
        model = self.task.inference_model(self.model)
        if self.start_state is None:
            return model
        share, start = self.spec.kept_change, self.start_state
        kept = copy.deepcopy(model)
        kept.load_state_dict({k: start[k] + share * (v - start[k]) if v.is_floating_point() else v
                              for k, v in model.state_dict().items()})
        return kept

    def validation(self, pairs) -> Work[dict[str, float]]:
        """The validation metrics over `pairs`: a Progress per pair (a cancel point, as one
        pair of a large held-out photo can take seconds on the CPU)."""
        self.model.eval()
        model = self.inference_model()
        per: dict[str, list[float]] = {}
        try:
            for n, pair in enumerate(pairs):
                yield Progress(n / len(pairs), f"validating {n + 1} of {len(pairs)}")
                with torch.inference_mode():
                    per.setdefault(pair[0], []).append(self.task.evaluate(model, pair, self.device))
            metrics = {f"{self.metric}_{k}": float(np.mean(v)) for k, v in per.items()}
            metrics[self.metric] = float(np.mean(list(metrics.values())))
            with torch.inference_mode():
                metrics.update(self.task.side_metrics(model, pairs, self.device))
        finally:
            self.model.train()
        return metrics

    def validate(self, pairs) -> dict[str, float]:
        return run_work(self.validation(pairs))

    @torch.inference_mode()
    def _sample(self, pairs) -> dict[str, Any]:
        if not pairs:
            return {}
        self.model.eval()
        shown = self.task.sample(self.inference_model(), pairs, self.device)
        self.model.train()
        return {} if shown is None else {"sample": shown}

    # -- files ----------------------------------------------------------------------------
    def checkpoint(self) -> None:
        save_checkpoint(self.last_path, self.model, self.opt, self.task.modules,
                        {"step": self.step, "seconds": self.seconds, "best": self.best, "history": self.history,
                         "start": self.start_metrics, "baselines": self.baselines})

    def _save_best(self) -> None:
        save_model(self.inference_model(), self.best_path, self._manifest())

    def _manifest(self) -> Manifest:
        c = self.config
        arch = registry.get(c.arch)
        return Manifest(
            id=c.name, title=c.name, architecture=c.arch, task=arch.task, hparams=c.hparams,
            training={"data": c.data, "command": self.command, "steps": self.step,
                      "seconds": round(self.seconds), "base": c.base,
                      "images": len(self.data.train) if self.data else None,
                      "validation_images": len(self.data.val) if self.data else None,
                      # which files it learnt from, when a benchmark set was among them
                      **({"train_files": [p.name for p in self.data.train_paths]}
                         if self.data and self.spec.records_files else {}),
                      "config": {k: v for k, v in vars(c).items() if k not in ("data",)}},
            metrics={k: _rounded(v) if isinstance(v, float) else v for k, v in self.best.items()},
        )

    def export(self, weights_path: Path, title: str | None = None, description: str = "",
               extra_metrics: dict[str, Any] | None = None, training: dict[str, Any] | None = None) -> Manifest:
        """Write the best weights so far as `<weights_path>` + manifest (`training`: more of
        what the manifest says of the training, e.g. the camera calibrated to)."""
        model, _ = load_model(self.best_path.with_suffix(".json"))
        manifest = self._manifest()
        manifest.title = title or manifest.title
        manifest.description = description
        manifest.training["steps"] = self.best.get("step", self.step)
        manifest.metrics.update(extra_metrics or {})
        manifest.training.update(training or {})
        return save_model(model, weights_path, manifest, dtype=STORE_DTYPE)


def network_multiple(model: nn.Module, arch: str) -> int:
    """The side every input of the built network must be a multiple of: what the network says
    of itself (it depends on its hyper-parameters), else its architecture's descriptor."""
    own = getattr(model, "size_multiple", None)
    return int(own) if isinstance(own, int) and own > 0 else registry.get(arch).size_multiple


def check_config(c: TrainConfig) -> None:
    """Refuse settings no run can use, with one line naming the setting."""
    from desktop_app.core.models.library import check_name

    check_name(c.name)  # the run folder and the kept model are named after it
    for key in ("steps", "batch", "patch", "val_every", "val_crop"):
        value = getattr(c, key)
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{key.replace('_', ' ')} must be a whole number from 1 up, not {value!r}")
    if not 0 < c.val_fraction < 1:
        raise ValueError(f"the validation fraction must lie between 0 and 1 (exclusive), not {c.val_fraction}")
    if not (c.lr > 0 and math.isfinite(c.lr)):
        raise ValueError(f"the learning rate must be above 0, not {c.lr}")
    if c.minutes is not None and not (c.minutes > 0 and math.isfinite(c.minutes)):
        raise ValueError(f"the time budget must be above 0 minutes, not {c.minutes}")
    if c.warmup < 0:
        raise ValueError(f"warm-up must be 0 steps or more, not {c.warmup}")


def _rounded(value: float) -> float:
    """Three decimals (a PSNR), or four significant digits for small numbers (a loss)."""
    return round(value, 3) if abs(value) >= 1 else float(f"{value:.4g}")
