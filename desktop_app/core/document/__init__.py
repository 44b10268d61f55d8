"""The open document: image, mask, undo history, autosave."""

from desktop_app.core.document.document import Document
from desktop_app.core.document.history import History, Patch, Step

__all__ = ["Document", "History", "Patch", "Step"]
