"""Edit > Preferences: the settings a user may want to change after the first time."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QSpinBox, QWidget

from desktop_app.core.models.device import DEVICE_CHOICES, available_devices
from desktop_app.gui.settings import Settings


class PreferencesDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = settings
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(settings.get("save/jpeg_quality", int) or 92)
        self.quality.setToolTip("Quality of JPEG and WebP files (higher: larger files, fewer artefacts)")
        self.device = QComboBox()
        found = set(available_devices())
        for name in DEVICE_CHOICES:
            label = {"auto": "Automatic (GPU when there is one)", "cpu": "CPU", "cuda": "NVIDIA GPU (CUDA)",
                     "mps": "Apple GPU (MPS)"}[name]
            if name != "auto" and name not in found:
                label += " - not available"
            self.device.addItem(label, name)
        self.device.setCurrentIndex(max(0, self.device.findData(settings.get("device", str))))
        self.device.setToolTip("Where the neural models run")
        self.autosave = QSpinBox()
        self.autosave.setRange(5, 3600)
        self.autosave.setSuffix(" s")
        self.autosave.setValue(settings.get("autosave/seconds", int))
        self.autosave.setToolTip("How often unsaved edits are kept for crash recovery")
        self.history = QSpinBox()
        self.history.setRange(128, 65536)
        self.history.setSingleStep(256)
        self.history.setSuffix(" MiB")
        self.history.setValue(settings.get("history/mib", int))
        self.history.setToolTip("Memory the undo history may hold; the oldest steps are forgotten beyond it")
        form = QFormLayout(self)
        form.addRow("JPEG / WebP quality", self.quality)
        form.addRow("Compute device", self.device)
        form.addRow("Autosave every", self.autosave)
        form.addRow("Undo memory", self.history)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def store(self) -> None:
        self.settings.set("save/jpeg_quality", self.quality.value())
        self.settings.set("device", self.device.currentData())
        self.settings.set("autosave/seconds", self.autosave.value())
        self.settings.set("history/mib", self.history.value())
