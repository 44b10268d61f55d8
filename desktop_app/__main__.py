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
    if xcb and not getattr(sys, "frozen", False) and not _library_loads("libxcb-cursor.so.0"):
        # Qt's X11 plugin needs it since Qt 6.5 and aborts (134) without it; the packaged app
        # carries its own libraries, so only a pip installation is checked
        return ("the window needs the X11 library libxcb-cursor0; install it (Debian/Ubuntu: sudo apt-get "
                "install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0)")
    return None


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
