"""`desktop-app` / `python -m desktop_app`: the window, or the CLI when a subcommand is given."""

from __future__ import annotations

import sys

CLI_COMMANDS = {"ops", "denoise", "inpaint", "train", "select", "generate", "batch", "-h", "--help"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in CLI_COMMANDS:
        from desktop_app.cli import main as cli_main

        return cli_main(argv)
    from desktop_app.gui.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
