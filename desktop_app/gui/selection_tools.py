"""Smart selection: the tool in use, box select with keep/remove hints, the magic wand. Each
selection runs in the job runner's worker and meets the mask as one undo step."""

from __future__ import annotations

import numpy as np

from desktop_app.core.brush import BrushSettings, stamp_segment
from desktop_app.core.selection import box_select_work, combine, magic_wand_work
from desktop_app.gui.jobs import mask_edit
from desktop_app.gui.workers import WorkerThread


class SelectionTools:
    def __init__(self, window) -> None:
        self.w = window
        self.last_box: dict | None = None  # the last box selection, refined by hints

    def set_tool(self, tool: str) -> None:
        for name, act in self.w.tool_actions.items():
            act.setChecked(name == tool)
        self.w.canvas.set_tool(tool)
        if tool in ("keep", "remove") and self.last_box is None:
            self.w.statusBar().showMessage("Draw a box around the object first (M), then paint hints over its mistakes",
                                           6000)

    def _select_job(self, title: str, make_mask, mode: str, base: np.ndarray | None = None,
                    on_raw=None) -> WorkerThread | None:
        """Run a selection in a worker; its result meets the mask (`base`, or the current one)
        in `mode` and becomes one undo step."""
        doc = self.w.doc
        if doc is None:
            return None
        image, style = doc.image, self.w.overlay_style()
        base = doc.mask.copy() if base is None else base

        def work():
            raw = yield from make_mask(image)
            prepared = mask_edit(doc, combine(base, raw, mode), title, style)
            prepared.extra = raw
            return prepared

        def done(prepared, step) -> None:
            if on_raw is not None:
                on_raw(prepared.extra)
            self.w.set_overlay_visible(True)
            if step is None:
                found_nothing = not np.any(np.asarray(prepared.extra) > 0.5)
                self.w.statusBar().showMessage(
                    f"{title}: found nothing to select there; the brush (B) paints any area" if found_nothing
                    else f"{title}: the mask did not change", 6000)

        return self.w.runner.edit(title, work, done, stale="The mask was painted while the selection ran; "
                                                            "nothing changed.")

    def box_select(self, x: int, y: int, w: int, h: int, mode: str = "replace") -> WorkerThread | None:
        if self.w.doc is None:
            return None
        base = self.w.doc.mask.copy()
        box = (x, y, w, h)
        self.w.canvas.clear_hints()
        self.last_box = None

        def remember(raw: np.ndarray) -> None:
            self.last_box = {"box": box, "mode": mode, "base": base, "raw": raw}

        return self._select_job("Box select", lambda img: box_select_work(img, box), mode, base, remember)

    def refine_selection(self, kind: str, points) -> WorkerThread | None:
        sel, doc = self.last_box, self.w.doc
        if doc is None:
            return None
        if sel is None:
            self.w.canvas.clear_hints()
            self.w.statusBar().showMessage("Hints refine a box selection: draw a box first (M)", 6000)
            return None
        keep = np.zeros(doc.mask.shape, np.float32)
        remove = np.zeros_like(keep)
        for hint_kind, size, pts in self.w.canvas.hints:
            target = keep if hint_kind == "keep" else remove
            brush = BrushSettings(size=size, hardness=1.0)
            for a, b in zip(pts, pts[1:] or pts):
                stamp_segment(target, a, b, brush)

        def remember(raw: np.ndarray) -> None:
            sel["raw"] = raw

        return self._select_job("Refine selection", lambda img: box_select_work(
            img, sel["box"], keep=keep, remove=remove, previous=sel["raw"]), sel["mode"], sel["base"], remember)

    def magic_wand(self, x: int, y: int, mode: str = "replace") -> WorkerThread | None:
        tolerance, contiguous = self.w.mask_panel.wand_settings()
        self.w.settings.set("wand/tolerance", tolerance)
        return self._select_job("Magic wand", lambda img: magic_wand_work(img, (x, y), tolerance,
                                                                         contiguous=contiguous), mode)
