"""The architecture registry: one place maps an architecture id to its descriptor."""

from __future__ import annotations

from desktop_app.core.models.descriptor import Architecture
from desktop_app.core.models.table import ARCHITECTURES as _ARCHITECTURES, register  # noqa: F401


class UnknownArchitecture(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def _ensure_builtins() -> None:
    from desktop_app.core.models import archs  # noqa: F401  (registers the shipped architectures)


def get(arch_id: str) -> Architecture:
    _ensure_builtins()
    try:
        return _ARCHITECTURES[arch_id]
    except KeyError:
        raise UnknownArchitecture(
            f"unknown architecture {arch_id!r} (known: {', '.join(sorted(_ARCHITECTURES))})") from None


def all_architectures() -> list[Architecture]:
    _ensure_builtins()
    return list(_ARCHITECTURES.values())
