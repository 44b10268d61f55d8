"""Generators (GAN, VAE): tiny models trained a few steps on synthetic coloured shapes,
seeded sampling, checkpoints, the SWD measure, and the `generate` command."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from desktop_app.core import generation
from desktop_app.core.models import registry
from desktop_app.core.models.catalog import library_dir
from desktop_app.core.models.weights import Manifest, load_model, save_model
from desktop_app.core.work import run_work
from desktop_app.core.training.config import TrainConfig
from desktop_app.core.training.data import class_folders, load_labelled_image_set
from desktop_app.core.training.generative import GanTask, blurred_crops, diff_augment
from desktop_app.core.training.trainer import Trainer
from tests.conftest import textured_image

TINY = {"latent_dim": 16, "width": 8, "max_width": 32}
COLOURS = {"red": (220, 40, 30), "blue": (30, 60, 220)}


def shapes(seed: int, colour: str, size: int = 40) -> Image.Image:
    """Overlapping discs and squares of one colour on a pale background."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (size, size), (235, 235, 225))
    draw = ImageDraw.Draw(im)
    for _ in range(10):
        x, y = (int(v) for v in rng.integers(-4, size - 4, 2))
        r = int(rng.integers(6, 14))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x, y, x + r, y + r), fill=COLOURS[colour])
    return im


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks run fastest on one thread, and far slower on two when the machine is
    busy (the threads wait on each other)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def classes_folder(tmp_path) -> Path:
    d = tmp_path / "shapes"
    for colour in COLOURS:
        (d / colour).mkdir(parents=True)
        for i in range(6):
            shapes(i + 50 * len(colour), colour).save(d / colour / f"{colour}{i}.png")
    shapes(99, "red").save(d / "stray.png")  # not in a class folder
    return d


@pytest.fixture
def plain_folder(tmp_path) -> Path:
    d = tmp_path / "red-shapes"
    d.mkdir()
    for i in range(8):
        shapes(i, "red").save(d / f"s{i}.png")
    return d


def config(folder, task="generate-gan", **kw):
    arch = "gan" if task == "generate-gan" else "vae"
    base = dict(task=task, name="tiny", data=[str(folder)], arch=arch, hparams=dict(TINY), steps=40, batch=16,
                patch=16, lr=2e-3, warmup=5, val_every=20, val_min=2, checkpoint_minutes=100, seed=0,
                task_options={"val_samples": 32, "kl_warmup": 10})
    return TrainConfig(**{**base, **kw})


def train(cfg, run_dir):
    torch.manual_seed(0)
    trainer = Trainer(cfg, run_dir, command="desktop-app train --test")
    events = []
    run_work(trainer.run(), events.append)
    return trainer, [e.data for e in events if "loss" in e.data]


def mean_of(logs, key, part):
    values = [d[key] for d in logs]
    n = max(3, len(values) // 5)
    return float(np.mean(values[:n] if part == "first" else values[-n:]))


def red_minus_blue(images: np.ndarray) -> float:
    return float(np.mean(images[..., 0] - images[..., 2]))


# -- architectures ----------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["gan", "vae"])
@pytest.mark.parametrize("size", [64, 128])
def test_generators_make_images_of_their_size_in_range(arch, size):
    model = registry.get(arch).create(size=size).eval()
    assert registry.get(arch).task == "generate"
    with torch.no_grad():
        out = model.sample(torch.randn(2, model.latent_dim))
    assert out.shape == (2, 3, size, size) and 0 <= out.min() and out.max() <= 1
    assert 300_000 < generation.parameters_of(model) < 6_000_000


def test_vae_encodes_and_decodes():
    model = registry.get("vae").create(size=32, **TINY).eval()
    x = torch.rand(3, 3, 32, 32)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, 16)
    assert model.decode(mu).shape == x.shape
    with pytest.raises(ValueError, match="only a VAE"):
        generation.reconstruct(registry.get("gan").create(size=32, **TINY), np.zeros((1, 32, 32, 3), np.float32))


# -- data -------------------------------------------------------------------------------


def test_class_sub_folders_are_the_classes(classes_folder, plain_folder):
    assert class_folders([classes_folder]) == ["blue", "red"]
    assert class_folders([plain_folder]) == []
    data = load_labelled_image_set([classes_folder], ["blue", "red"], val_fraction=0.2, min_val=2)
    assert sorted(set(data.train_labels)) == [0, 1] and sorted(set(data.val_labels)) == [0, 1]
    assert all(p.parent.name == ["blue", "red"][k] for p, k in zip(data.train_paths, data.train_labels))
    assert [p.name for p, _ in data.skipped] == ["stray.png"]
    plain = load_labelled_image_set([plain_folder], [], val_fraction=0.2, min_val=2)
    assert len(plain.train) + len(plain.val) == 8 and set(plain.train_labels) == {0}


