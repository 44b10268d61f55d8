"""Models > Train / Fine-tune: preview a folder, train a tiny denoiser with live curves,
pause, cancel, continue, keep it, and use it from the Operations panel."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop_app.core.models.catalog import library_dir
from desktop_app.core.operations import registry
from desktop_app.core.operations.library import sync_library_operations
from desktop_app.gui.dialogs.training import SCRATCH, TrainingDialog
from tests.conftest import photo_folder
from tests.gui.helpers import panel_keys, run_from_panel

TINY = {"widths": [8, 16], "blocks": [1, 1]}
# a tiny network, one thread, short validation: seconds, not minutes
OVERRIDES = {"hparams": TINY, "threads": 1, "val_crop": 64, "val_min": 2, "warmup": 0}


@pytest.fixture
def folder(tmp_path):
    return photo_folder(tmp_path)


@pytest.fixture(autouse=True)
def _forget_library_operations():
    yield
    sync_library_operations()  # the next test's library is empty: its operations go


def click(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def keep_and_wait(qtbot, dialog, button=None):
    """Press Keep (or Discard) and wait until its worker is done."""
    click(qtbot, button or dialog.keep_button)
    assert dialog.busy and not dialog.keep_button.isEnabled() and not dialog.discard_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30000)


def open_dialog(qtbot, window, folder):
    window.act_train.trigger()
    dialog = window.training_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.config_overrides = dict(OVERRIDES)
    dialog.task.setCurrentIndex(dialog.task.findData("denoise"))
    dialog.start.setCurrentIndex(dialog.start.findData(SCRATCH))
    window.dialogs.folder_paths = [str(folder)]
    click(qtbot, dialog.add_folder)
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=20000)
    return dialog


def set_budget(dialog, steps: int, batch: int = 2, patch: int = 32, val_every: int = 2) -> None:
    """A run of `steps` steps on small batches of small patches, validated often."""
    dialog.budget_kind.setCurrentIndex(dialog.budget_kind.findData("steps"))
    dialog.budget.setValue(steps)
    dialog.batch.setValue(batch)
    dialog.patch.setValue(patch)
    dialog.val_every.setValue(val_every)


def test_models_menu_has_the_training_action(window):
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert window.act_train in menus["Models"].actions()


def test_preview_counts_images_and_lists_skipped_files(qtbot, window, folder):
    dialog = open_dialog(qtbot, window, folder)
    assert dialog.preview["train"] + dialog.preview["val"] == 12
    assert "12 images" in dialog.data_summary.text()
    assert f"{dialog.preview['val']} held back for validation" in dialog.data_summary.text()
    assert dialog.skipped.isVisibleTo(dialog) and "broken.jpg" in dialog.skipped.item(0).text()
    assert sum(1 for lbl in dialog.thumb_labels if not lbl.pixmap().isNull()) == 6
    assert dialog.start_button.isEnabled()


def test_train_pause_cancel_continue_keep_and_use(qtbot, opened, folder):
    import torch

    torch.set_num_threads(1)
    window = opened
    dialog = open_dialog(qtbot, window, folder)
    set_budget(dialog, 100_000)  # far more than the test waits for: it is cancelled

    click(qtbot, dialog.start_button)
    qtbot.waitUntil(lambda: len(dialog.loss_plot.points) >= 4 and len(dialog.metric_plot.points) >= 3
                    and "steps/s" in dialog.status.text(), timeout=60000)  # not "validating 2 of 12"
    assert "left" in dialog.status.text()
    assert not dialog.task.isEnabled()  # the set-up is fixed while it runs

    click(qtbot, dialog.pause_button)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Paused"), timeout=20000)
    held = dialog.trainer.step
    qtbot.wait(400)
    assert dialog.trainer.step == held and dialog.running
    assert dialog.pause_button.text() == "Resume"
    click(qtbot, dialog.pause_button)
    qtbot.waitUntil(lambda: dialog.trainer.step > held, timeout=20000)

    click(qtbot, dialog.cancel_button)
    qtbot.waitUntil(lambda: not dialog.running, timeout=30000)
    stopped = dialog.trainer.step
    assert "cancelled" in dialog.status.text()
    assert (dialog.run_dir / "last.safetensors").exists() and (dialog.run_dir / "best.safetensors").exists()
    assert dialog.start_button.text() == "Continue"

    points = len(dialog.loss_plot.points)
    dialog.budget.setValue(stopped + 4)
    click(qtbot, dialog.start_button)
    qtbot.waitUntil(lambda: not dialog.running and dialog.trainer.step == stopped + 4, timeout=60000)
    assert len(dialog.loss_plot.points) == points + 4  # the curve goes on from where it stopped
    assert "finished" in dialog.status.text(), dialog.status.text()

    rows = dialog.report_rows()
    assert [r[0] for r in rows] == ["Untrained network", "Trained (best)"]
    assert float(rows[1][1].split()[0]) > float(rows[0][1].split()[0])

    dialog.name.setText("my-tiny")
    keep_and_wait(qtbot, dialog)
    assert (library_dir() / "my-tiny.safetensors").exists() and (library_dir() / "my-tiny.json").exists()
    assert "denoise/my-tiny" in panel_keys(window.ops_panel)
    assert registry.get("denoise/my-tiny").category == "Your models"

    before = window.doc.image.copy()
    run_from_panel(qtbot, window, "denoise/my-tiny", timeout=60)
    assert not window.dialogs.errors, window.dialogs.error_text
    assert not np.allclose(window.doc.image, before)


def test_the_status_says_when_the_steps_run_in_bf16(qtbot):
    from types import SimpleNamespace

    import torch

    from desktop_app.core.work import Progress
    from desktop_app.gui.dialogs.training_monitor import RunMonitor

    monitor = RunMonitor()
    qtbot.addWidget(monitor)
    step = Progress(0.1, "step 10", {"step": 10, "loss": 0.02, "steps_per_s": 5.1, "seconds_left": 90})
    monitor.show_progress(step, SimpleNamespace(amp_dtype=torch.bfloat16))
    assert "5.1 steps/s in bf16" in monitor.status.text()
    monitor.show_progress(step, SimpleNamespace(amp_dtype=None))
    assert "5.1 steps/s" in monitor.status.text() and "bf16" not in monitor.status.text()


def test_bad_name_is_refused_and_discard_forgets_the_run(qtbot, window, folder):
    dialog = open_dialog(qtbot, window, folder)
    set_budget(dialog, 4)
    click(qtbot, dialog.start_button)
    qtbot.waitUntil(lambda: dialog.trainer is not None and not dialog.running, timeout=60000)
    assert dialog.keep_button.isEnabled()
    dialog.name.setText("no/slashes")
    click(qtbot, dialog.keep_button)
    assert window.dialogs.errors and "not a usable name" in window.dialogs.errors[-1][1]
    assert not list(library_dir().glob("*.json"))

    run_dir = dialog.run_dir
    keep_and_wait(qtbot, dialog, dialog.discard_button)
    assert not run_dir.exists() and dialog.trainer is None
    assert dialog.start_button.text() == "Start" and not dialog.keep_button.isEnabled()


def test_keep_and_discard_work_in_a_worker_and_their_errors_are_shown(qtbot, window, folder, monkeypatch):
    import shutil
    import threading

    from desktop_app.core.training import keep as keep_module

    dialog = open_dialog(qtbot, window, folder)
    set_budget(dialog, 4)
    click(qtbot, dialog.start_button)
    qtbot.waitUntil(lambda: dialog.trainer is not None and not dialog.running, timeout=60000)
    threads = []

    def full_disk(*args, **kw):
        threads.append(threading.current_thread())
        raise OSError("No space left on device")

    monkeypatch.setattr(keep_module, "keep", full_disk)
    dialog.name.setText("no-room")
    keep_and_wait(qtbot, dialog)
    assert threads and threads[0] is not threading.main_thread()
    assert window.dialogs.errors == [("Keep the model", "No space left on device")]
    assert "failed" in dialog.status.text()
    assert dialog.keep_button.isEnabled() and dialog.discard_button.isEnabled(), "it can be tried again"

    real_rmtree, calls = shutil.rmtree, []

    def in_use_at_first(path, *args, **kw):
        calls.append(threading.current_thread())
        if len(calls) == 1:
            raise PermissionError("the folder is in use")
        return real_rmtree(path, *args, **kw)

    monkeypatch.setattr(shutil, "rmtree", in_use_at_first)
    run_dir = dialog.run_dir
    keep_and_wait(qtbot, dialog, dialog.discard_button)
    assert window.dialogs.errors[-1] == ("Discard the run", "the folder is in use")
    assert run_dir.exists() and dialog.trainer is not None, "nothing is forgotten that was not deleted"
    keep_and_wait(qtbot, dialog, dialog.discard_button)
    assert not run_dir.exists() and dialog.trainer is None and dialog.status.text() == "Discarded."
    assert all(t is not threading.main_thread() for t in calls)


def test_self_supervised_run_shows_its_loss_and_a_photo_before_and_after(qtbot, window, folder):
    dialog = open_dialog(qtbot, window, folder)
    assert not dialog.self_supervised.isEnabled()  # the Gaussian denoiser has no such mode
    dialog.task.setCurrentIndex(dialog.task.findData("denoise-real"))
    assert dialog.self_supervised.isEnabled()
    lr = dialog.lr.value()
    dialog.self_supervised.setChecked(True)
    assert dialog.lr.value() == pytest.approx(3e-5) and lr > 3e-5  # the gentler fine-tune of the command line
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=20000)  # read again, as that task reads
    dialog.start.setCurrentIndex(dialog.start.findData(SCRATCH))
    assert dialog.build_config().task == "denoise-self"
    set_budget(dialog, 4)
    click(qtbot, dialog.start_button)
    qtbot.waitUntil(lambda: dialog.trainer is not None and not dialog.running, timeout=60000)
    assert "finished" in dialog.status.text(), dialog.status.text()
    assert dialog.metric_plot.title == "validation self-supervised loss (lower is better)"
    assert len(dialog.metric_plot.points) >= 2
    assert all(lbl.isVisibleTo(dialog) and not lbl.pixmap().isNull() for lbl in dialog.sample_labels)
    assert dialog.report.horizontalHeaderItem(1).text() == "Validation self-supervised loss"
    assert all(r[1].endswith("(self-supervised loss)") for r in dialog.report_rows())


def test_a_run_stopped_by_closing_is_offered_after_a_restart_and_resumes_from_its_step(qtbot, make_window, folder):
    window = make_window()
    dialog = open_dialog(qtbot, window, folder)
    assert not dialog.resume_button.isVisibleTo(dialog), "nothing to resume yet"
    set_budget(dialog, 100_000)
    dialog.name.setText("carried-on")
    click(qtbot, dialog.start_button)
    qtbot.waitUntil(lambda: dialog.trainer is not None and dialog.trainer.step >= 4, timeout=60000)
    dialog.stop_all()  # what closing the window does: the run checkpoints and stops
    stopped = dialog.trainer.step
    dialog.close()

    # a new session: another window, its own training dialog
    later = make_window()
    again = later.open_training_dialog()
    assert again is not dialog and again.resume_button.isVisibleTo(again)
    assert again.saved_runs.count() == 1 and "carried-on" in again.saved_runs.itemText(0)
    assert f"step {stopped}" in again.saved_runs.itemText(0)
    click(qtbot, again.resume_button)
    assert again.name.text() == "carried-on" and again.folder_list() == [str(folder)]
    qtbot.waitUntil(lambda: again.trainer is not None and again.trainer.step > stopped, timeout=60000)
    # the curve so far is drawn when the window handles the resumed run's first event (the
    # worker may be a step ahead of it)
    qtbot.waitUntil(lambda: len(again.metric_plot.points) >= 2, timeout=10000)
    click(qtbot, again.cancel_button)
    qtbot.waitUntil(lambda: not again.running, timeout=30000)
    assert again.run_dir == dialog.run_dir, "the same run went on, not a new one"
    keep_and_wait(qtbot, again)
    assert (library_dir() / "carried-on.json").exists()
    fresh = TrainingDialog(later)
    assert fresh.saved_runs.count() == 0, "a kept run is not offered again"
    fresh.deleteLater()


TINY_BY_TASK = {
    "inpaint": ({"widths": [8, 16], "middle": 1, "unshuffle": 2}, {}, "inpaint/my-inpainter"),
    "generate-gan": ({"size": 32, "latent_dim": 16, "width": 8, "max_width": 32}, {"val_samples": 32}, None),
}


@pytest.mark.parametrize("task", ["inpaint", "generate-gan"])
def test_inpainting_and_generators_train_in_the_dialog_and_are_kept_where_they_are_used(qtbot, opened, folder,
                                                                                       task):
    window = opened
    window.act_train.trigger()
    dialog = window.training_dialog
    dialog.task.setCurrentIndex(dialog.task.findData(task))
    hparams, options, op_key = TINY_BY_TASK[task]
    dialog.config_overrides = dict(OVERRIDES, hparams=hparams, task_options=options)
    dialog.start.setCurrentIndex(dialog.start.findData(SCRATCH))
    assert dialog.name.text() == ("my-inpainter" if task == "inpaint" else "my-generator")
    dialog.patch.setValue(32)
    window.dialogs.folder_paths = [str(folder)]
    click(qtbot, dialog.add_folder)
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=20000)
    set_budget(dialog, 4, batch=4)
    click(qtbot, dialog.start_button)
    qtbot.waitUntil(lambda: dialog.trainer is not None and not dialog.running, timeout=60000)
    assert "finished" in dialog.status.text(), dialog.status.text()
    assert len(dialog.metric_plot.points) >= 2
    keep_and_wait(qtbot, dialog)
    assert not window.dialogs.errors, window.dialogs.error_text
    if op_key:  # an inpainting network: a fill method in the Operations panel, with variations
        assert op_key in panel_keys(window.ops_panel)
        window.doc.set_mask(np.pad(np.ones((20, 20), np.float32), ((40, 60), (60, 80))), "hole")
        before = window.doc.image.copy()
        run_from_panel(qtbot, window, op_key, timeout=60)
        assert not window.dialogs.errors, window.dialogs.error_text
        assert not np.allclose(window.doc.image, before)
    else:  # a generator: offered in the Generate panel
        box = window.generate_panel.model_box
        assert "my-generator" in [box.itemData(i) for i in range(box.count())]


def test_keep_is_never_greyed_without_the_reason_shown(qtbot, window, folder):
    dialog = open_dialog(qtbot, window, folder)
    reason = dialog.result.keep_reason
    assert not dialog.keep_button.isEnabled() and reason.isVisibleTo(dialog) and "Train a model first" in reason.text()
    # a learning rate so high that no step beats the start
    dialog.config_overrides["lr"] = 10.0
    set_budget(dialog, 2, val_every=1)
    click(qtbot, dialog.start_button)
    qtbot.waitUntil(lambda: dialog.trainer is not None and not dialog.running, timeout=60000)
    assert "No step beat the start" in dialog.status.text(), dialog.status.text()
    assert [r[0] for r in dialog.report_rows()] == ["Untrained network"]
    assert not dialog.keep_button.isEnabled() and "No step has beaten" in reason.text() and reason.isVisibleTo(dialog)
    assert dialog.keep_button.toolTip() == reason.text()


@pytest.mark.parametrize("task", ["denoise", "denoise-real", "inpaint", "generate-gan"])
@pytest.mark.parametrize("fine_tune", [False, True])
def test_the_dialog_starts_from_the_command_lines_defaults(qtbot, window, monkeypatch, task, fine_tune):
    from desktop_app import cli
    from desktop_app.core.models.catalog import models_for
    from desktop_app.core.training import registry as training_tasks
    from desktop_app.core.training import trainer as trainer_module

    seen = {}

    class Stop(Exception):
        pass

    def capture(config, run_dir, command=None):
        seen["config"] = config
        raise Stop

    window.act_train.trigger()
    dialog = window.training_dialog
    dialog.task.setCurrentIndex(dialog.task.findData(task))
    spec = training_tasks.get(task)
    base = models_for(spec.model_task)[0].manifest.id if fine_tune else None
    dialog.start.setCurrentIndex(dialog.start.findData(base or SCRATCH))
    shown = dialog.build_config(["photos"])
    monkeypatch.setattr(trainer_module, "Trainer", capture)
    argv = ["train", "--task", task, "--data", "photos", "--name", "x"] + (["--base", base] if base else [])
    assert cli.main(argv) == 1 and "config" in seen
    command_line = seen["config"]
    for key in ("lr", "batch", "patch", "val_every", "val_crop", "arch", "base", "task_options"):
        assert getattr(shown, key) == getattr(command_line, key), key
    # a fine-tune of the Gaussian denoiser trains for its result after Recover detail, as the app shows it
    assert ("refine" in shown.task_options) == (task == "denoise" and fine_tune)
    # and the dialog says so under the start point
    note = dialog.setup.start_note
    assert note.isVisibleTo(dialog) == (task == "denoise" and fine_tune)
    if note.isVisibleTo(dialog):
        assert "Recover detail" in note.text()
    assert (dialog.lr.value(), dialog.batch.value()) == (command_line.lr, command_line.batch)


def test_a_task_added_as_a_descriptor_is_offered_trained_and_kept(qtbot, opened, folder):
    """Nothing but a registered descriptor (an existing network and existing code): the
    dialog lists it, trains it, reports its metric in its words, and keeps it."""
    from desktop_app.core.training import registry as training_tasks
    from desktop_app.core.training.restoration import RealDenoiseTask

    spec = training_tasks.TrainingTask(
        id="test-blind", title="Denoise, blind (a test task)", model_task="denoise-real",
        default_arch="unet-denoise-blind", code=RealDenoiseTask,
        scratch=training_tasks.Settings(lr=1e-3, batch=2, patch=32, val_every=2),
        fine_tune=training_tasks.Settings(lr=1e-4, batch=2, patch=32, val_every=2),
        metric=training_tasks.Metric(key="psnr", title="PSNR on camera-like noise"), default_name="my-test-blind")
    training_tasks.register(spec)
    try:
        window = opened
        dialog = TrainingDialog(window)
        dialog.show()
        dialog.config_overrides = dict(OVERRIDES)
        assert dialog.task.findData("test-blind") >= 0
        dialog.task.setCurrentIndex(dialog.task.findData("test-blind"))
        dialog.start.setCurrentIndex(dialog.start.findData(SCRATCH))
        assert dialog.name.text() == "my-test-blind" and dialog.lr.value() == pytest.approx(1e-3)
        window.dialogs.folder_paths = [str(folder)]
        click(qtbot, dialog.add_folder)
        qtbot.waitUntil(lambda: dialog.preview is not None, timeout=20000)
        set_budget(dialog, 4)
        click(qtbot, dialog.start_button)
        qtbot.waitUntil(lambda: dialog.trainer is not None and not dialog.running, timeout=60000)
        assert dialog.metric_plot.title == "validation PSNR on camera-like noise"
        header = dialog.report.horizontalHeaderItem(1).text()
        assert header == "Validation PSNR on camera-like noise"
        fits = dialog.report.horizontalHeader().sectionSize(1) >= dialog.report.fontMetrics().horizontalAdvance(header)
        assert fits, "the header is cut"
        keep_and_wait(qtbot, dialog)
        assert "denoise/my-test-blind" in panel_keys(window.ops_panel)
        dialog.stop_all()
        dialog.deleteLater()
    finally:
        training_tasks.unregister("test-blind")


@pytest.mark.parametrize("schedule, minutes", [(0.02, 0.02), (1.0, 0.02)])
def test_continuing_a_run_timed_in_minutes_finishes_its_schedule_or_adds_the_form_s_minutes(
        qtbot, window, folder, tmp_path, schedule, minutes):
    from dataclasses import replace

    from desktop_app.core.training.runs import read_run
    from desktop_app.core.training.trainer import Trainer
    from desktop_app.core.work import run_work

    dialog = open_dialog(qtbot, window, folder)
    dialog.budget_kind.setCurrentIndex(dialog.budget_kind.findData("minutes"))
    dialog.budget.setValue(3)
    run_dir = tmp_path / "run"  # a run of `schedule` minutes that trained `minutes` of them
    first = replace(dialog.build_config(), batch=2, patch=32, val_every=100_000,
                    minutes=minutes, schedule_minutes=schedule)
    run_work(Trainer(first, run_dir).run())
    dialog.run_dir = run_dir
    saved = read_run(run_dir)

    config, resuming = dialog._run_config()
    assert resuming and config.minutes == 3
    if schedule == minutes:  # finished: three more minutes of schedule
        assert config.schedule_minutes == pytest.approx(saved.seconds / 60 + 3)
    else:  # cut off: the run's own schedule, whose rest this invocation trains
        assert config.schedule_minutes == schedule
    trainer = Trainer(config, run_dir)
    assert trainer.resume() and 0 < trainer.budget_seconds() <= 180
