"""The vote of a patch fill (Wexler, Shechtman & Irani 2007): each hole pixel becomes the
weighted mean of what the overlapping patches' matches put there, or, for the sharp last vote,
the single best-weighted value."""

from __future__ import annotations

import torch

from desktop_app.core.inpainting.patch_field import Field
from desktop_app.core.inpainting.patch_pyramid import LOG_FLOOR, Level

VOTE_CHUNK = 1 << 16  # (offset, hole pixel) pairs gathered at once: few operations on small levels, in cache


def vote_weights(level: Level, field: Field) -> torch.Tensor:
    """Wexler's weights: exp(-d / 2 sigma^2), sigma^2 the 75th percentile of the distances, times
    the patch's closeness to the hole border. Both factors are kept above exp(-LOG_FLOOR), clear
    of float32 underflow, so a pixel that only poor matches cover still gets their mean."""
    finite = torch.isfinite(field.dist)
    spread = torch.quantile(field.dist[finite], 0.75) if bool(finite.any()) else field.dist.new_tensor(1.0)
    similarity = (-field.dist / (2 * spread).clamp(min=1e-8)).clamp(min=-LOG_FLOOR)
    return torch.exp(similarity + level.log_depth_weight)


def vote(level: Level, field: Field, weight: torch.Tensor, pick_best: bool) -> None:
    """Re-estimate the hole: every target patch puts its source's pixels at its own place; each
    hole pixel takes the weighted mean of what lands on it (or, with pick_best, the one value of
    highest weight, and its flat index is kept in level.copied_from). Gathered per hole pixel:
    the patch centred `offset` before the pixel brings its source's pixel `offset` after that
    source's centre (level.covering() lists those patches); many offsets at once
    (VOTE_CHUNK), as the small levels are many short operations."""
    channels = level.image.shape[0]
    pixels = level.image[:channels].reshape(channels, -1)
    covering, shifts = level.covering()
    count = covering.shape[1]
    total = torch.zeros(count, device=weight.device, dtype=weight.dtype)
    accum = torch.zeros(channels, count, device=weight.device, dtype=pixels.dtype)
    copied = torch.full((count,), -1, device=weight.device, dtype=torch.long) if pick_best else None
    step = max(1, VOTE_CHUNK // max(count, 1))
    for rows, shift in zip(covering.split(step), shifts.split(step)):
        flat = rows.clamp(min=0).view(-1)
        w = torch.where(rows >= 0, weight.index_select(0, flat).view(rows.shape), 0.0)
        source = field.source.index_select(0, flat).view(rows.shape) + shift[:, None]
        if copied is not None:
            best, pick = w.max(0)  # the first of equal weights, as a scan in offset order
            better = best > total
            taken = source.gather(0, pick[None])[0]
            total = torch.where(better, best, total)
            accum = torch.where(better, pixels.index_select(1, taken), accum)
            copied = torch.where(better, taken, copied)
        else:
            values = pixels.index_select(1, source.view(-1)).view(channels, *rows.shape)
            accum += values.mul_(w).sum(1)
            total += w.sum(0)
    estimate = accum if pick_best else accum / total.clamp(min=1e-30)
    level.copied_from = copied
    hy, hx = level.hole_y, level.hole_x
    level.image[:channels, hy, hx] = torch.where(total > 0, estimate, level.image[:channels, hy, hx])
