"""The one operation registry shared by the model panel and the CLI."""

from __future__ import annotations

from typing import Iterable

from desktop_app.core.operations.base import Operation
from desktop_app.core.operations.table import OPERATIONS as _OPERATIONS, register, unregister  # noqa: F401


class UnknownOperation(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; this one reads as a sentence
        return str(self.args[0])


_library_listed = False


def _ensure_builtins() -> None:
    # Importing the modules registers their descriptors (once); the user's own models are
    # listed the first time anyone asks (library.sync_library_operations refreshes them).
    global _library_listed
    from desktop_app.core.operations import builtin  # noqa: F401

    if not _library_listed:
        _library_listed = True
        from desktop_app.core.operations.library import sync_library_operations

        sync_library_operations()


def all_operations() -> list[Operation]:
    _ensure_builtins()
    return list(_OPERATIONS.values())


def tasks() -> list[str]:
    return sorted({op.task for op in all_operations()})


def for_task(task: str) -> list[Operation]:
    return [op for op in all_operations() if op.task == task]


def by_category() -> dict[str, list[Operation]]:
    groups: dict[str, list[Operation]] = {}
    for op in all_operations():
        groups.setdefault(op.category, []).append(op)
    return groups


def get(task: str, method: str | None = None) -> Operation:
    """`get("denoise", "nlmeans")` or `get("denoise/nlmeans")`."""
    _ensure_builtins()
    key = task if method is None else f"{task}/{method}"
    if key not in _OPERATIONS:
        t = key.split("/")[0]
        known = ", ".join(op.method for op in for_task(t)) or "none"
        raise UnknownOperation(f"unknown method {key.split('/')[-1]!r} for {t} (available: {known})")
    return _OPERATIONS[key]


def keys(ops: Iterable[Operation]) -> list[str]:
    return [op.key for op in ops]
