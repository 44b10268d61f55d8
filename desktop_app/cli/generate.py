"""`generate`: new images from a generator model, written as PNG files into a folder."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from desktop_app.cli import arguments
from desktop_app.cli.arguments import DEVICE_ENV
from desktop_app.cli.progress import drive


def cmd_generate(args: argparse.Namespace) -> int:
    from desktop_app.core import generation
    from desktop_app.core.imaging.io import save_image
    from desktop_app.core.models.catalog import find, models_for

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
    device = arguments.device_name(args)  # the manager picks the device (auto, cpu, cuda...)
    model = generation.load_generator(entry.manifest.id, device)  # through the model manager, as the panel
    index = generation.class_index(model, args.class_) if args.class_ is not None else None
    images = drive(generation.sample_work(model, args.count, args.seed, index, args.truncation),
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


def add_parsers(sub) -> None:
    p = sub.add_parser("generate", help="make new images with a generator model")
    p.add_argument("--model", default=None, help="generator model name (default: the shipped generator)")
    p.add_argument("-n", "--count", type=arguments.number_in(1, 10_000, int, "a whole number"), default=16,
                   help="how many images (1-10000, default 16)")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same images (default 0)")
    p.add_argument("-o", "--output", required=True, help="folder to write the PNG files into")
    p.add_argument("--class", dest="class_", default=None, metavar="NAME",
                   help="for a class-conditional model (one trained on a folder with a sub-folder per "
                        "class; the shipped generators have no classes): the class, a sub-folder name")
    p.add_argument("--truncation", type=arguments.number_in(0.1, 2.0), default=1.0,
                   help="latent scale, 0.1-2: below 1 gives more typical, less varied images (default 1)")
    p.add_argument("--device", default=None, help=f"auto, cpu, cuda or mps (default: {DEVICE_ENV}, else auto)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_generate)
