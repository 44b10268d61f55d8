"""Self-supervised denoising from noisy photos alone: the neighbour sub-sampler, a short run
that lowers the self-supervised loss, and the command line's --self-supervised."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from desktop_app.core.work import run_work
from desktop_app.core.training.config import TrainConfig
from desktop_app.core.training.selfsup import neighbour_choice, subsample
from desktop_app.core.training.trainer import Trainer
from tests.conftest import textured_image

TINY = {"widths": [8, 16], "blocks": [1, 1]}


def noisy_photos(root, count=8, with_clean=True, sigma=0.08):
    """`root/noisy/` of noisy PNGs and, when asked, `root/clean/` of their clean versions."""
    rng = np.random.default_rng(0)
    for sub in ("noisy", "clean") if with_clean else ("noisy",):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        clean = textured_image(96, 96, seed=i)
        noisy = np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 1)
        Image.fromarray((noisy * 255).round().astype(np.uint8)).save(root / "noisy" / f"p{i}.png")
        if with_clean:
            Image.fromarray((clean * 255).round().astype(np.uint8)).save(root / "clean" / f"p{i}.png")
    return root / "noisy"


@pytest.mark.parametrize("cell", [2, 4])
def test_subsampler_takes_two_different_pixels_of_each_cell(cell):
    h, w = 8 * cell, 6 * cell
    # every pixel holds its own position, the same in each channel
    where = torch.arange(h * w, dtype=torch.float32).view(1, 1, h, w).expand(2, 3, h, w).contiguous()
    first, second = neighbour_choice(2, h, w, torch.Generator().manual_seed(0), cell)
    g1, g2 = subsample(where, first), subsample(where, second)
    assert g1.shape == g2.shape == (2, 3, h // cell, w // cell)
    assert torch.equal(g1[:, :1].expand_as(g1), g1)  # one position for all channels
    y1, x1 = g1[:, 0] // w, g1[:, 0] % w
    y2, x2 = g2[:, 0] // w, g2[:, 0] % w
    rows, cols = torch.meshgrid(torch.arange(h // cell), torch.arange(w // cell), indexing="ij")
    for y, x in ((y1, x1), (y2, x2)):  # both pixels lie in the output pixel's own cell
        assert torch.equal(y // cell, rows.expand_as(y)) and torch.equal(x // cell, cols.expand_as(x))
    assert torch.all(g1 != g2)  # never the same pixel twice
    dy, dx = (y1 - y2).abs(), (x1 - x2).abs()
    assert torch.all((dy == 0) ^ (dx == 0))  # side by side or one above the other, never diagonal
    assert torch.all(torch.maximum(dy, dx) == cell // 2)
    assert (dy == 0).any() and (dx == 0).any()  # both directions are drawn


def config(data, **kw):
    base = dict(task="denoise-self", name="tiny-self", data=[str(data)], arch="unet-denoise-blind", hparams=TINY,
                steps=40, batch=4, patch=32, lr=2e-3, warmup=0, val_every=10, val_crop=64,
                checkpoint_minutes=100, threads=1)
    return TrainConfig(**{**base, **kw})


def test_a_short_run_lowers_the_self_supervised_loss_and_reports_psnr(tmp_path):
    noisy = noisy_photos(tmp_path / "camera")
    trainer = Trainer(config(noisy), tmp_path / "run")
    events = []
    result = run_work(trainer.run(), events.append)
    start, best = trainer.start_metrics, result["best"]
    assert best["step"] > 0 and best["val_self_loss"] < 0.8 * start["val_self_loss"]
    # lower is better: the kept model is the one with the lowest validation loss
    assert best["val_self_loss"] == min(h["val_self_loss"] for h in trainer.history)
    assert trainer.score_text(best).endswith("(self-supervised loss)")
    # clean/ beside noisy/: PSNR against it, which the training never saw, goes up
    assert best["val_psnr"] > start["val_psnr"]
    shown = [e.data["sample"] for e in events if e.data.get("validation")]
    before, after = shown[-1]
    assert before.shape == after.shape and before.shape[2] == 3 and not np.allclose(before, after)


def test_photos_without_clean_versions_train_without_psnr(tmp_path):
    noisy = noisy_photos(tmp_path / "camera", count=4, with_clean=False)
    trainer = Trainer(config(noisy, steps=4, val_every=2), tmp_path / "run")
    result = run_work(trainer.run())
    assert "val_self_loss" in result["best"] and "val_psnr" not in result["best"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "desktop_app", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_cli_self_supervised_flag_trains_and_says_how_much_psnr_changed(tmp_path):
    camera = tmp_path / "camera"
    noisy_photos(camera, count=6)
    out = tmp_path / "out" / "my-camera.safetensors"
    r = cli("train", "--task", "denoise-real", "--self-supervised", "--data", camera, "--name", "my-camera",
            "--hparam", "widths=[8,16]", "--hparam", "blocks=[1,1]", "--steps", "6", "--batch", "2", "--patch", "32",
            "--lr", "1e-3", "--warmup", "0", "--val-every", "3", "--threads", "1", "--run-dir", tmp_path / "run",
            "--out", out)
    assert r.returncode == 0, r.stderr
    assert "(self-supervised loss)" in r.stderr
    assert "PSNR against the clean references of the held-out photos" in r.stderr and "dB after" in r.stderr
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["task"] == "denoise-real"  # listed with the real-photo denoisers
    assert manifest["training"]["config"]["task"] == "denoise-self"
    assert manifest["training"]["config"]["warmup"] == 0
    assert "val_self_loss" in manifest["metrics"]


def test_cli_refuses_self_supervised_for_other_tasks(tmp_path):
    r = cli("train", "--task", "inpaint", "--self-supervised", "--data", tmp_path, "--name", "x")
    assert r.returncode != 0 and "--self-supervised works with --task denoise-real" in r.stderr
