"""The Generate panel: a tiny random GAN from the user's library, a grid of samples made
again from their seed, an interpolation strip, and a sample opened as a new document or
pasted into the masked region of a photo."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.conftest import REPO
from tests.gui.helpers import UNSAVED, paint_stroke, wait_idle

TINY = {"size": 16, "latent_dim": 8, "width": 8, "max_width": 16}


@pytest.fixture
def tiny_gans(tmp_path, monkeypatch):
    """Two random tiny GANs in the user's library (one class-conditional, with classes "a"
    and "b"), the shipped generators hidden; returns the conditional one."""
    import torch

    from desktop_app.core.models import registry
    from desktop_app.core.models.catalog import library_dir
    from desktop_app.core.models.manager import MANAGER
    from desktop_app.core.models.weights import Manifest, save_model

    monkeypatch.setenv("DESKTOP_APP_RESOURCES", str(tmp_path / "no-resources"))
    models = {}
    for model_id, title, extra in (("tiny-gan", "Tiny GAN", {"num_classes": 2, "classes": ["a", "b"]}),
                                   ("plain-gan", "Plain GAN", {})):
        hp = dict(TINY, **extra)
        torch.manual_seed(len(model_id))
        models[model_id] = model = registry.get("gan").create(**hp).eval()
        with torch.no_grad():  # a random network makes near-uniform grey: these differ visibly
            model.decoder.project.weight.mul_(4)
            model.decoder.to_rgb.weight.mul_(20)
        save_model(models[model_id], library_dir() / f"{model_id}.safetensors",
                   Manifest(id=model_id, title=title, architecture="gan", task="generate", hparams=hp))
    MANAGER.release()
    yield models["tiny-gan"]
    MANAGER.release()


def show_panel(window):
    window.act_generate.trigger()
    panel = window.generate_panel
    assert panel.isVisible()
    return panel


def choose_model(panel, title: str) -> None:
    index = panel.model_box.findText(title)
    assert index >= 0, [panel.model_box.itemText(i) for i in range(panel.model_box.count())]
    panel.model_box.setCurrentIndex(index)


def generate(qtbot, window, seed: int, count: int, class_name: str | None = "b", model: str = "Tiny GAN (yours)"):
    panel = show_panel(window)
    choose_model(panel, model)
    if class_name is not None:
        panel.class_box.setCurrentText(class_name)
    panel.seed.setValue(seed)
    panel.count.setValue(count)
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert not window.dialogs.errors, window.dialogs.error_text
    return panel


def pick(panel, *rows: int) -> None:
    panel.grid.clearSelection()
    for row in rows:
        panel.grid.item(row).setSelected(True)
    panel.grid.setCurrentRow(rows[-1], panel.grid.selectionModel().SelectionFlag.NoUpdate)


def icon_pixels(item) -> bytes:
    image = item.icon().pixmap(64, 64).toImage()
    return bytes(image.constBits())


def test_panel_lists_the_library_generators_and_classes_of_the_conditional_one(qtbot, window, tiny_gans):
    assert "Generate" in [d.windowTitle() for d in window.docks.values()]
    assert window.act_generate in window.menuBar().actions()[4].menu().actions()  # Operations
    panel = show_panel(window)
    titles = [panel.model_box.itemText(i) for i in range(panel.model_box.count())]
    assert titles == ["Plain GAN (yours)", "Tiny GAN (yours)"]

    choose_model(panel, "Tiny GAN (yours)")
    assert panel.class_box.isVisible()
    assert [panel.class_box.itemText(i) for i in range(panel.class_box.count())] == \
        ["Any (drawn per picture)", "a", "b"]
    assert "2 classes" in panel.info.text()
    panel.class_box.setCurrentText("b")
    window.show_generate_panel()  # listed again: the choice stays
    assert panel.class_box.currentText() == "b" and panel.model_box.currentText() == "Tiny GAN (yours)"
    choose_model(panel, "Plain GAN (yours)")
    assert not panel.class_box.isVisible()
    assert panel.generate_button.isEnabled() and not panel.open_button.isEnabled()


def test_generate_fills_the_grid_and_the_same_seed_gives_the_same_pictures(qtbot, window, tiny_gans):
    from desktop_app.core import generation

    panel = generate(qtbot, window, seed=7, count=6)
    assert panel.grid.count() == 6
    first = panel.samples.copy()
    assert first.shape == (6, 16, 16, 3)
    np.testing.assert_allclose(first, generation.sample(tiny_gans, 6, seed=7, class_index=1), atol=1e-5)
    thumbs = [icon_pixels(panel.grid.item(i)) for i in range(6)]
    assert len(set(thumbs)) == 6, "six different pictures"

    generate(qtbot, window, seed=8, count=6)
    assert not np.allclose(panel.samples, first, atol=1e-3)
    generate(qtbot, window, seed=7, count=6)
    np.testing.assert_array_equal(panel.samples, first)
    assert [icon_pixels(panel.grid.item(i)) for i in range(6)] == thumbs
    generate(qtbot, window, seed=7, count=2)  # the first pictures do not depend on the count
    assert panel.grid.count() == 2
    np.testing.assert_allclose(panel.samples, first[:2], atol=1e-5)


def test_open_a_sample_as_a_new_unsaved_document(qtbot, window, tiny_gans):
    panel = generate(qtbot, window, seed=3, count=4)
    pick(panel, 2)
    assert panel.open_button.isEnabled()
    qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    doc = window.doc
    assert doc is not None and doc.path is None
    assert doc.image.shape == (16, 16, 3)
    np.testing.assert_array_equal(doc.image, panel.samples[2])
    assert "untitled" in window.windowTitle() and doc.modified
    assert "picture 3 of seed 3" in window.statusBar().currentMessage()

    window.dialogs.answers[UNSAVED] = "Cancel"
    window.close()
    assert window.dialogs.asked(UNSAVED) == 1 and window.isVisible(), "closing asks to save it"


def test_paste_into_mask_changes_only_the_masked_area_and_undoes(qtbot, opened, tiny_gans):
    window = opened
    doc = window.doc
    panel = generate(qtbot, window, seed=1, count=3)
    pick(panel, 0)
    before = doc.image
    qtbot.mouseClick(panel.paste_button, Qt.MouseButton.LeftButton)
    assert "mask is empty" in window.statusBar().currentMessage()
    assert doc.image is before and window.job is None

    window.mask_panel.size.setValue(20)
    paint_stroke(window, [(40, 60), (110, 60)])
    mask = doc.mask.copy()
    qtbot.mouseClick(panel.paste_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert not window.dialogs.errors, window.dialogs.error_text
    after = doc.image
    np.testing.assert_array_equal(after[mask == 0], before[mask == 0])
    assert np.abs(after - before)[mask > 0.99].mean() > 0.02
    assert doc.history.titles()[len(doc.history.done) - 1] == "Paste generated"

    window.undo()
    wait_idle(qtbot, window)  # an image step is undone in the worker
    np.testing.assert_array_equal(doc.image, before)


def test_paste_without_a_photo_says_what_to_do(qtbot, window, tiny_gans):
    panel = generate(qtbot, window, seed=1, count=2)
    pick(panel, 1)
    qtbot.mouseClick(panel.paste_button, Qt.MouseButton.LeftButton)
    assert window.doc is None and "Open a photo first" in window.statusBar().currentMessage()


def test_interpolation_strip_runs_from_one_chosen_sample_to_the_other(qtbot, window, tiny_gans):
    panel = generate(qtbot, window, seed=5, count=6)
    assert not panel.interpolate_button.isEnabled()
    pick(panel, 1, 4)
    assert panel.interpolate_button.isEnabled()
    qtbot.mouseClick(panel.interpolate_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert not window.dialogs.errors, window.dialogs.error_text
    assert panel.strip.isVisible() and panel.strip.count() == 8
    frames = panel.frames
    np.testing.assert_allclose(frames[0], panel.samples[1], atol=1e-5)
    np.testing.assert_allclose(frames[-1], panel.samples[4], atol=1e-5)
    span = np.abs(frames[-1] - frames[0]).mean()
    assert span > 0.02
    assert min(np.abs(frames[3] - frames[0]).mean(), np.abs(frames[3] - frames[-1]).mean()) > 0.1 * span, \
        "the middle is neither end"

    panel.strip.item(3).setSelected(True)  # a frame is a picture to use like the others
    assert not panel.grid.selectedItems()
    qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    np.testing.assert_array_equal(window.doc.image, frames[3])


def test_generation_can_be_cancelled(qtbot, window, tiny_gans, monkeypatch):
    import torch.nn as nn

    from desktop_app.gui.panels import generate as generate_module

    class Slow(nn.Module):
        """The tiny GAN, a tenth of a second per batch."""

        def __init__(self, inner):
            super().__init__()
            self.inner, self.latent_dim, self.num_classes = inner, inner.latent_dim, inner.num_classes

        def sample(self, z, labels=None):
            time.sleep(0.1)
            return self.inner.sample(z, labels)

    monkeypatch.setattr(generate_module, "_load_generator", lambda model_id, device: Slow(tiny_gans))
    panel = show_panel(window)
    choose_model(panel, "Tiny GAN (yours)")
    panel.count.setValue(64)
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    assert panel.busy_box.isVisible() and not panel.generate_button.isEnabled()
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert "cancelled" in window.statusBar().currentMessage()
    assert panel.grid.count() == 0 and not panel.busy_box.isVisible() and panel.generate_button.isEnabled()


def test_the_window_starts_and_lists_generators_without_torch(tmp_path):
    """Torch takes over a second to import: neither start-up nor showing the Generate tab
    (which lists the installed generators) may wait for it on the GUI thread."""
    code = ("import sys\n"
            "from PySide6.QtWidgets import QApplication\n"
            "app = QApplication([])\n"
            "from desktop_app.gui.main_window import MainWindow\n"
            "w = MainWindow(); w.show(); app.processEvents()\n"
            "w.generate_panel.refresh_models(); app.processEvents()\n"
            "print('torch' in sys.modules)\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DESKTOP_APP_DATA_DIR=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr
