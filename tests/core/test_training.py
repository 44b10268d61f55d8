"""The trainer lifecycle on a tiny network and a folder of synthetic images."""

import json
import math

import numpy as np
import pytest
import torch

from desktop_app.core.models.weights import load_model
from desktop_app.core.work import CancelToken, Cancelled, run_work
from desktop_app.core.training import degrade, registry
from desktop_app.core.training.config import TrainConfig
from desktop_app.core.training.data import load_image_set
from desktop_app.core.training.trainer import Trainer
from tests.conftest import photo_folder, textured_image

TINY = {"widths": [8, 16], "blocks": [1, 1]}


@pytest.fixture
def folder(tmp_path):
    return photo_folder(tmp_path)


def config(folder, **kw):
    base = dict(task="denoise", name="tiny", data=[str(folder)], arch="unet-denoise", hparams=TINY, steps=6,
                batch=2, patch=32, val_every=3, val_crop=64, val_min=2, checkpoint_minutes=100)
    return TrainConfig(**{**base, **kw})


def test_folder_is_searched_recursively_and_bad_files_are_skipped(folder):
    data = load_image_set([folder], val_fraction=0.2, min_val=2)
    assert len(data.train) + len(data.val) == 12
    assert len(data.val) >= 2
    assert [p.name for p, _ in data.skipped] == ["broken.jpg"]
    again = load_image_set([folder], val_fraction=0.2, min_val=2)
    assert again.val_paths == data.val_paths  # the split is stable


def test_reading_an_image_set_is_work_with_a_cancel_point_per_file(folder, monkeypatch):
    from desktop_app.core.training import data as data_module
    from desktop_app.core.training import registry as training_tasks

    events = []
    read = run_work(data_module.iter_image_set([folder], 0.2, 2), on_progress=events.append)
    plain = load_image_set([folder], val_fraction=0.2, min_val=2)
    assert len(events) == 1 + len(data_module.find_images([folder]))  # finding, then one per file
    assert (read.train_paths, read.val_paths, read.skipped) == (plain.train_paths, plain.val_paths, plain.skipped)

    # a task's reading is work: its reader stops it at the next file once it asks
    token, files = CancelToken(), []
    real_read = data_module.read_rgb

    def read_and_cancel_at_the_third(path, *args, **kw):
        files.append(path)
        if len(files) == 3:
            token.cancel()
        return real_read(path, *args, **kw)

    monkeypatch.setattr(data_module, "read_rgb", read_and_cancel_at_the_third)
    code = training_tasks.get("denoise").create(config(folder))
    with pytest.raises(Cancelled):
        run_work(code.read(), cancel=token)
    assert len(files) == 3


def test_a_run_can_be_cancelled_while_its_images_are_read_and_during_its_first_validation(folder, tmp_path):
    for stop_at in ("reading", "validating"):
        token, seen = CancelToken(), []

        def progress(p, stop_at=stop_at):
            seen.append(p.message)
            if p.message.startswith(stop_at):
                token.cancel()

        trainer = Trainer(config(folder, steps=1000), tmp_path / stop_at)
        with pytest.raises(Cancelled):
            run_work(trainer.run(), progress, token)
        assert trainer.step == 0 and seen[-1].startswith(stop_at)
        assert "step" not in trainer.best  # stopped before the first validation ended


def test_train_checkpoint_resume_and_export(folder, tmp_path):
    run_dir = tmp_path / "run"
    trainer = Trainer(config(folder), run_dir, command="desktop-app train --test")
    events = []
    result = run_work(trainer.run(), events.append)
    assert result["step"] == 6
    assert any(e.data.get("validation") for e in events)
    assert (run_dir / "last.safetensors").exists() and (run_dir / "best.safetensors").exists()

    resumed = Trainer(config(folder, steps=9), run_dir)
    assert resumed.resume() and resumed.step == 6
    assert run_work(resumed.run())["step"] == 9

    manifest = resumed.export(tmp_path / "out" / "tiny.safetensors", title="Tiny")
    model, m = load_model(tmp_path / "out" / "tiny.json")
    stored = json.loads((tmp_path / "out" / "tiny.json").read_text())
    assert stored["training"]["data"] == [str(folder)] and "val_psnr" in stored["metrics"]
    assert m.sha256 == manifest.sha256 and m.title == "Tiny"
    x = torch.rand(1, 3, 32, 32)
    assert model(x, torch.full((1, 3), 0.1)).shape == x.shape


def test_a_run_that_never_beats_its_start_still_exports_the_starting_weights(folder, tmp_path):
    # stopped after one step, before any validation could replace the start as the best
    token = CancelToken()
    trainer = Trainer(config(folder, steps=1000, val_every=1000), tmp_path / "run")
    with pytest.raises(Cancelled):
        run_work(trainer.run(), lambda p: p.data.get("step", 0) >= 1 and token.cancel(), token)
    assert trainer.best["step"] == 0
    trainer.export(tmp_path / "out" / "tiny.safetensors")
    model, m = load_model(tmp_path / "out" / "tiny.json")
    assert m.training["steps"] == 0 and "val_psnr" in m.metrics


def test_training_can_be_cancelled_between_steps(folder, tmp_path):
    token = CancelToken()
    seen = []

    def progress(p):
        seen.append(p)
        if p.data.get("step", 0) >= 2:
            token.cancel()

    trainer = Trainer(config(folder, steps=1000), tmp_path / "run")
    with pytest.raises(Cancelled):
        run_work(trainer.run(), progress, token)
    assert trainer.step == 2


def test_a_time_budget_brings_the_learning_rate_down_and_its_last_steps_are_validated(folder, tmp_path):
    c = config(folder, steps=100_000, minutes=0.1, schedule_minutes=0.1, warmup=0, val_every=100_000,
               lr=1e-3, lr_min=1e-6)
    trainer = Trainer(c, tmp_path / "run")
    assert trainer.lr_at(5, seconds=0.0) == pytest.approx(1e-3)
    assert trainer.lr_at(5, seconds=3.0) == pytest.approx(0.5e-3, rel=0.01)  # half the budget
    assert trainer.lr_at(5, seconds=6.0) == pytest.approx(1e-6)
    rates = []
    run_work(trainer.run(), lambda p: "lr" in p.data and rates.append(p.data["lr"]))
    assert trainer.step > 3 and rates[-1] < 0.3 * rates[0]
    # it ran out of time long before a validation was due: the end is validated all the same
    assert trainer.history[-1]["step"] == trainer.step


