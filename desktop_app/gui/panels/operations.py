"""The model panel: operations grouped by category, a form built from the chosen
operation's parameter schema, Run / Cancel, progress and elapsed time."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QEvent, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCursor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout,
                               QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea, QSpinBox,
                               QToolButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from desktop_app.core.models.device import DEVICE_CHOICES, available_devices
from desktop_app.core.operations import AUTO, Operation, Param, registry
from desktop_app.core.work import Pace, Progress
from desktop_app.gui.icons import icon
from desktop_app.gui.scrolling import scrolling
from desktop_app.gui.theme import rest_progress, wrapped

ROLE_KEY = 256  # Qt.UserRole


class ParamForm(QWidget):
    """Widgets for a parameter schema; `values()` reads them back."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.widgets: dict[str, QWidget] = {}
        self.autos: dict[str, QCheckBox] = {}

    def set_params(self, params: tuple[Param, ...], values: dict[str, Any] | None = None) -> None:
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.widgets.clear()
        self.autos.clear()
        values = values or {}
        for p in params:
            value = values.get(p.name, p.default)
            if p.choices:
                w = QComboBox()
                w.addItems(list(p.choices))
                w.setCurrentText(str(value))
            elif p.kind is bool:
                w = QCheckBox()
                w.setChecked(bool(value))
            elif p.kind is int:
                w = QSpinBox()
                w.setRange(int(p.minimum if p.minimum is not None else -10**6),
                           int(p.maximum if p.maximum is not None else 10**6))
                w.setSingleStep(int(p.step or 1))
                w.setValue(int(value) if value != AUTO else int(p.manual if p.manual is not None else w.minimum()))
            else:
                w = QDoubleSpinBox()
                w.setRange(float(p.minimum if p.minimum is not None else -1e9),
                           float(p.maximum if p.maximum is not None else 1e9))
                w.setSingleStep(float(p.step or 0.1))
                w.setDecimals(0 if (p.step or 0.1) >= 1 else 2)
                w.setValue(float(value) if value != AUTO else float(p.manual if p.manual is not None else w.minimum()))
            w.setToolTip(wrapped(p.description))
            w.setObjectName(f"param_{p.name}")
            self.widgets[p.name] = w
            row: QWidget = w
            if p.allow_auto:
                box = QWidget()
                lay = QHBoxLayout(box)
                lay.setContentsMargins(0, 0, 0, 0)
                auto = QCheckBox("auto")
                auto.setToolTip("Estimate this from the image")
                auto.setChecked(value == AUTO)
                auto.toggled.connect(w.setDisabled)
                w.setDisabled(value == AUTO)
                lay.addWidget(w, 1)
                lay.addWidget(auto)
                self.autos[p.name] = auto
                row = box
            label = QLabel(p.title)
            label.setToolTip(wrapped(p.description))
            self.layout_.addRow(label, row)

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, w in self.widgets.items():
            if name in self.autos and self.autos[name].isChecked():
                out[name] = AUTO
            elif isinstance(w, QComboBox):
                out[name] = w.currentText()
            elif isinstance(w, QCheckBox):
                out[name] = w.isChecked()
            else:
                out[name] = w.value()
        return out


