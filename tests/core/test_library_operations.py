"""The user's library denoisers become operations; `pausable` holds work between events."""

import threading

import numpy as np
import pytest
import torch

from desktop_app.core.models import registry as archs
from desktop_app.core.models.catalog import library_dir
from desktop_app.core.models.weights import Manifest, save_model
from desktop_app.core.operations import apply_operation, registry
from desktop_app.core.operations.library import sync_library_operations
from desktop_app.core.work import CancelToken, Cancelled, Progress, pausable, run_work
from tests.conftest import textured_image

TINY = {"widths": [8, 16], "blocks": [1, 1]}


def install(model_id: str, arch: str = "unet-denoise", task: str = "denoise") -> None:
    torch.manual_seed(0)
    model = archs.get(arch).create(**TINY).eval()
    save_model(model, library_dir() / f"{model_id}.safetensors",
               Manifest(id=model_id, title=f"Mine {model_id}", architecture=arch, task=task, hparams=TINY,
                        metrics={"val_psnr": 30.5}))


@pytest.fixture(autouse=True)
def _forget():
    yield
    sync_library_operations()


def test_library_denoisers_are_registered_and_run():
    torch.set_num_threads(1)
    install("mine")
    install("mine-real", "unet-denoise-blind", "denoise-real")
    assert sync_library_operations() == ["denoise/mine", "denoise/mine-real"]
    op = registry.get("denoise/mine")
    assert op.category == "Your models" and "30.50 dB" in op.description
    assert [p.name for p in op.params] == ["sigma", "strength", "ensemble", "refine"]
    assert [p.name for p in registry.get("denoise/mine-real").params] == ["strength", "ensemble", "keep_texture", "average_similar"]
    image = textured_image(64, 64)
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 0.1, image.shape), 0, 1).astype(np.float32)
    out = run_work(apply_operation(op, noisy, None, {"sigma": 25.0}))
    assert out.shape == noisy.shape and not np.allclose(out, noisy)


def test_removed_models_go_and_builtin_names_win():
    install("gone")
    install("cnn")  # the shipped denoiser's name: the shipped operation stays
    sync_library_operations()
    assert registry.get("denoise/cnn").category != "Your models"
    (library_dir() / "gone.json").unlink()
    assert sync_library_operations() == []
    with pytest.raises(KeyError):
        registry.get("denoise/gone")


def counting(n):
    for i in range(n):
        yield Progress(i / n, f"step {i}", {"step": i})
    return "done"


def test_pausable_holds_between_events_and_still_cancels():
    running = threading.Event()
    running.set()
    work = pausable(counting(5), running, poll=0.01)
    assert next(work).data["step"] == 0
    running.clear()
    assert all(next(work).data.get("paused") for _ in range(3))
    running.set()
    events = []
    assert run_work(work, events.append) == "done"
    assert [e.data["step"] for e in events if "step" in e.data] == [1, 2, 3, 4]

    running.clear()
    token = CancelToken()
    paused = pausable(counting(5), running, poll=0.01)

    def cancel_when_paused(e):
        if e.data.get("paused"):
            token.cancel()

    with pytest.raises(Cancelled):
        run_work(paused, cancel_when_paused, token)


def photo_with_exif(path, model: str, iso: int) -> None:
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Testmaker", f"Testmaker {model}"
    exif.get_ifd(0x8769)[0x8827] = iso
    Image.fromarray((textured_image(48, 64) * 255).astype(np.uint8)).save(path, exif=exif.tobytes(), quality=95)


def test_a_calibrated_model_refuses_other_cameras_and_isos(tmp_path, capsys):
    """A model calibrated at ISO 800-1600 of one camera wipes out detail at another ISO: the
    command line refuses such photos with the reason, a batch lists them as failed and goes on."""
    from desktop_app.cli import main
    from desktop_app.core.batch import BatchSpec, run_batch
    from desktop_app.core.imaging.io import load_image, save_image

    torch.set_num_threads(1)
    arch = "unet-denoise-blind"
    model = archs.get(arch).create(**TINY).eval()
    save_model(model, library_dir() / "z9.safetensors",
               Manifest(id="z9", title="Denoise for Testmaker Z9", architecture=arch, task="denoise-real",
                        hparams=TINY, training={"camera": "Testmaker Z9", "iso": [800, 1600]}))
    sync_library_operations()
    op = registry.get("denoise/z9")
    photos = tmp_path / "in"
    photos.mkdir()
    for name, model_name, iso in (("fits", "Z9", 1600), ("high", "Z9", 6400), ("other", "Y1", 800)):
        photo_with_exif(photos / f"{name}.jpg", model_name, iso)
    save_image(photos / "plain.png", textured_image(48, 64))  # no EXIF
    reasons = {p.stem: op.unsuited_for(load_image(p)[1]) for p in photos.iterdir()}
    assert reasons["fits"] is None and reasons["plain"] is None  # what a photo does not say is not held against it
    assert "ISO 800-1600" in reasons["high"] and "ISO 6400" in reasons["high"]
    assert "Testmaker Y1" in reasons["other"]
    assert registry.get("denoise/cnn-real").unsuited_for(load_image(photos / "high.jpg")[1]) is None

    assert main(["denoise", str(photos / "high.jpg"), "--method", "z9", "-o", str(tmp_path / "h.png"), "-q"]) == 1
    assert "ISO 6400" in capsys.readouterr().err and not (tmp_path / "h.png").exists()
    assert main(["denoise", str(photos / "fits.jpg"), "--method", "z9", "-o", str(tmp_path / "f.png"), "-q"]) == 0

    report = run_work(run_batch(BatchSpec(inputs=(photos,), output_dir=tmp_path / "out", operation="denoise/z9")))
    assert sorted(o.source.stem for o in report.done) == ["fits", "plain"]
    failed = {o.source.stem: o.reason for o in report.failed}
    assert set(failed) == {"high", "other"} and "ISO 6400" in failed["high"]
