#!/usr/bin/env python
"""Ten minutes of fine-tuning on one kind of photo: does the shipped Gaussian denoiser get
better on other photos of that kind? The figures of "Fine-tuning on your own photos" in
docs/models.md (the training dialog runs the same trainer).

    python benchmarks/finetune.py --work /tmp/finetune --minutes 10
    python benchmarks/finetune.py --work /tmp/finetune-indoor --minutes 10 --kind colour \
        --data ../shared/data/bench/PolyU/clean --split-scenes

1. The kind: by default black-and-white photos. The first `--count` images of `--data`
   (default 30 of CBSD432), turned to greyscale, go into WORK/train: what a user with a folder
   of their own black-and-white photos has; they are tested on Set12 (`--test`, 12 standard
   greyscale photos the training never saw). With `--kind colour --split-scenes` the kind is
   the folder `--data` itself (say PolyU's clean indoor shots): whole scenes (file name
   without its shot number) go to training until `--count` photos, the other scenes are the
   test photos.
2. `desktop-app train --task denoise --base cnn --minutes M` with the training dialog's
   settings for a denoiser (`--lr 1e-4 --batch 8 --patch 96 --val-every 200`) fine-tunes the
   shipped `cnn` on them (one thread; skipped with `--model`, which evaluates an existing
   result). With no `--steps` the learning rate decays over the minutes; no warm-up for a
   fine-tune. Arguments after `--` go to the command (and override these).
3. Both models denoise the test photos with Gaussian noise of sigma 15, 25 and 50 (seeded;
   not clipped, as in published tables), the noise level given; the table gives PSNR (dB)
   per sigma, averaged over the photos.
"""

from __future__ import annotations

import os
import sys

# benchmarks/select.py would shadow the standard library's `select` (see denoise.py)
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:
    sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from _common import command_line, log, markdown_table  # noqa: E402
from desktop_app.core.metrics import psnr  # noqa: E402

SIGMAS = (15, 25, 50)
DIALOG_SETTINGS = ("--lr", "1e-4", "--batch", "8", "--patch", "96", "--val-every", "200")  # its denoise defaults


def photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def scene_split(folder: Path, count: int) -> tuple[list[Path], list[Path]]:
    """(training photos, test photos): whole scenes to training until `count` photos."""
    from desktop_app.core.training.data import scene_key

    scenes: dict[str, list[Path]] = {}
    for p in photos(folder):
        scenes.setdefault(scene_key(p).rstrip("_"), []).append(p)
    train: list[Path] = []
    test: list[Path] = []
    for key in sorted(scenes):
        (train if len(train) < count else test).extend(scenes[key])
    return train, test


def copy_photos(files: list[Path], target: Path, mode: str) -> None:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for p in files:
        Image.open(p).convert(mode).save(target / (p.stem + ".png"))


@torch.inference_mode()
def denoise(model: torch.nn.Module, noisy: np.ndarray, sigma: float) -> np.ndarray:
    """H x W (grey: the one channel to all three inputs, their mean out) or H x W x 3."""
    grey = noisy.ndim == 2
    x = noisy[:, :, None].repeat(3, axis=2) if grey else noisy
    h, w = x.shape[:2]
    ph, pw = (-h) % 16, (-w) % 16
    t = torch.from_numpy(np.pad(x, ((0, ph), (0, pw), (0, 0)), mode="reflect").transpose(2, 0, 1).copy())[None]
    out = model(t, torch.full((1, 3), sigma / 255.0))[0, :, :h, :w].numpy().transpose(1, 2, 0)
    return out.mean(axis=2) if grey else out



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/train/CBSD432"))
    ap.add_argument("--count", type=int, default=30, help="photos to fine-tune on")
    ap.add_argument("--test", type=Path, default=Path("../shared/data/bench/Set12"))
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--kind", choices=("grey", "colour"), default="grey")
    ap.add_argument("--split-scenes", action="store_true",
                    help="train on whole scenes of --data up to --count photos, test on its other scenes")
    ap.add_argument("--model", type=Path, default=None, help="evaluate this fine-tuned model (.json) instead")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("train_args", nargs="*", help="more `desktop-app train` arguments, after --")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from desktop_app.core.models.catalog import find
    from desktop_app.core.models.weights import load_model

    mode = "L" if args.kind == "grey" else "RGB"
    if args.split_scenes:
        train, tests = scene_split(args.data, args.count)
    else:
        train, tests = photos(args.data)[:args.count], [p for p in photos(args.test) if p.suffix.lower() == ".png"]
    model_path, seconds = args.model, None
    if model_path is None:
        copy_photos(train, args.work / "train", mode)
        out = args.work / "finetune.safetensors"
        cmd = [sys.executable, "-m", "desktop_app", "train", "--task", "denoise", "--data", str(args.work / "train"),
               "--base", "cnn", "--minutes", str(args.minutes), *DIALOG_SETTINGS, "--name", "finetune",
               "--threads", str(args.threads), "--run-dir", str(args.work / "run"), "--out", str(out),
               *args.train_args]
        shutil.rmtree(args.work / "run", ignore_errors=True)
        log(f"{len(train)} photos from {args.data} ({args.kind}); training: " + " ".join(cmd[1:]))
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        seconds = time.perf_counter() - start
        model_path = out.with_suffix(".json")

    base, _ = load_model(find("cnn").path)
    tuned, manifest = load_model(model_path)
    rows, gains = [], []
    for sigma in SIGMAS:
        rng = np.random.default_rng(sigma)
        before, after, noisy_scores = [], [], []
        for p in tests:
            clean = np.asarray(Image.open(p).convert(mode), np.float32) / 255
            noisy = (clean + rng.normal(0, sigma / 255, clean.shape)).astype(np.float32)
            noisy_scores.append(psnr(noisy, clean))
            before.append(psnr(denoise(base, noisy, sigma), clean))
            after.append(psnr(denoise(tuned, noisy, sigma), clean))
        gain = float(np.mean(after) - np.mean(before))
        gains.append(gain)
        worst = min(a - b for a, b in zip(after, before))
        rows.append([f"{sigma}", f"{np.mean(noisy_scores):.2f}", f"{np.mean(before):.2f}", f"{np.mean(after):.2f}",
                     f"**{gain:+.2f}**", f"{worst:+.2f}"])
        log(f"sigma {sigma}: {np.mean(before):.2f} -> {np.mean(after):.2f}")
    t = manifest.training
    print(f"`{command_line('benchmarks/finetune.py')}`\n")
    where = f"the other scenes of {args.data.name}" if args.split_scenes else args.test.name
    print(f"Fine-tuned on {len(train)} {'greyscale' if args.kind == 'grey' else 'colour'} photos of {args.data.name} "
          f"({t.get('steps')} steps" + (f", {seconds:.0f} s of wall time" if seconds else "") + "); tested on "
          f"{len(tests)} photos of {where}, PSNR (dB), mean over the photos:\n")
    print(markdown_table(["sigma", "noisy", "shipped cnn", "fine-tuned", "gain", "worst photo"], rows))
    print(f"\nMean gain over the three noise levels: {np.mean(gains):+.2f} dB.")


if __name__ == "__main__":
    main()
