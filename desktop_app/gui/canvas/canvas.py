"""The image canvas: zoom and pan, brush painting on the mask, before/after comparison.

Drawing stays smooth on 24-megapixel photos because only the visible part is drawn, from a
pyramid of pre-shrunk copies (smooth scaling never shrinks by more than 2x at once), and the
mask overlay is updated only where a stroke touched it.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen,
                           QResizeEvent, QWheelEvent)
from PySide6.QtWidgets import QWidget

from desktop_app.core.brush import BrushSettings
from desktop_app.core.document import Document
from desktop_app.core.imaging.colour import DisplayTransform
from desktop_app.gui.qimage import array_to_qimage, detached, for_display, mask_overlay, paint_overlay, update_qimage

MIN_ZOOM, MAX_ZOOM = 0.01, 64.0
ZOOM_STEP = 1.25


TOOLS = ("brush", "box", "wand", "keep", "remove")
HINT_COLOURS = {"keep": QColor(40, 220, 90, 150), "remove": QColor(240, 60, 60, 150)}


def selection_mode(modifiers) -> str:
    """Modifier keys as in other editors: Shift adds, Alt subtracts, both intersect."""
    shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
    alt = bool(modifiers & Qt.KeyboardModifier.AltModifier)
    return "intersect" if shift and alt else "add" if shift else "subtract" if alt else "replace"


class ImageCanvas(QWidget):
    zoomChanged = Signal(float)
    cursorMoved = Signal(int, int)  # image pixel under the cursor, (-1, -1) outside
    strokeFinished = Signal()
    splitChanged = Signal(float)
    boxDrawn = Signal(int, int, int, int, str)  # x, y, w, h in image pixels, combine mode
    wandClicked = Signal(int, int, str)  # x, y, combine mode
    hintDrawn = Signal(str, object)  # "keep"/"remove", list of (x, y) image points
    maskEditStarted = Signal()  # a brush stroke, box, wand click or hint begins

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(200, 150)
        self.doc: Document | None = None
        self.brush = BrushSettings()
        self.overlay_colour = QColor(255, 40, 60)
        self.overlay_opacity = 0.5
        self.overlay_visible = True
        self.zoom = 1.0
        self.offset = QPointF(0, 0)
        self.painting_enabled = True
        self.show_before = False  # whole view shows the original (key held)
        self.split = None  # None, or the fraction of the width showing the original on the left
        self._pyramid: list[QImage] = []
        self._original_pyramid: list[QImage] = []
        self._shows_original = False  # the pyramid is the original's, until the first edit
        self._overlay: QImage | None = None
        self._stroke = None
        self._pan_from: QPointF | None = None
        self._space = False
        self._dragging_split = False
        self._mouse: QPointF | None = None
        self._fit_pending = True
        self._prepared = None
        self._colour = None  # the document's profile -> the display's (None: shown as it is)
        self._prepared_overlay = None
        self.tool = "brush"
        self._box_from: QPointF | None = None
        self._box_to: QPointF | None = None
        self._box_mode = "replace"
        self._hint: list[tuple[float, float]] | None = None
        self.hints: list[tuple[str, float, list[tuple[float, float]]]] = []  # shown until cleared

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(tool)
        self.tool = tool
        self.update()

    # -- document ---------------------------------------------------------------------------
    def prepare_display(self, pixels, display: QImage | list[QImage]) -> None:
        """Hand over a display image (or its whole pyramid, `qimage.display_levels`) built on a
        worker thread for the array `pixels`, which is about to become the document's image."""
        self._prepared = (pixels, display)

    def prepare_overlay(self, mask, overlay: QImage) -> None:
        """Hand over a mask overlay built on a worker thread for the array `mask`, which is
        about to become the document's mask."""
        self._prepared_overlay = (mask, overlay)

    def set_document(self, doc: Document | None, display: QImage | list[QImage] | None = None) -> None:
        """`display`: the image's pyramid as the screen shows it (`qimage.display_levels`, made
        on a worker), or one QImage in the file's colours, converted here."""
        self.doc = doc
        self._pyramid, self._original_pyramid, self._overlay = [], [], None
        self._colour = DisplayTransform.for_profile(getattr(doc.meta, "icc_profile", None)) if doc else None
        if doc is not None:
            if isinstance(display, list):
                self._pyramid = list(display)
            else:
                base = display if display is not None else array_to_qimage(doc.image)
                self._pyramid = [for_display(base, self._colour)]
            self._original_pyramid = []
            self._shows_original = doc.image is doc.original
            self._overlay = mask_overlay(doc.mask, self.overlay_colour, self.overlay_opacity)
            doc.subscribe(self._on_doc_change)
            self._fit_pending = True
            self.fit()
        self.update()

    def _on_doc_change(self, what: str, box) -> None:
        if self.doc is None:
            return
        if what == "image":
            prepared, self._prepared = self._prepared, None
            prepared = prepared if prepared is not None and prepared[0] is self.doc.image else None
            self._keep_original_pyramid(prepared is not None, box)
            if prepared is not None:
                display = prepared[1]  # a pyramid is converted for the screen already; one image is not
                self._pyramid = list(display) if isinstance(display, list) else [for_display(display, self._colour)]
            elif box is None or box == (0, self.doc.height, 0, self.doc.width) or not self._pyramid:
                self._pyramid = [for_display(array_to_qimage(self.doc.image), self._colour)]
            else:
                base = self._pyramid[0]
                update_qimage(base, self.doc.image, box)
                for_display(base, self._colour, box, in_place=True)
                self._pyramid = [base]  # smaller levels are rebuilt on demand
            self.update()
        elif what == "mask" and self._overlay is not None:
            prepared, self._prepared_overlay = self._prepared_overlay, None
            if prepared is not None and prepared[0] is self.doc.mask:
                self._overlay = prepared[1]
                self.update()
                return
            if box is None:
                box = (0, self.doc.height, 0, self.doc.width)
            paint_overlay(self._overlay, self.doc.mask, self.overlay_colour, self.overlay_opacity, box)
            self.update(self._screen_rect(box).adjusted(-2, -2, 2, 2))

    def set_overlay_style(self, colour: QColor, opacity: float) -> None:
        self.overlay_colour, self.overlay_opacity = QColor(colour), float(opacity)
        if self.doc is not None:
            self._overlay = mask_overlay(self.doc.mask, self.overlay_colour, self.overlay_opacity)
        self.update()

    # -- coordinates ------------------------------------------------------------------------
    def to_image(self, p: QPointF) -> QPointF:
        return (p - self.offset) / self.zoom

    def to_screen(self, p: QPointF) -> QPointF:
        return p * self.zoom + self.offset

    def _screen_rect(self, box) -> QRect:
        y0, y1, x0, x1 = box
        tl = self.to_screen(QPointF(x0, y0))
        br = self.to_screen(QPointF(x1, y1))
        return QRectF(tl, br).toAlignedRect()

    # -- zoom -------------------------------------------------------------------------------
    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        if anchor is None:
            anchor = QPointF(self.width() / 2, self.height() / 2)
        before = self.to_image(anchor)
        self.zoom = zoom
        self.offset = anchor - before * zoom
        self._fit_pending = False
        self.zoomChanged.emit(self.zoom)
        self.update()
        if self._mouse is not None:  # another pixel under the cursor (zoomed about the centre)
            self._report_cursor(self._mouse)

    def _report_cursor(self, pos: QPointF) -> None:
        if self.doc is not None:
            p = self.to_image(pos)
            x, y = int(math.floor(p.x())), int(math.floor(p.y()))
            inside = 0 <= x < self.doc.width and 0 <= y < self.doc.height
            self.cursorMoved.emit(x if inside else -1, y if inside else -1)

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom / ZOOM_STEP)

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def fit(self) -> None:
        if self.doc is None or self.width() < 2:
            return
        margin = 16
        z = min((self.width() - margin) / self.doc.width, (self.height() - margin) / self.doc.height)
        self.zoom = min(MAX_ZOOM, max(MIN_ZOOM, z))
        self.offset = QPointF((self.width() - self.doc.width * self.zoom) / 2,
                              (self.height() - self.doc.height * self.zoom) / 2)
        self._fit_pending = True
        self.zoomChanged.emit(self.zoom)
        self.update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        if self._fit_pending:
            self.fit()
        super().resizeEvent(event)

    # -- drawing ----------------------------------------------------------------------------
    def _level(self, pyramid: list[QImage]) -> tuple[QImage, float]:
        """The pyramid level to draw from at the current zoom, and its scale vs full size."""
        level, scale = 0, 1.0
        while self.zoom * 2 <= scale and min(pyramid[level].width(), pyramid[level].height()) > 64:
            if level + 1 >= len(pyramid):
                img = pyramid[level]
                pyramid.append(img.scaled(max(1, img.width() // 2), max(1, img.height() // 2),
                                          Qt.AspectRatioMode.IgnoreAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation))
            level += 1
            scale /= 2
        return pyramid[level], scale

    def _draw_image(self, painter: QPainter, pyramid: list[QImage], clip: QRectF) -> None:
        img, scale = self._level(pyramid)
        full = QRectF(self.offset.x(), self.offset.y(), self.doc.width * self.zoom, self.doc.height * self.zoom)
        target = full.intersected(clip)
        if target.isEmpty():
            return
        # the source rectangle in the level's pixels that maps onto `target`
        src = QRectF((target.x() - self.offset.x()) / self.zoom * scale,
                     (target.y() - self.offset.y()) / self.zoom * scale,
                     target.width() / self.zoom * scale, target.height() / self.zoom * scale)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.zoom < 1.0)
        painter.drawImage(target, img, src)

    def _keep_original_pyramid(self, prepared: bool, box) -> None:
        """The pyramid shown until now becomes the original's when it showed the original
        (the photo as opened) and the image changes: before/after then needs no conversion
        of the whole photo on this thread. An edit about to be written into the full-size
        level in place (a region, nothing prepared) keeps a copy of that level instead."""
        if self._original_pyramid or not self._pyramid or not self._shows_original:
            return
        self._shows_original = False
        in_place = not prepared and box is not None and box != (0, self.doc.height, 0, self.doc.width)
        self._original_pyramid = [detached(self._pyramid[0])] + self._pyramid[1:] if in_place else self._pyramid

    def _original(self) -> list[QImage]:
        if not self._original_pyramid and self.doc is not None:
            self._original_pyramid = [for_display(array_to_qimage(self.doc.original), self._colour)]
        return self._original_pyramid

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(event.rect(), QColor(40, 40, 44))
        if self.doc is None or not self._pyramid:
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             "Open a photo (Ctrl+O) or drop one here")
            return
        view = QRectF(event.rect())
        if self.show_before:
            self._draw_image(painter, self._original(), view)
        elif self.split is not None:
            sx = self.split * self.width()
            left = view.intersected(QRectF(0, 0, sx, self.height()))
            right = view.intersected(QRectF(sx, 0, self.width() - sx, self.height()))
            self._draw_image(painter, self._original(), left)
            self._draw_image(painter, self._pyramid, right)
            self._draw_overlay(painter, right)
            painter.setPen(QPen(QColor(255, 255, 255), 2))
            painter.drawLine(QPointF(sx, 0), QPointF(sx, self.height()))
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(QPointF(max(4, sx - 60), 18), "Before")
            painter.drawText(QPointF(sx + 8, 18), "After")
        else:
            self._draw_image(painter, self._pyramid, view)
            self._draw_overlay(painter, view)
        self._draw_hints(painter)
        self._draw_box(painter)
        self._draw_brush_cursor(painter)

    def _draw_hints(self, painter: QPainter) -> None:
        strokes = list(self.hints)
        if self._hint is not None:
            strokes.append((self.tool, self.brush.clamped().size, self._hint))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for kind, size, points in strokes:
            pen = QPen(HINT_COLOURS.get(kind, QColor(255, 255, 0, 150)), max(1.0, size * self.zoom))
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            painter.setPen(pen)
            screen = [self.to_screen(QPointF(x, y)) for x, y in points]
            if len(screen) == 1:
                painter.drawPoint(screen[0])
            for a, b in zip(screen, screen[1:]):
                painter.drawLine(a, b)

    def _draw_box(self, painter: QPainter) -> None:
        if self._box_from is None or self._box_to is None:
            return
        rect = QRectF(self.to_screen(self._box_from), self.to_screen(self._box_to)).normalized()
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for colour, style in ((QColor(0, 0, 0), Qt.PenStyle.SolidLine), (QColor(255, 255, 255), Qt.PenStyle.DashLine)):
            painter.setPen(QPen(colour, 1, style))
            painter.drawRect(rect)

    def clear_hints(self) -> None:
        self.hints.clear()
        self.update()

    def _draw_overlay(self, painter: QPainter, clip: QRectF) -> None:
        if not self.overlay_visible or self._overlay is None:
            return
        full = QRectF(self.offset.x(), self.offset.y(), self.doc.width * self.zoom, self.doc.height * self.zoom)
        target = full.intersected(clip)
        if target.isEmpty():
            return
        src = QRectF((target.x() - self.offset.x()) / self.zoom, (target.y() - self.offset.y()) / self.zoom,
                     target.width() / self.zoom, target.height() / self.zoom)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(target, self._overlay, src)

    def _draw_brush_cursor(self, painter: QPainter) -> None:
        if self._mouse is None or not self.painting_enabled or self._pan_mode() or self.tool in ("box", "wand"):
            return
        r = self.brush.clamped().size / 2 * self.zoom
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for colour, width in ((QColor(0, 0, 0, 160), 3), (QColor(255, 255, 255), 1)):
            painter.setPen(QPen(colour, width))
            painter.drawEllipse(self._mouse, r, r)
            if self.brush.hardness < 1.0:
                painter.drawEllipse(self._mouse, r * self.brush.hardness, r * self.brush.hardness)

    # -- input ------------------------------------------------------------------------------
    def _pan_mode(self) -> bool:
        return self._space or self._pan_from is not None

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.set_zoom(self.zoom * math.pow(ZOOM_STEP, steps), event.position())
        event.accept()

    def _near_split(self, x: float) -> bool:
        return self.split is not None and abs(x - self.split * self.width()) < 6

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if event.button() == Qt.MouseButton.MiddleButton or (event.button() == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = pos
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if event.button() == Qt.MouseButton.LeftButton and self._near_split(pos.x()):
            self._dragging_split = True
            return
        if event.button() == Qt.MouseButton.LeftButton and self.doc is not None and self.tool != "brush":
            self.maskEditStarted.emit()
            p = self.to_image(pos)
            if self.tool == "box":
                self._box_from = self._box_to = p
                self._box_mode = selection_mode(event.modifiers())
            elif self.tool == "wand":
                x, y = int(math.floor(p.x())), int(math.floor(p.y()))
                if 0 <= x < self.doc.width and 0 <= y < self.doc.height:
                    self.wandClicked.emit(x, y, selection_mode(event.modifiers()))
            else:
                self._hint = [(p.x(), p.y())]
            return
        if event.button() == Qt.MouseButton.LeftButton and self.doc is not None and self.painting_enabled:
            self.maskEditStarted.emit()
            brush = BrushSettings(self.brush.size, self.brush.hardness,
                                  self.brush.erase != bool(event.modifiers() & Qt.KeyboardModifier.AltModifier),
                                  self.brush.opacity)
            self._stroke = self.doc.begin_stroke(brush)
            p = self.to_image(pos)
            self._stroke.to(p.x(), p.y())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        old = self._mouse
        self._mouse = pos
        if self._pan_from is not None:
            self.offset += pos - self._pan_from
            self._pan_from = pos
            self._fit_pending = False
            self.update()
        elif self._dragging_split:
            self.split = min(1.0, max(0.0, pos.x() / max(1, self.width())))
            self.splitChanged.emit(self.split)
            self.update()
        elif self._stroke is not None:
            p = self.to_image(pos)
            self._stroke.to(p.x(), p.y())
        elif self._box_from is not None:
            self._box_to = self.to_image(pos)
            self.update()
        elif self._hint is not None:
            p = self.to_image(pos)
            self._hint.append((p.x(), p.y()))
            self.update()
        self._report_cursor(pos)
        self._update_cursor_area(old, pos)
        if self.split is not None and not self._stroke:
            self.setCursor(Qt.CursorShape.SplitHCursor if self._near_split(pos.x()) else Qt.CursorShape.CrossCursor)

    def _update_cursor_area(self, old: QPointF | None, new: QPointF) -> None:
        r = int(self.brush.clamped().size / 2 * self.zoom) + 4
        for p in (old, new):
            if p is not None:
                self.update(QRect(int(p.x()) - r, int(p.y()) - r, 2 * r, 2 * r))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.setCursor(Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.CrossCursor)
            return
        if self._dragging_split:
            self._dragging_split = False
            return
        if self._box_from is not None and event.button() == Qt.MouseButton.LeftButton:
            a, b = self._box_from, self.to_image(event.position())
            self._box_from = self._box_to = None
            self.update()
            x0, x1 = sorted((max(0.0, min(a.x(), b.x())), min(float(self.doc.width), max(a.x(), b.x()))))
            y0, y1 = sorted((max(0.0, min(a.y(), b.y())), min(float(self.doc.height), max(a.y(), b.y()))))
            if x1 - x0 >= 4 and y1 - y0 >= 4:
                self.boxDrawn.emit(int(x0), int(y0), int(round(x1 - x0)), int(round(y1 - y0)), self._box_mode)
            return
        if self._hint is not None and event.button() == Qt.MouseButton.LeftButton:
            points, self._hint = self._hint, None
            self.hints.append((self.tool, self.brush.clamped().size, points))
            self.update()
            self.hintDrawn.emit(self.tool, points)
            return
        if self._stroke is not None and event.button() == Qt.MouseButton.LeftButton:
            stroke, self._stroke = self._stroke, None
            if stroke.finish() is not None:
                self.strokeFinished.emit()

    def leaveEvent(self, event) -> None:
        old, self._mouse = self._mouse, None
        if old is not None:
            self._update_cursor_area(old, old)
        self.cursorMoved.emit(-1, -1)
        super().leaveEvent(event)

    def enterEvent(self, event) -> None:
        self.setCursor(Qt.CursorShape.CrossCursor)
        super().enterEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            self.update()
            return
        if event.key() == Qt.Key.Key_Backslash and not event.isAutoRepeat():
            self.show_before = True
            self.update()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.setCursor(Qt.CursorShape.CrossCursor)
            self.update()
            return
        if event.key() == Qt.Key.Key_Backslash and not event.isAutoRepeat():
            self.show_before = False
            self.update()
            return
        super().keyReleaseEvent(event)

    def set_split(self, fraction: float | None) -> None:
        self.split = fraction
        self.update()

    def cancel_stroke(self) -> None:
        if self._stroke is not None:
            self._stroke.finish()
            self._stroke = None
