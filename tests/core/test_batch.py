"""Batch processing: folders in, files out, bad files listed, interrupted runs resumed."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from desktop_app.core.batch import (JOURNAL_NAME, BatchError, BatchSpec, batch_operations, collect_photos,
                                    run_batch)
from desktop_app.core.imaging.formats import synthetic_dng
from desktop_app.core.imaging.io import ImageMeta, load_image, save_image, save_mask
from desktop_app.core.work import CancelToken, Cancelled, run_work


def noisy(seed: int, height: int = 24, width: int = 32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    clean = np.stack([x / width, y / height, np.full_like(x, 0.5)], axis=2)
    return np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)


@pytest.fixture
def shoot(tmp_path):
    """A folder of five good photos (one in a sub-folder, one 16-bit) and three broken files."""
    folder = tmp_path / "shoot"
    (folder / "day2").mkdir(parents=True)
    for k, name in enumerate(["a.jpg", "b.png", "c.webp", "day2/d.jpg"]):
        save_image(folder / name, noisy(k))
    save_image(folder / "e16.png", noisy(9), ImageMeta(bit_depth=16))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "empty.png").write_bytes(b"")
    (folder / "cut.png").write_bytes((folder / "b.png").read_bytes()[:100])
    (folder / "notes.txt").write_text("not a photo: not collected")
    return folder


def spec_for(folder, out, **kw) -> BatchSpec:
    values = dict(inputs=(folder,), output_dir=out, operation="denoise/nlmeans", params={"sigma": 20})
    values.update(kw)
    return BatchSpec(**values)


def test_a_folder_with_broken_files_finishes_and_lists_them(shoot, tmp_path):
    out = tmp_path / "out"
    events = []
    report = run_work(run_batch(spec_for(shoot, out)), events.append)
    assert sorted(o.source.name for o in report.done) == ["a.jpg", "b.png", "c.webp", "d.jpg", "e16.png"]
    failed = {o.source.name: o.reason for o in report.failed}
    assert set(failed) == {"broken.jpg", "empty.png", "cut.png"}
    assert failed["empty.png"] == "the file is empty"
    assert all(reason for reason in failed.values())
    # outputs are readable, next to their sub-folder, denoised, at the source's bit depth
    result, meta = load_image(out / "day2" / "d-nlmeans.jpg")
    assert result.shape == (24, 32, 3)
    before, _ = load_image(shoot / "b.png")
    after, _ = load_image(out / "b-nlmeans.png")
    assert np.abs(np.diff(after, axis=1)).mean() < np.abs(np.diff(before, axis=1)).mean()
    assert load_image(out / "e16-nlmeans.png")[1].bit_depth == 16
    # progress: overall fraction never goes back, and every file ends with one event
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    ends = [e for e in events if e.data.get("event") in ("done", "failed", "skipped")]
    assert len(ends) == 8
    assert any(e.data.get("event") == "file" and 0 < e.data["file_fraction"] < 1 for e in events)


def test_an_interrupted_batch_resumes_without_redoing_finished_files(shoot, tmp_path):
    out = tmp_path / "out"
    work = run_batch(spec_for(shoot, out))
    finished = []
    for event in work:  # stop after two photos are done, as a killed process would
        if event.data.get("event") == "done":
            finished.append(event.data["outcome"].output)
            if len(finished) == 2:
                work.close()
                break
    journal = json.loads((out / JOURNAL_NAME).read_text())
    assert len(journal["done"]) == 2
    stamps = {p: os.stat(p).st_mtime_ns for p in finished}

    report = run_work(run_batch(spec_for(shoot, out)))
    assert sorted(o.output for o in report.skipped) == sorted(finished)
    assert len(report.done) == 3 and len(report.failed) == 3
    assert {p: os.stat(p).st_mtime_ns for p in finished} == stamps  # not written again

    # a third run has nothing left but the broken files
    report = run_work(run_batch(spec_for(shoot, out)))
    assert len(report.skipped) == 5 and not report.done


def test_a_changed_photo_or_setting_is_done_again(shoot, tmp_path):
    out = tmp_path / "out"
    run_work(run_batch(spec_for(shoot, out)))
    save_image(shoot / "a.jpg", noisy(42))  # the photographer replaced one photo
    os.utime(shoot / "a.jpg", ns=(1, 1))
    report = run_work(run_batch(spec_for(shoot, out)))
    assert [o.source.name for o in report.done] == ["a.jpg"]
    report = run_work(run_batch(spec_for(shoot, out, params={"sigma": 30})))  # another setting
    assert len(report.done) == 5 and not report.skipped


def test_cancel_stops_between_steps_and_keeps_what_was_finished(shoot, tmp_path):
    out, token = tmp_path / "out", CancelToken()

    def on_progress(event):
        if event.data.get("event") == "done":
            token.cancel()

    with pytest.raises(Cancelled):
        run_work(run_batch(spec_for(shoot, out)), on_progress, token)
    assert len(json.loads((out / JOURNAL_NAME).read_text())["done"]) == 1
    assert not [p for p in out.rglob("*.tmp")]  # no half-written file or journal left behind


def test_parallel_jobs_give_the_same_files(shoot, tmp_path):
    one = run_work(run_batch(spec_for(shoot, tmp_path / "one")))
    events = []
    two = run_work(run_batch(spec_for(shoot, tmp_path / "two", jobs=2)), events.append)
    assert len(two.done) == len(one.done) and len(two.failed) == len(one.failed)
    for outcome in one.done:
        other = tmp_path / "two" / outcome.output.relative_to(tmp_path / "one")
        assert np.array_equal(load_image(outcome.output)[0], load_image(other)[0])
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_format_bit_depth_name_pattern_and_raw(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    save_image(folder / "x.jpg", noisy(1))
    scene = np.full((24, 32, 3), 0.2, np.float32)
    (folder / "IMG_1.dng").write_bytes(synthetic_dng(scene, noise=0.02))
    out = tmp_path / "out"
    report = run_work(run_batch(spec_for(folder, out, name_pattern="{index}_{stem}_{task}", format=None)))
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "1_IMG_1_denoise.tif", "2_x_denoise.jpg"]  # a RAW is written as a 16-bit TIFF
    assert load_image(out / "1_IMG_1_denoise.tif")[1].bit_depth == 16
    report = run_work(run_batch(spec_for(folder, tmp_path / "o2", format=".png", bit_depth=16)))
    assert {load_image(o.output)[1].bit_depth for o in report.done} == {16}
    assert {o.output.suffix for o in report.done} == {".png"}


def test_same_stem_in_one_folder_gets_distinct_names(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    save_image(folder / "p.jpg", noisy(1))
    save_image(folder / "p.png", noisy(2))
    report = run_work(run_batch(spec_for(folder, tmp_path / "out", format=".png")))
    assert len({o.output for o in report.done}) == 2


def test_a_saved_mask_applies_to_photos_of_its_size(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    save_image(folder / "same.png", noisy(1))
    save_image(folder / "other.png", noisy(2, 30, 40))
    mask = np.zeros((24, 32), np.float32)
    mask[:, :16] = 1.0
    save_mask(tmp_path / "mask.png", mask)
    out = tmp_path / "out"
    report = run_work(run_batch(spec_for(folder, out, mask=tmp_path / "mask.png", format=".png")))
    assert len(report.done) == 2 and any("other.png" in note for note in report.notes)
    before, after = load_image(folder / "same.png")[0], load_image(out / "same-nlmeans.png")[0]
    assert np.abs(after[:, 20:] - before[:, 20:]).max() < 1 / 255 + 1e-6  # outside: untouched
    assert np.abs(after[:, :12] - before[:, :12]).mean() > 0.01


def test_bad_batches_are_refused_before_any_file(shoot, tmp_path):
    with pytest.raises(BatchError, match="name pattern"):
        run_work(run_batch(spec_for(shoot, tmp_path / "o", name_pattern="{nope}")))
    with pytest.raises(BatchError, match="name pattern"):
        run_work(run_batch(spec_for(shoot, tmp_path / "o", name_pattern="a/{stem}")))
    with pytest.raises(BatchError, match="fills a painted region"):
        run_work(run_batch(spec_for(shoot, tmp_path / "o", operation="inpaint/telea", params={})))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchError, match="no photos"):
        run_work(run_batch(spec_for(tmp_path / "empty", tmp_path / "o2")))
    with pytest.raises(ValueError, match="maximum"):
        run_work(run_batch(spec_for(shoot, tmp_path / "o", params={"sigma": 1e9})))
    assert all(not op.fills_mask for op in batch_operations())


def test_collect_photos_recursive_or_not(shoot):
    names = [rel.as_posix() for _, rel in collect_photos([shoot])]
    assert "day2/d.jpg" in names and "notes.txt" not in names
    assert "day2/d.jpg" not in [rel.as_posix() for _, rel in collect_photos([shoot], recursive=False)]


# --- command line ----------------------------------------------------------------------------


def test_cli_batch_lists_each_file_and_the_broken_ones(shoot, tmp_path, capsys):
    from desktop_app.cli import main

    out = tmp_path / "out"
    code = main(["batch", str(shoot), "-o", str(out), "--op", "denoise", "--method", "nlmeans",
                 "--sigma", "20", "--format", "png"])
    lines = capsys.readouterr().err.splitlines()
    assert code == 1  # some files failed; each is named with its reason
    per_file = [line for line in lines if line.startswith("[")]
    assert len(per_file) == 8
    assert sum(" done " in line for line in per_file) == 5
    assert any(line.endswith("failed " + str(shoot / "empty.png") + ": the file is empty") for line in per_file)
    assert "batch: 5 done, 3 failed" in lines[-2]
    assert len(list(out.rglob("*.png"))) == 5


def test_cli_batch_survives_a_killed_process(shoot, tmp_path):
    import signal
    import subprocess
    import sys

    for k in range(12):  # enough photos that the kill lands mid-way
        save_image(shoot / f"more{k:02d}.png", noisy(100 + k, 96, 128))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "desktop_app", "batch", str(shoot), "-o", str(out), "--op", "denoise",
               "--method", "nlmeans", "--sigma", "20"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    seen_done = []
    for line in process.stderr:
        if " done " in line:
            seen_done.append(line.split(" done ")[1].split(" -> ")[0])
            if len(seen_done) == 2:
                process.send_signal(signal.SIGKILL)
                break
    process.wait(timeout=60)
    process.stderr.close()
    result = subprocess.run(command, stderr=subprocess.PIPE, text=True, timeout=300)
    skipped = [line.split(" skipped ")[1].split(" (")[0] for line in result.stderr.splitlines() if " skipped " in line]
    done = [line for line in result.stderr.splitlines() if line.startswith("[") and " done " in line]
    assert set(seen_done) <= set(skipped)
    assert len(skipped) + len(done) == 17 and result.returncode == 1


def test_parallel_jobs_never_run_one_model_on_two_photos_at_once(shoot, tmp_path, request):
    import threading
    import time

    from desktop_app.core.operations import Operation, registry
    from desktop_app.core.work import Progress

    running, most = [0], [0]
    lock = threading.Lock()

    def model_like(inp):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            for _ in range(3):
                time.sleep(0.02)
                yield Progress(None, "tile")
        finally:
            with lock:
                running[0] -= 1
        return inp.image

    op = Operation(task="test", method="model-like", title="Model-like", category="Testing",
                   description="A shared network stand-in.", run=model_like, uses_device=True)
    registry.all_operations()
    registry.register(op)
    request.addfinalizer(lambda: registry.unregister(op.key))
    report = run_work(run_batch(spec_for(shoot, tmp_path / "out", operation=op.key, params={}, jobs=3)))
    assert len(report.done) == 5 and most[0] == 1
