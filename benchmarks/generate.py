#!/usr/bin/env python
"""Generator quality and speed: the tables of the "## Generation" section of docs/benchmarks.md.

    nice -n 10 python benchmarks/generate.py --out docs/benchmarks.md --grid docs/generate_grid.jpg

Quality is the multi-scale sliced Wasserstein distance (SWD) of Karras et al. 2018
(``desktop_app.core.generation.swd``: Laplacian pyramid down to 16 px, 128 random 7x7
neighbourhoods per image and level, 512 random directions, x 1000; no pretrained network)
between a set of images and the same fixed set of real crops of the *held-back* images of the
training folder (``--data``):

- real crops: ``--samples`` N crops of the held-back images made exactly as the training task
  makes its validation crops (``GenerativeTask.load`` and its crop function: the split of
  ``load_labelled_image_set`` with the model's ``val_fraction`` and ``val_min``, each image
  scaled by the model's ``resize`` task option, random crops of the model's size with a random
  flip and, as in training, a random 90-degree turn), from ``np.random.default_rng(seed + 101)``;
- models: samples 0..N-1 of seed ``--seed`` (``generation.sample``, truncation 1);
- real vs real: N crops of the *training-split* images made the same way (from
  ``default_rng(seed + 202)``) against the held-back crops: what a generator that reproduced
  its training images perfectly would score, the floor of the table at this N; and, as a second
  reference, N crops of one half of the held-back images against N crops of the other half
  (the images split alternately, per class), which compares two disjoint sets of pictures;
- trivial baseline: the same training-split crops Gaussian-blurred with sigma ``--blur`` px
  (OpenCV, reflected edges), the "blurred random crops" of ``training.generative.blurred_crops``.

Every row is compared with the same real set, with the same neighbourhood positions and
directions (swd seed ``--seed``). The main figure normalises each set by its own per-channel
mean and deviation per level (``normalise="each"``, the paper's); the last column normalises
both by the real set's (``normalise="real"``, what training validates with, which also sees a
colour cast or a contrast change). ``--repeats R`` repeats everything with seeds s, s+1, ...
and reports mean ± standard deviation.

The real crops follow the training configuration stored in each model's manifest (size, resize,
crop, split); models whose configurations differ get tables of their own.

Speed: seconds for ``generation.sample(model, 16, seed)`` on the CPU, median of 5 warm calls,
with 1 and 2 torch threads; besides each installed model, its architecture and
hyper-parameters built at 128 px with random weights (speed does not depend on the weights),
unless a 128-px model is installed.

``--grid``: a JPEG of samples 0-31 of each model (4 rows of 8) and a row of 8 real held-back
crops (the first 8 of the SWD set), labelled.
"""

from __future__ import annotations

import os
import sys

# benchmarks/select.py would shadow the standard library's `select` (imported by subprocess):
# look in this folder last, so the standard library wins and `_common` is still found.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:
    sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from _common import (command_line, finish_report, log, markdown_table, picture_section,  # noqa: E402
                     write_jpeg_under)
from desktop_app.core import generation  # noqa: E402
from desktop_app.core.models import registry  # noqa: E402
from desktop_app.core.models.catalog import find as find_model, models_for  # noqa: E402
from desktop_app.core.models.weights import Manifest, ModelFileError, load_model  # noqa: E402
from desktop_app.core.work import run_work  # noqa: E402
from desktop_app.core.training.config import TrainConfig  # noqa: E402
from desktop_app.core.training.generative import GenerativeTask  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Generation"
DEFAULT_MODELS = ("texture-gan", "texture-vae")  # the shipped example; other installed generators too
REAL_SEED, TRAIN_SEED, HALF_SEED = 101, 202, 303  # offsets of the crop draws from --seed
SPEED_COUNT = 16  # samples per timed call
SPEED_RUNS = 5  # warm calls timed; the median is reported
SPEED_SIZE = 128  # the size the bar speaks of
GRID_COLUMNS, GRID_ROWS = 8, 4
GRID_TILE = 128  # tiles are scaled up (nearest, by a whole factor) to at least this
GRID_BYTES = 1_000_000  # the picture is scaled down until its JPEG fits
GRID_QUALITY = 90


