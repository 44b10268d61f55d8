"""The trainer lifecycle: build or load the model, feed patches, optimise, validate, keep the
best, checkpoint, resume, export. `Trainer.run()` is a work generator, so the CLI shows a
progress bar, the training dialog draws curves, and either can cancel between steps.

A task (training/tasks.py) supplies the loss, the validation and, optionally, hooks the
trainer calls when present: `load()` (its own data), `attach(model)` (once the model is
built: make copies of it, check it fits), `to(device)`, `adam_betas`, `batch(data, count,
size, rng)` (its own batches instead of plain patches), `begin_step(step, lr)` and
`after_step(model)` (around each optimiser step), `inference_model(model)` (the network
to validate and export, e.g. a moving average), `metric` / `metric_unit` / `metric_format`
(the name of what `evaluate` returns, higher is better unless `lower_is_better`; "psnr" in dB
unless it says otherwise), `side_metrics(model, pairs, device)` (more validation numbers,
reported but never used to pick the best) and `sample(model, pairs, device)` (a held-out
image before and after, sent with each validation event for a dialog to show).
"""

from __future__ import annotations

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
from desktop_app.core.tasks import Progress, Work
from desktop_app.core.training.checkpoint import load_checkpoint, save_checkpoint
from desktop_app.core.training.config import TrainConfig
from desktop_app.core.training.data import ImageSet, load_image_set, random_patches
from desktop_app.core.training.tasks import TASKS


