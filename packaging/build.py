#!/usr/bin/env python
"""Build the app with PyInstaller, check it, and pack the download.

    python packaging/build.py                 # build, self-test, size report, archive
    python packaging/build.py --no-archive    # skip the .tar.gz (or installer)

1. `pyinstaller packaging/desktop_app.spec` makes `dist/PhotoRetouch/` (one folder).
2. Linux: `install.sh`, `uninstall.sh` and the `.desktop` template go into that folder.
3. `dist/PhotoRetouch/PhotoRetouch --self-test` runs from the built folder with the source
   tree hidden from it (no `desktop_app` on its path, resources only from the bundle), then
   three training steps through the frozen `train` command; the build fails when either fails.
4. Size report: the bundle by component, and the shared libraries the self-test never
   mapped (some are needed only on a real desktop: the X11/Wayland platform plug-ins).
5. The download: `dist/PhotoRetouch-<version>-linux-<machine>.tar.gz`; on Windows the Inno
   Setup installer when `iscc` is on PATH; on macOS a `.dmg` of the `.app` via hdiutil.

Needs PyInstaller in the environment that runs the app: `pip install -e ".[package]"`.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from desktop_app import APP_NAME, __version__  # noqa: E402
from desktop_app.gui.self_test import LOAD_REPORT_ENV  # noqa: E402 - imports no Qt

DIST = ROOT / "dist"
BUNDLE = DIST / APP_NAME
LINUX_FILES = ("install.sh", "uninstall.sh", "photoretouch.desktop")
# shared libraries an offscreen self-test cannot load but a desktop session does
DESKTOP_ONLY = ("platforms/libqxcb", "platforms/libqwayland", "libQt6XcbQpa", "libQt6WaylandClient",
                "libQt6WlShell", "platformthemes/", "platforminputcontexts/", "xcbglintegrations/",
                "wayland-", "libQt6DBus", "libxcb", "libxkbcommon-x11", "libwayland")


def executable() -> Path:
    """The program that runs the checks: on Windows the console twin, which can report."""
    return BUNDLE / (f"{APP_NAME}-cli.exe" if sys.platform == "win32" else APP_NAME)


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def run_pyinstaller() -> float:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        sys.exit("PyInstaller is not installed here: pip install -e \".[package]\" (or pip install pyinstaller)")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "PyInstaller", str(ROOT / "packaging" / "desktop_app.spec"),
                    "--noconfirm", "--distpath", str(DIST), "--workpath", str(ROOT / "build" / "pyinstaller")],
                   check=True, cwd=ROOT)
    return time.perf_counter() - start


def add_linux_files() -> None:
    for name in LINUX_FILES:
        target = BUNDLE / name
        shutil.copy2(ROOT / "packaging" / "linux" / name, target)
        target.chmod(0o755 if name.endswith(".sh") else 0o644)


def self_test(report: Path) -> float:
    """Run the frozen self-test from a folder outside the source tree, with the source tree's
    environment variables removed, so it can only use what the bundle holds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESKTOP_APP_", "PYTHON"))}
    env[LOAD_REPORT_ENV] = str(report)
    env["QT_QPA_PLATFORM"] = "offscreen"
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as cwd:
        done = subprocess.run([str(executable()), "--self-test"], env=env, cwd=cwd)
    if done.returncode != 0:
        sys.exit(f"self-test failed (exit code {done.returncode})")
    return time.perf_counter() - start


