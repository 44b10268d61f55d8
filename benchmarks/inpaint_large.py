#!/usr/bin/env python
"""Remove object over a 30 % hole on a 12 MP photo: how long it takes, how often progress moves,
and how soon Cancel stops it.

    python benchmarks/inpaint_large.py [--data ../shared/data/bench/CBSD68] [--size 4000x3000]
                                       [--cancel-at 0.25 0.5 0.75]

The photo and hole: inpaint.py's big case (a landscape CBSD68 image upscaled with σ 2/255 noise;
strokes and blobs drawn 1500 px wide and upscaled, painted grey) with the hole covering 29-31 %
of it instead of 2 %. Remove object runs as the app runs it
(`apply_operation`, defaults, seed 0, on the CPU) once to the end, then once per `--cancel-at`
fraction, cancelled (the window's CancelToken) at the first progress event past it. Prints the
whole run's seconds, its number of progress events and the longest wait between two, and for
each cancel the seconds from the cancel to the run's end.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:  # benchmarks/select.py shadows `select`
    sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import inpaint as bench  # noqa: E402  (benchmarks/inpaint.py: its photos, masks and hole colour)
from desktop_app.core.operations import apply_operation  # noqa: E402
from desktop_app.core.operations import registry  # noqa: E402
from desktop_app.core.work import CancelToken, Cancelled, run_work  # noqa: E402

COVERAGE = (0.29, 0.31)


def timed_run(image: np.ndarray, mask: np.ndarray, cancel_at: float | None) -> dict:
    op = registry.get("inpaint", "remove")
    token, times, cancelled_at = CancelToken(), [], []

    def on_progress(event) -> None:
        times.append(time.perf_counter())
        if cancel_at is not None and not cancelled_at and event.fraction is not None and event.fraction > cancel_at:
            cancelled_at.append(time.perf_counter())
            token.cancel()

    start = time.perf_counter()
    try:
        run_work(apply_operation(op, image, mask, {}, device="cpu"), on_progress, token)
        ended = "done"
    except Cancelled:
        ended = "cancelled"
    end = time.perf_counter()
    waits = np.diff([start] + times + [end])
    return {"ended": ended, "seconds": end - start, "events": len(times), "longest_wait": float(waits.max()),
            "stop": end - cancelled_at[0] if cancelled_at else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared/data/bench/CBSD68")
    ap.add_argument("--size", type=bench.parse_size, default=(4000, 3000))
    ap.add_argument("--cancel-at", type=float, nargs="*", default=[0.25, 0.5, 0.75])
    args = ap.parse_args()
    width, height = args.size
    image, mask = bench.big_case(args.data, width, height, COVERAGE)
    run_work(apply_operation(registry.get("inpaint", "remove"), *bench.warm_up_case(), {}, device="cpu"))
    print(f"{width}x{height}, hole {mask.mean() * 100:.1f} %")
    whole = timed_run(image, mask, None)
    print(f"to the end: {whole['seconds']:.1f} s, {whole['events']} progress events, "
          f"longest wait between two {whole['longest_wait']:.2f} s")
    for fraction in args.cancel_at:
        run = timed_run(image, mask, fraction)
        print(f"cancelled past {fraction:.0%}: {run['ended']} {run['stop']:.2f} s after the cancel "
              f"(run {run['seconds']:.1f} s)" if run["stop"] is not None else f"past {fraction:.0%}: never reached")
    return 0


if __name__ == "__main__":
    sys.exit(main())
