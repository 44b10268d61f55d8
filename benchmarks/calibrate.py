#!/usr/bin/env python
"""Calibrating `cnn-real` to one camera: does ten minutes on (noisy, clean) pairs of a few of
its scenes help on its other scenes? The figures of "Calibrating to your camera" in
docs/models.md.

    nice -n 10 python benchmarks/calibrate.py --camera NikonD800 --work /tmp/calib/d800 --minutes 10
    python benchmarks/calibrate.py --speed --work /tmp/calib/speed      # 16 frames of 24 MP

1. The camera's PolyU photos (`--data`, 512 x 512 crops; the file name starts with the camera)
   are split by scene (the name without its shot number): `--learn` scenes to calibrate on
   (by default the scenes `cnn-real` was fine-tuned on come first, so that the evaluation
   keeps clear of its `train_files`; `--scenes` names them instead), the camera's other
   photos, never seen by `cnn-real`, to evaluate on. PolyU's clean images are the mean of a
   burst of the same scene, what `desktop-app calibrate` makes from a user's bursts.
2. The learning scenes' pairs go into WORK/pairs (`noisy/`, `clean/`, named `<scene>_<n>`)
   and `desktop-app train --task denoise-pairs --base cnn-real --minutes M --threads 1` is run
   on them. From three learning scenes, `--val-fraction` is chosen so that exactly one of them
   is held back for validation; two are split by shot as the app splits them (some shots of
   each held back, the app's default fraction). The run keeps its best checkpoint on those
   (the averaged network, half of the change: a step must beat the start by 0.05 dB; a run
   that never does keeps nothing: the base unchanged). Arguments after `--` go to the
   command. `--model` evaluates an existing result instead.
3. The full 512 x 512 evaluation photos are denoised by `cnn-real`, by the calibrated model
   and by NL-Means at its best single strength for the camera's evaluation photos (chosen
   with the clean references, a help no user has); PSNR (dB, result clipped to [0, 1]) per
   photo, per scene and over all. The run's last step is measured too ("last step"): where
   the training was heading, whatever step the validation kept.

`--speed` instead times `desktop_app.core.calibration` on a synthetic burst: `--frames` JPEG
frames (quality 95) of `--size` pixels, each moved by up to 4 px and turned by up to 0.3
degrees, with noise of sigma 6; it prints the seconds to align and average them, the seconds
to write the pairs, the peak memory of the process and how far the mean is from the truth.
"""

from __future__ import annotations

import os
import sys

# benchmarks/select.py would shadow the standard library's `select` (see denoise.py)
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:
    sys.path.append(sys.path.pop(0))

import argparse
import hashlib
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import torch
from _common import command_line, log, markdown_table, train_in_fresh_process

from desktop_app.core.metrics import psnr
from desktop_app.core.training.data import WHOLE_SCENES_FROM, read_rgb, scene_key
from desktop_app.core.training.restoration import NLMEANS_STRENGTHS  # the strengths the app's report tries



def scenes_of(folder: Path, camera: str) -> dict[str, list[Path]]:
    scenes: dict[str, list[Path]] = {}
    for p in sorted((folder / "noisy").glob(f"{camera}_*")):
        scenes.setdefault(scene_key(p).rstrip("_"), []).append(p)  # "plant__4" is a shot of "plant"
    if not scenes:
        raise SystemExit(f"no photos of {camera} in {folder / 'noisy'}")
    return scenes


def split(scenes: dict[str, list[Path]], count: int, named: list[str] | None, seen: set[str]
          ) -> tuple[list[str], list[str]]:
    """(scenes to learn from, scenes to evaluate on)."""
    if named:
        learn = [s for s in scenes if any(n in s for n in named)]
    else:
        order = sorted(scenes, key=lambda s: (not any(p.name in seen for p in scenes[s]), s))
        learn = order[:count]
    test = [s for s in scenes if s not in learn and any(p.name not in seen for p in scenes[s])]
    if len(learn) < 2 or not test:
        raise SystemExit(f"need two scenes to learn from and one to evaluate on (learn {learn}, test {test})")
    return learn, test