def test_a_resumed_run_trains_only_what_is_left_of_its_time_schedule(folder, tmp_path):
    # a 6-second schedule, stopped after 2 seconds (Ctrl-C, or a budget for this invocation)
    c = config(folder, steps=100_000, minutes=2 / 60, schedule_minutes=0.1, warmup=0, val_every=100_000)
    run_work(Trainer(c, tmp_path / "run").run())
    again = config(folder, steps=100_000, minutes=0.1, schedule_minutes=0.1, warmup=0, val_every=100_000)
    resumed = Trainer(again, tmp_path / "run")
    assert resumed.resume()
    assert resumed.budget_seconds() == pytest.approx(6.0 - resumed.seconds)
    assert 3.0 < resumed.budget_seconds() < 4.5
    rates = []
    run_work(resumed.run(), lambda p: "lr" in p.data and rates.append(p.data["lr"]))
    assert resumed.seconds == pytest.approx(6.0, abs=1.0)  # not 2 + 6
    assert rates[-1] < 0.1 * again.lr  # it ended where the schedule does
    finished = Trainer(again, tmp_path / "run")
    assert finished.resume() and finished.budget_seconds() == 0.0
    step = finished.step
    run_work(finished.run())
    assert finished.step == step  # nothing left to train: no step at the floor rate


def test_degradations_have_the_noise_they_claim():
    gen = torch.Generator().manual_seed(0)
    clean = torch.rand(64, 3, 32, 32) * 0.6 + 0.2
    noisy, target, sigma = degrade.gaussian(clean, 50.0, 0.0, gen)
    measured = (noisy - target).std(dim=(1, 2, 3))
    assert torch.allclose(measured, sigma[:, 0], atol=0.01)
    real, real_target, none = degrade.realistic(clean, gen)
    assert none is None and real.shape == clean.shape
    assert 0 <= real.min() and real.max() <= 1  # clipped like a real file
    assert (real - real_target).abs().mean() > 0.001


def test_camera_grain_blur_is_a_gaussian_that_keeps_the_noise_power():
    """The grain's blur (two 1-D passes) equals a 2-D Gaussian convolution, and white noise
    keeps unit variance through it, whatever each sample's blur."""
    import math
    import torch.nn.functional as F

    white = torch.randn(3, 2, 96, 96, generator=torch.Generator().manual_seed(4))
    sigmas = torch.tensor([0.1, 1.2, 4.0])  # the first too small to blur: left as it is
    blurred = degrade._blur_each(white, sigmas)
    assert torch.equal(blurred[0], white[0])
    for i in (1, 2):
        s = float(sigmas[i])
        r = math.ceil(3 * s)
        x = torch.arange(-r, r + 1, dtype=torch.float32)
        k = torch.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * s * s))
        k = (k / k.sum())[None, None].repeat(2, 1, 1, 1)
        direct = F.conv2d(F.pad(white[i:i + 1], (r, r, r, r), mode="reflect"), k, groups=2)[0]
        direct = direct / (k[0, 0] ** 2).sum().sqrt()
        assert torch.allclose(blurred[i], direct, atol=1e-4)
        assert 0.8 < float(blurred[i].std()) < 1.2
        assert float((blurred[i][:, :, 1:] * blurred[i][:, :, :-1]).mean()) > 0.5  # blurred: neighbours alike


def test_camera_noise_comes_in_colour_blotches_larger_than_its_brightness_grain():
    """Real camera files (PolyU) hold colour noise correlated over 4+ pixels and brightness
    noise over about one: the synthetic camera noise has both, unlike white noise."""
    gen = torch.Generator().manual_seed(1)
    clean = torch.full((32, 3, 64, 64), 0.5)
    noisy, _, _ = degrade.realistic(clean, gen, jpeg_probability=0.0, gaussian_probability=0.0)
    noise = noisy - clean
    brightness, colour = noise.mean(dim=1), noise[:, 0] - noise[:, 1]

    def correlation(x: torch.Tensor, lag: int) -> float:
        x = x - x.mean(dim=(1, 2), keepdim=True)
        return float((x[:, :, :-lag] * x[:, :, lag:]).mean() / (x * x).mean())

    assert correlation(colour, 3) > 0.3  # blotches: white noise would give 0
    assert correlation(colour, 3) > 2 * correlation(brightness, 3)
    assert 0.1 < correlation(brightness, 1) < 0.8  # grain, not blur


def test_samples_stored_as_files_are_clipped_and_quantised_and_keep_their_true_noise_level():
    gen = torch.Generator().manual_seed(0)
    clean = torch.rand(200, 3, 16, 16)  # values near 0 and 1: much of the noise is cut off
    noisy, _, sigma = degrade.gaussian(clean, 50.0, 0.0, gen, clip_fraction=0.8)
    on_levels = lambda x, levels: float((x.double() * levels - torch.round(x.double() * levels)).abs().max()) < 0.01
    stored = torch.tensor([on_levels(x, 65535) for x in noisy])  # 8-bit values are on this grid too
    assert 0.7 < stored.float().mean() < 0.9  # most samples, as asked, not all
    assert all(0 <= float(x.min()) and float(x.max()) <= 1 for x in noisy[stored])
    kept_in_range = sum(0 <= float(x.min()) and float(x.max()) <= 1 for x in noisy[~stored])
    assert kept_in_range < 0.1 * (~stored).sum()  # the others keep their noise beyond 0 and 1
    eight = sum(on_levels(x, 255) for x in noisy[stored])
    assert 0.3 * stored.sum() < eight < 0.7 * stored.sum()  # half 8-bit, the rest 16-bit
    assert float(sigma.max()) > 40 / 255  # the map says the noise that was added, not what is left


def test_samples_with_noise_growing_with_brightness_carry_its_level_per_pixel():
    """The `level` option: some samples' noise is weaker in the dark than in the light, as a
    camera's, and their map says the level at each pixel (what "auto" gives the network)."""
    gen = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0, 1, 64)[None, None, None, :].expand(200, 3, 64, 64).contiguous()
    noisy, clean, sigma = degrade.gaussian(ramp, 50.0, 0.0, gen, level_fraction=0.5)
    assert sigma.shape == noisy.shape
    dark, light = sigma[..., :8].mean(dim=(1, 2, 3)), sigma[..., -8:].mean(dim=(1, 2, 3))
    growing = light > 1.2 * dark
    assert 0.35 < growing.float().mean() < 0.65  # about the fraction asked; the rest constant
    assert torch.allclose(dark[~growing], light[~growing])
    noise = noisy - clean  # the map is the noise's own standard deviation, pixel by pixel
    for cols in (np.s_[..., :8], np.s_[..., -8:]):
        seen, said = noise[growing][cols].std(), sigma[growing][cols].pow(2).mean().sqrt()
        assert abs(float(seen / said) - 1) < 0.05


