"""The command line: the same operations as the panel, over the headless core.

    desktop-app ops
    desktop-app denoise IN -o OUT --method nlmeans --sigma 25
    desktop-app inpaint IN --mask MASK.png -o OUT --method telea
    desktop-app train --task denoise --data DIR --name my-model --minutes 10
    desktop-app select IN --box X,Y,W,H -o MASK.png [--grow N] [--feather R]
    desktop-app select IN --wand X,Y --tolerance 32 [--global] -o MASK.png

Exit code 0 on success; otherwise one line on stderr and a non-zero code.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from desktop_app.core.tasks import Progress, Work, run_work

EXIT_ERROR = 1
EXIT_USAGE = 2


class ProgressBar:
    """A one-line progress bar on stderr (only when stderr is a terminal or forced)."""

    def __init__(self, title: str, enabled: bool | None = None) -> None:
        self.title = title
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.start = time.perf_counter()
        self._last = 0.0

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < 0.1 and (p.fraction or 0) < 1:
            return
        self._last = now
        width = 30
        frac = p.fraction if p.fraction is not None else 0.0
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        sys.stderr.write(f"\r{self.title} [{bar}] {frac * 100:5.1f}% {now - self.start:6.1f}s {p.message[:40]:<40}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _drive(work: Work[Any], title: str, quiet: bool) -> Any:
    bar = ProgressBar(title, enabled=False if quiet else None)
    try:
        return run_work(work, bar)
    finally:
        bar.close()


def _add_op_params(parser: argparse.ArgumentParser, task: str) -> None:
    from desktop_app.core.operations import registry

    seen: dict[str, str] = {}
    for op in registry.for_task(task):
        for p in op.params:
            if p.name in seen:
                continue
            seen[p.name] = op.method
            flag = "--" + p.name.replace("_", "-")
            extra = f" (default {p.default}{', or auto' if p.allow_auto else ''}; {p.minimum}..{p.maximum})" \
                if p.kind in (int, float) else f" (default {p.default})"
            parser.add_argument(flag, dest=f"param_{p.name}", default=None, help=p.description + extra)


def _op_params(args: argparse.Namespace, op) -> dict[str, Any]:
    names = {p.name for p in op.params}
    given = {k[6:]: v for k, v in vars(args).items() if k.startswith("param_") and v is not None}
    ignored = set(given) - names
    if ignored:
        raise ValueError(f"--{sorted(ignored)[0].replace('_', '-')} does not apply to method {op.method}")
    return given


def cmd_ops(args: argparse.Namespace) -> int:
    from desktop_app.core.operations import registry

    for category, ops in registry.by_category().items():
        print(f"{category}:")
        for op in ops:
            print(f"  {op.task} --method {op.method:<10} {op.title}: {op.description}")
            for p in op.params:
                rng = f" [{p.minimum}..{p.maximum}]" if p.kind in (int, float) else ""
                ch = f" {{{', '.join(p.choices)}}}" if p.choices else ""
                print(f"      --{p.name.replace('_', '-'):<14} {p.kind.__name__}{rng}{ch} default {p.default}: {p.description}")
    return 0


def _run_image_op(args: argparse.Namespace, task: str) -> int:
    from desktop_app.core.imaging.io import load_image, load_mask, save_image
    from desktop_app.core.operations import apply_operation, registry

    op = registry.get(task, args.method)
    params = _op_params(args, op)
    image, meta = load_image(args.input)
    mask = load_mask(args.mask, image.shape[:2]) if getattr(args, "mask", None) else None
    out = Path(args.output)
    if out.resolve() == Path(args.input).resolve() and not args.overwrite:
        raise ValueError(f"{out}: refusing to overwrite the input (pass --overwrite to allow it)")
    work = apply_operation(op, image, mask, params, inside_mask_only=getattr(args, "inside_mask", False),
                           bit_depth=meta.bit_depth, device=args.device)
    result = _drive(work, f"{task} {op.method}", args.quiet)
    save_image(out, result, meta, jpeg_quality=args.quality)
    return 0


def cmd_denoise(args: argparse.Namespace) -> int:
    return _run_image_op(args, "denoise")


def cmd_inpaint(args: argparse.Namespace) -> int:
    return _run_image_op(args, "inpaint")


def cmd_train(args: argparse.Namespace) -> int:
    from desktop_app.core.paths import cache_dir
    from desktop_app.core.training.config import TrainConfig
    from desktop_app.core.training.trainer import Trainer

    config = TrainConfig(task=args.task, name=args.name, data=args.data, arch=args.arch or TrainConfig.arch,
                         base=args.base, steps=args.steps, minutes=args.minutes, batch=args.batch,
                         patch=args.patch, lr=args.lr, seed=args.seed, device=args.device or "auto",
                         threads=args.threads, val_every=args.val_every)
    run_dir = Path(args.run_dir) if args.run_dir else cache_dir() / "runs" / args.name
    command = "desktop-app " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    trainer = Trainer(config, run_dir, command=command)
    if args.resume and trainer.resume():
        print(f"resumed {run_dir} at step {trainer.step} (best {trainer.best['val_psnr']:.2f} dB)", file=sys.stderr)

    def report(p: Progress) -> None:
        if p.data.get("validation") or (p.data.get("step", 0) % 200 == 0 and p.data):
            d = p.data
            line = f"step {d.get('step')}"
            line += "".join(f" {k}={v:.4g}" for k, v in d.items() if isinstance(v, float))
            print(line, file=sys.stderr, flush=True)

    result = run_work(trainer.run(), report)
    print(f"finished at step {result['step']}; best validation {result['best']['val_psnr']:.2f} dB "
          f"at step {result['best'].get('step')}", file=sys.stderr)
    if args.out:
        m = trainer.export(Path(args.out), title=args.title)
        print(f"wrote {args.out} ({m.sha256[:12]})", file=sys.stderr)
    return 0


def _numbers(text: str, count: int, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(round(float(v))) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return values


def _box_arg(text: str) -> tuple[int, ...]:
    return _numbers(text, 4, "X,Y,W,H (four numbers, image pixels)")


def _point_arg(text: str) -> tuple[int, ...]:
    return _numbers(text, 2, "X,Y (two numbers, image pixels)")


def cmd_select(args: argparse.Namespace) -> int:
    from desktop_app.core import selection
    from desktop_app.core.imaging.io import load_image, load_mask, save_mask

    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise ValueError(f"{out.name}: masks are saved as PNG; use a .png file name")
    image, _ = load_image(args.input)
    shape = image.shape[:2]
    if args.box is not None:
        hints = {name: load_mask(path, shape) for name, path in (("keep", args.keep), ("remove", args.remove)) if path}
        work = selection.box_select_work(image, args.box, **hints)
    else:
        if args.keep or args.remove:
            raise ValueError("--keep and --remove go with --box, not --wand")
        work = selection.magic_wand_work(image, args.wand, args.tolerance, contiguous=not args.global_)
    mask = _drive(work, "select", args.quiet)
    if args.grow:
        mask = selection.grow(mask, args.grow)
    if args.shrink:
        mask = selection.shrink(mask, args.shrink)
    if args.feather:
        mask = selection.feather(mask, args.feather)
    if args.mask:
        mask = selection.combine(load_mask(args.mask, shape), mask, args.mode)
    save_mask(out, mask)
    return 0


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (the full usage is one `--help` away)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="desktop-app", description="Photo retouching with local models.")
    sub = parser.add_subparsers(dest="command", parser_class=OneLineParser)

    p = sub.add_parser("ops", help="list operations and their parameters")
    p.set_defaults(func=cmd_ops)

    for name, func, help_ in (("denoise", cmd_denoise, "remove noise from a photo"),
                              ("inpaint", cmd_inpaint, "fill the masked region of a photo")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("input", help="image file to read")
        p.add_argument("-o", "--output", required=True, help="image file to write (format from the extension)")
        p.add_argument("--method", required=True, help="operation method (see `desktop-app ops`)")
        if name == "inpaint":
            p.add_argument("--mask", required=True, help="greyscale PNG, white = region to fill")
        else:
            p.add_argument("--mask", help="greyscale PNG limiting the operation (with --inside-mask)")
            p.add_argument("--inside-mask", action="store_true", help="apply only inside the mask")
        p.add_argument("--device", default=None, help="auto, cpu, cuda or mps (models only)")
        p.add_argument("--quality", type=int, default=92, help="JPEG/WebP quality (1-100)")
        p.add_argument("--overwrite", action="store_true", help="allow writing over the input file")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        _add_op_params(p, name)
        p.set_defaults(func=func)

    p = sub.add_parser("select", help="select an object (box) or a colour region (wand) as a mask")
    p.add_argument("input", help="image file to read")
    p.add_argument("-o", "--output", required=True, help="mask to write: greyscale PNG, white = selected")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--box", type=_box_arg, metavar="X,Y,W,H", help="select the object inside this box")
    how.add_argument("--wand", type=_point_arg, metavar="X,Y", help="select the colour clicked at this point")
    p.add_argument("--tolerance", type=float, default=32.0, help="wand: colour tolerance, 0-255 (default 32)")
    p.add_argument("--global", dest="global_", action="store_true",
                   help="wand: every pixel of that colour, not only those connected to the point")
    p.add_argument("--keep", help="box: greyscale PNG of strokes over what must be selected")
    p.add_argument("--remove", help="box: greyscale PNG of strokes over what must not be selected")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--grow", type=float, default=0.0, metavar="N", help="grow the selection by N pixels")
    size.add_argument("--shrink", type=float, default=0.0, metavar="N", help="shrink the selection by N pixels")
    p.add_argument("--feather", type=float, default=0.0, metavar="R", help="soften the edge by R pixels")
    p.add_argument("--mask", help="an existing mask (PNG) to combine the selection with (see --mode)")
    p.add_argument("--mode", choices=("replace", "add", "subtract", "intersect"), default="replace",
                   help="with --mask: replace, add, subtract or intersect (default replace)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_select)

    p = sub.add_parser("train", help="train or fine-tune a model on folders of images")
    p.add_argument("--task", default="denoise")
    p.add_argument("--data", action="append", required=True, help="folder of images (repeatable)")
    p.add_argument("--name", required=True, help="name of the resulting model")
    p.add_argument("--title", default=None)
    p.add_argument("--arch", default=None, help="architecture id when training from scratch")
    p.add_argument("--base", default=None, help="model to fine-tune from")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--minutes", type=float, default=None, help="stop after this many minutes")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patch", type=int, default=96)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-every", type=int, default=1000)
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--run-dir", default=None, help="checkpoint folder (default: the cache folder)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--out", default=None, help="write the best weights here (.safetensors + .json)")
    p.set_defaults(func=cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("desktop-app: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - every failure becomes one line for the user
        from desktop_app.core.tasks import Cancelled

        if isinstance(e, Cancelled):
            print("desktop-app: cancelled", file=sys.stderr)
            return EXIT_ERROR
        msg = str(e) or type(e).__name__
        print(f"desktop-app: error: {msg.splitlines()[0]}", file=sys.stderr)
        return EXIT_ERROR
