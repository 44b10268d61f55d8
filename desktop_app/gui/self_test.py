"""`desktop-app --self-test`: start the real main window offscreen, open the bundled sample
photo, run NL-Means, the CNN denoiser and neural inpainting through the registry the GUI
uses, check what a user would see, save, open a camera RAW and a HEIC, and exit 0 when
everything passed.

It runs after every frozen build (`packaging/build.py`), where it proves that the bundle holds
what the operations import at run time. Settings, autosave and the model library go to a
temporary folder, so the user's own are never touched.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from desktop_app.core import metrics

NOISE_SIGMA = 25.0
# Gains (dB) measured on the sample at sigma 25: 15.7 (NL-Means), 16.7 (cnn), the same frozen
# and from source. The bars leave room for other CPUs and torch builds but fail on a missing,
# untrained or wrongly loaded model.
MIN_GAIN = {"denoise/nlmeans": 10.0, "denoise/cnn": 12.0}
HOLE = (300, 330, 80, 60)  # x, y, w, h: a patch of meadow in the sample photo
JOB_TIMEOUT_S = 600
# packaging/build.py sets this: the self-test writes there the files the process has mapped
# (shared libraries), to report what the bundle holds that was never loaded.
LOAD_REPORT_ENV = "DESKTOP_APP_LOAD_REPORT"


class SelfTestFailed(Exception):
    pass


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    seconds: float


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """The images as they are (a noisy input may leave [0, 1]), not clipped first."""
    return metrics.psnr(a, b, clip=False)


class SelfTest:
    def __init__(self, window, workdir: Path, out: Callable[[str], None]) -> None:
        self.window = window
        self.workdir = workdir
        self.out = out
        self.checks: list[Check] = []
        self.errors: list[str] = []
        # answer the window's questions and collect its error dialogs instead of showing them
        window.show_error = lambda title, message: self.errors.append(f"{title}: {message}")
        window.ask = lambda title, text, buttons, default=0: buttons.index("Discard") if "Discard" in buttons else -1

    def wait(self, job) -> None:
        from PySide6.QtCore import QEventLoop, QTimer

        if job is None:
            raise SelfTestFailed("the window refused to start the job: " + "; ".join(self.errors or ["busy"]))
        if job.is_running() or self.window.job is job:
            loop = QEventLoop()
            job.finished.connect(loop.quit)
            QTimer.singleShot(JOB_TIMEOUT_S * 1000, loop.quit)
            loop.exec()
        from PySide6.QtWidgets import QApplication

        QApplication.processEvents()  # let the result reach the document
        if self.errors:
            raise SelfTestFailed(self.errors.pop())
        if self.window.job is job:
            raise SelfTestFailed(f"{job.title} did not finish within {JOB_TIMEOUT_S} s")

    def check(self, name: str, step: Callable[[], str]) -> bool:
        start = time.perf_counter()
        try:
            detail, ok = step(), True
        except Exception as e:  # noqa: BLE001 - every failure becomes one line of the report
            detail, ok = f"{type(e).__name__}: {e}", False
        self.checks.append(Check(name, ok, detail, time.perf_counter() - start))
        self.out(f"{'ok  ' if ok else 'FAIL'} {name:<28} {self.checks[-1].seconds:6.1f} s  {detail}")
        return ok

    # -- the steps ---------------------------------------------------------------------------
    def open(self, path: Path) -> str:
        self.wait(self.window.open_path(str(path)))
        doc = self.window.doc
        if doc is None or doc.path is None or Path(doc.path).resolve() != path.resolve():
            raise SelfTestFailed(f"{path.name} did not open")
        return f"{doc.width}x{doc.height}"

    def run(self, key: str, **params) -> np.ndarray:
        from desktop_app.core.operations import registry

        op = registry.get(*key.split("/", 1))
        values = {p.name: p.default for p in op.params}
        values.update(params)
        before = self.window.doc.image
        self.wait(self.window.run_operation(op, values, False))
        after = self.window.doc.image
        if after is before:
            raise SelfTestFailed(f"{op.title} left the image unchanged")
        return after[..., :3]

    def denoise(self, key: str, clean: np.ndarray, noisy: np.ndarray, **params) -> str:
        result = self.run(key, **params)
        job = self.window.undo()  # an image step is undone in the worker
        if job is not None:
            self.wait(job)
        gain = psnr(result, clean) - psnr(noisy, clean)
        if gain < MIN_GAIN[key]:
            raise SelfTestFailed(f"PSNR gain {gain:.2f} dB, expected at least {MIN_GAIN[key]} dB")
        return f"{psnr(noisy, clean):.2f} -> {psnr(result, clean):.2f} dB (+{gain:.2f})"

    def inpaint(self, clean: np.ndarray) -> str:
        x, y, w, h = HOLE
        mask = np.zeros(clean.shape[:2], np.float32)
        mask[y:y + h, x:x + w] = 1.0
        self.window.doc.set_mask(mask, "Self-test hole")
        result = self.run("inpaint/cnn", seed=0)
        outside = float(np.abs(result - clean)[mask == 0].max())
        if outside > 1.5 / 255:
            raise SelfTestFailed(f"pixels outside the mask changed by up to {outside * 255:.1f}/255")
        hole, truth = result[y:y + h, x:x + w], clean[y:y + h, x:x + w]
        ring = np.concatenate([clean[y - 8:y, x:x + w].reshape(-1, 3), clean[y + h:y + h + 8, x:x + w].reshape(-1, 3),
                               clean[y:y + h, x - 8:x].reshape(-1, 3), clean[y:y + h, x + w:x + w + 8].reshape(-1, 3)])
        colour_gap = float(np.abs(hole.reshape(-1, 3).mean(0) - ring.mean(0)).max())
        if colour_gap > 0.08:
            raise SelfTestFailed(f"the fill's mean colour is {colour_gap * 255:.0f}/255 away from its surroundings")
        variations = len(self.window.variations.results) if self.window.variations else 1
        return (f"hole PSNR {psnr(hole, truth):.2f} dB, colour within {colour_gap * 255:.0f}/255 of the "
                f"surroundings, {variations} variations")

    def save(self) -> str:
        from desktop_app.core.imaging.io import load_image

        sizes = []
        for name in ("result.png", "result.tif"):
            target = self.workdir / name
            self.wait(self.window.save_to(target))
            back = load_image(target)[0][..., :3]
            if np.abs(back - self.window.doc.image[..., :3]).max() > 1 / 255:
                raise SelfTestFailed(f"{name} read back differs from the image")
            sizes.append(f"{name} {target.stat().st_size // 1024} KiB")
        return ", ".join(sizes)

    def open_formats(self) -> str:
        """A camera RAW (a DNG written here, developed by LibRaw) and a HEIC saved from it and
        opened again (libheif, Exiv2): the bundle holds the format libraries."""
        from desktop_app.core.imaging.formats import synthetic_dng
        from desktop_app.core.imaging.io import save_image

        scene = np.full((64, 96, 3), 0.18, np.float32)
        scene[:32, :48] = (0.5, 0.05, 0.05)
        raw = self.workdir / "camera.dng"
        raw.write_bytes(synthetic_dng(scene, orientation=6, exif={"Exif.Photo.ISOSpeedRatings": "800"}))
        size = self.open(raw)
        doc = self.window.doc
        if (doc.height, doc.width) != (96, 64) or doc.meta.bit_depth != 16 or doc.meta.camera.get("iso") != "800":
            raise SelfTestFailed(f"the RAW opened as {size}, {doc.meta.bit_depth}-bit, {doc.meta.camera}")
        heic = self.workdir / "phone.heic"
        save_image(heic, doc.image, doc.meta)
        return f"RAW {size} 16-bit, HEIC {self.open(heic)} {self.window.doc.meta.source_mode}"

    def run_all(self) -> bool:
        from desktop_app.core.imaging.io import load_image, save_image

        from desktop_app.core.paths import sample_photo

        src = sample_photo()
        if not src.is_file():
            self.out(f"FAIL sample photo missing: {src}")
            return False
        clean = load_image(src)[0][..., :3]
        rng = np.random.default_rng(0)
        noisy = np.clip(clean + rng.normal(0, NOISE_SIGMA / 255, clean.shape), 0, 1).astype(np.float32)
        noisy = np.round(noisy * 255) / 255
        noisy_path = self.workdir / "sample-noisy.png"
        save_image(noisy_path, noisy)
        noisy = load_image(noisy_path)[0][..., :3]

        self.check("open noisy sample", lambda: self.open(noisy_path))
        self.check("denoise: NL-Means", lambda: self.denoise("denoise/nlmeans", clean, noisy, sigma=NOISE_SIGMA))
        self.check("denoise: CNN", lambda: self.denoise("denoise/cnn", clean, noisy, sigma=NOISE_SIGMA))
        self.check("open clean sample", lambda: self.open(src))
        self.check("inpaint: neural fill", lambda: self.inpaint(clean))
        self.check("save PNG and TIFF", self.save)
        self.check("open RAW and HEIC", self.open_formats)
        return all(c.ok for c in self.checks) and sum(c.ok for c in self.checks) == 7


def run_self_test(out: Callable[[str], None] | None = None) -> int:
    """Returns the process exit code: 0 when every check passed."""
    if out is None:
        def out(line: str) -> None:
            if sys.stdout is not None:  # a windowed build on Windows has no stdout
                print(line, flush=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="photoretouch-self-test-") as tmp:
        workdir = Path(tmp)
        saved_env = {k: os.environ.get(k) for k in ("DESKTOP_APP_DATA_DIR", "DESKTOP_APP_CACHE_DIR")}
        os.environ["DESKTOP_APP_DATA_DIR"] = str(workdir / "data")
        os.environ["DESKTOP_APP_CACHE_DIR"] = str(workdir / "cache")
        try:
            return _run(workdir, out)
        finally:
            for k, v in saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _run(workdir: Path, out: Callable[[str], None]) -> int:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from desktop_app import __version__
    from desktop_app.gui.main_window import MainWindow
    from desktop_app.gui.settings import Settings
    from desktop_app.gui.theme import apply_dark_theme

    start = time.perf_counter()
    torch_before = "torch" in sys.modules  # True when a caller (a test) already imported it
    app = QApplication.instance() or QApplication([sys.argv[0]])
    apply_dark_theme(app)
    settings = Settings(QSettings(str(workdir / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings)
    window.show()
    app.processEvents()
    frozen = "frozen" if getattr(sys, "frozen", False) else "from source"
    out(f"self-test of {window.windowTitle() or 'the app'} {__version__} ({frozen}, Qt platform "
        f"{app.platformName()}), window shown after {time.perf_counter() - start:.2f} s")
    test = SelfTest(window, workdir, out)
    if not torch_before and "torch" in sys.modules:
        out("FAIL torch was imported before the window was shown: start-up waits for it")
        test.checks.append(Check("window before torch", False, "", 0.0))
    try:
        passed = test.run_all()
    finally:
        window.close()  # an unsaved document is discarded through the patched `ask`
        window.deleteLater()
        app.processEvents()
    try:
        import torch

        from desktop_app.core.models.device import pick_device

        out(f"torch {torch.__version__} on {pick_device(settings.get('device', str))}, "
            f"{sum(c.seconds for c in test.checks):.1f} s in all")
    except Exception as e:  # noqa: BLE001 - already reported by the failed checks
        out(f"torch unavailable: {e}")
    report = os.environ.get(LOAD_REPORT_ENV)
    if report:
        _write_mapped_files(Path(report))
    out("self-test passed" if passed else "self-test FAILED")
    return 0 if passed else 1


def _write_mapped_files(path: Path) -> None:
    """The files mapped into this process (Linux: /proc/self/maps), one per line."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return
    files = {line.split(None, 5)[5].strip() for line in maps.read_text().splitlines()
             if len(line.split(None, 5)) == 6 and line.split(None, 5)[5].startswith("/")}
    path.write_text("\n".join(sorted(str(Path(f).resolve()) for f in files)))
