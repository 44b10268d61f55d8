#!/usr/bin/env python
"""Where the time of `desktop-app denoise` goes: each stage of the command, timed on its own.

    python benchmarks/denoise_stages.py                     # 24 MP JPEG and 24 MP 16-bit TIFF
    python benchmarks/denoise_stages.py --size 4000x3000 --method cnn-real

The photo is a CBSD68 image enlarged to the size with σ 15 noise, clipped, written once as a
quality-95 JPEG and as a 16-bit TIFF into a temporary folder. Each format runs in a fresh
process (this script with --child), in the stages the CLI goes through: start-up (importing
the CLI and the core), decode (load_image), noise estimate (estimate_sigma, what "auto"
runs), model load (importing torch, the model manager and, on the CPU, the runtime's cached
graph), the
network (the denoise operation with the estimated sigma, through the operation registry as
the CLI runs it), encode (save_image) and exit (the interpreter's shutdown).
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:  # benchmarks/select.py shadows `select`
    sys.path.append(sys.path.pop(0))

import time  # noqa: E402

T0 = time.perf_counter()
BORN = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STAGES = ("start-up", "decode", "estimate", "model load", "network", "encode", "exit")


def child(args: argparse.Namespace) -> None:
    from desktop_app import cli  # noqa: F401  (what the command imports first)
    from desktop_app.core.imaging.io import load_image, save_image
    from desktop_app.core.imaging.noise import estimate_sigma
    from desktop_app.core.operations import registry
    from desktop_app.core.operations.apply import apply_operation
    from desktop_app.core.work import run_work

    times = {"start-up": time.perf_counter() - T0}

    def timed(stage, fn):
        t = time.perf_counter()
        result = fn()
        times[stage] = time.perf_counter() - t
        return result

    image, meta = timed("decode", lambda: load_image(args.child))
    sigma = timed("estimate", lambda: estimate_sigma(image))
    def load():
        from desktop_app.core.models.manager import MANAGER  # torch is imported here, as in the CLI

        return MANAGER.runner(args.method, args.device)

    runner = timed("model load", load)
    op = registry.get("denoise", args.method)
    params = {"sigma": float(sigma.mean())} if runner.arch.takes_noise_map else {}
    out = timed("network", lambda: run_work(apply_operation(op, image, params=params, bit_depth=meta.bit_depth,
                                                             device=args.device)))
    timed("encode", lambda: save_image(args.output, out, meta))
    print(json.dumps({"times": times, "backend": runner.backend, "born": BORN, "done": time.time()}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--size", default="6000x4000", help="WxH of the photo (default 24 MP)")
    ap.add_argument("--method", default="cnn", help="denoising network: cnn or cnn-real")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--output", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return 0
    sys.path.insert(0, _HERE)
    from denoise import big_photo  # noqa: E402

    from desktop_app.core.imaging.io import save_image

    width, height = (int(v) for v in args.size.lower().split("x"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photo = big_photo(args.data, width, height)
        files = {"JPEG": Path(tmp) / "photo.jpg", "16-bit TIFF": Path(tmp) / "photo.tif"}
        save_image(files["JPEG"], photo, jpeg_quality=95)
        save_image(files["16-bit TIFF"], photo, bit_depth=16)
        del photo
        for kind, path in files.items():
            cmd = [sys.executable, __file__, "--child", str(path), "--output", str(path.with_stem("out")),
                   "--method", args.method, "--device", args.device]
            t0, launched = time.perf_counter(), time.time()
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            total = time.perf_counter() - t0
            report = json.loads(done.stdout.strip().splitlines()[-1])
            # before the first line of this script runs (the interpreter), and after its last (exit)
            report["times"]["start-up"] += report["born"] - launched
            report["times"]["exit"] = time.time() - report["done"]
            rows.append((kind, report, total))
            print(f"{kind}: " + ", ".join(f"{s} {report['times'][s]:.1f} s" for s in STAGES), file=sys.stderr)
    print(f"| file | {' | '.join(STAGES)} | whole process |")
    print("|---|" + "---:|" * (len(STAGES) + 1))
    for kind, report, total in rows:
        print(f"| {kind} ({report['backend']}) | " + " | ".join(f"{report['times'][s]:.1f}" for s in STAGES)
              + f" | {total:.1f} |")
    print(f"\n{width}x{height}, --method {args.method}, load average {os.getloadavg()[0]:.1f} at the end; seconds.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
