"""`batch`: one operation over many photos, files and folders, with a line per photo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from desktop_app.cli import arguments
from desktop_app.cli.exit_codes import EXIT_ERROR
from desktop_app.core.work import Progress, run_work


def cmd_batch(args: argparse.Namespace) -> int:
    """One operation over files and folders; one line per file on stderr when it is not a
    terminal (a log, a pipe), a bar plus a line per failure when it is."""
    from desktop_app.core.batch import BatchSpec, run_batch
    from desktop_app.core.operations import registry

    op = registry.get(args.op, args.method)
    spec = BatchSpec(inputs=tuple(Path(p) for p in args.inputs), output_dir=Path(args.output),
                     operation=op.key, params=arguments.op_params(args, op), format=args.format,
                     bit_depth=args.bit_depth, name_pattern=args.name, recursive=not args.no_recursive,
                     quality=args.quality, mask=Path(args.mask) if args.mask else None,
                     device=args.device, jobs=args.jobs)
    terminal = sys.stderr.isatty()

    def report(p: Progress) -> None:
        event = p.data.get("event")
        if event in ("done", "skipped", "failed"):
            o, where = p.data["outcome"], f"[{p.data['index'] + 1}/{p.data['count']}]"
            line = {"done": f"{where} done {o.source} -> {o.output} ({o.seconds:.1f} s)",
                    "skipped": f"{where} skipped {o.source} (done by an earlier run)",
                    "failed": f"{where} failed {o.source}: {o.reason}"}[event]
            if terminal and (event == "failed" or not args.quiet):
                sys.stderr.write("\r\033[K" + line + "\n")
            elif not terminal and not (args.quiet and event != "failed"):
                sys.stderr.write(line + "\n")
            sys.stderr.flush()
        elif terminal and not args.quiet and p.fraction is not None:
            sys.stderr.write(f"\r\033[Kbatch {p.fraction * 100:5.1f}% {p.message[:60]}")
            sys.stderr.flush()

    result = run_work(run_batch(spec), report)
    if terminal and not args.quiet:
        sys.stderr.write("\r\033[K")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"batch: {result.summary()}; results in {spec.output_dir}", file=sys.stderr)
    if result.failed:
        print(f"desktop-app: error: {len(result.failed)} of {len(result.outcomes)} files failed "
              f"(listed above)", file=sys.stderr)
        return EXIT_ERROR
    return 0


def add_parsers(sub) -> None:
    from desktop_app.core.batch import DEFAULT_PATTERN, batch_operations

    p = sub.add_parser("batch", help="run one operation over many photos (files or folders)")
    p.add_argument("inputs", nargs="+", help="photos and folders (folders are searched recursively)")
    p.add_argument("-o", "--output", required=True, help="folder to write the results into")
    p.add_argument("--op", required=True, help="operation, e.g. denoise (see `desktop-app ops`)")
    p.add_argument("--method", required=True, help="operation method, e.g. cnn")
    p.add_argument("--format", default=None,
                   help="png, jpg, tif, webp, bmp, heic or avif (default: each photo's own; RAW: tif)")
    p.add_argument("--bit-depth", type=int, choices=(8, 16), default=None,
                   help="8 or 16 (default: each photo's own; only PNG, TIFF and HEIC keep 16)")
    p.add_argument("--name", default=DEFAULT_PATTERN,
                   help="file name pattern with {stem} {task} {method} {index} (default %(default)s)")
    p.add_argument("--mask", default=None, help="greyscale PNG applied to photos of its size")
    p.add_argument("--no-recursive", action="store_true", help="do not look into sub-folders")
    p.add_argument("--jobs", type=arguments.count, default=1, help="photos processed at the same time (default 1)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda or mps (models only)")
    p.add_argument("--quality", type=arguments.quality, default=92, help="JPEG/WebP/HEIC/AVIF quality (1-100)")
    p.add_argument("-q", "--quiet", action="store_true", help="report failures only")
    seen: set[str] = set()
    for op in batch_operations():
        for param in op.params:
            if param.name not in seen:
                seen.add(param.name)
                p.add_argument("--" + param.name.replace("_", "-"), dest=f"param_{param.name}",
                               default=None, help=f"{param.description} (default {param.default})")
    p.set_defaults(func=cmd_batch)
