"""The CPU inference runtime: OpenVINO runs the networks on the CPU, torch everywhere else.

Measured on this project's 2-core machine, the shipped networks on 640x640 tiles (512x512 for
inpaint), alternately in one run: torch 2.13 4.0 / 5.7 / 7.8 s/MP (cnn / cnn-real / inpaint),
ONNX Runtime 1.32 1.8 / 4.3 s/MP and no inpaint at all (torch's ONNX export has no rfft2),
OpenVINO 2026.4 1.7 / 3.6 / 4.7 s/MP; all three agree with torch to 2e-6. OpenVINO is the
runtime because it is as fast or faster on every network, it reads the torch module directly
(no ONNX exporter, no `onnx` package, and the Fourier blocks of the inpainting network
convert), and its shapes stay dynamic, so every tile size and turned tile of the 8-pass
mode runs on one compiled graph.

A network is converted once per weights file and layout of inputs (a denoiser's noise level
comes as one value per channel, or one per pixel from "auto"): the graph is traced on its
first call and saved as OpenVINO IR in the user's cache folder, under a key made of the
weights' sha256, the architecture, its hyper-parameters, the network's source and the
OpenVINO version; later runs read that file (about a second). Nothing is downloaded, and nothing is sent: OpenVINO's
converter reports usage to Google Analytics by default, which `_openvino` shuts out. If
OpenVINO is missing or anything in it fails, the caller falls back to torch and one line is
logged.

Precision: f32, unless the architecture's descriptor allows bf16 on the CPU (`cpu_bf16`,
measured to cost under 0.01 dB) and the CPU computes bf16 natively (AVX-512 BF16 or AMX),
where it runs about 1.8x faster; OpenVINO's own default is bf16 on such CPUs, so the hint is
always given explicitly.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import logging
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn as nn

from desktop_app.core.paths import cache_dir

log = logging.getLogger(__name__)

EXPORT_FORMAT = 1  # bump when the way networks are traced changes, so old cached graphs are not reused
DISABLE_ENV = "DESKTOP_APP_CPU_RUNTIME"  # "torch" turns the runtime off (benchmarks compare the two)


class RuntimeUnavailable(RuntimeError):
    pass


def enabled() -> bool:
    return os.environ.get(DISABLE_ENV, "openvino").lower() != "torch"


def installed() -> bool:
    return importlib.util.find_spec("openvino") is not None


def _openvino():
    """The `openvino` module, its telemetry shut out first. Its model converter sends usage
    events to Google Analytics unless a consent file in the user's home says no (it asks
    nobody), from a process forked off a thread: this app sends nothing anywhere, and that
    fork, taken while other threads ran, once hung the command line at exit holding its
    output open. Without `openvino_telemetry` the converter uses its own no-op stub."""
    if "openvino_telemetry" not in sys.modules:
        sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]  # import fails: the stub
    import openvino

    return openvino


def version() -> str:
    return _openvino().__version__


def supports_bf16() -> bool:
    """Whether the CPU computes bf16 natively (AVX-512 BF16 or AMX), as OpenVINO reports it."""
    ov = _openvino()
    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def _source_of(module: nn.Module) -> str:
    try:
        return inspect.getsource(type(module))
    except (OSError, TypeError):  # a frozen build ships no sources: its code cannot change under it
        from desktop_app import __version__

        return f"{type(module).__qualname__} {__version__}"


def cache_key(weights_sha256: str, arch_id: str, hparams: dict[str, Any], module: nn.Module) -> str:
    """The name of a converted graph: changes when the weights, the network's code or the
    runtime change, so a stale graph is never read."""
    text = json.dumps({"sha256": weights_sha256, "arch": arch_id, "hparams": hparams,
                       "source": _source_of(module), "openvino": version(), "format": EXPORT_FORMAT},
                      sort_keys=True, default=str)
    return f"{arch_id}-{weights_sha256[:16]}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def graph_dir() -> Path:
    d = cache_dir() / "openvino"
    d.mkdir(parents=True, exist_ok=True)
    return d


def layout(inputs: Sequence[torch.Tensor]) -> tuple[int, ...]:
    """What a traced graph is fixed to: each input's number of dimensions (a denoiser's noise
    level comes as one value per channel or one per pixel, two different graphs)."""
    return tuple(t.dim() for t in inputs)


class CompiledNetwork:
    """A network compiled by OpenVINO for the CPU, called like the torch module on CPU tensors
    (N x C x H x W and the extra inputs, any H and W) and returning a CPU tensor. Converts on
    the first call with a new `layout` of inputs (the call's tensors are the tracing example)
    or reads the cached graph."""

    def __init__(self, module: nn.Module, key: str | None, bf16: bool = False) -> None:
        self.module, self.key, self.bf16 = module, key, bf16
        self._compiled: dict[tuple[int, ...], Any] = {}
        self._dither: dict[tuple[int, ...], torch.Tensor] = {}  # the rounding's random bits, by shape (at most 2)
        # one OpenVINO infer request serves the calls: two threads in it at once hung a batch
        self._lock = threading.Lock()

    def ready(self, inputs: Sequence[torch.Tensor]) -> bool:
        return layout(inputs) in self._compiled

    @property
    def precision(self) -> str:
        return "bf16" if self.bf16 else "fp32"

    def _as_input(self, t: torch.Tensor, image: bool) -> np.ndarray:
        """A float32 array; in bf16 the image (the first input) already rounded to bf16,
        stochastically (`bf16_dithered`); the others (a mask, a noise level) as they are."""
        t = t.detach().cpu().float()
        if self.bf16 and image:
            shape = tuple(t.shape)
            if shape not in self._dither:  # the turned tiles of the 8-pass mode take two shapes in turn
                self._dither = dict(list(self._dither.items())[-1:])  # the last shape's kept
                self._dither[shape] = dither_bits(shape)
            t = bf16_dithered(t, bits=self._dither[shape])
        return np.ascontiguousarray(t.numpy())

    def _graph(self, example: Sequence[torch.Tensor]):
        ov = _openvino()

        core = ov.Core()
        path = graph_dir() / f"{self.key}-{''.join(map(str, layout(example)))}.xml" if self.key else None
        if path is not None and path.is_file() and path.with_suffix(".bin").is_file():
            try:
                return core, core.read_model(str(path))
            except Exception as e:  # noqa: BLE001 - a damaged cache file is converted again
                log.warning("cached OpenVINO graph %s unreadable (%s); converting again", path.name, e)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript's deprecation and tracer notes: the graph is checked by the tests
            traced = torch.jit.trace(self.module, tuple(example), check_trace=False)
        shapes = [ov.PartialShape([-1] * t.dim()) for t in example]  # every dimension dynamic
        model = ov.convert_model(traced, example_input=tuple(example), input=shapes)
        if path is not None:
            _save_atomically(ov, model, path)
        return core, model

    def compile(self, example: Sequence[torch.Tensor]) -> None:
        core, model = self._graph(example)
        config = {"INFERENCE_PRECISION_HINT": "bf16" if self.bf16 else "f32",
                  "INFERENCE_NUM_THREADS": max(1, torch.get_num_threads())}
        self._compiled[layout(example)] = core.compile_model(model, "CPU", config)

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        arrays = [self._as_input(t, i == 0) for i, t in enumerate(inputs)]
        with self._lock:
            if not self.ready(inputs):
                self.compile(inputs)
            out = self._compiled[layout(inputs)](arrays)[0]  # OpenVINO's own copy (share_outputs is off)
        return torch.from_numpy(out)


def dither_bits(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """The random low 16 bits `bf16_dithered` adds, for a tensor of `shape` (int32). Made once
    per tile shape and kept: drawn for every tile and view they took 0.04 s per 3 MP."""
    return torch.randint(0, 1 << 16, shape, generator=torch.Generator().manual_seed(seed), dtype=torch.int32)


def bf16_dithered(t: torch.Tensor, seed: int = 0, bits: torch.Tensor | None = None) -> torch.Tensor:
    """`t` (float32) rounded to a neighbouring bf16 value at random, up with the probability of
    its distance to the lower one: unbiased, and repeatable (a fixed seed); exact bf16 values
    (a 0/1 mask) stay as they are.

    The convolutions read their input in bf16 anyway, and a network that returns "input minus
    what it found" must subtract from that same input: from the exact one, the rounding (up to
    1/512 of the value) passes to the result whole. Rounded to the nearest value instead, an
    8-bit photo's levels all move the same way (k/255 onto a 1/256 grid: a bias of up to half
    an 8-bit level that depends on the brightness), which the network keeps as content.
    Measured in bf16, torch's f32 as the reference: cnn on CBSD68 at sigma 15 cost 0.011 dB
    (0.006 with the input rounded to nearest), cnn-real on 29 PolyU pairs 0.015 dB rounded to
    nearest, per image +-0.4 dB, 0.004 dithered (at most 0.02 per image)."""
    if bits is None:
        bits = dither_bits(tuple(t.shape), seed)
    rounded = t.contiguous().view(torch.int32) + bits  # the one temporary the size of the tile
    rounded &= -(1 << 16)
    return rounded.view(torch.float32)


def _save_atomically(ov, model, path: Path) -> None:
    """Write the .bin first, then the .xml under its final name: the .xml is only ever there
    when its .bin is complete (two processes converting at once each write their own temp)."""
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.xml")
    try:
        ov.save_model(model, str(tmp), compress_to_fp16=False)
        os.replace(tmp.with_suffix(".bin"), path.with_suffix(".bin"))
        os.replace(tmp, path)
    except OSError as e:  # a read-only or full cache: run from memory this time
        log.warning("could not cache the OpenVINO graph in %s (%s)", path.parent, e)
    finally:
        for leftover in (tmp, tmp.with_suffix(".bin")):
            if leftover.exists():
                leftover.unlink()


def compiled_network(module: nn.Module, key: str | None, bf16_allowed: bool = False) -> CompiledNetwork:
    """The CPU runtime for `module`, or RuntimeUnavailable with the reason."""
    if not enabled():
        raise RuntimeUnavailable(f"turned off by {DISABLE_ENV}=torch")
    if not installed():
        raise RuntimeUnavailable("OpenVINO is not installed")
    try:
        bf16 = bf16_allowed and supports_bf16()
    except Exception as e:  # noqa: BLE001 - a broken install is reported like a missing one
        raise RuntimeUnavailable(f"OpenVINO does not start ({e})") from e
    return CompiledNetwork(module, key, bf16)
