"""The model runner (the one tensor boundary) and the CPU runtime behind it, on tiny random
networks: no shipped weights, nothing downloaded."""

import logging

import numpy as np
import pytest
import torch

from desktop_app.core.models import registry, runtime
from desktop_app.core.models.manager import LoadedModel
from desktop_app.core.models.runner import ModelRunner
from desktop_app.core.models.tiled import VIEWS
from desktop_app.core.models.weights import Manifest
from desktop_app.core.work import run_work
from tests.conftest import textured_image

TINY = {"channels": 3, "widths": [4, 8], "blocks": [1, 1], "noise_map": True, "unshuffle": 2}
TINY_INPAINT = {"widths": [8, 16], "middle": 2, "unshuffle": 2}
SHA = "0123456789abcdef" * 4


def loaded(arch_id="unet-denoise", hparams=TINY, seed=0, sha=SHA) -> LoadedModel:
    torch.manual_seed(seed)
    arch = registry.get(arch_id)
    module = arch.create(**hparams).eval()
    manifest = Manifest(id=f"tiny-{arch_id}", title="tiny", architecture=arch_id, task=arch.task,
                        hparams=hparams, sha256=sha)
    return LoadedModel(module, manifest, arch, torch.device("cpu"))


def test_size_multiple_comes_from_the_loaded_network_not_the_descriptor():
    runner = ModelRunner(loaded(), use_runtime=False)
    assert runner.size_multiple == 4  # unshuffle 2 x one downsampling; the default hyper-parameters give 16
    assert registry.get("unet-denoise").size_multiple == 16


def test_grey_images_go_through_the_colour_network_and_come_back_grey():
    runner = ModelRunner(loaded(), use_runtime=False)
    grey = textured_image(37, 51, channels=1)  # sides not multiples of 4: padded and cropped
    out = run_work(runner.run_tiled(grey, vector=[25 / 255]))
    assert out.shape == grey.shape and out.dtype == np.float32
    rgb = run_work(runner.run_tiled(np.repeat(grey, 3, axis=2), vector=[25 / 255] * 3))
    np.testing.assert_allclose(out[:, :, 0], rgb.mean(axis=2), atol=1e-6)
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_runtime_and_torch_agree_on_a_tiny_random_network():
    pytest.importorskip("openvino")
    image = textured_image(150, 170, seed=1)
    fast = ModelRunner(loaded(), cpu_bf16=False)  # f32 (bf16 is checked below)
    assert fast.backend == "openvino" and fast.precision == "fp32"
    slow = ModelRunner(loaded(), use_runtime=False)
    for ensemble in (False, True):
        a = run_work(fast.run_tiled(image, vector=[0.1, 0.1, 0.1], views=VIEWS if ensemble else (0,)))
        b = run_work(slow.run_tiled(image, vector=[0.1, 0.1, 0.1], views=VIEWS if ensemble else (0,)))
        assert np.abs(a - b).max() < 1e-4
    assert fast.backend == "openvino"  # it never fell back


def test_a_noise_level_per_pixel_runs_on_the_runtime_beside_one_per_channel():
    """"auto" gives the denoiser a level per pixel (`plane`, cut and turned with the image), a
    set level one per channel: the runtime keeps a graph for each, agrees with torch on both,
    and a constant plane is the same as that one value."""
    pytest.importorskip("openvino")
    image = textured_image(150, 170, seed=1)
    fast = ModelRunner(loaded(), cpu_bf16=False)
    slow = ModelRunner(loaded(), use_runtime=False)
    brighter_is_noisier = (0.02 + 0.2 * image).astype(np.float32)
    vector = run_work(fast.run_tiled(image, vector=[0.1] * 3))
    for ensemble in (False, True):
        a = run_work(fast.run_tiled(image, plane=brighter_is_noisier, views=VIEWS if ensemble else (0,)))
        b = run_work(slow.run_tiled(image, plane=brighter_is_noisier, views=VIEWS if ensemble else (0,)))
        assert np.abs(a - b).max() < 1e-4
    assert np.abs(a - vector).max() > 1e-2  # the plane reached the network
    assert np.abs(run_work(fast.run_tiled(image, plane=np.full_like(image, 0.1))) - vector).max() < 1e-5
    assert np.abs(run_work(fast.run_tiled(image, vector=[0.1] * 3)) - vector).max() == 0
    assert fast.backend == "openvino"  # neither layout fell back to torch
    assert len(list(runtime.graph_dir().glob("*.xml"))) == 2


