"""Progress of long work on stderr, for every subcommand that runs a core generator."""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, TextIO

from desktop_app.core.work import Pace, Progress, Work, run_work


class ProgressBar:
    """Progress on stderr: a bar redrawn in place on a terminal; elsewhere (a log file, a pipe,
    a job runner) one plain line every `LINE_EVERY_S` seconds, so a long run is seen alive."""

    LINE_EVERY_S = 5.0

    def __init__(self, title: str, enabled: bool = True, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.title = title
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.terminal = self.stream.isatty()
        self.clock = clock
        self.start = clock()
        self._last = self.start if not self.terminal else 0.0
        self._drawn = False
        self.pace = Pace()

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        now = self.clock()
        frac = min(max(p.fraction, 0.0), 1.0) if p.fraction is not None else None
        self.pace.update(frac, now)
        left = self.pace.text(now)
        if self.terminal:
            if now - self._last < 0.1 and (frac or 0) < 1:
                return
            width, f = 30, frac or 0.0
            bar = "#" * int(f * width) + "-" * (width - int(f * width))
            self.stream.write(f"\r{self.title} [{bar}] {f * 100:5.1f}% {now - self.start:6.1f}s {left:<19} "
                              f"{p.message[:40]:<40}")
            self._drawn = True
        else:
            if now - self._last < self.LINE_EVERY_S:
                return
            elapsed = now - self.start
            line = f"{self.title}: " + (f"{frac * 100:.0f}%" if frac is not None else "working")
            line += f", {p.message}" if p.message else ""
            line += f", {elapsed:.0f} s elapsed"
            if left:
                line += f", {left}"
            self.stream.write(line + "\n")
        self._last = now
        self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")


def drive(work: Work[Any], title: str, quiet: bool) -> Any:
    """Run `work` to its result behind a progress bar titled `title` (none when quiet)."""
    bar = ProgressBar(title, enabled=not quiet)
    try:
        return run_work(work, bar)
    finally:
        bar.close()
