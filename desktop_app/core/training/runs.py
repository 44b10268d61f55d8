"""Training runs left unfinished (the window closed, the app crashed, the run was cancelled),
so they can be resumed from their last checkpoint after a restart.

A run folder holds `config.json` (written when the run starts) and `last.json` +
`last.safetensors` (the checkpoint, written every few minutes and when the run stops). A run
is unfinished while its checkpoint is short of the configured steps and nobody has kept or
discarded it (`mark_done`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.training.config import TrainConfig

DONE_MARKER = "done"


@dataclass(frozen=True)
class SavedRun:
    folder: Path
    config: TrainConfig
    step: int
    seconds: float
    saved_at: float  # when the checkpoint was written (seconds since the epoch)

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        budget = f"of {self.config.steps}" if self.config.minutes is None else f"({self.seconds / 60:.0f} min trained)"
        return f"{self.config.name} ({self.config.task}) - step {self.step} {budget}, {when}"


def read_run(folder: Path) -> SavedRun | None:
    """The run in `folder`, or None when it has no usable checkpoint."""
    try:
        config = TrainConfig.from_json((folder / "config.json").read_text())
        last = folder / "last.json"
        info = json.loads(last.read_text())
        if not (folder / "last.safetensors").is_file():
            return None
        return SavedRun(folder, config, int(info["step"]), float(info.get("seconds", 0.0)), last.stat().st_mtime)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a half-written or foreign folder is not offered


def unfinished_runs(root: Path) -> list[SavedRun]:
    """Runs under `root` that can be continued, the most recently saved first."""
    if not root.is_dir():
        return []
    runs = [read_run(f) for f in root.iterdir() if f.is_dir() and not (f / DONE_MARKER).exists()]
    return sorted((r for r in runs if r is not None and r.step < r.config.steps),
                  key=lambda r: r.saved_at, reverse=True)


def mark_done(folder: Path) -> None:
    """The run's result was kept (or it was otherwise settled): stop offering it."""
    if folder.is_dir():
        (folder / DONE_MARKER).write_text("")
