from desktop_app.gui.canvas.canvas import ImageCanvas

__all__ = ["ImageCanvas"]
