"""How long the GUI thread goes unanswered during the heavy window actions on a 24 MP photo.

    python benchmarks/responsiveness.py [--width 6000 --height 4000] [--repeat 3]
                                        [--only ACTION ...] [--out docs/benchmarks.md]
    python benchmarks/responsiveness.py --calibration [--width 6000 --height 4000] [--repeat 1]

The real main window, offscreen, opens a 16-bit TIFF written to a temporary folder, gets a mask
over a quarter of the photo, then goes through the actions a user takes on it: mask commands,
an operation on the whole photo, its undo and redo, before/after, and Save As a 16-bit TIFF.
A 10 ms timer ticks on the GUI thread from the moment an action starts until its job has
ended and the canvas has repainted; the time between two ticks is a gap, so an idle thread
shows 10 ms and a slot that holds it for 300 ms shows a gap of about 300 ms; so does work on
a worker thread that holds Python's lock that long, since the timer's slot needs the lock
too. The bar: the worst gap stays under 100 ms. Each action runs `--repeat` times (the photo
is opened afresh each round); the table gives the worst gap of all rounds, the 99th
percentile of all their gaps together, and the median time from the start to the repaint.

`--calibration` measures Models > Calibrate to My Camera instead, with no photo open: a burst
of 16 JPEG frames of the scene of `benchmarks/calibrate.py --speed` (moved by up to 4 px,
turned by up to 0.3 degrees, noise of sigma 6, quality 95) added to the dialog as a user does,
timed from the click on Calibrate until the dialog says it is done and has repainted; then its
Train button's training dialog (pairs task, from cnn-real, a budget of 1 minute set in the
form), timed from the click on Start until the run has ended (its validations and the preview
they draw included) and the dialog has repainted; the run is discarded before the next round.
The pairs of a second, small scene (8 frames of 2048x1365, calibrated unmeasured beforehand)
are added in the training dialog as a user adds an earlier calibration's folder: two scenes,
some shots of each held back for validation.
These are long, so `--repeat` is 1 by default there.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:  # benchmarks/select.py shadows `select`
    sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from itertools import pairwise  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from _common import command_line, finish_report, log, markdown_table, refuse_partial_out  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QEventLoop, QObject, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

HEADING = "## GUI responsiveness"
CALIBRATION_HEADING = "## GUI responsiveness while calibrating"  # --calibration's own section
TICK_MS = 10
BAR_MS = 100.0  # the project's bar for the worst gap
JOB_TIMEOUT_S = 600.0  # a 16-bit TIFF of 24 MP saves in tens of seconds on a loaded machine
BURST_FRAMES = 16
SECOND_FRAMES, SECOND_SIZE = 8, (2048, 1365)  # the second scene --calibration's training needs
TRAIN_MINUTES = 1  # the training dialog's budget in --calibration
CALIBRATION_TIMEOUT_S = 1800.0  # 16 frames of 24 MP take minutes on a loaded machine


class GapRecorder:
    """Ticks every 10 ms on the GUI thread and keeps the time of each tick; `gaps(end)` are the
    intervals from the start through every tick up to `end`, the last one ending at `end` (so a
    block just before the end counts too)."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))
        self.ticks: list[float] = []
        self.started = 0.0

    def start(self) -> None:
        self.ticks = []
        self.started = time.perf_counter()
        self.timer.start()

    def stop(self, end: float) -> list[float]:
        self.timer.stop()
        times = [self.started] + [t for t in self.ticks if t < end] + [end]
        return [b - a for a, b in pairwise(times)]


class PaintWatch(QObject):
    """Notes when the widget's next paint event has been handled: a zero-delay timer posted
    as the paint arrives fires once the paint (and its flush) is through."""

    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget
        self.armed = False
        self.done_at: float | None = None
        widget.installEventFilter(self)

    def request(self) -> None:
        self.done_at, self.armed = None, True
        self.widget.update()

    def eventFilter(self, obj, event) -> bool:
        if self.armed and obj is self.widget and event.type() == QEvent.Type.Paint:
            self.armed = False
            QTimer.singleShot(0, self._through)
        return False

    def _through(self) -> None:
        self.done_at = time.perf_counter()


