"""Models > Calibrate to My Camera: two tiny synthetic bursts averaged (a frame of another scene
left out and said why), the reference shown beside a frame with the noise it removed, a
Cancel half-way that writes nothing, then on to the training dialog, a tiny network kept as
"Denoise for <camera>" and run on the photo."""

import json
import time

import numpy as np
import pytest

from desktop_app.core.calibration import averaging
from desktop_app.core.calibration.session import calibrations_root
from desktop_app.core.models.catalog import library_dir
from desktop_app.core.operations import registry
from tests.core.test_calibration import euclidean, frame_of, scene, write_burst
from tests.gui.helpers import GapRecorder, panel_keys, run_from_panel
from tests.gui.test_training_dialog import (OVERRIDES, _forget_library_operations, click,  # noqa: F401 (a fixture)
                                            keep_and_wait, set_budget)

CAMERA = "Testmaker Z9"  # what write_burst puts in the EXIF for the model "Z9"

@pytest.fixture
def bursts(tmp_path):
    """Two scenes of five frames (shifted a little, noise 8 of 255), ISO 800 and 1600; the
    first has a frame of another scene among them."""
    rng = np.random.default_rng(7)
    root = tmp_path / "bursts"
    for k, (name, iso) in enumerate((("alpha", 800), ("beta", 1600))):
        world = scene(30 + k)
        frames = [frame_of(world, euclidean(0, *rng.uniform(-2, 2, 2)), 8, rng) for _ in range(5)]
        if k == 0:
            frames.insert(2, frame_of(scene(40), euclidean(0, 0, 0), 8, rng))
        write_burst(root / name, frames, exif_model="Z9", iso=iso, ext=".jpg")
    return root


