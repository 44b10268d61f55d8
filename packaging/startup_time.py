#!/usr/bin/env python
"""Time from launch to the main window being shown, for any way of starting the app.

    python packaging/startup_time.py dist/PhotoRetouch/PhotoRetouch        # the frozen build
    python packaging/startup_time.py ~/.local/bin/photoretouch             # the installed one
    python packaging/startup_time.py .venv/bin/desktop-app                 # the package in a venv

It starts the command `--runs` times on the current display (run it under Xvfb or a desktop;
with no DISPLAY it uses Qt's offscreen platform and says so), with the environment variable
DESKTOP_APP_STARTUP_REPORT naming a file: the app appends the wall-clock time at which its
window has been shown and the event loop has handled the first events. The time counted is
from just before the process is started to that moment. The first run is reported apart (the
files may not be in the page cache yet); the others give the median and the worst. `--cold`
empties the page cache before every launch (Linux, as root), as after a reboot.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from desktop_app.gui.app import STARTUP_REPORT_ENV  # noqa: E402 - imports no Qt

TIMEOUT_S = 60


def drop_page_cache() -> None:
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as e:
        sys.exit(f"--cold needs root on Linux ({e})")


def seconds_until_shown(report: Path, start: float, proc: subprocess.Popen | None = None) -> float:
    """Wait for the app to write the time its window was shown into `report`; seconds from
    `start` (time.time()). `proc`, when given, is watched for exiting first."""
    while not report.exists() or not report.read_text().strip():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with code {proc.returncode} before showing a window")
        if time.time() - start > TIMEOUT_S:
            raise RuntimeError(f"no window within {TIMEOUT_S} s")
        time.sleep(0.01)
    return float(report.read_text().split()[0]) - start


def launch_once(command: list[str], env: dict[str, str], cold: bool = False) -> float:
    if cold:
        drop_page_cache()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "shown.txt"
        run_env = dict(env, **{STARTUP_REPORT_ENV: str(report)}, DESKTOP_APP_DATA_DIR=str(Path(tmp) / "data"))
        start = time.time()
        proc = subprocess.Popen(command, env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            return seconds_until_shown(report, start, proc)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", nargs="+", help="the program to start (and its arguments)")
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--cold", action="store_true", help="empty the page cache before each launch")
    args = ap.parse_args()
    env = dict(os.environ)
    where = f"display {env['DISPLAY']}" if env.get("DISPLAY") else "offscreen (no DISPLAY)"
    if not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    times = [launch_once(args.command, env, args.cold) for _ in range(args.runs)]
    kind = "cold" if args.cold else "warm"
    print(f"{' '.join(args.command)} on {where}, {args.runs} launches{', page cache emptied before each' * args.cold}")
    print(f"  first          {times[0]:.2f} s")
    if len(times) > 1:
        print(f"  median ({kind})  {statistics.median(times[1:]):.2f} s")
        print(f"  worst ({kind})   {max(times[1:]):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