# -- training ---------------------------------------------------------------------------


def test_vae_reconstruction_loss_goes_down(plain_folder, tmp_path):
    trainer, logs = train(config(plain_folder, "generate-vae", steps=100, val_every=100), tmp_path / "run")
    assert mean_of(logs, "rec", "last") < 0.6 * mean_of(logs, "rec", "first")
    assert logs[-1]["beta"] == pytest.approx(0.01)  # the KL weight has warmed up
    crops = trainer.task.batch(trainer.data, 8, 16, np.random.default_rng(1))[0].permute(0, 2, 3, 1).numpy()
    model = trainer.inference_model()
    rebuilt = generation.reconstruct(model, crops)
    random = generation.sample(model, 8, seed=0)
    assert np.mean((rebuilt - crops) ** 2) < np.mean((random - crops) ** 2)


@pytest.mark.parametrize("upsample, augment", [("transposed", ""), ("nearest", "color,translation,cutout")])
def test_gan_learns_what_the_data_looks_like(plain_folder, tmp_path, upsample, augment):
    cfg = config(plain_folder, "generate-gan", steps=60, val_every=30, hparams=dict(TINY, upsample=upsample),
                 task_options={"val_samples": 32, "augment": augment})
    trainer, logs = train(cfg, tmp_path / "run")
    assert mean_of(logs, "d_loss", "last") < mean_of(logs, "d_loss", "first")
    # what a user sees: the samples got closer to the real crops (higher is better)
    assert trainer.best["val_neg_swd"] > trainer.start_metrics["val_neg_swd"] + 20
    assert trainer.best["step"] > 0


def test_augmentation_changes_each_image_differently_and_lets_gradients_through():
    x = torch.full((4, 3, 32, 32), 0.5, requires_grad=True)
    gen = torch.Generator().manual_seed(0)
    cut = diff_augment(x, ("cutout",), gen)
    blank = (cut == 0).all(dim=1).float().mean(dim=(1, 2))
    # a square of half the side (a quarter of the image), partly outside when it lies at an edge
    assert torch.all((blank > 0.05) & (blank < 0.3)) and blank.max() > 0.2
    dot = torch.zeros(8, 3, 32, 32)
    dot[:, :, 16, 16] = 1.0
    moved = diff_augment(dot, ("translation",), gen)
    where = [tuple(int(v) for v in torch.nonzero(m[0])[0]) for m in moved]
    assert all(abs(y - 16) <= 4 and abs(x - 16) <= 4 for y, x in where)  # at most 1/8 of the size
    assert len(set(where)) > 1 and moved.sum() == dot.sum()
    coloured = diff_augment(x, ("color",), gen)
    assert len({round(float(v), 4) for v in coloured.detach().mean(dim=(1, 2, 3))}) == 4  # one draw per image
    (coloured.sum() + cut.sum()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="augment takes"):
        GanTask(config(Path("."), task_options={"augment": "rotate"}))


@pytest.mark.parametrize("task, steps, lr", [("generate-gan", 300, 5e-4), ("generate-vae", 150, 2e-3)])
def test_conditional_sampling_respects_the_class(classes_folder, tmp_path, task, steps, lr):
    trainer, _ = train(config(classes_folder, task, steps=steps, lr=lr, val_every=steps), tmp_path / "run")
    model = trainer.inference_model()
    assert model.classes == ["blue", "red"]
    red = generation.sample(model, 16, seed=0, class_index=generation.class_index(model, "red"))
    blue = generation.sample(model, 16, seed=0, class_index=generation.class_index(model, "blue"))
    # the real red crops are 0.75 redder than the blue ones on this scale
    assert red_minus_blue(red) - red_minus_blue(blue) > 0.3
    with pytest.raises(ValueError, match="unknown class 'green' \\(known: blue, red\\)"):
        generation.class_index(model, "green")


def test_checkpoint_resume_and_export_round_trip(classes_folder, tmp_path):
    run_dir = tmp_path / "run"
    first, _ = train(config(classes_folder, steps=4, val_every=2), run_dir)
    resumed = Trainer(config(classes_folder, steps=6, val_every=2), run_dir)
    assert resumed.resume() and resumed.step == 4
    for name in ("ema", "disc"):
        saved, loaded = first.task.modules[name].state_dict(), resumed.task.modules[name].state_dict()
        assert all(torch.equal(saved[k], loaded[k]) for k in saved), name
    assert resumed.task.modules["disc_opt"].state_dict()["state"]  # the discriminator's Adam moments too
    run_work(resumed.run())
    assert resumed.step == 6

    manifest = resumed.export(tmp_path / "out" / "tiny-gan.safetensors", title="Tiny GAN")
    model, m = load_model(tmp_path / "out" / "tiny-gan.json")
    stored = json.loads((tmp_path / "out" / "tiny-gan.json").read_text())
    assert m.sha256 == manifest.sha256 and m.task == "generate" and m.architecture == "gan"
    assert stored["hparams"]["classes"] == ["blue", "red"] and "val_neg_swd" in stored["metrics"]
    assert generation.sample(model, 3, seed=5).shape == (3, 16, 16, 3)


