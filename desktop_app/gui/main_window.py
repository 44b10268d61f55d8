"""The main window: canvas in the middle, panels at the side, every slow thing in the job
runner's worker. The window lays things out and wires them; the work is done by small
controllers, each in its own file:

- `jobs.JobRunner`: one job at a time, its progress, the one apply-result path;
- `file_actions.FileActions`: open, save, mask files, the unsaved-changes question;
- `edit_actions.EditActions`: undo/redo, mask commands, the brush;
- `selection_tools.SelectionTools`: box select with hints, magic wand;
- `operation_runs.OperationRuns`: operations, variations, pasted pictures;
- `autosave.Autosave`: background autosave and crash recovery;
- `prompts.Prompts`: every message box (tests answer them);
- `menus.make_actions`: actions, menus, toolbar.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QColor, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QProgressBar

from desktop_app import APP_NAME
from desktop_app.core.document import Document
from desktop_app.core.work import Progress
from desktop_app.gui.autosave import Autosave
from desktop_app.gui.canvas import ImageCanvas
from desktop_app.gui.edit_actions import EditActions
from desktop_app.gui.file_actions import FileActions
from desktop_app.gui.icons import icon
from desktop_app.gui.jobs import JobRunner
from desktop_app.gui.menus import make_actions
from desktop_app.gui.operation_runs import OperationRuns, Variations
from desktop_app.gui.panels.generate import GeneratePanel
from desktop_app.gui.panels.history import HistoryPanel
from desktop_app.gui.panels.mask import MaskPanel
from desktop_app.gui.panels.operations import OperationPanel
from desktop_app.gui.prompts import Prompts
from desktop_app.gui.selection_tools import SelectionTools
from desktop_app.gui.settings import Settings
from desktop_app.gui.scrolling import scrolling
from desktop_app.gui.theme import rest_progress
from desktop_app.gui.workers import WorkerThread


class MainWindow(Prompts, QMainWindow):
    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.doc: Document | None = None
        self.training_dialog = None  # made on first use (Models > Train / Fine-tune)
        self.library_dialog = None  # likewise (Models > Manage Library)
        self.batch_dialog = None  # likewise (File > Batch)
        self.setAcceptDrops(True)
        self.setWindowIcon(icon("fa5s.magic"))

        self.canvas = ImageCanvas()
        self.setCentralWidget(self.canvas)
        self.canvas.brush.size = self.settings.get("brush/size", float)
        self.canvas.brush.hardness = self.settings.get("brush/hardness", float)
        self.canvas.set_overlay_style(QColor(self.settings.get("overlay/colour", str)),
                                      self.settings.get("overlay/opacity", float))

        self.runner = JobRunner(self)
        self.files, self.edits = FileActions(self), EditActions(self)
        self.selection, self.runs = SelectionTools(self), OperationRuns(self)
        self.autosave = Autosave(self)

        self.ops_panel = OperationPanel()
        self.mask_panel = MaskPanel(self.canvas.brush)
        self.mask_panel.set_overlay(self.canvas.overlay_colour, self.canvas.overlay_opacity)
        self.mask_panel.tolerance.setValue(self.settings.get("wand/tolerance", int))
        self.history_panel = HistoryPanel()
        self.generate_panel = GeneratePanel(self.runner.start, lambda: self.ops_panel.device())
        self.docks: dict[str, QDockWidget] = {}
        for name, title, widget in (("operations", "Operations", self.ops_panel),
                                    ("mask", "Mask / Brush", self.mask_panel),
                                    ("history", "History", self.history_panel),
                                    ("generate", "Generate", self.generate_panel)):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{name}")
            # History is a list, Operations scrolls its own list and form, Generate its grid: the
            # buttons under them stay in view; the mask panel scrolls whole
            dock.setWidget(scrolling(widget) if name == "mask" else widget)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            self.docks[name] = dock
        # a tab behind the operations; it lists the models (and so imports torch) when it comes into view
        self.tabifyDockWidget(self.docks["operations"], self.docks["generate"])
        self.docks["operations"].raise_()
        self.docks["generate"].visibilityChanged.connect(lambda shown: shown and self.generate_panel.refresh_models())

        self.job_label = QLabel("")
        self.job_progress = QProgressBar()
        self.job_progress.setMaximumWidth(160)
        self.job_progress.setTextVisible(False)
        self.job_progress.hide()
        self.zoom_label, self.pos_label, self.size_label = QLabel(""), QLabel(""), QLabel("")
        self.pos_label.setMinimumWidth(220)
        self.size_label.setMinimumWidth(150)
        self.zoom_label.setMinimumWidth(50)
        for w in (self.job_label, self.job_progress, self.pos_label, self.size_label, self.zoom_label):
            self.statusBar().addPermanentWidget(w)

        make_actions(self)
        self._connect()
        self.update_title()
        self.update_actions()

        geometry = self.settings.get("window/geometry", QByteArray)
        if geometry:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 760)
        state = self.settings.get("window/state", QByteArray)
        if state:
            self.restoreState(state)
        else:  # first start: the operations' form, Run and the variations get the height, the history little
            self.resizeDocks([self.docks[n] for n in ("operations", "mask", "history")], [600, 220, 80],
                             Qt.Orientation.Vertical)
        self.apply_settings()
        last = self.settings.get_json("operations/last")
        if isinstance(last, dict):  # the operation last run, with the settings it ran with
            self.ops_panel.restore(last)

    def _connect(self) -> None:
        self.canvas.zoomChanged.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.canvas.cursorMoved.connect(self._show_cursor)
        self.canvas.strokeFinished.connect(self.refresh_history)
        self.canvas.boxDrawn.connect(self.selection.box_select)
        self.canvas.wandClicked.connect(self.selection.magic_wand)
        self.canvas.hintDrawn.connect(self.selection.refine_selection)
        self.canvas.maskEditStarted.connect(lambda: self.set_overlay_visible(True))
        self.runner.progress.connect(self._show_progress)
        self.runner.busyChanged.connect(self._busy_changed)
        self.ops_panel.runRequested.connect(self.run_operation)
        self.ops_panel.runRequested.connect(lambda *_: self.remember_operations())
        self.ops_panel.deviceChanged.connect(lambda d: self.settings.set("device", d))
        self.ops_panel.cancelRequested.connect(self.cancel_job)
        self.ops_panel.variations.chosen.connect(self.choose_variation)
        self.history_panel.positionRequested.connect(self.edits.go_to_history)
        self.generate_panel.openRequested.connect(self.open_generated)
        self.generate_panel.pasteRequested.connect(self.paste_generated)
        m = self.mask_panel
        m.brushChanged.connect(self.edits.brush_changed)
        m.overlayChanged.connect(self._overlay_changed)
        m.clearRequested.connect(self.edits.clear_mask)
        m.invertRequested.connect(self.edits.invert_mask)
        m.featherRequested.connect(self.edits.feather_mask)
        m.growRequested.connect(self.edits.grow_mask_by)
        for signal in (m.clearRequested, m.invertRequested, m.featherRequested, m.growRequested,
                       self.ops_panel.variations.chosen, self.history_panel.positionRequested):
            signal.connect(self.focus_canvas)  # the tool keys work again at once

    # -- the commands tests, the self-test and other windows call -------------------------
    def open_path(self, path: str) -> WorkerThread | None:
        return self.files.open_path(path)

    def save(self) -> WorkerThread | None:
        return self.files.save()

    def save_as(self) -> WorkerThread | None:
        return self.files.save_as()

    def save_to(self, path: Path) -> WorkerThread | None:
        return self.files.save_to(Path(path))

    def run_operation(self, op, params: dict, inside_mask: bool) -> WorkerThread | None:
        return self.runs.run(op, params, inside_mask)

    def choose_variation(self, index: int) -> WorkerThread | None:
        return self.runs.choose(index)

    def paste_generated(self, picture: np.ndarray, what: str = "a generated picture") -> WorkerThread | None:
        return self.runs.paste_generated(picture, what)

    def open_generated(self, picture: np.ndarray, what: str = "a generated picture") -> Document | None:
        return self.files.new_from_picture(picture, what)

    def undo(self) -> WorkerThread | None:
        return self.edits.undo()

    def redo(self) -> WorkerThread | None:
        return self.edits.redo()

    def grow_mask(self, sign: int) -> WorkerThread | None:
        return self.edits.grow_mask(sign)

    def set_tool(self, tool: str) -> None:
        self.selection.set_tool(tool)

    def offer_recovery(self) -> Document | None:
        return self.autosave.offer_recovery()

    @property
    def variations(self) -> Variations | None:
        return self.runs.variations

    def clear_variations(self) -> None:
        self.runs.clear_variations()

    # -- jobs -------------------------------------------------------------------------------
    @property
    def job(self) -> WorkerThread | None:
        return self.runner.job

    @property
    def busy(self) -> bool:
        return self.runner.busy

    def cancel_job(self) -> None:
        self.runner.cancel()

    def _busy_changed(self, busy: bool) -> None:
        self.ops_panel.set_running(busy, self.job.title if busy and self.job else self.runner.outcome)
        if not busy:
            rest_progress(self.job_progress)
        self.job_progress.setVisible(busy)
        if not busy:
            self.job_label.setText("")
            self.focus_canvas()
        self.update_actions()

    def _show_progress(self, p: Progress) -> None:
        """Progress in the panel and in the status bar, seen whatever tab is in front."""
        self.ops_panel.show_progress(p)
        left = self.ops_panel.time_left_text()
        self.job_label.setText(p.message + (f", {left}" if left else ""))
        if p.fraction is None:
            self.job_progress.setRange(0, 0)
        else:
            self.job_progress.setRange(0, 1000)
            self.job_progress.setValue(int(p.fraction * 1000))

    def focus_canvas(self, *_) -> None:
        """Keyboard focus back where the hands are: the tool keys (B, M, W, X, [ ]) reach
        the canvas, not a number box the last click left focused."""
        if self.isActiveWindow() or self.isVisible():
            self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- the document -----------------------------------------------------------------------
    def set_document(self, doc: Document, path: str | None, display=None, name: str | None = None) -> None:
        self.doc = doc
        self.runs.clear_variations()
        self.selection.last_box = None
        doc.history.cap_bytes = self.settings.get("history/mib", int) << 20
        doc.subscribe(self._on_doc_change)
        self.autosave.new_document()
        self.canvas.set_document(doc, display)
        self.edits.fit_brush_to(doc)
        if path:
            self.files.remember(Path(path))
        self.size_label.setText(f"{doc.width} x {doc.height}  {doc.image.shape[2]}ch "
                                f"{getattr(doc.meta, 'bit_depth', 8)}-bit")
        notes = getattr(doc.meta, "notes", None)
        shown = name or (Path(path).name if path else "an untitled picture")
        self.statusBar().showMessage(f"Opened {shown}" + (f" ({'; '.join(notes)})" if notes else ""), 6000)
        self.refresh_history()
        self.focus_canvas()

    def _on_doc_change(self, what: str, box) -> None:
        self.autosave.document_changed(what)
        if what == "history":
            self.refresh_history()

    def refresh_history(self) -> None:
        self.history_panel.refresh(self.doc)
        self.update_title()
        self.update_actions()

    def update_title(self) -> None:
        if self.doc is None:
            self.setWindowTitle(APP_NAME)
            return
        name = self.doc.path.name if self.doc.path else "untitled"
        self.setWindowTitle(f"{name}[*] - {APP_NAME}")
        self.setWindowModified(self.doc.modified)

    def update_actions(self) -> None:
        has, busy = self.doc is not None, self.busy
        for a in (self.act_save, self.act_save_as, self.act_load_mask, self.act_save_mask, self.act_clear_mask,
                  self.act_invert_mask, self.act_feather):
            a.setEnabled(has and not busy)
        self.act_undo.setEnabled(has and not busy and self.doc.history.can_undo)
        self.act_redo.setEnabled(has and not busy and self.doc.history.can_redo)
        self.act_run.setEnabled(has and not busy)
        self.act_cancel.setEnabled(busy)
        for a in (self.act_next_variation, self.act_prev_variation):
            a.setEnabled(has and not busy)
        self.act_open.setEnabled(not busy)

    def _show_cursor(self, x: int, y: int) -> None:
        if self.doc is None or x < 0:
            self.pos_label.setText("")
            return
        px = self.doc.image[y, x]
        scale = 65535 if getattr(self.doc.meta, "bit_depth", 8) == 16 else 255
        values = ", ".join(str(int(round(v * scale))) for v in px)
        self.pos_label.setText(f"x {x}  y {y}  ({values})")

    # -- view -------------------------------------------------------------------------------
    def toggle_split(self) -> None:
        self.canvas.set_split(0.5 if self.act_split.isChecked() else None)

    def toggle_overlay(self) -> None:
        self.canvas.overlay_visible = self.act_overlay.isChecked()
        self.canvas.update()

    def set_overlay_visible(self, visible: bool) -> None:
        if self.act_overlay.isChecked() != visible:
            self.act_overlay.setChecked(visible)
            self.toggle_overlay()

    def overlay_style(self) -> tuple[QColor, float]:
        return QColor(self.canvas.overlay_colour), self.canvas.overlay_opacity

    def _overlay_changed(self, colour: QColor, opacity: float) -> None:
        self.canvas.set_overlay_style(colour, opacity)
        self.settings.set("overlay/colour", colour.name())
        self.settings.set("overlay/opacity", opacity)

    def show_generate_panel(self) -> None:
        dock = self.docks["generate"]
        dock.show()
        dock.raise_()
        self.generate_panel.refresh_models()  # also when it was in view already

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.open_path(urls[0].toLocalFile())

    # -- dialogs ----------------------------------------------------------------------------
    def open_training_dialog(self):
        """Models > Train / Fine-tune: one dialog per window, kept while its run lives."""
        from desktop_app.gui.dialogs.training import TrainingDialog

        if self.training_dialog is None:
            self.training_dialog = TrainingDialog(self)
        self.training_dialog.show()
        self.training_dialog.raise_()
        return self.training_dialog

    def open_library_dialog(self):
        """Models > Manage Library: the models listed afresh each time it is opened."""
        from desktop_app.gui.dialogs.library import LibraryDialog

        if self.library_dialog is None:
            self.library_dialog = LibraryDialog(self)
        else:
            self.library_dialog.refresh()
        self.library_dialog.show()
        self.library_dialog.raise_()
        return self.library_dialog

    def open_batch_dialog(self):
        """File > Batch: one operation over many photos, in its own worker."""
        try:
            from desktop_app.gui.dialogs.batch import BatchDialog
        except ImportError:
            self.statusBar().showMessage("Batch processing is not available in this build", 5000)
            return None
        if self.batch_dialog is None:
            self.batch_dialog = BatchDialog(self)
        self.batch_dialog.show()
        self.batch_dialog.raise_()
        return self.batch_dialog

    def preferences(self) -> None:
        from desktop_app.gui.dialogs.preferences import PreferencesDialog

        dialog = PreferencesDialog(self.settings, self)
        if dialog.exec():
            dialog.store()
            self.apply_settings()
        self.focus_canvas()

    def remember_operations(self) -> None:
        """The operation shown and the settings of each, for the next start."""
        self.settings.set_json("operations/last", self.ops_panel.remembered())

    def apply_settings(self) -> None:
        self.autosave.apply_settings()
        if self.doc is not None:
            self.doc.history.cap_bytes = self.settings.get("history/mib", int) << 20
        self.ops_panel.set_device(self.settings.get("device", str))

    @property
    def recent_menu(self):
        return self.files.recent_menu

    @property
    def autosave_timer(self) -> QTimer:
        return self.autosave.timer

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().height() > event.oldSize().height() > 0:
            QTimer.singleShot(0, self._mask_panel_whole)

    def _mask_panel_whole(self) -> None:
        """Grown taller again after being made small: the Mask / Brush dock takes back the height
        its controls need (Qt gave all of it to the Operations dock, and Clear and Invert stayed
        scrolled out of view)."""
        dock = self.docks["mask"]
        if dock.isFloating() or not dock.isVisible():
            return
        need = self.mask_panel.sizeHint().height() + dock.height() - dock.widget().height()
        if dock.height() < need:
            self.resizeDocks([dock], [need], Qt.Orientation.Vertical)

    # -- closing ----------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        # ask first: a user who cancels the close keeps the running job too
        if not self.files.confirm_discard():
            event.ignore()
            return
        self.runner.stop(10000)
        if self.training_dialog is not None:
            self.training_dialog.stop_all()  # the run checkpoints; it can be continued later
            self.training_dialog.close()
        if self.library_dialog is not None:
            self.library_dialog.wait_for_job()  # an import half-copied must finish, not be cut off
        if self.batch_dialog is not None and hasattr(self.batch_dialog, "stop"):
            self.batch_dialog.stop()
        self.autosave.close()
        self.remember_operations()
        self.settings.set("window/geometry", self.saveGeometry())
        self.settings.set("window/state", self.saveState())
        self.settings.sync()
        event.accept()
