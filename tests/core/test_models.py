import json

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from desktop_app.core.models import registry
from desktop_app.core.models.device import pick_device
from desktop_app.core.models.tiled import DIAGONAL_VIEWS, MIN_TILE, VIEWS, OutOfMemory, TileSettings, run_tiled
from desktop_app.core.models.weights import STORE_DTYPE, Manifest, ModelFileError, load_model, save_model
from desktop_app.core.work import CancelToken, Cancelled, Progress, run_work
from tests.conftest import textured_image

TINY = {"channels": 3, "widths": [4, 8], "blocks": [1, 1], "noise_map": True, "unshuffle": 2}


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return registry.get("unet-denoise").create(**TINY).eval()


def test_weights_round_trip_through_safetensors_and_manifest(tmp_path):
    model = tiny_model()
    m = save_model(model, tmp_path / "tiny.safetensors",
                   Manifest(id="tiny", title="Tiny", architecture="unet-denoise", task="denoise", hparams=TINY,
                            training={"command": "test"}, metrics={"psnr": 1.0}))
    assert len(m.sha256) == 64
    manifest = json.loads((tmp_path / "tiny.json").read_text())
    assert manifest["architecture"] == "unet-denoise" and manifest["weights"] == "tiny.safetensors"
    loaded, lm = load_model(tmp_path / "tiny.json")
    x, s = torch.rand(1, 3, 32, 32), torch.full((1, 3), 0.1)
    with torch.no_grad():
        assert torch.equal(model(x, s), loaded(x, s))
    assert lm.metrics == {"psnr": 1.0}


def test_models_stored_in_half_precision_are_half_the_size_and_give_the_same_pictures(tmp_path):
    model = tiny_model()
    manifest = Manifest(id="tiny", title="Tiny", architecture="unet-denoise", task="denoise", hparams=TINY)
    save_model(model, tmp_path / "full.safetensors", manifest)
    save_model(model, tmp_path / "half.safetensors", manifest, dtype=STORE_DTYPE)
    full, half = (tmp_path / "full.safetensors").stat().st_size, (tmp_path / "half.safetensors").stat().st_size
    assert half < 0.6 * full
    loaded, _ = load_model(tmp_path / "half.json")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())  # computed in fp32 as before
    x, s = torch.rand(1, 3, 32, 32), torch.full((1, 3), 0.1)
    with torch.no_grad():
        assert (model(x, s) - loaded(x, s)).abs().max() < 0.5 / 255


