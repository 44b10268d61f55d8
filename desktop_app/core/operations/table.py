"""The table of operations: `register` adds a descriptor, `unregister` drops one. The code that
registers (`builtin`, `library`) imports this module; `registry` looks operations up in it
and imports the registering code, so the imports run one way."""

from __future__ import annotations

from desktop_app.core.operations.base import Operation

OPERATIONS: dict[str, Operation] = {}  # key -> descriptor, in registration order


def register(op: Operation) -> Operation:
    if op.key in OPERATIONS:
        raise ValueError(f"operation {op.key} is already registered")
    OPERATIONS[op.key] = op
    return op


def unregister(key: str) -> None:
    OPERATIONS.pop(key, None)
