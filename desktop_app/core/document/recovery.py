"""Crash recovery: the open document's state is written in the background to the application
data folder, and the next start offers to bring it back.

Each running app owns one folder `recovery/<pid>-<start time>/` holding `image.npy` (uint16),
`mask.npy` (uint16), and `state.json` (source path, title, metadata, time). A folder whose
process is gone is a crash left-over; a clean exit deletes its own folder. Recovered, the edits
are one undo step over the file they were made on (the undo history itself is not kept).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.imaging.convert import to_uint16

RECOVERED_STEP = "Recovered edits"


@dataclass
class Snapshot:
    """What the autosave thread writes; taken on the main thread without copying the image."""

    image: np.ndarray
    mask: np.ndarray
    meta: Any
    source: str | None
    title: str
    saved_at: float
    mask_shown: bool = True  # the mask's overlay was on (a fill hides it to show what it made)


@dataclass
class RecoveredSession:
    folder: Path
    source: str | None
    title: str
    saved_at: float
    mask_shown: bool = True


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _meta_to_json(meta: Any) -> dict[str, Any] | None:
    if meta is None or not is_dataclass(meta):
        return None
    out = {}
    for k, v in asdict(meta).items():
        out[k] = {"b64": base64.b64encode(v).decode()} if isinstance(v, bytes) else v
    return out


def _file_pixels(source: str | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """The pixels of the file at `source` where it still opens to `shape`, else None."""
    if not source:
        return None
    from desktop_app.core.imaging.io import load_image

    try:
        pixels, _ = load_image(source)
    except Exception:  # noqa: BLE001 - gone, unreadable, no longer an image: the pixels alone
        return None
    return pixels if pixels.shape == tuple(shape) else None


def _meta_from_json(data: dict[str, Any] | None) -> Any:
    if not data:
        return None
    from desktop_app.core.imaging.io import ImageMeta

    values = {k: base64.b64decode(v["b64"]) if isinstance(v, dict) and "b64" in v else v for k, v in data.items()}
    fields = ImageMeta.__dataclass_fields__
    return ImageMeta(**{k: v for k, v in values.items() if k in fields})


class RecoveryStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.own = self.root / f"{os.getpid()}-{int(time.time() * 1000)}"

    def write(self, snap: Snapshot) -> None:
        """Write atomically: a half-written snapshot never replaces a good one."""
        tmp = self.own.with_name(self.own.name + ".writing")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        np.save(tmp / "image.npy", to_uint16(snap.image))
        np.save(tmp / "mask.npy", to_uint16(snap.mask))
        state = {"source": snap.source, "title": snap.title, "saved_at": snap.saved_at,
                 "meta": _meta_to_json(snap.meta), "pid": os.getpid(), "mask_shown": snap.mask_shown}
        (tmp / "state.json").write_text(json.dumps(state))
        old = self.own.with_name(self.own.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.own.exists():
            os.replace(self.own, old)
        os.replace(tmp, self.own)
        shutil.rmtree(old, ignore_errors=True)

    def discard_own(self) -> None:
        for suffix in ("", ".writing", ".old"):
            shutil.rmtree(self.own.with_name(self.own.name + suffix), ignore_errors=True)

    def leftovers(self) -> list[RecoveredSession]:
        """Sessions of processes that are gone, newest first."""
        found = []
        for folder in self.root.iterdir():
            if not folder.is_dir() or "." in folder.name:
                continue
            try:
                pid = int(folder.name.split("-")[0])
                state = json.loads((folder / "state.json").read_text())
            except (ValueError, OSError, json.JSONDecodeError):
                continue
            if folder == self.own or _pid_alive(pid):
                continue
            found.append(RecoveredSession(folder, state.get("source"), state.get("title", ""), state.get("saved_at", 0),
                                          bool(state.get("mask_shown", True))))
        return sorted(found, key=lambda s: -s.saved_at)

    @staticmethod
    def load(session: RecoveredSession):
        """The recovered document: its pixels one undo step ("Recovered edits") over the file it
        was last opened or saved as, so Undo and before/after show that file; the pixels alone
        where the file is gone, unreadable or of another size."""
        from desktop_app.core.document.document import Document

        state = json.loads((session.folder / "state.json").read_text())
        stored = np.load(session.folder / "image.npy")
        image = stored.astype(np.float32) / 65535.0
        mask = np.load(session.folder / "mask.npy").astype(np.float32) / 65535.0
        meta, source = _meta_from_json(state.get("meta")), state.get("source")
        on_file = _file_pixels(source, stored.shape)
        doc = Document(image if on_file is None else on_file, meta, source)
        if on_file is not None and not np.array_equal(to_uint16(on_file), stored):
            doc.set_image(image, RECOVERED_STEP)
        doc.mask = mask
        if not doc.modified:
            doc.saved_id = -1  # recovered edits (a mask alone, too) are unsaved
        return doc

    @staticmethod
    def discard(session: RecoveredSession) -> None:
        shutil.rmtree(session.folder, ignore_errors=True)
