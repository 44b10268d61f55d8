"""Finding bursts: frames grouped by folder, or by size and EXIF capture time, read from the
files' headers without decoding their pixels."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image

from desktop_app.core.imaging.io import SUPPORTED_EXTENSIONS

MIN_FRAMES, MAX_FRAMES = 4, 64
# files the image loader may learn to read (RAW through rawpy); listed so that a folder of
# RAW files is found once the loader reads them, and reported as unreadable before that
RAW_EXTENSIONS = (".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf", ".pef", ".srw")
FRAME_EXTENSIONS = frozenset(SUPPORTED_EXTENSIONS) | frozenset(RAW_EXTENSIONS)

_EXIF_IFD = 0x8769
_MODEL, _MAKE, _DATETIME = 0x0110, 0x010F, 0x0132
_DATETIME_ORIGINAL, _SUBSEC_ORIGINAL, _ISO = 0x9003, 0x9291, 0x8827


@dataclass(frozen=True)
class FrameInfo:
    """What the header of a frame says, read without decoding its pixels."""

    path: Path
    size: tuple[int, int] | None  # (width, height), None when the header cannot be read
    time: float | None  # capture time in seconds (EXIF DateTimeOriginal + sub-seconds)
    camera: str | None  # "Make Model"
    iso: int | None


@dataclass(frozen=True)
class Burst:
    """The frames of one still scene; `name` becomes the scene part of the pair file names."""

    name: str
    frames: tuple[Path, ...]



def frame_info(path: Path) -> FrameInfo:
    try:
        with Image.open(path) as im:
            size = im.size
            exif = im.getexif()
    except Exception:  # noqa: BLE001 - a RAW file or a damaged one: no header to go by
        return FrameInfo(path, None, None, None, None)
    sub = exif.get_ifd(_EXIF_IFD)
    when = _exif_time(sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME), sub.get(_SUBSEC_ORIGINAL))
    make, model = (str(exif.get(t) or "").strip("\x00 ") for t in (_MAKE, _MODEL))
    camera = model if make and model.lower().startswith(make.split()[0].lower()) else f"{make} {model}".strip()
    iso = sub.get(_ISO)
    if isinstance(iso, (tuple, list)):
        iso = iso[0] if iso else None
    return FrameInfo(path, size, when, camera or None, int(iso) if iso else None)


def _exif_time(text, subsec) -> float | None:
    if not text:
        return None
    try:
        t = datetime.strptime(str(text).strip("\x00 "), "%Y:%m:%d %H:%M:%S").timestamp()
    except ValueError:
        return None
    if subsec:
        digits = re.sub(r"\D", "", str(subsec))
        if digits:
            t += int(digits) / 10 ** len(digits)
    return t


def _frames_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FRAME_EXTENSIONS)


def find_bursts(folders: list[str | Path], gap_seconds: float = 30.0
                ) -> tuple[list[Burst], list[tuple[str, str]]]:
    """Bursts in `folders`, and what was passed over (folder or file, why).

    A folder whose sub-folders hold frames is a folder of bursts, one per sub-folder (scene).
    A folder of frames is one burst when its frames are one size and have no capture times;
    otherwise its frames are grouped by size and capture time: a new burst starts where the
    size changes or more than `gap_seconds` pass between two frames. A group of fewer than
    MIN_FRAMES frames is passed over; one of more than MAX_FRAMES keeps its first MAX_FRAMES."""
    bursts: list[Burst] = []
    skipped: list[tuple[str, str]] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder")
        subs = sorted(p for p in folder.iterdir() if p.is_dir() and _frames_in(p))
        if subs:
            for sub in subs:
                _add(bursts, skipped, sub.name, _frames_in(sub))
            continue
        frames = _frames_in(folder)
        if not frames:
            skipped.append((str(folder), "no image files"))
            continue
        groups = group_by_capture(frames, gap_seconds)
        for i, group in enumerate(groups):
            name = folder.name if len(groups) == 1 else f"{folder.name}-{i + 1}"
            _add(bursts, skipped, name, group)
    names: dict[str, int] = {}
    unique = []
    for b in bursts:  # two folders of the same name (a/scene, b/scene) stay two scenes
        n = names[b.name] = names.get(b.name, 0) + 1
        unique.append(b if n == 1 else Burst(f"{b.name}-{n}", b.frames))
    return unique, skipped


def group_by_capture(frames: list[Path], gap_seconds: float = 30.0) -> list[list[Path]]:
    infos = [frame_info(p) for p in frames]
    by_size: dict[tuple[int, int] | None, list[FrameInfo]] = {}
    for info in infos:
        by_size.setdefault(info.size, []).append(info)
    groups: list[list[Path]] = []
    for members in by_size.values():
        if all(m.time is None for m in members):
            groups.append([m.path for m in members])
            continue
        members.sort(key=lambda m: (m.time is None, m.time or 0.0, m.path.name))
        current = [members[0]]
        for m in members[1:]:
            if m.time is None or current[-1].time is None or m.time - current[-1].time > gap_seconds:
                groups.append([c.path for c in current])
                current = []
            current.append(m)
        groups.append([c.path for c in current])
    return groups


def _add(bursts: list[Burst], skipped: list[tuple[str, str]], name: str, frames: list[Path]) -> None:
    name = _safe_name(name)
    if len(frames) < MIN_FRAMES:
        skipped.append((name, f"{len(frames)} frame(s): a burst needs at least {MIN_FRAMES}"))
        return
    if len(frames) > MAX_FRAMES:
        skipped.append((name, f"{len(frames)} frames: only the first {MAX_FRAMES} are used"))
        frames = frames[:MAX_FRAMES]
    bursts.append(Burst(name, tuple(frames)))


def _safe_name(name: str) -> str:
    """A file-name stem for the scene, not ending in `_<digits>` (the pairs' own numbering
    comes after it, and the scene is the name without that last number)."""
    name = re.sub(r"[^A-Za-z0-9.+-]+", "-", name).strip("-.") or "scene"
    return name