def stable_hash(name: str) -> float:
    """training.data.is_validation's hash of a scene name, in [0, 1)."""
    return int.from_bytes(hashlib.sha1(name.encode()).digest()[:4], "big") / 2**32


def write_pairs(folder: Path, scenes: dict[str, list[Path]], learn: list[str], out: Path
                ) -> tuple[float | None, str]:
    """Copy the learning scenes' pairs into out/noisy, out/clean as `<scene>_<n>`; return a
    validation fraction that holds back exactly one scene, and what is held back. Two scenes
    are split by shot (`training.data.held_back_pairs`): None, the app's own fraction."""
    shutil.rmtree(out, ignore_errors=True)
    for sub in ("noisy", "clean"):
        (out / sub).mkdir(parents=True)
    for s in learn:
        for p in scenes[s]:
            n = re.search(r"(\d+)$", p.stem).group(1)
            for sub in ("noisy", "clean"):
                shutil.copy(folder / sub / p.name, out / sub / f"{s}_{n}{p.suffix}")
    if len(learn) < WHOLE_SCENES_FROM:
        return None, "some shots of each scene held back"
    h = sorted((stable_hash(s), s) for s in learn)
    return (h[0][0] + h[1][0]) / 2, f"{h[0][1]} held back"


@torch.inference_mode()
def run_model(model: torch.nn.Module, noisy: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(noisy.transpose(2, 0, 1).copy())[None]
    return model(x, None)[0].numpy().transpose(1, 2, 0)


def nlmeans(noisy: np.ndarray, sigma: float) -> np.ndarray:
    from desktop_app.core.operations import registry
    from desktop_app.core.operations.apply import apply_operation
    from desktop_app.core.work import run_work

    return run_work(apply_operation(registry.get("denoise", "nlmeans"), noisy, params={"sigma": sigma}))


def speed(args: argparse.Namespace) -> None:
    import resource

    import cv2

    from desktop_app.core import calibration
    from desktop_app.core.work import run_work

    w, h = args.size
    folder = args.work / "burst"
    if not folder.is_dir() or len(list(folder.glob("*.jpg"))) != args.frames:
        shutil.rmtree(folder, ignore_errors=True)
        truth = write_synthetic_burst(folder, args.frames, w, h)
        cv2.imwrite(str(args.work / "truth.png"), truth.astype(np.uint8))
        del truth
    bursts, _ = calibration.find_bursts([folder])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    start, cpu = time.perf_counter(), time.process_time()
    mean, result = run_work(calibration.average_burst(bursts[0]))
    align, align_cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    truth = cv2.imread(str(args.work / "truth.png"))[:, :, ::-1].astype(np.float32) / 255
    m = 32
    err = float(np.sqrt(np.mean((mean[m:-m, m:-m] - truth[m:-m, m:-m]) ** 2)) * 255)
    del truth
    start = time.perf_counter()
    names = run_work(calibration.write_pairs(bursts[0], mean, result, args.work / "pairs"))
    write = time.perf_counter() - start
    print(f"`{command_line('benchmarks/calibrate.py')}`\n")
    print(markdown_table(["burst", "frames kept", "align + average (s)", "its CPU time (s)", "write pairs (s)", "pairs",
                          "peak memory (GiB)", "noise before -> after (of 255)", "mean vs truth RMS (of 255)"],
                         [[f"{args.frames} x {w} x {h} JPEG", f"{len(result.frames)}", f"{align:.1f}", f"{align_cpu:.1f}", f"{write:.1f}",
                           f"{len(names)}", f"{peak:.2f} (before: {before:.2f})",
                           f"{np.mean(result.sigma_before):.2f} -> {np.mean(result.sigma_after):.2f}", f"{err:.2f}"]]))


def write_synthetic_burst(folder: Path, frames: int, w: int, h: int, seed: int = 0) -> np.ndarray:
    """`frames` JPEG frames (quality 95) of one textured scene into `folder`: the first as it is,
    the others moved by up to 4 px and turned by up to 0.3 degrees, each with noise of sigma 6
    (of 255). Returns the scene (float32 0-255 RGB, in OpenCV's BGR order as written)."""
    import cv2

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    log(f"making a synthetic burst of {frames} frames of {w} x {h}")
    truth = _synthetic_scene(h, w, rng)
    for i in range(frames):
        angle, dx, dy = (0.0, 0.0, 0.0) if i == 0 else (rng.uniform(-0.3, 0.3), *rng.uniform(-4, 4, 2))
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        m[:, 2] += (dx, dy)
        frame = cv2.warpAffine(truth, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        frame += rng.standard_normal(frame.shape, dtype=np.float32) * 6
        cv2.imwrite(str(folder / f"frame_{i:02d}.jpg"), np.clip(frame, 0, 255).astype(np.uint8),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
    return truth


def _synthetic_scene(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Structure at several scales (float32 0-255 RGB), built small and enlarged: cheap at 24 MP."""
    import cv2

    out = np.zeros((h, w, 3), np.float32)
    for div, weight in ((64, 1.0), (8, 0.5), (2, 0.25)):
        small = rng.standard_normal((h // div + 1, w // div + 1, 3)).astype(np.float32)
        out += weight * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    out -= out.min()
    out *= 200.0 / out.max()
    return out + 25.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/bench/PolyU"),
                    help="PolyU: noisy/ and clean/ (default ../shared/data/bench/PolyU)")
    ap.add_argument("--camera", default="NikonD800", help="file-name prefix of the camera")
    ap.add_argument("--learn", type=int, default=3, help="how many scenes to calibrate on (default 3)")
    ap.add_argument("--scenes", nargs="*", default=None, help="calibrate on these scenes (parts of their names)")
    ap.add_argument("--work", type=Path, required=True, help="folder for the pairs and the run")
    ap.add_argument("--minutes", type=float, default=10,
                    help="training budget (0: none, for a run given --steps after --; default 10)")
    ap.add_argument("--model", type=Path, default=None, help="evaluate this model (.json) instead of training")
    ap.add_argument("--base", default="cnn-real",
                    help="model to calibrate from (default cnn-real; e.g. a model of the library trained "
                         "without the camera, to measure a camera the model never saw)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-nlmeans", action="store_true", help="leave NL-Means out (saves a minute)")
    ap.add_argument("--speed", action="store_true", help="time calibration on a synthetic burst instead")
    ap.add_argument("--frames", type=int, default=16, help="--speed: frames in the burst (default 16)")
    ap.add_argument("--size", type=lambda t: tuple(int(v) for v in t.split("x")), default=(6000, 4000),
                    help="--speed: WxH of a frame (default 6000x4000, 24 MP)")
    ap.add_argument("train_args", nargs="*", help="more `desktop-app train` arguments, after --")
    args = ap.parse_args()
    if args.speed:
        torch.set_num_threads(args.threads)
        speed(args)
        return
    torch.set_num_threads(args.threads)

    from desktop_app.core.models.catalog import find
    from desktop_app.core.models.weights import load_model

    base_entry = find(args.base)
    shipped_entry = find("cnn-real")
    seen = set(base_entry.manifest.training.get("train_files", []))
    scenes = scenes_of(args.data, args.camera)
    learn, test = split(scenes, args.learn, args.scenes, seen)
    fraction, held = write_pairs(args.data, scenes, learn, args.work / "pairs")
    log(f"{args.camera}: calibrating on {', '.join(learn)} ({sum(len(scenes[s]) for s in learn)} photos, "
        f"{held} for validation); evaluating on {', '.join(test)}")

    model_path = args.model
    if model_path is None:
        out = args.work / f"calib-{args.camera}.safetensors"
        cmd = [sys.executable, "-m", "desktop_app", "train", "--task", "denoise-pairs",
               "--data", str(args.work / "pairs"), "--base", args.base,
               *(["--minutes", str(args.minutes)] if args.minutes > 0 else []),
               "--name", f"calib-{args.camera}", "--threads", str(args.threads),
               *(["--val-fraction", f"{fraction:.6f}"] if fraction is not None else []),
               "--run-dir", str(args.work / "run"), "--out", str(out), *args.train_args]
        try:
            train_in_fresh_process(cmd, args.work / "run")
            model_path = out.with_suffix(".json")
        except subprocess.CalledProcessError:  # no step beat the start: nothing written
            log(f"the calibration kept nothing: {args.base} unchanged")
            model_path = base_entry.path

    base, _ = load_model(base_entry.path)
    shipped = load_model(shipped_entry.path)[0] if args.base != "cnn-real" else None
    tuned, manifest = load_model(model_path)
    # the run's last step too: what the training did to these scenes, even where validation
    # kept an earlier step (or step 0, the unchanged cnn-real)
    last_path = args.work / "run" / "last.safetensors"
    last = None
    if last_path.exists():
        from safetensors.torch import load_file

        last, _ = load_model(model_path)
        last.load_state_dict({k[6:]: v for k, v in load_file(str(last_path)).items() if k.startswith("model.")})
        last.eval()
    photos = [p for s in test for p in scenes[s] if p.name not in seen]
    rows, values = [], []
    images = [(p, read_rgb(p).astype(np.float32) / 255, read_rgb(args.data / "clean" / p.name).astype(np.float32) / 255)
              for p in photos]
    nl_sigma, nl_scores = None, [float("nan")] * len(images)
    if not args.no_nlmeans:
        best = None
        for s in NLMEANS_STRENGTHS:
            scores = [psnr(nlmeans(noisy, s), clean) for _, noisy, clean in images]
            log(f"NL-Means sigma {s}: {np.mean(scores):.2f} dB")
            if best is None or np.mean(scores) > np.mean(best[1]):
                best = (s, scores)
        nl_sigma, nl_scores = best
    for (p, noisy, clean), nl in zip(images, nl_scores):
        v = [psnr(noisy, clean), nl, psnr(run_model(base, noisy), clean), psnr(run_model(tuned, noisy), clean),
             psnr(run_model(last, noisy), clean) if last is not None else float("nan"),
             psnr(run_model(shipped, noisy), clean) if shipped is not None else float("nan")]
        values.append(v)
        log(p.stem + ": " + ", ".join(f"{x:.2f}" for x in v))

    def row(label: str, v, bold: bool = False) -> list[str]:
        b = "**" if bold else ""
        cells = [f"{x:.2f}" for x in v[:4]] + [f"{v[3] - v[2]:+.2f}", f"{v[4]:.2f}", f"{v[4] - v[2]:+.2f}"]
        if shipped is not None:
            cells += [f"{v[5]:.2f}", f"{v[3] - v[5]:+.2f}"]
        return [label] + [f"{b}{c}{b}" for c in cells]

    for s in test:
        idx = [i for i, (p, _, _) in enumerate(images) if p in scenes[s]]
        rows += [row(images[i][0].stem, values[i]) for i in idx]
        if len(idx) > 1:
            rows.append(row(f"*{s} (mean)*", np.mean([values[i] for i in idx], axis=0)))
    mean = np.mean(values, axis=0)
    rows.append(row("**all**", mean, bold=True))
    t = manifest.training
    print(f"`{command_line('benchmarks/calibrate.py')}`\n")
    print(f"{args.camera}: {args.base} calibrated on {', '.join(learn)} ({held} for validation); "
          + ("no step beat the start: the calibration kept nothing. " if model_path == base_entry.path else
             f"{t.get('steps')} steps, {t.get('seconds')} s; best validation {manifest.metrics}. ")
          + "PSNR (dB) of "
          f"the camera's other photos (512 x 512, never seen by {args.base}), NL-Means at sigma {nl_sigma} "
          f"(its best on these photos).\n")
    print(markdown_table(["photo", "noisy", "NL-Means", args.base, "calibrated", "gain", "last step", "its gain"]
                         + (["cnn-real (shipped)", "calibrated - shipped"] if shipped is not None else []), rows))


if __name__ == "__main__":
    main()
