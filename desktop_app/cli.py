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
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from desktop_app.core.tasks import Progress, Work, run_work

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DEVICE_ENV = "DESKTOP_APP_DEVICE"


class ProgressBar:
    """Progress on stderr: a bar redrawn in place on a terminal; elsewhere (a log file, a pipe,
    a job runner) one plain line every `LINE_EVERY_S` seconds, so a long run is seen alive."""

    LINE_EVERY_S = 5.0

    def __init__(self, title: str, enabled: bool = True, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.title = title
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.terminal = self.stream.isatty()
        self.clock = clock
        self.start = clock()
        self._last = self.start if not self.terminal else 0.0
        self._drawn = False

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        now = self.clock()
        frac = min(max(p.fraction, 0.0), 1.0) if p.fraction is not None else None
        if self.terminal:
            if now - self._last < 0.1 and (frac or 0) < 1:
                return
            width, f = 30, frac or 0.0
            bar = "#" * int(f * width) + "-" * (width - int(f * width))
            self.stream.write(f"\r{self.title} [{bar}] {f * 100:5.1f}% {now - self.start:6.1f}s {p.message[:40]:<40}")
            self._drawn = True
        else:
            if now - self._last < self.LINE_EVERY_S:
                return
            elapsed = now - self.start
            line = f"{self.title}: " + (f"{frac * 100:.0f}%" if frac is not None else "working")
            line += f", {p.message}" if p.message else ""
            line += f", {elapsed:.0f} s elapsed"
            if frac:
                line += f", about {elapsed * (1 - frac) / frac:.0f} s left"
            self.stream.write(line + "\n")
        self._last = now
        self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")


def _drive(work: Work[Any], title: str, quiet: bool) -> Any:
    bar = ProgressBar(title, enabled=not quiet)
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
            # argparse formats help with %: a description's "0.4 %" would break --help
            parser.add_argument(flag, dest=f"param_{p.name}", default=None,
                                help=(p.description + extra).replace("%", "%%"))


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


def _device(args: argparse.Namespace) -> str:
    """--device, else DESKTOP_APP_DEVICE, else auto; checked now, before any work, so that an
    unknown or missing device is one line at once rather than a surprise after loading."""
    from desktop_app.core.models.device import pick_device

    name = args.device or os.environ.get(DEVICE_ENV) or "auto"
    try:
        pick_device(name)
    except ValueError as e:
        raise ValueError(f"{e}{f' (from {DEVICE_ENV})' if not args.device else ''}") from None
    return name


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
    from desktop_app.core.operations import apply_variations, registry, variation_seeds

    op = registry.get(task, args.method) if args.method else registry.for_task(task)[0]
    params = _op_params(args, op)
    seeds = variation_seeds(op, params, getattr(args, "variations", 1))
    out = Path(args.output)
    outs = [out] if len(seeds) == 1 else [out.with_name(f"{out.stem}-{k + 1}{out.suffix}") for k in range(len(seeds))]
    for path in outs:
        if path.resolve() == Path(args.input).resolve() and not args.overwrite:
            raise ValueError(f"{path}: refusing to overwrite the input (pass --overwrite to allow it)")
        _check_output(path, args.overwrite)
    device = _device(args) if op.uses_device else args.device
    image, meta = load_image(args.input)
    _report_notes(args.input, meta)
    mask = load_mask(args.mask, image.shape[:2]) if getattr(args, "mask", None) else None
    work = apply_variations(op, image, mask, params, seeds, inside_mask_only=getattr(args, "inside_mask", False),
                            bit_depth=meta.bit_depth, device=device)
    results = _drive(work, f"{task} {op.method}", args.quiet)
    for path, result, seed in zip(outs, results, seeds):
        save_image(path, result, meta, jpeg_quality=args.quality, replace_read_only=args.overwrite)
        if len(outs) > 1:
            print(f"wrote {path} (seed {seed})", file=sys.stderr)
    return 0


def _variations_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= 16:
        raise argparse.ArgumentTypeError(f"from 1 to 16, not {value}")
    return value


def cmd_denoise(args: argparse.Namespace) -> int:
    return _run_image_op(args, "denoise")


def cmd_inpaint(args: argparse.Namespace) -> int:
    return _run_image_op(args, "inpaint")


def cmd_train(args: argparse.Namespace) -> int:
    """Settings from the task's descriptor (the same defaults as the training dialog's), then
    the run; the best weights go to --out, or into the library as --name."""
    from desktop_app.core.models.device import pick_device
    from desktop_app.core.models.library import check_name
    from desktop_app.core.paths import cache_dir
    from desktop_app.core.training import keep, registry
    from desktop_app.core.training.trainer import Trainer

    task = registry.get(args.task)
    if args.self_supervised:
        task = registry.self_supervised_variant(task)
    check_name(args.name)  # the run folder is named after it
    if not args.out:
        refusal = keep.name_refusal(args.name, replace=args.replace)
        if refusal:
            raise ValueError(f"{refusal} (pass --replace to replace it, or --out FILE)"
                             if refusal.startswith("your library") else refusal)
    device = _device(args)
    config = registry.config_for(
        task, name=args.name, data=args.data, base=args.base, steps=args.steps, minutes=args.minutes,
        device=device, device_kind=pick_device(device).type, arch=args.arch, hparams=dict(args.hparam or []),
        task_options=dict(args.option or []), batch=args.batch, patch=args.patch, lr=args.lr, warmup=args.warmup,
        seed=args.seed, threads=args.threads, val_every=args.val_every, val_fraction=args.val_fraction,
        # a budget in minutes alone: the learning rate comes down within it
        schedule_minutes=args.minutes if args.steps is None else None)
    # a run started in the background (nohup ... &) ignores SIGINT: make Ctrl-C and `kill`
    # both stop it between steps, with a checkpoint
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    run_dir = Path(args.run_dir) if args.run_dir else cache_dir() / "runs" / args.name
    command = "desktop-app " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    trainer = Trainer(config, run_dir, command=command)
    metric = task.metric
    if args.resume and trainer.resume():
        print(f"resumed {run_dir} at step {trainer.step} (best {trainer.score_text(trainer.best)})", file=sys.stderr)

    def report(p: Progress) -> None:
        d = p.data
        if d.get("validation"):
            print(f"step {d['step']}: validation {metric.title} {metric.text(d[trainer.metric])}",
                  file=sys.stderr, flush=True)
        elif "loss" in d and d["step"] % 200 == 0:
            print(f"step {d['step']}: loss {d['loss']:.4g}, {d['steps_per_s']:.2f} steps/s, "
                  f"{d['seconds_left'] / 60:.0f} min left", file=sys.stderr, flush=True)

    result = run_work(trainer.run(), report)
    start, best = trainer.start_metrics, result["best"]
    began = f"{trainer.score_text(start)} at the start, " if trainer.metric in start else ""
    print(f"finished at step {result['step']}: validation {metric.title} {began}"
          f"best {trainer.score_text(best)} at step {best.get('step')}", file=sys.stderr)
    if trainer.metric != "val_psnr" and "val_psnr" in start and "val_psnr" in best:
        print(f"PSNR against the clean references of the held-out photos: {start['val_psnr']:.2f} dB before, "
              f"{best['val_psnr']:.2f} dB after ({best['val_psnr'] - start['val_psnr']:+.2f} dB)", file=sys.stderr)
    if not trainer.improved:
        raise ValueError(f"no step beat the start ({trainer.score_text(best)} at step 0): nothing written; "
                         "train longer or with a lower --lr (the checkpoint stays for --resume)")
    if args.out:
        m = trainer.export(Path(args.out), title=args.title)
        print(f"wrote {args.out} ({m.sha256[:12]})", file=sys.stderr)
    else:
        m = keep.keep(trainer, args.name, title=args.title, description=f"Trained by `{command}`.")
        print(f"kept {args.name!r} in your library ({keep.library_path(args.name)}); use it with "
              f"--method {args.name}" if task.model_task != "generate" else
              f"kept {args.name!r} in your library; use it with generate --model {args.name}", file=sys.stderr)
    return 0


def _count(text: str) -> int:
    """A whole number from 1 up (steps, batch, patch...)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def _fraction(text: str) -> float:
    value = _positive(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"is a share of the images, between 0 and 1, not {text}")
    return value


def _training_tasks_help() -> str:
    from desktop_app.core.training import registry

    return "; ".join(f"{t.id}: {t.title}" for t in registry.all_tasks()) + " (default denoise)"


def _key_value(text: str) -> tuple[str, Any]:
    """KEY=VALUE, the value read as JSON when it is JSON (numbers, true/false, lists) and as
    text otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def cmd_generate(args: argparse.Namespace) -> int:
    from desktop_app.core import generation
    from desktop_app.core.imaging.io import save_image
    from desktop_app.core.models.catalog import find, models_for
    from desktop_app.core.models.device import pick_device
    from desktop_app.core.models.weights import load_model

    generators = models_for("generate")
    name = args.model or _default_generator(generators, generation.DEFAULT_GENERATOR)
    entry = find(name)
    if entry.manifest.task != "generate":
        raise ValueError(f"model {name!r} is a {entry.manifest.task} model, not a generator")
    if not 1 <= args.count <= 10_000:
        raise ValueError("-n must be between 1 and 10000")
    if args.class_ is not None and not entry.manifest.hparams.get("num_classes"):
        with_classes = [e.manifest.id for e in generators if e.manifest.hparams.get("num_classes")]
        raise ValueError(f"generator {name!r} has no classes; generators with classes: "
                         f"{', '.join(with_classes) or 'none installed'} (a generator trained on a folder "
                         "with one sub-folder per class has them)")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: not a folder")
    writable = out if out.is_dir() else next((p for p in out.absolute().parents if p.exists()), None)
    if writable is None or not os.access(writable, os.W_OK):
        raise ValueError(f"{out}: the folder is read-only or not writable")
    device = pick_device(_device(args))
    model, _ = load_model(entry.path)
    model = model.to(device)
    index = generation.class_index(model, args.class_) if args.class_ is not None else None
    images = _drive(generation.sample_work(model, args.count, args.seed, index, args.truncation),
                    "generate", args.quiet)
    out.mkdir(parents=True, exist_ok=True)
    stem = name + (f"-{args.class_}" if args.class_ is not None else "") + f"-seed{args.seed}"
    for i, image in enumerate(images):
        save_image(out / f"{stem}-{i:03d}.png", image)
    print(f"wrote {len(images)} images to {out}", file=sys.stderr)
    return 0


def _default_generator(entries, preferred: str) -> str:
    """The shipped default generator, else the first installed one."""
    names = [e.manifest.id for e in entries]
    if preferred in names:
        return preferred
    if not names:
        raise ValueError("no generator installed; train one with `desktop-app train --task generate-gan ...`")
    return names[0]


def _numbers(text: str, count: int, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(round(float(v))) for v in text.split(","))
    except (ValueError, OverflowError):  # OverflowError: inf
        values = ()
    if len(values) != count:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return values


def _number_in(low: float, high: float, kind: type = float, what: str = "a number") -> Callable[[str], Any]:
    """An argparse type: a finite `kind` within low..high (NaN, inf and out-of-range values are
    usage errors, not silent defaults or black pictures)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} from {low:g} to {high:g}, got {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"expected {what} from {low:g} to {high:g}, got {text!r}")
        return value

    return parse


_quality_arg = _number_in(1, 100, int, "a whole number")
_pixels_arg = _number_in(0, 1000, float, "a number of pixels")


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
    mask = _drive(work, "select", args.quiet)
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


def cmd_calibrate(args: argparse.Namespace) -> int:
    from desktop_app.core import calibration

    bursts, passed_over = calibration.find_bursts(args.bursts, gap_seconds=args.gap)
    for what, why in passed_over:
        print(f"passed over {what}: {why}", file=sys.stderr)
    if not bursts:
        raise ValueError("no bursts found (a burst is a folder of 4-64 frames of one still scene)")
    print(f"{len(bursts)} burst(s): " + ", ".join(f"{b.name} ({len(b.frames)} frames)" for b in bursts),
          file=sys.stderr)
    tile = None if args.tile == 0 else args.tile
    manifest = _drive(calibration.calibrate(bursts, args.output, tile=tile, tiles_per_frame=args.tiles),
                      "calibrate", args.quiet)
    names = {b.name for b in bursts}
    for scene in manifest["scenes"]:
        if scene["name"] not in names:
            continue
        before, after = (sum(scene[k]) / len(scene[k]) for k in ("sigma_before", "sigma_after"))
        print(f"{scene['name']}: {len(scene['frames'])} frames averaged in {scene['seconds_align']:.1f} s, "
              f"noise {before:.2f} -> {after:.2f} (of 255, x{scene['noise_reduction']:.1f} less), "
              f"{len(scene['pairs'])} pairs", file=sys.stderr)
        for frame, why in scene["left_out"]:
            print(f"  left out {frame}: {why}", file=sys.stderr)
    for name, why in manifest["left_out"].items():
        if name in names:
            print(f"{name}: no pairs written: {why}", file=sys.stderr)
    iso = manifest.get("iso")
    print(f"wrote {args.output} (camera {manifest.get('camera') or 'unknown'}"
          + (f", ISO {iso[0]}-{iso[1]}" if iso else "") + "); train on it with: desktop-app train --task "
          f"denoise-pairs --data {shlex.quote(str(args.output))} --base cnn-real --minutes 10 --name NAME",
          file=sys.stderr)
    if not any(s["name"] in names for s in manifest["scenes"]):
        return EXIT_ERROR
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    """One operation over files and folders; one line per file on stderr when it is not a
    terminal (a log, a pipe), a bar plus a line per failure when it is."""
    from desktop_app.core.batch import BatchSpec, run_batch
    from desktop_app.core.operations import registry

    op = registry.get(args.op, args.method)
    spec = BatchSpec(inputs=tuple(Path(p) for p in args.inputs), output_dir=Path(args.output),
                     operation=op.key, params=_op_params(args, op), format=args.format,
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
        if name == "inpaint":  # the first registered inpainting operation: Remove object
            p.add_argument("--method", default=None, help="operation method (see `desktop-app ops`; "
                                                          "default: the first listed, remove)")
        else:
            p.add_argument("--method", required=True, help="operation method (see `desktop-app ops`)")
        if name == "inpaint":
            p.add_argument("--mask", required=True, help="greyscale image, white = region to fill (a colour "
                                                         "picture is refused)")
            p.add_argument("--variations", type=_variations_arg, default=1, metavar="N",
                           help="N fills from seeds --seed, --seed+1, ... written as OUT-1, OUT-2, ... "
                                "(seeded methods only; default 1)")
        else:
            p.add_argument("--mask", help="greyscale image limiting the operation (with --inside-mask)")
            p.add_argument("--inside-mask", action="store_true", help="apply only inside the mask")
        p.add_argument("--device", default=None,
                       help=f"auto, cpu, cuda or mps (models only; default: {DEVICE_ENV}, else auto)")
        p.add_argument("--quality", type=_quality_arg, default=92, help="JPEG/WebP quality (1-100, default 92)")
        p.add_argument("--overwrite", action="store_true",
                       help="allow writing over the input file or a write-protected (read-only) file")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        _add_op_params(p, name)
        p.set_defaults(func=func)

    p = sub.add_parser("select", help="select an object (box) or a colour region (wand) as a mask")
    p.add_argument("input", help="image file to read")
    p.add_argument("-o", "--output", required=True, help="mask to write: greyscale PNG, white = selected")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--box", type=_box_arg, metavar="X,Y,W,H", help="select the object inside this box")
    how.add_argument("--wand", type=_point_arg, metavar="X,Y", help="select the colour clicked at this point")
    p.add_argument("--tolerance", type=_number_in(0, 255), default=32.0,
                   help="wand: colour tolerance, 0-255 (default 32)")
    p.add_argument("--global", dest="global_", action="store_true",
                   help="wand: every pixel of that colour, not only those connected to the point")
    p.add_argument("--keep", help="box: greyscale PNG of strokes over what must be selected")
    p.add_argument("--remove", help="box: greyscale PNG of strokes over what must not be selected")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--grow", type=_pixels_arg, default=0.0, metavar="N",
                      help="grow the selection by N pixels (0-1000)")
    size.add_argument("--shrink", type=_pixels_arg, default=0.0, metavar="N",
                      help="shrink the selection by N pixels (0-1000)")
    p.add_argument("--feather", type=_pixels_arg, default=0.0, metavar="R",
                   help="soften the edge by R pixels (0-1000)")
    p.add_argument("--mask", help="an existing mask (PNG) to combine the selection with (see --mode)")
    p.add_argument("--mode", choices=("replace", "add", "subtract", "intersect"), default="replace",
                   help="with --mask: replace, add, subtract or intersect (default replace)")
    p.add_argument("--overwrite", action="store_true", help="allow replacing a write-protected (read-only) file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_select)

    p = sub.add_parser("train", help="train or fine-tune a model on folders of images")
    p.add_argument("--task", default="denoise", help=_training_tasks_help())
    p.add_argument("--self-supervised", action="store_true",
                   help="with --task denoise-real: learn from the noisy photos alone, no clean versions "
                        "(Neighbor2Neighbor; the same as --task denoise-self)")
    p.add_argument("--data", action="append", required=True, help="folder of images, or one image (repeatable)")
    p.add_argument("--name", required=True, help="name of the resulting model (letters, digits, - _ .)")
    p.add_argument("--title", default=None)
    p.add_argument("--arch", default=None, help="architecture id when training from scratch (default: the task's)")
    p.add_argument("--hparam", action="append", type=_key_value, metavar="KEY=VALUE",
                   help="architecture hyper-parameter, e.g. size=128 or latent_dim=64 (repeatable)")
    p.add_argument("--option", action="append", type=_key_value, metavar="KEY=VALUE",
                   help="task option, e.g. resize=0.5 or kl_weight=0.02 (repeatable)")
    p.add_argument("--base", default=None, help="model to fine-tune from")
    p.add_argument("--steps", type=_count, default=None,
                   help="length of the learning-rate schedule and where the run stops (default 100000)")
    p.add_argument("--minutes", type=_positive, default=None,
                   help="stop after this many minutes; without --steps, the learning rate also decays over "
                        "these minutes, so the run ends finished rather than cut off")
    # the defaults below are the task's (training/registry.py), for a fine-tune of --base or
    # a new network, the same as the training dialog's
    p.add_argument("--batch", type=_count, default=None, help="patches per step (default: the task's)")
    p.add_argument("--patch", type=_count, default=None,
                   help="crop size in pixels, a multiple of the network's size step (default: the task's)")
    p.add_argument("--lr", type=_positive, default=None, help="learning rate (default: the task's)")
    p.add_argument("--warmup", type=int, default=None,
                   help="steps over which the learning rate rises from 0 (default: a tenth of the steps, at "
                        "most 500, from scratch; 0 for a fine-tune of --base)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-every", type=_count, default=None, help="validate every this many steps (default: the task's)")
    p.add_argument("--val-fraction", type=_fraction, default=None,
                   help="share of the images (of the scenes, for paired data) held back for validation")
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=_count, default=None)
    p.add_argument("--run-dir", default=None, help="checkpoint folder (default: the cache folder)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--out", default=None,
                   help="write the best weights here (.safetensors + .json); without it the model goes into "
                        "your library, usable as --method NAME")
    p.add_argument("--replace", action="store_true", help="without --out: replace your library's model of that name")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("generate", help="make new images with a generator model")
    p.add_argument("--model", default=None, help="generator model name (default: the shipped generator)")
    p.add_argument("-n", "--count", type=_number_in(1, 10_000, int, "a whole number"), default=16,
                   help="how many images (1-10000, default 16)")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same images (default 0)")
    p.add_argument("-o", "--output", required=True, help="folder to write the PNG files into")
    p.add_argument("--class", dest="class_", default=None, metavar="NAME",
                   help="for a class-conditional model (one trained on a folder with a sub-folder per "
                        "class; the shipped generators have no classes): the class, a sub-folder name")
    p.add_argument("--truncation", type=_number_in(0.1, 2.0), default=1.0,
                   help="latent scale, 0.1-2: below 1 gives more typical, less varied images (default 1)")
    p.add_argument("--device", default=None, help=f"auto, cpu, cuda or mps (default: {DEVICE_ENV}, else auto)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("calibrate", help="average bursts of a still scene into (noisy, clean) training pairs")
    p.add_argument("bursts", nargs="+", metavar="BURST_DIR",
                   help="a folder of 4-64 frames of one scene (tripod, one ISO), a folder of such folders, "
                        "or a folder whose frames are grouped into bursts by capture time and size")
    p.add_argument("-o", "--output", required=True, help="pairs folder to write (noisy/, clean/, calibration.json)")
    p.add_argument("--tile", type=int, default=512, help="cut pairs into tiles of this size (0: whole frames)")
    p.add_argument("--tiles", type=int, default=8, help="tiles per frame (default 8)")
    p.add_argument("--gap", type=float, default=30.0,
                   help="seconds between two frames that start a new burst (grouping by capture time)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_calibrate)
    _add_batch_parser(sub)
    return parser


def _add_batch_parser(sub) -> None:
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
    p.add_argument("--jobs", type=_count, default=1, help="photos processed at the same time (default 1)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda or mps (models only)")
    p.add_argument("--quality", type=_quality_arg, default=92, help="JPEG/WebP/HEIC/AVIF quality (1-100)")
    p.add_argument("-q", "--quiet", action="store_true", help="report failures only")
    seen: set[str] = set()
    for op in batch_operations():
        for param in op.params:
            if param.name not in seen:
                seen.add(param.name)
                p.add_argument("--" + param.name.replace("_", "-"), dest=f"param_{param.name}",
                               default=None, help=f"{param.description} (default {param.default})")
    p.set_defaults(func=cmd_batch)


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
        from desktop_app.core.tasks import Cancelled

        if isinstance(e, Cancelled):
            print("desktop-app: cancelled", file=sys.stderr)
            return EXIT_ERROR
        msg = str(e) or type(e).__name__
        print(f"desktop-app: error: {msg.splitlines()[0]}", file=sys.stderr)
        return EXIT_ERROR
