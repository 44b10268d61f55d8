"""`desktop-app` / `python -m desktop_app`: the window, or the CLI when a subcommand is given."""

from __future__ import annotations

import os
import sys

CLI_COMMANDS = {"ops", "denoise", "inpaint", "train", "select", "generate", "calibrate", "batch", "-h", "--help"}
# Options of the window's own parser (gui/app.py) that never open a window.
_NO_WINDOW_OPTIONS = {"--version", "--self-test"}
EXIT_ERROR, EXIT_INTERRUPTED = 1, 130


def _is_command(word: str) -> bool:
    """A known subcommand, or a word meant as one: `desktop-app frobnicate` is a usage error,
    not a photo to open. A photo is an existing file or a name with an extension or a folder."""
    if word in CLI_COMMANDS:
        return True
    if word.startswith("-") or os.path.exists(word):
        return False
    return not os.path.splitext(word)[1] and os.sep not in word and "/" not in word


def display_problem(environ: dict[str, str] | None = None, platform: str = sys.platform) -> str | None:
    """Why the window cannot open here, in one line, or None. Without a display Qt aborts the
    process (code 134) after a dozen lines about platform plugins; say it plainly instead."""
    env = os.environ if environ is None else environ
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "")
    if qpa and not qpa.startswith(("xcb", "wayland")):
        return None  # offscreen, vnc, eglfs, ...: the user chose a platform that needs no display
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return ("no display to show the window on (DISPLAY and WAYLAND_DISPLAY are not set); start it from "
                "a desktop session, or use a subcommand without a window (desktop-app --help)")
    xcb = qpa.startswith("xcb") or not env.get("WAYLAND_DISPLAY")
    if xcb and not getattr(sys, "frozen", False):
        # Qt's X11 plugin aborts (134) with a misleading hint when one of its libraries is
        # missing (on a fresh Debian: libxcb-icccm4 and libxcb-keysyms1 with libxcb-cursor0
        # present); the packaged app carries its own, so only a pip installation is checked
        missing = [package for name, package in X11_LIBRARIES.items() if not _library_loads(name)]
        if missing:
            return (f"the window needs the X11 librar{'ies' if len(missing) > 1 else 'y'} {', '.join(missing)}; "
                    f"install {'them' if len(missing) > 1 else 'it'} (Debian/Ubuntu: sudo apt-get install "
                    f"{' '.join(missing)})")
    return None


# What Qt's X11 platform plugin (PySide6 6.x, libqxcb.so and libQt6XcbQpa) links against,
# beside Qt's own: the library, and the Debian/Ubuntu package that has it.
X11_LIBRARIES = {
    "libX11.so.6": "libx11-6", "libX11-xcb.so.1": "libx11-xcb1", "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0", "libxcb-sync.so.1": "libxcb-sync1", "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0", "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}


def _library_loads(name: str) -> bool:
    import ctypes

    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def _exit_at_once(code: int) -> None:
    """End a finished command now: the interpreter's own exit after torch (and OpenVINO) were
    loaded takes 4-7 s of unloading that nobody waits for. The files are written and closed
    by then; output is flushed here."""
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    # Everything, imports included, is inside: Ctrl-C in the first second is one line too.
    whole_process = argv is None  # the command line itself, not a call from Python
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        if argv and _is_command(argv[0]):
            from desktop_app.cli import main as cli_main

            code = cli_main(argv)
            if whole_process and "torch" in sys.modules:
                _exit_at_once(code)
            return code
        problem = None if _NO_WINDOW_OPTIONS & set(argv) else display_problem()
        if problem:
            print(f"desktop-app: error: {problem}", file=sys.stderr)
            return EXIT_ERROR
        from desktop_app.gui.app import run_app

        return run_app(argv)
    except KeyboardInterrupt:
        print("desktop-app: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
