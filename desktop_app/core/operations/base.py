"""Operations as typed descriptors.

An `Operation` says what it is (task, method, title, category), what it takes (a parameter
schema from which the GUI builds its form and the CLI its flags) and how to run it (a function
returning a work generator). Adding an operation means adding a descriptor to the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from desktop_app.core.work import Work

AUTO = "auto"


class ParameterError(ValueError):
    """A parameter value the operation cannot take; the message says which and why."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: type  # float, int, bool or str
    default: Any
    title: str
    description: str
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    # The value may be the string "auto" (the operation then estimates it).
    allow_auto: bool = False
    # With "auto" as the default: the number a form offers when the user unticks auto.
    manual: float | None = None

    def coerce(self, value: Any) -> Any:
        """Validate and convert a value from a form or the command line."""
        if self.allow_auto and isinstance(value, str) and value.strip().lower() == AUTO:
            return AUTO
        try:
            if self.kind is bool:
                if isinstance(value, str):
                    if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                        raise ValueError(value)
                    value = value.lower() in ("1", "true", "yes", "on")
                else:
                    value = bool(value)
            else:
                value = self.kind(value)
        except (TypeError, ValueError):
            raise ParameterError(f"{self.title}: {value!r} is not a valid {self.kind.__name__}") from None
        if self.kind in (int, float):
            if not np.isfinite(value):
                raise ParameterError(f"{self.title}: must be a finite number")
            if self.minimum is not None and value < self.minimum:
                raise ParameterError(f"{self.title}: {value} is below the minimum {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise ParameterError(f"{self.title}: {value} is above the maximum {self.maximum}")
        if self.choices and value not in self.choices:
            raise ParameterError(f"{self.title}: {value!r} is not one of {', '.join(self.choices)}")
        return value


@dataclass(frozen=True)
class OperationInput:
    """What an operation works on: colour channels only (alpha is handled around it)."""

    image: np.ndarray  # float32 H x W x C, C in (1, 3)
    mask: np.ndarray | None  # float32 H x W in [0, 1], or None
    params: dict[str, Any]
    bit_depth: int = 8
    device: str | None = None  # "cpu", "cuda", "mps" or None for the model manager's choice


@dataclass(frozen=True)
class Operation:
    task: str  # "denoise", "inpaint", ...: the CLI subcommand
    method: str  # "nlmeans", "telea", ...: the CLI --method
    title: str
    category: str  # "Remove objects", "Denoise", "Your models": the panel's groups
    description: str
    run: Callable[[OperationInput], Work[np.ndarray]]
    params: tuple[Param, ...] = ()
    # The operation fills the selected region (inpainting): it needs a mask and its result
    # is always blended into the image through the mask.
    fills_mask: bool = False
    uses_device: bool = False
    # The mask the operation fills and is blended through, made from the photo (colour), the
    # user's mask and the resolved parameters (object removal grows it over the object's
    # edge), and a note for the user on what was done to it ("" for none); None: as painted.
    prepare_mask: Callable[[np.ndarray, np.ndarray, dict[str, Any]], tuple[np.ndarray, str]] | None = None
    # Measured speed or other facts the panel shows beside the title.
    note: str = ""
    # Why the operation is not for a photo (its ImageMeta), or None: a model calibrated to
    # one camera at some ISOs refuses the others (see `unsuited_for`).
    suits: Callable[[Any], str | None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.task}/{self.method}"

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def unsuited_for(self, meta: Any) -> str | None:
        """The reason this operation must not run on the photo described by `meta`
        (imaging.metadata.ImageMeta), or None when it may."""
        return self.suits(meta) if self.suits is not None and meta is not None else None

    def resolve_params(self, given: dict[str, Any] | None = None) -> dict[str, Any]:
        """Defaults, overridden by `given`, each validated; unknown names are an error."""
        given = dict(given or {})
        unknown = set(given) - {p.name for p in self.params}
        if unknown:
            raise ParameterError(f"{self.title}: unknown parameter(s) {', '.join(sorted(unknown))}")
        return {p.name: p.coerce(given.get(p.name, p.default)) for p in self.params}
