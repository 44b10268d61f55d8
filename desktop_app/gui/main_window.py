"""The main window: canvas in the middle, panels at the side, every slow thing in a worker."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QColor, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QInputDialog, QLabel, QMainWindow, QMenu,
                               QMessageBox)

from desktop_app import APP_NAME
from desktop_app.core.document import Document
from desktop_app.core.document.recovery import RecoveredSession, RecoveryStore, Snapshot
from desktop_app.core.brush import BrushSettings, stamp_segment
from desktop_app.core.selection import box_select_work, combine, grow, magic_wand_work
from desktop_app.core.imaging.convert import paste_in_mask
from desktop_app.core.imaging.io import (OPEN_FILTER, SAVE_FILTER, SUPPORTED_EXTENSIONS, ImageMeta, load_mask,
                                         save_image, save_mask)
from desktop_app.core.operations import Operation, apply_operation
from desktop_app.core.paths import app_data_dir, sample_photo
from desktop_app.core.tasks import Progress, subrange
from desktop_app.gui.canvas import ImageCanvas
from desktop_app.gui.icons import icon
from desktop_app.gui.qimage import array_to_qimage
from desktop_app.gui.panels.generate import GeneratePanel
from desktop_app.gui.panels.history import HistoryPanel
from desktop_app.gui.panels.mask import MaskPanel
from desktop_app.gui.panels.operations import OperationPanel
from desktop_app.gui.settings import Settings
from desktop_app.gui.workers import WorkerThread

log = logging.getLogger(__name__)
LOSSY = {".jpg", ".jpeg", ".webp"}


class Variations:
    """The fills of the last seeded run and which of them is in the document."""

    def __init__(self, doc: Document, title: str, results: list[np.ndarray], index: int) -> None:
        self.doc, self.title, self.results, self.index = doc, title, results, index
        self.applied: np.ndarray | None = doc.image


def _labelled(work, suffix: str):
    """Pass progress through with `suffix` added to each message."""
    try:
        while True:
            p = next(work)
            yield Progress(p.fraction, p.message + suffix, p.data)
    except StopIteration as stop:
        return stop.value


def variation_thumbnails(results: list[np.ndarray], mask: np.ndarray, size: int = 84):
    """Square crops around the masked region of each result, as QImages for the panel."""
    import cv2

    ys, xs = np.nonzero(mask > 0)
    h, w = mask.shape
    cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
    side = int(max(ys.max() - ys.min(), xs.max() - xs.min()) * 1.3) + 8
    side = min(side, h, w)
    y0, x0 = int(np.clip(cy - side // 2, 0, h - side)), int(np.clip(cx - side // 2, 0, w - side))
    thumbs = []
    for r in results:
        crop = np.ascontiguousarray(r[y0:y0 + side, x0:x0 + side])
        small = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA).reshape(size, size, -1)
        thumbs.append(array_to_qimage(small).copy())
    return thumbs


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.doc: Document | None = None
        self.job: WorkerThread | None = None
        self.training_dialog = None  # made on first use (Models > Train / Fine-tune)
        self.library_dialog = None  # likewise (Models > Manage Library)
        self._variations: Variations | None = None
        self._overwrite_ok: set[Path] = set()
        self.recovery = RecoveryStore(app_data_dir() / "recovery")
        self._autosaved_state: tuple[int, int] | None = None
        self._autosave_thread: threading.Thread | None = None
        self._mask_version = 0
        self._selection: dict | None = None  # the last box selection, refined by hints
        self.setAcceptDrops(True)
        self.setWindowIcon(icon("fa5s.magic"))

        self.canvas = ImageCanvas()
        self.setCentralWidget(self.canvas)
        self.canvas.brush.size = self.settings.get("brush/size", float)
        self.canvas.brush.hardness = self.settings.get("brush/hardness", float)
        self.canvas.set_overlay_style(QColor(self.settings.get("overlay/colour", str)),
                                      self.settings.get("overlay/opacity", float))

        self.ops_panel = OperationPanel()
        self.mask_panel = MaskPanel(self.canvas.brush)
        self.mask_panel.set_overlay(self.canvas.overlay_colour, self.canvas.overlay_opacity)
        self.mask_panel.tolerance.setValue(self.settings.get("wand/tolerance", int))
        self.history_panel = HistoryPanel()
        self.generate_panel = GeneratePanel(self.start_job, lambda: self.ops_panel.device())
        self.docks: dict[str, QDockWidget] = {}
        for name, title, widget in (("operations", "Operations", self.ops_panel),
                                    ("mask", "Mask / Brush", self.mask_panel),
                                    ("history", "History", self.history_panel),
                                    ("generate", "Generate", self.generate_panel)):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{name}")
            dock.setWidget(widget)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            self.docks[name] = dock
        # a tab behind the operations; it lists the models (and so imports torch) when it comes into view
        self.tabifyDockWidget(self.docks["operations"], self.docks["generate"])
        self.docks["operations"].raise_()
        self.docks["generate"].visibilityChanged.connect(self._generate_panel_shown)

        self.zoom_label = QLabel("")
        self.pos_label = QLabel("")
        self.size_label = QLabel("")
        self.pos_label.setMinimumWidth(220)
        self.size_label.setMinimumWidth(150)
        self.zoom_label.setMinimumWidth(50)
        for w in (self.pos_label, self.size_label, self.zoom_label):
            self.statusBar().addPermanentWidget(w)

        self._make_actions()
        self._connect()
        self._update_title()
        self._update_actions()

        geometry = self.settings.get("window/geometry", QByteArray)
        if geometry:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        state = self.settings.get("window/state", QByteArray)
        if state:
            self.restoreState(state)

        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave)
        self.apply_settings()
        self.autosave_timer.start()

    # -- actions ----------------------------------------------------------------------------
    def _action(self, text: str, slot: Callable, shortcut=None, icon_name: str | None = None,
                tip: str = "") -> QAction:
        act = QAction(text, self)
        if icon_name:
            act.setIcon(icon(icon_name))
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                act.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(slot)
        self.addAction(act)
        return act

    def _make_actions(self) -> None:
        A = self._action
        self.act_open = A("&Open...", self.open_dialog, QKeySequence.StandardKey.Open, "fa5s.folder-open")
        self.act_open_sample = A("Open &Sample Photo", self.open_sample, None, None,
                                 "A photo to try the tools on (opens as an untitled copy)")
        self.act_save = A("&Save", self.save, QKeySequence.StandardKey.Save, "fa5s.save")
        self.act_save_as = A("Save &As...", self.save_as, "Ctrl+Shift+S")
        self.act_load_mask = A("Load Mask...", self.load_mask_dialog)
        self.act_save_mask = A("Save Mask...", self.save_mask_dialog)
        self.act_quit = A("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_undo = A("&Undo", self.undo, QKeySequence.StandardKey.Undo, "fa5s.undo")
        self.act_redo = A("&Redo", self.redo, ["Ctrl+Shift+Z", "Ctrl+Y"], "fa5s.redo")
        self.act_prefs = A("&Preferences...", self.preferences, QKeySequence.StandardKey.Preferences, "fa5s.cog")
        self.act_zoom_in = A("Zoom &In", self.canvas.zoom_in, ["Ctrl++", "Ctrl+="], "fa5s.search-plus")
        self.act_zoom_out = A("Zoom &Out", self.canvas.zoom_out, "Ctrl+-", "fa5s.search-minus")
        self.act_fit = A("&Fit to Window", self.canvas.fit, "Ctrl+0", "fa5s.expand")
        self.act_actual = A("&Actual Size (100%)", self.canvas.actual_size, "Ctrl+1")
        self.act_split = A("&Compare Before/After (split)", self.toggle_split, "Ctrl+K", "fa5s.columns",
                           "Split view: original on the left; drag the line. Hold \\ to see the original.")
        self.act_split.setCheckable(True)
        self.act_overlay = A("Show &Mask Overlay", self.toggle_overlay, "Ctrl+H")
        self.act_overlay.setCheckable(True)
        self.act_overlay.setChecked(True)
        self.act_clear_mask = A("&Clear Mask", self.clear_mask, "Ctrl+Shift+A")
        self.act_invert_mask = A("&Invert Mask", self.invert_mask, "Ctrl+I")
        self.act_feather = A("&Feather Mask...", self.feather_dialog)
        self.act_bigger = A("Bigger Brush", lambda: self.scale_brush(1.2), "]")
        self.act_smaller = A("Smaller Brush", lambda: self.scale_brush(1 / 1.2), "[")
        self.act_erase = A("Toggle Erase", self.toggle_erase, "X")
        self.tool_actions: dict[str, QAction] = {}
        for tool, text, key, icon_name, tip in (
                ("brush", "&Brush", "B", "fa5s.paint-brush", "Paint the mask (Alt: erase)"),
                ("box", "Bo&x Select", "M", "fa5s.vector-square",
                 "Drag a box around an object (Shift: add, Alt: subtract, Shift+Alt: intersect)"),
                ("wand", "Magic &Wand", "W", "fa5s.magic", "Click a region of similar colour (Shift/Alt as for boxes)"),
                ("keep", "&Keep Hints", "K", "fa5s.plus-circle", "Paint over parts the box selection missed"),
                ("remove", "Re&move Hints", "Shift+K", "fa5s.minus-circle", "Paint over parts it wrongly took")):
            act = A(text, lambda _=False, t=tool: self.set_tool(t), key, icon_name, tip)
            act.setCheckable(True)
            act.setToolTip(f"{text.replace('&', '')} ({key}): {tip}")
            self.tool_actions[tool] = act
        self.tool_actions["brush"].setChecked(True)
        self.act_grow = A("&Grow Mask", lambda: self.grow_mask(+1), "Ctrl+Shift+]")
        self.act_shrink = A("S&hrink Mask", lambda: self.grow_mask(-1), "Ctrl+Shift+[")
        self.act_run = A("&Run Operation", self.ops_panel._run, "Ctrl+R", "fa5s.play")
        self.act_cancel = A("&Cancel Operation", self.cancel_job, "Esc", "fa5s.stop")
        self.act_train = A("&Train / Fine-tune...", self.open_training_dialog, None, "fa5s.graduation-cap",
                           "Teach a denoiser on your own photos; the result joins the Operations panel")
        self.act_library = A("Manage &Library...", self.open_library_dialog, None, "fa5s.book",
                             "Rename, delete, export and import model files")
        self.act_generate = A("&Generate Images...", self.show_generate_panel, "Ctrl+G", "fa5s.magic",
                              "New pictures from a generator model: the Generate panel")

        bar = self.menuBar()
        m = bar.addMenu("&File")
        m.addAction(self.act_open)
        self.recent_menu = QMenu("Open &Recent", self)
        m.addMenu(self.recent_menu)
        m.addAction(self.act_open_sample)
        m.addSeparator()
        for a in (self.act_save, self.act_save_as):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.act_load_mask)
        m.addAction(self.act_save_mask)
        m.addSeparator()
        m.addAction(self.act_quit)
        m = bar.addMenu("&Edit")
        m.addAction(self.act_undo)
        m.addAction(self.act_redo)
        m.addSeparator()
        m.addAction(self.act_prefs)
        m = bar.addMenu("&View")
        for a in (self.act_zoom_in, self.act_zoom_out, self.act_fit, self.act_actual):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.act_split)
        m.addAction(self.act_overlay)
        m.addSeparator()
        for dock in self.docks.values():
            m.addAction(dock.toggleViewAction())
        m = bar.addMenu("&Mask")
        for a in self.tool_actions.values():
            m.addAction(a)
        m.addSeparator()
        for a in (self.act_clear_mask, self.act_invert_mask, self.act_feather, self.act_grow, self.act_shrink,
                  self.act_bigger, self.act_smaller, self.act_erase):
            m.addAction(a)
        m = bar.addMenu("&Operations")
        m.addAction(self.act_run)
        m.addAction(self.act_cancel)
        m.addSeparator()
        m.addAction(self.act_generate)
        m = bar.addMenu("&Models")
        m.addAction(self.act_train)
        m.addAction(self.act_library)
        self._rebuild_recent()

        tb = self.addToolBar("Main")
        tb.setObjectName("toolbar_main")
        for a in (self.act_open, self.act_save, None, self.act_undo, self.act_redo, None, self.act_zoom_in,
                  self.act_zoom_out, self.act_fit, self.act_split, None, *self.tool_actions.values()):
            tb.addSeparator() if a is None else tb.addAction(a)

    def _connect(self) -> None:
        self.canvas.zoomChanged.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.canvas.cursorMoved.connect(self._show_cursor)
        self.canvas.strokeFinished.connect(self._on_history)
        self.ops_panel.runRequested.connect(self.run_operation)
        self.ops_panel.deviceChanged.connect(lambda d: self.settings.set("device", d))
        self.ops_panel.cancelRequested.connect(self.cancel_job)
        self.ops_panel.variations.chosen.connect(self.choose_variation)
        self.history_panel.positionRequested.connect(self.go_to_history)
        self.generate_panel.openRequested.connect(self.open_generated)
        self.generate_panel.pasteRequested.connect(self.paste_generated)
        self.mask_panel.brushChanged.connect(self._brush_changed)
        self.mask_panel.overlayChanged.connect(self._overlay_changed)
        self.mask_panel.clearRequested.connect(self.clear_mask)
        self.mask_panel.invertRequested.connect(self.invert_mask)
        self.mask_panel.featherRequested.connect(self.feather_mask)
        self.mask_panel.growRequested.connect(self.grow_mask_by)
        self.canvas.boxDrawn.connect(self.box_select)
        self.canvas.wandClicked.connect(self.magic_wand)
        self.canvas.hintDrawn.connect(self.refine_selection)
        self.canvas.maskEditStarted.connect(lambda: self.set_overlay_visible(True))

    # -- messages (one place, so tests can answer them) -------------------------------------
    def show_error(self, title: str, message: str) -> None:
        log.warning("%s: %s", title, message)
        QMessageBox.warning(self, title, message)

    def ask(self, title: str, text: str, buttons: list[str], default: int = 0) -> int:
        """Ask a question; returns the index of the chosen button (or -1 when dismissed)."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=self)
        made = [box.addButton(b, QMessageBox.ButtonRole.AcceptRole if i == default else QMessageBox.ButtonRole.ActionRole)
                for i, b in enumerate(buttons)]
        box.setDefaultButton(made[default])
        box.exec()
        clicked = box.clickedButton()
        return made.index(clicked) if clicked in made else -1

    def ask_int(self, title: str, label: str, value: int, lo: int, hi: int) -> int | None:
        v, ok = QInputDialog.getInt(self, title, label, value, lo, hi)
        return v if ok else None

    def ask_open_path(self, filt: str = OPEN_FILTER, title: str = "Open photo") -> str:
        path, _ = QFileDialog.getOpenFileName(self, title, self.settings.get("last_dir", str), filt)
        return path

    def ask_text(self, title: str, label: str, value: str = "") -> str | None:
        text, ok = QInputDialog.getText(self, title, label, text=value)
        return text if ok else None

    def ask_folder_path(self) -> str:
        return QFileDialog.getExistingDirectory(self, "Folder of photos", self.settings.get("last_dir", str))

    def ask_save_path(self, suggestion: str, filt: str = SAVE_FILTER) -> str:
        path, chosen = QFileDialog.getSaveFileName(self, "Save as", suggestion, filt)
        if path and not Path(path).suffix:
            ext = chosen.split("*")[1].split()[0].rstrip(")") if "*" in chosen else ".png"
            path += ext
        return path

    # -- jobs -------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.is_running()

    def start_job(self, title: str, make_work, on_result: Callable[[Any], None],
                  on_end: Callable[[], None] | None = None) -> WorkerThread | None:
        if self.busy:
            self.statusBar().showMessage("Busy: wait for the running operation or cancel it", 4000)
            return None
        job = WorkerThread(make_work, title, self)
        w = job
        w.progress.connect(self.ops_panel.show_progress)
        w.succeeded.connect(on_result)
        w.failed.connect(lambda msg, tb: self.show_error(f"{title} failed", msg))
        w.cancelled.connect(lambda: self.statusBar().showMessage(f"{title}: cancelled, nothing changed", 5000))
        w.finished.connect(lambda: self._job_finished(job, on_end))
        self.job = job
        self.ops_panel.set_running(True, title)
        self._update_actions()
        job.start()
        return job

    def _job_finished(self, job: WorkerThread, on_end) -> None:
        job.thread.wait(2000)
        if self.job is job:
            self.job = None
        self.ops_panel.set_running(False, "Ready")
        if on_end:
            on_end()
        self._update_actions()

    def cancel_job(self) -> None:
        if self.busy:
            self.job.cancel()
            self.ops_panel.status.setText("Cancelling...")

    # -- open -------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path = self.ask_open_path()
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> WorkerThread | None:
        if not self.confirm_discard():
            return None
        path = str(Path(path).expanduser())

        def work():
            yield Progress(None, f"Opening {Path(path).name}")
            doc = Document.open(path)
            yield Progress(None, "Preparing the display")
            return doc, array_to_qimage(doc.image)

        return self.start_job(f"Open {Path(path).name}", work, lambda r: self._set_document(r[0], path, r[1]))

    def open_sample(self) -> WorkerThread | None:
        """The bundled sample as an untitled document, so a save never writes into the app's
        own files."""
        if not self.confirm_discard():
            return None

        def work():
            yield Progress(None, "Opening the sample photo")
            doc = Document.open(sample_photo())
            doc.path, doc.saved_id = None, -1
            return doc, array_to_qimage(doc.image)

        return self.start_job("Open sample photo", work, lambda r: self._set_document(r[0], None, r[1]))

    def _set_document(self, doc: Document, path: str | None, display=None) -> None:
        self.recovery.discard_own()
        self.doc = doc
        self._variations = None
        self.ops_panel.variations.clear()
        doc.history.cap_bytes = self.settings.get("history/mib", int) << 20
        doc.subscribe(self._on_doc_change)
        self.canvas.set_document(doc, display)
        self._autosaved_state = self._state_key()
        if path:
            self.settings.add_recent(str(Path(path).resolve()))
            self.settings.set("last_dir", str(Path(path).resolve().parent))
            self._rebuild_recent()
        self.size_label.setText(f"{doc.width} x {doc.height}  {doc.image.shape[2]}ch "
                                f"{getattr(doc.meta, 'bit_depth', 8)}-bit")
        notes = getattr(doc.meta, "notes", None)
        self.statusBar().showMessage(f"Opened {path}" + (f" ({'; '.join(notes)})" if notes else ""), 6000)
        self._on_history()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.settings.recent():
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _=False, p=p: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.settings.recent()))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.open_path(urls[0].toLocalFile())

    # -- save -------------------------------------------------------------------------------
    def _quality_for(self, path: Path) -> int | None:
        if path.suffix.lower() not in LOSSY:
            return 92
        q = self.settings.get("save/jpeg_quality", int)
        if q is None:
            q = self.ask_int("JPEG quality", "Quality for JPEG and WebP files (1-100).\n"
                             "Asked once; change it later in the settings.", 92, 1, 100)
            if q is None:
                return None
            self.settings.set("save/jpeg_quality", q)
        return int(q)

    def _choose_save_path(self) -> Path | None:
        """Where Save writes: the document's file after the user agreed to replace the
        original, or a new file from the Save As dialog."""
        if self.doc is None:
            return None
        path = self.doc.path
        if path is None or path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            return self._choose_save_as_path()
        path = path.resolve()
        if path.exists() and path not in self._overwrite_ok:
            choice = self.ask("Overwrite the original?",
                              f"Saving replaces the photo you opened:\n{path}\n\nKeep the original and save a copy instead?",
                              ["Save a Copy...", "Overwrite", "Cancel"], default=0)
            if choice == 0:
                return self._choose_save_as_path()
            if choice != 1:
                return None
        return path

    def _choose_save_as_path(self) -> Path | None:
        base = self.doc.path or Path(self.settings.get("last_dir", str) or Path.home()) / "untitled.png"
        suggestion = str(base.with_name(base.stem + "-edited" + (base.suffix or ".png")))
        path = self.ask_save_path(suggestion)
        if not path:
            return None
        path = Path(path)
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            self.show_error("Cannot save", f"{path.name}: unknown file type; use one of "
                            f"{', '.join(SUPPORTED_EXTENSIONS)}")
            return None
        return path

    def save(self) -> WorkerThread | None:
        path = self._choose_save_path()
        return self.save_to(path) if path is not None else None

    def save_as(self) -> WorkerThread | None:
        if self.doc is None:
            return None
        path = self._choose_save_as_path()
        return self.save_to(path) if path is not None else None

    def _saved(self, doc: Document, path: Path, saved_id: int) -> None:
        if doc.history.top_id == saved_id:
            doc.mark_saved(path)
        else:  # edited while saving: the file holds an older state
            doc.path = Path(path)
        # the user chose this file (a file dialog asks before replacing): no further question
        self._overwrite_ok.add(Path(path).resolve())
        self.settings.add_recent(str(Path(path).resolve()))
        self.settings.set("last_dir", str(Path(path).resolve().parent))
        self._rebuild_recent()
        self.statusBar().showMessage(f"Saved {path}", 5000)
        self._update_title()
        if not doc.modified:
            self.recovery.discard_own()

    def save_to(self, path: Path) -> WorkerThread | None:
        doc = self.doc
        quality = self._quality_for(path)
        if doc is None or quality is None:
            return None
        image, meta, saved_id = doc.image, doc.meta, doc.history.top_id

        def work():
            yield Progress(None, f"Saving {path.name}")
            save_image(path, image, meta, jpeg_quality=quality)
            return path

        return self.start_job(f"Save {path.name}", work, lambda p: self._saved(doc, p, saved_id))

    def save_now(self) -> bool:
        """Save on this thread (used while closing, when there is nothing left to keep
        responsive); True when the document ended up saved."""
        doc = self.doc
        path = self._choose_save_path()
        quality = self._quality_for(path) if path is not None else None
        if doc is None or path is None or quality is None:
            return False
        self.setCursor(Qt.CursorShape.WaitCursor)
        try:
            save_image(path, doc.image, doc.meta, jpeg_quality=quality)
        except Exception as e:  # noqa: BLE001 - shown to the user, the window stays open
            self.show_error(f"Save {path.name} failed", str(e))
            return False
        finally:
            self.unsetCursor()
        self._saved(doc, path, doc.history.top_id)
        return True

    def confirm_discard(self) -> bool:
        """True when there is nothing unsaved, or the user chose what to do with it."""
        if self.doc is None or not self.doc.modified:
            return True
        name = self.doc.path.name if self.doc.path else "the image"
        choice = self.ask("Unsaved changes", f"Save the changes to {name}?", ["Save", "Discard", "Cancel"])
        if choice == 0:
            return self.save_now()
        return choice == 1

    # -- masks ------------------------------------------------------------------------------
    def load_mask_dialog(self) -> None:
        if self.doc is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Load mask", self.settings.get("last_dir", str), "PNG (*.png)")
        if path:
            self.load_mask(path)

    def load_mask(self, path: str) -> None:
        try:
            mask = load_mask(path, self.doc.mask.shape)
        except Exception as e:  # noqa: BLE001 - shown to the user
            self.show_error("Cannot load mask", str(e))
            return
        self.doc.set_mask(mask, "Load mask")

    def save_mask_dialog(self) -> None:
        if self.doc is None:
            return
        base = self.doc.path or Path("image.png")
        path = self.ask_save_path(str(base.with_name(base.stem + "-mask.png")), "PNG (*.png)")
        if path:
            try:
                save_mask(path, self.doc.mask)
                self.statusBar().showMessage(f"Saved mask {path}", 5000)
            except Exception as e:  # noqa: BLE001
                self.show_error("Cannot save mask", str(e))

    def clear_mask(self) -> None:
        if self.doc is not None:
            self.doc.clear_mask()

    def invert_mask(self) -> None:
        if self.doc is not None:
            self.doc.invert_mask()

    def feather_mask(self, radius: int) -> None:
        if self.doc is not None:
            self.doc.feather_mask(radius)

    def feather_dialog(self) -> None:
        r = self.ask_int("Feather mask", "Soften the mask edge by (pixels):", self.mask_panel.feather_px.value(), 1, 200)
        if r:
            self.feather_mask(r)

    def scale_brush(self, factor: float) -> None:
        self.canvas.brush.size = self.canvas.brush.clamped().size * factor
        self.canvas.brush.size = self.canvas.brush.clamped().size
        self.mask_panel.sync_from_brush()
        self._brush_changed()

    def toggle_erase(self) -> None:
        self.canvas.brush.erase = not self.canvas.brush.erase
        self.mask_panel.sync_from_brush()

    def _brush_changed(self) -> None:
        self.settings.set("brush/size", self.canvas.brush.size)
        self.settings.set("brush/hardness", self.canvas.brush.hardness)
        self.canvas.update()

    def _overlay_changed(self, colour: QColor, opacity: float) -> None:
        self.canvas.set_overlay_style(colour, opacity)
        self.settings.set("overlay/colour", colour.name())
        self.settings.set("overlay/opacity", opacity)

    # -- operations -------------------------------------------------------------------------
    def run_operation(self, op: Operation, params: dict, inside_mask: bool) -> WorkerThread | None:
        if self.doc is None:
            self.statusBar().showMessage("Open a photo first", 4000)
            return None
        try:
            op.resolve_params(params)
        except ValueError as e:
            self.show_error(f"{op.title}: bad setting", str(e))
            return None
        doc = self.doc
        image, mask = doc.image, doc.mask.copy()
        bit_depth = getattr(doc.meta, "bit_depth", 8)
        device = self.ops_panel.device() or self.settings.get("device", str)
        # a seeded generative operation runs once per seed and offers the fills to pick from
        count = int(op.extra.get("variations", 1)) if "seed" in params else 1
        seeds = [int(params["seed"]) + k for k in range(count)] if count > 1 else [None]

        def work():
            results = []
            for k, seed in enumerate(seeds):
                p = params if seed is None else dict(params, seed=seed)
                run = apply_operation(op, image, mask, p, inside_mask_only=inside_mask,
                                      bit_depth=bit_depth, device=device)
                label = f" (variation {k + 1}/{count})" if count > 1 else ""
                results.append((yield from subrange(_labelled(run, label), k / count, (k + 1) / count)))
            yield Progress(None, "Updating the history")
            # the slow parts of applying the result, done here rather than on the GUI thread
            thumbs = variation_thumbnails(results, mask) if count > 1 else []
            return doc.prepare_image(results[0], op.title), array_to_qimage(results[0]), results, thumbs

        def done(prepared) -> None:
            pending, display, results, thumbs = prepared
            if self.doc is not doc or doc.image is not image:
                self.show_error(op.title, "The image changed while the operation ran; its result was not applied.")
                return
            self.canvas.prepare_display(pending.new, display)
            if doc.commit_image(pending) is None:
                self.statusBar().showMessage(f"{op.title}: nothing changed", 4000)
            elif op.fills_mask and self.act_overlay.isChecked():
                # the mask would cover the very pixels just filled: hide it (kept for another try)
                self.set_overlay_visible(False)
                self.statusBar().showMessage(f"{op.title} done; mask hidden to show the fill "
                                             "(Ctrl+H shows it, painting brings it back)", 6000)
            else:
                self.statusBar().showMessage(f"{op.title} done", 4000)
            if len(results) > 1:
                self._variations = Variations(doc, op.title, results, 0)
                self.ops_panel.variations.show_variations(thumbs, [f"Seed {s}" for s in seeds])

        self.ops_panel.variations.clear()
        self._variations = None
        return self.start_job(op.title, work, done)

    def choose_variation(self, index: int) -> WorkerThread | None:
        """Put fill `index` in place of the one shown: undo that fill, apply the other (one
        history step either way)."""
        v = self._variations
        if v is None or self.doc is not v.doc or v.doc.image is not v.applied or index == v.index:
            if v is not None and index != v.index:
                self.ops_panel.variations.clear()
                self.statusBar().showMessage("The image changed since: run the operation again for new variations",
                                             5000)
            return None
        doc = v.doc
        doc.undo()
        base, new = doc.image, v.results[index]

        def work():
            yield Progress(None, "Updating the history")
            return doc.prepare_image(new, v.title), array_to_qimage(new)

        def done(prepared) -> None:
            pending, display = prepared
            if doc.image is not base:
                return
            self.canvas.prepare_display(pending.new, display)
            doc.commit_image(pending)
            v.index, v.applied = index, doc.image
            self.ops_panel.variations.set_current(index)

        v.applied = None  # until the new one is committed
        job = self.start_job(f"{v.title}: variation {index + 1}", work, done)
        if job is None:  # busy: put the shown fill back
            doc.redo()
            v.applied = doc.image
            self.ops_panel.variations.set_current(v.index)
        return job

    # -- generated pictures -------------------------------------------------------------
    def show_generate_panel(self) -> None:
        dock = self.docks["generate"]
        dock.show()
        dock.raise_()
        self.generate_panel.refresh_models()  # also when it was in view already

    def _generate_panel_shown(self, shown: bool) -> None:
        if shown:
            self.generate_panel.refresh_models()

    def open_generated(self, picture: np.ndarray, what: str = "a generated picture") -> Document | None:
        """The picture as a new document: untitled and unsaved, so closing asks to save it."""
        if self.busy:
            self.statusBar().showMessage("Busy: wait for the running operation or cancel it", 4000)
            return None
        if not self.confirm_discard():
            return None
        h, w = picture.shape[:2]
        doc = Document(np.ascontiguousarray(picture, np.float32), ImageMeta(format="PNG", width=w, height=h))
        doc.saved_id = -1  # never saved
        self._set_document(doc, None)
        self.statusBar().showMessage(f"New document from {what}: save it to keep it", 6000)
        return doc

    def paste_generated(self, picture: np.ndarray, what: str = "a generated picture") -> WorkerThread | None:
        """Stretch the picture over the mask's bounding box and blend it in with the soft mask,
        as one undo step."""
        doc = self.doc
        if doc is None:
            self.statusBar().showMessage("Open a photo first: the picture is pasted into its masked region", 6000)
            return None
        if not doc.has_mask:
            self.statusBar().showMessage("The mask is empty: paint where the picture should go, then paste", 6000)
            return None
        title = "Paste generated"
        image, mask = doc.image, doc.mask.copy()

        def work():
            yield Progress(None, f"Pasting {what}")
            new = paste_in_mask(image, mask, picture)
            return doc.prepare_image(new, title), array_to_qimage(new)

        def done(prepared) -> None:
            pending, display = prepared
            if self.doc is not doc or doc.image is not image:
                self.show_error(title, "The image changed while the picture was pasted; nothing was changed.")
                return
            self.canvas.prepare_display(pending.new, display)
            doc.commit_image(pending)
            self.statusBar().showMessage(f"Pasted {what} into the mask", 4000)

        return self.start_job(title, work, done)

    # -- smart selection ------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        for name, act in self.tool_actions.items():
            act.setChecked(name == tool)
        self.canvas.set_tool(tool)
        if tool in ("keep", "remove") and self._selection is None:
            self.statusBar().showMessage("Draw a box around the object first (M), then paint hints over its mistakes", 6000)

    def _select_job(self, title: str, make_mask, mode: str, base: np.ndarray | None = None, on_raw=None):
        """Run a selection in a worker; its result meets the mask (`base`, or the current one)
        in `mode` and becomes one undo step."""
        doc = self.doc
        if doc is None:
            return None
        image = doc.image
        base = doc.mask.copy() if base is None else base

        def work():
            raw = yield from make_mask(image)
            return raw, combine(base, raw, mode)

        def done(result) -> None:
            raw, mask = result
            if self.doc is not doc:
                return
            if on_raw is not None:
                on_raw(raw)
            if doc.set_mask(mask, title) is None:
                self.statusBar().showMessage(f"{title}: the mask did not change", 4000)

        return self.start_job(title, work, done)

    def box_select(self, x: int, y: int, w: int, h: int, mode: str = "replace"):
        if self.doc is None:
            return None
        base = self.doc.mask.copy()
        box = (x, y, w, h)
        self.canvas.clear_hints()
        self._selection = None

        def remember(raw: np.ndarray) -> None:
            self._selection = {"box": box, "mode": mode, "base": base, "raw": raw}

        return self._select_job("Box select", lambda img: box_select_work(img, box), mode, base, remember)

    def refine_selection(self, kind: str, points) -> None:
        sel = self._selection
        if self.doc is None:
            return
        if sel is None:
            self.canvas.clear_hints()
            self.statusBar().showMessage("Hints refine a box selection: draw a box first (M)", 6000)
            return
        keep = np.zeros(self.doc.mask.shape, np.float32)
        remove = np.zeros_like(keep)
        for hint_kind, size, pts in self.canvas.hints:
            target = keep if hint_kind == "keep" else remove
            brush = BrushSettings(size=size, hardness=1.0)
            for a, b in zip(pts, pts[1:] or pts):
                stamp_segment(target, a, b, brush)

        def remember(raw: np.ndarray) -> None:
            sel["raw"] = raw

        self._select_job("Refine selection", lambda img: box_select_work(
            img, sel["box"], keep=keep, remove=remove, previous=sel["raw"]), sel["mode"], sel["base"], remember)

    def magic_wand(self, x: int, y: int, mode: str = "replace"):
        tolerance, contiguous = self.mask_panel.wand_settings()
        self.settings.set("wand/tolerance", tolerance)
        return self._select_job("Magic wand", lambda img: magic_wand_work(img, (x, y), tolerance,
                                                                         contiguous=contiguous), mode)

    def grow_mask(self, sign: int) -> None:
        self.grow_mask_by(sign * self.mask_panel.grow_px.value())

    def grow_mask_by(self, pixels: int):
        doc = self.doc
        if doc is None or pixels == 0:
            return None
        mask = doc.mask.copy()
        title = f"Grow mask {pixels}px" if pixels > 0 else f"Shrink mask {-pixels}px"

        def work():
            yield Progress(None, title)
            return grow(mask, pixels)

        def done(new: np.ndarray) -> None:
            if self.doc is doc:
                doc.set_mask(new, title)

        return self.start_job(title, work, done)

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

    def preferences(self) -> None:
        from desktop_app.gui.dialogs.preferences import PreferencesDialog

        dialog = PreferencesDialog(self.settings, self)
        if dialog.exec():
            dialog.store()
            self.apply_settings()

    def apply_settings(self) -> None:
        seconds = float(os.environ.get("DESKTOP_APP_AUTOSAVE_SECONDS", self.settings.get("autosave/seconds", int)))
        self.autosave_timer.setInterval(int(max(0.2, seconds) * 1000))
        if self.doc is not None:
            self.doc.history.cap_bytes = self.settings.get("history/mib", int) << 20
        device = self.settings.get("device", str)
        self.ops_panel.set_device(device)

    # -- history ----------------------------------------------------------------------------
    def undo(self) -> None:
        if self.doc is not None and not self.busy:
            self.canvas.cancel_stroke()
            self.doc.undo()
            self._on_history()  # the document notifies before the step reaches its redo list

    def redo(self) -> None:
        if self.doc is not None and not self.busy:
            self.doc.redo()
            self._on_history()

    def go_to_history(self, position: int) -> None:
        if self.doc is not None and not self.busy:
            self.doc.go_to(position)
            self._on_history()

    def _on_doc_change(self, what: str, box) -> None:
        if what == "mask":
            self._mask_version += 1
        if what == "history":
            self._on_history()

    def _on_history(self) -> None:
        self.history_panel.refresh(self.doc)
        self._update_title()
        self._update_actions()

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

    def _show_cursor(self, x: int, y: int) -> None:
        if self.doc is None or x < 0:
            self.pos_label.setText("")
            return
        px = self.doc.image[y, x]
        scale = 65535 if getattr(self.doc.meta, "bit_depth", 8) == 16 else 255
        values = ", ".join(str(int(round(v * scale))) for v in px)
        self.pos_label.setText(f"x {x}  y {y}  ({values})")

    def _update_title(self) -> None:
        if self.doc is None:
            self.setWindowTitle(APP_NAME)
            return
        name = self.doc.path.name if self.doc.path else "untitled"
        self.setWindowTitle(f"{name}[*] - {APP_NAME}")
        self.setWindowModified(self.doc.modified)

    def _update_actions(self) -> None:
        has = self.doc is not None
        busy = self.busy
        for a in (self.act_save, self.act_save_as, self.act_load_mask, self.act_save_mask, self.act_clear_mask,
                  self.act_invert_mask, self.act_feather):
            a.setEnabled(has and not busy)
        self.act_undo.setEnabled(has and not busy and self.doc.history.can_undo)
        self.act_redo.setEnabled(has and not busy and self.doc.history.can_redo)
        self.act_run.setEnabled(has and not busy)
        self.act_cancel.setEnabled(busy)
        self.act_open.setEnabled(not busy)

    # -- autosave and recovery --------------------------------------------------------------
    def _state_key(self) -> tuple[int, int]:
        return (self.doc.history.top_id if self.doc else 0, self._mask_version)

    def autosave(self) -> None:
        doc = self.doc
        if doc is None or not doc.modified or self._state_key() == self._autosaved_state:
            return
        if self._autosave_thread is not None and self._autosave_thread.is_alive():
            return
        with doc.lock:
            mask = doc.mask.copy()
        snap = Snapshot(doc.image, mask, doc.meta, str(doc.path) if doc.path else None,
                        doc.path.name if doc.path else "untitled", time.time())
        self._autosaved_state = self._state_key()

        def write() -> None:
            try:
                self.recovery.write(snap)
            except Exception:  # noqa: BLE001 - autosave must never disturb the user
                log.exception("autosave failed")

        self._autosave_thread = threading.Thread(target=write, name="autosave", daemon=True)
        self._autosave_thread.start()

    def offer_recovery(self) -> Document | None:
        """At start-up: offer the edits a crashed session left behind."""
        sessions = self.recovery.leftovers()
        if not sessions:
            return None
        s = sessions[0]
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.saved_at))
        choice = self.ask("Recover unsaved edits?",
                          f"{APP_NAME} did not close normally. Unsaved edits of {s.title} from {when} "
                          "were kept.\n\nRecover them?", ["Recover", "Discard", "Later"])
        if choice == 0:
            return self.recover(s)
        if choice == 1:
            for other in sessions:
                RecoveryStore.discard(other)
        return None

    def recover(self, session: RecoveredSession) -> Document:
        doc = RecoveryStore.load(session)
        self._set_document(doc, None)
        RecoveryStore.discard(session)
        self._autosaved_state = None  # write our own copy at the next tick
        self.autosave()
        return doc

    # -- closing ----------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if self.busy:
            self.job.stop(10000)
        if not self.confirm_discard():
            event.ignore()
            return
        if self.training_dialog is not None:
            self.training_dialog.stop_all()  # the run checkpoints; it can be continued later
            self.training_dialog.close()
        if self.library_dialog is not None:
            self.library_dialog.wait_for_job()  # an import half-copied must finish, not be cut off
        if self._autosave_thread is not None:
            self._autosave_thread.join(10)
        self.recovery.discard_own()
        self.settings.set("window/geometry", self.saveGeometry())
        self.settings.set("window/state", self.saveState())
        self.settings.sync()
        event.accept()
