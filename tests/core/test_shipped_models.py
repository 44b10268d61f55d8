"""The weights the project ships load (checksums, registry) and actually denoise."""

import cv2
import numpy as np
import pytest
import torch

from desktop_app.core.models.catalog import shipped_dir
from desktop_app.core.models.weights import load_model
from desktop_app.core.operations import apply_operation, registry
from desktop_app.core.work import run_work
from desktop_app.core.training import degrade
from tests.conftest import textured_image


def psnr(a, b):
    return 10 * np.log10(1 / np.mean((np.clip(a, 0, 1) - b) ** 2))


@pytest.mark.parametrize("name", ["cnn", "cnn-real", "inpaint"])
def test_shipped_manifest_and_weights_load(name):
    model, manifest = load_model(shipped_dir() / f"{name}.json")  # verifies the sha256
    assert manifest.id == name and manifest.training.get("command", "").startswith("desktop-app train")
    assert sum(p.numel() for p in model.parameters()) > 1_000_000


@pytest.mark.parametrize("channels", [3, 1])
def test_cnn_removes_gaussian_noise_colour_and_grey(channels):
    clean = textured_image(128, 160, seed=7, channels=channels)
    noisy = clean + np.random.default_rng(1).normal(0, 25 / 255, clean.shape).astype(np.float32)
    op = registry.get("denoise/cnn")
    for sigma in (25.0, "auto"):
        out = run_work(apply_operation(op, np.clip(noisy, 0, 1), params={"sigma": sigma}, device="cpu"))
        assert out.shape == clean.shape
        assert psnr(out, clean) > psnr(noisy, clean) + 5, sigma


def test_auto_says_after_the_run_what_noise_level_it_read():
    """The level "auto" chose stays in the run's notes (the panel's outcome line, the command's
    stderr), so a user who doubts it knows what to set instead."""
    from desktop_app.core.work import collect_notes

    clean = textured_image(128, 160, seed=7)
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 25 / 255, clean.shape), 0, 1).astype(np.float32)
    notes: list[str] = []
    run_work(collect_notes(apply_operation(registry.get("denoise/cnn"), noisy, params={"sigma": "auto"},
                                           device="cpu"), notes))
    said = [n for n in notes if n.startswith("noise level read as ")]
    assert len(said) == 1, notes
    levels = [float(v) for v in said[0].removeprefix("noise level read as ").split(", ")]
    assert len(levels) == 3 and all(abs(v - 25) < 2 for v in levels), levels


def test_auto_reads_noise_that_grows_with_brightness_at_the_photos_level():
    """A camera's noise is stronger in the light than in the dark: "auto" reads the photo's
    overall level (its root mean square), not the quiet shadows' (docs: +0.6-0.8 dB for `cnn`)."""
    from desktop_app.core.work import collect_notes
    from tests.core.test_models import level_noise_photo

    image, truth = level_noise_photo()
    notes: list[str] = []
    run_work(collect_notes(apply_operation(registry.get("denoise/cnn"), image, params={"sigma": "auto"},
                                           device="cpu"), notes))
    said = [n for n in notes if n.startswith("noise level read as ")]
    levels = np.array([float(v) for v in said[0].removeprefix("noise level read as ").split(", ")])
    assert np.all(np.abs(levels - truth) < 1.0), (levels, truth)


def test_auto_tells_the_wiener_step_how_the_noise_grows_with_brightness(monkeypatch):
    """The step after the network gets the noise read per brightness band (stronger in the
    light here), so its gains follow each block's level; a set level gives it none."""
    import desktop_app.core.operations.neural as neural
    from tests.core.test_models import level_noise_photo

    told = []
    real = neural.refine

    def spy(*args):
        told.append(args[5] if len(args) > 5 else None)
        return real(*args)

    monkeypatch.setattr(neural, "refine", spy)
    image, _ = level_noise_photo()
    op = registry.get("denoise/cnn")
    run_work(apply_operation(op, image, params={"sigma": "auto"}, device="cpu"))
    levels, spreads = told[-1]
    assert levels.shape == spreads.shape == (3, 4)
    assert np.all(np.diff(levels, axis=1) > 0) and np.all(spreads[:, -1] > 1.5 * spreads[:, 0])
    run_work(apply_operation(op, image, params={"sigma": 25.0}, device="cpu"))
    assert told[-1] is None


