"""Smart selection on synthetic pictures: box select (with hints), magic wand, mask algebra,
the CLI command, and cancel between progress events."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from desktop_app.core import selection
from desktop_app.core.brush import BrushSettings, stamp_segment
from desktop_app.core.imaging.io import load_image, load_mask, save_image, save_mask
from desktop_app.core.selection import (BoxSelectSettings, CombineMode, box_select, box_select_work, combine,
                                        feather, grow, magic_wand, magic_wand_work, shrink)
from desktop_app.core.work import CancelToken, Cancelled, Progress, run_work


def disc(shape: tuple[int, int], cx: float, cy: float, r: float) -> np.ndarray:
    """An anti-aliased disc (4 x 4 supersampled), float32."""
    h, w = shape
    sub = (np.arange(4) + 0.5) / 4
    ys = (np.arange(h)[:, None] + sub[None, :]).reshape(-1)
    xs = (np.arange(w)[:, None] + sub[None, :]).reshape(-1)
    inside = ((xs[None, :] - cx) ** 2 + (ys[:, None] - cy) ** 2) <= r * r
    return inside.reshape(h, 4, w, 4).mean(axis=(1, 3)).astype(np.float32)


def textured_background(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Greenish-grey texture: smooth waves plus noise, nowhere near the disc's colour."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([0.35 + 0.12 * np.sin(xx / 7 + yy / 11), 0.45 + 0.12 * np.cos(yy / 9 - xx / 13),
                     0.35 + 0.1 * np.sin((xx + yy) / 10)], axis=2)
    return np.clip(base + rng.normal(0, 0.04, base.shape), 0, 1).astype(np.float32)


def disc_scene(h: int = 180, w: int = 240, cx: float = 120, cy: float = 90, r: float = 50, seed: int = 0):
    """A textured orange disc on a textured background; returns (image, true disc mask)."""
    rng = np.random.default_rng(seed + 1)
    truth = disc((h, w), cx, cy, r)
    colour = np.clip(np.float32([0.9, 0.45, 0.15]) + rng.normal(0, 0.04, (h, w, 3)), 0, 1)
    image = textured_background(h, w, seed) * (1 - truth[:, :, None]) + colour * truth[:, :, None]
    return image.astype(np.float32), truth


def iou(mask: np.ndarray, truth: np.ndarray) -> float:
    a, b = mask >= 0.5, truth >= 0.5
    return float((a & b).sum() / max(1, (a | b).sum()))


def stroke(shape, points, size=12.0) -> np.ndarray:
    """A hint mask painted with the app's own brush along `points` (x, y)."""
    mask = np.zeros(shape, np.float32)
    brush = BrushSettings(size=size, hardness=0.8)
    for p0, p1 in zip(points[:-1], points[1:]):
        stamp_segment(mask, p0, p1, brush)
    return mask


# --- box select ---------------------------------------------------------------------------


def test_box_select_recovers_a_disc_with_a_soft_edge():
    image, truth = disc_scene()
    mask = box_select(image, (60, 30, 120, 120))
    assert mask.dtype == np.float32 and mask.shape == truth.shape
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    assert iou(mask, truth) > 0.9
    assert mask[90, 120] == pytest.approx(1.0) and mask[5, 5] == 0.0
    soft = (mask > 0.02) & (mask < 0.98)
    assert soft.any()
    # The soft band hugs the edge: a couple of pixels, not a blur.
    ring = 2 * np.pi * 50
    assert soft.sum() < 5 * ring


def test_box_select_takes_the_thin_parts_of_an_object_and_not_the_sky_around_it():
    """A plane's propeller blades, an antenna: a pixel or two wide, in a colour the sky also holds (its
    dark clouds), the graph cut leaves them out and a removal left them as dark specks. They
    join the selection; the sky around them does not."""
    import cv2

    h, w = 160, 240
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sky = np.stack([0.6 + 0.05 * np.sin(xx / 40 + yy / 60)] * 3, axis=2) * np.float32([0.95, 0.97, 1.03])
    clouds = cv2.GaussianBlur((rng.random((h, w)) < 0.004).astype(np.float32), (0, 0), 6)
    clouds = np.clip(clouds / clouds.max() * 3, 0, 1)
    clouds[20:140, 60:180] = 0  # dark clouds, away from the plane
    grey = np.float32([0.3, 0.3, 0.33])
    body = disc((h, w), 120, 80, 30)
    blades = np.zeros((h, w), bool)
    for t in range(28, 38):  # four blades, two pixels wide, 8 px beyond the body
        blades[80:82, 120 + t] = blades[80:82, 120 - t] = blades[80 + t, 120:122] = blades[80 - t, 120:122] = True
    blades &= body < 0.5
    image = sky * (1 - clouds[:, :, None]) + grey * clouds[:, :, None] + rng.normal(0, 0.01, sky.shape)
    image = image * (1 - body[:, :, None]) + np.float32([0.15, 0.15, 0.17]) * body[:, :, None]
    image[blades] = grey
    image = np.clip(image, 0, 1).astype(np.float32)
    box = (70, 30, 100, 100)
    mask = box_select(image, box)
    without = box_select(image, box, settings=BoxSelectSettings(thin_reach=0))
    assert (without[blades] >= 0.5).mean() < 0.2  # the cut alone leaves the blades out
    assert (mask[blades] >= 0.5).mean() > 0.8
    away = cv2.distanceTransform((~(blades | (body > 0))).astype(np.uint8), cv2.DIST_L2, 3) > 2
    assert not (mask >= 0.5)[away].any()  # no sky, bar the blades' own soft edge
    assert iou(mask, body) > iou(without, body) - 0.05  # the body as before