class Trainer:
    def __init__(self, config: TrainConfig, run_dir: Path, command: str | None = None) -> None:
        if config.task not in TASKS:
            raise ValueError(f"unknown training task {config.task!r} (known: {', '.join(TASKS)})")
        self.config = config
        self.run_dir = Path(run_dir)
        self.command = command or " ".join(sys.argv)
        self.task = TASKS[config.task](config)
        self.device = pick_device(config.device)
        self.base_manifest: Manifest | None = None
        self.model = self._build_model()
        if hasattr(self.task, "attach"):
            self.task.attach(self.model)
        if hasattr(self.task, "to"):
            self.task.to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=config.lr,
                                    betas=getattr(self.task, "adam_betas", (0.9, 0.99)))
        self.metric = "val_" + getattr(self.task, "metric", "psnr")  # the key of the score kept best
        self.metric_unit = getattr(self.task, "metric_unit", "dB")
        self.metric_format = getattr(self.task, "metric_format", ".2f")
        self.metric_title = getattr(self.task, "metric_title", None) or f"PSNR ({self.metric_unit})"
        self.lower_is_better = getattr(self.task, "lower_is_better", False)
        self.start_metrics: dict[str, Any] = {}  # the validation before the first step
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
            c.arch, c.hparams = self.base_manifest.architecture, dict(self.base_manifest.hparams)
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

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> Work[dict[str, Any]]:
        c = self.config
        if c.threads:
            torch.set_num_threads(c.threads)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        c.save(self.run_dir / "config.json")
        yield Progress(None, "loading images")
        self.data = self.task.load() if hasattr(self.task, "load") else load_image_set(c.data, c.val_fraction, c.val_min)
        pairs = self.task.validation_pairs(self.data.val)
        rng = np.random.default_rng(c.seed + self.step)
        gen = torch.Generator().manual_seed(c.seed * 7919 + self.step)
        if self.step == 0 and "step" not in self.best:
            self.best = {**self.validate(pairs), "step": 0}
            self.start_metrics = dict(self.best)
            # the starting weights are the best so far: a run whose steps never beat them
            # (too short, or a fine-tune that only got worse) still exports a model
            self._save_best()
        start = time.perf_counter()
        last_ckpt = start
        t0, s0 = time.perf_counter(), self.step
        self.model.train()
        # a checkpoint however the loop ends: finished, out of time, cancelled or Ctrl-C
        validated = self.step
        try:
            while self.step < c.steps:
                if c.minutes is not None and time.perf_counter() - start > c.minutes * 60:
                    break
                lr = self.lr_at(self.step, self.seconds + time.perf_counter() - last_ckpt)
                for g in self.opt.param_groups:
                    g["lr"] = lr
                if hasattr(self.task, "begin_step"):
                    self.task.begin_step(self.step, lr)
                if hasattr(self.task, "batch"):
                    clean = self.task.batch(self.data, c.batch, c.patch, rng)
                else:
                    clean = torch.from_numpy(random_patches(self.data.train, c.batch, c.patch, rng))
                loss, logs = self.task.loss(self.model, clean, gen, self.device)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                if hasattr(self.task, "after_step"):
                    self.task.after_step(self.model)
                self.step += 1
                now = time.perf_counter()
                # every step is a progress event and a cancel point
                rate = (self.step - s0) / max(now - t0, 1e-6)
                left = (c.steps - self.step) / max(rate, 1e-6)
                if c.minutes is not None:
                    left = min(left, c.minutes * 60 - (now - start))
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
        metrics = self.validate(pairs)
        self.history.append({"step": self.step, **metrics})
        yield Progress(self.step / c.steps, f"validation: {self.score_text(metrics)}",
                       {"step": self.step, **metrics, "validation": True, **self._sample(pairs)})
        if self.is_better(metrics[self.metric], self.best[self.metric]):
            self.best = {**metrics, "step": self.step}
            self._save_best()

    def is_better(self, score: float, than: float) -> bool:
        return score < than if self.lower_is_better else score > than

    def score_text(self, metrics: dict[str, Any]) -> str:
        return f"{metrics[self.metric]:{self.metric_format}} {self.metric_unit}"

    def inference_model(self) -> nn.Module:
        """The network that is validated and exported (the task may keep a better copy)."""
        if hasattr(self.task, "inference_model"):
            return self.task.inference_model(self.model)
        return self.model

    @torch.inference_mode()
    def validate(self, pairs) -> dict[str, float]:
        self.model.eval()
        model = self.inference_model()
        per: dict[str, list[float]] = {}
        for pair in pairs:
            per.setdefault(pair[0], []).append(self.task.evaluate(model, pair, self.device))
        metrics = {f"{self.metric}_{k}": float(np.mean(v)) for k, v in per.items()}
        metrics[self.metric] = float(np.mean(list(metrics.values())))
        if hasattr(self.task, "side_metrics"):
            metrics.update(self.task.side_metrics(model, pairs, self.device))
        self.model.train()
        return metrics

    @torch.inference_mode()
    def _sample(self, pairs) -> dict[str, Any]:
        if not hasattr(self.task, "sample") or not pairs:
            return {}
        self.model.eval()
        before, after = self.task.sample(self.inference_model(), pairs, self.device)
        self.model.train()
        return {"sample": (before, after)}

    # -- files ----------------------------------------------------------------------------
    def checkpoint(self) -> None:
        save_checkpoint(self.last_path, self.model, self.opt, self.task.modules,
                        {"step": self.step, "seconds": self.seconds, "best": self.best, "history": self.history,
                         "start": self.start_metrics})

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
                         if self.data and getattr(self.task, "records_files", False) else {}),
                      "config": {k: v for k, v in vars(c).items() if k not in ("data",)}},
            metrics={k: _rounded(v) if isinstance(v, float) else v for k, v in self.best.items()},
        )

    def export(self, weights_path: Path, title: str | None = None, description: str = "",
               extra_metrics: dict[str, Any] | None = None) -> Manifest:
        """Write the best weights so far as `<weights_path>` + manifest."""
        model, _ = load_model(self.best_path.with_suffix(".json"))
        manifest = self._manifest()
        manifest.title = title or manifest.title
        manifest.description = description
        manifest.training["steps"] = self.best.get("step", self.step)
        manifest.metrics.update(extra_metrics or {})
        return save_model(model, weights_path, manifest, dtype=STORE_DTYPE)


def _rounded(value: float) -> float:
    """Three decimals (a PSNR), or four significant digits for small numbers (a loss)."""
    return round(value, 3) if abs(value) >= 1 else float(f"{value:.4g}")
