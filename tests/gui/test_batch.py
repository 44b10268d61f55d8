"""File > Batch...: a batch of a few photos from the dialog, cancelled half-way and resumed,
with a broken photo listed and the window usable throughout."""

from __future__ import annotations

import json
import time

import pytest
from PySide6.QtCore import Qt

from desktop_app.core.batch import JOURNAL_NAME
from desktop_app.core.imaging.io import load_image, save_image
from desktop_app.core.operations import Operation, Param
from desktop_app.core.work import Progress
from desktop_app.gui.dialogs.batch import BatchDialog
from tests.conftest import textured_image
from tests.gui.helpers import open_and_wait, register_for_test


def _slow_brighten(inp):
    for step in range(8):  # about 0.4 s a photo, in steps the batch can be cancelled between
        time.sleep(0.05)
        yield Progress(step / 8, "brightening")
    return (inp.image * 0.5 + inp.params["amount"]).clip(0, 1)


SLOW = Operation(task="test", method="slow-brighten", title="Slow brighten", category="Testing",
                 description="Brightens in slow steps (a test operation).", run=_slow_brighten,
                 params=(Param("amount", float, 0.25, "Amount", "added after halving", 0.0, 0.5),))


@pytest.fixture
def slow_op(request):
    return register_for_test(SLOW, request)


@pytest.fixture
def shoot(tmp_path):
    folder = tmp_path / "shoot"
    folder.mkdir()
    for k in range(5):
        save_image(folder / f"p{k}.png", textured_image(48, 64, seed=k))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return folder


@pytest.fixture
def dialog(window, qtbot):
    made = []

    def make():
        d = BatchDialog(window)
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()


def _done_in_journal(out) -> int:
    try:
        return len(json.loads((out / JOURNAL_NAME).read_text())["done"])
    except (OSError, ValueError):
        return 0


def test_batch_from_the_dialog_cancel_and_resume(qtbot, window, dialog, slow_op, shoot, tmp_path, photo_path):
    d = dialog()
    d.show()
    qtbot.waitExposed(d)
    out = tmp_path / "out"
    d.add_inputs([shoot])
    d.output.setText(str(out))
    d.select_operation(slow_op.key)
    d.params.widgets["amount"].setValue(0.3)
    d.format.setCurrentIndex(d.format.findData(".png"))
    qtbot.mouseClick(d.start_button, Qt.MouseButton.LeftButton)
    assert d.is_running() and not d.start_button.isEnabled()

    # the window stays usable while the batch runs: open a photo in it
    open_and_wait(qtbot, window, photo_path)
    assert window.doc is not None

    qtbot.waitUntil(lambda: _done_in_journal(out) >= 1, timeout=20000)
    with qtbot.waitSignal(d.job.cancelled, timeout=10000):
        qtbot.mouseClick(d.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not d.is_running(), timeout=10000)
    first = _done_in_journal(out)
    assert 1 <= first < 5 and "Cancelled" in d.status.text()
    assert d.start_button.isEnabled() and not d.cancel_button.isEnabled()
    assert 0 < d.overall_bar.value() < 100

    with qtbot.waitSignal(d.start().succeeded, timeout=30000):
        pass
    report = d.report
    assert len(report.skipped) == first and len(report.done) == 5 - first
    assert [o.source.name for o in report.failed] == ["broken.jpg"]
    assert d.failures.isVisible() and d.failures.count() == 1
    assert "broken.jpg" in d.failures.item(0).text()
    assert d.overall_bar.value() == 100 and "Finished" in d.status.text()
    result, _ = load_image(out / "p0-slow-brighten.png")
    source, _ = load_image(shoot / "p0.png")
    assert abs(float((result - (source * 0.5 + 0.3)).mean())) < 0.01  # its parameters were used


def test_dialog_lists_only_operations_without_a_mask_and_says_what_is_missing(qtbot, dialog):
    d = dialog()
    keys = [d.operation.itemData(i) for i in range(d.operation.count())]
    assert "denoise/cnn" in keys and not any(k.startswith("inpaint/") for k in keys)
    d.select_operation("denoise/cnn")
    assert "sigma" in d.params.widgets
    assert d.start() is None and "add photos" in d.status.text()


def test_the_next_batch_starts_from_the_last_ones_operation_settings_and_output(qtbot, dialog, shoot, tmp_path):
    d = dialog()
    d.add_inputs([shoot])
    d.select_operation("denoise/nlmeans")
    d.params.widgets["sigma"].setValue(12)
    d.output.setText(str(tmp_path / "out"))
    d.format.setCurrentIndex(d.format.findData(".tif"))
    d.bit_depth.setCurrentIndex(d.bit_depth.findData(16))
    d.pattern.setText("{stem}-clean")
    d.recursive.setChecked(False)
    job = d.start()
    assert job is not None
    qtbot.waitUntil(lambda: not d.is_running(), timeout=60000)

    again = dialog()  # File > Batch on a later day: everything but the photos comes back
    assert again.inputs.count() == 0
    assert again.operation.currentData() == "denoise/nlmeans"
    assert again.params.values() == {"sigma": 12.0, "variant": "tuned"}
    assert (again.output.text(), again.format.currentData(), again.bit_depth.currentData(),
            again.pattern.text(), again.recursive.isChecked()) == (str(tmp_path / "out"), ".tif", 16,
                                                                   "{stem}-clean", False)
    again.format.setCurrentIndex(0)  # "same as each photo" is remembered too
    again.add_inputs([shoot])
    assert again.start() is not None
    qtbot.waitUntil(lambda: not again.is_running(), timeout=60000)
    assert dialog().format.currentData() is None


def test_a_remembered_batch_that_no_longer_fits_leaves_the_dialog_as_it_starts(qtbot, window, dialog):
    window.settings.set_json("batch/last", {"operation": "denoise/gone", "params": {"sigma": "x"},
                                            "format": ".bmp", "bit_depth": 12, "output": 3})
    d = dialog()
    assert d.operation.currentIndex() == 0 and d.format.currentIndex() == 0 and d.bit_depth.currentIndex() == 0
    assert d.output.text() == ""


def test_photos_and_folders_dropped_on_the_dialog_join_the_list(qtbot, dialog, shoot, photo_path):
    from PySide6.QtCore import QUrl
    from tests.gui.test_main_window import drop_files

    d = dialog()
    assert drop_files(d, [QUrl.fromLocalFile(str(shoot)), QUrl.fromLocalFile(str(photo_path))]) == (True, True)
    assert d.input_paths() == [shoot, photo_path]
    assert drop_files(d, [QUrl("https://example.com/a.jpg")]) == (False, False)  # not a file here
    drop_files(d, [QUrl.fromLocalFile(str(shoot))])
    assert d.input_paths() == [shoot, photo_path], "listed once"


def test_the_whole_batch_says_about_how_long_it_has_left(qtbot, dialog, monkeypatch):
    from desktop_app.gui.dialogs import batch as batch_module

    d = dialog()
    clock = [50.0]
    monkeypatch.setattr(batch_module.time, "perf_counter", lambda: clock[0])
    for k, now in enumerate((50.0, 80.0, 110.0)):  # a photo every 30 s of 20
        clock[0] = now
        d._on_progress(Progress(k / 20, f"photo {k + 1}", {"index": k, "count": 20, "source": f"p{k}.jpg"}))
    assert d.overall_label.text() == "All photos: about 9 min left"  # 18 more at 30 s each
    assert d.file_label.text() == "Photo 3 of 20: p2.jpg"
