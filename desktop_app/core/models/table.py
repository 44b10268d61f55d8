"""The table of architectures: `register` adds a descriptor. The architectures (`archs`) import
this module to register themselves; `registry` looks them up here and imports `archs`, so
the imports run one way."""

from __future__ import annotations

from desktop_app.core.models.descriptor import Architecture

ARCHITECTURES: dict[str, Architecture] = {}  # id -> descriptor


def register(arch: Architecture) -> Architecture:
    if arch.id in ARCHITECTURES:
        raise ValueError(f"architecture {arch.id} is already registered")
    ARCHITECTURES[arch.id] = arch
    return arch
