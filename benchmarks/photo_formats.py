"""Camera files and batches: how long a 24 MP RAW takes to open and show, and whether a batch's
memory stays flat over many photos.

    python benchmarks/photo_formats.py raw [--width 6000 --height 4000]
    python benchmarks/photo_formats.py batch [--count 200 --megapixels 12 --method cnn --jobs 1]
    python benchmarks/photo_formats.py raw-vs-jpeg [--data ../shared/data/bench/CBSD68 --count 12]
    python benchmarks/photo_formats.py samples FOLDER      # real camera RAW files you have

`raw` writes a synthetic 24 MP DNG (12-bit Bayer with noise; no camera file can be shipped or
downloaded), then times opening it in the core and in the real main window (offscreen) until
the canvas holds the picture. `batch` writes `--count` noisy JPEGs, runs the batch the CLI
runs, and prints the resident memory after each file and the peak. `samples` opens every RAW
file of a folder as the app does (`load_image`), and compares the development with the JPEG
preview the camera embedded (LibRaw's `extract_thumb`): the orientation (which of the 8 turns and
mirror images of the development matches the preview best; 1 is as developed) and the colour,
both in CIELAB (sRGB, D65) after the development is shrunk to the preview's size: the mean
per-pixel difference (CIE76 delta E; tone curves differ between LibRaw and the camera, so this
holds brightness and contrast too) and the difference of the two pictures' mean colours (a cast,
a wrong white balance), and the same for a* b* alone (hue and saturation, brightness left out).
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == _HERE:  # benchmarks/select.py shadows `select`
    sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from _common import command_line, log, markdown_table  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scene(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Linear light with detail at several scales (not flat: demosaicking has work to do)."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.random((height // 64 + 1, width // 64 + 1, 3)).astype(np.float32)
    base = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    fine = cv2.resize(rng.random((height // 8 + 1, width // 8 + 1, 3)).astype(np.float32), (width, height))
    return np.clip(0.15 + 0.55 * base + 0.1 * fine, 0, 1) ** 2.2


def bench_raw(args) -> int:
    from desktop_app.core.imaging.formats import synthetic_dng
    from desktop_app.core.imaging.io import load_image

    work = Path(tempfile.mkdtemp(prefix="pr-raw-"))
    path = work / "big.dng"
    log(f"writing a {args.width}x{args.height} DNG")
    path.write_bytes(synthetic_dng(scene(args.height, args.width), noise=0.01))
    rows = []
    for attempt in range(args.repeat):
        start = time.perf_counter()
        pixels, meta = load_image(path)
        rows.append(["core load_image", f"{time.perf_counter() - start:.2f}"])
        del pixels
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    from desktop_app.gui.main_window import MainWindow
    from desktop_app.gui.settings import Settings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(Settings(QSettings(str(work / "s.ini"), QSettings.Format.IniFormat)))
    window.show()
    app.processEvents()
    for attempt in range(args.repeat):
        start = time.perf_counter()
        job = window.open_path(str(path))
        if job is not None and job.is_running():
            loop = QEventLoop()
            job.finished.connect(loop.quit)
            loop.exec()
        app.processEvents()
        window.canvas.repaint()
        shown = time.perf_counter() - start
        assert window.doc is not None and window.canvas._pyramid, "the RAW did not open"
        rows.append(["window: open until shown", f"{shown:.2f}"])
    print(f"RAW {args.width}x{args.height} ({args.width * args.height / 1e6:.0f} MP), "
          f"{os.cpu_count()} CPUs\n")
    print(markdown_table(["step", "seconds"], rows))
    print(f"\n`{command_line('benchmarks/photo_formats.py')}`")
    return 0


def bench_batch(args) -> int:
    from desktop_app.core.batch import BatchSpec, run_batch
    from desktop_app.core.imaging.io import save_image
    from desktop_app.core.work import run_work

    work = Path(args.dir or tempfile.mkdtemp(prefix="pr-batch-"))
    photos = work / "in"
    photos.mkdir(parents=True, exist_ok=True)
    side = (args.megapixels * 1e6 / 1.5) ** 0.5
    height, width = int(side), int(side * 1.5)
    log(f"writing {args.count} noisy {width}x{height} JPEGs to {photos}")
    rng = np.random.default_rng(0)
    base = scene(height, width) ** (1 / 2.2)
    for k in range(args.count):
        target = photos / f"photo{k:04d}.jpg"
        if not target.exists():
            noisy = np.clip(np.roll(base, 97 * k, axis=1) + rng.normal(0, 0.08, base.shape[:2] + (1,)), 0, 1)
            save_image(target, noisy.astype(np.float32))
    spec = BatchSpec(inputs=(photos,), output_dir=work / "out", operation=f"denoise/{args.method}",
                     params={"sigma": "auto"} if args.method == "cnn" else {}, jobs=args.jobs)
    samples: list[tuple[int, float, float]] = []
    start = time.perf_counter()

    def on_progress(p) -> None:
        if p.data.get("event") in ("done", "failed", "skipped"):
            samples.append((len(samples) + 1, time.perf_counter() - start, rss_mib()))
            outcome = p.data["outcome"]
            log(f"{len(samples)}/{args.count} {outcome.status} {outcome.source.name} "
                f"({outcome.seconds:.1f} s) RSS {samples[-1][2]:.0f} MiB")

    report = run_work(run_batch(spec), on_progress)
    total = time.perf_counter() - start
    rss = [s[2] for s in samples]
    first_tenth = max(1, len(rss) // 10)
    rows = [[f"{args.count} x {args.megapixels:g} MP", args.method, str(args.jobs),
             f"{total / max(1, len(report.done)):.1f}", f"{min(rss[:first_tenth]):.0f}",
             f"{max(rss[:first_tenth]):.0f}", f"{max(rss[-first_tenth:]):.0f}", f"{peak_mib():.0f}",
             report.summary()]]
    print(markdown_table(["photos", "method", "jobs", "s / photo", "RSS first 10 % min (MiB)",
                          "first 10 % max", "last 10 % max", "peak (MiB)", "result"], rows))
    print(f"\n`{command_line('benchmarks/photo_formats.py')}`")
    return 0


def bench_raw_vs_jpeg(args) -> int:
    """Denoise a RAW's own development, or the camera's JPEG of it? Clean photos are turned
    back into linear light, mosaicked into DNGs with sensor noise, developed (no sharpening),
    and either denoised as they are, or first made into a camera-style JPEG (unsharp mask,
    quality 90) and denoised then. The development is scored against the photo itself, the
    JPEG route against the photo sharpened the same way (the look the camera aims at)."""
    import cv2

    from desktop_app.core.imaging import formats
    from desktop_app.core.imaging.formats import RawOptions, synthetic_dng
    from desktop_app.core.imaging.io import load_image
    from desktop_app.core.metrics import psnr
    from desktop_app.core.operations import apply_operation, registry
    from desktop_app.core.work import run_work

    def develop(data: bytes) -> np.ndarray:
        return formats.decode("RAW", data, 10**9, RawOptions(auto_bright_clip=0)).pixels / 65535.0

    def sharpen(image: np.ndarray) -> np.ndarray:
        blurred = cv2.GaussianBlur(image.astype(np.float32), (0, 0), 1.0)
        return np.clip(image + 0.6 * (image - blurred), 0, 1)

    def camera_jpeg(image: np.ndarray) -> np.ndarray:
        sharp = sharpen(image)
        ok, data = cv2.imencode(".jpg", cv2.cvtColor((sharp * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, 90])
        return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) / 255.0

    def denoise(image: np.ndarray, bit_depth: int) -> np.ndarray:
        op = registry.get("denoise", args.method)
        params = {"sigma": "auto"} if any(p.name == "sigma" and p.allow_auto for p in op.params) else {}
        return run_work(apply_operation(op, image.astype(np.float32), None, params, bit_depth=bit_depth))

    paths = sorted(Path(args.data).glob("*.png"))[: args.count]
    if not paths:
        raise SystemExit(f"no PNG photos in {args.data}")
    scores = []
    for k, path in enumerate(paths):
        clean = load_image(path)[0][..., :3]
        clean = clean[: clean.shape[0] // 2 * 2, : clean.shape[1] // 2 * 2]
        linear = np.where(clean <= 0.04045, clean / 12.92, ((clean + 0.055) / 1.055) ** 2.4)
        reference, jpeg_reference = clean, sharpen(clean)
        noisy = develop(synthetic_dng(linear, noise=args.noise, seed=k))
        from_raw = denoise(noisy, 16)
        jpeg = camera_jpeg(noisy)
        from_jpeg = denoise(jpeg, 8)
        scores.append([psnr(noisy, reference), psnr(from_raw, reference),
                       psnr(jpeg, jpeg_reference), psnr(from_jpeg, jpeg_reference)])
        log(f"{path.name}: RAW {scores[-1][0]:.2f} -> {scores[-1][1]:.2f} dB, "
            f"JPEG {scores[-1][2]:.2f} -> {scores[-1][3]:.2f} dB")
    mean = np.mean(scores, axis=0)
    print(f"{len(paths)} photos of {args.data}, read noise {args.noise:g} of white, denoiser {args.method}\n")
    print(markdown_table(["denoised from", "noisy (dB)", "denoised (dB)", "gain (dB)"], [
        ["the RAW's development (16-bit, unsharpened)", f"{mean[0]:.2f}", f"{mean[1]:.2f}", f"{mean[1] - mean[0]:+.2f}"],
        ["a camera-style JPEG of it (sharpened, q90)", f"{mean[2]:.2f}", f"{mean[3]:.2f}", f"{mean[3] - mean[2]:+.2f}"],
    ]))
    print(f"\n`{command_line('benchmarks/photo_formats.py')}`")
    return 0


def bench_samples(args) -> int:
    import cv2
    import rawpy

    from desktop_app.core.imaging.formats import RAW_EXTENSIONS
    from desktop_app.core.imaging.io import load_image

    def lab(rgb8: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(rgb8.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)

    rows = []
    for path in sorted(Path(args.folder).iterdir()):
        if path.suffix.lower() not in RAW_EXTENSIONS:
            continue
        start = time.perf_counter()
        try:
            image, meta = load_image(path)
        except Exception as exc:  # noqa: BLE001 - a file that does not open is a row of the table
            rows.append([path.name, "", "", f"does not open: {exc}", "", "", "", "", ""])
            continue
        seconds = time.perf_counter() - start
        developed = (np.clip(image[..., :3], 0, 1) * 255).astype(np.uint8)
        camera = meta.camera.get("camera", "?")
        try:
            with rawpy.imread(str(path)) as raw:
                thumb = raw.extract_thumb()
        except Exception:  # noqa: BLE001 - no preview in the file
            thumb = None
        if thumb is None or thumb.format != rawpy.ThumbFormat.JPEG:
            rows.append([path.name, camera, f"{image.shape[1]}x{image.shape[0]}", f"{seconds:.2f}",
                         "no JPEG preview", "", "", "", ""])
            continue
        preview = cv2.imdecode(np.frombuffer(thumb.data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
        ph, pw = preview.shape[:2]
        best = None
        for k in range(8):  # the development turned k % 4 quarter turns, mirrored when k >= 4
            turned = np.rot90(developed[:, ::-1] if k >= 4 else developed, k % 4)
            small = cv2.resize(np.ascontiguousarray(turned), (pw, ph), interpolation=cv2.INTER_AREA)
            err = float(np.mean(np.abs(small.astype(np.float32) - preview)))
            if turned.shape[0] / turned.shape[1] * pw / ph < 0.9 or turned.shape[0] / turned.shape[1] * pw / ph > 1.1:
                err = float("inf")  # another aspect ratio: not this turn
            if best is None or err < best[0]:
                best = (err, k, small)
        _, k, small = best
        a, b = lab(small), lab(preview)
        delta = np.sqrt(((a - b) ** 2).sum(axis=2))
        delta_ab = np.sqrt(((a[..., 1:] - b[..., 1:]) ** 2).sum(axis=2))
        cast = float(np.sqrt(((a.reshape(-1, 3).mean(0) - b.reshape(-1, 3).mean(0)) ** 2).sum()))
        rows.append([path.name, camera, f"{image.shape[1]}x{image.shape[0]}", f"{seconds:.2f}",
                     f"{pw}x{ph}", "as developed" if k == 0 else f"turn {k % 4}, mirrored {k >= 4}",
                     f"{delta.mean():.1f}", f"{cast:.1f}", f"{delta_ab.mean():.1f}"])
        log(f"{path.name}: {' | '.join(rows[-1][1:])}")
    print(markdown_table(["file", "camera (EXIF)", "developed", "open (s)", "embedded preview",
                          "orientation that matches the preview", "mean delta E (CIE76)",
                          "delta E of the mean colours", "mean delta a*b*"], rows))
    print(f"\n`{command_line('benchmarks/photo_formats.py')}`")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    raw = sub.add_parser("raw")
    raw.add_argument("--width", type=int, default=6000)
    raw.add_argument("--height", type=int, default=4000)
    raw.add_argument("--repeat", type=int, default=2)
    batch = sub.add_parser("batch")
    batch.add_argument("--count", type=int, default=200)
    batch.add_argument("--megapixels", type=float, default=12)
    batch.add_argument("--method", default="cnn")
    batch.add_argument("--jobs", type=int, default=1)
    batch.add_argument("--dir", default=None, help="work folder (kept; photos are reused)")
    versus = sub.add_parser("raw-vs-jpeg")
    versus.add_argument("--data", default="../shared/data/bench/CBSD68")
    versus.add_argument("--count", type=int, default=12)
    versus.add_argument("--noise", type=float, default=0.01, help="sensor read noise, share of white")
    versus.add_argument("--method", default="cnn")
    samples = sub.add_parser("samples")
    samples.add_argument("folder")
    args = ap.parse_args()
    return {"samples": bench_samples, "raw": bench_raw, "batch": bench_batch, "raw-vs-jpeg": bench_raw_vs_jpeg}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
