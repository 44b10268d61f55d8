#!/usr/bin/env python
"""Training throughput: image patches per second for each training task, as the training
dialog and `desktop-app train` run them. The "## Training throughput" section of
docs/benchmarks.md.

    python benchmarks/training.py --out docs/benchmarks.md

Each task trains its shipped architecture (the hyper-parameters of the shipped model, or the
architecture's defaults for a new generator) at the batch and patch the training dialog
proposes for it, from the images of `--data`, in a fresh process per row (so one row's
threads and caches do not affect the next). The first `--warmup` steps are not timed; the
next `--steps` are. Validation is switched off. Run it on an otherwise idle machine: on these
2-core machines a process sharing a core halves the figures or worse.
"""

from __future__ import annotations

import os
import sys

# benchmarks/select.py would shadow the standard library's `select` (see denoise.py)
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:
    sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from _common import command_line, log, markdown_table, replace_section  # noqa: E402

# task, the shipped model whose architecture it trains (None: the architecture's defaults)
ROWS = [("denoise", "cnn"), ("denoise-real", "cnn-real"), ("denoise-self", "cnn-real"), ("inpaint", "inpaint"),
        ("generate-gan", None), ("generate-vae", None)]


def measure(task: str, model: str | None, data: str, threads: int, warmup: int, steps: int, device: str,
            precision: str) -> dict:
    """One row, in this process: seconds per step after the warm-up."""
    import torch

    from desktop_app.core.models.catalog import find
    from desktop_app.core.training import registry
    from desktop_app.core.training.config import TrainConfig
    from desktop_app.core.training.trainer import Trainer

    torch.set_num_threads(threads)
    spec = registry.get(task)
    # the fine-tune defaults (those the dialog and the command line start a fine-tune with);
    # the self-supervised row keeps the real-photo task's crops and batch, as the table was measured
    settings = (registry.variant_of(task) or spec).settings(fine_tune=True)
    patch, batch, lr = settings.patch, settings.batch, settings.lr
    hparams, arch = {}, None
    if model:
        m = find(model).manifest
        hparams, arch = dict(m.hparams), m.architecture
    elif task.startswith("generate"):
        hparams = {"size": patch}
    config = TrainConfig(task=task, name="throughput", data=[data], arch=arch or TrainConfig.arch, hparams=hparams,
                         steps=warmup + steps, batch=batch, patch=patch, lr=lr, val_every=10**9, val_min=2,
                         val_crop=min(256, 2 * patch), device=device, threads=threads, checkpoint_minutes=10**6,
                         precision=precision)
    if arch is None:
        config.arch = spec.default_arch
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, Path(tmp) / "run")
        begin = None
        for _ in trainer.run():  # the step counter is read between the run's events
            if begin is None and trainer.step >= warmup:
                begin = (time.perf_counter(), trainer.step)
        end = (time.perf_counter(), trainer.step)
    seconds_per_step = (end[0] - begin[0]) / max(1, end[1] - begin[1])
    return {"task": task, "batch": batch, "patch": patch, "threads": threads, "device": str(trainer.device),
            "precision": "bf16" if trainer.amp_dtype is not None else "f32",
            "step_s": seconds_per_step, "patches_s": batch / seconds_per_step,
            "parameters": sum(p.numel() for p in trainer.model.parameters())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "train" / "CBSD432"))
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    # the first steps build the kernels (oneDNN's for bf16): timed after 2 of them, `cnn`'s rows read half
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precisions", default="f32,auto",
                    help="comma-separated: f32, auto (bf16 where the task and the device take it), bf16")
    ap.add_argument("--only", default="", help="comma-separated tasks")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        task, model, threads, precision = json.loads(args.child)
        print(json.dumps(measure(task, model, args.data, threads, args.warmup, args.steps, args.device, precision)))
        return 0

    rows, results = [], []
    only = {t for t in args.only.split(",") if t}
    for task, model in ROWS:
        if only and task not in only:
            continue
        for threads, precision in [(int(t), p) for t in args.threads.split(",") for p in args.precisions.split(",")]:
            log(f"{task}, {threads} thread(s), {precision}")
            done = subprocess.run([sys.executable, __file__, "--child", json.dumps([task, model, threads, precision]),
                                   "--data", args.data, "--warmup", str(args.warmup), "--steps", str(args.steps),
                                   "--device", args.device], capture_output=True, text=True)
            if done.returncode != 0:
                log(f"{task} failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else '?'}")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            if any(q["task"] == task and q["threads"] == threads and q["precision"] == r["precision"] for q in results):
                continue  # "auto" chose float32 for this task: the row is there already
            results.append(r)
            rows.append([task, model or "(new network)", f"{r['parameters'] / 1e6:.1f} M", f"{r['batch']} x {r['patch']} px",
                         r["device"], r["precision"], str(threads), f"{r['step_s']:.2f}", f"**{r['patches_s']:.1f}**"])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    body = "\n".join([
        "Made with:", "", "```", command_line("benchmarks/training.py"), "```", "",
        f"Load average {load:.1f} at the end of the run. Seconds per optimiser step (the generator and "
        "discriminator steps together for the GAN), timed over steps "
        f"{args.warmup + 1}-{args.warmup + args.steps} of a fresh run with validation off; patches per second = "
        "batch / seconds per step. Batch and patch size are the training dialog's defaults for the task. "
        "Arithmetic: the steps' (`--precision`; bf16 where the task trains well in it and the device computes "
        "it natively, validation always in float32).", "",
        markdown_table(["task", "architecture of", "parameters", "batch", "device", "arithmetic", "threads",
                        "s / step", "patches / s"], rows, numeric_from=6),
        "", "No GPU was lent to this project's sessions, so there is no GPU row yet; "
        "`--device cuda` measures one.",
    ])
    print(body)
    if args.out:
        replace_section(args.out, "## Training throughput", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
