"""Running an image-to-image network over a picture of any size.

The picture is cut into tiles with `context` pixels of overlap; each tile's result is written
back with linear cross-fades over the overlap, so no seam shows. The tile size starts from the
device's free memory and is halved and the run restarted when memory runs out. Each tile is
a progress event and a cancel point.

The self-ensemble (`views=8`, the "best quality" mode) runs every tile turned and mirrored
the 8 ways, each result turned back, and averages them: 8 times the network's work, less of
its own grid and orientation artefacts (+0.2 dB for the shipped denoiser on CBSD68,
docs/benchmarks.md). Turning tiles rather than the whole picture cuts and blends each tile
once instead of 8 times.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from desktop_app.core.models.device import available_memory_bytes
from desktop_app.core.work import Progress, Work

# The network function: NCHW float tensor on the device -> NCHW tensor of the same size.
TensorFn = Callable[[torch.Tensor], torch.Tensor]

MIN_TILE = 64


class OutOfMemory(Exception):
    pass


def is_oom(error: BaseException) -> bool:
    if isinstance(error, torch.OutOfMemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, (RuntimeError, MemoryError)) and (
        "out of memory" in text or "can't allocate" in text or isinstance(error, MemoryError))


@dataclass
class TileSettings:
    tile: int  # inner tile edge in pixels
    context: int  # overlap on each side
    size_multiple: int = 1
    precision: str = "fp32"  # "fp32", "fp16", "bf16" (the last two on CUDA only)
    channels_last: bool = True
    views: int = 1  # 1, or VIEWS for the self-ensemble (each tile turned and mirrored 8 ways)


def choose_tile(device: torch.device, start: int, bytes_per_pixel: float, context: int) -> int:
    """Largest tile (<= start) whose working memory fits in half of what is free."""
    budget = available_memory_bytes(device) * 0.5
    side = int(math.sqrt(max(budget, 1) / max(bytes_per_pixel, 1.0))) - 2 * context
    return max(MIN_TILE, min(start, side))


def _axis_weight(k0: int, k1: int, a0: int, a1: int, fade: int, length: int) -> np.ndarray:
    """Weights over the kept span [k0, k1) of a tile whose own span is [a0, a1): linear
    cross-fades over [a0 - fade, a0 + fade) and [a1 - fade, a1 + fade) (none at the image
    border). Neighbouring tiles' fades add up to exactly 1."""
    p = np.arange(k0, k1, dtype=np.float32) + 0.5
    w = np.ones(k1 - k0, np.float32)
    if a0 > 0:
        w = np.minimum(w, np.clip((p - (a0 - fade)) / (2 * fade), 0.0, 1.0))
    if a1 < length:
        w = np.minimum(w, np.clip(((a1 + fade) - p) / (2 * fade), 0.0, 1.0))
    return w


def _step(length: int, tile: int, multiple: int) -> int:
    """Tile size spread evenly over `length` (no thin sliver at the end), a multiple of
    `multiple` so every tile sits on the network's pixel-unshuffle / pooling grid."""
    n = max(1, math.ceil(length / tile))
    return max(multiple, math.ceil(length / n / multiple) * multiple)


def autocast(device: torch.device, precision: str):
    if device.type == "cuda" and precision in ("fp16", "bf16"):
        return torch.autocast("cuda", dtype=torch.float16 if precision == "fp16" else torch.bfloat16)
    return contextlib.nullcontext()


VIEWS = 8  # the self-ensemble's views: 4 quarter turns, each also mirrored


