#!/usr/bin/env python
"""Self-supervised fine-tuning on one camera's noisy photos: does it help on that camera's
other photos? The figures of "Self-supervised fine-tuning" in docs/models.md.

    nice -n 10 python benchmarks/selfsup.py --camera NikonD800 --work /tmp/selfsup --minutes 10

1. Split the camera's PolyU photos by scene: `--train` photos to learn from (scenes that
   `cnn-real` was fine-tuned on first, so that the evaluation keeps clear of its
   `train_files`), and the camera's other photos that `cnn-real` never saw for evaluation.
2. Copy only the noisy versions of the training photos into WORK/train (no clean ones) and
   run `desktop-app train --task denoise-real --self-supervised --base cnn-real` on them
   (skipped with `--model`, which evaluates an existing result instead).
3. Denoise the full 512 x 512 evaluation photos with the shipped `cnn-real` and with the
   fine-tuned model, and print the PSNR (dB, data range 1, result clipped to [0, 1]) of each
   against its clean reference; the same for the training photos themselves (a user may
   well denoise the very photos the model learnt from).
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
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from _common import command_line, log, markdown_table, train_in_fresh_process  # noqa: E402
from desktop_app.core.metrics import psnr  # noqa: E402
from desktop_app.core.training.data import read_rgb, scene_key  # noqa: E402


def split(folder: Path, camera: str, count: int, seen: set[str]) -> tuple[list[Path], list[Path]]:
    """(training photos, evaluation photos) of one camera, whole scenes on either side."""
    scenes: dict[str, list[Path]] = {}
    for p in sorted((folder / "noisy").glob(f"{camera}_*")):
        scenes.setdefault(scene_key(p).rstrip("_"), []).append(p)  # "plant__4" is a shot of "plant"
    if not scenes:
        raise SystemExit(f"no photos of {camera} in {folder / 'noisy'}")
    order = sorted(scenes, key=lambda s: (not any(p.name in seen for p in scenes[s]), s))
    train: list[Path] = []
    for s in order:
        if len(train) >= count:
            break
        train += scenes.pop(s)
    test = [p for s in scenes.values() for p in s if p.name not in seen]
    if not test:
        raise SystemExit(f"{camera}: no photos left to evaluate on")
    return train, test



@torch.inference_mode()
def denoise(model: torch.nn.Module, noisy: np.ndarray) -> np.ndarray:
    """The whole photo in one pass (512 x 512 is a multiple of the network's 16)."""
    x = torch.from_numpy(noisy.transpose(2, 0, 1).copy())[None]
    return model(x, None)[0].numpy().transpose(1, 2, 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/bench/PolyU"),
                    help="PolyU: noisy/ and clean/ (default ../shared/data/bench/PolyU)")
    ap.add_argument("--camera", default="NikonD800", help="file-name prefix of the camera")
    ap.add_argument("--train", type=int, default=10, help="about this many photos to learn from (whole scenes)")
    ap.add_argument("--work", type=Path, required=True, help="folder for the training photos and the run")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--model", type=Path, default=None,
                    help="evaluate this fine-tuned model (.json) instead of training one")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("train_args", nargs="*", help="more `desktop-app train` arguments, after --")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from desktop_app.core.models.catalog import find
    from desktop_app.core.models.weights import load_model

    base_entry = find("cnn-real")
    seen = set(base_entry.manifest.training.get("train_files", []))
    train, test = split(args.data, args.camera, args.train, seen)
    log(f"{args.camera}: {len(train)} photos to learn from ({sum(p.name in seen for p in train)} of them in "
        f"cnn-real's train_files), {len(test)} to evaluate on")

    model_path = args.model
    if model_path is None:
        photos = args.work / "train"
        shutil.rmtree(photos, ignore_errors=True)
        photos.mkdir(parents=True)
        for p in train:
            shutil.copy(p, photos / p.name)
        out = args.work / f"selfsup-{args.camera}.safetensors"
        cmd = [sys.executable, "-m", "desktop_app", "train", "--task", "denoise-real", "--self-supervised",
               "--data", str(photos), "--base", "cnn-real", "--minutes", str(args.minutes),
               "--name", f"selfsup-{args.camera}", "--threads", str(args.threads),
               "--run-dir", str(args.work / "run"), "--out", str(out), *args.train_args]
        train_in_fresh_process(cmd, args.work / "run")
        model_path = out.with_suffix(".json")

    base, _ = load_model(base_entry.path)
    tuned, manifest = load_model(model_path)
    t = manifest.training
    print(f"`{command_line('benchmarks/selfsup.py')}`\n")
    print(f"Learnt from {len(train)} noisy photos of {args.camera}; {t.get('steps')} steps, {t.get('seconds')} s of "
          "training. PSNR (dB) of the full 512 x 512 photos against their clean references. `blend`: 70 % "
          "cnn-real + 30 % the noisy photo, a model that merely denoises less, for comparison.\n")
    for title, photos in ((f"Other photos of {args.camera} (never seen by either model)", test),
                          ("The photos it learnt from (their clean versions unused in training)", train)):
        header = ["photo", "noisy", "cnn-real", "blend", "fine-tuned", "gain"]
        print(f"{title}:\n\n{markdown_table(header, scores(photos, args.data, base, tuned))}\n")


def scores(photos: list[Path], data: Path, base: torch.nn.Module, tuned: torch.nn.Module) -> list[list[str]]:
    """One row per photo and a mean row: noisy, cnn-real, blend, fine-tuned, fine-tuned - cnn-real."""
    values = []
    for p in photos:
        noisy = read_rgb(p).astype(np.float32) / 255
        clean = read_rgb(data / "clean" / p.name).astype(np.float32) / 255
        plain = denoise(base, noisy)
        values.append([psnr(noisy, clean), psnr(plain, clean), psnr(0.7 * plain + 0.3 * noisy, clean),
                       psnr(denoise(tuned, noisy), clean)])
        log(p.stem + ": " + ", ".join(f"{v:.2f}" for v in values[-1]))
    rows = [[p.stem] + [f"{v:.2f}" for v in row] + [f"{row[3] - row[1]:+.2f}"] for p, row in zip(photos, values)]
    mean = np.mean(values, axis=0)
    return rows + [["**mean**"] + [f"**{v:.2f}**" for v in mean] + [f"**{mean[3] - mean[1]:+.2f}**"]]


if __name__ == "__main__":
    main()
