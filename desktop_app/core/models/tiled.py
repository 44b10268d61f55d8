"""Running an image-to-image network over a picture of any size.

The picture is cut into tiles with `context` pixels of overlap; each tile's result is written
back with linear cross-fades over the overlap, so no seam shows. The tile size starts from the
device's free memory and is halved and the run restarted when memory runs out. Each tile is
a progress event and a cancel point.

The self-ensemble (`views=VIEWS`, the "best quality" mode) runs every tile turned and
mirrored the 8 ways, each result turned back, and averages them: 8 times the network's work,
less of its own grid and orientation artefacts (+0.2 dB for the shipped denoiser on CBSD68,
docs/benchmarks.md); `DIAGONAL_VIEWS` runs 4 of them. Turning tiles rather than the whole
picture cuts and blends each tile once instead of once per view.
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
    views: tuple[int, ...] = (0,)  # the views averaged (`turn`): (0,), VIEWS or DIAGONAL_VIEWS


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


VIEWS = tuple(range(8))  # the self-ensemble's views: 4 quarter turns, each also mirrored
# half of them: the picture as it is, turned half a turn, and mirrored across either diagonal
# (every edge seen both ways round, and lying and standing); where a grouped Wiener step follows,
# which reads the rest from the photo itself (imaging.wiener)
DIAGONAL_VIEWS = (0, 3, 4, 7)


def turn(x: torch.Tensor, view: int) -> torch.Tensor:
    """View `view` (0-7) of an N x C x H x W tensor: view // 2 quarter turns, mirrored when odd.
    On the CPU in one copy, through NumPy's views (torch's turn and mirror copy each)."""
    if view == 0:
        return x
    if x.device.type == "cpu":
        a = np.rot90(x.numpy(), view // 2, axes=(2, 3))
        return torch.from_numpy(np.ascontiguousarray(a[..., ::-1] if view % 2 else a))
    x = torch.rot90(x, view // 2, dims=(2, 3))
    return x.flip(3) if view % 2 else x


def turn_back(y: np.ndarray, view: int) -> np.ndarray:
    """`turn` undone on a C x H x W array: a view, no copy."""
    if view == 0:
        return y
    return np.rot90(y[..., ::-1] if view % 2 else y, -(view // 2), axes=(1, 2))


def _run_tensor(fn: TensorFn, x: torch.Tensor, device: torch.device, s: TileSettings, view: int = 0) -> np.ndarray:
    """`fn` on view `view` of the 1 x C x H x W tile `x`, padded to the size multiple after the
    turn; the result turned back, C x H x W (the network's layout: blending in it reads each
    channel's rows in order; a strided view when turned), clamped to [0, 1]."""
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
        y = fn(x)[0, :, :th, :tw]
    return turn_back(y.float().clamp_(0.0, 1.0).cpu().numpy(), view)


def _tile_result(fn: TensorFn, patch: np.ndarray, device: torch.device, s: TileSettings,
                 done: int, steps: int, label: str) -> Work[np.ndarray]:
    """The network's result on one tile (`patch`: C x H x W, the extra input's channels after
    the image's when there is one; the result C x H x W), the mean of its views, with a progress
    event (a cancel point) per view; `done` of `steps` views were run before this tile."""
    x = torch.from_numpy(patch)[None].to(device)
    result = None
    n = len(s.views)
    for k, view in enumerate(s.views):
        out = _run_tensor(fn, x, device, s, view)
        if result is None:
            result = out.copy() if n > 1 else out
        else:
            result += out
        done += 1
        yield Progress(done / steps, label + (f", view {k + 1}/{n}" if n > 1 else ""))
    if n > 1:
        result /= n
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
    arrays = (image,) if extra is None else (image, extra)
    channels = sum(a.shape[2] for a in arrays)
    memory: list[np.ndarray] = []  # one buffer for every tile's input

    def cut(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows y0:y1 and columns x0:x1 as a tile in the network's layout (C x H x W,
        contiguous: what the CPU runtime takes), the extra input's channels after the image's:
        one copy of its pixels, into the buffer the tile before used (the network has read
        it by then; fresh memory for each tile cost 0.3 s of a 12 MP photo in page faults).
        Beyond the picture (up to the size multiple) the tile is mirrored as numpy's "reflect"
        pads, in the tile itself: no padded copy of the picture. (Concatenated from transposed
        views instead, NumPy kept the picture's channels-last order and the runtime copied
        every tile again: 0.6 s of a 12 MP photo.)"""
        size = channels * (y1 - y0) * (x1 - x0)
        if not memory or memory[0].size < size:
            memory[:] = [np.empty(size, np.float32)]
        tile = memory[0][:size].reshape(channels, y1 - y0, x1 - x0)
        iy, ix = min(y1, h) - y0, min(x1, w) - x0  # the part inside the picture
        inside = rows[y0 + iy:y1].min(initial=y0) >= y0 and cols[x0 + ix:x1].min(initial=x0) >= x0
        start = 0
        for a in arrays:
            k = np.s_[start:start + a.shape[2]]
            if inside:  # what lies beyond the picture mirrors rows and columns of the tile itself
                tile[k, :iy, :ix] = a[y0:y0 + iy, x0:x0 + ix].transpose(2, 0, 1)
            else:  # a picture thinner than its padding, or a tile without context: read it all by index
                tile[k] = a[np.ix_(rows[y0:y1], cols[x0:x1])].transpose(2, 0, 1)
            start += a.shape[2]
        if inside:
            for r in range(iy, y1 - y0):
                tile[:, r] = tile[:, rows[y0 + r] - y0]
            for q in range(ix, x1 - x0):
                tile[:, :, q] = tile[:, :, cols[x0 + q] - x0]
        return tile

    m = max(1, s.size_multiple)
    H, W = math.ceil(h / m) * m, math.ceil(w / m) * m
    # Tiles see the picture padded to the size multiple (mirrored, or its edges repeated where
    # the padding is thicker than the picture), never padded inside themselves: exactly what a
    # single pass over the whole padded picture would see. `rows` and `cols`: the padded
    # picture's row and column indices in the picture (one tile cuts the picture alone).
    mode = "reflect" if H - h < h and W - w < w else "edge"
    rows, cols = (np.pad(np.arange(n), (0, N - n), mode=mode) for n, N in ((h, H), (w, W)))
    context = math.ceil(s.context / m) * m
    if H <= s.tile + 2 * context and W <= s.tile + 2 * context:
        # one tile, the whole picture, padded after each view's turn: the views pad different
        # sides, so the padding's own artefacts average out (+0.01 dB at σ 25 and 50)
        yield Progress(0.0, "1 tile")
        with torch.inference_mode():
            out = yield from _tile_result(fn, cut(0, h, 0, w), device, s, 0, len(s.views), "tile 1/1")
        return np.ascontiguousarray(out.transpose(1, 2, 0))
    fade = max(1, context // 2)
    ty, tx = _step(H, s.tile, m), _step(W, s.tile, m)
    ys, xs = list(range(0, H, ty)), list(range(0, W, tx))

    def spans(starts: list[int], size: int, length: int) -> list[tuple[int, int, int, int, np.ndarray]]:
        """Per tile along one axis: its span with context, the span it keeps, and the kept
        span's weights, normalised so that the tiles' weights add up to 1 at every pixel (the
        2-D weights are products of these: their sum is the product of the axes' sums)."""
        out, total = [], np.zeros(length, np.float32)
        for a0 in starts:
            a1 = min(a0 + size, length)
            o0, o1 = max(0, a0 - context), min(length, a1 + context)
            k0, k1 = max(o0, a0 - fade), min(o1, a1 + fade)  # the inner span plus `fade` touching a neighbour
            weight = _axis_weight(k0, k1, a0, a1, fade, length)
            total[k0:k1] += weight
            out.append((o0, o1, k0, k1, weight))
        return [(o0, o1, k0, k1, weight / total[k0:k1]) for o0, o1, k0, k1, weight in out]

    along_y, along_x = spans(ys, ty, H), spans(xs, tx, W)
    tiles = len(along_y) * len(along_x)
    yield Progress(0.0, f"{tiles} tiles")
    out = np.zeros((h, w, c), np.float32)  # the blend, in the picture's layout
    with torch.inference_mode():
        for k, ((oy0, oy1, ky0, ky1, wy), (ox0, ox1, kx0, kx1, wx)) in enumerate(
                (r, q) for r in along_y for q in along_x):
            # the self-ensemble turns each tile, not the picture: one cut and one blend per tile
            result = yield from _tile_result(fn, cut(oy0, oy1, ox0, ox1), device, s, k * len(s.views),
                                             tiles * len(s.views), f"tile {k + 1}/{tiles}")
            ey, ex = min(ky1, h), min(kx1, w)  # the padding's rows and columns are dropped
            kept = result[:, ky0 - oy0:ey - oy0, kx0 - ox0:ex - ox0]
            kept *= wy[:ey - ky0, None] * wx[None, :ex - kx0]  # in place: the tile's result is this loop's own
            for ch in range(c):  # channel by channel into the picture's layout (a transpose of 12 MP took 0.1-0.3 s)
                out[ky0:ey, kx0:ex, ch] += kept[ch]
    return out
