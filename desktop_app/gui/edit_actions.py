"""Edit and Mask menus: undo, redo and the history panel; clear, invert, feather, grow and
shrink the mask; the brush's size and mode.

Mask commands and undo steps that touch the image or a large region are prepared in the job
runner's worker and committed in one swap, so a 24-megapixel photo never holds the window."""

from __future__ import annotations

from typing import Callable

import numpy as np

from desktop_app.core.masks import feather, grow
from desktop_app.core.work import Progress
from desktop_app.gui.jobs import history_edit, mask_edit
from desktop_app.gui.workers import WorkerThread

SMALL_STEP = 1 << 20  # pixels: a mask step this small is undone at once, on this thread
BRUSH_FRACTION = 0.04  # the brush's default diameter: this fraction of the photo's shorter side


class EditActions:
    def __init__(self, window) -> None:
        self.w = window

    # -- history ----------------------------------------------------------------------------
    def undo(self) -> WorkerThread | None:
        return self._step(undo=True)

    def redo(self) -> WorkerThread | None:
        return self._step(undo=False)

    def _step(self, undo: bool) -> WorkerThread | None:
        doc = self.w.doc
        if doc is None or self.w.busy:
            return None
        self.w.canvas.cancel_stroke()
        steps = doc.history.done if undo else doc.history.undone
        if not steps:
            return None
        step = steps[-1]
        area = sum(p.data.shape[0] * p.data.shape[1] for p in step.patches)
        if all(p.layer == "mask" for p in step.patches) and area <= SMALL_STEP:
            doc.undo() if undo else doc.redo()
            self.after_history_step(step, undo)
            return None
        style = self.w.overlay_style()

        def work():
            yield Progress(None, f"{'Undo' if undo else 'Redo'}: {step.title}")
            return history_edit(doc, undo, style)

        return self.w.runner.edit(f"{'Undo' if undo else 'Redo'} {step.title}", work,
                                  lambda prepared, _: self.after_history_step(step, undo),
                                  stale="The photo changed while the step was being undone; nothing changed.")

    def after_history_step(self, step, undo: bool) -> None:
        """What the user should see after a step was undone or redone: the mask when a fill
        was undone (it is what they will run again), no thumbnails of a fill that is gone; the
        fill with its thumbnails and without the mask over it when it is redone."""
        runs = self.w.runs
        if undo and runs.variations is not None and runs.variations.step is step:
            runs.park_variations()
        if undo and any(p.layer == "image" for p in step.patches):
            self.w.set_overlay_visible(True)
        if any(p.layer == "mask" for p in step.patches):
            self.w.set_overlay_visible(True)
        if not undo and runs.unpark_variations(step):
            self.w.set_overlay_visible(False)  # as the run left it: the mask would cover the fill
        self.w.refresh_history()

    def go_to_history(self, position: int) -> None:
        """The history panel's click: undo or redo step by step (each in the worker when it
        is large) until `position` steps are done."""
        doc = self.w.doc
        if doc is None or self.w.busy:
            return
        done = len(doc.history.done)
        if done == position:
            return
        job = self.undo() if done > position else self.redo()
        if job is not None:
            job.finished.connect(lambda: self.go_to_history(position) if self.w.doc is doc else None)
        elif len(doc.history.done) != done:
            self.go_to_history(position)

    # -- mask commands ----------------------------------------------------------------------
    def mask_command(self, title: str, make_new: Callable[[np.ndarray], np.ndarray]) -> WorkerThread | None:
        """Replace the mask by `make_new(mask)`, computed in the worker; one undo step."""
        doc = self.w.doc
        if doc is None:
            return None
        # no copy: the mask is replaced, not edited, by everything but a brush stroke, and a
        # stroke meanwhile changes the revision, so the result is then dropped
        mask, revision, style = doc.mask, doc.revision, self.w.overlay_style()

        def work():
            yield Progress(None, title)
            return mask_edit(doc, make_new(mask), title, style, revision)

        def done(prepared, step) -> None:
            self.w.set_overlay_visible(True)  # a mask edit shows the mask
            if step is None:
                self.w.statusBar().showMessage(f"{title}: the mask did not change", 4000)

        return self.w.runner.edit(title, work, done, stale="The mask was painted while this ran; nothing changed.")

    def clear_mask(self) -> WorkerThread | None:
        return self.mask_command("Clear mask", np.zeros_like)

    def invert_mask(self) -> WorkerThread | None:
        return self.mask_command("Invert mask", lambda m: 1.0 - m)

    def feather_mask(self, radius: int) -> WorkerThread | None:
        if radius <= 0:
            return None
        return self.mask_command(f"Feather mask {radius:g}px", lambda m: feather(m, radius))

    def feather_dialog(self) -> None:
        r = self.w.ask_int("Feather mask", "Soften the mask edge by (pixels):",
                           self.w.mask_panel.feather_px.value(), 1, 200)
        if r:
            self.feather_mask(r)

    def grow_mask(self, sign: int) -> WorkerThread | None:
        return self.grow_mask_by(sign * self.w.mask_panel.grow_px.value())

    def grow_mask_by(self, pixels: int) -> WorkerThread | None:
        if pixels == 0:
            return None
        title = f"Grow mask {pixels}px" if pixels > 0 else f"Shrink mask {-pixels}px"
        return self.mask_command(title, lambda m: grow(m, pixels))

    # -- brush ------------------------------------------------------------------------------
    def scale_brush(self, factor: float) -> None:
        brush = self.w.canvas.brush
        brush.size = brush.clamped().size * factor
        brush.size = brush.clamped().size
        self.w.mask_panel.sync_from_brush()
        self.brush_changed()

    def toggle_erase(self) -> None:
        self.w.canvas.brush.erase = not self.w.canvas.brush.erase
        self.w.mask_panel.sync_from_brush()

    def brush_changed(self) -> None:
        """The brush's size is kept as a fraction of the photo's shorter side, so the next
        photo gets a brush of the same look whatever its size."""
        brush, doc = self.w.canvas.brush, self.w.doc
        self.w.settings.set("brush/size", brush.size)
        if doc is not None:
            self.w.settings.set("brush/fraction", brush.size / min(doc.height, doc.width))
        self.w.settings.set("brush/hardness", brush.hardness)
        self.w.canvas.update()

    def fit_brush_to(self, doc) -> None:
        """A new photo: the brush's diameter is the remembered fraction of its shorter side."""
        fraction = self.w.settings.get("brush/fraction", float) or BRUSH_FRACTION
        brush = self.w.canvas.brush
        brush.size = fraction * min(doc.height, doc.width)
        brush.size = brush.clamped().size
        self.w.mask_panel.sync_from_brush()