# --- models ---------------------------------------------------------------------------------


@dataclass
class Generator:
    id: str
    model: nn.Module
    manifest: Manifest
    path: Path
    config: TrainConfig  # the training configuration, with --data as its data
    notes: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "VAE" if callable(getattr(self.model, "encode", None)) else "GAN"

    def spec(self) -> tuple:
        """What the real crops depend on: models with the same spec share the reference rows."""
        c = self.config
        return (c.patch, float(c.task_options.get("resize", 1.0)), str(c.task_options.get("crop", "random")),
                c.task_options.get("turn"), c.val_fraction, c.val_min, tuple(self.model.classes or []))


def installed_generators() -> list[str]:
    return [e.manifest.id for e in models_for("generate")]


def chosen_models(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """(ids to measure, notes on the ones left out)."""
    installed = installed_generators()
    if args.models is None:
        wanted = list(DEFAULT_MODELS) + [m for m in installed if m not in DEFAULT_MODELS]
    else:
        wanted = args.models
    ids = [m for m in wanted if m in installed]
    notes = [f"Not measured: {m}: not installed (no generator of that name in resources/models or the "
             "library)." for m in wanted if m not in installed]
    return ids, notes


def resolve_data(path: str) -> Path:
    p = Path(path)
    return (p if p.is_absolute() else REPO / p).resolve()


def load_generator(model_id: str, args: argparse.Namespace) -> Generator:
    entry = find_model(model_id)
    model, manifest = load_model(entry.path)
    model = model.to("cpu").eval()
    notes = []
    raw = manifest.training.get("config") if isinstance(manifest.training, dict) else None
    if raw:
        config = TrainConfig.from_json(json.dumps(raw))
        trained_on = [resolve_data(d) for d in config.data]
        if trained_on and args.data.resolve() not in trained_on:
            notes.append(f"{model_id} was trained on {', '.join(config.data)}, not on {args.data}: its real "
                         "crops here come from --data with its training configuration.")
    else:
        config = TrainConfig(patch=model.size, val_fraction=args.val_fraction or 0.1, val_min=4)
        notes.append(f"{model_id}: no training configuration in its manifest; real crops at its size "
                     f"{model.size} px, resize 1, val_fraction {config.val_fraction:g}.")
    if args.val_fraction is not None:
        config.val_fraction = args.val_fraction
    opts = dict(config.task_options)
    if not model.num_classes:
        opts["conditional"] = False  # an unconditional model: never look for class sub-folders
    config.task_options = opts
    config.data = [str(args.data)]
    config.base = None
    config.hparams = dict(manifest.hparams)
    config.patch = model.size
    return Generator(model_id, model, manifest, entry.path, config, notes)


def models_line(gens: list[Generator]) -> str:
    parts = []
    for g in gens:
        m = g.manifest
        try:
            where = g.path.relative_to(REPO).as_posix()
        except ValueError:
            where = str(g.path)
        trained = m.training or {}
        steps = f", {trained['steps']} steps" if "steps" in trained else ""
        secs = f" in {trained['seconds'] / 60:.0f} min" if trained.get("seconds") else ""
        parts.append(f"{g.id} = {where} ({generation.describe(g.model)}; {m.architecture}, "
                     f"sha256 {m.sha256[:12] or 'none'}{steps}{secs})")
    return "Models: " + ("; ".join(parts) if parts else "none") + "."


# --- sets of images -------------------------------------------------------------------------


@dataclass
class References:
    """The real crops of one training configuration and the reference sets."""

    task: GenerativeTask
    label: str  # e.g. "CBSD432 scaled by 0.5, 64-px crops"
    train_images: int
    val_images: int
    real: list[torch.Tensor]  # per repeat: N x 3 x S x S held-back crops
    train: list[torch.Tensor]  # per repeat: crops of the training split
    halves: list[tuple[torch.Tensor, torch.Tensor]] | None  # per repeat: crops of half A, of half B


def _crops(task: GenerativeTask, images: list[np.ndarray], labels: list[int], n: int, seed: int) -> torch.Tensor:
    crops, _ = task._crops(images, labels, n, task.config.patch, np.random.default_rng(seed),
                           len(task.data.classes))
    return crops


def _halves(labels: list[int]) -> tuple[list[int], list[int]]:
    """The held-back images split in two, alternately within each class."""
    a, b = [], []
    for k in sorted(set(labels)):
        idx = [i for i, lab in enumerate(labels) if lab == k]
        a += idx[0::2]
        b += idx[1::2]
    return a, b


def build_references(gen: Generator, args: argparse.Namespace) -> tuple[References, list[str]]:
    task = GenerativeTask(gen.config)
    log(f"loading {args.data} (val_fraction {gen.config.val_fraction:g}, resize "
        f"{task.resize:g}, crop {task.crop})")
    data = run_work(task.read())
    notes = []
    trained = gen.manifest.training or {}
    if "validation_images" in trained and trained["validation_images"] != len(data.val):
        notes.append(f"{gen.id} was trained with {trained['validation_images']} held-back images; the split here "
                     f"has {len(data.val)} (a different folder or split): some held-back images may have been "
                     "trained on.")
    n = args.samples
    real, train, halves = [], [], []
    half_a, half_b = _halves(data.val_labels)
    can_halve = bool(half_a) and bool(half_b)
    for r in range(args.repeats):
        s = args.seed + r
        real.append(_crops(task, data.val, data.val_labels, n, s + REAL_SEED))
        train.append(_crops(task, data.train, data.train_labels, n, s + TRAIN_SEED))
        if can_halve:
            halves.append((_crops(task, [data.val[i] for i in half_a], [data.val_labels[i] for i in half_a], n,
                                  s + HALF_SEED),
                           _crops(task, [data.val[i] for i in half_b], [data.val_labels[i] for i in half_b], n,
                                  s + HALF_SEED + 1)))
    if not can_halve:
        notes.append("Not measured: held-back halves: fewer than two held-back images (per class).")
    name = args.data.name
    if task.crop == "whole":
        label = f"{name}, whole images (centre squares) at {task.config.patch} px"
    else:
        scale = f" scaled by {task.resize:g}" if task.resize != 1.0 else ""
        label = f"{name}{scale}, {task.config.patch}-px crops"
    if data.classes:
        label += f", classes {', '.join(data.classes)}"
    refs = References(task, label, len(data.train), len(data.val), real, train, halves if can_halve else None)
    return refs, notes


def blurred(crops: torch.Tensor, sigma: float) -> torch.Tensor:
    """Each crop Gaussian-blurred with `sigma` pixels, as training.generative.blurred_crops blurs."""
    images = crops.permute(0, 2, 3, 1).numpy()
    out = np.stack([cv2.GaussianBlur(im, (0, 0), sigma, borderType=cv2.BORDER_REFLECT) for im in images])
    return torch.from_numpy(np.ascontiguousarray(out.transpose(0, 3, 1, 2)))


def samples(gen: Generator, n: int, seed: int) -> torch.Tensor:
    images = generation.sample(gen.model, n, seed=seed)
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


# --- SWD ------------------------------------------------------------------------------------


@dataclass
class Row:
    key: str  # short name for the timing line
    label: str
    each: list[generation.SwdResult] = field(default_factory=list)  # per repeat
    real: list[generation.SwdResult] = field(default_factory=list)
    seconds: float = 0.0


def measure(key: str, label: str, pairs, args: argparse.Namespace) -> Row:
    """`pairs` yields (real set, other set) per repeat; both normalisations of each pair."""
    row = Row(key, label)
    start = time.perf_counter()
    for r, (real, other) in enumerate(pairs):
        seed = args.seed + r
        row.each.append(generation.swd(real, other, seed=seed, normalise="each"))
        row.real.append(generation.swd(real, other, seed=seed, normalise="real"))
    row.seconds = time.perf_counter() - start
    log(f"{label}: SWD {fmt([x.mean for x in row.each])} (each), {fmt([x.mean for x in row.real])} (real); "
        f"{row.seconds:.0f} s")
    return row


def fmt(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def swd_table(refs: References, gens: list[Generator], args: argparse.Namespace,
              pictures: dict) -> tuple[str, list[Row]]:
    n = args.samples
    rows = [measure("real vs real (train)", "real: training-split crops vs held-back crops",
                    zip(refs.real, refs.train), args)]
    if refs.halves is not None:
        rows.append(measure("real vs real (halves)", "real: held-back images, half A vs half B", refs.halves, args))
    rows.append(measure("blurred", f"baseline: training-split crops blurred (σ {args.blur:g} px)",
                        ((real, blurred(train, args.blur)) for real, train in zip(refs.real, refs.train)), args))
    for g in gens:
        def pairs(g=g):
            for r, real in enumerate(refs.real):
                log(f"{g.id}: sampling {n} images (seed {args.seed + r})")
                fake = samples(g, n, args.seed + r)
                if r == 0:
                    pictures[g.id] = fake[:GRID_COLUMNS * GRID_ROWS]
                yield real, fake
        rows.append(measure(g.id, f"{g.id} ({g.kind})", pairs(), args))
    pictures.setdefault("real", []).append((refs.label, refs.real[0][:GRID_COLUMNS]))
    resolutions = rows[0].each[0].resolutions
    header = ["set"] + [f"{res} px" for res in resolutions] + ["mean", "mean, real-normalised"]
    body = []
    for row in rows:
        levels = [fmt([x.levels[i] for x in row.each]) for i in range(len(resolutions))]
        body.append([row.label] + levels + [f"**{fmt([x.mean for x in row.each])}**",
                                            fmt([x.mean for x in row.real])])
    spread = f"; mean ± standard deviation over {args.repeats} repeats with seeds {args.seed}-" \
             f"{args.seed + args.repeats - 1}" if args.repeats > 1 else f"; seed {args.seed}"
    c = refs.task.config
    lines = [
        f"### SWD to held-back real crops: {refs.label} (N = {n} per set)", "",
        markdown_table(header, body), "",
        "SWD x 1000 per Laplacian-pyramid level (finest first; the level's resolution as heading) and their "
        "mean, lower is closer; levels and mean normalised as in the paper (each set by its own per-channel "
        "mean and deviation), last column normalised by the real set's statistics (sees colour and contrast "
        f"too){spread}. Every row is compared with the same {n} crops of the {refs.val_images} held-back images "
        f"(val_fraction {c.val_fraction:g} of the folder, the model's training split; {refs.train_images} "
        "training-split images), with the same neighbourhoods and directions. Real vs real: crops of the "
        "training-split images against the real set (a perfect copy of the training images would score "
        "this), and crops of one half of the held-back images against crops of the other half (two disjoint "
        "sets of pictures; the only row not compared with the real set). "
        "Baseline: the training-split crops blurred. Models: samples 0.."
        f"{n - 1} of the seed.",
    ]
    return "\n".join(lines), rows


# --- speed ----------------------------------------------------------------------------------


def time_sampling(model: nn.Module, threads: int) -> float:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        generation.sample(model, SPEED_COUNT, seed=0)  # warm: first-call allocations
        times = []
        for i in range(SPEED_RUNS):
            start = time.perf_counter()
            generation.sample(model, SPEED_COUNT, seed=i + 1)
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    return statistics.median(times)


def speed_table(gens: list[Generator], args: argparse.Namespace) -> str:
    cases: list[tuple[str, nn.Module]] = []
    for g in gens:
        cases.append((f"{g.id} ({g.kind}, {g.model.size} px)", g.model))
    if gens and not any(g.model.size == SPEED_SIZE for g in gens):
        built = set()
        for g in gens:
            hp = {**g.manifest.hparams, "size": SPEED_SIZE}
            key = (g.manifest.architecture, json.dumps(hp, sort_keys=True))
            if key in built:
                continue
            built.add(key)
            torch.manual_seed(0)
            model = registry.get(g.manifest.architecture).create(**hp).eval()
            cases.append((f"{g.id}'s network built at {SPEED_SIZE} px, random weights "
                          f"({generation.parameters_of(model) / 1e6:.1f} M parameters)", model))
    rows = []
    for label, model in cases:
        row = [label]
        for threads in args.threads:
            secs = time_sampling(model, threads)
            log(f"speed: {label}, {threads} thread(s): {secs:.3f} s for {SPEED_COUNT}")
            row.append(f"{secs:.3f}")
        rows.append(row)
    lines = [
        f"### Sampling speed: {SPEED_COUNT} samples on the CPU", "",
        markdown_table(["generator"] + [f"{t} thread{'s' if t > 1 else ''} (s)" for t in args.threads], rows), "",
        f"Seconds for `generation.sample(model, {SPEED_COUNT}, seed)` (latents, decoding, conversion to "
        f"N x S x S x 3 float32), median of {SPEED_RUNS} calls after a first one, torch threads as in the "
        f"heading. Speed does not depend on the weights, so a network built at {SPEED_SIZE} px with the "
        "same hyper-parameters stands for a model trained at that size.",
    ]
    return "\n".join(lines)


# --- the picture ----------------------------------------------------------------------------


def _tiles(images: torch.Tensor, tile: int) -> list[np.ndarray]:
    out = []
    for im in images.permute(0, 2, 3, 1).numpy():
        im8 = np.clip(im * 255.0 + 0.5, 0, 255).astype(np.uint8)
        factor = max(1, math.ceil(tile / im8.shape[0]))
        im8 = cv2.resize(im8, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
        if im8.shape[0] != tile:
            im8 = cv2.resize(im8, (tile, tile), interpolation=cv2.INTER_AREA)
        out.append(im8)
    return out


def write_grid(path: Path, gens: list[Generator], pictures: dict, args: argparse.Namespace) -> str:
    sizes = [g.model.size for g in gens if g.id in pictures] + \
            [crops.shape[-1] for _, crops in pictures.get("real", [])]
    tile = max([GRID_TILE] + sizes)
    gap, head = 4, 26
    blocks: list[tuple[str, list[np.ndarray]]] = []
    for g in gens:
        if g.id in pictures:
            blocks.append((f"{g.id}: {generation.describe(g.model)}; samples 0-{GRID_COLUMNS * GRID_ROWS - 1} of "
                           f"seed {args.seed}", _tiles(pictures[g.id], tile)))
    for label, crops in pictures.get("real", []):
        blocks.append((f"real: held-back crops ({label})", _tiles(crops, tile)))
    width = GRID_COLUMNS * (tile + gap) - gap
    height = sum(head + math.ceil(len(t) / GRID_COLUMNS) * (tile + gap) for _, t in blocks)
    grid = np.full((height, width, 3), 255, np.uint8)
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1
    y = 0
    for title, tiles in blocks:
        while cv2.getTextSize(title, font, scale, thickness)[0][0] > width - 8 and scale > 0.3:
            scale -= 0.05
        cv2.putText(grid, title, (4, y + 18), font, scale, (0, 0, 0), thickness, cv2.LINE_AA)
        scale = 0.55
        y += head
        for i, t in enumerate(tiles):
            r, c = divmod(i, GRID_COLUMNS)
            grid[y + r * (tile + gap):y + r * (tile + gap) + tile, c * (tile + gap):c * (tile + gap) + tile] = t
        y += math.ceil(len(tiles) / GRID_COLUMNS) * (tile + gap)
    write_jpeg_under(path, grid, GRID_BYTES, GRID_QUALITY)
    shown = ", ".join(g.id for g in gens if g.id in pictures)
    return (f"Samples 0-{GRID_COLUMNS * GRID_ROWS - 1} of seed {args.seed} of {shown} ({GRID_ROWS} rows of "
            f"{GRID_COLUMNS} each), then the first {GRID_COLUMNS} real held-back crops of the SWD set; every "
            f"tile enlarged to {tile} px without smoothing.")


# --- driver ---------------------------------------------------------------------------------


def machine_line() -> str:
    load_avg = f"; load average {os.getloadavg()[0]:.1f} at the start" if hasattr(os, "getloadavg") else ""
    threads = torch.get_num_threads()
    return (f"Machine: {os.cpu_count()} CPU cores, torch {torch.__version__} with {threads} "
            f"thread{'s' if threads > 1 else ''} for sampling and SWD in the quality tables, everything on the "
            f"CPU{load_avg}. Timings are wall clock, in a process that may share its cores with other work.")


def parse_list(text: str, kind=str) -> list:
    return [kind(x.strip()) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "train" / "CBSD432",
                    help="the models' training folder (default: ../shared/data/train/CBSD432 from the "
                         "repository root); its held-back split gives the real crops")
    ap.add_argument("--models", type=parse_list, default=None,
                    help="comma-separated generator ids (default: texture-gan, texture-vae and every other "
                         "installed generator; missing ones are left out with a note)")
    ap.add_argument("--samples", type=int, default=1024,
                    help="images per set compared by SWD (default 1024)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="repeat the SWD rows with seeds seed, seed+1, ... and report mean ± sd (default 1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the samples, crops and SWD (default 0)")
    ap.add_argument("--blur", type=float, default=2.0, help="sigma in pixels of the blurred baseline (default 2)")
    ap.add_argument("--val-fraction", type=float, default=None,
                    help="held-back share of the folder (default: the one each model was trained with)")
    ap.add_argument("--threads", type=lambda s: parse_list(s, int), default=[1, 2],
                    help="torch thread counts of the speed table (default 1,2)")
    ap.add_argument("--swd-threads", type=int, default=1,
                    help="torch threads for sampling and SWD in the quality tables (default 1: on a busy "
                         "machine more threads wait on each other; numpy's sort is single-threaded anyway)")
    ap.add_argument("--no-speed", action="store_true", help="leave the speed table out")
    ap.add_argument("--grid", type=Path, default=None, help="JPEG file for the sample grid")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"markdown file whose '{SECTION}' section is replaced by the tables")
    args = ap.parse_args(argv)
    if args.samples < 16:
        ap.error("--samples must be at least 16")
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    torch.set_num_threads(args.swd_threads)
    ids, notes = chosen_models(args)
    gens: list[Generator] = []
    for model_id in ids:
        try:
            gens.append(load_generator(model_id, args))
        except (ModelFileError, ValueError) as error:
            notes.append(f"Not measured: {model_id}: {error}.")
    for n in notes:
        log(n)
    header = "\n".join(line for line in [
        "Made with:", "", "```", command_line("benchmarks/generate.py"), "```", "",
        machine_line(), "", models_line(gens),
    ])
    print(f"{SECTION}\n\n" + header + "\n", flush=True)
    parts, pictures, timings = [], {}, []
    groups: dict[tuple, list[Generator]] = {}
    for g in gens:
        groups.setdefault(g.spec(), []).append(g)
        notes += g.notes
    if not groups:  # no model: the reference rows alone, at the shipped example's configuration
        log("no generator to measure: reference rows only (64-px crops of the folder scaled by 0.5)")
        stand_in = Generator("none", registry.get("gan").create(size=64), Manifest("none", "", "gan", "generate"),
                             Path("none"), TrainConfig(data=[str(args.data)], patch=64,
                                                       val_fraction=args.val_fraction or 0.1,
                                                       task_options={"resize": 0.5, "conditional": False}))
        groups[stand_in.spec()] = []
        notes.append("No generator measured: the reference rows alone, at the shipped example's configuration "
                     f"(64-px crops of the folder scaled by 0.5, val_fraction {stand_in.config.val_fraction:g}).")
        first = {stand_in.spec(): stand_in}
    else:
        first = {spec: members[0] for spec, members in groups.items()}
    for spec, members in groups.items():
        refs, more = build_references(first[spec], args)
        notes += more
        text, rows = swd_table(refs, members, args, pictures)
        timings += rows
        print(text + "\n", flush=True)
        parts.append(text)
    if not args.no_speed and gens:
        log("speed")
        text = speed_table(gens, args)
        print(text + "\n", flush=True)
        parts.append(text)
    if args.grid and not gens:
        log("picture: no generator to show")
    if args.grid and gens:
        caption = write_grid(args.grid, gens, pictures, args)
        text = picture_section("### Samples", caption, args.grid, args.out, "Generated samples and real crops")
        print(text + "\n", flush=True)
        parts.append(text)
    if notes:
        text = "\n\n".join(notes)
        print(text + "\n", flush=True)
        parts.append(text)
    per_row = "; ".join(f"{r.key} {r.seconds:.0f} s" for r in timings)
    finish_report(args.out, SECTION, header, parts,
                  f"The whole run took {(time.perf_counter() - start) / 60:.0f} min (SWD rows, sampling included: "
                  f"{per_row}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