def test_same_seed_same_samples():
    torch.manual_seed(0)
    model = registry.get("gan").create(size=32, num_classes=3, classes=["a", "b", "c"], **TINY)
    a = generation.sample(model, 6, seed=3)
    assert a.shape == (6, 32, 32, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, generation.sample(model, 6, seed=3))
    # sample i depends on (seed, i) only (up to rounding: batches of another size sum in another order)
    np.testing.assert_allclose(a[:2], generation.sample(model, 2, seed=3), atol=1e-5)
    assert not np.allclose(a, generation.sample(model, 6, seed=4), atol=1e-5, rtol=0)
    path = generation.interpolate(model, 3, 4, steps=5)
    np.testing.assert_allclose(path[0], a[0], atol=1e-5)
    np.testing.assert_allclose(path[-1], generation.sample(model, 1, seed=4, class_index=int(
        generation.labels_for(model, 1, 3)[0]))[0], atol=1e-5)
    # between two samples of one run (what the Generate panel offers)
    run = generation.sample(model, 6, seed=3, class_index=1)
    path = generation.interpolate(model, 3, 3, steps=4, class_index=1, index_a=2, index_b=5)
    np.testing.assert_allclose(path[[0, -1]], run[[2, 5]], atol=1e-5)


# -- measurement ------------------------------------------------------------------------


def textures(n: int, seed: int) -> np.ndarray:
    return np.stack([textured_image(64, 64, seed=seed + i) for i in range(n)])


def test_swd_of_a_set_against_itself_is_zero_and_grows_with_a_shift():
    real = textures(24, 0)
    same = generation.swd(real, real)
    assert same.resolutions == (64, 32, 16) and same.mean == pytest.approx(0.0, abs=1e-6)
    other = textures(24, 100)  # the same kind of image, other draws
    rng = np.random.default_rng(0)
    noisy = [generation.swd(real, np.clip(other + rng.normal(0, s, other.shape), 0, 1).astype(np.float32)).mean
             for s in (0.0, 0.03, 0.1)]
    assert noisy[0] < noisy[1] < noisy[2] and noisy[2] > 3 * noisy[0]
    shifted = [generation.swd(real, np.clip(other + s, 0, 1), normalise="real").mean for s in (0.0, 0.05, 0.15)]
    assert shifted[0] < shifted[1] < shifted[2]
    with pytest.raises(ValueError, match="one size"):
        generation.swd(real, real[:, :32, :32])


def test_blurred_crops_baseline_differs_in_fine_detail():
    real = (textures(24, 0) * 255).astype(np.uint8)
    reference = real.astype(np.float32) / 255
    blurred = generation.swd(reference, blurred_crops(list(real), 24, 64, seed=1))
    sharp = generation.swd(reference, blurred_crops(list(real), 24, 64, seed=1, blur=0.01))
    assert blurred.levels[0] > 3 * sharp.levels[0]  # the finest level sees what blurring removed


# -- command line -----------------------------------------------------------------------


def cli(*args):
    return subprocess.run([sys.executable, "-m", "desktop_app", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_generate_command_writes_one_png_per_sample(tmp_path):
    torch.manual_seed(0)
    hp = {"size": 32, **TINY, "num_classes": 2, "classes": ["bark", "moss"]}
    save_model(registry.get("gan").create(**hp).eval(), library_dir() / "tiny-gan.safetensors",
               Manifest(id="tiny-gan", title="Tiny GAN", architecture="gan", task="generate", hparams=hp))
    out = tmp_path / "samples"
    r = cli("generate", "--model", "tiny-gan", "-n", 3, "--seed", 7, "-o", out, "--class", "bark", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    files = sorted(out.glob("*.png"))
    assert [f.name for f in files] == [f"tiny-gan-bark-seed7-{i:03d}.png" for i in range(3)]
    assert np.asarray(Image.open(files[0])).shape == (32, 32, 3)
    r = cli("generate", "--model", "tiny-gan", "-o", out, "--class", "gravel", "--device", "cpu")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and "unknown class 'gravel' (known: bark, moss)" in lines[0]