def test_bf16_rounding_is_unbiased_repeatable_and_keeps_exact_values():
    # an 8-bit photo's levels in the upper half: rounded to the nearest bf16, all move up
    levels = torch.arange(128, 256, dtype=torch.float32).repeat(2000) / 255
    nearest_bias = float((levels.bfloat16().float() - levels).mean())
    dithered = runtime.bf16_dithered(levels)
    assert torch.equal(dithered, dithered.bfloat16().float())  # bf16 values
    assert float((dithered - levels).abs().max()) <= 2 ** -8  # a neighbour, never further
    assert nearest_bias > 8e-4 and abs(float((dithered - levels).mean())) < nearest_bias / 20
    assert torch.equal(dithered, runtime.bf16_dithered(levels))  # the same input, the same result
    mask = torch.tensor([0.0, 1.0, 0.5, 0.25])
    assert torch.equal(runtime.bf16_dithered(mask), mask)


def test_bf16_rounding_bits_kept_per_tile_shape_round_as_fresh_ones():
    """The runtime keeps the rounding's random bits of the last two tile shapes (the 8-pass
    mode's turned tiles alternate two): every input rounds as a fresh draw would."""
    net = runtime.CompiledNetwork(torch.nn.Identity(), None, bf16=True)
    wide, tall = torch.rand(1, 3, 8, 12), torch.rand(1, 3, 12, 8)
    for t in (wide, tall, wide, tall, torch.rand(1, 3, 8, 8), wide):
        assert np.array_equal(net._as_input(t, True), runtime.bf16_dithered(t).numpy())
    assert len(net._dither) == 2
    assert np.array_equal(net._as_input(wide, False), wide.numpy())  # a noise level or mask as it is


def test_bf16_runtime_where_the_cpu_has_it():
    pytest.importorskip("openvino")
    if not runtime.supports_bf16():
        pytest.skip("this CPU has no bf16")
    image = textured_image(150, 170, seed=1)
    fast = ModelRunner(loaded(), cpu_bf16=True)
    assert fast.precision == "bf16"
    a = run_work(fast.run_tiled(image, vector=[0.1] * 3))
    b = run_work(ModelRunner(loaded(), use_runtime=False).run_tiled(image, vector=[0.1] * 3))
    assert 1e-4 < np.abs(a - b).max() < 2e-2 and np.abs(a - b).mean() < 2e-3  # bf16, and close
    assert fast.backend == "openvino"


def test_runtime_runs_the_inpainting_network_with_its_fourier_blocks():
    pytest.importorskip("openvino")
    rng = np.random.default_rng(0)
    image = textured_image(70, 90, seed=2)
    hole = np.zeros((70, 90), np.float32)
    hole[20:40, 30:60] = 1
    noise = rng.standard_normal((70, 90)).astype(np.float32)
    fast = ModelRunner(loaded("inpaint-fourier", TINY_INPAINT), cpu_bf16=False)
    slow = ModelRunner(loaded("inpaint-fourier", TINY_INPAINT), use_runtime=False)
    a, b = fast.run(image, planes=(hole, noise)), slow.run(image, planes=(hole, noise))
    assert a.shape == image.shape and fast.backend == "openvino"
    assert np.abs(a - b).max() < 1e-4