def test_damaged_or_mismatched_weights_are_rejected(tmp_path):
    save_model(tiny_model(), tmp_path / "t.safetensors",
               Manifest(id="t", title="t", architecture="unet-denoise", task="denoise", hparams=TINY))
    data = bytearray((tmp_path / "t.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (tmp_path / "t.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum"):
        load_model(tmp_path / "t.json")
    man = json.loads((tmp_path / "t.json").read_text())
    man.update(sha256="", hparams={**TINY, "widths": [8, 16]})
    (tmp_path / "t.json").write_text(json.dumps(man))
    with pytest.raises(ModelFileError, match="do not fit|not a valid"):
        load_model(tmp_path / "t.json")
    man["architecture"] = "no-such-arch"
    (tmp_path / "t.json").write_text(json.dumps(man))
    with pytest.raises(ModelFileError, match="unknown architecture"):
        load_model(tmp_path / "t.json")


def _fn(model):
    sigma = torch.full((1, 3), 25 / 255)
    return lambda x: model(x, sigma.expand(x.shape[0], -1))


def _psnr(a, b):
    return 10 * np.log10(1 / np.mean((a - b) ** 2))


def test_tiled_equals_untiled():
    model = tiny_model()
    img = textured_image(200, 260)
    whole = run_work(run_tiled(_fn(model), img, torch.device("cpu"), TileSettings(1024, 32, 4)))
    events = []
    tiled = run_work(run_tiled(_fn(model), img, torch.device("cpu"), TileSettings(64, 64, 4)), events.append)
    assert len([e for e in events if "tile" in e.message]) > 4
    assert whole.shape == tiled.shape == img.shape
    # within 0.05 dB of the untiled result: the difference is far below the image's own error
    ref = np.clip(img + 0.01, 0, 1)
    assert abs(_psnr(whole, ref) - _psnr(tiled, ref)) < 0.05
    assert np.abs(whole - tiled).max() < 1e-3


def test_the_ensemble_turns_every_result_back_before_averaging():
    dot = np.zeros((7, 9, 3), np.float32)
    dot[3, 4] = 1.0
    ensemble = TileSettings(tile=64, context=0, views=VIEWS)
    events = []
    same = run_work(run_tiled(lambda x: x, dot, torch.device("cpu"), ensemble), on_progress=events.append)
    assert np.array_equal(same, dot)  # not square, so a wrong turn would show
    views = [e for e in events if "view" in e.message]
    assert len(views) == 8 and views[-1].fraction == pytest.approx(1.0)  # a cancel point per view
    # a network that moves everything one pixel right, in whatever orientation it is shown
    # the picture: averaged, the dot spreads evenly to its four neighbours
    spread = run_work(run_tiled(lambda x: torch.roll(x, 1, dims=3), dot, torch.device("cpu"), ensemble))[:, :, 0]
    assert spread[3, 4] == 0 and spread.sum() == pytest.approx(1.0)
    for y, x in ((2, 4), (4, 4), (3, 3), (3, 5)):
        assert spread[y, x] == pytest.approx(0.25)
    # the four diagonal views (as it is, half a turn, mirrored across either diagonal) show
    # the move in all four directions too
    four = TileSettings(tile=64, context=0, views=DIAGONAL_VIEWS)
    events.clear()
    spread = run_work(run_tiled(lambda x: torch.roll(x, 1, dims=3), dot, torch.device("cpu"), four),
                      on_progress=events.append)[:, :, 0]
    assert [e.message for e in events if "view" in e.message][-1] == "tile 1/1, view 4/4"
    for y, x in ((2, 4), (4, 4), (3, 3), (3, 5)):
        assert spread[y, x] == pytest.approx(0.25)


def test_the_ensemble_over_many_tiles_matches_it_over_one():
    # each tile is turned on its own: with enough context the tiles' ensembles blend into
    # the whole picture's (a 3x3 box blur stands in for the network)
    rng = np.random.default_rng(3)
    img = rng.random((150, 170, 3)).astype(np.float32)

    def blur(x):
        right = F.pad(x, (1, 0, 0, 0), mode="replicate")[..., :-1]  # turned, it points elsewhere
        return F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1) + 0.1 * right

    whole = run_work(run_tiled(blur, img, torch.device("cpu"), TileSettings(tile=512, context=8, views=VIEWS)))
    events = []
    tiled = run_work(run_tiled(blur, img, torch.device("cpu"), TileSettings(tile=64, context=8, views=VIEWS)),
                     on_progress=events.append)
    assert len([e for e in events if "view 8/8" in e.message]) == 9  # 3 x 3 tiles
    assert np.abs(whole - tiled).max() < 1e-5


def test_an_extra_input_is_cut_and_turned_with_the_image():
    """A noise level per pixel travels with its pixel: through tiles, padding to the size
    multiple and the ensemble's 8 turns, a network that multiplies its input by that level
    returns exactly the image times the level (a shifted or unturned plane would not)."""
    rng = np.random.default_rng(4)
    img = rng.random((150, 170, 3)).astype(np.float32) * 0.5
    level = rng.random((150, 170, 3)).astype(np.float32)
    for settings in (TileSettings(tile=64, context=8, size_multiple=4, views=VIEWS),
                     TileSettings(tile=512, context=8, size_multiple=4, views=VIEWS)):
        out = run_work(run_tiled(lambda x, a: x * a, img, torch.device("cpu"), settings, level))
        assert out.shape == img.shape
        np.testing.assert_allclose(out, img * level, atol=1e-6)


def test_out_of_memory_retries_with_smaller_tiles():
    seen_sizes = []

    def fake(x):
        seen_sizes.append(max(x.shape[2:]))
        if max(x.shape[2:]) > 200:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return x

    img = textured_image(300, 300)
    events = []
    out = run_work(run_tiled(fake, img, torch.device("cpu"), TileSettings(512, 16, 1)), events.append)
    assert np.allclose(out, img, atol=1 / 255)
    assert any("retrying with 256" in e.message for e in events)
    assert seen_sizes[0] > 200 and max(seen_sizes[1:]) <= 200  # smaller tiles after the failure


def test_out_of_memory_at_the_smallest_tile_is_a_clear_error():
    def always(x):
        raise torch.OutOfMemoryError("out of memory")

    with pytest.raises(OutOfMemory, match="not enough memory"):
        run_work(run_tiled(always, textured_image(200, 200), torch.device("cpu"), TileSettings(MIN_TILE, 8, 1)))


def test_cancel_between_tiles():
    calls = []

    def fn(x):
        calls.append(1)
        return x

    token = CancelToken()

    def progress(p):
        if len(calls) == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        run_work(run_tiled(fn, textured_image(256, 256), torch.device("cpu"), TileSettings(64, 8, 1)), progress, token)
    assert len(calls) == 2


def test_device_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            pick_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("tpu")


def test_noise_estimate_per_channel():
    from desktop_app.core.imaging.noise import estimate_sigma

    rng = np.random.default_rng(0)
    img = textured_image(256, 256, seed=1)
    noisy = img + rng.normal(0, 1, img.shape) * np.array([10, 20, 30]) / 255
    est = estimate_sigma(noisy.astype(np.float32))
    assert np.allclose(est, [10, 20, 30], atol=3), est


def _clipped_photo(sigma, seed=0, h=256, w=320):
    """Large black and white areas (a fifth of the pixels end up at 0 or 1), noise of `sigma`
    clipped to [0, 1] and stored in 8 bits, as a file holds it."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.clip(0.5 + 0.7 * np.sin(xx / 40) * np.cos(yy / 55), 0, 1)
    base = np.stack([base, np.clip(base * 1.2, 0, 1), base**2], axis=2)
    noisy = np.clip(base + sigma / 255 * rng.standard_normal(base.shape), 0, 1)
    return (np.round(noisy * 255) / 255).astype(np.float32)


def test_noise_estimate_survives_clipping():
    from desktop_app.core.imaging.noise import estimate_sigma

    image = _clipped_photo(25)
    assert ((image == 0) | (image == 1)).mean() > 0.15
    est = estimate_sigma(image)
    assert np.all(np.abs(est - 25) < 1.5), est  # it read 19-21 before clipped patches were left out
    assert np.all(np.abs(estimate_sigma(_clipped_photo(50)) - 50) < 3)


def level_noise_photo(sigma: float = 25, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A smooth picture with noise that grows with the light, as a camera's, from 0.2 to 1.5
    times `sigma` (black to white; its variance linear in the level), clipped and in 8 bits;
    and the truth per channel, the root mean square of its standard deviation."""
    rng = np.random.default_rng(seed)
    base, sd = level_noise_clean(), level_noise_sd(sigma)
    image = (np.round(np.clip(base + sd * rng.standard_normal(base.shape), 0, 1) * 255) / 255).astype(np.float32)
    return image, np.sqrt((sd**2).mean(axis=(0, 1))) * 255


def level_noise_clean() -> np.ndarray:
    """The smooth picture of `level_noise_photo`, without its noise."""
    yy, xx = np.mgrid[0:256, 0:320].astype(np.float32)
    base = np.clip(0.5 + 0.45 * np.sin(xx / 40) * np.cos(yy / 55), 0, 1)
    return np.stack([base, base * 0.8 + 0.1, 1 - base], axis=2)


def level_noise_sd(sigma: float = 25.0) -> np.ndarray:
    """The standard deviation of `level_noise_photo`'s noise at each pixel (0-1 scale)."""
    lo, hi = 0.2 * sigma / 255, 1.5 * sigma / 255
    return np.sqrt(lo**2 + (hi**2 - lo**2) * level_noise_clean()).astype(np.float32)


def test_noise_estimate_by_level_reads_noise_that_grows_with_brightness():
    """Read over all weak-texture patches the estimate follows the quiet dark ones and reads
    under the photo's level (1.4-1.8 under on this smooth picture, 2-6 on held-out photos whose
    bright parts hold texture); read per brightness band, as the denoisers' "auto" does, it
    reads the root mean square. With noise that does not depend on brightness both read the same."""
    from desktop_app.core.imaging.noise import estimate_sigma

    image, truth = level_noise_photo()
    assert np.all(np.abs(estimate_sigma(image, by_level=True) - truth) < 1.0), (estimate_sigma(image, by_level=True), truth)
    assert np.all(estimate_sigma(image) < truth - 1.2), (estimate_sigma(image), truth)
    steady = _clipped_photo(25)
    assert np.all(np.abs(estimate_sigma(steady, by_level=True) - 25) < 1.5)


def test_noise_map_reads_each_pixels_noise_at_its_level():
    """The denoiser's level per pixel ("auto"): the noise read per brightness band, looked up at
    each pixel's blurred level, follows a camera's noise from the shadows to the highlights; a
    grey photo's one row of bands serves all three channels of the network."""
    from desktop_app.core.imaging.noise import noise_bands, noise_map

    image, _ = level_noise_photo()
    truth = level_noise_sd()
    read = noise_map(image, noise_bands(image))
    assert read.shape == image.shape and read.dtype == np.float32
    assert np.median(np.abs(read - truth) / truth) < 0.15
    dark, bright = truth < np.quantile(truth, 0.2), truth > np.quantile(truth, 0.8)
    assert read[bright].mean() > 1.7 * read[dark].mean()  # the truth: 2.0 times; one level: 1
    grey = image[:, :, :1]
    assert noise_map(np.repeat(grey, 3, axis=2), noise_bands(grey)).shape == image.shape


def test_noise_estimate_of_a_dark_photo_counts_the_noise_black_cut_off():
    """A dark photo (levels 0.04-0.26): at sigma 50 over a quarter of its values sit at 0 and
    hardly a patch lies two sigmas from black. Leaving such patches out, the estimate read
    41-43; corrected for what the clipping took, it reads the truth."""
    from desktop_app.core.imaging.noise import estimate_sigma

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:256, 0:320].astype(np.float32)
    base = 0.12 + 0.08 * np.sin(xx / 30) * np.cos(yy / 45)
    base = np.stack([base, base * 0.7, base * 1.3], axis=2)
    for sigma in (25, 50):
        noisy = np.clip(base + sigma / 255 * rng.standard_normal(base.shape), 0, 1)
        image = (np.round(noisy * 255) / 255).astype(np.float32)
        assert (image == 0).mean() > (0.25 if sigma == 50 else 0.1)
        est = estimate_sigma(image)
        assert np.all(np.abs(est - sigma) < 0.04 * sigma), (sigma, est)


