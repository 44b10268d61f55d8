"""Models > Manage Library: import a model file, see it in the Operations panel, run it,
rename it, delete it after confirming; export a shipped one; refused files explained; the
window stays live while a model is imported."""

import json
import threading
import zipfile

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt, QTimer

from desktop_app.core.models import library, registry
from desktop_app.core.models.catalog import library_dir
from desktop_app.core.models.weights import Manifest, save_model
from desktop_app.core.operations.library import sync_library_operations
from desktop_app.gui.dialogs.library import DELETE, NAME_TAKEN
from tests.gui.helpers import panel_keys, run_from_panel

TINY = {"widths": [8, 16], "blocks": [1, 1]}


@pytest.fixture(autouse=True)
def _forget_library_operations():
    yield
    sync_library_operations()  # the next test's library is empty: its operations go


@pytest.fixture
def model_file(tmp_path):
    """A tiny denoiser as another machine would have saved it: mine.json beside mine.safetensors."""
    torch.manual_seed(0)
    model = registry.get("unet-denoise").create(**TINY).eval()
    save_model(model, tmp_path / "shared" / "mine.safetensors",
               Manifest(id="mine", title="mine", architecture="unet-denoise", task="denoise", hparams=TINY,
                        metrics={"val_psnr": 30.25}))
    return tmp_path / "shared" / "mine.json"


def click(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def open_library(window):
    window.act_library.trigger()
    dialog = window.library_dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def wait_for_job(qtbot, dialog):
    """Import and export run in a worker: the buttons come back when it has ended."""
    qtbot.waitUntil(dialog.import_button.isEnabled, timeout=30000)


def import_file(qtbot, window, dialog, path):
    window.dialogs.open_path = str(path)
    click(qtbot, dialog.import_button)
    wait_for_job(qtbot, dialog)


def row_of(dialog, name):
    return [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())].index(name)


def test_the_models_menu_opens_the_library_listing_shipped_models(window):
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert window.act_library in menus["Models"].actions()
    dialog = open_library(window)
    row = row_of(dialog, "cnn")
    assert [dialog.table.item(row, c).text() for c in range(1, 4)] == ["denoise", "unet-denoise", "shipped"]


def test_import_run_rename_and_delete(qtbot, opened, model_file):
    torch.set_num_threads(1)
    window = opened
    dialog = open_library(window)
    import_file(qtbot, window, dialog, model_file)
    assert window.dialogs.errors == []
    row = row_of(dialog, "mine")
    assert dialog.table.item(row, 3).text() == "your library" and dialog.table.item(row, 4).text() == "PSNR 30.25 dB"
    assert "denoise/mine" in panel_keys(window.ops_panel)

    before = window.doc.image.copy()
    run_from_panel(qtbot, window, "denoise/mine", timeout=60, sigma=25.0)
    assert window.dialogs.errors == [] and not np.allclose(window.doc.image, before)

    dialog.table.selectRow(row_of(dialog, "mine"))
    window.dialogs.texts = ["my-camera"]
    click(qtbot, dialog.rename_button)
    assert "my-camera" in dialog.names() and "mine" not in dialog.names()
    keys = panel_keys(window.ops_panel)
    assert "denoise/my-camera" in keys and "denoise/mine" not in keys
    assert (library_dir() / "my-camera.safetensors").is_file()

    dialog.table.selectRow(row_of(dialog, "my-camera"))
    click(qtbot, dialog.delete_button)  # the question is dismissed: nothing happens
    assert window.dialogs.asked(DELETE) == 1 and "my-camera" in dialog.names()
    window.dialogs.answers[DELETE] = "Delete"
    click(qtbot, dialog.delete_button)
    assert "my-camera" not in dialog.names() and "denoise/my-camera" not in panel_keys(window.ops_panel)
    assert not (library_dir() / "my-camera.safetensors").exists()


def test_a_taken_name_is_asked_about(qtbot, window, model_file):
    dialog = open_library(window)
    import_file(qtbot, window, dialog, model_file)
    import_file(qtbot, window, dialog, model_file)  # dismissed: nothing added
    assert window.dialogs.asked(NAME_TAKEN) == 1 and dialog.names().count("mine") == 1
    title, text, buttons = window.dialogs.questions[-1]
    assert "already a model in your library named 'mine'" in text
    assert buttons == ["Replace", "Keep Both (as mine-2)", "Cancel"]
    window.dialogs.answers[NAME_TAKEN] = "Keep Both (as mine-2)"
    import_file(qtbot, window, dialog, model_file)
    assert {"mine", "mine-2"} <= set(dialog.names())
    assert {"denoise/mine", "denoise/mine-2"} <= panel_keys(window.ops_panel)


