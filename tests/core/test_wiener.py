"""The Wiener step after `cnn` (imaging/wiener.py): it gives back detail its guide lost,
keeps the level of clipped whites and blacks, chooses its share for the photo where the noise
is low, works on grey photos; grouped (the best-quality mode), it finds detail that repeats
and its tiles join without a seam."""

import cv2
import numpy as np
import pytest

from desktop_app.core.imaging.noise import clipping_bias
from desktop_app.core.imaging import wiener as wiener_module
from desktop_app.core.imaging.wiener import _block_means, refine, share, sure_shares, wiener
from desktop_app.core.work import Progress, run_work


def psnr(a, b):
    return 10 * np.log10(1 / np.mean((np.clip(a, 0, 1) - b) ** 2))


def fine_detail(h: int = 128, w: int = 160, seed: int = 0) -> np.ndarray:
    """Coloured gratings of 3-7 px periods over mid grey: detail a denoiser tends to smooth."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.full((h, w, 3), 0.5, np.float32)
    for _ in range(6):
        period, angle, colour = rng.uniform(3, 7), rng.uniform(0, np.pi), rng.uniform(-1, 1, 3)
        phase = (xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period
        image += 0.05 * np.cos(phase)[..., None] * colour.astype(np.float32)
    return np.clip(image, 0, 1)


def noisy_copy(clean: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma / 255, clean.shape)
    return np.clip(clean + noise, 0, 1).astype(np.float32)


def test_a_guide_that_lost_fine_detail_gets_it_back_from_the_photo():
    clean = fine_detail()
    noisy = noisy_copy(clean, 15)
    blurred = cv2.GaussianBlur(clean, (0, 0), 1.0)  # a guide without the gratings' fine detail
    events: list[Progress] = []
    out = run_work(refine(noisy, blurred, np.full(3, 15 / 255)), events.append)
    assert out.shape == clean.shape and out.dtype == np.float32
    assert psnr(out, clean) > psnr(blurred, clean) + 0.7
    assert events and all(e.message == "recovering detail" for e in events)
    # with the truth as the guide the filter is far cleaner than the photo
    assert psnr(run_work(wiener(noisy, clean, np.full(3, 15 / 255))), clean) > psnr(noisy, clean) + 8


def test_grouped_blocks_find_detail_that_repeats():
    """A pattern repeating every 5 px, its guide blurred: each block filtered together with its
    repeats nearby gets back much more than alone."""
    tile = np.random.default_rng(4).uniform(0.3, 0.7, (5, 5, 3)).astype(np.float32)
    clean = cv2.GaussianBlur(np.tile(tile, (20, 24, 1)), (0, 0), 0.6)
    noisy = noisy_copy(clean, 15)
    blurred = cv2.GaussianBlur(clean, (0, 0), 1.0)
    sigma = np.full(3, 15 / 255)
    alone = run_work(wiener(noisy, blurred, sigma))
    grouped = run_work(wiener(noisy, blurred, sigma, grouped=True))
    assert psnr(grouped, clean) > psnr(alone, clean) + 0.7
    # eight passes are followed by the grouped filter
    assert psnr(run_work(refine(noisy, blurred, sigma, ensemble=True)), clean) > \
        psnr(run_work(refine(noisy, blurred, sigma)), clean) + 0.5


def test_grouped_tiles_join_into_the_whole_photos_result(monkeypatch):
    """Strips and tiles each filter every group that reaches them: cut small, and their groups
    filtered a few at a time, they put together the same result as cut large (no seam where
    they meet)."""
    clean = fine_detail(70, 90)
    noisy = noisy_copy(clean, 20)
    guide = cv2.GaussianBlur(clean, (0, 0), 1.0)
    whole = run_work(wiener(noisy, guide, np.full(3, 20 / 255), grouped=True))
    monkeypatch.setattr(wiener_module, "ROWS", 16)
    monkeypatch.setattr(wiener_module, "GROUP_COLS", 20)  # tiles of both parities of the colour's quincunx
    monkeypatch.setattr(wiener_module, "CHUNK", 7)
    assert np.allclose(run_work(wiener(noisy, guide, np.full(3, 20 / 255), grouped=True)), whole, atol=1e-5)


@pytest.mark.parametrize("grouped", [False, True])
def test_gains_follow_noise_that_grows_with_brightness(grouped):
    """A camera's noise is weak in the shadows and strong in the light: given the noise by
    level, each block's gains follow its own; with one level for the photo (the root mean
    square) the shadows' detail was filtered as if as noisy as the highlights."""
    clean = fine_detail(128, 160)
    clean[:, :80] -= 0.3  # shadows about 0.2, noise 4
    clean[:, 80:] += 0.3  # highlights about 0.8, noise 30
    spread = np.where(np.arange(160) < 80, 4 / 255, 30 / 255)[None, :, None] * np.ones_like(clean)
    noisy = np.clip(clean + spread * np.random.default_rng(1).standard_normal(clean.shape), 0, 1).astype(np.float32)
    guide = cv2.GaussianBlur(clean, (0, 0), 1.0)
    one = np.full(3, np.sqrt((spread ** 2).mean()), np.float32)
    bands = (np.tile([0.2, 0.8], (3, 1)), np.tile([4 / 255, 30 / 255], (3, 1)))
    flat = run_work(wiener(noisy, guide, one, grouped=grouped))
    by_level = run_work(wiener(noisy, guide, one, grouped=grouped, bands=bands))
    shadows = np.s_[:, :80]
    assert psnr(by_level[shadows], clean[shadows]) > psnr(flat[shadows], clean[shadows]) + 3
    assert psnr(by_level, clean) > psnr(flat, clean) + 0.5


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("level", [0.97, 0.03])
def test_clipped_whites_and_blacks_keep_their_level(level, grouped):
    """Clipping moves a noisy file's mean near white and black (0.97 reads 0.945 at sigma 25);
    the filter corrects for it instead of bringing the shift back."""
    flat = np.full((96, 96, 3), level, np.float32)
    noisy = noisy_copy(flat, 25, seed=2)
    assert abs(noisy.mean() - level) > 0.02
    out = run_work(wiener(noisy, flat, np.full(3, 25 / 255), grouped=grouped))
    assert abs(out.mean() - level) < 0.003


