"""The commands over one photo: ops (what the operations are), denoise, inpaint and select."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from desktop_app.cli import arguments
from desktop_app.cli.arguments import DEVICE_ENV
from desktop_app.cli.progress import drive


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


def _check_output(path: Path, overwrite: bool, extensions: tuple[str, ...] | None = None) -> None:
    """The destination is checked before the work, which can take minutes."""
    from desktop_app.core.imaging.io import SUPPORTED_EXTENSIONS, ReadOnlyFileError, check_writable

    try:
        check_writable(path, replace_read_only=overwrite, extensions=extensions or SUPPORTED_EXTENSIONS)
    except ReadOnlyFileError as e:
        raise ValueError(f"{e} (pass --overwrite to replace it)") from None


def _report_notes(path: str, meta) -> None:
    """What reading the file changed (NaN cleaned, pages dropped, palette converted): the
    user should know, the run goes on."""
    for note in meta.notes:
        print(f"desktop-app: note: {Path(path).name}: {note}", file=sys.stderr)


def _run_image_op(args: argparse.Namespace, task: str) -> int:
    from desktop_app.core.imaging.io import load_image, load_mask, save_image
    from desktop_app.core.operations import apply_variations, registry, variation_label, variation_seeds
    from desktop_app.core.work import collect_notes

    op = registry.get(task, args.method) if args.method else registry.for_task(task)[0]
    params = arguments.op_params(args, op)
    seeds = variation_seeds(op, params, getattr(args, "variations", 1))
    out = Path(args.output)
    outs = [out] if len(seeds) == 1 else [out.with_name(f"{out.stem}-{k + 1}{out.suffix}") for k in range(len(seeds))]
    for path in outs:
        if path.resolve() == Path(args.input).resolve() and not args.overwrite:
            raise ValueError(f"{path}: refusing to overwrite the input (pass --overwrite to allow it)")
        _check_output(path, args.overwrite)
    device = arguments.device_name(args) if op.uses_device else args.device
    image, meta = load_image(args.input)
    _report_notes(args.input, meta)
    unsuited = op.unsuited_for(meta)
    if unsuited:
        raise ValueError(f"{Path(args.input).name}: {op.title} is {unsuited}")
    mask = load_mask(args.mask, image.shape[:2]) if getattr(args, "mask", None) else None
    work = apply_variations(op, image, mask, params, seeds, inside_mask_only=getattr(args, "inside_mask", False),
                            bit_depth=meta.bit_depth, device=device)
    notes: list[str] = []
    results = drive(collect_notes(work, notes), f"{task} {op.method}", args.quiet)
    for note in notes:
        print(f"desktop-app: {op.title}: {note}", file=sys.stderr)
    for path, result, seed in zip(outs, results, seeds):
        save_image(path, result, meta, jpeg_quality=args.quality, replace_read_only=args.overwrite)
        if len(outs) > 1:
            print(f"wrote {path} ({variation_label(op, seed, ': ').lower()})", file=sys.stderr)
    return 0


def cmd_denoise(args: argparse.Namespace) -> int:
    return _run_image_op(args, "denoise")


def cmd_inpaint(args: argparse.Namespace) -> int:
    return _run_image_op(args, "inpaint")


def cmd_select(args: argparse.Namespace) -> int:
    from desktop_app.core import selection
    from desktop_app.core.imaging.io import load_image, load_mask, save_mask

    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise ValueError(f"{out.name}: masks are saved as PNG; use a .png file name")
    _check_output(out, args.overwrite, (".png",))
    image, meta = load_image(args.input)
    _report_notes(args.input, meta)
    shape = image.shape[:2]
    if args.box is not None:
        hints = {name: load_mask(path, shape) for name, path in (("keep", args.keep), ("remove", args.remove)) if path}
        work = selection.box_select_work(image, args.box, **hints)
    else:
        if args.keep or args.remove:
            raise ValueError("--keep and --remove go with --box, not --wand")
        work = selection.magic_wand_work(image, args.wand, args.tolerance, contiguous=not args.global_)
    mask = drive(work, "select", args.quiet)
    if args.grow:
        mask = selection.grow(mask, args.grow)
    if args.shrink:
        mask = selection.shrink(mask, args.shrink)
    if args.feather:
        mask = selection.feather(mask, args.feather)
    if args.mask:
        mask = selection.combine(load_mask(args.mask, shape), mask, args.mode)
    save_mask(out, mask, replace_read_only=args.overwrite)
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("ops", help="list operations and their parameters")
    p.set_defaults(func=cmd_ops)

    for name, func, help_ in (("denoise", cmd_denoise, "remove noise from a photo"),
                              ("inpaint", cmd_inpaint, "fill the masked region of a photo")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("input", help="image file to read")
        p.add_argument("-o", "--output", required=True, help="image file to write (format from the extension)")
        if name == "inpaint":  # the first registered inpainting operation: Remove object
            p.add_argument("--method", default=None, help="operation method (see `desktop-app ops`; "
                                                          "default: the first listed, remove)")
        else:
            p.add_argument("--method", required=True, help="operation method (see `desktop-app ops`)")
        if name == "inpaint":
            p.add_argument("--mask", required=True, help="greyscale image, white = region to fill (a colour "
                                                         "picture is refused)")
            p.add_argument("--variations", type=arguments.variations, default=1, metavar="N",
                           help="N fills from seeds --seed, --seed+1, ... written as OUT-1, OUT-2, ... "
                                "(seeded methods only; default 1)")
        else:
            p.add_argument("--mask", help="greyscale image limiting the operation (with --inside-mask)")
            p.add_argument("--inside-mask", action="store_true", help="apply only inside the mask")
        p.add_argument("--device", default=None,
                       help=f"auto, cpu, cuda or mps (models only; default: {DEVICE_ENV}, else auto)")
        p.add_argument("--quality", type=arguments.quality, default=92, help="JPEG/WebP quality (1-100, default 92)")
        p.add_argument("--overwrite", action="store_true",
                       help="allow writing over the input file or a write-protected (read-only) file")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        arguments.add_op_params(p, name)
        p.set_defaults(func=func)

    p = sub.add_parser("select", help="select an object (box) or a colour region (wand) as a mask")
    p.add_argument("input", help="image file to read")
    p.add_argument("-o", "--output", required=True, help="mask to write: greyscale PNG, white = selected")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--box", type=arguments.box, metavar="X,Y,W,H", help="select the object inside this box")
    how.add_argument("--wand", type=arguments.point, metavar="X,Y", help="select the colour clicked at this point")
    p.add_argument("--tolerance", type=arguments.number_in(0, 255), default=32.0,
                   help="wand: colour tolerance, 0-255 (default 32)")
    p.add_argument("--global", dest="global_", action="store_true",
                   help="wand: every pixel of that colour, not only those connected to the point")
    p.add_argument("--keep", help="box: greyscale PNG of strokes over what must be selected")
    p.add_argument("--remove", help="box: greyscale PNG of strokes over what must not be selected")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--grow", type=arguments.pixels, default=0.0, metavar="N",
                      help="grow the selection by N pixels (0-1000)")
    size.add_argument("--shrink", type=arguments.pixels, default=0.0, metavar="N",
                      help="shrink the selection by N pixels (0-1000)")
    p.add_argument("--feather", type=arguments.pixels, default=0.0, metavar="R",
                   help="soften the edge by R pixels (0-1000)")
    p.add_argument("--mask", help="an existing mask (PNG) to combine the selection with (see --mode)")
    p.add_argument("--mode", choices=("replace", "add", "subtract", "intersect"), default="replace",
                   help="with --mask: replace, add, subtract or intersect (default replace)")
    p.add_argument("--overwrite", action="store_true", help="allow replacing a write-protected (read-only) file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_select)
