"""The mask panel: brush size and hardness, paint or erase, clear / invert / feather,
overlay colour and opacity, mask file load and save."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QColorDialog, QFormLayout, QGridLayout, QHBoxLayout, QPushButton,
                               QRadioButton, QSlider, QSpinBox, QVBoxLayout, QWidget)

from desktop_app.core.brush import BrushSettings
from desktop_app.gui.icons import icon


class MaskPanel(QWidget):
    brushChanged = Signal()
    overlayChanged = Signal(QColor, float)
    clearRequested = Signal()
    invertRequested = Signal()
    featherRequested = Signal(int)
    growRequested = Signal(int)

    def __init__(self, brush: BrushSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.brush = brush
        self.size = QSpinBox()
        self.size.setObjectName("brush_size")
        self.size.setRange(int(BrushSettings.MIN_SIZE), int(BrushSettings.MAX_SIZE))
        self.size.setSuffix(" px")
        self.size.setToolTip("Brush diameter in pixels of this photo ([ and ] change it). The next photo gets a "
                             "brush of the same size relative to its shorter side.")
        self.hardness = QSlider(Qt.Orientation.Horizontal)
        self.hardness.setObjectName("brush_hardness")
        self.hardness.setRange(0, 100)
        self.hardness.setToolTip("Hard edge (100) or soft falloff (0): soft edges give soft mask values")
        self.paint = QRadioButton("Paint")
        self.erase = QRadioButton("Erase")
        self.erase.setToolTip("Erase mask (X toggles; hold Alt to erase while painting)")
        group = QButtonGroup(self)
        group.addButton(self.paint)
        group.addButton(self.erase)
        modes = QHBoxLayout()
        modes.addWidget(self.paint)
        modes.addWidget(self.erase)
        self.feather_px = QSpinBox()
        self.feather_px.setRange(1, 200)
        self.feather_px.setValue(8)
        self.feather_px.setSuffix(" px")
        feather = QPushButton(icon("fa5s.feather-alt"), "Feather")
        feather.setToolTip("Soften the mask edge by this many pixels")
        clear = QPushButton(icon("fa5s.eraser"), "Clear")
        clear.setObjectName("mask_clear")
        invert = QPushButton(icon("fa5s.adjust"), "Invert")
        self.grow_px = QSpinBox()
        self.grow_px.setRange(1, 500)
        self.grow_px.setValue(4)
        self.grow_px.setSuffix(" px")
        grow = QPushButton(icon("fa5s.expand-arrows-alt"), "Grow")
        grow.setToolTip("Grow the mask outward by this many pixels (Ctrl+Shift+])")
        shrink = QPushButton(icon("fa5s.compress-arrows-alt"), "Shrink")
        shrink.setToolTip("Shrink the mask inward by this many pixels (Ctrl+Shift+[)")
        self.tolerance = QSpinBox()
        self.tolerance.setObjectName("wand_tolerance")
        self.tolerance.setRange(0, 255)
        self.tolerance.setValue(32)
        self.tolerance.setToolTip("Magic wand: how different a colour may be (0-255) and still be taken")
        self.contiguous = QCheckBox("Contiguous")
        self.contiguous.setChecked(True)
        self.contiguous.setToolTip("Magic wand: only the region connected to the click, or every similar pixel")
        self.colour_button = QPushButton("Overlay colour")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(5, 100)
        self.opacity.setToolTip("Opacity of the mask overlay")
        self.colour = QColor(255, 40, 60)

        form = QFormLayout()
        form.addRow("Size (photo px)", self.size)
        form.addRow("Hardness", self.hardness)
        form.addRow("Mode", modes)
        grid = QGridLayout()
        grid.addWidget(self.feather_px, 0, 0)
        grid.addWidget(feather, 0, 1)
        grid.addWidget(clear, 1, 0)
        grid.addWidget(invert, 1, 1)
        growrow = QHBoxLayout()
        growrow.addWidget(self.grow_px)
        growrow.addWidget(grow)
        growrow.addWidget(shrink)
        wand = QHBoxLayout()
        wand.addWidget(self.tolerance)
        wand.addWidget(self.contiguous)
        overlay = QFormLayout()
        overlay.addRow(self.colour_button)
        overlay.addRow("Opacity", self.opacity)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(grid)
        layout.addLayout(growrow)
        wand_form = QFormLayout()
        wand_form.addRow("Wand tolerance", wand)
        layout.addLayout(wand_form)
        layout.addLayout(overlay)
        layout.addStretch(1)

        self.sync_from_brush()
        self.size.valueChanged.connect(self._to_brush)
        self.hardness.valueChanged.connect(self._to_brush)
        self.erase.toggled.connect(self._to_brush)
        feather.clicked.connect(lambda: self.featherRequested.emit(self.feather_px.value()))
        clear.clicked.connect(self.clearRequested)
        invert.clicked.connect(self.invertRequested)
        grow.clicked.connect(lambda: self.growRequested.emit(self.grow_px.value()))
        shrink.clicked.connect(lambda: self.growRequested.emit(-self.grow_px.value()))
        self.colour_button.clicked.connect(self._pick_colour)
        self.opacity.valueChanged.connect(lambda v: self.overlayChanged.emit(self.colour, v / 100))

    def wand_settings(self) -> tuple[int, bool]:
        return self.tolerance.value(), self.contiguous.isChecked()

    def sync_from_brush(self) -> None:
        for w in (self.size, self.hardness, self.erase):
            w.blockSignals(True)
        self.size.setValue(int(round(self.brush.size)))
        self.hardness.setValue(int(round(self.brush.hardness * 100)))
        self.erase.setChecked(self.brush.erase)
        self.paint.setChecked(not self.brush.erase)
        for w in (self.size, self.hardness, self.erase):
            w.blockSignals(False)

    def set_overlay(self, colour: QColor, opacity: float) -> None:
        self.colour = QColor(colour)
        self.colour_button.setStyleSheet(f"background-color: {self.colour.name()}; color: white;")
        self.opacity.blockSignals(True)
        self.opacity.setValue(int(round(opacity * 100)))
        self.opacity.blockSignals(False)

    def _to_brush(self) -> None:
        self.brush.size = float(self.size.value())
        self.brush.hardness = self.hardness.value() / 100
        self.brush.erase = self.erase.isChecked()
        self.brushChanged.emit()

    def _pick_colour(self) -> None:
        colour = QColorDialog.getColor(self.colour, self, "Mask overlay colour")
        if colour.isValid():
            self.set_overlay(colour, self.opacity.value() / 100)
            self.overlayChanged.emit(self.colour, self.opacity.value() / 100)