def test_the_level_map_is_read_as_the_app_reads_it_and_does_not_show_the_clean_edges():
    """A sharp map (the curve at the clean level) told the network where the clean photo's edges
    lie, which the app's map (read at the noisy photo's blurred level) never does: the network
    came to lean on it, and camera-like noise read by "auto" lost 0.05 dB."""
    gen = torch.Generator().manual_seed(0)
    step = torch.zeros(64, 3, 32, 32)
    step[..., 16:] = 1.0  # black | white, a sharp edge between columns 15 and 16
    noisy, clean, sigma = degrade.gaussian(step, 30.0, 0.0, gen, level_fraction=1.0)
    jump = (sigma[..., 16] - sigma[..., 15]).abs().mean()
    whole = (sigma[..., -4:].mean() - sigma[..., :4].mean()).abs()
    assert jump < 0.4 * whole  # spread over a few pixels, as a blur of 2 px spreads it
    black = (sigma[..., :4] / sigma[..., -4:].mean(dim=-1, keepdim=True))  # noise at black, share of white
    assert torch.all(sigma > 0) and float(black.min()) > 0.02


def test_vivid_colours_reach_saturated_chroma():
    gen = torch.Generator().manual_seed(0)
    dull = torch.rand(64, 3, 16, 16) * 0.2 + 0.4  # greyish patches, like most training photos
    vivid = degrade.vivid(dull, torch.ones(64, dtype=torch.bool), gen)
    chroma = lambda x: (x.amax(dim=1) - x.amin(dim=1)).mean()
    assert chroma(vivid) > 2 * chroma(dull) and 0 <= vivid.min() and vivid.max() <= 1
    untouched = degrade.vivid(dull, torch.zeros(64, dtype=torch.bool), gen)
    assert torch.equal(untouched, dull)


def _fine_colour(batch: torch.Tensor) -> float:
    """Fine colour detail against fine brightness detail: neighbours' differences of the
    red-blue and brightness parts."""
    x = torch.as_tensor(batch, dtype=torch.float32)
    colour, light = x[:, 0] - x[:, 2], x.mean(dim=1)
    step = lambda a: (a[..., 1:] - a[..., :-1]).pow(2).mean()  # noqa: E731
    return float(step(colour) / step(light))


