#!/usr/bin/env python
"""What a Linux user does with the download, in a throw-away home folder:

    python packaging/check_install.py [--archive dist/PhotoRetouch-*.tar.gz] [--screenshot shot.png]

1. unpack the archive (nothing else from this repository is used from here on);
2. run its `install.sh` with HOME set to a temporary folder;
3. check what it put in place: the command, the `.desktop` launcher (desktop-file-validate
   when installed) pointing at the installed program, the icons;
4. run the installed program's `--self-test`;
5. start the app the way a desktop does, from the launcher (`gio launch` when there is a
   display and gio is installed, else the launcher's Exec line), time launch to window shown,
   and with `--screenshot` save the screen while the window is up;
6. run `uninstall.sh` and check that it removed everything it had installed.

Exit code 0 when every step passed. It needs no display: without DISPLAY the app starts on
Qt's offscreen platform (and there is nothing to take a screenshot of).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from startup_time import STARTUP_REPORT_ENV, seconds_until_shown  # noqa: E402 - beside this script

ROOT = Path(__file__).resolve().parents[1]
APP = "PhotoRetouch"


def step(title: str) -> None:
    print(f"-- {title}", flush=True)


def fail(message: str) -> None:
    sys.exit(f"check_install: {message}")


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DESKTOP_APP_", "PYTHON", "XDG_", "VIRTUAL_ENV", "QT_"))}
    env.update(HOME=str(home), PATH=f"{home}/.local/bin:/usr/bin:/bin")
    if not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def launch_from_desktop_file(desktop: Path, env: dict[str, str], screenshot: Path | None) -> float:
    """Start the app as a desktop would and return the seconds until its window was shown."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "shown.txt"
        run_env = dict(env, **{STARTUP_REPORT_ENV: str(report)})
        if env.get("DISPLAY") and shutil.which("gio"):
            command = ["gio", "launch", str(desktop)]
        else:
            exec_line = next(line.split("=", 1)[1] for line in desktop.read_text().splitlines()
                             if line.startswith("Exec="))
            command = [a for a in shlex.split(exec_line) if not a.startswith("%")]
        start = time.time()
        launcher = subprocess.Popen(command, env=run_env)
        try:
            try:
                # gio returns at once, so only the report tells; the Exec line's process is the app
                shown = seconds_until_shown(report, start, None if command[0] == "gio" else launcher)
            except RuntimeError as e:
                fail(f"the app started from the launcher: {e}")
            if screenshot is not None and env.get("DISPLAY"):
                time.sleep(1.5)
                subprocess.run(["import", "-window", "root", str(screenshot)], env=env, check=True)
        finally:
            # gio returns at once; the app is whatever runs the installed program
            if shutil.which("pkill"):
                subprocess.run(["pkill", "-TERM", "-f", f"{env['HOME']}/.local/lib/photoretouch/{APP}"], check=False)
            else:
                launcher.terminate()
            launcher.wait(10)
        return shown


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archive", type=Path, default=None, help="default: the newest dist/PhotoRetouch-*.tar.gz")
    ap.add_argument("--screenshot", type=Path, default=None, help="PNG of the screen with the app started")
    args = ap.parse_args()
    archive = args.archive or max((ROOT / "dist").glob(f"{APP}-*-linux-*.tar.gz"), key=os.path.getmtime,
                                  default=None)
    if archive is None or not archive.is_file():
        fail("no archive: run python packaging/build.py first")

    with tempfile.TemporaryDirectory(prefix="photoretouch-install-") as tmp:
        home, download = Path(tmp) / "home", Path(tmp) / "download"
        home.mkdir()
        env = clean_env(home)
        step(f"unpack {archive.name}")
        with tarfile.open(archive) as tar:
            tar.extractall(download, filter="tar")
        step("install.sh")
        subprocess.run([str(download / APP / "install.sh")], env=env, cwd=download, check=True)
        shutil.rmtree(download)  # the installed copy must stand on its own

        step("what it installed")
        local = home / ".local"
        program = local / "lib" / "photoretouch" / APP
        desktop = local / "share" / "applications" / "photoretouch.desktop"
        command = local / "bin" / "photoretouch"
        icons = sorted((local / "share" / "icons" / "hicolor").glob("*/apps/photoretouch.*"))
        for path in (program, desktop, command):
            if not path.exists():
                fail(f"{path} is missing after install")
        if f'Exec="{program}"' not in desktop.read_text():
            fail(f"the launcher does not start {program}")
        if len(icons) < 5:
            fail(f"only {len(icons)} icons installed")
        if shutil.which("desktop-file-validate"):
            subprocess.run(["desktop-file-validate", str(desktop)], check=True)
        print(f"   {command} -> {os.readlink(command)}; launcher valid; {len(icons)} icons")

        step("installed program --self-test")
        subprocess.run([str(command), "--self-test"], env=dict(env, QT_QPA_PLATFORM="offscreen"), cwd=home,
                       check=True)

        how = "gio launch" if env.get("DISPLAY") and shutil.which("gio") else "the launcher's Exec line"
        step(f"start from the launcher ({how}, {'display ' + env['DISPLAY'] if env.get('DISPLAY') else 'offscreen'})")
        shown = launch_from_desktop_file(desktop, env, args.screenshot)
        print(f"   window shown {shown:.2f} s after launch" +
              (f"; screenshot {args.screenshot}" if args.screenshot and env.get("DISPLAY") else ""))

        step("uninstall.sh")
        subprocess.run([str(local / "lib" / "photoretouch" / "uninstall.sh")], env=env, cwd=home, check=True)
        left = [p for p in (program.parent, desktop, command, *icons) if p.exists() or p.is_symlink()]
        if left:
            fail(f"uninstall left {', '.join(map(str, left))}")
    print("install check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
