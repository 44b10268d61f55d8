"""Crafted model files (issue 21): the shapes in the weights file's header are compared with
what the manifest's hyper-parameters imply before any network is built, the hyper-parameters
are bounded, and every refusal is a ModelFileError naming the model."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from desktop_app.core.models import registry
from desktop_app.core.models.weights import Manifest, ModelFileError, load_model, save_model


def tiny_denoiser(folder: Path, hparams_override: dict | None = None) -> Path:
    """A tiny valid denoiser (a few KB); its manifest's hyper-parameters then replaced, the
    checksum still right: what an attacker can hand over."""
    hp = {"channels": 3, "widths": [4, 8], "blocks": [1, 1], "noise_map": True, "unshuffle": 1}
    torch.manual_seed(0)
    model = registry.get("unet-denoise").create(**hp)
    save_model(model, folder / "crafted.safetensors",
               Manifest(id="crafted", title="Crafted", architecture="unet-denoise", task="denoise", hparams=hp))
    manifest = folder / "crafted.json"
    if hparams_override:
        data = json.loads(manifest.read_text())
        data["hparams"].update(hparams_override)
        manifest.write_text(json.dumps(data))
    return manifest


def test_a_crafted_manifest_is_refused_before_the_network_is_built(tmp_path):
    # 65 million numbers (260 MB at fp32) implied by a few KB of file
    manifest = tiny_denoiser(tmp_path, {"widths": [128, 256, 512, 1024], "blocks": [1, 1, 2, 2], "unshuffle": 2})
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) < 20_000
    code = textwrap.dedent(f"""
        import resource, sys
        from desktop_app.core.models.weights import load_model
        import torch
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            load_model({str(manifest)!r})
        except Exception as e:
            print(type(e).__name__, e)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    error, grown_mb = r.stdout.strip().splitlines()
    assert error.startswith("ModelFileError crafted: weights do not fit"), r.stdout + r.stderr
    assert int(grown_mb) < 100  # before: the network was allocated (and initialised) first


@pytest.mark.parametrize("override, message", [
    ({"widths": [4, 100_000]}, "widths[1] = 100000 is out of range"),
    ({"widths": list(range(1, 1000))}, "widths has 999 entries"),
    ({"widths": [4, {"a": 1}]}, "should be a number"),
    ({"unshuffle": float("nan")}, "out of range"),
    ({"widths": [4, -8]}, "hyper-parameters do not fit"),  # before: torch's raw RuntimeError
    ({"widths": [4096, 8192], "unshuffle": 1}, "million numbers"),
])
def test_hyper_parameters_out_of_bounds_are_refused_naming_the_model(tmp_path, override, message):
    manifest = tiny_denoiser(tmp_path, override)
    with pytest.raises(ModelFileError) as error:
        load_model(manifest)
    assert str(error.value).startswith("crafted: ") and message in str(error.value)


def test_a_header_that_does_not_match_is_refused_with_the_tensors_named(tmp_path):
    manifest = tiny_denoiser(tmp_path, {"widths": [4, 16]})
    with pytest.raises(ModelFileError) as error:
        load_model(manifest)
    assert "wrong shape" in str(error.value) and "needs" in str(error.value)


def test_shipped_and_honest_models_still_load(tmp_path):
    model, manifest = load_model(tiny_denoiser(tmp_path))
    assert manifest.id == "crafted" and not next(model.parameters()).is_meta
    # the random initialisation of networks built elsewhere is untouched by the shape check
    torch.manual_seed(1)
    assert torch.nn.Embedding(4, 3).weight.abs().sum() > 0


def test_the_command_line_names_the_crafted_model(tmp_path, monkeypatch):
    from desktop_app.core.models.catalog import library_dir

    folder = library_dir()
    manifest = tiny_denoiser(folder, {"widths": [4, -8]})
    data = json.loads(manifest.read_text())
    data.update(architecture="gan", task="generate", hparams={"size": 64, "width": -3})
    manifest.write_text(json.dumps(data))
    r = subprocess.run([sys.executable, "-m", "desktop_app", "generate", "--model", "crafted", "-n", "1",
                        "-o", tmp_path / "out"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "crafted" in lines[0] and "hyper-parameters" in lines[0], r.stderr
