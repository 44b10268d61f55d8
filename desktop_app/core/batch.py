"""One operation over many photos: files or folders in, an output folder out.

`run_batch(spec)` is a work generator like every long job here: it yields `Progress` whose
`fraction` is the whole batch and whose `data` says which file and how far that file is
(`BatchEvent` keys below), and returns a `BatchReport`. Every yield is a cancel point.

A bad file never stops the batch: its reason goes into the report and the next file starts.
Each finished file is recorded in a journal in the output folder (written atomically after
the file itself), so a batch that was cancelled, crashed or killed continues where it
stopped: a file whose source is unchanged and whose output is still there is not redone.
Only one photo is in memory per job at a time, so memory stays flat over any number of files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from desktop_app.core.imaging import formats
from desktop_app.core.imaging.io import (OPENABLE_EXTENSIONS, SUPPORTED_EXTENSIONS, ImageFileError,
                                         load_image, load_mask, save_image)
from desktop_app.core.operations import apply_operation, registry
from desktop_app.core.operations.base import Operation, ParameterError
from desktop_app.core.work import CancelToken, Cancelled, Progress, Work, run_work

JOURNAL_NAME = ".photoretouch-batch.json"
DEFAULT_PATTERN = "{stem}-{method}"
PATTERN_FIELDS = ("stem", "task", "method", "index")


class BatchError(ValueError):
    """A batch that cannot start (no photos, an unknown operation, a bad name pattern)."""


@dataclass(frozen=True)
class BatchSpec:
    """What to run. `format` is an extension (".png") or None for the input's own type (a RAW
    becomes a 16-bit TIFF); `bit_depth` 8 or 16, or None for the input's own. `name_pattern`
    takes {stem}, {task}, {method} and {index} (1-based); sub-folders of a folder input are
    kept below `output_dir`. A `mask` (greyscale PNG) limits the operation on photos of its
    size; photos of another size are processed whole, with a note in the report."""

    inputs: tuple[Path, ...]
    output_dir: Path
    operation: str  # "denoise/cnn"
    params: dict[str, Any] = field(default_factory=dict)
    format: str | None = None
    bit_depth: int | None = None
    name_pattern: str = DEFAULT_PATTERN
    recursive: bool = True
    quality: int = 92
    mask: Path | None = None
    device: str | None = None
    jobs: int = 1  # photos in flight at once (a model still runs one photo at a time)


@dataclass
class FileOutcome:
    source: Path
    output: Path | None
    status: str  # "done", "skipped" (done by an earlier run), "failed"
    reason: str = ""
    seconds: float = 0.0


@dataclass
class BatchReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def _with(self, status: str) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def done(self) -> list[FileOutcome]:
        return self._with("done")

    @property
    def skipped(self) -> list[FileOutcome]:
        return self._with("skipped")

    @property
    def failed(self) -> list[FileOutcome]:
        return self._with("failed")

    def summary(self) -> str:
        parts = [f"{len(self.done)} done"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} already done before")
        parts.append(f"{len(self.failed)} failed")
        return ", ".join(parts)


# Keys of Progress.data: "event" is "start" (a file begins), "file" (progress inside it),
# "done" / "skipped" / "failed" (it ended; "outcome" holds its FileOutcome), "index" (0-based),
# "count", "source" (str), "file_fraction" (0..1 within the file).


def batch_operations() -> list[Operation]:
    """The operations a batch can run: those that need no painted mask."""
    return [op for op in registry.all_operations() if not op.fills_mask]


def collect_photos(inputs: Iterable[str | os.PathLike], recursive: bool = True) -> list[tuple[Path, Path]]:
    """(photo, its path relative to the output folder's root) for each openable file, in a
    stable order; a folder contributes its photos (and its sub-folders' when `recursive`)."""
    found: list[tuple[Path, Path]] = []
    for given in inputs:
        given = Path(given)
        if given.is_dir():
            walk = given.rglob("*") if recursive else given.glob("*")
            for path in sorted(walk):
                if path.is_file() and path.suffix.lower() in OPENABLE_EXTENSIONS \
                        and not path.name.startswith("."):
                    found.append((path, path.relative_to(given)))
        else:
            found.append((given, Path(given.name)))  # a named file is tried whatever its type
    seen, unique = set(), []
    for path, rel in found:
        key = os.path.abspath(path)
        if key not in seen:
            seen.add(key)
            unique.append((path, rel))
    return unique


def plan_outputs(spec: BatchSpec, photos: list[tuple[Path, Path]], op: Operation) -> list[Path]:
    """The output file of each photo; names that would collide get the source's type added."""
    _check_pattern(spec.name_pattern)
    outputs, taken = [], set()
    width = len(str(len(photos)))
    for index, (source, rel) in enumerate(photos):
        ext = _output_extension(spec.format, source)
        fields = dict(stem=rel.stem, task=op.task, method=op.method, index=str(index + 1).zfill(width))
        name = spec.name_pattern.format(**fields)
        target = spec.output_dir / rel.parent / (name + ext)
        if os.path.normcase(os.path.abspath(target)) in taken:
            target = target.with_name(f"{name}-{source.suffix.lstrip('.').lower()}{ext}")
        taken.add(os.path.normcase(os.path.abspath(target)))
        outputs.append(target)
    return outputs


def run_batch(spec: BatchSpec) -> Work[BatchReport]:
    op = registry.get(spec.operation)
    if op.fills_mask:
        raise BatchError(f"{op.title} fills a painted region and cannot run as a batch")
    params = op.resolve_params(spec.params)  # a bad value stops the batch before any file
    if spec.bit_depth not in (None, 8, 16):
        raise BatchError(f"bit depth must be 8 or 16, not {spec.bit_depth}")
    if spec.format is not None and _output_extension(spec.format, Path()) not in SUPPORTED_EXTENSIONS:
        raise BatchError(f"cannot write {spec.format} files; use one of {', '.join(SUPPORTED_EXTENSIONS)}")
    photos = collect_photos(spec.inputs, spec.recursive)
    if not photos:
        raise BatchError("no photos found in " + ", ".join(str(p) for p in spec.inputs))
    outputs = plan_outputs(spec, photos, op)
    spec.output_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(spec.output_dir / JOURNAL_NAME, _spec_key(spec, op, params))
    mask = load_mask_any_size(spec.mask) if spec.mask else None

    report, count = BatchReport(), len(photos)
    todo = []
    for index, ((source, _), target) in enumerate(zip(photos, outputs)):
        if journal.is_done(source, target):
            outcome = FileOutcome(source, target, "skipped", "done by an earlier run")
            report.outcomes.append(outcome)
            yield _event(outcome.status, index, count, source, len(report.outcomes), outcome=outcome)
        else:
            todo.append((index, source, target))
    lock = threading.Lock() if spec.jobs > 1 and op.uses_device else None
    job = _FileJob(op, params, spec, mask, report.notes, lock)
    if spec.jobs <= 1:
        for index, source, target in todo:
            outcome = yield from _sequential(job, index, count, source, target, len(report.outcomes))
            _finish(outcome, journal, report)
            yield _event(outcome.status, index, count, source, len(report.outcomes), outcome=outcome)
    else:
        yield from _parallel(job, todo, count, journal, report, spec.jobs)
    return report


def load_mask_any_size(path: str | os.PathLike) -> np.ndarray:
    """A mask file at its own size (a batch applies it to photos of that size)."""
    pixels, _ = load_image(path)
    return load_mask(path, pixels.shape[:2])


# --- one file --------------------------------------------------------------------------------


@dataclass
class _FileJob:
    op: Operation
    params: dict[str, Any]
    spec: BatchSpec
    mask: np.ndarray | None
    notes: list[str]
    # Held while a model runs when photos go in parallel: a loaded network (torch module,
    # OpenVINO request) is one object shared by every caller and not safe to run from two
    # threads at once; it spreads over the cores by itself, so reading, decoding and saving
    # are what overlap.
    compute_lock: threading.Lock | None = None

    def work(self, source: Path, target: Path) -> Work[FileOutcome]:
        """Load, run, save one photo; its failure is an outcome, never an exception (cancel is)."""
        started = time.perf_counter()
        try:
            if os.path.abspath(source) == os.path.abspath(target):
                raise BatchError("the output would replace the photo itself; pick another folder or name")
            image, meta = load_image(source)
            unsuited = self.op.unsuited_for(meta)
            if unsuited:
                raise BatchError(f"{self.op.title} is {unsuited}")
            mask = self.mask
            if mask is not None and mask.shape != image.shape[:2]:
                self.notes.append(f"{source.name}: the mask is another size; processed whole")
                mask = None
            yield Progress(0.05, f"{source.name}: loaded")
            with self.compute_lock or contextlib.nullcontext():
                run = apply_operation(self.op, image, mask, self.params, inside_mask_only=mask is not None,
                                      bit_depth=meta.bit_depth, device=self.spec.device)
                result = yield from _scaled(run, 0.05, 0.95)
            del image
            target.parent.mkdir(parents=True, exist_ok=True)
            bit_depth = self.spec.bit_depth or meta.bit_depth
            save_image(target, result, meta, bit_depth=bit_depth, jpeg_quality=self.spec.quality)
            yield Progress(1.0, f"{source.name}: saved")
            return FileOutcome(source, target, "done", seconds=time.perf_counter() - started)
        except (Cancelled, GeneratorExit):
            raise
        except MemoryError:
            reason = "not enough memory for this photo"
        except (ImageFileError, ParameterError, BatchError) as exc:
            reason = exc.reason if isinstance(exc, ImageFileError) else str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad photo must not end the batch
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return FileOutcome(source, None, "failed", reason, time.perf_counter() - started)


def _sequential(job: _FileJob, index: int, count: int, source: Path, target: Path,
                finished: int) -> Work[FileOutcome]:
    yield _event("start", index, count, source, finished)
    work = job.work(source, target)
    try:
        while True:
            step = next(work)
            yield _event("file", index, count, source, finished, step.fraction or 0.0, step.message)
    except StopIteration as stop:
        return stop.value
    finally:
        work.close()


def _parallel(job: _FileJob, todo, count: int, journal: "Journal", report: BatchReport,
              jobs: int) -> Work[None]:
    """`jobs` photos at a time on threads (decoders, encoders, OpenCV and torch release the
    GIL; a model runs one photo at a time, see `_FileJob.compute_lock`); events come back
    through a queue and are yielded here, so cancel still works at every event."""
    events: queue.Queue = queue.Queue()
    cancel = CancelToken()

    def one(index: int, source: Path, target: Path) -> None:
        events.put(_event("start", index, count, source, 0))
        try:
            outcome = run_work(job.work(source, target), lambda p: events.put(
                _event("file", index, count, source, 0, p.fraction or 0.0, p.message)), cancel)
        except Cancelled:
            return
        events.put(("end", index, source, outcome))

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="batch")
    futures = [pool.submit(one, *item) for item in todo]
    in_flight: dict[int, float] = {}  # index -> how far that photo is
    try:
        remaining = len(todo)
        while remaining:
            try:
                item = events.get(timeout=0.1)
            except queue.Empty:
                yield Progress(_overall(report, in_flight, count), "", {"event": "wait"})
                continue
            if isinstance(item, tuple):
                _, index, source, outcome = item
                remaining -= 1
                in_flight.pop(index, None)
                _finish(outcome, journal, report)
                end = _event(outcome.status, index, count, source, len(report.outcomes), outcome=outcome)
                yield Progress(_overall(report, in_flight, count), end.message, end.data)
            else:
                in_flight[item.data["index"]] = item.data["file_fraction"]
                yield Progress(_overall(report, in_flight, count), item.message, item.data)
        for future in futures:
            future.result()  # a bug in `one` itself surfaces here
    finally:
        cancel.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _overall(report: BatchReport, in_flight: dict[int, float], count: int) -> float:
    return min(1.0, (len(report.outcomes) + sum(in_flight.values())) / count)


def _finish(outcome: FileOutcome, journal: "Journal", report: BatchReport) -> None:
    report.outcomes.append(outcome)
    if outcome.status == "done":
        journal.mark_done(outcome.source, outcome.output)


def _event(kind: str, index: int, count: int, source: Path, finished: int, file_fraction: float = 0.0,
           message: str = "", outcome: FileOutcome | None = None) -> Progress:
    if kind in ("done", "skipped", "failed"):
        file_fraction = 1.0
        overall = finished / count
    else:
        overall = (finished + file_fraction) / count
    data = {"event": kind, "index": index, "count": count, "source": str(source),
            "file_fraction": file_fraction}
    if outcome is not None:
        data["outcome"] = outcome
    text = message or f"{index + 1}/{count} {source.name}"
    return Progress(min(overall, 1.0), text, data)


def _scaled(work: Work[Any], start: float, stop: float) -> Work[Any]:
    try:
        while True:
            step = next(work)
            frac = start + (stop - start) * (step.fraction or 0.0)
            yield Progress(frac, step.message, step.data)
    except StopIteration as stop_:
        return stop_.value
    finally:
        work.close()


# --- names and the journal -------------------------------------------------------------------


def _output_extension(fmt: str | None, source: Path) -> str:
    if fmt:
        ext = fmt.lower() if fmt.startswith(".") else "." + fmt.lower()
        return ext
    ext = source.suffix.lower()
    if formats.is_raw(source) or ext not in SUPPORTED_EXTENSIONS:
        return ".tif"  # a RAW is never written: 16-bit TIFF, as Save proposes
    return ext


def _check_pattern(pattern: str) -> None:
    try:
        name = pattern.format(**{key: "x" for key in PATTERN_FIELDS})
    except (KeyError, IndexError, ValueError) as exc:
        raise BatchError(f"name pattern {pattern!r}: use {{stem}}, {{task}}, {{method}} and {{index}} "
                         f"({exc})") from None
    if not name or os.sep in name or (os.altsep and os.altsep in name) or name in (".", ".."):
        raise BatchError(f"name pattern {pattern!r} must give a plain file name")


def _spec_key(spec: BatchSpec, op: Operation, params: dict[str, Any]) -> str:
    """What makes two runs' outputs the same: a journal from another setting is not reused."""
    mask = None
    if spec.mask:
        with contextlib.suppress(OSError):
            mask = hashlib.sha256(Path(spec.mask).read_bytes()).hexdigest()
    described = json.dumps([op.key, params, spec.format, spec.bit_depth, spec.name_pattern,
                            spec.quality, mask], sort_keys=True, default=str)
    return hashlib.sha256(described.encode()).hexdigest()[:16]


class Journal:
    """Which photos this output folder already holds results for, and from what source
    (size and modification time), under one batch setting (`key`). Rewritten atomically."""

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = Path(path), key
        self._lock = threading.Lock()
        self.entries: dict[str, dict[str, Any]] = {}
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            if saved.get("key") == key and isinstance(saved.get("done"), dict):
                self.entries = saved["done"]
        except (OSError, ValueError, AttributeError):
            pass  # none yet, or unreadable: start afresh

    @staticmethod
    def _stamp(source: Path) -> list[float]:
        info = os.stat(source)
        return [info.st_size, info.st_mtime_ns]

    def is_done(self, source: Path, target: Path) -> bool:
        entry = self.entries.get(os.path.abspath(source))
        try:
            return bool(entry) and entry.get("output") == str(target) and target.is_file() \
                and entry.get("stamp") == self._stamp(source)
        except OSError:
            return False

    def mark_done(self, source: Path, target: Path | None) -> None:
        with self._lock:
            self.entries[os.path.abspath(source)] = {"output": str(target), "stamp": self._stamp(source)}
            data = json.dumps({"key": self.key, "done": self.entries}, indent=0)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            with open(temporary, "w", encoding="utf-8") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)