def test_low_channel_gains_turn_grey_texture_into_coloured_texture():
    """The `tint` option: some channels dimmed far below others, so a texture's detail is
    stronger in some channels (a red fabric's weave), which the training photos lack."""
    grey = (torch.rand(256, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 0.5 + 0.25).expand(-1, 3, -1, -1)
    every = torch.ones(256, dtype=torch.bool)
    usual = degrade.vivid(grey, every, torch.Generator().manual_seed(0))
    tinted = degrade.vivid(grey, every, torch.Generator().manual_seed(0), tint=0.3)
    assert _fine_colour(tinted) > 1.5 * _fine_colour(usual)
    assert 0 <= tinted.min() and tinted.max() <= 1


def test_halved_samples_hold_the_fine_colour_detail_a_jpeg_drops(folder):
    """The `half` option: a JPEG keeps colour at half resolution; samples cut at twice the
    size and halved get it back at full resolution."""
    from types import SimpleNamespace

    from desktop_app.core.training.restoration import DenoiseTask

    rng = np.random.default_rng(0)
    light = rng.uniform(60, 190, (256, 256, 1))
    colour = np.repeat(np.repeat(rng.uniform(-40, 40, (128, 128, 1)), 2, 0), 2, 1)  # 2 x 2 blocks
    photo = np.clip(light + colour * np.array([1.0, 0.0, -1.0]), 0, 255).astype(np.uint8)
    data = SimpleNamespace(train=[photo])

    def fine_colour(half: float) -> float:
        task = DenoiseTask(config(folder, task_options={"half": half}))
        return _fine_colour(task.batch(data, 64, 32, np.random.default_rng(1)))

    plain, some, every = fine_colour(0.0), fine_colour(0.5), fine_colour(1.0)
    assert every > 3 * plain and plain * 1.2 < some < every / 1.2
    with pytest.raises(ValueError):
        DenoiseTask(config(folder, task_options={"half": 1.5}))


def test_a_balanced_loss_weighs_quiet_samples_up_and_loud_ones_down(folder):
    from desktop_app.core.training.restoration import DenoiseTask

    clean = torch.full((3, 3, 32, 32), 0.5)
    noise = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    noisy = clean + noise * torch.tensor([5.0, 25.0, 75.0])[:, None, None, None] / 255
    plain = DenoiseTask(config(folder)).sample_weights(noisy, clean)
    balanced = DenoiseTask(config(folder, task_options={"balance": 1.0})).sample_weights(noisy, clean)
    assert torch.equal(plain, torch.ones(3))
    assert balanced[0] > 2 and abs(float(balanced[1]) - 0.83) < 0.05 and balanced[2] < 0.35
    with pytest.raises(ValueError):
        DenoiseTask(config(folder, task_options={"balance": 2.0}))


def test_the_psnr_loss_is_minus_the_batchs_mean_psnr(folder):
    """With `psnr=1` a sample twice as far off costs 6 dB whatever its noise level: the loss is
    the mean of 10 log10(MSE), so a quiet sample's small error counts as much as a loud one's."""
    from desktop_app.core.training.restoration import DenoiseTask

    class Off(torch.nn.Module):  # returns the clean patch shifted by a known error per sample
        noise_map = True

        def forward(self, noisy, sigma):
            return self.target + torch.tensor([0.01, 0.1])[:, None, None, None]

    task = DenoiseTask(config(folder, task_options={"psnr": 1.0}))
    clean = torch.full((2, 3, 16, 16), 0.5)
    model = Off()
    task.degrade = lambda c, gen: (c, c, torch.full((2, 3), 0.1))
    model.target = clean
    loss, _ = task.loss(model, clean, torch.Generator(), "cpu")
    assert float(loss) == pytest.approx((10 * np.log10(1e-4) + 10 * np.log10(1e-2)) / 2, abs=1e-3)
    assert float(DenoiseTask(config(folder)).loss(model, clean, torch.Generator(), "cpu")[0]) > 0  # L1 as before
    with pytest.raises(ValueError):
        DenoiseTask(config(folder, task_options={"psnr": 0.5}))


@pytest.mark.parametrize("clipped, levels", [(False, (18, 20, 22)), (True, (18, 20, 22)), (False, (0.2, 0.2, 0.8))])
def test_the_training_wiener_step_is_the_apps_and_passes_gradients_to_its_guide(clipped, levels, monkeypatch):
    """The step the `refine` loss trains through gives the app's plain Wiener step's result (its
    colour filtered on every block, as the training copy does) and is differentiable in the guide;
    like the app it filters a photo whose loudest channel is above MIN_SIGMA, the mean below."""
    import cv2

    from desktop_app.core.imaging import wiener
    from desktop_app.core.training.wiener_step import refine

    monkeypatch.setattr(wiener, "_QUINCUNX", wiener._OFFSETS)
    clean = textured_image(80, 100, seed=3)
    rng = np.random.default_rng(1)
    sigma = np.float32(levels) / 255
    noisy = clean + rng.normal(0, 1, clean.shape).astype(np.float32) * sigma
    if clipped:
        noisy = np.clip(noisy, 0, 1)
    guide = cv2.GaussianBlur(clean, (3, 3), 0.8)
    shares = np.full(3, wiener.share(float(sigma.mean()) * 255), np.float32)
    app = run_work(wiener.wiener(noisy, guide, sigma, clipped, shares))

    def tensor(a):
        return torch.from_numpy(a.transpose(2, 0, 1).copy())[None]

    pilot = tensor(guide).requires_grad_()
    out = refine(tensor(noisy), pilot, torch.from_numpy(sigma)[None], torch.tensor([clipped]))
    assert np.abs(out[0].detach().numpy().transpose(1, 2, 0) - app).max() < 1e-5
    assert np.abs(app - guide).max() > 0.02  # the step changed the guide: the comparison means something
    out.sum().backward()
    assert pilot.grad is not None and float(pilot.grad.abs().sum()) > 0


def test_a_refine_share_trains_for_the_result_after_the_wiener_step(folder):
    """With `refine=1` the loss is the L1 error of the app's result after its Wiener step, not of
    the network's own; black-and-white samples keep the network's."""
    from desktop_app.core.training import wiener_step
    from desktop_app.core.training.restoration import DenoiseTask

    class Guide(torch.nn.Module):  # a fixed blur of the noisy patch: the step has detail to give back
        noise_map = True

        def forward(self, noisy, sigma):
            return torch.nn.functional.avg_pool2d(noisy, 3, 1, 1, count_include_pad=False)

    clean = torch.from_numpy(np.stack([textured_image(48, 48, seed=s).transpose(2, 0, 1) for s in range(2)]))
    noisy = clean + 0.08 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    sigma = torch.full((2, 3), 0.08)
    model = Guide()
    plain, refined = (DenoiseTask(config(folder, task_options={"refine": r})) for r in (0.0, 1.0))
    for task in (plain, refined):
        task.degrade = lambda c, gen: (noisy, clean, sigma)
    after = wiener_step.refine(noisy, model(noisy, sigma), sigma, torch.tensor([False, False]))
    loss = float(refined.loss(model, clean, torch.Generator(), "cpu")[0])
    assert loss == pytest.approx(float(torch.abs(after - clean).mean()), rel=1e-5)
    assert loss < float(plain.loss(model, clean, torch.Generator(), "cpu")[0]) - 1e-3  # the step helped the blur
    grey = noisy.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    assert torch.equal(DenoiseTask.refined(grey, model(grey, sigma), sigma), model(grey, sigma))
    mixed = torch.stack([grey[0], noisy[1]])  # one of each: the colour one filtered alone, the grey kept
    out = DenoiseTask.refined(mixed, model(mixed, sigma), sigma)
    assert torch.equal(out[0], model(mixed, sigma)[0])
    assert torch.allclose(out[1], after[1], atol=1e-6)
    # with the PSNR loss too: minus the mean PSNR of the result after the step
    both = DenoiseTask(config(folder, task_options={"refine": 1.0, "psnr": 1.0}))
    both.degrade = lambda c, gen: (noisy, clean, sigma)
    mse = (after - clean).square().flatten(1).mean(dim=1)
    assert float(both.loss(model, clean, torch.Generator(), "cpu")[0]) == \
        pytest.approx(float(torch.mean(10 * torch.log10(mse))), abs=1e-3)
    with pytest.raises(ValueError):
        DenoiseTask(config(folder, task_options={"refine": 1.5}))


def test_a_gaussian_fine_tune_trains_for_the_result_after_the_wiener_step():
    """A fine-tune of a Gaussian denoiser (the dialog's and the command line's defaults) puts
    its loss on what the app shows, the result after Recover detail; a new network, the blind
    denoisers and a run given `refine` itself do not take it."""
    task = registry.get("denoise")
    tuned = registry.config_for(task, name="x", data=["d"], base="cnn")
    assert float(tuned.task_options["refine"]) == 1.0
    assert "refine" not in registry.config_for(task, name="x", data=["d"]).task_options
    asked = registry.config_for(task, name="x", data=["d"], base="cnn", task_options={"refine": "0", "clip": "0.3"})
    assert asked.task_options == {"refine": "0", "clip": "0.3"}
    assert "refine" not in registry.config_for(registry.get("denoise-real"), name="x", data=["d"],
                                               base="cnn-real").task_options


def test_paired_training_takes_the_asked_share_of_real_pairs(folder):
    from desktop_app.core.training.restoration import PairedRealDenoiseTask

    task = PairedRealDenoiseTask(config(folder, task="denoise-pairs", task_options={"real": 0.75}))
    clean = torch.rand(8, 3, 32, 32)
    batch = torch.cat([torch.full_like(clean, 0.5), clean], dim=1)  # "noisy" halves all flat grey
    seen = []
    model = lambda x, _: seen.append(x.clone()) or x  # noqa: E731 - records what the network was given
    task.loss(model, batch, torch.Generator().manual_seed(0), "cpu")
    flat = [bool((x == 0.5).all()) for x in seen[0]]
    assert flat == [True] * 6 + [False] * 2  # 6 of 8 real pairs, the rest synthetic noise on the clean
    with pytest.raises(ValueError):
        PairedRealDenoiseTask(config(folder, task="denoise-pairs", task_options={"real": 0.0}))


def test_paired_training_shows_its_synthetic_samples_in_vivid_colours(folder):
    """A calibration's two scenes hold few saturated colours; without colour augmentation of
    the synthetic share, a Canon 600D calibration forgot them (a red toy desaturated, -10 dB)."""
    from desktop_app.core.training.restoration import PairedRealDenoiseTask

    clean = torch.rand(8, 3, 32, 32) * 0.2 + 0.4  # dull colours, as in most photos
    batch = torch.cat([clean, clean], dim=1)
    chroma = lambda x: float((x.amax(dim=1) - x.amin(dim=1)).mean())  # noqa: E731

    def synthetic_inputs(vivid):
        task = PairedRealDenoiseTask(config(folder, task="denoise-pairs", task_options={"real": 0.5, "colour": vivid}))
        seen = []
        task.loss(lambda x, _: seen.append(x.clone()) or x, batch, torch.Generator().manual_seed(0), "cpu")
        return seen[0]

    vivid, plain = synthetic_inputs(1.0), synthetic_inputs(0.0)
    assert chroma(vivid[4:]) > 1.5 * chroma(plain[4:])
    assert torch.equal(vivid[:4], clean[:4])  # the real pairs are left as the camera made them


def test_paired_training_can_carry_the_real_noise_onto_other_photos(folder):
    from desktop_app.core.training.data import ImageSet
    from desktop_app.core.training.restoration import PairedRealDenoiseTask
    from desktop_app.core.work import run_work

    yy, xx = np.mgrid[0:64, 0:64]
    grain = np.where((yy + xx) % 2 == 0, 5, -5)[:, :, None]  # the "camera's" noise: a +-5 checker
    pair = np.concatenate([128 + grain.repeat(3, axis=2), np.full((64, 64, 3), 128)], axis=2).astype(np.uint8)
    task = PairedRealDenoiseTask(config(folder, task="denoise-pairs",
                                        task_options={"real": 0.75, "transfer": str(folder)}))
    pairs = ImageSet([pair, pair], [pair])
    task.transfer_images = run_work(task.read_transfer())
    batch = task.batch(pairs, 8, 32, np.random.default_rng(0))
    noisy, clean = batch[:, :3], batch[:, 3:]
    moved = [not bool((c == 128 / 255).all()) for c in clean]
    assert moved == [True] * 3 + [False] * 5  # half of the 6 real samples carry the noise onto photos
    noise = (noisy[:3] - clean[:3]) * 255
    inside = (clean[:3] > 6 / 255) & (clean[:3] < 249 / 255)  # where clipping leaves it whole
    assert torch.all((noise[inside].abs() - 5).abs() <= 0.5)  # the pair's noise, rounded to 8 bits
    assert torch.equal(torch.round(noisy * 255), noisy * 255)
    assert len(task.transfer_images) == 12  # the damaged photo in the folder is left out


def test_a_paired_fine_tune_with_ema_validates_a_moving_average_of_its_weights(folder):
    from desktop_app.core.models import registry as archs
    from desktop_app.core.training.restoration import PairedRealDenoiseTask

    with pytest.raises(ValueError, match="ema"):
        PairedRealDenoiseTask(config(folder, task="denoise-pairs", task_options={"ema": 1.0}))
    plain = PairedRealDenoiseTask(config(folder, task="denoise-pairs"))
    model = archs.get("unet-denoise-blind").create(**TINY)
    plain.attach(model)
    assert plain.inference_model(model) is model  # none unless asked for

    task = PairedRealDenoiseTask(config(folder, task="denoise-pairs", task_options={"ema": 0.99}))
    task.attach(model)
    start = [p.detach().clone() for p in model.parameters()]
    for step in range(3):  # three steps, each moving every weight by 1
        task.begin_step(step, 1e-4)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
        task.after_step(model)
    average = task.inference_model(model)
    assert average is not model and task.modules["ema"] is average  # checkpointed with the run
    # a short memory at first (decay 1/10, 2/11, 3/12 at steps 0, 1, 2), then 0.99
    expected = 0.0  # the average's offset from the start
    for step in range(3):
        decay = (1 + step) / (10 + step)
        expected = decay * expected + (1 - decay) * (step + 1)
    for p, a, s in zip(model.parameters(), average.parameters(), start):
        torch.testing.assert_close(a - s, torch.full_like(s, expected), atol=1e-5, rtol=0)
        assert not a.requires_grad
    assert 2.0 < expected < 2.9  # behind the trained weights (3 steps on)


def test_a_black_and_white_photo_gets_the_same_noise_in_every_channel():
    # as the app denoises it: its one channel given to all three inputs
    gen = torch.Generator().manual_seed(0)
    grey = (torch.rand(8, 1, 32, 32) * 0.6 + 0.2).expand(-1, 3, -1, -1)
    colour = torch.rand(8, 3, 32, 32) * 0.6 + 0.2
    noisy, target, _ = degrade.gaussian(torch.cat([grey, colour]), 50.0, 0.0, gen)
    noise = noisy - target
    spread = (noise.amax(dim=1) - noise.amin(dim=1)).flatten(1).amax(dim=1)
    assert torch.all(spread[:8] == 0) and torch.all(spread[8:] > 0)


def test_unfinished_runs_are_listed_newest_first_and_settled_ones_are_not(tmp_path):
    import os

    from desktop_app.core.training.config import TrainConfig
    from desktop_app.core.training.runs import mark_done, unfinished_runs

    def run(name, step, steps, age):
        folder = tmp_path / name
        folder.mkdir()
        TrainConfig(task="denoise", name=name, data=["photos"], steps=steps).save(folder / "config.json")
        (folder / "last.json").write_text(json.dumps({"step": step, "seconds": 60.0, "best": {}, "history": []}))
        (folder / "last.safetensors").write_bytes(b"")
        os.utime(folder / "last.json", (1e9 + age, 1e9 + age))
        return folder

    run("old", 10, 100, age=1)
    run("new", 20, 100, age=2)
    run("finished", 100, 100, age=3)
    mark_done(run("kept", 5, 100, age=4))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    listed = unfinished_runs(tmp_path)
    assert [r.config.name for r in listed] == ["new", "old"]
    assert listed[0].step == 20 and "step 20 of 100" in listed[0].describe()
    assert unfinished_runs(tmp_path / "missing") == []


def test_the_inpainting_loss_structural_term_is_the_benchmarks_ssim():
    import numpy as np
    from skimage.metrics import structural_similarity

    from desktop_app.core.metrics import ssim_map

    rng = np.random.default_rng(0)
    a = rng.random((40, 52, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype(np.float32)
    _, expected = structural_similarity(a, b, channel_axis=2, data_range=1.0, full=True)
    got = ssim_map(torch.from_numpy(a).permute(2, 0, 1)[None], torch.from_numpy(b).permute(2, 0, 1)[None])
    assert np.allclose(got[0].permute(1, 2, 0).numpy(), expected[3:-3, 3:-3], atol=1e-4)


def test_inpainting_zoom_enlarges_the_training_crops():
    import numpy as np

    from desktop_app.core.training.data import ImageSet
    from desktop_app.core.training.restoration import InpaintTask

    # single-pixel stripes: a crop at the photo's own scale alternates at every pixel
    stripes = np.zeros((200, 300, 3), np.uint8)
    stripes[:, ::2] = 255
    photos = ImageSet([stripes], [])

    def crops(**options):
        task = InpaintTask(TrainConfig(task="inpaint", name="z", data=[], task_options={"adv_weight": 0, **options}))
        batch = task.batch(photos, 6, 64, np.random.default_rng(0))
        assert batch.shape == (6, 3, 64, 64) and 0 <= batch.min() and batch.max() <= 1
        across = (batch[..., :-1, 1:] - batch[..., :-1, :-1]).abs()  # crops may be turned: either direction
        down = (batch[..., 1:, :-1] - batch[..., :-1, :-1]).abs()
        steps = torch.maximum(across, down)
        return steps.mean().item()

    assert crops() > 0.99  # no zoom: every step is a full black-white step
    assert crops(zoom=[2, 3]) < 0.6  # enlarged: the stripes span several pixels
    with pytest.raises(ValueError, match="zoom"):
        InpaintTask(TrainConfig(task="inpaint", name="z", data=[], task_options={"adv_weight": 0, "zoom": [0.5, 2]}))


def test_inpainting_without_pairs_learns_from_every_crop_of_the_batch():
    from desktop_app.core.training.restoration import InpaintTask

    seen = []

    def model(image, mask, noise):  # records what the network is shown, fills the hole with grey
        seen.append(image.clone())
        return image * (1 - mask) + 0.5 * mask

    crops = torch.arange(4, dtype=torch.float32).view(4, 1, 1, 1).expand(4, 3, 32, 32) / 4

    def distinct(**options) -> int:  # how many different crops one training step shows the network
        task = InpaintTask(TrainConfig(task="inpaint", name="p", data=[], task_options={"adv_weight": 0, **options}))
        task.loss(model, crops, torch.Generator().manual_seed(0), "cpu")
        return len(torch.unique(seen[-1][:, 0, 0, 0]))

    assert distinct() == 2  # by default each crop twice, for the mode-seeking term
    assert distinct(pairs=False, ms_weight=0) == 4
    with pytest.raises(ValueError, match="pairs"):
        InpaintTask(TrainConfig(task="inpaint", name="p", data=[], task_options={"pairs": False}))


def test_inpainting_adv_scale_shows_the_discriminator_the_fill_reduced():
    from desktop_app.core.training.restoration import InpaintTask

    def model(image, mask, noise):  # a fill of pixel-level grain about the right mean
        grain = torch.ones_like(image)
        grain[..., ::2, :] = -1
        grain[..., :, ::2] *= -1
        return image * (1 - mask) + (image + 0.2 * grain) * mask

    crops = torch.rand(2, 3, 32, 32)

    def judged(scale: int) -> list:
        task = InpaintTask(TrainConfig(task="inpaint", name="d", data=[], task_options={
            "adv_scale": scale, "ms_weight": 0, "pairs": False}))
        disc, seen = task.modules["disc"], []
        disc.register_forward_pre_hook(lambda m, args: seen.append(args))
        task.loss(model, crops, torch.Generator().manual_seed(0), "cpu")
        return seen

    (real, mask), (fake, _), _ = judged(2)
    assert real.shape[-2:] == fake.shape[-2:] == mask.shape[-2:] == (16, 16)
    # the 2 x 2 grain averages out: reduced, the fill is the photo wherever the hole covers a block
    whole = (mask == 1).expand_as(real)
    assert whole.sum() > 100 and torch.allclose(real[whole], fake[whole], atol=1e-6)
    (real, mask), (fake, _), _ = judged(1)
    assert real.shape[-2:] == (32, 32) and (real - fake).abs().max() > 0.15  # the grain, seen in full
    with pytest.raises(ValueError, match="adv_scale"):
        InpaintTask(TrainConfig(task="inpaint", name="d", data=[], task_options={"adv_scale": 0}))


# -- bad input (issue 21) ----------------------------------------------------------------------

def one_photo(root, name="only.png", size=(96, 80), seed=0):
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    Image.fromarray((textured_image(size[1], size[0], seed=seed) * 255).astype("uint8")).save(path)
    return path


@pytest.mark.parametrize("as_file", [False, True])
def test_a_single_image_is_validated_on_itself_with_no_warnings(tmp_path, as_file):
    import warnings

    path = one_photo(tmp_path / "one")
    data = str(path if as_file else path.parent)
    trainer = Trainer(config(data, steps=4, val_every=2), tmp_path / "run")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "mean of empty slice" leaked before
        run_work(trainer.run())
    assert len(trainer.data.val) == 1 and len(trainer.data.train) == 1
    scores = [trainer.start_metrics["val_psnr"]] + [h["val_psnr"] for h in trainer.history]
    assert all(math.isfinite(s) for s in scores)


def test_small_photos_of_any_size_train(tmp_path):
    # not multiples of the network's 16 pixels, one smaller than the patch
    folder = tmp_path / "small"
    for k, size in enumerate([(160, 120), (150, 110), (40, 36), (97, 61)]):
        one_photo(folder, f"p{k}.png", size, seed=k)
    c = config(folder, steps=2, val_every=2, val_crop=256, patch=48, hparams={"widths": [8, 16, 16], "blocks": [1, 1, 1]})
    trainer = Trainer(c, tmp_path / "run")
    run_work(trainer.run())
    assert trainer.step == 2 and math.isfinite(trainer.history[-1]["val_psnr"])
    assert trainer.task.size_multiple == 8  # the validation crops were cut to it


def test_a_patch_the_network_cannot_take_is_refused_at_once(folder, tmp_path):
    with pytest.raises(ValueError, match="multiple of 4"):
        Trainer(config(folder, patch=33), tmp_path / "run")


@pytest.mark.parametrize("field, value, words", [
    ("name", "../../evil", "not a usable name"), ("steps", 0, "steps"), ("batch", 0, "batch"),
    ("val_fraction", 2.0, "validation fraction"), ("lr", 0.0, "learning rate"), ("minutes", -1.0, "time budget"),
    ("precision", "fp8", "precision")])
def test_nonsense_settings_are_refused_with_one_line(folder, tmp_path, field, value, words):
    with pytest.raises(Exception, match=words) as info:
        Trainer(config(folder, **{field: value}), tmp_path / "run")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()


def bomb_png(path, width=30000, height=30000):
    """A PNG header declaring 900 MP, with no pixels: Pillow refuses it when opened."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IEND", b""))


def test_oversized_and_broken_images_are_listed_and_skipped(folder, tmp_path):
    from desktop_app.core.training.data import load_image_set, read_rgb

    bomb_png(folder / "bomb.png")
    bomb_png(folder / "big.png", 20000, 14000)  # 280 MP: under Pillow's bomb limit, over the editor's 250
    (folder / "short.tif").write_bytes(b"II*\x00" + b"\x00" * 16)
    data = load_image_set([folder], val_fraction=0.2, min_val=2)
    skipped = {p.name: why for p, why in data.skipped}
    assert set(skipped) == {"broken.jpg", "bomb.png", "big.png", "short.tif"}
    assert "limit" in skipped["bomb.png"] and "limit" in skipped["big.png"]
    assert len(data.train) + len(data.val) == 12
    with pytest.raises(ValueError, match="limit"):
        read_rgb(folder / "img00.png", max_pixels=100)


def test_paired_data_splits_by_scene_from_three_scenes_and_fewer_by_shot(tmp_path):
    """Three scenes or more: whole scenes held back, never all or none of them. One or two
    scenes (one or two calibration bursts): each scene's shots are split, so the network
    learns from every scene and is judged on every scene."""
    from PIL import Image

    from desktop_app.core.training.data import is_validation, load_pairs

    def folder(name, scenes, shots=4):
        root = tmp_path / name
        for kind in ("noisy", "clean"):
            (root / kind).mkdir(parents=True)
            for scene in scenes:
                for shot in range(1, shots + 1):
                    img = (textured_image(40, 48, seed=shot) * 255).astype("uint8")
                    Image.fromarray(img).save(root / kind / f"{scene}_{shot}.png")
        return root

    def scenes_of(paths):
        return {p.stem.rsplit("_", 1)[0] for p in paths}

    # scene names that the hash alone would all hold back, and ones it would all train on
    names = [f"scene{i}" for i in range(200)]
    for count in (3, 4):
        for group in ([n for n in names if is_validation(n, 0.5)][:count],
                      [n for n in names if not is_validation(n, 0.5)][:count]):
            data = load_pairs([folder(f"s{count}" + group[0], group)], 0.5)
            train, val = scenes_of(data.train_paths), scenes_of(data.val_paths)
            assert train and val and not train & val and train | val == set(group)
    for group in (["one"], ["one", "two"]):
        data = load_pairs([folder("-".join(group), group)], 0.5)
        assert scenes_of(data.train_paths) == scenes_of(data.val_paths) == set(group)
        assert len(data.train) + len(data.val) == 4 * len(group)
    with pytest.raises(ValueError, match="at least two pairs"):
        load_pairs([folder("lonely", ["a"], shots=1)], 0.5)


# -- a new training task is one descriptor --------------------------------------------------

def test_a_new_training_task_is_one_descriptor(folder, tmp_path):
    """A task that trains the blind denoiser on Gaussian noise (the Gaussian task's code on
    an existing network), added by registering a descriptor and nothing else: the trainer
    and the command line (in-process) train it, the metric and defaults come from it."""
    from desktop_app import cli
    from desktop_app.core.models.catalog import library_dir
    from desktop_app.core.training import registry
    from desktop_app.core.training.restoration import DenoiseTask

    spec = registry.TrainingTask(
        id="denoise-blind-gaussian", title="Denoise Gaussian noise, blind", model_task="denoise-real",
        default_arch="unet-denoise-blind", code=DenoiseTask,
        scratch=registry.Settings(lr=1e-3, batch=2, patch=32, val_every=2, val_crop=64),
        fine_tune=registry.Settings(lr=1e-4, batch=2, patch=32, val_every=2, val_crop=64),
        metric=registry.Metric(key="psnr", title="blind PSNR"), default_name="my-blind")
    registry.register(spec)
    try:
        with pytest.raises(ValueError, match="already registered"):
            registry.register(spec)
        c = registry.config_for(spec, name="blind", data=[str(folder)], steps=4, hparams=TINY, val_min=2)
        assert (c.arch, c.lr, c.batch, c.patch, c.val_every, c.warmup) == ("unet-denoise-blind", 1e-3, 2, 32, 2, 0)
        trainer = Trainer(c, tmp_path / "run")
        run_work(trainer.run())
        assert trainer.step == 4 and trainer.metric == "val_psnr"
        assert trainer.score_text(trainer.best).endswith(" dB")

        code = cli.main(["train", "--task", "denoise-blind-gaussian", "--data", str(folder), "--name", "my-blind",
                         "--steps", "4", "--hparam", "widths=[8,16]", "--hparam", "blocks=[1,1]", "--threads", "1",
                         "--run-dir", str(tmp_path / "cli-run")])
        assert code == 0
        kept = json.loads((library_dir() / "my-blind.json").read_text())
        assert kept["architecture"] == "unet-denoise-blind" and kept["training"]["config"]["task"] == spec.id
        assert kept["training"]["config"]["lr"] == 1e-3  # the descriptor's default
    finally:
        registry.unregister(spec.id)


def test_metrics_read_as_plain_words():
    from desktop_app.core.training.registry import describe_metrics

    assert describe_metrics({"val_psnr_s15": 32.378, "val_psnr": 29.633, "step": 23000}) == \
        "validation PSNR 29.63 dB at step 23000"
    gan = describe_metrics({"val_neg_swd_all": -69.825, "val_neg_swd": -69.825, "step": 4500})
    assert gan == "validation SWD 69.8 (lower is closer to the photos) at step 4500"
    assert "val_" not in describe_metrics({"val_psnr_hole0": 17.8, "val_psnr": 17.6}, parts=True)


def test_a_calibration_keeps_a_step_only_once_it_beats_its_start_by_the_margin(tmp_path):
    """On one held-back scene a gain of a few hundredths of a dB is noise (such steps lost
    0.2 dB on the camera's other scenes): a fine-tune from pairs keeps its start until a step
    beats it by 0.1 dB, 0.05 dB for the network it keeps (half of the change)."""
    import numpy as np
    from PIL import Image

    from desktop_app.core.models import registry as archs
    from desktop_app.core.models.catalog import library_dir
    from desktop_app.core.models.weights import Manifest, save_model

    arch = "unet-denoise-blind"
    save_model(archs.get(arch).create(**TINY).eval(), library_dir() / "tiny-real.safetensors",
               Manifest(id="tiny-real", title="tiny", architecture=arch, task="denoise-real", hparams=TINY))
    pairs = tmp_path / "pairs"
    rng = np.random.default_rng(0)
    for k in range(6):
        clean = textured_image(64, 64, seed=k)
        noisy = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1)
        for sub, image in (("clean", clean), ("noisy", noisy)):
            (pairs / sub).mkdir(parents=True, exist_ok=True)
            Image.fromarray((image * 255).astype(np.uint8)).save(pairs / sub / f"scene{k % 3}_{k}.png")

    def run(scores):
        c = TrainConfig(task="denoise-pairs", name="cal", data=[str(pairs)], base="tiny-real", steps=len(scores) - 1,
                        batch=2, patch=32, val_every=1, val_crop=64, val_fraction=0.4, val_min=1,
                        checkpoint_minutes=100)
        trainer = Trainer(c, tmp_path / f"run{len(scores)}")
        given = iter(scores)

        def validation(pairs):
            yield from ()
            return {"val_psnr": next(given)}

        trainer.validation = validation
        run_work(trainer.run())
        return trainer

    small = run([30.0, 30.02, 30.04])
    assert small.best["step"] == 0 and not small.improved
    assert small.start_bar_text() == " by 0.05 dB"
    kept = run([30.0, 30.02, 30.1, 30.08, 30.12])
    assert kept.best["step"] == 4 and kept.improved  # past the margin once, then any gain counts
    # it keeps half of its change to the starting weights (weight averaging): halfway there
    start = load_model(library_dir() / "tiny-real.json")[0].state_dict()
    trained, exported = kept.model.state_dict(), load_model(kept.best_path.with_suffix(".json"))[0].state_dict()
    name = next(k for k, v in start.items() if v.is_floating_point() and not torch.equal(v, trained[k]))
    torch.testing.assert_close(exported[name], (start[name] + trained[name]) / 2, atol=1e-6, rtol=0)
    # the report's yardstick: NL-Means at its best strength on the same held-back pairs
    (label, score), = kept.baselines.items()
    assert label.startswith("NL-Means at its best strength") and 26.5 < score < 45  # noisy: 26 dB


def test_a_fine_tune_can_widen_the_network_and_starts_as_exactly_its_base(folder, tmp_path):
    """`--base tiny --hparam widths=[12,16]`: the wider network computes what its base does
    before the first step (nothing the base learnt is lost), then trains, resumes and exports
    with its new widths; a narrower layer is refused in one line."""
    from desktop_app.core.models import registry as archs
    from desktop_app.core.models.catalog import library_dir
    from desktop_app.core.models.weights import Manifest, save_model

    arch = "unet-denoise"
    torch.manual_seed(1)
    base = archs.get(arch).create(**TINY).eval()
    save_model(base, library_dir() / "tiny-base.safetensors",
               Manifest(id="tiny-base", title="tiny", architecture=arch, task="denoise", hparams=TINY))
    wide = config(folder, base="tiny-base", arch=None, hparams={"widths": [12, 16]})
    trainer = Trainer(wide, tmp_path / "run")
    assert trainer.config.hparams["widths"] == [12, 16] and trainer.config.hparams["blocks"] == [1, 1]
    assert trainer.model.head.weight.shape[0] == 12
    x, sigma = torch.rand(2, 3, 32, 32), torch.full((2, 3), 0.1)
    with torch.no_grad():
        torch.testing.assert_close(trainer.model.eval()(x, sigma), base(x, sigma), atol=1e-6, rtol=0)
    run_work(trainer.run())
    resumed = Trainer(config(folder, base="tiny-base", arch=None, hparams={"widths": [12, 16]}, steps=8),
                      tmp_path / "run")
    assert resumed.resume() and run_work(resumed.run())["step"] == 8
    resumed.export(tmp_path / "out" / "wide.safetensors")
    model, m = load_model(tmp_path / "out" / "wide.json")
    assert m.hparams["widths"] == [12, 16] and model(x, sigma).shape == x.shape

    with pytest.raises(ValueError, match="only wider"):
        Trainer(config(folder, base="tiny-base", arch=None, hparams={"widths": [4, 16]}), tmp_path / "run2")
    with pytest.raises(ValueError, match="not add or remove"):
        Trainer(config(folder, base="tiny-base", arch=None, hparams={"widths": [8, 16, 32]}), tmp_path / "run3")


def test_low_share_draws_that_share_of_the_levels_from_the_low_range():
    clean = torch.rand(4000, 3, 4, 4) * 0.6 + 0.2
    _, _, plain = degrade.gaussian(clean, 75.0, 0.0, torch.Generator().manual_seed(0))
    _, _, low = degrade.gaussian(clean, 75.0, 0.0, torch.Generator().manual_seed(0), low_fraction=0.5)
    under = lambda s: (s[:, 0] * 255 <= degrade.LOW_SIGMA).float().mean().item()
    assert abs(under(plain) - 0.4) < 0.03  # 30 of 75
    assert abs(under(low) - 0.7) < 0.03  # half of them, and 40 % of the rest
    assert low.max() * 255 > 70  # the strong levels are still there


def test_the_gaussian_denoiser_can_validate_a_moving_average_too(folder):
    from desktop_app.core.models import registry as archs
    from desktop_app.core.training.restoration import DenoiseTask

    model = archs.get("unet-denoise").create(**TINY)
    task = DenoiseTask(config(folder, task_options={"ema": 0.999}))
    task.attach(model)
    assert task.inference_model(model) is not model
    with pytest.raises(ValueError, match="ema"):
        DenoiseTask(config(folder, task_options={"ema": -0.1}))


def test_a_bf16_run_steps_in_bf16_and_validates_and_keeps_its_weights_in_float32(folder, tmp_path):
    trainer = Trainer(config(folder, precision="bf16"), tmp_path / "run")
    assert trainer.amp_dtype == torch.bfloat16
    start = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    seen = []  # the head's output type, and whether the network was training (a step) or not
    trainer.model.head.register_forward_hook(lambda m, i, out: seen.append((out.dtype, m.training)))
    result = run_work(trainer.run())
    assert result["step"] == 6
    assert {d for d, training in seen if training} == {torch.bfloat16}
    assert {d for d, training in seen if not training} == {torch.float32}
    assert all(v.dtype == torch.float32 for v in trainer.model.state_dict().values())
    assert any(not torch.equal(v, start[k]) for k, v in trainer.model.state_dict().items())


def test_auto_precision_is_bf16_only_for_a_task_that_allows_it_on_a_device_that_computes_it(folder, tmp_path,
                                                                                          monkeypatch):
    from desktop_app.core.training import precision

    monkeypatch.setattr(precision, "native_bf16", lambda device: True)
    assert Trainer(config(folder), tmp_path / "a").amp_dtype == torch.bfloat16
    assert Trainer(config(folder, precision="f32"), tmp_path / "b").amp_dtype is None
    inpaint = config(folder, task="inpaint", arch="inpaint-fourier", hparams={}, patch=64)
    assert Trainer(inpaint, tmp_path / "c").amp_dtype is None  # not measured in bf16: float32
    monkeypatch.setattr(precision, "native_bf16", lambda device: False)
    assert Trainer(config(folder), tmp_path / "d").amp_dtype is None


def test_the_network_under_autocast_answers_in_float32_and_keeps_its_attributes():
    from desktop_app.core.models import registry as archs
    from desktop_app.core.training.precision import Autocast

    model = archs.get("unet-denoise").create(**TINY)
    wrapped = Autocast(model, "cpu", torch.bfloat16)
    x = torch.rand(1, 3, 32, 32)
    out = wrapped(x, torch.full((1, 3), 0.1))
    assert out.dtype == torch.float32
    assert (out - model(x, torch.full((1, 3), 0.1))).abs().max() < 0.02  # bf16's rounding, not another network
    assert wrapped.noise_map is model.noise_map and wrapped.size_multiple == model.size_multiple
