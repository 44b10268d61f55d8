"""The main window's actions, menus and toolbar: what each command is called, its shortcut
and icon, and which controller method it runs."""

from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QAction, QKeySequence

from desktop_app.gui.icons import icon

TOOLS = (("brush", "&Brush", "B", "fa5s.paint-brush", "Paint the mask (Alt: erase)"),
         ("box", "Bo&x Select", "M", "fa5s.vector-square",
          "Drag a box around an object (Shift: add, Alt: subtract, Shift+Alt: intersect)"),
         ("wand", "Magic &Wand", "W", "fa5s.magic", "Click a region of similar colour (Shift/Alt as for boxes)"),
         ("keep", "&Keep Hints", "K", "fa5s.plus-circle", "Paint over parts the box selection missed"),
         ("remove", "Re&move Hints", "Shift+K", "fa5s.minus-circle", "Paint over parts it wrongly took"))


def open_calibration(w):
    """Models > Calibrate to My Camera (the dialog's module loads on first use, as the others')."""
    from desktop_app.gui.dialogs.calibration import open_calibration_dialog

    return open_calibration_dialog(w)


def make_actions(w) -> None:
    """Set the window's `act_*` actions and `tool_actions`, and build its menus and toolbar."""

    def A(text: str, slot: Callable, shortcut=None, icon_name: str | None = None, tip: str = "") -> QAction:
        act = QAction(text, w)
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
        w.addAction(act)
        return act

    f, e, s, r = w.files, w.edits, w.selection, w.runs
    w.act_open = A("&Open...", f.open_dialog, QKeySequence.StandardKey.Open, "fa5s.folder-open")
    w.act_open_sample = A("Open &Sample Photo", f.open_sample, None, None,
                          "A photo to try the tools on (opens as an untitled copy)")
    w.act_save = A("&Save", f.save, QKeySequence.StandardKey.Save, "fa5s.save")
    w.act_save_as = A("Save &As...", f.save_as, "Ctrl+Shift+S")
    w.act_batch = A("&Batch...", w.open_batch_dialog, "Ctrl+B", "fa5s.layer-group",
                    "Run one operation over many photos")
    w.act_load_mask = A("Load Mask...", f.load_mask_dialog)
    w.act_save_mask = A("Save Mask...", f.save_mask_dialog)
    w.act_quit = A("&Quit", w.close, QKeySequence.StandardKey.Quit)
    w.act_undo = A("&Undo", e.undo, QKeySequence.StandardKey.Undo, "fa5s.undo")
    w.act_redo = A("&Redo", e.redo, ["Ctrl+Shift+Z", "Ctrl+Y"], "fa5s.redo")
    w.act_prefs = A("&Preferences...", w.preferences, "Ctrl+,", "fa5s.cog")  # the standard key is none on Linux
    c = w.canvas
    w.act_zoom_in = A("Zoom &In", c.zoom_in, ["Ctrl++", "Ctrl+="], "fa5s.search-plus")
    w.act_zoom_out = A("Zoom &Out", c.zoom_out, "Ctrl+-", "fa5s.search-minus")
    w.act_fit = A("&Fit to Window", c.fit, "Ctrl+0", "fa5s.expand")
    w.act_actual = A("&Actual Size (100%)", c.actual_size, "Ctrl+1")
    w.act_split = A("&Compare Before/After (split)", w.toggle_split, "Ctrl+K", "fa5s.columns",
                    "Split view: original on the left; drag the line. Hold \\ to see the original.")
    w.act_split.setCheckable(True)
    w.act_overlay = A("Show &Mask Overlay", w.toggle_overlay, "Ctrl+H")
    w.act_overlay.setCheckable(True)
    w.act_overlay.setChecked(True)
    w.act_clear_mask = A("&Clear Mask", e.clear_mask, "Ctrl+Shift+A")
    w.act_invert_mask = A("&Invert Mask", e.invert_mask, "Ctrl+I")
    w.act_feather = A("&Feather Mask...", e.feather_dialog)
    w.act_bigger = A("Bigger Brush", lambda: e.scale_brush(1.2), "]")
    w.act_smaller = A("Smaller Brush", lambda: e.scale_brush(1 / 1.2), "[")
    w.act_erase = A("Toggle Erase", e.toggle_erase, "X")
    w.tool_actions = {}
    for tool, text, key, icon_name, tip in TOOLS:
        act = A(text, lambda _=False, t=tool: s.set_tool(t), key, icon_name, tip)
        act.setCheckable(True)
        act.setToolTip(f"{text.replace('&', '')} ({key}): {tip}")
        w.tool_actions[tool] = act
    w.tool_actions["brush"].setChecked(True)
    w.act_grow = A("&Grow Mask", lambda: e.grow_mask(+1), "Ctrl+Shift+]")
    w.act_shrink = A("S&hrink Mask", lambda: e.grow_mask(-1), "Ctrl+Shift+[")
    w.act_run = A("&Run Operation", w.ops_panel._run, "Ctrl+R", "fa5s.play")
    w.act_cancel = A("&Cancel Operation", w.cancel_job, "Esc", "fa5s.stop")
    w.act_next_variation = A("&Next Variation", lambda: r.step(+1), ".", None,
                             "Show the next of the variations offered after the last run")
    w.act_prev_variation = A("&Previous Variation", lambda: r.step(-1), ",", None,
                             "Show the previous of the variations offered after the last run")
    w.act_train = A("&Train / Fine-tune...", w.open_training_dialog, None, "fa5s.graduation-cap",
                    "Teach a denoiser on your own photos; the result joins the Operations panel")
    w.act_calibrate = A("&Calibrate to My Camera...", lambda: open_calibration(w), None, "fa5s.camera",
                        "Average bursts of a still scene into a clean reference, then teach the denoiser your camera")
    w.act_library = A("Manage &Library...", w.open_library_dialog, None, "fa5s.book",
                      "Rename, delete, export and import model files")
    w.act_generate = A("&Generate Images...", w.show_generate_panel, "Ctrl+G", "fa5s.magic",
                       "New pictures from a generator model: the Generate panel")

    bar = w.menuBar()
    m = bar.addMenu("&File")
    m.addAction(w.act_open)
    m.addMenu(f.recent_menu)
    for a in (w.act_open_sample, None, w.act_save, w.act_save_as, None, w.act_batch, None, w.act_load_mask,
              w.act_save_mask, None, w.act_quit):
        m.addSeparator() if a is None else m.addAction(a)
    m = bar.addMenu("&Edit")
    for a in (w.act_undo, w.act_redo, None, w.act_prefs):
        m.addSeparator() if a is None else m.addAction(a)
    m = bar.addMenu("&View")
    for a in (w.act_zoom_in, w.act_zoom_out, w.act_fit, w.act_actual, None, w.act_split, w.act_overlay, None):
        m.addSeparator() if a is None else m.addAction(a)
    for dock in w.docks.values():
        m.addAction(dock.toggleViewAction())
    m = bar.addMenu("&Mask")
    for a in (*w.tool_actions.values(), None, w.act_clear_mask, w.act_invert_mask, w.act_feather, w.act_grow,
              w.act_shrink, w.act_bigger, w.act_smaller, w.act_erase):
        m.addSeparator() if a is None else m.addAction(a)
    m = bar.addMenu("&Operations")
    for a in (w.act_run, w.act_cancel, None, w.act_prev_variation, w.act_next_variation, None, w.act_generate):
        m.addSeparator() if a is None else m.addAction(a)
    m = bar.addMenu("&Models")
    for a in (w.act_calibrate, w.act_train, w.act_library):
        m.addAction(a)
    f.rebuild_recent()

    tb = w.addToolBar("Main")
    tb.setObjectName("toolbar_main")
    for a in (w.act_open, w.act_save, None, w.act_undo, w.act_redo, None, w.act_zoom_in,
              w.act_zoom_out, w.act_fit, w.act_split, None, *w.tool_actions.values()):
        tb.addSeparator() if a is None else tb.addAction(a)
