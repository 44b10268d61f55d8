"""The vote of a patch fill (Wexler, Shechtman & Irani 2007): each hole pixel becomes the
weighted mean of what the overlapping patches' matches put there, or, for the sharp last vote,
the single best-weighted value."""

from __future__ import annotations

import torch

from desktop_app.core.inpainting.patch_field import Field
from desktop_app.core.inpainting.patch_pyramid import LOG_FLOOR, Level


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
    highest weight). Done densely over the targets' box, one patch offset at a time."""
    channels, width = level.image.shape[0], level.shape[1]
    y0, y1, x0, x1 = level.box
    bh, bw = y1 - y0 + 1, x1 - x0 + 1
    dev = weight.device
    # every box centre reads from its own place unless it is a target (weight 0 then)
    rows = torch.arange(y0, y1 + 1, device=dev)[:, None] * width
    source = (rows + torch.arange(x0, x1 + 1, device=dev)[None, :]).flatten()
    patch_weight = torch.zeros(bh * bw, device=dev, dtype=weight.dtype)
    local = (level.ty - y0) * bw + (level.tx - x0)
    source[local] = field.source
    patch_weight[local] = weight
    patch_weight = patch_weight.view(bh, bw)
    pixels = level.image.reshape(channels, -1)

    r = level.radius
    total = torch.zeros(bh + 2 * r, bw + 2 * r, device=dev, dtype=weight.dtype)
    accum = torch.zeros(channels, bh + 2 * r, bw + 2 * r, device=dev, dtype=level.image.dtype)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            values = pixels.index_select(1, source + (dy * width + dx)).view(channels, bh, bw)
            ys, xs = slice(r + dy, r + dy + bh), slice(r + dx, r + dx + bw)
            if pick_best:
                better = patch_weight > total[ys, xs]
                total[ys, xs] = torch.where(better, patch_weight, total[ys, xs])
                accum[:, ys, xs] = torch.where(better, values, accum[:, ys, xs])
            else:
                accum[:, ys, xs] += values * patch_weight
                total[ys, xs] += patch_weight

    region = (slice(None), slice(y0 - r, y1 + r + 1), slice(x0 - r, x1 + r + 1))
    estimate = accum if pick_best else accum / total.clamp(min=1e-30)
    update = level.hole[region[1:]] & (total > 0)
    level.image[region] = torch.where(update, estimate, level.image[region])
