"""The tensor boundary: one runner per loaded network, between the core's images and tensors.

Operations hand it float32 H x W x C images in [0, 1] (C = 1 or 3) and get images back. It
is the one place that turns an image into an `N x C x H x W` tensor and back, repeats a grey
image over the network's colour channels (and averages them back), pads to the size multiple
of the LOADED network (reflected, cropped off again), clamps to [0, 1], picks the precision
from the architecture's descriptor and the device, and sends the work to the CPU runtime
(OpenVINO, `runtime.py`) or torch. Tiling, progress, cancel and the out-of-memory retry are
`tiled.run_tiled`'s, unchanged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from desktop_app.core.models import runtime
from desktop_app.core.models.descriptor import Architecture
from desktop_app.core.models.tiled import TileSettings, autocast, choose_tile, is_oom, run_tiled
from desktop_app.core.work import Progress, Work

if TYPE_CHECKING:
    from desktop_app.core.models.manager import LoadedModel

log = logging.getLogger(__name__)


def choose_precision(arch: Architecture, device: torch.device) -> str:
    """bf16 on a CUDA GPU that has it, else fp16, as far as the descriptor allows; fp32 on
    the CPU and MPS (the CPU runtime may still compute in bf16, see `runtime.py`)."""
    if device.type == "cuda":
        if "bf16" in arch.precisions and torch.cuda.is_bf16_supported():
            return "bf16"
        if "fp16" in arch.precisions:
            return "fp16"
    return "fp32"


def tensor_from_images(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """N x H x W x C (or one H x W x C) float array -> N x C x H x W float32 tensor on `device`."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[None]
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).to(device)


def images_from_tensor(x: torch.Tensor) -> np.ndarray:
    """N x C x H x W tensor -> N x H x W x C float32 array in [0, 1] on the CPU."""
    return x.detach().float().clamp(0.0, 1.0).permute(0, 2, 3, 1).cpu().numpy()


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad the bottom and right of an N x C x H x W tensor to multiples of `multiple`:
    reflected, or repeated when the image is smaller than the pad."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


