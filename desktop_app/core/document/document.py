"""The open document: pixels, mask and history, with no Qt.

`image` is never changed in place: every edit replaces the array. That makes it safe for the
autosave thread and the before/after view to hold a reference without copying 24 megapixels.
The mask is painted in place (brush strokes touch a few tiles at a time); a stroke's
`MaskStroke` records the tiles it touches so the whole stroke is one undo step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from desktop_app.core.brush import BrushSettings, stamp_segment
from desktop_app.core.document.history import History, Patch, Step
from desktop_app.core.imaging.tiles import mask_bbox

Box = tuple[int, int, int, int]
Listener = Callable[[str, Box | None], None]  # (what changed: "image"/"mask"/"history", box or None for all)

STROKE_TILE = 128


class StaleEdit(RuntimeError):
    """A prepared edit whose base image is no longer the document's."""


@dataclass
class PendingImage:
    base: np.ndarray
    new: np.ndarray
    step: Step | None
    box: Box | None


def changed_box(old: np.ndarray, new: np.ndarray) -> Box | None:
    """Bounding box of the pixels that differ (OpenCV: fast on 24 megapixels)."""
    h = old.shape[0]
    diff = cv2.absdiff(np.ascontiguousarray(old).reshape(h, -1), np.ascontiguousarray(new).reshape(h, -1))
    rows = np.flatnonzero(cv2.reduce(diff, 1, cv2.REDUCE_MAX).ravel())
    if rows.size == 0:
        return None
    cols = cv2.reduce(diff, 0, cv2.REDUCE_MAX).reshape(old.shape[1], -1).max(axis=1)
    cols = np.flatnonzero(cols)
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


