import numpy as np
import pytest

from desktop_app.core.operations import ParameterError, apply_operation, registry
from desktop_app.core.operations.base import Operation, Param
from desktop_app.core.operations.classic import NLMEANS_TILE, nlmeans_settings
from desktop_app.core.work import CancelToken, Cancelled, Progress, run_work
from tests.conftest import textured_image


def noisy(img, sigma, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma / 255, img.shape), 0, 1).astype(np.float32)


def psnr(a, b):
    return 10 * np.log10(1 / np.mean((a - b) ** 2))


def test_registry_lists_classic_operations_grouped():
    keys = {op.key for op in registry.all_operations()}
    assert {"denoise/nlmeans", "inpaint/telea", "inpaint/ns"} <= keys
    groups = registry.by_category()
    # the panel's groups, in its order: removal first, each group's best method first
    assert list(groups)[:2] == ["Remove objects", "Denoise"]
    assert [op.method for op in groups["Remove objects"]] == ["remove", "cnn", "patch", "telea", "ns"]
    assert [op.method for op in groups["Denoise"]] == ["cnn-real", "cnn", "nlmeans"]
    with pytest.raises(ValueError):
        registry.register(registry.get("denoise/nlmeans"))  # duplicates are rejected
    with pytest.raises(KeyError, match="available: .*nlmeans"):
        registry.get("denoise", "nope")


def test_params_are_validated_with_clear_messages():
    op = registry.get("denoise/nlmeans")
    assert op.resolve_params({})["sigma"] == 25.0
    assert op.resolve_params({"sigma": "15"})["sigma"] == 15.0
    with pytest.raises(ParameterError, match="above the maximum"):
        op.resolve_params({"sigma": 1000})
    with pytest.raises(ParameterError, match="not a valid float"):
        op.resolve_params({"sigma": "lots"})
    with pytest.raises(ParameterError, match="unknown parameter"):
        op.resolve_params({"radius": 3})
    with pytest.raises(ParameterError, match="not one of"):
        op.resolve_params({"variant": "magic"})


def test_nlmeans_reduces_noise_and_keeps_shape():
    clean = textured_image(128, 160)
    img = noisy(clean, 25)
    out = run_work(apply_operation(registry.get("denoise/nlmeans"), img, params={"sigma": 25}))
    assert out.shape == img.shape and out.dtype == np.float32
    assert psnr(out, clean) > psnr(img, clean) + 3


def test_nlmeans_tiles_match_a_single_pass(monkeypatch):
    """Cutting the image into tiles (for cancel and progress) changes no pixel."""
    import desktop_app.core.operations.classic as classic

    clean = textured_image(150, 170, seed=3)
    img = noisy(clean, 20, seed=1)
    op = registry.get("denoise/nlmeans")
    whole = run_work(apply_operation(op, img, params={"sigma": 20}))
    monkeypatch.setattr(classic, "NLMEANS_TILE", 48)
    events = []
    tiled = run_work(apply_operation(op, img, params={"sigma": 20}), events.append)
    assert np.array_equal(whole, tiled)
    assert sum("tile" in e.message for e in events) == 16  # progress per tile


def test_nlmeans_cancel_between_tiles(monkeypatch):
    import desktop_app.core.operations.classic as classic

    monkeypatch.setattr(classic, "NLMEANS_TILE", 32)
    token = CancelToken()
    seen = []

    def on_progress(p: Progress):
        seen.append(p)
        if len(seen) == 3:
            token.cancel()

    with pytest.raises(Cancelled):
        run_work(apply_operation(registry.get("denoise/nlmeans"), textured_image(128, 128)), on_progress, token)
    assert len(seen) == 3


def test_nlmeans_settings_follow_sigma():
    v15, h15, t15, s15 = nlmeans_settings(15)
    v50, h50, *_ = nlmeans_settings(50)
    assert h50 > h15 > 0
    assert t15 % 2 == 1 and s15 % 2 == 1