class ModelRunner:
    """Runs one loaded network on images. Made by `ModelManager.runner`, which keeps it (and
    its compiled CPU graph) warm with the model."""

    def __init__(self, loaded: LoadedModel, *, use_runtime: bool = True, cpu_bf16: bool | None = None) -> None:
        """`cpu_bf16`: let the CPU runtime compute in bf16 where the CPU has it; None: as the
        architecture's descriptor says (benchmarks and tests pin it)."""
        self.loaded = loaded
        self.module, self.arch, self.device = loaded.module, loaded.arch, loaded.device
        # the network's own multiple (it follows from its hyper-parameters), not a constant
        own = getattr(self.module, "size_multiple", None)
        self.size_multiple = int(own or self.arch.size_multiple_of({**self.arch.default_hparams,
                                                                    **loaded.manifest.hparams}))
        self.channels = self.arch.out_channels
        self.precision = choose_precision(self.arch, self.device)
        self.compiled: runtime.CompiledNetwork | None = None
        if use_runtime and self.device.type == "cpu":
            try:
                key = None
                if loaded.manifest.sha256:
                    key = runtime.cache_key(loaded.manifest.sha256, self.arch.id, loaded.manifest.hparams,
                                            self.module)
                self.compiled = runtime.compiled_network(
                    self.module, key, self.arch.cpu_bf16 if cpu_bf16 is None else cpu_bf16)
                self.precision = self.compiled.precision
            except Exception as e:  # noqa: BLE001 - any failure means torch runs it
                self._fall_back(e)

    @property
    def backend(self) -> str:
        return "openvino" if self.compiled is not None else "torch"

    def _fall_back(self, error: BaseException) -> None:
        self.compiled = None
        self.precision = choose_precision(self.arch, self.device)
        log.warning("%s: CPU runtime not used (%s); running on torch", self.loaded.manifest.id, error)

    def network(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The network on N x C x H x W tensors (already on the device, H and W multiples of
        `size_multiple`) and its other inputs; the result in float32."""
        if self.compiled is not None:
            try:
                return self.compiled(*inputs)
            except Exception as e:  # noqa: BLE001 - memory errors go to the tiler's retry, the rest to torch
                if is_oom(e):
                    raise
                self._fall_back(e)
        with torch.inference_mode(), autocast(self.device, self.precision):
            return self.module(*inputs).float()

    # -- whole images ----------------------------------------------------------------------

    def _to_network(self, image: np.ndarray) -> torch.Tensor:
        if image.shape[2] == 1 and self.channels != 1:
            image = np.repeat(image, self.channels, axis=2)
        return tensor_from_images(image, self.device)

    def _from_network(self, y: torch.Tensor, h: int, w: int, channels: int) -> np.ndarray:
        out = images_from_tensor(y[:, :, :h, :w])[0]
        return out.mean(axis=2, keepdims=True) if channels == 1 and out.shape[2] != 1 else out

    def _vector(self, values: np.ndarray | Sequence[float] | None) -> torch.Tensor | None:
        """A per-channel input (a noise level) as a 1 x C tensor; a grey image's one value is
        repeated over the network's channels."""
        if values is None:
            return None
        v = np.asarray(values, np.float32).reshape(-1)
        if v.size == 1 and self.channels != 1:
            v = np.repeat(v, self.channels)
        return torch.from_numpy(v)[None].to(self.device)

    def run(self, image: np.ndarray, planes: Sequence[np.ndarray] = (),
            vector: np.ndarray | Sequence[float] | None = None) -> np.ndarray:
        """One pass over a whole image (no tiles): `planes` are H x W extra inputs (a mask, a
        noise plane) padded like the image, `vector` a per-channel input. Returns H x W x C."""
        h, w, c = image.shape
        m = self.size_multiple
        inputs = [pad_to_multiple(self._to_network(image), m)]
        inputs += [pad_to_multiple(torch.from_numpy(np.asarray(p, np.float32).reshape(1, 1, h, w)).to(self.device), m)
                   for p in planes]
        extra = self._vector(vector)
        if extra is not None:
            inputs.append(extra)
        return self._from_network(self.network(*inputs), h, w, c)

    def run_tiled(self, image: np.ndarray, vector: np.ndarray | Sequence[float] | None = None,
                  views: tuple[int, ...] = (0,), bytes_per_pixel: float = 600.0,
                  plane: np.ndarray | None = None) -> Work[np.ndarray]:
        """An image-to-image network over a picture of any size, tile by tile (a progress
        event and a cancel point per tile); `views`: the turns and mirror images of each tile
        averaged (tiled.VIEWS: all 8, the self-ensemble). The network's extra input: `vector`,
        one value per channel, or `plane`, one per pixel and channel (H x W x C, cut and turned
        with the image: a noise level per pixel)."""
        h, w, c = image.shape
        rgb = np.repeat(image, self.channels, axis=2) if c == 1 and self.channels != 1 else image
        extra = self._vector(vector)
        if plane is not None and plane.shape[2] == 1 and self.channels != 1:
            plane = np.repeat(plane, self.channels, axis=2)

        def fn(x: torch.Tensor, level: torch.Tensor | None = None) -> torch.Tensor:
            if level is not None:
                return self.network(x, level)
            if extra is None:
                return self.network(x)
            return self.network(x, extra.expand(x.shape[0], -1))

        side = 4 * self.size_multiple
        example = [torch.zeros(1, rgb.shape[2], side, side)]
        if plane is not None:
            example.append(torch.zeros(1, plane.shape[2], side, side))
        elif extra is not None:
            example.append(extra)
        if self.compiled is not None and not self.compiled.ready(example):
            # converting takes seconds (once per weights file; later runs read the cached graph)
            yield Progress(None, "preparing the network for this CPU")
            try:
                self.compiled.compile(example)
            except Exception as e:  # noqa: BLE001 - torch runs it
                self._fall_back(e)
        tiling = self.arch.tiling
        start = tiling.gpu_tile if self.device.type == "cuda" else tiling.cpu_tile
        settings = TileSettings(tile=choose_tile(self.device, start, bytes_per_pixel, tiling.context),
                                context=tiling.context, size_multiple=self.size_multiple,
                                precision=self.precision,
                                # the runtime takes plain NCHW arrays; torch prefers channels-last
                                channels_last=self.compiled is None,
                                views=views)
        out = yield from run_tiled(fn, rgb, self.device, settings, plane)
        return out.mean(axis=2, keepdims=True) if c == 1 and out.shape[2] != 1 else out
