"""The command line: the same operations as the panel, over the headless core.

    desktop-app ops
    desktop-app denoise IN -o OUT --method nlmeans --sigma 25
    desktop-app inpaint IN --mask MASK.png -o OUT --method telea
    desktop-app train --task denoise --data DIR --name my-model --minutes 10
    desktop-app train --task generate-gan --data DIR --name my-gan --patch 64 --option resize=0.5
    desktop-app train --task denoise-real --self-supervised --data DIR --base cnn-real --name my-camera
    desktop-app generate [--model NAME] -n 16 --seed 0 -o DIR [--class bark]
    desktop-app select IN --box X,Y,W,H -o MASK.png [--grow N] [--feather R]
    desktop-app select IN --wand X,Y --tolerance 32 [--global] -o MASK.png
    desktop-app batch IN_DIR -o OUT_DIR --op denoise --method cnn --sigma auto [--jobs N]
    desktop-app calibrate BURST_DIR [BURST_DIR ...] -o PAIRS_DIR

Exit code 0 on success; otherwise one line on stderr and a non-zero code.

Each subcommand's arguments and handler live together: `images` (ops, denoise, inpaint,
select), `train`, `generate`, `calibrate`, `batch`; `arguments` holds the argument types
and checks they share, `progress` the progress bar.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Sequence

from desktop_app.cli import batch, calibrate, generate, images, train
from desktop_app.cli.exit_codes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE
from desktop_app.cli.progress import ProgressBar

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_USAGE", "OneLineParser", "ProgressBar", "build_parser", "main"]


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (the full usage is one `--help` away)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="desktop-app", description="Photo retouching with local models.")
    sub = parser.add_subparsers(dest="command", parser_class=OneLineParser)
    for commands in (images, train, generate, calibrate, batch):  # in the order --help lists them
        commands.add_parsers(sub)
    return parser


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A library's warning as one line for the user, without its source file and code line."""
    text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
    print(f"desktop-app: warning: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    try:  # the parser too: building it imports the operations, and Ctrl-C may come meanwhile
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_USAGE
        with warnings.catch_warnings():
            warnings.showwarning = _warning_line
            return args.func(args)
    except KeyboardInterrupt:
        print("desktop-app: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - every failure becomes one line for the user
        from desktop_app.core.work import Cancelled

        if isinstance(e, Cancelled):
            print("desktop-app: cancelled", file=sys.stderr)
            return EXIT_ERROR
        msg = str(e) or type(e).__name__
        print(f"desktop-app: error: {msg.splitlines()[0]}", file=sys.stderr)
        return EXIT_ERROR
