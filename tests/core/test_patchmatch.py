"""Patch-based hole filling (PatchMatch + EM voting): what a user of "heal selection" sees."""

import cv2
import numpy as np
import pytest

from desktop_app.core.inpainting.patchmatch import patch_fill
from desktop_app.core.work import CancelToken, Cancelled, run_work
from tests.conftest import textured_image

RED, BLUE = np.array([0.9, 0.1, 0.1], np.float32), np.array([0.1, 0.15, 0.85], np.float32)


def fill(image, hole, **kwargs):
    return run_work(patch_fill(image, hole, **kwargs))


def disc(h, w, cy, cx, radius):
    yy, xx = np.mgrid[0:h, 0:w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 < radius ** 2


def stripes(n, channels=3):
    """Diagonal stripes, period 8 px, in two colours."""
    yy, xx = np.mgrid[0:n, 0:n]
    on = ((xx + yy) % 8 < 4).astype(np.float32)[:, :, None]
    return (RED[:channels] * on + BLUE[:channels] * (1 - on)).astype(np.float32)


def checkerboard(n, channels=3):
    """8 px period (4 px squares), grey levels 0.1 and 0.9."""
    yy, xx = np.mgrid[0:n, 0:n]
    on = ((yy // 4 + xx // 4) % 2).astype(np.float32)
    return np.repeat((0.1 + 0.8 * on)[:, :, None], channels, axis=2).astype(np.float32)


def natural_texture(h, w, seed):
    """Foliage-like colour noise: five octaves of smoothly interpolated noise, no period."""
    rng = np.random.default_rng(seed)
    total = np.zeros((h, w, 2), np.float32)
    for octave in range(5):
        step = 2 ** octave
        noise = rng.standard_normal((h // step + 2, w // step + 2, 2)).astype(np.float32)
        big = cv2.resize(noise, (w + 2 * step, h + 2 * step), interpolation=cv2.INTER_CUBIC)
        total += big[step:step + h, step:step + w] * 0.6 ** (4 - octave)
    total = (total - total.mean((0, 1))) / total.std((0, 1))
    image = (np.array([0.35, 0.45, 0.2]) + 0.08 * total[:, :, :1] * np.array([0.8, 1.0, 0.6])
             + 0.03 * total[:, :, 1:] * np.array([1.0, -0.5, 0.3]))
    return np.clip(image, 0, 1).astype(np.float32)


def brush_strokes(h, w, x_min, seed, count=12, width=11):
    """Thick random polyline strokes right of x_min, like a user painting over a region."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((h, w), np.uint8)
    for _ in range(count):
        x, y = rng.uniform(x_min, w), rng.uniform(0, h)
        for _ in range(4):
            nx, ny = np.clip(x + rng.normal(0, 30), x_min, w - 1), np.clip(y + rng.normal(0, 30), 0, h - 1)
            cv2.line(mask, (int(x), int(y)), (int(nx), int(ny)), 1, width)
            x, y = nx, ny
    return mask > 0


def test_pixels_outside_the_hole_are_unchanged():
    image = textured_image(96, 128, seed=3)
    hole = disc(96, 128, 50, 70, 18) | disc(96, 128, 20, 20, 8)
    out = fill(image, hole)
    assert out.shape == image.shape and out.dtype == np.float32
    assert np.array_equal(out[~hole], image[~hole])
    assert not np.allclose(out[hole], 0) and 0 <= out.min() and out.max() <= 1


@pytest.mark.parametrize("texture", [stripes, checkerboard])
@pytest.mark.parametrize("channels", [3, 1])
def test_a_hole_in_a_periodic_texture_is_filled_with_the_texture_in_phase(texture, channels):
    truth = texture(128, channels)
    hole = disc(128, 128, 60, 66, 20)
    out = fill(truth, hole)
    error = np.abs(out - truth)[hole].mean()
    flat_fill = np.abs(truth[~hole].mean(axis=0) - truth)[hole].mean()
    assert error < 0.1 * flat_fill, (error, flat_fill)


def test_thick_strokes_over_half_of_a_natural_texture_are_filled_with_that_texture():
    """A natural-looking texture beside bold stripes, painted over with thick strokes (44 % of
    the picture). The coarse levels keep whole known patches only among the stripes, so a
    solve started there filled the strokes with stripes (error 3 x a flat fill's, 8 x the
    detail); the fill has to continue the texture around it, as busy as it and no flatter."""
    h, w = 128, 192
    yy, xx = np.mgrid[0:h, 0:w]
    bars = np.repeat((0.05 + 0.85 * ((yy // 6) % 2))[:, :, None], 3, axis=2)
    image = np.where((xx < 56)[:, :, None], bars, natural_texture(h, w, 3)).astype(np.float32)
    hole = brush_strokes(h, w, 64, seed=1)
    out = fill(image, hole)

    error = np.abs(out - image)[hole].mean()
    flat_fill = np.abs(image[~hole].mean(axis=0) - image)[hole].mean()
    assert error < 0.7 * flat_fill, (error, flat_fill)

    def detail(x):
        return x - cv2.GaussianBlur(x, (0, 0), 1.5)

    around = (cv2.dilate(hole.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0) & ~hole & (xx >= 56)
    ratio = detail(out)[hole].std() / detail(image)[around].std()
    assert 0.6 < ratio < 1.6, ratio
    filled = out[hole]
    stripe_coloured = np.minimum(np.abs(filled - 0.05).max(axis=1), np.abs(filled - 0.9).max(axis=1)) < 0.08
    assert stripe_coloured.mean() < 0.01


@pytest.mark.parametrize("channels", [3, 1])
def test_a_window_too_small_for_a_pyramid_is_filled_at_full_size(channels):
    truth = stripes(40, channels)
    hole = disc(40, 40, 20, 21, 6)
    out = fill(truth, hole)
    assert np.array_equal(out[~hole], truth[~hole])
    error = np.abs(out - truth)[hole].mean()
    flat_fill = np.abs(truth[~hole].mean(axis=0) - truth)[hole].mean()
    assert error < 0.1 * flat_fill, (error, flat_fill)


def test_same_seed_gives_the_same_fill_and_another_seed_a_different_one():
    image = textured_image(96, 96, seed=5)
    hole = disc(96, 96, 48, 48, 20)
    first = fill(image, hole, seed=7)
    assert np.array_equal(first, fill(image, hole, seed=7))
    assert not np.array_equal(first, fill(image, hole, seed=8))


def test_a_hole_across_a_colour_edge_is_filled_with_the_two_colours_not_a_grey_smear():
    image = np.empty((96, 96, 3), np.float32)
    image[:, :48], image[:, 48:] = RED, BLUE
    hole = disc(96, 96, 48, 48, 22)
    out = fill(image, hole)
    filled = out[hole]
    to_red = np.linalg.norm(filled - RED, axis=1)
    to_blue = np.linalg.norm(filled - BLUE, axis=1)
    assert np.mean(np.minimum(to_red, to_blue) < 0.05) > 0.95
    # and the edge goes on straight through the hole: red on the left, blue on the right
    xx = np.mgrid[0:96, 0:96][1][hole]
    assert np.mean(to_red[xx < 44] < 0.05) > 0.95 and np.mean(to_blue[xx >= 52] < 0.05) > 0.95


def test_progress_is_reported_and_cancel_stops_the_fill():
    image = textured_image(96, 96, seed=1)
    hole = disc(96, 96, 40, 50, 16)
    fractions = []
    fill_with_events = run_work(patch_fill(image, hole), lambda e: fractions.append(e.fraction))
    assert fill_with_events.shape == image.shape
    assert len(fractions) > 10 and fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)

    token = CancelToken()
    seen = []

    def on_progress(event):
        seen.append(event)
        if len(seen) == 3:
            token.cancel()

    with pytest.raises(Cancelled):
        run_work(patch_fill(image, hole), on_progress, token)
    assert len(seen) == 3


def test_an_empty_hole_returns_the_image_and_a_hole_with_nothing_to_copy_is_refused():
    image = textured_image(64, 64)
    assert np.array_equal(fill(image, np.zeros((64, 64), bool)), image)
    hole = np.ones((64, 64), bool)
    hole[:3, :3] = False  # too few known pixels for a single 7 x 7 patch
    with pytest.raises(ValueError, match="patch of known pixels"):
        fill(image, hole)


def test_each_filled_pixel_says_which_known_pixel_it_was_copied_from():
    from desktop_app.core.inpainting.patchmatch import patch_copy

    image = natural_texture(96, 128, seed=4)
    hole = disc(96, 128, 48, 64, 20)
    copied = run_work(patch_copy(image, hole, seed=1))
    ys, xs = np.nonzero(hole)
    sy, sx = copied.source[ys, xs, 0], copied.source[ys, xs, 1]
    assert np.all(sy >= 0) and not hole[sy, sx].any()  # every hole pixel, from a known one
    assert np.array_equal(copied.image[ys, xs], image[sy, sx])  # and holds exactly its colour
    assert np.all(copied.source[~hole] == -1)


def test_a_fill_uses_the_cores_other_work_leaves_idle(monkeypatch):
    import os

    import torch

    from desktop_app.core.inpainting import patchmatch

    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    for busy, threads in ((None, 1), (0.1, 4), (1.0, 3), (2.6, 2), (2.8, 1), (7.0, 1)):
        monkeypatch.setattr(patchmatch, "busy_cores", lambda busy=busy: busy)
        assert patchmatch.cpu_threads() == threads


def test_the_last_vote_copies_what_the_covering_patches_agree_on_not_one_strong_patch():
    import torch

    from desktop_app.core.inpainting.patch_field import Field
    from desktop_app.core.inpainting.patch_pyramid import make_level
    from desktop_app.core.inpainting.patch_voting import vote

    image = torch.from_numpy(textured_image(20, 20, seed=4).transpose(2, 0, 1).copy())
    hole = torch.zeros(20, 20, dtype=torch.bool)
    hole[8:11, 8:11] = True
    level = make_level(image.clone(), hole, radius=1)
    shift = -7 * 20 - 6  # every 3 x 3 patch matched 7 rows up and 6 columns left: a coherent copy
    centre = level.ty * 20 + level.tx
    source = centre + shift
    strong = int(((level.ty == 9) & (level.tx == 9)).nonzero()[0, 0])  # the middle patch, matched elsewhere
    source[strong] = 15 * 20 + 15
    weight = torch.ones(centre.numel())
    weight[strong] = 5.0  # the best single match for all nine hole pixels, outvoted by the eight around
    vote(level, Field(source, torch.zeros(centre.numel())), weight, pick_best=True)
    hy, hx = level.hole_y, level.hole_x
    assert torch.equal(level.copied_from, hy * 20 + hx + shift)
    assert torch.equal(level.image[:, hy, hx], image[:, hy - 7, hx - 6])