def test_the_tip_of_a_blade_the_cut_rounded_off_joins_and_faint_or_distant_specks_do_not():
    """Removing the plane of CBSD68 3096 left four dark specks: blade tips a few pixels beyond
    the selection's edge, too short to count as parts reaching out of it."""
    from desktop_app.core.selection import _thin_parts

    h, w = 120, 160
    rng = np.random.default_rng(2)
    pixels = np.clip(150 + rng.normal(0, 1.5, (h, w, 3)), 0, 255).astype(np.uint8)  # a smooth sky
    fg = disc((h, w), 80, 60, 25) >= 0.5
    pixels[fg] = 40
    specks = {"tip": (60, 80 + 25 + 3), "faint": (60, 80 - 25 - 4), "far": (60 + 25 + 8, 80)}
    for name, (y, x) in specks.items():
        pixels[y:y + 2, x:x + 2] = 150 - (20 if name == "faint" else 80)  # 20 levels: 1.25x the level
    out = _thin_parts(pixels, fg, (20, 10, 140, 110), reach=20.0)
    y, x = specks["tip"]
    assert out[y:y + 2, x:x + 2].all()
    for name in ("faint", "far"):
        y, x = specks[name]
        assert not out[y:y + 2, x:x + 2].any(), name
    assert np.count_nonzero(out & ~fg) < 12  # the tip and its way back, nothing else


@pytest.mark.parametrize("coarse_size", [120, 0])  # coarse to fine, and the working grid alone
def test_box_select_on_a_photo_larger_than_the_working_size_refines_the_edge_at_full_size(coarse_size):
    image, truth = disc_scene(900, 1200, cx=600, cy=450, r=260)
    settings = BoxSelectSettings(working_size=300, coarse_size=coarse_size)  # the crop 3.5x smaller
    mask = box_select(image, (300, 150, 600, 600), settings=settings)
    assert iou(mask, truth) > 0.97
    unrefined = box_select(image, (300, 150, 600, 600),
                           settings=BoxSelectSettings(working_size=300, coarse_size=coarse_size, refine=False))
    # Off the exact edge by under a pixel on average: the error area over the perimeter.
    perimeter = 2 * np.pi * 260
    error = ((mask >= 0.5) != (truth >= 0.5)).sum() / perimeter
    assert error < 0.5
    assert error < 0.5 * ((unrefined >= 0.5) != (truth >= 0.5)).sum() / perimeter