def turn(x: torch.Tensor, view: int) -> torch.Tensor:
    """View `view` (0-7) of an N x C x H x W tensor: view // 2 quarter turns, mirrored when odd."""
    if view == 0:
        return x
    x = torch.rot90(x, view // 2, dims=(2, 3))
    return x.flip(3) if view % 2 else x


def turn_back(y: torch.Tensor, view: int) -> torch.Tensor:
    if view == 0:
        return y
    y = y.flip(3) if view % 2 else y
    return torch.rot90(y, -(view // 2), dims=(2, 3))


def _run_tensor(fn: TensorFn, x: torch.Tensor, device: torch.device, s: TileSettings, view: int = 0) -> np.ndarray:
    """`fn` on view `view` of the 1 x C x H x W tile `x`, padded to the size multiple after the
    turn; the result turned back, C x H x W (the network's layout: blending in it reads each
    channel's rows in order), clamped to [0, 1]."""
    x = turn(x, view)
    m = s.size_multiple
    th, tw = x.shape[-2:]
    ph, pw = (-th) % m, (-tw) % m
    if ph or pw:
        # reflect needs the pad to be smaller than the side; replicate covers tiny images
        mode = "reflect" if ph < th and pw < tw else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    if s.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with autocast(device, s.precision):
        y = turn_back(fn(x)[:, :, :th, :tw], view)
    return y.float().clamp_(0.0, 1.0)[0].cpu().numpy()


def _tile_result(fn: TensorFn, patch: np.ndarray, device: torch.device, s: TileSettings,
                 done: int, steps: int, label: str) -> Work[np.ndarray]:
    """The network's result on one tile (`patch`: C x H x W, the extra input's channels after
    the image's when there is one; the result C x H x W), the mean of its views, with a progress
    event (a cancel point) per view; `done` of `steps` views were run before this tile."""
    x = torch.from_numpy(patch)[None].to(device)
    result = None
    for view in range(s.views):
        out = _run_tensor(fn, x, device, s, view)
        if result is None:
            result = out.copy() if s.views > 1 else out
        else:
            result += out
        done += 1
        yield Progress(done / steps, label + (f", view {view + 1}/{s.views}" if s.views > 1 else ""))
    if s.views > 1:
        result /= s.views
    return result


def run_tiled(fn: TensorFn, image: np.ndarray, device: torch.device, settings: TileSettings,
              extra: np.ndarray | None = None) -> Work[np.ndarray]:
    """Apply `fn` to an H x W x C float32 image; restarts with half the tile on out-of-memory.
    `extra`: an H x W x K input cut, turned and padded with the image, handed to `fn` as its
    second argument (a noise level per pixel); `fn` returns the image's C channels."""
    s = settings
    if extra is not None:
        extra = np.asarray(extra, np.float32).reshape(*image.shape[:2], -1)
        fn = _split(fn, image.shape[2])
    while True:
        try:
            return (yield from _tiled_pass(fn, image, device, s, extra))
        except Exception as e:  # noqa: BLE001 - only memory errors are retried
            if not is_oom(e) or s.tile <= MIN_TILE:
                if is_oom(e):
                    raise OutOfMemory(f"not enough memory on {device.type} even with {s.tile}-pixel tiles") from e
                raise
            if device.type == "cuda":
                torch.cuda.empty_cache()
            s = replace(s, tile=max(MIN_TILE, s.tile // 2))
            yield Progress(0.0, f"out of memory: retrying with {s.tile}-pixel tiles")


def _split(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], channels: int) -> TensorFn:
    return lambda x: fn(x[:, :channels], x[:, channels:])


def _tiled_pass(fn: TensorFn, image: np.ndarray, device: torch.device, s: TileSettings,
                extra: np.ndarray | None) -> Work[np.ndarray]:
    h, w, c = image.shape

    def cut(rows: slice, cols: slice) -> np.ndarray:
        """A tile in the network's layout (C x H x W), the extra input's channels after the
        image's: one copy of its pixels."""
        parts = [a[rows, cols].transpose(2, 0, 1) for a in ((image,) if extra is None else (image, extra))]
        return np.concatenate(parts, axis=0) if len(parts) > 1 else np.ascontiguousarray(parts[0])

    m = max(1, s.size_multiple)
    H, W = math.ceil(h / m) * m, math.ceil(w / m) * m
    context = math.ceil(s.context / m) * m
    if H <= s.tile + 2 * context and W <= s.tile + 2 * context:
        # one tile, the whole picture, padded after each view's turn: the 8 views pad different
        # sides, so the padding's own artefacts average out (+0.01 dB at σ 25 and 50)
        yield Progress(0.0, "1 tile")
        with torch.inference_mode():
            out = yield from _tile_result(fn, cut(np.s_[:], np.s_[:]), device, s, 0, s.views, "tile 1/1")
        return np.ascontiguousarray(out.transpose(1, 2, 0))
    # Pad once to the size multiple, so tiles never pad inside the picture and see exactly
    # what a single pass over the whole (padded) picture would see.
    if (H, W) != (h, w):
        mode = "reflect" if H - h < h and W - w < w else "edge"
        image = np.pad(image, ((0, H - h), (0, W - w), (0, 0)), mode=mode)
        extra = None if extra is None else np.pad(extra, ((0, H - h), (0, W - w), (0, 0)), mode=mode)
    fade = max(1, context // 2)
    ty, tx = _step(H, s.tile, m), _step(W, s.tile, m)
    ys, xs = list(range(0, H, ty)), list(range(0, W, tx))
    tiles = len(ys) * len(xs)
    yield Progress(0.0, f"{tiles} tiles")
    acc = np.zeros((c, H, W), np.float32)  # in the network's layout, turned to H x W x C once at the end
    weight = np.zeros((H, W), np.float32)
    with torch.inference_mode():
        for k, (y0, x0) in enumerate((y0, x0) for y0 in ys for x0 in xs):
            y1, x1 = min(y0 + ty, H), min(x0 + tx, W)
            oy0, oy1 = max(0, y0 - context), min(H, y1 + context)
            ox0, ox1 = max(0, x0 - context), min(W, x1 + context)
            # the self-ensemble turns each tile, not the picture: one cut and one blend per tile
            result = yield from _tile_result(fn, cut(np.s_[oy0:oy1], np.s_[ox0:ox1]), device, s, k * s.views,
                                             tiles * s.views, f"tile {k + 1}/{tiles}")
            # keep the inner tile plus `fade` pixels each side that touch a neighbour
            ky0, ky1 = max(oy0, y0 - fade), min(oy1, y1 + fade)
            kx0, kx1 = max(ox0, x0 - fade), min(ox1, x1 + fade)
            wy = _axis_weight(ky0, ky1, y0, y1, fade, H)
            wx = _axis_weight(kx0, kx1, x0, x1, fade, W)
            wgt = wy[:, None] * wx[None, :]
            acc[:, ky0:ky1, kx0:kx1] += result[:, ky0 - oy0:ky1 - oy0, kx0 - ox0:kx1 - ox0] * wgt
            weight[ky0:ky1, kx0:kx1] += wgt
    acc /= np.maximum(weight, 1e-8)
    return np.ascontiguousarray(acc[:, :h, :w].transpose(1, 2, 0))
