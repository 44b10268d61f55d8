"""Python's cycle collector, kept off the objects that live as long as the window.

A full collection walks every object the collector tracks, on whichever thread happens to
start it, holding the interpreter: with the window up about 90,000 (20-28 ms), with torch,
OpenVINO and a network loaded 245,000 (90-100 ms on the 2-core machine), a stall of the window
at a moment Python picks. Frozen objects (`gc.freeze`) are left out of every collection. After
a job that left many new objects (the first network brings torch's) the job runner collects
once and freezes what is alive; a new photo unfreezes them all, so that cycles among the old
photo's objects are still freed, and its first job freezes again. Reference counting frees
frozen objects as usual: only cyclic garbage waits for the next unfreeze.
"""

from __future__ import annotations

import gc

FREEZE_ABOVE = 20_000  # tracked objects outside the frozen set worth a collection (~10 ms)


def settle() -> None:
    """Collect, then freeze what is left (a full collection's time, once)."""
    gc.collect()
    gc.freeze()


def settle_if_grown() -> None:
    if len(gc.get_objects()) > FREEZE_ABOVE:  # the objects outside the frozen set only
        settle()


def thaw() -> None:
    gc.unfreeze()