def test_sixteen_bit_precision_is_kept_outside_the_changes():
    """On a 16-bit image NL-Means adds its correction to the full-precision pixels."""
    img = (np.round(textured_image(64, 64) * 65535) / 65535).astype(np.float32)
    out = run_work(apply_operation(registry.get("denoise/nlmeans"), img, params={"sigma": 0.0}))
    assert np.array_equal(out, img)
    out = run_work(apply_operation(registry.get("denoise/nlmeans"), img, params={"sigma": 10.0}))
    levels = np.unique(np.round(out * 65535))
    assert len(levels) > 1000  # far more than the 256 an 8-bit path would leave


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_inpaint_changes_only_the_masked_region(method):
    img = textured_image(80, 100)
    img[30:50, 40:60] = [1.0, 0.0, 0.0]  # a red blemish
    mask = np.zeros(img.shape[:2], np.float32)
    mask[28:52, 38:62] = 1.0
    out = run_work(apply_operation(registry.get("inpaint", method), img, mask))
    assert np.array_equal(out[mask == 0], img[mask == 0])
    assert out[35:45, 45:55, 0].mean() < 0.9  # the red is gone
    assert abs(out[35:45, 45:55, 1].mean() - img[:20, :, 1].mean()) < 0.3


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_inpaint_continues_a_smooth_picture_into_the_hole(method):
    yy, xx = np.mgrid[0:96, 0:128].astype(np.float32)
    image = np.stack([0.2 + 0.6 * xx / 127, 0.3 + 0.4 * yy / 95, 0.5 + 0.0 * xx], axis=2)
    mask = np.zeros((96, 128), np.float32)
    mask[30:60, 40:80] = 1.0
    out = run_work(apply_operation(registry.get(f"inpaint/{method}"), image, mask))
    # a gradient is continued, not filled with values from outside the picture's range
    assert np.abs(out - image)[mask > 0].mean() < 0.03


def test_inpaint_needs_a_mask():
    with pytest.raises(ParameterError, match="paint a mask"):
        run_work(apply_operation(registry.get("inpaint/telea"), textured_image(), np.zeros((96, 128), np.float32)))


def test_inside_mask_only_blends_with_soft_values():
    img = noisy(textured_image(64, 64), 30)
    mask = np.zeros((64, 64), np.float32)
    mask[:, 32:] = 1.0
    mask[:, 28:32] = 0.5
    op = registry.get("denoise/nlmeans")
    full = run_work(apply_operation(op, img, params={"sigma": 30}))
    out = run_work(apply_operation(op, img, mask, {"sigma": 30}, inside_mask_only=True))
    assert np.array_equal(out[:, :28], img[:, :28])
    assert np.allclose(out[:, 32:], full[:, 32:], atol=1e-6)
    assert np.allclose(out[:, 28:32], 0.5 * img[:, 28:32] + 0.5 * full[:, 28:32], atol=1e-5)
    with pytest.raises(ParameterError, match="mask is empty"):
        run_work(apply_operation(op, img, np.zeros_like(mask), inside_mask_only=True))


def test_alpha_and_grey_are_kept():
    rgba = np.concatenate([textured_image(40, 40), np.full((40, 40, 1), 0.25, np.float32)], axis=2)
    out = run_work(apply_operation(registry.get("denoise/nlmeans"), rgba, params={"sigma": 15}))
    assert out.shape == (40, 40, 4) and np.all(out[:, :, 3] == 0.25)
    grey = textured_image(40, 40, channels=1)
    assert run_work(apply_operation(registry.get("denoise/nlmeans"), grey)).shape == (40, 40, 1)


def test_a_new_descriptor_is_all_it_takes():
    def invert(inp):
        yield Progress(0.5, "half")
        return 1.0 - inp.image

    op = Operation("denoise", "invert-test", "Invert", "Restoration", "test only", invert,
                   params=(Param("amount", float, 1.0, "Amount", "unused", 0.0, 1.0),))
    registry.register(op)
    try:
        assert registry.get("denoise", "invert-test") is op
        out = run_work(apply_operation(op, np.zeros((4, 4, 3), np.float32)))
        assert np.all(out == 1.0)
    finally:
        registry.unregister(op.key)


def test_paste_in_mask_fills_the_mask_box_and_blends_soft_edges():
    from desktop_app.core.imaging.convert import paste_in_mask

    img = textured_image(40, 50, channels=4)  # alpha is kept
    picture = np.zeros((16, 16, 3), np.float32)
    picture[..., 1] = 1.0  # pure green
    mask = np.zeros((40, 50), np.float32)
    mask[10:20, 5:30] = 1.0
    mask[10:20, 30:34] = 0.5
    out = paste_in_mask(img, mask, picture)
    assert out.shape == img.shape and np.array_equal(out[mask == 0], img[mask == 0])
    np.testing.assert_allclose(out[mask == 1][:, :3], np.broadcast_to([0, 1, 0], (250, 3)), atol=1e-6)
    np.testing.assert_allclose(out[mask == 0.5][:, :3], 0.5 * img[mask == 0.5][:, :3] + [0, 0.5, 0], atol=1e-6)
    np.testing.assert_array_equal(out[..., 3], img[..., 3])
    grey = paste_in_mask(img[..., :1], mask, picture)  # greyscale photos get the luminance
    assert grey.shape == (40, 50, 1) and grey[15, 10, 0] == pytest.approx(0.587, abs=1e-3)
    with pytest.raises(ValueError, match="mask is empty"):
        paste_in_mask(img, np.zeros_like(mask), picture)