def test_calibrate_cancel_again_train_keep_and_use(qtbot, opened, bursts, monkeypatch):
    import torch

    torch.set_num_threads(1)
    window = opened
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert window.act_calibrate in menus["Models"].actions()
    window.act_calibrate.trigger()
    dialog = window.calibration_dialog
    assert dialog.isVisible() and not dialog.train_button.isEnabled()
    window.dialogs.folder_paths = [str(bursts)]
    click(qtbot, dialog.add_button)
    assert dialog.folder_list() == [str(bursts)]

    # slow frames, so that Cancel lands half-way through the first burst
    real_load = averaging.load_frame
    monkeypatch.setattr(averaging, "load_frame", lambda path: (time.sleep(0.3), real_load(path))[1])
    recorder = GapRecorder(while_=lambda: dialog.running)
    recorder.start()
    click(qtbot, dialog.calibrate_button)
    assert dialog.running and not dialog.calibrate_button.isEnabled()
    qtbot.waitUntil(lambda: "frame 3 of" in dialog.status.text(), timeout=30000)
    assert 0 < dialog.bar.value() < 50
    click(qtbot, dialog.cancel_button)
    qtbot.waitUntil(lambda: not dialog.running, timeout=10000)
    recorder.stop()
    assert "Cancelled" in dialog.status.text() and "nothing" in dialog.status.text()
    assert dialog.result is None and not dialog.train_button.isEnabled()
    assert not calibrations_root().exists() or not any(calibrations_root().iterdir()), "nothing written"
    assert len(recorder.gaps) > 10 and recorder.worst < 1.0, f"GUI blocked for {recorder.worst:.2f} s"
    assert not window.dialogs.errors, window.dialogs.error_text

    monkeypatch.setattr(averaging, "load_frame", real_load)
    click(qtbot, dialog.calibrate_button)  # the dialog is usable again
    qtbot.waitUntil(lambda: not dialog.running, timeout=60000)
    assert not window.dialogs.errors, window.dialogs.error_text
    result = dialog.result
    assert result is not None and result.folder.parent == calibrations_root()
    manifest = json.loads((result.folder / "calibration.json").read_text())
    assert manifest["camera"] == CAMERA and manifest["iso"] == [800, 1600]
    assert len(list((result.folder / "noisy").iterdir())) == len(list((result.folder / "clean").iterdir())) == 10
    assert [p.name for p in calibrations_root().iterdir()] == [result.folder.name], "no staging folder left"

    # one row a scene with the noise before and after; the reference beside a frame
    rows = [dialog.scenes.item(i).text() for i in range(dialog.scenes.count())]
    assert [r.split(":")[0] for r in rows] == ["alpha", "beta"]
    for row, s in zip(rows, manifest["scenes"]):
        before, after = (sum(s[k]) / len(s[k]) for k in ("sigma_before", "sigma_after"))
        assert after < before / 1.5, (before, after)  # five frames: about sqrt(5) less
        assert f"noise {before:.2f} -> {after:.2f}" in row
    assert not dialog.frame_label.pixmap().isNull() and not dialog.reference_label.pixmap().isNull()
    frame, reference = result.crops["alpha"]
    assert np.abs(np.diff(frame, axis=1)).mean() > 1.3 * np.abs(np.diff(reference, axis=1)).mean(), \
        "the reference is the smoother"
    assert "the mean of 5 frames" in dialog.reference_caption.text()
    left_out = [dialog.left_out.item(i).text() for i in range(dialog.left_out.count())]
    assert dialog.left_out.isVisibleTo(dialog) and len(left_out) == 1
    assert left_out[0].startswith("alpha / IMG_0002.jpg: ")
    assert "correlation" in left_out[0] or "do not match" in left_out[0]
    assert CAMERA in dialog.pairs_label.text() and "ISO 800-1600" in dialog.pairs_label.text()

    # Train: the one training dialog, set to fine-tune cnn-real on the pairs
    click(qtbot, dialog.train_button)
    training = window.training_dialog
    assert training is not None and training.isVisible()
    assert training.task.currentData() == "denoise-pairs" and training.start.currentData() == "cnn-real"
    assert training.folder_list() == [str(result.folder)] and training.name.text() == "testmaker-z9"
    qtbot.waitUntil(lambda: training.preview is not None, timeout=30000)
    assert "10 images" in training.data_summary.text(), training.data_summary.text()

    # a tiny network from scratch in place of cnn-real: seconds, not minutes
    training.config_overrides = dict(OVERRIDES, base=None)
    set_budget(training, 4)
    training.lr.setValue(1e-3)
    click(qtbot, training.start_button)
    qtbot.waitUntil(lambda: training.trainer is not None and not training.running, timeout=120000)
    assert training.can_keep, training.keep_refusal()
    assert any(row[0].startswith("NL-Means at its best strength") for row in training.report_rows())
    keep_and_wait(qtbot, training)
    assert not window.dialogs.errors, window.dialogs.error_text

    kept = json.loads((library_dir() / "testmaker-z9.json").read_text())
    assert kept["title"] == f"Denoise for {CAMERA}"
    assert kept["training"]["camera"] == CAMERA and kept["training"]["iso"] == [800, 1600]
    key = "denoise/testmaker-z9"
    assert key in panel_keys(window.ops_panel)
    op = registry.get(key)
    assert op.title == f"Denoise for {CAMERA}" and "ISO 800-1600" in op.description
    labels = [window.ops_panel.tree.topLevelItem(i).child(j).text(0)
              for i in range(window.ops_panel.tree.topLevelItemCount())
              for j in range(window.ops_panel.tree.topLevelItem(i).childCount())]
    assert any(label.startswith(f"Denoise for {CAMERA}") for label in labels)

    before = window.doc.image.copy()
    run_from_panel(qtbot, window, key, timeout=60)
    assert not window.dialogs.errors, window.dialogs.error_text
    assert not np.allclose(window.doc.image, before)

    # a photo of this camera at an ISO it was not calibrated at: refused, with the reason
    window.doc.meta.camera.update(camera=CAMERA, iso="6400")
    assert window.run_operation(op, {}, False) is None
    assert "ISO 6400" in window.dialogs.error_text and "ISO 800-1600" in window.dialogs.error_text