class VariationStrip(QWidget):
    """Thumbnails of the fills an operation produced (one per seed); clicking one applies it
    in place of the one shown."""

    chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("")
        self.label.setWordWrap(True)  # two lines in a narrow dock rather than a wider panel
        # the thumbnails scroll sideways in a narrow dock instead of widening the whole panel
        # (which pushed the form's text and the status out of view)
        row = QWidget()
        # the one in the photo framed in the highlight colour (the style's own checked look is
        # hardly visible on some styles)
        row.setStyleSheet("QToolButton { border: 2px solid transparent; border-radius: 4px; padding: 2px; }"
                          "QToolButton:checked { border-color: palette(highlight); background: palette(base); }"
                          "QToolButton:hover:!checked { border-color: palette(mid); }")
        self.row = QHBoxLayout(row)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.addStretch(1)
        scroller = QScrollArea()
        scroller.setWidget(row)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroller = scroller
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(scroller)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.group.idClicked.connect(self.chosen)
        self.buttons: list[QToolButton] = []
        self.hide()

    def show_variations(self, thumbs: list[QImage], labels: list[str], tips: list[str] | None = None,
                        current: int = 0) -> None:
        """One button per fill, `labels` under the thumbnails, `tips` (what each one is) over them."""
        for b in self.buttons:
            self.group.removeButton(b)
            b.deleteLater()
        self.buttons = []
        tips = tips or [text.replace("\n", ": ") for text in labels]
        for i, (thumb, text, tip) in enumerate(zip(thumbs, labels, tips)):
            b = QToolButton()
            b.setObjectName(f"variation_{i}")
            b.setCheckable(True)
            b.setIcon(QIcon(QPixmap.fromImage(thumb)))
            b.setText(text)
            b.setToolTip(f"Use {tip[0].lower()}{tip[1:]}")  # "Use seed 2: the photo's own patches deep ..."
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            small = b.font()  # a size smaller: three labels side by side in a first-start dock
            small.setPointSizeF(small.pointSizeF() * 0.9)
            b.setFont(small)
            self.group.addButton(b, i)
            self.row.insertWidget(i, b)
            self.buttons.append(b)
        self._fit_icons()
        wide = sum(b.sizeHint().width() for b in self.buttons) + self.row.spacing() * (len(self.buttons) - 1)
        bar = self.scroller.horizontalScrollBar().sizeHint().height() if wide > self.width() else 0
        self.scroller.setFixedHeight(self.scroller.widget().sizeHint().height() + bar)  # room for a bar if needed
        self.label.setText(f"{len(self.buttons)} variations: click one to use it")
        self.label.setToolTip("The , and . keys step to the previous and next one (Operations menu)")
        self.set_current(current)
        self.show()

    # px: the thumbnails' side, as the dock's width allows; the strip stays below Run in a
    # first-start dock of about 340 px, with the outcome and room for the list above
    ICON_MAX, ICON_MIN = 64, 48

    def _fit_icons(self) -> None:
        """Thumbnails as large as lets all of them show side by side in the dock's width (a
        first-start dock is about 250 px wide), scrolling only below ICON_MIN."""
        if not self.buttons:
            return
        n, gap = len(self.buttons), self.row.spacing()
        room = (max(self.width(), 1) - gap * (n - 1)) // n - 14  # the button's frame and padding
        side = max(self.ICON_MIN, min(self.ICON_MAX, room))
        for b in self.buttons:
            b.setIconSize(QSize(side, side))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_icons()

    def set_current(self, index: int) -> None:
        if 0 <= index < len(self.buttons):
            self.buttons[index].setChecked(True)

    def clear(self) -> None:
        self.hide()


def fitting_values(params: tuple[Param, ...], values: dict[str, Any]) -> dict[str, Any]:
    """Of remembered `values`, those the form can show for `params`: a setting an operation no
    longer has, or a value it no longer takes (another version of the app), is left out."""
    by_name = {p.name: p for p in params}
    return {n: v for n, v in values.items() if n in by_name and _takes(by_name[n], v)}


