"""Training tasks as typed descriptors in one registry: what the trainer, `desktop-app train`
and the training dialog read about a task (its title, what the model does, the network a new
run builds, the default settings, the score it is judged by, its self-supervised variant).

A new training task is a descriptor and its code (a `TrainingCode` subclass, see `base.py`),
registered here; nothing in the trainer, the command line or the dialog names tasks.

This module imports no torch (the dialog and the model library read it at start-up); the
task's code is named as "module:Class" and imported when a run builds it.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from desktop_app.core.training.config import TrainConfig


@dataclass(frozen=True)
class Settings:
    """The run settings a task starts from (the command line's defaults and the dialog's
    initial values): learning rate, patches per step, patch size in pixels, validation
    interval in steps and the side of the square validation crops; `options`, task options a
    run starts with (`--option` and a run's own options go over them); `note`, what those
    options change, in words for the training dialog."""

    lr: float
    batch: int
    patch: int
    val_every: int
    val_crop: int = 256
    options: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Metric:
    """The validation score a run keeps its best by. `key` is the name the task's `evaluate`
    reports under ("val_" + key in the run's metrics and the manifest); `title` reads as
    plain words; `shown_as` multiplies the stored value for display (-1 shows a negated
    score, kept so that higher is better, as the distance it is)."""

    key: str = "psnr"
    title: str = "PSNR"
    unit: str = "dB"
    format: str = ".2f"
    lower_is_better: bool = False
    shown_as: float = 1.0
    explanation: str = "higher is better"

    @property
    def name(self) -> str:
        """The key of the score in a run's metrics: "val_psnr"."""
        return "val_" + self.key

    def text(self, value: float, unit: bool = True) -> str:
        """"29.63 dB", "69.8" (an SWD, shown positive), "2.735e-02 (self-supervised loss)"."""
        shown = f"{value * self.shown_as:{self.format}}"
        return f"{shown} {self.unit}" if unit and self.unit else shown

    def is_better(self, score: float, than: float) -> bool:
        if not math.isfinite(score):
            return False
        if not math.isfinite(than):
            return True
        return score < than if self.lower_is_better else score > than


PSNR = Metric()


@dataclass(frozen=True)
class TrainingTask:
    """One way of training a model.

    `code`: the task's `TrainingCode` subclass, or "module:Class" (imported on first use).
    `model_task`: what the trained model does, as manifests and the model catalogue name it
    ("denoise", "denoise-real", "inpaint", "generate"); the start points offered are models of
    that task. `scratch` and `fine_tune`: default settings for a new network and for a
    fine-tune of an existing model, on a CPU; `gpu_scratch` / `gpu_fine_tune` where a GPU wants
    others (None: the CPU's). `self_supervised`: the id of the task that learns the same model
    from noisy photos alone, if any. `listed`: offered in the dialog's task list.
    `records_files`: the manifest lists the files trained on (benchmark sets among them)."""

    id: str
    title: str
    model_task: str
    default_arch: str
    code: Any  # type[TrainingCode] | str
    scratch: Settings
    fine_tune: Settings
    metric: Metric = PSNR
    gpu_scratch: Settings | None = None
    gpu_fine_tune: Settings | None = None
    self_supervised: str | None = None
    default_name: str = "my-model"
    listed: bool = True
    records_files: bool = False
    description: str = ""
    # A fine-tune's step must beat the starting weights by this much (in the metric's unit; for
    # the trained weights, in proportion for the kept share below) to be kept: on one or two
    # held-back scenes a small gain is noise (docs/models.md).
    keep_margin: float = 0.0
    # A fine-tune keeps this share of its change to the starting weights; the rest of the way
    # back to them is weight averaging (WiSE-FT, Wortsman et al. 2022): what it learnt of a
    # few scenes carries to other scenes better halfway (docs/models.md, "Calibrating").
    kept_change: float = 1.0
    # Its networks train in bf16 where the device computes it natively (training/precision.py):
    # measured for the denoisers; the rest (Fourier layers, adversarial losses) stay float32.
    bf16: bool = False

    def settings(self, fine_tune: bool, device: str = "cpu") -> Settings:
        """The defaults for a fine-tune (or a new network) on `device` ("cpu", "cuda", "mps")."""
        if device != "cpu":
            gpu = self.gpu_fine_tune if fine_tune else self.gpu_scratch
            if gpu is not None:
                return gpu
        return self.fine_tune if fine_tune else self.scratch

    def code_class(self) -> type:
        if isinstance(self.code, str):
            module, _, name = self.code.partition(":")
            return getattr(importlib.import_module(module), name)
        return self.code

    def create(self, config: TrainConfig):
        """The task's code for one run."""
        return self.code_class()(config)


def default_warmup(steps: int, fine_tune: bool) -> int:
    """Steps of learning-rate warm-up: none for a fine-tune (its network is trained already),
    else a tenth of the run, at most 500."""
    return 0 if fine_tune else min(500, steps // 10)


_TASKS: dict[str, TrainingTask] = {}


class UnknownTrainingTask(ValueError):
    pass


def register(task: TrainingTask) -> TrainingTask:
    if task.id in _TASKS:
        raise ValueError(f"training task {task.id!r} is already registered")
    _TASKS[task.id] = task
    return task


def unregister(task_id: str) -> None:
    _TASKS.pop(task_id, None)


def get(task_id: str) -> TrainingTask:
    try:
        return _TASKS[task_id]
    except KeyError:
        raise UnknownTrainingTask(f"unknown training task {task_id!r} (known: {', '.join(_TASKS)})") from None


def all_tasks() -> list[TrainingTask]:
    return list(_TASKS.values())


def listed_tasks() -> list[TrainingTask]:
    return [t for t in _TASKS.values() if t.listed]


def variant_of(task_id: str) -> TrainingTask | None:
    """The listed task whose self-supervised variant `task_id` is (None if it is none's)."""
    return next((t for t in listed_tasks() if t.self_supervised == task_id and t.id != task_id), None)


def self_supervised_variant(task: TrainingTask) -> TrainingTask:
    """`--self-supervised` on `task`: its variant, or the task itself when it is one."""
    if task.self_supervised:
        return get(task.self_supervised)
    if variant_of(task.id) is not None:
        return task
    takes = [t.id for t in _TASKS.values() if t.self_supervised]
    raise ValueError(f"--self-supervised works with --task {' or '.join(takes)}, not {task.id!r}")


# -- the metrics of manifests, in plain words ------------------------------------------------

def metric_by_name(name: str) -> Metric | None:
    """The metric whose run-metrics key is `name` ("val_psnr"), from any registered task."""
    return next((t.metric for t in _TASKS.values() if t.metric.name == name), PSNR if name == PSNR.name else None)


PART_WORDS = {"all": "", "real": "real noise", "self": ""}


def _part_words(part: str) -> str:
    """"s25" -> "noise 25", "c25" -> "noise 25, 8-bit", "hole0" -> "small holes"."""
    if part in PART_WORDS:
        return PART_WORDS[part]
    if part[:1] in "sc" and part[1:].isdigit():
        return f"noise {part[1:]}" + (", 8-bit file" if part[0] == "c" else "")
    if part.startswith("hole") and part[4:].isdigit():
        return ("smaller holes", "larger holes")[min(int(part[4:]), 1)]
    if part.startswith("real") and part[4:].isdigit():
        return "camera-like noise"
    return part.replace("_", " ")


def describe_metrics(metrics: dict[str, Any], parts: bool = False) -> str:
    """A manifest's metrics in plain words: "validation PSNR 29.63 dB at step 23000", or for a
    generator "validation SWD 69.83 (lower is closer to the photos) at step 4500"; with
    `parts`, the score of each part (noise level, hole size) too."""
    main = next(((k, m) for k in metrics if (m := metric_by_name(k)) is not None
                 and isinstance(metrics[k], (int, float))), None)
    if main is None:
        return ""
    key, metric = main
    plain = metric.unit.startswith("(")  # a unit that only repeats the title
    text = f"validation {metric.title} {metric.text(float(metrics[key]), unit=not plain)}"
    if metric.explanation and metric.explanation != "higher is better":
        text += f" ({metric.explanation})"
    if parts:
        shown = [(_part_words(k[len(key) + 1:]), v) for k, v in metrics.items()
                 if k.startswith(key + "_") and isinstance(v, (int, float))]
        shown = [(w, v) for w, v in shown if w]
        if shown:
            text += "; " + ", ".join(f"{w} {metric.text(float(v), unit=not plain)}" for w, v in shown)
    step = metrics.get("step")
    if isinstance(step, int):
        text += f" at step {step}"
    return text


# -- the tasks this app trains ----------------------------------------------------------------

_RESTORATION = "desktop_app.core.training.restoration"
# a fine-tune's defaults suit ten minutes on a CPU: benchmarks/finetune.py measured, on indoor
# scenes and the shipped Gaussian denoiser (trained to the end of its schedule and easily
# knocked off its optimum), lr 1e-4 at +0.06 dB and 3e-4 at -0.17 dB; the shipped networks were
# trained from scratch with the `scratch` settings (docs/models.md)
_DENOISE_SCRATCH = Settings(lr=3e-4, batch=16, patch=96, val_every=1000)
_DENOISE_FINE_TUNE = Settings(lr=1e-4, batch=8, patch=96, val_every=200)
# a Gaussian fine-tune trains for what the app shows, the network's result after the Wiener
# step ("Recover detail", on by default), as the shipped `cnn` was: a guide for that step, alone
# 0.35-0.6 dB under its result at sigma 15 (docs/models.md)
_GAUSSIAN_FINE_TUNE = replace(_DENOISE_FINE_TUNE, options={"refine": 1.0}, note=(
    "A fine-tune trains for the result after Recover detail, as the Denoise panel shows it "
    "by default; its validation scores are of that result."))

register(TrainingTask(
    id="denoise", title="Denoise (Gaussian noise, level as input)", model_task="denoise",
    default_arch="unet-denoise", code=f"{_RESTORATION}:DenoiseTask",
    scratch=_DENOISE_SCRATCH, fine_tune=_GAUSSIAN_FINE_TUNE, default_name="my-denoiser", bf16=True,
    description="white noise of a random level, the level given to the network"))
register(TrainingTask(
    id="denoise-real", title="Denoise real photos (blind)", model_task="denoise-real",
    default_arch="unet-denoise-blind", code=f"{_RESTORATION}:RealDenoiseTask",
    scratch=_DENOISE_SCRATCH, fine_tune=_DENOISE_FINE_TUNE, self_supervised="denoise-self",
    default_name="my-denoiser", bf16=True, description="camera-like noise, no noise level given"))
register(TrainingTask(
    id="denoise-pairs", title="Denoise real photos, from pairs (noisy/ and clean/)", model_task="denoise-real",
    default_arch="unet-denoise-blind", code=f"{_RESTORATION}:PairedRealDenoiseTask",
    # a calibration: few pairs, ten minutes; validated often, since its best step comes early
    scratch=_DENOISE_SCRATCH, fine_tune=Settings(lr=2e-4, batch=8, patch=96, val_every=50),
    default_name="my-camera",
    # calibrations kept at +0.06-0.09 dB on the held-back scene lost 0.16-0.24 dB on the
    # camera's other scenes (docs/models.md, "Does calibrating help?")
    keep_margin=0.1, kept_change=0.5, records_files=True, bf16=True,
    description="folders holding noisy/ and clean/ photos of the same names"))
register(TrainingTask(
    id="denoise-self", title="Denoise real photos, self-supervised (noisy photos only)", model_task="denoise-real",
    default_arch="unet-denoise-blind", code="desktop_app.core.training.selfsup:SelfSupervisedDenoiseTask",
    # a gentle fine-tune of a few minutes, validated often enough to keep its best; 128-px
    # crops give two 64-px half-resolution images
    scratch=Settings(lr=3e-5, batch=16, patch=128, val_every=100),
    fine_tune=Settings(lr=3e-5, batch=8, patch=128, val_every=100),
    metric=Metric(key="self_loss", title="self-supervised loss", unit="(self-supervised loss)", format=".3e",
                  lower_is_better=True,
                  explanation="lower is better"),
    default_name="my-camera", listed=False))
register(TrainingTask(
    id="inpaint", title="Remove objects (inpainting)", model_task="inpaint", default_arch="inpaint-fourier",
    code=f"{_RESTORATION}:InpaintTask",
    scratch=Settings(lr=3e-4, batch=16, patch=96, val_every=1000),
    fine_tune=Settings(lr=1e-4, batch=8, patch=128, val_every=200),
    metric=Metric(key="psnr", title="PSNR inside the holes"), default_name="my-inpainter"))
_SWD = Metric(key="neg_swd", title="SWD", unit="", format=".1f", shown_as=-1.0,
              explanation="lower is closer to the photos")
# generators: the settings of the shipped texture models (docs/models.md), new or fine-tuned
_GAN = Settings(lr=2e-4, batch=32, patch=64, val_every=500)
_VAE = Settings(lr=5e-4, batch=32, patch=64, val_every=500)
register(TrainingTask(
    id="generate-gan", title="Generate pictures: GAN", model_task="generate", default_arch="gan",
    code="desktop_app.core.training.generative:GanTask", scratch=_GAN, fine_tune=_GAN, metric=_SWD,
    default_name="my-generator"))
register(TrainingTask(
    id="generate-vae", title="Generate pictures: VAE", model_task="generate", default_arch="vae",
    code="desktop_app.core.training.generative:VaeTask", scratch=_VAE, fine_tune=_VAE, metric=_SWD,
    default_name="my-generator"))


def config_for(task: TrainingTask, *, name: str, data: list[str], base: str | None = None,
               steps: int | None = None, minutes: float | None = None, device: str = "auto",
               device_kind: str = "cpu", **given: Any) -> TrainConfig:
    """A TrainConfig with the task's defaults for this start point and device, and `given`
    (any TrainConfig field; None means "the default") over them: the one place the command
    line and the dialog build a run's settings from."""
    fine_tune = base is not None
    s = task.settings(fine_tune, device_kind)
    steps = steps or TrainConfig.steps
    values: dict[str, Any] = dict(task=task.id, name=name, data=list(data), arch=task.default_arch, base=base,
                                  steps=steps, minutes=minutes, device=device, lr=s.lr, batch=s.batch,
                                  patch=s.patch, val_every=s.val_every, val_crop=s.val_crop,
                                  warmup=default_warmup(steps, fine_tune))
    values.update({k: v for k, v in given.items() if v is not None})
    values["task_options"] = {**s.options, **(given.get("task_options") or {})}
    return TrainConfig(**values)


__all__ = ["Metric", "Settings", "TrainingTask", "all_tasks", "config_for", "default_warmup", "describe_metrics",
           "get", "listed_tasks", "register", "self_supervised_variant", "unregister", "variant_of"]
