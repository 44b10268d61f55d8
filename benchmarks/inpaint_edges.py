#!/usr/bin/env python
"""Remove object where the object stands in front of a straight edge: the drawn edges on and off.

    python benchmarks/inpaint_edges.py [--data ../shared/data/bench] [--threads 1]

The issue-18 benchmark's holes are random strokes and boxes; they rarely sit across a cable or
a table's edge the way an object a user removes does. Here each photo (all of PolyU/clean and
CBSD68) gets one object-sized hole over its longest straight edge: OpenCV's probabilistic
Hough transform on Canny edges (60 / 150, lines of at least a quarter of the short side), an
oval with half-axes of 1/8 and 3/40 of the short side centred on that line's middle, its long
axis across the line. Photos without such a line are left out. Remove object runs as the app
runs it (seed 0), once as shipped and once with `remove.drawn_edges` answering None (no edges
drawn), in the same process; the scores are inpaint.py's (texture distance, detail ratio,
structure PSNR at 4x). Prints the means, the cases that changed, and the table of those.

    python benchmarks/inpaint_edges.py --brushed 32 [--seed 0]

Instead: plug_11's thick lower cable brushed over as a user does, with two strokes 40-56 px wide
(random directions and lengths, kept only where together they cut the cable), Remove object
as the app runs it; the structure PSNR at 4x over the brushed area (grown by 3 px) against the
photo, whose cable lies under the mask: a cable that goes on scores about 25-35 dB, one cut or
halved 8-19 dB. Prints each case's score and the mean.
"""

from __future__ import annotations

import os
import sys

# benchmarks/select.py would shadow the standard library's `select`: this folder last (inpaint.py)
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:
    sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import statistics  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import inpaint as bench  # noqa: E402  (benchmarks/inpaint.py: the cases and scores its tables use)
from desktop_app.core.inpainting import remove  # noqa: E402


def line_hole(image: np.ndarray) -> np.ndarray | None:
    """An oval hole across the photo's longest straight edge, or None without one."""
    grey = cv2.cvtColor(bench.to_uint8(image), cv2.COLOR_RGB2GRAY)
    short = min(grey.shape)
    lines = cv2.HoughLinesP(cv2.Canny(grey, 60, 150), 1, np.pi / 180, 60, minLineLength=short // 4, maxLineGap=3)
    if lines is None or len(lines) == 0:
        return None
    x1, y1, x2, y2 = (int(v) for v in max(lines.reshape(-1, 4), key=lambda l: float(np.hypot(*(l[2:] - l[:2]).astype(float)))))
    angle = float(np.degrees(np.arctan2(y2 - y1, x2 - x1)))
    hole = np.zeros(grey.shape, np.uint8)
    axis = short // 8
    cv2.ellipse(hole, ((x1 + x2) // 2, (y1 + y2) // 2), (int(axis * 0.6), axis), angle + 180, 0, 360, 1, -1)
    return hole.astype(np.float32)


BRUSHED_PHOTO = "PolyU/clean/Canon5D2_5_160_3200_plug_11.jpg"


def cable_middle(x: np.ndarray) -> np.ndarray:
    """The middle of plug_11's thick lower cable at column x (px, read off the photo)."""
    return 469 - 0.6 * x


def brushed_masks(shape: tuple[int, int], cable: np.ndarray, count: int, seed: int) -> list[np.ndarray]:
    """`count` masks of two brush strokes each over the cable near columns 200-260 (`cable`: the
    cable's dark pixels), each pair kept only where it cuts the cable in two."""
    rng = np.random.default_rng(seed)
    h, w = shape
    across = np.array([0.6, 1.0]) / np.hypot(0.6, 1.0)
    masks: list[np.ndarray] = []
    while len(masks) < count:
        mask = np.zeros(shape, np.uint8)
        x = rng.uniform(200, 260)
        for _ in range(2):
            cx = x + rng.uniform(-25, 25)
            angle, length = rng.uniform(0, np.pi), rng.uniform(30, 90)
            along = np.array([np.cos(angle), np.sin(angle)])
            start = np.array([cx, cable_middle(cx)]) + rng.uniform(-25, 25) * across - length / 2 * along
            end = start + length * along
            cv2.line(mask, tuple(int(v) for v in start), tuple(int(v) for v in end), 1, 2 * int(rng.uniform(20, 28)))
        _, parts = cv2.connectedComponents((cable & (mask == 0)).astype(np.uint8))
        if set(parts[:, 150][cable[:, 150]]) & set(parts[:, 320][cable[:, 320]]):
            continue  # the cable passes beside the strokes
        masks.append(mask.astype(np.float32))
    return masks


def brushed(args: argparse.Namespace, method: "bench.Method") -> int:
    image = bench.load_rgb(args.data / BRUSHED_PHOTO)
    h, w = image.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    cable = (image.mean(axis=2) < 0.3) & (np.abs(yy - cable_middle(xx)) < 30)
    scores = []
    for k, mask in enumerate(brushed_masks((h, w), cable, args.brushed, args.seed)):
        result = method.run(bench.holed(image, mask), mask)
        scored = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=3) > 0
        scores.append(bench.structure_psnr(image, result, scored))
        print(f"case {k}: structure {scores[-1]:.2f}", flush=True)
    print(f"\n{len(scores)} brushed-over cables: structure PSNR (4x) mean {statistics.mean(scores):.2f}, "
          f"{sum(v < 20 for v in scores)} under 20 dB (the cable cut or halved)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared/data/bench")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--brushed", type=int, default=0, help="this many brushed-over cables instead (see above)")
    ap.add_argument("--seed", type=int, default=0, help="the brushed masks' seed")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    method = bench.app_method("remove", None)
    if args.brushed:
        return brushed(args, method)
    shipped = remove.drawn_edges
    files = bench.image_files(args.data / "PolyU/clean", None) + bench.image_files(args.data / "CBSD68", None)
    rows = []
    for path in files:
        image = bench.load_rgb(path)
        mask = line_hole(image)
        if mask is None:
            continue
        hole = mask > 0.5
        scores = []
        for drawn in (None, shipped):
            remove.drawn_edges = shipped if drawn else (lambda *a: None)
            result = method.run(bench.holed(image, mask), mask)
            scores.append((bench.texture_distance(image, result, hole), bench.detail_ratio(image, result, hole),
                           bench.structure_psnr(image, result, hole)))
        remove.drawn_edges = shipped
        rows.append((path.stem, *scores))
        print(f"{path.stem}: structure {scores[0][2]:.2f} -> {scores[1][2]:.2f}", flush=True)
    print(f"\n{len(rows)} photos with a straight edge (of {len(files)})")
    for k, name in enumerate(("texture distance", "detail ratio", "structure PSNR (4x)")):
        print(f"{name}: off {statistics.mean(r[1][k] for r in rows):.3f}, on {statistics.mean(r[2][k] for r in rows):.3f}")
    changed = [r for r in rows if abs(r[2][2] - r[1][2]) > 0.005 or abs(r[2][0] - r[1][0]) > 0.005]
    print(f"{len(changed)} changed, {sum(r[2][2] > r[1][2] for r in changed)} with higher structure PSNR\n")
    print("| photo | structure off -> on | texture off -> on | detail off -> on |\n|---|---|---|---|")
    for name, off, on in sorted(changed, key=lambda r: r[2][2] - r[1][2]):
        print(f"| {name} | {off[2]:.2f} -> {on[2]:.2f} | {off[0]:.2f} -> {on[0]:.2f} | {off[1]:.2f} -> {on[1]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