def test_the_clipping_bias_is_what_clipped_noise_shows():
    rng = np.random.default_rng(3)
    sigma = 0.08
    levels = np.array([-0.05, 0.0, 0.05, 0.2, 0.5, 0.9, 1.0, 1.04], np.float32)
    seen = np.clip(levels[:, None] + sigma * rng.standard_normal((levels.size, 400_000)), 0, 1).mean(1)
    assert np.allclose(levels + clipping_bias(levels, sigma), seen, atol=1e-3)


def test_the_clipping_bias_follows_a_cameras_noise_by_brightness():
    """A camera is quieter near black than near white: one level for both ends (their mean)
    overstates what clipping adds in the shadows and understates it in the highlights; the
    noise by brightness reads both ends right."""
    rng = np.random.default_rng(4)
    bands = (np.array([[0.0, 1.0]], np.float32), np.array([[0.01, 0.08]], np.float32))  # black 0.01, white 0.08
    levels = np.array([0.0, 0.01, 0.02, 0.95, 0.98, 1.0], np.float32)
    sd = np.interp(levels, bands[0][0], bands[1][0])
    seen = np.clip(levels[:, None] + sd[:, None] * rng.standard_normal((levels.size, 400_000)), 0, 1).mean(1)
    by_brightness = levels + clipping_bias(levels[:, None], bands)[:, 0]
    one_level = levels + clipping_bias(levels, 0.045)
    assert np.allclose(by_brightness, seen, atol=1e-3)
    assert np.abs(one_level - seen).max() > 5e-3


@pytest.mark.parametrize("ensemble", [False, True])
def test_grey_photos_work_and_a_sigma_of_zero_returns_the_photo(ensemble):
    clean = fine_detail()[..., :1]
    noisy = noisy_copy(clean, 15)
    out = run_work(refine(noisy, cv2.GaussianBlur(clean, (0, 0), 1.0)[..., None], np.array([15 / 255]), ensemble))
    assert out.shape == clean.shape and psnr(out, clean) > psnr(noisy, clean) + 3
    assert np.allclose(run_work(wiener(noisy, clean, np.zeros(1), grouped=ensemble)), noisy, atol=1e-5)


@pytest.mark.parametrize("ensemble", [False, True])
@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 10, 3), (3, 3, 3), (7, 9, 1), (40, 2, 3)])
def test_tiny_photos(shape, ensemble):
    noisy = np.random.default_rng(0).random(shape).astype(np.float32)
    out = run_work(refine(noisy, noisy * 0.9, np.full(shape[2], 10 / 255), ensemble, denoiser=blurring_denoiser))
    assert out.shape == shape and np.isfinite(out).all()


@pytest.mark.parametrize("grouped", [False, True])
def test_no_noise_leaves_the_result_as_it_is(grouped):
    """"auto" reads 0 on some smooth JPEGs; a flat guide has DCT coefficients of exactly 0."""
    flat = np.full((64, 64, 3), 0.4, np.float32)
    assert np.isfinite(run_work(wiener(flat, flat, np.zeros(3), grouped=grouped))).all()
    noisy = noisy_copy(fine_detail(), 2)
    assert run_work(refine(noisy, flat, np.zeros(3), denoiser=blurring_denoiser)) is flat


