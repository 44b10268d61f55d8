"""The training optimizer: torch's Adam update, without importing torch._dynamo."""

import subprocess
import sys
from pathlib import Path

import torch

from desktop_app.core.training.adam import Adam
from tests.conftest import photo_folder


def _params(seed: int) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(5, 3, generator=g)), torch.nn.Parameter(torch.randn(7, generator=g))]


def _train(opt, params, steps: int, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = sum(((p - torch.randn(p.shape, generator=g)) ** 2).sum() for p in params)
        loss.backward()
        opt.step()


def test_it_takes_the_same_steps_as_torchs_adam():
    ours, theirs = _params(0), _params(0)
    _train(Adam(ours, lr=0.05, betas=(0.5, 0.99)), ours, 20)
    _train(torch.optim.Adam(theirs, lr=0.05, betas=(0.5, 0.99)), theirs, 20)
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, atol=1e-6)
    assert not torch.allclose(ours[0], _params(0)[0], atol=0.1)  # it did move


def test_a_state_saved_by_torchs_adam_resumes_the_same_run():
    ours, theirs = _params(0), _params(0)
    torch_opt = torch.optim.Adam(theirs, lr=0.05)
    _train(torch_opt, theirs, 5)
    with torch.no_grad():
        for a, b in zip(ours, theirs):
            a.copy_(b)
    opt = Adam(ours, lr=0.05)
    opt.load_state_dict(torch_opt.state_dict())
    _train(opt, ours, 5, seed=2)
    _train(torch_opt, theirs, 5, seed=2)
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, atol=1e-6)
    again = Adam(_params(3), lr=1.0)
    again.load_state_dict(opt.state_dict())
    assert again.param_groups[0]["lr"] == 0.05 and again.state_dict()["state"][0]["step"] == 10


def test_a_training_run_never_imports_torch_dynamo(tmp_path):
    """Importing it froze the window for up to 370 ms right after Start."""
    folder = photo_folder(tmp_path)
    code = (
        "import sys\n"
        "from desktop_app.core.training.config import TrainConfig\n"
        "from desktop_app.core.training.trainer import Trainer\n"
        "from desktop_app.core.work import run_work\n"
        f"config = TrainConfig(task='denoise', name='tiny', data=[{str(folder)!r}], arch='unet-denoise',\n"
        "    hparams={'widths': [8, 16], 'blocks': [1, 1]}, steps=4, batch=2, patch=32, val_every=2, val_crop=64,\n"
        "    val_min=2, checkpoint_minutes=100)\n"
        f"trainer = Trainer(config, run_dir={str(tmp_path / 'run')!r})\n"
        "run_work(trainer.run())\n"
        "print(trainer.step, any(m.startswith('torch._dynamo') for m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["4", "False"]