def _stone_on_leaf_litter(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A grey, mottled stone on leaf litter of six colours, one of them near the stone's."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = 240, 320

    def litter(colours, blob):
        idx = rng.integers(0, len(colours), (h // blob + 1, w // blob + 1)).astype(np.uint8)
        return np.asarray(colours, np.float32)[cv2.resize(idx, (w, h), interpolation=cv2.INTER_NEAREST)]

    image = litter([(0.45, 0.33, 0.25), (0.35, 0.28, 0.22), (0.30, 0.40, 0.20), (0.55, 0.45, 0.38),
                    (0.40, 0.38, 0.36), (0.25, 0.20, 0.18)], 5)
    yy, xx = np.mgrid[:h, :w]
    stone = (np.abs(yy - 120) < 22) & (np.abs(xx - 160) < 38)
    image[stone] = litter([(0.42, 0.40, 0.38), (0.50, 0.47, 0.44), (0.36, 0.34, 0.32)], 3)[stone]
    image += rng.normal(0, 0.06, (h, w, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(image, (0, 0), 0.8), 0, 1), stone


@pytest.mark.parametrize("seed", range(4))
def test_box_select_finds_a_stone_on_leaf_litter(seed):
    # GrabCut alone finds nothing in each of these (every outline costs more than the
    # colours earn): the cut is tried again on the texture smoothed, then from the box's middle
    image, stone = _stone_on_leaf_litter(seed)
    got = box_select(image, (112, 88, 96, 64)) > 0.5
    assert (got & stone).sum() / (got | stone).sum() > 0.75


@pytest.mark.parametrize("seed", range(3))
def test_a_box_over_plain_ground_still_selects_nothing(seed):
    from tests.conftest import textured_image

    ground = textured_image(240, 320, seed=seed) * 0.1 + 0.45
    assert box_select(ground, (100, 60, 120, 120)).max() <= 0.5  # not the box's middle


def test_box_select_is_deterministic():
    image, _ = disc_scene()
    a = box_select(image, (60, 30, 120, 120))
    b = box_select(image, (60, 30, 120, 120))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("channels", [1, 4])
def test_box_select_takes_grey_and_rgba_images(channels):
    image, truth = disc_scene()
    if channels == 1:
        image = image @ np.float32([0.299, 0.587, 0.114])[:, None]
    else:
        image = np.concatenate([image, np.ones_like(image[:, :, :1])], axis=2)
    assert iou(box_select(image, (60, 30, 120, 120)), truth) > 0.9


def test_a_box_past_the_edge_is_cut_there_and_one_outside_is_an_error():
    image, truth = disc_scene()
    assert iou(box_select(image, (60, 30, 400, 400)), truth) > 0.5  # clipped to the image
    with pytest.raises(ValueError, match="outside"):
        box_select(image, (300, 10, 50, 50))
    with pytest.raises(ValueError, match="empty"):
        box_select(image, (10, 10, 0, 50))


def test_remove_hints_fix_a_box_that_holds_a_second_object():
    image, truth = disc_scene(cx=90)
    # A blue square beside the disc, inside the same (bad) box.
    image[60:120, 160:215] = np.float32([0.15, 0.3, 0.9])
    box = (25, 25, 200, 130)
    first = box_select(image, box)
    assert iou(first, truth) < 0.8  # the square came along
    remove = stroke(truth.shape, [(170, 70), (205, 110), (170, 110), (205, 70)], size=14)
    fixed = box_select(image, box, remove=remove, previous=first)
    assert iou(fixed, truth) > 0.9
    assert fixed[90, 187] == 0.0


def test_keep_hints_fix_a_box_that_cuts_the_object_off():
    image, truth = disc_scene()
    box = (60, 30, 80, 120)  # cuts the disc at x = 140 of 170
    first = box_select(image, box)
    assert first[90, 155] < 0.5
    assert iou(first, truth) < 0.85
    keep = stroke(truth.shape, [(150, 70), (160, 90), (150, 110)], size=10)
    fixed = box_select(image, box, keep=keep, previous=first)
    assert iou(fixed, truth) > 0.95
    assert fixed[90, 160] == pytest.approx(1.0)


def test_hint_masks_must_match_the_image():
    image, _ = disc_scene()
    with pytest.raises(ValueError, match="keep"):
        box_select(image, (60, 30, 120, 120), keep=np.zeros((10, 10), np.float32))


def test_box_select_yields_progress_and_stops_when_cancelled():
    image, _ = disc_scene()
    events: list[Progress] = []
    run_work(box_select_work(image, (60, 30, 120, 120)), events.append)
    fractions = [e.fraction for e in events]
    assert len(events) >= 5 and fractions == sorted(fractions) and fractions[-1] == 1.0

    token = CancelToken()
    seen = []

    def cancel_after_two(p: Progress) -> None:
        seen.append(p)
        if len(seen) == 2:
            token.cancel()

    work = box_select_work(image, (60, 30, 120, 120))
    with pytest.raises(Cancelled):
        run_work(work, cancel_after_two, token)
    assert len(seen) == 2
    assert work.gi_frame is None  # closed: nothing runs on after a cancel


# --- magic wand ---------------------------------------------------------------------------


def two_colour_scene():
    """Left half red, right half green (both slightly noisy), and a separate red patch in the
    green half."""
    rng = np.random.default_rng(3)
    image = np.zeros((120, 160, 3), np.float32)
    image[:, :80] = [0.8, 0.1, 0.1]
    image[:, 80:] = [0.1, 0.7, 0.2]
    image[40:70, 110:140] = [0.8, 0.1, 0.1]
    image += rng.normal(0, 0.01, image.shape).astype(np.float32)
    return np.clip(image, 0, 1)


def test_magic_wand_stops_at_a_colour_edge():
    image = two_colour_scene()
    mask = magic_wand(image, (20, 60), tolerance=30)
    assert mask[:, :78].min() > 0.99  # the whole red half ...
    assert mask[:, 82:].max() < 0.01  # ... and nothing past its edge, not even the red patch
    assert 0.0 < mask[60, 79] < 1.0 or 0.0 < mask[60, 80] < 1.0  # a slightly soft edge


def test_global_magic_wand_finds_disconnected_regions_of_the_same_colour():
    image = two_colour_scene()
    mask = magic_wand(image, (20, 60), tolerance=30, contiguous=False)
    assert mask[:, :78].min() > 0.99
    assert mask[45:65, 115:135].min() > 0.99  # the separate red patch
    assert mask[5:35, 85:155].max() < 0.01  # green stays out


@pytest.mark.parametrize("channels", [1, 4])
def test_magic_wand_on_grey_and_rgba_images(channels):
    image = two_colour_scene()
    if channels == 1:
        image = image @ np.float32([0.299, 0.587, 0.114])[:, None]
    else:
        image = np.concatenate([image, np.ones_like(image[:, :, :1])], axis=2)
    mask = magic_wand(image, (20, 60), tolerance=20)
    assert mask[:, :78].min() > 0.99 and mask[:, 82:].max() < 0.01
    everywhere = magic_wand(image, (20, 60), tolerance=20, contiguous=False)
    assert everywhere[50, 120] > 0.99 and everywhere[10, 100] < 0.01


def test_magic_wand_tolerance_and_bad_input():
    image = two_colour_scene()
    assert magic_wand(image, (20, 60), tolerance=0).sum() < 0.2 * 120 * 80  # only near-exact matches
    assert magic_wand(image, (20, 60), tolerance=255).min() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="outside"):
        magic_wand(image, (200, 10))
    with pytest.raises(ValueError, match="tolerance"):
        magic_wand(image, (20, 60), tolerance=300)


def test_magic_wand_yields_progress_and_cancels():
    image = two_colour_scene()
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_work(magic_wand_work(image, (20, 60)), cancel=token)
    events = []
    run_work(magic_wand_work(image, (20, 60)), events.append)
    assert events[-1].fraction == 1.0


# --- mask algebra -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 10])
def test_grow_and_shrink_follow_the_area_of_a_disc(n):
    r = 40.0
    mask = disc((160, 160), 80, 80, r)
    grown, shrunk = grow(mask, n), shrink(mask, n)
    assert grown.sum() == pytest.approx(np.pi * (r + n) ** 2, rel=0.02)
    assert shrunk.sum() == pytest.approx(np.pi * (r - n) ** 2, rel=0.02)
    # Still a disc, still soft at the edge.
    assert iou(grown, disc((160, 160), 80, 80, r + n)) > 0.98
    assert ((grown > 0.05) & (grown < 0.95)).any() and ((shrunk > 0.05) & (shrunk < 0.95)).any()
    np.testing.assert_allclose(grow(mask, -n), shrunk, atol=1e-6)
    np.testing.assert_array_equal(grow(mask, 0), mask)


def test_grow_keeps_a_feathered_edge_soft():
    mask = feather(disc((160, 160), 80, 80, 30), 8)
    grown = grow(mask, 6)
    fringe = lambda m: ((m > 0.05) & (m < 0.95)).sum()  # noqa: E731
    # The fringe moves outward with the edge (longer circumference), its width stays.
    assert fringe(grown) == pytest.approx(fringe(mask) * 36 / 30, rel=0.2)
    assert grown.sum() == pytest.approx(np.pi * 36 ** 2, rel=0.05)


def test_shrink_leaves_a_selection_at_the_image_border_there():
    mask = np.zeros((50, 60), np.float32)
    mask[:, :30] = 1.0
    shrunk = shrink(mask, 5)
    assert shrunk[:, :24].min() == 1.0 and shrunk[:, 26:].max() == 0.0
    assert grow(np.zeros((20, 20), np.float32), 4).max() == 0.0


def test_feather_softens_and_keeps_the_amount():
    mask = disc((100, 100), 50, 50, 25)
    soft = feather(mask, 6)
    assert soft.sum() == pytest.approx(mask.sum(), rel=0.01)
    assert ((soft > 0.05) & (soft < 0.95)).sum() > 2 * ((mask > 0.05) & (mask < 0.95)).sum()
    np.testing.assert_array_equal(feather(mask, 0), mask)


def test_combine_modes():
    a = disc((60, 80), 30, 30, 20)
    b = disc((60, 80), 50, 30, 20)
    np.testing.assert_array_equal(combine(a, b, "replace"), b)
    np.testing.assert_array_equal(combine(a, b, CombineMode.ADD), np.maximum(a, b))
    np.testing.assert_array_equal(combine(a, b, "subtract"), np.minimum(a, 1 - b))
    np.testing.assert_array_equal(combine(a, b, "intersect"), np.minimum(a, b))
    assert combine(a, b, "subtract")[30, 15] == 1.0 and combine(a, b, "subtract")[30, 50] == 0.0
    with pytest.raises(ValueError):
        combine(a, b, "xor")
    with pytest.raises(ValueError, match="shapes"):
        combine(a, b[:10], "add")


def test_core_selection_imports_no_qt():
    code = "import sys, desktop_app.core.selection; assert not [m for m in sys.modules if m.startswith('PySide6')]"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --- the command line ---------------------------------------------------------------------


def cli(*args):
    return subprocess.run([sys.executable, "-m", "desktop_app", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_cli_select_box_writes_a_mask(tmp_path):
    image, truth = disc_scene()
    src, out = tmp_path / "disc.png", tmp_path / "mask.png"
    save_image(src, image)
    r = cli("select", src, "--box", "60,30,120,120", "-o", out)
    assert r.returncode == 0, r.stderr
    mask = load_mask(out, truth.shape)
    assert iou(mask, truth) > 0.9
    pixels, meta = load_image(out)
    assert pixels.shape[2] == 1  # greyscale

    grown = tmp_path / "grown.png"
    r = cli("select", src, "--box", "60,30,120,120", "--grow", "5", "--feather", "2", "-o", grown)
    assert r.returncode == 0, r.stderr
    assert load_mask(grown, truth.shape).sum() > mask.sum() * 1.1


def test_cli_select_wand_hints_and_combine(tmp_path):
    src = tmp_path / "two.png"
    save_image(src, two_colour_scene())
    out = tmp_path / "wand.png"
    r = cli("select", src, "--wand", "20,60", "--tolerance", "30", "--global", "-o", out)
    assert r.returncode == 0, r.stderr
    mask = load_mask(out, (120, 160))
    assert mask[50, 120] > 0.99 and mask[10, 100] < 0.01

    current = tmp_path / "current.png"
    save_mask(current, np.ones((120, 160), np.float32))
    r = cli("select", src, "--wand", "20,60", "--tolerance", "30", "--mask", current, "--mode", "subtract",
            "-o", out)
    assert r.returncode == 0, r.stderr
    mask = load_mask(out, (120, 160))
    assert mask[50, 20] < 0.01 and mask[10, 100] > 0.99


def test_cli_select_keep_and_remove_hints(tmp_path):
    image, truth = disc_scene(cx=90)
    image[60:120, 160:215] = np.float32([0.15, 0.3, 0.9])
    src, remove, out = tmp_path / "scene.png", tmp_path / "remove.png", tmp_path / "mask.png"
    save_image(src, image)
    save_mask(remove, stroke(truth.shape, [(170, 70), (205, 110), (170, 110), (205, 70)], size=14))
    r = cli("select", src, "--box", "25,25,200,130", "--remove", remove, "-o", out)
    assert r.returncode == 0, r.stderr
    assert load_mask(out, truth.shape)[90, 187] == 0.0


@pytest.mark.parametrize("args, code, text", [
    (["--box", "500,10,40,40"], 1, "outside"),
    (["--box", "1,2,3"], 2, "X,Y,W,H"),
    (["--box", "a,b,c,d"], 2, "X,Y,W,H"),
    (["--wand", "10"], 2, "X,Y"),
    (["--wand", "1000,5"], 1, "outside"),
    ([], 2, "--box"),
])
def test_cli_select_errors_are_one_line(tmp_path, args, code, text):
    src = tmp_path / "two.png"
    save_image(src, two_colour_scene())
    r = cli("select", src, *args, "-o", tmp_path / "m.png")
    assert r.returncode == code
    assert text in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m.png").exists()


def test_cli_select_refuses_a_mask_name_that_is_not_png(tmp_path):
    src = tmp_path / "two.png"
    save_image(src, two_colour_scene())
    r = cli("select", src, "--wand", "5,5", "-o", tmp_path / "m.jpg")
    assert r.returncode == 1 and "PNG" in r.stderr


def test_module_exposes_the_public_api():
    for name in ("box_select_work", "box_select", "magic_wand_work", "magic_wand", "grow", "shrink",
                 "feather", "combine", "CombineMode", "BoxSelectSettings"):
        assert hasattr(selection, name)
