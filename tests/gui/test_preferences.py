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