def test_noise_estimate_is_not_moved_by_areas_wholly_black_or_white():
    """A letterbox of pure black and a blown sky of pure white say nothing about the noise:
    adding them leaves the estimate of the photo's noise where it was, faint noise too (read
    as 0 when pure black was taken for a level just above black)."""
    from desktop_app.core.imaging.noise import estimate_sigma

    for sigma in (2, 25):
        image = _clipped_photo(sigma)
        framed = np.concatenate([np.zeros((120, 320, 3), np.float32), image, np.ones((120, 320, 3), np.float32)])
        assert np.allclose(estimate_sigma(framed), estimate_sigma(image), atol=0.02 * sigma + 0.1), sigma


def _mesh_and_wall(h=128, w=160, seed=0):
    """The left half a fine mesh (a 3-px checker of +-0.12), the right half a plain wall, both
    under mild camera-like noise (sigma 4 on 0-255)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    clean = np.full((h, w, 3), 0.5, np.float32)
    mesh = np.where(((yy // 3) + (xx // 3)) % 2 == 0, 0.12, -0.12).astype(np.float32)
    clean[:, : w // 2] += mesh[:, : w // 2, None]
    noisy = clean + rng.normal(0, 4 / 255, clean.shape).astype(np.float32)
    return clean, noisy


def test_keep_texture_puts_back_the_texture_a_denoiser_wiped_and_leaves_the_noise_out():
    from desktop_app.core.imaging.noise import keep_texture

    clean, noisy = _mesh_and_wall()
    wiped = np.full_like(clean, 0.5)  # the mesh taken for noise, the wall's noise rightly removed
    out = keep_texture(noisy, wiped)
    mesh, wall = np.s_[8:-8, 8:72], np.s_[8:-8, 88:-8]
    err = lambda a, where: np.sqrt(np.mean((a[where] - clean[where]) ** 2))  # noqa: E731
    assert err(wiped, mesh) > 0.1 and err(out, mesh) < 0.03  # the mesh is back (with its noise, 4/255)
    assert err(out, wall) < 0.5 / 255  # the wall stays clean: its residual is noise
    grey = keep_texture(noisy[:, :, :1], wiped[:, :, :1])
    assert grey.shape == (128, 160, 1) and err(grey, mesh) < 0.03


def test_averaging_similar_patches_takes_blotches_off_and_keeps_edges_and_the_mesh():
    from desktop_app.core.imaging import noise
    from desktop_app.core.work import run_work

    clean, noisy = _mesh_and_wall(h=600)  # taller than a strip: the strips' seams are checked too
    clean[:, 120:] += 0.2  # a sharp step on the wall
    noisy[:, 120:] += 0.2
    rng = np.random.default_rng(3)
    blotches = cv2.GaussianBlur(rng.normal(0, 1, clean.shape).astype(np.float32), (0, 0), 2)
    left = clean + blotches * (2 / 255) / blotches.std()  # what a network leaves: faint low blotches
    out = run_work(noise.average_similar(noisy, left))
    err = lambda a, where: np.sqrt(np.mean((a[where] - clean[where]) ** 2))  # noqa: E731
    mesh, wall, bright = np.s_[8:-8, 8:72], np.s_[8:-8, 88:112], np.s_[8:-8, 128:-8]
    for where in (wall, bright):
        assert err(out, where) < 0.7 * err(left, where)  # the blotches fade (0.56 measured)
    assert err(out, mesh) < err(left, mesh)  # the mesh matches itself: kept, less blotchy
    step = out[8:-8, 121].mean() - out[8:-8, 118].mean()
    assert step > 0.19  # the edge stays sharp (0.2)
    noise.SIMILAR_ROWS, rows = 10_000, noise.SIMILAR_ROWS
    try:
        assert np.array_equal(run_work(noise.average_similar(noisy, left)), out)  # strips = one call
    finally:
        noise.SIMILAR_ROWS = rows


def test_the_denoisers_bar_follows_where_the_network_runs():
    """The network's share of the bar (averaging the rest) from measured costs: on the GPU
    the network is quick and the averaging takes most of the time; the old CPU constants made
    the bar's time left read long there."""
    from desktop_app.core.operations.neural import network_share

    assert abs(network_share(1, "cpu", 2) - 0.35 / (0.35 + 0.85)) < 0.01  # 2 cores, OpenVINO
    assert abs(network_share(1, "cpu", 16) - network_share(1, "cpu", 2)) < 1e-9  # both parts share the cores
    assert abs(network_share(1, "cuda", 16) - 0.047 / (0.047 + 0.26)) < 0.01  # an H200, 16 cores
    assert abs(network_share(8, "cuda", 16) - 0.161 / (0.161 + 0.26)) < 0.01