class MaskStroke:
    """One brush stroke: stamps segments and remembers the tiles as they were before."""

    def __init__(self, doc: "Document", brush: BrushSettings, title: str) -> None:
        self.doc, self.brush, self.title = doc, brush, title
        self.saved: dict[tuple[int, int], np.ndarray] = {}
        self.last: tuple[float, float] | None = None

    def _remember(self, box: Box) -> None:
        y0, y1, x0, x1 = box
        mask = self.doc.mask
        for ty in range(y0 // STROKE_TILE, (y1 - 1) // STROKE_TILE + 1):
            for tx in range(x0 // STROKE_TILE, (x1 - 1) // STROKE_TILE + 1):
                if (ty, tx) not in self.saved:
                    self.saved[(ty, tx)] = mask[ty * STROKE_TILE:(ty + 1) * STROKE_TILE,
                                                tx * STROKE_TILE:(tx + 1) * STROKE_TILE].copy()

    def to(self, x: float, y: float) -> Box | None:
        """Extend the stroke to (x, y) in image pixels."""
        p0 = self.last if self.last is not None else (x, y)
        self.last = (x, y)
        from desktop_app.core.brush import segment_box

        box = segment_box(p0, (x, y), self.brush.clamped().size / 2.0, self.doc.mask.shape)
        if box is None:
            return None
        self._remember(box)
        with self.doc.lock:
            changed = stamp_segment(self.doc.mask, p0, (x, y), self.brush)
        self.doc.notify("mask", changed)
        return changed

    def finish(self) -> Step | None:
        if not self.saved:
            return None
        patches = []
        for (ty, tx), before in self.saved.items():
            y0, x0 = ty * STROKE_TILE, tx * STROKE_TILE
            after = self.doc.mask[y0:y0 + before.shape[0], x0:x0 + before.shape[1]]
            if not np.array_equal(before, after):
                patches.append(Patch.of("mask", before, (0, before.shape[0], 0, before.shape[1])))
                patches[-1].y0, patches[-1].x0 = y0, x0
        if not patches:
            return None
        step = Step(self.title, patches)
        self.doc.history.push(step)
        self.doc.notify("history", None)
        return step


class Document:
    def __init__(self, image: np.ndarray, meta: Any = None, path: str | Path | None = None,
                 history_cap: int | None = None) -> None:
        import threading

        self.image = image
        self.original = image  # for before/after; safe because image is never edited in place
        self.meta = meta
        self.path = Path(path) if path else None
        self.mask = np.zeros(image.shape[:2], np.float32)
        self.history = History() if history_cap is None else History(history_cap)
        self.saved_id = 0  # history.top_id when last saved (0: the file as opened)
        self.lock = threading.Lock()  # held while the mask is painted (autosave copies it)
        self._listeners: list[Listener] = []

    @classmethod
    def open(cls, path: str | Path, **kw: Any) -> "Document":
        from desktop_app.core.imaging.io import load_image

        image, meta = load_image(path)
        return cls(image, meta, path, **kw)

    # -- observers ------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def notify(self, what: str, box: Box | None = None) -> None:
        for listener in list(self._listeners):
            listener(what, box)

    # -- state ----------------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.image.shape[0]

    @property
    def width(self) -> int:
        return self.image.shape[1]

    @property
    def modified(self) -> bool:
        return self.history.top_id != self.saved_id

    def mark_saved(self, path: str | Path | None = None) -> None:
        self.saved_id = self.history.top_id
        if path is not None:
            self.path = Path(path)
        self.notify("history", None)

    @property
    def has_mask(self) -> bool:
        return bool(self.mask.max(initial=0.0) > 0.0)

    # -- edits (each one undo step) ---------------------------------------------------------
    def prepare_image(self, new: np.ndarray, title: str) -> PendingImage:
        """The slow half of replacing the pixels (finding the changed region, storing it for
        undo). Safe on a worker thread because `self.image` is never edited in place."""
        base = self.image
        if new.shape != base.shape:
            raise ValueError(f"result shape {new.shape} does not match the image {base.shape}")
        box = changed_box(base, new)
        step = Step(title, [Patch.of("image", base, box)]) if box is not None else None
        return PendingImage(base, new, step, box)

    def commit_image(self, pending: PendingImage) -> Step | None:
        """The quick half, on the thread that owns the document."""
        if pending.base is not self.image:
            raise StaleEdit("the image changed while the result was being prepared")
        if pending.step is None:
            return None
        self.image = pending.new
        self.history.push(pending.step)
        self.notify("image", pending.box)
        self.notify("history", None)
        return pending.step

    def set_image(self, new: np.ndarray, title: str) -> Step | None:
        """Replace the pixels (an operation's result); stores only the changed region."""
        return self.commit_image(self.prepare_image(new, title))

    def set_mask(self, new: np.ndarray, title: str) -> Step | None:
        new = np.clip(new.astype(np.float32, copy=False), 0.0, 1.0)
        if new.shape != self.mask.shape:
            raise ValueError(f"mask shape {new.shape} does not match the image {self.mask.shape}")
        box = mask_bbox(new != self.mask)
        if box is None:
            return None
        step = Step(title, [Patch.of("mask", self.mask, box)])
        with self.lock:
            self.mask = new.copy()
        self.history.push(step)
        self.notify("mask", box)
        self.notify("history", None)
        return step

    def begin_stroke(self, brush: BrushSettings) -> MaskStroke:
        return MaskStroke(self, brush, "Erase mask" if brush.erase else "Paint mask")

    def clear_mask(self) -> Step | None:
        return self.set_mask(np.zeros_like(self.mask), "Clear mask")

    def invert_mask(self) -> Step | None:
        return self.set_mask(1.0 - self.mask, "Invert mask")

    def feather_mask(self, radius: float) -> Step | None:
        """Soften the mask edge by a Gaussian of about `radius` pixels."""
        if radius <= 0:
            return None
        sigma = radius / 2.0
        k = int(2 * round(3 * sigma) + 1)
        return self.set_mask(cv2.GaussianBlur(self.mask, (k, k), sigma), f"Feather mask {radius:g}px")

    # -- undo / redo ----------------------------------------------------------------------
    def _swap(self, step: Step) -> None:
        new_image = None
        for i, patch in enumerate(step.patches):
            y0, y1, x0, x1 = patch.box
            if patch.layer == "image":
                if new_image is None:
                    new_image = self.image.copy()
                current = Patch.of("image", new_image, patch.box)
                new_image[y0:y1, x0:x1] = patch.as_float()
            else:
                current = Patch.of("mask", self.mask, patch.box)
                with self.lock:
                    self.mask[y0:y1, x0:x1] = patch.as_float()
            step.patches[i] = current
        if new_image is not None:
            self.image = new_image
        for patch in step.patches:
            self.notify(patch.layer, patch.box)

    def undo(self) -> bool:
        if not self.history.done:
            return False
        step = self.history.done.pop()
        self._swap(step)
        self.history.undone.append(step)
        self.notify("history", None)  # after the step moved, so observers see the new lists
        return True

    def redo(self) -> bool:
        if not self.history.undone:
            return False
        step = self.history.undone.pop()
        self._swap(step)
        self.history.done.append(step)
        self.notify("history", None)
        return True

    def go_to(self, position: int) -> None:
        """Undo or redo until `position` steps are done (the history panel's click)."""
        while len(self.history.done) > position and self.undo():
            pass
        while len(self.history.done) < position and self.redo():
            pass
