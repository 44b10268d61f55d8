"""`train`: train or fine-tune a model with a training task's settings, into the library or a file."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from pathlib import Path

from desktop_app.cli import arguments
from desktop_app.core.training.config import PRECISIONS
from desktop_app.core.work import Progress, run_work


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
    device = arguments.device_name(args)
    config = registry.config_for(
        task, name=args.name, data=args.data, base=args.base, steps=args.steps, minutes=args.minutes,
        device=device, device_kind=pick_device(device).type, arch=args.arch, hparams=dict(args.hparam or []),
        task_options=dict(args.option or []), batch=args.batch, patch=args.patch, lr=args.lr, warmup=args.warmup,
        seed=args.seed, threads=args.threads, val_every=args.val_every, val_fraction=args.val_fraction,
        precision=args.precision,
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
        if config.schedule_minutes:
            print(f"{trainer.seconds / 60:.0f} of the run's {config.schedule_minutes:g} minutes trained: "
                  f"{trainer.budget_seconds() / 60:.0f} left", file=sys.stderr)
    if trainer.amp_dtype is not None:
        print(f"the steps run in bf16 on {trainer.device.type} (validation in float32; --precision f32 to turn it off)",
              file=sys.stderr)

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
    for label, score in trainer.baselines.items():
        print(f"{label} on the same photos: {trainer.score_text({trainer.metric: score})}", file=sys.stderr)
    if not trainer.improved:
        raise ValueError(f"no step beat the start{trainer.start_bar_text()} ({trainer.score_text(best)} at step 0): "
                         "nothing written; "
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


def _training_tasks_help() -> str:
    from desktop_app.core.training import registry

    return "; ".join(f"{t.id}: {t.title}" for t in registry.all_tasks()) + " (default denoise)"


def add_parsers(sub) -> None:
    p = sub.add_parser("train", help="train or fine-tune a model on folders of images")
    p.add_argument("--task", default="denoise", help=_training_tasks_help())
    p.add_argument("--self-supervised", action="store_true",
                   help="with --task denoise-real: learn from the noisy photos alone, no clean versions "
                        "(Neighbor2Neighbor; the same as --task denoise-self)")
    p.add_argument("--data", action="append", required=True, help="folder of images, or one image (repeatable)")
    p.add_argument("--name", required=True, help="name of the resulting model (letters, digits, - _ .)")
    p.add_argument("--title", default=None)
    p.add_argument("--arch", default=None, help="architecture id when training from scratch (default: the task's)")
    p.add_argument("--hparam", action="append", type=arguments.key_value, metavar="KEY=VALUE",
                   help="architecture hyper-parameter, e.g. size=128 or latent_dim=64 (repeatable); with --base only "
                        "widths, wider than the base's: the network starts as exactly the base")
    p.add_argument("--option", action="append", type=arguments.key_value, metavar="KEY=VALUE",
                   help="task option, e.g. resize=0.5 or kl_weight=0.02 (repeatable)")
    p.add_argument("--base", default=None, help="model to fine-tune from")
    p.add_argument("--steps", type=arguments.count, default=None,
                   help="length of the learning-rate schedule and where the run stops (default 100000)")
    p.add_argument("--minutes", type=arguments.positive, default=None,
                   help="stop after this many minutes; without --steps, the learning rate also decays over "
                        "these minutes, so the run ends finished rather than cut off, and they count the "
                        "whole run: --resume trains what is left of them")
    # the defaults below are the task's (training/registry.py), for a fine-tune of --base or
    # a new network, the same as the training dialog's
    p.add_argument("--batch", type=arguments.count, default=None, help="patches per step (default: the task's)")
    p.add_argument("--patch", type=arguments.count, default=None,
                   help="crop size in pixels, a multiple of the network's size step (default: the task's)")
    p.add_argument("--lr", type=arguments.positive, default=None, help="learning rate (default: the task's)")
    p.add_argument("--warmup", type=int, default=None,
                   help="steps over which the learning rate rises from 0 (default: a tenth of the steps, at "
                        "most 500, from scratch; 0 for a fine-tune of --base)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-every", type=arguments.count, default=None,
                   help="validate every this many steps (default: the task's)")
    p.add_argument("--val-fraction", type=arguments.fraction, default=None,
                   help="share of the images held back for validation (paired data: of the scenes from three "
                        "scenes on, of each scene's shots with one or two)")
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=arguments.count, default=None)
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="the steps' arithmetic: auto (bf16 where the device computes it natively and the task "
                        "trains well in it: the denoisers), bf16 or f32")
    p.add_argument("--run-dir", default=None, help="checkpoint folder (default: the cache folder)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--out", default=None,
                   help="write the best weights here (.safetensors + .json); without it the model goes into "
                        "your library, usable as --method NAME")
    p.add_argument("--replace", action="store_true", help="without --out: replace your library's model of that name")
    p.set_defaults(func=cmd_train)