def test_the_blind_denoiser_keeps_a_fine_mesh_it_used_to_wipe():
    """A chair's fine mesh (PolyU's classroom) came out flat: the network took it for noise and
    Keep fine texture put it back. The weights of the GPU fine-tune keep it themselves (0.73 of
    its contrast, the earlier ones under 0.5), and the step leaves that alone."""
    from desktop_app.core.operations import apply_operation, registry
    from desktop_app.core.work import run_work

    clean, noisy = _mesh_and_wall(seed=1)
    op = registry.get("denoise/cnn-real")
    kept = run_work(apply_operation(op, noisy, device="cpu"))
    network = run_work(apply_operation(op, noisy, params={"keep_texture": False}, device="cpu"))
    mesh = np.s_[8:-8, 8:72]
    contrast = lambda a: np.abs(a[mesh] - a[mesh].mean()).mean()  # noqa: E731
    assert contrast(kept) > 0.7 * contrast(clean)
    assert contrast(network) > 0.7 * contrast(clean)  # the network alone no longer wipes it
    assert np.abs(kept - network)[8:-8, 88:-8].max() < 2 / 255  # the plain wall: as the network left it


@pytest.mark.parametrize("shape", [(5, 700), (700, 3), (37, 300)])
def test_thin_pictures_over_many_tiles_match_one_pass(shape):
    """Tiles cut the padding to the size multiple themselves: mirrored from the tile, or read
    by index where the picture is thinner than its padding; every way gives one pass's result."""
    rng = np.random.default_rng(5)
    img = rng.random((*shape, 3)).astype(np.float32)

    def blur(x):
        return F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)

    whole = run_work(run_tiled(blur, img, torch.device("cpu"), TileSettings(tile=2048, context=16, size_multiple=16)))
    events = []
    tiled = run_work(run_tiled(blur, img, torch.device("cpu"), TileSettings(tile=64, context=16, size_multiple=16)),
                     on_progress=events.append)
    assert len([e for e in events if e.message.startswith("tile ")]) > 2
    assert np.abs(whole - tiled).max() < 1e-5
