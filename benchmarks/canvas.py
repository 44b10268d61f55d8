"""How smooth the canvas is on a big photo: times of the things a user does, offscreen.

    python benchmarks/canvas.py [--width 6000 --height 4000] [--out docs/benchmarks.md]

Prints a table of milliseconds per action (median of repeats). 16 ms is one frame at 60 Hz.
"""

from __future__ import annotations

import os
import sys

# benchmarks/select.py would shadow the standard library's `select` (imported by subprocess):
# look in this folder last, so the standard library wins and `_common` is still found.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:
    sys.path.append(sys.path.pop(0))

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QPointF  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def timed(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=6000)
    ap.add_argument("--height", type=int, default=4000)
    ap.add_argument("--out", help="also write the table into this markdown file, section '## Canvas'")
    args = ap.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from desktop_app.core.brush import BrushSettings
    from desktop_app.core.document import Document
    from desktop_app.gui.canvas import ImageCanvas

    rng = np.random.default_rng(0)
    image = rng.random((args.height, args.width, 3), dtype=np.float32)
    canvas = ImageCanvas()
    canvas.resize(1280, 800)
    canvas.show()
    rows = []
    doc = Document(image)
    t = time.perf_counter()
    from desktop_app.gui.qimage import array_to_qimage

    display = array_to_qimage(doc.image)
    rows.append(("open: display image (worker thread)", (time.perf_counter() - t) * 1000))
    t = time.perf_counter()
    canvas.set_document(doc, display)
    rows.append(("open: show the document (GUI thread)", (time.perf_counter() - t) * 1000))
    canvas.fit()
    t = time.perf_counter()
    canvas.grab()
    rows.append(("first paint at fit (builds the pyramid)", (time.perf_counter() - t) * 1000))
    rows.append((f"repaint at fit ({canvas.zoom * 100:.0f} %)", timed(canvas.grab)))
    canvas.set_zoom(0.5)
    rows.append(("repaint at 50 %", timed(canvas.grab)))
    canvas.set_zoom(1.0)
    rows.append(("repaint at 100 %", timed(canvas.grab)))
    canvas.set_zoom(4.0)
    rows.append(("repaint at 400 %", timed(canvas.grab)))
    canvas.fit()

    def pan():
        canvas.offset += QPointF(7, 3)
        canvas.grab()

    rows.append(("pan step + repaint at fit", timed(pan)))
    stroke = doc.begin_stroke(BrushSettings(size=200, hardness=0.5))
    xs = iter(range(500, 5500, 40))

    def segment():
        stroke.to(next(xs), 2000.0)

    rows.append(("brush segment (200 px brush): mask + overlay", timed(segment, 20)))
    rows.append(("repaint with mask at fit", timed(canvas.grab)))
    stroke.finish()
    rows.append(("undo one stroke", timed(lambda: (doc.undo(), doc.redo()), 3) / 2))
    from desktop_app.gui.qimage import array_to_qimage

    new = image * 0.5
    t = time.perf_counter()
    pending, display = doc.prepare_image(new, "edit"), array_to_qimage(new)
    rows.append(("full-image result: preparation (worker thread)", (time.perf_counter() - t) * 1000))
    t = time.perf_counter()
    canvas.prepare_display(new, display)
    doc.commit_image(pending)
    canvas.grab()
    rows.append(("full-image result: commit + repaint (GUI thread)", (time.perf_counter() - t) * 1000))
    rows.append(("undo a full-image operation", timed(lambda: (doc.undo(), doc.redo()), 2) / 2))
    from _common import command_line, replace_section

    text = (f"Canvas on a {args.width}x{args.height} ({args.width * args.height / 1e6:.0f} MP) image, "
            f"widget 1280x800, {os.cpu_count()} cores, offscreen. 16 ms is one frame at 60 Hz; the rows marked "
            "worker thread run off the GUI thread.\n\n| action | ms |\n| --- | ---: |\n")
    text += "".join(f"| {name} | {ms:.1f} |\n" for name, ms in rows)
    text += f"\nThe undo history then holds {doc.history.nbytes / 2**20:.0f} MiB.\n"
    print(text)
    if args.out:
        replace_section(args.out, "## Canvas", f"`{command_line('benchmarks/canvas.py')}`\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
