"""File menu: open (dialog, recent, drop, sample), save and save as (never over the original
without asking), mask files, and the unsaved-changes question."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu

from desktop_app.core.document import Document
from desktop_app.core.imaging import formats
from desktop_app.core.imaging.io import (SUPPORTED_EXTENSIONS, ImageMeta, is_write_protected, load_mask, save_image,
                                         save_mask)
from desktop_app.core.paths import sample_photo
from desktop_app.core.work import Progress
from desktop_app.gui.qimage import display_levels
from desktop_app.gui.workers import WorkerThread

LOSSY = {".jpg", ".jpeg", ".webp", ".heic", ".heif", ".avif"}  # asked for a quality
READ_ONLY = "Replace a write-protected file?"


class FileActions:
    def __init__(self, window) -> None:
        self.w = window
        self.overwrite_ok: set[Path] = set()  # files the user agreed to replace
        self.recent_menu = QMenu("Open &Recent", window)

    # -- open -------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path = self.w.ask_open_path()
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
            return doc, display_levels(doc.image, doc.meta.icc_profile)

        return self.w.runner.start(f"Open {Path(path).name}", work,
                                   lambda r: self.w.set_document(r[0], path, r[1]))

    def open_sample(self) -> WorkerThread | None:
        """The bundled sample as an untitled, unmodified document: nothing to save until it
        is edited, and a save never writes into the app's own files."""
        if not self.confirm_discard():
            return None

        def work():
            yield Progress(None, "Opening the sample photo")
            doc = Document.open(sample_photo())
            doc.path = None
            return doc, display_levels(doc.image, doc.meta.icc_profile)

        return self.w.runner.start("Open sample photo", work,
                                   lambda r: self.w.set_document(r[0], None, r[1], name="the sample photo"))

    def new_from_picture(self, picture: np.ndarray, what: str) -> Document | None:
        """The picture as a new document: untitled and unsaved, so closing asks to save it."""
        if self.w.busy:
            self.w.statusBar().showMessage("Busy: wait for the running operation or cancel it", 4000)
            return None
        if not self.confirm_discard():
            return None
        h, w = picture.shape[:2]
        doc = Document(np.ascontiguousarray(picture, np.float32), ImageMeta(format="PNG", width=w, height=h))
        doc.saved_id = -1  # never saved
        self.w.set_document(doc, None, name=what)
        self.w.statusBar().showMessage(f"New document from {what}: save it to keep it", 6000)
        return doc

    def remember(self, path: Path) -> None:
        self.w.settings.add_recent(str(path.resolve()))
        self.w.settings.set("last_dir", str(path.resolve().parent))
        self.rebuild_recent()

    def rebuild_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.w.settings.recent():
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _=False, p=p: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.w.settings.recent()))

    # -- save -------------------------------------------------------------------------------
    def quality_for(self, path: Path) -> int | None:
        if path.suffix.lower() not in LOSSY:
            return 92
        q = self.w.settings.get("save/jpeg_quality", int)
        if q is None:
            q = self.w.ask_int("JPEG quality", "Quality for JPEG, WebP, HEIC and AVIF files (1-100).\n"
                               "Asked once; change it later in the settings.", 92, 1, 100)
            if q is None:
                return None
            self.w.settings.set("save/jpeg_quality", q)
        return int(q)

    def choose_save_path(self) -> Path | None:
        """Where Save writes: the document's file after the user agreed to replace the
        original, or a new file from the Save As dialog."""
        doc = self.w.doc
        if doc is None:
            return None
        path = doc.path
        if path is None or path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            return self.choose_save_as_path()
        path = path.resolve()
        if path.exists() and path not in self.overwrite_ok:
            choice = self.w.ask("Overwrite the original?",
                                f"Saving replaces the photo you opened:\n{path}\n\nKeep the original and save a copy instead?",
                                ["Save a Copy...", "Overwrite", "Cancel"], default=0)
            if choice == 0:
                return self.choose_save_as_path()
            if choice != 1:
                return None
        return path

    def choose_save_as_path(self) -> Path | None:
        doc = self.w.doc
        base = doc.path or Path(self.w.settings.get("last_dir", str) or Path.home()) / "untitled.png"
        suggestion = str(formats.save_suggestion(base))  # a RAW (never written): a 16-bit TIFF beside it
        path = self.w.ask_save_path(suggestion)
        if not path:
            return None
        path = Path(path)
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            self.w.show_error("Cannot save", f"{path.name}: unknown file type; use one of "
                              f"{', '.join(SUPPORTED_EXTENSIONS)}")
            return None
        return path

    def allowed_to_write(self, path: Path) -> bool:
        """A write-protected file is replaced only when the user says so (the atomic save
        needs only the folder to be writable, so it would go through without a word)."""
        if not is_write_protected(path):
            return True
        choice = self.w.ask(READ_ONLY, f"{path} is write-protected.\n\nReplace it anyway?", ["Replace", "Cancel"],
                            default=1)
        return choice == 0

    def save(self) -> WorkerThread | None:
        path = self.choose_save_path()
        return self.save_to(path) if path is not None else None

    def save_as(self) -> WorkerThread | None:
        if self.w.doc is None:
            return None
        path = self.choose_save_as_path()
        return self.save_to(path) if path is not None else None

    def saved(self, doc: Document, path: Path, saved_id: int) -> None:
        if doc.history.top_id == saved_id:
            doc.mark_saved(path)
        else:  # edited while saving: the file holds an older state
            doc.path = Path(path)
        # the user chose this file (a file dialog asks before replacing): no further question
        self.overwrite_ok.add(Path(path).resolve())
        self.remember(Path(path))
        self.w.statusBar().showMessage(f"Saved {path}", 5000)
        self.w.update_title()
        if not doc.modified:
            self.w.autosave.store.discard_own()

    def save_to(self, path: Path) -> WorkerThread | None:
        doc = self.w.doc
        if doc is None or not self.allowed_to_write(Path(path)):
            return None
        quality = self.quality_for(path)
        if quality is None:
            return None
        image, meta, saved_id = doc.image, doc.meta, doc.history.top_id

        def work():
            yield Progress(None, f"Saving {path.name}")
            save_image(path, image, meta, jpeg_quality=quality, replace_read_only=True)  # the user agreed
            return path

        return self.w.runner.start(f"Save {path.name}", work, lambda p: self.saved(doc, p, saved_id))

    def save_now(self) -> bool:
        """Save on this thread (used while closing, when there is nothing left to keep
        responsive); True when the document ended up saved."""
        doc = self.w.doc
        path = self.choose_save_path()
        if doc is None or path is None or not self.allowed_to_write(path):
            return False
        quality = self.quality_for(path)
        if quality is None:
            return False
        self.w.setCursor(Qt.CursorShape.WaitCursor)
        try:
            save_image(path, doc.image, doc.meta, jpeg_quality=quality, replace_read_only=True)
        except Exception as e:  # noqa: BLE001 - shown to the user, the window stays open
            self.w.show_error(f"Save {path.name} failed", str(e))
            return False
        finally:
            self.w.unsetCursor()
        self.saved(doc, path, doc.history.top_id)
        return True

    def confirm_discard(self) -> bool:
        """True when there is nothing unsaved, or the user chose what to do with it."""
        doc = self.w.doc
        if doc is None or not doc.modified:
            return True
        name = doc.path.name if doc.path else "the image"
        choice = self.w.ask("Unsaved changes", f"Save the changes to {name}?", ["Save", "Discard", "Cancel"])
        if choice == 0:
            return self.save_now()
        return choice == 1

    # -- mask files -------------------------------------------------------------------------
    def load_mask_dialog(self) -> None:
        if self.w.doc is None:
            return
        path = self.w.ask_open_path("PNG (*.png)", "Load mask")
        if path:
            self.load_mask(path)

    def load_mask(self, path: str) -> WorkerThread | None:
        doc = self.w.doc
        if doc is None:
            return None
        shape, style = doc.mask.shape, self.w.overlay_style()

        def work():
            from desktop_app.gui.jobs import mask_edit

            yield Progress(None, f"Loading the mask {Path(path).name}")
            return mask_edit(doc, load_mask(path, shape), "Load mask", style)

        return self.w.runner.edit("Load mask", work, lambda *_: self.w.set_overlay_visible(True),
                                  stale="The mask changed while the file was read; it was not loaded.")

    def save_mask_dialog(self) -> WorkerThread | None:
        doc = self.w.doc
        if doc is None:
            return None
        base = doc.path or Path("image.png")
        path = self.w.ask_save_path(str(base.with_name(base.stem + "-mask.png")), "PNG (*.png)")
        if not path or not self.allowed_to_write(Path(path)):
            return None
        mask = doc.mask.copy()

        def work():
            yield Progress(None, f"Saving the mask {Path(path).name}")
            save_mask(path, mask, replace_read_only=True)
            return path

        return self.w.runner.start("Save mask", work,
                                   lambda p: self.w.statusBar().showMessage(f"Saved mask {p}", 5000))