def wait_until(done: Callable[[], bool], timeout: float, what: str) -> None:
    """Run the event loop (as pytest-qt's waitUntil does) until `done()`."""
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        loop = QEventLoop()
        QTimer.singleShot(5, loop.quit)
        loop.exec()


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def invert_operation():
    """A cheap operation that changes every pixel, registered like the built-in ones (as the
    GUI tests register theirs): what is measured is the window's handling of a whole-photo
    result, not an algorithm."""
    from desktop_app.core.operations import Operation, registry
    from desktop_app.core.work import Progress

    def run(inp):
        yield Progress(0.5, "inverting")
        return 1.0 - inp.image

    op = Operation(task="benchmark", method="invert", title="Invert colours", category="Benchmark",
                   description="Every pixel becomes its complement (a benchmark operation).", run=run)
    registry.all_operations()  # the built-in ones first, as in the app
    return registry.register(op)


def write_synthetic_burst(folder: Path, frames: int, width: int, height: int, seed: int = 0) -> None:
    """benchmarks/calibrate.py --speed's burst, written by a process of its own: calibrate.py
    imports torch, which the app imports only once training starts (in a worker, a cost that
    belongs to the measurement)."""
    code = (f"import sys; sys.path.append({_HERE!r}); from pathlib import Path; "
            "from calibrate import write_synthetic_burst as w; "
            f"w(Path({str(folder)!r}), {frames}, {width}, {height}, seed={seed})")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(_HERE))