def test_auto_reading_almost_no_noise_points_to_the_real_photo_denoiser():
    """A camera JPEG's grain is spread over neighbouring pixels and reads as almost no noise: the
    note says so and names the denoiser for it, instead of leaving the user with a photo that
    did not change."""
    from desktop_app.core.work import collect_notes

    clean = cv2.GaussianBlur(textured_image(128, 160, seed=7), (0, 0), 2.0)  # smooth: reads 0 clean
    grain = cv2.GaussianBlur(np.random.default_rng(2).normal(0, 12 / 255, clean.shape).astype(np.float32), (0, 0), 1.5)
    notes: list[str] = []
    run_work(collect_notes(apply_operation(registry.get("denoise/cnn"), np.clip(clean + grain, 0, 1),
                                           params={"sigma": "auto"}, device="cpu"), notes))
    said = [n for n in notes if n.startswith("noise level read as ")]
    assert len(said) == 1 and "for real photos" in said[0], notes
    notes.clear()
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 10 / 255, clean.shape), 0, 1).astype(np.float32)
    run_work(collect_notes(apply_operation(registry.get("denoise/cnn"), noisy, params={"sigma": "auto"},
                                           device="cpu"), notes))
    assert not any("for real photos" in n for n in notes), notes


def test_recovering_detail_brings_cnn_closer_to_the_truth():
    """The Wiener step after the network (on by default) gives back fine coloured detail the
    network smoothed; off, the result is the network's alone."""
    from tests.core.test_wiener import fine_detail, noisy_copy

    clean = fine_detail()
    noisy = noisy_copy(clean, 15)
    op = registry.get("denoise/cnn")
    alone = run_work(apply_operation(op, noisy, params={"sigma": 15.0, "refine": False}, device="cpu"))
    refined = run_work(apply_operation(op, noisy, params={"sigma": 15.0}, device="cpu"))
    assert psnr(refined, clean) > psnr(alone, clean) + 0.1