def test_a_converted_graph_is_cached_by_its_weights_and_read_back(monkeypatch):
    ov = pytest.importorskip("openvino")
    image = textured_image(40, 40)
    first = run_work(ModelRunner(loaded()).run_tiled(image, vector=[0.1] * 3))
    assert len(list(runtime.graph_dir().glob("*.xml"))) == 1

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    with monkeypatch.context() as patch:
        patch.setattr(ov, "convert_model", no_conversion)
        again = run_work(ModelRunner(loaded()).run_tiled(image, vector=[0.1] * 3))
    np.testing.assert_array_equal(first, again)
    # other weights (another sha256) are another graph
    run_work(ModelRunner(loaded(seed=1, sha="f" * 64)).run_tiled(image, vector=[0.1] * 3))
    assert len(list(runtime.graph_dir().glob("*.xml"))) == 2


def test_a_missing_runtime_falls_back_to_torch_with_a_log_line(monkeypatch, caplog):
    monkeypatch.setattr(runtime, "installed", lambda: False)
    image = textured_image(40, 48)
    with caplog.at_level(logging.WARNING, logger="desktop_app.core.models.runner"):
        runner = ModelRunner(loaded())
    assert runner.backend == "torch"
    assert "OpenVINO is not installed" in caplog.text and "running on torch" in caplog.text
    expected = run_work(ModelRunner(loaded(), use_runtime=False).run_tiled(image, vector=[0.1] * 3))
    np.testing.assert_array_equal(run_work(runner.run_tiled(image, vector=[0.1] * 3)), expected)


def test_a_runtime_that_fails_while_running_falls_back_to_torch(monkeypatch, caplog):
    pytest.importorskip("openvino")
    runner = ModelRunner(loaded())

    def broken(*inputs):
        raise RuntimeError("simulated runtime failure")

    monkeypatch.setattr(runner.compiled, "compile", broken)
    image = textured_image(40, 48)
    with caplog.at_level(logging.WARNING, logger="desktop_app.core.models.runner"):
        out = run_work(runner.run_tiled(image, vector=[0.1] * 3))
    assert runner.backend == "torch" and "simulated runtime failure" in caplog.text
    expected = run_work(ModelRunner(loaded(), use_runtime=False).run_tiled(image, vector=[0.1] * 3))
    np.testing.assert_allclose(out, expected, atol=1e-5)  # memory layout may differ: the last bits may too


def test_one_runner_serves_several_threads():
    import threading

    pytest.importorskip("openvino")
    runner = ModelRunner(loaded())
    image = textured_image(96, 96)
    expected = run_work(runner.run_tiled(image, vector=[0.1] * 3))
    results = [None] * 3

    def work(i):
        results[i] = run_work(runner.run_tiled(image, vector=[0.1] * 3))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r is not None and np.array_equal(r, expected) for r in results)  # none hung, none mixed up


def test_converting_a_network_sends_nothing_and_forks_nothing(tmp_path):
    """OpenVINO's converter sends usage events to Google Analytics by default, from a process it
    forks off a thread; the fork once hung the command line at exit. The app shuts it out: the
    converter runs with its no-op stub and no process is forked. In a fresh interpreter, as the
    app starts (a test run may have imported OpenVINO already)."""
    pytest.importorskip("openvino")
    import os
    import subprocess
    import sys

    script = """
import os, sys, time
forks = []
real_fork = os.fork
def fork():
    forks.append(1)
    return real_fork()
os.fork = fork
from tests.core.test_runner import loaded
from tests.conftest import textured_image
from desktop_app.core.models.runner import ModelRunner
from desktop_app.core.models.tiled import VIEWS
from desktop_app.core.work import run_work
runner = ModelRunner(loaded())
run_work(runner.run_tiled(textured_image(40, 40), vector=[0.1] * 3))
assert runner.backend == "openvino"
time.sleep(1.0)  # the converter's events went out from a thread shortly after
import openvino.tools.ovc.telemetry_utils as telemetry
print(len(forks), telemetry.tm.__name__, "openvino_telemetry" in sys.modules and sys.modules["openvino_telemetry"] is not None)
"""
    env = {**os.environ, "DESKTOP_APP_CACHE_DIR": str(tmp_path / "cache")}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    forks, module, loaded_telemetry = out.stdout.split()
    assert forks == "0"
    assert module.endswith("telemetry_stub") and loaded_telemetry == "False"