def test_a_refused_file_is_explained_and_nothing_changes(qtbot, window, model_file):
    data = json.loads(model_file.read_text())
    data["sha256"] = "0" * 64
    model_file.write_text(json.dumps(data))
    dialog = open_library(window)
    names = dialog.names()
    import_file(qtbot, window, dialog, model_file)
    assert len(window.dialogs.errors) == 1
    title, message = window.dialogs.errors[0]
    assert title == "Import a model" and "does not match the checksum" in message
    assert dialog.names() == names and list(library_dir().iterdir()) == []


def test_shipped_models_can_only_be_exported(qtbot, window, tmp_path):
    dialog = open_library(window)
    dialog.table.selectRow(row_of(dialog, "cnn"))
    assert not dialog.rename_button.isEnabled() and not dialog.delete_button.isEnabled()
    window.dialogs.save_paths = [str(tmp_path / "cnn.zip")]
    click(qtbot, dialog.export_button)
    wait_for_job(qtbot, dialog)
    assert window.dialogs.errors == []
    assert dialog.status.text() == f"Exported 'cnn' to {tmp_path / 'cnn.zip'}."
    with zipfile.ZipFile(tmp_path / "cnn.zip") as z:
        assert sorted(z.namelist()) == ["cnn.json", "cnn.safetensors"]


def test_the_window_stays_live_while_a_model_is_imported(qtbot, window, model_file, monkeypatch):
    started, release = threading.Event(), threading.Event()
    import_threads = []
    real_import = library.import_model

    def slow_import(path, **kwargs):
        import_threads.append(threading.current_thread())
        started.set()
        assert release.wait(10), "the import was never released: the GUI thread was blocked"
        return real_import(path, **kwargs)

    monkeypatch.setattr(library, "import_model", slow_import)
    dialog = open_library(window)
    dialog.table.selectRow(row_of(dialog, "cnn"))
    window.dialogs.open_path = str(model_file)
    click(qtbot, dialog.import_button)
    assert started.wait(10)
    assert import_threads[0] is not threading.main_thread()
    buttons = (dialog.rename_button, dialog.delete_button, dialog.export_button, dialog.import_button)
    assert not any(b.isEnabled() for b in buttons)
    assert dialog.status.text() == "Importing mine.json..."

    ticks = []
    QTimer.singleShot(0, lambda: ticks.append("tick"))
    qtbot.waitUntil(lambda: ticks == ["tick"], timeout=5000)  # events run while the import waits
    assert not dialog.import_button.isEnabled() and "mine" not in dialog.names()

    dialog.close()  # the import goes on; what it adds still reaches the panels
    assert not dialog.isVisible()
    release.set()
    qtbot.waitUntil(lambda: "denoise/mine" in panel_keys(window.ops_panel), timeout=30000)
    wait_for_job(qtbot, dialog)
    assert window.dialogs.errors == [] and "mine" in dialog.names()
    assert dialog.status.text() == "Imported mine.json as 'mine'."
    assert dialog.selected.manifest.id == "mine" and dialog.rename_button.isEnabled()


def test_metrics_read_as_plain_words_in_columns_that_fit(qtbot, window, model_file):
    from desktop_app.core.models.catalog import library_dir

    torch.manual_seed(0)
    from desktop_app.core.models import registry as archs

    gan = archs.get("gan").create(size=32, latent_dim=16, width=8, max_width=32).eval()
    save_model(gan, library_dir() / "my-gan.safetensors",
               Manifest(id="my-gan", title="my-gan", architecture="gan", task="generate",
                        hparams={"size": 32, "latent_dim": 16, "width": 8, "max_width": 32},
                        metrics={"val_neg_swd_all": -69.825, "val_neg_swd": -69.825, "step": 4500}))
    dialog = open_library(window)
    dialog.refresh()
    qtbot.waitExposed(dialog)
    column = dialog.table.columnCount() - 1
    texts = {dialog.table.item(r, 0).text(): dialog.table.item(r, column).text() for r in range(dialog.table.rowCount())}
    assert texts["my-gan"] == "SWD 69.8 (lower is closer to the photos) at step 4500"
    assert all("val_" not in t and "neg" not in t for t in texts.values()), texts
    # every cell and header is shown whole
    metrics = dialog.table.fontMetrics()
    header = dialog.table.horizontalHeader()
    for c in range(dialog.table.columnCount()):
        words = [dialog.table.horizontalHeaderItem(c).text()] + [dialog.table.item(r, c).text()
                                                                 for r in range(dialog.table.rowCount())]
        assert header.sectionSize(c) >= max(metrics.horizontalAdvance(w) for w in words), (c, words)