def test_cnn_real_removes_camera_like_noise():
    clean = torch.from_numpy(textured_image(128, 128, seed=9).transpose(2, 0, 1))[None]
    noisy, _, _ = degrade.realistic(clean, torch.Generator().manual_seed(3), jpeg_probability=0.0,
                                    gaussian_probability=1.0)
    noisy_np = noisy[0].permute(1, 2, 0).numpy()
    clean_np = clean[0].permute(1, 2, 0).numpy()
    events = []
    out = run_work(apply_operation(registry.get("denoise/cnn-real"), noisy_np, device="cpu"), events.append)
    assert psnr(out, clean_np) > psnr(noisy_np, clean_np) + 2
    # one bar from start to end: the network, then the averaging of similar patches after it
    fractions = [e.fraction for e in events if e.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("averaging" in e.message and 0.2 < e.fraction < 1 for e in events if e.fraction is not None)


def test_strength_blends_with_the_input():
    img = textured_image(64, 64)
    noisy = np.clip(img + np.random.default_rng(2).normal(0, 0.1, img.shape), 0, 1).astype(np.float32)
    op = registry.get("denoise/cnn")
    full = run_work(apply_operation(op, noisy, params={"sigma": 25.0}, device="cpu"))
    half = run_work(apply_operation(op, noisy, params={"sigma": 25.0, "strength": 0.5}, device="cpu"))
    assert np.allclose(half, 0.5 * noisy + 0.5 * full, atol=1e-5)


def test_best_quality_gives_a_cleaner_result_with_and_without_recover_detail():
    """Without Recover detail it averages the network's 8 views; with it, 4 views and then the
    grouped Wiener step, which must beat the one pass with the plain step."""
    clean = textured_image(96, 128, seed=5)
    noisy = clean + np.random.default_rng(4).normal(0, 25 / 255, clean.shape).astype(np.float32)
    op = registry.get("denoise/cnn")
    for refine in (True, False):
        events = []
        params = {"sigma": 25.0, "refine": refine}
        single = run_work(apply_operation(op, noisy, params=params, device="cpu"))
        best = run_work(apply_operation(op, noisy, params={**params, "ensemble": True}, device="cpu"),
                        on_progress=events.append)
        assert psnr(best, clean) > psnr(single, clean) + 0.05, f"refine {refine}"
        assert any(e.message.endswith("view 4/4" if refine else "view 8/8") for e in events)


def test_shipped_inpainting_continues_a_picture_better_than_navier_stokes():
    """On a smooth-plus-texture picture the neural fill is closer to the truth than the
    classic diffusion fill, and it leaves everything outside the hole alone."""
    image = textured_image(160, 192, seed=11)
    mask = np.zeros(image.shape[:2], np.float32)
    mask[50:110, 60:130] = 1.0
    holed = np.where(mask[..., None] > 0, 0.5, image).astype(np.float32)
    cnn = run_work(apply_operation(registry.get("inpaint/cnn"), holed, mask, {"seed": 0}, device="cpu"))
    ns = run_work(apply_operation(registry.get("inpaint/ns"), holed, mask))
    inside = mask > 0
    assert np.array_equal(cnn[~inside], image[~inside])
    mse = lambda out: np.mean((out - image)[inside] ** 2)  # noqa: E731
    assert mse(cnn) < mse(ns)


def test_auto_gives_the_network_the_noise_at_each_pixels_level():
    """A camera's noise is weak in the shadows and strong in the highlights: "auto" hands the
    network the level read at each pixel's brightness, which cleans the highlights without
    smoothing the shadows, against the one level (the photo's root mean square) it took before
    (held-out photos: +0.2-0.6 dB, docs/benchmarks.md)."""
    from tests.core.test_models import level_noise_clean, level_noise_photo

    image, truth = level_noise_photo()
    clean = level_noise_clean()
    op = registry.get("denoise/cnn")
    one = run_work(apply_operation(op, image, params={"sigma": float(truth.mean()), "refine": False}, device="cpu"))
    per_pixel = run_work(apply_operation(op, image, params={"sigma": "auto", "refine": False}, device="cpu"))
    assert psnr(per_pixel, clean) > psnr(one, clean) + 0.2, (psnr(per_pixel, clean), psnr(one, clean))


def test_auto_reading_colour_noise_a_jpeg_spread_points_to_the_real_photo_denoiser():
    """Noise saved as a JPEG (colour at half resolution, what cameras and phones write): the
    Gaussian CNN leaves its colour noise as blotches, and the note says which denoiser is for it;
    the same noise in a PNG gets no such note."""
    from desktop_app.core.work import collect_notes

    clean = textured_image(256, 256, seed=3)
    noisy = np.clip(clean + np.random.default_rng(4).normal(0, 20 / 255, clean.shape), 0, 1)
    png = (np.round(noisy * 255) / 255).astype(np.float32)
    ok, data = cv2.imencode(".jpg", np.round(png[:, :, ::-1] * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 92])
    jpeg = cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255
    for image, pointed in ((jpeg, True), (png, False)):
        notes: list[str] = []
        run_work(collect_notes(apply_operation(registry.get("denoise/cnn"), image, params={"sigma": "auto"},
                                               device="cpu"), notes))
        said = [n for n in notes if n.startswith("noise level read as ")]
        assert len(said) == 1 and ("colour noise is coarser" in said[0]) == pointed, said
