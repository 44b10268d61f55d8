"""Edit > Preferences changes what the window does, and is remembered."""

from desktop_app.gui.dialogs.preferences import PreferencesDialog
from tests.gui.helpers import open_and_wait


def test_preferences_are_applied_and_remembered(qtbot, make_window, photo_path, settings_path):
    window = make_window()
    open_and_wait(qtbot, window, photo_path)
    dialog = PreferencesDialog(window.settings, window)
    qtbot.addWidget(dialog)
    dialog.quality.setValue(77)
    dialog.autosave.setValue(90)
    dialog.history.setValue(256)
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.store()
    window.apply_settings()

    assert window.autosave_timer.interval() == 90_000
    assert window.doc.history.cap_bytes == 256 << 20
    assert window.ops_panel.device() == "cpu"
    window.settings.sync()
    again = make_window()  # same settings file: a new start
    assert again.settings.get("save/jpeg_quality", int) == 77
    assert again.ops_panel.device() == "cpu"
    assert again.autosave_timer.interval() == 90_000


def test_device_box_shows_only_for_neural_operations(qtbot, window):
    window.ops_panel.select("denoise/nlmeans")
    assert window.ops_panel.device_box.isHidden()
    window.ops_panel.select("denoise/cnn")
    assert not window.ops_panel.device_box.isHidden()


def test_the_operation_last_run_comes_back_with_its_settings_at_the_next_start(qtbot, make_window, photo_path):
    from tests.gui.helpers import run_from_panel

    window = make_window()
    assert window.ops_panel.operation.key == "inpaint/remove"  # a first start: the headline job
    open_and_wait(qtbot, window, photo_path)
    window.ops_panel.select("inpaint/remove")
    window.ops_panel.form.autos["expand"].setChecked(False)
    window.ops_panel.form.widgets["expand"].setValue(14)  # set, not run
    run_from_panel(qtbot, window, "denoise/nlmeans", sigma=12.0, variant="rgb")
    assert not window.dialogs.errors, window.dialogs.error_text
    window.settings.sync()

    again = make_window()  # same settings file: a new start, before any photo is open
    panel = again.ops_panel
    assert panel.operation.key == "denoise/nlmeans"
    assert panel.form.values() == {"sigma": 12.0, "variant": "rgb"}
    panel.select("inpaint/remove")
    assert panel.form.values()["expand"] == 14 and not panel.form.autos["expand"].isChecked()


def test_remembered_settings_that_no_longer_fit_are_left_out(qtbot, make_window):
    window = make_window()
    window.settings.set_json("operations/last", {
        "current": "denoise/nlmeans",
        "values": {"denoise/nlmeans": {"sigma": "loud", "variant": "gone", "radius": 3},
                   "inpaint/remove": {"expand": "auto", "seed": 2}, "denoise/no-such-model": {"x": 1}}})
    window.settings.sync()
    again = make_window()
    panel = again.ops_panel
    assert panel.operation.key == "denoise/nlmeans"
    assert panel.form.values() == {"sigma": 25.0, "variant": "tuned"}  # the defaults where nothing fits
    panel.select("inpaint/remove")
    assert panel.form.values()["seed"] == 2 and panel.form.autos["expand"].isChecked()

    window.settings.set("operations/last", "{not json")
    window.settings.sync()
    assert make_window().ops_panel.operation.key == "inpaint/remove"  # a damaged entry: a first start
