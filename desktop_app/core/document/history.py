"""Undo history that stores changed regions only, with a cap on the memory it holds.

Each step holds, per layer, the region it changed as it was on the other side of the step.
Undo and redo swap that region with the document's, so a step costs one copy of its region.
Regions are stored as uint16: exact for 8- and 16-bit sources, a quarter of float32 for masks
and half for images.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from desktop_app.core.imaging.convert import to_uint16

DEFAULT_CAP_BYTES = 1 << 30  # 1 GiB
_ids = itertools.count(1)


@dataclass
class Patch:
    layer: str  # "image" or "mask"
    y0: int
    x0: int
    data: np.ndarray  # uint16

    @classmethod
    def of(cls, layer: str, array: np.ndarray, box: tuple[int, int, int, int]) -> "Patch":
        y0, y1, x0, x1 = box
        return cls(layer, y0, x0, to_uint16(array[y0:y1, x0:x1]))

    @property
    def box(self) -> tuple[int, int, int, int]:
        h, w = self.data.shape[:2]
        return self.y0, self.y0 + h, self.x0, self.x0 + w

    def as_float(self) -> np.ndarray:
        return np.divide(self.data, 65535.0, dtype=np.float32)


@dataclass
class Step:
    title: str
    patches: list[Patch]
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def nbytes(self) -> int:
        return sum(p.data.nbytes for p in self.patches)


class History:
    def __init__(self, cap_bytes: int = DEFAULT_CAP_BYTES) -> None:
        self.cap_bytes = cap_bytes
        self.done: list[Step] = []
        self.undone: list[Step] = []
        self.dropped = 0  # steps forgotten to respect the cap

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.done) + sum(s.nbytes for s in self.undone)

    def push(self, step: Step) -> None:
        self.done.append(step)
        self.undone.clear()
        # forget the oldest steps beyond the cap, but always keep the newest
        while self.nbytes > self.cap_bytes and len(self.done) > 1:
            self.done.pop(0)
            self.dropped += 1

    @property
    def can_undo(self) -> bool:
        return bool(self.done)

    @property
    def can_redo(self) -> bool:
        return bool(self.undone)

    @property
    def top_id(self) -> int:
        return self.done[-1].id if self.done else 0

    def titles(self) -> list[str]:
        """Done steps oldest first, then undone steps in redo order."""
        return [s.title for s in self.done] + [s.title for s in reversed(self.undone)]
