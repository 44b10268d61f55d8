#!/usr/bin/env python
"""Ten minutes of fine-tuning on one kind of photo: does the shipped Gaussian denoiser get
better on other photos of that kind? The figures of "Fine-tuning on your own photos" in
docs/models.md (the training dialog runs the same trainer).

    python benchmarks/finetune.py --work /tmp/finetune --minutes 10

The kind here is black-and-white photos:

1. The first `--count` images of `--data` (default 30 of CBSD432), turned to greyscale, go
   into WORK/train: what a user with a folder of their own black-and-white photos has.
2. `desktop-app train --task denoise --base cnn --minutes M --lr 1e-4` fine-tunes the shipped
   `cnn` on them (one thread; skipped with `--model`, which evaluates an existing result).
3. Both models denoise Set12 (`--test`, 12 standard greyscale photos the training never saw)
   with Gaussian noise of sigma 15, 25 and 50 (seeded; not clipped, as in published tables),
   the noise level given; the table gives PSNR (dB) per sigma, averaged over the photos.
"""

from __future__ import annotations

import os
import sys

# benchmarks/select.py would shadow the standard library's `select` (see denoise.py)
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:
    sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from _common import command_line, log, markdown_table  # noqa: E402

SIGMAS = (15, 25, 50)


def grey_photos(source: Path, count: int, target: Path) -> list[Path]:
    files = sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:count]
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for p in files:
        Image.open(p).convert("L").save(target / (p.stem + ".png"))
    return files


@torch.inference_mode()
def denoise_grey(model: torch.nn.Module, noisy: np.ndarray, sigma: float) -> np.ndarray:
    """A grey photo through the colour network: three equal channels in, their mean out."""
    h, w = noisy.shape
    ph, pw = (-h) % 16, (-w) % 16
    x = torch.from_numpy(np.pad(noisy, ((0, ph), (0, pw)), mode="reflect"))[None, None].repeat(1, 3, 1, 1)
    out = model(x, torch.full((1, 3), sigma / 255.0))
    return out[0, :, :h, :w].mean(0).numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(1.0 / float(np.mean((np.clip(a, 0, 1) - b) ** 2)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/train/CBSD432"))
    ap.add_argument("--count", type=int, default=30, help="photos to fine-tune on")
    ap.add_argument("--test", type=Path, default=Path("../shared/data/bench/Set12"))
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--model", type=Path, default=None, help="evaluate this fine-tuned model (.json) instead")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("train_args", nargs="*", help="more `desktop-app train` arguments, after --")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from desktop_app.core.models.catalog import find
    from desktop_app.core.models.weights import load_model

    model_path, seconds = args.model, None
    if model_path is None:
        photos = grey_photos(args.data, args.count, args.work / "train")
        out = args.work / "grey-finetune.safetensors"
        cmd = [sys.executable, "-m", "desktop_app", "train", "--task", "denoise", "--data", str(args.work / "train"),
               "--base", "cnn", "--minutes", str(args.minutes), "--lr", "1e-4", "--name", "grey-finetune",
               "--threads", str(args.threads), "--run-dir", str(args.work / "run"), "--out", str(out),
               *args.train_args]
        shutil.rmtree(args.work / "run", ignore_errors=True)
        log(f"{len(photos)} photos from {args.data}, in grey; training: " + " ".join(cmd[1:]))
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        seconds = time.perf_counter() - start
        model_path = out.with_suffix(".json")

    base, _ = load_model(find("cnn").path)
    tuned, manifest = load_model(model_path)
    tests = sorted(p for p in args.test.iterdir() if p.suffix.lower() == ".png")
    rows, gains = [], []
    for sigma in SIGMAS:
        rng = np.random.default_rng(sigma)
        before, after, noisy_scores = [], [], []
        for p in tests:
            clean = np.asarray(Image.open(p).convert("L"), np.float32) / 255
            noisy = (clean + rng.normal(0, sigma / 255, clean.shape)).astype(np.float32)
            noisy_scores.append(psnr(noisy, clean))
            before.append(psnr(denoise_grey(base, noisy, sigma), clean))
            after.append(psnr(denoise_grey(tuned, noisy, sigma), clean))
        gain = float(np.mean(after) - np.mean(before))
        gains.append(gain)
        worst = min(a - b for a, b in zip(after, before))
        rows.append([f"{sigma}", f"{np.mean(noisy_scores):.2f}", f"{np.mean(before):.2f}", f"{np.mean(after):.2f}",
                     f"**{gain:+.2f}**", f"{worst:+.2f}"])
        log(f"sigma {sigma}: {np.mean(before):.2f} -> {np.mean(after):.2f}")
    t = manifest.training
    print(f"`{command_line('benchmarks/finetune.py')}`\n")
    print(f"Fine-tuned on {args.count} greyscale photos ({t.get('steps')} steps"
          + (f", {seconds:.0f} s of wall time" if seconds else "") + "); tested on "
          f"{len(tests)} photos of {args.test.name}, PSNR (dB), mean over the photos:\n")
    print(markdown_table(["sigma", "noisy", "shipped cnn", "fine-tuned", "gain", "worst photo"], rows))
    print(f"\nMean gain over the three noise levels: {np.mean(gains):+.2f} dB.")


if __name__ == "__main__":
    main()
