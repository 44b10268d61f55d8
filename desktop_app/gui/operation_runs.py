"""Running operations on the photo: one run (or one per seed, to offer variations), picking
another variation in place of the one shown, and pasting a generated picture into the mask.
All through the job runner's one apply path."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desktop_app.core.document import Document
from desktop_app.core.imaging.convert import paste_in_mask
from desktop_app.core.operations import Operation, apply_variations, variation_label, variation_seeds
from desktop_app.core.work import Progress, collect_notes
from desktop_app.gui.jobs import image_edit
from desktop_app.gui.qimage import array_to_qimage
from desktop_app.gui.workers import WorkerThread


@dataclass
class Variations:
    """The results of the last seeded run, and which of them is in the document."""

    doc: Document
    title: str
    results: list[np.ndarray]
    index: int
    step: object = None  # the history step that holds the one shown
    names: list[str] | None = None  # each result's name, as its thumbnail says it ("Seed 1: sharp edges")


def variation_thumbnails(results: list[np.ndarray], mask: np.ndarray, size: int = 84):
    """Square crops around the masked region of each result, as QImages for the panel."""
    import cv2

    ys, xs = np.nonzero(mask > 0)
    h, w = mask.shape
    cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
    side = int(max(ys.max() - ys.min(), xs.max() - xs.min()) * 1.3) + 8
    side = min(side, h, w)
    y0, x0 = int(np.clip(cy - side // 2, 0, h - side)), int(np.clip(cx - side // 2, 0, w - side))
    thumbs = []
    for r in results:
        crop = np.ascontiguousarray(r[y0:y0 + side, x0:x0 + side])
        small = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA).reshape(size, size, -1)
        thumbs.append(array_to_qimage(small).copy())
    return thumbs


class OperationRuns:
    def __init__(self, window) -> None:
        self.w = window
        self.variations: Variations | None = None
        self.parked: Variations | None = None  # those of a fill that was undone, for its redo

    def clear_variations(self) -> None:
        self.variations = self.parked = None
        self.w.ops_panel.variations.clear()

    def park_variations(self) -> None:
        """The fill shown was undone: its strip goes, and comes back if that step is redone."""
        self.parked, self.variations = self.variations, None
        self.w.ops_panel.variations.clear()

    def unpark_variations(self, step) -> bool:
        """`step` was redone: when it is the parked fill's, its strip again (as the run left it)."""
        v = self.parked
        if v is None or v.step is not step or v.doc is not self.w.doc:
            return False
        self.variations, self.parked = v, None
        self.w.ops_panel.variations.show()
        self.w.ops_panel.variations.set_current(v.index)
        return True

    def run(self, op: Operation, params: dict, inside_mask: bool) -> WorkerThread | None:
        doc = self.w.doc
        if doc is None:
            self.w.statusBar().showMessage("Open a photo first", 4000)
            return None
        try:
            op.resolve_params(params)
            seeds = variation_seeds(op, params)
        except ValueError as e:
            self.w.show_error(f"{op.title}: bad setting", str(e))
            return None
        unsuited = op.unsuited_for(doc.meta)
        if unsuited:
            self.w.show_error(f"{op.title}: not for this photo", f"{op.title} is {unsuited}")
            return None
        image, mask = doc.image, doc.mask.copy()
        bit_depth = getattr(doc.meta, "bit_depth", 8)
        device = self.w.ops_panel.device() or self.w.settings.get("device", str)
        notes: list[str] = []  # what the run tells the user (how far the hole was grown)

        def work():
            results = yield from collect_notes(apply_variations(op, image, mask, params, seeds,
                                                                inside_mask_only=inside_mask, bit_depth=bit_depth,
                                                                device=device), notes)
            yield Progress(None, "Updating the history")
            thumbs = variation_thumbnails(results, mask) if len(results) > 1 else []
            return image_edit(doc, results[0], op.title, extra=(results, thumbs))

        def done(prepared, step) -> None:
            results, thumbs = prepared.extra
            if step is None:
                self.w.statusBar().showMessage(f"{op.title}: nothing changed", 4000)
            elif op.fills_mask and self.w.act_overlay.isChecked():
                # the mask would cover the very pixels just filled: hide it (kept for another try)
                self.w.set_overlay_visible(False)
                self.w.statusBar().showMessage(f"{op.title} done; mask hidden to show the fill "
                                               "(Ctrl+H shows it, painting brings it back)", 6000)
            else:
                self.w.statusBar().showMessage(f"{op.title} done", 4000)
            if step is None:
                return
            said = [f"{op.title}: done"] + notes
            if len(results) > 1:
                self.variations = Variations(doc, op.title, results, 0, step,
                                             [variation_label(op, s, ": ") for s in seeds])
                self.w.ops_panel.variations.show_variations(
                    thumbs, [variation_label(op, s) for s in seeds],
                    [variation_label(op, s, ": ", long=True) for s in seeds])
            self.w.runner.outcome = "; ".join(said)

        self.clear_variations()
        return self.w.runner.edit(op.title, work, done,
                                  stale="The image changed while the operation ran; its result was not applied.")

    def choose(self, index: int) -> WorkerThread | None:
        """Put variation `index` in place of the one shown: its step takes the place of the
        shown one's, so the history holds one step either way."""
        v, doc = self.variations, self.w.doc
        if v is None or index == v.index:
            return None
        if doc is not v.doc or not doc.history.done or doc.history.done[-1] is not v.step:
            self.clear_variations()
            self.w.statusBar().showMessage("The image changed since: run the operation again for new variations", 5000)
            return None
        new = v.results[index]

        def work():
            yield Progress(None, "Updating the history")
            return image_edit(doc, new, v.title, replace_last=True)

        def done(prepared, step) -> None:
            v.index, v.step = index, step
            self.w.ops_panel.variations.set_current(index)

        name = v.names[index] if v.names else f"variation {index + 1}"
        job = self.w.runner.edit(f"{v.title}: {name}", work, done,
                                 stale="The image changed meanwhile; the variation was not applied.")
        if job is None:  # busy: the strip goes back to the one shown
            self.w.ops_panel.variations.set_current(v.index)
        return job

    def step(self, delta: int) -> WorkerThread | None:
        """The next (`delta` 1) or previous (-1) variation in place of the one shown, round the
        strip: flipping between fills with the keyboard, the eyes on the photo."""
        v = self.variations
        if v is None or len(v.results) < 2:
            self.w.statusBar().showMessage("No variations to step through: they come with a fill (Remove object, "
                                           "Neural fill)", 5000)
            return None
        return self.choose((v.index + delta) % len(v.results))

    def paste_generated(self, picture: np.ndarray, what: str = "a generated picture") -> WorkerThread | None:
        """Stretch the picture over the mask's bounding box and blend it in with the soft mask,
        as one undo step."""
        doc = self.w.doc
        if doc is None:
            self.w.statusBar().showMessage("Open a photo first: the picture is pasted into its masked region", 6000)
            return None
        if not doc.has_mask:
            self.w.statusBar().showMessage("The mask is empty: paint where the picture should go, then paste", 6000)
            return None
        title = "Paste generated"
        image, mask = doc.image, doc.mask.copy()

        def work():
            yield Progress(None, f"Pasting {what}")
            return image_edit(doc, paste_in_mask(image, mask, picture), title)

        return self.w.runner.edit(title, work, lambda *_: self.w.statusBar().showMessage(f"Pasted {what} into the mask",
                                                                                         4000),
                                  stale="The image changed while the picture was pasted; nothing was changed.")
