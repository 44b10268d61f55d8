"""Peak memory of the command line against the photo's size, and what a photo at the pixel
limit (`DEFAULT_MAX_PIXELS`) needs.

    python benchmarks/memory.py                  # 4 and 16 MP, every command (about 7 minutes on 1 core)
    python benchmarks/memory.py --sizes 2 4 --commands wand box

Each command runs in a fresh process under `/usr/bin/time -v` (Linux), one thread, on a
synthetic photo (smooth colour plus grain). Peak resident memory grows in a straight line
with the pixels, so two sizes give the fixed cost and the bytes per pixel, and the line gives
the peak at the limit. Prints a markdown table.
"""

from __future__ import annotations

import sys

_SCRIPTS = sys.path.pop(0)  # benchmarks/select.py would shadow the standard library's select
import argparse  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2
import numpy as np

sys.path.insert(0, _SCRIPTS)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import command_line, log, markdown_table  # noqa: E402

from desktop_app.core.imaging.io import DEFAULT_MAX_PIXELS  # noqa: E402

COMMANDS = {
    "wand": ["select", "{photo}", "--wand", "10,10", "--tolerance", "32", "-o", "{out}.png"],
    "box": ["select", "{photo}", "--box", "100,100,800,600", "-o", "{out}.png"],
    "nlmeans": ["denoise", "{photo}", "--method", "nlmeans", "--sigma", "15", "-o", "{out}.png"],
    "cnn": ["denoise", "{photo}", "--method", "cnn", "--sigma", "15", "--device", "cpu", "-o", "{out}.png"],
}


def synthetic_photo(path: Path, megapixels: float) -> None:
    height = int((megapixels * 1e6 * 3 / 4) ** 0.5)
    width = int(megapixels * 1e6 / height)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([0.5 + 0.4 * np.sin(xx / (37 + 5 * c)) * np.cos(yy / 29) for c in range(3)], axis=2)
    image += np.random.default_rng(0).normal(0, 0.05, image.shape).astype(np.float32)
    cv2.imwrite(str(path), (np.clip(image, 0, 1) * 255).astype(np.uint8)[:, :, ::-1],
                [cv2.IMWRITE_PNG_COMPRESSION, 1])


def peak_mb(args: list[str]) -> tuple[float, float]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENCV_NUM_THREADS="1")
    r = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "desktop_app", *args, "-q"],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {r.stderr.strip().splitlines()[-1]}")
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    clock = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", r.stderr).group(1)
    minutes, _, seconds = clock.rpartition(":")
    return kb / 1024, float(minutes or 0) * 60 + float(seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=float, nargs=2, default=[4, 16], metavar="MP")
    ap.add_argument("--commands", nargs="+", choices=list(COMMANDS), default=list(COMMANDS))
    args = ap.parse_args()
    limit_mp = DEFAULT_MAX_PIXELS / 1e6
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photos = {}
        for mp in args.sizes:
            photos[mp] = Path(tmp) / f"photo{mp:g}.png"
            synthetic_photo(photos[mp], mp)
        for name in args.commands:
            peaks = []
            for mp in args.sizes:
                cmd = [a.format(photo=photos[mp], out=Path(tmp) / f"{name}{mp:g}") for a in COMMANDS[name]]
                peak, seconds = peak_mb(cmd)
                log(f"{name} {mp:g} MP: {peak:.0f} MB peak, {seconds:.0f} s")
                peaks.append(peak)
            (mp0, mp1), (p0, p1) = args.sizes, peaks
            per_pixel = (p1 - p0) * 2**20 / ((mp1 - mp0) * 1e6)
            fixed = p0 - per_pixel * mp0 * 1e6 / 2**20
            at_limit = (fixed + per_pixel * DEFAULT_MAX_PIXELS / 2**20) / 1024
            rows.append([name, f"{p0:.0f}", f"{p1:.0f}", f"{per_pixel:.1f}", f"{fixed:.0f}", f"{at_limit:.1f}"])
    print(f"Made by `{command_line('benchmarks/memory.py')}`; peak resident memory of `desktop-app` "
          f"in a fresh process, one thread.\n")
    print(markdown_table(["command", f"MB at {args.sizes[0]:g} MP", f"MB at {args.sizes[1]:g} MP", "bytes/pixel",
                          "fixed MB", f"GB at the limit ({limit_mp:g} MP)"], rows))


if __name__ == "__main__":
    main()