def _takes(p: Param, value: Any) -> bool:
    if value == AUTO:
        return p.allow_auto
    if p.choices:
        return value in p.choices
    if p.kind is bool:
        return isinstance(value, bool)
    if p.kind is str:
        return isinstance(value, str)
    if p.kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class DeviceBox(QComboBox):
    """A combo box that fills its list just before it first opens."""

    def __init__(self, fill, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fill = fill

    def showPopup(self) -> None:
        self._fill()
        super().showPopup()


class OperationPanel(QWidget):
    runRequested = Signal(object, dict, bool)  # Operation, params, inside mask only
    cancelRequested = Signal()
    deviceChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setObjectName("operations")
        self.tree.setMinimumHeight(100)  # about six rows: it scrolls, and gives the form the height
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setStyleSheet("color: palette(mid);")
        self.form = ParamForm()
        self.device_box = DeviceBox(self._list_devices)
        self.device_box.setObjectName("device")
        self.device_box.setToolTip("Where neural models run: automatic picks the GPU when there is one")
        self.device_box.addItem("Device: automatic", "auto")
        # the GPUs are listed when the list is first opened: finding them imports torch,
        # which the window must not wait for at start-up (a neural operation is shown first)
        self._devices_listed = False
        self._wanted_device = "auto"
        self.device_box.currentIndexChanged.connect(lambda _: self.deviceChanged.emit(self.device()))
        self.inside_mask = QCheckBox("Inside mask only")
        self.inside_mask.setToolTip("Apply the operation only where the mask is painted, blending soft edges")
        self.run_button = QPushButton(icon("fa5s.play"), "Run")
        self.run_button.setObjectName("run")
        self.run_button.setToolTip("Run the operation (Ctrl+R)")
        self.cancel_button = QPushButton(icon("fa5s.stop"), "Cancel")
        self.cancel_button.setObjectName("cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.status = QLabel("Ready")
        self.status.setObjectName("op_status")
        self.status.setWordWrap(True)  # a run's outcome may say what it did (how far a hole grew)
        self.variations = VariationStrip()
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        # the list and the form scroll; Run, the progress, the outcome and the variations stay
        # in view below them (in a first-start dock the form pushed Run out of sight)
        choice = QWidget()
        upper = QVBoxLayout(choice)
        upper.setContentsMargins(0, 0, 0, 0)
        upper.addWidget(self.tree, 2)
        upper.addWidget(self.title)
        upper.addWidget(self.form)
        upper.addWidget(self.device_box)
        upper.addWidget(self.inside_mask)
        upper.addWidget(self.description)  # below the settings: on a short dock the help may scroll, they not
        upper.addStretch(1)
        self.choice_area = scrolling(choice)
        self.choice_area.installEventFilter(self)  # shortened (the variations came): the form stays in view
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.choice_area, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.variations)
        self._values: dict[str, dict[str, Any]] = {}
        self._current: Operation | None = None
        self._started = 0.0
        self._pace = Pace()
        self._timer = QTimer(self)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self._tick)
        self._last_message = ""
        self.tree.currentItemChanged.connect(self._on_select)
        # the settings come into view once the pointer has left the list (looked for every 150
        # ms: enter and leave events do not always arrive, without a window manager for one)
        self._form_view_wait = QTimer(self)
        self._form_view_wait.setInterval(150)
        self._form_view_wait.timeout.connect(self._bring_form_into_view)
        self.run_button.clicked.connect(self._run)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.populate()

    def populate(self) -> None:
        self.tree.clear()
        first = None
        for category, ops in registry.by_category().items():  # in the registry's order
            parent = QTreeWidgetItem([category])
            parent.setFlags(parent.flags() & ~parent.flags().ItemIsSelectable)
            self.tree.addTopLevelItem(parent)
            mixed = len({op.task for op in ops}) > 1  # "Your models": say which does what
            for op in ops:
                label = op.title + (f"  ({op.task})" if mixed else "") + (f" - {op.note}" if op.note else "")
                item = QTreeWidgetItem([label])
                item.setData(0, ROLE_KEY, op.key)
                item.setToolTip(0, wrapped(op.description))
                parent.addChild(item)
                first = first or item
            parent.setExpanded(True)
        if first is not None:
            self.tree.setCurrentItem(first)

    @property
    def operation(self) -> Operation | None:
        return self._current

    def select(self, key: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            parent = self.tree.topLevelItem(i)
            for j in range(parent.childCount()):
                if parent.child(j).data(0, ROLE_KEY) == key:
                    self.tree.setCurrentItem(parent.child(j))
                    return
        raise KeyError(key)

    def _on_select(self, item: QTreeWidgetItem | None, _prev=None) -> None:
        key = item.data(0, ROLE_KEY) if item is not None else None
        if not key:
            return
        if self._current is not None:
            self._values[self._current.key] = self.form.values()
        op = registry.get(key)
        self._current = op
        self.title.setText(f"<b>{op.title}</b>")
        self.description.setText(op.description)
        self.form.set_params(op.params, self._values.get(key))
        self.device_box.setVisible(op.uses_device)
        self.inside_mask.setEnabled(not op.fills_mask)
        self.inside_mask.setToolTip("Inpainting always fills the mask" if op.fills_mask else
                                    "Apply the operation only where the mask is painted")
        QTimer.singleShot(0, self._bring_form_into_view)  # once the new form is laid out

    def _bring_form_into_view(self) -> None:
        """Scroll the list and form so the chosen operation's settings show whole, its row in the
        list still in view: on a 768-px screen the form lay below the fold, and a user had to
        scroll to find Best quality or Keep fine texture. Where the area is too short for both
        (variations shown below Run), the settings win, from their title down."""
        if self._pointer_on_list():
            # not while the pointer is on the list: scrolled under it, the next click took the
            # row that moved there (Telea for Remove object); once it leaves, towards the form
            self._form_view_wait.start()
            return
        self._form_view_wait.stop()
        area = self.choice_area
        area.ensureWidgetVisible(self.inside_mask, 0, 4)
        area.ensureWidgetVisible(self.title, 0, 4)  # the top of the settings, if they do not fit whole
        item = self.tree.currentItem()
        if item is None:
            return

        def top(widget: QWidget, y: int = 0) -> int:  # in the scrolled area's widget
            return widget.mapTo(area.widget(), QPoint(0, y)).y()

        def row_top() -> int:
            return top(self.tree.viewport(), self.tree.visualItemRect(item).top())

        shown_from = area.verticalScrollBar().value()
        if row_top() < shown_from:  # the row scrolled out above: the list scrolls it down
            self.tree.scrollToItem(item, QAbstractItemView.ScrollHint.PositionAtBottom)
        settings_end = top(self.inside_mask) + self.inside_mask.height()
        if row_top() < shown_from and settings_end - row_top() <= area.viewport().height():
            # the list cannot scroll that far and there is room for both: the area goes back up to it
            height = self.tree.visualItemRect(item).height()
            area.ensureVisible(0, row_top() + height // 2, 0, height)

    def _pointer_on_list(self) -> bool:
        viewport = self.tree.viewport()
        return viewport.isVisible() and viewport.rect().contains(viewport.mapFromGlobal(QCursor.pos()))

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        """The list and form's area grew shorter (three variations took 125 px below Run in a
        first-start dock): it scrolls to keep the settings in view, as a new choice does;
        otherwise the list kept its place and the form went out of sight below it."""
        if (obj is self.choice_area and event.type() == QEvent.Type.Resize
                and event.size().height() < event.oldSize().height()):
            QTimer.singleShot(0, self._bring_form_into_view)
        return super().eventFilter(obj, event)

    # -- what the next start shows -----------------------------------------------------------
    def remembered(self) -> dict[str, Any]:
        """The operation shown and each operation's settings as last set, for the next start."""
        if self._current is not None:
            self._values[self._current.key] = self.form.values()
        return {"current": self._current.key if self._current is not None else None,
                "values": {k: dict(v) for k, v in self._values.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        """Show what `remembered` gave at the last start: settings an operation no longer has, or
        values it no longer takes (another version, a model since removed), are left out."""
        ops = {op.key: op for op in registry.all_operations()}
        for key, values in (state.get("values") or {}).items():
            if key in ops and isinstance(values, dict):
                self._values[key] = fitting_values(ops[key].params, values)
        if self._current is not None:  # the form shown first gets its remembered values too
            self.form.set_params(self._current.params, self._values.get(self._current.key))
        if state.get("current") in ops and state["current"] != getattr(self._current, "key", None):
            self.select(state["current"])

    def _list_devices(self) -> None:
        if self._devices_listed:
            return
        self._devices_listed = True
        self.device_box.blockSignals(True)
        for name in DEVICE_CHOICES[1:]:
            if name in available_devices():  # imports torch: only once a neural operation is shown
                self.device_box.addItem({"cpu": "Device: CPU", "cuda": "Device: GPU (CUDA)",
                                         "mps": "Device: GPU (Apple)"}[name], name)
        self.device_box.blockSignals(False)
        self.set_device(self._wanted_device)

    def device(self) -> str:
        if not self._devices_listed:
            return self._wanted_device
        return self.device_box.currentData() or "auto"

    def set_device(self, name: str) -> None:
        self._wanted_device = name or "auto"
        index = self.device_box.findData(self._wanted_device)
        self.device_box.blockSignals(True)
        self.device_box.setCurrentIndex(max(0, index))
        self.device_box.blockSignals(False)

    def _run(self) -> None:
        if self._current is not None:
            self.runRequested.emit(self._current, self.form.values(),
                                   self.inside_mask.isChecked() and not self._current.fills_mask)

    # -- state shown while work runs -------------------------------------------------------
    def set_running(self, running: bool, message: str = "") -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self._started = time.perf_counter()
            self._pace = Pace()
            self._last_message = message
            self.progress.setValue(0)
            self._timer.start()
        else:
            self._timer.stop()
            rest_progress(self.progress)
        self._tick()
        if not running and message:
            self.status.setText(message)

    def show_progress(self, p: Progress) -> None:
        if p.fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(p.fraction * 1000))
        self._pace.update(p.fraction, time.perf_counter())
        self._last_message = p.message
        self._tick()

    def _tick(self) -> None:
        if self._timer.isActive():
            left = self.time_left_text()
            self.status.setText(f"{self._last_message}  {time.perf_counter() - self._started:.1f} s"
                                + (f", {left}" if left else ""))

    def time_left_text(self) -> str:
        """"about 15 s left" while a job runs at a pace the bar shows, else ""."""
        return self._pace.text(time.perf_counter()) if self._timer.isActive() else ""