def blurring_denoiser(image: np.ndarray):
    """A crude denoiser that also blurs away the gratings: the table's share is too timid for it."""
    yield Progress(0.5, "blurring")
    return cv2.GaussianBlur(image, (0, 0), 1.2).reshape(image.shape)


def test_shares_chosen_for_the_photo_beat_the_table_where_it_is_off():
    clean = fine_detail()
    noisy = noisy_copy(clean, 10)
    sigma = np.full(3, 10 / 255)
    guide = run_work(blurring_denoiser(noisy))
    by_table = run_work(refine(noisy, guide, sigma))
    events: list[Progress] = []
    chosen = run_work(refine(noisy, guide, sigma, denoiser=blurring_denoiser), events.append)
    assert psnr(chosen, clean) > psnr(by_table, clean) + 0.5
    assert any(e.message == "choosing how much detail to recover" for e in events)
    fractions = [e.fraction for e in events if e.fraction is not None]
    assert fractions == sorted(fractions)
    # above the level where they are chosen, the table decides
    noisy40 = noisy_copy(clean, 40)
    guide40 = run_work(blurring_denoiser(noisy40))
    assert np.array_equal(run_work(refine(noisy40, guide40, np.full(3, 40 / 255), denoiser=blurring_denoiser)),
                          run_work(refine(noisy40, guide40, np.full(3, 40 / 255))))
    assert share(40) < share(10) < share(5)


@pytest.mark.parametrize("grey", [False, True])
def test_the_noise_weight_follows_the_photos_colour_detail(grey, monkeypatch):
    """Fine colour detail the guide lost is read back from the photo with a lower weight of the
    noise in the colour channels' gains; where the detail is grey, colour is smoothed harder."""
    clean = fine_detail()
    if grey:
        clean = np.repeat(clean.mean(axis=2, keepdims=True), 3, axis=2)
    noisy, sigma = noisy_copy(clean, 15), np.full(3, 15 / 255)
    guide = run_work(blurring_denoiser(noisy))
    _, weights = run_work(sure_shares(noisy, sigma, blurring_denoiser, True, np.full(3, 0.5, np.float32)))
    assert (weights[1:] > 1).all() if grey else (weights[1:] < 1).all()
    chosen = run_work(refine(noisy, guide, sigma, denoiser=blurring_denoiser))
    monkeypatch.setattr(wiener_module, "WEIGHTS", (1.0,))  # the shares alone, as before
    fixed = run_work(refine(noisy, guide, sigma, denoiser=blurring_denoiser))
    assert psnr(chosen, clean) > psnr(fixed, clean) + 0.3


def test_a_photo_mostly_clipped_keeps_the_tables_share():
    """Shares are read only from pixels 3 sigma away from black and white; a dark photo has
    too few, and the fallback stands."""
    dark = noisy_copy(np.full((96, 96, 3), 0.01, np.float32), 15)
    fallback = np.full(3, 0.5, np.float32)
    shares, weights = run_work(sure_shares(dark, np.full(3, 15 / 255), blurring_denoiser, True, fallback))
    assert np.array_equal(shares, fallback) and weights is None


@pytest.mark.parametrize("sigma_255", [10, 20])
def test_the_chosen_shares_and_weights_come_near_the_best_the_clean_photo_shows(sigma_255):
    """SURE reads, without the clean photo, what the clean photo says is best: its choice
    comes within 0.1 dB of the best single share and weight for all channels found against
    the clean photo (and may beat it, choosing per channel)."""
    clean = fine_detail(seed=2)
    noisy, sigma = noisy_copy(clean, sigma_255, seed=3), np.full(3, sigma_255 / 255)
    guide = run_work(blurring_denoiser(noisy))
    best = -np.inf
    for weight in wiener_module.WEIGHTS:
        filtered = run_work(wiener(noisy, guide, sigma, True, weights=np.full(3, weight, np.float32)))
        for s in np.linspace(0.0, 1.0, 21):
            best = max(best, psnr(guide + s * (filtered - guide), clean))
    chosen = psnr(run_work(refine(noisy, guide, sigma, denoiser=blurring_denoiser)), clean)
    assert chosen > best - 0.1
    assert chosen > psnr(guide, clean) + 0.5  # the choice matters on this photo: the guide alone is far off


def test_block_noise_is_read_at_the_block_corner():
    """Each block's gains take the noise's power averaged over that block's own 64 pixels (read
    from one plane of block means at the block's corner): a mean one pixel off would mix in
    the neighbouring level, worst at a step from shadow to highlight."""
    planes = np.random.default_rng(3).random((2, 40, 50)).astype(np.float32)
    planes[:, :, 23:] += 5.0  # a step
    means = _block_means(planes)
    for y, x in ((0, 0), (5, 16), (32, 42), (10, 19)):
        assert means[:, y, x] == pytest.approx(planes[:, y:y + 8, x:x + 8].mean(axis=(1, 2)), rel=1e-5)