def fine_tune_check() -> float:
    """Three training steps through the frozen CLI (the training dialog runs the same
    trainer), on crops of the bundled sample: proves the bundle holds what training imports."""
    import numpy as np
    from PIL import Image

    sample = np.asarray(Image.open(ROOT / "resources" / "samples" / "sample.png").convert("RGB"))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "photos"
        data.mkdir()
        for k in range(8):
            y, x = 40 * (k % 4), 60 * (k // 4)
            Image.fromarray(sample[y:y + 256, x:x + 320]).save(data / f"crop{k}.png")
        out = Path(tmp) / "tiny.safetensors"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DESKTOP_APP_", "PYTHON"))}
        env["DESKTOP_APP_CACHE_DIR"] = str(Path(tmp) / "cache")
        done = subprocess.run([str(executable()), "train", "--task", "denoise", "--data", str(data), "--name", "tiny",
                               "--steps", "3", "--batch", "2", "--patch", "32", "--val-every", "3", "--threads", "1",
                               "--out", str(out)], env=env, cwd=tmp)
        if done.returncode != 0 or not out.is_file():
            sys.exit(f"fine-tune check failed (exit code {done.returncode})")
    return time.perf_counter() - start


def runtime_check() -> float:
    """The CNN denoiser through the frozen CLI with an empty cache: the CPU runtime (OpenVINO)
    must convert the network and write its graph, twice over (the second run reads it). The
    app would fall back to torch if the bundle lacked a piece of OpenVINO: the self-test would
    still pass, only slower, so this looks for the graph file and the fallback's log line."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DESKTOP_APP_", "PYTHON"))}
        env["DESKTOP_APP_CACHE_DIR"] = str(Path(tmp) / "cache")
        for k in range(2):
            done = subprocess.run([str(executable()), "denoise", str(ROOT / "resources" / "samples" / "sample.png"),
                                   "-o", str(Path(tmp) / f"out{k}.png"), "--method", "cnn", "--sigma", "25",
                                   "--device", "cpu", "--quiet"], env=env, cwd=tmp, capture_output=True, text=True)
            if done.returncode != 0 or "CPU runtime not used" in done.stderr:
                sys.exit(f"CPU runtime check failed (exit code {done.returncode}): {done.stderr.strip()[-2000:]}")
        if not list((Path(tmp) / "cache" / "openvino").glob("*.xml")):
            sys.exit("CPU runtime check failed: no OpenVINO graph was written")
    return time.perf_counter() - start


def size_report(loaded: set[str]) -> list[str]:
    internal = BUNDLE / "_internal"
    by_part: dict[str, int] = defaultdict(int)
    unused: list[tuple[int, str, bool]] = []
    total = 0
    for path in BUNDLE.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        size = path.stat().st_size
        total += size
        rel = path.relative_to(internal if internal in path.parents else BUNDLE).as_posix()
        part = rel.split("/")[0] if "/" in rel else "(top level: " + ("libraries" if ".so" in rel else "files") + ")"
        if rel.startswith("resources/"):
            part = "/".join(rel.split("/")[:2])
        by_part[part] += size
        if (".so" in path.name or path.suffix in (".dll", ".dylib", ".pyd")) and str(path.resolve()) not in loaded:
            unused.append((size, rel, any(d in rel for d in DESKTOP_ONLY)))
    lines = [f"bundle {BUNDLE.relative_to(ROOT)}: {mib(total)}", "", "| part | size |", "| --- | ---: |"]
    for part, size in sorted(by_part.items(), key=lambda kv: -kv[1])[:14]:
        lines.append(f"| {part} | {mib(size)} |")
    rest = sum(sorted(by_part.values(), reverse=True)[14:])
    if rest:
        lines.append(f"| (the rest) | {mib(rest)} |")
    if loaded:
        unused.sort(reverse=True)
        other = [u for u in unused if not u[2]]
        desktop = [u for u in unused if u[2]]
        lines += ["", f"shared libraries the self-test never loaded: {len(unused)}, {mib(sum(u[0] for u in unused))}; "
                  f"{len(desktop)} of them ({mib(sum(u[0] for u in desktop))}) load only on an X11/Wayland desktop"]
        for size, rel, _ in other[:12]:
            lines.append(f"  {mib(size):>10}  {rel}")
        if len(other) > 12:
            lines.append(f"  {mib(sum(u[0] for u in other[12:])):>10}  ({len(other) - 12} more)")
    return lines


def make_archive() -> Path:
    machine = platform.machine().lower() or "unknown"
    if sys.platform.startswith("linux"):
        out = DIST / f"{APP_NAME}-{__version__}-linux-{machine}.tar.gz"
        tmp = out.with_suffix(".tmp")
        with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
            tar.add(BUNDLE, arcname=APP_NAME)
        os.replace(tmp, out)
        return out
    if sys.platform == "win32":
        iscc = shutil.which("iscc") or shutil.which("ISCC")
        if not iscc:
            sys.exit("Inno Setup's iscc is not on PATH: install Inno Setup 6, or pass --no-archive")
        subprocess.run([iscc, f"/DAppVersion={__version__}", str(ROOT / "packaging" / "windows" / "PhotoRetouch.iss")],
                       check=True)
        return DIST / f"{APP_NAME}-{__version__}-setup.exe"
    if sys.platform == "darwin":
        out = DIST / f"{APP_NAME}-{__version__}-macos-{machine}.dmg"
        subprocess.run(["hdiutil", "create", "-volname", APP_NAME, "-srcfolder", str(DIST / f"{APP_NAME}.app"),
                        "-ov", "-format", "UDZO", str(out)], check=True)
        return out
    sys.exit(f"no download format for {sys.platform}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-archive", action="store_true", help="leave out the .tar.gz / installer")
    ap.add_argument("--skip-build", action="store_true", help="check and pack an existing dist/ folder")
    args = ap.parse_args()

    build_s = 0.0 if args.skip_build else run_pyinstaller()
    if not executable().is_file():
        sys.exit(f"{executable()} is missing")
    if sys.platform.startswith("linux"):
        add_linux_files()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "loaded.txt"
        test_s = self_test(report)
        loaded = set(report.read_text().split("\n")) if report.is_file() else set()
    train_s = fine_tune_check()
    runtime_s = runtime_check()
    lines = size_report(loaded)
    archive = None if args.no_archive else make_archive()
    print()
    print("\n".join(lines))
    if archive:
        print(f"\ndownload: {archive.relative_to(ROOT)}  {mib(archive.stat().st_size)}")
    print(f"\nPyInstaller {build_s:.0f} s, self-test {test_s:.0f} s, fine-tune check {train_s:.0f} s, "
          f"CPU runtime check {runtime_s:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
