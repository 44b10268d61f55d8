"""Progress events and cancellation for long work.

Long work is written as a generator that yields `Progress` events and returns its result.
Every yield is a cancel point: whoever drives the generator (a Qt worker, the CLI's progress
bar, a test) checks the `CancelToken` between events and closes the generator when asked.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """A step of long work: `fraction` in [0, 1] (or None when unknown) and a short message."""

    fraction: float | None
    message: str = ""
    # Optional structured payload (loss values, a preview image, ...) for richer observers.
    data: dict[str, Any] = field(default_factory=dict)


Work = Generator[Progress, None, T]


class Cancelled(Exception):
    """Raised when the user cancelled the work; the document is left unchanged."""


class CancelToken:
    """Thread-safe flag the UI sets and the work polls."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def run_work(
    work: Work[T],
    on_progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
) -> T:
    """Drive a work generator to its result, reporting progress and honouring cancel at each yield."""
    try:
        while True:
            if cancel is not None and cancel.cancelled:
                work.close()
                raise Cancelled()
            event = next(work)
            if on_progress is not None:
                on_progress(event)
    except StopIteration as stop:
        return stop.value


def subrange(work: Work[T], start: float, stop: float) -> Work[T]:
    """Re-scale the fractions of a nested piece of work into [start, stop] of the outer one."""
    try:
        while True:
            event = next(work)
            frac = None if event.fraction is None else start + (stop - start) * event.fraction
            yield Progress(frac, event.message, event.data)
    except StopIteration as stop_:
        return stop_.value


def collect_notes(work: Work[T], notes: list[str]) -> Work[T]:
    """Pass `work`'s events on, keeping in `notes` (once each) the facts its events mark as
    worth telling the user after the run (`data["note"]`: how far a hole was grown, ...)."""
    try:
        while True:
            event = next(work)
            note = event.data.get("note")
            if note and note not in notes:
                notes.append(note)
            yield event
    except StopIteration as stop:
        return stop.value
    finally:
        work.close()


class Pace:
    """How long a job has left, read off its bar: the pace from where the bar started moving
    (its first fraction, or where it went back or came out of a stretch it could not measure) to
    its last move, counted down since that move. None under 2 s or 5 % of the bar, and once full."""

    def __init__(self) -> None:
        self.start: tuple[float, float] | None = None  # (time, fraction)
        self.fraction: float | None = None
        self.moved = 0.0  # when the bar last moved

    def update(self, fraction: float | None, now: float) -> None:
        if fraction is not None and (self.start is None or self.fraction is None or fraction < self.fraction):
            self.start = (now, fraction)
        self.fraction = fraction
        self.moved = now

    def seconds_left(self, now: float) -> float | None:
        if self.start is None or self.fraction is None or self.fraction >= 1.0:
            return None  # not known, or nothing left
        spent, done = self.moved - self.start[0], self.fraction - self.start[1]
        if spent < 2.0 or done < 0.05:
            return None
        return max(0.0, spent * (1.0 - self.fraction) / done - (now - self.moved))

    def text(self, now: float) -> str:
        """"about 15 s left", or "" while that is not known."""
        left = self.seconds_left(now)
        return "" if left is None else say_time_left(left)


def say_time_left(seconds: float) -> str:
    """"about 15 s left", "about 3 min left": rounded as far as such a guess deserves."""
    if seconds < 10:
        return "a few seconds left"
    if seconds < 100:
        return f"about {int(round(seconds / 5) * 5)} s left"
    return f"about {int(round(seconds / 60))} min left"


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def pausable(work: Work[T], running: threading.Event, poll: float = 0.1) -> Work[T]:
    """Hold `work` between its events while `running` is clear. It keeps yielding (a
    "paused" event every `poll` seconds) so that whoever drives it can still cancel."""
    try:
        while True:
            while not running.is_set():
                yield Progress(None, "paused", {"paused": True})
                running.wait(poll)
            try:
                event = next(work)
            except StopIteration as stop:
                return stop.value
            yield event
    finally:
        work.close()  # a cancelled wrapper ends the inner work too (its `finally` runs)
