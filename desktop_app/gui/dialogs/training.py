"""Models > Train / Fine-tune...: teach a model on the user's own photos.

The dialog is three parts over the core's `Trainer` (training/trainer.py): the set-up form
(training_setup.py), the run monitor (training_monitor.py) and the result (training_result.py).
The run is a work generator in a worker thread, every step a progress event drawn as curves,
every yield a point where Pause holds it and Cancel stops it (the trainer checkpoints either
way, so a cancelled run can be resumed). Keep exports the best weights into the user's library
(core/training/keep.py, as `desktop-app train` without --out does), where the Operations or
Generate panel lists them; Keep and Discard (which deletes the run's folder) run in a worker
too, the buttons greyed meanwhile. Tasks, defaults and metrics come from the training registry.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QDialog, QVBoxLayout, QWidget

from desktop_app.core.paths import app_data_dir
from desktop_app.core.work import Progress, pausable
from desktop_app.core.training import registry
from desktop_app.core.training.runs import SavedRun, mark_done, read_run, unfinished_runs
from desktop_app.gui.dialogs.training_monitor import RunMonitor
from desktop_app.gui.dialogs.training_result import ResultPanel
from desktop_app.gui.dialogs.training_setup import SCRATCH, TrainingSetup, preview_work  # noqa: F401 (re-exported)
from desktop_app.gui.scrolling import fit_to_screen, scrolling
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
        self.job: WorkerThread | None = None  # the run
        self.result_job: WorkerThread | None = None  # Keep or Discard at work
        self._result_doing = ""
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
        parts = QWidget()
        inner = QVBoxLayout(parts)
        inner.setContentsMargins(0, 0, 0, 0)
        for part in (self.setup, self.monitor, self.result):
            inner.addWidget(part)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(scrolling(parts))  # a 768-px screen holds the dialog; its parts scroll
        fit_to_screen(self, parts)
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
        if run is None or self.running or self.busy or self.trainer is not None:
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
    def busy(self) -> bool:
        """Keep or Discard is at work (copying weights, writing the library, deleting files)."""
        return self.result_job is not None

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
        schedule = saved.config.schedule_minutes  # counts the run's time over every invocation
        if config.minutes is not None and schedule and saved.seconds >= schedule * 60:
            schedule = saved.seconds / 60 + config.minutes  # a finished run: that many more
        return replace(saved.config, steps=steps, minutes=config.minutes, schedule_minutes=schedule,
                       device=config.device, batch=config.batch,
                       patch=config.patch, lr=config.lr, val_every=config.val_every,
                       val_crop=config.val_crop), True

    def start_training(self) -> None:
        """Start a new run, or resume the cancelled one from its last checkpoint."""
        if self.running or self.busy or not self.folder_list():
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
        job.release()
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
            text += (f" No step beat the start{t.start_bar_text()} ({t.score_text(t.best)}): "
                     "there is nothing better to keep yet.")
        self.monitor.status.setText(text)
        self.result.show_report(t, self.start_metrics)
        self._update_buttons()

    def report_rows(self) -> list[list[str]]:
        return self.result.rows()

    def keep_refusal(self) -> str | None:
        """Why Keep cannot be pressed now (None when it can)."""
        t = self.trainer
        if self.busy:
            return self._result_doing
        if self.running:
            return "Keep is possible once the run is paused by Cancel or has finished."
        if t is None:
            return "Train a model first: Keep adds its best weights to your library."
        if not t.best_path.exists() or not t.improved:
            return (f"No step has beaten the starting weights{t.start_bar_text()} yet, so there is nothing new to "
                    "keep: continue the run.")
        if not self.result.name.text().strip():
            return "Type a name for the model."
        return None

    @property
    def can_keep(self) -> bool:
        return self.keep_refusal() is None

    # -- the result -----------------------------------------------------------------------
    def keep(self) -> WorkerThread | None:
        """Export the best weights into the library under the chosen name, in a worker; the
        Operations (or Generate) panel lists the model once it is done."""
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
        t, run_dir = self.trainer, self.run_dir
        description = f"Trained in the training dialog on {', '.join(t.config.data)}."

        def export() -> None:
            keep.keep(t, name, description=description)
            mark_done(run_dir)  # kept: no longer offered as an unfinished run

        return self._start_result_job("Keep the model", f"Keeping the model as {name!r}...", export,
                                      lambda _: self._kept(t, name))

    def _kept(self, t, name: str) -> None:
        self.window_.ops_panel.populate()
        generate_panel = getattr(self.window_, "generate_panel", None)
        if generate_panel is not None:
            generate_panel.refresh_models()
        where = "the Generate panel lists it" if t.spec.model_task == "generate" \
            else "the Operations panel lists it under 'Your models'"
        self.monitor.status.setText(f"Kept as {name!r}: {where}.")

    def discard(self) -> WorkerThread | None:
        """Forget the run: its checkpoints are deleted (in a worker) and the dialog starts afresh."""
        if self.running or self.busy or self.trainer is None:
            return None
        run_dir = self.run_dir

        def delete() -> None:
            if run_dir is not None and run_dir.exists():
                shutil.rmtree(run_dir)

        return self._start_result_job("Discard the run", "Discarding the run...", delete, lambda _: self._discarded())

    def _discarded(self) -> None:
        self.trainer, self.run_dir, self.start_metrics = None, None, None
        self.result.clear()
        self.monitor.clear()
        self.monitor.status.setText("Discarded.")
        self._list_saved_runs()

    def _start_result_job(self, title: str, doing: str, action: Callable[[], Any],
                          on_done: Callable[[Any], None]) -> WorkerThread:
        """`action` in a worker, Keep, Discard and Start greyed until it ends; its error is
        shown as the dialog shows others."""

        def work():
            yield Progress(None, doing)
            return action()

        job = WorkerThread(work, title, self)
        job.succeeded.connect(on_done)
        job.failed.connect(lambda message, tb: self._result_failed(title, message))
        job.finished.connect(lambda: self._result_job_finished(job))
        self.result_job, self._result_doing = job, doing
        self.monitor.status.setText(doing)
        job.start()
        self._update_buttons()
        return job

    def _result_failed(self, title: str, message: str) -> None:
        self.monitor.status.setText(f"{title} failed: {message}")
        self.window_.show_error(title, message)

    def _result_job_finished(self, job: WorkerThread) -> None:
        job.release()
        if self.result_job is job:
            self.result_job = None
        self._update_buttons()

    def _update_buttons(self) -> None:
        running, busy = self.running, self.busy
        has_data = bool(self.folder_list()) and self.setup.preview is not None
        self.monitor.set_buttons(running, self.paused, can_start=not running and not busy and has_data,
                                 resumable=self.trainer is not None and not running)
        self.setup.set_locked(running or busy or self.trainer is not None)
        self.result.set_keep(self.keep_refusal(), can_discard=not running and not busy and self.trainer is not None)

    # -- closing --------------------------------------------------------------------------
    def stop_all(self, timeout_ms: int = 30000) -> None:
        """Cancel whatever runs (the trainer writes its checkpoint) and wait for it; a Keep or
        Discard at work is left to end (a half-copied model or half-deleted run helps nobody)."""
        self._running.set()
        self.setup.stop_previews(timeout_ms)
        if self.job is not None and self.job.is_running():
            self.job.stop(timeout_ms)
        self.job = None
        if self.result_job is not None:
            self.result_job.thread.wait(timeout_ms)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Shown again after closing stopped the preview half-way: read the photos again."""
        super().showEvent(event)
        if self.setup.preview is None and not self.setup.reading and self.folder_list() and self.trainer is None:
            self.setup.refresh_preview()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.stop_all()
        super().closeEvent(event)

    def reject(self) -> None:
        self.stop_all()
        super().reject()
