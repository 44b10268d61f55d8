"""Small helpers shared by the benchmark scripts: progress lines, markdown tables, the command
line that made a table, and writing one section of docs/benchmarks.md."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

# Environment variables that change what a benchmark measures (which weights, which device):
# when set, they belong in the command line printed beside the tables.
RELEVANT_ENV = ("DESKTOP_APP_RESOURCES", "DESKTOP_APP_DATA_DIR", "DESKTOP_APP_DEVICE")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Throttle:
    """True at most once every `seconds` (and always for the last item), so that progress
    lines of a long run can be followed without flooding the terminal."""

    def __init__(self, seconds: float = 10.0) -> None:
        self.seconds = seconds
        self.last = float("-inf")

    def due(self, last_item: bool = False) -> bool:
        now = time.monotonic()
        if last_item or now - self.last >= self.seconds:
            self.last = now
            return True
        return False


def train_in_fresh_process(cmd: list[str], run_dir: Path) -> None:
    """Run a `desktop-app train` command (`cmd`) from an empty run folder, logging it and how
    long it took; a failed run raises."""
    import shutil
    import subprocess

    shutil.rmtree(run_dir, ignore_errors=True)
    log("training: " + " ".join(cmd[1:]))
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    log(f"training took {time.perf_counter() - start:.0f} s")


def markdown_table(header: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    """A markdown table; columns from `numeric_from` on are right-aligned."""
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def command_line(script: str) -> str:
    """The command that is running, as a user would type it from the repository root."""
    env = [f"{name}={shlex.quote(os.environ[name])}" for name in RELEVANT_ENV if os.environ.get(name)]
    return " ".join(env + ["python", script] + [shlex.quote(a) for a in sys.argv[1:]])


def refuse_partial_out(ap, out, heading: str, **narrowed: bool) -> None:
    """`--out` replaces a whole section of the docs, so it takes a run of every method: stop
    (through the parser `ap`) when any of the `narrowed` options (name -> used) left methods
    or tables out, before the run rather than after it has overwritten the full run's rows.
    (How many images a run takes is its own business: the section prints its command.)"""
    used = [f"--{name.replace('_', '-')}" for name, on in narrowed.items() if on]
    if out and used:
        ap.error(f"--out replaces the whole '{heading}' section of {out}, so it needs a full run: "
                 f"leave out {', '.join(used)} (or copy the rows of a partial run by hand)")


def replace_section(path: str | os.PathLike, heading: str, body: str) -> None:
    """Write `heading` + `body` into a markdown file in place of the section that has the same
    heading (up to the next heading of the same or a higher level), or at the end of the file;
    the other sections are kept as they are."""
    path = Path(path)
    level = len(heading) - len(heading.lstrip("#"))
    old = path.read_text(encoding="utf-8").splitlines() if path.exists() else ["# Benchmarks", ""]
    start = end = None
    in_code = False
    for i, line in enumerate(old):
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        line_level = len(line) - len(line.lstrip("#"))
        if start is None and line.strip() == heading:
            start = i
        elif start is not None and line_level <= level:
            end = i
            break
    new = [heading, "", body.strip("\n"), ""]
    if start is None:
        while old and not old[-1].strip():
            old.pop()
        lines = old + [""] + new
    else:
        lines = old[:start] + new + (old[end:] if end is not None else [])
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines).rstrip("\n") + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_jpeg_under(path, rgb, max_bytes: int, quality: int) -> tuple[int, int, int]:
    """Write an 8-bit RGB picture as JPEG, scaled down until the file fits in `max_bytes`.
    Returns (width, height, bytes)."""
    import math

    import cv2

    path = Path(path)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    while True:
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise SystemExit(f"could not encode the picture {path}")
        if data.size <= max_bytes:
            break
        factor = math.sqrt(max_bytes / data.size) * 0.95
        bgr = cv2.resize(bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.tobytes())
    log(f"picture written to {path} ({bgr.shape[1]}x{bgr.shape[0]}, {data.size / 1e6:.2f} MB)")
    return bgr.shape[1], bgr.shape[0], int(data.size)


def run_fresh_process(cmd: list[str], label: str, notes: list[str]) -> dict | None:
    """Run a benchmark child (`cmd`) in a fresh process, so its peak memory is its own; the
    child prints one JSON line last. On failure a note is added and None returned."""
    import json
    import subprocess

    log(f"{label}: running in a fresh process")
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        notes.append(f"Not measured: {label}: the process failed (exit status {done.returncode}).")
        return None
    log(f"{label}: {time.perf_counter() - start:.0f} s in all")
    return json.loads(done.stdout.strip().splitlines()[-1])


def picture_section(heading: str, caption: str, picture: str | os.PathLike,
                    out: str | os.PathLike | None, alt: str) -> str:
    """A "### heading" section: the caption, then the picture linked relative to the markdown
    file `out` (no link when the tables only go to the terminal)."""
    lines = [heading, "", caption]
    if out:
        rel = os.path.relpath(Path(picture).resolve(), Path(out).resolve().parent)
        lines += ["", f"![{alt}]({Path(rel).as_posix()})"]
    return "\n".join(lines)


def finish_report(out: str | os.PathLike | None, heading: str, header: str, parts: list[str], footer: str) -> None:
    """Print the footer and, with `out`, write header, parts and footer as that section of it."""
    print(footer)
    if out:
        replace_section(out, heading, "\n\n".join([header] + parts + [footer]))
        log(f"tables written to the '{heading}' section of {out}")



def star_region(rng, height: int, width: int, amplitude: float, radius: float | None = None,
                area: float | None = None):
    """An anti-aliased star-shaped region (H x W float32, 0-1), object-like: a radius that varies
    smoothly with the angle (harmonics 1-5 of `amplitude`), stretched by a random aspect, placed
    at random where it fits. Its size is its mean `radius`, or its `area` in pixels."""
    import numpy as np

    aspect = rng.uniform(0.65, 1.5)
    theta = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    log_r = np.zeros_like(theta)
    for k in range(1, 6):
        log_r += rng.normal(0, amplitude / k ** 1.3) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    if radius is None:  # the polygon's area is pi r0^2 times the mean of exp(2 log_r)
        radius = float(np.sqrt(area / (np.pi * np.exp(2 * log_r).mean())))
    r = radius * np.exp(log_r)
    rx, ry = r * np.cos(theta) * aspect, r * np.sin(theta) / aspect

    def centre(lo: float, hi: float) -> float:  # inside the photo when it fits
        return rng.uniform(lo, hi) if hi > lo else (lo + hi) / 2

    cx, cy = centre(2 - rx.min(), width - 2 - rx.max()), centre(2 - ry.min(), height - 2 - ry.max())
    return fill_polygon(np.stack([cx + rx, cy + ry], axis=1), height, width)


def fill_polygon(points, height: int, width: int, supersample: int = 4):
    """The polygon `points` (N x 2, x and y in pixels) drawn anti-aliased: H x W float32, 0-1."""
    import cv2
    import numpy as np

    shift = 4
    big = np.zeros((height * supersample, width * supersample), np.uint8)
    pts = np.round(points * supersample * (1 << shift)).astype(np.int32)
    cv2.fillPoly(big, [pts], 255, cv2.LINE_8, shift)
    small = cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0
