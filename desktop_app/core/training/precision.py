"""Training in bf16 where the device computes it natively: the network's convolutions and
products in bf16 (torch's autocast), its weights, the optimiser, the degradations and the loss
in float32. On this project's 2-core CPU (AVX-512 BF16) a step of the Gaussian denoiser takes
0.6 of the time (3.0 -> 5.1 steps a second of 16 patches; docs/benchmarks.md, "Training
throughput"); on a GPU the tensor cores do the same. Validation and export stay float32."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from desktop_app.core.training.config import PRECISIONS


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 at full speed: a CUDA GPU that supports it, a CPU with
    AVX-512 BF16 or AMX (oneDNN's test). Elsewhere bf16 is emulated and slower than float32."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def training_dtype(precision: str, device: torch.device, task_allows: bool) -> torch.dtype | None:
    """The autocast type for a run (None: float32 throughout). "auto": bf16 where the task's
    networks train well in it and the device computes it natively; "bf16" asks for it anyway."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision is one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "bf16" or (precision == "auto" and task_allows and native_bf16(device)):
        return torch.bfloat16
    return None


class Autocast(nn.Module):
    """`inner` run under autocast, its floating outputs returned as float32, so that the task's
    loss and anything it does with the result keep full precision. Attributes the task reads
    off the network (`noise_map`, ...) are the inner network's."""

    def __init__(self, inner: nn.Module, device_type: str, dtype: torch.dtype) -> None:
        super().__init__()
        self.inner, self.device_type, self.dtype = inner, device_type, dtype

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        with torch.autocast(self.device_type, dtype=self.dtype):
            out = self.inner(*args, **kwargs)
        return _as_float(out)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.inner, name)


def _as_float(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out.float() if out.is_floating_point() else out
    if isinstance(out, tuple):
        return tuple(_as_float(o) for o in out)
    if isinstance(out, list):
        return [_as_float(o) for o in out]
    if isinstance(out, dict):
        return {k: _as_float(v) for k, v in out.items()}
    return out
