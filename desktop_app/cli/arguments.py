"""Arguments the subcommands share: argparse value types that make a bad value a usage error,
the --device choice, and the operations' parameters as flags."""

from __future__ import annotations

import argparse
import json
import math
import os
from typing import Any, Callable

DEVICE_ENV = "DESKTOP_APP_DEVICE"


def count(text: str) -> int:
    """A whole number from 1 up (steps, batch, patch...)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def fraction(text: str) -> float:
    value = positive(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"is a share of the images, between 0 and 1, not {text}")
    return value


def key_value(text: str) -> tuple[str, Any]:
    """KEY=VALUE, the value read as JSON when it is JSON (numbers, true/false, lists) and as
    text otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def variations(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= 16:
        raise argparse.ArgumentTypeError(f"from 1 to 16, not {value}")
    return value


def number_in(low: float, high: float, kind: type = float, what: str = "a number") -> Callable[[str], Any]:
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


quality = number_in(1, 100, int, "a whole number")
pixels = number_in(0, 1000, float, "a number of pixels")


def _numbers(text: str, n: int, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(round(float(v))) for v in text.split(","))
    except (ValueError, OverflowError):  # OverflowError: inf
        values = ()
    if len(values) != n:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return values


def box(text: str) -> tuple[int, ...]:
    return _numbers(text, 4, "X,Y,W,H (four numbers, image pixels)")


def point(text: str) -> tuple[int, ...]:
    return _numbers(text, 2, "X,Y (two numbers, image pixels)")


def device_name(args: argparse.Namespace) -> str:
    """--device, else DESKTOP_APP_DEVICE, else auto; checked now, before any work, so that an
    unknown or missing device is one line at once rather than a surprise after loading."""
    from desktop_app.core.models.device import pick_device

    name = args.device or os.environ.get(DEVICE_ENV) or "auto"
    try:
        pick_device(name)
    except ValueError as e:
        raise ValueError(f"{e}{f' (from {DEVICE_ENV})' if not args.device else ''}") from None
    return name


def add_op_params(parser: argparse.ArgumentParser, task: str) -> None:
    """A flag per parameter of the task's operations (one for a name several of them share),
    with its default and range in the help."""
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


def op_params(args: argparse.Namespace, op) -> dict[str, Any]:
    """The parameter flags given, refused when one does not belong to `op`."""
    names = {p.name for p in op.params}
    given = {k[6:]: v for k, v in vars(args).items() if k.startswith("param_") and v is not None}
    ignored = set(given) - names
    if ignored:
        raise ValueError(f"--{sorted(ignored)[0].replace('_', '-')} does not apply to method {op.method}")
    return given
