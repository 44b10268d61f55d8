"""Operations that run the project's trained networks (through the model manager and the
tiled runner)."""

from __future__ import annotations

import numpy as np

from desktop_app.core.imaging.noise import estimate_sigma
from desktop_app.core.operations.base import AUTO, Operation, OperationInput, Param
from desktop_app.core.tasks import Progress, Work

BYTES_PER_PIXEL = 600.0  # working memory of the UNet denoisers per input pixel, fp32, measured roughly


def _precision(device) -> str:
    import torch

    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def denoise_with(model_id: str):
    def run(inp: OperationInput) -> Work[np.ndarray]:
        # torch loads here, on first use, not when the registry is imported at start-up
        import torch

        from desktop_app.core.models.manager import MANAGER
        from desktop_app.core.models.tiled import TileSettings, choose_tile, dihedral_ensemble, run_tiled

        yield Progress(None, f"loading {model_id}")
        loaded = MANAGER.get(model_id, inp.device)
        model, arch, device = loaded.module, loaded.arch, loaded.device
        image = inp.image
        grey = image.shape[2] == 1
        rgb = np.repeat(image, 3, axis=2) if grey else image
        fn_sigma = None
        if arch.takes_noise_map:
            value = inp.params.get("sigma", AUTO)
            if value == AUTO:
                yield Progress(None, "estimating the noise level")
                est = estimate_sigma(image)
                sig = np.repeat(est.mean(), 3) if grey else est
                yield Progress(0.0, "estimated noise: " + ", ".join(f"{s:.1f}" for s in est),
                               {"sigma_estimate": est.tolist()})
            else:
                sig = np.full(3, float(value))
            fn_sigma = torch.tensor(sig / 255.0, dtype=torch.float32, device=device)[None]

        def fn(x: torch.Tensor) -> torch.Tensor:
            return model(x, fn_sigma.expand(x.shape[0], -1) if fn_sigma is not None else None)

        start_tile = arch.tiling.gpu_tile if device.type == "cuda" else arch.tiling.cpu_tile
        settings = TileSettings(tile=choose_tile(device, start_tile, BYTES_PER_PIXEL, arch.tiling.context),
                                context=arch.tiling.context, size_multiple=arch.size_multiple,
                                precision=_precision(device), channels_last=True)
        if inp.params.get("ensemble", False):
            fn = dihedral_ensemble(fn)
        out = yield from run_tiled(fn, rgb, device, settings)
        if grey:
            out = out.mean(axis=2, keepdims=True)
        strength = float(inp.params.get("strength", 1.0))
        return image + strength * (out - image)

    return run


_STRENGTH = Param("strength", float, 1.0, "Strength",
                  "Blend of the denoised result with the input: 1 = fully denoised, 0 = unchanged.",
                  minimum=0.0, maximum=1.0, step=0.05)
_ENSEMBLE = Param("ensemble", bool, False, "Best quality (8x slower)",
                  "Run the network on the 8 turned and mirrored versions of the photo and average them: "
                  "about 8 times the time for a cleaner result (+0.2 dB on CBSD68).")
_SIGMA = Param("sigma", float, AUTO, "Noise level",
               "Noise standard deviation on the 0-255 scale, or auto to estimate it per channel.",
               minimum=0.0, maximum=100.0, step=1.0, allow_auto=True)


def denoiser_params(noise_map: bool) -> tuple[Param, ...]:
    """The parameters of a denoising network's operation; `noise_map`: it takes the noise level."""
    return (_SIGMA, _STRENGTH, _ENSEMBLE) if noise_map else (_STRENGTH, _ENSEMBLE)


CNN = Operation(
    task="denoise", method="cnn", title="CNN denoiser", category="Restoration",
    description="The project's UNet trained on Gaussian noise of known level; 'auto' estimates the "
                "level of each channel from the photo.",
    run=denoise_with("cnn"),
    params=denoiser_params(noise_map=True),
    uses_device=True,
)

CNN_REAL = Operation(
    task="denoise", method="cnn-real", title="CNN denoiser for real photos", category="Restoration",
    description="The project's blind UNet trained on camera-like noise (signal-dependent, colour-correlated, "
                "JPEG-compressed): no noise level to set.",
    run=denoise_with("cnn-real"),
    params=denoiser_params(noise_map=False),
    uses_device=True,
)
