"""Widening a trained network's layers without changing what it computes.

A fine-tune may give a layer more channels than its base has (`--base cnn --hparam
widths=[48,64,128,256]`): every tensor of the base goes into the leading corner of the wider
one; what the old outputs read from the new channels is set to 0, so the wider network starts
as exactly the base, and the new channels, randomly initialised (at half the scale of a fresh
layer), are free to learn what the base had no room for. The base's knowledge is kept, unlike
training the wider network from scratch (Net2Net, Chen, Goodfellow and Shlens 2016, widens
by copying units; zeroing their outgoing weights is the simpler function-preserving form).
"""

from __future__ import annotations

import torch
import torch.nn as nn

NEW_SCALE = 0.5  # the new channels' random weights, against a fresh layer's initialisation


def _axes(module: nn.Module) -> tuple[int, int]:
    """(output axis, input axis) of a layer's weight."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        return 0, 1
    if isinstance(module, nn.ConvTranspose2d):
        return 1, 0
    raise ValueError(f"cannot widen a {type(module).__name__}")


@torch.no_grad()
def widen(wider: nn.Module, base: nn.Module) -> None:
    """Load `base`'s weights into `wider` (the same architecture, some layers wider) so that
    `wider` computes what `base` does; `wider` keeps its own initialisation, scaled by
    NEW_SCALE, only in the new channels' outputs. ValueError if a tensor would shrink."""
    modules = dict(wider.named_modules())
    target = wider.state_dict()
    for name, old in base.state_dict().items():
        if name not in target:
            raise ValueError(f"{name}: not in the wider network")
        new = target[name]
        if new.shape == old.shape:
            new.copy_(old)
            continue
        if new.dim() != old.dim() or any(n < o for n, o in zip(new.shape, old.shape)):
            raise ValueError(f"{name}: {tuple(old.shape)} cannot become {tuple(new.shape)}: only wider")
        corner = tuple(slice(0, o) for o in old.shape)
        if new.dim() == 1:  # a bias or a scale: the new channels' entries start at 0
            new.zero_()
        else:
            out_axis, in_axis = _axes(modules[name.rsplit(".", 1)[0]])
            new.mul_(NEW_SCALE)
            old_outputs_new_inputs = [slice(None)] * new.dim()
            old_outputs_new_inputs[out_axis] = slice(0, old.shape[out_axis])
            old_outputs_new_inputs[in_axis] = slice(old.shape[in_axis], None)
            new[tuple(old_outputs_new_inputs)] = 0.0
        new[corner] = old
    wider.load_state_dict(target)
