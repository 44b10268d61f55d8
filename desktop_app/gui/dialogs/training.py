"""Models > Train / Fine-tune...: teach a model on the user's own photos.

The dialog is three parts over the core's `Trainer` (training/trainer.py): the set-up form
(training_setup.py), the run monitor (training_monitor.py) and the result (training_result.py).
The run is a work generator in a worker thread, every step a progress event drawn as curves,
every yield a point where Pause holds it and Cancel stops it (the trainer checkpoints either
way, so a cancelled run can be resumed). Keep exports the best weights into the user's library
(core/training/keep.py, as `desktop-app train` without --out does), where the Operations or
Generate panel lists them. Tasks, defaults and metrics come from the training registry.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QDialog, QVBoxLayout, QWidget

from desktop_app.core.paths import app_data_dir
from desktop_app.core.tasks import Progress, pausable
from desktop_app.core.training import registry
from desktop_app.core.training.runs import SavedRun, mark_done, read_run, unfinished_runs
from desktop_app.gui.dialogs.training_monitor import RunMonitor
from desktop_app.gui.dialogs.training_result import ResultPanel
from desktop_app.gui.dialogs.training_setup import SCRATCH, TrainingSetup, preview_work  # noqa: F401 (re-exported)
from desktop_app.gui.workers import WorkerThread


class TrainingDialog(QDialog):
    """Choose data and a start point, watch the run, keep or discard the result.

    `config_overrides` is merged into the run's TrainConfig last (tests use it for a tiny
    network and short validation); nothing in the dialog sets it."""

    def __init__(self, window, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.setWindowTitle("Train / Fine-tune a model")
        self.window_ = window  # the main window: its dialog hooks, settings and panels
        self.config_overrides: dict[str, Any] = {}
        self.job: WorkerThread | None = None
        self.trainer = None
        self.run_dir: Path | None = None
        self._shown_trainer = None  # the trainer whose metric the monitor shows
        self.start_metrics: dict[str, float] | None = None
        self._running = threading.Event()
        self._running.set()
        self.setup = TrainingSetup(window, self)
        self.setup.make_config = self.build_config
        self.monitor = RunMonitor(self)
        self.result = ResultPanel(self)
        layout = QVBoxLayout(self)
        for part in (self.setup, self.monitor, self.result):
            layout.addWidget(part)
        self._connect()
        self._name_default()
        self._list_saved_runs()
        self._update_buttons()

    def _connect(self) -> None:
        self.setup.changed.connect(self._update_buttons)
        self.setup.task.currentIndexChanged.connect(self._name_default)
        self.setup.resume_button.clicked.connect(self.resume_saved)
        self.monitor.start_button.clicked.connect(self.start_training)
        self.monitor.pause_button.clicked.connect(self.toggle_pause)
        self.monitor.cancel_button.clicked.connect(self.cancel)
        self.result.keep_button.clicked.connect(self.keep)
        self.result.discard_button.clicked.connect(self.discard)
        self.result.name.textChanged.connect(self._update_buttons)

    # the parts' widgets, under the names the rest of the app and the tests use
    task = property(lambda self: self.setup.task)
    self_supervised = property(lambda self: self.setup.self_supervised)
    start = property(lambda self: self.setup.start)
    add_folder = property(lambda self: self.setup.add_folder)
    preview = property(lambda self: self.setup.preview)
    data_summary = property(lambda self: self.setup.data_summary)
    skipped = property(lambda self: self.setup.skipped)
    thumb_labels = property(lambda self: self.setup.thumb_labels)
    saved_runs = property(lambda self: self.setup.saved_runs)
    resume_button = property(lambda self: self.setup.resume_button)
    budget = property(lambda self: self.setup.budget)
    budget_kind = property(lambda self: self.setup.budget_kind)
    lr = property(lambda self: self.setup.lr)
    batch = property(lambda self: self.setup.batch)
    patch = property(lambda self: self.setup.patch)
    val_every = property(lambda self: self.setup.val_every)
    loss_plot = property(lambda self: self.monitor.loss_plot)
    metric_plot = property(lambda self: self.monitor.metric_plot)
    sample_labels = property(lambda self: self.monitor.sample_labels)
    status = property(lambda self: self.monitor.status)
    start_button = property(lambda self: self.monitor.start_button)
    pause_button = property(lambda self: self.monitor.pause_button)
    cancel_button = property(lambda self: self.monitor.cancel_button)
    report = property(lambda self: self.result.report)
    name = property(lambda self: self.result.name)
    keep_button = property(lambda self: self.result.keep_button)
    discard_button = property(lambda self: self.result.discard_button)

    def folder_list(self) -> list[str]:
        return self.setup.folder_list()

    def _name_default(self) -> None:
        """The task's default name, unless the user typed one."""
        defaults = {t.default_name for t in registry.all_tasks()} | {""}
        if self.result.name.text().strip() in defaults:
            self.result.name.setText(self.setup.listed.default_name)

    def build_config(self, folders: list[str] | None = None):
        config = self.setup.config(folders, name=self.result.name.text().strip() or self.setup.spec.default_name)
        for key, value in self.config_overrides.items():
            setattr(config, key, value)
        return config

    # -- runs left from earlier -----------------------------------------------------------
    @staticmethod
    def runs_root() -> Path:
        return app_data_dir() / "training"

    def _list_saved_runs(self) -> None:
        self.setup.list_saved_runs([r for r in unfinished_runs(self.runs_root()) if r.folder != self.run_dir])

    def resume_saved(self) -> None:
        """Show the chosen run's set-up and continue it from its checkpoint."""
        run: SavedRun | None = self.setup.saved_runs.currentData()
        if run is None or self.running or self.trainer is not None:
            return
        if not self.setup.show_run(run.config):
            self.window_.show_error("Resume the run", f"The dialog does not train {run.config.task!r} models; "
                                    f"continue this run from the command line with --resume --name {run.config.name}.")
            return
        self.result.name.setText(run.config.name)
        self.monitor.clear()  # the validation curve is refilled from the checkpoint's history
        self.run_dir = run.folder
        self.start_metrics = None
        self.setup.refresh_preview()
        self.start_training()

    # -- the run --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """From Start until the run's end has been handled here (not merely its thread ended)."""
        return self.job is not None

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def _run_config(self):
        """A new run's settings, or those of the run being continued: its own network,
        options and photos; batch, patch, learning rate, validation, budget and device as
        the form now says."""
        saved = read_run(self.run_dir) if self.run_dir is not None else None
        config = self.build_config()
        if saved is None:
            return config, False
        steps = config.steps if config.minutes is None else saved.config.steps
        if config.minutes is None and saved.step >= steps:
            steps = saved.step + self.setup.budget.value()  # a finished run: that many more
        return replace(saved.config, steps=steps, minutes=config.minutes, device=config.device, batch=config.batch,
                       patch=config.patch, lr=config.lr, val_every=config.val_every,
                       val_crop=config.val_crop), True

    def start_training(self) -> None:
        """Start a new run, or resume the cancelled one from its last checkpoint."""
        if self.running or not self.folder_list():
            return
        config, resuming = self._run_config()
        if not resuming:
            self.run_dir = self.runs_root() / time.strftime("run-%Y%m%d-%H%M%S")
            while self.run_dir.exists():
                self.run_dir = self.run_dir.with_name(self.run_dir.name + "-1")
            self.monitor.clear()
            self.start_metrics = None
        run_dir = self.run_dir
        self._running.set()
        self.result.clear()

        def work():
            from desktop_app.core.training.trainer import Trainer

            yield Progress(None, "building the model")
            trainer = Trainer(config, run_dir, command="training dialog")
            if resuming:
                trainer.resume()
            self.trainer = trainer  # read on the GUI thread only after the first event
            return (yield from pausable(trainer.run(), self._running))

        job = WorkerThread(work, "training", self)
        job.progress.connect(self._on_progress)
        job.succeeded.connect(lambda r: self._ended("finished"))
        job.cancelled.connect(lambda: self._ended("cancelled"))
        job.failed.connect(self._failed)
        job.finished.connect(lambda: self._job_finished(job))
        self.job = job
        self.monitor.status.setText("Resuming..." if resuming else "Starting...")
        job.start()
        self._update_buttons()

    def _on_progress(self, p: Progress) -> None:
        t = self.trainer
        if t is not None and t is not self._shown_trainer:
            self._shown_trainer = t
            self.monitor.watch(t)  # titled by the run's metric; a resumed run's curve so far
        if "loss" in p.data and self.start_metrics is None and t is not None:
            self.start_metrics = dict(t.start_metrics or {})
            if t.metric in self.start_metrics:
                self.monitor.add_score(0, self.start_metrics[t.metric])
        self.monitor.show_progress(p, t)

    def _job_finished(self, job: WorkerThread) -> None:
        job.thread.wait(2000)
        if self.job is job:
            self.job = None
        self._update_buttons()

    def toggle_pause(self) -> None:
        if not self.running:
            return
        if self.paused:
            self._running.set()
            self.monitor.status.setText("Resuming...")
        else:
            self._running.clear()
            self.monitor.status.setText("Pausing...")
        self._update_buttons()

    def cancel(self) -> None:
        """Stop the run between steps; its checkpoint stays and Continue resumes it."""
        if self.running:
            self._running.set()  # a paused run must get to its next yield to see the cancel
            self.job.cancel()
            self.monitor.status.setText("Cancelling...")

    def _failed(self, message: str, tb: str) -> None:
        self.monitor.status.setText(f"Training failed: {message}")
        self.window_.show_error("Training failed", message)

    def _ended(self, how: str) -> None:
        t = self.trainer
        if t is None:
            return
        text = f"Training {how} at step {t.step}." + (" Continue resumes it." if how == "cancelled" else "")
        if not t.improved and t.step > 0:
            text += f" No step beat the start ({t.score_text(t.best)}): there is nothing better to keep yet."
        self.monitor.status.setText(text)
        self.result.show_report(t, self.start_metrics)
        self._update_buttons()

    def report_rows(self) -> list[list[str]]:
        return self.result.rows()

    def keep_refusal(self) -> str | None:
        """Why Keep cannot be pressed now (None when it can)."""
        t = self.trainer
        if self.running:
            return "Keep is possible once the run is paused by Cancel or has finished."
        if t is None:
            return "Train a model first: Keep adds its best weights to your library."
        if not t.best_path.exists() or not t.improved:
            return "No step has beaten the starting weights yet, so there is nothing new to keep: continue the run."
        if not self.result.name.text().strip():
            return "Type a name for the model."
        return None

    @property
    def can_keep(self) -> bool:
        return self.keep_refusal() is None

    # -- the result -----------------------------------------------------------------------
    def keep(self) -> Path | None:
        """Export the best weights into the library under the chosen name."""
        from desktop_app.core.training import keep

        if not self.can_keep:
            return None
        name = self.result.name.text().strip()
        refusal = keep.name_refusal(name, replace=True)
        if refusal:
            self.window_.show_error("Keep the model", refusal[0].upper() + refusal[1:] + ".")
            return None
        if keep.name_refusal(name) is not None and self.window_.ask(
                "Replace the model?", f"Your library already has a model named {name!r}. Replace it?",
                ["Replace", "Cancel"], 1) != 0:
            return None
        t = self.trainer
        keep.keep(t, name, description=f"Trained in the training dialog on {', '.join(t.config.data)}.")
        self.window_.ops_panel.populate()
        generate_panel = getattr(self.window_, "generate_panel", None)
        if generate_panel is not None:
            generate_panel.refresh_models()
        mark_done(self.run_dir)  # kept: no longer offered as an unfinished run
        where = "the Generate panel lists it" if t.spec.model_task == "generate" \
            else "the Operations panel lists it under 'Your models'"
        self.monitor.status.setText(f"Kept as {name!r}: {where}.")
        self._update_buttons()
        return keep.library_path(name)

    def discard(self) -> None:
        """Forget the run: its checkpoints are deleted and the dialog starts afresh."""
        if self.running:
            return
        import shutil

        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        self.trainer, self.run_dir, self.start_metrics = None, None, None
        self.result.clear()
        self.monitor.clear()
        self.monitor.status.setText("Discarded.")
        self._list_saved_runs()
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.running
        has_data = bool(self.folder_list()) and self.setup.preview is not None
        self.monitor.set_buttons(running, self.paused, can_start=not running and has_data,
                                 resumable=self.trainer is not None and not running)
        self.setup.set_locked(running or self.trainer is not None)
        self.result.set_keep(self.keep_refusal(), can_discard=not running and self.trainer is not None)

    # -- closing --------------------------------------------------------------------------
    def stop_all(self, timeout_ms: int = 30000) -> None:
        """Cancel whatever runs (the trainer writes its checkpoint) and wait for it."""
        self._running.set()
        for job in (self.setup.preview_job, self.job):
            if job is not None and job.is_running():
                job.stop(timeout_ms)
        self.job = None

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.stop_all()
        super().closeEvent(event)

    def reject(self) -> None:
        self.stop_all()
        super().reject()
