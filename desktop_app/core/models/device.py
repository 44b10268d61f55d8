"""Device choice: CUDA, then Apple MPS, then CPU, unless the user says otherwise."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# torch is imported inside the functions: the window must not wait ~1.5 s for it at start-up.
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def available_devices() -> list[str]:
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found.insert(0, "cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.insert(0, "mps")
    return found


def pick_device(preference: str | None = None) -> torch.device:
    """`preference` is "auto"/None, or a device name; an unavailable one is an error, so the
    user learns why the GPU is not used rather than silently running on the CPU."""
    import torch

    pref = (preference or os.environ.get("DESKTOP_APP_DEVICE") or "auto").lower()
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    name = pref.split(":")[0]
    if name not in DEVICE_CHOICES:
        raise ValueError(f"unknown device {preference!r} (choose from {', '.join(DEVICE_CHOICES)})")
    if name not in available_devices():
        raise ValueError(f"device {preference!r} is not available on this machine "
                         f"(available: {', '.join(available_devices())})")
    return torch.device(pref)


def available_memory_bytes(device: "torch.device") -> int:
    import torch

    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30
