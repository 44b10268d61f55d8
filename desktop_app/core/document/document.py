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
from desktop_app.core.masks import feather

Box = tuple[int, int, int, int]
Listener = Callable[[str, Box | None], None]  # (what changed: "image"/"mask"/"history", box or None for all)

STROKE_TILE = 128


class StaleEdit(RuntimeError):
    """A prepared edit whose base image is no longer the document's."""


@dataclass
class PendingImage:
    """New pixels prepared on a worker thread (`Document.prepare_image`), to commit on the
    document's thread. `replaces`: the step it takes the place of (a variation picked
    instead of the fill shown), else None."""

    base: np.ndarray
    new: np.ndarray
    step: Step | None
    box: Box | None
    replaces: Step | None = None


@dataclass
class PendingMask:
    """A new mask prepared on a worker thread (`Document.prepare_mask`)."""

    revision: int
    new: np.ndarray
    step: Step | None
    box: Box | None


@dataclass
class PendingSwap:
    """An undo or redo prepared on a worker thread (`Document.prepare_undo/redo`): the
    layers as they will be, and what the step will hold afterwards."""

    revision: int
    step: Step
    undo: bool
    image: np.ndarray | None
    mask: np.ndarray | None
    patches: list[Patch]


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
        self.revision = 0  # counts every change of pixels or mask: prepared edits check it
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
        if what in ("image", "mask"):
            self.revision += 1
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

    def prepare_amend(self, new: np.ndarray, title: str) -> PendingImage:
        """Like `prepare_image`, but the result takes the place of the last step (a variation
        picked instead of the fill shown): one history step either way, from the image as it
        was before that step."""
        if not self.history.done:
            raise StaleEdit("there is no step to replace")
        top, current = self.history.done[-1], self.image
        before = current
        for patch in top.patches:
            if patch.layer == "image":
                before = before.copy() if before is current else before
                y0, y1, x0, x1 = patch.box
                before[y0:y1, x0:x1] = patch.as_float()
        if new.shape != current.shape:
            raise ValueError(f"result shape {new.shape} does not match the image {current.shape}")
        box = changed_box(before, new)
        step = Step(title, [Patch.of("image", before, box)]) if box is not None else None
        return PendingImage(current, new, step, changed_box(current, new), replaces=top)

    def commit_image(self, pending: PendingImage) -> Step | None:
        """The quick half, on the thread that owns the document."""
        if pending.base is not self.image:
            raise StaleEdit("the image changed while the result was being prepared")
        if pending.replaces is not None:
            if not self.history.done or self.history.done[-1] is not pending.replaces:
                raise StaleEdit("the history changed while the result was being prepared")
            self.history.done.pop()
        elif pending.step is None:
            return None
        self.image = pending.new
        if pending.step is not None:
            self.history.push(pending.step)
        if pending.box is not None:
            self.notify("image", pending.box)
        self.notify("history", None)
        return pending.step

    def set_image(self, new: np.ndarray, title: str) -> Step | None:
        """Replace the pixels (an operation's result); stores only the changed region."""
        return self.commit_image(self.prepare_image(new, title))

    def prepare_mask(self, new: np.ndarray, title: str, revision: int | None = None) -> PendingMask:
        """The slow half of replacing the mask (clipping, finding the changed region, storing
        it for undo); safe on a worker thread, as the mask is replaced, never edited, by
        anything but a brush stroke, which `revision` catches: pass the revision `new` was
        computed from when that began before this call."""
        revision = self.revision if revision is None else revision
        base = self.mask
        new = np.clip(new.astype(np.float32, copy=False), 0.0, 1.0)  # a new array: the caller keeps its own
        if new.shape != base.shape:
            raise ValueError(f"mask shape {new.shape} does not match the image {base.shape}")
        box = mask_bbox(new != base)
        step = Step(title, [Patch.of("mask", base, box)]) if box is not None else None
        return PendingMask(revision, new, step, box)

    def commit_mask(self, pending: PendingMask) -> Step | None:
        if pending.revision != self.revision:
            raise StaleEdit("the mask changed while the new one was being prepared")
        if pending.step is None:
            return None
        with self.lock:
            self.mask = pending.new
        self.history.push(pending.step)
        self.notify("mask", pending.box)
        self.notify("history", None)
        return pending.step

    def set_mask(self, new: np.ndarray, title: str) -> Step | None:
        return self.commit_mask(self.prepare_mask(new, title))

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
        return self.set_mask(feather(self.mask, radius), f"Feather mask {radius:g}px")

    # -- undo / redo ----------------------------------------------------------------------
    def prepare_undo(self) -> PendingSwap | None:
        """The undo of the last step, prepared without touching the document (the layers it
        changes are copied): safe on a worker thread. None when there is nothing to undo."""
        return self._prepare_swap(self.history.done[-1], True) if self.history.done else None

    def prepare_redo(self) -> PendingSwap | None:
        return self._prepare_swap(self.history.undone[-1], False) if self.history.undone else None

    def _prepare_swap(self, step: Step, undo: bool) -> PendingSwap:
        revision, layers = self.revision, {"image": self.image, "mask": self.mask}
        copies: dict[str, np.ndarray] = {}
        patches = []
        for patch in step.patches:
            layer = copies.get(patch.layer)
            if layer is None:
                layer = copies[patch.layer] = layers[patch.layer].copy()
            patches.append(Patch.of(patch.layer, layer, patch.box))
            y0, y1, x0, x1 = patch.box
            layer[y0:y1, x0:x1] = patch.as_float()
        return PendingSwap(revision, step, undo, copies.get("image"), copies.get("mask"), patches)

    def commit_swap(self, pending: PendingSwap) -> None:
        source, target = ((self.history.done, self.history.undone) if pending.undo
                          else (self.history.undone, self.history.done))
        if pending.revision != self.revision or not source or source[-1] is not pending.step:
            raise StaleEdit("the document changed while the undo was being prepared")
        source.pop()
        pending.step.patches[:] = pending.patches
        if pending.image is not None:
            self.image = pending.image
        if pending.mask is not None:
            with self.lock:
                self.mask = pending.mask
        target.append(pending.step)
        for patch in pending.patches:
            self.notify(patch.layer, patch.box)
        self.notify("history", None)  # after the step moved, so observers see the new lists

    def undo(self) -> bool:
        pending = self.prepare_undo()
        if pending is not None:
            self.commit_swap(pending)
        return pending is not None

    def redo(self) -> bool:
        pending = self.prepare_redo()
        if pending is not None:
            self.commit_swap(pending)
        return pending is not None

    def go_to(self, position: int) -> None:
        """Undo or redo until `position` steps are done (the history panel's click)."""
        while len(self.history.done) > position and self.undo():
            pass
        while len(self.history.done) < position and self.redo():
            pass