def synthetic_photo(height: int, width: int) -> np.ndarray:
    """Smooth shapes with fine detail and a little noise, in [0, 1]."""
    import cv2

    rng = np.random.default_rng(0)
    base = cv2.resize(rng.random((height // 64 + 1, width // 64 + 1, 3), dtype=np.float32), (width, height),
                      interpolation=cv2.INTER_CUBIC)
    fine = cv2.resize(rng.random((height // 8 + 1, width // 8 + 1, 3), dtype=np.float32), (width, height))
    noise = rng.normal(0, 0.01, (height, width, 1)).astype(np.float32)
    return np.clip(0.1 + 0.6 * base + 0.2 * fine + noise, 0, 1)


@dataclass
class Action:
    name: str
    start: Callable[[], object]  # returns the job it started, or None when it ran at once
    in_worker: bool  # the app runs it in the job runner's worker: a None job is a failure
    check: Callable[[], str | None] = lambda: None  # what went wrong, or None
    after: Callable[[], None] = lambda: None  # run unmeasured once the action is through
    before: Callable[[], None] = lambda: None  # run unmeasured before the action starts
    done: Callable[[], bool] | None = None  # the action is through; by default the window has no job
    widget: Callable[[], object] | None = None  # the widget whose repaint ends it; by default the canvas
    timeout: float = JOB_TIMEOUT_S


class Bench:
    def __init__(self, args, folder: Path) -> None:
        from desktop_app.gui.main_window import MainWindow
        from desktop_app.gui.settings import Settings

        self.args = args
        self.errors: list[str] = []
        qsettings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
        qsettings.setValue("autosave/seconds", 10**6)  # a background snapshot is not one of these actions
        self.window = window = MainWindow(Settings(qsettings))
        # the window's dialogs, answered as a user would
        window.show_error = lambda title, message: self.errors.append(f"{title}: {message}")
        window.ask = lambda title, text, buttons, default=0: buttons.index("Discard") if "Discard" in buttons else -1
        self.saved = folder / "saved.tif"
        window.ask_save_path = lambda suggestion, filt="": str(self.saved)
        self.burst = folder / "burst"
        self.second = folder / "second"  # another scene's burst, calibrated beforehand
        self.earlier_pairs = folder / "earlier-calibration"
        self.folder_answer = self.burst  # what the next folder dialog answers
        window.ask_folder_path = lambda: str(self.folder_answer)
        window.resize(1280, 800)
        window.show()
        wait(100)
        self.paint_watches: dict[int, PaintWatch] = {}
        self.recorder = GapRecorder()
        self.op = invert_operation()
        self.photo = folder / "photo.tif"

    def write_photo(self) -> None:
        from desktop_app.core.imaging.io import save_image

        h, w = self.args.height, self.args.width
        log(f"writing a {w}x{h} 16-bit TIFF")
        save_image(self.photo, synthetic_photo(h, w), bit_depth=16)
        log(f"{self.photo.stat().st_size / 2**20:.0f} MiB written")

    def write_burst(self) -> None:
        """The burst to calibrate, and the pairs of a small second scene (a user's earlier
        calibration): the run learns from both and validates on some shots of each."""
        from desktop_app.core.calibration.session import calibration_work
        from desktop_app.core.work import run_work

        write_synthetic_burst(self.burst, BURST_FRAMES, self.args.width, self.args.height)
        mib = sum(p.stat().st_size for p in self.burst.iterdir()) / 2**20
        log(f"{mib:.0f} MiB of JPEG frames written")
        write_synthetic_burst(self.second, SECOND_FRAMES, *SECOND_SIZE, seed=1)
        result = run_work(calibration_work([str(self.second)], self.earlier_pairs))
        if result.folder is None:
            raise SystemExit(f"the second scene gave no pairs: {result.manifest['left_out']}")
        log(f"the second scene calibrated: {len(list((self.earlier_pairs / 'noisy').iterdir()))} pairs")

    def paint_watch(self, widget) -> PaintWatch:
        if id(widget) not in self.paint_watches:
            self.paint_watches[id(widget)] = PaintWatch(widget)
        return self.paint_watches[id(widget)]

    def measure(self, action: Action) -> tuple[list[float], float]:
        """The gaps from the action's start until its job has ended and the canvas has
        repainted, and that time in seconds."""
        action.before()
        self.recorder.start()
        end = self.go_through(action)
        return self.recorder.stop(end), end - self.recorder.started

    def go_through(self, action: Action) -> float:
        """Start the action, wait for its job and the repaint (the time returned), check the
        outcome, then run its `after`."""
        window = self.window
        job = action.start()
        if action.in_worker and job is None:
            raise SystemExit(f"{action.name}: no job was started ({'; '.join(self.errors) or 'busy?'})")
        wait_until(action.done or (lambda: window.job is None), action.timeout, f"the job of '{action.name}'")
        paints = self.paint_watch(action.widget() if action.widget else window.canvas)
        paints.request()
        wait_until(lambda: paints.done_at is not None, 30, f"the repaint after '{action.name}'")
        end = paints.done_at
        if self.errors:
            raise SystemExit(f"{action.name}: " + "; ".join(self.errors))
        problem = action.check()
        if problem:
            raise SystemExit(f"{action.name}: {problem}")
        action.after()
        return end

    def set_big_mask(self) -> None:
        doc = self.window.doc
        h, w = doc.height, doc.width
        mask = np.zeros((h, w), np.float32)
        mask[h // 4:3 * h // 4, w // 4:3 * w // 4] = 1.0  # 1000:3000, 1500:4500 at 24 MP, as the GUI tests
        doc.set_mask(mask, "Big mask")
        wait(50)

    def actions(self) -> list[Action]:
        window, canvas = self.window, self.window.canvas

        def last_title(prefix: str) -> Callable[[], str | None]:
            def check() -> str | None:
                titles = window.doc.history.titles()
                return None if titles and titles[-1].startswith(prefix) else f"history ends in {titles[-1:]}"
            return check

        def opened() -> str | None:
            doc = window.doc
            if doc is None or (doc.height, doc.width) != (self.args.height, self.args.width):
                return "the photo did not open"
            return None if getattr(doc.meta, "bit_depth", 8) == 16 else "the photo is not 16-bit"

        def run_invert():
            panel = window.ops_panel
            panel.populate()  # the benchmark's operation was registered after the window was made
            panel.select(self.op.key)
            panel.inside_mask.setChecked(False)
            QTest.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
            return window.job

        def hold_backslash():
            canvas.setFocus()
            QTest.keyPress(canvas, Qt.Key.Key_Backslash)

        def release_backslash():
            QTest.keyRelease(canvas, Qt.Key.Key_Backslash)
            wait(50)

        def split_off():
            window.act_split.trigger()
            wait(50)

        def saved_16_bit() -> str | None:
            import tifffile

            with tifffile.TiffFile(self.saved) as tif:
                page = tif.pages[0]
                if page.dtype != np.uint16 or page.shape[:2] != (self.args.height, self.args.width):
                    return f"saved {page.shape} {page.dtype}, not a 16-bit {self.args.width}x{self.args.height}"
            return None if not window.doc.modified else "the document is still marked modified"

        return [
            Action("open (16-bit TIFF from disk)", lambda: window.open_path(str(self.photo)), True, opened,
                   after=self.set_big_mask),
            Action("feather mask 20 px", lambda: window.edits.feather_mask(20), True, last_title("Feather")),
            Action("grow mask", lambda: window.grow_mask(+1), True, last_title("Grow")),
            Action("shrink mask", lambda: window.grow_mask(-1), True, last_title("Shrink")),
            Action("invert mask", window.edits.invert_mask, True, last_title("Invert mask")),
            Action("clear mask", window.edits.clear_mask, True, last_title("Clear mask")),
            Action("invert the whole photo (operation)", run_invert, True, last_title(self.op.title)),
            Action("undo the operation", window.undo, True,
                   lambda: None if window.doc.history.can_redo else "nothing to redo after the undo"),
            Action("redo the operation", window.redo, True, last_title(self.op.title)),
            Action("before/after: hold \\ (whole view)", hold_backslash, False,
                   lambda: None if canvas.show_before else "the original is not shown", after=release_backslash),
            Action("before/after: split view", window.act_split.trigger, False,
                   lambda: None if canvas.split is not None else "no split", after=split_off),
            Action("save as 16-bit TIFF", window.save_as, True, saved_16_bit),
        ]

    def calibration_actions(self) -> list[Action]:
        """Calibrate a burst in Models > Calibrate to My Camera, then train on its pairs in the
        training dialog its Train button opens; both dialogs driven through their own controls,
        as tests/gui/test_calibration_dialog.py drives them."""
        window = self.window

        def click(button) -> None:
            if not button.isEnabled():
                raise SystemExit(f"'{button.text()}' is greyed ({'; '.join(self.errors) or 'why?'})")
            QTest.mouseClick(button, Qt.MouseButton.LeftButton)

        def open_calibration() -> None:
            window.act_calibrate.trigger()
            dialog = window.calibration_dialog
            if dialog.folder_list() != [str(self.burst)]:
                click(dialog.add_button)  # answered with the burst's folder
            wait(100)

        def calibrate():
            dialog = window.calibration_dialog
            click(dialog.calibrate_button)
            return dialog.job

        def calibrated() -> str | None:
            dialog = window.calibration_dialog
            result = dialog.result
            if not dialog.status.text().startswith("Done") or result is None or result.folder is None:
                return f"no pairs: {dialog.status.text()!r}"
            kept = len(result.manifest["scenes"][0]["frames"])
            return None if kept == BURST_FRAMES else f"{kept} of {BURST_FRAMES} frames kept"

        def open_training() -> None:
            click(window.calibration_dialog.train_button)
            training = window.training_dialog
            self.folder_answer = self.earlier_pairs  # the pairs of a scene calibrated before
            click(training.add_folder)
            self.folder_answer = self.burst
            wait_until(lambda: training.preview is not None, 300, "the training dialog's preview of the pairs")
            training.budget_kind.setCurrentIndex(training.budget_kind.findData("minutes"))
            training.budget.setValue(TRAIN_MINUTES)
            wait(100)

        def train():
            training = window.training_dialog
            click(training.start_button)
            return training.job

        def trained() -> str | None:
            training = window.training_dialog
            text = training.status.text()
            if "finished" not in text:
                return f"the run did not finish: {text!r}"
            if len(training.metric_plot.points) < 2 or training.trainer.step < 1:
                return f"no validation after a step: {text!r}"
            log(f"training: {text}")
            return None

        def discard() -> None:
            training = window.training_dialog
            click(training.discard_button)
            wait_until(lambda: not training.busy, 120, "Discard")

        return [
            Action(f"calibrate a burst of {BURST_FRAMES} JPEG frames", calibrate, True, calibrated,
                   before=open_calibration, done=lambda: not window.calibration_dialog.running,
                   widget=lambda: window.calibration_dialog, timeout=CALIBRATION_TIMEOUT_S),
            Action(f"train on its pairs ({TRAIN_MINUTES} min budget, from cnn-real)", train, True, trained,
                   before=open_training, after=discard,
                   done=lambda: window.training_dialog.trainer is not None and not window.training_dialog.running,
                   widget=lambda: window.training_dialog, timeout=CALIBRATION_TIMEOUT_S),
        ]

    def run(self) -> dict[str, tuple[list[float], list[float]]]:
        """Per action: every gap of every round, and each round's total time."""
        actions = self.calibration_actions() if self.args.calibration else self.actions()
        chosen = [a for a in actions if not self.args.only or any(o in a.name for o in self.args.only)]
        results: dict[str, tuple[list[float], list[float]]] = {a.name: ([], []) for a in chosen}
        for round_ in range(self.args.repeat):
            for action in actions:
                # the ones left out by --only still run, unmeasured, to bring the photo to the
                # state the chosen ones start from
                if action not in chosen:
                    action.before()
                    self.go_through(action)
                    continue
                gaps, total = self.measure(action)
                results[action.name][0].extend(gaps)
                results[action.name][1].append(total)
                log(f"round {round_ + 1}: {action.name}: worst gap {max(gaps) * 1000:.0f} ms, {total:.2f} s")
                wait(200)  # let the last round's garbage and late events settle between actions
        return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=int, default=6000)
    ap.add_argument("--height", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=None,
                    help="rounds of every action (default 3; 1 with --calibration)")
    ap.add_argument("--calibration", action="store_true",
                    help=f"measure calibrating a burst of {BURST_FRAMES} frames of --width x --height and training "
                         "on its pairs instead")
    ap.add_argument("--only", action="append", default=[],
                    help="report only the actions whose name contains this (repeatable); the others still run")
    ap.add_argument("--out", help=f"also write the table into this markdown file, section '{HEADING}' "
                                  f"('{CALIBRATION_HEADING}' with --calibration)")
    args = ap.parse_args()
    if args.repeat is None:
        args.repeat = 1 if args.calibration else 3
    heading = CALIBRATION_HEADING if args.calibration else HEADING
    refuse_partial_out(ap, args.out, heading, only=bool(args.only))
    command = command_line("benchmarks/responsiveness.py")  # before the data folder below is set

    folder = Path(tempfile.mkdtemp(prefix="pr-responsive-"))
    os.environ.setdefault("DESKTOP_APP_DATA_DIR", str(folder / "data"))  # recovery files stay out of the user's
    app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 - kept alive
    try:
        bench = Bench(args, folder)
        if args.calibration:
            bench.write_burst()
        else:
            bench.write_photo()
        load_before = os.getloadavg()
        start = time.perf_counter()
        results = bench.run()
        load_after = os.getloadavg()
        log(f"measured in {time.perf_counter() - start:.0f} s")
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the photo and its saved copy: 250 MB at 24 MP

    rows, over = [], []
    for name, (gaps, totals) in results.items():
        worst = max(gaps) * 1000
        if worst >= BAR_MS:
            over.append(name)
        rows.append([name, f"{worst:.0f}", f"{np.percentile(gaps, 99) * 1000:.0f}",
                     f"{statistics.median(totals):.2f}"])
    table = markdown_table(["action", "worst gap (ms)", "99th percentile (ms)", "total time (s)"], rows)
    mp = args.width * args.height / 1e6
    if args.calibration:
        what = (f"The main window, offscreen, {os.cpu_count()} cores: Models > Calibrate to My Camera on a burst of "
                f"{BURST_FRAMES} JPEG frames of {args.width}x{args.height} ({mp:.0f} MP), then the training dialog "
                f"its Train button opens, on the pairs (and those of a second scene of {SECOND_FRAMES} frames of "
                f"{SECOND_SIZE[0]}x{SECOND_SIZE[1]}; some shots of each held back for validation), "
                f"from cnn-real with a budget of "
                f"{TRAIN_MINUTES} min. "
                f"A {TICK_MS} ms timer ticks on the GUI thread from the click on Calibrate (or Start) until the "
                f"dialog reports the calibration done (or the run ended) and has repainted")
    else:
        what = (f"The main window, offscreen, on a {args.width}x{args.height} ({mp:.0f} MP) 16-bit TIFF with a mask "
                f"over a quarter of it, {os.cpu_count()} cores. A {TICK_MS} ms timer ticks on the GUI thread from "
                f"the start of each action until its job has ended and the canvas has repainted")
    header = (f"`{command}`\n\n{what}; a gap is the time "
              f"between two ticks ({TICK_MS} ms when nothing holds the thread). Worst gap of {args.repeat} rounds, "
              f"99th percentile of all their gaps, median total time. Bar: worst gap under {BAR_MS:.0f} ms. "
              f"Load average (1, 5, 15 min) {', '.join(f'{x:.1f}' for x in load_before)} before the run, "
              f"{', '.join(f'{x:.1f}' for x in load_after)} after it.")
    footer = ("Over the bar: " + ", ".join(over) + "." if over else
              f"Every action stays under the bar of {BAR_MS:.0f} ms.")
    if max(load_before[0], load_after[0]) > (os.cpu_count() or 1):
        footer += (f" The load average was above the {os.cpu_count()} cores: other processes shared the CPUs, "
                   "so these are figures of a loaded machine.")
    print(header + "\n\n" + table + "\n")
    finish_report(args.out, heading, header, [table], footer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
